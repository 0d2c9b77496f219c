//! Issue 20: the diagnosis where people look. A Document failing for RBAC (its finalizer's patch denied), for a
//! missing ConfigMap permission, for an admission webhook's denial and for a conflict (a ConfigMap of its name owned
//! by someone else) shows in `kubectl describe document` the class as the `Ready` condition's reason and kubewhy's
//! one-line diagnosis — what failed, why, what to do, and the request — as its message, and a Warning event says
//! the same. `kubewhy explain` reads each back, from `kubectl describe`, `kubectl get events` and `-o yaml`, to the
//! same class and request. Each test prints the real output it checked.

use std::time::Duration;

use doc_controller::document::READY;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ObjectMeta, PostParams};
use kubewhy::Class;
use kubewhy::rbac::{Permission, Verb};

use crate::harness::*;
use crate::never_silent::*;
use crate::webhook::DenyingWebhook;

/// What a case expects the Document to show and `kubewhy explain` to read back.
struct Expected<'a> {
    class: Class,
    /// The condition's and the event's reason.
    reason: &'a str,
    /// Words of the one-line diagnosis's summary.
    summary: &'a str,
    /// The request that failed (verb, resource, the object's name), when one did.
    request: Option<(&'a str, &'a str, &'a str)>,
    /// The user the failure names, when it names one.
    user: Option<&'a str>,
}

/// Runs kubectl as admin and returns its standard output.
fn kubectl(args: &[&str]) -> String {
    let (ok, out, err) = kubewhy_testenv::shared()
        .kubectl(args)
        .expect("running kubectl");
    assert!(ok, "kubectl {args:?}: {out}{err}");
    out
}

/// Waits until the Document shows the failure, then checks `kubectl describe`, `kubectl get events` and `-o yaml`
/// (printing them) and what `kubewhy explain` reads back from each.
async fn shows(admin: &kube::Client, ns: &str, name: &str, want: Expected<'_>) {
    let doc = wait_doc(
        admin,
        ns,
        name,
        &format!("Ready=False with reason {}", want.reason),
        Duration::from_secs(60),
        |d| {
            d.condition(READY)
                .is_some_and(|c| c.status == "False" && c.reason == want.reason)
        },
    )
    .await;
    let ready = doc.condition(READY).expect("the Ready condition");
    let line = format!("error[{}]: ", want.class);
    assert!(
        ready.message.starts_with(&line) && ready.message.contains(want.summary),
        "{}",
        ready.message
    );
    assert!(ready.message.contains("; help: "), "{}", ready.message);
    assert!(ready.message.contains("; cause: "), "{}", ready.message);
    let event = eventually("the Warning event", Duration::from_secs(30), || async {
        events(admin, ns, name, want.reason)
            .await
            .into_iter()
            .next()
    })
    .await;
    assert_eq!(event.type_.as_deref(), Some("Warning"));
    let note = event
        .note
        .clone()
        .expect("the Warning event carries a note");
    assert!(note.starts_with(&line) && note.len() <= 1024, "{note}");

    let describe = kubectl(&["describe", "document", name, "-n", ns]);
    let get_events = kubectl(&[
        "get",
        "events",
        "-n",
        ns,
        "--field-selector",
        &format!("involvedObject.name={name},type=Warning"),
    ]);
    let yaml = kubectl(&["get", "document", name, "-n", ns, "-o", "yaml"]);
    println!("$ kubectl describe document {name} -n {ns}\n{describe}");
    println!(
        "$ kubectl get events -n {ns} --field-selector involvedObject.name={name},type=Warning\n{get_events}"
    );
    println!("$ kubectl get document {name} -n {ns} -o yaml\n{yaml}");
    let reason_line = describe
        .lines()
        .any(|l| l.trim_start().starts_with("Reason:") && l.trim_end().ends_with(want.reason));
    assert!(reason_line, "the condition's reason in:\n{describe}");
    assert!(
        describe
            .lines()
            .any(|l| l.trim_start().starts_with("Message:") && l.contains(&line)),
        "the one-line diagnosis in:\n{describe}"
    );
    assert!(
        describe.lines().any(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words.starts_with(&["Warning", want.reason])
        }),
        "the Warning event in:\n{describe}"
    );

    // `kubewhy explain` reads the text back to the same class and request.
    for (form, text) in [
        ("kubectl describe", &describe),
        ("kubectl get events", &get_events),
        ("-o yaml", &yaml),
    ] {
        let back = kubewhy::diagnose_text(text)
            .unwrap_or_else(|| panic!("explain read nothing from {form}:\n{text}"));
        assert_eq!(back.class, want.class, "{form}:\n{text}");
        if let Some((verb, resource, object)) = want.request {
            let r = &back.request;
            assert_eq!(
                (
                    r.verb.as_deref(),
                    r.resource.as_deref(),
                    r.namespace.as_deref(),
                    r.name.as_deref()
                ),
                (Some(verb), Some(resource), Some(ns), Some(object)),
                "{form}:\n{text}"
            );
        }
        if let Some(user) = want.user {
            assert_eq!(back.user.as_deref(), Some(user), "{form}:\n{text}");
        }
    }
}

