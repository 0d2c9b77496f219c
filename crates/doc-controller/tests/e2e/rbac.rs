//! Running as its own ServiceAccount with exactly the RBAC in `deploy/`, the whole lifecycle passes, and what it
//! used is what it declares; the shipped RBAC grants exactly the declared needs.

use std::collections::BTreeSet;
use std::path::PathBuf;

use doc_controller::needs::{DEPLOY_NAMESPACE, NAME, needs, needs_for};
use kubewhy::needs::Needs;
use kubewhy::rbac::diff::{Finding, diff, granted_rules};
use kubewhy::rbac::{Identity, Permission, Verb, fetch, reviewed_rules};
use kubewhy_testenv::ServiceAccount;

use crate::harness::*;
use crate::lifecycle::run_lifecycle;

const T: std::time::Duration = std::time::Duration::from_secs(20);

fn deploy(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(file)
}

/// Applies the shipped ServiceAccount and RBAC as admin and returns the ServiceAccount, with a token.
async fn shipped_service_account(env: &kubewhy_testenv::ControlPlane) -> ServiceAccount {
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
    env.service_account(DEPLOY_NAMESPACE, NAME)
        .await
        .expect("a token for the ServiceAccount")
}

#[tokio::test]
async fn the_lifecycle_passes_as_the_service_account_with_the_shipped_rbac() {
    let (admin, ns) = setup("rbac").await;
    let env = kubewhy_testenv::shared();
    let sa = shipped_service_account(env).await;
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
    // Leader election renews the Lease (an update) every retry period: the record is read until it matches or 20 s
    // have passed.
    let declared = needs_for(Some(&ns), Some(DEPLOY_NAMESPACE));
    let show = |p: &Permission| format!("{} {:?} in {:?}", p.verb, p.target, p.namespace);
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
    let started = std::time::Instant::now();
    let (used, yaml) = loop {
        let (code, yaml) = controller
            .get("/debug/rbac/needs.yaml")
            .await
            .expect("/debug/rbac/needs.yaml answers");
        assert_eq!(code, 200, "{yaml}");
        let used = Needs::from_yaml(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        let used: BTreeSet<String> = used.permissions().iter().map(show).collect();
        if used == declared || started.elapsed() > T {
            break (used, yaml);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    println!(
        "recorded use matched the declared needs after {:.1}s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        used.difference(&declared).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "used but not declared; recorded:\n{yaml}"
    );
    assert_eq!(
        declared.difference(&used).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "declared but never used; recorded:\n{yaml}"
    );
}

/// Granted against needed for the shipped `deploy/`: nothing missing, nothing in excess, 100 % — read from the
/// RBAC objects, and from the ServiceAccount's own rules reviews (Kubernetes' defaults subtracted with a user who
/// has no bindings of its own); then a wildcard rule bound to the ServiceAccount shows up as excess in both.
#[tokio::test]
async fn the_shipped_rbac_grants_exactly_the_declared_needs() {
    let (admin, ns) = setup("rbac-diff").await;
    let env = kubewhy_testenv::shared();
    let sa = shipped_service_account(env).await;
    let who = Identity::new(
        sa.identity.user.clone(),
        [
            "system:serviceaccounts".to_string(),
            format!("system:serviceaccounts:{DEPLOY_NAMESPACE}"),
            "system:authenticated".to_string(),
        ],
    );
    // The same groups as the ServiceAccount but no bindings of its own: what it holds, every ServiceAccount holds.
    let bare = env
        .service_account(&ns, "bare")
        .await
        .expect("a ServiceAccount without bindings")
        .client;
    let needed = needs().permissions();
    let namespaces = [DEPLOY_NAMESPACE.to_string()];

    let objects = fetch(&admin).await.expect("reading RBAC as admin");
    let by_objects = diff(&needed, &granted_rules(&who, &objects));
    let reviewed = reviewed_rules(&sa.client, &namespaces, Some(&bare))
        .await
        .expect("rules reviews as the ServiceAccount");
    assert!(reviewed.incomplete.is_empty(), "{:?}", reviewed.incomplete);
    let by_reviews = diff(&needed, &reviewed.rules);
    for (source, d) in [("objects", &by_objects), ("reviews", &by_reviews)] {
        assert!(d.missing.is_empty(), "{source}: missing {:#?}", d.missing);
        assert!(d.excess.is_empty(), "{source}: excess {:#?}", d.excess);
        assert_eq!(d.score(), 1.0, "{source}: {} of {}", d.used, d.granted);
        println!(
            "{source}: {} of {} granted permissions used",
            d.used, d.granted
        );
    }

    // One wildcard rule more, bound to the ServiceAccount.
    let extra = format!("{NAME}-extra-{}", std::process::id());
    let manifest = format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {{name: {extra}}}\n\
         rules: [{{apiGroups: [kube.rs], resources: ['*'], verbs: [get, list]}}]\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {{name: {extra}}}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {extra}}}\n\
         subjects: [{{kind: ServiceAccount, name: {NAME}, namespace: {DEPLOY_NAMESPACE}}}]\n"
    );
    let (ok, out, err) = env
        .kubectl_with(env.kubeconfig(), &["apply", "-f", "-"], Some(&manifest))
        .expect("running kubectl");
    assert!(ok, "{out}{err}");
    let objects = fetch(&admin).await.expect("reading RBAC as admin");
    let by_objects = diff(&needed, &granted_rules(&who, &objects));
    let by_reviews = eventually("the rules review to show the wildcard", T, || async {
        let reviewed = reviewed_rules(&sa.client, &namespaces, Some(&bare))
            .await
            .ok()?;
        let d = diff(&needed, &reviewed.rules);
        (!d.excess.is_empty()).then_some(d)
    })
    .await;
    for (source, d) in [("objects", &by_objects), ("reviews", &by_reviews)] {
        assert!(d.missing.is_empty(), "{source}: missing {:#?}", d.missing);
        let findings: Vec<&Finding> = d.excess.iter().flat_map(|e| &e.findings).collect();
        assert!(
            findings.contains(&&Finding::Wildcard {
                field: "resources".into()
            }),
            "{source}: {findings:?}"
        );
        assert!(d.score() < 1.0, "{source}: {}", d.score());
    }
    let (ok, out, err) = env
        .kubectl(&["delete", "clusterrole,clusterrolebinding", &extra])
        .expect("running kubectl");
    assert!(ok, "{out}{err}");
}
