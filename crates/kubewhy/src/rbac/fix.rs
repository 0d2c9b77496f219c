//! The fix that edits what is there: from an [`Explanation`], the smallest change of the RBAC objects that exist —
//! one rule of a role bound to the identity, the role a binding names but nobody created, the subjects of a
//! binding meant for the identity, the binding of a role that already grants the request — and a new role with
//! its binding ([`crate::rbac::generate`]) only when nothing close exists. The choice is data ([`FixKind`]); so are
//! the JSON patch and the object after the change.
//!
//! Every fix grants the request. Edits of a rule that works (a verb, a subresource, a name added) are exact:
//! when widening the rule in place would grant more than the request, a narrow rule is added to the same role
//! instead. Corrections of a rule that cannot work as written (a misspelt resource, the wrong API group) restore
//! what the rule says; what they grant beyond the request is listed in [`Fix::also_grants`], as is what an
//! existing role brings when a binding is fixed or added.

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::{
    ClusterRoleBinding, PolicyRule, RoleBinding, Subject as RbacSubject,
};
use kube::api::ObjectMeta;
use kube::core::{Selector, SelectorExt};
use serde_json::{Value, json};

pub use crate::near_miss::{Fix, FixKind, RuleEdit};

use super::advisor::{
    BindingMiss, Difference, Explanation, LookalikeWhy, RoleOutcome, RuleMiss, ScopeMiss,
};
use super::eval::{AccessRequest, AccessTarget, Rule, SubjectRef, list};
use super::objects::{
    BindingKind, BindingRef, RbacObjects, RoleKey, RoleKind, is_kubernetes_default,
};
use super::{Permission, RbacObject, Subject, Verb};

/// The annotation `kubectl apply` keeps: not part of a role's meaning, and large.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

impl Fix {
    /// Whether it edits objects that exist (a rule, a binding's subjects) rather than creating any.
    pub fn is_edit(&self) -> bool {
        matches!(
            self.kind,
            FixKind::EditRule { .. } | FixKind::AddSubject { .. }
        )
    }

    /// The `kubectl` arguments (after `kubectl`) that apply an edit: `patch <kind> <name> [-n ns] --type=json -p
    /// <patch>`. `None` for fixes that create objects (apply [`Fix::object`] instead).
    pub fn kubectl_patch(&self) -> Option<Vec<String>> {
        let (resource, name, namespace, patch) = match &self.kind {
            FixKind::EditRule { role, patch, .. } => {
                (role.kind.plural(), &role.name, &role.namespace, patch)
            }
            FixKind::AddSubject { binding, patch, .. } => (
                binding.kind.plural(),
                &binding.name,
                &binding.namespace,
                patch,
            ),
            _ => return None,
        };
        let mut args = vec!["patch".to_string(), resource.to_string(), name.clone()];
        if let Some(ns) = namespace {
            args.extend(["-n".to_string(), ns.clone()]);
        }
        args.extend([
            "--type=json".to_string(),
            "-p".to_string(),
            Value::Array(patch.clone()).to_string(),
        ]);
        Some(args)
    }

    /// The object the fix leaves or creates: the edited role or binding, or the new one (`None` for
    /// [`FixKind::NewRole`], whose objects [`crate::rbac::generate`] writes, and for [`FixKind::ClientGroup`]).
    pub fn object(&self) -> Option<&Value> {
        match &self.kind {
            FixKind::EditRule { after, .. } | FixKind::AddSubject { after, .. } => Some(after),
            FixKind::CreateRole { object, .. } | FixKind::NewBinding { object, .. } => Some(object),
            FixKind::NewRole { .. } | FixKind::ClientGroup { .. } => None,
        }
    }
}

