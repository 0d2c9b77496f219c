//! End to end on the real API server (v1.36.3): the Kubernetes 1.33–1.36 behaviours of issue 10, each produced for
//! real and diagnosed as a value and as the text a program logs:
//! - a ValidatingAdmissionPolicy whose validation says `reason: Forbidden`: a 403 that is not RBAC;
//! - impersonation denied: the constrained verbs (`impersonate-on:user-info:list`, `impersonate:user-info`) that
//!   the `ConstrainedImpersonation` gate checks first (beta and on by default since 1.36: apiserver
//!   `pkg/features/kube_features.go`), and the plain `impersonate` verb of a server with the gate off; each
//!   remedy, applied, lets the impersonation through;
//! - a streaming list (`sendInitialEvents=true`) against a server whose `WatchList` gate is off: 422, logged by
//!   kube_runtime at DEBUG and by the program at ERROR, read as one failure;
//! - 429 `storage is (re)initializing` while a watch cache initialises after an API server restart (same data,
//!   same port);
//! - a cache older than the program's own last write (KEP-5647's stale read): acting on it fails (a JSON patch's
//!   `test`: 422), `kubewhy::stale` says to wait until the watch brings the write, after which the same step passes.
//!
//! The policy and the constrained impersonation run on the shared control plane (1.36's defaults); the others
//! share one control plane of their own (`--feature-gates=ConstrainedImpersonation=false,WatchList=false`) in one
//! test, in order, the restart last.

mod common;

use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, ObjectMeta, PostParams,
    WatchEvent, WatchParams,
};
use kube::core::Status;
use kube::runtime::watcher;
use kubewhy::cause::{Admitter, Cause};
use kubewhy::scan::Scanner;
use kubewhy::{Class, Diagnosis, Phase, diagnose, diagnose_text, diagnose_watcher};
use kubewhy_testenv::{ControlPlane, Options};

/// Applies a manifest with kubectl as the control plane's admin.
fn apply(env: &ControlPlane, yaml: &str) {
    let (ok, out, err) = env
        .kubectl_with(env.kubeconfig(), &["apply", "-f", "-"], Some(yaml))
        .expect("running kubectl");
    assert!(ok, "kubectl apply failed: {err}\n{out}\n---\n{yaml}");
}

/// The diagnosis of an API error, checked against the diagnoses of the two texts a program logs for it
/// (`{err:?}` and `{err}`): the class, code, cause kind, subject and verb agree.
fn diagnosed(err: &kube::Error) -> Diagnosis {
    let value = diagnose(err);
    for text in [format!("{err:?}"), format!("{err}")] {
        let read = diagnose_text(&text).unwrap_or_else(|| panic!("nothing found in {text:?}"));
        assert_eq!(
            (read.class, read.code, read.cause.kind()),
            (value.class, value.code, value.cause.kind()),
            "{text}"
        );
        assert_eq!(read.user, value.user, "{text}");
        assert_eq!(read.request.verb, value.request.verb, "{text}");
    }
    value
}

/// Runs `attempt` until it fails with an error that `done` accepts (a grant or a policy takes a moment to reach
/// the API server's caches); returns that error.
async fn until_error<T, F, Fut>(
    what: &str,
    mut attempt: F,
    done: impl Fn(&kube::Error) -> bool,
) -> kube::Error
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, kube::Error>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let last = match attempt().await {
            Err(e) if done(&e) => return e,
            Err(e) => e.to_string(),
            Ok(_) => "it succeeded".to_string(),
        };
        assert!(
            Instant::now() < deadline,
            "{what}: still not the expected failure after 30 s; last: {last}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn status_of(err: &kube::Error) -> Option<&Status> {
    match err {
        kube::Error::Api(s) => Some(s),
        _ => None,
    }
}

fn names_user(err: &kube::Error, user: &str) -> bool {
    status_of(err).is_some_and(|s| s.message.contains(&format!("User \"{user}\"")))
}

