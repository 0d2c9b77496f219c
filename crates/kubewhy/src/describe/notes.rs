//! Wording of the circumstances ([`Note`]) and of the step that failed ([`Phase`]): who logged the failure, which
//! reconciler returned it, which needs declared it, what a live check found, why an answer is unknown.

use crate::cause::Cause;
use crate::diagnosis::{Class, Diagnosis, Phase};
use crate::note::{Live, Note, Said, SaidBy, Seen, Unread};
use crate::vocab::subject_or_you;

/// Whether a note is shown before the cause's own notes (where it came from) or after them (what was checked).
fn leads(n: &Note) -> bool {
    matches!(
        n,
        Note::Reconciler { .. }
            | Note::Runner
            | Note::Declared { .. }
            | Note::LoggedByKubeRuntime
            | Note::LoggedByReflector
            | Note::KindNotMapped
            | Note::GroupDiscoveryFailed
            | Note::Seen(_)
            | Note::NotRead(_)
    )
}

/// The notes on where a failure came from, in order.
pub(super) fn leading(d: &Diagnosis) -> Vec<String> {
    d.notes
        .iter()
        .filter(|n| leads(n))
        .map(|n| word(d, n))
        .collect()
}

/// The notes on what was checked, in order.
pub(super) fn trailing(d: &Diagnosis) -> Vec<String> {
    d.notes
        .iter()
        .filter(|n| !leads(n))
        .map(|n| word(d, n))
        .collect()
}

/// What the failed step means for a watcher or controller.
pub(super) fn phase(d: &Diagnosis) -> Option<String> {
    let phase = d.phase?;
    Some(match (phase, d.class) {
        (
            Phase::InitialList | Phase::WatchStart | Phase::WatchEvent | Phase::WatchStream,
            Class::Expired,
        ) => "harmless for a watcher: it starts over with a fresh list and keeps going".to_string(),
        (Phase::InitialList, _) => {
            "the watcher's initial list failed: it receives no objects until this is fixed, and retries".into()
        }
        (Phase::WatchStart, Class::Forbidden) => {
            "the list succeeded but the watch is denied: the watcher never sees changes, only its initial list \
             (kube#1132)"
                .into()
        }
        (Phase::WatchStart, _) => {
            "starting the watch failed; the watcher retries the watch with back-off".into()
        }
        (Phase::WatchEvent, _) => {
            "the API server sent this error as an event inside the watch stream".into()
        }
        (Phase::WatchStream, _) => "the watch stream failed; the watcher retries with back-off".into(),
        (Phase::Reconcile, _) => "a reconciler's API call failed".into(),
        (Phase::CacheSync, _) => return None,
    })
}

