//! Readers: each input format (a `kube::Error` value, kube-rs `Debug`/`Display` text, a `metav1.Status` JSON
//! body, client-go and controller-runtime log lines, kubectl output, transport errors) is read into
//! [`Evidence`] — what the failure says about itself, before any judgement and without a word of prose (facts
//! of the framing are typed [`Note`]s). The classifier turns evidence into a [`crate::Diagnosis`].
//!
//! The text readers never panic and never allocate in proportion to anything but the line they are given.

/// A searcher for one fixed word, built once (a `&'static memchr::memmem::Finder`): `str::find` and
/// `str::contains` build theirs at every call, which on a message costs more than the search itself (callgrind:
/// ~1,200 instructions a call on a 300-byte line, against ~250). [`find!`] and [`contains!`] use it.
macro_rules! finder {
    ($word:literal) => {{
        static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
            std::sync::LazyLock::new(|| memchr::memmem::Finder::new($word));
        &*FINDER
    }};
}

/// `find!(text, "word")`: `text.find("word")` (the byte offset of its first occurrence) with a searcher built once.
macro_rules! find {
    ($text:expr, $word:literal) => {
        finder!($word).find(str::as_bytes($text))
    };
}

/// `contains!(text, "word")`: `text.contains("word")` with a searcher built once.
macro_rules! contains {
    ($text:expr, $word:literal) => {
        find!($text, $word).is_some()
    };
}

pub(crate) mod client_go;
pub(crate) mod escape;
pub(crate) mod flux;
pub(crate) mod kube_debug;
pub(crate) mod kube_error;
pub(crate) mod kubectl;
pub(crate) mod kubewhy_line;
pub(crate) mod log_fields;
pub(crate) mod message;
pub(crate) mod normalize;
pub(crate) mod server_words;
pub(crate) mod status_json;
pub(crate) mod status_syntax;
pub(crate) mod templates;
pub(crate) mod transport;

use crate::cause::{Cause, ConnectionFailure, FieldError, TlsFailure};
use crate::diagnosis::{Phase, Request};
use crate::note::Note;

/// A transport failure: no HTTP response was received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// Refused, reset, unreachable, DNS, closed connection.
    Connection {
        failure: ConnectionFailure,
        os_code: Option<i32>,
    },
    /// A time-out before a response.
    Timeout,
    /// The TLS handshake or certificate check failed.
    Tls(TlsFailure),
}

/// What a failure says about itself: the API server's answer (code, reason, message, details) when there was
/// one, what is known about the request, and the step that failed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Evidence {
    /// HTTP status code.
    pub code: Option<u16>,
    /// Status reason (`Forbidden`, `NotFound`, `Failed to parse error data`).
    pub reason: Option<String>,
    /// The server's message, or the error text when there was no server answer.
    pub message: String,
    /// `details.name`, `details.group`, `details.kind` (for 403/404 usually the plural resource).
    pub detail_name: Option<String>,
    pub detail_group: Option<String>,
    pub detail_kind: Option<String>,
    pub causes: Vec<FieldError>,
    pub retry_after: Option<u32>,
    /// What the context says about the request.
    pub request: Request,
    /// Which step failed.
    pub phase: Option<Phase>,
    /// A transport failure, when there was no response.
    pub transport: Option<Transport>,
    /// Facts from the framing (kube_runtime logged it, a client-go reflector logged it).
    pub notes: Vec<Note>,
    /// A reader recognised the text as a failure even if no rule classifies it (e.g. a `Status` struct).
    pub is_failure: bool,
    /// The cause the framing implies when nothing more specific decides (controller-runtime's `if kind is a
    /// CRD, it should be installed`, a `kube::Error::Auth`).
    pub hint: Option<Cause>,
    /// The subject a kubewhy log line names (`user=`).
    pub user: Option<String>,
    /// The class a kubewhy log line names (`class=`).
    pub class_said: Option<crate::class::Class>,
    /// The message, already read (so it is read once).
    pub facts: Option<message::Facts>,
    /// The object a controller was reconciling when the failure was logged (kube_runtime's `object.ref`,
    /// controller-runtime's `Reconciler error` fields): the request's object when the framing says the request
    /// was on it, else only its namespace when the message names the same object.
    pub reconciled: Option<Request>,
    /// The framing says the failed request was on the reconciled object (kube_runtime's finalizer patch).
    pub on_reconciled: bool,
}

