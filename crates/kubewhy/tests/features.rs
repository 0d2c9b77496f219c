//! The library builds with no default features, with each feature alone and with all features, without warnings,
//! and for the earliest Kubernetes version a program may pick (`cargo check` of the library, in target directories
//! of their own under the workspace's `target/`, so a second run checks only what changed). The features are read from the crate's own manifest (`cargo metadata`):
//! a new feature is checked without editing this test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/kubewhy sits two levels below the workspace root")
        .to_path_buf()
}

/// k8s-openapi's `latest` feature (0.29: Kubernetes 1.37).
const LATEST: &str = "1.37";
/// k8s-openapi's `earliest` feature (0.29: Kubernetes 1.33).
const EARLIEST: &str = "1.33";

fn cargo() -> Command {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(workspace())
        // The checks' own target directory: the test run holds the workspace's.
        .env(
            "CARGO_TARGET_DIR",
            workspace().join("target").join("feature-check"),
        )
        // A feature combination that leaves an import unused is a defect like any other warning.
        .env("RUSTFLAGS", "-D warnings")
        // The library leaves the Kubernetes version to the program; checked alone, it is told one, as a program
        // would (the dev-dependency's `latest`, which the example's build turns on too: the same version).
        .env("K8S_OPENAPI_ENABLED_VERSION", LATEST)
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    cmd
}

/// The features `crates/kubewhy/Cargo.toml` declares, `default` left out.
fn features() -> Vec<String> {
    let out = cargo()
        .args(["metadata", "--no-deps", "--format-version", "1", "--locked"])
        .output()
        .expect("running cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
    let package = meta["packages"]
        .as_array()
        .expect("cargo metadata lists packages")
        .iter()
        .find(|p| p["name"] == "kubewhy")
        .expect("the workspace holds kubewhy");
    let mut names: Vec<String> = package["features"]
        .as_object()
        .expect("a package's features are an object")
        .keys()
        .filter(|k| *k != "default")
        .cloned()
        .collect();
    names.sort();
    names
}

#[test]
fn builds_with_no_default_features_each_feature_alone_and_all_features() {
    let features = features();
    for expected in [
        "runtime",
        "metrics",
        "trace",
        "preflight",
        "watch",
        "live",
        "junit",
    ] {
        assert!(
            features.iter().any(|f| f == expected),
            "kubewhy declares no `{expected}` feature: {features:?}"
        );
    }
    let mut runs: Vec<(String, Vec<String>)> = vec![(
        "no default features".into(),
        vec!["--no-default-features".into()],
    )];
    for f in &features {
        runs.push((
            format!("only `{f}`"),
            vec![
                "--no-default-features".into(),
                "--features".into(),
                f.clone(),
            ],
        ));
    }
    runs.push(("all features".into(), vec!["--all-features".into()]));
    // The adoption example with what it needs on top of the default: kube's stable features only.
    runs.push((
        "examples/controller.rs".into(),
        vec![
            "--features".into(),
            "watch".into(),
            "--example".into(),
            "controller".into(),
        ],
    ));

    let all = Instant::now();
    let mut failed = Vec::new();
    for (name, args) in &runs {
        let started = Instant::now();
        let out = cargo()
            .args(["check", "--locked", "--quiet", "-p", "kubewhy"])
            .args(if args.contains(&"--example".to_string()) {
                None
            } else {
                Some("--lib")
            })
            .args(args)
            .output()
            .expect("running cargo check");
        println!(
            "cargo check -p kubewhy {}: {:.1?}",
            args.join(" "),
            started.elapsed()
        );
        if !out.status.success() {
            failed.push(format!(
                "{name} ({}):\n{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    println!(
        "{} feature combinations checked in {:.1?}",
        runs.len(),
        all.elapsed()
    );
    assert!(
        failed.is_empty(),
        "kubewhy does not build:\n{}",
        failed.join("\n")
    );
}

/// A program picks the Kubernetes version (one k8s-openapi `v1_*` feature); kubewhy builds with every version
/// k8s-openapi supports, the earliest included, where some types differ (`RoleRef::api_group` is optional from
/// 1.36). Its own target directory: another version rebuilds k8s-openapi and everything above it.
#[test]
fn builds_with_the_earliest_kubernetes_version_a_program_may_pick() {
    let started = Instant::now();
    let out = cargo()
        .env("K8S_OPENAPI_ENABLED_VERSION", EARLIEST)
        .env(
            "CARGO_TARGET_DIR",
            workspace().join("target").join("feature-check-earliest"),
        )
        .args([
            "check",
            "--locked",
            "--quiet",
            "-p",
            "kubewhy",
            "--lib",
            "--all-features",
        ])
        .output()
        .expect("running cargo check");
    println!(
        "cargo check -p kubewhy --all-features with Kubernetes {EARLIEST}: {:.1?}",
        started.elapsed()
    );
    assert!(
        out.status.success(),
        "kubewhy does not build for a program on Kubernetes {EARLIEST}:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
