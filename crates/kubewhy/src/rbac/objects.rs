//! The RBAC objects of a cluster — Roles, ClusterRoles, RoleBindings, ClusterRoleBindings — as one snapshot, with
//! the lookups RBAC evaluation needs and references that name one object ([`BindingRef`], [`RoleKey`]).
//! Read from a cluster by [`super::fetch()`], or from YAML manifests by [`RbacObjects::from_yaml`].

use std::fmt;

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject as RbacSubject,
};

pub use crate::near_miss::{BindingKind, BindingRef, RoleKey, RoleKind};

/// The label of Kubernetes' default roles and bindings: the API server reconciles them at every start (edits do
/// not last), and every user holds what the defaults bound to `system:authenticated` grant.
pub const DEFAULTS_LABEL: (&str, &str) = ("kubernetes.io/bootstrapping", "rbac-defaults");

/// Whether an object's labels mark it as one of Kubernetes' defaults ([`DEFAULTS_LABEL`]).
pub fn is_kubernetes_default(labels: Option<&std::collections::BTreeMap<String, String>>) -> bool {
    labels
        .and_then(|l| l.get(DEFAULTS_LABEL.0))
        .map(String::as_str)
        == Some(DEFAULTS_LABEL.1)
}

/// Every RBAC object the authorizer would consult.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RbacObjects {
    /// Roles, of every namespace.
    pub roles: Vec<Role>,
    /// ClusterRoles.
    pub cluster_roles: Vec<ClusterRole>,
    /// RoleBindings, of every namespace.
    pub role_bindings: Vec<RoleBinding>,
    /// ClusterRoleBindings.
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
}

impl fmt::Display for BindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BindingKind::ClusterRoleBinding => "ClusterRoleBinding",
            BindingKind::RoleBinding => "RoleBinding",
        })
    }
}

impl fmt::Display for RoleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RoleKind::ClusterRole => "ClusterRole",
            RoleKind::Role => "Role",
        })
    }
}

impl RoleKind {
    /// The plural resource name (`roles`, `clusterroles`), as `kubectl` and RBAC rules name it.
    pub fn plural(self) -> &'static str {
        match self {
            RoleKind::ClusterRole => "clusterroles",
            RoleKind::Role => "roles",
        }
    }
}

impl BindingKind {
    /// The plural resource name (`rolebindings`, `clusterrolebindings`).
    pub fn plural(self) -> &'static str {
        match self {
            BindingKind::ClusterRoleBinding => "clusterrolebindings",
            BindingKind::RoleBinding => "rolebindings",
        }
    }
}

/// A RoleBinding or ClusterRoleBinding seen the same way.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    /// RoleBinding or ClusterRoleBinding.
    pub kind: BindingKind,
    /// Its name.
    pub name: &'a str,
    /// Its namespace (`""` for a ClusterRoleBinding).
    pub namespace: &'a str,
    /// The role it grants.
    pub role_ref: &'a RoleRef,
    /// Whom it grants it to.
    pub subjects: &'a [RbacSubject],
}

impl Binding<'_> {
    /// Its reference.
    pub fn reference(&self) -> BindingRef {
        BindingRef {
            kind: self.kind,
            name: self.name.to_string(),
            namespace: (!self.namespace.is_empty()).then(|| self.namespace.to_string()),
        }
    }

    /// The role it refers to: a ClusterRole, or a Role in the binding's own namespace. `None` for a roleRef kind
    /// RBAC does not know (the API server rejects those).
    pub fn role_key(&self) -> Option<RoleKey> {
        let kind = match self.role_ref.kind.as_str() {
            "ClusterRole" => RoleKind::ClusterRole,
            "Role" if !self.namespace.is_empty() => RoleKind::Role,
            _ => return None,
        };
        Some(RoleKey {
            kind,
            name: self.role_ref.name.clone(),
            namespace: (kind == RoleKind::Role).then(|| self.namespace.to_string()),
        })
    }
}

/// A YAML stream that does not hold RBAC objects.
#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    /// A document is not YAML, or not the shape its `kind` says.
    #[error("document #{index} is not a valid {kind}")]
    Invalid {
        /// 1-based position in the stream.
        index: usize,
        /// Its `kind` (or `YAML` when it could not be read at all).
        kind: String,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A document is not YAML at all.
    #[error("document #{index} is not YAML")]
    Yaml {
        /// 1-based position in the stream.
        index: usize,
        /// The parser's error.
        #[source]
        source: serde_yaml::Error,
    },
}

impl RbacObjects {
    /// The Role `name` in `namespace`.
    pub fn role(&self, namespace: &str, name: &str) -> Option<&Role> {
        self.roles.iter().find(|r| {
            r.metadata.namespace.as_deref() == Some(namespace)
                && r.metadata.name.as_deref() == Some(name)
        })
    }

    /// The ClusterRole `name`.
    pub fn cluster_role(&self, name: &str) -> Option<&ClusterRole> {
        self.cluster_roles
            .iter()
            .find(|r| r.metadata.name.as_deref() == Some(name))
    }

