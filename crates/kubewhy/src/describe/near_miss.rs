//! Wording of an RBAC near miss ([`NearMiss`]): the cause of a denial told by the binding that comes closest —
//! "ClusterRole `doc-controller`, bound to this service account by ClusterRoleBinding `doc-controller`, grants
//! `get`, `list` and `patch` on `documents` in `kube.rs` but not `watch`" — and notes for the other bindings that
//! name the subject and for the bindings that look meant for it.

use super::{quoted_commas, quoted_list};
use crate::near_miss::{
    AccessRequest, AccessTarget, BindingKind, BindingMiss, BindingRef, Difference, Lookalike,
    LookalikeWhy, NearMiss, RoleKey, RoleKind, RoleOutcome, RuleMiss, ScopeMiss, Via,
};

/// How many other bindings and lookalikes get a note of their own.
const MORE: usize = 3;

/// The cause sentence and notes of a denial that has a near miss.
pub(super) fn words(near: &NearMiss) -> (String, Vec<String>) {
    let e = &near.explanation;
    let request = &e.request;
    let mut notes = Vec::new();
    let own: Vec<&BindingMiss> = e.near_misses.iter().filter(|m| !m.via.is_broad()).collect();
    let cause = match own.first() {
        Some(first) => binding_miss(first, request),
        None => {
            let mut text = "no RoleBinding or ClusterRoleBinding names this subject, directly or through one of its \
                            groups"
                .to_string();
            if !e.near_misses.is_empty() {
                text.push_str(
                    " (only bindings for every authenticated user or every ServiceAccount apply)",
                );
            }
            text
        }
    };
    // The other bindings, when their role comes close; the rest only counted.
    let close = |m: &&&BindingMiss| match &m.outcome {
        RoleOutcome::NoRuleGrants { closest, .. } => !closest.is_empty(),
        RoleOutcome::NoRules => false,
        RoleOutcome::Grants { .. }
        | RoleOutcome::NotFound
        | RoleOutcome::AggregationSelectsNothing { .. } => true,
    };
    let others: Vec<&&BindingMiss> = own.iter().skip(1).filter(close).collect();
    for m in others.iter().take(MORE) {
        notes.push(format!("also: {}", binding_miss(m, request)));
    }
    let rest = own.len().saturating_sub(1 + others.len().min(MORE));
    if rest > 0 {
        notes.push(format!(
            "{rest} other binding(s) name this subject with nothing close to the request"
        ));
    }
    // The bindings that look meant for the subject: when some binding names it, only those that would grant the
    // request; those in its own or the request's namespace before the others (a ServiceAccount name like `default`
    // is in every namespace).
    let home = e.identity.service_account().map(|(ns, _)| ns);
    let local = |l: &&Lookalike| {
        l.binding.namespace.is_some()
            && (l.binding.namespace.as_deref() == request.namespace()
                || l.binding.namespace == home)
    };
    let shown: Vec<&Lookalike> = e
        .lookalikes
        .iter()
        .filter(|l| own.is_empty() || (l.role_grants && l.scope_fits && local(l)))
        .collect();
    let nearby: Vec<&Lookalike> = shown.iter().copied().filter(local).collect();
    let shown = if nearby.is_empty() { shown } else { nearby };
    for l in shown.iter().take(MORE) {
        notes.push(lookalike(l));
    }
    (cause, notes)
}

/// ``ClusterRoleBinding `b` `` / ``RoleBinding `b` in namespace `ns` ``.
pub(crate) fn binding_text(b: &BindingRef) -> String {
    match &b.namespace {
        Some(ns) => format!("{} `{}` in namespace `{ns}`", b.kind, b.name),
        None => format!("{} `{}`", b.kind, b.name),
    }
}

/// ``Role `r` `` when it is in the binding's namespace, [`role_text`] otherwise.
fn bound_role_text(r: &RoleKey, b: &BindingRef) -> String {
    if r.kind == RoleKind::Role && r.namespace == b.namespace {
        format!("Role `{}`", r.name)
    } else {
        role_text(r)
    }
}

/// ``ClusterRole `r` `` / ``Role `r` in namespace `ns` ``.
pub(crate) fn role_text(r: &RoleKey) -> String {
    match (&r.namespace, r.kind) {
        (Some(ns), RoleKind::Role) => format!("Role `{}` in namespace `{ns}`", r.name),
        _ => format!("{} `{}`", r.kind, r.name),
    }
}