/// The smallest fix for the request the explanation is about, or `None` when RBAC already grants it (or the verb
/// cannot be granted by a generated role).
///
/// In order of preference: edit the near-miss rule of a role bound to the identity itself (never a default
/// `system:` role, never the controller-managed rules of an aggregated role); create the role a binding names but
/// that does not exist, or a ClusterRole an empty aggregation selects; correct the subject of a binding that was
/// meant for the identity and whose role grants the request; bind a role that grants exactly the request where it
/// is made; add a rule to a role bound to the identity; a new role and binding.
pub fn fix(explanation: &Explanation, rbac: &RbacObjects) -> Option<Fix> {
    let mut fix = choose(explanation, rbac)?;
    let through = match &fix.kind {
        FixKind::EditRule { binding, .. }
        | FixKind::CreateRole { binding, .. }
        | FixKind::AddSubject { binding, .. } => Some(binding.kind),
        FixKind::NewBinding { .. } | FixKind::NewRole { .. } | FixKind::ClientGroup { .. } => None,
    };
    fix.all_namespaces = explanation.request.namespace().is_some()
        && through == Some(BindingKind::ClusterRoleBinding);
    Some(fix)
}

fn choose(explanation: &Explanation, rbac: &RbacObjects) -> Option<Fix> {
    if explanation.is_granted() {
        return None;
    }
    let request = &explanation.request;
    if let Some(fix) = client_group(explanation) {
        return Some(fix);
    }
    let own: Vec<&BindingMiss> = explanation
        .near_misses
        .iter()
        .filter(|m| !m.via.is_broad() && m.scope.is_none())
        .collect();
    for miss in &own {
        let fix = match &miss.outcome {
            RoleOutcome::NoRuleGrants { closest, .. } => closest
                .iter()
                .find(|c| c.is_near() && editable(&c.rule.role, rbac))
                .map(|near| edit_near_miss(request, near, miss, rbac)),
            RoleOutcome::NotFound if miss.role.name.contains('/') => None,
            RoleOutcome::NotFound => Some(create_missing(request, miss)),
            RoleOutcome::AggregationSelectsNothing { .. } => create_aggregated(request, miss, rbac),
            RoleOutcome::NoRules | RoleOutcome::Grants { .. } => None,
        };
        if fix.is_some() {
            return fix;
        }
    }
    for look in &explanation.lookalikes {
        if look.role_grants
            && look.scope_fits
            && let Some(fix) = edit_subject(explanation, look, rbac)
        {
            return Some(fix);
        }
    }
    for miss in &explanation.near_misses {
        if let (Some(ScopeMiss::ClusterRoleConfined { .. }), RoleOutcome::Grants { .. }) =
            (&miss.scope, &miss.outcome)
            && let Some(fix) = bind_where_requested(explanation, miss, rbac)
        {
            return Some(fix);
        }
    }
    // A role bound to the identity in the right scope with nothing close: add the rule there, the narrowest
    // binding first (a Role bound in the request's namespace before a ClusterRole bound everywhere).
    let mut hosts: Vec<&&BindingMiss> = own
        .iter()
        .filter(|m| {
            matches!(
                m.outcome,
                RoleOutcome::NoRules | RoleOutcome::NoRuleGrants { .. }
            ) && editable(&m.role, rbac)
                && !is_aggregated(&m.role, rbac)
                && (m.role.kind == RoleKind::ClusterRole
                    || !matches!(request.target, AccessTarget::NonResource { .. }))
        })
        .collect();
    hosts.sort_by_key(|m| m.binding.kind != BindingKind::RoleBinding);
    if let Some(host) = hosts.first() {
        let rule = narrow_rule(request);
        return Some(role_edit(
            &host.role,
            RuleEdit::AddRule {
                rule,
                instead_of: None,
            },
            &host.binding,
            Vec::new(),
            rbac,
        ));
    }
    Some(Fix {
        kind: FixKind::NewRole {
            rule: narrow_rule(request),
            namespace: request.namespace().map(str::to_string),
        },
        also_grants: Vec::new(),
        all_namespaces: false,
    })
}

