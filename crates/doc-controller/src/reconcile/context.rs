//! What every reconcile shares: the [`Context`] (client, event recorder, caches, metrics, back-off) and the
//! names doc-controller writes under (its finalizer and its server-side apply field manager).

use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Client;
use kube::runtime::reflector::{ObjectRef, Store};

use crate::backoff::ErrorBackoff;
use crate::document::Document;
use crate::metrics::Metrics;
use crate::needs::NAME;
use crate::recorder::Recorder;

/// The finalizer that guards a Document's deletion until its ConfigMap is removed.
pub const FINALIZER: &str = "documents.kube.rs/cleanup";
/// The server-side apply field manager for statuses and ConfigMaps.
pub const FIELD_MANAGER: &str = NAME;

/// What every reconcile shares.
pub struct Context {
    /// The client (its identity is the controller's).
    pub client: Client,
    /// Publishes events (and aggregates repeats into series).
    pub recorder: Recorder,
    /// The cache of ConfigMaps labelled `app.kubernetes.io/managed-by=doc-controller`.
    pub configmaps: Store<ConfigMap>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Per-object retry delays.
    pub backoff: ErrorBackoff<ObjectRef<Document>>,
    /// The client's request recorder: a failed reconcile's log names the request that failed.
    pub inspector: Option<kubewhy::trace::Inspector>,
}
