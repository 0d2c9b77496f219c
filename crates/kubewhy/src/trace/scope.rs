//! Which request an error came from, exactly. A `kube::Error` carries no URL, and when many requests fail at once
//! (an API server restart under load) their errors look alike, so "the last failure with the same code" names the
//! wrong request. A *scope* fixes that: the failures of the requests made while a future runs (a reconcile, one
//! poll of a watcher) are recorded apart, in order, and an error of that future is matched among them only.
//!
//! Outside a scope, [`crate::trace::Inspector::request_for`] names a request only when every recent failure that
//! matches the error is a failure of that same request; otherwise it names none rather than a wrong one.
//!
//! The inspector's response future is polled by the task that made the request (tower's `Buffer` hands the future
//! back to the caller), so a task-local scope set around the caller's future sees its own requests only.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use super::layer::Failure;
use crate::diagnosis::Request;

/// How many failures one scope remembers (a reconcile makes a handful of requests).
const SCOPE_FAILURES: usize = 32;

tokio::task_local! {
    static SCOPE: Arc<Log>;
}

/// The failures recorded in one scope (and the scope it is nested in, which sees them too).
#[derive(Debug, Default)]
struct Log {
    failures: Mutex<Vec<Failure>>,
    parent: Option<Arc<Log>>,
}

impl Log {
    fn push(&self, failure: &Failure) {
        let mut failures = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        if failures.len() < SCOPE_FAILURES {
            failures.push(failure.clone());
        }
        drop(failures);
        if let Some(parent) = &self.parent {
            parent.push(failure);
        }
    }

    fn snapshot(&self) -> Vec<Failure> {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The requests that failed while a future ran (see [`recorded`]), in the order they failed.
#[derive(Debug, Clone, Default)]
pub struct Failed {
    failures: Vec<Failure>,
}

impl Failed {
    /// The failures, in order.
    pub fn failures(&self) -> &[Failure] {
        &self.failures
    }

    /// The request `err` came from: the *first* failure with the same status code and message (a reconciler returns
    /// at its first failed request; requests made afterwards, say to report the failure, fail later), else the
    /// first with the same code; for errors without a response, the first failure without one.
    pub fn request_for(&self, err: &kube::Error) -> Option<Request> {
        first_match(&self.failures, err).map(|f| f.request.clone())
    }
}

/// Runs `fut`, recording the requests that fail while it runs; returns its output and those failures.
///
/// ```no_run
/// # async fn demo(client: kube::Client) {
/// use k8s_openapi::api::core::v1::ConfigMap;
/// let cms: kube::Api<ConfigMap> = kube::Api::namespaced(client, "default");
/// let (result, failed) = kubewhy::trace::recorded(cms.get("settings")).await;
/// if let Err(err) = result {
///     let request = failed.request_for(&err); // this GET, even if a thousand others failed meanwhile
///     let diagnosis = kubewhy::diagnose_in(&err, request.as_ref());
/// }
/// # }
/// ```
pub async fn recorded<F: Future>(fut: F) -> (F::Output, Failed) {
    let log = Arc::new(Log {
        failures: Mutex::new(Vec::new()),
        parent: SCOPE.try_with(Arc::clone).ok(),
    });
    let output = SCOPE.scope(log.clone(), fut).await;
    let failed = Failed {
        failures: log.snapshot(),
    };
    (output, failed)
}

/// Records a failure in the current task's scope, if there is one.
pub(super) fn record_in_scope(failure: &Failure) {
    // Outside any scope there is nothing to record in: the inspector's ring keeps every failure anyway.
    let _outside = SCOPE.try_with(|log| log.push(failure));
}

/// The request of `err` among the current scope's failures: `None` outside a scope, `Some(None)` when the scope has
/// no matching failure.
pub(super) fn in_scope(err: &kube::Error) -> Option<Option<Request>> {
    SCOPE
        .try_with(|log| first_match(&log.snapshot(), err).map(|f| f.request.clone()))
        .ok()
}

/// The first failure matching `err` (same code and message, else same code; no response: code 0).
fn first_match<'a>(failures: &'a [Failure], err: &kube::Error) -> Option<&'a Failure> {
    match err {
        kube::Error::Api(status) => failures
            .iter()
            .find(|f| f.code == status.code && f.message.trim() == status.message.trim())
            .or_else(|| failures.iter().find(|f| f.code == status.code)),
        _ => failures.iter().find(|f| f.code == 0),
    }
}

