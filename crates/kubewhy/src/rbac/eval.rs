//! RBAC evaluation as the API server's RBAC authorizer does it: which request a rule allows, which binding subject
//! names an identity, and which ClusterRoles an aggregated ClusterRole selects.
//!
//! Written from Kubernetes' own rules and kept to their letter (wildcards, `*/subresource`, `resourceNames`,
//! non-resource URL prefixes, ServiceAccount subjects defaulting to the binding's namespace, aggregation by
//! label selector): kubernetes `pkg/apis/rbac/v1/evaluation_helpers.go`, `plugin/pkg/auth/authorizer/rbac/rbac.go`,
//! `pkg/registry/rbac/validation/rule.go` and `pkg/controller/clusterroleaggregation`. Pure functions, no I/O.

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule, Subject as RbacSubject};
use kube::core::{Selector, SelectorExt};

use super::Subject;
use crate::diagnosis::Request;
pub use crate::near_miss::{AccessRequest, AccessTarget, Identity, Rule, SubjectRef};

/// The wildcard RBAC accepts for verbs, API groups, resources and non-resource URLs.
pub const WILDCARD: &str = "*";

impl Identity {
    /// An identity with its groups.
    pub fn new<G: Into<String>>(
        user: impl Into<String>,
        groups: impl IntoIterator<Item = G>,
    ) -> Self {
        Identity {
            user: user.into(),
            groups: groups.into_iter().map(Into::into).collect(),
        }
    }

    /// `(namespace, name)` when the user is a ServiceAccount.
    pub fn service_account(&self) -> Option<(String, String)> {
        match Subject::from_username(&self.user) {
            Subject::ServiceAccount { namespace, name } => Some((namespace, name)),
            _ => None,
        }
    }
}

impl AccessRequest {
    /// `verb` on `resource` (plural) of `group` across all namespaces (or at cluster scope); refine with
    /// [`subresource`](Self::subresource), [`in_namespace`](Self::in_namespace) and [`named`](Self::named).
    pub fn resource(verb: &str, group: &str, resource: &str) -> AccessRequest {
        AccessRequest {
            verb: verb.into(),
            target: AccessTarget::Resource {
                group: group.into(),
                resource: resource.into(),
                subresource: None,
                namespace: None,
                name: None,
            },
        }
    }

    /// `verb` on a non-resource URL path.
    pub fn non_resource(verb: &str, path: &str) -> AccessRequest {
        AccessRequest {
            verb: verb.into(),
            target: AccessTarget::NonResource { path: path.into() },
        }
    }

    /// On a subresource (no effect on a non-resource request).
    pub fn subresource(mut self, sub: &str) -> AccessRequest {
        if let AccessTarget::Resource { subresource, .. } = &mut self.target {
            *subresource = Some(sub.into());
        }
        self
    }

    /// In a namespace (no effect on a non-resource request).
    pub fn in_namespace(mut self, ns: &str) -> AccessRequest {
        if let AccessTarget::Resource { namespace, .. } = &mut self.target {
            *namespace = Some(ns.into());
        }
        self
    }

    /// On one named object (no effect on a non-resource request).
    pub fn named(mut self, object: &str) -> AccessRequest {
        if let AccessTarget::Resource { name, .. } = &mut self.target {
            *name = Some(object.into());
        }
        self
    }

    /// The request of a diagnosis, when it names a verb and either a path or a resource with its group.
    pub fn from_request(r: &Request) -> Option<AccessRequest> {
        let verb = r.verb.as_deref().filter(|v| !v.is_empty())?;
        if let Some(path) = &r.path {
            return Some(AccessRequest::non_resource(verb, path));
        }
        Some(AccessRequest {
            verb: verb.into(),
            target: AccessTarget::Resource {
                group: r.group.clone()?,
                resource: r.resource.clone().filter(|s| !s.is_empty())?,
                subresource: r.subresource.clone().filter(|s| !s.is_empty()),
                namespace: r.namespace.clone().filter(|s| !s.is_empty()),
                name: r.name.clone().filter(|s| !s.is_empty()),
            },
        })
    }

