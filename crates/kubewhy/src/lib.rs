//! kubewhy: a Kubernetes API failure explains itself.
//!
//! One flow runs through the crate: *a failure* (a `kube::Error`, a watcher error, a log line, a failed check)
//! becomes *a [`Diagnosis`]* (plain data: class, request, subject, cause, remedy) which is shown *somewhere a
//! person sees it* (a log line, a metric, a readiness answer, a CLI report).

mod classify;
pub mod diagnosis;
pub mod enrich;
pub mod metrics;
pub mod needs;
pub mod preflight;
pub mod rbac;
pub mod read;
pub mod remedy;
pub mod render;
pub mod scan;
pub mod trace;
pub mod watch;

pub use classify::{
    diagnose, diagnose_controller, diagnose_error, diagnose_in, diagnose_text, diagnose_watcher,
};
pub use diagnosis::{Class, Diagnosis, Remedy, Request};