/// How a binding names the subject: ``to this subject``, ``to group `g` ``.
fn via_text(via: &Via) -> String {
    match via {
        Via::User { .. } => "to this user".into(),
        Via::ServiceAccount { .. } => "to this service account".into(),
        Via::Group { name } => format!("to group `{name}`, which this subject is in"),
    }
}

fn scope_text(request_namespace: Option<&str>) -> String {
    match request_namespace {
        Some(ns) => format!("the request is in namespace `{ns}`"),
        None => "the request is cluster-wide".into(),
    }
}

/// Why one binding does not grant the request.
fn binding_miss(m: &BindingMiss, request: &AccessRequest) -> String {
    let binding = binding_text(&m.binding);
    let role = bound_role_text(&m.role, &m.binding);
    let via = via_text(&m.via);
    match (&m.scope, &m.outcome) {
        (
            Some(ScopeMiss::ClusterRoleConfined {
                binding_namespace,
                request_namespace,
            }),
            outcome,
        ) => format!(
            "{binding} binds {role} {via}{}, but a ClusterRole bound by a RoleBinding grants only in the \
             RoleBinding's namespace `{binding_namespace}`; {}",
            if matches!(outcome, RoleOutcome::Grants { .. }) {
                ", which grants this"
            } else {
                ""
            },
            scope_text(request_namespace.as_deref())
        ),
        (
            Some(ScopeMiss::BindingInOtherNamespace {
                binding_namespace,
                request_namespace,
            }),
            outcome,
        ) => format!(
            "{binding} binds {role} {via}{}, but a RoleBinding grants only in its own namespace \
             `{binding_namespace}`; {}",
            if matches!(outcome, RoleOutcome::Grants { .. }) {
                ", which grants this"
            } else {
                ""
            },
            scope_text(request_namespace.as_deref())
        ),
        (None, RoleOutcome::Grants { .. }) => format!("{binding} grants it through {role}"),
        (None, RoleOutcome::NotFound) => {
            format!(
                "{binding} binds {role} {via}, which does not exist, so the binding grants nothing"
            )
        }
        (None, RoleOutcome::AggregationSelectsNothing { selectors }) => format!(
            "{binding} binds the aggregated {role} {via}, whose label selectors ({}) select no ClusterRole, so it \
             holds no rules",
            quoted_commas(selectors)
        ),
        (None, RoleOutcome::NoRules) => format!("{role}, bound {via} by {binding}, has no rules"),
        (None, RoleOutcome::NoRuleGrants { rules, closest }) => match closest.first() {
            Some(rule) => format!(
                "{role}, bound {via} by {binding}, {}",
                rule_miss(rule, request)
            ),
            None => format!(
                "{role}, bound {via} by {binding}, has {rules} rule(s), none close to this request"
            ),
        },
    }
}

/// A list of API groups in a sentence: `the core group`, `` `kube.rs` ``, `` the core group and `apps` ``.
pub(crate) fn groups_text(groups: &[String]) -> String {
    let named: Vec<String> = groups.iter().filter(|g| !g.is_empty()).cloned().collect();
    match (groups.iter().any(|g| g.is_empty()), named.is_empty()) {
        (true, true) => "the core group".into(),
        (true, false) => format!("the core group and {}", quoted_list(&named)),
        (false, _) => quoted_list(&named),
    }
}

/// What a rule grants: ``grants `get` and `list` on `documents` in `kube.rs` (rule 2)``.
fn rule_grants(m: &RuleMiss) -> String {
    let r = &m.rule.rule;
    let on = if r.non_resource_urls.is_empty() {
        format!(
            "{} in {}",
            quoted_list(&r.resources),
            groups_text(&r.api_groups)
        )
    } else {
        quoted_list(&r.non_resource_urls)
    };
    let only = if r.resource_names.is_empty() {
        String::new()
    } else {
        format!(", only for {}", quoted_list(&r.resource_names))
    };
    let mut text = format!(
        "grants {} on {on} (rule {}{only})",
        quoted_list(&r.verbs),
        m.rule.index + 1
    );
    if let Some(agg) = &m.rule.aggregated_into {
        text.push_str(&format!(
            " through {} (aggregated into `{agg}`)",
            role_text(&m.rule.role)
        ));
    }
    text
}