    /// What RBAC's escalation prevention checks when this request creates or changes a Role or ClusterRole that
    /// grants more than its caller holds: `escalate` on the same roles (kubernetes
    /// `pkg/registry/rbac/escalation_check.go`). `None` for other requests.
    pub fn escalation(&self) -> Option<AccessRequest> {
        match &self.target {
            AccessTarget::Resource {
                group,
                resource,
                namespace,
                name,
                ..
            } if group == "rbac.authorization.k8s.io"
                && matches!(resource.as_str(), "roles" | "clusterroles")
                && matches!(self.verb.as_str(), "create" | "update" | "patch") =>
            {
                Some(AccessRequest {
                    verb: "escalate".into(),
                    target: AccessTarget::Resource {
                        group: group.clone(),
                        resource: resource.clone(),
                        subresource: None,
                        namespace: namespace.clone(),
                        name: name.clone(),
                    },
                })
            }
            _ => None,
        }
    }

    /// The namespace the request is in (`None`: cluster-wide).
    pub fn namespace(&self) -> Option<&str> {
        match &self.target {
            AccessTarget::Resource { namespace, .. } => namespace.as_deref(),
            AccessTarget::NonResource { .. } => None,
        }
    }

    /// `resource` or `resource/subresource`, as RBAC rules name it (`None` for a non-resource request).
    pub fn rbac_resource(&self) -> Option<String> {
        match &self.target {
            AccessTarget::Resource {
                resource,
                subresource: Some(sub),
                ..
            } => Some(format!("{resource}/{sub}")),
            AccessTarget::Resource { resource, .. } => Some(resource.clone()),
            AccessTarget::NonResource { .. } => None,
        }
    }

    /// Whether `rule` allows this request (the authorizer's `RuleAllows`).
    pub fn allowed_by(&self, rule: &PolicyRule) -> bool {
        match (&self.target, self.rbac_resource()) {
            (
                AccessTarget::Resource {
                    group,
                    subresource,
                    name,
                    ..
                },
                Some(combined),
            ) => {
                verb_matches(rule, &self.verb)
                    && group_matches(rule, group)
                    && resource_matches(rule, &combined, subresource.as_deref().unwrap_or(""))
                    && name_matches(rule, name.as_deref().unwrap_or(""))
            }
            (AccessTarget::NonResource { path }, _) => {
                verb_matches(rule, &self.verb) && url_matches(rule, path)
            }
            (AccessTarget::Resource { .. }, None) => false,
        }
    }
}

impl From<&PolicyRule> for Rule {
    fn from(r: &PolicyRule) -> Rule {
        Rule {
            api_groups: list(&r.api_groups).to_vec(),
            resources: list(&r.resources).to_vec(),
            resource_names: list(&r.resource_names).to_vec(),
            non_resource_urls: list(&r.non_resource_urls).to_vec(),
            verbs: r.verbs.clone(),
        }
    }
}

impl From<&Rule> for PolicyRule {
    fn from(r: &Rule) -> PolicyRule {
        let some = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        PolicyRule {
            api_groups: some(&r.api_groups),
            resources: some(&r.resources),
            resource_names: some(&r.resource_names),
            non_resource_urls: some(&r.non_resource_urls),
            verbs: r.verbs.clone(),
        }
    }
}

impl From<&RbacSubject> for SubjectRef {
    fn from(s: &RbacSubject) -> SubjectRef {
        SubjectRef {
            kind: s.kind.clone(),
            name: s.name.clone(),
            namespace: s.namespace.clone(),
            api_group: s.api_group.clone(),
        }
    }
}

