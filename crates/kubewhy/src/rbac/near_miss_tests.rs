//! The near-miss explanation and its fix, case by case: each case is RBAC objects (YAML), an identity and a
//! request; it checks which binding the explanation names and why, which fix it chooses — and, for every case,
//! that applying the fix to the objects makes the evaluator grant the request.

use serde_json::Value;

use super::advisor::{Difference, LookalikeWhy, RoleOutcome, ScopeMiss, Via};
use super::fix::RuleEdit;
use super::objects::{BindingKind, RoleKind};
use super::*;

const SA: &str = "system:serviceaccount:app:ctl";

fn sa() -> Identity {
    Identity::new(
        SA,
        [
            "system:serviceaccounts",
            "system:serviceaccounts:app",
            "system:authenticated",
        ],
    )
}

fn role(ns: &str, name: &str, rules: &str) -> String {
    format!("kind: Role\nmetadata: {{name: {name}, namespace: {ns}}}\nrules: {rules}\n---\n")
}

fn cluster_role(name: &str, rules: &str) -> String {
    format!("kind: ClusterRole\nmetadata: {{name: {name}}}\nrules: {rules}\n---\n")
}

fn role_binding(ns: &str, name: &str, role_kind: &str, role: &str, subjects: &str) -> String {
    format!(
        "kind: RoleBinding\nmetadata: {{name: {name}, namespace: {ns}}}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: {role_kind}, name: {role}}}\nsubjects: {subjects}\n---\n"
    )
}

fn cluster_binding(name: &str, role: &str, subjects: &str) -> String {
    format!(
        "kind: ClusterRoleBinding\nmetadata: {{name: {name}}}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: {role}}}\nsubjects: {subjects}\n---\n"
    )
}

const SA_SUBJECT: &str = "[{kind: ServiceAccount, name: ctl, namespace: app}]";

fn docs(verb: &str) -> AccessRequest {
    AccessRequest::resource(verb, "kube.rs", "documents").in_namespace("app")
}

fn configmaps(verb: &str) -> AccessRequest {
    AccessRequest::resource(verb, "", "configmaps").in_namespace("app")
}

type Check = fn(&Explanation, Option<&Fix>);

struct Case {
    name: &'static str,
    rbac: String,
    who: Identity,
    request: AccessRequest,
    check: Check,
}

/// The first near miss's closest rule's differences.
fn first_differences(e: &Explanation) -> &[Difference] {
    match &e.near_misses[0].outcome {
        RoleOutcome::NoRuleGrants { closest, .. } => &closest[0].differences,
        other => panic!("expected rules that do not grant, got {other:?}"),
    }
}

