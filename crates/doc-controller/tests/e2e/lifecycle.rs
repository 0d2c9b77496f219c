//! The full lifecycle of a Document, and no status write on a no-op reconcile.

use std::time::Duration;

use doc_controller::Document;
use doc_controller::document::{PUBLISHED, READY};
use doc_controller::reconcile::{FINALIZER, MANAGED_BY};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use kubewhy_testenv::{ControlPlane, Options};

use crate::harness::*;

const T: Duration = Duration::from_secs(20);

/// create → Ready; hide → event + status; publish → ConfigMap created, edited ConfigMap repaired, deleted ConfigMap
/// recreated; unpublish → ConfigMap gone; delete → finalizer runs, event, object gone. Used by the RBAC test too.
pub async fn run_lifecycle(admin: &Client, ns: &str) {
    let name = "lifecycle";
    create(admin, ns, &document(name, "A lifecycle", false, false)).await;
    let doc = wait_doc(admin, ns, name, "Ready with the finalizer", T, |d| {
        d.is_ready() && d.finalizers().iter().any(|f| f == FINALIZER)
    })
    .await;
    let status = doc.status.clone().unwrap();
    assert!(!status.hidden);
    assert!(doc.condition(PUBLISHED).is_none(), "{status:?}");
    assert_eq!(status.published_config_map, None);

    // hide
    patch_spec(admin, ns, name, json!({ "hide": true })).await;
    wait_doc(admin, ns, name, "hidden", T, |d| {
        d.is_ready() && d.status.as_ref().unwrap().hidden
    })
    .await;
    let hide = wait_event(admin, ns, name, "HideRequested").await;
    assert_eq!(hide.type_.as_deref(), Some("Normal"));
    assert_eq!(hide.reporting_controller.as_deref(), Some("doc-controller"));

    // publish (and unhide)
    patch_spec(admin, ns, name, json!({ "hide": false, "publish": true })).await;
    let doc = wait_doc(admin, ns, name, "published", T, |d| {
        d.is_ready() && d.condition(PUBLISHED).is_some_and(|c| c.status == "True")
    })
    .await;
    assert!(!doc.status.as_ref().unwrap().hidden);
    assert_eq!(
        doc.status.as_ref().unwrap().published_config_map.as_deref(),
        Some(name)
    );
    let cm = wait_config_map(admin, ns, name, "published", |cm| cm.is_some())
        .await
        .unwrap();
    let data = cm.data.clone().unwrap();
    assert_eq!(data.get("title").map(String::as_str), Some("A lifecycle"));
    assert_eq!(
        data.get("content").map(String::as_str),
        Some("content of lifecycle")
    );
    assert_eq!(
        cm.labels().get(MANAGED_BY).map(String::as_str),
        Some("doc-controller")
    );
    let owner = &cm.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("Document", name)
    );
    assert_eq!(Some(owner.uid.as_str()), doc.metadata.uid.as_deref());
    assert_eq!(owner.controller, Some(true));

    // someone edits the ConfigMap: repaired
    let cms: Api<ConfigMap> = Api::namespaced(admin.clone(), ns);
    cms.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({ "data": { "title": "vandalised" } })),
    )
    .await
    .expect("editing the ConfigMap as admin");
    wait_config_map(admin, ns, name, "repaired", |cm| {
        cm.and_then(|c| c.data.as_ref()?.get("title").cloned())
            .as_deref()
            == Some("A lifecycle")
    })
    .await;

    // someone deletes the ConfigMap: recreated
    let old_uid = cms.get(name).await.unwrap().metadata.uid;
    cms.delete(name, &DeleteParams::default())
        .await
        .expect("deleting the ConfigMap as admin");
    wait_config_map(admin, ns, name, "recreated", |cm| {
        cm.is_some_and(|c| c.metadata.uid != old_uid)
    })
    .await;

    // a changed spec reaches the ConfigMap
    patch_spec(admin, ns, name, json!({ "title": "A new title" })).await;
    wait_config_map(admin, ns, name, "updated", |cm| {
        cm.and_then(|c| c.data.as_ref()?.get("title").cloned())
            .as_deref()
            == Some("A new title")
    })
    .await;

    // unpublish: the ConfigMap goes, the Published condition and the name too
    patch_spec(admin, ns, name, json!({ "publish": false })).await;
    wait_config_map(admin, ns, name, "removed", |cm| cm.is_none()).await;
    let doc = wait_doc(admin, ns, name, "unpublished", T, |d| d.is_ready()).await;
    assert!(doc.condition(PUBLISHED).is_none(), "{:?}", doc.status);
    assert_eq!(doc.status.as_ref().unwrap().published_config_map, None);

    // delete: the finalizer runs, an event, the object is gone
    patch_spec(admin, ns, name, json!({ "publish": true })).await;
    wait_config_map(admin, ns, name, "published again", |cm| cm.is_some()).await;
    let docs: Api<Document> = Api::namespaced(admin.clone(), ns);
    docs.delete(name, &DeleteParams::default())
        .await
        .expect("deleting the Document");
    eventually("the Document to be gone", T, || async {
        docs.get_opt(name).await.ok()?.is_none().then_some(())
    })
    .await;
    let deleted = wait_event(admin, ns, name, "DeleteRequested").await;
    assert_eq!(deleted.type_.as_deref(), Some("Normal"));
    // No garbage collector runs here: the ConfigMap is gone because the controller removed it.
    wait_config_map(admin, ns, name, "removed on deletion", |cm| cm.is_none()).await;
}

