//! Check 4, `access`: every needed verb is allowed. The caller's own access is reviewed with
//! SelfSubjectAccessReview; another identity's (`--as`) with SubjectAccessReview, or — when the caller may not
//! create those — with SelfSubjectAccessReview under impersonation. The reviews ask the authorizer chain itself,
//! so the answer includes every authorizer, not only RBAC.

use futures::StreamExt;
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec, SubjectAccessReview,
    SubjectAccessReviewSpec, SubjectAccessReviewStatus,
};
use kube::api::{Api, PostParams};

use super::whoami::Who;
use super::{
    AccessKey, Check, CheckKind, Failure, Identity, Options, Plan, access_name, limited,
    need_request, resource_name, scope_phrase, who,
};
use crate::diagnosis::{Class, Diagnosis, Request};

/// The access stage's checks, and why it could not run at all when it could not.
pub(super) struct Access {
    pub checks: Vec<Check>,
    pub blocked: Option<String>,
}

/// How access is reviewed.
enum Method {
    /// SelfSubjectAccessReview with this client (the caller, or the caller impersonating the subject).
    SelfReview(kube::Client, &'static str),
    /// SubjectAccessReview by the caller for a user and groups.
    SubjectReview(kube::Client, Identity),
}

impl Method {
    fn name(&self) -> &'static str {
        match self {
            Method::SelfReview(_, name) => name,
            Method::SubjectReview(..) => "SubjectAccessReview",
        }
    }
}

fn attributes(key: &AccessKey) -> ResourceAttributes {
    ResourceAttributes {
        verb: Some(key.permission.verb.to_string()),
        group: Some(key.resource.group.clone()),
        version: Some(key.resource.version.clone()),
        resource: Some(key.resource.resource.clone()),
        subresource: key.subresource.clone(),
        namespace: key.permission.namespace.clone(),
        ..ResourceAttributes::default()
    }
}

async fn review(
    method: &Method,
    attributes: ResourceAttributes,
    options: &Options,
) -> Result<SubjectAccessReviewStatus, Failure> {
    let status = match method {
        Method::SelfReview(client, _) => {
            let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
            let review = SelfSubjectAccessReview {
                spec: SelfSubjectAccessReviewSpec {
                    resource_attributes: Some(attributes),
                    ..SelfSubjectAccessReviewSpec::default()
                },
                ..SelfSubjectAccessReview::default()
            };
            limited(options.timeout, api.create(&PostParams::default(), &review))
                .await?
                .status
        }
        Method::SubjectReview(client, subject) => {
            let api: Api<SubjectAccessReview> = Api::all(client.clone());
            let review = SubjectAccessReview {
                spec: SubjectAccessReviewSpec {
                    resource_attributes: Some(attributes),
                    user: Some(subject.user.clone()),
                    groups: Some(subject.groups.clone()),
                    ..SubjectAccessReviewSpec::default()
                },
                ..SubjectAccessReview::default()
            };
            limited(options.timeout, api.create(&PostParams::default(), &review))
                .await?
                .status
        }
    };
    // The API server always fills `status`; a missing one reads as "no opinion", i.e. not allowed.
    Ok(status.unwrap_or_default())
}

fn review_request(method: &Method) -> Request {
    let (resource, url) = match method {
        Method::SelfReview(..) => (
            "selfsubjectaccessreviews",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        ),
        Method::SubjectReview(..) => (
            "subjectaccessreviews",
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        ),
    };
    Request {
        method: Some("POST".into()),
        url: Some(url.into()),
        verb: Some("create".into()),
        group: Some("authorization.k8s.io".into()),
        version: Some("v1".into()),
        resource: Some(resource.into()),
        ..Request::default()
    }
}

/// How to confirm one answer by hand.
fn can_i_command(key: &AccessKey, subject: &Identity, as_other: bool) -> String {
    let mut cmd = format!(
        "kubectl auth can-i {} {}",
        key.permission.verb,
        resource_name(&key.resource, None)
    );
    if let Some(sub) = &key.subresource {
        cmd.push_str(&format!(" --subresource={sub}"));
    }
    match (&key.permission.namespace, key.resource.namespaced) {
        (Some(ns), true) => cmd.push_str(&format!(" -n {ns}")),
        (None, true) => cmd.push_str(" --all-namespaces"),
        (_, false) => {}
    }
    if as_other {
        cmd.push_str(&format!(" --as={}", subject.user));
        for g in &subject.groups {
            if !g.starts_with("system:") {
                cmd.push_str(&format!(" --as-group={g}"));
            }
        }
    }
    cmd
}

