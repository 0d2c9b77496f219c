//! `kubewhy explain <workload>` (`kubectl api-why explain deploy/web -n shop`, or `-l app=web`): explains a running
//! workload from the cluster of the current kubeconfig ([`kubewhy::workload`]) — its pods' logs, its events and
//! status conditions, each failure confirmed live as the identity its pods run as — and prints the report as
//! `explain` prints its findings (text, JSON, JUnit; `--fix` for the RBAC manifests), with the same exit status.
//! `--follow` then keeps reading the logs and prints each new distinct failure as it appears.
//!
//! This module only parses its flags, picks the namespace and writes; what is read, folded and confirmed is the
//! library's.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use kubewhy::render::Format;
use kubewhy::workload::{self, Options, Report, Standing, Target};

/// The flags of `kubewhy explain` that explain a workload from the cluster.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Explain a running workload (kubewhy explain deploy/web)")]
pub struct WorkloadArgs {
    /// The workload's namespace (default: the kubeconfig context's namespace, else `default`).
    #[arg(long, short = 'n', value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// Explain the pods this label selector picks (`app=web`) instead of a named workload.
    #[arg(long, short = 'l', value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Read each container's log from this long ago (`1h`, `30m`, `90s`; `0` reads all the kubelet keeps).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_since)]
    pub since: Since,
    /// Read at most this much of each container's log (bytes, or `512Ki`, `16Mi`, `1Gi`).
    #[arg(long, value_name = "BYTES", default_value = "16Mi", value_parser = parse_size)]
    pub limit_bytes: u64,
    /// Read at most this many logs at a time.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    /// After the report, keep reading the logs of the running containers and print each new distinct failure as
    /// it appears (Ctrl-C stops).
    #[arg(long, short = 'f')]
    pub follow: bool,
    /// The kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or the in-cluster ServiceAccount).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: the current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
}

/// `--since`: a duration, or none (`0`: everything the kubelet keeps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Since(pub Option<Duration>);

/// Reads `--since`: `1h`, `30m`, `1h30m`, `90s` (jiff's friendly or ISO 8601 durations), `0` for no limit.
fn parse_since(text: &str) -> Result<Since, String> {
    if text.trim() == "0" {
        return Ok(Since(None));
    }
    let d: k8s_openapi::jiff::SignedDuration = text
        .trim()
        .parse()
        .map_err(|e| format!("{text:?} is not a duration (write 1h, 30m, 90s or 0): {e}"))?;
    let d = Duration::try_from(d)
        .map_err(|_| format!("{text:?} is negative: write how long ago to read from (1h, 30m)"))?;
    if d < Duration::from_secs(1) {
        return Err(format!(
            "{text:?} is less than a second: the kubelet counts whole seconds"
        ));
    }
    Ok(Since(Some(d)))
}

/// Reads `--limit-bytes`: a number of bytes, or with `Ki`, `Mi` or `Gi`.
fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (number, shift) = match t {
        _ if t.ends_with("Ki") => (&t[..t.len() - 2], 10),
        _ if t.ends_with("Mi") => (&t[..t.len() - 2], 20),
        _ if t.ends_with("Gi") => (&t[..t.len() - 2], 30),
        _ => (t, 0),
    };
    let n: u64 = number
        .parse()
        .map_err(|e| format!("{text:?} is not a size (write bytes, or 512Ki, 16Mi, 1Gi): {e}"))?;
    let bytes = n
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))?;
    if bytes == 0 {
        return Err("the limit must be at least 1 byte".into());
    }
    Ok(bytes)
}

/// What `kubewhy explain`'s arguments ask for: a workload (`Some`), or files and standard input (`None`).
///
/// # Errors
/// When the workload flags are given without one workload to explain.
pub fn target(files: &[PathBuf], args: &WorkloadArgs) -> Result<Option<Target>, String> {
    if let Some(selector) = &args.selector {
        if !files.is_empty() {
            return Err(format!(
                "`-l {selector}` explains the pods it selects: give no workload or file beside it"
            ));
        }
        return Ok(Some(Target::Selector(selector.clone())));
    }
    let wants_cluster = args.namespace.is_some()
        || args.follow
        || args.kubeconfig.is_some()
        || args.context.is_some();
    match files {
        // A file of that name wins: `kubewhy explain deploy/rbac.yaml` reads the repository's file.
        [one] if !Path::new(one).exists() => match Target::parse(&one.to_string_lossy()) {
            Ok(target) => Ok(Some(target)),
            Err(e) if wants_cluster => Err(e.to_string()),
            Err(_) => Ok(None),
        },
        _ if wants_cluster => Err(
            "the workload flags (-n, -f, --kubeconfig, --context) explain one workload: give it as TYPE/NAME \
             (deploy/web) or pick its pods with -l"
                .into(),
        ),
        _ => Ok(None),
    }
}