/// How the closest rule differs: ``grants `get` on `documents` in `kube.rs` but not `watch` ``.
fn rule_miss(m: &RuleMiss, request: &AccessRequest) -> String {
    let wanted = request.rbac_resource().unwrap_or_default();
    let group = match &request.target {
        AccessTarget::Resource { group, .. } if group.is_empty() => "the core group".to_string(),
        AccessTarget::Resource { group, .. } => format!("`{group}`"),
        AccessTarget::NonResource { .. } => String::new(),
    };
    let but: Vec<String> = m
        .differences
        .iter()
        .map(|d| match d {
            Difference::Verb { .. } => format!("not `{}`", request.verb),
            Difference::ApiGroup { .. } => format!("not in {group}, the group of the request"),
            Difference::Resource { near: Some(near), .. } => {
                format!("names `{near}`, not `{wanted}` (misspelt)")
            }
            Difference::Resource { near: None, .. } => format!("not `{wanted}`"),
            Difference::Subresource { .. } => {
                format!("not `{wanted}`: a rule for a resource does not cover its subresources")
            }
            Difference::ResourceNames { unnamed: true, .. } => format!(
                "only for named objects, and `{}` names none: `resourceNames` can never grant list, watch, create \
                 or deletecollection",
                request.verb
            ),
            Difference::ResourceNames { unnamed: false, .. } => match &request.target {
                AccessTarget::Resource { name: Some(n), .. } => format!("not for `{n}`"),
                _ => "not for this object".into(),
            },
            Difference::NonResourceUrl { near: Some(near), .. } => {
                format!("names `{near}`, not `{}` (misspelt)", path_of(request))
            }
            Difference::NonResourceUrl { near: None, .. } => format!("not `{}`", path_of(request)),
            Difference::NonResourceRule => "only for non-resource URLs".into(),
            Difference::ResourceRule => "only for resources, not URLs".into(),
        })
        .collect();
    format!("{} but {}", rule_grants(m), but.join(", and "))
}

fn path_of(request: &AccessRequest) -> &str {
    match &request.target {
        AccessTarget::NonResource { path } => path,
        AccessTarget::Resource { .. } => "",
    }
}

/// A binding that looks meant for the subject.
fn lookalike(l: &Lookalike) -> String {
    let s = &l.subject;
    let written = match &s.namespace {
        Some(ns) => format!("{} `{ns}/{}`", s.kind, s.name),
        None => format!("{} `{}`", s.kind, s.name),
    };
    let why = match &l.why {
        LookalikeWhy::ServiceAccountNamespace {
            subject_namespace,
            defaulted: true,
        } => format!(
            "a ServiceAccount of this name in namespace `{subject_namespace}` (a subject without a namespace means \
             the RoleBinding's own)"
        ),
        LookalikeWhy::ServiceAccountNamespace { .. } => "the same name in another namespace".into(),
        LookalikeWhy::ServiceAccountWithoutNamespace => {
            "a ServiceAccount without a namespace, which in a ClusterRoleBinding names nobody"
                .into()
        }
        LookalikeWhy::Kind { kind } => format!("this subject's name as a {kind}"),
        LookalikeWhy::SimilarName { resembles } => format!("one or two letters off `{resembles}`"),
    };
    let grants = match (l.role_grants, l.scope_fits, l.binding.kind) {
        (true, true, _) => format!("; its {} grants the request", role_text(&l.role)),
        (true, false, BindingKind::RoleBinding) => format!(
            "; its {} grants the request, but only in namespace `{}`",
            role_text(&l.role),
            l.binding.namespace.as_deref().unwrap_or_default()
        ),
        _ => String::new(),
    };
    format!(
        "{} names {written} — {why}{grants}",
        binding_text(&l.binding)
    )
}

#[cfg(test)]
mod tests {
    use crate::cause::{Cause, Denial};
    use crate::diagnosis::Diagnosis;
    use crate::rbac::{AccessRequest, Identity, RbacObjects, explain, fix};

