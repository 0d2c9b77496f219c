//! One reconcile of one Document: the finalizer, the `HideRequested` / `DeleteRequested` events, the published
//! ConfigMap, and the status — plus what happens when any of it fails: each failed step is diagnosed once, where it
//! failed, with the request that failed ([`error::diagnose`]); that one diagnosis is what kubewhy's per-object back-off
//! schedules and logs (once per cause), what the metrics count and what the Document shows (a `Ready=False` condition
//! whose reason is the class and whose message is kubewhy's one-line diagnosis, and a Warning event with the same),
//! unless the API server itself failed.
//!
//! Every step is idempotent and reads the world from the caches first, so a reconcile of an up-to-date Document
//! sends no request at all. Writes that do not depend on each other go out together (an event beside the status,
//! the deletion's event beside the finalizer's removal); a second failure among them is its own, logged through the
//! same once-per-cause log. This module holds the controller's two functions, [`reconcile`] and [`on_failure`], and
//! the flow between them; each step lives in its own module: `context` (what every reconcile shares), `error` (a
//! failed step and its diagnosis), `events`, `finalizer`, `publish` (the ConfigMap), `status` and `report` (a failure
//! made visible on the Document).

mod context;
mod error;
mod events;
mod finalizer;
mod publish;
mod report;
mod status;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::events::{Event, EventType};
use kubewhy::Diagnosed;
use tracing::{Instrument, debug, info, info_span};

pub use context::{Context, FIELD_MANAGER, FINALIZER};
pub use error::{Error, diagnose, panicked};
pub use publish::{MANAGED_BY, desired_config_map, trim_config_map};
pub use status::desired_status;

use crate::document::Document;
use crate::metrics::Outcome;

/// Whether a Document is published as a ConfigMap (and so the only kind whose content the reconciler reads).
pub fn publishes(doc: &Document) -> bool {
    doc.spec.publish && !doc.spec.hide
}

/// Reconciles one Document. An up-to-date Document costs no request; the periodic resync visits it again. A failure
/// comes back diagnosed (once, where it happened). Run it through kubewhy's per-object back-off
/// (`ctx.retry.attempt`, which resets on success and takes the diagnosis as it is), then [`on_failure`].
pub async fn reconcile(doc: Arc<Document>, ctx: Arc<Context>) -> Result<(), Diagnosed> {
    let span = info_span!(
        "reconcile",
        namespace = doc.namespace().unwrap_or_default(),
        name = doc.name_any(),
        generation = doc.metadata.generation.unwrap_or_default(),
    );
    async move {
        let timer = ctx.metrics.reconcile_started();
        let result = reconcile_inner(&doc, &ctx).await;
        match &result {
            Ok(()) => {
                timer.finish(Outcome::Success);
                debug!("reconciled");
            }
            Err(_) => timer.finish(Outcome::Error),
        }
        result
    }
    .instrument(span)
    .await
}

/// A failed reconcile of `doc` (after `ctx.retry.attempt`): kubewhy's back-off schedules, logs (once per cause) and
/// counts its one diagnosis, which the metrics and the Document then show. Returns when to retry.
pub async fn on_failure(doc: &Document, err: &Diagnosed, ctx: &Context) -> Duration {
    let retry = ctx.retry.failed(doc, err);
    report::show(doc, &retry.diagnosis, ctx).await;
    retry.delay
}

/// Runs one step in a scope of its own: a failure is diagnosed there, once, with the request it failed on (two
/// steps sent together each name their own).
async fn step(
    doc: &Document,
    ctx: &Context,
    fut: impl Future<Output = Result<(), Error>>,
) -> Result<(), Diagnosed> {
    let (result, failed) = kubewhy::trace::recorded(fut).await;
    result.map_err(|e| error::diagnose(e, &failed, &ctx.health, doc))
}

