//! Building the Go control-plane program (`controlplane/` at the workspace root) with the Go toolchain.
//!
//! The build is cached twice: Go's own build cache makes a rebuild fast, and a stamp file (a hash of the Go
//! sources, `go.mod`, `go.sum` and the Go version) skips `go build` entirely when nothing changed. A file lock
//! keeps concurrent test binaries from building at the same time.

use std::fs::{self, File};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::Error;

/// The Kubernetes release the control plane is built from (must match `controlplane/go.mod`).
pub const KUBERNETES_VERSION: &str = "v1.36.3";
/// The oldest Go that builds it (its `go.mod` says `go 1.26.0`).
pub const MIN_GO: (u32, u32) = (1, 26);

/// Environment variable naming a prebuilt control-plane binary to use instead of building one.
pub const BIN_ENV: &str = "KUBEWHY_CONTROLPLANE_BIN";

/// What Go this crate needs and where to get it: the help of every Go-related [`BuildError`].
pub const GO_HELP: &str = "kubewhy builds a real kube-apiserver from Go modules and needs Go >= 1.26 \
                           (https://go.dev/dl/, or your package manager) with access to the Go module proxy";

/// Why the control-plane binary could not be built (or found).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// `KUBEWHY_CONTROLPLANE_BIN` names no file.
    #[error(
        "{}={} does not name a file; unset it to build the control plane from controlplane/",
        BIN_ENV,
        path.display()
    )]
    NoBinary {
        /// What it names.
        path: PathBuf,
    },
    /// `go version` could not be run (Go is not installed or not on `PATH`).
    #[error("could not run `go version`")]
    NoGo(#[source] std::io::Error),
    /// `go version` ran and failed.
    #[error("`go version` failed ({status}): {stderr}")]
    GoVersionFailed {
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it printed on standard error.
        stderr: String,
    },
    /// `go version` printed something this crate cannot read.
    #[error("could not read the Go version from `{text}`")]
    UnreadableGoVersion {
        /// What it printed.
        text: String,
    },
    /// The Go found is older than the one required.
    #[error("found Go {major}.{minor} (`{text}`), but Go >= {}.{} is required", MIN_GO.0, MIN_GO.1)]
    GoTooOld {
        /// Its major version.
        major: u32,
        /// Its minor version.
        minor: u32,
        /// What `go version` printed.
        text: String,
    },
    /// `go build` failed.
    #[error("`go build` in {} failed ({status}):\n{output}", dir.display())]
    GoBuild {
        /// Where it ran.
        dir: PathBuf,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it printed (standard output, then standard error).
        output: String,
    },
}

/// The workspace root (two levels above this crate's manifest).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crate lives at <root>/crates/<name>")
        .to_path_buf()
}

/// Where build outputs and logs go: `$CARGO_TARGET_DIR/controlplane` or `<root>/target/controlplane`.
pub fn output_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
        .join("controlplane")
}

