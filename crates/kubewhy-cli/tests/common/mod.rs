//! Shared by the modules that run `kubewhy` against a control plane: the shared control plane and private ones, the
//! binary, and applying manifests as admin.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use kubewhy_testenv::ControlPlane;

/// The control plane the modules share.
pub fn env() -> &'static ControlPlane {
    kubewhy_testenv::shared()
}

/// A control plane of one module's own, started on first use: for tests that need what the shared one cannot
/// give (a CRD not installed) or change what others read (doc-controller's cluster-wide RBAC).
pub fn private(cell: &'static OnceLock<ControlPlane>) -> &'static ControlPlane {
    cell.get_or_init(|| {
        ControlPlane::start(kubewhy_testenv::Options::default())
            .unwrap_or_else(|e| panic!("starting a private control plane: {e}"))
    })
}

/// `kubectl apply -f -` as admin of `cp`.
pub fn apply_on(cp: &ControlPlane, yaml: &str) {
    let (ok, out, err) = cp
        .kubectl_with(cp.kubeconfig(), &["apply", "-f", "-"], Some(yaml))
        .unwrap();
    assert!(ok, "kubectl apply failed: {err}\n{out}\n{yaml}");
}

/// Runs `kubewhy` (without colour).
pub fn kubewhy(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubewhy"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("running kubewhy")
}

/// `kubectl apply -f -` as admin of the shared control plane.
pub fn apply(yaml: &str) {
    apply_on(env(), yaml)
}

/// The repository's `deploy/`.
pub fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}
