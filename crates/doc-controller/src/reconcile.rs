//! One reconcile of one Document: the finalizer, the `HideRequested` / `DeleteRequested` events, the published
//! ConfigMap, and the status — plus what happens when any of it fails (a `Ready=False` condition carrying the
//! error, a Warning event, and a per-object retry with growing delays).
//!
//! Every step is idempotent and reads the world from the caches first, so a reconcile of an up-to-date Document
//! sends no request at all.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, Preconditions};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::finalizer::{self, finalizer};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::backoff::ErrorBackoff;
use crate::controller::Queue;
use crate::document::{self, Document, DocumentStatus, PUBLISHED, READY};
use crate::metrics::{Metrics, Outcome};
use crate::needs::NAME;

/// The finalizer that guards a Document's deletion until its ConfigMap is removed.
pub const FINALIZER: &str = "documents.kube.rs/cleanup";
/// The label on every ConfigMap doc-controller publishes (value [`NAME`]); the ConfigMap cache selects on it.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The server-side apply field manager for statuses and ConfigMaps.
pub const FIELD_MANAGER: &str = NAME;
/// Condition messages and event notes longer than this are cut (events allow 1 kB).
const MAX_MESSAGE: usize = 1000;

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
    /// The periodic resync interval (requeue after a success).
    pub resync: Duration,
    /// The queue-depth tracker.
    pub queue: Arc<Queue>,
    /// The client's request recorder: a failed reconcile's log names the request that failed.
    pub inspector: Option<kubewhy::trace::Inspector>,
}

