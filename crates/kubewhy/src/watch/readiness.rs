//! Readiness as data: named checks a program sets ([`Checks`]), and the report [`super::Health::readiness`]
//! builds from them, the watchers and the access watchdog ([`Readiness`]) — `Serialize`, and answerable from any
//! HTTP stack as a status code and a body ([`Readiness::http`]).
//!
//! ```
//! use kubewhy::watch::{Health, Policy};
//! let health = Health::new(Policy::in_cluster());
//! health.declare(["documents.kube.rs"]);                 // ready only once it has synced
//! health.checks().not_ready("preflight", "checking the needs");
//! let (status, body) = health.readiness().http();
//! assert_eq!(status, 503);
//! assert!(body.contains("FAIL watcher documents.kube.rs: initial list not complete"));
//! ```

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, PoisonError, RwLock};

use serde::Serialize;

use crate::diagnosis::Diagnosis;

/// The state of one named check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "message", rename_all = "kebab-case")]
pub enum Check {
    /// Ready; the text says what was checked (`synced 12 Documents`).
    Ready(String),
    /// Not ready, and why.
    NotReady(String),
}

/// A program's own readiness checks by name (preflight, leader election, ...). Cheap to clone; every clone sees the
/// same checks.
#[derive(Debug, Clone, Default)]
pub struct Checks {
    checks: Arc<RwLock<BTreeMap<String, Check>>>,
}

impl Checks {
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

    /// Removes a check.
    pub fn remove(&self, name: &str) {
        let mut checks = self.checks.write().unwrap_or_else(PoisonError::into_inner);
        checks.remove(name);
    }

    /// The current state of a check.
    pub fn get(&self, name: &str) -> Option<Check> {
        let checks = self.checks.read().unwrap_or_else(PoisonError::into_inner);
        checks.get(name).cloned()
    }

    /// Every check, by name.
    pub fn all(&self) -> BTreeMap<String, Check> {
        self.checks
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// One line of the readiness report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// What is checked: `watcher documents.kube.rs`, `access`, or a program's check name.
    pub name: String,
    /// Whether it is ready.
    pub ready: bool,
    /// What was checked, or why it is not ready.
    pub message: String,
    /// The diagnosis behind a failure, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<Box<Diagnosis>>,
}

/// The readiness report: ready when every item is (and there is at least one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Readiness {
    /// Whether the program is ready.
    pub ready: bool,
    /// What was checked, in order: watchers, access, the program's checks.
    pub items: Vec<Item>,
}

impl Readiness {
    pub(super) fn new(items: Vec<Item>) -> Readiness {
        Readiness {
            ready: !items.is_empty() && items.iter().all(|i| i.ready),
            items,
        }
    }

    /// The items that are not ready.
    pub fn failing(&self) -> impl Iterator<Item = &Item> {
        self.items.iter().filter(|i| !i.ready)
    }

    /// `200` when ready, else `503`.
    pub fn status_code(&self) -> u16 {
        if self.ready { 200 } else { 503 }
    }

    /// The text body: one line per item, `ok   name: what` or `FAIL name: why`.
    pub fn text(&self) -> String {
        let mut text = String::new();
        for item in &self.items {
            let mark = if item.ready { "ok  " } else { "FAIL" };
            // Writing to a String cannot fail.
            let _infallible = writeln!(text, "{mark} {}: {}", item.name, item.message);
        }
        if self.items.is_empty() {
            text.push_str("FAIL startup: nothing has reported yet\n");
        }
        text
    }

    /// The answer to a readiness probe from any HTTP stack: the status code and the text body.
    pub fn http(&self) -> (u16, String) {
        (self.status_code(), self.text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_every_item_is_and_there_is_one() {
        assert!(!Readiness::new(Vec::new()).ready);
        assert_eq!(Readiness::new(Vec::new()).http().0, 503);
        let item = |ready| Item {
            name: "caches".into(),
            ready,
            message: "synced".into(),
            diagnosis: None,
        };
        let r = Readiness::new(vec![item(true), item(false)]);
        assert_eq!(r.http().0, 503);
        assert_eq!(r.failing().count(), 1);
        let r = Readiness::new(vec![item(true)]);
        assert_eq!(r.http(), (200, "ok   caches: synced\n".to_string()));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["ready"], true);
        assert_eq!(json["items"][0]["name"], "caches");
    }
}
