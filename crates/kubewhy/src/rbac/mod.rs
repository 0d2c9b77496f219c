//! RBAC generation: from a set of [`Permission`]s and the [`Subject`] that needs them, the minimal
//! Role/ClusterRole and binding that grant exactly those permissions.
//!
//! This is the one mechanism behind every RBAC manifest kubewhy writes: a program's declared needs
//! ([`crate::needs`]), the remedy for a `forbidden` diagnosis, and `kubewhy check --fix`.
//!
//! ```
//! use kubewhy::rbac::{Permission, Subject, Verb, generate};
//! let subject = Subject::from_username("system:serviceaccount:default:doc-controller");
//! let perms = vec![Permission::resource("kube.rs", "documents", Verb::Patch, Some("default"))];
//! let yaml = kubewhy::rbac::to_yaml(&generate("doc-controller", &subject, &perms)).unwrap();
//! assert!(yaml.contains("kind: Role\n"));
//! assert!(yaml.contains("kind: ServiceAccount"));
//! ```
//!
//! Around it, the RBAC advisor: [`eval`] evaluates rules as the API server does, [`advisor`] explains why each
//! binding that names an identity does not grant a request (its near misses), [`mod@fix`] turns that into the
//! smallest edit of what exists, [`diff`] compares what is granted with what is needed, [`objects`] holds the RBAC
//! objects and [`mod@fetch`] reads them from a cluster.
//!
//! ```
//! use kubewhy::rbac::{AccessRequest, Identity, RbacObjects, explain, fix, FixKind};
//! let rbac = RbacObjects::from_yaml(r#"
//! kind: ClusterRole
//! metadata: {name: doc-controller}
//! rules: [{apiGroups: [kube.rs], resources: [documents], verbs: [get, list, patch]}]
//! ---
//! kind: ClusterRoleBinding
//! metadata: {name: doc-controller}
//! roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: doc-controller}
//! subjects: [{kind: ServiceAccount, name: doc-controller, namespace: doc-controller}]
//! "#).unwrap();
//! let who = Identity::new("system:serviceaccount:doc-controller:doc-controller", ["system:serviceaccounts"]);
//! let watch = AccessRequest::resource("watch", "kube.rs", "documents");
//! let why = explain(&who, &watch, &rbac);
//! assert_eq!(why.near_misses[0].binding.name, "doc-controller");
//! let fix = fix(&why, &rbac).unwrap();
//! assert!(matches!(fix.kind, FixKind::EditRule { .. }));
//! assert!(fix.kubectl_patch().unwrap().join(" ").contains(r#""path":"/rules/0/verbs/-","value":"watch""#));
//! ```

pub mod advisor;
pub mod diff;
pub mod eval;
pub mod fetch;
pub mod fix;
pub mod objects;
pub mod reader;

#[cfg(test)]
mod near_miss_tests;

pub use advisor::{Explanation, explain};
pub use eval::{AccessRequest, Identity};
pub use fetch::{FetchError, fetch, reviewed_rules};
pub use fix::{Fix, FixKind, fix};
pub use objects::RbacObjects;
pub use reader::NearMisses;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject as RbacSubject,
};
use kube::api::ObjectMeta;
use serde::{Deserialize, Serialize};

pub use crate::vocab::{UnknownVerb, Verb};

/// A reference to a ClusterRole or Role, in any Kubernetes version the program picked (`roleRef.apiGroup` is
/// optional in the types of 1.36 and later, required before).
pub(crate) fn role_ref(kind: &str, name: &str) -> RoleRef {
    let api_group = "rbac.authorization.k8s.io".to_string();
    k8s_openapi::k8s_if_ge_1_36! {
        let api_group = Some(api_group);
    }
    RoleRef {
        api_group,
        kind: kind.into(),
        name: name.into(),
    }
}

/// What a permission is on: an API resource (maybe a subresource) or a non-resource URL such as `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Target {
    /// `apiGroup` + `resource[/subresource]`, optionally restricted to object names.
    Resource {
        /// API group (`""` for core).
        group: String,
        /// Plural resource name, with `/subresource` appended when there is one (`documents/status`).
        resource: String,
        /// Restrict to these object names (empty: all).
        names: BTreeSet<String>,
    },
    /// A non-resource URL path (cluster scope only).
    NonResource {
        /// The path, e.g. `/metrics`.
        path: String,
    },
}

