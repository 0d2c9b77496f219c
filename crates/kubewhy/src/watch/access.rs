//! The access watchdog. The API server does not close open watches when RBAC changes, so a permission revoked while
//! a program runs stays invisible until the watch reconnects (up to `timeoutSeconds`, 290 s by default) or the next
//! write fails. The watchdog asks the authorizer about every permission the program declared ([`Needs`]) — one
//! batch of SelfSubjectAccessReviews, concurrently — once a minute (jittered) and right after a watcher or
//! reconcile error, and reports what it finds:
//!
//! - a permission lost: one WARN with the diagnosis and its fix, naming the verb and resource ("the open watch still
//!   works; it will fail at its next reconnect"), the `access` readiness item false naming it, and
//!   `kubewhy_access_allowed{verb,resource,namespace}` 0;
//! - a permission restored: one INFO line, readiness and the metric back, no restart.
//!
//! Its cost is one review per declared permission per interval (doc-controller: 16 reviews a minute); a review is
//! answered from the API server's RBAC cache, without etcd.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use futures::future::join_all;
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use kube::api::{Api, PostParams};

use super::backoff::jittered;
use super::health::{AccessStatus, Health};
use crate::cause::{Cause, Denial};
use crate::diagnosis::{Diagnosis, Request};
use crate::metrics::AccessLabels;
use crate::needs::{Needs, need_request, scope, scope_phrase};
use crate::note::Note;
use crate::rbac::Verb;
use crate::review::{Answer, Reviewer, review};
use crate::vocab::request_resource;

/// The default interval between two checks.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// Extra checks after errors come at most this often.
const RECHECK_SPACING: Duration = Duration::from_secs(5);

/// One permission to check.
#[derive(Debug, Clone)]
struct Permission {
    /// `` `watch` `documents.kube.rs` in namespace `a` ``.
    name: String,
    request: Request,
    /// The program keeps a watch open on it and the verb is list or watch.
    watching: bool,
    program: String,
    need: usize,
    resource: crate::needs::ResourceType,
    namespace: Option<String>,
}

/// The permissions a declaration of needs asks for (a need that watches also needs `list` and `watch`), each once.
fn permissions(needs: &Needs) -> Vec<Permission> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
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
            if !seen.insert(key) {
                continue;
            }
            let resource = request_resource(&request).unwrap_or_default();
            let scope_phrase = scope_phrase(&need.resource, need.namespace.as_deref());
            out.push(Permission {
                name: format!("`{verb}` `{resource}` {scope_phrase}"),
                watching: need.watch && matches!(verb, Verb::List | Verb::Watch),
                request,
                program: needs.name.clone(),
                need: i + 1,
                resource: need.resource.clone(),
                namespace: need.namespace.clone(),
            });
        }
    }
    out
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
    d.notes.push(Note::Declared {
        program: p.program.clone(),
        needs: vec![p.need],
    });
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
        let permissions = permissions(needs);
        let health = health.clone();
        let task = tokio::spawn(async move { run(health, client, permissions, interval).await });
        AccessWatchdog { task }
    }
}

async fn whoami(client: &kube::Client) -> Option<(String, Vec<String>)> {
    let api: Api<SelfSubjectReview> = Api::all(client.clone());
    let review = api
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await
        .ok()?;
    let info = review.status?.user_info?;
    Some((info.username?, info.groups.unwrap_or_default()))
}

async fn run(
    health: Health,
    client: kube::Client,
    permissions: Vec<Permission>,
    interval: Duration,
) {
    let recheck = health.recheck_signal();
    let mut who = None;
    let mut found: BTreeMap<String, AccessStatus> = BTreeMap::new();
    let mut last_check = Instant::now();
    loop {
        if who.is_none() {
            who = whoami(&client).await;
        }
        let answers = join_all(
            permissions
                .iter()
                .map(|p| review(&client, &Reviewer::Caller, &p.request)),
        )
        .await;
        last_check = Instant::now().max(last_check);
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
        for (p, answer) in permissions.iter().zip(answers) {
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
                        resource = p.request.resource.as_deref().unwrap_or(""),
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
                let d = denied(p, &answer, before == Some(true), &who);
                if before != Some(false) {
                    let r = &d.request;
                    tracing::warn!(
                        target: "kubewhy::watch",
                        class = %d.class,
                        cause = d.cause.kind(),
                        verb = r.verb.as_deref().unwrap_or(""),
                        resource = r.resource.as_deref().unwrap_or(""),
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
        tokio::select! {
            () = tokio::time::sleep(jittered(interval, 0.1)) => {}
            () = recheck.notified() => {
                // After an error: check again, but not more often than every few seconds.
                tokio::time::sleep(RECHECK_SPACING.saturating_sub(last_check.elapsed())).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::needs::ResourceType;

    #[test]
    fn a_watched_need_adds_list_and_watch_once() {
        let docs = ResourceType::new("kube.rs", "v1", "documents", "Document", true);
        let needs = Needs::new("p")
            .watch(docs.clone(), Some("a"))
            .verbs(docs.clone(), Some("a"), [Verb::List, Verb::Patch])
            .subresource(docs, "status", Some("a"), [Verb::Patch]);
        let perms = permissions(&needs);
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
    }
}
