//! Request inspection against the real API server: every request is recorded with its code, errors are matched
//! to the request that caused them, curl commands are logged on demand, and no credential reaches the log at
//! any level (the whole process logs at TRACE into a buffer that is searched for the tokens).

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use kubewhy::metrics::Metrics;
use kubewhy::trace::Inspector;

mod common;

/// Everything this test process logs, at TRACE for every target (kube, hyper, rustls, kubewhy).
fn log() -> &'static common::Log {
    common::capture("trace")
}

#[tokio::test]
async fn records_requests_matches_errors_and_never_logs_a_token() {
    let log = log();
    let env = kubewhy_testenv::shared();
    let ns = env.namespace("trace").await.unwrap();
    let sa = env.service_account(&ns, "inspected").await.unwrap();

    let config = env.config_for(&sa.identity).await.unwrap();
    let metrics = Metrics::default();
    let inspector = Inspector::new(&config);
    inspector.set_curl(true);
    // The client is built before the metrics are attached: the builder reaches the inspector's earlier clones
    // (the one inside this client's layer) too, and its requests are counted below.
    let client = inspector.client(config).unwrap();
    let inspector = inspector.with_metrics(metrics.clone());

    // A denied list: the error is matched to its request.
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let err = cms.list(&ListParams::default().limit(5)).await.unwrap_err();
    let request = inspector
        .request_for(&err)
        .expect("the failed request was recorded");
    assert_eq!(request.method.as_deref(), Some("GET"));
    assert_eq!(request.verb.as_deref(), Some("list"));
    assert_eq!(request.resource.as_deref(), Some("configmaps"));
    assert_eq!(request.namespace.as_deref(), Some(ns.as_str()));
    assert_eq!(
        request.url.as_deref(),
        Some(format!("/api/v1/namespaces/{ns}/configmaps?&limit=5").as_str())
    );

    // A denied create of a Secret: its body must not be shown either.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some("s".into()),
            ..ObjectMeta::default()
        },
        string_data: Some([("password".to_string(), "hunter2-very-secret".to_string())].into()),
        ..Secret::default()
    };
    let err = secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap_err();
    let request = inspector.request_for(&err).unwrap();
    assert_eq!(
        (request.verb.as_deref(), request.resource.as_deref()),
        (Some("create"), Some("secrets"))
    );

    // An admin request through another inspected client succeeds and is counted too.
    let admin_config = env.config_for(&env.admin_identity()).await.unwrap();
    let admin = inspector.client(admin_config).unwrap();
    Api::<ConfigMap>::namespaced(admin, &ns)
        .list(&ListParams::default())
        .await
        .unwrap();

    let mut text = String::new();
    let mut registry = prometheus_client::registry::Registry::default();
    metrics.register(&mut registry);
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    assert!(
        text.contains(
            r#"kubewhy_api_requests_total{verb="list",resource="configmaps",code="403"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"kubewhy_api_requests_total{verb="create",resource="secrets",code="403"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"kubewhy_api_requests_total{verb="list",resource="configmaps",code="200"} 1"#
        ),
        "{text}"
    );

    let output = log.text();
    let server = env.server();
    assert!(
        output.contains(&format!("curl -v -XGET -H 'Authorization: Bearer <redacted>' '{server}/api/v1/namespaces/{ns}/configmaps?&limit=5'")),
        "no curl line for the list in:\n{output}"
    );
    assert!(output.contains("api request failed"), "{output}");
    assert!(
        output.contains("--data-binary '<redacted>'"),
        "the Secret body is replaced: {output}"
    );
    assert!(
        !output.contains(&sa.identity.token),
        "the ServiceAccount token leaked into the log"
    );
    assert!(
        !output.contains(&env.state().admin_token),
        "the admin token leaked into the log"
    );
    assert!(
        !output.contains("hunter2-very-secret"),
        "a Secret's data leaked into the log"
    );
    // The log really was at TRACE level (kube's and hyper's own trace lines are there).
    assert!(output.contains("TRACE"), "expected TRACE output");
}

