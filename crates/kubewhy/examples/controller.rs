//! A kube-rs controller written the way kube-rs's controller-rs writes one — a `Context`, `reconcile`,
//! `error_policy`, a `run` function, metrics in the program's own prometheus-client registry and an HTTP server
//! (axum here; any stack serves a status code and a body) — adopting kubewhy. Every line the adoption added or
//! changed ends with `// kubewhy`: 13 lines, no unstable kube feature.
//!
//! It annotates each ConfigMap of a namespace. Run it against any cluster (`KUBECONFIG`), then
//! `curl localhost:8080/ready` and `curl localhost:8080/metrics`:
//!
//! ```text
//! cargo run -p kubewhy --example controller --features watch -- <namespace>
//! ```

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use kubewhy::prometheus_client::registry::Registry; // kubewhy
use kubewhy::watch::{Health, Policy, Watch}; // kubewhy

#[derive(Debug, thiserror::Error)]
enum Error {
    #[error("annotating ConfigMap {0} failed")]
    Annotate(String, #[source] kube::Error),
}

/// What the reconciler and the web server share.
#[derive(Clone)]
struct Context {
    client: Client,
    health: Health, // kubewhy
    registry: Arc<Registry>,
}

async fn reconcile(cm: Arc<ConfigMap>, ctx: Arc<Context>) -> Result<Action, Error> {
    let api: Api<ConfigMap> =
        Api::namespaced(ctx.client.clone(), &cm.namespace().unwrap_or_default());
    let patch = serde_json::json!({"metadata": {"annotations": {"example.kubewhy.dev/reconciled": "true"}}});
    api.patch(
        &cm.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map_err(|e| Error::Annotate(cm.name_any(), e))?;
    Ok(Action::requeue(Duration::from_secs(300)))
}

fn error_policy(_cm: Arc<ConfigMap>, error: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!("{}", kubewhy::diagnose_error(error)); // kubewhy
    Action::requeue(Duration::from_secs(60))
}

async fn ready(State(ctx): State<Context>) -> (StatusCode, String) {
    let (code, body) = ctx.health.readiness().http(); // kubewhy: 200 or 503, one line per check
    let code = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE); // kubewhy
    (code, body)
}

async fn serve_metrics(State(ctx): State<Context>) -> String {
    let mut text = String::new();
    kubewhy::prometheus_client::encoding::text::encode(&mut text, &ctx.registry)
        .map_or_else(|e| e.to_string(), |()| text)
}

async fn run(client: Client, namespace: &str) -> anyhow::Result<()> {
    let mut registry = Registry::default();
    let metrics = kubewhy::metrics::Metrics::default(); // kubewhy
    metrics.register(&mut registry); // kubewhy
    let health = Health::new(Policy::in_cluster()).with_metrics(metrics); // kubewhy
    let ctx = Context {
        client: client.clone(),
        health: health.clone(), // kubewhy
        registry: Arc::new(registry),
    };
    let app = axum::Router::new()
        .route("/ready", get(ready))
        .route("/metrics", get(serve_metrics))
        .with_state(ctx.clone());
    let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let configmaps = Api::<ConfigMap>::namespaced(client, namespace);
    let watch = Watch::new("configmaps", &health); // kubewhy: a named, diagnosed watcher
    kubewhy::controller::diagnosed(configmaps, watcher::Config::default(), watch) // kubewhy: was Controller::new
        .run(reconcile, error_policy, Arc::new(ctx))
        .for_each(|_| futures::future::ready(()))
        .await;
    server.abort();
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt().with_env_filter("info").init();
    let namespace = std::env::args().nth(1).unwrap_or_else(|| "default".into());
    let client = Client::try_default().await?;
    run(client, &namespace).await
}