fn edit_of(f: Option<&Fix>) -> &RuleEdit {
    match f.map(|f| &f.kind) {
        Some(FixKind::EditRule { edit, .. }) => edit,
        other => panic!("expected a rule edit, got {other:?}"),
    }
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "verb missing: add it to the rule",
            rbac: role("app", "ctl", "[{apiGroups: [kube.rs], resources: [documents], verbs: [get, list, patch]}]")
                + &role_binding("app", "ctl", "Role", "ctl", SA_SUBJECT),
            who: sa(),
            request: docs("watch"),
            check: |e, f| {
                assert_eq!(e.near_misses[0].binding.name, "ctl");
                assert!(matches!(e.near_misses[0].via, Via::ServiceAccount { .. }));
                assert!(matches!(first_differences(e), [Difference::Verb { listed }] if listed.len() == 3));
                assert_eq!(edit_of(f), &RuleEdit::AddVerb { rule: 0, verb: "watch".into() });
                assert!(f.unwrap().also_grants.is_empty() && f.unwrap().is_edit());
            },
        },
        Case {
            name: "verb missing on a rule for two resources: a narrow rule instead of widening",
            rbac: role("app", "ctl", "[{apiGroups: [''], resources: [configmaps, secrets], verbs: [get]}]")
                + &role_binding("app", "ctl", "Role", "ctl", SA_SUBJECT),
            who: sa(),
            request: configmaps("list"),
            check: |e, f| {
                assert!(matches!(first_differences(e), [Difference::Verb { .. }]));
                assert!(matches!(edit_of(f), RuleEdit::AddRule { instead_of: Some(0), .. }));
            },
        },
        Case {
            name: "plural typo: the resource is corrected",
            rbac: role("app", "ctl", "[{apiGroups: [''], resources: [configmap], verbs: [list]}]")
                + &role_binding("app", "ctl", "Role", "ctl", SA_SUBJECT),
            who: sa(),
            request: configmaps("list"),
            check: |e, f| {
                assert!(matches!(first_differences(e), [Difference::Resource { near: Some(n), .. }] if n == "configmap"));
                assert_eq!(
                    edit_of(f),
                    &RuleEdit::ReplaceResource { rule: 0, from: "configmap".into(), to: "configmaps".into() }
                );
                assert!(f.unwrap().also_grants.is_empty());
            },
        },
        Case {
            name: "plural typo in a rule with more verbs: corrected, and the other verbs are said",
            rbac: role("app", "ctl", "[{apiGroups: [''], resources: [configmap], verbs: [get, list, watch]}]")
                + &role_binding("app", "ctl", "Role", "ctl", SA_SUBJECT),
            who: sa(),
            request: configmaps("list"),
            check: |_, f| {
                assert!(matches!(edit_of(f), RuleEdit::ReplaceResource { .. }));
                let also = &f.unwrap().also_grants;
                assert_eq!(also.len(), 1);
                assert_eq!(also[0].verbs, ["get", "watch"]);
                assert_eq!(also[0].resources, ["configmaps"]);
            },
        },
        Case {
            name: "a misspelt resource far from the request is not a near miss",
            rbac: role("app", "ctl", "[{apiGroups: [''], resources: [pods], verbs: [list]}]")
                + &role_binding("app", "ctl", "Role", "ctl", SA_SUBJECT),
            who: sa(),
            request: configmaps("list"),
            check: |e, f| {
                assert!(matches!(&e.near_misses[0].outcome, RoleOutcome::NoRuleGrants { closest, rules: 1 } if closest.is_empty()));
                assert!(matches!(edit_of(f), RuleEdit::AddRule { instead_of: None, .. }), "added to the bound role");
            },
        },
        Case {
            name: "the core group for a CRD: the group is corrected",
            rbac: role("app", "ctl", "[{apiGroups: [''], resources: [documents], verbs: [patch]}]")
                + &role_binding("app", "ctl", "Role", "ctl", SA_SUBJECT),
            who: sa(),
            request: docs("patch"),
            check: |e, f| {
                assert!(matches!(first_differences(e), [Difference::ApiGroup { listed }] if listed == &[""]));
                assert_eq!(
                    edit_of(f),
                    &RuleEdit::ReplaceApiGroup { rule: 0, from: "".into(), to: "kube.rs".into() }
                );
            },
        },
        Case {
            name: "the subresource is not named: a narrow rule for it",
            rbac: cluster_role("ctl", "[{apiGroups: [kube.rs], resources: [documents], verbs: [get, list, watch, patch]}]")
                + &cluster_binding("ctl", "ctl", SA_SUBJECT),
            who: sa(),
            request: docs("patch").subresource("status"),
            check: |e, f| {
                assert!(matches!(first_differences(e), [Difference::Subresource { .. }]));
                let RuleEdit::AddRule { rule, instead_of: Some(0) } = edit_of(f) else { panic!("{f:?}") };
                assert_eq!(rule.resources, ["documents/status"]);
                assert_eq!(rule.verbs, ["patch"]);
            },
        },
        Case {
            name: "the subresource is not named by a one-verb rule: added to it",
            rbac: cluster_role("ctl", "[{apiGroups: [kube.rs], resources: [documents], verbs: [patch]}]")
                + &cluster_binding("ctl", "ctl", SA_SUBJECT),
            who: sa(),
            request: docs("patch").subresource("status"),
            check: |_, f| {
                assert_eq!(edit_of(f), &RuleEdit::AddResource { rule: 0, resource: "documents/status".into() });
            },
        },
        Case {
            name: "the binding is in another namespace",
            rbac: role("other", "ctl", "[{apiGroups: [kube.rs], resources: [documents], verbs: [patch]}]")
                + &role_binding("other", "ctl", "Role", "ctl", SA_SUBJECT),
            who: sa(),
            request: docs("patch"),
            check: |e, f| {
                let m = &e.near_misses[0];
                assert!(matches!(&m.scope, Some(ScopeMiss::BindingInOtherNamespace { binding_namespace, request_namespace: Some(r) }) if binding_namespace == "other" && r == "app"));
                assert!(matches!(m.outcome, RoleOutcome::Grants { .. }));
                assert!(matches!(f.map(|f| &f.kind), Some(FixKind::NewRole { namespace, .. }) if namespace.as_deref() == Some("app")));
            },
        },
        Case {
            name: "a ClusterRole bound by a RoleBinding grants only in that namespace: bind it cluster-wide",
            rbac: cluster_role("doc-lister", "[{apiGroups: [kube.rs], resources: [documents], verbs: [list]}]")
                + &role_binding("app", "ctl", "ClusterRole", "doc-lister", SA_SUBJECT),
            who: sa(),
            request: AccessRequest::resource("list", "kube.rs", "documents"),
            check: |e, f| {
                assert!(matches!(&e.near_misses[0].scope, Some(ScopeMiss::ClusterRoleConfined { request_namespace: None, .. })));
                let Some(FixKind::NewBinding { object, .. }) = f.map(|f| &f.kind) else { panic!("{f:?}") };
                assert_eq!(object["kind"], "ClusterRoleBinding");
                assert_eq!(object["roleRef"]["name"], "doc-lister");
            },
        },
        Case {
            name: "a confined ClusterRole that grants more than the request: a new role instead",
            rbac: cluster_role("doc-reader", "[{apiGroups: [kube.rs], resources: [documents], verbs: [get, list]}]")
                + &role_binding("app", "ctl", "ClusterRole", "doc-reader", SA_SUBJECT),
            who: sa(),
            request: AccessRequest::resource("list", "kube.rs", "documents"),
            check: |_, f| {
                assert!(matches!(f.map(|f| &f.kind), Some(FixKind::NewRole { namespace: None, .. })));
            },
        },
        Case {
            name: "resourceNames cannot grant list: a narrow rule",
            rbac: role("app", "ctl", "[{apiGroups: [''], resources: [configmaps], resourceNames: [app-config], verbs: [get, list]}]")
                + &role_binding("app", "ctl", "Role", "ctl", SA_SUBJECT),
            who: sa(),
            request: configmaps("list"),
            check: |e, f| {
                assert!(matches!(first_differences(e), [Difference::ResourceNames { unnamed: true, .. }]));
                assert!(matches!(edit_of(f), RuleEdit::AddRule { instead_of: Some(0), .. }));
            },
        },
        Case {
            name: "resourceNames on a list-only rule: removed",
            rbac: role("app", "ctl", "[{apiGroups: [''], resources: [configmaps], resourceNames: [app-config], verbs: [list]}]")
                + &role_binding("app", "ctl", "Role", "ctl", SA_SUBJECT),
            who: sa(),
            request: configmaps("list"),
            check: |_, f| assert_eq!(edit_of(f), &RuleEdit::RemoveResourceNames { rule: 0 }),
        },
        Case {
            name: "another object name: added to resourceNames",
            rbac: role("app", "ctl", "[{apiGroups: [''], resources: [configmaps], resourceNames: [a], verbs: [get]}]")
                + &role_binding("app", "ctl", "Role", "ctl", SA_SUBJECT),
            who: sa(),
            request: configmaps("get").named("b"),
            check: |e, f| {
                assert!(matches!(first_differences(e), [Difference::ResourceNames { unnamed: false, names }] if names == &["a"]));
                assert_eq!(edit_of(f), &RuleEdit::AddResourceName { rule: 0, name: "b".into() });
            },
        },
        Case {
            name: "the roleRef names a role that does not exist: create it",
            rbac: role_binding("app", "ctl", "Role", "doc-editor", SA_SUBJECT),
            who: sa(),
            request: docs("patch"),
            check: |e, f| {
                assert!(matches!(e.near_misses[0].outcome, RoleOutcome::NotFound));
                let Some(FixKind::CreateRole { role, object, .. }) = f.map(|f| &f.kind) else { panic!("{f:?}") };
                assert_eq!((role.kind, role.name.as_str()), (RoleKind::Role, "doc-editor"));
                assert_eq!(object["metadata"]["namespace"], "app");
            },
        },
        Case {
            name: "an aggregated ClusterRole whose labels select nothing: a ClusterRole it selects",
            rbac: "kind: ClusterRole\nmetadata: {name: docs-agg}\naggregationRule: {clusterRoleSelectors: [{matchLabels: {kube.rs/aggregate-to-docs: 'true'}}]}\n---\n".to_string()
                + &cluster_role("unrelated", "[{apiGroups: [kube.rs], resources: [documents], verbs: [patch]}]")
                + &cluster_binding("docs", "docs-agg", SA_SUBJECT),
            who: sa(),
            request: docs("patch"),
            check: |e, f| {
                assert!(matches!(&e.near_misses[0].outcome, RoleOutcome::AggregationSelectsNothing { selectors } if selectors == &["kube.rs/aggregate-to-docs=true"]));
                let Some(FixKind::CreateRole { aggregated_into: Some(agg), object, .. }) = f.map(|f| &f.kind) else { panic!("{f:?}") };
                assert_eq!(agg, "docs-agg");
                assert_eq!(object["metadata"]["labels"]["kube.rs/aggregate-to-docs"], "true");
            },
        },
        Case {
            name: "a near miss in an aggregated ClusterRole: the rule is edited where it comes from",
            rbac: "kind: ClusterRole\nmetadata: {name: docs-agg}\naggregationRule: {clusterRoleSelectors: [{matchLabels: {agg: docs}}]}\nrules: [{apiGroups: [kube.rs], resources: [documents], verbs: [get]}]\n---\n".to_string()
                + "kind: ClusterRole\nmetadata: {name: docs-read, labels: {agg: docs}}\nrules: [{apiGroups: [kube.rs], resources: [documents], verbs: [get]}]\n---\n"
                + &cluster_binding("docs", "docs-agg", SA_SUBJECT),
            who: sa(),
            request: docs("list"),
            check: |e, f| {
                let RoleOutcome::NoRuleGrants { closest, .. } = &e.near_misses[0].outcome else { panic!() };
                assert_eq!(closest[0].rule.role.name, "docs-read");
                assert_eq!(closest[0].rule.aggregated_into.as_deref(), Some("docs-agg"));
                let Some(FixKind::EditRule { role, .. }) = f.map(|f| &f.kind) else { panic!("{f:?}") };
                assert_eq!(role.name, "docs-read");
            },
        },
        Case {
            name: "a ServiceAccount subject in the wrong namespace: the subject is corrected",
            rbac: role("app", "ctl", "[{apiGroups: [kube.rs], resources: [documents], verbs: [patch]}]")
                + &role_binding("app", "ctl", "Role", "ctl", "[{kind: ServiceAccount, name: ctl, namespace: default}]"),
            who: sa(),
            request: docs("patch"),
            check: |e, f| {
                assert!(!e.is_named());
                let l = &e.lookalikes[0];
                assert!(matches!(&l.why, LookalikeWhy::ServiceAccountNamespace { subject_namespace, defaulted: false } if subject_namespace == "default"));
                assert!(l.role_grants && l.scope_fits);
                let Some(FixKind::AddSubject { resembling: 0, after, .. }) = f.map(|f| &f.kind) else { panic!("{f:?}") };
                assert_eq!(after["subjects"][0]["namespace"], "default", "the subject as written stays");
                assert_eq!(after["subjects"][1]["namespace"], "app");
                assert!(f.unwrap().also_grants.is_empty());
            },
        },
        Case {
            name: "a ServiceAccount subject without a namespace in a ClusterRoleBinding names nobody",
            rbac: cluster_role("ctl", "[{apiGroups: [kube.rs], resources: [documents], verbs: [patch]}]")
                + &cluster_binding("ctl", "ctl", "[{kind: ServiceAccount, name: ctl}]"),
            who: sa(),
            request: docs("patch"),
            check: |e, f| {
                assert!(matches!(e.lookalikes[0].why, LookalikeWhy::ServiceAccountWithoutNamespace));
                assert!(matches!(f.map(|f| &f.kind), Some(FixKind::AddSubject { .. })));
            },
        },
        Case {
            name: "the ServiceAccount's name as a User: the kind is corrected",
            rbac: cluster_role("ctl", "[{apiGroups: [kube.rs], resources: [documents], verbs: [patch]}]")
                + &cluster_binding("ctl", "ctl", "[{kind: User, name: ctl, apiGroup: rbac.authorization.k8s.io}]"),
            who: sa(),
            request: docs("patch"),
            check: |e, f| {
                assert!(matches!(&e.lookalikes[0].why, LookalikeWhy::Kind { kind } if kind == "User"));
                let Some(FixKind::AddSubject { after, .. }) = f.map(|f| &f.kind) else { panic!("{f:?}") };
                assert_eq!(after["subjects"][1]["kind"], "ServiceAccount");
            },
        },
        Case {
            name: "a denial through a group binding",
            rbac: role("app", "devs", "[{apiGroups: [''], resources: [pods], verbs: [get, list]}]")
                + &role_binding("app", "devs", "Role", "devs", "[{kind: Group, name: dev-team, apiGroup: rbac.authorization.k8s.io}]")
                + &role_binding("app", "devs-2", "Role", "devs", "[{kind: User, name: carol, apiGroup: rbac.authorization.k8s.io}]"),
            who: Identity::new("bob", ["dev-team", "system:authenticated"]),
            request: AccessRequest::resource("watch", "", "pods").in_namespace("app"),
            check: |e, f| {
                assert!(matches!(&e.near_misses[0].via, Via::Group { name } if name == "dev-team"));
                assert!(e.is_named());
                let Some(FixKind::EditRule { shared_with, edit, .. }) = f.map(|f| &f.kind) else { panic!("{f:?}") };
                assert_eq!(edit, &RuleEdit::AddVerb { rule: 0, verb: "watch".into() });
                assert_eq!(shared_with.len(), 1, "the role is bound to carol too: {shared_with:?}");
            },
        },
        Case {
            name: "an escalation denial: escalate is the verb missing",
            rbac: role("app", "role-admin", "[{apiGroups: [rbac.authorization.k8s.io], resources: [roles], verbs: [create, get]}]")
                + &role_binding("app", "role-admin", "Role", "role-admin", SA_SUBJECT),
            who: sa(),
            request: AccessRequest::resource("escalate", "rbac.authorization.k8s.io", "roles").in_namespace("app"),
            check: |_, f| assert_eq!(edit_of(f), &RuleEdit::AddVerb { rule: 0, verb: "escalate".into() }),
        },
        Case {
            name: "a non-resource URL with the verb missing",
            rbac: cluster_role("scraper", "[{nonResourceURLs: [/metrics], verbs: [get]}]")
                + &cluster_binding("scraper", "scraper", SA_SUBJECT),
            who: sa(),
            request: AccessRequest::non_resource("post", "/metrics"),
            check: |_, f| assert_eq!(edit_of(f), &RuleEdit::AddVerb { rule: 0, verb: "post".into() }),
        },
        Case {
            name: "another non-resource URL: a rule added to the bound ClusterRole",
            rbac: cluster_role("scraper", "[{nonResourceURLs: [/metrics], verbs: [get]}]")
                + &cluster_binding("scraper", "scraper", SA_SUBJECT),
            who: sa(),
            request: AccessRequest::non_resource("get", "/healthz"),
            check: |e, f| {
                assert!(matches!(&e.near_misses[0].outcome, RoleOutcome::NoRuleGrants { closest, .. } if closest.is_empty()));
                assert!(matches!(edit_of(f), RuleEdit::AddRule { instead_of: None, .. }));
            },
        },
        Case {
            name: "only Kubernetes' default bindings name the identity: nothing to edit, a new role",
            rbac: "kind: ClusterRole\nmetadata: {name: 'system:basic-user', labels: {kubernetes.io/bootstrapping: rbac-defaults}}\nrules: [{apiGroups: [authorization.k8s.io], resources: [selfsubjectaccessreviews], verbs: [create]}]\n---\n".to_string()
                + &cluster_binding("'system:basic-user'", "'system:basic-user'", "[{kind: Group, name: 'system:authenticated', apiGroup: rbac.authorization.k8s.io}]"),
            who: sa(),
            request: docs("patch"),
            check: |e, f| {
                assert!(!e.is_named());
                assert!(e.near_misses[0].via.is_broad());
                assert!(matches!(f.map(|f| &f.kind), Some(FixKind::NewRole { .. })));
            },
        },
        Case {
            name: "a Kubernetes default role bound to the identity is never edited",
            rbac: "kind: ClusterRole\nmetadata: {name: view, labels: {kubernetes.io/bootstrapping: rbac-defaults}}\nrules: [{apiGroups: [''], resources: [configmaps], verbs: [get, list, watch]}]\n---\n".to_string()
                + &role_binding("app", "view", "ClusterRole", "view", SA_SUBJECT),
            who: sa(),
            request: configmaps("patch"),
            check: |e, f| {
                assert!(matches!(first_differences(e), [Difference::Verb { .. }]));
                assert!(matches!(f.map(|f| &f.kind), Some(FixKind::NewRole { .. })));
            },
        },
        Case {
            name: "a Role bound in the namespace is preferred to a ClusterRole bound everywhere",
            rbac: cluster_role("ctl", "[{apiGroups: [kube.rs], resources: [documents], verbs: [get]}]")
                + &cluster_binding("ctl", "ctl", SA_SUBJECT)
                + &role("app", "ctl-local", "[{apiGroups: [coordination.k8s.io], resources: [leases], verbs: [get]}]")
                + &role_binding("app", "ctl-local", "Role", "ctl-local", SA_SUBJECT),
            who: sa(),
            request: configmaps("create"),
            check: |_, f| {
                let Some(FixKind::EditRule { role, .. }) = f.map(|f| &f.kind) else { panic!("{f:?}") };
                assert_eq!(role.name, "ctl-local");
            },
        },
        Case {
            name: "the client asked for a CRD's resource in the core group: not an RBAC fix",
            rbac: cluster_role("ctl", "[{apiGroups: [kube.rs], resources: [documents], verbs: [patch]}]")
                + &cluster_binding("ctl", "ctl", SA_SUBJECT),
            who: sa(),
            request: AccessRequest::resource("patch", "", "documents").in_namespace("app"),
            check: |_, f| {
                assert!(matches!(f.map(|f| &f.kind), Some(FixKind::ClientGroup { group: Some(g) }) if g == "kube.rs"));
            },
        },
        Case {
            name: "granted: nothing to fix",
            rbac: cluster_role("ctl", "[{apiGroups: ['*'], resources: ['*/status'], verbs: ['*']}]")
                + &cluster_binding("ctl", "ctl", "[{kind: Group, name: 'system:serviceaccounts:app', apiGroup: rbac.authorization.k8s.io}]"),
            who: sa(),
            request: docs("patch").subresource("status"),
            check: |e, f| {
                assert!(e.is_granted() && f.is_none());
                assert_eq!(e.granted_by[0].binding.kind, BindingKind::ClusterRoleBinding);
            },
        },
    ]
}

