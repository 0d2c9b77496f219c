//! Proof that the local control plane is a real Kubernetes API server: CRDs, RBAC with ServiceAccount tokens,
//! genuine 401/403/404/422 answers, and a lifecycle that leaves nothing behind.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, ObjectMeta, PostParams,
};
use kube::core::Status;
use kubewhy_testenv::{ControlPlane, Identity, Options};
use serde_json::json;

/// The API error inside a kube error, or a panic that shows what came instead.
fn api_error<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> Box<Status> {
    match result {
        Err(kube::Error::Api(status)) => status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

const DOCUMENT_CRD: &str = r#"{
  "apiVersion": "apiextensions.k8s.io/v1",
  "kind": "CustomResourceDefinition",
  "metadata": {"name": "documents.kube.rs"},
  "spec": {
    "group": "kube.rs",
    "names": {"kind": "Document", "plural": "documents", "singular": "document", "shortNames": ["doc"]},
    "scope": "Namespaced",
    "versions": [{
      "name": "v1", "served": true, "storage": true,
      "subresources": {"status": {}},
      "schema": {"openAPIV3Schema": {"type": "object", "properties": {
        "spec": {"type": "object", "required": ["title"], "properties": {
          "title": {"type": "string"}, "content": {"type": "string"},
          "hide": {"type": "boolean"}, "publish": {"type": "boolean"}}},
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}}
    }]
  }
}"#;

/// Installs the Document CRD unless it is there (another test binary, e.g. doc-controller's, may own a richer
/// one) and waits until it is Established.
async fn ensure_document_crd(admin: kube::Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(admin.clone());
    if crds
        .get_opt("documents.kube.rs")
        .await
        .expect("reading CRDs as admin")
        .is_none()
    {
        let crd: CustomResourceDefinition = serde_json::from_str(DOCUMENT_CRD).unwrap();
        match crds.create(&PostParams::default(), &crd).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => panic!("installing the Document CRD: {e}"),
        }
    }
    kubewhy_testenv::crd::wait_established(&admin, "documents.kube.rs", Duration::from_secs(30))
        .await
        .unwrap();
}

fn documents_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("kube.rs", "v1", "Document"),
        "documents",
    )
}

#[tokio::test]
async fn version_is_the_stamped_kubernetes_release() {
    let env = kubewhy_testenv::shared();
    let info = env
        .admin()
        .await
        .unwrap()
        .apiserver_version()
        .await
        .unwrap();
    assert_eq!(
        info.git_version,
        kubewhy_testenv::binary::KUBERNETES_VERSION
    );
    assert_eq!((info.major.as_str(), info.minor.as_str()), ("1", "36"));
}

#[tokio::test]
async fn admin_installs_the_document_crd_and_creates_a_document() {
    let env = kubewhy_testenv::shared();
    let ns = env.namespace("crd").await.unwrap();
    let admin = env.admin().await.unwrap();
    ensure_document_crd(admin.clone()).await;

    let docs: Api<DynamicObject> = Api::namespaced_with(admin.clone(), &ns, &documents_resource());
    let mut doc = DynamicObject::new("hello", &documents_resource())
        .data(json!({"spec": {"title": "Hello"}}));
    doc.metadata.namespace = Some(ns.clone());
    // A just-Established CRD can take a moment to be served by the handler; retry 404 briefly.
    let deadline = Instant::now() + Duration::from_secs(10);
    let created = loop {
        match docs.create(&PostParams::default(), &doc).await {
            Ok(created) => break created,
            Err(kube::Error::Api(s)) if s.code == 404 && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("creating a Document: {e}"),
        }
    };
    assert_eq!(created.data["spec"]["title"], "Hello");
    let listed = docs.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert_eq!(listed.items[0].metadata.name.as_deref(), Some("hello"));
}