/// Many requests failing at once: each error is matched to its own request inside a scope, and outside one an
/// error that several requests share names none (never a wrong one). Issue 11, item 9.
#[tokio::test]
async fn each_of_many_concurrent_failures_names_its_own_request() {
    let env = kubewhy_testenv::shared();
    let ns = env.namespace("exact").await.unwrap();
    let sa = env.service_account(&ns, "nobody").await.unwrap();
    let config = env.config_for(&sa.identity).await.unwrap();
    let inspector = Inspector::new(&config);
    let client = inspector.client(config).unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);

    // 64 concurrent GETs of different ConfigMaps, all denied with messages that differ only by name, and 64
    // concurrent lists denied with the same message, each in its own scope.
    let gets = (0..64).map(|i| {
        let cms = cms.clone();
        async move {
            let name = format!("d{i}");
            let (result, failed) = kubewhy::trace::recorded(cms.get(&name)).await;
            let err = result.unwrap_err();
            (name, failed.request_for(&err))
        }
    });
    let lists = (0..64).map(|i| {
        let cms = cms.clone();
        async move {
            let limit = 1 + i;
            let (result, failed) =
                kubewhy::trace::recorded(cms.list(&ListParams::default().limit(limit))).await;
            let err = result.unwrap_err();
            (limit, failed.request_for(&err), err)
        }
    });
    let (gets, lists) = futures::join!(
        futures::future::join_all(gets),
        futures::future::join_all(lists)
    );
    for (name, request) in gets {
        let request = request.expect("a request in the scope");
        assert_eq!(request.name.as_deref(), Some(name.as_str()));
        assert_eq!(request.verb.as_deref(), Some("get"));
    }
    for (limit, request, _) in &lists {
        let url = request
            .as_ref()
            .and_then(|r| r.url.clone())
            .unwrap_or_default();
        assert!(
            url.ends_with(&format!("limit={limit}")),
            "list {limit} matched {url}"
        );
    }
    // Outside a scope: 64 lists with the same message but different URLs failed within the minute; the path is
    // the same for all of them, so naming it is right (the query is not part of what is matched).
    let (_, _, err) = &lists[0];
    let outside = inspector.request_for(err).expect("one path failed");
    assert_eq!(outside.verb.as_deref(), Some("list"));
    // Two lists of different resources, outside any scope: their messages name the resource, so each is still
    // found exactly.
    let err_a = Api::<k8s_openapi::api::core::v1::Secret>::namespaced(client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap_err();
    let _err_b = Api::<k8s_openapi::api::core::v1::Service>::namespaced(client.clone(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap_err();
    assert_eq!(
        inspector.request_for(&err_a).and_then(|r| r.resource),
        Some("secrets".to_string())
    );
}

/// The `Audit-Id` and API Priority and Fairness headers of a failed request reach the diagnosis and its words.
/// Issue 11, item 10.
#[tokio::test]
async fn a_failed_request_carries_its_audit_id_and_priority_level() {
    let env = kubewhy_testenv::shared();
    let ns = env.namespace("audit").await.unwrap();
    let sa = env.service_account(&ns, "audited").await.unwrap();
    let config = env.config_for(&sa.identity).await.unwrap();
    let inspector = Inspector::new(&config);
    let client = inspector.client(config).unwrap();
    let err = Api::<ConfigMap>::namespaced(client, &ns)
        .get("missing")
        .await
        .unwrap_err();
    let request = inspector.request_for(&err).expect("recorded");
    let audit = request.audit_id.clone().expect("an Audit-Id header");
    assert_eq!(audit.len(), 36, "a UUID: {audit}");
    let fs = request.flow_schema_uid.clone().expect("a FlowSchema UID");
    let pl = request
        .priority_level_uid
        .clone()
        .expect("a PriorityLevel UID");
    let d = kubewhy::diagnose_in(&err, Some(&request));
    let notes = d.describe().notes.join("\n");
    assert!(notes.contains(&format!("auditID `{audit}`")), "{notes}");
    assert!(notes.contains(&fs) && notes.contains(&pl), "{notes}");
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["audit_id"], audit.as_str());
    println!("Audit-Id {audit}, FlowSchema {fs}, PriorityLevel {pl}");
}

/// A watch behind a proxy that freezes (nothing forwarded, nothing closed) is ended after the stall window and
/// diagnosed as a stalled watch; after the thaw the watcher resumes and sees what changed meanwhile.
/// Issue 11, item 2 (library level; doc-controller's end-to-end test uses the default 70 s window).
#[tokio::test]
async fn a_frozen_watch_is_ended_after_the_stall_window_and_resumes_without_loss() {
    use kube::runtime::watcher;
    let env = kubewhy_testenv::shared();
    let ns = env.namespace("stall").await.unwrap();
    let proxy = kubewhy_testenv::proxy::Proxy::start(env.server()).unwrap();
    let admin_id = env.admin_identity();
    let path = kubewhy_testenv::scratch_path("stall.kubeconfig");
    env.write_kubeconfig_with(
        &admin_id,
        None,
        &kubewhy_testenv::KubeconfigOptions {
            server: Some(proxy.url()),
            ..Default::default()
        },
        &path,
    )
    .unwrap();
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&path).unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    let window = Duration::from_secs(4);
    let inspector = Inspector::new(&config).with_stall_window(Some(window));
    let client = inspector.client(config).unwrap();
    let admin = env.admin().await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(admin.clone(), &ns);
    let watch_client = client.clone();
    let cm = |name: &str| ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    };
    cms.create(&PostParams::default(), &cm("before"))
        .await
        .unwrap();

    let mut events = watcher(
        Api::<ConfigMap>::namespaced(watch_client, &ns),
        watcher::Config::default(),
    )
    .boxed();
    let mut seen = std::collections::BTreeSet::new();
    loop {
        match events.next().await.unwrap().unwrap() {
            watcher::Event::InitApply(o) | watcher::Event::Apply(o) => {
                seen.insert(o.metadata.name.unwrap());
            }
            watcher::Event::InitDone => break,
            _ => {}
        }
    }
    assert!(seen.contains("before"));
    // The watch is open and streaming once a change made now arrives through it.
    cms.create(&PostParams::default(), &cm("streaming"))
        .await
        .unwrap();
    loop {
        if let watcher::Event::Apply(o) = events.next().await.unwrap().unwrap()
            && o.metadata.name.as_deref() == Some("streaming")
        {
            break;
        }
    }
    proxy.freeze();
    let frozen = Instant::now();
    cms.create(&PostParams::default(), &cm("during"))
        .await
        .unwrap();
    let err = loop {
        match tokio::time::timeout(Duration::from_secs(60), events.next()).await {
            Ok(Some(Err(e))) => break e,
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected the watch to be ended as stalled, got {other:?}"),
        }
    };
    let detected = frozen.elapsed();
    let d = kubewhy::diagnose_watcher(&err);
    assert_eq!(
        d.cause,
        kubewhy::Cause::StalledWatch {
            idle_s: window.as_secs()
        },
        "{d:#}"
    );
    assert!(detected >= window && detected < window * 3, "{detected:?}");
    println!(
        "stall detected {:.1}s after the freeze (window {window:?})",
        detected.as_secs_f64()
    );
    // While frozen, two different requests fail the same way (no response): inside their scopes each names its
    // own request; outside, an error they share names none rather than the wrong one.
    let watched = Api::<ConfigMap>::namespaced(client.clone(), &ns);
    let secrets = Api::<k8s_openapi::api::core::v1::Secret>::namespaced(client.clone(), &ns);
    let all = ListParams::default();
    let ((get, get_failed), (list, list_failed)) = futures::join!(
        kubewhy::trace::recorded(watched.get("before")),
        kubewhy::trace::recorded(secrets.list(&all)),
    );
    let (get, list) = (get.unwrap_err(), list.unwrap_err());
    assert_eq!(
        get_failed.request_for(&get).and_then(|r| r.name),
        Some("before".to_string())
    );
    assert_eq!(
        list_failed.request_for(&list).and_then(|r| r.resource),
        Some("secrets".to_string())
    );
    assert_eq!(
        inspector.request_for(&get),
        None,
        "ambiguous outside a scope"
    );
    proxy.thaw();
    let seen_during = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            if let Some(Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o))) =
                events.next().await
                && o.metadata.name.as_deref() == Some("during")
            {
                return;
            }
        }
    })
    .await;
    assert!(
        seen_during.is_ok(),
        "the change made during the freeze arrives after it"
    );
}
