//! Classification: from [`Evidence`] — what a failure says about itself — to a [`Diagnosis`]: the request and
//! subject it names, the step that failed, and the typed [`Cause`] (and with it the class). No wording here: the
//! diagnosis is described by [`crate::describe`] and remedied by [`crate::remedy`].

mod decide;

use crate::cause::Cause;
use crate::diagnosis::{Diagnosis, Request};
use crate::read::Evidence;
use crate::read::message::{self, Facts};
use crate::read::status_syntax::code_of_phrase as code_of_reason;
use crate::url::{fill_from_url, merge_missing};

/// Builds the request from the framing, the message and the Status details (message first: it is what the
/// server authorized).
fn request_of(ev: &Evidence, facts: &Facts) -> Request {
    let mut r = Request {
        verb: facts.verb.clone(),
        group: facts.group.clone(),
        version: facts.version.clone(),
        resource: facts.resource.clone(),
        subresource: facts.subresource.clone(),
        kind: facts.kind.clone(),
        namespace: facts.namespace.clone(),
        name: facts.name.clone(),
        path: facts.path.clone(),
        ..Request::default()
    };
    merge_missing(&mut r, &ev.request);
    if let Some(obj) = &ev.reconciled {
        if ev.on_reconciled {
            merge_missing(&mut r, obj);
        } else if r.namespace.is_none() && r.name.is_some() && r.name == obj.name {
            r.namespace.clone_from(&obj.namespace);
        }
    }
    if r.url.is_some() {
        fill_from_url(&mut r);
    }
    // Details: for 403/404 `kind` is the plural resource; for 422/409 it is the Kind.
    if let Some(kind) = &ev.detail_kind {
        let is_plural = kind.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        if is_plural {
            r.resource.get_or_insert_with(|| kind.clone());
        } else {
            r.kind.get_or_insert_with(|| kind.clone());
        }
    }
    if let Some(group) = &ev.detail_group {
        r.group.get_or_insert_with(|| group.clone());
    }
    if let Some(name) = &ev.detail_name {
        r.name.get_or_insert_with(|| name.clone());
    }
    if r.verb.is_none()
        && let Some(phase) = ev.phase
    {
        r.verb = phase.verb().map(str::to_string);
    }
    if r.url.is_none()
        && ev.transport.is_some()
        && let Some(server) = crate::read::transport::server_of(&ev.message)
    {
        r.url = Some(server);
    }
    r
}

/// Turns evidence into a diagnosis.
pub(crate) fn classify(mut ev: Evidence) -> Diagnosis {
    let facts = match ev.facts.take() {
        Some(f) => f,
        None => message::read(&ev.message),
    };
    let request = request_of(&ev, &facts);
    let user = facts.user.clone().or_else(|| ev.user.clone());
    let cause: Cause = decide::cause(&ev, &facts, &request);
    let mut d = Diagnosis::new(cause, ev.message.trim_end().to_string());
    d.code = ev
        .code
        .or_else(|| ev.reason.as_deref().and_then(code_of_reason));
    d.reason = ev.reason.clone();
    d.user = user;
    d.groups = facts.groups;
    d.request = request;
    d.phase = ev.phase;
    d.notes = ev.notes;
    d
}