/// A client acting as `identity` while impersonating the user `as_user`.
async fn impersonating(
    env: &ControlPlane,
    identity: &kubewhy_testenv::Identity,
    as_user: &str,
) -> kube::Client {
    let mut config = env.config_for(identity).await.expect("a client config");
    config.auth_info.impersonate = Some(as_user.to_string());
    kube::Client::try_from(config).expect("a client")
}

/// The JSON patch a controller sends to add its finalizer, testing the list it read (kube-rs's finalizer protocol).
fn add_finalizer(read: &ConfigMap, finalizer: &str) -> kube::api::Patch<()> {
    let current = read.metadata.finalizers.clone().unwrap_or_default();
    let ops = if current.is_empty() {
        serde_json::json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": [finalizer]},
        ])
    } else {
        serde_json::json!([
            {"op": "test", "path": "/metadata/finalizers", "value": current},
            {"op": "add", "path": "/metadata/finalizers/-", "value": finalizer},
        ])
    };
    kube::api::Patch::Json(serde_json::from_value(ops).expect("a JSON patch"))
}

/// KEP-5647 for kube-rs: a reflector whose watch has not delivered the program's own write yet is stale. Acting on
/// it fails for real (the patch tests the finalizers it read: 422); `kubewhy::stale::LastWrites` says so and which
/// versions, until the watch event brings the write — then the same step, built from the cache, passes.
#[tokio::test]
async fn a_cache_older_than_the_last_write_is_waited_out_not_acted_on() {
    use kube::runtime::reflector::{ObjectRef, store::Writer};
    use kubewhy::stale::{Check, LastWrites};

    let env = kubewhy_testenv::shared();
    let ns = env.namespace("w136stale").await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(env.admin().await.unwrap(), &ns);
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("guarded".into()),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    };
    cms.create(&PostParams::default(), &cm).await.unwrap();
    // A reflector fed by hand: the test decides when the cache receives what the watch brings.
    let mut writer = Writer::<ConfigMap>::default();
    let store = writer.as_reader();
    let mut events = watcher(cms.clone(), watcher::Config::default()).boxed();
    while let Some(event) = events.next().await {
        let event = event.expect("the watch");
        writer.apply_watcher_event(&event);
        if matches!(event, watcher::Event::InitDone) {
            break;
        }
    }
    let key = ObjectRef::<ConfigMap>::new("guarded").within(&ns);
    let before = store.get(&key).expect("cached");

    // The program's write, remembered.
    let writes = LastWrites::<ConfigMap>::new();
    let written = cms
        .patch(
            "guarded",
            &Default::default(),
            &add_finalizer(&before, "kubewhy.test/a"),
        )
        .await
        .expect("the first write");
    writes.wrote(&written);
    let Check::Stale(stale) = writes.check(&store.get(&key).unwrap()) else {
        panic!("the cache still holds the version before the write");
    };
    assert_eq!(
        (
            stale.resource.as_str(),
            stale.read.as_str(),
            stale.written.as_str()
        ),
        (
            "configmaps",
            before.metadata.resource_version.as_deref().unwrap(),
            written.metadata.resource_version.as_deref().unwrap()
        )
    );
    // What the guard prevents: the next step built from the stale cache fails for real.
    let stale_step = cms
        .patch(
            "guarded",
            &Default::default(),
            &add_finalizer(&store.get(&key).unwrap(), "kubewhy.test/b"),
        )
        .await
        .expect_err("a step acting on the stale cache");
    let d = diagnose(&stale_step);
    assert_eq!((d.code, d.class), (Some(422), Class::Conflict), "{d:#}");
    assert!(matches!(d.cause, Cause::StalePatch { .. }), "{d:#}");

    // The watch brings the write: the skipped object goes again, and the same step, from the cache, passes.
    let mut caught_up = false;
    while !caught_up {
        let event = tokio::time::timeout(Duration::from_secs(30), events.next())
            .await
            .expect("the watch brings the write")
            .expect("a watch event")
            .expect("the watch");
        if let watcher::Event::Apply(obj) = &event {
            caught_up = writes.observed(obj);
        }
        writer.apply_watcher_event(&event);
    }
    let fresh = store.get(&key).unwrap();
    assert_eq!(writes.check(&fresh), Check::Fresh);
    cms.patch(
        "guarded",
        &Default::default(),
        &add_finalizer(&fresh, "kubewhy.test/b"),
    )
    .await
    .expect("the step from a cache that caught up");
    // Leave nothing holding the namespace's deletion.
    cms.patch(
        "guarded",
        &Default::default(),
        &kube::api::Patch::Merge(serde_json::json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_policy_denial_with_reason_forbidden_is_a_403_that_is_not_rbac() {
    let env = kubewhy_testenv::shared();
    let ns = env.namespace("w136vap").await.unwrap();
    let name = format!("no-blocked.{ns}.kubewhy.test");
    apply(
        env,
        &format!(
            "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata: {{name: {name}}}\n\
             spec:\n  failurePolicy: Fail\n  matchConstraints:\n    resourceRules:\n    - {{apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}}\n\
             \x20 validations:\n  - expression: \"!has(object.metadata.labels) || !('blocked' in object.metadata.labels)\"\n    \
             message: configmaps labelled blocked are not allowed\n    reason: Forbidden\n\
             ---\napiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\nmetadata: {{name: {name}-binding}}\n\
             spec:\n  policyName: {name}\n  validationActions: [Deny]\n  matchResources:\n    namespaceSelector:\n      matchLabels: {{kubernetes.io/metadata.name: {ns}}}\n"
        ),
    );
    let cms: Api<ConfigMap> = Api::namespaced(env.admin().await.unwrap(), &ns);
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("blocked".into()),
            labels: Some([("blocked".to_string(), "yes".to_string())].into()),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    };
    // Policies are loaded asynchronously: an early create passes and is undone.
    let err = until_error(
        "creating a configmap the policy forbids",
        || async {
            let created = cms.create(&PostParams::default(), &cm).await;
            if created.is_ok() {
                cms.delete("blocked", &Default::default()).await.map(|_| ())
            } else {
                created.map(|_| ())
            }
        },
        |e| status_of(e).is_some_and(|s| s.message.contains("ValidatingAdmissionPolicy")),
    )
    .await;
    let status = status_of(&err).unwrap();
    assert_eq!((status.code, status.reason.as_str()), (403, "Forbidden"));

    let d = diagnosed(&err);
    assert_eq!(d.class, Class::AdmissionDenied, "{d:#?}");
    assert_eq!(d.code, Some(403));
    let Cause::Admission { by, detail } = &d.cause else {
        panic!("{:?}", d.cause)
    };
    assert_eq!(
        by,
        &Admitter::Policy {
            name: name.clone(),
            binding: format!("{name}-binding"),
        }
    );
    assert!(
        detail
            .as_deref()
            .is_some_and(|t| t.contains("labelled blocked")),
        "{detail:?}"
    );
    assert_eq!(d.request.resource.as_deref(), Some("configmaps"));
    assert_eq!(d.request.name.as_deref(), Some("blocked"));
    // No RBAC grant lifts a policy's denial.
    assert_eq!(d.remedy().yaml, None);
}

#[tokio::test]
async fn constrained_impersonation_denials_are_named_and_their_grants_let_it_through() {
    constrained_impersonation(kubewhy_testenv::shared()).await;
}

const DOCUMENT_CRD: &str = r#"{
  "apiVersion": "apiextensions.k8s.io/v1",
  "kind": "CustomResourceDefinition",
  "metadata": {"name": "documents.kube.rs"},
  "spec": {
    "group": "kube.rs",
    "names": {"kind": "Document", "plural": "documents", "singular": "document"},
    "scope": "Namespaced",
    "versions": [{"name": "v1", "served": true, "storage": true,
      "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]
  }
}"#;

/// How many Documents the restarted API server's watch cache has to load.
const DOCUMENTS: usize = 200;

#[tokio::test]
async fn gated_and_restarted_api_servers_fail_as_kubernetes_1_36_does() {
    let log = common::capture("kube_runtime=debug");
    let dir = tempfile::tempdir().expect("a state directory");
    let options = Options {
        dir: Some(dir.path().to_path_buf()),
        apiserver_args: vec![
            "--feature-gates=ConstrainedImpersonation=false,WatchList=false".into(),
        ],
        ..Options::default()
    };
    let mut cp = ControlPlane::start(options.clone()).expect("a gated control plane");
    let started = cp.ready_after();

    plain_impersonation(&cp).await;
    watch_list_disabled(&cp, log).await;
    let port: u16 = cp
        .server()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("the server's port");
    install_documents(&cp).await;

    // Restart on the same data and port: the first watch of Documents meets a watch cache still loading them.
    let status = cp.stop().expect("the control plane was running");
    assert!(status.success(), "clean shutdown expected, got {status}");
    let cp = ControlPlane::start(Options { port, ..options }).expect("the restarted control plane");
    eprintln!(
        "control plane ready after {started:?}, again after the restart in {:?}",
        cp.ready_after()
    );
    storage_reinitializing(&cp).await;
}

/// A server without constrained impersonation checks the `impersonate` verb on the identity.
async fn plain_impersonation(env: &ControlPlane) {
    let ns = env.namespace("w136imp").await.unwrap();
    let sa = env.service_account(&ns, "impersonator").await.unwrap();
    let target = format!("w136-target-{ns}");
    let cms: Api<ConfigMap> = Api::namespaced(impersonating(env, &sa.identity, &target).await, &ns);

    let err = match cms.list(&ListParams::default()).await {
        Err(e) => e,
        Ok(_) => panic!("an impersonation nobody granted went through"),
    };
    let d = diagnosed(&err);
    assert_eq!(d.class, Class::Forbidden, "{d:#?}");
    assert_eq!(d.user.as_deref(), Some(sa.identity.user.as_str()));
    let r = &d.request;
    assert_eq!(
        (
            r.verb.as_deref(),
            r.resource.as_deref(),
            r.group.as_deref(),
            r.name.as_deref()
        ),
        (
            Some("impersonate"),
            Some("users"),
            Some(""),
            Some(target.as_str())
        )
    );
    assert!(matches!(&d.cause, Cause::Denied(_)), "{:?}", d.cause);

    // The remedy, applied, lets the impersonation through: the next denial is the impersonated user's own.
    let yaml = d.remedy().yaml.clone().expect("a denial carries RBAC");
    apply(env, &yaml);
    let err = until_error(
        "listing configmaps as the impersonated user",
        || async { cms.list(&ListParams::default()).await },
        |e| names_user(e, &target),
    )
    .await;
    let d = diagnose(&err);
    assert_eq!(
        (d.user.as_deref(), d.request.verb.as_deref()),
        (Some(target.as_str()), Some("list"))
    );
}

/// `impersonate-on:user-info:list` (the action on the target) and `impersonate:user-info` (whom), each denied
/// alone; the first remedy grants both.
async fn constrained_impersonation(cp: &ControlPlane) {
    let ns = cp.namespace("w136ci").await.unwrap();
    let target = "w136-target";

    let sa = cp.service_account(&ns, "impersonator").await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(impersonating(cp, &sa.identity, target).await, &ns);
    let err = match cms.list(&ListParams::default()).await {
        Err(e) => e,
        Ok(_) => panic!("a constrained impersonation nobody granted went through"),
    };
    let d = diagnosed(&err);
    assert_eq!(d.class, Class::Forbidden, "{d:#?}");
    assert_eq!(d.user.as_deref(), Some(sa.identity.user.as_str()));
    let r = &d.request;
    assert_eq!(
        (
            r.verb.as_deref(),
            r.resource.as_deref(),
            r.namespace.as_deref()
        ),
        (
            Some("impersonate-on:user-info:list"),
            Some("configmaps"),
            Some(ns.as_str())
        )
    );
    let yaml = d.remedy().yaml.clone().expect("a denial carries RBAC");
    assert!(
        yaml.contains("impersonate-on:user-info:list") && yaml.contains("impersonate:user-info"),
        "{yaml}"
    );
    apply(cp, &yaml);
    let err = until_error(
        "listing configmaps as the impersonated user",
        || async { cms.list(&ListParams::default()).await },
        |e| names_user(e, target),
    )
    .await;
    assert_eq!(diagnose(&err).user.as_deref(), Some(target));

    // Only the action granted: the identity rule is what is missing.
    let half = cp.service_account(&ns, "half-impersonator").await.unwrap();
    apply(
        cp,
        &format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: act-as, namespace: {ns}}}\n\
             rules:\n- {{apiGroups: [''], resources: [configmaps], verbs: ['impersonate-on:user-info:list']}}\n\
             ---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: act-as, namespace: {ns}}}\n\
             roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: act-as}}\n\
             subjects:\n- {{kind: ServiceAccount, name: half-impersonator, namespace: {ns}}}\n"
        ),
    );
    let cms: Api<ConfigMap> = Api::namespaced(impersonating(cp, &half.identity, target).await, &ns);
    let err = until_error(
        "listing configmaps with only the action rule",
        || async { cms.list(&ListParams::default()).await },
        |e| status_of(e).is_some_and(|s| s.message.contains("impersonate:user-info")),
    )
    .await;
    let d = diagnosed(&err);
    let r = &d.request;
    assert_eq!(
        (
            r.verb.as_deref(),
            r.resource.as_deref(),
            r.group.as_deref(),
            r.name.as_deref()
        ),
        (
            Some("impersonate:user-info"),
            Some("users"),
            Some("authentication.k8s.io"),
            Some(target)
        ),
        "{d:#?}"
    );
}

