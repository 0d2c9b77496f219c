//! doc-controller's preflight: kubewhy's checks ([`kubewhy::preflight`]) of its own declared needs
//! ([`crate::needs`]) — `doctor` ([`crate::doctor`]) runs them on demand (as itself, or `--as` another identity),
//! and `run` runs them at start according to `--preflight`:
//!
//! - `wait` (the default): re-check with back-off (1 s doubling to 30 s) until everything passes, not ready
//!   meanwhile (`/readyz` names the failures), logging the report whenever it changes. A missing CRD or RBAC
//!   applied after the Deployment is picked up within seconds, no restart needed; the rollout stays unready, so
//!   `kubectl rollout status` and not-ready alerts show it, and the log says exactly what to grant.
//! - `fail`: log the report and exit 1 (in a cluster, the restart back-off and CrashLoopBackOff alert come for
//!   free; the next start checks again).
//! - `warn`: log the report and go on (the watchers then keep reporting what fails).

use std::collections::BTreeSet;
use std::time::Duration;

use kubewhy::needs::Needs;
use kubewhy::preflight::{self, AsIdentity, Options, Outcome, Report};
use tracing::{error, info, warn};

use crate::readiness::Readiness;
use crate::shutdown::Shutdown;

/// How missing CRDs are installed, named in the fix.
pub const CRD_INSTALL: &str = "doc-controller crdgen | kubectl apply -f -";
/// The readiness check the start-up preflight reports under.
pub const CHECK: &str = "preflight";

/// What `run` does when a preflight check fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Exit 1 with the report.
    Fail,
    /// Stay not ready and re-check with back-off until everything passes, logging the report on each change.
    Wait,
    /// Log the report and start anyway.
    Warn,
}

/// The checks' options for doc-controller: its CRD install command, and `--as` when given.
pub fn options(as_identity: Option<AsIdentity>) -> Options {
    Options {
        as_identity,
        crd_install: Some(CRD_INSTALL.into()),
        ..Options::default()
    }
}

/// What the start-up preflight decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go on and start the controller.
    Start,
    /// Shut down was requested while waiting.
    ShutDown,
}

/// The identity of a report for "has it changed": every check's kind, name and outcome.
fn signature(report: &Report) -> BTreeSet<(String, String, String)> {
    report
        .checks
        .iter()
        .map(|c| {
            (
                c.kind.to_string(),
                c.name.clone(),
                format!("{:?}", c.outcome),
            )
        })
        .collect()
}

/// Logs the report: one line per failure (class, check, summary, what to do), then a summary line.
fn log_report(report: &Report, mode: Mode) {
    for check in report.checks.iter().filter(|c| c.outcome == Outcome::Fail) {
        let Some(d) = &check.diagnosis else { continue };
        let remedy = d.remedy();
        let help = if remedy.commands.is_empty() {
            remedy.summary
        } else {
            format!("{} (`{}`)", remedy.summary, remedy.commands.join("`, `"))
        };
        match mode {
            Mode::Warn => warn!(
                check = %check.kind, need = check.need, class = %d.class, help = %help,
                "preflight: {}", d.summary()
            ),
            Mode::Fail | Mode::Wait => error!(
                check = %check.kind, need = check.need, class = %d.class, help = %help,
                "preflight: {}", d.summary()
            ),
        }
    }
    let s = report.summary;
    let what = match mode {
        Mode::Fail => "exiting (--preflight=fail)",
        Mode::Wait => "not ready; checking again with back-off (--preflight=wait)",
        Mode::Warn => "starting anyway (--preflight=warn)",
    };
    let fix = match (&report.subject, report.fix.is_empty()) {
        (_, true) => String::new(),
        (Some(subject), false) => format!(
            "; `doc-controller doctor --as {} --fix | kubectl apply -f -`, run by an admin with this run's \
             --namespace and --lease-namespace, prints the fix",
            subject.user
        ),
        (None, false) => "; `doc-controller doctor --fix` prints the fix".to_string(),
    };
    let blocked = report
        .blocked
        .as_deref()
        .map(|b| format!(" ({b})"))
        .unwrap_or_default();
    let line = format!(
        "preflight: {} of {} checks failed{blocked}, {} skipped: {what}{fix}",
        s.failed,
        s.passed + s.failed + s.skipped,
        s.skipped
    );
    match mode {
        Mode::Warn => warn!("{line}"),
        Mode::Fail | Mode::Wait => error!("{line}"),
    }
}

/// Why the start-up preflight stops `run`.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The checks could not run at all (the client configuration cannot be used).
    #[error("the preflight could not start")]
    NotStarted(#[source] preflight::Error),
    /// Checks failed and `--preflight=fail` was given.
    #[error("{failed} of {total} checks failed (see the log, or run `doc-controller doctor`)")]
    Failed {
        /// How many checks failed.
        failed: usize,
        /// How many checks there were.
        total: usize,
    },
}

/// The preflight `run` does at start: returns whether to start, or why to exit 1 (`fail`).
pub async fn at_start(
    config: &kube::Config,
    needs: &Needs,
    mode: Mode,
    readiness: &Readiness,
    shutdown: &Shutdown,
) -> Result<Decision, StartError> {
    let options = options(None);
    let mut delay = Duration::from_secs(1);
    let mut last = None;
    loop {
        let report = preflight::run(config, needs, &options)
            .await
            .map_err(StartError::NotStarted)?;
        let s = report.summary;
        if report.passed() {
            info!(
                passed = s.passed,
                skipped = s.skipped,
                "preflight: every check of the declared needs passed"
            );
            readiness.ready(CHECK, format!("{} checks passed", s.passed));
            return Ok(Decision::Start);
        }
        let changed = last.as_ref() != Some(&signature(&report));
        if changed {
            log_report(&report, mode);
        }
        let failed = StartError::Failed {
            failed: s.failed,
            total: s.passed + s.failed + s.skipped,
        };
        let why = failed.to_string();
        match mode {
            Mode::Fail => {
                readiness.not_ready(CHECK, why);
                return Err(failed);
            }
            Mode::Warn => {
                readiness.ready(CHECK, format!("started anyway (--preflight=warn): {why}"));
                return Ok(Decision::Start);
            }
            Mode::Wait => readiness.not_ready(CHECK, why),
        }
        last = Some(signature(&report));
        tokio::select! {
            () = shutdown.wait() => {
                info!("shut down while waiting for the preflight to pass");
                return Ok(Decision::ShutDown);
            }
            () = tokio::time::sleep(delay) => {}
        }
        delay = (delay * 2).min(Duration::from_secs(30));
    }
}
