//! What doc-controller uses of the Kubernetes API, declared once. The RBAC in `deploy/` is generated from it
//! (`doc-controller rbac`, `doc-controller gen-deploy`), and the preflight checks read it.
//!
//! Every verb below is one the code really sends — the e2e tests compare them with what the request inspector
//! recorded (`/debug/rbac`) — and nothing is granted "just in case":
//!
//! | resource | verbs | why |
//! |---|---|---|
//! | `documents.kube.rs` | list, watch | the Document reflector (nothing reads one Document by name) |
//! | `documents.kube.rs` | patch | the finalizer is added and removed with JSON patches |
//! | `documents.kube.rs/status` | patch | status by server-side apply (field manager `doc-controller`) |
//! | `documents.kube.rs/finalizers` | update | the published ConfigMap's ownerReference sets `blockOwnerDeletion`, which the `OwnerReferencesPermissionEnforcement` admission plugin allows only to who may update the owner's finalizers |
//! | `configmaps` | get, list, watch | the cache of published ConfigMaps (label `app.kubernetes.io/managed-by=doc-controller`), and a GET when a ConfigMap is not in it |
//! | `configmaps` | create, patch, delete | publishing is a server-side apply (a PATCH, which needs `create` when the ConfigMap does not exist yet); unpublishing deletes it |
//! | `events.k8s.io/events` | create, patch | `HideRequested` and `DeleteRequested` events, and a failed reconcile's Warning (its reason the class); a repeated event is a PATCH of its series |
//! | `coordination.k8s.io/leases` | get, create, update | leader election (or its own ring Lease with `--shards auto`), only in the lease's namespace |
//! | `coordination.k8s.io/leases` | list | with `--shards auto`: reading the ring (a consistent list on every poll; no watch, as a watch is a cache and the hand-over decisions need fresh reads) |
//!
//! A member updates only its own Lease, but RBAC cannot say "its own" (the names are the pods', and all pods share
//! one ServiceAccount): `update` covers the namespace's Leases, which is why the Leases live in doc-controller's own
//! namespace.
//!
//! Scope: Documents, ConfigMaps and events in every namespace (or only in `--namespace`), leases only in the
//! lease namespace (`--lease-namespace`; the shipped manifests use [`DEPLOY_NAMESPACE`]), so the generated RBAC is
//! one ClusterRole for the cluster-wide needs plus one Role in the lease namespace.

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::events::v1::Event;
use kubewhy::needs::{Needs, ResourceType};
use kubewhy::rbac::Verb;

use crate::document::Document;

/// The program's name: field manager, event reporter, and the name of its RBAC objects.
pub const NAME: &str = "doc-controller";
/// The namespace the manifests in `deploy/` install doc-controller (its ServiceAccount and Lease) into.
pub const DEPLOY_NAMESPACE: &str = "doc-controller";

/// The needs of doc-controller as shipped in `deploy/`: all namespaces, leader election in [`DEPLOY_NAMESPACE`].
pub fn needs() -> Needs {
    needs_for(None, Some(DEPLOY_NAMESPACE))
}

/// Which Leases a configuration uses, and in which namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leases<'a> {
    /// None (one replica, no election).
    None,
    /// The leader-election Lease (`--leader-elect`).
    Election(&'a str),
    /// The ring's Leases (`--shards auto`): its own, and a list of the others.
    Ring(&'a str),
}

/// The needs of one configuration: `namespace` is `--namespace` (`None`: all namespaces), `lease_namespace` is the
/// namespace of the leader-election Lease (`None`: leader election is off).
pub fn needs_for(namespace: Option<&str>, lease_namespace: Option<&str>) -> Needs {
    needs_with(
        namespace,
        lease_namespace.map_or(Leases::None, Leases::Election),
    )
}

/// The needs of one configuration, with any use of Leases.
pub fn needs_with(namespace: Option<&str>, leases: Leases<'_>) -> Needs {
    let documents = ResourceType::of::<Document>();
    let configmaps = ResourceType::of::<ConfigMap>();
    let events = ResourceType::of::<Event>();
    let needs = Needs::new(NAME)
        .watch_with(documents.clone(), namespace, [Verb::Patch])
        .subresource(documents.clone(), "status", namespace, [Verb::Patch])
        .subresource(documents, "finalizers", namespace, [Verb::Update])
        .watch(configmaps.clone(), namespace)
        .verbs(
            configmaps,
            namespace,
            [Verb::Create, Verb::Patch, Verb::Delete],
        )
        .verbs(events, namespace, [Verb::Create, Verb::Patch]);
    match leases {
        Leases::None => needs,
        Leases::Election(ns) => needs.verbs(
            ResourceType::of::<Lease>(),
            Some(ns),
            [Verb::Get, Verb::Create, Verb::Update],
        ),
        Leases::Ring(ns) => needs.verbs(
            ResourceType::of::<Lease>(),
            Some(ns),
            [Verb::Get, Verb::List, Verb::Create, Verb::Update],
        ),
    }
}

/// The needs of doc-controller as shipped in `deploy/sharded/`: all namespaces, a ring in [`DEPLOY_NAMESPACE`].
pub fn sharded_needs() -> Needs {
    needs_with(None, Leases::Ring(DEPLOY_NAMESPACE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kubewhy::rbac::{RbacObject, Subject};

    #[test]
    fn shipped_needs_are_one_cluster_role_and_one_lease_role() {
        let sa = Subject::ServiceAccount {
            namespace: DEPLOY_NAMESPACE.into(),
            name: NAME.into(),
        };
        let objects = needs().rbac(&sa);
        let kinds: Vec<&str> = objects
            .iter()
            .map(|o| match o {
                RbacObject::ClusterRole(_) => "ClusterRole",
                RbacObject::ClusterRoleBinding(_) => "ClusterRoleBinding",
                RbacObject::Role(_) => "Role",
                RbacObject::RoleBinding(_) => "RoleBinding",
            })
            .collect();
        assert_eq!(
            kinds,
            ["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"]
        );
        let RbacObject::Role(role) = &objects[2] else {
            unreachable!()
        };
        assert_eq!(role.metadata.namespace.as_deref(), Some(DEPLOY_NAMESPACE));
        let rules = role.rules.as_ref().unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(
            rules[0].resources.as_deref(),
            Some(&["leases".to_string()][..])
        );
        assert_eq!(rules[0].verbs, ["get", "create", "update"]);
    }

    #[test]
    fn a_single_namespace_without_election_needs_only_a_role() {
        let sa = Subject::from_username("system:serviceaccount:ns1:doc-controller");
        let objects = needs_for(Some("ns1"), None).rbac(&sa);
        assert_eq!(objects.len(), 2, "{objects:#?}");
        assert!(matches!(objects[0], RbacObject::Role(_)));
    }
}
