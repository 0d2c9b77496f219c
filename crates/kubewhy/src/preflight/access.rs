//! Check 4, `access`: every needed verb is allowed. The caller's own access is reviewed with
//! SelfSubjectAccessReview; another identity's (`--as`) with SubjectAccessReview, or — when the caller may not
//! create those — with SelfSubjectAccessReview under impersonation. The reviews ask the authorizer chain itself,
//! so the answer includes every authorizer, not only RBAC.

use futures::StreamExt;

use super::whoami::Who;
use super::{
    AccessKey, Check, CheckKind, Failure, Identity, Options, Plan, access_name, limited,
    need_request, resource_name, scope,
};
use crate::cause::{Cause, Denial};
use crate::diagnosis::{Diagnosis, Request};
use crate::note::Note;
use crate::review::{self, Answer, Reviewer};
use crate::vocab::subject_or_you;

/// The access stage's checks, and why it could not run at all when it could not.
pub(super) struct Access {
    pub checks: Vec<Check>,
    pub blocked: Option<String>,
}

/// How access is reviewed: the client that asks and whose access it asks about.
struct Method {
    client: kube::Client,
    reviewer: Reviewer,
    /// How the review is named in a message.
    name: &'static str,
    /// The access reviewed is the caller's own (no `--as`).
    own: bool,
}

impl Method {
    /// A SelfSubjectAccessReview with this client (the caller, or the caller impersonating the subject).
    fn own(client: &kube::Client, name: &'static str, own: bool) -> Method {
        Method {
            client: client.clone(),
            reviewer: Reviewer::Caller,
            name,
            own,
        }
    }
}

async fn ask(method: &Method, request: &Request, options: &Options) -> Result<Answer, Failure> {
    limited(
        options.timeout,
        review::review(&method.client, &method.reviewer, request),
    )
    .await
}

/// The diagnosis of a denied permission.
fn denied(
    key: &AccessKey,
    subject: &Identity,
    answer: &Answer,
    method: &Method,
    program: &str,
) -> Diagnosis {
    let mut message = format!("{}: allowed=false", method.name);
    if answer.denied {
        message.push_str(", denied=true");
    }
    if let Some(reason) = &answer.reason {
        message.push_str(&format!(", reason={reason:?}"));
    }
    if let Some(e) = &answer.evaluation_error {
        message.push_str(&format!(", evaluationError={e:?}"));
    }
    let namespace = key.permission.namespace.as_deref();
    let mut d = Diagnosis::new(
        Cause::Denied(Denial {
            scope: scope(&key.resource, namespace),
            authorizer: answer.reason.clone(),
            explicit: answer.denied,
            evaluation_error: answer.evaluation_error.clone(),
            caller: method.own,
            ..Denial::default()
        }),
        message,
    );
    d.user = (!subject.user.is_empty()).then(|| subject.user.clone());
    d.groups = subject.groups.clone();
    d.request = need_request(
        &key.resource,
        key.subresource.as_deref(),
        namespace,
        Some(key.permission.verb),
    );
    d.notes.push(Note::Declared {
        program: program.to_string(),
        needs: vec![key.need],
    });
    d
}

/// Whether the caller may create SubjectAccessReviews (asked with a SelfSubjectAccessReview).
async fn may_review_others(caller: &kube::Client, options: &Options) -> Result<bool, Failure> {
    let question = review::review_request(&Reviewer::Subject {
        user: String::new(),
        groups: Vec::new(),
    });
    let answer = ask(
        &Method::own(caller, "SelfSubjectAccessReview", true),
        &question,
        options,
    )
    .await?;
    Ok(answer.allowed)
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
            Method::own(caller, "SelfSubjectAccessReview", true),
            Identity {
                user: String::new(),
                groups: Vec::new(),
            },
            plan,
            options,
        )
        .await;
    };
    let method = match (&options.as_identity, as_client) {
        (None, _) => Method::own(caller, "SelfSubjectAccessReview", true),
        (Some(_), as_client) => match may_review_others(caller, options).await {
            Ok(true) => Method {
                client: caller.clone(),
                reviewer: Reviewer::Subject {
                    user: subject.user.clone(),
                    groups: subject.groups.clone(),
                },
                name: "SubjectAccessReview",
                own: false,
            },
            answer => match (as_client, &who_.impersonation_denied) {
                (Some(c), None) => Method::own(c, "SelfSubjectAccessReview (impersonating)", false),
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
                        subject_or_you(&subject.user),
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
    run_reviews(method, subject, plan, options).await
}

/// One access review as a check.
async fn review_one(
    method: &Method,
    subject: &Identity,
    key: &AccessKey,
    options: &Options,
    program: &str,
) -> Check {
    let mut check = Check::new(CheckKind::Access, access_name(key), Some(key.need));
    check.permission = Some(key.permission.clone());
    let question = need_request(
        &key.resource,
        key.subresource.as_deref(),
        key.permission.namespace.as_deref(),
        Some(key.permission.verb),
    );
    match ask(method, &question, options).await {
        Ok(answer) if answer.allowed => check.pass(match answer.reason {
            Some(reason) => format!("allowed ({reason})"),
            None => "allowed".to_string(),
        }),
        Ok(answer) => check.fail(denied(key, subject, &answer, method, program)),
        Err(failure) => {
            let mut d = failure.diagnose(&review::review_request(&method.reviewer));
            d.notes.push(Note::ReviewUnanswered {
                user: subject.user.clone(),
                verb: key.permission.verb.to_string(),
                resource: resource_name(&key.resource, key.subresource.as_deref()),
            });
            check.fail(d)
        }
    }
}

async fn run_reviews(method: Method, subject: Identity, plan: &Plan, options: &Options) -> Access {
    // The futures are made in a loop, not by a closure over references: a stream of closure-made futures that
    // borrow is not `Send` (rustc cannot prove the closure general over lifetimes), and callers spawn this.
    let mut reviews = Vec::with_capacity(plan.access.len());
    for key in &plan.access {
        reviews.push(review_one(&method, &subject, key, options, &plan.program));
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