/// One verb on one target, in one namespace or at cluster scope.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Permission {
    /// What it is on.
    pub target: Target,
    /// The verb.
    pub verb: Verb,
    /// `Some(ns)`: granted by a Role in `ns`; `None`: cluster-wide, granted by a ClusterRole.
    pub namespace: Option<String>,
}

impl Permission {
    /// A verb on a resource (`"documents"` or `"documents/status"`) of a group, in a namespace or cluster-wide.
    pub fn resource(
        group: &str,
        resource: &str,
        verb: Verb,
        namespace: Option<&str>,
    ) -> Permission {
        Permission {
            target: Target::Resource {
                group: group.to_string(),
                resource: resource.to_string(),
                names: BTreeSet::new(),
            },
            verb,
            namespace: namespace.map(str::to_string),
        }
    }

    /// A verb on a non-resource URL (always cluster-wide).
    pub fn non_resource(path: &str, verb: Verb) -> Permission {
        Permission {
            target: Target::NonResource {
                path: path.to_string(),
            },
            verb,
            namespace: None,
        }
    }
}

/// Who is bound: a ServiceAccount, a user or a group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Subject {
    /// `system:serviceaccount:<namespace>:<name>`.
    ServiceAccount {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// A user name as authenticated (certificate CN, token user, OIDC claim).
    User {
        /// The name.
        name: String,
    },
    /// A group.
    Group {
        /// The name.
        name: String,
    },
}

impl Subject {
    /// Reads an authenticated user name: `system:serviceaccount:ns:name` is a ServiceAccount, anything else a User.
    pub fn from_username(user: &str) -> Subject {
        if let Some((namespace, name)) = crate::vocab::service_account(user) {
            return Subject::ServiceAccount {
                namespace: namespace.into(),
                name: name.into(),
            };
        }
        Subject::User {
            name: user.to_string(),
        }
    }

    /// The user name the API server reports for it.
    pub fn username(&self) -> String {
        match self {
            Subject::ServiceAccount { namespace, name } => {
                format!("system:serviceaccount:{namespace}:{name}")
            }
            Subject::User { name } | Subject::Group { name } => name.clone(),
        }
    }

    fn to_rbac(&self) -> RbacSubject {
        match self {
            Subject::ServiceAccount { namespace, name } => RbacSubject {
                kind: "ServiceAccount".into(),
                name: name.clone(),
                namespace: Some(namespace.clone()),
                api_group: None,
            },
            Subject::User { name } => RbacSubject {
                kind: "User".into(),
                name: name.clone(),
                namespace: None,
                api_group: Some("rbac.authorization.k8s.io".into()),
            },
            Subject::Group { name } => RbacSubject {
                kind: "Group".into(),
                name: name.clone(),
                namespace: None,
                api_group: Some("rbac.authorization.k8s.io".into()),
            },
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::ServiceAccount { namespace, name } => {
                write!(f, "ServiceAccount {namespace}/{name}")
            }
            Subject::User { name } => write!(f, "User {name}"),
            Subject::Group { name } => write!(f, "Group {name}"),
        }
    }
}

/// One RBAC object to apply.
#[derive(Debug, Clone, PartialEq)]
pub enum RbacObject {
    /// Cluster-wide rules.
    ClusterRole(ClusterRole),
    /// Binds a ClusterRole cluster-wide.
    ClusterRoleBinding(ClusterRoleBinding),
    /// Rules in one namespace.
    Role(Role),
    /// Binds a Role in its namespace.
    RoleBinding(RoleBinding),
}

