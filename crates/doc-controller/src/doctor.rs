//! `doc-controller doctor`: the preflight checks of doc-controller's needs on demand, for the configuration its
//! flags describe (as yourself, `--as` another identity or as doc-controller's ServiceAccount), with the exact fix.

use std::io::Write;

use kubewhy::preflight::{self, AsIdentity};

use crate::cli::DoctorArgs;
use kubewhy::render::{CommandLine, ReportOptions};

use crate::preflight::options;

/// `value` when it is not the default (a flag worth repeating).
fn differs<'a>(value: &'a str, default: &str) -> Option<&'a str> {
    (value != default).then_some(value)
}

/// The `doctor --fix` command line matching these flags.
fn fix_command(args: &DoctorArgs) -> String {
    let scope = &args.scope;
    CommandLine::new("doc-controller doctor")
        .opt(
            "--kubeconfig",
            args.kubeconfig.as_ref().map(|k| k.to_string_lossy()),
        )
        .opt("--context", args.context.as_ref())
        .opt("--as", args.as_user.as_ref())
        .flag("--as-service-account", args.as_service_account)
        .opts("--as-group", &args.as_groups)
        .opt(
            "--service-account-namespace",
            differs(
                &scope.service_account_namespace,
                crate::needs::DEPLOY_NAMESPACE,
            ),
        )
        .opt(
            "--service-account-name",
            differs(&scope.service_account_name, crate::needs::NAME),
        )
        .opt("--namespace", scope.namespace.as_ref())
        .flag("--no-leader-election", scope.no_leader_election)
        .opt(
            "--lease-namespace",
            (!scope.no_leader_election)
                .then(|| differs(&scope.lease_namespace, crate::needs::DEPLOY_NAMESPACE))
                .flatten(),
        )
        .flag("--fix", true)
        .into()
}

/// `doctor --rbac-diff`: granted against needed for this configuration's needs, as `kubewhy rbac diff` shows it.
async fn rbac_diff(
    args: &DoctorArgs,
    as_user: Option<String>,
    needs: &kubewhy::needs::Needs,
    config: &kube::Config,
    out: &mut dyn Write,
) -> Result<u8, DoctorError> {
    let identity = as_user.map(|user| {
        let groups = kubewhy::vocab::groups_of(&user, &args.as_groups);
        kubewhy::rbac::Identity::new(user, groups)
    });
    let report = kubewhy::rbac::diff::check(config, &needs.name, needs.permissions(), identity)
        .await
        .map_err(DoctorError::RbacDiff)?;
    report.write(out, args.output, false)?;
    Ok(report.exit_code(args.fail_on_excess))
}

/// Why `doctor` could not finish.
#[derive(Debug, thiserror::Error)]
pub enum DoctorError {
    /// The kubeconfig or the client configuration cannot be used.
    #[error(transparent)]
    Config(#[from] kubewhy::kubeconfig::ConfigError),
    /// No client could be built from the configuration.
    #[error("the checks could not start")]
    Start(#[source] kubewhy::preflight::Error),
    /// Writing the fix failed.
    #[error("writing the fix failed")]
    Fix(#[source] std::io::Error),
    /// Writing the report failed.
    #[error(transparent)]
    Write(#[from] kubewhy::render::WriteError),
    /// `--rbac-diff` could not read what is granted.
    #[error("comparing what is granted with what doc-controller needs failed")]
    RbacDiff(#[source] kubewhy::rbac::diff::DiffError),
}

impl DoctorError {
    /// Whether the reader of the output went away (`doctor | head`): not worth an error message.
    pub fn is_broken_pipe(&self) -> bool {
        match self {
            DoctorError::Fix(e) => e.kind() == std::io::ErrorKind::BrokenPipe,
            DoctorError::Write(e) => e.is_broken_pipe(),
            DoctorError::Config(_) | DoctorError::Start(_) | DoctorError::RbacDiff(_) => false,
        }
    }
}

/// `doctor`: the checks of doc-controller's needs (for the configuration the scope flags describe), written to
/// `out` as text, JSON or JUnit; with `--fix`, the fix goes to `out` and the report to `err`. Returns the exit
/// status (0 passed, 1 a check failed, 2 the checks could not run).
pub async fn doctor(
    args: &DoctorArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<u8, DoctorError> {
    let as_user = match (&args.as_user, args.as_service_account) {
        (Some(user), _) => Some(user.clone()),
        (None, true) => Some(args.scope.subject().username()),
        (None, false) => None,
    };
    let needs = args.scope.needs();
    let config =
        kubewhy::kubeconfig::load(args.kubeconfig.as_deref(), args.context.as_deref()).await?;
    if args.rbac_diff {
        return rbac_diff(args, as_user, &needs, &config, out).await;
    }
    let options = options(as_user.map(|user| AsIdentity {
        user,
        groups: args.as_groups.clone(),
    }));
    let report = preflight::run(&config, &needs, &options)
        .await
        .map_err(DoctorError::Start)?;
    let report_options = ReportOptions::default()
        .with_verbose(args.verbose)
        .with_fix_command(fix_command(args));
    if args.fix {
        out.write_all(report.fix.to_apply_stream().as_bytes())
            .and_then(|()| out.flush())
            .map_err(DoctorError::Fix)?;
        report.write(err, args.output, &report_options)?;
    } else {
        report.write(out, args.output, &report_options)?;
    }
    Ok(u8::try_from(report.exit_code()).unwrap_or(2))
}
