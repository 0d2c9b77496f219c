//! The library's tests against the real control plane, in one test binary around one shared control plane
//! (`kubewhy_testenv::shared()`, started once): each module was a test binary of its own that started its own.
//! Every test makes what it changes its own (a fresh namespace, names after it), so they run side by side.
//!
//! Two stay binaries of their own: `trace.rs` captures every target at TRACE (no token may appear at any level,
//! and a process-wide subscriber at that level would flood every other test), and `kubernetes_1_36.rs` starts
//! control planes with feature gates of their own and captures kube-runtime's DEBUG lines.

#[path = "../common/mod.rs"]
mod common;
#[path = "../common/grant.rs"]
mod grant;

mod adoption;
mod diagnose_e2e;
mod preflight;
mod rbac_matrix;
mod watch;
