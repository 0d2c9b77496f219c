//! The entry points (re-exported at the crate root): diagnose a `kube::Error`, a watcher or controller error, any
//! error chain that holds one, or a line of text — each with the request that failed when it is known — and
//! [`Diagnosed`], an error that carries its diagnosis, so a failure is diagnosed once however many places look at it.

#[cfg(feature = "runtime")]
use kube::runtime::{controller, watcher};

use crate::cause::Cause;
use crate::chain;
use crate::classify::classify;
use crate::diagnosis::{Diagnosis, Request};
use crate::fold::Folder;
#[cfg(feature = "runtime")]
use crate::note::Note;
use crate::read::Evidence;
use crate::read::kube_error::from_kube_error;
#[cfg(feature = "runtime")]
use crate::read::kube_error::from_watcher_error;
#[cfg(feature = "trace")]
use crate::trace;
use crate::url::{fill_from_url, merge_missing};

/// The cause of an error kubewhy's own request inspector produced (a watch it ended as stalled, a request that got
/// no response in time), found by type in the error's chain.
#[cfg(feature = "trace")]
fn inspector_cause(err: &kube::Error) -> Option<Cause> {
    if let Some(stalled) = chain::find::<trace::Stalled>(err) {
        return Some(Cause::StalledWatch {
            idle_s: stalled.idle.as_secs(),
        });
    }
    chain::find::<trace::NoResponse>(err).map(|none| Cause::NoAnswer {
        after_ms: Some(u64::try_from(none.after.as_millis()).unwrap_or(u64::MAX)),
    })
}

/// Without the `trace` feature there is no inspector whose errors could be in the chain.
#[cfg(not(feature = "trace"))]
fn inspector_cause(_err: &kube::Error) -> Option<Cause> {
    None
}

/// Evidence from a `kube::Error`, with the inspector's causes.
fn kube_evidence(err: &kube::Error) -> Evidence {
    let mut ev = from_kube_error(err);
    if let Some(cause) = inspector_cause(err) {
        ev.transport = None;
        ev.hint = Some(cause);
    }
    ev
}

/// Evidence from a watcher error, with the inspector's causes.
#[cfg(feature = "runtime")]
fn watcher_evidence(err: &watcher::Error) -> Evidence {
    let mut ev = from_watcher_error(err);
    let inner = match err {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => Some(e),
        watcher::Error::WatchError(_) | watcher::Error::NoResourceVersion => None,
    };
    if let Some(cause) = inner.and_then(inspector_cause) {
        ev.transport = None;
        ev.hint = Some(cause);
    }
    ev
}

/// Adds what is known about the request to the evidence (the evidence's own fields win).
fn with_request(mut ev: Evidence, request: Option<&Request>) -> Evidence {
    if let Some(req) = request {
        merge_missing(&mut ev.request, req);
        fill_from_url(&mut ev.request);
    }
    ev
}

/// Diagnoses a `kube::Error`.
///
/// A kube-rs error does not carry the URL that failed; when the request is known (kubewhy's request tracing
/// records it), [`diagnose_in`] names the resource too.
///
/// ```
/// let status = kube::core::Status::failure("Unauthorized", "Unauthorized").with_code(401);
/// let d = kubewhy::diagnose(&kube::Error::Api(status.boxed()));
/// assert_eq!(d.class, kubewhy::Class::Unauthorized);
/// ```
pub fn diagnose(err: &kube::Error) -> Diagnosis {
    classify(kube_evidence(err))
}

/// Diagnoses a `kube::Error` with what is known about the request that failed (method, url, verb, group,
/// version, resource, namespace, name): the server's message stays authoritative, the request fills what it
/// leaves out. A request with only `method` and `url` is read like the API server reads it.
pub fn diagnose_in(err: &kube::Error, request: Option<&Request>) -> Diagnosis {
    classify(with_request(kube_evidence(err), request))
}

#[cfg(feature = "runtime")]
/// Diagnoses a `kube::runtime::watcher::Error`: the inner API or transport error, plus the step that failed
/// (initial list, watch start, an error event in the stream, a broken stream).
pub fn diagnose_watcher(err: &watcher::Error) -> Diagnosis {
    diagnose_watcher_in(err, None)
}

