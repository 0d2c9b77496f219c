//! The events a reconcile records on its Document (`HideRequested`, `DeleteRequested`, `ReconcileFailed`), with
//! notes cut to what the API server accepts.

use kube::Resource;
use kube::runtime::events::{Event, EventType};

use super::context::Context;
use super::error::Error;
use crate::document::Document;

/// Condition messages and event notes longer than this are cut (events allow 1 kB).
pub(super) const MAX_MESSAGE: usize = 1000;

/// `s` cut to at most `max` bytes (on a character boundary), ending in `...` when cut.
pub(super) fn truncate(mut s: String, max: usize) -> String {
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

/// Records an event about `doc`.
pub(super) async fn publish(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_cut_on_a_character_boundary() {
        assert_eq!(truncate("ééé".into(), 5), "é...");
    }
}
