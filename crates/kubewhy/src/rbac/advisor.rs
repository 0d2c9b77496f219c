//! Near misses: for a request, every binding whose subjects include the identity — directly or through one of
//! its groups — and why it does not grant the request: its namespace, a missing role, an aggregation that selects
//! nothing, or the closest rules and how each differs (verb, API group, resource, subresource, resourceNames,
//! non-resource URL). When no binding names the identity, the bindings that look meant for it (a ServiceAccount
//! of the same name in another namespace, another subject kind, a name one or two letters off).
//!
//! [`explain`] is a pure function of the identity, the request and the [`RbacObjects`]; what it returns is data
//! (no prose): the wording table turns it into sentences, [`super::fix()`] into the smallest edit.

use k8s_openapi::api::rbac::v1::{PolicyRule, Subject as RbacSubject};

pub use super::eval::{Rule, SubjectRef};
pub use crate::near_miss::{
    BindingMiss, Difference, Explanation, Granted, Lookalike, LookalikeWhy, NearMiss, RoleOutcome,
    RuleMiss, RuleRef, ScopeMiss, Via,
};

use super::eval::{
    AccessRequest, AccessTarget, Identity, WILDCARD, aggregate, group_matches, list, name_matches,
    resource_matches, same_rule, subject_applies, url_matches, verb_matches,
};
use super::objects::{Binding, BindingKind, RbacObjects, RoleKey, RoleKind};

/// Groups every authenticated identity (or every ServiceAccount) has: bindings through them were not written
/// for this identity.
pub const BROAD_GROUPS: [&str; 3] = [
    "system:authenticated",
    "system:unauthenticated",
    "system:serviceaccounts",
];

impl Via {
    /// Whether it is a group every authenticated identity or every ServiceAccount has ([`BROAD_GROUPS`]):
    /// such bindings were not written for this identity.
    pub fn is_broad(&self) -> bool {
        matches!(self, Via::Group { name } if BROAD_GROUPS.contains(&name.as_str()))
    }
}

impl RuleMiss {
    /// Whether exactly one small thing is missing.
    pub fn is_near(&self) -> bool {
        self.differences.len() == 1 && self.differences[0].weight() == 1
    }
}

/// How far a difference is from a near miss.
const FAR: u8 = 3;

impl Difference {
    /// 1 for a small difference (a verb, a group, a subresource, a misspelling, a name), 3 for an unrelated rule.
    pub fn weight(&self) -> u8 {
        match self {
            Difference::Resource { near: None, .. }
            | Difference::NonResourceUrl { near: None, .. }
            | Difference::NonResourceRule
            | Difference::ResourceRule => FAR,
            _ => 1,
        }
    }
}

impl Explanation {
    /// Whether some binding names the identity itself: by user or ServiceAccount, or through a group other than
    /// the [`BROAD_GROUPS`].
    pub fn is_named(&self) -> bool {
        self.granted_by.iter().any(|g| !g.via.is_broad())
            || self.near_misses.iter().any(|m| !m.via.is_broad())
    }

    /// Whether RBAC allows the request.
    pub fn is_granted(&self) -> bool {
        !self.granted_by.is_empty()
    }
}

