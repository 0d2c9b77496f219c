//! What the checks found: each [`Check`] (its kind, outcome, detail, permission and diagnosis), the identities
//! involved, the counts, and the [`Report`] holding them with the [`Fix`].

use serde::Serialize;

use super::fix::Fix;
use crate::diagnosis::Diagnosis;
use crate::rbac::Permission;

/// What a check looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckKind {
    /// The API server answers; TLS and credentials work.
    Reach,
    /// Who is asking (and who is checked).
    Whoami,
    /// A needed type is served.
    Served,
    /// A needed verb is allowed.
    Access,
    /// A watched type can be listed and watched, live.
    Probe,
}

impl CheckKind {
    /// The stable name (`reach`, `whoami`, `served`, `access`, `probe`).
    pub fn as_str(self) -> &'static str {
        match self {
            CheckKind::Reach => "reach",
            CheckKind::Whoami => "whoami",
            CheckKind::Served => "served",
            CheckKind::Access => "access",
            CheckKind::Probe => "probe",
        }
    }
}

impl std::fmt::Display for CheckKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// It passed.
    Pass,
    /// It failed; the check carries a diagnosis.
    Fail,
    /// It could not run or its answer would mean nothing; `detail` says why.
    Skipped,
}

/// One check and its result.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What kind of check.
    pub kind: CheckKind,
    /// What it checked, e.g. ``watch `documents.kube.rs` in all namespaces``.
    pub name: String,
    /// The 1-based position of the need it belongs to, when it belongs to one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub need: Option<usize>,
    /// The result.
    pub outcome: Outcome,
    /// On a pass, what was seen; when skipped, why; on a failure, the diagnosis summary.
    pub detail: String,
    /// The permission an `access` check reviewed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permission: Option<Permission>,
    /// The diagnosis of a failure (a report written as JSON shows it in the schema of `kubewhy explain -o json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<Diagnosis>,
}

impl Check {
    pub(super) fn new(kind: CheckKind, name: impl Into<String>, need: Option<usize>) -> Check {
        Check {
            kind,
            name: name.into(),
            need,
            outcome: Outcome::Skipped,
            detail: String::new(),
            permission: None,
            diagnosis: None,
        }
    }

    pub(super) fn pass(mut self, detail: impl Into<String>) -> Check {
        self.outcome = Outcome::Pass;
        self.detail = detail.into();
        self
    }

    pub(super) fn fail(mut self, diagnosis: Diagnosis) -> Check {
        self.outcome = Outcome::Fail;
        self.detail = diagnosis.summary();
        self.diagnosis = Some(diagnosis);
        self
    }

    pub(super) fn skip(mut self, reason: impl Into<String>) -> Check {
        self.outcome = Outcome::Skipped;
        self.detail = reason.into();
        self
    }
}

/// A user and their groups, as the API server sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// User name.
    pub user: String,
    /// Groups.
    pub groups: Vec<String>,
}

/// Counts of outcomes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Checks that passed.
    pub passed: usize,
    /// Checks that failed.
    pub failed: usize,
    /// Checks skipped.
    pub skipped: usize,
}

/// Everything the preflight found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The program whose needs were checked.
    pub name: String,
    /// The API server's URL.
    pub server: String,
    /// The API server's version (`v1.36.3`), when it answered.
    pub server_version: Option<String>,
    /// Who ran the checks.
    pub caller: Option<Identity>,
    /// Whose access was checked (the caller, or the `--as` identity).
    pub subject: Option<Identity>,
    /// Why the checks could not run (nothing answered, or the caller may not review another identity);
    /// `None` when they ran.
    pub blocked: Option<String>,
    /// Every check, in a stable order: reach, whoami, served, access, probe; within each, by need.
    pub checks: Vec<Check>,
    /// Counts.
    pub summary: Summary,
    /// What grants or installs everything that is missing.
    pub fix: Fix,
}

impl Report {
    /// The failures' diagnoses in report order, denials of several verbs on one target (access checks) shown as
    /// one: what a report lists.
    pub fn diagnoses(&self) -> Vec<Diagnosis> {
        let failures: Vec<(&Check, &Diagnosis)> = self
            .failures()
            .filter_map(|c| Some((c, c.diagnosis.as_ref()?)))
            .collect();
        let kinds: Vec<CheckKind> = failures.iter().map(|(c, _)| c.kind).collect();
        crate::merge::merged(
            failures.into_iter().map(|(_, d)| d.clone()).collect(),
            |i| kinds[i] == CheckKind::Access,
        )
    }

    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.outcome == Outcome::Fail)
    }

    /// Whether every check passed or was skipped for a reason that is not a problem of the checked identity.
    pub fn passed(&self) -> bool {
        self.blocked.is_none() && self.summary.failed == 0
    }

    /// The process exit status: 0 every check passed, 1 a check failed, 2 the checks could not run
    /// (connection, TLS or credentials failed, or the caller may not review another identity).
    pub fn exit_code(&self) -> i32 {
        if self.blocked.is_some() {
            2
        } else if self.summary.failed > 0 {
            1
        } else {
            0
        }
    }

    pub(super) fn finish(&mut self) {
        let mut s = Summary::default();
        for c in &self.checks {
            match c.outcome {
                Outcome::Pass => s.passed += 1,
                Outcome::Fail => s.failed += 1,
                Outcome::Skipped => s.skipped += 1,
            }
        }
        self.summary = s;
    }
}

impl Check {
    pub(super) fn skip_keeping_permission(self, reason: &str) -> Check {
        let permission = self.permission.clone();
        let mut c = Check::new(self.kind, self.name, self.need).skip(reason);
        c.permission = permission;
        c
    }
}
