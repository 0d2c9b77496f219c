//! The tower layer that records every request a `kube::Client` makes: method, path and query, response code,
//! latency, the span it was made in and the server's `Audit-Id` and API Priority and Fairness headers; logs it (as a
//! redacted `curl` command on demand); counts it in [`Metrics`]; remembers recent failures so an error can be
//! matched to the request that caused it (exactly within a [`recorded`](super::recorded) scope); and guards
//! watches against stalls ([`super::stall`]).

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures::FutureExt;
use http::{Request as HttpRequest, Response};
use http_body_util::{BodyExt, Either, Full, Limited};
use kube::client::Body;
use tower::{BoxError, Layer, Service};

use super::credentials::{Expiry, Source};
use super::curl::{AuthKind, to_curl};
use super::scope::{in_scope, record_in_scope, unique_match};
use super::stall::{
    DEFAULT_STALL_WINDOW, NoResponse, OnStall, StallBody, Stalled, bookmarked_watch,
};
use super::used::{Recorder, Used};
use crate::cause::Cause;
use crate::diagnosis::{Diagnosis, Request};
use crate::metrics::Metrics;
use crate::note::Note;
use crate::url::parse_request;

/// Environment variable that turns on curl logging (`1`, `true`, `yes`).
pub const CURL_ENV: &str = "KUBEWHY_LOG_CURL";

/// How many failures are remembered for matching errors to requests.
const RECENT_FAILURES: usize = 256;
/// Outside a scope, only failures this recent are candidates for an error's request.
const MATCH_WINDOW: Duration = Duration::from_secs(60);
/// How many paths' last success are remembered.
const RECENT_SUCCESS_PATHS: usize = 1024;
/// Error bodies larger than this are not buffered whole (the API server's are a few hundred bytes).
const MAX_ERROR_BODY: usize = 1 << 20;

/// A failed request: what was asked and what came back.
#[derive(Debug, Clone)]
pub struct Failure {
    /// When the response (or transport error) arrived.
    pub at: SystemTime,
    /// HTTP status, 0 when there was no response.
    pub code: u16,
    /// The Status message (or the raw body / transport error text).
    pub message: String,
    /// The request, with the server's `Audit-Id` and priority headers when it answered.
    pub request: Request,
}

/// The response headers that find a request in the server's records.
const AUDIT_ID: &str = "audit-id";
const FLOW_SCHEMA_UID: &str = "x-kubernetes-pf-flowschema-uid";
const PRIORITY_LEVEL_UID: &str = "x-kubernetes-pf-prioritylevel-uid";

/// Copies the `Audit-Id` and API Priority and Fairness headers of a response into the request.
fn server_records(request: &mut Request, headers: &http::HeaderMap) {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    request.audit_id = get(AUDIT_ID);
    request.flow_schema_uid = get(FLOW_SCHEMA_UID);
    request.priority_level_uid = get(PRIORITY_LEVEL_UID);
}

/// Records requests of the clients built with its [`layer`](Inspector::layer). Cheap to clone.
#[derive(Clone, Debug)]
pub struct Inspector {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    base_url: String,
    auth: AuthKind,
    curl: AtomicBool,
    /// Set by [`Inspector::with_metrics`], for every clone.
    metrics: RwLock<Option<Metrics>>,
    failures: Mutex<VecDeque<Failure>>,
    /// Last successful response per path (without query), for telling when a failing watcher recovered.
    successes: Mutex<HashMap<String, Instant>>,
    /// The permissions the clients used.
    used: Arc<Recorder>,
    /// The stall window of watches and the response-header time-out (None: off); set by
    /// [`Inspector::with_stall_window`], for every clone.
    stall: RwLock<Option<Duration>>,
    /// Where the bearer token comes from (its expiry, when it is a JWT).
    credentials: Source,
}

impl Inspector {
    /// An inspector for clients built from `config` (the server URL and the kind of credentials are used for
    /// curl commands; the credentials themselves are never read). Curl logging follows [`CURL_ENV`].
    pub fn new(config: &kube::Config) -> Inspector {
        let info = &config.auth_info;
        let auth = if info.client_certificate.is_some() || info.client_certificate_data.is_some() {
            AuthKind::ClientCertificate
        } else if info.token.is_some()
            || info.token_file.is_some()
            || info.exec.is_some()
            || info.auth_provider.is_some()
        {
            AuthKind::Bearer
        } else if info.username.is_some() {
            AuthKind::Basic
        } else {
            AuthKind::None
        };
        let curl = std::env::var(CURL_ENV)
            .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"));
        Inspector {
            inner: Arc::new(Inner {
                base_url: config
                    .cluster_url
                    .to_string()
                    .trim_end_matches('/')
                    .to_string(),
                auth,
                curl: AtomicBool::new(curl),
                metrics: RwLock::new(None),
                failures: Mutex::new(VecDeque::with_capacity(RECENT_FAILURES)),
                successes: Mutex::new(HashMap::new()),
                used: Arc::default(),
                stall: RwLock::new(Some(DEFAULT_STALL_WINDOW)),
                credentials: Source::of(config),
            }),
        }
    }

