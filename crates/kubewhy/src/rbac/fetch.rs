//! Reading RBAC from a cluster: the objects — the four kinds, listed in all namespaces, page by page, at once
//! ([`fetch`]); when the caller may not list them, one error says which were denied, as whom, and what would
//! allow it, and callers fall back to a remedy that needs no RBAC objects (a new Role and binding). And the
//! rules an identity holds, from SelfSubjectRulesReviews, which anyone may make ([`reviewed_rules`]).

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

/// A namespace no object can be in (not a DNS label): a rules review there shows only what holds everywhere.
const NO_NAMESPACE: &str = "kubewhy:cluster-wide";

/// What [`reviewed_rules`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Reviewed {
    /// The rules, cluster-wide ones with `namespace: None`.
    pub rules: Vec<super::diff::GrantedRule>,
    /// What an authorizer said it could not list (`status.evaluationError` of an incomplete review): the rules
    /// may be incomplete.
    pub incomplete: Vec<String>,
}

/// A rules review failed.
#[derive(Debug, thiserror::Error)]
#[error("the SelfSubjectRulesReview in namespace {namespace} failed")]
pub struct ReviewError {
    /// The namespace reviewed.
    pub namespace: String,
    /// The client's error.
    #[source]
    pub source: kube::Error,
}

/// The rules the client's identity holds, from SelfSubjectRulesReviews (every authenticated user may make them,
/// and they need no read access to RBAC objects): once in a namespace that cannot exist, for what holds
/// everywhere; then in each of `namespaces`, for what holds there beyond it. When `baseline` is a client of an
/// identity with no bindings of its own (a bare authenticated user), what it holds — Kubernetes' defaults for
/// every user — is left out.
///
/// # Errors
/// [`ReviewError`] when a review fails.
pub async fn reviewed_rules(
    client: &Client,
    namespaces: &[String],
    baseline: Option<&Client>,
) -> Result<Reviewed, ReviewError> {
    use super::eval::same_rule;
    let mut incomplete = Vec::new();
    let defaults = match baseline {
        Some(b) => review(b, NO_NAMESPACE, &mut incomplete).await?,
        None => Vec::new(),
    };
    let everywhere = review(client, NO_NAMESPACE, &mut incomplete).await?;
    let without = |rules: Vec<k8s_openapi::api::rbac::v1::PolicyRule>,
                   minus: &[k8s_openapi::api::rbac::v1::PolicyRule]| {
        rules
            .into_iter()
            .filter(|r| !minus.iter().any(|m| same_rule(m, r)))
            .collect::<Vec<_>>()
    };
    let mut rules: Vec<super::diff::GrantedRule> = without(everywhere.clone(), &defaults)
        .into_iter()
        .map(|rule| super::diff::GrantedRule {
            namespace: None,
            rule,
            source: None,
        })
        .collect();
    for ns in namespaces {
        let here = review(client, ns, &mut incomplete).await?;
        rules.extend(
            without(here, &everywhere)
                .into_iter()
                .map(|rule| super::diff::GrantedRule {
                    namespace: Some(ns.clone()),
                    rule,
                    source: None,
                }),
        );
    }
    Ok(Reviewed { rules, incomplete })
}

async fn review(
    client: &Client,
    namespace: &str,
    incomplete: &mut Vec<String>,
) -> Result<Vec<k8s_openapi::api::rbac::v1::PolicyRule>, ReviewError> {
    use k8s_openapi::api::authorization::v1::{SelfSubjectRulesReview, SelfSubjectRulesReviewSpec};
    let api: Api<SelfSubjectRulesReview> = Api::all(client.clone());
    let review = SelfSubjectRulesReview {
        spec: SelfSubjectRulesReviewSpec {
            namespace: Some(namespace.to_string()),
        },
        ..SelfSubjectRulesReview::default()
    };
    let answer = api
        .create(&Default::default(), &review)
        .await
        .map_err(|source| ReviewError {
            namespace: namespace.to_string(),
            source,
        })?;
    let Some(status) = answer.status else {
        return Ok(Vec::new());
    };
    if status.incomplete {
        let why = status.evaluation_error.unwrap_or_default();
        if !incomplete.contains(&why) {
            incomplete.push(why);
        }
    }
    let resource =
        status
            .resource_rules
            .into_iter()
            .map(|r| k8s_openapi::api::rbac::v1::PolicyRule {
                api_groups: r.api_groups,
                resources: r.resources,
                resource_names: r.resource_names,
                verbs: r.verbs,
                non_resource_urls: None,
            });
    let urls =
        status
            .non_resource_rules
            .into_iter()
            .map(|r| k8s_openapi::api::rbac::v1::PolicyRule {
                non_resource_urls: r.non_resource_urls,
                verbs: r.verbs,
                ..Default::default()
            });
    Ok(resource.chain(urls).collect())
}