async fn reconcile_inner(doc: &Document, ctx: &Context) -> Result<(), Diagnosed> {
    let Some(namespace) = doc.namespace() else {
        return step(doc, ctx, async {
            Err(Error::Malformed("it has no namespace".into()))
        })
        .await;
    };
    let api: Api<Document> = Api::namespaced(ctx.client.clone(), &namespace);
    match (
        finalizer::position(doc),
        doc.metadata.deletion_timestamp.is_some(),
    ) {
        // First the finalizer; its watch event brings the next reconcile, which finds it there.
        (None, false) => {
            step(doc, ctx, async {
                let written = finalizer::add(&api, doc).await?;
                ctx.writes.wrote(&written);
                Ok(())
            })
            .await
        }
        (Some(_), false) => apply(doc, ctx).await,
        (Some(index), true) => cleanup(doc, index, &api, ctx).await,
        // Being deleted and no longer ours: nothing left to do.
        (None, true) => Ok(()),
    }
}

/// Both results, or the first failure. A second failure is a failure of its own: it goes through the shared log of
/// causes (a line when its cause was not reported within the interval), not a line of its own per Document.
fn both(
    first: Result<(), Diagnosed>,
    second: Result<(), Diagnosed>,
    ctx: &Context,
) -> Result<(), Diagnosed> {
    match (first, second) {
        (Err(e), Err(also)) => {
            report::also_failed("a second step of the reconcile", also.diagnosis(), ctx);
            Err(e)
        }
        (Err(e), Ok(())) | (Ok(()), Err(e)) => Err(e),
        (Ok(()), Ok(())) => Ok(()),
    }
}

/// A Normal event about the Document.
fn normal(reason: &str, action: &str, note: String) -> Event {
    Event {
        type_: EventType::Normal,
        reason: reason.into(),
        note: Some(note),
        action: action.into(),
        secondary: None,
    }
}

/// The Document exists, carries the finalizer and is not being deleted. The `HideRequested` event and the rest
/// (ConfigMap, status) are sent together: neither waits for the other.
async fn apply(doc: &Document, ctx: &Context) -> Result<(), Diagnosed> {
    let status = doc.status.clone().unwrap_or_default();
    let event = step(doc, ctx, async {
        if doc.spec.hide && !status.hidden {
            info!("hiding the Document");
            let note = format!("Hiding `{}`", doc.name_any());
            events::publish(doc, ctx, &normal("HideRequested", "Hiding", note)).await
        } else {
            Ok(())
        }
    });
    let rest = step(doc, ctx, async {
        let published = if publishes(doc) {
            Some(publish::ensure_config_map(doc, ctx).await?)
        } else {
            publish::remove_config_map(doc, ctx).await?;
            None
        };
        status::write_status(doc, &status, desired_status(doc, published), ctx).await
    });
    let (rest, event) = tokio::join!(rest, event);
    both(rest, event, ctx)
}

/// The Document is being deleted and still carries the finalizer at `index`: its ConfigMap goes first, then the
/// `DeleteRequested` event and the finalizer's removal together (the deletion does not wait on an event; a failed
/// event is reported like any failed step, though the Document may be gone by then).
async fn cleanup(
    doc: &Document,
    index: usize,
    api: &Api<Document>,
    ctx: &Context,
) -> Result<(), Diagnosed> {
    info!("deleting the Document: removing what it published");
    step(doc, ctx, publish::remove_config_map(doc, ctx)).await?;
    let deleting = normal(
        "DeleteRequested",
        "Deleting",
        format!("Delete `{}`", doc.name_any()),
    );
    let event = step(doc, ctx, events::publish(doc, ctx, &deleting));
    let removed = step(doc, ctx, async {
        match finalizer::remove(api, doc, index).await {
            Ok(written) => {
                ctx.writes.wrote(&written);
                Ok(())
            }
            // The object is gone: an earlier reconcile (or another replica during a hand-over) already finished
            // the cleanup. Nothing is left to do.
            Err(Error::RemoveFinalizer(kube::Error::Api(s))) if s.code == 404 => {
                debug!("the Document is already gone: its cleanup is complete");
                Ok(())
            }
            Err(e) => Err(e),
        }
    });
    let (removed, event) = tokio::join!(removed, event);
    both(removed, event, ctx)
}
