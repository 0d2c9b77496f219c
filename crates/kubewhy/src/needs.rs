//! Declared needs: what a program uses of the Kubernetes API — resource types, verbs, subresources, scope, and
//! whether it watches them. One declaration yields the program's RBAC manifests ([`Needs::rbac`]), the preflight
//! checks, and documentation; it can be written in code or read from a small YAML file (any language).
//!
//! ```
//! use kubewhy::needs::{Needs, ResourceType};
//! use kubewhy::rbac::{Subject, Verb::*};
//!
//! let documents = ResourceType::new("kube.rs", "v1", "documents", "Document", true);
//! let needs = Needs::new("doc-controller")
//!     .watch(documents.clone(), None)
//!     .verbs(documents.clone(), None, [Patch])
//!     .subresource(documents, "status", None, [Get, Patch]);
//! let sa = Subject::from_username("system:serviceaccount:default:doc-controller");
//! let yaml = needs.rbac_yaml(&sa).unwrap();
//! assert!(yaml.contains("documents/status"));
//! ```
//!
//! The YAML form:
//!
//! ```yaml
//! name: doc-controller
//! needs:
//!   - group: kube.rs          # "" or omitted for the core group
//!     version: v1
//!     resource: documents     # the plural
//!     kind: Document
//!     namespaced: true        # default true
//!     verbs: [get, list, watch, patch]
//!     watch: true             # the program keeps a watch open (preflight probes it live)
//!     namespace: default      # omitted: all namespaces / cluster scope
//!   - { group: kube.rs, version: v1, resource: documents, kind: Document, subresource: status, verbs: [patch] }
//! ```

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::rbac::{self, Permission, RbacObject, Subject, Verb};

/// An API resource type.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ResourceType {
    /// API group; empty for the core group.
    #[serde(default)]
    pub group: String,
    /// API version within the group (`v1`).
    pub version: String,
    /// Plural resource name as in URLs and RBAC (`documents`).
    pub resource: String,
    /// Kind (`Document`).
    pub kind: String,
    /// Whether objects live in namespaces.
    #[serde(default = "yes")]
    pub namespaced: bool,
}

fn yes() -> bool {
    true
}

impl ResourceType {
    /// A resource type.
    pub fn new(
        group: &str,
        version: &str,
        resource: &str,
        kind: &str,
        namespaced: bool,
    ) -> ResourceType {
        ResourceType {
            group: group.into(),
            version: version.into(),
            resource: resource.into(),
            kind: kind.into(),
            namespaced,
        }
    }

    /// The resource type of a k8s-openapi or kube-derived type.
    pub fn of<K: kube::Resource<DynamicType = ()>>() -> ResourceType {
        let namespaced = std::any::type_name::<K::Scope>().ends_with("NamespaceResourceScope");
        ResourceType {
            group: K::group(&()).into_owned(),
            version: K::version(&()).into_owned(),
            resource: K::plural(&()).into_owned(),
            kind: K::kind(&()).into_owned(),
            namespaced,
        }
    }

    /// `group/version` (`v1` for core).
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            write!(f, "{} ({})", self.resource, self.version)
        } else {
            write!(f, "{}.{} ({})", self.resource, self.group, self.version)
        }
    }
}

/// The request a need makes, for a diagnosis: `verb` on `resource` (or its `subresource`), in `namespace` when the
/// type is namespaced. Shared by the preflight checks and the access watchdog.
#[cfg(any(feature = "preflight", feature = "watch"))]
pub(crate) fn need_request(
    resource: &ResourceType,
    subresource: Option<&str>,
    namespace: Option<&str>,
    verb: Option<Verb>,
) -> crate::diagnosis::Request {
    crate::diagnosis::Request {
        verb: verb.map(|v| v.to_string()),
        group: Some(resource.group.clone()),
        version: Some(resource.version.clone()),
        resource: Some(resource.resource.clone()),
        subresource: subresource.map(str::to_string),
        kind: (!resource.kind.is_empty()).then(|| resource.kind.clone()),
        namespace: if resource.namespaced {
            namespace.map(str::to_string)
        } else {
            None
        },
        ..crate::diagnosis::Request::default()
    }
}

