//! Fixes of access failures: authorizer denials (the minimal RBAC, or the edit of the rule that comes closest),
//! escalation prevention, admission (webhooks, ValidatingAdmissionPolicy, Pod Security, quota), an unreachable
//! webhook, credentials.

use super::{Manifest, Remedy, near_miss, rbac};
use crate::cause::{Admitter, Cause, Denial};
use crate::diagnosis::{Diagnosis, Request};
use crate::rbac::Subject;
use crate::vocab::{builtin_group, can_i};

pub(super) fn remedy(d: &Diagnosis) -> (Remedy, Manifest<'_>) {
    let r = &d.request;
    let m = match &d.cause {
    Cause::Denied(denial) => return denied(d, denial),
    Cause::Escalation { near_miss, .. } => {
        let mut m = Remedy::new(
            "let a cluster admin create the role or binding, or grant the creator the permissions it tries \
             to hand out — or the `escalate` verb on roles/clusterroles (for roles) or `bind` (for \
             bindings)",
        );
        let mut manifest = Manifest::None;
        if let Some((edit, object)) = near_miss
            .as_ref()
            .and_then(|n| n.fix.as_ref())
            .and_then(near_miss::remedy)
        {
            // `escalate` lets the creator grant anything in its scope: the narrower fix comes first.
            m.text.push_str(&format!(
                "; for `escalate`: {} (it lets the creator grant any permission in its scope)",
                edit.text
            ));
            manifest = object;
            m.commands.extend(edit.commands);
        }
        if let Some(user) = &d.user {
            m.commands
                .push(format!("kubectl auth can-i --list --as={user}"));
        }
        return (m, manifest);
    }
    Cause::Admission { by, .. } => admission(r, by),
    Cause::WebhookUnreachable {
        service,
        conversion,
        ..
    } => {
        let mut m = match conversion {
            Some(kind) => Remedy::new(
                "bring the conversion webhook back (its Service needs a ready endpoint and must live where the \
                 CustomResourceDefinition's `spec.conversion.webhook.clientConfig` says), or ask for the stored \
                 version; the request and RBAC are not the problem",
            )
            .command(format!(
                "kubectl get crd -o jsonpath='{{range .items[?(@.spec.names.kind==\"{}\")]}}{{.spec.conversion}}{{\"\\n\"}}{{end}}'",
                kind.split('.').next().unwrap_or(kind)
            )),
            None => Remedy::new(
                "bring the webhook back (its Service needs a ready endpoint), or — if skipping it is safe — \
                 set its `failurePolicy: Ignore`; the request and RBAC are not the problem",
            )
            .command(
                "kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations -o yaml",
            ),
        };
        if let Some((ns, name)) = service.as_deref().and_then(|s| s.split_once('/')) {
            m.commands.push(format!(
                "kubectl get endpointslices -n {ns} -l kubernetes.io/service-name={name}"
            ));
        }
        m
    }
    Cause::Unauthenticated { .. } => Remedy::new(
        "give the client valid credentials: refresh or re-issue the token (ServiceAccount tokens are bound \
         to the pod and expire), check the kubeconfig user, or the exec/auth plugin",
    )
    .command("kubectl auth whoami")
    .command("kubectl config view --minify"),
    Cause::CredentialsUnavailable => Remedy::new(
        "check the kubeconfig's user entry: the token file it names, its exec plugin (run it by hand) or \
         its auth provider",
    )
    .command("kubectl config view --minify"),
        _ => unreachable!("remedy::access is given access causes only"),
    };
    (m, Manifest::None)
}

fn admission(r: &Request, by: &Admitter) -> Remedy {
    let in_ns = |cmd: String| match &r.namespace {
        Some(ns) => format!("{cmd} -n {ns}"),
        None => cmd,
    };
    match by {
        Admitter::Webhook { name } => Remedy::new(format!(
            "change the request to satisfy the webhook `{name}`, or ask its owners; RBAC changes will not help"
        ))
        .command("kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations -o yaml"),
        Admitter::Policy { name, binding } => Remedy::new(format!(
            "change the request to satisfy the policy `{name}` (its CEL validations), or change the policy or its \
             binding `{binding}`"
        ))
        .command(format!("kubectl get validatingadmissionpolicy {name} -o yaml"))
        .command(format!(
            "kubectl get validatingadmissionpolicybinding {binding} -o yaml"
        )),
        Admitter::PodSecurity { .. } => {
            let mut m = Remedy::new(
                "set the pod's securityContext to meet the level (runAsNonRoot, no privilege escalation, dropped \
                 capabilities, seccompProfile), or relabel the namespace",
            );
            if let Some(ns) = &r.namespace {
                m.commands
                    .push(format!("kubectl get namespace {ns} --show-labels"));
            }
            m
        }
        Admitter::Quota { name } => {
            Remedy::new(format!("free capacity or raise the ResourceQuota `{name}`"))
                .command(in_ns(format!("kubectl describe resourcequota {name}")))
        }
        Admitter::NamespaceTerminating => {
            let mut m = Remedy::new(
                "wait for the namespace to finish deleting and recreate it, or use another namespace",
            );
            if let Some(ns) = &r.namespace {
                m.commands.push(format!("kubectl get namespace {ns} -o yaml"));
            }
            m
        }
        Admitter::Other => Remedy::new(
            "read the admission plugin's reason in the message and change the request to satisfy it; RBAC changes \
             will not help",
        ),
    }
}

