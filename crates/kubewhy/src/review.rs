//! The one access review: asks the API server's authorizer chain whether a request is allowed — for the caller
//! (SelfSubjectAccessReview) or for another identity (SubjectAccessReview, whose groups default to those the API
//! server gives that identity, [`crate::vocab::groups_of`]). `kubewhy check`, `doc-controller doctor` and
//! `kubewhy explain --live` all ask through it, so one question gets one answer. Likewise the one "who am I"
//! ([`whoami`], a SelfSubjectReview) that preflight, the RBAC diff and the watchers ask.

use k8s_openapi::api::authentication::v1::{SelfSubjectReview, SelfSubjectReviewStatus};
use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, ResourceAttributes, SelfSubjectAccessReview,
    SelfSubjectAccessReviewSpec, SubjectAccessReview, SubjectAccessReviewSpec,
    SubjectAccessReviewStatus,
};
use kube::Resource;
use kube::api::PostParams;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::diagnosis::Request;
use crate::vocab::groups_of;

/// Whose access is reviewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reviewer {
    /// The client's own identity (SelfSubjectAccessReview).
    Caller,
    /// Another identity (SubjectAccessReview, which the caller must be allowed to create).
    Subject {
        /// The user name.
        user: String,
        /// Its groups; empty: the groups the API server gives it.
        groups: Vec<String>,
    },
}

/// The authorizer's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    /// Allowed.
    pub allowed: bool,
    /// Explicitly denied by an authorizer (not only for want of a rule).
    pub denied: bool,
    /// The authorizer's reason, when it gave one.
    pub reason: Option<String>,
    /// An error the authorizer met while deciding.
    pub evaluation_error: Option<String>,
}

impl From<SubjectAccessReviewStatus> for Answer {
    fn from(s: SubjectAccessReviewStatus) -> Answer {
        Answer {
            allowed: s.allowed,
            denied: s.denied == Some(true),
            reason: s.reason.filter(|r| !r.is_empty()),
            evaluation_error: s.evaluation_error.filter(|e| !e.is_empty()),
        }
    }
}

/// The attributes a review asks about: a resource request, or a non-resource path (`request.path`).
fn attributes(r: &Request) -> (Option<ResourceAttributes>, Option<NonResourceAttributes>) {
    match &r.path {
        Some(path) => (
            None,
            Some(NonResourceAttributes {
                path: Some(path.clone()),
                verb: r.verb.clone(),
            }),
        ),
        None => (
            Some(ResourceAttributes {
                verb: r.verb.clone(),
                group: r.group.clone(),
                version: r.version.clone(),
                resource: r.resource.clone(),
                subresource: r.subresource.clone(),
                name: r.name.clone(),
                namespace: r.namespace.clone(),
                ..ResourceAttributes::default()
            }),
            None,
        ),
    }
}

/// What is read of a review's answer: its status. The rest (the spec sent back, the metadata) is not deserialized,
/// so every review shares this small type instead of instantiating each review's whole object (`Api::create` would).
#[derive(Deserialize)]
struct Answered<S> {
    status: Option<S>,
}

/// Creates the review at `url_path` (a JSON body, as `Api::create` sends it) and reads its status.
async fn create<S: DeserializeOwned>(
    client: &kube::Client,
    url_path: &str,
    body: Result<Vec<u8>, serde_json::Error>,
) -> Result<Option<S>, kube::Error> {
    let body = body.map_err(kube::Error::SerdeError)?;
    let mut req = kube::core::Request::new(url_path)
        .create(&PostParams::default(), body)
        .map_err(kube::Error::BuildRequest)?;
    // The verb kube's own `Api::create` gives the request (its tracing and the request inspector read it).
    req.extensions_mut().insert("create");
    Ok(client.request::<Answered<S>>(req).await?.status)
}