    /// Also counts every request in `metrics`. Every clone of the inspector, those made before the call included
    /// (the layer of a client already built too), counts from now on.
    pub fn with_metrics(self, metrics: Metrics) -> Inspector {
        *self
            .inner
            .metrics
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(metrics);
        self
    }

    /// The stall window ([`super::stall`]): a watch that asked for bookmarks and delivers nothing for this long is
    /// ended so that it is watched again, and a request without response headers for this long fails with
    /// [`NoResponse`]. Default 70 s; `None` turns both off. Keep it above a minute (the API server's bookmark
    /// interval and its own time-out of ordinary requests). Every clone of the inspector uses it for the requests
    /// it starts from now on.
    pub fn with_stall_window(self, window: Option<Duration>) -> Inspector {
        *self
            .inner
            .stall
            .write()
            .unwrap_or_else(PoisonError::into_inner) = window;
        self
    }

    /// Counts a request in the metrics, when there are any.
    fn observe(&self, verb: &str, resource: &str, code: &str, latency: Duration) {
        // Replaced whole by `with_metrics`: a poisoned lock still holds a whole value.
        let metrics = self
            .inner
            .metrics
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(m) = metrics.as_ref() {
            m.observe_request(verb, resource, code, latency);
        }
    }

    /// Turns logging of each request as a `curl` command (at INFO, target `kubewhy::trace`) on or off.
    pub fn set_curl(&self, on: bool) {
        self.inner.curl.store(on, Ordering::Relaxed);
    }

    /// The layer to add to a client: `ClientBuilder::try_from(config)?.with_layer(&inspector.layer()).build()`.
    pub fn layer(&self) -> InspectLayer {
        InspectLayer {
            inspector: self.clone(),
        }
    }

    /// A client for `config` with this inspector's layer.
    pub fn client(&self, config: kube::Config) -> Result<kube::Client, kube::Error> {
        Ok(kube::client::ClientBuilder::try_from(config)?
            .with_layer(&self.layer())
            .build())
    }

    /// Convenience: a client with a new inspector.
    pub fn new_client(config: kube::Config) -> Result<(kube::Client, Inspector), kube::Error> {
        let inspector = Inspector::new(&config);
        Ok((inspector.client(config)?, inspector))
    }

    /// The request that caused `err`, when it can be told exactly.
    ///
    /// Called inside a [`recorded`](super::recorded) scope (kubewhy's watchers and its controller wrapper run in
    /// one), the scope's own failures are searched: the first with the same code and message. Elsewhere, the
    /// failures of the last minute with the same code and message (else the same code; without a response, every
    /// failure without one) must all be failures of one request, which is returned; when several requests match,
    /// none is named rather than a wrong one.
    pub fn request_for(&self, err: &kube::Error) -> Option<Request> {
        if let Some(found) = in_scope(err) {
            return found;
        }
        let failures = self.lock();
        let now = SystemTime::now();
        let recent: Vec<&Failure> = failures
            .iter()
            .filter(|f| now.duration_since(f.at).unwrap_or_default() <= MATCH_WINDOW)
            .collect();
        unique_match(&recent, err)
    }

    /// The expiry of the client's bearer token, when it is a JWT (see [`super::credentials`]); a `tokenFile` is read
    /// again each time.
    pub fn token_expiry(&self) -> Option<Expiry> {
        self.inner.credentials.expiry()
    }

    /// Adds what the client knows about its credentials to a diagnosis: a 401 while the token's `exp` has passed is
    /// an expired token (the API server's answer says only `Unauthorized`), with when it expired and how it is
    /// renewed.
    pub fn annotate(&self, d: &mut Diagnosis) {
        if !matches!(d.cause, Cause::Unauthenticated { .. }) {
            return;
        }
        let Some(expiry) = self.token_expiry().filter(|e| e.passed(SystemTime::now())) else {
            return;
        };
        d.set_cause(Cause::Unauthenticated { expired: true });
        if !d
            .notes
            .iter()
            .any(|n| matches!(n, Note::TokenExpired { .. }))
        {
            d.notes.push(Note::TokenExpired {
                at: expiry.at_rfc3339(),
                lifetime_s: expiry.lifetime.map(|l| l.as_secs()),
                from_file: expiry.from_file,
            });
        }
    }