/// The scope of a need: in one namespace, in all namespaces, or a cluster-scoped type.
#[cfg(any(feature = "preflight", feature = "watch"))]
pub(crate) fn scope(resource: &ResourceType, namespace: Option<&str>) -> crate::cause::Scope {
    use crate::cause::Scope;
    match (resource.namespaced, namespace) {
        (true, Some(_)) => Scope::Namespace,
        (true, None) => Scope::AllNamespaces,
        (false, _) => Scope::ClusterScoped,
    }
}

/// The scope of a need as a phrase: `in namespace `ns``, `in all namespaces`, `at cluster scope`.
#[cfg(any(feature = "preflight", feature = "watch"))]
pub(crate) fn scope_phrase(resource: &ResourceType, namespace: Option<&str>) -> String {
    let namespace = namespace.filter(|_| resource.namespaced);
    crate::vocab::scope_phrase(scope(resource, namespace), namespace).unwrap_or_default()
}

/// One need: verbs on a resource type (or one of its subresources), in a namespace or everywhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Need {
    /// The resource type.
    #[serde(flatten)]
    pub resource: ResourceType,
    /// A subresource (`status`, `finalizers`, `scale`, `log`, ...), when the need is on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subresource: Option<String>,
    /// The verbs used.
    pub verbs: BTreeSet<Verb>,
    /// `Some(ns)`: only in that namespace; `None`: in all namespaces (or a cluster-scoped type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Whether the program keeps a watch on it (list + watch are then probed live).
    #[serde(default)]
    pub watch: bool,
}

impl Need {
    /// The RBAC resource name: `documents` or `documents/status`.
    pub fn rbac_resource(&self) -> String {
        match &self.subresource {
            Some(sub) => format!("{}/{}", self.resource.resource, sub),
            None => self.resource.resource.clone(),
        }
    }

    /// The permissions this need implies, one per verb.
    pub fn permissions(&self) -> impl Iterator<Item = Permission> + '_ {
        let resource = self.rbac_resource();
        let namespace = if self.resource.namespaced {
            self.namespace.clone()
        } else {
            None
        };
        self.verbs.iter().map(move |verb| Permission {
            target: rbac::Target::Resource {
                group: self.resource.group.clone(),
                resource: resource.clone(),
                names: BTreeSet::new(),
            },
            verb: *verb,
            namespace: namespace.clone(),
        })
    }
}

/// Everything a program uses of the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Needs {
    /// The program's name; also the name of its generated roles and bindings.
    pub name: String,
    /// The needs.
    pub needs: Vec<Need>,
}

/// A needs file that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum NeedsError {
    /// Not valid YAML or not the expected shape.
    #[error("the needs file is not valid: {0}\n  = help: see the format in `kubewhy check --help`")]
    Parse(#[from] serde_yaml::Error),
    /// Valid YAML whose content makes no sense.
    #[error("the needs file is not valid: need #{index} ({resource}): {problem}")]
    Invalid {
        /// 1-based position in the `needs` list.
        index: usize,
        /// The resource it names.
        resource: String,
        /// What is wrong.
        problem: String,
    },
}

impl Needs {
    /// An empty declaration for a program.
    pub fn new(name: &str) -> Needs {
        Needs {
            name: name.into(),
            needs: Vec::new(),
        }
    }

    /// Adds a need for `verbs` on a resource type.
    pub fn verbs(
        mut self,
        resource: ResourceType,
        namespace: Option<&str>,
        verbs: impl IntoIterator<Item = Verb>,
    ) -> Needs {
        self.needs.push(Need {
            resource,
            subresource: None,
            verbs: verbs.into_iter().collect(),
            namespace: namespace.map(str::to_string),
            watch: false,
        });
        self
    }

    /// Adds a watched resource type: `get`, `list` and `watch`, probed live by the preflight.
    pub fn watch(self, resource: ResourceType, namespace: Option<&str>) -> Needs {
        self.watch_with(resource, namespace, [Verb::Get])
    }

    /// Adds a watched resource type with `list`, `watch` and `verbs` only: for a program that never reads one
    /// object by name (a reflector lists and watches; [`Needs::watch`] adds `get`).
    pub fn watch_with(
        mut self,
        resource: ResourceType,
        namespace: Option<&str>,
        verbs: impl IntoIterator<Item = Verb>,
    ) -> Needs {
        let mut verbs: BTreeSet<Verb> = verbs.into_iter().collect();
        verbs.extend([Verb::List, Verb::Watch]);
        self.needs.push(Need {
            resource,
            subresource: None,
            verbs,
            namespace: namespace.map(str::to_string),
            watch: true,
        });
        self
    }

