//! Building a binary of the workspace from a test, for tests that run another package's program as a person
//! would (its own process, its own log): `cargo build -p <package> --bin <bin>` in the workspace's target directory.

use std::path::PathBuf;
use std::process::Command;

use crate::{Error, binary};

/// Variables `cargo test` gives a test process that describe the test's own package: a nested `cargo` must not
/// see them (build scripts that read `CARGO_MANIFEST_DIR` would be rebuilt, then rebuilt again by the next
/// `cargo test`).
fn is_test_package_var(name: &str) -> bool {
    name == "CARGO_MANIFEST_DIR"
        || name == "CARGO_MANIFEST_PATH"
        || name == "CARGO_CRATE_NAME"
        || name == "CARGO_PRIMARY_PACKAGE"
        || name == "CARGO_TARGET_TMPDIR"
        || name.starts_with("CARGO_PKG_")
        || name.starts_with("CARGO_BIN_EXE_")
}

/// Builds `bin` of `package` (debug profile; a no-op when it is up to date) and returns its path.
pub fn build_bin(package: &str, bin: &str) -> Result<PathBuf, Error> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(&cargo);
    command
        .args(["build", "-p", package, "--bin", bin])
        .current_dir(binary::workspace_root());
    for (name, _) in std::env::vars_os() {
        if name.to_str().is_some_and(is_test_package_var) {
            command.env_remove(name);
        }
    }
    let output = command
        .output()
        .map_err(|e| Error::io(format!("running `cargo build -p {package}`"), e))?;
    if !output.status.success() {
        return Err(Error::io(
            format!(
                "`cargo build -p {package} --bin {bin}` failed ({}):\n{}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ),
            std::io::Error::other("cargo build failed"),
        ));
    }
    let target = binary::output_dir()
        .parent()
        .map(|t| t.to_path_buf())
        .unwrap_or_else(|| binary::workspace_root().join("target"));
    let path = target.join("debug").join(bin);
    if path.is_file() {
        Ok(path)
    } else {
        Err(Error::io(
            format!("cargo built {bin} but it is not at {}", path.display()),
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ))
    }
}