/// A streaming list (kube-runtime's `streaming_lists()`) where the WatchList gate is off: 422. kube_runtime's
/// DEBUG line and the program's own error line are one failure.
async fn watch_list_disabled(cp: &ControlPlane, log: &'static common::Log) {
    let ns = cp.namespace("w136wl").await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(cp.admin().await.unwrap(), &ns);
    let mut stream = watcher(cms, watcher::Config::default().streaming_lists()).boxed();
    let err = match stream.next().await {
        Some(Err(e)) => e,
        other => panic!("expected the streaming list to fail, got {other:?}"),
    };
    let d = diagnose_watcher(&err);
    assert_eq!(d.class, Class::InvalidRequest, "{d:#?}");
    assert_eq!(d.cause, Cause::WatchListDisabled);
    assert_eq!(d.code, Some(422));
    assert_eq!(d.phase, Some(Phase::WatchStart));
    assert_eq!(d.request.verb.as_deref(), Some("watch"));

    let logged = log.lines_with("watch initlist error");
    assert!(
        !logged.is_empty(),
        "kube_runtime logged nothing: {}",
        log.text()
    );
    let text = format!(
        "{}\n2026-07-01T10:00:00.000Z ERROR doc_controller: watcher failed: {err}\n",
        logged.join("\n")
    );
    let mut scanner = Scanner::new();
    scanner.read("log", text.as_bytes()).unwrap();
    let found: Vec<_> = scanner
        .findings()
        .iter()
        .map(|f| (f.diagnosis.cause.kind(), f.count))
        .collect();
    assert_eq!(found, vec![("watch-list-disabled", 1)], "{text}");
}

