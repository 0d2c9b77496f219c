//! Watchers that are never silent. kube-runtime's watchers retry every failure forever, log most of them only
//! at DEBUG, reset their back-off on every relist and merge the errors of all of a controller's watchers. This
//! module gives each watcher a name, diagnoses each error (with the request that failed), logs each distinct
//! cause once per interval (WARN when persistent), backs off across relists but goes again as soon as a probe
//! finds the cause gone, and keeps a [`Health`] registry that readiness ([`Readiness`]), metrics and the exit
//! [`Policy`] read. Beside the watchers: the [`AccessWatchdog`] (a permission lost while a watch is open),
//! streaming lists that fall back to pages ([`InitialList`]), and the filter for kube-rs's own lines about
//! what kubewhy reports ([`KUBE_LOG_FILTER`]). Stalled watches are ended by the request inspector
//! ([`crate::trace::stall`]) and reported here.

pub mod access;
mod backoff;
mod health;
pub mod initial;
mod policy;
pub(crate) mod probe;
pub mod readiness;
mod report;
mod stream;

pub use access::AccessWatchdog;
pub(crate) use backoff::jittered;
pub use backoff::{Backoff, BackoffConfig};
pub use health::{AccessStatus, Health, WatcherStatus};
pub use initial::InitialList;
pub use policy::{OnPersistent, Policy, counts_at_once, exit_code, is_persistent};
pub use readiness::{Check, Checks, Readiness};
pub use report::{is_object_specific, is_server_wide};
pub use stream::{Watch, WatchStreamDiagnoseExt};

/// `tracing` filter directives that leave out kube-rs's own lines about failures kubewhy reports (diagnosed, once
/// per cause): kube-runtime's watcher WARNs (`watch initlist error with 403: ...` on every retry), kube-client's
/// ERROR line for every failed request (`failed with error client error (Connect)`, `failed with status 503`) and
/// its WARNs at every resumable end of a watch (`eof in poll`, `timeout in poll`). kube-client's TLS warnings stay.
/// Append them to a filter (more specific targets win over `kube=...`):
///
/// ```
/// let filter = format!("info,kube=warn,kubewhy=info,{}", kubewhy::watch::KUBE_LOG_FILTER);
/// # let _ = filter;
/// ```
pub const KUBE_LOG_FILTER: &str = "kube_runtime::watcher=error,kube_client::client=error,\
                                   kube_client::client::tls=warn,kube_client::client::builder=off";

/// [`KUBE_LOG_FILTER`] added to `filter`, leaving out the directives for targets `filter` already names (a user's own
/// choice wins).
pub fn with_kube_log_filter(filter: &str) -> String {
    let named: Vec<&str> = filter
        .split(',')
        .filter_map(|d| d.split('=').next())
        .map(str::trim)
        .collect();
    let mut out = filter.trim().trim_end_matches(',').to_string();
    for directive in KUBE_LOG_FILTER.split(',') {
        let target = directive.split('=').next().unwrap_or_default();
        if !named.contains(&target) {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(directive);
        }
    }
    out
}

/// The filter for a program's `tracing` subscriber: `RUST_LOG` when it is set, else `default`, with kube-rs's own
/// lines about what kubewhy reports left out ([`with_kube_log_filter`]; a target the filter names keeps the level it
/// gives). One line in a program (`with_env_filter` takes the string; kube's raw `watch initlist error` WARN is
/// otherwise printed on every retry beside kubewhy's one line):
///
/// ```
/// # fn main() {
/// tracing_subscriber::fmt().with_env_filter(kubewhy::watch::log_filter("info")).init();
/// # }
/// ```
pub fn log_filter(default: &str) -> String {
    let chosen = std::env::var("RUST_LOG")
        .ok()
        .filter(|f| !f.trim().is_empty());
    with_kube_log_filter(chosen.as_deref().unwrap_or(default))
}

/// A back-off for kube-runtime's `Controller::trigger_backoff` that never waits: with kubewhy's watchers the
/// back-off is kubewhy's alone, so the delay it logs is the delay that happens (kube's own, applied on top to all
/// of a controller's watchers at once, made "retrying in 0.6s" really 1.7 s).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoTriggerBackoff;

impl Iterator for NoTriggerBackoff {
    type Item = std::time::Duration;
    fn next(&mut self) -> Option<std::time::Duration> {
        Some(std::time::Duration::ZERO)
    }
}

impl kube::runtime::utils::Backoff for NoTriggerBackoff {
    fn reset(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kube_filter_keeps_what_the_user_chose() {
        let f = with_kube_log_filter("info,kube=warn");
        assert!(
            f.starts_with("info,kube=warn,kube_runtime::watcher=error"),
            "{f}"
        );
        assert!(f.contains("kube_client::client::builder=off"), "{f}");
        let f = with_kube_log_filter("debug,kube_client::client::builder=debug");
        assert!(!f.contains("builder=off"), "{f}");
        assert!(tracing_subscriber::EnvFilter::try_new(with_kube_log_filter("")).is_ok());
    }
}
