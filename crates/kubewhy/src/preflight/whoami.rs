//! Check 2, `whoami`: SelfSubjectReview tells who the caller is (user and groups); with `--as` the same review
//! under impersonation tells who is checked — or that the caller may not impersonate, which the probes need —
//! and, for a ServiceAccount, whether it exists (RBAC answers "yes" for group grants to a misspelled one).

use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::Api;

use super::{AsIdentity, Check, CheckKind, Failure, Identity, Options, limited};
use crate::cause::Cause;
use crate::diagnosis::{Diagnosis, Request};
use crate::note::Note;
use crate::rbac::Subject;
use crate::vocab::{groups_of, subject_or_you};

/// What the whoami stage learned.
pub(super) struct Who {
    /// The caller.
    pub caller: Option<Identity>,
    /// The checked identity (the caller without `--as`).
    pub subject: Option<Identity>,
    /// With `--as`: why impersonation cannot be used; `None` when it works (or is not needed).
    pub impersonation_denied: Option<String>,
    /// The checks.
    pub checks: Vec<Check>,
}

fn ssr_request() -> Request {
    crate::review::whoami_request()
}

async fn review(client: &kube::Client, options: &Options) -> Result<Identity, Failure> {
    let who = limited(options.timeout, crate::review::whoami(client)).await?;
    Ok(Identity {
        user: who.user,
        groups: who.groups,
    })
}

fn groups_phrase(groups: &[String]) -> String {
    if groups.is_empty() {
        "no groups".to_string()
    } else {
        format!("groups: {}", groups.join(", "))
    }
}

/// The groups the API server gives an impersonated user when `--as-group` names none.
fn impersonated_groups(who: &AsIdentity) -> Vec<String> {
    groups_of(&who.user, &who.groups)
}

pub(super) async fn check(
    caller: &kube::Client,
    as_client: Option<&kube::Client>,
    options: &Options,
) -> Who {
    let sa_exists = async {
        match options
            .as_identity
            .as_ref()
            .map(|w| Subject::from_username(&w.user))
        {
            Some(Subject::ServiceAccount { namespace, name }) => {
                let api: Api<ServiceAccount> = Api::namespaced(caller.clone(), &namespace);
                Some(limited(options.timeout, api.get_opt(&name)).await)
            }
            _ => None,
        }
    };
    let impersonated = async {
        match as_client {
            Some(c) => Some(review(c, options).await),
            None => None,
        }
    };
    let (mine, theirs, sa) = futures::join!(review(caller, options), impersonated, sa_exists);

    let mut checks = Vec::new();
    let me = Check::new(CheckKind::Whoami, "who am I", None);
    let caller_identity = match mine {
        Ok(id) => {
            checks.push(me.pass(format!(
                "you are `{}` ({})",
                id.user,
                groups_phrase(&id.groups)
            )));
            Some(id)
        }
        Err(failure) => {
            let mut d = failure.diagnose(&ssr_request());
            if failure.code() == Some(404) {
                d.notes.push(Note::SelfSubjectReviewUnserved);
            }
            d.notes.push(Note::CallerUnknown);
            checks.push(me.fail(d));
            None
        }
    };

    let Some(as_identity) = &options.as_identity else {
        return Who {
            subject: caller_identity.clone(),
            caller: caller_identity,
            impersonation_denied: None,
            checks,
        };
    };

    let name = format!("impersonate `{}`", as_identity.user);
    let them = Check::new(CheckKind::Whoami, name, None);
    let mut impersonation_denied = None;
    let mut sa_note = String::new();
    match sa {
        Some(Ok(Some(_))) | None => {}
        Some(Ok(None)) => {
            let mut d = Diagnosis::new(
                Cause::SubjectMissing,
                format!("serviceaccounts \"{}\" not found", as_identity.user),
            );
            if let Subject::ServiceAccount { namespace, name } =
                Subject::from_username(&as_identity.user)
            {
                d.request = Request {
                    verb: Some("get".into()),
                    version: Some("v1".into()),
                    group: Some(String::new()),
                    resource: Some("serviceaccounts".into()),
                    namespace: Some(namespace.clone()),
                    name: Some(name.clone()),
                    ..Request::default()
                };
            }
            checks.push(
                Check::new(
                    CheckKind::Whoami,
                    format!("`{}` exists", as_identity.user),
                    None,
                )
                .fail(d),
            );
        }
        Some(Err(failure)) => {
            sa_note = format!(
                "; whether the ServiceAccount exists is unknown: reading it failed ({})",
                failure.message()
            );
        }
    }
    let subject = match theirs {
        Some(Ok(id)) => {
            checks.push(them.pass(format!(
                "checking as it, by impersonation ({}){sa_note}",
                groups_phrase(&id.groups)
            )));
            id
        }
        Some(Err(failure)) => {
            let assumed = Identity {
                user: as_identity.user.clone(),
                groups: impersonated_groups(as_identity),
            };
            let caller_name = caller_identity
                .as_ref()
                .map(|c| format!("`{}`", c.user))
                .unwrap_or_else(|| "the caller".into());
            if failure.code() == Some(403) {
                let reason = format!(
                    "you ({caller_name}) may not impersonate {}",
                    subject_or_you(&as_identity.user)
                );
                checks.push(them.skip(format!(
                    "{reason} ({}); access is reviewed with SubjectAccessReview for `{}` ({}); the live probes, \
                     which need impersonation, are skipped{sa_note}",
                    failure.message().trim(),
                    assumed.user,
                    groups_phrase(&assumed.groups),
                )));
                impersonation_denied = Some(reason);
            } else {
                let reason = format!(
                    "impersonating `{}` failed: {}",
                    as_identity.user,
                    failure.message()
                );
                checks.push(them.fail(failure.diagnose(&ssr_request())));
                impersonation_denied = Some(reason);
            }
            assumed
        }
        None => Identity {
            user: as_identity.user.clone(),
            groups: impersonated_groups(as_identity),
        },
    };
    Who {
        caller: caller_identity,
        subject: Some(subject),
        impersonation_denied,
        checks,
    }
}
