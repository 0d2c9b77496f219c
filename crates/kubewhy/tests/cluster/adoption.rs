//! The adoption path of `examples/controller.rs` against the real API server: a controller built on
//! `kubewhy::controller::diagnosed` (kube's stable `applier`, no unstable kube feature) reconciles the objects it
//! may read, and when it may not, the denial reaches readiness (status code and body) and the metrics text
//! (encoded without the program's registry) instead of silence.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::watcher;
use kubewhy::metrics::Metrics;
use kubewhy::trace::Inspector;
use kubewhy::watch::{Health, Policy, Watch};

use crate::grant;
use grant::grant_configmaps;

const ANNOTATION: &str = "adoption.kubewhy.dev/reconciled";

#[derive(Debug, thiserror::Error)]
#[error("annotating the ConfigMap failed")]
struct Error(#[source] kube::Error);

struct Context {
    client: kube::Client,
}

async fn reconcile(cm: Arc<ConfigMap>, ctx: Arc<Context>) -> Result<Action, Error> {
    let api: Api<ConfigMap> =
        Api::namespaced(ctx.client.clone(), &cm.namespace().unwrap_or_default());
    let patch = serde_json::json!({"metadata": {"annotations": {ANNOTATION: "true"}}});
    api.patch(
        &cm.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map_err(Error)?;
    Ok(Action::await_change())
}

fn error_policy(_: Arc<ConfigMap>, err: &Error, _: Arc<Context>) -> Action {
    eprintln!("{}", kubewhy::diagnose_error(err));
    Action::requeue(Duration::from_secs(1))
}

async fn wait_for<F: std::future::Future<Output = bool>>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> F,
) {
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!("{what}: after {:?}", started.elapsed());
}

/// The adoption: an inspected client, a `Health`, one diagnosed controller. Returns what the program serves.
async fn start(
    env: &kubewhy_testenv::ControlPlane,
    sa: &kubewhy_testenv::ServiceAccount,
    ns: &str,
    name: &str,
) -> (Health, Metrics, tokio::task::JoinHandle<()>) {
    let metrics = Metrics::default();
    let config = env.config_for(&sa.identity).await.unwrap();
    let inspector = Inspector::new(&config).with_metrics(metrics.clone());
    let client = inspector.client(config).unwrap();
    let health = Health::new(Policy {
        grace: Duration::from_secs(1),
        ..Policy::in_cluster()
    })
    .with_metrics(metrics.clone());
    let watch = Watch::new(name, &health).inspector(&inspector);
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    let run = kubewhy::controller::diagnosed(cms, watcher::Config::default(), watch)
        .run(reconcile, error_policy, Arc::new(Context { client }))
        .for_each(|_| futures::future::ready(()));
    (health, metrics, tokio::spawn(run))
}

#[tokio::test]
async fn a_diagnosed_controller_reconciles_and_a_denial_reaches_readiness_and_metrics() {
    let env = kubewhy_testenv::shared();
    let admin = env.admin().await.unwrap();
    let ns = env.namespace("adoption").await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(admin.clone(), &ns);
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("sample".into()),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    };
    cms.create(&PostParams::default(), &cm).await.unwrap();

    // Allowed: the controller reconciles the sample and is ready.
    let sa = env.service_account(&ns, "allowed").await.unwrap();
    grant_configmaps(
        &admin,
        &ns,
        "allowed",
        "allowed",
        &["list", "watch", "get", "patch"],
    )
    .await;
    let (health, metrics, task) = start(env, &sa, &ns, "configmaps").await;
    wait_for("the sample reconciled", Duration::from_secs(60), || {
        let cms = cms.clone();
        async move {
            cms.get("sample")
                .await
                .ok()
                .is_some_and(|cm| cm.annotations().contains_key(ANNOTATION))
        }
    })
    .await;
    wait_for("readiness", Duration::from_secs(30), || {
        let ready = health.readiness().ready;
        async move { ready }
    })
    .await;
    let text = metrics.encode_text(false);
    assert!(
        text.contains(
            "kubewhy_api_requests_total{verb=\"list\",resource=\"configmaps\",code=\"200\"}"
        ),
        "{text}"
    );
    task.abort();

    // Denied: the list is forbidden; readiness says so, and the metrics count it by class.
    let sa = env.service_account(&ns, "denied").await.unwrap();
    let (health, metrics, task) = start(env, &sa, &ns, "configmaps-denied").await;
    wait_for("not ready with the cause", Duration::from_secs(30), || {
        let readiness = health.readiness();
        async move {
            readiness.failing().any(|item| {
                item.name.contains("configmaps-denied") && item.message.contains("forbidden")
            })
        }
    })
    .await;
    let text = metrics.encode_text(false);
    assert!(
        text.lines()
            .any(|l| l.starts_with("kubewhy_watcher_errors_total{")
                && l.contains("watcher=\"configmaps-denied\"")
                && l.contains("class=\"forbidden\"")),
        "{text}"
    );
    task.abort();
}