/// doc-controller for `ns` as a fresh ServiceAccount of it, granted its needs except what `deny` picks (its
/// preflight only warns); the ServiceAccount's user name.
async fn partly_granted(
    name: &str,
    ns: &str,
    deny: impl Fn(&Permission) -> bool,
) -> (Controller, String) {
    let cp = kubewhy_testenv::shared();
    let (kubeconfig, user) = service_account_kubeconfig(cp, ns, "ctl").await;
    grant(cp, ns, "ctl", deny);
    let controller = Controller::start(
        name,
        &kubeconfig,
        &["--namespace", ns, "--preflight", "warn"],
    );
    (controller, user)
}

/// RBAC: `patch` on Documents revoked, so the finalizer cannot be added (the status can still be written).
#[tokio::test]
async fn a_document_denied_by_rbac_says_so_in_describe() {
    let (admin, ns) = setup("objrbac").await;
    let (_controller, user) =
        partly_granted("object-rbac", &ns, on("documents", Verb::Patch)).await;
    create(&admin, &ns, &document("denied", "Denied", false, false)).await;
    let want = Expected {
        class: Class::Forbidden,
        reason: "Forbidden",
        summary: "cannot `patch` `documents.kube.rs`",
        request: Some(("patch", "documents", "denied")),
        user: Some(&user),
    };
    shows(&admin, &ns, "denied", want).await;
}

/// A missing ConfigMap permission: `create` and `patch` on ConfigMaps revoked, so a published Document cannot be.
#[tokio::test]
async fn a_document_missing_a_config_map_permission_says_so_in_describe() {
    let (admin, ns) = setup("objcm").await;
    let deny =
        |p: &Permission| on("configmaps", Verb::Create)(p) || on("configmaps", Verb::Patch)(p);
    let (_controller, user) = partly_granted("object-configmap", &ns, deny).await;
    create(&admin, &ns, &document("newdoc", "New", false, true)).await;
    let want = Expected {
        class: Class::Forbidden,
        reason: "Forbidden",
        summary: "cannot `patch` `configmaps`",
        request: Some(("patch", "configmaps", "newdoc")),
        user: Some(&user),
    };
    shows(&admin, &ns, "newdoc", want).await;
}

/// An admission webhook denies the ConfigMap a published Document needs.
#[tokio::test]
async fn a_document_denied_by_a_webhook_says_so_in_describe() {
    let (admin, ns) = setup("objhook").await;
    let cp = kubewhy_testenv::shared();
    let webhook = DenyingWebhook::start(
        &admin,
        &cp.state().dir,
        &format!("deny-configmaps.{ns}.kubewhy.test"),
        &ns,
        &["configmaps"],
        "ConfigMaps in this namespace need the approval of the platform team",
    )
    .await;
    let _controller = Controller::start("object-webhook", cp.kubeconfig(), &["--namespace", &ns]);
    create(&admin, &ns, &document("hooked", "Hooked", false, true)).await;
    let shown = shows(
        &admin,
        &ns,
        "hooked",
        Expected {
            class: Class::AdmissionDenied,
            reason: "AdmissionDenied",
            summary: "deny-configmaps",
            request: Some(("patch", "configmaps", "hooked")),
            user: None,
        },
    );
    shown.await;
    webhook.remove(&admin).await;
}

/// A conflict: a ConfigMap of the Document's name exists and belongs to someone else.
#[tokio::test]
async fn a_document_in_conflict_with_a_foreign_config_map_says_so_in_describe() {
    let (admin, ns) = setup("objconflict").await;
    let cp = kubewhy_testenv::shared();
    Api::<ConfigMap>::namespaced(admin.clone(), &ns)
        .create(
            &PostParams::default(),
            &ConfigMap {
                metadata: ObjectMeta {
                    name: Some("clash".into()),
                    ..ObjectMeta::default()
                },
                ..ConfigMap::default()
            },
        )
        .await
        .expect("creating someone else's ConfigMap");
    let _controller = Controller::start("object-conflict", cp.kubeconfig(), &["--namespace", &ns]);
    create(&admin, &ns, &document("clash", "Clash", false, true)).await;
    shows(
        &admin,
        &ns,
        "clash",
        Expected {
            class: Class::Conflict,
            reason: "Conflict",
            summary: "is not owned by this Document",
            request: None,
            user: None,
        },
    )
    .await;
}
