//! `kubewhy check`: runs the preflight ([`kubewhy::preflight`]) for a needs file against a cluster and prints the
//! report as text, JSON or JUnit; `--fix` prints what grants or installs everything that is missing.
//!
//! Exit status: 0 every check passed, 1 a check failed, 2 usage or connection error (the checks could not run).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use kubewhy::needs::Needs;
use kubewhy::preflight::{self, AsIdentity, Options};
use kubewhy::render::{CommandLine, ReportOptions};

/// The needs file format, shown by `kubewhy check --help`.
const NEEDS_FORMAT: &str = "\
The needs file (YAML) declares what a program uses of the Kubernetes API:

  name: doc-controller            # names the generated RBAC
  needs:
    - group: kube.rs              # \"\" or omitted for the core group
      version: v1
      resource: documents         # the plural, as in URLs and RBAC
      kind: Document
      namespaced: true            # default true
      verbs: [get, list, watch, patch]
      watch: true                 # kept watched: list + watch are probed live
      namespace: default          # omitted: all namespaces (or cluster scope)
    - {group: kube.rs, version: v1, resource: documents, kind: Document, subresource: status, verbs: [patch]}

Checks: reach (connection, TLS, credentials, version), whoami (SelfSubjectReview), served (discovery; CRD installed,
Established, version served; nearest names), access (SelfSubjectAccessReview, or SubjectAccessReview /
impersonation with --as), probe (a real list with limit=1 and a watch, as the checked identity).

Exit status: 0 every check passed, 1 a check failed, 2 usage or connection error.

Examples:
  kubewhy check --needs needs.yaml
  kubewhy check --needs needs.yaml --as system:serviceaccount:default:doc-controller
  kubewhy check --needs needs.yaml --as system:serviceaccount:default:doc-controller --fix | kubectl apply -f -
  kubewhy check --needs needs.yaml --output junit > preflight.xml";

/// Check that everything a program needs from the API server works, all at once.
#[derive(Debug, Clone, clap::Args)]
#[command(after_long_help = NEEDS_FORMAT)]
pub struct Args {
    /// The needs file (YAML; `-` reads standard input).
    #[arg(long, value_name = "FILE")]
    pub needs: PathBuf,
    /// The kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or the in-cluster ServiceAccount).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: the current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Check this user's access instead of yours, e.g. `system:serviceaccount:default:doc-controller`.
    #[arg(long = "as", value_name = "USER")]
    pub as_user: Option<String>,
    /// A group of the `--as` user (repeatable); without it, the groups the API server gives on impersonation.
    #[arg(long = "as-group", value_name = "GROUP", requires = "as_user")]
    pub as_groups: Vec<String>,
    /// Print the fix (RBAC granting exactly what is missing, CRD install commands, needs-file corrections) on
    /// standard output, ready for `kubectl apply -f -`; the report then goes to standard error.
    #[arg(long)]
    pub fix: bool,
    /// The report format and colour.
    #[command(flatten)]
    pub out: super::OutputArgs,
    /// The command that installs a missing CRD, named in the fix (e.g. `doc-controller crdgen | kubectl apply -f -`).
    #[arg(long, value_name = "COMMAND")]
    pub crd_install: Option<String>,
    /// List every passing check in the text report (default: passes are counted per kind).
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Skip the live probes (list + watch of watched needs).
    #[arg(long)]
    pub no_probes: bool,
    /// The time limit of each request, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    pub timeout: u64,
}

/// The `--fix` command line matching these arguments, named in the text report's last help line.
fn fix_command(args: &Args) -> String {
    CommandLine::new("kubewhy check")
        .opt("--needs", Some(args.needs.to_string_lossy()))
        .opt(
            "--kubeconfig",
            args.kubeconfig.as_ref().map(|k| k.to_string_lossy()),
        )
        .opt("--context", args.context.as_ref())
        .opt("--as", args.as_user.as_ref())
        .opts("--as-group", &args.as_groups)
        .flag("--fix", true)
        .into()
}

/// Runs `kubewhy check`: 0 every check passed, 1 a check failed, 2 usage or connection error (printed
/// cargo-style, each cause once under `Caused by:`).
pub fn run(args: Args) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return super::failed(&Failed::Runtime(e), args.out.color),
    };
    let color = args.out.color;
    match runtime.block_on(check(args)) {
        Ok(code) => ExitCode::from(code),
        Err(Failed::Write(e)) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => super::failed(&e, color),
    }
}

/// Why `kubewhy check` (or another command that reads a needs file) could not run or finish.
#[derive(Debug, thiserror::Error)]
pub(super) enum Failed {
    #[error("starting the async runtime failed")]
    Runtime(#[source] std::io::Error),
    #[error("`--timeout` must be at least 1 second")]
    Timeout,
    #[error("reading the needs from standard input failed")]
    Stdin(#[source] std::io::Error),
    #[error("reading the needs file `{}` failed", .0.display())]
    ReadNeeds(PathBuf, #[source] std::io::Error),
    #[error("reading the needs file `{}` failed", .0.display())]
    Needs(PathBuf, #[source] kubewhy::needs::NeedsError),
    #[error(transparent)]
    Config(#[from] kubewhy::kubeconfig::ConfigError),
    #[error("the checks could not start")]
    Start(#[source] kubewhy::preflight::Error),
    #[error("writing the fix failed")]
    Fix(#[source] std::io::Error),
    #[error(transparent)]
    Write(#[from] kubewhy::render::WriteError),
}

/// Reads a needs file (`-`: standard input).
pub(super) fn read_needs(path: &PathBuf) -> Result<Needs, Failed> {
    let text = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(Failed::Stdin)?;
        s
    } else {
        std::fs::read_to_string(path).map_err(|e| Failed::ReadNeeds(path.clone(), e))?
    };
    Needs::from_yaml(&text).map_err(|e| Failed::Needs(path.clone(), e))
}

/// The check itself; errors are usage errors (an unreadable or invalid needs file or kubeconfig).
async fn check(args: Args) -> Result<u8, Failed> {
    if args.timeout == 0 {
        return Err(Failed::Timeout);
    }
    let needs = read_needs(&args.needs)?;
    let config =
        kubewhy::kubeconfig::load(args.kubeconfig.as_deref(), args.context.as_deref()).await?;
    let options = Options {
        as_identity: args.as_user.clone().map(|user| AsIdentity {
            user,
            groups: args.as_groups.clone(),
        }),
        probes: !args.no_probes,
        crd_install: args.crd_install.clone(),
        timeout: Duration::from_secs(args.timeout),
        ..Options::default()
    };
    let report = preflight::run(&config, &needs, &options)
        .await
        .map_err(Failed::Start)?;
    let mut report_options = ReportOptions::default().with_verbose(args.verbose);
    if args.fix {
        let mut stdout = std::io::stdout().lock();
        let fix = report.fix.to_apply_stream();
        match stdout
            .write_all(fix.as_bytes())
            .and_then(|()| stdout.flush())
        {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(0),
            Err(e) => return Err(Failed::Fix(e)),
        }
        report_options.color = args.out.stderr_color();
        report.write(
            &mut std::io::stderr().lock(),
            args.out.output,
            &report_options,
        )?;
    } else {
        report_options.color = args.out.stdout_color();
        report_options.fix_command = Some(fix_command(&args));
        report.write(
            &mut std::io::stdout().lock(),
            args.out.output,
            &report_options,
        )?;
    }
    Ok(u8::try_from(report.exit_code()).unwrap_or(2))
}
