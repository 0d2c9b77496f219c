//! Running as its own ServiceAccount with exactly the RBAC in `deploy/`, the whole lifecycle passes.

use std::path::PathBuf;

use std::collections::BTreeSet;

use doc_controller::needs::{DEPLOY_NAMESPACE, NAME, needs_for};
use kubewhy::needs::Needs;
use kubewhy::rbac::{Permission, Verb};

use crate::harness::*;
use crate::lifecycle::run_lifecycle;

const T: std::time::Duration = std::time::Duration::from_secs(20);

fn deploy(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(file)
}

#[tokio::test]
async fn the_lifecycle_passes_as_the_service_account_with_the_shipped_rbac() {
    let (admin, ns) = setup("rbac").await;
    let env = kubewhy_testenv::shared();
    for file in ["serviceaccount.yaml", "rbac.yaml"] {
        let path = deploy(file);
        let (ok, out, err) = env
            .kubectl(&[
                "apply",
                "--server-side",
                "--field-manager",
                "doc-controller-tests",
                "-f",
                path.to_str().unwrap(),
            ])
            .expect("running kubectl");
        assert!(ok, "kubectl apply -f {}: {out}{err}", path.display());
    }
    let sa = env
        .service_account(DEPLOY_NAMESPACE, NAME)
        .await
        .expect("a token for the ServiceAccount");
    assert_eq!(
        sa.identity.user,
        format!("system:serviceaccount:{DEPLOY_NAMESPACE}:{NAME}")
    );
    let kubeconfig = kubewhy_testenv::scratch_path("doc-controller-sa.kubeconfig");
    env.write_kubeconfig(&sa.identity, None, &kubeconfig)
        .expect("writing the kubeconfig");

    // Leader election in the shipped lease namespace, with a Lease of this test's own.
    let lease = format!("doc-controller-{ns}");
    let controller = Controller::start(
        "controller-as-sa",
        &kubeconfig,
        &[
            "--namespace",
            &ns,
            "--leader-elect",
            "--lease-namespace",
            DEPLOY_NAMESPACE,
            "--lease-name",
            &lease,
        ],
    );
    run_lifecycle(&admin, &ns).await;
    let errors = controller
        .metric("doc_controller_reconciles_total{result=\"error\"}")
        .await;
    assert_eq!(errors, 0.0, "reconciles failed as the ServiceAccount");
    let denied: Vec<_> = controller
        .logs()
        .into_iter()
        .filter(|l| l.json.to_string().contains("forbidden"))
        .map(|l| l.json)
        .collect();
    assert!(
        denied.is_empty(),
        "the ServiceAccount was denied: {denied:#?}"
    );
    assert!(
        controller
            .wait_ready()
            .await
            .contains("leader (holds Lease doc-controller/")
    );

    // A repeated event is a PATCH of its series (events.k8s.io): hide a Document, show it, hide it again.
    let twice = "hidden-twice";
    create(&admin, &ns, &document(twice, "Twice", true, false)).await;
    for hide in [true, false, true] {
        patch_spec(&admin, &ns, twice, serde_json::json!({ "hide": hide })).await;
        wait_doc(&admin, &ns, twice, "hidden or shown", T, |d| {
            d.status.as_ref().is_some_and(|s| s.hidden == hide)
        })
        .await;
    }
    eventually("a HideRequested event with a series of 2", T, || async {
        events(&admin, &ns, twice, "HideRequested")
            .await
            .into_iter()
            .find(|e| e.series.as_ref().is_some_and(|s| s.count >= 2))
    })
    .await;

    // What the controller really used, recorded by the request inspector, against what doc-controller declares.
    let (code, yaml) = controller
        .get("/debug/rbac/needs.yaml")
        .await
        .expect("/debug/rbac/needs.yaml answers");
    assert_eq!(code, 200, "{yaml}");
    let used = Needs::from_yaml(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    let declared = needs_for(Some(&ns), Some(DEPLOY_NAMESPACE));
    let show = |p: &Permission| format!("{} {:?} in {:?}", p.verb, p.target, p.namespace);
    let used: BTreeSet<String> = used.permissions().iter().map(show).collect();
    // Checked by the API server on the controller's behalf, in a request about something else, so no client sees
    // it: `OwnerReferencesPermissionEnforcement` (an admission plugin the local control plane does not enable)
    // lets only who may update a Document's finalizers write a ConfigMap whose ownerReference blocks deletion.
    let on_its_behalf =
        Permission::resource("kube.rs", "documents/finalizers", Verb::Update, Some(&ns));
    let declared: BTreeSet<String> = declared
        .permissions()
        .iter()
        .filter(|p| **p != on_its_behalf)
        .map(show)
        .collect();
    assert_eq!(
        used.difference(&declared).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "used but not declared"
    );
    assert_eq!(
        declared.difference(&used).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "declared but never used"
    );
}