impl From<&SubjectRef> for RbacSubject {
    fn from(s: &SubjectRef) -> RbacSubject {
        RbacSubject {
            kind: s.kind.clone(),
            name: s.name.clone(),
            namespace: s.namespace.clone(),
            api_group: s.api_group.clone(),
        }
    }
}

/// Whether the rule names the verb or `*`.
pub fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == WILDCARD || v == verb)
}

/// Whether the rule names the API group or `*`.
pub fn group_matches(rule: &PolicyRule, group: &str) -> bool {
    list(&rule.api_groups)
        .iter()
        .any(|g| g == WILDCARD || g == group)
}

/// Whether the rule names `combined` (`resource` or `resource/subresource`), `*`, or `*/<subresource>`.
/// A rule for `documents` does not cover `documents/status`, and `documents/*` is no wildcard.
pub fn resource_matches(rule: &PolicyRule, combined: &str, subresource: &str) -> bool {
    list(&rule.resources).iter().any(|r| {
        r == WILDCARD
            || r == combined
            || (!subresource.is_empty() && r.strip_prefix("*/") == Some(subresource))
    })
}

/// Whether the rule's `resourceNames` (if any) include the name. A request without a name (`list`, `watch`,
/// `create`, `deletecollection`) never matches a rule that has `resourceNames`.
pub fn name_matches(rule: &PolicyRule, name: &str) -> bool {
    let names = list(&rule.resource_names);
    names.is_empty() || names.iter().any(|n| n == name)
}

/// Whether the rule's non-resource URLs match the path: `*`, the exact path, or a prefix ending in `*`.
pub fn url_matches(rule: &PolicyRule, path: &str) -> bool {
    list(&rule.non_resource_urls).iter().any(|u| {
        u == WILDCARD
            || u == path
            || u.strip_suffix('*')
                .is_some_and(|_| path.starts_with(u.trim_end_matches('*')))
    })
}

/// An optional list as a slice (absent and empty mean the same to RBAC).
pub(crate) fn list(v: &Option<Vec<String>>) -> &[String] {
    v.as_deref().unwrap_or(&[])
}

/// Whether a binding subject names the identity. `binding_namespace` is the RoleBinding's namespace (`""` for a
/// ClusterRoleBinding): a ServiceAccount subject without a namespace means one in the binding's namespace, and
/// in a ClusterRoleBinding it names nobody.
pub fn subject_applies(
    identity: &Identity,
    subject: &RbacSubject,
    binding_namespace: &str,
) -> bool {
    match subject.kind.as_str() {
        "User" => identity.user == subject.name,
        "Group" => identity.groups.contains(&subject.name),
        "ServiceAccount" => {
            let ns = subject
                .namespace
                .as_deref()
                .filter(|n| !n.is_empty())
                .unwrap_or(binding_namespace);
            !ns.is_empty()
                && identity
                    .user
                    .strip_prefix("system:serviceaccount:")
                    .and_then(|rest| rest.strip_prefix(ns))
                    .and_then(|rest| rest.strip_prefix(':'))
                    == Some(subject.name.as_str())
        }
        _ => false,
    }
}

/// What an aggregated ClusterRole collects: the ClusterRoles its selectors select (by name, itself excluded) and
/// the union of their rules, in the aggregation controller's order (selector by selector, roles by name, first
/// occurrence of equal rules).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Aggregation {
    /// The selectors, as label-selector strings (`rbac.example.com/aggregate-to-docs=true`).
    pub selectors: Vec<String>,
    /// The names of the selected ClusterRoles.
    pub selected: Vec<String>,
    /// The rules the aggregated role gets.
    pub rules: Vec<PolicyRule>,
}

