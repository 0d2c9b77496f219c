//! What a failed reconcile shows, all from its one diagnosis: the failures metric (by class and cause), and on the
//! Document a `Ready=False` condition and a Warning event whose reason is the class in CamelCase and whose message is
//! kubewhy's one-line diagnosis with the request that failed ([`kubewhy::condition`]). Recording them is best effort:
//! a failure to record, like any failure that is not the reconcile's own, goes through kubewhy's shared log of causes
//! ([`also_failed`]), once per cause, not once per Document.

use kubewhy::Diagnosis;
use kubewhy::retry::Class as Schedule;
use kubewhy::watch::is_server_wide;
use tracing::{debug, info, warn};

use super::context::Context;
use super::error;
use super::events;
use super::status::write_status;
use crate::document::{Document, READY};

/// Shows the failure `d` of `doc`'s reconcile: counted by class and cause, and on the Document as a condition and a
/// Warning event — unless the API server itself failed (or the connection, or the credentials): writing the status or
/// an event would fail the same way, once per Document, and the Document is not at fault.
pub(super) async fn show(doc: &Document, d: &Diagnosis, ctx: &Context) {
    ctx.metrics.failure(d);
    if is_server_wide(&d.cause) {
        debug!(
            class = %d.class,
            "not recording the failure on the Document: {}",
            d.cause.kind()
        );
        return;
    }
    let event = kubewhy::condition::warning(d, "Reconciling");
    let (sent, failed) = kubewhy::trace::recorded(events::publish(doc, ctx, &event)).await;
    if let Err(e) = sent {
        let why = error::diagnose(e, &failed, &ctx.health, doc);
        also_failed(
            "recording the failure as a Warning event",
            why.diagnosis(),
            ctx,
        );
    }
    if doc.metadata.deletion_timestamp.is_some() {
        return; // nobody reads the status of a Document being deleted; the event and the log carry the failure
    }
    let current = doc.status.clone().unwrap_or_default();
    let mut failed_status = current.clone();
    failed_status.observed_generation = doc.metadata.generation;
    failed_status.conditions.retain(|c| c.type_ != READY);
    failed_status.conditions.insert(
        0,
        kubewhy::condition::failed(READY, d, doc.metadata.generation, doc.condition(READY)),
    );
    let (written, failed) =
        kubewhy::trace::recorded(write_status(doc, &current, failed_status, ctx)).await;
    if let Err(e) = written {
        let why = error::diagnose(e, &failed, &ctx.health, doc);
        also_failed("recording the failure in the status", why.diagnosis(), ctx);
    }
}

/// Logs a failure that is not a reconcile's own (a second step that failed too, a failure that could not be
/// recorded) through kubewhy's shared log of causes: a line when its cause was not reported within the interval —
/// INFO while the API server is away, as kubewhy's back-off says it, WARN otherwise — and DEBUG for the rest.
pub(super) fn also_failed(what: &str, d: &Diagnosis, ctx: &Context) {
    let r = &d.request;
    let help = d.remedy().summary;
    macro_rules! line {
        ($level:ident, $text:expr) => {
            $level!(
                class = %d.class,
                cause = d.cause.kind(),
                verb = r.verb.as_deref().unwrap_or(""),
                url = r.url.as_deref().unwrap_or(""),
                help = help.as_str(),
                "{}", $text
            )
        };
    }
    match ctx.health.due(d) {
        None => line!(
            debug,
            format!("{what} failed too (its cause is reported already): {d:#}")
        ),
        Some(held) => {
            let held = if held > 0 {
                format!("; {held} more failure(s) of this cause since the last report")
            } else {
                String::new()
            };
            let text = format!("{what} failed too: {d:#}{held}");
            if Schedule::of(d) == Schedule::Outage {
                line!(info, text);
            } else {
                line!(warn, text);
            }
        }
    }
}
