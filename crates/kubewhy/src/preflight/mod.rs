//! Preflight: checks, before a program makes its first real request, that everything it declares it needs
//! ([`crate::needs`]) will work — the API server answers, who is asking, every type is served, every verb is
//! allowed, and what is watched can really be listed and watched — and reports every problem at once, each
//! failure with a [`Diagnosis`], plus the exact [`Fix`].
//!
//! ```no_run
//! # async fn demo(config: kube::Config, needs: kubewhy::needs::Needs) -> Result<(), kubewhy::preflight::Error> {
//! use kubewhy::preflight::{self, Options};
//! let report = preflight::run(&config, &needs, &Options::default()).await?;
//! for check in report.failures() {
//!     eprintln!("{}", check.diagnosis.as_ref().expect("a failed check carries a diagnosis"));
//! }
//! if !report.fix.is_empty() {
//!     print!("{}", report.fix.to_apply_stream());
//! }
//! std::process::exit(report.exit_code());
//! # }
//! ```
//!
//! The checks, each reported pass / fail / skipped:
//! 1. `reach` — the API server answers (TLS and credentials work) and tells its version;
//! 2. `whoami` — SelfSubjectReview: who the caller is; with [`Options::as_identity`] also who is checked;
//! 3. `served` — every needed type is served (aggregated discovery; for CRDs installed, `Established`, the
//!    version served; nearest names for a misspelling; a core-group request for a non-core resource);
//! 4. `access` — every verb is allowed (SelfSubjectAccessReview, or SubjectAccessReview / impersonation for
//!    another identity);
//! 5. `probe` — what is watched is listed (`limit=1`) and a watch is opened and closed, as the checked identity.
//!
//! Checks of one stage run concurrently; the stages are ordered because later ones use earlier answers (a
//! misspelled type is not access-checked; a denied list is not probed).

mod access;
mod crd;
mod fix;
mod probe;
mod reach;
mod served;
mod whoami;

use std::time::Duration;

use serde::Serialize;

use crate::cause::{Cause, Scope};
use crate::diagnosis::{Diagnosis, Request};
use crate::needs::{Need, Needs, ResourceType};
use crate::note::Note;
use crate::rbac::{Permission, Verb};
use crate::vocab;

pub use fix::Fix;

/// Whose access is checked when it is not the caller's (`kubectl --as` / `--as-group`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsIdentity {
    /// User name, e.g. `system:serviceaccount:default:doc-controller`.
    pub user: String,
    /// Groups. Empty: the groups the API server adds on impersonation (`system:authenticated`, and for a
    /// ServiceAccount `system:serviceaccounts` and `system:serviceaccounts:<namespace>`).
    pub groups: Vec<String>,
}

/// How the checks run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Check this identity instead of the caller. Access is then reviewed with SubjectAccessReview (or, when
    /// the caller may not create those, SelfSubjectAccessReview under impersonation), and probes run under
    /// impersonation (skipped, with the reason, when the caller may not impersonate).
    pub as_identity: Option<AsIdentity>,
    /// Run the live probes (list + watch) for watched needs.
    pub probes: bool,
    /// The command that installs a missing CRD (e.g. `doc-controller crdgen | kubectl apply -f -`); without it the
    /// fix names the CRD (`plural.group`) in a generic `kubectl apply -f` hint.
    pub crd_install: Option<String>,
    /// How many requests run at once.
    pub concurrency: usize,
    /// The time limit of one probe (list + watch) and of the other single requests.
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            as_identity: None,
            probes: true,
            crd_install: None,
            concurrency: 16,
            timeout: Duration::from_secs(10),
        }
    }
}

/// Why the checks could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The client configuration could not be turned into a client (TLS material, proxy, headers).
    #[error("building a Kubernetes client from the configuration failed")]
    Client(#[source] kube::Error),
}

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
    /// The diagnosis of a failure (in JSON, the schema of [`crate::render::json`], as `kubewhy explain` writes it).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "wire_diagnosis"
    )]
    pub diagnosis: Option<Diagnosis>,
}

fn wire_diagnosis<S: serde::Serializer>(d: &Option<Diagnosis>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => crate::render::json::diagnosis_value(d).serialize(s),
        None => s.serialize_none(),
    }
}

