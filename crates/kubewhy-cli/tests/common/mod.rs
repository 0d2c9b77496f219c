//! Shared by the test binaries that run `kubewhy` against the control plane: the control plane, the binary, and
//! applying manifests as admin.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kubewhy_testenv::ControlPlane;

/// The control plane of this test binary.
pub fn env() -> &'static ControlPlane {
    kubewhy_testenv::shared()
}

/// Runs `kubewhy` (without colour).
pub fn kubewhy(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubewhy"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .expect("running kubewhy")
}

/// `kubectl apply -f -` as admin.
pub fn apply(yaml: &str) {
    let (ok, out, err) = env()
        .kubectl_with(env().kubeconfig(), &["apply", "-f", "-"], Some(yaml))
        .unwrap();
    assert!(ok, "kubectl apply failed: {err}\n{out}\n{yaml}");
}

/// The repository's `deploy/`.
pub fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}
