//! The access watchdog. The API server does not close open watches when RBAC changes, so a permission revoked while
//! a program runs stays invisible until the watch reconnects (up to `timeoutSeconds`, 290 s by default) or the next
//! write fails. The watchdog asks the authorizer about every permission the program needs — one batch of
//! SelfSubjectAccessReviews — once a minute (jittered) and right after a watcher or reconcile error, and reports
//! what it finds:
//!
//! - a permission lost: one WARN with the diagnosis and its fix, naming the verb and resource ("the open watch still
//!   works; it will fail at its next reconnect"), the `access` readiness item false naming it, and
//!   `kubewhy_access_allowed{verb,resource,namespace}` 0;
//! - a permission restored: one INFO line, readiness and the metric back, no restart. While a permission is
//!   denied it is asked again every [`DENIED_INTERVAL`], and at once when a watcher recovers or the request
//!   inspector sees the denied request succeed, so readiness follows a fix within seconds.
//!
//! What it checks: the needs a program declared by hand ([`Needs`]), or those the controller helper derives
//! ([`crate::controller::Controller`]: its watched and owned types, `list` and `watch`) and, when the program's
//! client is inspected ([`super::Health::try_default_client`]), each write the inspector saw allowed (create,
//! update, patch, delete on a resource, subresource and namespace), from its first use on. What it checks is
//! readable as needs ([`super::Health::access_needs`]).
//!
//! Its cost is one review per permission per interval (doc-controller: 16 reviews a minute), and one per denied
//! permission every [`DENIED_INTERVAL`] while it stays denied; a review is answered from the API server's RBAC
//! cache, without etcd.

use std::time::Duration;

use tokio::time::Instant;

use super::backoff::jittered;
use super::health::{AccessStatus, Health};
use crate::cause::{Cause, Denial};
use crate::diagnosis::{Diagnosis, Request};
use crate::metrics::AccessLabels;
use crate::needs::{Needs, need_request, scope, scope_phrase};
use crate::note::Note;
use crate::rbac::Verb;
use crate::review::{Answer, Reviewer, review};
use crate::sorted::SortedMap;
use crate::trace::used::{Scope as UsedScope, Used};
use crate::vocab::request_resource;

/// The default interval between two checks.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// While a permission is denied, it is asked again this often (jittered): a fix is seen within it.
pub const DENIED_INTERVAL: Duration = Duration::from_secs(2);

/// Extra checks after errors come at most this often.
const RECHECK_SPACING: Duration = Duration::from_secs(5);

/// Extra checks after a recovery come at most this often.
const RECHECK_NOW_SPACING: Duration = Duration::from_secs(1);

/// How often the request inspector's record is read for writes not checked yet and for a success of a denied
/// request (a read of memory, no request).
const INSPECTOR_POLL: Duration = Duration::from_secs(1);

/// A permission's identity: verb, group, resource, subresource, namespace.
type Key = (Verb, String, String, Option<String>, Option<String>);

/// One permission to check.
#[derive(Debug, Clone)]
struct Permission {
    /// `` `watch` `documents.kube.rs` in namespace `a` ``.
    name: String,
    request: Request,
    key: Key,
    /// The program keeps a watch open on it and the verb is list or watch.
    watching: bool,
    /// The declaration it comes from (program, 1-based need), when the program declared it by hand.
    declared: Option<(String, usize)>,
    resource: crate::needs::ResourceType,
    namespace: Option<String>,
}