fn denied<'a>(d: &'a Diagnosis, denial: &'a Denial) -> (Remedy, Manifest<'a>) {
    let r = &d.request;
    let as_user = d.user.as_deref().filter(|_| !denial.caller);
    let fix = denial.near_miss.as_ref().and_then(|n| n.fix.as_ref());
    if !denial.wrong_core_group
        && let Some((mut m, manifest)) = fix.and_then(near_miss::remedy)
    {
        if let Some(cmd) = can_i(r, denial.scope, as_user, &d.groups) {
            m.commands.push(cmd);
        }
        return (m, manifest);
    }
    let mut m = Remedy::default();
    if denial.near_miss.is_some() {
        // The advisor looked at every binding: nothing that exists comes close enough to edit.
        m.text.push_str("nothing that exists comes close: ");
    }
    if let Some(role) = &denial.missing_role {
        m.commands.push(format!(
            "kubectl get {} {}",
            if role.cluster { "clusterrole" } else { "role" },
            role.name
        ));
    }
    // The manifest is written when the whole remedy is asked for (`Manifest::write_into`): the words only need
    // to know there is one.
    let grants = rbac::grants(d);
    let has_manifest = !grants.is_empty();
    let scope_words = if r.path.is_some() || r.namespace.is_none() {
        "a ClusterRole and ClusterRoleBinding"
    } else {
        "a Role and RoleBinding"
    };
    let subject_kind = match d.user.as_deref().map(Subject::from_username) {
        Some(Subject::ServiceAccount { .. }) => "the service account",
        _ => "the user",
    };
    let res = r.resource.as_deref().unwrap_or_default();
    if denial.wrong_core_group {
        match denial.real_group.as_deref().or_else(|| builtin_group(res)) {
            Some(g) => m.text.push_str(&format!(
                "fix the client to request `{res}` in group `{g}` (kube-rs: use the `k8s-openapi` type, or an \
                 `ApiResource` with group `{g}`); then grant the verb there with {scope_words} bound to \
                 {subject_kind}"
            )),
            None => m.text.push_str(&format!(
                "fix the client to request `{res}` in its real API group (kube-rs: `#[kube(group = \"...\")]` or \
                 `ApiResource::from_gvk` with the right group, not an empty one); then grant the verb in that \
                 group — a live check against the cluster finds the group and writes the RBAC"
            )),
        }
        m.summary = format!("fix the client to request `{res}` in its real API group");
        m.commands
            .push(format!("kubectl api-resources | grep -w {res}"));
        return (m, manifest(grants));
    }
    if grants.len() > 1 && grants.iter().any(|g| !g.permission.verb.is_api_verb()) {
        m.text.push_str(&format!(
            "grant both rules of constrained impersonation to {subject_kind}: the action on the target and \
             whom it may impersonate (narrow the second with `resourceNames`)"
        ));
    } else if has_manifest {
        m.text.push_str(&format!(
            "grant exactly this verb with {scope_words} bound to {subject_kind}"
        ));
        if denial.missing_role.is_some() {
            m.text
                .push_str(", or create the missing role the existing binding refers to");
        }
    } else {
        m.text
            .push_str("grant the denied verb to the subject with a Role/ClusterRole and a binding");
    }
    m.summary = m.text.clone();
    if let Some(cmd) = can_i(r, denial.scope, as_user, &d.groups) {
        m.commands.push(cmd);
    }
    (m, manifest(grants))
}

/// The manifest of `grants`: none when there are none.
fn manifest<'a>(grants: Vec<rbac::Grant>) -> Manifest<'a> {
    if grants.is_empty() {
        Manifest::None
    } else {
        Manifest::Grants(grants)
    }
}
