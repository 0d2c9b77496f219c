//! The controllers under test: built-in contenders (doc-controller, the controller-runtime peer with stock and
//! tuned settings, kube-rs's controller-rs from a path the user gives) and any command given as `name=command`,
//! started as a child process of the harness with the admin kubeconfig in `$KUBECONFIG`, its output kept in a log
//! file, stopped with SIGTERM (SIGKILL after 15 s).

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::peer;

/// A controller to measure.
#[derive(Debug, Clone, Serialize)]
pub struct Contender {
    /// Short name used in tables (`doc-controller`, `cr-stock`, ...).
    pub name: String,
    /// The shell command that runs it (in the foreground, until SIGTERM).
    pub command: String,
    /// What it is and how it is configured, for the report.
    pub description: String,
}

/// The names of the built-in contenders.
pub const BUILTIN: &[&str] = &["doc-controller", "cr-stock", "cr-tuned", CONTROLLER_RS];

/// The built-in contender name of kube-rs's reference controller.
pub const CONTROLLER_RS: &str = "controller-rs";

/// The environment variable naming controller-rs's binary (the harness fetches and builds nothing of it).
pub const CONTROLLER_RS_ENV: &str = "DOC_BENCH_CONTROLLER_RS";

/// The flags every run of the controller-runtime peer gets: no probe server (ports would clash), errors-only logs
/// (doc-controller runs at `RUST_LOG=warn`).
const PEER_COMMON: &str =
    "--health-probe-bind-address=0 --metrics-bind-address=0 --zap-log-level=error";

impl Contender {
    /// Resolves `name` (built-in) or `name=command` (anything else; `{root}` is replaced by the workspace root).
    /// `controller_rs` is the path of controller-rs's binary, when the user gave one.
    pub fn parse(spec: &str, root: &Path, controller_rs: Option<&Path>) -> Result<Contender> {
        if let Some((name, command)) = spec.split_once('=') {
            let name = name.trim();
            if name.is_empty() || command.trim().is_empty() {
                bail!(
                    "`--contender {spec}`: write `name=command`, e.g. `controller-rs=/path/to/controller`"
                );
            }
            return Ok(Contender {
                name: name.to_string(),
                command: command.replace("{root}", &root.display().to_string()),
                description: format!("given on the command line: `{command}`"),
            });
        }
        match spec {
            "doc-controller" => {
                let bin = snapshot_path(root);
                Ok(Contender {
                    name: spec.into(),
                    command: format!(
                        "env RUST_LOG=warn {} run --http-addr 127.0.0.1:0 --concurrency 8",
                        kubewhy::shell::word(&bin.display().to_string())
                    ),
                    description: "doc-controller (Rust, kube 5), its defaults: 8 concurrent reconciles, no client-side \
                                  rate limit, trimmed caches, no status write on a no-op reconcile"
                        .into(),
                })
            }
            "cr-stock" | "cr-tuned" => {
                let bin = peer::binary_path(root);
                let tuned = spec == "cr-tuned";
                let extra = if tuned {
                    " --max-concurrent-reconciles=8 --strip-managed-fields --select-configmaps"
                } else {
                    ""
                };
                Ok(Contender {
                    name: spec.into(),
                    command: format!(
                        "{} {PEER_COMMON}{extra}",
                        kubewhy::shell::word(&bin.display().to_string())
                    ),
                    description: if tuned {
                        "controller-runtime v0.24.1 peer, tuned like doc-controller: 8 concurrent reconciles, no \
                         client-side rate limit (controller-runtime's default since v0.21), managedFields stripped \
                         from the cache, ConfigMap cache selected by label"
                            .into()
                    } else {
                        "controller-runtime v0.24.1 peer, stock settings: 1 concurrent reconcile (the default), no \
                         client-side rate limit (the default since v0.21), full objects cached"
                            .into()
                    },
                })
            }
            CONTROLLER_RS => {
                let Some(bin) = controller_rs else {
                    bail!(
                        "`--contender {CONTROLLER_RS}`: its binary is not given\n  = help: build kube-rs/controller-rs \
                         (`cargo build --release` in its checkout; docs/benchmarks.md says how) and pass \
                         `--controller-rs PATH/target/release/controller` or set ${CONTROLLER_RS_ENV}"
                    )
                };
                Ok(Contender {
                    name: spec.into(),
                    command: format!(
                        "env RUST_LOG=warn {}",
                        kubewhy::shell::word(&bin.display().to_string())
                    ),
                    description: "kube-rs/controller-rs (Rust, kube-rs's reference controller), unmodified, its \
                                  defaults: unbounded concurrency, status applied on every reconcile, 5-minute \
                                  requeue; its status has no observedGeneration, so convergence is judged on \
                                  `status.hidden`"
                        .into(),
                })
            }
            other => bail!(
                "`--contender {other}`: not a built-in contender ({}); give others as `name=command`",
                BUILTIN.join(", ")
            ),
        }
    }