/// Asks whether `request` (its verb, group, version, resource, subresource, name and namespace, or its path) is
/// allowed for `reviewer`.
///
/// # Errors
/// When the review itself fails (the caller may not create it, the server cannot be reached).
pub async fn review(
    client: &kube::Client,
    reviewer: &Reviewer,
    request: &Request,
) -> Result<Answer, kube::Error> {
    let (resource_attributes, non_resource_attributes) = attributes(request);
    let (url_path, body) = match reviewer {
        Reviewer::Caller => {
            let review = SelfSubjectAccessReview {
                spec: SelfSubjectAccessReviewSpec {
                    resource_attributes,
                    non_resource_attributes,
                },
                ..SelfSubjectAccessReview::default()
            };
            (
                SelfSubjectAccessReview::url_path(&(), None),
                serde_json::to_vec(&review),
            )
        }
        Reviewer::Subject { user, groups } => {
            let review = SubjectAccessReview {
                spec: SubjectAccessReviewSpec {
                    resource_attributes,
                    non_resource_attributes,
                    user: Some(user.clone()),
                    groups: Some(groups_of(user, groups)),
                    ..SubjectAccessReviewSpec::default()
                },
                ..SubjectAccessReview::default()
            };
            (
                SubjectAccessReview::url_path(&(), None),
                serde_json::to_vec(&review),
            )
        }
    };
    let status: Option<SubjectAccessReviewStatus> = create(client, &url_path, body).await?;
    // The API server always fills `status`; a missing one reads as "no opinion", i.e. not allowed.
    Ok(status.map(Answer::from).unwrap_or_default())
}

/// Who the client is, as the API server sees it (a SelfSubjectReview's `userInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Whoami {
    /// The user name; empty when the server named none.
    pub user: String,
    /// Its groups, empty names left out (a static-token file can give a user an empty group name: it names
    /// nothing).
    pub groups: Vec<String>,
}

/// Asks the API server who the client is: one SelfSubjectReview (Kubernetes 1.28+).
///
/// # Errors
/// When the review fails (not served before 1.28, the credentials not accepted, the server not reached).
pub async fn whoami(client: &kube::Client) -> Result<Whoami, kube::Error> {
    let status: Option<SelfSubjectReviewStatus> = create(
        client,
        &SelfSubjectReview::url_path(&(), None),
        serde_json::to_vec(&SelfSubjectReview::default()),
    )
    .await?;
    // No status or no userInfo: the server named nobody, an empty user and no groups (as `Whoami` documents).
    let info = status.and_then(|s| s.user_info).unwrap_or_default();
    Ok(Whoami {
        user: info.username.unwrap_or_default(),
        groups: info
            .groups
            .unwrap_or_default()
            .into_iter()
            .filter(|g| !g.is_empty())
            .collect(),
    })
}

/// The request [`whoami`] makes (what failed, when it fails).
pub fn whoami_request() -> Request {
    Request {
        method: Some("POST".into()),
        url: Some("/apis/authentication.k8s.io/v1/selfsubjectreviews".into()),
        verb: Some("create".into()),
        group: Some("authentication.k8s.io".into()),
        version: Some("v1".into()),
        resource: Some("selfsubjectreviews".into()),
        ..Request::default()
    }
}

/// The request a review makes (what failed, when the review itself fails).
pub fn review_request(reviewer: &Reviewer) -> Request {
    let resource = match reviewer {
        Reviewer::Caller => "selfsubjectaccessreviews",
        Reviewer::Subject { .. } => "subjectaccessreviews",
    };
    Request {
        method: Some("POST".into()),
        url: Some(format!("/apis/authorization.k8s.io/v1/{resource}")),
        verb: Some("create".into()),
        group: Some("authorization.k8s.io".into()),
        version: Some("v1".into()),
        resource: Some(resource.into()),
        ..Request::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_a_non_resource_review() {
        let r = crate::url::parse_request("GET", "/metrics");
        let (res, non) = attributes(&r);
        assert!(res.is_none());
        let non = non.unwrap();
        assert_eq!(
            (non.path.as_deref(), non.verb.as_deref()),
            (Some("/metrics"), Some("get"))
        );
        let r =
            crate::url::parse_request("PATCH", "/apis/kube.rs/v1/namespaces/a/documents/d/status");
        let (res, non) = attributes(&r);
        assert!(non.is_none());
        let res = res.unwrap();
        assert_eq!(res.subresource.as_deref(), Some("status"));
        assert_eq!(res.namespace.as_deref(), Some("a"));
    }
}