/// Adds the permissions `needs` asks for (a need that watches also needs `list` and `watch`) to `out`, each once.
/// `declared`: the program wrote them (its diagnoses say which need).
fn add_permissions(needs: &Needs, declared: bool, out: &mut Vec<Permission>) {
    for (i, need) in needs.needs.iter().enumerate() {
        let mut verbs = need.verbs.clone();
        if need.watch {
            verbs.extend([Verb::List, Verb::Watch]);
        }
        for verb in verbs {
            let request = need_request(
                &need.resource,
                need.subresource.as_deref(),
                need.namespace.as_deref(),
                Some(verb),
            );
            let key = (
                verb,
                need.resource.group.clone(),
                need.resource.resource.clone(),
                need.subresource.clone(),
                request.namespace.clone(),
            );
            // Tens of permissions: a scan of those kept is all it takes (no set type of its own).
            if out.iter().any(|p| p.key == key) {
                continue;
            }
            let resource = request_resource(&request).unwrap_or_default();
            let scope_phrase = scope_phrase(&need.resource, need.namespace.as_deref());
            out.push(Permission {
                name: format!("`{verb}` `{resource}` {scope_phrase}"),
                watching: need.watch && matches!(verb, Verb::List | Verb::Watch),
                request,
                key,
                declared: declared.then(|| (needs.name.clone(), i + 1)),
                resource: need.resource.clone(),
                namespace: need.namespace.clone(),
            });
        }
    }
}

/// Whether a verb writes.
fn writes(verb: &str) -> bool {
    matches!(
        verb,
        "create" | "update" | "patch" | "delete" | "deletecollection"
    )
}

/// The writes `used` saw allowed, as needs named `name`. A write seen in many namespaces is left out: only a
/// cluster-wide review could ask about it, and the program may hold a grant per namespace.
fn allowed_writes(used: &Used, name: &str) -> Needs {
    let writes = Used {
        permissions: used
            .permissions
            .iter()
            .filter(|p| {
                p.allowed > 0 && writes(&p.verb) && !matches!(p.scope, UsedScope::ManyNamespaces)
            })
            .cloned()
            .collect(),
        ..Used::default()
    };
    writes.needs(name, &[])
}

/// How often the inspector saw `p` allowed.
fn allowed_uses(used: &Used, p: &Permission) -> u64 {
    let (verb, group, resource, subresource, namespace) = &p.key;
    used.permissions
        .iter()
        .filter(|u| {
            u.verb == verb.to_string()
                && &u.group == group
                && &u.resource == resource
                && &u.subresource == subresource
                && match (&u.scope, namespace) {
                    (UsedScope::Namespace(ns), Some(want)) => ns == want,
                    (UsedScope::Cluster, None) => true,
                    _ => false,
                }
        })
        .map(|u| u.allowed)
        .sum()
}

/// The diagnosis of a denied permission.
fn denied(
    p: &Permission,
    answer: &Answer,
    was_allowed: bool,
    who: &Option<(String, Vec<String>)>,
) -> Diagnosis {
    let mut message = "SelfSubjectAccessReview: allowed=false".to_string();
    if let Some(reason) = &answer.reason {
        message.push_str(&format!(", reason={reason:?}"));
    }
    let mut d = Diagnosis::new(
        Cause::Denied(Denial {
            scope: scope(&p.resource, p.namespace.as_deref()),
            authorizer: answer.reason.clone(),
            explicit: answer.denied,
            evaluation_error: answer.evaluation_error.clone(),
            caller: true,
            ..Denial::default()
        }),
        message,
    );
    d.request = p.request.clone();
    if let Some((user, groups)) = who {
        d.user = Some(user.clone());
        d.groups = groups.clone();
    }
    if let Some((program, need)) = &p.declared {
        d.notes.push(Note::Declared {
            program: program.clone(),
            needs: vec![*need],
        });
    }
    if was_allowed {
        d.notes.push(Note::AccessLost {
            watching: p.watching,
        });
    }
    d
}

/// The running watchdog; it stops when dropped.
#[derive(Debug)]
pub struct AccessWatchdog {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for AccessWatchdog {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a watchdog checks, and how often.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// Needs the program wrote (its diagnoses name the need).
    pub(crate) declared: Needs,
    /// Needs derived from what the program runs (the controller helper's watched and owned types).
    pub(crate) derived: Needs,
    /// Also check each write the registry's request inspector sees allowed.
    pub(crate) learn: bool,
    pub(crate) interval: Duration,
}

impl AccessWatchdog {
    /// Starts checking `needs` with `client` (the program's own identity) every minute and after errors,
    /// reporting to `health`. Needs a tokio runtime.
    pub fn start(health: &Health, client: kube::Client, needs: &Needs) -> AccessWatchdog {
        AccessWatchdog::start_every(health, client, needs, DEFAULT_INTERVAL)
    }

