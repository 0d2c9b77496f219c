//! Making a failed reconcile visible on its Document: a `Ready=False` condition carrying the error and a Warning
//! event, both best effort.

use kube::runtime::events::EventType;
use tracing::warn;

use super::context::Context;
use super::error::{Error, describe};
use super::events::{self, MAX_MESSAGE, truncate};
use super::status::write_status;
use crate::document::{self, Document, READY};

/// Makes a failure visible on the object: `Ready=False` with the error as message, and a Warning event. Both are
/// best effort: when they fail too (say RBAC forbids them), the log says so next to the original error.
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