/// A request for a non-core resource in the core group: the client's URL lacks the group.
fn client_group(explanation: &Explanation) -> Option<Fix> {
    let AccessTarget::Resource {
        group, resource, ..
    } = &explanation.request.target
    else {
        return None;
    };
    if !group.is_empty() || resource == "*" || crate::vocab::is_core_resource(resource) {
        return None;
    }
    let from_rules = explanation
        .near_misses
        .iter()
        .find_map(|m| match &m.outcome {
            RoleOutcome::NoRuleGrants { closest, .. } => closest.iter().find_map(|c| {
                let only_group = matches!(c.differences.as_slice(), [Difference::ApiGroup { .. }]);
                only_group
                    .then(|| {
                        c.rule
                            .rule
                            .api_groups
                            .iter()
                            .find(|g| !g.is_empty() && *g != "*")
                            .cloned()
                    })
                    .flatten()
            }),
            _ => None,
        });
    Some(Fix {
        kind: FixKind::ClientGroup {
            group: from_rules.or_else(|| crate::vocab::builtin_group(resource).map(str::to_string)),
        },
        also_grants: Vec::new(),
        all_namespaces: false,
    })
}

/// Whether kubewhy may propose editing a role: not one of Kubernetes' defaults (reconciled at every start).
fn editable(key: &RoleKey, rbac: &RbacObjects) -> bool {
    !is_kubernetes_default(rbac.labels_of(key)) && !key.name.starts_with("system:")
}

fn is_aggregated(key: &RoleKey, rbac: &RbacObjects) -> bool {
    key.kind == RoleKind::ClusterRole
        && rbac
            .cluster_role(&key.name)
            .is_some_and(|c| c.aggregation_rule.is_some())
}

/// The rule that grants exactly the request.
pub fn narrow_rule(request: &AccessRequest) -> Rule {
    match &request.target {
        AccessTarget::Resource { group, .. } => Rule {
            api_groups: vec![group.clone()],
            resources: request.rbac_resource().into_iter().collect(),
            verbs: vec![request.verb.clone()],
            ..Rule::default()
        },
        AccessTarget::NonResource { path } => Rule {
            non_resource_urls: vec![path.clone()],
            verbs: vec![request.verb.clone()],
            ..Rule::default()
        },
    }
}

/// The permissions a rule spells out, in a namespace or cluster-wide, as [`crate::rbac::generate`] takes them (for
/// [`FixKind::NewRole`]); `None` when a verb is not one kubewhy writes.
pub fn permissions_of(rule: &Rule, namespace: Option<&str>) -> Option<Vec<Permission>> {
    let mut out = Vec::new();
    for verb in &rule.verbs {
        let verb: Verb = verb.parse().ok()?;
        for url in &rule.non_resource_urls {
            out.push(Permission::non_resource(url, verb));
        }
        for group in &rule.api_groups {
            for resource in &rule.resources {
                out.push(Permission::resource(group, resource, verb, namespace));
            }
        }
    }
    Some(out)
}

/// Whether a rule grants nothing but the request (one verb, one group, one resource, at most the requested name).
fn exactly(rule: &Rule, request: &AccessRequest) -> bool {
    let one = |v: &[String], want: &str| v.len() == 1 && v[0] == want;
    match &request.target {
        AccessTarget::Resource { group, name, .. } => {
            let names = &rule.resource_names;
            one(&rule.verbs, &request.verb)
                && one(&rule.api_groups, group)
                && request
                    .rbac_resource()
                    .is_some_and(|r| one(&rule.resources, &r))
                && (names.is_empty() || name.as_deref().is_some_and(|n| one(names, n)))
                && rule.non_resource_urls.is_empty()
        }
        AccessTarget::NonResource { path } => {
            one(&rule.verbs, &request.verb)
                && one(&rule.non_resource_urls, path)
                && rule.resources.is_empty()
        }
    }
}

