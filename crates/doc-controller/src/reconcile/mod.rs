//! One reconcile of one Document: the finalizer, the `HideRequested` / `DeleteRequested` events, the published
//! ConfigMap, and the status — plus what happens when any of it fails (a `Ready=False` condition carrying the
//! error and a Warning event, unless the API server itself failed; the retry is kubewhy's per-object back-off).
//!
//! Every step is idempotent and reads the world from the caches first, so a reconcile of an up-to-date Document
//! sends no request at all. Writes that do not depend on each other go out together (an event beside the status,
//! the deletion's event beside the finalizer's removal). This module holds the controller's two functions,
//! [`reconcile`] and [`error_policy`], and the flow between them; each step lives in its own module: `context` (what
//! every reconcile shares), `error` (a failed step), `events`, `finalizer`, `publish` (the ConfigMap), `status` and
//! `report` (a failure made visible on the Document).

mod context;
mod error;
mod events;
mod finalizer;
mod publish;
mod report;
mod status;

use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::events::EventType;
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

/// Reconciles one Document. An up-to-date Document costs no request; the periodic resync visits it again. Run it
/// through kubewhy's per-object back-off (`ctx.retry.attempt`), which resets on success.
pub async fn reconcile(doc: Arc<Document>, ctx: Arc<Context>) -> Result<(), Error> {
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
                timer.finish(Outcome::Success);
                debug!("reconciled");
            }
            Err(err) => {
                timer.finish(Outcome::Error);
                let cause = kubewhy::diagnose_error(err).cause;
                if kubewhy::watch::is_server_wide(&cause) {
                    // The API server (or the connection, or the credentials) failed, not this Document: writing
                    // its status or an event would fail the same way, once per Document.
                    debug!(
                        "not recording the failure on the Document: {}",
                        cause.kind()
                    );
                } else {
                    report::report_failure(&doc, err, &ctx).await;
                }
            }
        }
        result
    }
    .instrument(span)
    .await
}

/// Decides when to retry a failed Document: kubewhy's per-object back-off (the schedule by the diagnosed cause,
/// logged once per cause, counted), and doc-controller's own metrics. Returns the delay.
pub fn error_policy(doc: &Document, err: &Error, ctx: &Context) -> Duration {
    let retry = ctx.retry.failed(doc, err);
    ctx.metrics.failure(err.class());
    retry.delay
}

async fn reconcile_inner(doc: Arc<Document>, ctx: &Context) -> Result<(), Error> {
    let namespace = doc
        .namespace()
        .ok_or_else(|| Error::Malformed("it has no namespace".into()))?;
    let api: Api<Document> = Api::namespaced(ctx.client.clone(), &namespace);
    match (
        finalizer::position(&doc),
        doc.metadata.deletion_timestamp.is_some(),
    ) {
        // First the finalizer; its watch event brings the next reconcile, which finds it there.
        (None, false) => finalizer::add(&api, &doc).await,
        (Some(_), false) => apply(&doc, ctx).await,
        (Some(index), true) => cleanup(&doc, index, &api, ctx).await,
        // Being deleted and no longer ours: nothing left to do.
        (None, true) => Ok(()),
    }
}

/// Both results, or the first failure; a second failure is logged so that it is not lost.
fn both(first: Result<(), Error>, second: Result<(), Error>) -> Result<(), Error> {
    match (first, second) {
        (Err(e), Err(also)) => {
            warn!(error = %describe(&also), "a second step of the reconcile failed too");
            Err(e)
        }
        (Err(e), Ok(())) | (Ok(()), Err(e)) => Err(e),
        (Ok(()), Ok(())) => Ok(()),
    }
}

/// The Document exists, carries the finalizer and is not being deleted. The `HideRequested` event and the rest
/// (ConfigMap, status) are sent together: neither waits for the other.
async fn apply(doc: &Document, ctx: &Context) -> Result<(), Error> {
    let status = doc.status.clone().unwrap_or_default();
    let event = async {
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
            .await
        } else {
            Ok(())
        }
    };
    let rest = async {
        let published = if publishes(doc) {
            Some(publish::ensure_config_map(doc, ctx).await?)
        } else {
            publish::remove_config_map(doc, ctx).await?;
            None
        };
        status::write_status(doc, &status, desired_status(doc, published), ctx).await
    };
    let (rest, event) = tokio::join!(rest, event);
    both(rest, event)
}

/// The Document is being deleted and still carries the finalizer at `index`: its ConfigMap goes first, then the
/// `DeleteRequested` event and the finalizer's removal together (the deletion does not wait on an event; a failed
/// event is reported like any failed step, though the Document may be gone by then).
async fn cleanup(
    doc: &Document,
    index: usize,
    api: &Api<Document>,
    ctx: &Context,
) -> Result<(), Error> {
    info!("deleting the Document: removing what it published");
    publish::remove_config_map(doc, ctx).await?;
    let event = events::publish(
        doc,
        ctx,
        EventType::Normal,
        "DeleteRequested",
        "Deleting",
        format!("Delete `{}`", doc.name_any()),
    );
    let (removed, event) = tokio::join!(finalizer::remove(api, doc, index), event);
    let removed = match removed {
        // The object is gone: an earlier reconcile (or another replica during a hand-over) already finished the
        // cleanup. Nothing is left to do.
        Err(Error::RemoveFinalizer(kube::Error::Api(s))) if s.code == 404 => {
            debug!("the Document is already gone: its cleanup is complete");
            Ok(())
        }
        other => other,
    };
    both(removed, event)
}