#[cfg(feature = "runtime")]
/// [`diagnose_watcher`] with what is known about the request that failed: the step is kept (a watch denied after a
/// list that succeeded is told apart, kube#1132) and the request names the resource.
pub fn diagnose_watcher_in(err: &watcher::Error, request: Option<&Request>) -> Diagnosis {
    classify(with_request(watcher_evidence(err), request))
}

#[cfg(feature = "runtime")]
/// Diagnoses a `kube::runtime::controller::Error`: a queue (watcher) error, or a reconciler error whose
/// `source()` chain holds a `kube::Error` or a watcher error. Reconciler errors without one are read as text.
pub fn diagnose_controller<E, Q>(err: &controller::Error<E, Q>) -> Diagnosis
where
    E: std::error::Error + 'static,
    Q: std::error::Error + 'static,
{
    match err {
        controller::Error::ObjectNotFound(obj) => {
            let mut d = Diagnosis::new(Cause::NotInCache, err.to_string());
            d.request.name = Some(obj.name.clone());
            d.request.namespace = obj.namespace.clone();
            d.request.kind = Some(obj.dyntype.kind.clone());
            d.request.group = Some(obj.dyntype.group.clone());
            d.request.version = Some(obj.dyntype.version.clone());
            d.request.resource = Some(obj.dyntype.plural.clone());
            d
        }
        controller::Error::ReconcilerFailed(e, obj) => {
            let mut d = diagnose_error(e);
            d.notes.insert(
                0,
                Note::Reconciler {
                    object: obj.to_string(),
                },
            );
            d
        }
        controller::Error::QueueError(q) => diagnose_error(q),
        controller::Error::RunnerError(e) => {
            let mut d = diagnose_error(e);
            d.notes.insert(0, Note::Runner);
            d
        }
    }
}

/// Diagnoses any error by its `source()` chain — a controller's own error type, `finalizer::Error`, an `anyhow`
/// error (`err.as_ref()`): a [`Diagnosed`] in it gives its diagnosis as it is (the failure was diagnosed already);
/// else the first watcher error or `kube::Error` in it, found by type, else its text, read as an error's (kube-rs's
/// `Debug` or `Display` of an API error, a Status JSON body, a transport's words, the server's message; a log line's
/// framing is [`diagnose_text`]'s, so a program that only diagnoses errors carries none of the log readers' code).
///
/// ```
/// #[derive(Debug, thiserror::Error)]
/// #[error("publishing the document failed")]
/// struct Publish(#[source] kube::Error);
///
/// let status = kube::core::Status::failure("documents.kube.rs \"a\" not found", "NotFound").with_code(404);
/// let err = Publish(kube::Error::Api(status.boxed()));
/// let d = kubewhy::diagnose_error(&err);
/// assert_eq!(d.code, Some(404));
/// ```
pub fn diagnose_error(err: &(dyn std::error::Error + 'static)) -> Diagnosis {
    diagnose_error_in(err, None)
}

/// [`diagnose_error`] with what is known about the request that failed (kubewhy's request tracing, feature
/// `trace`, finds it with `trace::Inspector::request_for` on the `kube::Error` inside).
pub fn diagnose_error_in(
    err: &(dyn std::error::Error + 'static),
    request: Option<&Request>,
) -> Diagnosis {
    if let Some(done) = chain::find::<Diagnosed>(err) {
        let mut d = done.diagnosis().clone();
        if let Some(req) = request {
            merge_missing(&mut d.request, req);
            fill_from_url(&mut d.request);
        }
        return d;
    }
    #[cfg(feature = "runtime")]
    if let Some(w) = chain::find::<watcher::Error>(err) {
        return diagnose_watcher_in(w, request);
    }
    if let Some(k) = chain::find::<kube::Error>(err) {
        return diagnose_in(k, request);
    }
    let text = chain::one_line(err);
    crate::read::read_error_text(&text)
        .map(|ev| classify(with_request(ev, request)))
        .unwrap_or_else(|| {
            classify(with_request(
                Evidence {
                    message: text,
                    is_failure: true,
                    hint: Some(Cause::Unknown),
                    ..Evidence::default()
                },
                request,
            ))
        })
}

/// An error that carries its diagnosis: a failure diagnosed where it happened (with the request that failed), or a
/// program's own failure ([`crate::cause::AppCause`]). [`diagnose_error`] (and everything built on it: kubewhy's
/// per-object retry, `diagnose_controller`) returns the carried diagnosis as it is instead of diagnosing again, so
/// the log line, the metrics, the retry schedule and the object's condition all take one value.
///
/// Its text is the diagnosis's short form (`error[class]: summary`); its `source()` is the error that was diagnosed,
/// when there was one.
///
/// ```
/// use kubewhy::{Class, Diagnosed};
/// use kubewhy::cause::{AppCause, Cause};
///
/// let status = kube::core::Status::failure("configmaps \"a\" is forbidden: nope", "Forbidden").with_code(403);
/// let once = Diagnosed::of(kube::Error::Api(status.boxed()), None);
/// assert_eq!(kubewhy::diagnose_error(&once), *once.diagnosis()); // not diagnosed again
///
/// let own = Diagnosed::from(kubewhy::Diagnosis::new(
///     Cause::Application(AppCause::new("foreign", Class::Conflict, "ConfigMap `a` is someone else's").cause("no owner")),
///     "ConfigMap a exists",
/// ));
/// assert_eq!(kubewhy::diagnose_error(&own).class, Class::Conflict);
/// ```
#[derive(Debug)]
pub struct Diagnosed {
    diagnosis: Box<Diagnosis>,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl Diagnosed {
    /// Diagnoses `err` (with what is known about the request that failed: [`diagnose_error_in`]) and keeps it as the
    /// source.
    pub fn of<E>(err: E, request: Option<&Request>) -> Diagnosed
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        let diagnosis = diagnose_error_in(&err, request);
        Diagnosed::new(diagnosis, err)
    }

    /// `diagnosis`, made of `source` elsewhere (say, with what a request inspector added).
    pub fn new<E>(diagnosis: Diagnosis, source: E) -> Diagnosed
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        Diagnosed {
            diagnosis: Box::new(diagnosis),
            source: Some(Box::new(source)),
        }
    }

    /// The diagnosis.
    pub fn diagnosis(&self) -> &Diagnosis {
        &self.diagnosis
    }

    /// The diagnosis, by value.
    pub fn into_diagnosis(self) -> Diagnosis {
        *self.diagnosis
    }
}

impl From<Diagnosis> for Diagnosed {
    /// A diagnosis without an error underneath (a program's own failure).
    fn from(diagnosis: Diagnosis) -> Diagnosed {
        Diagnosed {
            diagnosis: Box::new(diagnosis),
            source: None,
        }
    }
}

impl std::fmt::Display for Diagnosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.diagnosis)
    }
}