    /// Whether this contender is the controller-runtime peer (which the harness builds).
    pub fn is_peer(&self) -> bool {
        self.name == "cr-stock" || self.name == "cr-tuned"
    }

    /// Checks that a built-in contender's binary exists (the peer is built before this is asked). doc-controller's
    /// release binary is copied aside first, so a rebuild during a long benchmark cannot change it between runs.
    pub fn check_ready(&self, root: &Path, controller_rs: Option<&Path>) -> Result<()> {
        if self.name == CONTROLLER_RS
            && let Some(bin) = controller_rs
            && !bin.is_file()
        {
            bail!(
                "controller-rs binary {} does not exist\n  = help: build it with `cargo build --release` in a \
                 checkout of kube-rs/controller-rs (docs/benchmarks.md), then pass its `target/release/controller`",
                bin.display()
            );
        }
        if self.name == "doc-controller" {
            let built = root.join("target/release/doc-controller");
            let bin = snapshot_path(root);
            if let Some(dir) = bin.parent() {
                fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            }
            fs::copy(&built, &bin).with_context(|| {
                format!(
                    "copying {} to {}\n  = help: build it with `cargo build --release -p doc-controller`",
                    built.display(),
                    bin.display()
                )
            })?;
            let out = Command::new(&bin)
                .args(["run", "--help"])
                .output()
                .with_context(|| format!("running `{} run --help`", bin.display()))?;
            if !out.status.success() {
                bail!(
                    "`{} run --help` failed: {}\n  = help: build it with `cargo build --release -p doc-controller`",
                    bin.display(),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        Ok(())
    }

    /// Starts it against the control plane whose admin kubeconfig is `kubeconfig`; its output goes to `log`.
    pub fn spawn(&self, kubeconfig: &Path, log: &Path) -> Result<Running> {
        if let Some(dir) = log.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let err = out
            .try_clone()
            .with_context(|| format!("opening {} twice", log.display()))?;
        // `exec` so the child's pid is the controller's own (its CPU and memory are what /proc reports).
        let child = Command::new("sh")
            .arg("-c")
            .arg(format!("exec {}", self.command))
            .env("KUBECONFIG", kubeconfig)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting contender {}: `{}`", self.name, self.command))?;
        Ok(Running {
            name: self.name.clone(),
            child,
            log: log.to_path_buf(),
            started: Instant::now(),
        })
    }
}

/// Where the copy of doc-controller's binary that the runs use is kept.
pub fn snapshot_path(root: &Path) -> PathBuf {
    peer::output_dir(root)
        .join("contenders")
        .join("doc-controller")
}

/// A running contender; dropping it stops it.
#[derive(Debug)]
pub struct Running {
    name: String,
    child: Child,
    log: PathBuf,
    /// When it was started.
    pub started: Instant,
}

impl Running {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails when it exited (with the end of its log).
    pub fn check_alive(&mut self) -> Result<()> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => bail!(
                "contender {} exited ({status}); last lines of {}:\n{}",
                self.name,
                self.log.display(),
                kubewhy_testenv::controlplane::tail(&self.log, 20)
            ),
            Err(e) => bail!("checking on contender {}: {e}", self.name),
        }
    }

    /// SIGTERM, then SIGKILL after 15 s. Returns how long it took to exit after SIGTERM.
    pub fn stop(&mut self) -> Result<Duration> {
        let asked = Instant::now();
        if self
            .child
            .try_wait()
            .context("checking on the contender")?
            .is_some()
        {
            return Ok(Duration::ZERO);
        }
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .context("running `kill -TERM`")?;
        if !status.success() {
            bail!("`kill -TERM {}` failed ({status})", self.child.id());
        }
        let deadline = asked + Duration::from_secs(15);
        while Instant::now() < deadline {
            if self
                .child
                .try_wait()
                .context("waiting for the contender")?
                .is_some()
            {
                return Ok(asked.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.child
            .kill()
            .context("killing the contender after 15 s")?;
        self.child
            .wait()
            .context("waiting for the killed contender")?;
        bail!(
            "contender {} did not exit within 15 s of SIGTERM and was killed",
            self.name
        )
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            if let Err(e) = self.child.kill() {
                eprintln!(
                    "doc-bench: could not kill contender {} ({}): {e}",
                    self.name,
                    self.child.id()
                );
            }
            if let Err(e) = self.child.wait() {
                eprintln!("doc-bench: waiting for contender {}: {e}", self.name);
            }
        }
    }
}
