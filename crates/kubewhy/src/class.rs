//! The stable classification of a failure: the JSON `class`, the text `error[class]`, the metric label and the
//! exit code's meaning. Each typed cause belongs to exactly one class.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The stable classification of a failure (the JSON `class` and the text `error[class]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Class {
    /// An authorization denial (RBAC or another authorizer): 403 with "cannot `<verb>` ...".
    Forbidden,
    /// An admission webhook or ValidatingAdmissionPolicy refused the request ("is forbidden" does not make it RBAC).
    AdmissionDenied,
    /// The credentials were not accepted (401).
    Unauthorized,
    /// The resource type is not served: CRD missing, wrong group/version, misspelled plural.
    ResourceNotFound,
    /// The type is served but the named object does not exist.
    ObjectNotFound,
    /// Bad request parameters: list/watch options, field selectors, patch types (400, 422 on options).
    InvalidRequest,
    /// The object failed validation (422 with field causes).
    InvalidObject,
    /// Optimistic-concurrency or server-side-apply field conflict (409).
    Conflict,
    /// Create of an object that exists (409 AlreadyExists).
    AlreadyExists,
    /// A resource version or continue token too old (410): a watcher relists, harmless.
    Expired,
    /// Too many requests (429, API Priority and Fairness) or client-side throttling.
    Throttled,
    /// The server failed (5xx other than timeouts).
    ServerError,
    /// The request timed out (504, client timeouts).
    Timeout,
    /// The server could not be reached: refused, reset, DNS.
    Connection,
    /// TLS failed: unknown CA, wrong name, handshake.
    Tls,
    /// Not recognised.
    Unknown,
}

impl Class {
    /// Every class, in documentation order.
    pub const ALL: [Class; 16] = [
        Class::Forbidden,
        Class::AdmissionDenied,
        Class::Unauthorized,
        Class::ResourceNotFound,
        Class::ObjectNotFound,
        Class::InvalidRequest,
        Class::InvalidObject,
        Class::Conflict,
        Class::AlreadyExists,
        Class::Expired,
        Class::Throttled,
        Class::ServerError,
        Class::Timeout,
        Class::Connection,
        Class::Tls,
        Class::Unknown,
    ];

    /// The stable name (`forbidden`, `resource-not-found`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Forbidden => "forbidden",
            Class::AdmissionDenied => "admission-denied",
            Class::Unauthorized => "unauthorized",
            Class::ResourceNotFound => "resource-not-found",
            Class::ObjectNotFound => "object-not-found",
            Class::InvalidRequest => "invalid-request",
            Class::InvalidObject => "invalid-object",
            Class::Conflict => "conflict",
            Class::AlreadyExists => "already-exists",
            Class::Expired => "expired",
            Class::Throttled => "throttled",
            Class::ServerError => "server-error",
            Class::Timeout => "timeout",
            Class::Connection => "connection",
            Class::Tls => "tls",
            Class::Unknown => "unknown",
        }
    }

    /// Whether retrying with back-off is expected to help without anyone changing anything.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Class::Connection
                | Class::Timeout
                | Class::ServerError
                | Class::Throttled
                | Class::Expired
                | Class::Conflict
        )
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a word that is not a class name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a diagnosis class")]
pub struct UnknownClass(pub String);

impl FromStr for Class {
    type Err = UnknownClass;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Class::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownClass(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_round_trip_and_match_serde() {
        for c in Class::ALL {
            assert_eq!(c.as_str().parse::<Class>().unwrap(), c);
            assert_eq!(
                serde_json::to_value(c).unwrap(),
                serde_json::Value::from(c.as_str())
            );
        }
    }
}