/// The rules among `rules` that grant more than the request.
fn beyond<'a>(
    rules: impl IntoIterator<Item = &'a PolicyRule>,
    request: &AccessRequest,
) -> Vec<Rule> {
    rules
        .into_iter()
        .map(Rule::from)
        .filter(|r| !exactly(r, request))
        .collect()
}

/// The edit of a near-miss rule: in place when that grants exactly the request or corrects what cannot work as
/// written; otherwise a narrow rule next to it.
fn edit_near_miss(
    request: &AccessRequest,
    near: &RuleMiss,
    miss: &BindingMiss,
    rbac: &RbacObjects,
) -> Fix {
    let index = near.rule.index;
    let rule = &near.rule.rule;
    let wanted = request.rbac_resource().unwrap_or_default();
    let (edit, correction) = match (&near.differences[0], &request.target) {
        (Difference::Verb { .. }, _) => (
            RuleEdit::AddVerb {
                rule: index,
                verb: request.verb.clone(),
            },
            false,
        ),
        (Difference::Subresource { .. }, _) => (
            RuleEdit::AddResource {
                rule: index,
                resource: wanted.clone(),
            },
            false,
        ),
        (
            Difference::Resource {
                near: Some(from), ..
            },
            _,
        ) => (
            RuleEdit::ReplaceResource {
                rule: index,
                from: from.clone(),
                to: wanted.clone(),
            },
            true,
        ),
        (Difference::ApiGroup { listed }, AccessTarget::Resource { group, .. })
            if listed.len() == 1 && rule.resources.len() == 1 =>
        {
            (
                RuleEdit::ReplaceApiGroup {
                    rule: index,
                    from: listed[0].clone(),
                    to: group.clone(),
                },
                true,
            )
        }
        (Difference::ResourceNames { unnamed: true, .. }, _) => {
            (RuleEdit::RemoveResourceNames { rule: index }, false)
        }
        (
            Difference::ResourceNames { unnamed: false, .. },
            AccessTarget::Resource {
                name: Some(name), ..
            },
        ) => (
            RuleEdit::AddResourceName {
                rule: index,
                name: name.clone(),
            },
            false,
        ),
        (Difference::NonResourceUrl { .. }, AccessTarget::NonResource { path }) => (
            RuleEdit::AddNonResourceUrl {
                rule: index,
                url: path.clone(),
            },
            false,
        ),
        _ => (
            RuleEdit::AddRule {
                rule: narrow_rule(request),
                instead_of: Some(index),
            },
            false,
        ),
    };
    let extra: Vec<Rule> = delta(rule, &edit)
        .filter(|d| !exactly(d, request))
        .into_iter()
        .collect();
    let (edit, also) = if extra.is_empty() || matches!(edit, RuleEdit::AddRule { .. }) {
        (edit, Vec::new())
    } else if correction {
        (
            edit,
            extra
                .into_iter()
                .map(|r| without_request(r, request))
                .collect(),
        )
    } else {
        (
            RuleEdit::AddRule {
                rule: narrow_rule(request),
                instead_of: Some(index),
            },
            Vec::new(),
        )
    };
    let mut fix = role_edit(&near.rule.role, edit, &miss.binding, also, rbac);
    if let FixKind::EditRule {
        aggregated_into, ..
    } = &mut fix.kind
    {
        aggregated_into.clone_from(&near.rule.aggregated_into);
    }
    fix
}

/// What an edit of `rule` adds to what it grants, as one rule (`None` for a new rule).
fn delta(rule: &Rule, edit: &RuleEdit) -> Option<Rule> {
    let one = |s: &str| vec![s.to_string()];
    let mut d = rule.clone();
    match edit {
        RuleEdit::AddVerb { verb, .. } => d.verbs = vec![verb.clone()],
        RuleEdit::AddResource { resource: to, .. } | RuleEdit::ReplaceResource { to, .. } => {
            d.resources = one(to)
        }
        RuleEdit::ReplaceApiGroup { to, .. } => d.api_groups = one(to),
        RuleEdit::AddResourceName { name, .. } => d.resource_names = one(name),
        RuleEdit::RemoveResourceNames { .. } => d.resource_names = Vec::new(),
        RuleEdit::AddNonResourceUrl { url, .. } => d.non_resource_urls = one(url),
        RuleEdit::AddRule { .. } => return None,
    }
    Some(d)
}