    /// The rules a role holds as stored (what the authorizer uses), `None` when it does not exist.
    pub fn rules_of(&self, key: &RoleKey) -> Option<&[PolicyRule]> {
        let rules = match key.kind {
            RoleKind::ClusterRole => &self.cluster_role(&key.name)?.rules,
            RoleKind::Role => &self.role(key.namespace.as_deref()?, &key.name)?.rules,
        };
        Some(rules.as_deref().unwrap_or(&[]))
    }

    /// The labels of a role (empty when it has none or does not exist).
    pub fn labels_of(&self, key: &RoleKey) -> Option<&std::collections::BTreeMap<String, String>> {
        match key.kind {
            RoleKind::ClusterRole => self.cluster_role(&key.name)?.metadata.labels.as_ref(),
            RoleKind::Role => self
                .role(key.namespace.as_deref()?, &key.name)?
                .metadata
                .labels
                .as_ref(),
        }
    }

    /// Every binding: ClusterRoleBindings first (the authorizer's order), then RoleBindings.
    pub fn bindings(&self) -> impl Iterator<Item = Binding<'_>> {
        let cluster = self.cluster_role_bindings.iter().map(|b| Binding {
            kind: BindingKind::ClusterRoleBinding,
            name: b.metadata.name.as_deref().unwrap_or(""),
            namespace: "",
            role_ref: &b.role_ref,
            subjects: b.subjects.as_deref().unwrap_or(&[]),
        });
        let namespaced = self.role_bindings.iter().map(|b| Binding {
            kind: BindingKind::RoleBinding,
            name: b.metadata.name.as_deref().unwrap_or(""),
            namespace: b.metadata.namespace.as_deref().unwrap_or(""),
            role_ref: &b.role_ref,
            subjects: b.subjects.as_deref().unwrap_or(&[]),
        });
        cluster.chain(namespaced)
    }

    /// The binding a reference names.
    pub fn binding(&self, key: &BindingRef) -> Option<Binding<'_>> {
        self.bindings().find(|b| {
            b.kind == key.kind
                && b.name == key.name
                && b.namespace == key.namespace.as_deref().unwrap_or("")
        })
    }

    /// Reads the RBAC objects of a YAML stream (`---`-separated documents, or `kind: List`). Documents of other
    /// kinds — the ServiceAccount or Deployment next to the RBAC in a manifest — are not RBAC and are passed
    /// over; an RBAC document that does not parse is an error naming its position.
    pub fn from_yaml(text: &str) -> Result<RbacObjects, YamlError> {
        use serde::Deserialize as _;
        let mut out = RbacObjects::default();
        for (i, doc) in serde_yaml::Deserializer::from_str(text).enumerate() {
            let value = serde_json::Value::deserialize(doc).map_err(|source| YamlError::Yaml {
                index: i + 1,
                source,
            })?;
            out.add_value(i + 1, value)?;
        }
        Ok(out)
    }

    fn add_value(&mut self, index: usize, value: serde_json::Value) -> Result<(), YamlError> {
        let kind = value
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or("")
            .to_string();
        let invalid = |source| YamlError::Invalid {
            index,
            kind: kind.clone(),
            source,
        };
        match kind.as_str() {
            "Role" => self
                .roles
                .push(serde_json::from_value(value).map_err(invalid)?),
            "ClusterRole" => self
                .cluster_roles
                .push(serde_json::from_value(value).map_err(invalid)?),
            "RoleBinding" => self
                .role_bindings
                .push(serde_json::from_value(value).map_err(invalid)?),
            "ClusterRoleBinding" => self
                .cluster_role_bindings
                .push(serde_json::from_value(value).map_err(invalid)?),
            "List" => {
                if let Some(items) = value.get("items").and_then(|i| i.as_array()) {
                    for item in items {
                        self.add_value(index, item.clone())?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_manifests_and_finds_objects() {
        let objects = RbacObjects::from_yaml(
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: x, namespace: ns}\n---\n\
             apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r, namespace: ns}\n\
             rules: [{apiGroups: [''], resources: [pods], verbs: [get]}]\n---\n\
             apiVersion: v1\nkind: List\nitems:\n- apiVersion: rbac.authorization.k8s.io/v1\n  kind: RoleBinding\n  \
             metadata: {name: b, namespace: ns}\n  roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}\n  \
             subjects: [{kind: ServiceAccount, name: x}]\n",
        )
        .unwrap();
        assert_eq!((objects.roles.len(), objects.role_bindings.len()), (1, 1));
        let b = objects.bindings().next().unwrap();
        let key = b.role_key().unwrap();
        assert_eq!(key.namespace.as_deref(), Some("ns"));
        assert_eq!(objects.rules_of(&key).unwrap().len(), 1);
        assert!(objects.binding(&b.reference()).is_some());
        let err =
            RbacObjects::from_yaml("kind: Role\nmetadata: {name: r}\nrules: 5\n").unwrap_err();
        assert!(
            err.to_string().contains("document #1 is not a valid Role"),
            "{err}"
        );
        assert!(RbacObjects::from_yaml("a: [").is_err());
    }
}