/// The one request that all failures matching `err` came from; `None` when none matches or when several requests
/// match (naming one of them could name the wrong one).
pub(super) fn unique_match(failures: &[&Failure], err: &kube::Error) -> Option<Request> {
    let mut matching = match err {
        kube::Error::Api(status) => {
            let same_message: Vec<&&Failure> = failures
                .iter()
                .filter(|f| f.code == status.code && f.message.trim() == status.message.trim())
                .collect();
            if same_message.is_empty() {
                failures.iter().filter(|f| f.code == status.code).collect()
            } else {
                same_message
            }
        }
        _ => failures.iter().filter(|f| f.code == 0).collect(),
    }
    .into_iter();
    let first = matching.next()?;
    let key = |f: &Failure| (f.request.method.clone(), path_of(&f.request));
    let first_key = key(first);
    if matching.all(|f| key(f) == first_key) {
        Some(first.request.clone())
    } else {
        None
    }
}

fn path_of(r: &Request) -> Option<String> {
    r.url
        .as_deref()
        .map(|u| u.split('?').next().unwrap_or(u).to_string())
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    fn failure(code: u16, message: &str, url: &str) -> Failure {
        Failure {
            at: SystemTime::now(),
            code,
            message: message.into(),
            request: crate::url::parse_request("GET", url),
        }
    }

    fn api(code: u16, message: &str) -> kube::Error {
        kube::Error::Api(
            kube::core::Status::failure(message, "Reason")
                .with_code(code)
                .boxed(),
        )
    }

    #[test]
    fn a_scope_prefers_the_first_matching_failure() {
        let failed = Failed {
            failures: vec![
                failure(500, "boom", "/api/v1/namespaces/a/configmaps/x"),
                failure(500, "boom", "/api/v1/namespaces/a/events"),
            ],
        };
        let r = failed.request_for(&api(500, "boom")).unwrap();
        assert_eq!(r.name.as_deref(), Some("x"));
        assert!(failed.request_for(&api(404, "gone")).is_none());
    }

    #[test]
    fn outside_a_scope_an_ambiguous_match_names_no_request() {
        let a = failure(503, "unavailable", "/api/v1/namespaces/a/configmaps/x");
        let b = failure(503, "unavailable", "/api/v1/namespaces/a/configmaps/y");
        let a2 = failure(
            503,
            "unavailable",
            "/api/v1/namespaces/a/configmaps/x?resourceVersion=1",
        );
        assert!(unique_match(&[&a, &b], &api(503, "unavailable")).is_none());
        let r = unique_match(&[&a, &a2], &api(503, "unavailable")).unwrap();
        assert_eq!(r.name.as_deref(), Some("x"));
        // A message naming one object picks it among others of the same code.
        let c = failure(
            404,
            "configmaps \"z\" not found",
            "/api/v1/namespaces/a/configmaps/z",
        );
        let d = failure(
            404,
            "configmaps \"w\" not found",
            "/api/v1/namespaces/a/configmaps/w",
        );
        let r = unique_match(&[&c, &d], &api(404, "configmaps \"w\" not found")).unwrap();
        assert_eq!(r.name.as_deref(), Some("w"));
    }

    #[tokio::test]
    async fn nested_scopes_see_their_own_and_inner_failures() {
        let ((_, inner), outer) = recorded(async {
            record_in_scope(&failure(403, "outer", "/api/v1/pods"));
            recorded(async {
                record_in_scope(&failure(403, "inner", "/api/v1/secrets"));
                assert!(in_scope(&api(403, "inner")).unwrap().is_some());
            })
            .await
        })
        .await;
        assert_eq!(inner.failures().len(), 1);
        assert_eq!(outer.failures().len(), 2);
        assert!(in_scope(&api(403, "inner")).is_none(), "no scope here");
    }
}