async fn install_documents(cp: &ControlPlane) {
    let admin = cp.admin().await.unwrap();
    let crd: CustomResourceDefinition = serde_json::from_str(DOCUMENT_CRD).unwrap();
    Api::<CustomResourceDefinition>::all(admin.clone())
        .create(&PostParams::default(), &crd)
        .await
        .expect("creating the Document CRD");
    kubewhy_testenv::crd::wait_established(&admin, "documents.kube.rs", Duration::from_secs(60))
        .await
        .expect("the Document CRD established");
    let docs: Api<DynamicObject> = Api::namespaced_with(admin, "default", &documents());
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Err(e) = docs.list(&ListParams::default().limit(1)).await {
        assert!(
            Instant::now() < deadline,
            "Documents not served after 30 s: {e}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for i in 0..DOCUMENTS {
        let doc: DynamicObject = serde_json::from_value(serde_json::json!({
            "apiVersion": "kube.rs/v1", "kind": "Document",
            "metadata": {"name": format!("doc-{i}")},
            "spec": {"title": format!("document {i}")}
        }))
        .unwrap();
        docs.create(&PostParams::default(), &doc)
            .await
            .expect("creating a Document");
    }
}

fn documents() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("kube.rs", "v1", "Document"),
        "documents",
    )
}