/// Explains why `identity` may or may not make `request`, binding by binding, from the RBAC objects.
///
/// Mirrors the authorizer: ClusterRoleBindings grant everywhere, RoleBindings only in their namespace; a
/// RoleBinding's ServiceAccount subject without a namespace means one in the binding's namespace; roles are read
/// as stored (an aggregated ClusterRole holds what the aggregation controller wrote).
pub fn explain(identity: &Identity, request: &AccessRequest, rbac: &RbacObjects) -> Explanation {
    let mut out = Explanation {
        identity: identity.clone(),
        request: request.clone(),
        granted_by: Vec::new(),
        near_misses: Vec::new(),
        lookalikes: Vec::new(),
    };
    for binding in rbac.bindings() {
        let role = role_key(&binding);
        let applies = binding
            .subjects
            .iter()
            .find(|s| subject_applies(identity, s, binding.namespace));
        let Some(subject) = applies else {
            if let Some((index, why)) = binding
                .subjects
                .iter()
                .enumerate()
                .find_map(|(i, s)| lookalike(identity, s, binding.namespace).map(|w| (i, w)))
            {
                out.lookalikes.push(Lookalike {
                    binding: binding.reference(),
                    index,
                    subject: SubjectRef::from(&binding.subjects[index]),
                    why,
                    role_grants: matches!(
                        role_outcome(request, &role, rbac),
                        RoleOutcome::Grants { .. }
                    ),
                    scope_fits: scope_miss(&binding, request).is_none(),
                    role,
                });
            }
            continue;
        };
        let via = via(subject, binding.namespace);
        let scope = scope_miss(&binding, request);
        let outcome = role_outcome(request, &role, rbac);
        match (scope, outcome) {
            (None, RoleOutcome::Grants { rule }) => out.granted_by.push(Granted {
                binding: binding.reference(),
                via,
                rule,
            }),
            (scope, outcome) => out.near_misses.push(BindingMiss {
                binding: binding.reference(),
                via,
                role,
                scope,
                outcome,
            }),
        }
    }
    out.near_misses
        .sort_by_key(|m| (m.via.is_broad(), closeness(m), m.binding.clone()));
    // Meant for the identity first: bindings whose role would grant where the request is made, those in the
    // identity's or the request's own namespace before those elsewhere.
    let home = identity.service_account().map(|(ns, _)| ns);
    let local = |l: &Lookalike| {
        l.binding.namespace.is_some()
            && (l.binding.namespace.as_deref() == request.namespace()
                || l.binding.namespace == home)
    };
    out.lookalikes.sort_by_key(|l| {
        (
            !(l.role_grants && l.scope_fits),
            !local(l),
            !l.role_grants,
            l.binding.clone(),
        )
    });
    out
}

/// The role a binding refers to; a roleRef the API server would reject resolves to nothing.
fn role_key(binding: &Binding<'_>) -> RoleKey {
    binding.role_key().unwrap_or_else(|| RoleKey {
        kind: if binding.role_ref.kind == "Role" {
            RoleKind::Role
        } else {
            RoleKind::ClusterRole
        },
        name: format!("{}/{}", binding.role_ref.kind, binding.role_ref.name),
        namespace: (!binding.namespace.is_empty()).then(|| binding.namespace.to_string()),
    })
}

/// Lower is closer: a role that grants (scope is the problem) 0, a missing role or empty aggregation 1, the
/// fewest differences of a rule, then nothing close.
fn closeness(m: &BindingMiss) -> u8 {
    let role = match &m.outcome {
        RoleOutcome::Grants { .. } => 0,
        RoleOutcome::NotFound | RoleOutcome::AggregationSelectsNothing { .. } => 1,
        RoleOutcome::NoRuleGrants { closest, .. } => closest
            .first()
            .map_or(9, |c| c.differences.iter().map(Difference::weight).sum()),
        RoleOutcome::NoRules => 9,
    };
    role + u8::from(m.scope.is_some())
}

fn via(subject: &RbacSubject, binding_namespace: &str) -> Via {
    match subject.kind.as_str() {
        "Group" => Via::Group {
            name: subject.name.clone(),
        },
        "ServiceAccount" => Via::ServiceAccount {
            namespace: subject
                .namespace
                .clone()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| binding_namespace.to_string()),
            name: subject.name.clone(),
        },
        _ => Via::User {
            name: subject.name.clone(),
        },
    }
}

fn scope_miss(binding: &Binding<'_>, request: &AccessRequest) -> Option<ScopeMiss> {
    if binding.kind == BindingKind::ClusterRoleBinding
        || request.namespace() == Some(binding.namespace)
    {
        return None;
    }
    let binding_namespace = binding.namespace.to_string();
    let request_namespace = request.namespace().map(str::to_string);
    Some(if binding.role_ref.kind == "ClusterRole" {
        ScopeMiss::ClusterRoleConfined {
            binding_namespace,
            request_namespace,
        }
    } else {
        ScopeMiss::BindingInOtherNamespace {
            binding_namespace,
            request_namespace,
        }
    })
}

