//! One reconcile of one Document: the finalizer, the `HideRequested` / `DeleteRequested` events, the published
//! ConfigMap, and the status — plus what happens when any of it fails (a `Ready=False` condition carrying the
//! error, a Warning event, and a per-object retry with growing delays).
//!
//! Every step is idempotent and reads the world from the caches first, so a reconcile of an up-to-date Document
//! sends no request at all. This module holds the Controller's two functions, [`reconcile`] and [`error_policy`],
//! and the flow between them; each step lives in its own module: `context` (what every reconcile shares), `error`
//! (a failed step), `events`, `publish` (the ConfigMap), `status` and `report` (a failure made visible on the
//! Document).

mod context;
mod error;
mod events;
mod publish;
mod report;
mod status;

use std::sync::Arc;

use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{self, finalizer};
use kube::runtime::reflector::ObjectRef;
use std::time::Duration;
use tracing::{Instrument, debug, info, info_span, warn};

pub use context::{Context, FIELD_MANAGER, FINALIZER};
pub use error::{Error, describe};
pub use publish::{MANAGED_BY, desired_config_map, trim_config_map};
pub use status::desired_status;

use crate::document::Document;
use crate::metrics::Outcome;

/// Whether a Document is published as a ConfigMap (and so the only kind whose content the reconciler reads).
pub fn publishes(doc: &Document) -> bool {
    doc.spec.publish && !doc.spec.hide
}

/// Reconciles one Document. An up-to-date Document costs no request; the periodic resync visits it again.
pub async fn reconcile(doc: Arc<Document>, ctx: Arc<Context>) -> Result<(), Error> {
    let key = ObjectRef::from_obj(&*doc);
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
            Ok(()) => {
                ctx.backoff.succeeded(&key);
                timer.finish(Outcome::Success);
                debug!("reconciled");
            }
            Err(err) => {
                timer.finish(Outcome::Error);
                report::report_failure(&doc, err, &ctx).await;
            }
        }
        ctx.metrics.set_in_backoff(ctx.backoff.failing());
        result
    }
    .instrument(span)
    .await
}

/// Decides when to retry a failed Document: per-object exponential back-off. Returns the delay.
pub fn error_policy(doc: Arc<Document>, err: &Error, ctx: Arc<Context>) -> Duration {
    let key = ObjectRef::from_obj(&*doc);
    let retry = ctx.backoff.failed(&key);
    ctx.metrics.failure(err.class());
    ctx.metrics.set_in_backoff(ctx.backoff.failing());
    // The failed request (from the client's request recorder) and kubewhy's diagnosis of it, when the API failed.
    let diagnosis = err.api_error().map(|e| {
        let request = ctx.inspector.as_ref().and_then(|i| i.request_for(e));
        kubewhy::diagnose_in(e, request.as_ref())
    });
    let help = diagnosis
        .as_ref()
        .map(|d| d.remedy().summary)
        .unwrap_or_default();
    let (verb, url) = diagnosis.as_ref().map_or(("", ""), |d| {
        (
            d.request.verb.as_deref().unwrap_or(""),
            d.request.url.as_deref().unwrap_or(""),
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
        help = help.as_str(),
        "reconcile failed; retrying with back-off"
    );
    retry.delay
}

async fn reconcile_inner(doc: Arc<Document>, ctx: &Context) -> Result<(), Error> {
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
        Ok(_) => Ok(()),
        // The finalizer was ours to remove and the object is gone: an earlier reconcile (or another replica
        // during a hand-over) already finished the cleanup. Nothing is left to do.
        Err(finalizer::Error::RemoveFinalizer(kube::Error::Api(s))) if s.code == 404 => {
            debug!("the Document is already gone: its cleanup is complete");
            Ok(())
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
        events::publish(
            doc,
            ctx,
            EventType::Normal,
            "HideRequested",
            "Hiding",
            format!("Hiding `{}`", doc.name_any()),
        )
        .await?;
    }
    let published = if publishes(doc) {
        Some(publish::ensure_config_map(doc, ctx).await?)
    } else {
        publish::remove_config_map(doc, ctx).await?;
        None
    };
    status::write_status(doc, &status, desired_status(doc, published), ctx).await?;
    Ok(Action::await_change())
}

/// The Document is being deleted and still carries the finalizer.
async fn cleanup(doc: &Document, ctx: &Context) -> Result<Action, Error> {
    info!("deleting the Document: removing what it published");
    events::publish(
        doc,
        ctx,
        EventType::Normal,
        "DeleteRequested",
        "Deleting",
        format!("Delete `{}`", doc.name_any()),
    )
    .await?;
    publish::remove_config_map(doc, ctx).await?;
    Ok(Action::await_change())
}