/// Why explaining a workload could not run.
#[derive(Debug, thiserror::Error)]
enum Failed {
    #[error("starting the async runtime failed")]
    Runtime(#[source] io::Error),
    #[error(transparent)]
    Config(#[from] kubewhy::kubeconfig::ConfigError),
    #[error("building a client for the cluster failed")]
    Client(#[source] kube::Error),
    #[error(transparent)]
    Workload(#[from] workload::Error),
    #[error(transparent)]
    Write(#[from] kubewhy::render::WriteError),
    #[error("writing the fix failed")]
    Fix(#[source] io::Error),
}

/// Runs `kubewhy explain <workload>`: 0 nothing found (or only history), 1 a failure is current, 2 something could
/// not be read or the command could not run.
pub fn run(args: &super::explain::Args, target: Target) -> ExitCode {
    let color = args.out.color;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return super::failed(&Failed::Runtime(e), color),
    };
    match runtime.block_on(explain(args, target)) {
        Ok(code) => ExitCode::from(code),
        Err(Failed::Write(e)) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(Failed::Workload(workload::Error::Api { diagnosis, .. })) => {
            // The cluster could not be asked: that failure explains itself, like any other.
            let opts = kubewhy::render::TextOptions::default().with_color(args.out.stderr_color());
            if let Err(e) =
                kubewhy::render::text::write_diagnosis(&mut io::stderr().lock(), &diagnosis, &opts)
            {
                eprintln!("error: writing why the cluster could not be asked failed: {e}");
            }
            ExitCode::from(2)
        }
        Err(e) => super::failed(&e, color),
    }
}

async fn explain(args: &super::explain::Args, target: Target) -> Result<u8, Failed> {
    let w = &args.workload;
    let config = kubewhy::kubeconfig::load(w.kubeconfig.as_deref(), w.context.as_deref()).await?;
    let namespace = w
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    let client = kube::Client::try_from(config).map_err(Failed::Client)?;
    let options = Options {
        since: w.since.0,
        limit_bytes: w.limit_bytes,
        concurrency: usize::from(w.concurrency),
    };
    let report = workload::explain(&client, &namespace, &target, &options).await?;

    // What could not be read goes to standard error, as `explain` reports the inputs it could not read.
    if let Err(e) = report.write_unread(&mut io::stderr().lock(), args.out.stderr_color()) {
        eprintln!("error: writing what could not be read failed: {e}");
    }
    if args.fix {
        write_fix(&report)?;
    } else {
        let mut out = io::stdout().lock();
        report.write(&mut out, args.out.output, args.out.stdout_color())?;
    }
    let mut code = report.exit_code();
    if w.follow {
        code = code.max(follow(&client, &report, args).await);
    }
    Ok(code)
}

/// `--fix`: the RBAC manifests for the denials that still hold (those fixed since need nothing).
fn write_fix(report: &Report) -> Result<(), Failed> {
    let current: Vec<_> = report
        .found
        .iter()
        .filter(|f| f.standing != Standing::History)
        .map(|f| f.finding.clone())
        .collect();
    match super::explain::write_fix(&current) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failed::Fix(e)),
    }
}

/// `--follow`: prints each new distinct failure as it appears (text, or one JSON object a line); the exit status
/// is 1 once one that still holds was printed.
async fn follow(client: &kube::Client, report: &Report, args: &super::explain::Args) -> u8 {
    let color = args.out.stdout_color();
    let json = args.out.output == Format::Json;
    let mut code = 0;
    eprintln!(
        "following the logs of the running containers of {} (Ctrl-C stops)…",
        report.target
    );
    workload::follow(
        client,
        report,
        |found| {
            if found.standing != Standing::History {
                code = 1;
            }
            let mut out = io::stdout().lock();
            let written = if json {
                serde_json::to_writer(&mut out, &found.json_value())
                    .map_err(io::Error::from)
                    .and_then(|()| writeln!(out))
            } else {
                found.write_text(&mut out, color)
            };
            if let Err(e) = written.and_then(|()| out.flush()) {
                // A closed pipe (`| head`) ends following; anything else is said once per failure lost.
                if e.kind() == io::ErrorKind::BrokenPipe {
                    std::process::exit(i32::from(code));
                }
                eprintln!("error: writing a new failure failed: {e}");
            }
        },
        |source, why| eprintln!("warning: {source}: cannot follow its log: {why}"),
    )
    .await;
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(namespace: Option<&str>, selector: Option<&str>) -> WorkloadArgs {
        WorkloadArgs {
            namespace: namespace.map(Into::into),
            selector: selector.map(Into::into),
            since: Since(Some(Duration::from_secs(3600))),
            limit_bytes: 16 << 20,
            concurrency: 4,
            follow: false,
            kubeconfig: None,
            context: None,
        }
    }

    #[test]
    fn a_workload_is_type_slash_name_unless_such_a_file_exists() {
        let web = [PathBuf::from("deploy/web")];
        assert!(matches!(
            target(&web, &args(None, None)),
            Ok(Some(Target::Object { .. }))
        ));
        // The repository's own deploy/ directory holds files: those are read, not looked up.
        let file = [PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")];
        assert_eq!(target(&file, &args(None, None)), Ok(None));
        assert_eq!(
            target(&[PathBuf::from("app.log")], &args(None, None)),
            Ok(None)
        );
        assert_eq!(target(&[], &args(None, None)), Ok(None));
        assert!(target(&[PathBuf::from("svc/web")], &args(Some("shop"), None)).is_err());
        assert!(target(&[], &args(Some("shop"), None)).is_err());
        assert!(matches!(
            target(&[], &args(None, Some("app=web"))),
            Ok(Some(Target::Selector(_)))
        ));
        assert!(target(&web, &args(None, Some("app=web"))).is_err());
    }

    #[test]
    fn durations_and_sizes() {
        assert_eq!(
            parse_since("1h"),
            Ok(Since(Some(Duration::from_secs(3600))))
        );
        assert_eq!(
            parse_since("30m"),
            Ok(Since(Some(Duration::from_secs(1800))))
        );
        assert_eq!(
            parse_since("1h30m"),
            Ok(Since(Some(Duration::from_secs(5400))))
        );
        assert_eq!(parse_since("0"), Ok(Since(None)));
        assert!(parse_since("-1h").is_err());
        assert!(parse_since("soon").is_err());
        assert_eq!(parse_size("16Mi"), Ok(16 << 20));
        assert_eq!(parse_size("512Ki"), Ok(512 << 10));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("0").is_err());
        assert!(parse_size("16MB").is_err());
        assert!(parse_size("99999999999Gi").is_err());
    }
}
