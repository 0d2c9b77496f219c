//! End to end against the real API server: each failure is provoked for real with kube-rs, diagnosed as a
//! value *and* as its logged text (`{err:?}`, `{err}`), and — for denials — the generated RBAC remedy is
//! applied with kubectl as admin, after which the same request must succeed.

use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, ObjectMeta, Patch, PatchParams,
    PostParams, WatchParams,
};
use kube::runtime::watcher;
use kubewhy::url::parse_request;
use kubewhy::{Class, Diagnosis, Request, diagnose, diagnose_in, diagnose_text, diagnose_watcher};
use kubewhy_testenv::{ControlPlane, Identity};
use serde_json::json;

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

/// Installs the Document CRD unless present (another test binary may own a richer one) and waits until the
/// server serves it.
async fn ensure_document_crd(admin: &kube::Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(admin.clone());
    if crds
        .get_opt("documents.kube.rs")
        .await
        .expect("reading CRDs")
        .is_none()
    {
        let crd: CustomResourceDefinition = serde_json::from_str(DOCUMENT_CRD).unwrap();
        match crds.create(&PostParams::default(), &crd).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => panic!("installing the Document CRD: {e}"),
        }
    }
    let docs: Api<DynamicObject> = Api::all_with(admin.clone(), &documents());
    let deadline = Instant::now() + Duration::from_secs(30);
    while let Err(e) = docs.list(&ListParams::default().limit(1)).await {
        assert!(
            Instant::now() < deadline,
            "the Document CRD was not served within 30 s: {e}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Aggregated discovery follows the CRD asynchronously: a list can succeed before it names the resource, and
    // the live enrichment reads the catalog built from it.
    loop {
        let listed = match kubewhy::catalog::Catalog::read(admin).await {
            Ok(catalog) => !catalog.named("documents").is_empty(),
            Err(e) => panic!("reading discovery: {e}"),
        };
        if listed {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "discovery did not name documents.kube.rs within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn documents() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("kube.rs", "v1", "Document"),
        "documents",
    )
}

/// Diagnoses an error as a value and as both of its logged texts, checks all three agree on the class and
/// the request fields the text carries, and returns the value's diagnosis.
fn diagnose_everywhere(err: &kube::Error, request: Option<&Request>) -> Diagnosis {
    let value = match request {
        Some(r) => diagnose_in(err, Some(r)),
        None => diagnose(err),
    };
    for text in [format!("{err:?}"), format!("{err}")] {
        let from_text = diagnose_text(&text)
            .unwrap_or_else(|| panic!("nothing found in the logged text {text:?}"));
        assert_eq!(from_text.class, value.class, "class of {text:?}");
        assert_eq!(from_text.code, value.code, "code of {text:?}");
        assert_eq!(from_text.user, value.user, "user of {text:?}");
        for (a, b, what) in [
            (&from_text.request.verb, &value.request.verb, "verb"),
            (
                &from_text.request.resource,
                &value.request.resource,
                "resource",
            ),
            (
                &from_text.request.namespace,
                &value.request.namespace,
                "namespace",
            ),
        ] {
            if request.is_none() {
                assert_eq!(a, b, "{what} of {text:?}");
            }
        }
        assert_eq!(
            from_text.remedy().yaml,
            value.remedy().yaml,
            "remedy of {text:?}"
        );
    }
    value
}

fn api_err<T: std::fmt::Debug>(r: Result<T, kube::Error>) -> kube::Error {
    match r {
        Err(e) => e,
        Ok(v) => panic!("expected an error, got {v:?}"),
    }
}

/// Applies a manifest with kubectl as admin (as a user of `kubewhy explain --fix | kubectl apply -f -` would).
fn kubectl_apply(env: &ControlPlane, yaml: &str) {
    let (ok, out, err) = env
        .kubectl_with(env.kubeconfig(), &["apply", "-f", "-"], Some(yaml))
        .unwrap();
    assert!(ok, "kubectl apply failed: {err}\n{out}\n---\n{yaml}");
}

/// Retries `attempt` until it succeeds: RBAC grants reach the authorizer's cache within moments.
async fn eventually<T, F, Fut>(what: &str, mut attempt: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, kube::Error>>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match attempt().await {
            Ok(v) => return v,
            Err(e) if Instant::now() < deadline => {
                let _ = e; // expected while the grant propagates; the deadline reports the last one
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{what} still fails after the remedy: {e}"),
        }
    }
}

#[tokio::test]
async fn a_service_account_403_is_forbidden_and_its_role_fixes_it() {
    let env = kubewhy_testenv::shared();
    let ns = env.namespace("dx403").await.unwrap();
    let sa = env.service_account(&ns, "reader").await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(sa.client.clone(), &ns);

    let err = api_err(cms.list(&ListParams::default()).await);
    let d = diagnose_everywhere(&err, None);
    assert_eq!(d.class, Class::Forbidden);
    assert_eq!(d.code, Some(403));
    assert_eq!(d.user.as_deref(), Some(sa.identity.user.as_str()));
    assert_eq!(d.request.verb.as_deref(), Some("list"));
    assert_eq!(d.request.resource.as_deref(), Some("configmaps"));
    assert_eq!(d.request.group.as_deref(), Some(""));
    assert_eq!(d.request.namespace.as_deref(), Some(ns.as_str()));
    assert_eq!(
        d.summary(),
        format!("service account `{ns}/reader` cannot `list` `configmaps` in namespace `{ns}`")
    );
    let yaml = d
        .remedy()
        .yaml
        .clone()
        .expect("a forbidden diagnosis carries RBAC");
    assert!(
        yaml.contains("kind: Role\n") && yaml.contains("kind: RoleBinding\n"),
        "{yaml}"
    );
    assert!(
        !yaml.contains("ClusterRole"),
        "a namespaced denial needs no cluster role: {yaml}"
    );

    kubectl_apply(env, &yaml);
    eventually("listing configmaps", || async {
        cms.list(&ListParams::default()).await
    })
    .await;
    // Exactly the denied verb was granted: a get is still forbidden.
    let still = diagnose(&api_err(cms.get("anything").await));
    assert_eq!(
        (still.class, still.request.verb.as_deref()),
        (Class::Forbidden, Some("get"))
    );
}

#[tokio::test]
async fn a_403_on_watch_only_is_diagnosed_from_the_watcher_and_fixed() {
    let env = kubewhy_testenv::shared();
    let ns = env.namespace("dxwatch").await.unwrap();
    let sa = env.service_account(&ns, "half-blind").await.unwrap();
    let admin = env.admin().await.unwrap();
    // Grant list only (kube#1132: the watcher lists, then can never watch).
    let role = Role {
        metadata: ObjectMeta {
            name: Some("list-only".into()),
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
            name: Some("list-only".into()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Role".into(),
            name: "list-only".into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: "half-blind".into(),
            namespace: Some(ns.clone()),
            api_group: None,
        }]),
    };
    Api::<RoleBinding>::namespaced(admin.clone(), &ns)
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(sa.client.clone(), &ns);
    eventually("listing with the list-only role", || async {
        cms.list(&ListParams::default()).await
    })
    .await;

    let mut stream = watcher(cms.clone(), watcher::Config::default()).boxed();
    let err = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match stream.next().await {
                Some(Ok(_)) => continue,
                Some(Err(e)) => break e,
                None => panic!("the watcher ended without an error"),
            }
        }
    })
    .await
    .expect("the watcher reported the denied watch within 20 s");
    assert!(
        matches!(err, watcher::Error::WatchStartFailed(_)),
        "{err:?}"
    );
    let d = diagnose_watcher(&err);
    assert_eq!(d.class, Class::Forbidden);
    assert_eq!(d.request.verb.as_deref(), Some("watch"));
    assert!(
        d.describe()
            .notes
            .iter()
            .any(|n| n.contains("never sees changes")),
        "{:#?}",
        d.describe().notes
    );
    // The watcher error's logged text says the same.
    for text in [format!("{err:?}"), format!("{err}")] {
        let t = diagnose_text(&text).unwrap();
        assert_eq!(
            (t.class, t.request.verb.as_deref()),
            (Class::Forbidden, Some("watch")),
            "{text}"
        );
        assert_eq!(t.remedy().yaml, d.remedy().yaml);
    }
    kubectl_apply(env, d.remedy().yaml.as_deref().unwrap());
    eventually("watching configmaps", || async {
        cms.watch(&WatchParams::default().timeout(1), "0")
            .await
            .map(|_| ())
    })
    .await;
}