/// A rule that grants the request and more, without the requested verb when that leaves the rest exact.
fn without_request(mut rule: Rule, request: &AccessRequest) -> Rule {
    let mut narrowed = rule.clone();
    narrowed.verbs = vec![request.verb.clone()];
    if exactly(&narrowed, request) && rule.verbs.len() > 1 {
        rule.verbs.retain(|v| *v != request.verb);
    }
    rule
}

/// The rules after an edit.
pub fn apply_edit(rules: &[PolicyRule], edit: &RuleEdit) -> Vec<PolicyRule> {
    let mut rules = rules.to_vec();
    let push =
        |v: &mut Option<Vec<String>>, s: &str| v.get_or_insert_with(Vec::new).push(s.to_string());
    let replace = |v: &mut Option<Vec<String>>, from: &str, to: &str| {
        if let Some(x) = v.iter_mut().flatten().find(|x| *x == from) {
            *x = to.to_string();
        }
    };
    match edit {
        RuleEdit::AddRule { rule, .. } => rules.push(PolicyRule::from(rule)),
        RuleEdit::AddVerb { rule, verb } => {
            if let Some(r) = rules.get_mut(*rule) {
                r.verbs.push(verb.clone());
            }
        }
        RuleEdit::AddResource { rule, resource } => {
            if let Some(r) = rules.get_mut(*rule) {
                push(&mut r.resources, resource);
            }
        }
        RuleEdit::ReplaceResource { rule, from, to } => {
            if let Some(r) = rules.get_mut(*rule) {
                replace(&mut r.resources, from, to);
            }
        }
        RuleEdit::ReplaceApiGroup { rule, from, to } => {
            if let Some(r) = rules.get_mut(*rule) {
                replace(&mut r.api_groups, from, to);
            }
        }
        RuleEdit::AddResourceName { rule, name } => {
            if let Some(r) = rules.get_mut(*rule) {
                push(&mut r.resource_names, name);
            }
        }
        RuleEdit::RemoveResourceNames { rule } => {
            if let Some(r) = rules.get_mut(*rule) {
                r.resource_names = None;
            }
        }
        RuleEdit::AddNonResourceUrl { rule, url } => {
            if let Some(r) = rules.get_mut(*rule) {
                push(&mut r.non_resource_urls, url);
            }
        }
    }
    rules
}