    /// Adds a need on a subresource (`status`, `finalizers`, ...).
    pub fn subresource(
        mut self,
        resource: ResourceType,
        subresource: &str,
        namespace: Option<&str>,
        verbs: impl IntoIterator<Item = Verb>,
    ) -> Needs {
        self.needs.push(Need {
            resource,
            subresource: Some(subresource.into()),
            verbs: verbs.into_iter().collect(),
            namespace: namespace.map(str::to_string),
            watch: false,
        });
        self
    }

    /// Reads the YAML form.
    pub fn from_yaml(text: &str) -> Result<Needs, NeedsError> {
        let needs: Needs = serde_yaml::from_str(text)?;
        needs.validate()?;
        Ok(needs)
    }

    /// The YAML form.
    pub fn to_yaml(&self) -> Result<String, serde_yaml::Error> {
        serde_yaml::to_string(self)
    }

    fn validate(&self) -> Result<(), NeedsError> {
        for (i, need) in self.needs.iter().enumerate() {
            let invalid = |problem: &str| NeedsError::Invalid {
                index: i + 1,
                resource: need.resource.to_string(),
                problem: problem.into(),
            };
            if need.resource.resource.is_empty() || need.resource.version.is_empty() {
                return Err(invalid("`resource` and `version` must not be empty"));
            }
            if need.resource.resource.contains('/') {
                return Err(invalid(
                    "write a subresource as `subresource: status`, not in `resource`",
                ));
            }
            if need.verbs.is_empty() && !need.watch {
                return Err(invalid("it lists no verbs"));
            }
            if need.namespace.is_some() && !need.resource.namespaced {
                return Err(invalid(
                    "a cluster-scoped resource cannot be limited to a namespace",
                ));
            }
        }
        Ok(())
    }

    /// Every permission the needs imply (a watched need also implies `list` and `watch`).
    pub fn permissions(&self) -> Vec<Permission> {
        let mut out = BTreeSet::new();
        for need in &self.needs {
            out.extend(need.permissions());
            if need.watch {
                let mut implied = need.clone();
                implied.verbs = BTreeSet::from([Verb::List, Verb::Watch]);
                out.extend(implied.permissions());
            }
        }
        out.into_iter().collect()
    }

    /// The minimal RBAC objects granting these needs to `subject`.
    pub fn rbac(&self, subject: &Subject) -> Vec<RbacObject> {
        rbac::generate(&self.name, subject, &self.permissions())
    }

    /// [`Needs::rbac`] as YAML for `kubectl apply -f -`.
    pub fn rbac_yaml(&self, subject: &Subject) -> Result<String, serde_yaml::Error> {
        rbac::to_yaml(&self.rbac(subject))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_yaml_form() {
        let needs = Needs::from_yaml(
            "name: x\nneeds:\n  - {group: kube.rs, version: v1, resource: documents, kind: Document, verbs: [get], watch: true}\n  - {version: v1, resource: configmaps, kind: ConfigMap, verbs: [create, patch], namespace: default}\n",
        )
        .unwrap();
        assert_eq!(needs.needs.len(), 2);
        assert!(needs.needs[0].resource.namespaced);
        assert_eq!(needs.needs[1].resource.group, "");
        let perms = needs.permissions();
        assert_eq!(perms.len(), 5, "{perms:#?}");
    }

    #[test]
    fn rejects_nonsense_with_the_position() {
        let err = Needs::from_yaml("name: x\nneeds:\n  - {version: v1, resource: nodes, kind: Node, namespaced: false, verbs: [get], namespace: a}\n")
            .unwrap_err();
        assert!(err.to_string().contains("need #1"), "{err}");
        let err = Needs::from_yaml(
            "name: x\nneeds:\n  - {version: v1, resource: pods, kind: Pod, verbs: [fly]}\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("fly"), "{err}");
    }

    #[test]
    fn resource_type_of_typed_resources() {
        use k8s_openapi::api::core::v1::{ConfigMap, Node};
        let cm = ResourceType::of::<ConfigMap>();
        assert_eq!(
            (cm.group.as_str(), cm.resource.as_str(), cm.namespaced),
            ("", "configmaps", true)
        );
        assert!(!ResourceType::of::<Node>().namespaced);
    }
}
