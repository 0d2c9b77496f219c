//! `kubewhy rbac diff`: what an identity is granted against what a program needs ([`kubewhy::rbac::diff`]) —
//! missing permissions, permissions granted but never needed, and the score used ÷ granted — as text, JSON or
//! JUnit.
//!
//! Exit status: 0 nothing missing (and, with `--fail-on-excess`, nothing in excess), 1 otherwise, 2 usage or
//! connection error.

use std::path::PathBuf;
use std::process::ExitCode;

use kubewhy::rbac::Identity;
use kubewhy::vocab::groups_of;

use super::check::read_needs;

const DIFF_HELP: &str = "\
Granted comes from the RBAC objects when you may list them (each rule with its binding and role), else from
SelfSubjectRulesReviews made as the identity (by impersonation), with the rules every user holds left out.

Excess is any granted permission no need uses: extra verbs or resources, wildcards, cluster scope where the needs
are in one namespace, Secrets, escalate/bind/impersonate, non-resource URLs. The score is the granted
permissions (a rule's verbs × groups × resources) that serve a need, over all of them.

Exit status: 0 nothing missing, 1 something missing (or in excess, with --fail-on-excess), 2 usage or connection
error.

Examples:
  kubewhy rbac diff --needs needs.yaml --as system:serviceaccount:doc-controller:doc-controller
  kubewhy rbac diff --needs needs.yaml --as system:serviceaccount:ci:deployer --fail-on-excess -o junit";

/// RBAC: what is granted against what is needed.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, clap::Subcommand)]
enum Command {
    /// Compare what an identity is granted with what a program needs: missing, in excess, and a score.
    Diff(DiffArgs),
}

/// `kubewhy rbac diff`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_long_help = DIFF_HELP)]
pub struct DiffArgs {
    /// The needs file (YAML; `-` reads standard input; the format is in `kubewhy check --help`).
    #[arg(long, value_name = "FILE")]
    needs: PathBuf,
    /// The kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or the in-cluster ServiceAccount).
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: the current context).
    #[arg(long, value_name = "NAME")]
    context: Option<String>,
    /// Whose grants, e.g. `system:serviceaccount:default:doc-controller` (default: yours).
    #[arg(long = "as", value_name = "USER")]
    as_user: Option<String>,
    /// A group of the `--as` user (repeatable); without it, the groups the API server gives on impersonation.
    #[arg(long = "as-group", value_name = "GROUP", requires = "as_user")]
    as_groups: Vec<String>,
    /// Exit 1 when something is granted beyond the needs, not only when something is missing (for CI).
    #[arg(long)]
    fail_on_excess: bool,
    /// The report format and colour.
    #[command(flatten)]
    out: super::OutputArgs,
}

/// Why `kubewhy rbac diff` could not run or finish.
#[derive(Debug, thiserror::Error)]
enum Failed {
    #[error("starting the async runtime failed")]
    Runtime(#[source] std::io::Error),
    #[error(transparent)]
    Needs(#[from] super::check::Failed),
    #[error(transparent)]
    Config(#[from] kubewhy::kubeconfig::ConfigError),
    #[error("comparing what is granted with what is needed failed")]
    Diff(#[source] kubewhy::rbac::diff::DiffError),
    #[error(transparent)]
    Write(#[from] kubewhy::render::WriteError),
}

/// Runs `kubewhy rbac …`: the exit status, or 2 after printing why it could not run (each cause once).
pub fn run(args: Args) -> ExitCode {
    let Command::Diff(diff) = args.command;
    let color = diff.out.color;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return super::failed(&Failed::Runtime(e), color),
    };
    match runtime.block_on(run_diff(diff)) {
        Ok(code) => ExitCode::from(code),
        Err(Failed::Write(e)) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) => {
            let code = super::failed(&e, color);
            // The library's error says what was missing; the flag that gives it is the CLI's to name.
            if matches!(e, Failed::Diff(kubewhy::rbac::diff::DiffError::Whoami(_))) {
                eprintln!("  = help: name the identity to compare with `--as`");
            }
            code
        }
    }
}

async fn run_diff(args: DiffArgs) -> Result<u8, Failed> {
    let needs = read_needs(&args.needs)?;
    let config =
        kubewhy::kubeconfig::load(args.kubeconfig.as_deref(), args.context.as_deref()).await?;
    let identity = args
        .as_user
        .as_ref()
        .map(|user| Identity::new(user.clone(), groups_of(user, &args.as_groups)));
    let report = kubewhy::rbac::diff::check(&config, &needs.name, needs.permissions(), identity)
        .await
        .map_err(Failed::Diff)?;
    report.write(
        &mut std::io::stdout().lock(),
        args.out.output,
        args.out.stdout_color(),
    )?;
    Ok(report.exit_code(args.fail_on_excess))
}
