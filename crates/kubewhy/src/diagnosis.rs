//! The diagnosis model: plain data describing one failure — its class, the request that failed, who made it, the
//! step that failed and the typed [`Cause`]. Readers and checks produce it, [`crate::describe`] words it,
//! [`crate::remedy`] derives the fix, renderers show it; nothing here does I/O or formats a sentence.

use serde::{Deserialize, Serialize};

use crate::cause::Cause;
pub use crate::class::{Class, UnknownClass};
use crate::note::Note;

/// The request that failed, as far as it is known. Every field is optional: a log line may say little.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Request {
    /// HTTP method (`GET`, `PATCH`).
    pub method: Option<String>,
    /// Path and query as sent (`/apis/kube.rs/v1/documents?watch=true`).
    pub url: Option<String>,
    /// Kubernetes verb (`get`, `list`, `watch`, `patch`, ...).
    pub verb: Option<String>,
    /// API group (`""` for core).
    pub group: Option<String>,
    /// API version.
    pub version: Option<String>,
    /// Plural resource.
    pub resource: Option<String>,
    /// Subresource (`status`, `finalizers`, ...).
    pub subresource: Option<String>,
    /// Kind, when known.
    pub kind: Option<String>,
    /// Namespace (absent: cluster scope or unknown).
    pub namespace: Option<String>,
    /// Object name.
    pub name: Option<String>,
    /// Non-resource URL path (`/metrics`).
    pub path: Option<String>,
    /// The API server's `Audit-Id` response header: the request's `auditID` in the audit log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_id: Option<String>,
    /// API Priority and Fairness: the UID of the FlowSchema that matched the request
    /// (`X-Kubernetes-PF-FlowSchema-UID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_schema_uid: Option<String>,
    /// API Priority and Fairness: the UID of the priority level the request was queued in
    /// (`X-Kubernetes-PF-PriorityLevel-UID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_level_uid: Option<String>,
}

/// Which step of a watcher or controller failed (kube-rs `watcher::Error` variants, client-go's reflector).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Phase {
    /// The initial LIST (`InitialListFailed`, client-go `failed to list`).
    InitialList,
    /// Starting the WATCH (`WatchStartFailed`).
    WatchStart,
    /// An ERROR event inside the watch stream (`WatchError`).
    WatchEvent,
    /// The watch stream broke (`WatchFailed`).
    WatchStream,
    /// A reconciler's own API call (`ReconcilerFailed`).
    Reconcile,
    /// controller-runtime gave up waiting for an informer (`timed out waiting for cache to be synced`).
    CacheSync,
}

impl Phase {
    /// The verb the step uses.
    pub fn verb(self) -> Option<&'static str> {
        match self {
            Phase::InitialList => Some("list"),
            Phase::WatchStart | Phase::WatchEvent | Phase::WatchStream => Some("watch"),
            Phase::Reconcile | Phase::CacheSync => None,
        }
    }
}

/// One diagnosed failure: plain data. Its wording ([`Diagnosis::describe`]) and its fix ([`Diagnosis::remedy`])
/// are derived from it, the same for every surface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Diagnosis {
    /// The class (always `cause.class()`).
    pub class: Class,
    /// HTTP status code, when there was a response.
    pub code: Option<u16>,
    /// The API server's `reason` (`Forbidden`, `NotFound`, ...), when there was one.
    pub reason: Option<String>,
    /// The authenticated user the failure names.
    pub user: Option<String>,
    /// The user's groups, when known.
    #[serde(default)]
    pub groups: Vec<String>,
    /// The request.
    #[serde(flatten)]
    pub request: Request,
    /// The original message (server message or error text).
    pub message: String,
    /// The step of a watcher or controller that failed, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// What was found.
    pub cause: Cause,
    /// Facts about the circumstances (who logged it, what a live check found).
    #[serde(default)]
    pub notes: Vec<Note>,
}

impl Diagnosis {
    /// A diagnosis of `cause` with its message; the class follows from the cause.
    pub fn new(cause: Cause, message: impl Into<String>) -> Diagnosis {
        Diagnosis {
            class: cause.class(),
            code: None,
            reason: None,
            user: None,
            groups: Vec::new(),
            request: Request::default(),
            message: message.into(),
            phase: None,
            cause,
            notes: Vec::new(),
        }
    }

    /// Replaces the cause (and with it the class).
    pub fn set_cause(&mut self, cause: Cause) {
        self.class = cause.class();
        self.cause = cause;
    }

    /// Whether retrying with back-off is expected to help without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        self.cause.is_transient()
    }
}

/// How serious a diagnosis is: an `expired` resource version is routine for a watcher (it relists), so it is a
/// warning; everything else is an error. Part of the model (the JSON `level`, the text's `error`/`warning`), decided
/// here once for every surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Level {
    /// Needs attention.
    Error,
    /// Worth knowing, usually harmless.
    Warning,
}

impl Level {
    /// The level a diagnosis is shown at.
    pub fn of(d: &Diagnosis) -> Level {
        d.level()
    }

    /// `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
        }
    }
}

impl Diagnosis {
    /// How serious it is ([`Level`]).
    pub fn level(&self) -> Level {
        match self.class {
            Class::Expired => Level::Warning,
            _ => Level::Error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_fields_are_flat_in_json() {
        let mut d = Diagnosis::new(Cause::Denied(Default::default()), "m");
        d.request.verb = Some("watch".into());
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["verb"], "watch");
        assert_eq!(v["class"], "forbidden");
        assert_eq!(v["cause"]["kind"], "denied");
        assert!(v["namespace"].is_null());
    }
}