#[test]
fn near_misses_and_fixes() {
    let cases = cases();
    assert!(cases.len() >= 20);
    for case in cases {
        let rbac =
            RbacObjects::from_yaml(&case.rbac).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let explanation = explain(&case.who, &case.request, &rbac);
        let fix = fix(&explanation, &rbac);
        let shown = serde_yaml::to_string(&(&explanation, &fix)).unwrap();
        let check = std::panic::catch_unwind(|| (case.check)(&explanation, fix.as_ref()));
        if check.is_err() {
            panic!("case {:?}:\n{shown}", case.name);
        }
        if let Some(fix) = &fix
            && !matches!(fix.kind, FixKind::ClientGroup { .. })
        {
            let after = applied(&rbac, fix, &case.who.user);
            let again = super::explain(&case.who, &case.request, &after);
            let granted = match &fix.kind {
                // The aggregation controller copies the new role's rules into the aggregated one.
                FixKind::CreateRole {
                    aggregated_into: Some(agg),
                    ..
                }
                | FixKind::EditRule {
                    aggregated_into: Some(agg),
                    ..
                } => {
                    let mut after = after.clone();
                    let all = after.cluster_roles.clone();
                    let role = after
                        .cluster_roles
                        .iter_mut()
                        .find(|c| c.metadata.name.as_deref() == Some(agg))
                        .unwrap();
                    role.rules = Some(super::eval::aggregate(role, &all).unwrap().rules);
                    super::explain(&case.who, &case.request, &after).is_granted()
                }
                _ => again.is_granted(),
            };
            assert!(
                granted,
                "case {:?}: the fix does not grant the request:\n{shown}",
                case.name
            );
        }
    }
}

