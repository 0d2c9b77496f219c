//! The library's tests against the real control plane, in one test binary around one shared control plane
//! (`kubewhy_testenv::shared()`, started once): each module was a test binary of its own that started its own.
//! Every test makes what it changes its own (a fresh namespace, names after it), so they run side by side.
//!
//! Two stay binaries of their own: `trace.rs` captures every target at TRACE (no token may appear at any level,
//! and a process-wide subscriber at that level would flood every other test), and `kubernetes_1_36.rs` starts
//! control planes with feature gates of their own and captures kube-runtime's DEBUG lines.

#[path = "../common/mod.rs"]
#[allow(dead_code)]
// `capture` installs a subscriber of its own: this binary has one for all, `logs`
mod common;
#[path = "../common/grant.rs"]
mod grant;

mod adoption;
mod diagnose_e2e;
mod preflight;
mod rbac_matrix;
mod watch;

use std::sync::OnceLock;

use common::Log;

/// What this binary's tests log, captured: a process has one subscriber, so every test's view is a layer of it.
pub struct Logs {
    /// kubewhy's own lines down to DEBUG, plain text (the watcher tests).
    pub plain: Log,
    /// The adoption recipe's log as `tracing_subscriber::fmt()` writes it (colours included), filtered as the recipe
    /// filters it.
    pub recipe_text: Log,
    /// The same in tracing's JSON format.
    pub recipe_json: Log,
}

/// The binary's one log subscriber, installed on first use.
pub fn logs() -> &'static Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        use tracing_subscriber::Layer;
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        let logs = Logs {
            plain: Log::default(),
            recipe_text: Log::default(),
            recipe_json: Log::default(),
        };
        let (p, t, j) = (
            logs.plain.clone(),
            logs.recipe_text.clone(),
            logs.recipe_json.clone(),
        );
        let recipe =
            || tracing_subscriber::EnvFilter::new(kubewhy::watch::with_kube_log_filter("info"));
        tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(move || p.clone())
                    .with_filter(tracing_subscriber::EnvFilter::new("kubewhy=debug")),
            )
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(true)
                    .with_writer(move || t.clone())
                    .with_filter(recipe()),
            )
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(move || j.clone())
                    .with_filter(recipe()),
            )
            .init();
        logs
    })
}
