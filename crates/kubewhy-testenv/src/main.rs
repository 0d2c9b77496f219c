//! `kubewhy-dev`: runs kubewhy's local control plane for people (the tests use the library directly).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use kubewhy_testenv::{ControlPlane, Options, binary};

mod demo;

#[derive(Parser)]
#[command(
    name = "kubewhy-dev",
    about = "Run kubewhy's real local Kubernetes control plane (etcd + kube-apiserver)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build (when needed) and start the control plane, print how to reach it, run until Ctrl-C.
    Up {
        /// Keep everything in this directory across restarts: state (certificates, tokens, etcd data) and the
        /// control plane's log (`<dir>/logs/`).
        #[arg(long, default_value = ".kubewhy/controlplane")]
        dir: PathBuf,
        /// Preferred API server port (another free port is used when it is taken).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Also run workloads: the workload controllers and the scheduler, and KWOK (sigs.k8s.io/kwok, built from
        /// the Go module proxy on first use) playing a node whose kubelet serves `kubectl logs` from files that
        /// KWOK's Logs and ClusterLogs resources name.
        #[arg(long)]
        kwok: bool,
    },
    /// Build the control-plane binary (when needed) and print its path.
    Build,
    /// Run the real thing: the control plane, doc-controller installed from deploy/ and running as its own
    /// ServiceAccount with the shipped RBAC, and the samples from deploy/samples/ with their status printed as it
    /// changes, until Ctrl-C.
    Demo {
        /// Use this doc-controller binary instead of building it with `cargo build -p doc-controller`.
        #[arg(long, value_name = "PATH")]
        controller: Option<PathBuf>,
        /// Build doc-controller in release mode (default: the profile kubewhy-dev was built with).
        #[arg(long)]
        release: bool,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            // The cargo way, as every binary of the workspace: `error:` and each cause once under `Caused by:`.
            let color = kubewhy::render::ColorChoice::Auto.colors(std::io::stderr().is_terminal());
            kubewhy::render::chain::eprint_error(e.as_ref(), color);
            if let Some(help) = e
                .downcast_ref::<kubewhy_testenv::Error>()
                .and_then(kubewhy_testenv::Error::help)
            {
                eprintln!("  = help: {help}");
            }
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Demo {
            controller,
            release,
        } => {
            demo::run(demo::DemoOptions {
                controller,
                release: release.then_some(true),
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Build => {
            println!("{}", binary::ensure_built()?.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Up { dir, port, kwok } => {
            std::fs::create_dir_all(&dir)?;
            let dir = dir.canonicalize()?;
            // A KWOK of an earlier run is gone: tests must not think it runs.
            match std::fs::remove_file(dir.join("kwok.json")) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
            let mut cp = ControlPlane::start(Options {
                dir: Some(dir.clone()),
                port,
                ready_timeout: Duration::from_secs(120),
                // Tied to this process: Ctrl-C reaches both, and however kubewhy-dev ends (SIGTERM, a crash),
                // the control plane sees its standard input close and shuts down cleanly.
                exit_with_parent: true,
                workloads: kwok,
                ..Options::default()
            })?;
            let kwok = if kwok {
                let k = kubewhy_testenv::kwok::Kwok::start(&cp, &dir.join("logs"))?;
                k.save(&dir)?;
                Some(k)
            } else {
                None
            };
            let state = cp.state();
            println!(
                "control plane ready in {:.1}s: kube-apiserver {} at {}",
                cp.ready_after().as_secs_f64(),
                state.version,
                state.server
            );
            println!("  admin kubeconfig: {}", state.kubeconfig.display());
            for user in state.users.keys() {
                println!("  static-token user: {user} (no permissions until you bind some)");
            }
            if let Some(log) = cp.log_path() {
                println!("  log: {}", log.display());
            }
            if let Some(k) = &kwok {
                println!(
                    "  KWOK plays node {} (kubelet endpoint 127.0.0.1:{}), with the Deployment, ReplicaSet, \
                     StatefulSet, DaemonSet and Job controllers and the scheduler; log: {}",
                    k.node(),
                    k.state().port,
                    k.state().log.display()
                );
                println!(
                    "  pods' logs come from files named by KWOK's Logs/ClusterLogs resources (kwok.x-k8s.io/v1alpha1)"
                );
            }
            println!(
                "\ntry:\n  export KUBECONFIG={}\n  kubectl get --raw /version\n  kubectl get namespaces\n  kubectl auth can-i list pods --as alice\n\nCtrl-C stops it.",
                state.kubeconfig.display()
            );
            let status = cp.wait();
            println!(
                "control plane stopped ({})",
                status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "unknown status".into())
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
