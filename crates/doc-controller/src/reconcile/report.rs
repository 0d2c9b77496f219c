//! Making a failed reconcile visible on its Document: a `Ready=False` condition carrying the error and a Warning
//! event, both best effort.

use kube::runtime::events::EventType;
use tracing::{debug, warn};

use super::context::Context;
use super::error::{Error, describe};
use super::events::{self, MAX_MESSAGE, truncate};
use super::status::write_status;
use crate::document::{self, Document, READY};

/// Makes a failure visible on the object: `Ready=False` with the error as message, and a Warning event. Both are
/// best effort: when they fail too (say RBAC forbids them), the log says so next to the original error — once per
/// cause, not once per Document (kubewhy's shared log of causes).
pub(super) async fn report_failure(doc: &Document, err: &Error, ctx: &Context) {
    let message = truncate(describe(err), MAX_MESSAGE);
    if let Err(e) = events::publish(
        doc,
        ctx,
        EventType::Warning,
        "ReconcileFailed",
        "Reconciling",
        message.clone(),
    )
    .await
    {
        not_recorded(&e, "as a Warning event", ctx);
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
        not_recorded(&e, "in the status", ctx);
    }
}

/// Logs that a failure could not be recorded on its Document: WARN once per cause, DEBUG for the rest.
fn not_recorded(e: &Error, how: &str, ctx: &Context) {
    let d = kubewhy::diagnose_error(e);
    if ctx.health.due(&d).is_some() {
        warn!(error = %describe(e), "could not record the failure {how}: {d:#}");
    } else {
        debug!(error = %describe(e), "could not record the failure {how}");
    }
}