/// The diagnosis of a denied permission.
fn denied(
    key: &AccessKey,
    subject: &Identity,
    status: &SubjectAccessReviewStatus,
    method: &Method,
    as_other: bool,
) -> Diagnosis {
    let verb = key.permission.verb;
    let resource = resource_name(&key.resource, key.subresource.as_deref());
    let scope = scope_phrase(&key.resource, key.permission.namespace.as_deref());
    let reason = status.reason.clone().unwrap_or_default();
    let mut message = format!("{}: allowed=false", method.name());
    if status.denied == Some(true) {
        message.push_str(", denied=true");
    }
    if !reason.is_empty() {
        message.push_str(&format!(", reason={reason:?}"));
    }
    if let Some(e) = &status.evaluation_error {
        message.push_str(&format!(", evaluationError={e:?}"));
    }
    let mut d = Diagnosis::new(Class::Forbidden, message);
    d.user = (!subject.user.is_empty()).then(|| subject.user.clone());
    d.groups = subject.groups.clone();
    d.request = need_request(
        &key.resource,
        key.subresource.as_deref(),
        key.permission.namespace.as_deref(),
        Some(verb),
    );
    d.summary = format!(
        "{} cannot `{verb}` `{resource}` {scope}",
        who(&subject.user)
    );
    d.cause = if status.denied == Some(true) {
        format!(
            "an authorizer explicitly denied it{}",
            if reason.is_empty() {
                String::new()
            } else {
                format!(": {reason}")
            }
        )
    } else if reason.is_empty() {
        "no RBAC rule (and no other authorizer) grants it".into()
    } else {
        format!("no authorizer grants it: {reason}")
    };
    if key.resource.namespaced && key.permission.namespace.is_none() {
        d.notes.push(
            "the need is for all namespaces: only a ClusterRole bound by a ClusterRoleBinding grants that; a \
             RoleBinding grants only in its own namespace"
                .into(),
        );
    } else if !key.resource.namespaced {
        d.notes.push(format!(
            "`{}` is cluster-scoped: only a ClusterRole bound by a ClusterRoleBinding grants it",
            resource_name(&key.resource, None)
        ));
    }
    if let Some(sub) = &key.subresource {
        d.notes.push(format!(
            "a rule must name `{}/{sub}`: a rule for `{}` does not cover its subresources",
            key.resource.resource, key.resource.resource
        ));
    }
    if let Some(e) = &status.evaluation_error {
        d.notes.push(format!(
            "the authorizer reported an error while deciding: {e}"
        ));
    }
    d.remedy.text =
        "grant it: `--fix` prints the Role/ClusterRole and binding for every missing permission, \
                     ready for `kubectl apply -f -`"
            .into();
    d.remedy.commands = vec![can_i_command(key, subject, as_other)];
    d
}

/// Whether the caller may create SubjectAccessReviews (asked with a SelfSubjectAccessReview).
async fn may_review_others(caller: &kube::Client, options: &Options) -> Result<bool, Failure> {
    let attributes = ResourceAttributes {
        verb: Some("create".into()),
        group: Some("authorization.k8s.io".into()),
        version: Some("v1".into()),
        resource: Some("subjectaccessreviews".into()),
        ..ResourceAttributes::default()
    };
    let status = review(
        &Method::SelfReview(caller.clone(), "SelfSubjectAccessReview"),
        attributes,
        options,
    )
    .await?;
    Ok(status.allowed)
}