#[tokio::test]
async fn a_service_account_is_forbidden_until_a_role_binds_it() {
    let env = kubewhy_testenv::shared();
    let ns = env.namespace("rbac").await.unwrap();
    let sa = env.service_account(&ns, "doc-controller").await.unwrap();
    assert_eq!(
        sa.identity.user,
        format!("system:serviceaccount:{ns}:doc-controller")
    );

    let cms: Api<ConfigMap> = Api::namespaced(sa.client.clone(), &ns);
    let status = api_error(cms.list(&ListParams::default()).await);
    assert_eq!((status.code, status.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        status.message,
        format!(
            "configmaps is forbidden: User \"system:serviceaccount:{ns}:doc-controller\" cannot list resource \
             \"configmaps\" in API group \"\" in the namespace \"{ns}\""
        )
    );

    let admin = env.admin().await.unwrap();
    let role = Role {
        metadata: ObjectMeta {
            name: Some("read-configmaps".into()),
            ..ObjectMeta::default()
        },
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec!["".into()]),
            resources: Some(vec!["configmaps".into()]),
            verbs: vec!["list".into()],
            ..PolicyRule::default()
        }]),
    };
    Api::<Role>::namespaced(admin.clone(), &ns)
        .create(&PostParams::default(), &role)
        .await
        .unwrap();
    let binding = RoleBinding {
        metadata: ObjectMeta {
            name: Some("read-configmaps".into()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Role".into(),
            name: "read-configmaps".into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: "doc-controller".into(),
            namespace: Some(ns.clone()),
            api_group: None,
        }]),
    };
    Api::<RoleBinding>::namespaced(admin, &ns)
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();

    // The RBAC authorizer reads roles from an informer: the grant is visible within moments.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match cms.list(&ListParams::default()).await {
            Ok(list) => {
                assert!(list.items.is_empty());
                break;
            }
            Err(kube::Error::Api(s)) if s.code == 403 && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("listing after the RoleBinding: {e}"),
        }
    }
    // The grant is exactly `list`: `watch` is still denied.
    let status = api_error(cms.get("anything").await);
    assert_eq!(status.code, 403);
    assert!(
        status
            .message
            .contains("cannot get resource \"configmaps\""),
        "{}",
        status.message
    );
}

#[tokio::test]
async fn a_resource_type_that_is_not_installed_is_404() {
    let env = kubewhy_testenv::shared();
    let admin = env.admin().await.unwrap();

    // A group the server does not know: the apiserver's plain-text 404, which kube-rs cannot parse as a Status.
    let gadgets = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Gadget"),
        "gadgets",
    );
    let status = api_error(
        Api::<DynamicObject>::all_with(admin.clone(), &gadgets)
            .list(&ListParams::default())
            .await,
    );
    assert_eq!(status.code, 404);
    assert_eq!(status.reason, "Failed to parse error data");
    assert_eq!(status.message.trim(), "404 page not found");

    // A known group and version but a resource it does not serve (a misspelled plural): the same plain 404.
    ensure_document_crd(admin.clone()).await;
    let misspelled = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("kube.rs", "v1", "Document"),
        "documnets",
    );
    let status = api_error(
        Api::<DynamicObject>::all_with(admin.clone(), &misspelled)
            .list(&ListParams::default())
            .await,
    );
    assert_eq!(
        (status.code, status.reason.as_str()),
        (404, "Failed to parse error data")
    );
    assert_eq!(status.message.trim(), "404 page not found");

    // Only a missing object of a served type is a JSON NotFound Status.
    let ns = env.namespace("notfound").await.unwrap();
    let status = api_error(
        Api::<DynamicObject>::namespaced_with(admin, &ns, &documents_resource())
            .get("nope")
            .await,
    );
    assert_eq!((status.code, status.reason.as_str()), (404, "NotFound"));
    assert_eq!(status.message, "documents.kube.rs \"nope\" not found");
}

#[tokio::test]
async fn a_watch_with_resource_version_match_is_422_invalid() {
    let env = kubewhy_testenv::shared();
    let ns = env.namespace("watch422").await.unwrap();
    let admin = env.admin().await.unwrap();
    let request = http::Request::get(format!(
        "/api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion=0&resourceVersionMatch=NotOlderThan"
    ))
    .body(Vec::new())
    .unwrap();
    let status = api_error(admin.request::<serde_json::Value>(request).await);
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    assert!(
        status.message.contains(
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch"
        ),
        "{}",
        status.message
    );
}