    /// A denial of `watch documents.kube.rs` for the ServiceAccount `doc-controller/doc-controller`, explained by
    /// `rbac` (the issue's own example: `watch` removed from doc-controller's ClusterRole).
    fn denial(rbac: &str) -> Diagnosis {
        let rbac = RbacObjects::from_yaml(rbac).unwrap();
        let user = "system:serviceaccount:doc-controller:doc-controller";
        let who = Identity::new(user, crate::vocab::groups_of(user, &[]));
        let request = AccessRequest::resource("watch", "kube.rs", "documents");
        let explanation = explain(&who, &request, &rbac);
        let fix = fix(&explanation, &rbac);
        let mut d = Diagnosis::new(
            Cause::Denied(Denial {
                near_miss: Some(std::sync::Arc::new(crate::near_miss::NearMiss {
                    explanation,
                    fix,
                })),
                ..Denial::default()
            }),
            "documents.kube.rs is forbidden",
        );
        d.user = Some(user.into());
        d.request.verb = Some("watch".into());
        d.request.group = Some("kube.rs".into());
        d.request.resource = Some("documents".into());
        d
    }

    const BOUND: &str = "kind: ClusterRoleBinding\nmetadata: {name: doc-controller}\n\
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: doc-controller}\n\
        subjects: [{kind: ServiceAccount, name: doc-controller, namespace: doc-controller}]\n---\n";

    #[test]
    fn the_cause_names_the_binding_the_role_the_rule_and_what_is_missing() {
        let d = denial(&format!(
            "{BOUND}kind: ClusterRole\nmetadata: {{name: doc-controller}}\n\
             rules: [{{apiGroups: [kube.rs], resources: [documents], verbs: [get, list, patch]}}]\n"
        ));
        let words = d.describe();
        assert_eq!(
            words.cause,
            "ClusterRole `doc-controller`, bound to this service account by ClusterRoleBinding `doc-controller`, \
             grants `get`, `list` and `patch` on `documents` in `kube.rs` (rule 1) but not `watch`"
        );
        let remedy = d.remedy();
        assert_eq!(
            remedy.summary,
            "edit ClusterRole `doc-controller`: add `watch` to rule 1"
        );
        assert!(
            remedy.commands[0]
                .starts_with("kubectl patch clusterroles doc-controller --type=json -p '"),
            "{remedy:?}"
        );
        assert!(
            remedy
                .yaml
                .as_deref()
                .is_some_and(|y| y.contains("- watch")),
            "{remedy:?}"
        );
    }

    #[test]
    fn without_a_binding_the_lookalikes_are_named() {
        let d = denial(
            "kind: ClusterRole\nmetadata: {name: doc-controller}\n\
             rules: [{apiGroups: [kube.rs], resources: [documents], verbs: [watch]}]\n---\n\
             kind: ClusterRoleBinding\nmetadata: {name: doc-controller}\n\
             roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: doc-controller}\n\
             subjects: [{kind: ServiceAccount, name: doc-controller, namespace: default}]\n",
        );
        let words = d.describe();
        assert!(
            words
                .cause
                .starts_with("no RoleBinding or ClusterRoleBinding names this subject"),
            "{words:?}"
        );
        assert!(
            words.notes.iter().any(|n| n
                == "ClusterRoleBinding `doc-controller` names ServiceAccount `default/doc-controller` — the same name \
                    in another namespace; its ClusterRole `doc-controller` grants the request"),
            "{words:?}"
        );
        assert!(
            d.remedy()
                .summary
                .starts_with("add ServiceAccount `doc-controller/doc-controller` to")
        );
    }

    #[test]
    fn nothing_close_keeps_the_new_role() {
        let d = denial(BOUND);
        let words = d.describe();
        assert!(words.cause.contains("which does not exist"), "{words:?}");
        let d = denial(&format!(
            "{BOUND}kind: ClusterRole\nmetadata: {{name: doc-controller, labels: {{kubernetes.io/bootstrapping: rbac-defaults}}}}\n\
             rules: [{{apiGroups: [kube.rs], resources: [documents], verbs: [get]}}]\n"
        ));
        let remedy = d.remedy();
        assert!(
            remedy.text.starts_with("nothing that exists comes close"),
            "{remedy:?}"
        );
        assert!(
            remedy
                .yaml
                .is_some_and(|y| y.contains("kind: ClusterRoleBinding"))
        );
    }
}
