//! One cause, one line: a failure shared by many requests (the API server unreachable, a permission lost) is logged
//! once per interval with a count, whoever met it — every watcher and every reconcile of a program report through
//! one [`Reporter`]. The key of a cause leaves out what differs between the requests that share it: the object's
//! name for a denial or a missing type, the whole request for a server-wide failure; only a failure that is the
//! object's own (invalid, conflicting, refused by admission) keeps its name.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::cause::Cause;
use crate::diagnosis::{Class, Diagnosis};

/// Whether a cause is the whole API server's (or the connection's, or the credentials'), whatever was asked.
pub fn is_server_wide(cause: &Cause) -> bool {
    matches!(
        cause,
        Cause::Connection { .. }
            | Cause::Tls { .. }
            | Cause::NoAnswer { .. }
            | Cause::ServerTimeout
            | Cause::Unavailable
            | Cause::ServerFailed
            | Cause::LeaderChanged
            | Cause::Throttled { .. }
            | Cause::ClientThrottled
            | Cause::Reinitializing { .. }
            | Cause::StalledWatch { .. }
            | Cause::Unauthenticated { .. }
            | Cause::CredentialsUnavailable
            | Cause::ProxyUnsupported
            | Cause::NoConfig
    )
}

/// Whether a cause belongs to one object (its content or state), not to what the program may do or reach.
pub fn is_object_specific(cause: &Cause) -> bool {
    matches!(
        cause,
        Cause::Invalid { .. }
            | Cause::StalePatch { .. }
            | Cause::Modified
            | Cause::ApplyConflict { .. }
            | Cause::AlreadyExists
            | Cause::ObjectMissing
            | Cause::NotInCache
            | Cause::Admission { .. }
    )
}

/// What identifies "the same cause" in the log.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    /// The cause; for a server-wide one, only its class (a refused and a reset connection are one outage).
    cause: Result<Cause, Class>,
    /// verb, group, resource, subresource, namespace, name — as far as the cause's scope needs them.
    target: [Option<String>; 6],
}

fn key(d: &Diagnosis) -> Key {
    let r = &d.request;
    if is_server_wide(&d.cause) {
        return Key {
            cause: Err(d.cause.class()),
            target: Default::default(),
        };
    }
    let target = {
        let name = is_object_specific(&d.cause)
            .then(|| r.name.clone())
            .flatten();
        [
            r.verb.clone(),
            r.group.clone(),
            r.resource.clone(),
            r.subresource.clone(),
            r.namespace.clone(),
            name,
        ]
    };
    Key {
        cause: Ok(d.cause.clone()),
        target,
    }
}

/// A logged cause, as the log keys it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Logged<'a> {
    /// A cause with its data.
    Cause(&'a Cause),
    /// A server-wide cause, by class.
    ServerWide(Class),
}

#[derive(Debug)]
struct Entry {
    last_logged: Instant,
    suppressed: u64,
}

/// The shared log of causes: whether a failure's line is due, and how many were held back since the last one.
#[derive(Debug)]
pub(crate) struct Reporter {
    interval: Duration,
    causes: Mutex<HashMap<Key, Entry>>,
}

impl Reporter {
    pub(crate) fn new(interval: Duration) -> Reporter {
        Reporter {
            interval,
            causes: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(held back since the last line)` when a line for `d` is due now; `None` when it was logged within the
    /// interval (it is counted).
    pub(crate) fn due(&self, d: &Diagnosis, now: Instant) -> Option<u64> {
        let mut causes = self.causes.lock().unwrap_or_else(PoisonError::into_inner);
        match causes.get_mut(&key(d)) {
            Some(e) if now.saturating_duration_since(e.last_logged) < self.interval => {
                e.suppressed += 1;
                None
            }
            Some(e) => {
                let held = e.suppressed;
                e.last_logged = now;
                e.suppressed = 0;
                Some(held)
            }
            None => {
                causes.insert(
                    key(d),
                    Entry {
                        last_logged: now,
                        suppressed: 0,
                    },
                );
                Some(0)
            }
        }
    }

    /// Forgets the causes `gone` picks, by cause and target (verb, group, resource, subresource, namespace, name):
    /// they were fixed, so the next occurrence is news again. Returns how many failures of them were held back since
    /// their last line.
    pub(crate) fn forget(&self, gone: impl Fn(Logged<'_>, &[Option<String>; 6]) -> bool) -> u64 {
        let mut causes = self.causes.lock().unwrap_or_else(PoisonError::into_inner);
        let mut held = 0;
        causes.retain(|k, e| {
            let drop = match &k.cause {
                Ok(cause) => gone(Logged::Cause(cause), &k.target),
                Err(class) => gone(Logged::ServerWide(*class), &k.target),
            };
            if drop {
                held += e.suppressed;
            }
            !drop
        });
        held
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cause::{ConnectionFailure, Denial};

    fn denied(name: &str) -> Diagnosis {
        let mut d = Diagnosis::new(Cause::Denied(Denial::default()), "m");
        d.request =
            crate::url::parse_request("PATCH", &format!("/api/v1/namespaces/ns/configmaps/{name}"));
        d
    }

    #[test]
    fn one_line_per_cause_per_interval_whatever_the_object() {
        let r = Reporter::new(Duration::from_secs(60));
        let t = Instant::now();
        assert_eq!(r.due(&denied("a"), t), Some(0));
        assert_eq!(r.due(&denied("b"), t), None, "same verb and resource");
        assert_eq!(r.due(&denied("c"), t + Duration::from_secs(61)), Some(1));
        let mut refused = Diagnosis::new(
            Cause::Connection {
                failure: ConnectionFailure::Refused,
                os_code: Some(111),
            },
            "m",
        );
        assert_eq!(r.due(&refused, t), Some(0));
        refused.request = crate::url::parse_request("GET", "/api/v1/pods");
        assert_eq!(r.due(&refused, t), None, "server-wide: any request");
        let reset = Diagnosis::new(
            Cause::Connection {
                failure: ConnectionFailure::Reset,
                os_code: Some(104),
            },
            "m",
        );
        assert_eq!(r.due(&reset, t), None, "refused or reset: one outage");
        assert_eq!(
            r.forget(|c, _| matches!(c, Logged::ServerWide(Class::Connection))),
            2,
            "the refused GET and the reset were held back"
        );
        assert_eq!(r.due(&refused, t), Some(0), "news again after it was fixed");
        let mut conflict = Diagnosis::new(Cause::Modified, "m");
        conflict.request = crate::url::parse_request("PUT", "/api/v1/namespaces/ns/configmaps/x");
        assert_eq!(r.due(&conflict, t), Some(0));
        conflict.request.name = Some("y".into());
        assert_eq!(r.due(&conflict, t), Some(0), "an object's own failure");
    }
}
