//! Wording of access failures: authorizer denials (RBAC, constrained impersonation), escalation prevention,
//! admission (webhooks, ValidatingAdmissionPolicy, Pod Security, quota), an unreachable webhook, credentials.

use super::{Words, object_text, quoted_list, quoted_resource};
use crate::cause::{Admitter, Cause, Denial, Scope};
use crate::diagnosis::Diagnosis;
use crate::near_miss::NearMiss;
use crate::vocab::{IMPERSONATION_GROUP, Verb, builtin_group, scope_phrase, subject_phrase};

pub(super) fn words(d: &Diagnosis) -> Words {
    match &d.cause {
        Cause::Denied(denial) => denied(d, denial),
        Cause::Escalation {
            not_held,
            near_miss,
        } => escalation(d, not_held, near_miss.as_deref()),
        Cause::Admission { by, detail } => admission(d, by, detail.as_deref()),
        Cause::WebhookUnreachable {
            webhook,
            service,
            detail,
            conversion,
        } => webhook_unreachable(
            d,
            webhook,
            service.as_deref(),
            detail.as_deref(),
            conversion.as_deref(),
        ),
        Cause::Unauthenticated { expired } => {
            let r = &d.request;
            let asked = match (&r.verb, quoted_resource(r)) {
                (Some(v), Some(t)) => format!(" (`{v}` {t})"),
                (None, Some(t)) => format!(" ({t})"),
                _ => String::new(),
            };
            Words {
                summary: format!("the API server did not accept the client's credentials{asked}"),
                cause: if *expired {
                    "authentication failed (401): the token has expired (ServiceAccount tokens are bound to \
                     their pod and rotate; an exec plugin's token lasts as long as it says)"
                        .into()
                } else {
                    "authentication failed (401): the bearer token is unknown, expired or revoked, or the client \
                     certificate is not signed by a CA the server trusts"
                        .into()
                },
                notes: Vec::new(),
            }
        }
        Cause::CredentialsUnavailable => Words {
            summary: "the client could not obtain credentials".into(),
            cause: "the kubeconfig's token file, exec plugin or auth provider failed before any request was sent"
                .into(),
            notes: Vec::new(),
        },
        _ => unreachable!("describe::access is given access causes only"),
    }
}

fn verbs_text(d: &Diagnosis, denial: &Denial) -> String {
    let mut verbs: Vec<String> = d.request.verb.iter().cloned().collect();
    verbs.extend(denial.also_denied.iter().cloned());
    if verbs.is_empty() {
        "`use`".into()
    } else {
        quoted_list(&verbs)
    }
}

/// Who refused a plain denial: the authorizer, not admission.
const AUTHORIZATION: &str = "denied by authorization";

