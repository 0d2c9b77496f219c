//! Readiness: a set of named checks, each ready or not with a reason, that `/readyz` reports. Any part of the
//! program can add its own check (the lead's watcher-health layer adds one per watcher), so a pod that is not ready
//! always says why.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, PoisonError, RwLock};

/// The state of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Ready; the text says what was checked (`synced 12 Documents`).
    Ready(String),
    /// Not ready, and why.
    NotReady(String),
}

/// Shared readiness state: clone it freely, every clone sees the same checks.
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    checks: Arc<RwLock<BTreeMap<String, Check>>>,
}

/// What `/readyz` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Whether every check is ready (and there is at least one).
    pub ready: bool,
    /// One line per check: `ok   caches: synced 3 Documents` / `FAIL caches: waiting for ...`.
    pub text: String,
}

impl Readiness {
    /// Sets a check.
    pub fn set(&self, name: &str, check: Check) {
        // Each write replaces one entry, so a poisoned lock still holds consistent data.
        let mut checks = self.checks.write().unwrap_or_else(PoisonError::into_inner);
        checks.insert(name.to_string(), check);
    }

    /// Marks a check ready.
    pub fn ready(&self, name: &str, what: impl Into<String>) {
        self.set(name, Check::Ready(what.into()));
    }

    /// Marks a check not ready.
    pub fn not_ready(&self, name: &str, why: impl Into<String>) {
        self.set(name, Check::NotReady(why.into()));
    }

    /// The current state of a check.
    pub fn get(&self, name: &str) -> Option<Check> {
        let checks = self.checks.read().unwrap_or_else(PoisonError::into_inner);
        checks.get(name).cloned()
    }

    /// The report for `/readyz`.
    pub fn report(&self) -> Report {
        let checks = self.checks.read().unwrap_or_else(PoisonError::into_inner);
        let mut text = String::new();
        let mut ready = !checks.is_empty();
        for (name, check) in checks.iter() {
            // Writing to a String cannot fail.
            let _ = match check {
                Check::Ready(what) => writeln!(text, "ok   {name}: {what}"),
                Check::NotReady(why) => {
                    ready = false;
                    writeln!(text, "FAIL {name}: {why}")
                }
            };
        }
        if checks.is_empty() {
            text.push_str("FAIL startup: no check has reported yet\n");
        }
        Report { ready, text }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_every_check_is() {
        let r = Readiness::default();
        assert!(!r.report().ready);
        r.not_ready("caches", "waiting for the initial list of Documents");
        r.ready("leader-election", "leader");
        let report = r.report();
        assert!(!report.ready);
        assert!(
            report.text.contains("FAIL caches: waiting"),
            "{}",
            report.text
        );
        r.clone().ready("caches", "synced 0 Documents");
        assert!(r.report().ready, "{}", r.report().text);
    }
}
