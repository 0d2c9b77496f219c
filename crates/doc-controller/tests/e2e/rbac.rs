//! Running as its own ServiceAccount with exactly the RBAC in `deploy/`, the whole lifecycle passes.

use std::path::PathBuf;

use doc_controller::needs::{DEPLOY_NAMESPACE, NAME};

use crate::harness::*;
use crate::lifecycle::run_lifecycle;

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
}