fn denied(d: &Diagnosis, denial: &Denial) -> Words {
    let r = &d.request;
    let who = subject_phrase(d.user.as_deref());
    let target = match (&r.path, quoted_resource(r)) {
        (Some(p), _) => format!("path `{p}`"),
        (None, Some(t)) => t,
        (None, None) => "the resource".into(),
    };
    let core = if denial.wrong_core_group {
        " in the core API group"
    } else {
        ""
    };
    let scope = scope_phrase(denial.scope, r.namespace.as_deref())
        .map(|s| format!(" {s}"))
        .unwrap_or_default();
    let summary = format!(
        "{who} cannot {} {target}{core}{scope}",
        verbs_text(d, denial)
    );
    let res = r.resource.as_deref().unwrap_or_default();
    let verb: Option<Verb> = r.verb.as_deref().and_then(|v| v.parse().ok());
    let cause = if let Some(role) = &denial.missing_role {
        format!(
            "a binding for this subject refers to the {} `{}`, which does not exist, so it grants nothing",
            if role.cluster { "ClusterRole" } else { "Role" },
            role.name
        )
    } else if denial.wrong_core_group {
        format!(
            "`{res}` is not a core resource, yet the request asked for it in the core API group (\"\"): the client \
             built the URL without the resource's group{}; the fix is in the code — RBAC for group \"\" would \
             not help",
            denial
                .real_group
                .as_deref()
                .or_else(|| builtin_group(res))
                .map(|g| format!(" (`{res}` is in `{g}`)"))
                .unwrap_or_default()
        )
    } else if let Some(Verb::ImpersonateOn(mode, action)) = verb {
        format!(
            "constrained impersonation (Kubernetes 1.35+) needs two rules: `impersonate:{}` on `{}` in `{}` (whom \
             it may impersonate) and `{}` on the target (what it may do as them); the second is missing for \
             `{}` here",
            mode.as_str(),
            mode.identity_resource(),
            IMPERSONATION_GROUP,
            verb.map(Verb::as_str).unwrap_or_default(),
            action.as_str()
        )
    } else if let Some(Verb::ImpersonateAs(mode)) = verb {
        format!(
            "constrained impersonation (Kubernetes 1.35+) needs two rules: `impersonate:{}` on `{}` in `{}` (whom \
             it may impersonate, missing here) and `impersonate-on:{}:<verb>` on the target of each request",
            mode.as_str(),
            mode.identity_resource(),
            IMPERSONATION_GROUP,
            mode.as_str()
        )
    } else if denial.explicit {
        "an authorizer explicitly denied it (not merely for want of a rule)".into()
    } else if let Some(near) = &denial.near_miss {
        super::near_miss::words(near).0
    } else {
        format!(
            "{AUTHORIZATION}: no Role or ClusterRole bound to the subject grants this verb on this resource here"
        )
    };
    let mut notes = Vec::new();
    // Said once: not again when the cause line opens with it.
    if d.code == Some(403)
        && r.path.is_none()
        && !denial.wrong_core_group
        && !cause.starts_with(AUTHORIZATION)
    {
        notes.push(format!(
            "{AUTHORIZATION}; the message names no admission webhook or policy"
        ));
    }
    if r.path.is_none() && r.namespace.is_none() && !denial.wrong_core_group {
        match denial.scope {
            Scope::AllNamespaces => notes.push(
                "the request is for all namespaces: only a ClusterRole bound by a ClusterRoleBinding grants \
                 that; a RoleBinding grants only in its own namespace"
                    .into(),
            ),
            Scope::ClusterScoped => notes.push(format!(
                "`{res}` is cluster-scoped: only a ClusterRole bound by a ClusterRoleBinding grants it"
            )),
            Scope::Cluster => notes.push(
                "only a ClusterRoleBinding can grant a request at cluster scope; a RoleBinding cannot".into(),
            ),
            Scope::Namespace | Scope::Unknown => {}
        }
    }
    if let Some(sub) = &r.subresource
        && !denial.wrong_core_group
        && denial.near_miss.is_none()
    {
        notes.push(format!(
            "a rule must name `{res}/{sub}`: a rule for `{res}` does not cover its subresources"
        ));
    }
    if let Some(name) = &r.name
        && !denial.wrong_core_group
        && matches!(
            r.verb.as_deref(),
            Some("get" | "update" | "patch" | "delete")
        )
    {
        notes.push(format!(
            "RBAC could limit this to the one object with `resourceNames: [{name}]`; the remedy grants the verb on \
             every object of the type"
        ));
    }
    if let Some(Verb::ImpersonateOn(..) | Verb::ImpersonateAs(..)) = verb {
        notes.push(
            "a constrained impersonation rule has no wildcard form: `impersonate-on:user-info:*` matches nothing"
                .into(),
        );
    }
    if let Some(text) = &denial.authorizer
        && denial.missing_role.is_none()
    {
        notes.push(format!("the authorizer added: {text}"));
    }
    if let Some(e) = &denial.evaluation_error {
        notes.push(format!(
            "the authorizer reported an error while deciding: {e}"
        ));
    }
    if let Some(near) = &denial.near_miss
        && !denial.wrong_core_group
    {
        notes.extend(super::near_miss::words(near).1);
    }
    Words {
        summary,
        cause,
        notes,
    }
}

fn escalation(d: &Diagnosis, not_held: &[String], near_miss: Option<&NearMiss>) -> Words {
    let r = &d.request;
    let who = subject_phrase(d.user.as_deref());
    let what = match (&r.verb, quoted_resource(r)) {
        (Some(verb), Some(_)) => format!(" (`{verb}` {})", object_text(r)),
        (None, Some(_)) => format!(" ({})", object_text(r)),
        _ => String::new(),
    };
    Words {
        summary: format!("{who} may not grant permissions it does not hold{what}"),
        cause: "RBAC escalation prevention: a role or binding can only grant permissions its creator holds, \
                unless the creator has `escalate` (roles) or `bind` (bindings)"
            .into(),
        notes: not_held
            .iter()
            .map(|rule| format!("not held: {rule}"))
            .chain(near_miss.into_iter().flat_map(|near| {
                let (cause, notes) = super::near_miss::words(near);
                std::iter::once(format!("`escalate` would allow it: {cause}")).chain(notes)
            }))
            .collect(),
    }
}

