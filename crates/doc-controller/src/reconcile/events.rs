//! Publishing an event about a Document (`HideRequested`, `DeleteRequested`, and the Warning of a failed reconcile,
//! whose note kubewhy cuts to what the API server accepts).

use kube::Resource;
use kube::runtime::events::Event;

use super::context::Context;
use super::error::Error;
use crate::document::Document;

/// Records `event` about `doc`.
pub(super) async fn publish(doc: &Document, ctx: &Context, event: &Event) -> Result<(), Error> {
    ctx.recorder
        .publish(event, &doc.object_ref(&()))
        .await
        .map_err(|source| Error::PublishEvent {
            reason: event.reason.clone(),
            source,
        })
}