/// The objects after a fix: a JSON patch applied as the API server would (its `test` must pass), new objects
/// added. Also checks that a patch and the object it says results agree.
fn applied(rbac: &RbacObjects, fix: &Fix, who: &str) -> RbacObjects {
    let mut values: Vec<Value> = rbac
        .roles
        .iter()
        .map(|o| RbacObject::Role(o.clone()).to_value())
        .chain(
            rbac.cluster_roles
                .iter()
                .map(|o| RbacObject::ClusterRole(o.clone()).to_value()),
        )
        .chain(
            rbac.role_bindings
                .iter()
                .map(|o| RbacObject::RoleBinding(o.clone()).to_value()),
        )
        .chain(
            rbac.cluster_role_bindings
                .iter()
                .map(|o| RbacObject::ClusterRoleBinding(o.clone()).to_value()),
        )
        .collect();
    fn target<'a>(
        kind: &'a str,
        name: &'a str,
        ns: &'a Option<String>,
    ) -> impl Fn(&&mut Value) -> bool + 'a {
        move |v: &&mut Value| {
            v["kind"] == kind
                && v["metadata"]["name"] == name
                && v["metadata"].get("namespace").and_then(Value::as_str) == ns.as_deref()
        }
    }
    match &fix.kind {
        FixKind::EditRule {
            role, patch, after, ..
        } => {
            let v = values
                .iter_mut()
                .find(target(&role.kind.to_string(), &role.name, &role.namespace))
                .unwrap();
            let ops: json_patch::Patch =
                serde_json::from_value(Value::Array(patch.clone())).unwrap();
            json_patch::patch(v, &ops).unwrap_or_else(|e| panic!("{e}: {patch:?} on {v}"));
            assert_eq!(
                v["rules"], after["rules"],
                "the patch and the changed role disagree"
            );
        }
        FixKind::AddSubject {
            binding,
            patch,
            after,
            ..
        } => {
            let v = values
                .iter_mut()
                .find(target(
                    &binding.kind.to_string(),
                    &binding.name,
                    &binding.namespace,
                ))
                .unwrap();
            let ops: json_patch::Patch =
                serde_json::from_value(Value::Array(patch.clone())).unwrap();
            json_patch::patch(v, &ops).unwrap_or_else(|e| panic!("{e}: {patch:?} on {v}"));
            assert_eq!(
                v["subjects"], after["subjects"],
                "the patch and the changed binding disagree"
            );
        }
        FixKind::CreateRole { object, .. } | FixKind::NewBinding { object, .. } => {
            values.push(object.clone())
        }
        FixKind::NewRole { rule, namespace } => values.extend(
            generate(
                "fix",
                &Subject::from_username(who),
                &super::fix::permissions_of(rule, namespace.as_deref()).expect("RBAC verbs"),
            )
            .iter()
            .map(RbacObject::to_value),
        ),
        FixKind::ClientGroup { .. } => {}
    }
    let yaml: String = values
        .iter()
        .map(|v| serde_yaml::to_string(v).unwrap() + "---\n")
        .collect();
    RbacObjects::from_yaml(&yaml).unwrap()
}