pub(super) async fn check(
    caller: &kube::Client,
    as_client: Option<&kube::Client>,
    who_: &Who,
    plan: &Plan,
    options: &Options,
) -> Access {
    let skipped = |reason: &str| -> Vec<Check> {
        plan.access
            .iter()
            .map(|k| {
                let mut c =
                    Check::new(CheckKind::Access, access_name(k), Some(k.need)).skip(reason);
                c.permission = Some(k.permission.clone());
                c
            })
            .collect()
    };
    let Some(subject) = who_.subject.clone() else {
        // Without `--as` the subject is the caller; unknown only when SelfSubjectReview failed, and the
        // SelfSubjectAccessReviews below do not need the name.
        return run_reviews(
            Method::SelfReview(caller.clone(), "SelfSubjectAccessReview"),
            Identity {
                user: String::new(),
                groups: Vec::new(),
            },
            false,
            plan,
            options,
        )
        .await;
    };
    let method = match (&options.as_identity, as_client) {
        (None, _) => Method::SelfReview(caller.clone(), "SelfSubjectAccessReview"),
        (Some(_), as_client) => match may_review_others(caller, options).await {
            Ok(true) => Method::SubjectReview(caller.clone(), subject.clone()),
            answer => match (as_client, &who_.impersonation_denied) {
                (Some(c), None) => {
                    Method::SelfReview(c.clone(), "SelfSubjectAccessReview (impersonating)")
                }
                (_, denied) => {
                    let why_not_sar = match answer {
                        Ok(_) => "may not create SubjectAccessReviews".to_string(),
                        Err(f) => format!(
                            "could not ask whether you may create SubjectAccessReviews ({})",
                            f.message()
                        ),
                    };
                    let reason = format!(
                        "you cannot review the access of {}: you {why_not_sar}, and {}; grant `create` on \
                         `subjectaccessreviews.authorization.k8s.io` (e.g. with the ClusterRole \
                         `system:auth-delegator`) or `impersonate`, or check with that identity's own credentials",
                        who(&subject.user),
                        denied
                            .clone()
                            .unwrap_or_else(|| "impersonation is not available".into()),
                    );
                    return Access {
                        checks: skipped(
                            "you cannot review another identity's access (see the end of the report)",
                        ),
                        blocked: Some(reason),
                    };
                }
            },
        },
    };
    run_reviews(
        method,
        subject,
        options.as_identity.is_some(),
        plan,
        options,
    )
    .await
}

/// One access review as a check.
async fn review_one(
    method: &Method,
    subject: &Identity,
    key: &AccessKey,
    as_other: bool,
    options: &Options,
) -> Check {
    let mut check = Check::new(CheckKind::Access, access_name(key), Some(key.need));
    check.permission = Some(key.permission.clone());
    match review(method, attributes(key), options).await {
        Ok(status) if status.allowed => {
            let reason = status.reason.unwrap_or_default();
            check.pass(if reason.is_empty() {
                "allowed".to_string()
            } else {
                format!("allowed ({reason})")
            })
        }
        Ok(status) => check.fail(denied(key, subject, &status, method, as_other)),
        Err(failure) => {
            let mut d = failure.diagnose(&review_request(method));
            d.notes.push(format!(
                "this review asked whether {} may `{}` `{}`; its answer is unknown",
                who(&subject.user),
                key.permission.verb,
                resource_name(&key.resource, key.subresource.as_deref())
            ));
            check.fail(d)
        }
    }
}

async fn run_reviews(
    method: Method,
    subject: Identity,
    as_other: bool,
    plan: &Plan,
    options: &Options,
) -> Access {
    // The futures are made in a loop, not by a closure over references: a stream of closure-made futures that
    // borrow is not `Send` (rustc cannot prove the closure general over lifetimes), and callers spawn this.
    let mut reviews = Vec::with_capacity(plan.access.len());
    for key in &plan.access {
        reviews.push(review_one(&method, &subject, key, as_other, options));
    }
    let checks = futures::stream::iter(reviews)
        .buffered(options.concurrency.max(1))
        .collect::<Vec<_>>()
        .await;
    Access {
        checks,
        blocked: None,
    }
}

/// Several denials of one subject on one resource and scope (``cannot `get` `x` ``, ``cannot `list` `x` ``) as
/// one diagnosis (``cannot `get` and `list` `x` ``), for the text report; `None` when they are not alike.
pub(crate) fn merge_denials(denials: &[&Diagnosis]) -> Option<Diagnosis> {
    let first = denials.first()?;
    let verbs: Vec<&str> = denials
        .iter()
        .filter_map(|d| d.request.verb.as_deref())
        .collect();
    if verbs.len() != denials.len() {
        return None;
    }
    let key = |d: &Diagnosis| {
        let verb = d.request.verb.clone().unwrap_or_default();
        (
            d.summary.replacen(&format!("cannot `{verb}`"), "cannot", 1),
            d.cause.clone(),
            d.user.clone(),
        )
    };
    if denials.iter().any(|d| key(d) != key(first)) {
        return None;
    }
    let quoted: Vec<String> = verbs.iter().map(|v| format!("`{v}`")).collect();
    let list = match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => quoted.join(""),
    };
    let mut merged = (*first).clone();
    let verb = first.request.verb.clone().unwrap_or_default();
    merged.summary =
        first
            .summary
            .replacen(&format!("cannot `{verb}`"), &format!("cannot {list}"), 1);
    merged.request.verb = Some(verbs.join(","));
    merged.remedy.commands = denials
        .iter()
        .flat_map(|d| d.remedy.commands.iter().cloned())
        .collect();
    Some(merged)
}