/// The JSON patch of an edit, guarded by a `test` of the rule as read (a role changed since is not edited blind).
fn patch_of(rules: Option<&[PolicyRule]>, edit: &RuleEdit) -> Vec<Value> {
    let guard = |i: usize| -> Value {
        let rule = rules
            .and_then(|r| r.get(i))
            .map(|r| wire_rule(&Rule::from(r)))
            .unwrap_or(Value::Null);
        json!({"op": "test", "path": format!("/rules/{i}"), "value": rule})
    };
    let has = |i: usize, field: fn(&PolicyRule) -> &Option<Vec<String>>| {
        rules
            .and_then(|r| r.get(i))
            .is_some_and(|r| !list(field(r)).is_empty())
    };
    let append = |i: usize, key: &str, present: bool, value: &str| -> Value {
        if present {
            json!({"op": "add", "path": format!("/rules/{i}/{key}/-"), "value": value})
        } else {
            json!({"op": "add", "path": format!("/rules/{i}/{key}"), "value": [value]})
        }
    };
    let position = |i: usize, field: fn(&PolicyRule) -> &Option<Vec<String>>, from: &str| {
        rules
            .and_then(|r| r.get(i))
            .and_then(|r| list(field(r)).iter().position(|x| x == from))
            .unwrap_or(0)
    };
    match edit {
        RuleEdit::AddRule { rule, .. } => {
            if rules.is_some_and(|r| !r.is_empty()) {
                vec![json!({"op": "add", "path": "/rules/-", "value": wire_rule(rule)})]
            } else {
                vec![json!({"op": "add", "path": "/rules", "value": [wire_rule(rule)]})]
            }
        }
        RuleEdit::AddVerb { rule, verb } => vec![
            guard(*rule),
            json!({"op": "add", "path": format!("/rules/{rule}/verbs/-"), "value": verb}),
        ],
        RuleEdit::AddResource { rule, resource } => vec![
            guard(*rule),
            append(*rule, "resources", has(*rule, |r| &r.resources), resource),
        ],
        RuleEdit::ReplaceResource { rule, from, to } => vec![guard(*rule), {
            let at = position(*rule, |r| &r.resources, from);
            json!({"op": "replace", "path": format!("/rules/{rule}/resources/{at}"), "value": to})
        }],
        RuleEdit::ReplaceApiGroup { rule, from, to } => vec![guard(*rule), {
            let at = position(*rule, |r| &r.api_groups, from);
            json!({"op": "replace", "path": format!("/rules/{rule}/apiGroups/{at}"), "value": to})
        }],
        RuleEdit::AddResourceName { rule, name } => vec![
            guard(*rule),
            append(
                *rule,
                "resourceNames",
                has(*rule, |r| &r.resource_names),
                name,
            ),
        ],
        RuleEdit::RemoveResourceNames { rule } => vec![
            guard(*rule),
            json!({"op": "remove", "path": format!("/rules/{rule}/resourceNames")}),
        ],
        RuleEdit::AddNonResourceUrl { rule, url } => vec![
            guard(*rule),
            append(
                *rule,
                "nonResourceURLs",
                has(*rule, |r| &r.non_resource_urls),
                url,
            ),
        ],
    }
}

/// A rule as the API server stores it: empty lists left out (so a `test` of it matches).
fn wire_rule(rule: &Rule) -> Value {
    serde_json::to_value(rule).unwrap_or(Value::Null)
}

fn role_edit(
    role: &RoleKey,
    edit: RuleEdit,
    binding: &BindingRef,
    also: Vec<Rule>,
    rbac: &RbacObjects,
) -> Fix {
    let rules = rbac.rules_of(role);
    let patch = patch_of(rules, &edit);
    let after_rules = apply_edit(rules.unwrap_or(&[]), &edit);
    let after = match role.kind {
        RoleKind::Role => rbac
            .role(role.namespace.as_deref().unwrap_or(""), &role.name)
            .map(|r| {
                let mut r = r.clone();
                r.metadata = clean(&r.metadata);
                r.rules = Some(after_rules.clone());
                RbacObject::Role(r).to_value()
            }),
        RoleKind::ClusterRole => rbac.cluster_role(&role.name).map(|r| {
            let mut r = r.clone();
            r.metadata = clean(&r.metadata);
            r.rules = Some(after_rules.clone());
            RbacObject::ClusterRole(r).to_value()
        }),
    }
    .unwrap_or(Value::Null);
    let shared_with = rbac
        .bindings()
        .filter(|b| b.role_key().as_ref() == Some(role))
        .map(|b| b.reference())
        .filter(|b| b != binding)
        .collect();
    Fix {
        kind: FixKind::EditRule {
            role: role.clone(),
            edit,
            binding: binding.clone(),
            shared_with,
            aggregated_into: None,
            patch,
            after,
        },
        also_grants: also,
        all_namespaces: false,
    }
}

/// Metadata worth showing in a changed object: name, namespace, labels, annotations (without kubectl's copy of
/// the last applied object).
fn clean(meta: &ObjectMeta) -> ObjectMeta {
    let annotations = meta.annotations.clone().map(|mut a| {
        a.remove(LAST_APPLIED);
        a
    });
    ObjectMeta {
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        labels: meta.labels.clone(),
        annotations: annotations.filter(|a| !a.is_empty()),
        ..ObjectMeta::default()
    }
}

