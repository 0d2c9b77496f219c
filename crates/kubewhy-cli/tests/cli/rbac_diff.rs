//! `kubewhy rbac diff` and `doc-controller doctor --rbac-diff` against the real API server: the RBAC shipped in
//! `deploy/` grants doc-controller's declared needs exactly (nothing missing, nothing in excess, 100 %) — read
//! from the RBAC objects as admin, and from rules reviews by impersonation as a user who may not read them; a
//! wildcard rule bound to the ServiceAccount is excess (exit 1 with `--fail-on-excess`, in text, JSON and JUnit);
//! an identity with nothing misses every need.
//!
//! On a control plane of its own: it changes what doc-controller's ServiceAccount is granted, which `check.rs` reads.

use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use clap::Parser;
use doc_controller::cli::{Cli, Command as DocCommand};
use doc_controller::needs::{DEPLOY_NAMESPACE, NAME};
use serde_json::Value;

use crate::common::{deploy_dir, kubewhy};

/// This module's own control plane (see the module's doc).
fn env() -> &'static kubewhy_testenv::ControlPlane {
    static CP: std::sync::OnceLock<kubewhy_testenv::ControlPlane> = std::sync::OnceLock::new();
    crate::common::private(&CP)
}

fn apply(yaml: &str) {
    crate::common::apply_on(env(), yaml)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn deploy(file: &str) -> String {
    std::fs::read_to_string(deploy_dir().join(file)).unwrap()
}

/// `kubewhy rbac diff` until `done` holds (grants reach the authorizer's cache within moments), failing after 20 s.
fn diff_until(what: &str, args: &[&str], done: impl Fn(&Output) -> bool) -> Output {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut all = vec!["rbac", "diff"];
        all.extend_from_slice(args);
        let out = kubewhy(&all);
        if done(&out) {
            return out;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}:\n{}",
            text(&out)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn kubeconfig_of(identity: &kubewhy_testenv::Identity, name: &str) -> PathBuf {
    let path = kubewhy_testenv::scratch_path(name);
    env().write_kubeconfig(identity, None, &path).unwrap();
    path
}

#[test]
fn the_shipped_rbac_is_exactly_the_needs_and_a_wildcard_is_excess() {
    apply(&deploy("serviceaccount.yaml"));
    apply(&deploy("rbac.yaml"));
    let needs = kubewhy_testenv::scratch_path("doc-controller-needs.yaml");
    std::fs::write(&needs, doc_controller::needs::needs().to_yaml().unwrap()).unwrap();
    let admin = env().kubeconfig().to_str().unwrap().to_string();
    let sa = format!("system:serviceaccount:{DEPLOY_NAMESPACE}:{NAME}");
    let base = ["--needs", needs.to_str().unwrap(), "--as", sa.as_str()];

    // As admin: from the RBAC objects.
    let args: Vec<&str> = base
        .iter()
        .copied()
        .chain(["--kubeconfig", admin.as_str()])
        .collect();
    let out = diff_until("the shipped RBAC", &args, |o| o.status.code() == Some(0));
    let shown = text(&out);
    println!("{shown}");
    assert!(shown.contains("(granted: the RBAC objects)"), "{shown}");
    assert!(
        shown.contains("16 of 16 needed permissions granted"),
        "{shown}"
    );
    assert!(
        shown.contains("score 16 of 16 granted permissions used (100 %)"),
        "{shown}"
    );
    assert!(
        shown.contains("ok: `doc-controller` is granted exactly what it needs"),
        "{shown}"
    );
    assert!(!shown.contains("FAIL"), "{shown}");

    // As carol, who may impersonate but not read RBAC: from rules reviews as the ServiceAccount.
    apply(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: rbac-diff-impersonator}\n\
         rules: [{apiGroups: [''], resources: [users, groups, serviceaccounts], verbs: [impersonate]}]\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: rbac-diff-impersonator}\n\
         roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: rbac-diff-impersonator}\n\
         subjects: [{kind: User, name: carol, apiGroup: rbac.authorization.k8s.io}]\n",
    );
    let carol = kubeconfig_of(&env().user_identity("carol").unwrap(), "carol.kubeconfig");
    let args: Vec<&str> = base
        .iter()
        .copied()
        .chain(["--kubeconfig", carol.to_str().unwrap()])
        .collect();
    let out = diff_until("carol's impersonation grant", &args, |o| {
        o.status.code() == Some(0)
    });
    let shown = text(&out);
    assert!(
        shown.contains("(granted: rules reviews as the identity)"),
        "{shown}"
    );
    assert!(
        shown.contains("reading RBAC objects is not permitted for `carol`"),
        "{shown}"
    );
    assert!(
        shown.contains("(100 %)") && !shown.contains("FAIL"),
        "{shown}"
    );

    // doctor says the same.
    let doctor = match Cli::try_parse_from([
        "doc-controller",
        "doctor",
        "--kubeconfig",
        admin.as_str(),
        "--as-service-account",
        "--rbac-diff",
    ])
    .unwrap()
    .command
    {
        DocCommand::Doctor(args) => args,
        other => panic!("{other:?}"),
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    let code = runtime
        .block_on(doc_controller::doctor::doctor(
            &doctor,
            &mut stdout,
            &mut stderr,
        ))
        .unwrap();
    let shown = String::from_utf8_lossy(&stdout);
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown.contains("score 16 of 16 granted permissions used (100 %)"),
        "{shown}"
    );

    // A wildcard rule more: excess, in every format; `--fail-on-excess` fails on it.
    apply(&format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: rbac-diff-wildcard}}\n\
         rules: [{{apiGroups: [kube.rs], resources: ['*'], verbs: [get, list]}}]\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: rbac-diff-wildcard}}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: rbac-diff-wildcard}}\n\
         subjects: [{{kind: ServiceAccount, name: {NAME}, namespace: {DEPLOY_NAMESPACE}}}]\n"
    ));
    let strict: Vec<&str> = base
        .iter()
        .copied()
        .chain(["--kubeconfig", admin.as_str(), "--fail-on-excess"])
        .collect();
    let out = diff_until("the wildcard", &strict, |o| o.status.code() == Some(1));
    let shown = text(&out);
    println!("{shown}");
    assert!(
        shown.contains(
            "FAIL  excess  ClusterRole `rbac-diff-wildcard` rule 1 (ClusterRoleBinding `rbac-diff-wildcard`): a \
             wildcard in `resources`"
        ),
        "{shown}"
    );
    assert!(
        shown.contains("warning: 1 granted rule(s) give more than `doc-controller` needs"),
        "{shown}"
    );
    let lenient: Vec<&str> = base
        .iter()
        .copied()
        .chain(["--kubeconfig", admin.as_str()])
        .collect();
    assert_eq!(
        kubewhy(&[&["rbac", "diff"][..], &lenient].concat())
            .status
            .code(),
        Some(0)
    );
    let json: Vec<&str> = [&["rbac", "diff"][..], &lenient, &["-o", "json"]].concat();
    let out = kubewhy(&json);
    let v: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out)));
    assert_eq!(
        v["diff"]["missing"].as_array().map(Vec::len),
        Some(0),
        "{v}"
    );
    assert_eq!(
        v["diff"]["excess"][0]["findings"][0]["kind"], "Wildcard",
        "{v}"
    );
    assert!(v["score"].as_f64().unwrap() < 1.0, "{v}");
    let junit: Vec<&str> = [&["rbac", "diff"][..], &lenient, &["-o", "junit"]].concat();
    let xml = String::from_utf8(kubewhy(&junit).stdout).unwrap();
    assert!(
        xml.contains(r#"classname="kubewhy.rbac.excess""#) && xml.contains(r#"type="excess""#),
        "{xml}"
    );
    assert_eq!(
        xml.matches(r#"classname="kubewhy.rbac.needed""#).count(),
        16,
        "{xml}"
    );

    // An identity with nothing misses every need: exit 1.
    let nobody = [
        "--needs",
        needs.to_str().unwrap(),
        "--as",
        "nobody",
        "--kubeconfig",
        admin.as_str(),
    ];
    let out = kubewhy(&[&["rbac", "diff"][..], &nobody[..]].concat());
    let shown = text(&out);
    assert_eq!(out.status.code(), Some(1), "{shown}");
    let server = env().server().trim_end_matches('/').to_string();
    insta::assert_snapshot!(
        "rbac_diff_nothing_granted",
        shown.replace(&server, "https://127.0.0.1:<port>")
    );
}