#[tokio::test]
async fn a_missing_crd_and_a_misspelled_plural_are_resource_not_found() {
    let env = kubewhy_testenv::shared();
    let admin = env.admin().await.unwrap();
    ensure_document_crd(&admin).await;
    let gadgets = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Gadget"),
        "gadgets",
    );
    let err = api_err(
        Api::<DynamicObject>::all_with(admin.clone(), &gadgets)
            .list(&ListParams::default())
            .await,
    );
    // kube-rs reports the plain-text 404 in a way `is_not_found()` misses.
    let kube::Error::Api(status) = &err else {
        panic!("{err:?}")
    };
    assert!(!status.is_not_found());

    let d = diagnose_everywhere(&err, None);
    assert_eq!((d.class, d.code), (Class::ResourceNotFound, Some(404)));
    assert!(
        d.describe()
            .notes
            .iter()
            .any(|n| n.contains("Failed to parse error data")),
        "{:#?}",
        d.describe().notes
    );

    // With the request, the resource is named.
    let req = parse_request("GET", "/apis/example.com/v1/gadgets");
    let d = diagnose_everywhere(&err, Some(&req));
    assert_eq!(d.request.resource.as_deref(), Some("gadgets"));
    assert_eq!(d.request.group.as_deref(), Some("example.com"));
    assert!(
        d.summary().contains("gadgets.example.com"),
        "{}",
        d.summary()
    );
    assert!(
        d.remedy()
            .commands
            .iter()
            .any(|c| c == "kubectl get crd gadgets.example.com"),
        "{:#?}",
        d.remedy()
    );

    // Live: nothing is served like it.
    let mut live = kubewhy::live::Live::new(admin.clone());
    let mut d = d;
    live.enrich(&mut d).await;
    assert!(
        d.describe()
            .notes
            .iter()
            .any(|n| n.contains("nothing served is named like `gadgets`")),
        "{:#?}",
        d.describe().notes
    );

    // A misspelled plural: discovery names the real one.
    let misspelled = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("kube.rs", "v1", "Document"),
        "documnets",
    );
    let err = api_err(
        Api::<DynamicObject>::all_with(admin.clone(), &misspelled)
            .list(&ListParams::default())
            .await,
    );
    let req = parse_request("GET", "/apis/kube.rs/v1/documnets");
    let mut d = diagnose_in(&err, Some(&req));
    assert_eq!(d.class, Class::ResourceNotFound);
    live.enrich(&mut d).await;
    assert!(
        d.describe()
            .notes
            .iter()
            .any(|n| n.contains("nearest served names are `documents.kube.rs/v1`")),
        "{:#?}",
        d.describe().notes
    );
}