#[tokio::test]
async fn an_unknown_token_is_401_unauthorized() {
    let env = kubewhy_testenv::shared();
    let stranger = Identity {
        user: "stranger".into(),
        token: "not-a-token-the-server-knows".into(),
    };
    let client = env.client_for(&stranger).await.unwrap();
    let status = api_error(
        Api::<ConfigMap>::namespaced(client, "default")
            .list(&ListParams::default())
            .await,
    );
    assert_eq!((status.code, status.reason.as_str()), (401, "Unauthorized"));
    assert_eq!(status.message, "Unauthorized");
}

#[tokio::test]
async fn a_static_token_user_is_authenticated_but_has_no_permissions() {
    let env = kubewhy_testenv::shared();
    let alice = env.user("alice").await.unwrap();
    let status = api_error(
        Api::<ConfigMap>::namespaced(alice, "default")
            .list(&ListParams::default())
            .await,
    );
    assert_eq!(status.code, 403);
    assert!(
        status.message.contains("User \"alice\" cannot list"),
        "{}",
        status.message
    );

    // kubectl sees the same server as the same user.
    let path = kubewhy_testenv::scratch_path("alice.kubeconfig");
    env.write_kubeconfig(&env.user_identity("alice").unwrap(), None, &path)
        .unwrap();
    let (ok, out, err) = env
        .kubectl_with(
            &path,
            &[
                "auth",
                "whoami",
                "-o",
                "jsonpath={.status.userInfo.username}",
            ],
            None,
        )
        .unwrap();
    assert!(ok, "kubectl auth whoami failed: {err}");
    assert_eq!(out, "alice");
}

/// A second control plane asked for a port that is taken picks another one, and stops cleanly (removing its
/// temporary state) as soon as its parent closes its standard input.
#[test]
fn a_taken_port_is_avoided_and_nothing_outlives_the_parent() {
    let first = kubewhy_testenv::shared();
    let taken: u16 = first.server().rsplit(':').next().unwrap().parse().unwrap();
    let mut second = ControlPlane::start(Options {
        port: taken,
        ..Options::default()
    })
    .unwrap();
    let port: u16 = second.server().rsplit(':').next().unwrap().parse().unwrap();
    assert_ne!(port, taken);
    let dir = second.state().dir.clone();
    let pid = second.pid();
    assert!(dir.is_dir());
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());

    let status = second.stop().expect("the control plane was running");
    assert!(status.success(), "clean shutdown expected, got {status}");
    assert!(!dir.exists(), "{} should have been removed", dir.display());
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
}

/// A control plane that dies under a caller (doc-bench's contender can take it down) is seen as exited, with its
/// status, so the caller can say so instead of reporting only the refused connections that follow.
#[test]
fn a_control_plane_killed_under_its_caller_is_seen_as_exited() {
    let mut cp = ControlPlane::start(Options::default()).unwrap();
    assert!(
        cp.exited().is_none(),
        "a running control plane is not exited"
    );
    let pid = cp.pid();
    let killed = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = cp.exited() {
            break status;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the killed control plane (pid {pid}) was not seen as exited within 60 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    println!(
        "seen as exited {:?} after SIGKILL: {status}",
        started.elapsed()
    );
    assert!(
        !status.success(),
        "a killed control plane exits unsuccessfully, got {status}"
    );
    // Killed, it could not remove its own temporary state.
    let dir = cp.state().dir.clone();
    std::fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("removing {}: {e}", dir.display()));
}

