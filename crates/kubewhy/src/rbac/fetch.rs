//! Reading the RBAC objects from a cluster: the four kinds, listed in all namespaces, page by page, at once.
//! When the caller may not list them, one error says which were denied, as whom, and what would allow it —
//! callers then fall back to a remedy that needs no RBAC objects (a new Role and binding).

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{Api, ListParams};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;

use super::RbacObjects;

/// Objects per list page: RBAC objects are small, and clusters with thousands of namespaces have thousands of
/// RoleBindings.
const PAGE: u32 = 500;

/// Reading the RBAC objects failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The caller may not list some of the four kinds in all namespaces.
    #[error(
        "reading RBAC objects is not permitted{}: list {} in all namespaces was denied; explaining why a binding \
         does not grant a request needs list on roles, clusterroles, rolebindings and clusterrolebindings \
         (`kubectl auth can-i list rolebindings.rbac.authorization.k8s.io --all-namespaces`)",
        user.as_deref().map(|u| format!(" for `{u}`")).unwrap_or_default(),
        denied.join(", ")
    )]
    NotPermitted {
        /// The kinds (plural resource names) whose list was denied.
        denied: Vec<&'static str>,
        /// The user the API server named in its denial.
        user: Option<String>,
    },
    /// Listing failed for another reason (unreachable server, time-out, server error).
    #[error("listing {resource}.rbac.authorization.k8s.io failed")]
    List {
        /// The plural resource name.
        resource: &'static str,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
}

/// Every Role, ClusterRole, RoleBinding and ClusterRoleBinding of the cluster, as the caller may see them.
///
/// # Errors
/// [`FetchError::NotPermitted`] when any of the four may not be listed in all namespaces (one error for all),
/// [`FetchError::List`] when a list fails otherwise.
pub async fn fetch(client: &Client) -> Result<RbacObjects, FetchError> {
    let (roles, cluster_roles, role_bindings, cluster_role_bindings) = futures::join!(
        list_all::<Role>(client),
        list_all::<ClusterRole>(client),
        list_all::<RoleBinding>(client),
        list_all::<ClusterRoleBinding>(client),
    );
    let mut denied = Vec::new();
    let mut user = None;
    let mut other = None;
    let mut note = |resource: &'static str, err: kube::Error| match &err {
        kube::Error::Api(status) if status.code == 403 => {
            denied.push(resource);
            if user.is_none() {
                user = crate::read::message::read(&status.message).user;
            }
        }
        _ => {
            if other.is_none() {
                other = Some(FetchError::List {
                    resource,
                    source: err,
                });
            }
        }
    };
    let mut out = RbacObjects::default();
    match roles {
        Ok(v) => out.roles = v,
        Err(e) => note("roles", e),
    }
    match cluster_roles {
        Ok(v) => out.cluster_roles = v,
        Err(e) => note("clusterroles", e),
    }
    match role_bindings {
        Ok(v) => out.role_bindings = v,
        Err(e) => note("rolebindings", e),
    }
    match cluster_role_bindings {
        Ok(v) => out.cluster_role_bindings = v,
        Err(e) => note("clusterrolebindings", e),
    }
    if !denied.is_empty() {
        return Err(FetchError::NotPermitted { denied, user });
    }
    match other {
        Some(err) => Err(err),
        None => Ok(out),
    }
}

async fn list_all<K>(client: &Client) -> Result<Vec<K>, kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    let api: Api<K> = Api::all(client.clone());
    let mut params = ListParams::default().limit(PAGE);
    let mut out = Vec::new();
    loop {
        let page = api.list(&params).await?;
        out.extend(page.items);
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = params.continue_token(&token),
            _ => return Ok(out),
        }
    }
}