fn create_missing(request: &AccessRequest, miss: &BindingMiss) -> Fix {
    let rules = vec![PolicyRule::from(&narrow_rule(request))];
    let meta = ObjectMeta {
        name: Some(miss.role.name.clone()),
        namespace: miss.role.namespace.clone(),
        ..ObjectMeta::default()
    };
    let object = match miss.role.kind {
        RoleKind::Role => RbacObject::Role(k8s_openapi::api::rbac::v1::Role {
            metadata: meta,
            rules: Some(rules),
        }),
        RoleKind::ClusterRole => RbacObject::ClusterRole(k8s_openapi::api::rbac::v1::ClusterRole {
            metadata: meta,
            rules: Some(rules),
            aggregation_rule: None,
        }),
    };
    Fix {
        kind: FixKind::CreateRole {
            role: miss.role.clone(),
            binding: miss.binding.clone(),
            aggregated_into: None,
            object: object.to_value(),
        },
        also_grants: Vec::new(),
        all_namespaces: false,
    }
}

/// A ClusterRole with the labels one of the aggregation's selectors asks for, holding the narrow rule.
fn create_aggregated(
    request: &AccessRequest,
    miss: &BindingMiss,
    rbac: &RbacObjects,
) -> Option<Fix> {
    let aggregated = rbac.cluster_role(&miss.role.name)?;
    let selectors = aggregated
        .aggregation_rule
        .as_ref()?
        .cluster_role_selectors
        .as_ref()?;
    let labels = selectors.iter().find_map(|s| {
        let mut labels: BTreeMap<String, String> = s.match_labels.clone().unwrap_or_default();
        for e in s.match_expressions.iter().flatten() {
            match e.operator.as_str() {
                "In" => {
                    labels.insert(e.key.clone(), e.values.as_ref()?.first()?.clone());
                }
                "Exists" => {
                    labels.insert(e.key.clone(), "true".into());
                }
                _ => {}
            }
        }
        let selector = Selector::try_from(s.clone()).ok()?;
        (!labels.is_empty() && selector.matches(&labels)).then_some(labels)
    })?;
    let what = request
        .rbac_resource()
        .unwrap_or_else(|| match &request.target {
            AccessTarget::NonResource { path } => path.trim_matches('/').to_string(),
            AccessTarget::Resource { resource, .. } => resource.clone(),
        });
    let name = format!(
        "{}-{}-{}",
        miss.role.name,
        request.verb,
        what.replace('/', "-")
    );
    let object = RbacObject::ClusterRole(k8s_openapi::api::rbac::v1::ClusterRole {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        rules: Some(vec![PolicyRule::from(&narrow_rule(request))]),
        aggregation_rule: None,
    });
    Some(Fix {
        kind: FixKind::CreateRole {
            role: RoleKey {
                kind: RoleKind::ClusterRole,
                name,
                namespace: None,
            },
            binding: miss.binding.clone(),
            aggregated_into: Some(miss.role.name.clone()),
            object: object.to_value(),
        },
        also_grants: Vec::new(),
        all_namespaces: false,
    })
}

/// The subject as it should have been written for the identity.
fn intended_subject(
    explanation: &Explanation,
    written: &SubjectRef,
    why: &LookalikeWhy,
) -> SubjectRef {
    let identity = &explanation.identity;
    match (why, identity.service_account()) {
        (LookalikeWhy::SimilarName { resembles }, _) => SubjectRef {
            name: resembles.clone(),
            ..written.clone()
        },
        (_, Some((namespace, name))) => SubjectRef {
            kind: "ServiceAccount".into(),
            name,
            namespace: Some(namespace),
            api_group: None,
        },
        (_, None) => SubjectRef {
            kind: "User".into(),
            name: identity.user.clone(),
            namespace: None,
            api_group: Some("rbac.authorization.k8s.io".into()),
        },
    }
}