fn word(d: &Diagnosis, n: &Note) -> String {
    match n {
        Note::LoggedByKubeRuntime => {
            "logged by kube_runtime: the watcher retries this request with back-off".into()
        }
        Note::LoggedByReflector => {
            "logged by a client-go reflector: it retries with back-off (0.8 s doubling to 30 s) for ever".into()
        }
        Note::KindNotMapped => "kubectl could not map the manifest's kind to a resource: its CRD is not \
                                installed, or the API version was removed from this Kubernetes release"
            .into(),
        Note::GroupDiscoveryFailed => {
            "discovery of this aggregated API group failed; clients that need it cannot map its kinds".into()
        }
        Note::Reconciler { object } => format!("the reconciler for `{object}` returned this error"),
        Note::Runner => "the controller's runner failed".into(),
        Note::Declared { program, needs } => {
            let list: Vec<String> = needs.iter().map(|n| format!("#{n}")).collect();
            match list.len() {
                0 => format!("declared by `{program}`"),
                1 => format!("declared by need {} of `{program}`", list[0]),
                _ => format!("declared by needs {} of `{program}`", list.join(", ")),
            }
        }
        Note::Server { url } => format!(
            "the API server is `{url}` (from the kubeconfig context in use, or `--kubeconfig`/`--context`)"
        ),
        Note::ReadsAggregatedDiscovery => {
            "kubewhy reads aggregated discovery (apidiscovery.k8s.io/v2, Kubernetes 1.30 and later)".into()
        }
        Note::SelfSubjectReviewUnserved => {
            "the selfsubjectreviews API (authentication.k8s.io/v1) is served from Kubernetes 1.28 on".into()
        }
        Note::CallerUnknown => {
            "the other checks go on; without knowing who you are, the fix cannot name whom to grant".into()
        }
        Note::ReviewUnanswered {
            user,
            verb,
            resource,
        } => format!(
            "this review asked whether {} may `{verb}` `{resource}`; its answer is unknown",
            subject_or_you(user)
        ),
        Note::FailedDespiteReview => "the access review allowed this request, yet it failed live: something \
                                      besides the authorizer's answer is in the way (an aggregated API or \
                                      conversion webhook that is down, a proxy, a network policy)"
            .into(),
        Note::Live(live) => word_live(live),
        Note::RbacUnreadable {
            denied,
            user,
            error,
        } => {
            let who = user
                .as_deref()
                .map(|u| format!(" as `{u}`"))
                .unwrap_or_default();
            match error {
                Some(e) => format!(
                    "the RBAC objects could not be read{who} ({e}), so no binding explains the denials; the fix \
                     is a new role"
                ),
                None => format!(
                    "the RBAC objects may not be read{who} (list {} in all namespaces was denied), so no binding \
                     explains the denials and the fix is a new role; with read access to roles, clusterroles, \
                     rolebindings and clusterrolebindings kubewhy names the binding that comes closest",
                    names(denied)
                ),
            }
        }
        Note::Unconfirmed { no_cluster } => {
            let what = match &d.cause {
                Cause::Denied(_) => {
                    "whether the denial still holds (a live check asks the API server with a SubjectAccessReview)"
                }
                Cause::NotServed(_) => {
                    "which cause applies (a live check reads discovery and finds the nearest served names)"
                }
                _ => "the cause (a live check asks the cluster)",
            };
            match no_cluster {
                Some(why) => format!(
                    "not confirmed without a cluster: {what} — no cluster was reachable: {why}"
                ),
                None => format!("not confirmed without a cluster: {what}"),
            }
        }
        Note::AccessLost { watching } => {
            let mut text = "kubewhy's access watchdog found this permission gone while the program runs (it was \
                            allowed before); the API server does not close open watches when RBAC changes"
                .to_string();
            if *watching {
                text.push_str(": the open watch still works; it will fail at its next reconnect");
            }
            text
        }
        Note::TokenExpired {
            at,
            lifetime_s,
            from_file,
        } => {
            let lifetime = lifetime_s
                .map(|s| format!(" (its lifetime was {s} s)"))
                .unwrap_or_default();
            let renew = if *from_file {
                "it is read from a file: in a pod the kubelet rotates a projected ServiceAccount token before it \
                 expires and kube-rs reads the new one, so an expired one means the file is no longer renewed"
            } else {
                "it is written in the kubeconfig: nothing renews it"
            };
            format!("the client's token expired at {at}{lifetime}; {renew}")
        }
        Note::LeaseRenewal { lease } => format!(
            "renewing the leader-election Lease `{lease}` failed: this replica stopped leading before the Lease \
             could expire (so two replicas never lead at once) and stands by until it can take the Lease again"
        ),
        Note::StreamingListFallback => "kubewhy lists page by page instead (as client-go does) and does not try \
                                        streaming again for this watcher"
            .into(),
        Note::Seen(seen) => word_seen(seen),
        Note::NotRead(unread) => word_unread(unread),
    }
}

/// `seen in 3 of 3 pods of deployment/web (40 times), last 2 min ago`, and where else.
fn word_seen(s: &Seen) -> String {
    let mut places = Vec::new();
    if !s.pods.is_empty() {
        let pods = if s.pods.len() == 1 && s.of == 1 {
            format!("the log of pod `{}`", s.pods[0])
        } else {
            format!(
                "{} of {} pods{}",
                s.pods.len(),
                s.of,
                match s.pods.as_slice() {
                    [one] => format!(" (`{one}`)"),
                    _ => String::new(),
                }
            )
        };
        let containers = if s.containers > s.pods.len() {
            format!(", {} containers", s.containers)
        } else {
            String::new()
        };
        // A pod explained by itself is not said twice.
        let of = if s.pods.len() == 1 && s.workload == format!("pod/{}", s.pods[0]) {
            String::new()
        } else {
            format!(" of {}", s.workload)
        };
        places.push(format!(
            "{pods}{of} ({} time{}{containers})",
            s.count,
            if s.count == 1 { "" } else { "s" }
        ));
    }
    if !s.said.is_empty() {
        let said: Vec<String> = s.said.iter().map(word_said).collect();
        places.push(said.join(", "));
    }
    let mut text = format!("seen in {}", places.join(" and in "));
    if let Some(ago) = s.last_ago_s {
        text.push_str(&format!(", last {}", ago_phrase(ago)));
    }
    if s.previous_only {
        text.push_str(
            ", only in the logs of containers that have restarted since (their previous logs)",
        );
    }
    if let Some(user) = &s.identity_from_pods {
        text.push_str(&format!(
            "; the text names no user: the pods run as {}, the identity checked here",
            crate::vocab::subject_phrase(Some(user))
        ));
    }
    text
}

