//! Watchers that are never silent. kube-runtime's watchers retry every failure forever, log most of them only
//! at DEBUG, reset their back-off on every relist and merge the errors of all of a controller's watchers. This
//! module gives each watcher a name, diagnoses each error (with the request that failed), logs each distinct
//! cause once per interval (WARN when persistent), backs off across relists, and keeps a [`Health`] registry
//! that readiness endpoints, metrics and the exit [`Policy`] read.

mod backoff;
mod health;
mod policy;
mod stream;

pub use backoff::{Backoff, BackoffConfig};
pub use health::{Health, NotReady, WatcherStatus};
pub use policy::{OnPersistent, Policy, exit_code, is_persistent};
pub use stream::{Watch, WatchStreamDiagnoseExt};