/// Takes the server's answer as another syntax printed it; returns whether it was a failure's (an HTTP code
/// below 400 is not).
fn answer(a: status_syntax::Answer, ev: &mut Evidence) -> bool {
    if a.code.is_some_and(|c| c < 400) || (a.code.is_none() && a.reason.is_none()) {
        return false;
    }
    ev.code = a.code;
    ev.reason = a.reason;
    if let Some(message) = a.message {
        ev.message = message;
    }
    ev.detail_name = a.name;
    ev.detail_group = a.group;
    ev.detail_kind = a.kind;
    ev.causes = a.causes;
    ev.retry_after = a.retry_after;
    if ev.request.url.is_none() {
        ev.request.url = a.url;
    }
    if ev.request.method.is_none() {
        ev.request.method = a.method;
    }
    ev.is_failure = true;
    true
}

/// Reads one message or log line. `None` when it holds no recognisable Kubernetes API failure.
pub(crate) fn read_text(text: &str) -> Option<Evidence> {
    let mut ev = Evidence::default();
    let found_status = kube_debug::read(text, &mut ev)
        || status_json::read(text, &mut ev)
        || status_syntax::read(text).is_some_and(|a| answer(a, &mut ev) && !ev.message.is_empty());
    client_go::read(text, &mut ev);
    kubectl::read(text, &mut ev);
    flux::read(text, &mut ev);
    kubewhy_line::read(text, &mut ev);
    if !found_status && ev.message.is_empty() {
        ev.message = text.trim().to_string();
    }
    if ev.class_said.is_some() {
        // kubewhy's own line: its fields are the evidence; its words are kubewhy's, not the server's.
        ev.facts = Some(message::Facts::default());
        return Some(ev);
    }
    if ev.request.url.is_none() {
        log_fields::read(text, &mut ev.request);
    }
    judge(ev)
}

/// Reads the text of an error chain that holds no typed kube error (a program's error that kept only the text of
/// the one underneath): the answer kube-rs printed (`Debug`/`Display` of `kube::Error::Api`, a Status JSON body),
/// the transport's words and the message's facts. A log line's framings (client-go, kubectl, flux, log fields,
/// other languages' Status syntax) are [`read_text`]'s: an error value does not carry them, and a program that
/// diagnoses errors only (a controller) then carries none of their code.
pub(crate) fn read_error_text(text: &str) -> Option<Evidence> {
    let mut ev = Evidence::default();
    let found_status = kube_debug::read(text, &mut ev) || status_json::read(text, &mut ev);
    if !found_status && ev.message.is_empty() {
        ev.message = text.trim().to_string();
    }
    judge(ev)
}

/// The part [`read_text`] and [`read_error_text`] share once the framing is read: a transport failure when no
/// answer was found, the message's facts, and whether the text is a failure at all.
fn judge(mut ev: Evidence) -> Option<Evidence> {
    if ev.code.is_none() && ev.reason.is_none() && ev.transport.is_none() {
        // Transport errors: only when no server answer was found.
        ev.transport = transport::classify_text(&ev.message);
    }
    let facts = message::read(&ev.message);
    if facts.healthy && !ev.is_failure && ev.code.is_none() && ev.reason.is_none() {
        // A notice that nothing failed (client-go waited for its own rate limiter; a server's warning).
        return None;
    }
    if ev.code.is_none() {
        ev.code = facts.code;
    }
    let found = ev.is_failure
        || ev.code.is_some()
        || ev.reason.is_some()
        || ev.transport.is_some()
        || ev.hint.is_some()
        || facts.said.is_some();
    ev.facts = Some(facts);
    found.then_some(ev)
}