/// Returns the path of an up-to-date control-plane binary, building it when needed.
///
/// Progress of a build (which can take 10–20 minutes cold) is reported on stderr.
pub fn ensure_built() -> Result<PathBuf, Error> {
    if let Some(bin) = std::env::var_os(BIN_ENV) {
        let bin = PathBuf::from(bin);
        if !bin.is_file() {
            return Err(Error::Build(BuildError::NoBinary { path: bin }));
        }
        return Ok(bin);
    }
    let src = workspace_root().join("controlplane");
    let out = output_dir();
    fs::create_dir_all(&out).map_err(|e| Error::io(format!("creating {}", out.display()), e))?;
    let bin = out.join("kubewhy-controlplane");
    let stamp_path = out.join("kubewhy-controlplane.stamp");

    let lock_path = out.join("build.lock");
    let lock = File::create(&lock_path)
        .map_err(|e| Error::io(format!("creating {}", lock_path.display()), e))?;
    lock.lock()
        .map_err(|e| Error::io(format!("locking {}", lock_path.display()), e))?;

    let go = go_version()?;
    let stamp = source_stamp(&src, &go)?;
    if bin.is_file() && fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp) {
        return Ok(bin);
    }

    eprintln!(
        "kubewhy-testenv: building the local control plane (kube-apiserver {KUBERNETES_VERSION} + etcd) with {go}; \
         the first build downloads and compiles Kubernetes and takes 10-20 minutes, later ones seconds"
    );
    let started = Instant::now();
    let ldflags = format!(
        "-s -w -X main.version={v} -X k8s.io/component-base/version.gitVersion={v} \
         -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor={minor} \
         -X k8s.io/component-base/version.gitTreeState=clean",
        v = KUBERNETES_VERSION,
        minor = KUBERNETES_VERSION.split('.').nth(1).unwrap_or("0"),
    );
    let tmp_bin = out.join("kubewhy-controlplane.building");
    let output = Command::new("go")
        .args(["build", "-trimpath", "-ldflags", &ldflags, "-o"])
        .arg(&tmp_bin)
        .arg(".")
        .current_dir(&src)
        .env("CGO_ENABLED", "0")
        .output()
        .map_err(|e| Error::io("running `go build`", e))?;
    if !output.status.success() {
        return Err(Error::Build(BuildError::GoBuild {
            dir: src,
            status: output.status,
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        }));
    }
    fs::rename(&tmp_bin, &bin)
        .map_err(|e| Error::io(format!("moving the build to {}", bin.display()), e))?;
    fs::write(&stamp_path, stamp)
        .map_err(|e| Error::io(format!("writing {}", stamp_path.display()), e))?;
    eprintln!(
        "kubewhy-testenv: built {} in {:.0}s",
        bin.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(bin)
}

/// Checks that Go is installed and new enough, returning its version line (e.g. `go1.26.8 linux/amd64`).
pub fn go_version() -> Result<String, Error> {
    let output = Command::new("go")
        .arg("version")
        .output()
        .map_err(|e| Error::Build(BuildError::NoGo(e)))?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
    if !output.status.success() {
        return Err(Error::Build(BuildError::GoVersionFailed {
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        }));
    }
    let found = parse_go_version(&text);
    match found {
        Some(v) if v >= MIN_GO => Ok(text.trim_start_matches("go version ").to_string()),
        Some((major, minor)) => Err(Error::Build(BuildError::GoTooOld { major, minor, text })),
        None => Err(Error::Build(BuildError::UnreadableGoVersion { text })),
    }
}

/// `go version go1.26.8 linux/amd64` → `(1, 26)`.
fn parse_go_version(text: &str) -> Option<(u32, u32)> {
    let word = text.split_whitespace().find(|w| w.starts_with("go1"))?;
    let mut parts = word.trim_start_matches("go").split(['.', 'r', 'b']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

fn source_stamp(src: &Path, go: &str) -> Result<String, Error> {
    let mut files: Vec<PathBuf> = fs::read_dir(src)
        .map_err(|e| Error::io(format!("reading {}", src.display()), e))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(|e| Error::io(format!("reading {}", src.display()), e))?;
    files.retain(|p| {
        p.extension().is_some_and(|e| e == "go")
            || p.file_name()
                .is_some_and(|n| n == "go.mod" || n == "go.sum")
    });
    files.sort();
    let mut hasher = DefaultHasher::new();
    go.hash(&mut hasher);
    KUBERNETES_VERSION.hash(&mut hasher);
    for f in &files {
        f.file_name().hash(&mut hasher);
        fs::read(f)
            .map_err(|e| Error::io(format!("reading {}", f.display()), e))?
            .hash(&mut hasher);
    }
    Ok(format!("{:016x}", hasher.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_versions() {
        assert_eq!(
            parse_go_version("go version go1.26.8 linux/amd64"),
            Some((1, 26))
        );
        assert_eq!(
            parse_go_version("go version go1.27rc1 linux/amd64"),
            Some((1, 27))
        );
        assert_eq!(
            parse_go_version("go version go1.19 linux/amd64"),
            Some((1, 19))
        );
        assert_eq!(parse_go_version("go version devel"), None);
        assert!(parse_go_version("go version go1.25.3 x").unwrap() < MIN_GO);
    }
}