fn role_outcome(request: &AccessRequest, key: &RoleKey, rbac: &RbacObjects) -> RoleOutcome {
    let Some(rules) = rbac.rules_of(key) else {
        return RoleOutcome::NotFound;
    };
    let aggregation = match key.kind {
        RoleKind::ClusterRole => rbac
            .cluster_role(&key.name)
            .and_then(|role| aggregate(role, &rbac.cluster_roles)),
        RoleKind::Role => None,
    };
    let rule_ref = |index: usize| -> RuleRef {
        let rule = &rules[index];
        if let Some(agg) = &aggregation {
            for source in &agg.selected {
                let found = rbac.cluster_role(source).and_then(|c| {
                    c.rules
                        .iter()
                        .flatten()
                        .position(|r| same_rule(r, rule))
                        .map(|i| (c, i))
                });
                if let Some((_, i)) = found {
                    return RuleRef {
                        role: RoleKey {
                            kind: RoleKind::ClusterRole,
                            name: source.clone(),
                            namespace: None,
                        },
                        index: i,
                        rule: Rule::from(rule),
                        aggregated_into: Some(key.name.clone()),
                    };
                }
            }
        }
        RuleRef {
            role: key.clone(),
            index,
            rule: Rule::from(rule),
            aggregated_into: None,
        }
    };
    if let Some(i) = rules.iter().position(|r| request.allowed_by(r)) {
        return RoleOutcome::Grants { rule: rule_ref(i) };
    }
    if let Some(agg) = &aggregation
        && agg.selected.is_empty()
    {
        return RoleOutcome::AggregationSelectsNothing {
            selectors: agg.selectors.clone(),
        };
    }
    if rules.is_empty() {
        return RoleOutcome::NoRules;
    }
    let scored: Vec<(u8, usize, Vec<Difference>)> = rules
        .iter()
        .enumerate()
        .map(|(i, rule)| {
            let diffs = differences(request, rule);
            (diffs.iter().map(Difference::weight).sum(), i, diffs)
        })
        .collect();
    let best = scored.iter().map(|(s, ..)| *s).min().unwrap_or(u8::MAX);
    let closest = if best <= 2 {
        scored
            .into_iter()
            .filter(|(s, ..)| *s == best)
            .take(3)
            .map(|(_, i, differences)| RuleMiss {
                rule: rule_ref(i),
                differences,
            })
            .collect()
    } else {
        Vec::new()
    };
    RoleOutcome::NoRuleGrants {
        rules: rules.len(),
        closest,
    }
}

/// Every way `rule` fails to allow `request` (empty when it allows it).
pub fn differences(request: &AccessRequest, rule: &PolicyRule) -> Vec<Difference> {
    let mut out = Vec::new();
    match &request.target {
        AccessTarget::Resource {
            group,
            resource,
            subresource,
            name,
            ..
        } => {
            if list(&rule.resources).is_empty() && !list(&rule.non_resource_urls).is_empty() {
                return vec![Difference::NonResourceRule];
            }
            if !verb_matches(rule, &request.verb) {
                out.push(Difference::Verb {
                    listed: rule.verbs.clone(),
                });
            }
            if !group_matches(rule, group) {
                out.push(Difference::ApiGroup {
                    listed: list(&rule.api_groups).to_vec(),
                });
            }
            let sub = subresource.as_deref().unwrap_or("");
            let combined = request.rbac_resource().unwrap_or_default();
            if !resource_matches(rule, &combined, sub) {
                let listed = list(&rule.resources).to_vec();
                let names_base = !sub.is_empty()
                    && listed.iter().any(|r| {
                        r == resource || r.split_once('/').is_some_and(|(base, _)| base == resource)
                    });
                out.push(if names_base {
                    Difference::Subresource { listed }
                } else {
                    let near = nearest(&combined, &listed);
                    Difference::Resource { listed, near }
                });
            }
            let name = name.as_deref().unwrap_or("");
            if !name_matches(rule, name) {
                out.push(Difference::ResourceNames {
                    names: list(&rule.resource_names).to_vec(),
                    unnamed: name.is_empty(),
                });
            }
        }
        AccessTarget::NonResource { path } => {
            if list(&rule.non_resource_urls).is_empty() {
                return vec![Difference::ResourceRule];
            }
            if !verb_matches(rule, &request.verb) {
                out.push(Difference::Verb {
                    listed: rule.verbs.clone(),
                });
            }
            if !url_matches(rule, path) {
                let listed = list(&rule.non_resource_urls).to_vec();
                let near = nearest(path, &listed);
                out.push(Difference::NonResourceUrl { listed, near });
            }
        }
    }
    out
}