#[test]
fn bindings_are_ordered_closest_first_and_broad_groups_last() {
    let rbac = RbacObjects::from_yaml(
        &(cluster_role(
            "far",
            "[{apiGroups: [apps], resources: [deployments], verbs: [get]}]",
        ) + &cluster_binding("a-far", "far", SA_SUBJECT)
            + &cluster_role(
                "near",
                "[{apiGroups: [kube.rs], resources: [documents], verbs: [get]}]",
            )
            + &cluster_binding("b-near", "near", SA_SUBJECT)
            + &cluster_binding(
                "0-everyone",
                "near",
                "[{kind: Group, name: 'system:authenticated'}]",
            )),
    )
    .unwrap();
    let e = explain(&sa(), &docs("list"), &rbac);
    let names: Vec<&str> = e
        .near_misses
        .iter()
        .map(|m| m.binding.name.as_str())
        .collect();
    assert_eq!(names, ["b-near", "a-far", "0-everyone"]);
}

#[test]
fn explanations_are_plain_data() {
    let rbac = RbacObjects::from_yaml(
        &(role(
            "app",
            "ctl",
            "[{apiGroups: [kube.rs], resources: [documents], verbs: [get]}]",
        ) + &role_binding("app", "ctl", "Role", "ctl", SA_SUBJECT)),
    )
    .unwrap();
    let e = explain(&sa(), &docs("list"), &rbac);
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["near_misses"][0]["outcome"]["kind"], "NoRuleGrants");
    assert_eq!(
        json["near_misses"][0]["outcome"]["closest"][0]["differences"][0]["kind"],
        "Verb"
    );
    let back: Explanation = serde_json::from_value(json).unwrap();
    assert_eq!(back, e);
}
