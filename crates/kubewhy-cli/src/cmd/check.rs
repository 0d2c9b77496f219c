//! `kubewhy check`: runs the preflight ([`kubewhy::preflight`]) for a needs file against a cluster and prints the
//! report as text, JSON or JUnit; `--fix` prints what grants or installs everything that is missing.
//!
//! Exit status: 0 every check passed, 1 a check failed, 2 usage or connection error (the checks could not run).

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kubewhy::needs::Needs;
use kubewhy::preflight::{self, AsIdentity, Options, Report};

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

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// rustc-style text.
    Text,
    /// The report as one JSON document.
    Json,
    /// JUnit XML, one test case per check.
    Junit,
}

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
    /// The report format.
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Text)]
    pub output: Format,
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

fn read_needs(path: &PathBuf) -> anyhow::Result<Needs> {
    let text = if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading the needs from standard input failed")?;
        s
    } else {
        std::fs::read_to_string(path)
            .with_context(|| format!("reading the needs file `{}` failed", path.display()))?
    };
    // The needs error names the position and the help; as a message (not a source) it is shown once.
    Needs::from_yaml(&text)
        .map_err(|e| anyhow::Error::msg(e.to_string()))
        .with_context(|| format!("reading the needs file `{}` failed", path.display()))
}

/// The client configuration: `--kubeconfig` and `--context` as kubectl reads them.
pub async fn load_config(
    kubeconfig: Option<&PathBuf>,
    context: Option<&str>,
) -> anyhow::Result<kube::Config> {
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..KubeConfigOptions::default()
    };
    match (kubeconfig, context) {
        (Some(path), _) => {
            let kc = Kubeconfig::read_from(path)
                .with_context(|| format!("reading the kubeconfig `{}` failed", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &options)
                .await
                .with_context(|| format!("the kubeconfig `{}` cannot be used", path.display()))
        }
        (None, Some(name)) => kube::Config::from_kubeconfig(&options)
            .await
            .with_context(|| format!("the kubeconfig context `{name}` cannot be used")),
        (None, None) => kube::Config::infer().await.context(
            "no usable kubeconfig ($KUBECONFIG, ~/.kube/config) and not running in a cluster",
        ),
    }
}

fn color_for(stream_is_terminal: bool) -> bool {
    stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Writes the report in `format`.
pub fn write_report(
    w: &mut dyn Write,
    report: &Report,
    format: Format,
    color: bool,
    verbose: bool,
    fix_command: Option<String>,
) -> anyhow::Result<()> {
    let format = match format {
        Format::Text => kubewhy::render::Format::Text,
        Format::Json => kubewhy::render::Format::Json,
        Format::Junit => kubewhy::render::Format::Junit,
    };
    let options = kubewhy::render::ReportOptions {
        color,
        verbose,
        fix_command,
    };
    report.write(w, format, &options)?;
    Ok(())
}

/// The `--fix` command line matching these arguments, named in the text report's last help line.
fn fix_command(args: &Args) -> String {
    let mut cmd = format!("kubewhy check --needs {}", args.needs.display());
    if let Some(k) = &args.kubeconfig {
        cmd.push_str(&format!(" --kubeconfig {}", k.display()));
    }
    if let Some(c) = &args.context {
        cmd.push_str(&format!(" --context {c}"));
    }
    if let Some(u) = &args.as_user {
        cmd.push_str(&format!(" --as {u}"));
    }
    for g in &args.as_groups {
        cmd.push_str(&format!(" --as-group {g}"));
    }
    cmd.push_str(" --fix");
    cmd
}

/// Runs `kubewhy check`: 0 every check passed, 1 a check failed, 2 usage or connection error (printed
/// cargo-style, with its causes under `Caused by:`).
pub fn run(args: Args) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime failed: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(check(args)) {
        Ok(code) => ExitCode::from(code),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            let mut causes = e.chain().skip(1).peekable();
            if causes.peek().is_some() {
                eprintln!("\nCaused by:");
                for cause in causes {
                    eprintln!("  {cause}");
                }
            }
            ExitCode::from(2)
        }
    }
}

/// A reader of the output went away (`kubewhy check | head`): not an error, as in ripgrep.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    use std::io::ErrorKind::BrokenPipe;
    // The XML writer keeps the I/O error in an `Arc`.
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == BrokenPipe)
            || c.downcast_ref::<std::sync::Arc<std::io::Error>>()
                .is_some_and(|io| io.kind() == BrokenPipe)
    })
}

/// The check itself; errors are usage errors (an unreadable or invalid needs file or kubeconfig).
async fn check(args: Args) -> anyhow::Result<u8> {
    if args.timeout == 0 {
        bail!("`--timeout` must be at least 1 second");
    }
    let needs = read_needs(&args.needs)?;
    let config = load_config(args.kubeconfig.as_ref(), args.context.as_deref()).await?;
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
        .context("the checks could not start")?;
    if args.fix {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(report.fix.to_apply_stream().as_bytes())?;
        stdout.flush()?;
        let mut stderr = std::io::stderr().lock();
        write_report(
            &mut stderr,
            &report,
            args.output,
            color_for(std::io::stderr().is_terminal()),
            args.verbose,
            None,
        )?;
    } else {
        let mut stdout = std::io::stdout().lock();
        write_report(
            &mut stdout,
            &report,
            args.output,
            color_for(std::io::stdout().is_terminal()),
            args.verbose,
            Some(fix_command(&args)),
        )?;
    }
    Ok(u8::try_from(report.exit_code()).unwrap_or(2))
}