    /// [`AccessWatchdog::start`] with another interval.
    pub fn start_every(
        health: &Health,
        client: kube::Client,
        needs: &Needs,
        interval: Duration,
    ) -> AccessWatchdog {
        AccessWatchdog::start_plan(
            health,
            client,
            Plan {
                declared: needs.clone(),
                derived: Needs::new(&needs.name),
                learn: false,
                interval,
            },
        )
    }

    pub(crate) fn start_plan(health: &Health, client: kube::Client, plan: Plan) -> AccessWatchdog {
        let health = health.clone();
        let task = tokio::spawn(async move { run(health, client, plan).await });
        AccessWatchdog { task }
    }
}

async fn whoami(client: &kube::Client) -> Option<(String, Vec<String>)> {
    let who = crate::review::whoami(client).await.ok()?;
    (!who.user.is_empty()).then_some((who.user, who.groups))
}

/// The needs a watchdog checks now, as one declaration: declared, derived and learned.
fn checked_needs(plan: &Plan, learned: &Needs) -> Needs {
    let mut all = plan.declared.clone();
    if all.needs.is_empty() {
        all.name.clone_from(&plan.derived.name);
    }
    all.needs.extend(plan.derived.needs.iter().cloned());
    all.needs.extend(learned.needs.iter().cloned());
    all
}

/// What woke the watchdog: which permissions to ask about next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Round {
    /// Every permission.
    Full,
    /// The denied ones and those never asked about.
    Partial,
}

async fn run(health: Health, client: kube::Client, plan: Plan) {
    let (recheck, recheck_now) = health.recheck_signals();
    let mut permissions = Vec::new();
    add_permissions(&plan.declared, true, &mut permissions);
    add_permissions(&plan.derived, false, &mut permissions);
    let mut learned = Needs::new(&plan.derived.name);
    health.set_access_needs(checked_needs(&plan, &learned));
    let mut who = None;
    let mut found: SortedMap<String, AccessStatus> = SortedMap::default();
    let mut last_full = Instant::now();
    let mut next_full = Instant::now();
    let mut round = Round::Full;
    loop {
        let inspector = if plan.learn { health.inspector() } else { None };
        let used = inspector.as_ref().map(crate::trace::Inspector::used);
        if let Some(used) = &used {
            let writes = allowed_writes(used, &plan.derived.name);
            if writes != learned {
                learned = writes;
                add_permissions(&learned, false, &mut permissions);
                health.set_access_needs(checked_needs(&plan, &learned));
            }
        }
        if round == Round::Full {
            if who.is_none() {
                who = whoami(&client).await;
            }
            last_full = Instant::now();
            next_full = last_full + jittered(plan.interval, 0.1);
        }
        let checking: Vec<&Permission> = permissions
            .iter()
            .filter(|p| round == Round::Full || found.get(&p.name).is_none_or(|s| !s.allowed))
            .collect();
        if !checking.is_empty() {
            check(&health, &client, &checking, &who, &mut found).await;
        }
        let denied: Vec<&Permission> = permissions
            .iter()
            .filter(|p| found.get(&p.name).is_some_and(|s| !s.allowed))
            .collect();
        // While something is denied, a success of the denied request (seen by the inspector) is a fix.
        let uses_at_denial: Vec<u64> = match &used {
            Some(used) => denied.iter().map(|p| allowed_uses(used, p)).collect(),
            None => Vec::new(),
        };
        let inspector_news = async {
            let Some(inspector) = &inspector else {
                return std::future::pending::<()>().await;
            };
            loop {
                tokio::time::sleep(INSPECTOR_POLL).await;
                let used = inspector.used();
                let succeeded = denied
                    .iter()
                    .zip(&uses_at_denial)
                    .any(|(p, before)| allowed_uses(&used, p) > *before);
                if succeeded || allowed_writes(&used, &plan.derived.name) != learned {
                    return;
                }
            }
        };
        let last_round = Instant::now();
        let next_denied = last_round + jittered(DENIED_INTERVAL, 0.2);
        let mut recheck_at: Option<Instant> = None;
        let mut inspector_news = std::pin::pin!(inspector_news);
        // Wait for a reason to check; a request for a recheck only sets when, so nothing waits behind it.
        round = loop {
            let due = |at: &mut Option<Instant>, when: Instant| {
                *at = Some(at.map_or(when, |t| t.min(when)));
            };
            tokio::select! {
                () = tokio::time::sleep_until(next_full) => break Round::Full,
                // After an error: check again, but not more often than every few seconds.
                () = recheck.notified() => due(&mut recheck_at, last_full + RECHECK_SPACING),
                // A watcher recovered or a failing object succeeded: a denied permission may be back.
                () = recheck_now.notified(), if !denied.is_empty() => {
                    due(&mut recheck_at, last_round + RECHECK_NOW_SPACING);
                }
                () = tokio::time::sleep_until(recheck_at.unwrap_or(next_full)), if recheck_at.is_some() => {
                    break Round::Full;
                }
                () = tokio::time::sleep_until(next_denied), if !denied.is_empty() => break Round::Partial,
                () = &mut inspector_news => break Round::Partial,
            }
        };
    }
}