/// The aggregation of `role` over `all` ClusterRoles, or `None` when `role` has no aggregation rule.
/// A selector that cannot be read selects nothing (the controller fails the same way and keeps old rules).
pub fn aggregate(role: &ClusterRole, all: &[ClusterRole]) -> Option<Aggregation> {
    let rule = role.aggregation_rule.as_ref()?;
    let own = role.metadata.name.as_deref().unwrap_or("");
    let mut out = Aggregation::default();
    let no_labels = BTreeMap::new();
    for label_selector in rule.cluster_role_selectors.iter().flatten() {
        let selector = Selector::try_from(label_selector.clone());
        out.selectors.push(match &selector {
            Ok(s) if s.selects_all() => "{}".to_string(),
            Ok(s) => s.to_string(),
            Err(e) => format!("<unreadable selector: {e}>"),
        });
        let Ok(selector) = selector else { continue };
        let mut matching: Vec<&ClusterRole> = all
            .iter()
            .filter(|c| c.metadata.name.as_deref().unwrap_or("") != own)
            .filter(|c| selector.matches(c.metadata.labels.as_ref().unwrap_or(&no_labels)))
            .collect();
        matching.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        for c in matching {
            let name = c.metadata.name.clone().unwrap_or_default();
            if !out.selected.contains(&name) {
                out.selected.push(name);
            }
            for r in c.rules.iter().flatten() {
                if !out.rules.iter().any(|have| same_rule(have, r)) {
                    out.rules.push(r.clone());
                }
            }
        }
    }
    Some(out)
}