/// An unusable apiserver flag makes start-up fail fast with the log's tail in the error, not a hang.
#[test]
fn a_failed_start_reports_the_log_tail_quickly() {
    let started = Instant::now();
    let err = ControlPlane::start(Options {
        apiserver_args: vec!["--authorization-mode=NoSuchMode".into()],
        ..Options::default()
    })
    .unwrap_err();
    // The error and its causes, as `kubewhy-dev` prints them.
    let err = format!("{:#}", anyhow::Error::from(err));
    assert!(err.contains("exited before it was ready"), "{err}");
    assert!(
        err.contains("NoSuchMode"),
        "the log tail should name the bad flag: {err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
}

/// Run by `a_test_process_that_aborts_leaves_no_control_plane_behind` in a child copy of this test binary: starts
/// a control plane, prints its pid, and aborts (no destructors, no cleanup code runs).
#[test]
fn child_starts_a_control_plane_and_aborts() {
    if std::env::var_os("KUBEWHY_TEST_ABORT_CHILD").is_none() {
        return; // only meaningful as the child of the test below
    }
    let cp = ControlPlane::start(Options::default()).unwrap();
    println!(
        "CONTROLPLANE_PID={} DIR={}",
        cp.pid(),
        cp.state().dir.display()
    );
    std::process::abort();
}

#[test]
fn a_test_process_that_aborts_leaves_no_control_plane_behind() {
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "child_starts_a_control_plane_and_aborts",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KUBEWHY_TEST_ABORT_CHILD", "1")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the child should have aborted");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("CONTROLPLANE_PID=").map(|(_, rest)| rest))
        .unwrap_or_else(|| {
            panic!(
                "no pid line in the child's output:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let (pid, dir) = line.split_once(" DIR=").unwrap();
    let proc_path = format!("/proc/{pid}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::path::Path::new(&proc_path).exists() {
        assert!(
            Instant::now() < deadline,
            "control plane {pid} outlived its aborted parent by 30s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !std::path::Path::new(dir).exists(),
        "its temporary state {dir} was not removed"
    );
}

#[test]
fn missing_go_is_one_clear_error() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubewhy-dev"))
        .arg("build")
        .env("PATH", "/nonexistent")
        .env_remove(kubewhy_testenv::binary::BIN_ENV)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("could not run `go version`"), "{stderr}");
    assert!(stderr.contains("needs Go >= 1.26"), "{stderr}");
    assert_eq!(
        stderr.lines().filter(|l| l.starts_with("error")).count(),
        1,
        "{stderr}"
    );
}

/// A control plane with a state directory can be stopped and started again on the same data and port: objects,
/// credentials and the kubeconfig stay valid (what a "the API server went away" test needs). Its logs stay in the
/// directory too (`kubewhy-dev up --dir X` leaves nothing elsewhere).
#[tokio::test]
async fn a_control_plane_restarts_on_the_same_data_and_port() {
    let dir = kubewhy_testenv::scratch_path("restart");
    std::fs::create_dir_all(&dir).unwrap();
    let opts = Options {
        dir: Some(dir.clone()),
        ..Options::default()
    };
    let mut first = ControlPlane::start(opts.clone()).unwrap();
    let first_log = first.log_path().unwrap().to_path_buf();
    assert_eq!(first_log.parent(), Some(dir.join("logs").as_path()));
    assert!(
        std::fs::metadata(&first_log).unwrap().len() > 0,
        "{} is empty",
        first_log.display()
    );
    let port: u16 = first.server().rsplit(':').next().unwrap().parse().unwrap();
    let admin = first.admin().await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(admin, "default");
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("survivor".into()),
            ..ObjectMeta::default()
        },
        data: Some([("k".to_string(), "v".to_string())].into()),
        ..ConfigMap::default()
    };
    cms.create(&PostParams::default(), &cm).await.unwrap();
    let token = first.state().admin_token.clone();
    assert!(first.stop().unwrap().success());
    assert!(cms.get("survivor").await.is_err(), "the API server is down");

    let second = ControlPlane::start(Options { port, ..opts }).unwrap();
    assert_eq!(second.server(), format!("https://127.0.0.1:{port}"));
    let logs = std::fs::read_dir(dir.join("logs")).unwrap().count();
    assert_eq!(logs, 2, "one log per start in {}", dir.display());
    assert_eq!(second.state().admin_token, token);
    // The client made for the first instance works against the second: same URL, CA and token.
    let survivor = cms.get("survivor").await.unwrap();
    assert_eq!(survivor.data.unwrap()["k"], "v");
    drop(second);
    std::fs::remove_dir_all(&dir).unwrap();
}