/// The first watch of a custom resource after a restart creates its watch cache, which answers 429 with a
/// Retry-After until it has loaded (tens of milliseconds for a few hundred objects); then the watch is served.
async fn storage_reinitializing(cp: &ControlPlane) {
    // kube 5 retries a 429 after its Retry-After on its own (up to 15 times): a program sees this 429 only once
    // those retries are spent. Without them, the first answer is the one to diagnose.
    let mut config = cp.config_for(&cp.admin_identity()).await.unwrap();
    config.default_retry = false;
    let client = kube::Client::try_from(config).unwrap();
    let docs: Api<DynamicObject> = Api::namespaced_with(client, "default", &documents());
    let since = Instant::now();
    let mut refused = None;
    let mut attempts = 0;
    let served = loop {
        attempts += 1;
        match docs.watch(&WatchParams::default().timeout(1), "0").await {
            Err(kube::Error::Api(s)) if s.code == 429 => {
                refused.get_or_insert(kube::Error::Api(s));
            }
            Err(e) => panic!("watching Documents after the restart: {e}"),
            Ok(stream) => {
                let mut stream = stream.boxed();
                match stream.next().await {
                    // The cache may also refuse inside the stream, as an ERROR event.
                    Some(Ok(WatchEvent::Error(s))) if s.code == 429 => {
                        refused.get_or_insert(kube::Error::Api(s.boxed()));
                    }
                    _ => break since.elapsed(),
                }
            }
        }
        assert!(
            since.elapsed() < Duration::from_secs(60),
            "the watch cache was still not ready after 60 s ({attempts} attempts)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let err = refused.unwrap_or_else(|| {
        panic!(
            "the first watch after the restart was served at once ({attempts} attempts, {served:?}): \
             no 429 to diagnose"
        )
    });
    eprintln!("429 `storage is (re)initializing` for {served:?} ({attempts} attempts)");
    let status = status_of(&err).unwrap();
    assert!(
        status.message.contains("storage is (re)initializing"),
        "{}",
        status.message
    );
    let d = diagnosed(&err);
    assert_eq!(d.class, Class::Throttled, "{d:#?}");
    let Cause::Reinitializing { retry_after } = d.cause else {
        panic!("{:?}", d.cause)
    };
    // The cacher's Retry-After grows with the downtime, from 1 s (apiserver `calculateRetryAfterForUnreadyCache`).
    let sent = status.details.as_ref().map(|x| x.retry_after_seconds);
    assert!(sent.is_some_and(|s| s >= 1), "no Retry-After: {status:?}");
    assert_eq!(retry_after, sent);
    assert!(d.is_transient());
}