/// Rule equality as Kubernetes' semantic equality sees it: an absent list equals an empty one.
pub fn same_rule(a: &PolicyRule, b: &PolicyRule) -> bool {
    a.verbs == b.verbs
        && list(&a.api_groups) == list(&b.api_groups)
        && list(&a.resources) == list(&b.resources)
        && list(&a.resource_names) == list(&b.resource_names)
        && list(&a.non_resource_urls) == list(&b.non_resource_urls)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A resource rule, for tests.
    pub(crate) fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
        PolicyRule {
            api_groups: Some(groups.iter().map(|s| s.to_string()).collect()),
            resources: Some(resources.iter().map(|s| s.to_string()).collect()),
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            ..PolicyRule::default()
        }
    }

    fn urls(paths: &[&str], verbs: &[&str]) -> PolicyRule {
        PolicyRule {
            non_resource_urls: Some(paths.iter().map(|s| s.to_string()).collect()),
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            ..PolicyRule::default()
        }
    }

    /// The authorizer's rule matching, case by case (the cases of kubernetes' `rbac_test.go` and the
    /// evaluation helpers, re-derived).
    #[test]
    fn rule_allows_as_the_authorizer_does() {
        let docs = AccessRequest::resource("patch", "kube.rs", "documents").in_namespace("ns");
        let status = docs.clone().subresource("status");
        let named = AccessRequest::resource("get", "", "configmaps")
            .in_namespace("ns")
            .named("app");
        let list_cm = AccessRequest::resource("list", "", "configmaps").in_namespace("ns");
        let with_names = |names: &[&str], verbs: &[&str]| PolicyRule {
            resource_names: Some(names.iter().map(|s| s.to_string()).collect()),
            ..rule(&[""], &["configmaps"], verbs)
        };
        let cases: Vec<(&AccessRequest, PolicyRule, bool, &str)> = vec![
            (
                &docs,
                rule(&["kube.rs"], &["documents"], &["patch"]),
                true,
                "exact",
            ),
            (&docs, rule(&["*"], &["*"], &["*"]), true, "all wildcards"),
            (
                &docs,
                rule(&["kube.rs"], &["documents"], &["get"]),
                false,
                "verb missing",
            ),
            (
                &docs,
                rule(&[""], &["documents"], &["patch"]),
                false,
                "core group for a CRD",
            ),
            (
                &docs,
                rule(&["kube.rs"], &["document"], &["patch"]),
                false,
                "singular",
            ),
            (
                &docs,
                rule(&["kube.rs"], &["Documents"], &["patch"]),
                false,
                "case matters",
            ),
            (
                &docs,
                rule(&[], &["documents"], &["patch"]),
                false,
                "no groups",
            ),
            (
                &status,
                rule(&["kube.rs"], &["documents"], &["patch"]),
                false,
                "resource does not cover its subresource",
            ),
            (
                &status,
                rule(&["kube.rs"], &["documents/status"], &["patch"]),
                true,
                "subresource named",
            ),
            (
                &status,
                rule(&["kube.rs"], &["*/status"], &["patch"]),
                true,
                "*/subresource",
            ),
            (
                &status,
                rule(&["kube.rs"], &["documents/*"], &["patch"]),
                false,
                "resource/* is no wildcard",
            ),
            (
                &status,
                rule(&["kube.rs"], &["*/scale"], &["patch"]),
                false,
                "*/other subresource",
            ),
            (
                &docs,
                rule(&["kube.rs"], &["*/status"], &["patch"]),
                false,
                "*/sub does not cover the resource",
            ),
            (
                &status,
                rule(&["kube.rs"], &["*"], &["patch"]),
                true,
                "* covers subresources",
            ),
            (
                &named,
                with_names(&["app"], &["get"]),
                true,
                "named object listed",
            ),
            (
                &named,
                with_names(&["other"], &["get"]),
                false,
                "named object not listed",
            ),
            (
                &list_cm,
                with_names(&["app"], &["list"]),
                false,
                "resourceNames never grant list",
            ),
            (
                &list_cm,
                with_names(&[], &["list"]),
                true,
                "empty resourceNames restrict nothing",
            ),
            (
                &docs,
                urls(&["*"], &["*"]),
                false,
                "a non-resource rule never grants a resource",
            ),
        ];
        for (request, rule, expected, what) in cases {
            assert_eq!(request.allowed_by(&rule), expected, "{what}: {rule:?}");
        }
    }

    #[test]
    fn non_resource_urls_match_exactly_or_by_prefix() {
        let metrics = AccessRequest::non_resource("get", "/metrics");
        let cases = [
            (urls(&["/metrics"], &["get"]), true),
            (urls(&["/metrics"], &["post"]), false),
            (urls(&["/met*"], &["get"]), true),
            (urls(&["/metrics/*"], &["get"]), false),
            (urls(&["*"], &["get"]), true),
            (urls(&["/healthz"], &["*"]), false),
            (rule(&["*"], &["*"], &["*"]), false),
        ];
        for (rule, expected) in cases {
            assert_eq!(metrics.allowed_by(&rule), expected, "{rule:?}");
        }
        assert!(
            AccessRequest::non_resource("get", "/metrics/x")
                .allowed_by(&urls(&["/metrics/*"], &["get"]))
        );
    }

    #[test]
    fn subjects_name_identities_as_the_authorizer_does() {
        let sa = Identity::new(
            "system:serviceaccount:ns1:ctl",
            [
                "system:serviceaccounts",
                "system:serviceaccounts:ns1",
                "system:authenticated",
            ],
        );
        let subject = |kind: &str, name: &str, ns: Option<&str>| RbacSubject {
            kind: kind.into(),
            name: name.into(),
            namespace: ns.map(str::to_string),
            api_group: None,
        };
        let cases = [
            (subject("ServiceAccount", "ctl", Some("ns1")), "", true),
            (subject("ServiceAccount", "ctl", None), "ns1", true),
            (subject("ServiceAccount", "ctl", None), "ns2", false),
            (subject("ServiceAccount", "ctl", None), "", false),
            (subject("ServiceAccount", "ctl", Some("ns2")), "ns1", false),
            (subject("ServiceAccount", "ct", Some("ns1")), "", false),
            (
                subject("User", "system:serviceaccount:ns1:ctl", None),
                "",
                true,
            ),
            (subject("User", "ctl", None), "", false),
            (
                subject("Group", "system:serviceaccounts:ns1", None),
                "",
                true,
            ),
            (
                subject("Group", "system:serviceaccounts:ns2", None),
                "",
                false,
            ),
            (subject("Robot", "ctl", Some("ns1")), "", false),
        ];
        for (s, binding_ns, expected) in cases {
            assert_eq!(
                subject_applies(&sa, &s, binding_ns),
                expected,
                "{s:?} in {binding_ns:?}"
            );
        }
        // `system:serviceaccount:ns1:ctl-x` must not be taken for `ctl` (prefix), nor `ns` for `ns1`.
        let other = Identity::new("system:serviceaccount:ns1:ctl-x", Vec::<String>::new());
        assert!(!subject_applies(
            &other,
            &subject("ServiceAccount", "ctl", Some("ns1")),
            ""
        ));
        assert!(!subject_applies(
            &sa,
            &subject("ServiceAccount", "1:ctl", Some("ns")),
            ""
        ));
    }

    #[test]
    fn aggregation_follows_the_controller() {
        let role = |name: &str, labels: &[(&str, &str)], rules: Vec<PolicyRule>| ClusterRole {
            metadata: kube::api::ObjectMeta {
                name: Some(name.into()),
                labels: Some(
                    labels
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
                ..Default::default()
            },
            rules: Some(rules),
            aggregation_rule: None,
        };
        let mut agg = role("agg", &[("x", "y")], vec![]);
        agg.aggregation_rule = Some(serde_json::from_value(serde_json::json!({
            "clusterRoleSelectors": [{"matchLabels": {"x": "y"}}, {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["a"]}]}]
        })).unwrap());
        let r1 = rule(&[""], &["pods"], &["get"]);
        let all = vec![
            agg.clone(),
            role("b", &[("x", "y")], vec![r1.clone()]),
            role(
                "a",
                &[("x", "y"), ("tier", "a")],
                vec![rule(&[""], &["pods"], &["list"]), r1.clone()],
            ),
            role("c", &[("x", "z")], vec![rule(&["*"], &["*"], &["*"])]),
        ];
        let out = aggregate(&agg, &all).unwrap();
        assert_eq!(
            out.selected,
            ["a", "b"],
            "itself excluded, sorted by name, each once"
        );
        assert_eq!(
            out.rules,
            vec![rule(&[""], &["pods"], &["list"]), r1],
            "equal rules once"
        );
        assert_eq!(out.selectors, ["x=y", "tier in (a)"]);
        assert!(aggregate(&all[1], &all).is_none());
        agg.aggregation_rule = Some(
            serde_json::from_value(serde_json::json!({
                "clusterRoleSelectors": [{"matchLabels": {"nobody": "true"}}]
            }))
            .unwrap(),
        );
        let none = aggregate(&agg, &all).unwrap();
        assert!(none.selected.is_empty() && none.rules.is_empty());
    }

    #[test]
    fn requests_from_diagnosis_requests() {
        let r =
            crate::url::parse_request("PATCH", "/apis/kube.rs/v1/namespaces/n/documents/d/status");
        assert_eq!(
            AccessRequest::from_request(&r),
            Some(
                AccessRequest::resource("patch", "kube.rs", "documents")
                    .subresource("status")
                    .in_namespace("n")
                    .named("d")
            )
        );
        let r = crate::url::parse_request("GET", "/metrics");
        assert_eq!(
            AccessRequest::from_request(&r),
            Some(AccessRequest::non_resource("get", "/metrics"))
        );
        assert_eq!(AccessRequest::from_request(&Request::default()), None);
        let create = AccessRequest::resource("create", "rbac.authorization.k8s.io", "roles")
            .in_namespace("n");
        assert_eq!(
            create.escalation(),
            Some(
                AccessRequest::resource("escalate", "rbac.authorization.k8s.io", "roles")
                    .in_namespace("n")
            )
        );
        assert_eq!(
            AccessRequest::resource("create", "", "roles").escalation(),
            None
        );
    }
}
