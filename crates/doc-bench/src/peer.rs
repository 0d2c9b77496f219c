//! Building the controller-runtime peer (`bench/peer-controller-runtime`, a Go module) into `target/bench/`.
//!
//! Cached like the control plane: a stamp (hash of the Go sources, `go.mod`, `go.sum` and the Go version) skips
//! `go build` when nothing changed, and Go's own build cache makes a rebuild quick. A file lock keeps two harness
//! processes (say the smoke test and a full run) from building at once.

use std::fs::{self, File};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// The peer's source directory.
pub fn source_dir(root: &Path) -> PathBuf {
    root.join("bench/peer-controller-runtime")
}

/// Where the harness keeps its outputs: `$CARGO_TARGET_DIR/bench` or `<root>/target/bench`.
pub fn output_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("bench")
}

/// Where the built peer goes.
pub fn binary_path(root: &Path) -> PathBuf {
    output_dir(root).join("peer-controller-runtime")
}

/// Builds the peer when its sources changed; returns the binary.
pub fn ensure_built(root: &Path) -> Result<PathBuf> {
    let src = source_dir(root);
    let out = output_dir(root);
    fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let bin = binary_path(root);
    let stamp_path = out.join("peer-controller-runtime.stamp");
    let lock_path = out.join("peer-build.lock");
    let lock =
        File::create(&lock_path).with_context(|| format!("creating {}", lock_path.display()))?;
    lock.lock()
        .with_context(|| format!("locking {}", lock_path.display()))?;

    let go = kubewhy_testenv::binary::go_version()
        .context("the controller-runtime peer is a Go program")?;
    let stamp = stamp(&src, &go)?;
    if bin.is_file() && fs::read_to_string(&stamp_path).is_ok_and(|s| s == stamp) {
        return Ok(bin);
    }
    eprintln!(
        "doc-bench: building the controller-runtime peer with {go} (the first build takes a few minutes)"
    );
    let started = Instant::now();
    let tmp = out.join("peer-controller-runtime.building");
    let output = Command::new("go")
        .args(["build", "-trimpath", "-o"])
        .arg(&tmp)
        .arg("./cmd")
        .current_dir(&src)
        .env("CGO_ENABLED", "0")
        .output()
        .context("running `go build`")?;
    if !output.status.success() {
        bail!(
            "`go build` in {} failed ({}):\n{}{}",
            src.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    fs::rename(&tmp, &bin).with_context(|| format!("moving the build to {}", bin.display()))?;
    fs::write(&stamp_path, stamp).with_context(|| format!("writing {}", stamp_path.display()))?;
    eprintln!(
        "doc-bench: built {} in {:.0} s",
        bin.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(bin)
}

fn stamp(src: &Path, go: &str) -> Result<String> {
    let mut files = Vec::new();
    collect(src, &mut files)?;
    files.sort();
    let mut h = DefaultHasher::new();
    go.hash(&mut h);
    for f in &files {
        f.strip_prefix(src).unwrap_or(f).hash(&mut h);
        fs::read(f)
            .with_context(|| format!("reading {}", f.display()))?
            .hash(&mut h);
    }
    Ok(format!("{:016x}", h.finish()))
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry
            .with_context(|| format!("reading {}", dir.display()))?
            .path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "go")
            || path
                .file_name()
                .is_some_and(|n| n == "go.mod" || n == "go.sum")
        {
            out.push(path);
        }
    }
    Ok(())
}
