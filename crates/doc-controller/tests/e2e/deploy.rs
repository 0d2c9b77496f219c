//! The files in `deploy/`: the generated ones are current, and the whole package and the samples are accepted by the
//! API server.

use std::path::PathBuf;

use doc_controller::Document;
use kube::api::Api;

use crate::harness::*;

fn deploy_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

#[test]
fn the_generated_files_in_deploy_are_current() {
    let stale = doc_controller::deploy::stale(&deploy_dir()).expect("generating the deploy files");
    assert!(
        stale.is_empty(),
        "stale generated files: {stale:?}\n  = help: run `cargo run -p doc-controller -- gen-deploy` and commit the result"
    );
    // The CLI prints the same RBAC, for both variants.
    for (args, file) in [
        (&["rbac"][..], "rbac.yaml"),
        (&["rbac", "--shards", "auto"][..], "sharded/rbac.yaml"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_doc-controller"))
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success());
        let rbac = std::fs::read_to_string(deploy_dir().join(file)).unwrap();
        assert!(
            rbac.ends_with(&String::from_utf8(out.stdout).unwrap()),
            "`doc-controller {}` differs from deploy/{file}",
            args.join(" ")
        );
    }
}

/// `kubectl apply -k <dir> --dry-run=server` (server-side): what the API server would create.
fn dry_run(env: &kubewhy_testenv::ControlPlane, dir: &std::path::Path) -> String {
    let (ok, out, err) = env
        .kubectl(&[
            "apply",
            "--server-side",
            "--force-conflicts",
            "--dry-run=server",
            "-k",
            dir.to_str().unwrap(),
        ])
        .unwrap();
    assert!(
        ok,
        "kubectl apply -k {} --dry-run=server: {out}{err}",
        dir.display()
    );
    out
}

#[tokio::test]
async fn the_package_and_the_samples_are_accepted_by_the_api_server() {
    let (admin, ns) = setup("deploy").await;
    let env = kubewhy_testenv::shared();
    let dir = deploy_dir();
    // The namespace must exist for a dry run of what goes into it.
    let serviceaccount = dir.join("serviceaccount.yaml");
    let (ok, out, err) = env
        .kubectl(&[
            "apply",
            "--server-side",
            "--field-manager",
            "doc-controller-tests",
            "-f",
            serviceaccount.to_str().unwrap(),
        ])
        .unwrap();
    assert!(ok, "{out}{err}");
    let out = dry_run(env, &dir);
    for kind in [
        "customresourcedefinition",
        "clusterrole",
        "clusterrolebinding",
        "role",
        "rolebinding",
        "deployment",
    ] {
        assert!(out.contains(kind), "{kind} missing from the package: {out}");
    }
    assert!(out.contains("deployment.apps/doc-controller"), "{out}");

    // The sharded variant: a StatefulSet, its headless Service, and Leases that can be listed.
    let sharded = dir.join("sharded");
    let out = dry_run(env, &sharded);
    for object in [
        "customresourcedefinition.apiextensions.k8s.io/documents.kube.rs",
        "statefulset.apps/doc-controller",
        "service/doc-controller",
        "role.rbac.authorization.k8s.io/doc-controller",
    ] {
        assert!(
            out.contains(object),
            "{object} missing from deploy/sharded/: {out}"
        );
    }
    let rbac = std::fs::read_to_string(sharded.join("rbac.yaml")).unwrap();
    assert!(
        rbac.contains("- list\n  - create\n  - update"),
        "the ring's Leases cannot be listed:\n{rbac}"
    );

    let samples = dir.join("samples");
    let (ok, out, err) = env
        .kubectl(&["apply", "-n", &ns, "-f", samples.to_str().unwrap()])
        .unwrap();
    assert!(ok, "kubectl apply -f deploy/samples/: {out}{err}");
    let docs = Api::<Document>::namespaced(admin, &ns)
        .list(&Default::default())
        .await
        .unwrap();
    let mut names: Vec<_> = docs
        .items
        .iter()
        .map(|d| d.metadata.name.clone().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["kubewhy", "lorem", "samuel"]);
    assert!(docs.items.iter().any(|d| d.spec.hide) && docs.items.iter().any(|d| d.spec.publish));
}