fn edit_subject(
    explanation: &Explanation,
    look: &super::advisor::Lookalike,
    rbac: &RbacObjects,
) -> Option<Fix> {
    let binding = rbac.binding(&look.binding)?;
    let intended = intended_subject(explanation, &look.subject, &look.why);
    let patch = vec![json!({"op": "add", "path": "/subjects/-", "value": intended})];
    let mut subjects = binding.subjects.to_vec();
    subjects.push(RbacSubject::from(&intended));
    let after = match look.binding.kind {
        BindingKind::RoleBinding => {
            let mut b = rbac
                .role_bindings
                .iter()
                .find(|b| {
                    b.metadata.name.as_deref() == Some(&look.binding.name)
                        && b.metadata.namespace == look.binding.namespace
                })?
                .clone();
            b.metadata = clean(&b.metadata);
            b.subjects = Some(subjects);
            RbacObject::RoleBinding(b).to_value()
        }
        BindingKind::ClusterRoleBinding => {
            let mut b = rbac
                .cluster_role_bindings
                .iter()
                .find(|b| b.metadata.name.as_deref() == Some(&look.binding.name))?
                .clone();
            b.metadata = clean(&b.metadata);
            b.subjects = Some(subjects);
            RbacObject::ClusterRoleBinding(b).to_value()
        }
    };
    Some(Fix {
        kind: FixKind::AddSubject {
            binding: look.binding.clone(),
            resembling: look.index,
            subject: intended,
            patch,
            after,
        },
        also_grants: beyond(
            rbac.rules_of(&look.role).unwrap_or(&[]),
            &explanation.request,
        ),
        all_namespaces: false,
    })
}

/// A ClusterRole that grants exactly the request, bound by a RoleBinding elsewhere: bind it where the request is
/// (a RoleBinding in its namespace, or a ClusterRoleBinding for a cluster-wide request).
fn bind_where_requested(
    explanation: &Explanation,
    miss: &BindingMiss,
    rbac: &RbacObjects,
) -> Option<Fix> {
    let rules = rbac.rules_of(&miss.role)?;
    let request = &explanation.request;
    if !beyond(rules, request).is_empty() || is_aggregated(&miss.role, rbac) {
        return None;
    }
    let subject = Subject::from_username(&explanation.identity.user);
    let short = match &subject {
        Subject::ServiceAccount { name, .. } | Subject::User { name } | Subject::Group { name } => {
            name.clone()
        }
    };
    let mut name = format!("{}-{short}", miss.role.name);
    let kind = match request.namespace() {
        Some(_) => BindingKind::RoleBinding,
        None => BindingKind::ClusterRoleBinding,
    };
    let taken = |n: &str| {
        rbac.binding(&BindingRef {
            kind,
            name: n.to_string(),
            namespace: request.namespace().map(str::to_string),
        })
        .is_some()
    };
    if taken(&name) {
        name.push_str("-kubewhy");
    }
    let meta = ObjectMeta {
        name: Some(name),
        namespace: request.namespace().map(str::to_string),
        labels: Some(BTreeMap::from([(
            "app.kubernetes.io/managed-by".to_string(),
            "kubewhy".to_string(),
        )])),
        ..ObjectMeta::default()
    };
    let role_ref = super::role_ref("ClusterRole", &miss.role.name);
    let subjects = Some(vec![subject.to_rbac()]);
    let object = match kind {
        BindingKind::RoleBinding => RbacObject::RoleBinding(RoleBinding {
            metadata: meta,
            role_ref,
            subjects,
        }),
        BindingKind::ClusterRoleBinding => RbacObject::ClusterRoleBinding(ClusterRoleBinding {
            metadata: meta,
            role_ref,
            subjects,
        }),
    };
    Some(Fix {
        kind: FixKind::NewBinding {
            role: miss.role.clone(),
            object: object.to_value(),
        },
        also_grants: Vec::new(),
        all_namespaces: false,
    })
}