/// Asks about `checking` (one batch, concurrently), reports what changed and records it in `found` and `health`.
async fn check(
    health: &Health,
    client: &kube::Client,
    checking: &[&Permission],
    who: &Option<(String, Vec<String>)>,
    found: &mut SortedMap<String, AccessStatus>,
) {
    // One after another: a review is answered from the API server's RBAC cache in about a millisecond, and a loop
    // costs a program's binary less than a join of the review futures.
    let mut answers = Vec::with_capacity(checking.len());
    for p in checking {
        answers.push(review(client, &Reviewer::Caller, &p.request).await);
    }
    // Every review failed for a reason that will not pass by itself (expired credentials, say): say so once.
    let blocked = match answers
        .iter()
        .map(|a| a.as_ref().err())
        .collect::<Option<Vec<_>>>()
    {
        Some(errors) if !errors.is_empty() => {
            let mut d = crate::diagnose(errors[0]);
            health.annotate(&mut d);
            (crate::watch::is_persistent(d.class)).then_some(d)
        }
        _ => None,
    };
    if let Some(d) = &blocked
        && health.due(d).is_some()
    {
        tracing::warn!(
            target: "kubewhy::watch", class = %d.class, cause = d.cause.kind(),
            "the access watchdog cannot check access: {d:#}{}",
            d.describe().notes.iter().map(|n| format!("; note: {n}")).collect::<String>()
        );
    }
    health.set_access_error(blocked);
    for (p, answer) in checking.iter().zip(answers) {
        let before = found.get(&p.name).map(|s| s.allowed);
        let answer = match answer {
            Ok(a) => a,
            Err(e) => {
                // The review itself failed (the server is away): what was known stays.
                tracing::debug!(target: "kubewhy::watch", permission = %p.name, error = %e, "access review failed");
                continue;
            }
        };
        if let Some(m) = health.metrics().as_ref() {
            m.access_allowed
                .get_or_create(&AccessLabels {
                    verb: p.request.verb.clone().unwrap_or_default(),
                    resource: request_resource(&p.request).unwrap_or_default(),
                    namespace: p.request.namespace.clone().unwrap_or_default(),
                })
                .set(i64::from(answer.allowed));
        }
        let status = if answer.allowed {
            if before == Some(false) {
                tracing::info!(
                    target: "kubewhy::watch",
                    verb = p.request.verb.as_deref().unwrap_or(""),
                    group = p.request.group.as_deref().unwrap_or(""),
                    resource = p.request.resource.as_deref().unwrap_or(""),
                    subresource = p.request.subresource.as_deref().unwrap_or(""),
                    namespace = p.request.namespace.as_deref().unwrap_or(""),
                    "access restored: {} is allowed again", p.name
                );
            }
            AccessStatus {
                name: p.name.clone(),
                allowed: true,
                diagnosis: None,
            }
        } else {
            let d = denied(p, &answer, before == Some(true), who);
            if before != Some(false) {
                let r = &d.request;
                tracing::warn!(
                    target: "kubewhy::watch",
                    class = %d.class,
                    cause = d.cause.kind(),
                    verb = r.verb.as_deref().unwrap_or(""),
                    group = r.group.as_deref().unwrap_or(""),
                    resource = r.resource.as_deref().unwrap_or(""),
                    subresource = r.subresource.as_deref().unwrap_or(""),
                    namespace = r.namespace.as_deref().unwrap_or(""),
                    user = d.user.as_deref().unwrap_or(""),
                    "access {}: {d:#}{}",
                    if before == Some(true) { "lost" } else { "denied" },
                    d.describe()
                        .notes
                        .iter()
                        .map(|n| format!("; note: {n}"))
                        .collect::<String>()
                );
            }
            AccessStatus {
                name: p.name.clone(),
                allowed: false,
                diagnosis: Some(d),
            }
        };
        found.insert(p.name.clone(), status);
    }
    health.set_access(found.clone());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::needs::ResourceType;
    use crate::trace::used::UsedPermission;

    #[test]
    fn a_watched_need_adds_list_and_watch_once() {
        let docs = ResourceType::new("kube.rs", "v1", "documents", "Document", true);
        let needs = Needs::new("p")
            .watch(docs.clone(), Some("a"))
            .verbs(docs.clone(), Some("a"), [Verb::List, Verb::Patch])
            .subresource(docs, "status", Some("a"), [Verb::Patch]);
        let mut perms = Vec::new();
        add_permissions(&needs, true, &mut perms);
        let names: Vec<&str> = perms.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            perms.len(),
            5,
            "get, list, watch, patch and patch status once each: {names:?}"
        );
        assert!(
            perms
                .iter()
                .any(|p| p.watching && p.request.verb.as_deref() == Some("watch"))
        );
        assert!(
            perms
                .iter()
                .any(|p| !p.watching && p.request.subresource.as_deref() == Some("status"))
        );
        // What is there already is not added twice, whatever its origin.
        add_permissions(&needs, false, &mut perms);
        assert_eq!(perms.len(), 5);
    }

    fn used(
        verb: &str,
        resource: &str,
        sub: Option<&str>,
        scope: UsedScope,
        allowed: u64,
    ) -> UsedPermission {
        UsedPermission {
            verb: verb.into(),
            group: "kube.rs".into(),
            version: "v1".into(),
            resource: resource.into(),
            subresource: sub.map(str::to_string),
            scope,
            allowed,
            denied: 0,
        }
    }

    #[test]
    fn the_writes_seen_allowed_become_needs_and_count_their_successes() {
        let record = Used {
            permissions: vec![
                used(
                    "patch",
                    "documents",
                    Some("status"),
                    UsedScope::Namespace("a".into()),
                    3,
                ),
                used("list", "documents", None, UsedScope::Cluster, 9),
                used(
                    "delete",
                    "documents",
                    None,
                    UsedScope::Namespace("a".into()),
                    0,
                ),
                used("update", "documents", None, UsedScope::ManyNamespaces, 40),
            ],
            ..Used::default()
        };
        let needs = allowed_writes(&record, "p");
        assert_eq!(needs.needs.len(), 1, "{needs:#?}");
        let need = &needs.needs[0];
        assert_eq!(need.subresource.as_deref(), Some("status"));
        assert_eq!(need.namespace.as_deref(), Some("a"));
        let mut perms = Vec::new();
        add_permissions(&needs, false, &mut perms);
        assert_eq!(perms.len(), 1);
        assert!(perms[0].declared.is_none(), "learned, not declared");
        assert_eq!(allowed_uses(&record, &perms[0]), 3);
    }
}