fn word_said(s: &Said) -> String {
    match &s.by {
        SaidBy::Event { reason } => format!("the events of `{}` ({reason})", s.object),
        SaidBy::Condition { condition } => {
            format!("the `{condition}` condition of `{}`", s.object)
        }
    }
}

/// `12 s ago`, `2 min ago`, `3 h ago`, `2 days ago`.
pub(crate) fn ago_phrase(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds} s ago"),
        60..7_200 => format!("{} min ago", seconds / 60),
        7_200..172_800 => format!("{} h ago", seconds / 3_600),
        _ => format!("{} days ago", seconds / 86_400),
    }
}

fn word_unread(u: &Unread) -> String {
    let what = match u {
        Unread::Workload { name } => {
            format!("`{name}` itself (its pod selector and status conditions)")
        }
        Unread::Pods => "its pods (so neither their logs nor their events and conditions)".into(),
        Unread::Owned { resource } => {
            format!("its {resource} (their events and status conditions)")
        }
        Unread::Logs { containers } => {
            let shown: Vec<String> = containers
                .iter()
                .take(5)
                .map(|c| format!("`{c}`"))
                .collect();
            let more = match containers.len() - shown.len() {
                0 => String::new(),
                more => format!(" and {more} more"),
            };
            match containers.len() {
                1 => format!("the log of {}", shown.join("")),
                n => format!("the logs of {n} containers ({}{more})", shown.join(", ")),
            }
        }
        Unread::Events => "the events of the namespace".into(),
        Unread::ServiceAccount { name } => format!("the ServiceAccount `{name}` the pods run as"),
    };
    format!("kubewhy could not read {what}, and explained what it could read")
}

/// Where the request is in the API server's own records: its `Audit-Id` and the API Priority and Fairness
/// classification.
pub(super) fn records(r: &crate::diagnosis::Request) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(id) = &r.audit_id {
        out.push(format!(
            "the API server's audit log has this request as auditID `{id}` (response header `Audit-Id`)"
        ));
    }
    match (&r.flow_schema_uid, &r.priority_level_uid) {
        (None, None) => {}
        (fs, pl) => out.push(format!(
            "API Priority and Fairness classified it: FlowSchema UID `{}`, PriorityLevelConfiguration UID `{}` \
             (`kubectl get flowschemas,prioritylevelconfigurations -o custom-columns=NAME:.metadata.name,UID:.metadata.uid`)",
            fs.as_deref().unwrap_or("?"),
            pl.as_deref().unwrap_or("?")
        )),
    }
    out
}

fn names(list: &[String]) -> String {
    list.iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn word_live(live: &Live) -> String {
    let reason = |r: &Option<String>| {
        r.as_deref()
            .filter(|r| !r.is_empty())
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    };
    match live {
        Live::DiscoveryFailed { error } => {
            format!("live: could not read discovery, so no cause was confirmed: {error}")
        }
        Live::NoResourceNamed => {
            "live: the failure does not name a resource, so discovery cannot check it".into()
        }
        Live::ServedNow { name } => format!(
            "live: `{name}` is served now — it was probably installed after the failure (a CRD applied late, or \
             not yet Established then)"
        ),
        Live::ServedElsewhere { names: places } => format!(
            "live: confirmed — the group or version is wrong: it is served as {}",
            names(places)
        ),
        Live::NothingNear { wanted } => format!(
            "live: confirmed — nothing served is named like `{wanted}`: install its CRD (or the API that serves \
             it)"
        ),
        Live::Nearest {
            wanted,
            names: near,
        } => format!(
            "live: confirmed — `{wanted}` is not served; the nearest served names are {}",
            names(near)
        ),
        Live::ServedInGroup {
            resource,
            group,
            name,
        } => format!(
            "live: `{resource}` is served in group `{group}` (`{name}`): the client must use that group"
        ),
        Live::ServedInGroups {
            resource,
            names: places,
        } => format!(
            "live: `{resource}` is served by several groups: {}",
            names(places)
        ),
        Live::NoGroupServes { resource } => {
            format!("live: no API group serves `{resource}`: its CRD is not installed either")
        }
        Live::StillDenied { user, reason: r } => format!(
            "live: confirmed — a SubjectAccessReview for `{user}` is still denied{}",
            reason(r)
        ),
        Live::AllowedNow { user, reason: r } => format!(
            "live: the denial no longer holds — a SubjectAccessReview for `{user}` is allowed now{}",
            reason(r)
        ),
        Live::ReviewFailed { error } => format!(
            "live: could not confirm whether the denial still holds: creating a SubjectAccessReview failed \
             ({error}) — it needs `create subjectaccessreviews`"
        ),
        Live::NoUser => "live: the denial names no user, so it cannot be re-checked".into(),
    }
}