/// A failed reconcile step.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Adding the finalizer failed.
    #[error("adding the finalizer `{FINALIZER}` failed")]
    AddFinalizer(#[source] kube::Error),
    /// Removing the finalizer failed.
    #[error("removing the finalizer `{FINALIZER}` failed")]
    RemoveFinalizer(#[source] kube::Error),
    /// The object lacks what every object from the API server has.
    #[error("the Document cannot be reconciled: {0}")]
    Malformed(String),
    /// An event could not be published.
    #[error("publishing the `{reason}` event failed")]
    PublishEvent {
        /// The event's reason.
        reason: &'static str,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Reading a ConfigMap failed.
    #[error("reading ConfigMap {namespace}/{name} failed")]
    ReadConfigMap {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// A ConfigMap of the Document's name exists and belongs to someone else.
    #[error(
        "ConfigMap {namespace}/{name} already exists and is not owned by this Document, so doc-controller will not \
         overwrite it; delete or rename that ConfigMap (doc-controller then publishes on its next retry), or stop \
         publishing this Document (`spec.publish: false`)"
    )]
    ForeignConfigMap {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// Creating or repairing the published ConfigMap failed.
    #[error("publishing ConfigMap {namespace}/{name} failed")]
    ApplyConfigMap {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Deleting the published ConfigMap failed.
    #[error("deleting ConfigMap {namespace}/{name} failed")]
    DeleteConfigMap {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Writing the status failed.
    #[error("writing the Document's status failed")]
    PatchStatus(#[source] kube::Error),
}

impl Error {
    /// The error class for metrics and logs: `configmap-conflict` for a foreign ConfigMap, otherwise the class of the
    /// API failure underneath (kubewhy's class names: `forbidden`, `object-not-found`, `conflict`, ...).
    pub fn class(&self) -> &'static str {
        match self {
            Error::ForeignConfigMap { .. } => "configmap-conflict",
            Error::Malformed(_) => "malformed-object",
            // The same class the watchers and `kubewhy explain` report.
            _ => self
                .api_error()
                .map_or("unknown", |e| kubewhy::diagnose(e).class.as_str()),
        }
    }

    /// The API error underneath, when a request to the API server failed.
    pub fn api_error(&self) -> Option<&kube::Error> {
        match self {
            Error::ForeignConfigMap { .. } | Error::Malformed(_) => None,
            Error::AddFinalizer(e)
            | Error::RemoveFinalizer(e)
            | Error::PatchStatus(e)
            | Error::PublishEvent { source: e, .. }
            | Error::ReadConfigMap { source: e, .. }
            | Error::ApplyConfigMap { source: e, .. }
            | Error::DeleteConfigMap { source: e, .. } => Some(e),
        }
    }
}

/// The error and its causes on one line (`publishing ConfigMap ns/x failed: configmaps "x" is forbidden: ... (403
/// Forbidden)`); API errors show the server's message, reason and code rather than kube's long Debug form.
pub fn describe(err: &(dyn StdError + 'static)) -> String {
    let mut out = String::new();
    let mut next: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = next {
        if !out.is_empty() {
            out.push_str(": ");
        }
        if let Some(kube::Error::Api(s)) = e.downcast_ref::<kube::Error>() {
            out.push_str(&format!("{} ({} {})", s.message.trim(), s.code, s.reason));
            break;
        }
        out.push_str(&e.to_string());
        next = e.source();
    }
    out
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max.saturating_sub(3);
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

/// Reconciles one Document (the `Controller`'s reconcile function).
pub async fn reconcile(doc: Arc<Document>, ctx: Arc<Context>) -> Result<Action, Error> {
    let key = ObjectRef::from_obj(&*doc);
    ctx.queue.started(&key);
    let span = info_span!(
        "reconcile",
        namespace = doc.namespace().unwrap_or_default(),
        name = doc.name_any(),
        generation = doc.metadata.generation.unwrap_or_default(),
    );
    async move {
        let timer = ctx.metrics.reconcile_started();
        let result = reconcile_inner(doc.clone(), &ctx).await;
        match &result {
            Ok(action) => {
                ctx.backoff.succeeded(&key);
                timer.finish(Outcome::Success);
                debug!(?action, "reconciled");
            }
            Err(err) => {
                timer.finish(Outcome::Error);
                report_failure(&doc, err, &ctx).await;
            }
        }
        ctx.metrics.set_in_backoff(ctx.backoff.failing());
        result
    }
    .instrument(span)
    .await
}

/// Decides when to retry a failed Document (the `Controller`'s error policy): per-object exponential back-off.
pub fn error_policy(doc: Arc<Document>, err: &Error, ctx: Arc<Context>) -> Action {
    let key = ObjectRef::from_obj(&*doc);
    let retry = ctx.backoff.failed(&key);
    ctx.metrics.failure(err.class());
    ctx.metrics.set_in_backoff(ctx.backoff.failing());
    // The failed request (from the client's request recorder) and kubewhy's diagnosis of it, when the API failed.
    let diagnosis = err.api_error().map(|e| {
        let request = ctx.inspector.as_ref().and_then(|i| i.request_for(e));
        kubewhy::diagnose_in(e, request.as_ref())
    });
    let (verb, url, help) = diagnosis.as_ref().map_or(("", "", ""), |d| {
        (
            d.request.verb.as_deref().unwrap_or(""),
            d.request.url.as_deref().unwrap_or(""),
            d.remedy.text.lines().next().unwrap_or(""),
        )
    });
    warn!(
        namespace = doc.namespace().unwrap_or_default(),
        name = doc.name_any(),
        attempt = retry.attempt,
        retry_in_ms = u64::try_from(retry.delay.as_millis()).unwrap_or(u64::MAX),
        class = err.class(),
        error = %describe(err),
        verb,
        url,
        help,
        "reconcile failed; retrying with back-off"
    );
    Action::requeue(retry.delay)
}

async fn reconcile_inner(doc: Arc<Document>, ctx: &Context) -> Result<Action, Error> {
    let namespace = doc
        .namespace()
        .ok_or_else(|| Error::Malformed("it has no namespace".into()))?;
    let api: Api<Document> = Api::namespaced(ctx.client.clone(), &namespace);
    let result = finalizer(&api, FINALIZER, doc, |event| async {
        match event {
            finalizer::Event::Apply(doc) => apply(&doc, ctx).await,
            finalizer::Event::Cleanup(doc) => cleanup(&doc, ctx).await,
        }
    })
    .await;
    match result {
        Ok(action) => Ok(action),
        // The finalizer was ours to remove and the object is gone: an earlier reconcile (or another replica
        // during a hand-over) already finished the cleanup. Nothing is left to do.
        Err(finalizer::Error::RemoveFinalizer(kube::Error::Api(s))) if s.code == 404 => {
            debug!("the Document is already gone: its cleanup is complete");
            Ok(Action::await_change())
        }
        Err(e) => Err(match e {
            finalizer::Error::ApplyFailed(e) | finalizer::Error::CleanupFailed(e) => e,
            finalizer::Error::AddFinalizer(e) => Error::AddFinalizer(e),
            finalizer::Error::RemoveFinalizer(e) => Error::RemoveFinalizer(e),
            other => Error::Malformed(other.to_string()),
        }),
    }
}

/// The Document exists and is not being deleted.
async fn apply(doc: &Document, ctx: &Context) -> Result<Action, Error> {
    let status = doc.status.clone().unwrap_or_default();
    if doc.spec.hide && !status.hidden {
        info!("hiding the Document");
        publish(
            doc,
            ctx,
            EventType::Normal,
            "HideRequested",
            "Hiding",
            format!("Hiding `{}`", doc.name_any()),
        )
        .await?;
    }
    let published = if doc.spec.publish && !doc.spec.hide {
        Some(ensure_config_map(doc, ctx).await?)
    } else {
        remove_config_map(doc, ctx).await?;
        None
    };
    write_status(doc, &status, desired_status(doc, published), ctx).await?;
    Ok(Action::requeue(ctx.resync))
}

/// The Document is being deleted and still carries the finalizer.
async fn cleanup(doc: &Document, ctx: &Context) -> Result<Action, Error> {
    info!("deleting the Document: removing what it published");
    publish(
        doc,
        ctx,
        EventType::Normal,
        "DeleteRequested",
        "Deleting",
        format!("Delete `{}`", doc.name_any()),
    )
    .await?;
    remove_config_map(doc, ctx).await?;
    Ok(Action::await_change())
}

async fn publish(
    doc: &Document,
    ctx: &Context,
    type_: EventType,
    reason: &'static str,
    action: &str,
    note: String,
) -> Result<(), Error> {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(truncate(note, MAX_MESSAGE)),
        action: action.into(),
        secondary: None,
    };
    ctx.recorder
        .publish(&event, &doc.object_ref(&()))
        .await
        .map_err(|source| Error::PublishEvent { reason, source })
}

/// The ConfigMap a published Document should have.
pub fn desired_config_map(doc: &Document) -> Result<ConfigMap, Error> {
    let owner = doc
        .controller_owner_ref(&())
        .ok_or_else(|| Error::Malformed("it has no name or uid".into()))?;
    Ok(ConfigMap {
        metadata: ObjectMeta {
            name: Some(doc.name_any()),
            namespace: doc.namespace(),
            labels: Some(BTreeMap::from([(MANAGED_BY.into(), NAME.into())])),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([
            ("title".into(), doc.spec.title.clone()),
            ("content".into(), doc.spec.content.clone()),
        ])),
        ..ConfigMap::default()
    })
}

/// Whether a ConfigMap is owned by this Document (an ownerReference with its uid).
fn owned_by(cm: &ConfigMap, doc: &Document) -> bool {
    let Some(uid) = doc.uid() else { return false };
    cm.owner_references().iter().any(|o| o.uid == uid)
}

/// Whether a ConfigMap already says what the desired one says (fields of other managers are left alone, as
/// server-side apply does).
fn up_to_date(cm: &ConfigMap, desired: &ConfigMap, doc: &Document) -> bool {
    let data = |c: &ConfigMap, k: &str| c.data.as_ref().and_then(|d| d.get(k).cloned());
    owned_by(cm, doc)
        && cm.labels().get(MANAGED_BY).map(String::as_str) == Some(NAME)
        && data(cm, "title") == data(desired, "title")
        && data(cm, "content") == data(desired, "content")
}

/// The published ConfigMap from the cache, or from the API server when the cache has none (a ConfigMap without
/// our label is never cached; a new one may not be cached yet).
async fn find_config_map(doc: &Document, ctx: &Context) -> Result<Option<Arc<ConfigMap>>, Error> {
    let namespace = doc.namespace().unwrap_or_default();
    let name = doc.name_any();
    let key = ObjectRef::<ConfigMap>::new(&name).within(&namespace);
    if let Some(cm) = ctx.configmaps.get(&key) {
        return Ok(Some(cm));
    }
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &namespace);
    api.get_opt(&name)
        .await
        .map(|cm| cm.map(Arc::new))
        .map_err(|source| Error::ReadConfigMap {
            namespace,
            name,
            source,
        })
}

/// Creates or repairs the published ConfigMap; returns its name.
async fn ensure_config_map(doc: &Document, ctx: &Context) -> Result<String, Error> {
    let namespace = doc.namespace().unwrap_or_default();
    let name = doc.name_any();
    let desired = desired_config_map(doc)?;
    match find_config_map(doc, ctx).await? {
        Some(cm) if !owned_by(&cm, doc) => {
            return Err(Error::ForeignConfigMap { namespace, name });
        }
        Some(cm) if up_to_date(&cm, &desired, doc) => return Ok(name),
        Some(_) => info!("repairing the published ConfigMap"),
        None => info!("publishing the Document as a ConfigMap"),
    }
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &namespace);
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&desired),
    )
    .await
    .map_err(|source| Error::ApplyConfigMap {
        namespace,
        name: name.clone(),
        source,
    })?;
    Ok(name)
}

/// Deletes the published ConfigMap if there is one owned by this Document.
async fn remove_config_map(doc: &Document, ctx: &Context) -> Result<(), Error> {
    let namespace = doc.namespace().unwrap_or_default();
    let name = doc.name_any();
    let key = ObjectRef::<ConfigMap>::new(&name).within(&namespace);
    let might_exist = doc.spec.publish
        || doc
            .status
            .as_ref()
            .is_some_and(|s| s.published_config_map.is_some());
    let cm = match ctx.configmaps.get(&key) {
        Some(cm) => Some(cm),
        None if might_exist => find_config_map(doc, ctx).await?,
        None => None,
    };
    let Some(cm) = cm.filter(|cm| owned_by(cm, doc)) else {
        return Ok(());
    };
    info!("removing the published ConfigMap");
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &namespace);
    let params = DeleteParams {
        // Only the ConfigMap we saw: if it was replaced meanwhile, the new one is not ours to delete.
        preconditions: Some(Preconditions {
            uid: cm.uid(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(&name, &params).await {
        Ok(_) => Ok(()),
        // Already gone (404), or replaced by another object (409 on the uid precondition): nothing of ours is left.
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
        Err(source) => Err(Error::DeleteConfigMap {
            namespace,
            name,
            source,
        }),
    }
}

/// The status a successful reconcile leaves.
pub fn desired_status(doc: &Document, published: Option<String>) -> DocumentStatus {
    let generation = doc.metadata.generation;
    let previous = |t: &str| doc.condition(t);
    let what = match (&published, doc.spec.hide) {
        (Some(cm), _) => format!("the Document is visible and published as ConfigMap {cm}"),
        (None, true) => "the Document is hidden".to_string(),
        (None, false) => "the Document is visible".to_string(),
    };
    let mut conditions = vec![document::condition(
        READY,
        true,
        "Reconciled",
        what,
        generation,
        previous(READY),
    )];
    if doc.spec.publish {
        conditions.push(match &published {
            Some(cm) => document::condition(
                PUBLISHED,
                true,
                "ConfigMapPublished",
                format!("published as ConfigMap {cm}"),
                generation,
                previous(PUBLISHED),
            ),
            None => document::condition(
                PUBLISHED,
                false,
                "Hidden",
                "a hidden Document is not published",
                generation,
                previous(PUBLISHED),
            ),
        });
    }
    DocumentStatus {
        hidden: doc.spec.hide,
        observed_generation: generation,
        conditions,
        published_config_map: published,
    }
}

/// Writes `desired` by server-side apply unless the current status already says the same.
async fn write_status(
    doc: &Document,
    current: &DocumentStatus,
    desired: DocumentStatus,
    ctx: &Context,
) -> Result<(), Error> {
    if doc.status.is_some() && document::same_status(current, &desired) {
        return Ok(());
    }
    let api: Api<Document> =
        Api::namespaced(ctx.client.clone(), &doc.namespace().unwrap_or_default());
    let patch = json!({
        "apiVersion": Document::api_version(&()),
        "kind": Document::kind(&()),
        "status": desired,
    });
    api.patch_status(
        &doc.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(Error::PatchStatus)?;
    debug!("status written");
    Ok(())
}

/// Makes a failure visible on the object: `Ready=False` with the error as message, and a Warning event. Both are
/// best effort: when they fail too (say RBAC forbids them), the log says so next to the original error.
async fn report_failure(doc: &Document, err: &Error, ctx: &Context) {
    let message = truncate(describe(err), MAX_MESSAGE);
    if let Err(e) = publish(
        doc,
        ctx,
        EventType::Warning,
        "ReconcileFailed",
        "Reconciling",
        message.clone(),
    )
    .await
    {
        warn!(error = %describe(&e), "could not record the failure as a Warning event");
    }
    if doc.metadata.deletion_timestamp.is_some() {
        return; // nobody reads the status of a Document being deleted; the event and the log carry the error
    }
    let current = doc.status.clone().unwrap_or_default();
    let mut failed = current.clone();
    failed.observed_generation = doc.metadata.generation;
    failed.conditions.retain(|c| c.type_ != READY);
    failed.conditions.insert(
        0,
        document::condition(
            READY,
            false,
            "ReconcileFailed",
            message,
            doc.metadata.generation,
            doc.condition(READY),
        ),
    );
    if let Err(e) = write_status(doc, &current, failed, ctx).await {
        warn!(error = %describe(&e), "could not record the failure in the status");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DocumentSpec;

    fn doc(hide: bool, publish: bool) -> Document {
        let mut d = Document::new(
            "d",
            DocumentSpec {
                title: "t".into(),
                content: "c".into(),
                hide,
                publish,
            },
        );
        d.metadata.namespace = Some("ns".into());
        d.metadata.uid = Some("uid-1".into());
        d.metadata.generation = Some(3);
        d
    }

    #[test]
    fn status_reflects_the_spec() {
        let s = desired_status(&doc(false, false), None);
        assert!(!s.hidden);
        assert_eq!(s.observed_generation, Some(3));
        assert_eq!(s.conditions.len(), 1);
        assert_eq!(s.conditions[0].type_, READY);
        let s = desired_status(&doc(false, true), Some("d".into()));
        assert_eq!(s.conditions[1].type_, PUBLISHED);
        assert_eq!(s.conditions[1].status, "True");
        assert_eq!(s.published_config_map.as_deref(), Some("d"));
        let s = desired_status(&doc(true, true), None);
        assert!(s.hidden);
        assert_eq!(s.conditions[1].status, "False");
        assert_eq!(s.conditions[1].reason, "Hidden");
    }

    #[test]
    fn the_config_map_is_owned_labelled_and_compared_on_its_data() {
        let d = doc(false, true);
        let cm = desired_config_map(&d).unwrap();
        assert!(owned_by(&cm, &d));
        assert!(up_to_date(&cm, &cm, &d));
        let owner = &cm.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(owner.controller, Some(true));
        assert_eq!(owner.kind, "Document");
        let mut edited = cm.clone();
        edited
            .data
            .as_mut()
            .unwrap()
            .insert("title".into(), "x".into());
        assert!(!up_to_date(&edited, &cm, &d));
        let mut foreign = cm.clone();
        foreign.metadata.owner_references = None;
        assert!(!owned_by(&foreign, &d));
    }

    #[test]
    fn api_errors_are_described_by_the_server_message() {
        let message = "configmaps \"d\" is forbidden: User \"system:serviceaccount:ns:sa\" cannot patch resource \
                       \"configmaps\" in API group \"\" in the namespace \"ns\"";
        let status = kube::core::Status::failure(message, "Forbidden").with_code(403);
        let err = Error::ApplyConfigMap {
            namespace: "ns".into(),
            name: "d".into(),
            source: kube::Error::Api(Box::new(status)),
        };
        assert_eq!(
            describe(&err),
            format!("publishing ConfigMap ns/d failed: {message} (403 Forbidden)")
        );
        assert_eq!(err.class(), "forbidden");
        // A 403 that names no denied verb is not RBAC's: kubewhy classes it as an admission denial.
        let webhook =
            kube::core::Status::failure("configmaps \"d\" is forbidden: nope", "Forbidden")
                .with_code(403);
        let err = Error::ApplyConfigMap {
            namespace: "ns".into(),
            name: "d".into(),
            source: kube::Error::Api(Box::new(webhook)),
        };
        assert_eq!(err.class(), "admission-denied");
        assert_eq!(truncate("ééé".into(), 5), "é...");
    }
}