impl std::error::Error for Diagnosed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Diagnoses one message or log line (kube-rs `Debug`/`Display`, a Status JSON body or the Status in another
/// syntax, client-go, controller-runtime or kubectl output, a transport error, kubewhy's own log line), as pasted:
/// the text is normalised first (a message wrapped over lines, typographic quotes, pane borders, escaped output,
/// an error chain), and several layers' reports of one failure are one. When the text holds several failures,
/// the first that retrying will not fix is returned (else the first). `None` when it holds no recognisable
/// failure.
///
/// ```
/// let d = kubewhy::diagnose_text(
///     r#"Error from server (NotFound): namespaces "nope" not found"#,
/// ).unwrap();
/// assert_eq!(d.class, kubewhy::Class::ObjectNotFound);
/// assert_eq!(d.request.name.as_deref(), Some("nope"));
/// ```
pub fn diagnose_text(text: &str) -> Option<Diagnosis> {
    let mut folder = Folder::default();
    let bytes = text.as_bytes();
    let mut line = 1;
    for record in crate::read::normalize::records(bytes) {
        for message in &record.logical {
            if let Some(d) = diagnose_message(message) {
                folder.add("", line, message, d);
            }
        }
        line += record.lines as u64;
    }
    let findings = folder.into_findings();
    // The failure a person pasted the text for: the first one retrying will not fix (client-go's note that it
    // throttled itself, a watch's expired version or a conflict before a denial are not it), else the first.
    let chosen = findings
        .iter()
        .position(|f| !f.diagnosis.is_transient())
        .unwrap_or(0);
    findings.into_iter().nth(chosen).map(|f| f.diagnosis)
}

/// Diagnoses one message, already normalised (a record's logical line).
pub(crate) fn diagnose_message(text: &str) -> Option<Diagnosis> {
    crate::read::read_text(text).map(classify)
}