impl RbacObject {
    /// The object as a JSON value with `apiVersion` and `kind` set (ready for YAML or `kubectl apply`).
    pub fn to_value(&self) -> serde_json::Value {
        fn with_type<T: serde::Serialize>(obj: &T, kind: &str) -> serde_json::Value {
            let mut v = serde_json::to_value(obj).expect("RBAC objects always serialize");
            if let Some(map) = v.as_object_mut() {
                let mut out = serde_json::Map::new();
                out.insert("apiVersion".into(), "rbac.authorization.k8s.io/v1".into());
                out.insert("kind".into(), kind.into());
                for (k, val) in std::mem::take(map) {
                    if k != "apiVersion" && k != "kind" {
                        out.insert(k, val);
                    }
                }
                return serde_json::Value::Object(out);
            }
            v
        }
        match self {
            RbacObject::ClusterRole(o) => with_type(o, "ClusterRole"),
            RbacObject::ClusterRoleBinding(o) => with_type(o, "ClusterRoleBinding"),
            RbacObject::Role(o) => with_type(o, "Role"),
            RbacObject::RoleBinding(o) => with_type(o, "RoleBinding"),
        }
    }
}

/// The minimal RBAC that grants `perms` to `subject`: one ClusterRole + ClusterRoleBinding for the cluster-wide
/// permissions, and one Role + RoleBinding per namespace, all named `name`. Rules are merged (one rule per
/// group and verb set, resources sorted) so the output is small and stable.
pub fn generate(name: &str, subject: &Subject, perms: &[Permission]) -> Vec<RbacObject> {
    let mut by_scope: BTreeMap<Option<String>, Vec<&Permission>> = BTreeMap::new();
    for p in perms {
        let scope = match p.target {
            Target::NonResource { .. } => None,
            Target::Resource { .. } => p.namespace.clone(),
        };
        by_scope.entry(scope).or_default().push(p);
    }
    let labels = BTreeMap::from([(
        "app.kubernetes.io/managed-by".to_string(),
        "kubewhy".to_string(),
    )]);
    let mut out = Vec::new();
    for (scope, perms) in by_scope {
        let rules = merge_rules(&perms);
        match scope {
            None => {
                out.push(RbacObject::ClusterRole(ClusterRole {
                    metadata: ObjectMeta {
                        name: Some(name.into()),
                        labels: Some(labels.clone()),
                        ..ObjectMeta::default()
                    },
                    rules: Some(rules),
                    aggregation_rule: None,
                }));
                out.push(RbacObject::ClusterRoleBinding(ClusterRoleBinding {
                    metadata: ObjectMeta {
                        name: Some(name.into()),
                        labels: Some(labels.clone()),
                        ..ObjectMeta::default()
                    },
                    role_ref: role_ref("ClusterRole", name),
                    subjects: Some(vec![subject.to_rbac()]),
                }));
            }
            Some(ns) => {
                out.push(RbacObject::Role(Role {
                    metadata: ObjectMeta {
                        name: Some(name.into()),
                        namespace: Some(ns.clone()),
                        labels: Some(labels.clone()),
                        ..ObjectMeta::default()
                    },
                    rules: Some(rules),
                }));
                out.push(RbacObject::RoleBinding(RoleBinding {
                    metadata: ObjectMeta {
                        name: Some(name.into()),
                        namespace: Some(ns),
                        labels: Some(labels.clone()),
                        ..ObjectMeta::default()
                    },
                    role_ref: role_ref("Role", name),
                    subjects: Some(vec![subject.to_rbac()]),
                }));
            }
        }
    }
    out
}

/// Merges permissions into rules: per (group, names), the verbs per resource; resources with the same verb set
/// share a rule. Non-resource paths with the same verbs share a rule.
fn merge_rules(perms: &[&Permission]) -> Vec<PolicyRule> {
    // (group, names) -> resource -> verbs
    let mut resources: BTreeMap<(String, BTreeSet<String>), BTreeMap<String, BTreeSet<Verb>>> =
        BTreeMap::new();
    let mut paths: BTreeMap<String, BTreeSet<Verb>> = BTreeMap::new();
    for p in perms {
        match &p.target {
            Target::Resource {
                group,
                resource,
                names,
            } => {
                resources
                    .entry((group.clone(), names.clone()))
                    .or_default()
                    .entry(resource.clone())
                    .or_default()
                    .insert(p.verb);
            }
            Target::NonResource { path } => {
                paths.entry(path.clone()).or_default().insert(p.verb);
            }
        }
    }
    let mut rules = Vec::new();
    for ((group, names), by_resource) in resources {
        let mut by_verbs: BTreeMap<BTreeSet<Verb>, Vec<String>> = BTreeMap::new();
        for (resource, verbs) in by_resource {
            by_verbs.entry(normalize(verbs)).or_default().push(resource);
        }
        for (verbs, resources) in by_verbs {
            rules.push(PolicyRule {
                api_groups: Some(vec![group.clone()]),
                resources: Some(resources),
                verbs: verbs.iter().map(|v| v.to_string()).collect(),
                resource_names: (!names.is_empty()).then(|| names.iter().cloned().collect()),
                non_resource_urls: None,
            });
        }
    }
    let mut by_verbs: BTreeMap<BTreeSet<Verb>, Vec<String>> = BTreeMap::new();
    for (path, verbs) in paths {
        by_verbs.entry(normalize(verbs)).or_default().push(path);
    }
    for (verbs, urls) in by_verbs {
        rules.push(PolicyRule {
            verbs: verbs.iter().map(|v| v.to_string()).collect(),
            non_resource_urls: Some(urls),
            ..PolicyRule::default()
        });
    }
    rules
}

