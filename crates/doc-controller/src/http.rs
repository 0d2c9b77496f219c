//! The HTTP endpoints (axum): `/metrics` (Prometheus text format), `/healthz` (liveness: the process serves
//! requests) and `/readyz` (readiness: kubewhy's report — every declared watcher synced and healthy, every needed
//! permission allowed, every named check passing; the body lists each and, when one fails, why; `?format=json`
//! gives the report as JSON). The report is plain data: any HTTP stack could answer it the same way.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus_client::registry::Registry;
use tracing::{error, info};

use kubewhy::watch::Health;

use crate::shutdown::Shutdown;

#[derive(Clone)]
struct AppState {
    registry: Arc<Registry>,
    health: Health,
}

/// The router (exposed for tests and for adding endpoints).
pub fn router(registry: Arc<Registry>, health: Health) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(AppState { registry, health })
}

/// `/readyz?format=json`.
#[derive(serde::Deserialize)]
struct ReadyzQuery {
    format: Option<String>,
}

async fn metrics(State(state): State<AppState>) -> Response {
    match crate::metrics::encode(&state.registry) {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            error!(error = %e, "encoding the metrics failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("encoding the metrics failed: {e}\n"),
            )
                .into_response()
        }
    }
}

async fn readyz(State(state): State<AppState>, Query(query): Query<ReadyzQuery>) -> Response {
    let report = state.health.readiness();
    let code =
        StatusCode::from_u16(report.status_code()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    match query.format.as_deref() {
        Some("json") => match serde_json::to_string_pretty(&report) {
            Ok(json) => (code, [(header::CONTENT_TYPE, "application/json")], json).into_response(),
            Err(e) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("encoding the readiness report failed: {e}\n"),
            )
                .into_response(),
        },
        _ => (code, report.text()).into_response(),
    }
}

/// The HTTP endpoints' address could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen on {addr} for /metrics, /healthz and /readyz")]
pub struct BindError {
    /// The address.
    pub addr: SocketAddr,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// Binds `addr` (fails with a clear message when it cannot).
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, BindError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| BindError { addr, source })
}

/// Serves until `shutdown` is pulled.
pub async fn serve(listener: tokio::net::TcpListener, router: Router, shutdown: Shutdown) {
    match listener.local_addr() {
        Ok(addr) => info!(%addr, "serving /metrics, /healthz and /readyz"),
        Err(e) => error!(error = %e, "the HTTP listener has no local address"),
    }
    // With the client's address: /debug answers loopback clients only by default.
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    if let Err(e) = axum::serve(listener, service)
        .with_graceful_shutdown(shutdown.wait())
        .await
    {
        error!(error = %e, "the HTTP server failed; /metrics, /healthz and /readyz are unavailable");
    }
}