#[tokio::test]
async fn full_lifecycle() {
    let (admin, ns) = setup("lifecycle").await;
    let env = kubewhy_testenv::shared();
    let controller = Controller::start("controller", env.kubeconfig(), &["--namespace", &ns]);
    run_lifecycle(&admin, &ns).await;
    assert!(
        controller
            .metric("doc_controller_reconciles_total{result=\"success\"}")
            .await
            >= 5.0
    );
    assert_eq!(
        controller
            .metric("doc_controller_reconciles_total{result=\"error\"}")
            .await,
        0.0
    );
    let ready = controller.wait_ready().await;
    assert!(ready.contains("ok   caches: synced"), "{ready}");
}

#[tokio::test]
async fn no_request_on_a_noop_reconcile_or_a_restart() {
    // A control plane of its own, so that the API server's request counters see this controller only.
    let cp = tokio::task::spawn_blocking(|| ControlPlane::start(Options::default()))
        .await
        .unwrap()
        .expect("starting a private control plane");
    let (admin, ns) = setup_on(&cp, "noop").await;
    let controller = Controller::start(
        "controller",
        cp.kubeconfig(),
        &["--namespace", &ns, "--resync", "300ms"],
    );
    create(&admin, &ns, &document("steady", "Steady", false, true)).await;
    wait_doc(&admin, &ns, "steady", "Ready and published", T, |d| {
        d.is_ready() && d.condition(PUBLISHED).is_some()
    })
    .await;
    let docs: Api<Document> = Api::namespaced(admin.clone(), &ns);
    let cms: Api<ConfigMap> = Api::namespaced(admin.clone(), &ns);
    let (doc_before, cm_before) = (
        docs.get("steady").await.unwrap(),
        cms.get("steady").await.unwrap(),
    );

    let watched = ["documents", "configmaps", "events"];
    let requests_before = apiserver_requests(&admin, &watched).await;
    let success = "doc_controller_reconciles_total{result=\"success\"}";
    let start = controller.metric(success).await;
    eventually("5 more reconciles (forced resyncs)", T, || async {
        (controller.metric(success).await >= start + 5.0).then_some(())
    })
    .await;
    let requests_after = apiserver_requests(&admin, &watched).await;
    let (doc_after, cm_after) = (
        docs.get("steady").await.unwrap(),
        cms.get("steady").await.unwrap(),
    );

    assert_eq!(
        doc_after.resource_version(),
        doc_before.resource_version(),
        "a no-op reconcile changed the Document"
    );
    assert_eq!(
        cm_after.resource_version(),
        cm_before.resource_version(),
        "a no-op reconcile changed the ConfigMap"
    );
    // Stronger than an unchanged resourceVersion (a server-side apply of identical content changes nothing): no
    // request at all, not even a GET, reached the API server for these resources during the resyncs.
    assert_eq!(
        requests_after, requests_before,
        "no-op reconciles sent requests"
    );
    assert_eq!(doc_after.condition(READY).unwrap().status, "True");

    // A restart with everything up to date sends nothing either: the new process lists, reconciles every
    // Document from its caches and finds nothing to do.
    drop(controller);
    let requests_after = apiserver_requests(&admin, &watched).await;
    let controller = Controller::start(
        "restarted",
        cp.kubeconfig(),
        &["--namespace", &ns, "--resync", "300ms"],
    );
    let ready = controller.wait_ready().await;
    assert!(ready.contains("ok   caches: synced"), "{ready}");
    eventually("2 reconciles after the restart", T, || async {
        (controller.metric(success).await >= 2.0).then_some(())
    })
    .await;
    assert_eq!(
        apiserver_requests(&admin, &watched).await,
        requests_after,
        "a restart with everything up to date sent requests"
    );
    assert_eq!(
        docs.get("steady").await.unwrap().resource_version(),
        doc_before.resource_version()
    );
}