/// `*` subsumes every other verb.
fn normalize(verbs: BTreeSet<Verb>) -> BTreeSet<Verb> {
    if verbs.contains(&Verb::All) {
        BTreeSet::from([Verb::All])
    } else {
        verbs
    }
}

/// Renders objects as one multi-document YAML stream that `kubectl apply -f -` accepts.
pub fn to_yaml(objects: &[RbacObject]) -> Result<String, serde_yaml::Error> {
    let mut out = String::new();
    for (i, o) in objects.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&serde_yaml::to_string(&o.to_value())?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_account_usernames_become_service_account_subjects() {
        assert_eq!(
            Subject::from_username("system:serviceaccount:default:doc-controller"),
            Subject::ServiceAccount {
                namespace: "default".into(),
                name: "doc-controller".into()
            }
        );
        assert_eq!(
            Subject::from_username("alice"),
            Subject::User {
                name: "alice".into()
            }
        );
        assert_eq!(
            Subject::from_username("system:serviceaccount:broken"),
            Subject::User {
                name: "system:serviceaccount:broken".into()
            }
        );
    }

    #[test]
    fn merges_rules_by_group_and_verbs_and_splits_scopes() {
        let sa = Subject::from_username("system:serviceaccount:ns1:ctl");
        let perms = vec![
            Permission::resource("kube.rs", "documents", Verb::List, None),
            Permission::resource("kube.rs", "documents", Verb::Watch, None),
            Permission::resource("kube.rs", "documents/status", Verb::Patch, None),
            Permission::resource("", "configmaps", Verb::List, None),
            Permission::resource("", "configmaps", Verb::Watch, None),
            Permission::resource("coordination.k8s.io", "leases", Verb::Get, Some("ns1")),
            Permission::non_resource("/metrics", Verb::Get),
        ];
        let objects = generate("ctl", &sa, &perms);
        assert_eq!(objects.len(), 4, "{objects:#?}");
        let RbacObject::ClusterRole(cr) = &objects[0] else {
            panic!("{objects:#?}")
        };
        let rules = cr.rules.as_ref().unwrap();
        assert_eq!(rules.len(), 4, "{rules:#?}");
        assert_eq!(rules[0].api_groups.as_deref(), Some(&["".to_string()][..]));
        assert_eq!(
            rules[0].resources.as_deref(),
            Some(&["configmaps".to_string()][..])
        );
        assert_eq!(rules[0].verbs, vec!["list", "watch"]);
        assert_eq!(
            rules[3].non_resource_urls.as_deref(),
            Some(&["/metrics".to_string()][..])
        );
        let RbacObject::RoleBinding(rb) = &objects[3] else {
            panic!("{objects:#?}")
        };
        let subject = &rb.subjects.as_ref().unwrap()[0];
        assert_eq!(subject.kind, "ServiceAccount");
        assert_eq!(subject.namespace.as_deref(), Some("ns1"));
        let yaml = to_yaml(&objects).unwrap();
        assert_eq!(
            yaml.matches("\n---\n").count() + usize::from(yaml.starts_with("---")),
            3,
            "{yaml}"
        );
        assert!(
            yaml.starts_with("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\n"),
            "{yaml}"
        );
    }
}
