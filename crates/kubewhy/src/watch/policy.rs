//! The error policy: which failures retry quietly, how long a persistent failure may last before it counts
//! (the grace period), what happens then (keep retrying while not ready, or exit), how often a repeating cause
//! is logged, and the exit code for each class.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::diagnosis::Class;

use super::backoff::BackoffConfig;

/// What a watcher does once a persistent failure outlasts the grace period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnPersistent {
    /// Keep retrying with back-off; readiness is false until it recovers (the default: an admin may fix RBAC or
    /// install the CRD, and the program recovers without a restart).
    #[default]
    Retry,
    /// Print the full diagnosis and exit with [`exit_code`] (in a cluster the restart back-off and a
    /// CrashLoopBackOff alert come for free).
    Exit,
}

impl FromStr for OnPersistent {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "retry" => Ok(OnPersistent::Retry),
            "exit" => Ok(OnPersistent::Exit),
            other => Err(format!(
                "{other:?} is not an error policy (expected `retry` or `exit`)"
            )),
        }
    }
}

impl fmt::Display for OnPersistent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OnPersistent::Retry => "retry",
            OnPersistent::Exit => "exit",
        })
    }
}

/// The policy for a set of watchers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// What to do about a persistent failure past the grace period.
    pub on_persistent: OnPersistent,
    /// How long a failure may last before it is reported at WARN (transient) / makes the program not ready.
    pub grace: Duration,
    /// The same cause is logged at most once per interval, with a repeat count.
    pub log_interval: Duration,
    /// Back-off between attempts.
    pub backoff: BackoffConfig,
}

impl Policy {
    /// For a program in a cluster: a 30 s grace, then not ready and keep retrying; causes logged once a minute.
    pub fn in_cluster() -> Policy {
        Policy {
            on_persistent: OnPersistent::Retry,
            grace: Duration::from_secs(30),
            log_interval: Duration::from_secs(60),
            backoff: BackoffConfig::default(),
        }
    }

    /// For a program run by hand: a 10 s grace and causes logged every 30 s, so problems show quickly.
    pub fn local() -> Policy {
        Policy {
            grace: Duration::from_secs(10),
            log_interval: Duration::from_secs(30),
            ..Policy::in_cluster()
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::in_cluster()
    }
}

/// Whether a class is persistent: it will not go away without someone changing something.
pub fn is_persistent(class: Class) -> bool {
    matches!(
        class,
        Class::Forbidden
            | Class::Unauthorized
            | Class::ResourceNotFound
            | Class::InvalidRequest
            | Class::AdmissionDenied
            | Class::Tls
    )
}

/// Whether a failure makes a watcher count as not ready at once, without the grace period: persistent classes,
/// and a stalled watch (changes already went unseen for the whole stall window).
pub fn counts_at_once(cause: &crate::Cause) -> bool {
    is_persistent(cause.class()) || matches!(cause, crate::Cause::StalledWatch { .. })
}

/// The process exit code for a persistent failure under [`OnPersistent::Exit`]: it says which class.
///
/// | class | code |
/// |---|---|
/// | forbidden | 10 |
/// | unauthorized | 11 |
/// | resource-not-found | 12 |
/// | invalid-request | 13 |
/// | admission-denied | 14 |
/// | tls | 15 |
/// | anything else | 1 |
pub fn exit_code(class: Class) -> u8 {
    match class {
        Class::Forbidden => 10,
        Class::Unauthorized => 11,
        Class::ResourceNotFound => 12,
        Class::InvalidRequest => 13,
        Class::AdmissionDenied => 14,
        Class::Tls => 15,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persistent_classes_have_distinct_exit_codes() {
        let codes: std::collections::BTreeSet<u8> = Class::ALL
            .into_iter()
            .filter(|c| is_persistent(*c))
            .map(exit_code)
            .collect();
        assert_eq!(
            codes.len(),
            Class::ALL.into_iter().filter(|c| is_persistent(*c)).count()
        );
        assert!(!codes.contains(&1));
        assert!(!is_persistent(Class::Connection) && !is_persistent(Class::Expired));
        assert_eq!("exit".parse::<OnPersistent>(), Ok(OnPersistent::Exit));
        assert!("crash".parse::<OnPersistent>().is_err());
    }
}