/// A listed name that looks like a misspelling of `wanted`: another case, singular for plural, or one or two
/// letters off (one for short names).
fn nearest(wanted: &str, listed: &[String]) -> Option<String> {
    let budget = if wanted.len() >= 5 { 2 } else { 1 };
    listed
        .iter()
        .filter(|l| l.as_str() != WILDCARD && !l.is_empty())
        .map(|l| {
            let d = if l.eq_ignore_ascii_case(wanted)
                || format!("{l}s") == wanted
                || format!("{l}es") == wanted
                || format!("{wanted}s") == *l
            {
                0
            } else {
                strsim::damerau_levenshtein(&l.to_ascii_lowercase(), &wanted.to_ascii_lowercase())
            };
            (d, l)
        })
        .filter(|(d, _)| *d <= budget)
        .min_by_key(|(d, _)| *d)
        .map(|(_, l)| l.clone())
}

fn lookalike(
    identity: &Identity,
    subject: &RbacSubject,
    binding_namespace: &str,
) -> Option<LookalikeWhy> {
    let sa = identity.service_account();
    let short = sa
        .as_ref()
        .map_or(identity.user.as_str(), |(_, n)| n.as_str());
    let similar = |a: &str, b: &str| {
        a != b
            && (a.eq_ignore_ascii_case(b)
                || (b.len() >= 4 && strsim::damerau_levenshtein(a, b) <= 2))
    };
    match (subject.kind.as_str(), &sa) {
        ("ServiceAccount", Some((namespace, name))) => {
            let written = subject.namespace.as_deref().filter(|n| !n.is_empty());
            let effective = written.unwrap_or(binding_namespace);
            if subject.name == *name {
                if effective.is_empty() {
                    return Some(LookalikeWhy::ServiceAccountWithoutNamespace);
                }
                if effective != namespace {
                    return Some(LookalikeWhy::ServiceAccountNamespace {
                        subject_namespace: effective.to_string(),
                        defaulted: written.is_none(),
                    });
                }
            }
            (effective == namespace && similar(&subject.name, name)).then(|| {
                LookalikeWhy::SimilarName {
                    resembles: name.clone(),
                }
            })
        }
        ("ServiceAccount", None) => (subject.name == identity.user).then(|| LookalikeWhy::Kind {
            kind: subject.kind.clone(),
        }),
        ("User", _) => {
            if sa.is_some() && subject.name == short {
                return Some(LookalikeWhy::Kind {
                    kind: subject.kind.clone(),
                });
            }
            similar(&subject.name, &identity.user).then(|| LookalikeWhy::SimilarName {
                resembles: identity.user.clone(),
            })
        }
        ("Group", _) => {
            if subject.name == identity.user || subject.name == short {
                return Some(LookalikeWhy::Kind {
                    kind: subject.kind.clone(),
                });
            }
            identity
                .groups
                .iter()
                .filter(|g| !BROAD_GROUPS.contains(&g.as_str()))
                .find(|g| similar(&subject.name, g))
                .map(|g| LookalikeWhy::SimilarName {
                    resembles: g.clone(),
                })
        }
        _ => None,
    }
}