#[tokio::test]
async fn a_custom_resource_asked_in_the_core_group_is_named_a_client_bug() {
    let env = kubewhy_testenv::shared();
    let ns = env.namespace("dxgroup").await.unwrap();
    let admin = env.admin().await.unwrap();
    ensure_document_crd(&admin).await;
    // The wrong group as admin: 404.
    let wrong = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("", "v1", "Document"),
        "documents",
    );
    let err = api_err(
        Api::<DynamicObject>::namespaced_with(admin.clone(), &ns, &wrong)
            .list(&ListParams::default())
            .await,
    );
    let req = parse_request("GET", &format!("/api/v1/namespaces/{ns}/documents"));
    let mut d = diagnose_everywhere(&err, Some(&req));
    assert_eq!(d.class, Class::ResourceNotFound);
    assert!(
        d.describe().cause.contains("without the resource's group"),
        "{}",
        d.describe().cause
    );
    let mut live = kubewhy::live::Live::new(admin.clone());
    live.enrich(&mut d).await;
    assert!(
        d.describe()
            .notes
            .iter()
            .any(|n| n.contains("served as `documents.kube.rs/v1`")),
        "{:#?}",
        d.describe().notes
    );

    // The same mistake as a service account: the seed's 403 `in API group ""`. RBAC for group "" would not
    // help; live enrichment finds the real group and writes RBAC for it.
    let sa = env.service_account(&ns, "doc-controller").await.unwrap();
    let patch = Patch::Merge(json!({"metadata": {"labels": {"a": "b"}}}));
    let err = api_err(
        Api::<DynamicObject>::namespaced_with(sa.client.clone(), &ns, &wrong)
            .patch("samuel", &PatchParams::default(), &patch)
            .await,
    );
    let mut d = diagnose_everywhere(&err, None);
    assert_eq!(d.class, Class::Forbidden);
    assert_eq!(d.request.group.as_deref(), Some(""));
    assert_eq!(d.request.name.as_deref(), Some("samuel"));
    assert!(
        d.describe().cause.contains("the fix is in the code"),
        "{}",
        d.describe().cause
    );
    assert_eq!(d.remedy().yaml, None, "no RBAC for the core group");
    live.enrich(&mut d).await;
    let corrected = kubewhy::remedy::rbac::grants(&d);
    let [corrected] = corrected.as_slice() else {
        panic!("discovery finds the real group: {corrected:?}")
    };
    let yaml = d
        .remedy()
        .yaml
        .clone()
        .expect("live enrichment writes RBAC for kube.rs");
    assert!(yaml.contains("- kube.rs"), "{yaml}");
    assert_eq!(corrected.subject.username(), sa.identity.user);
    kubectl_apply(env, &yaml);
    // With the right group in the client, the grant works (404 for the missing object, no longer 403).
    let right: Api<DynamicObject> = Api::namespaced_with(sa.client.clone(), &ns, &documents());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match right.patch("samuel", &PatchParams::default(), &patch).await {
            Err(kube::Error::Api(s)) if s.code == 404 => break,
            Err(kube::Error::Api(s)) if s.code == 403 && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            other => panic!("expected 404 once patch is granted in kube.rs, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_watch_with_resource_version_match_is_invalid_request() {
    let env = kubewhy_testenv::shared();
    let ns = env.namespace("dx422").await.unwrap();
    let admin = env.admin().await.unwrap();
    let url = format!(
        "/api/v1/namespaces/{ns}/configmaps?watch=true&resourceVersion=0&resourceVersionMatch=NotOlderThan"
    );
    let request = http::Request::get(&url).body(Vec::new()).unwrap();
    let err = api_err(admin.request::<serde_json::Value>(request).await);
    let d = diagnose_everywhere(&err, None);
    assert_eq!((d.class, d.code), (Class::InvalidRequest, Some(422)));
    let d = diagnose_in(&err, Some(&parse_request("GET", &url)));
    assert_eq!(d.request.verb.as_deref(), Some("watch"));
    assert!(
        d.describe().cause.contains("sendInitialEvents"),
        "{}",
        d.describe().cause
    );
    assert!(
        d.remedy().text.contains("resourceVersionMatch"),
        "{}",
        d.remedy().text
    );
}

#[tokio::test]
async fn conflicts_and_existing_objects_are_told_apart() {
    let env = kubewhy_testenv::shared();
    let ns = env.namespace("dx409").await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(env.admin().await.unwrap(), &ns);
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("settings".into()),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    };
    let created = cms.create(&PostParams::default(), &cm).await.unwrap();
    let d = diagnose_everywhere(
        &api_err(cms.create(&PostParams::default(), &cm).await),
        None,
    );
    assert_eq!((d.class, d.code), (Class::AlreadyExists, Some(409)));
    assert_eq!(d.request.name.as_deref(), Some("settings"));

    let mut stale = created.clone();
    let mut fresh = created;
    fresh.data = Some([("k".to_string(), "1".to_string())].into());
    cms.replace("settings", &PostParams::default(), &fresh)
        .await
        .unwrap();
    stale.data = Some([("k".to_string(), "2".to_string())].into());
    let d = diagnose_everywhere(
        &api_err(
            cms.replace("settings", &PostParams::default(), &stale)
                .await,
        ),
        None,
    );
    assert_eq!((d.class, d.code), (Class::Conflict, Some(409)));
    assert_eq!(d.request.resource.as_deref(), Some("configmaps"));
    assert!(
        d.summary().contains("modified since it was read"),
        "{}",
        d.summary()
    );

    let d = diagnose_everywhere(&api_err(cms.get("absent").await), None);
    assert_eq!(
        (d.class, d.request.name.as_deref()),
        (Class::ObjectNotFound, Some("absent"))
    );
}

