//! Go programs the tests use as a person would (`helm`, krew and its manifest validator), built from the Go
//! module proxy at a pinned version with `go install <package>@<version>`.
//!
//! Like the control plane ([`crate::binary`]), each build is done once and cached: the binary lands in
//! `<target>/tools/<name>-<version>` next to a stamp (the package, its version and the Go version), a file lock
//! keeps concurrent test binaries from building the same tool twice, and Go's build cache makes a rebuild after
//! a Go upgrade fast.

use std::fs::{self, File};
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use crate::{Error, binary};

/// A Go program at a pinned version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoTool {
    /// The binary's name (the last element of the package path).
    pub name: &'static str,
    /// The Go package of its `main` (`helm.sh/helm/v3/cmd/helm`).
    pub package: &'static str,
    /// The module version (`v3.22.0`).
    pub version: &'static str,
}

/// Helm, the Kubernetes package manager: `helm lint`, `helm template` and `helm install` of doc-controller's chart.
pub const HELM: GoTool = GoTool {
    name: "helm",
    package: "helm.sh/helm/v3/cmd/helm",
    version: "v3.22.0",
};

/// krew, the kubectl plugin manager (run as `kubectl krew`): installs the plugin from its manifest and an archive.
pub const KREW: GoTool = GoTool {
    name: "krew",
    package: "sigs.k8s.io/krew/cmd/krew",
    version: "v0.4.3",
};

/// krew's own manifest validator, the one the krew index runs on every submitted manifest.
pub const VALIDATE_KREW_MANIFEST: GoTool = GoTool {
    name: "validate-krew-manifest",
    package: "sigs.k8s.io/krew/cmd/validate-krew-manifest",
    version: "v0.4.3",
};

/// Where built tools are cached: `<target>/tools`.
pub fn tools_dir() -> PathBuf {
    binary::output_dir()
        .parent()
        .map(|target| target.join("tools"))
        .unwrap_or_else(|| binary::workspace_root().join("target").join("tools"))
}

impl GoTool {
    /// Returns the path of the built tool, building it with `go install` when it is missing or its stamp differs.
    ///
    /// A cold build downloads the tool's modules and compiles them (helm: a few minutes on 2 cores); progress is
    /// reported on stderr.
    pub fn ensure_built(&self) -> Result<PathBuf, Error> {
        let dir = tools_dir();
        fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let bin = dir.join(format!("{}-{}", self.name, self.version));
        let stamp_path = dir.join(format!("{}-{}.stamp", self.name, self.version));

        let lock_path = dir.join(format!("{}.lock", self.name));
        let lock = File::create(&lock_path)
            .map_err(|e| Error::io(format!("creating {}", lock_path.display()), e))?;
        lock.lock()
            .map_err(|e| Error::io(format!("locking {}", lock_path.display()), e))?;

        let go = binary::go_version()?;
        let stamp = format!("{}@{} {go}", self.package, self.version);
        if bin.is_file() && fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp) {
            return Ok(bin);
        }

        eprintln!(
            "kubewhy-testenv: building {}@{} with {go} (once; cached in {})",
            self.package,
            self.version,
            dir.display()
        );
        let started = Instant::now();
        // `go install` names the binary after the package; build into a private directory, then move it.
        let gobin = dir.join(format!(".build-{}-{}", self.name, std::process::id()));
        fs::create_dir_all(&gobin)
            .map_err(|e| Error::io(format!("creating {}", gobin.display()), e))?;
        let output = Command::new("go")
            .args(["install", "-trimpath", "-ldflags=-s -w"])
            .arg(format!("{}@{}", self.package, self.version))
            .env("GOBIN", &gobin)
            .env("CGO_ENABLED", "0")
            // Outside any module: the pinned version alone decides what is built.
            .current_dir(&dir)
            .output()
            .map_err(|e| Error::io("running `go install`", e))?;
        let result = if output.status.success() {
            fs::rename(gobin.join(self.name), &bin)
                .map_err(|e| Error::io(format!("moving the build to {}", bin.display()), e))
                .and_then(|()| {
                    fs::write(&stamp_path, &stamp)
                        .map_err(|e| Error::io(format!("writing {}", stamp_path.display()), e))
                })
        } else {
            Err(Error::GoInstall {
                package: self.package,
                version: self.version,
                status: output.status,
                output: format!(
                    "{}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                ),
            })
        };
        // The private build directory is empty after the move (or holds a failed build): removing it only tidies.
        if let Err(e) = fs::remove_dir_all(&gobin) {
            eprintln!("kubewhy-testenv: could not remove {}: {e}", gobin.display());
        }
        result?;
        eprintln!(
            "kubewhy-testenv: built {} in {:.0}s",
            bin.display(),
            started.elapsed().as_secs_f64()
        );
        Ok(bin)
    }
}