impl Check {
    fn new(kind: CheckKind, name: impl Into<String>, need: Option<usize>) -> Check {
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

    fn pass(mut self, detail: impl Into<String>) -> Check {
        self.outcome = Outcome::Pass;
        self.detail = detail.into();
        self
    }

    fn fail(mut self, diagnosis: Diagnosis) -> Check {
        self.outcome = Outcome::Fail;
        self.detail = diagnosis.summary();
        self.diagnosis = Some(diagnosis);
        self
    }

    fn skip(mut self, reason: impl Into<String>) -> Check {
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

    fn finish(&mut self) {
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

/// Runs every check of `needs` against the API server of `config` and returns the report.
///
/// # Errors
/// Only when no client can be built from `config`; everything the API server answers — including that it
/// cannot be reached — is in the report.
pub async fn run(config: &kube::Config, needs: &Needs, options: &Options) -> Result<Report, Error> {
    let caller = kube::Client::try_from(config.clone()).map_err(Error::Client)?;
    let as_client = match &options.as_identity {
        Some(who) => {
            let mut cfg = config.clone();
            cfg.auth_info.impersonate = Some(who.user.clone());
            cfg.auth_info.impersonate_groups = (!who.groups.is_empty()).then(|| who.groups.clone());
            Some(kube::Client::try_from(cfg).map_err(Error::Client)?)
        }
        None => None,
    };
    let plan = Plan::new(needs);
    let mut report = Report {
        name: needs.name.clone(),
        server: config.cluster_url.to_string(),
        server_version: None,
        caller: None,
        subject: None,
        blocked: None,
        checks: Vec::new(),
        summary: Summary::default(),
        fix: Fix::default(),
    };

    // 1. Reach: nothing else can run without it.
    let (reach, version) = reach::check(&caller, &report.server, options.timeout).await;
    let reached = reach.outcome == Outcome::Pass;
    report.server_version = version;
    report.checks.push(reach);
    if !reached {
        report.blocked = Some(format!(
            "the API server at `{}` could not be used; no other check could run",
            report.server
        ));
        report
            .checks
            .extend(plan.all_skipped("the API server could not be used (see `reach`)"));
        report.finish();
        return Ok(report);
    }

    // 2. Who is asking, who is checked, and the served types: concurrently.
    let (who, catalog) = futures::join!(
        whoami::check(&caller, as_client.as_ref(), options),
        crate::catalog::Catalog::read(&caller),
    );
    report.caller = who.caller.clone();
    report.subject = who.subject.clone();
    report.checks.extend(who.checks.iter().cloned());

    // 3. Served types and access reviews: concurrently.
    let (served, access) = futures::join!(
        served::check(&caller, &plan, catalog, options),
        access::check(&caller, as_client.as_ref(), &who, &plan, options),
    );
    let mut access = access;
    // A need whose name is wrong (a near name or the same name in another group is served) has no meaningful
    // access answer: fix the name first.
    // So does a verb the type does not support.
    for check in &mut access.checks {
        let Some(need) = check.need else { continue };
        let verb = check.permission.as_ref().map(|p| p.verb);
        let reason = served
            .misnamed
            .get(&need)
            .or_else(|| verb.and_then(|v| served.unsupported.get(&(need, v))));
        if let Some(reason) = reason {
            *check = check.clone().skip_keeping_permission(reason);
        }
    }
    if let Some(reason) = &access.blocked {
        report.blocked = Some(reason.clone());
    }
    report.checks.extend(served.checks.iter().cloned());
    report.checks.extend(access.checks.iter().cloned());

    // 4. Live probes of what is watched, as the checked identity.
    if options.probes {
        let probe_client = match &options.as_identity {
            None => Ok(&caller),
            Some(_) => match (&as_client, &who.impersonation_denied) {
                (_, Some(reason)) => Err(reason.clone()),
                (Some(c), None) => Ok(c),
                (None, None) => Err("no impersonating client".to_string()),
            },
        };
        report
            .checks
            .extend(probe::check(probe_client, &plan, &served, &access.checks, options).await);
    }

    // Every failure says which needs declared it (the served and access stages say so themselves).
    for check in &mut report.checks {
        if let (Some(need), Some(d)) = (check.need, check.diagnosis.as_mut())
            && !d.notes.iter().any(|n| matches!(n, Note::Declared { .. }))
        {
            d.notes.insert(
                0,
                Note::Declared {
                    program: needs.name.clone(),
                    needs: vec![need],
                },
            );
        }
    }
    report.fix = fix::build(needs, &report, &served, options);
    report.finish();
    Ok(report)
}

impl Check {
    fn skip_keeping_permission(self, reason: &str) -> Check {
        let permission = self.permission.clone();
        let mut c = Check::new(self.kind, self.name, self.need).skip(reason);
        c.permission = permission;
        c
    }
}

/// What will be checked, derived once from the needs: the distinct (type, subresource) pairs, the distinct
/// permissions with the need that asked first, and the watched needs.
pub(crate) struct Plan {
    /// The program whose needs these are.
    pub program: String,
    /// (first need index, type, subresource, verbs over every need on it).
    pub served: Vec<ServedKey>,
    /// (first need index, permission, version).
    pub access: Vec<AccessKey>,
    /// Watched needs (index, need).
    pub probes: Vec<(usize, Need)>,
}

pub(crate) struct ServedKey {
    pub need: usize,
    pub resource: ResourceType,
    pub subresource: Option<String>,
    pub verbs: std::collections::BTreeSet<Verb>,
    /// Every need (1-based) on this type and subresource.
    pub needs: Vec<usize>,
}

pub(crate) struct AccessKey {
    pub need: usize,
    pub permission: Permission,
    pub resource: ResourceType,
    pub subresource: Option<String>,
}

impl Plan {
    fn new(needs: &Needs) -> Plan {
        let mut served: Vec<ServedKey> = Vec::new();
        let mut access: Vec<AccessKey> = Vec::new();
        let mut probes = Vec::new();
        for (i, need) in needs.needs.iter().enumerate() {
            let index = i + 1;
            let mut verbs = need.verbs.clone();
            if need.watch {
                verbs.extend([Verb::List, Verb::Watch]);
                probes.push((index, need.clone()));
            }
            match served
                .iter_mut()
                .find(|k| k.resource == need.resource && k.subresource == need.subresource)
            {
                Some(key) => {
                    key.verbs.extend(verbs.iter().copied());
                    key.needs.push(index);
                }
                None => served.push(ServedKey {
                    need: index,
                    resource: need.resource.clone(),
                    subresource: need.subresource.clone(),
                    verbs: verbs.clone(),
                    needs: vec![index],
                }),
            }
            let mut with_watch = need.clone();
            with_watch.verbs = verbs;
            for permission in with_watch.permissions() {
                if !access.iter().any(|k| k.permission == permission) {
                    access.push(AccessKey {
                        need: index,
                        permission,
                        resource: need.resource.clone(),
                        subresource: need.subresource.clone(),
                    });
                }
            }
        }
        Plan {
            program: needs.name.clone(),
            served,
            access,
            probes,
        }
    }

    fn all_skipped(&self, reason: &str) -> Vec<Check> {
        let mut out = vec![Check::new(CheckKind::Whoami, "who am I", None).skip(reason)];
        out.extend(
            self.served
                .iter()
                .map(|k| Check::new(CheckKind::Served, served_name(k), Some(k.need)).skip(reason)),
        );
        out.extend(self.access.iter().map(|k| {
            let mut c = Check::new(CheckKind::Access, access_name(k), Some(k.need)).skip(reason);
            c.permission = Some(k.permission.clone());
            c
        }));
        out.extend(self.probes.iter().map(|(i, need)| {
            Check::new(CheckKind::Probe, probe_name(need), Some(*i)).skip(reason)
        }));
        out
    }
}

/// `documents.kube.rs`, `configmaps`, `documents.kube.rs/status`.
pub(crate) fn resource_name(resource: &ResourceType, subresource: Option<&str>) -> String {
    vocab::resource_name(&resource.resource, &resource.group, subresource)
}

/// The scope of a need: `in namespace `ns``, `in all namespaces`, `at cluster scope`.
pub(crate) fn scope(resource: &ResourceType, namespace: Option<&str>) -> Scope {
    match (resource.namespaced, namespace) {
        (true, Some(_)) => Scope::Namespace,
        (true, None) => Scope::AllNamespaces,
        (false, _) => Scope::ClusterScoped,
    }
}

/// The scope of a need as a phrase.
pub(crate) fn scope_phrase(resource: &ResourceType, namespace: Option<&str>) -> String {
    let namespace = namespace.filter(|_| resource.namespaced);
    vocab::scope_phrase(scope(resource, namespace), namespace).unwrap_or_default()
}

pub(crate) fn served_name(key: &ServedKey) -> String {
    format!(
        "`{}` ({})",
        resource_name(&key.resource, key.subresource.as_deref()),
        key.resource.version
    )
}

pub(crate) fn access_name(key: &AccessKey) -> String {
    format!(
        "`{}` `{}` {}",
        key.permission.verb,
        resource_name(&key.resource, key.subresource.as_deref()),
        scope_phrase(&key.resource, key.permission.namespace.as_deref())
    )
}

pub(crate) fn probe_name(need: &Need) -> String {
    format!(
        "list and watch `{}` ({}) {}",
        resource_name(&need.resource, None),
        need.resource.version,
        scope_phrase(&need.resource, need.namespace.as_deref())
    )
}

/// The request fields of a need (and verb) for a diagnosis.
pub(crate) fn need_request(
    resource: &ResourceType,
    subresource: Option<&str>,
    namespace: Option<&str>,
    verb: Option<Verb>,
) -> Request {
    Request {
        verb: verb.map(|v| v.to_string()),
        group: Some(resource.group.clone()),
        version: Some(resource.version.clone()),
        resource: Some(resource.resource.clone()),
        subresource: subresource.map(str::to_string),
        kind: (!resource.kind.is_empty()).then(|| resource.kind.clone()),
        namespace: if resource.namespaced {
            namespace.map(str::to_string)
        } else {
            None
        },
        ..Request::default()
    }
}

/// Runs a future with the time limit of `options`, turning a timeout into a message.
pub(crate) async fn limited<T>(
    timeout: Duration,
    fut: impl std::future::Future<Output = Result<T, kube::Error>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Failure::Api(Box::new(e))),
        Err(_) => Err(Failure::TimedOut(timeout)),
    }
}

/// A request that did not succeed: an API or transport error, or no answer in time.
#[derive(Debug)]
pub(crate) enum Failure {
    Api(Box<kube::Error>),
    TimedOut(Duration),
}

impl Failure {
    /// The diagnosis of this failure for a request.
    pub(crate) fn diagnose(&self, request: &Request) -> Diagnosis {
        match self {
            Failure::Api(e) => crate::diagnose_in(e, Some(request)),
            Failure::TimedOut(limit) => {
                let mut d = Diagnosis::new(
                    Cause::NoAnswer {
                        after_ms: u64::try_from(limit.as_millis()).ok(),
                    },
                    format!("no answer within {}s", limit.as_secs_f64()),
                );
                d.request = request.clone();
                d
            }
        }
    }

    /// The HTTP status code, when the server answered.
    pub(crate) fn code(&self) -> Option<u16> {
        match self {
            Failure::Api(e) => match e.as_ref() {
                kube::Error::Api(s) => Some(s.code),
                _ => None,
            },
            Failure::TimedOut(_) => None,
        }
    }

    /// The server's message, when it answered.
    pub(crate) fn message(&self) -> String {
        match self {
            Failure::Api(e) => match e.as_ref() {
                kube::Error::Api(s) => s.message.clone(),
                other => crate::chain::one_line(other),
            },
            Failure::TimedOut(limit) => format!("no answer within {}s", limit.as_secs_f64()),
        }
    }
}

#[cfg(test)]
mod tests {
    /// Callers spawn the preflight (doc-controller's start-up waits in a task): its future must be `Send`.
    #[test]
    fn the_preflight_future_is_send() {
        fn is_send<T: Send>(_: &T) {}
        let config = kube::Config::new("https://127.0.0.1:1".parse().unwrap());
        let needs = crate::needs::Needs::new("x");
        let options = super::Options::default();
        let future = super::run(&config, &needs, &options);
        is_send(&future);
    }
}