#[tokio::test]
async fn a_bad_token_is_unauthorized_and_a_closed_port_is_connection() {
    let env = kubewhy_testenv::shared();
    let stranger = Identity {
        user: "stranger".into(),
        token: "not-a-token-the-server-knows".into(),
    };
    let client = env.client_for(&stranger).await.unwrap();
    let err = api_err(
        Api::<ConfigMap>::namespaced(client, "default")
            .list(&ListParams::default())
            .await,
    );
    let d = diagnose_everywhere(&err, None);
    assert_eq!((d.class, d.code), (Class::Unauthorized, Some(401)));
    assert!(!format!("{d:?}").contains("not-a-token-the-server-knows"));

    // Nothing listens on a port we just bound and closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = env.config_for(&env.admin_identity()).await.unwrap();
    config.cluster_url = format!("https://127.0.0.1:{port}").parse().unwrap();
    config.connect_timeout = Some(Duration::from_secs(2));
    let client = kube::Client::try_from(config).unwrap();
    let err = api_err(
        Api::<ConfigMap>::namespaced(client, "default")
            .list(&ListParams::default())
            .await,
    );
    let d = diagnose(&err);
    assert_eq!(d.class, Class::Connection, "{err:?}");
    let t = diagnose_text(&format!("{err:?}")).expect("the Debug text of a refused connection");
    assert_eq!(t.class, Class::Connection, "{err:?}");
    let t = diagnose_text(&format!("{err}"))
        .unwrap_or_else(|| panic!("nothing found in the Display text {err} ({err:?})"));
    assert_eq!(t.class, Class::Connection, "{err}");
}