    /// The permissions the clients used so far (see [`super::used`]).
    pub fn used(&self) -> Used {
        self.inner.used.snapshot()
    }

    /// The remembered failures, oldest first.
    pub fn recent_failures(&self) -> Vec<Failure> {
        self.lock().iter().cloned().collect()
    }

    /// Whether a request to `path` (query ignored) got a successful response after `since`.
    pub fn succeeded_since(&self, path: &str, since: Instant) -> bool {
        let path = path.split('?').next().unwrap_or(path);
        let successes = self
            .inner
            .successes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        successes.get(path).is_some_and(|at| *at > since)
    }

    fn record_success(&self, uri: &str) {
        let path = uri.split('?').next().unwrap_or(uri);
        let mut successes = self
            .inner
            .successes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if successes.len() >= RECENT_SUCCESS_PATHS && !successes.contains_key(path) {
            successes.clear(); // bounded memory: only recent successes matter
        }
        successes.insert(path.to_string(), Instant::now());
    }

    fn record(&self, failure: Failure) {
        self.inner
            .used
            .observe(&failure.request, failure.code, &failure.message);
        record_in_scope(&failure);
        let mut failures = self.lock();
        if failures.len() == RECENT_FAILURES {
            failures.pop_front();
        }
        failures.push_back(failure);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Failure>> {
        // A panic while holding this lock cannot leave the queue inconsistent (push/pop only): keep using it.
        self.inner
            .failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The tower layer of an [`Inspector`].
#[derive(Clone, Debug)]
pub struct InspectLayer {
    inspector: Inspector,
}

impl<S> Layer<S> for InspectLayer {
    type Service = InspectService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        InspectService {
            inner,
            inspector: self.inspector.clone(),
        }
    }
}

/// The service of [`InspectLayer`].
#[derive(Clone, Debug)]
pub struct InspectService<S> {
    inner: S,
    inspector: Inspector,
}

/// The body of an inspected response: the server's as it comes, a watch's behind the stall guard, or a failure's
/// body read whole (to record its message) and handed on.
type ResponseBody<B> = Either<Either<B, StallBody<B>>, Full<Bytes>>;

impl<S, B> Service<HttpRequest<Body>> for InspectService<S>
where
    S: Service<HttpRequest<Body>, Response = Response<B>>,
    S::Future: Send + 'static,
    S::Error: Into<BoxError> + Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<ResponseBody<B>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: HttpRequest<Body>) -> Self::Future {
        let inspector = self.inspector.clone();
        let uri = req.uri().to_string();
        let method = req.method().as_str().to_string();
        let request = parse_request(&method, &uri);
        let span = tracing::Span::current();
        let span_name = span.metadata().map_or("none", |m| m.name());
        let curl = inspector.inner.curl.load(Ordering::Relaxed).then(|| {
            let url = format!("{}{}", inspector.inner.base_url, uri);
            // Only in-memory bodies can be shown; they are ready at once, streamed ones are left out.
            let body = req.body().try_clone().and_then(|b| b.collect_bytes().now_or_never()).and_then(|r| match r {
                Ok(bytes) => Some(bytes),
                Err(e) => {
                    tracing::debug!(target: "kubewhy::trace", "request body not shown in curl: {e}");
                    None
                }
            });
            (url, req.headers().clone(), body)
        });
        let started = Instant::now();
        let window = *inspector
            .inner
            .stall
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let watch_path = window.and_then(|_| bookmarked_watch(&uri));
        let fut = self.inner.call(req);
        Box::pin(async move {
            if let Some((url, headers, body)) = curl {
                let command = to_curl(
                    &method,
                    &url,
                    &headers,
                    inspector.inner.auth,
                    body.as_deref(),
                );
                tracing::info!(target: "kubewhy::trace", span = span_name, "{command}");
            }
            let verb = request.verb.clone().unwrap_or_default();
            let resource = metric_resource(&request);
            let mut request = request;
            let answer = match window {
                Some(window) => match tokio::time::timeout(window, fut).await {
                    Ok(answer) => answer.map_err(Into::into),
                    Err(_elapsed) => Err(Box::new(NoResponse { after: window }) as BoxError),
                },
                None => fut.await.map_err(Into::into),
            };
            match answer {
                Ok(response) => {
                    let latency = started.elapsed();
                    let status = response.status();
                    server_records(&mut request, response.headers());
                    inspector.observe(&verb, &resource, status.as_str(), latency);
                    if inspector.inner.curl.load(Ordering::Relaxed) {
                        log_records(&method, status.as_u16(), latency, &request, span_name);
                    }
                    if status.as_u16() < 400 {
                        inspector.inner.used.observe(&request, status.as_u16(), "");
                        inspector.record_success(&uri);
                        log_response(&method, &uri, status.as_u16(), latency, span_name);
                        let response = match (watch_path, window) {
                            (Some(path), Some(window)) => {
                                let on_stall = stall_recorder(inspector.clone(), request.clone());
                                response.map(|body| {
                                    Either::Left(Either::Right(StallBody::new(
                                        body, window, path, on_stall,
                                    )))
                                })
                            }
                            _ => response.map(|body| Either::Left(Either::Left(body))),
                        };
                        return Ok(response);
                    }
                    let (parts, body) = response.into_parts();
                    let bytes = Limited::new(body, MAX_ERROR_BODY)
                        .collect()
                        .await
                        .map(|c| c.to_bytes());
                    let bytes = match bytes {
                        Ok(bytes) => bytes,
                        Err(e) => {
                            let message = format!("reading the {status} response body failed: {e}");
                            inspector.record(Failure {
                                at: SystemTime::now(),
                                code: status.as_u16(),
                                message,
                                request,
                            });
                            return Err(e);
                        }
                    };
                    let message = status_message(&bytes);
                    tracing::debug!(
                        target: "kubewhy::trace",
                        method = %method, url = %uri, status = status.as_u16(),
                        latency_ms = latency.as_millis() as u64, span = span_name, message = %message,
                        "api request failed"
                    );
                    inspector.record(Failure {
                        at: SystemTime::now(),
                        code: status.as_u16(),
                        message,
                        request,
                    });
                    Ok(Response::from_parts(parts, Either::Right(Full::new(bytes))))
                }
                Err(e) => {
                    let latency = started.elapsed();
                    inspector.observe(&verb, &resource, "error", latency);
                    tracing::debug!(
                        target: "kubewhy::trace",
                        method = %method, url = %uri, latency_ms = latency.as_millis() as u64, span = span_name,
                        error = %e, "api request got no response"
                    );
                    inspector.record(Failure {
                        at: SystemTime::now(),
                        code: 0,
                        message: e.to_string(),
                        request,
                    });
                    Err(e)
                }
            }
        })
    }
}

