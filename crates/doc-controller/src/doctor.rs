//! `doc-controller doctor`: the preflight checks of doc-controller's needs on demand, for the configuration its
//! flags describe (as yourself, `--as` another identity or as doc-controller's ServiceAccount), with the exact fix.

use std::io::Write;

use kubewhy::preflight::{self, AsIdentity};

use crate::cli::DoctorArgs;
use crate::preflight::{options, write_report};

/// The client configuration of `doctor`: `--kubeconfig` and `--context` as kubectl reads them, else kube's
/// usual inference (in a cluster: the pod's ServiceAccount).
async fn load_config(args: &DoctorArgs) -> Result<kube::Config, String> {
    use kube::config::{KubeConfigOptions, Kubeconfig};
    let options = KubeConfigOptions {
        context: args.context.clone(),
        ..KubeConfigOptions::default()
    };
    match (&args.kubeconfig, &args.context) {
        (Some(path), _) => {
            let kc = Kubeconfig::read_from(path)
                .map_err(|e| format!("reading the kubeconfig `{}` failed: {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &options)
                .await
                .map_err(|e| format!("the kubeconfig `{}` cannot be used: {e}", path.display()))
        }
        (None, Some(name)) => kube::Config::from_kubeconfig(&options)
            .await
            .map_err(|e| format!("the kubeconfig context `{name}` cannot be used: {e}")),
        (None, None) => kube::Config::infer().await.map_err(|e| {
            format!("no usable kubeconfig ($KUBECONFIG, ~/.kube/config) and not running in a cluster: {e}")
        }),
    }
}

/// The `doctor --fix` command line matching these flags.
fn fix_command(args: &DoctorArgs) -> String {
    let mut cmd = String::from("doc-controller doctor");
    let mut add = |flag: &str, value: Option<&str>| {
        cmd.push(' ');
        cmd.push_str(flag);
        if let Some(v) = value {
            cmd.push(' ');
            cmd.push_str(v);
        }
    };
    if let Some(k) = &args.kubeconfig {
        add("--kubeconfig", Some(&k.display().to_string()));
    }
    if let Some(c) = &args.context {
        add("--context", Some(c));
    }
    if let Some(u) = &args.as_user {
        add("--as", Some(u));
    }
    if args.as_service_account {
        add("--as-service-account", None);
    }
    for g in &args.as_groups {
        add("--as-group", Some(g));
    }
    let scope = &args.scope;
    if scope.service_account_namespace != crate::needs::DEPLOY_NAMESPACE {
        add(
            "--service-account-namespace",
            Some(&scope.service_account_namespace),
        );
    }
    if scope.service_account_name != crate::needs::NAME {
        add("--service-account-name", Some(&scope.service_account_name));
    }
    if let Some(ns) = &scope.namespace {
        add("--namespace", Some(ns));
    }
    if scope.no_leader_election {
        add("--no-leader-election", None);
    } else if scope.lease_namespace != crate::needs::DEPLOY_NAMESPACE {
        add("--lease-namespace", Some(&scope.lease_namespace));
    }
    add("--fix", None);
    cmd
}

/// Why `doctor` could not finish.
#[derive(Debug, thiserror::Error)]
pub enum DoctorError {
    /// A flag, the kubeconfig or the client configuration cannot be used.
    #[error("{0}")]
    Usage(String),
    /// Writing the report or the fix failed (a closed pipe is not worth an error message).
    #[error("writing the report failed")]
    Write(#[source] std::io::Error),
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
    let config = load_config(args).await.map_err(DoctorError::Usage)?;
    let options = options(as_user.map(|user| AsIdentity {
        user,
        groups: args.as_groups.clone(),
    }));
    let report = preflight::run(&config, &needs, &options)
        .await
        .map_err(|e| DoctorError::Usage(format!("the checks could not start: {e}")))?;
    let write_failed = DoctorError::Write;
    let command = fix_command(args);
    if args.fix {
        out.write_all(report.fix.to_apply_stream().as_bytes())
            .and_then(|()| out.flush())
            .map_err(write_failed)?;
        write_report(err, &report, args.output, args.verbose, &command).map_err(write_failed)?;
    } else {
        write_report(out, &report, args.output, args.verbose, &command).map_err(write_failed)?;
    }
    Ok(u8::try_from(report.exit_code()).unwrap_or(2))
}
