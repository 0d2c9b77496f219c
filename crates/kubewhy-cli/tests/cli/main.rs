//! The CLI's tests, in one test binary: each module was a test binary of its own, and each started its own control
//! plane. `check` and `explain` share one (`kubewhy_testenv::shared()`, every test in a fresh namespace); the
//! modules whose tests need what sharing cannot give start a private one on first use (`common::private`):
//! `check_doctor` (the Document CRD starts out not installed), `rbac_diff` (it changes doc-controller's
//! cluster-wide RBAC, which `check` reads) and `readme` (the README's examples use doc-controller's real names).

#[path = "../common/mod.rs"]
mod common;

mod check;
mod check_doctor;
mod explain;
mod rbac_diff;
mod readme;
