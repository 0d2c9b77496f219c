//! What every reconcile shares: the [`Context`] (client, event recorder, caches, metrics, kubewhy's back-off and
//! health registry, the last writes the cache has not caught up with) and the
//! names doc-controller writes under (its finalizer and its server-side apply field manager).

use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::Client;
use kube::runtime::reflector::Store;

use kubewhy::retry::Retry;
use kubewhy::stale::LastWrites;
use kubewhy::watch::Health;

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
    /// kubewhy's per-object back-off (how many Documents back off).
    pub retry: Retry<Document>,
    /// kubewhy's health registry: its shared log of causes (one line per cause per interval).
    pub health: Health,
    /// The resourceVersion of this controller's last write to each Document, until the cache has caught up with it
    /// (a reconcile of a Document whose cache is older waits: see `controller`).
    pub writes: Arc<LastWrites<Document>>,
}