#[tokio::test]
async fn a_non_resource_path_denial_gets_a_cluster_role() {
    let env = kubewhy_testenv::shared();
    // A fresh service account: the grant below is cluster-wide, and must not change what shared users can do.
    let ns = env.namespace("dxpath").await.unwrap();
    let scraper = env.service_account(&ns, "scraper").await.unwrap().client;
    let request = http::Request::get("/metrics").body(Vec::new()).unwrap();
    let err = api_err(scraper.request_text(request).await);
    let d = diagnose_everywhere(&err, None);
    assert_eq!(d.class, Class::Forbidden);
    assert_eq!(
        (d.request.path.as_deref(), d.request.verb.as_deref()),
        (Some("/metrics"), Some("get"))
    );
    let yaml = d.remedy().yaml.clone().unwrap();
    assert!(
        yaml.contains("kind: ClusterRole\n") && yaml.contains("nonResourceURLs"),
        "{yaml}"
    );
    kubectl_apply(env, &yaml);
    eventually("GET /metrics", || {
        scraper.request_text(http::Request::get("/metrics").body(Vec::new()).unwrap())
    })
    .await;
}

#[tokio::test]
async fn a_binding_to_a_missing_role_and_escalation_are_named() {
    let env = kubewhy_testenv::shared();
    let ns = env.namespace("dxrole").await.unwrap();
    let admin = env.admin().await.unwrap();
    let sa = env.service_account(&ns, "orphan").await.unwrap();
    let binding = RoleBinding {
        metadata: ObjectMeta {
            name: Some("to-nothing".into()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Role".into(),
            name: "secret-reader".into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: "orphan".into(),
            namespace: Some(ns.clone()),
            api_group: None,
        }]),
    };
    Api::<RoleBinding>::namespaced(admin.clone(), &ns)
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(sa.client.clone(), &ns);
    // The authorizer sees the binding within moments; until then the denial has no RBAC suffix.
    let deadline = Instant::now() + Duration::from_secs(15);
    let d = loop {
        let d = diagnose_everywhere(&api_err(secrets.get("x").await), None);
        if d.describe().cause.contains("does not exist") || Instant::now() > deadline {
            break d;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(d.class, Class::Forbidden);
    assert!(
        d.describe()
            .cause
            .contains("Role `secret-reader`, which does not exist"),
        "{}\n{}",
        d.describe().cause,
        d.message
    );
    assert!(
        d.remedy()
            .commands
            .iter()
            .any(|c| c == "kubectl get role secret-reader"),
        "{:#?}",
        d.remedy().commands
    );

    // Escalation prevention: bob may create roles but not grant what he does not hold.
    let role = Role {
        metadata: ObjectMeta {
            name: Some("roles-creator".into()),
            ..ObjectMeta::default()
        },
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec!["rbac.authorization.k8s.io".into()]),
            resources: Some(vec!["roles".into()]),
            verbs: vec!["create".into()],
            ..PolicyRule::default()
        }]),
    };
    Api::<Role>::namespaced(admin.clone(), &ns)
        .create(&PostParams::default(), &role)
        .await
        .unwrap();
    kubectl_apply(
        env,
        &format!(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: bob-roles, namespace: {ns}}}\n\
             roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: roles-creator}}\n\
             subjects: [{{apiGroup: rbac.authorization.k8s.io, kind: User, name: bob}}]\n"
        ),
    );
    let bob = env.user("bob").await.unwrap();
    let greedy = Role {
        metadata: ObjectMeta {
            name: Some("secret-reader".into()),
            ..ObjectMeta::default()
        },
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec!["".into()]),
            resources: Some(vec!["secrets".into()]),
            verbs: vec!["get".into()],
            ..PolicyRule::default()
        }]),
    };
    let roles: Api<Role> = Api::namespaced(bob, &ns);
    let deadline = Instant::now() + Duration::from_secs(15);
    let err = loop {
        let err = api_err(roles.create(&PostParams::default(), &greedy).await);
        if err.to_string().contains("attempting to grant") || Instant::now() > deadline {
            break err;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let d = diagnose_everywhere(&err, None);
    assert_eq!(d.class, Class::Forbidden);
    assert_eq!(d.user.as_deref(), Some("bob"));
    assert!(
        d.groups.iter().any(|g| g == "dev-team"),
        "{:?}\n{}",
        d.groups,
        d.message
    );
    assert!(
        d.describe().cause.contains("escalation prevention"),
        "{}",
        d.describe().cause
    );
    assert_eq!(d.remedy().yaml, None);
}

#[tokio::test]
async fn a_validating_admission_policy_denial_is_admission_not_rbac() {
    let env = kubewhy_testenv::shared();
    let ns = env.namespace("dxvap").await.unwrap();
    let policy = format!(
        "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicy\nmetadata: {{name: kubewhy-{ns}}}\n\
         spec:\n  failurePolicy: Fail\n  matchConstraints:\n    resourceRules:\n    - {{apiGroups: [''], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}}\n\
         \x20 validations:\n  - {{expression: \"has(object.data) && 'owner' in object.data\", message: configmaps need an owner}}\n\
         ---\napiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingAdmissionPolicyBinding\nmetadata: {{name: kubewhy-{ns}}}\n\
         spec:\n  policyName: kubewhy-{ns}\n  validationActions: [Deny]\n  matchResources:\n    namespaceSelector:\n      matchLabels: {{kubernetes.io/metadata.name: {ns}}}\n"
    );
    kubectl_apply(env, &policy);
    let cms: Api<ConfigMap> = Api::namespaced(env.admin().await.unwrap(), &ns);
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("ownerless".into()),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    };
    // Policies are loaded asynchronously: retry until the create is refused.
    let deadline = Instant::now() + Duration::from_secs(20);
    let err = loop {
        match cms.create(&PostParams::default(), &cm).await {
            Err(e) => break e,
            Ok(_) => {
                cms.delete("ownerless", &Default::default()).await.unwrap();
                assert!(Instant::now() < deadline, "the policy never took effect");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    };
    let d = diagnose_everywhere(&err, None);
    assert_eq!(d.class, Class::AdmissionDenied, "{}", d.message);
    assert!(d.message.contains("is forbidden"), "{}", d.message);
    assert!(
        d.describe()
            .cause
            .contains(&format!("ValidatingAdmissionPolicy `kubewhy-{ns}`")),
        "{}",
        d.describe().cause
    );
    assert!(
        d.describe().cause.contains("configmaps need an owner"),
        "{}",
        d.describe().cause
    );
    assert_eq!(d.remedy().yaml, None);
}

/// A JSON patch whose `test` operation fails — what kube-runtime's finalizer helper sends when its copy of the
/// object is stale — is a transient conflict, told apart from a field validation failure (both are 422
/// `Invalid`): the API server's answer for a patch that does not apply carries no field causes.
#[tokio::test]
async fn a_failed_json_patch_test_is_a_stale_read_not_an_invalid_object() {
    let env = kubewhy_testenv::shared();
    let ns = env.namespace("dxpatch").await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(env.admin().await.unwrap(), &ns);
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("settings".into()),
            ..ObjectMeta::default()
        },
        data: Some([("k".to_string(), "now".to_string())].into()),
        ..ConfigMap::default()
    };
    cms.create(&PostParams::default(), &cm).await.unwrap();
    let patch: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/data/k", "value": "before"},
        {"op": "replace", "path": "/data/k", "value": "after"}
    ]))
    .unwrap();
    let err = api_err(
        cms.patch(
            "settings",
            &PatchParams::default(),
            &Patch::<()>::Json(patch),
        )
        .await,
    );
    let d = diagnose_everywhere(&err, None);
    assert_eq!((d.class, d.code), (Class::Conflict, Some(422)), "{d:#?}");
    assert!(
        matches!(d.cause, kubewhy::Cause::StalePatch { .. }),
        "{:?}",
        d.cause
    );
    assert!(d.is_transient());
    assert!(
        d.remedy().text.starts_with("nothing to fix"),
        "{}",
        d.remedy().text
    );

    // An invalid object is still one: a 422 with field causes.
    let bad = ConfigMap {
        metadata: ObjectMeta {
            name: Some("Not_A_Name".into()),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    };
    let d = diagnose_everywhere(
        &api_err(cms.create(&PostParams::default(), &bad).await),
        None,
    );
    assert_eq!(
        (d.class, d.code),
        (Class::InvalidObject, Some(422)),
        "{d:#?}"
    );
}
