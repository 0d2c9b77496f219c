//! Request inspection against the real API server: every request is recorded with its code, errors are matched
//! to the request that caused them, curl commands are logged on demand, and no credential reaches the log at
//! any level (the whole process logs at TRACE into a buffer that is searched for the tokens).

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
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
    let inspector = Inspector::new(&config).with_metrics(metrics.clone());
    inspector.set_curl(true);
    let client = inspector.client(config).unwrap();

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