fn with_detail(text: String, detail: Option<&str>) -> String {
    match detail {
        Some(w) => format!("{text}: {w}"),
        None => text,
    }
}

fn admission(d: &Diagnosis, by: &Admitter, detail: Option<&str>) -> Words {
    let r = &d.request;
    let what = object_text(r);
    let scope = super::in_namespace(r);
    let (who, cause) = match by {
        Admitter::Webhook { name } => (
            format!("admission webhook `{name}`"),
            with_detail(
                format!("the request was authorized, then the admission webhook `{name}` refused it"),
                detail,
            ),
        ),
        Admitter::Policy { name, binding } => (
            format!("ValidatingAdmissionPolicy `{name}`"),
            with_detail(
                format!(
                    "the request was authorized, then the ValidatingAdmissionPolicy `{name}` (binding \
                     `{binding}`) refused it"
                ),
                detail,
            ),
        ),
        Admitter::PodSecurity { level } => (
            format!("Pod Security admission (`{level}`)"),
            with_detail(
                format!("the pod violates the namespace's Pod Security level `{level}`"),
                detail,
            ),
        ),
        Admitter::Quota { name } => (
            format!("ResourceQuota `{name}`"),
            with_detail(
                format!("creating it would exceed the namespace's ResourceQuota `{name}`"),
                detail,
            ),
        ),
        Admitter::NamespaceTerminating => (
            "namespace lifecycle admission".into(),
            "the namespace is being deleted: nothing new can be created in it".into(),
        ),
        Admitter::Other => (
            "an admission plugin".into(),
            with_detail(
                "the request was refused by admission, not by authorization (the message names no `User ... \
                 cannot`)"
                    .into(),
                detail,
            ),
        ),
    };
    let mut notes = vec![
        "\"is forbidden\" in this message does not make it RBAC: more permissions will not help"
            .to_string(),
    ];
    if matches!(by, Admitter::Policy { .. }) && d.code == Some(403) {
        notes.push(
            "the policy's validation sets the reason `Forbidden`, so this 403 looks like an RBAC denial; it is not"
                .into(),
        );
    }
    Words {
        summary: match &r.verb {
            Some(v) => format!("{who} denied `{v}` of {what}{scope}"),
            None => format!("{who} denied a request for {what}{scope}"),
        },
        cause,
        notes,
    }
}

fn webhook_unreachable(
    d: &Diagnosis,
    webhook: &str,
    service: Option<&str>,
    detail: Option<&str>,
    conversion: Option<&str>,
) -> Words {
    let r = &d.request;
    let request = match &r.verb {
        Some(v) => format!(" for `{v}` of {}", object_text(r)),
        None => String::new(),
    };
    let behind = service
        .map(|s| format!(" (its Service `{s}`)"))
        .unwrap_or_default();
    let failed = detail.map(|d| format!(" ({d})")).unwrap_or_default();
    if let Some(kind) = conversion {
        return Words {
            summary: format!("the conversion webhook of `{kind}` could not be called{request}"),
            cause: format!(
                "the API server could not call the CustomResourceDefinition's conversion webhook{behind}{failed} \
                 to convert the stored objects to the version asked for: the webhook is down or unreachable; \
                 nothing is wrong with the request"
            ),
            notes: vec![
                "every request for this kind in a version other than the stored one fails until the webhook \
                 answers again (watchers and controllers of it see no objects)"
                    .into(),
            ],
        };
    }
    Words {
        summary: format!("the admission webhook `{webhook}` could not be called{request}"),
        cause: format!(
            "the API server could not call the webhook{behind}{failed}: the webhook is down or unreachable; \
             nothing is wrong with the request's object"
        ),
        notes: vec![
            "with `failurePolicy: Fail` every request the webhook matches fails until it answers again".into(),
        ],
    }
}