/// With curl logging on: the answer, with what finds it in the server's records (as `kubectl -v=9` prints the
/// response headers).
fn log_records(method: &str, status: u16, latency: Duration, request: &Request, span: &str) {
    let mut text = format!("{method} {status} in {} ms", latency.as_millis());
    for (name, value) in [
        ("Audit-Id", &request.audit_id),
        ("X-Kubernetes-PF-FlowSchema-UID", &request.flow_schema_uid),
        (
            "X-Kubernetes-PF-PriorityLevel-UID",
            &request.priority_level_uid,
        ),
    ] {
        if let Some(v) = value {
            text.push_str(&format!("; {name}: {v}"));
        }
    }
    tracing::info!(target: "kubewhy::trace", span, "{text}");
}

/// Records a stalled watch as a failure of its request (no response code: the connection went quiet).
fn stall_recorder(inspector: Inspector, request: Request) -> OnStall {
    Box::new(move |stalled: &Stalled| {
        tracing::debug!(target: "kubewhy::trace", path = %stalled.path, idle_s = stalled.idle.as_secs(), "watch stalled");
        inspector.record(Failure {
            at: SystemTime::now(),
            code: 0,
            message: stalled.to_string(),
            request: request.clone(),
        });
    })
}

fn log_response(method: &str, uri: &str, status: u16, latency: Duration, span: &str) {
    tracing::debug!(
        target: "kubewhy::trace",
        method = %method, url = %uri, status, latency_ms = latency.as_millis() as u64, span,
        "api request"
    );
}

/// `documents`, `documents/status`, or the path of a non-resource request.
fn metric_resource(request: &Request) -> String {
    match (&request.resource, &request.subresource, &request.path) {
        (Some(r), Some(s), _) => format!("{r}/{s}"),
        (Some(r), None, _) => r.clone(),
        (None, _, Some(p)) => p.clone(),
        _ => String::new(),
    }
}

/// The `message` of a Status body, or the body itself (e.g. `404 page not found`).
fn status_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct StatusMessage {
        message: Option<String>,
    }
    match serde_json::from_slice::<StatusMessage>(body) {
        Ok(StatusMessage { message: Some(m) }) => m,
        _ => String::from_utf8_lossy(&body[..body.len().min(4096)])
            .trim()
            .to_string(),
    }
}
