//! `/debug/rbac`: what this process has used of the Kubernetes API so far, as recorded by kubewhy's request
//! inspector — as JSON with counts (`/debug/rbac`), as needs YAML (`/debug/rbac/needs.yaml`, the format of
//! `doc-controller needs`) and as the RBAC granting exactly that (`/debug/rbac/rbac.yaml`). Served on the HTTP
//! port to loopback clients only by default (`kubectl port-forward` arrives on loopback): what a program does is
//! not for everyone who can reach its metrics.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kubewhy::needs::{Needs, ResourceType};
use kubewhy::rbac::Subject;
use kubewhy::trace::Inspector;

use crate::needs::{DEPLOY_NAMESPACE, NAME};

/// Who may read `/debug/*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DebugAccess {
    /// Clients on loopback only (`kubectl port-forward`, a sidecar, the node itself).
    Loopback,
    /// Every client that reaches the HTTP port.
    Any,
    /// Nobody: the endpoints answer 404.
    Off,
}

#[derive(Clone)]
struct DebugState {
    inspector: Inspector,
    types: Vec<ResourceType>,
    access: DebugAccess,
}

/// The `/debug/rbac` routes, reading what `inspector` recorded; `declared` gives the kinds of the resource types
/// doc-controller knows (a request names none).
pub fn router(inspector: Inspector, declared: &Needs, access: DebugAccess) -> Router {
    let mut types: Vec<ResourceType> = declared.needs.iter().map(|n| n.resource.clone()).collect();
    types.dedup();
    Router::new()
        .route("/debug/rbac", get(used_json))
        .route("/debug/rbac/needs.yaml", get(used_needs))
        .route("/debug/rbac/rbac.yaml", get(used_rbac))
        .with_state(DebugState {
            inspector,
            types,
            access,
        })
}

/// `None` when the client may read; the refusal otherwise.
fn refused(state: &DebugState, peer: SocketAddr) -> Option<Response> {
    match state.access {
        DebugAccess::Any => None,
        DebugAccess::Loopback if peer.ip().is_loopback() => None,
        DebugAccess::Loopback => Some(
            (
                StatusCode::FORBIDDEN,
                "/debug is served to loopback clients only: use `kubectl port-forward`, or start doc-controller \
                 with --debug-access any\n",
            )
                .into_response(),
        ),
        DebugAccess::Off => Some((StatusCode::NOT_FOUND, "/debug is off (--debug-access off)\n").into_response()),
    }
}

async fn used_json(
    State(state): State<DebugState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    if let Some(no) = refused(&state, peer) {
        return no;
    }
    match serde_json::to_string_pretty(&state.inspector.used()) {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json + "\n").into_response(),
        Err(e) => failed("encoding the recorded use as JSON", &e),
    }
}

async fn used_needs(
    State(state): State<DebugState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    if let Some(no) = refused(&state, peer) {
        return no;
    }
    match state.inspector.used().needs(NAME, &state.types).to_yaml() {
        Ok(yaml) => yaml_response(yaml),
        Err(e) => failed("encoding the recorded use as needs YAML", &e),
    }
}

/// `?subject=system:serviceaccount:<ns>:<name>` names who the RBAC is for (default: the shipped ServiceAccount).
#[derive(serde::Deserialize)]
struct RbacQuery {
    subject: Option<String>,
}

async fn used_rbac(
    State(state): State<DebugState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(query): Query<RbacQuery>,
) -> Response {
    if let Some(no) = refused(&state, peer) {
        return no;
    }
    let subject = query.subject.as_deref().map_or_else(
        || Subject::ServiceAccount {
            namespace: DEPLOY_NAMESPACE.into(),
            name: NAME.into(),
        },
        Subject::from_username,
    );
    match state.inspector.used().rbac_yaml(NAME, &subject) {
        Ok(yaml) => yaml_response(yaml),
        Err(e) => failed("encoding the recorded use as RBAC YAML", &e),
    }
}

fn yaml_response(yaml: String) -> Response {
    ([(header::CONTENT_TYPE, "application/yaml")], yaml).into_response()
}

fn failed(what: &str, e: &dyn std::error::Error) -> Response {
    tracing::error!(error = %e, "{what} failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("{what} failed: {e}\n"),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(access: DebugAccess) -> DebugState {
        let config = kube::Config::new("https://127.0.0.1:6443".parse().expect("a URL"));
        DebugState {
            inspector: Inspector::new(&config),
            types: Vec::new(),
            access,
        }
    }

    #[test]
    fn debug_endpoints_answer_loopback_clients_by_default() {
        let local: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let remote: SocketAddr = "10.0.0.7:40000".parse().unwrap();
        assert!(refused(&state(DebugAccess::Loopback), local).is_none());
        let no = refused(&state(DebugAccess::Loopback), remote).expect("refused");
        assert_eq!(no.status(), StatusCode::FORBIDDEN);
        assert!(refused(&state(DebugAccess::Any), remote).is_none());
        let off = refused(&state(DebugAccess::Off), local).expect("refused");
        assert_eq!(off.status(), StatusCode::NOT_FOUND);
    }
}
