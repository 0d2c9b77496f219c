//! Remedies: for each class, the next step in words, the commands that confirm the cause or apply the fix, and
//! a manifest when there is one to apply (RBAC comes only from [`crate::rbac::generate`], through [`rbac`]).

pub mod rbac;

use crate::classify::{builtin_group, is_wrong_core_group, resource_text};
use crate::diagnosis::{Class, Diagnosis, Remedy};
use crate::read::message::{Admission, Facts, Said};

/// `kubectl auth can-i` for the denied request.
pub(crate) fn can_i(d: &Diagnosis) -> Option<String> {
    let r = &d.request;
    let verb = r.verb.as_deref()?;
    let mut cmd = format!("kubectl auth can-i {verb} ");
    if let Some(path) = &r.path {
        cmd.push_str(path);
    } else {
        let res = r.resource.as_deref()?;
        cmd.push_str(res);
        if let Some(g) = r.group.as_deref().filter(|g| !g.is_empty()) {
            cmd.push('.');
            cmd.push_str(g);
        }
        if let Some(sub) = &r.subresource {
            cmd.push_str(&format!(" --subresource={sub}"));
        }
        match &r.namespace {
            Some(ns) => cmd.push_str(&format!(" -n {ns}")),
            None => cmd.push_str(" --all-namespaces"),
        }
    }
    if let Some(user) = &d.user {
        cmd.push_str(&format!(" --as={user}"));
    }
    Some(cmd)
}

/// The remedy for a classified diagnosis.
pub(crate) fn remedy_for(d: &Diagnosis, facts: &Facts) -> Remedy {
    let r = &d.request;
    let res = resource_text(r);
    let mut m = Remedy::default();
    match d.class {
        Class::Forbidden => forbidden(d, facts, &mut m),
        Class::AdmissionDenied => match &facts.admission {
            Some(Admission::Webhook { name }) => {
                m.text = format!(
                    "change the request to satisfy the webhook `{name}`, or ask its owners; RBAC changes will \
                         not help"
                );
                m.commands.push(
                        "kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations -o yaml".into(),
                    );
            }
            Some(Admission::Policy { name, binding }) => {
                m.text = format!(
                    "change the request to satisfy the policy `{name}` (its CEL validations), or change the \
                         policy or its binding `{binding}`"
                );
                m.commands.push(format!(
                    "kubectl get validatingadmissionpolicy {name} -o yaml"
                ));
                m.commands.push(format!(
                    "kubectl get validatingadmissionpolicybinding {binding} -o yaml"
                ));
            }
            Some(Admission::PodSecurity { .. }) => {
                m.text = "set the pod's securityContext to meet the level (runAsNonRoot, no privilege \
                              escalation, dropped capabilities, seccompProfile), or relabel the namespace"
                        .into();
                if let Some(ns) = &r.namespace {
                    m.commands
                        .push(format!("kubectl get namespace {ns} --show-labels"));
                }
            }
            Some(Admission::Quota { name }) => {
                m.text = format!("free capacity or raise the ResourceQuota `{name}`");
                m.commands.push(format!(
                    "kubectl describe resourcequota {name}{}",
                    r.namespace
                        .as_deref()
                        .map(|n| format!(" -n {n}"))
                        .unwrap_or_default()
                ));
            }
            Some(Admission::NamespaceTerminating) => {
                m.text = "wait for the namespace to finish deleting and recreate it, or use another namespace".into();
                if let Some(ns) = &r.namespace {
                    m.commands
                        .push(format!("kubectl get namespace {ns} -o yaml"));
                }
            }
            Some(Admission::Other) | None => {
                m.text = "read the admission plugin's reason in the message and change the request to satisfy \
                              it; RBAC changes will not help"
                        .into();
            }
        },
        Class::Unauthorized => {
            m.text = "give the client valid credentials: refresh or re-issue the token (ServiceAccount tokens are \
                      bound to the pod and expire), check the kubeconfig user, or the exec/auth plugin"
                .into();
            m.commands.push("kubectl auth whoami".into());
            m.commands.push("kubectl config view --minify".into());
        }
        Class::ResourceNotFound => not_served(d, &mut m),
        Class::ObjectNotFound => {
            if r.resource.as_deref() == Some("namespaces") {
                m.text = "create the namespace first, or use one that exists".into();
                m.commands.push("kubectl get namespaces".into());
            } else {
                m.text = "check the name and namespace; if the object is expected to be absent, treat 404 \
                          `NotFound` as a normal answer (kube-rs: `Api::get_opt`)"
                    .into();
                if let Some(t) = &res {
                    m.commands.push(format!("kubectl get {t} --all-namespaces"));
                }
            }
        }
        Class::InvalidRequest => {
            m.text = if facts.fields.iter().any(|f| f == "resourceVersionMatch") {
                "drop `resourceVersionMatch` from the watch, or make it a streaming list (`sendInitialEvents=true` \
                 with `resourceVersionMatch=NotOlderThan`); with kube-rs use `watcher::Config::default()` or \
                 `.streaming_lists()` rather than hand-written watch parameters"
                    .into()
            } else if d.code == Some(405) {
                "use a verb the resource supports (see the VERBS column of `kubectl api-resources -o wide`)".into()
            } else {
                "fix the request's parameters named in the message".into()
            };
            m.commands.push("kubectl api-resources -o wide".into());
        }
        Class::InvalidObject => {
            m.text = "fix the fields the message names and send the object again".into();
            if let Some(kind) = &r.kind {
                m.commands
                    .push(format!("kubectl explain {}", kind.to_ascii_lowercase()));
            }
        }
        Class::Conflict => {
            m.text = if facts.manager.is_some() {
                "if this manager should own those fields, apply with force (kube-rs `PatchParams::apply(..).force()`); \
                 otherwise stop setting them"
                    .into()
            } else {
                "read the object again and retry the change on the latest version (or use server-side apply, \
                 which needs no resourceVersion); retrying is normal for controllers"
                    .into()
            };
        }
        Class::AlreadyExists => {
            m.text = "treat 409 `AlreadyExists` as success when creating idempotently, or use server-side apply \
                      (`Patch::Apply`) instead of create"
                .into();
        }
        Class::Expired => {
            m.text = "nothing to do for a watcher (it relists); otherwise list again and continue from the new \
                      resourceVersion"
                .into();
        }
        Class::Throttled => {
            m.text = if facts.said == Some(Said::ClientThrottled) {
                "raise the client's QPS/Burst if the delays matter, or make fewer requests (use informers/watches \
                 rather than polling)"
                    .into()
            } else {
                "retry after the server's Retry-After (kube-rs's default retry policy does); make fewer requests, \
                 or give the client its own FlowSchema and priority level"
                    .into()
            };
            m.commands
                .push("kubectl get flowschemas,prioritylevelconfigurations".into());
        }
        Class::ServerError => {
            m.text = "retry with back-off; if it persists, check the API server's health and, for 503, the \
                      aggregated APIs"
                .into();
            m.commands
                .push("kubectl get --raw '/readyz?verbose'".into());
            m.commands.push("kubectl get apiservices".into());
        }
        Class::Timeout => {
            m.text = "retry with back-off; use smaller pages for large lists; check the API server's load and the \
                      network path"
                .into();
            m.commands
                .push("kubectl get --raw '/readyz?verbose'".into());
        }
        Class::Connection => {
            m.text = "check the server address and port the client uses, that the API server is running, and \
                      DNS and network policy between them"
                .into();
            m.commands.push("kubectl config view --minify".into());
            m.commands.push("kubectl cluster-info".into());
        }
        Class::Tls => {
            m.text = "give the client the CA that signed the server's certificate (kubeconfig \
                      `certificate-authority-data`, or the in-cluster `ca.crt`), and connect by a name the \
                      certificate lists"
                .into();
            m.commands.push("kubectl config view --minify --raw".into());
        }
        Class::Unknown => {
            m.text = "read the message; run with `RUST_LOG=kube=debug` (kube-rs) or `-v=6` (kubectl) to see the \
                      request and the full answer"
                .into();
        }
    }
    m
}

fn forbidden(d: &Diagnosis, facts: &Facts, m: &mut Remedy) {
    let r = &d.request;
    if facts.said == Some(Said::Escalation) {
        m.text = "let a cluster admin create the role or binding, or grant the creator the permissions it tries \
                  to hand out — or the `escalate` verb on roles/clusterroles (for roles) or `bind` (for bindings)"
            .into();
        if let Some(user) = &d.user {
            m.commands
                .push(format!("kubectl auth can-i --list --as={user}"));
        }
        return;
    }
    if let Some((cluster, role)) = &facts.missing_role {
        m.commands.push(format!(
            "kubectl get {} {role}",
            if *cluster { "clusterrole" } else { "role" }
        ));
    }
    let wrong_group = is_wrong_core_group(r);
    let grant = rbac::grant(d);
    if let Some(g) = &grant {
        match rbac::single_yaml(g) {
            Ok(yaml) => m.yaml = Some(yaml),
            Err(e) => m.text = format!("(the RBAC manifest could not be rendered: {e}) "),
        }
    }
    let scope_words = if r.path.is_some() || r.namespace.is_none() {
        "a ClusterRole and ClusterRoleBinding"
    } else {
        "a Role and RoleBinding"
    };
    let subject_kind = match d.user.as_deref().map(crate::rbac::Subject::from_username) {
        Some(crate::rbac::Subject::ServiceAccount { .. }) => "the service account",
        _ => "the user",
    };
    if wrong_group {
        let res = r.resource.as_deref().unwrap_or_default();
        match builtin_group(res) {
            Some(g) => {
                m.text.push_str(&format!(
                    "fix the client to request `{res}` in group `{g}` (kube-rs: use the `k8s-openapi` type, or an \
                     `ApiResource` with group `{g}`); then grant the verb there with {scope_words} bound to \
                     {subject_kind} (below)"
                ));
            }
            None => {
                m.text.push_str(&format!(
                    "fix the client to request `{res}` in its real API group (kube-rs: `#[kube(group = \"...\")]` or \
                     `ApiResource::from_gvk` with the right group, not an empty one); then grant the verb in that \
                     group — `kubewhy explain --live` finds the group and writes the RBAC"
                ));
            }
        }
        m.commands
            .push(format!("kubectl api-resources | grep -w {res}"));
    } else if m.yaml.is_some() {
        m.text.push_str(&format!(
            "grant exactly this verb with {scope_words} bound to {subject_kind} (apply with `kubectl apply -f -`)"
        ));
        if facts.missing_role.is_some() {
            m.text
                .push_str(", or create the missing role the existing binding refers to");
        }
    } else {
        m.text
            .push_str("grant the denied verb to the subject with a Role/ClusterRole and a binding");
    }
    // kubectl resolves the name through discovery, so `can-i` cannot ask about the core group of a wrong URL.
    if !wrong_group && let Some(cmd) = can_i(d) {
        m.commands.push(cmd);
    }
}

fn not_served(d: &Diagnosis, m: &mut Remedy) {
    let r = &d.request;
    let res = r
        .resource
        .clone()
        .or_else(|| r.kind.clone().map(|k| k.to_ascii_lowercase()));
    let group = r.group.clone().filter(|g| !g.is_empty());
    let mut steps = Vec::new();
    if is_wrong_core_group(r) {
        let name = r.resource.as_deref().unwrap_or_default();
        steps.push(format!(
            "the client asked for `{name}` in the core group: fix the group in the code{}",
            builtin_group(name)
                .map(|g| format!(" (it is `{g}`)"))
                .unwrap_or_default()
        ));
    }
    match (&res, &group) {
        (Some(res), Some(g)) => {
            steps.push(format!(
                "the CRD is not installed or not yet Established: `kubectl get crd {res}.{g}`"
            ));
            steps.push(format!(
                "the group or version is wrong: `kubectl api-resources --api-group={g}` lists what the group serves"
            ));
            steps.push(format!(
                "the name is misspelled (plural, singular, kind and short names differ): `kubectl api-resources | grep -i {}`",
                res.trim_end_matches('s')
            ));
            m.commands.push(format!("kubectl get crd {res}.{g}"));
            m.commands
                .push(format!("kubectl api-resources --api-group={g}"));
        }
        (Some(res), None) => {
            steps.push(format!(
                "the name or group is wrong, or the CRD is missing: `kubectl api-resources | grep -i {}`",
                res.trim_end_matches('s')
            ));
            m.commands.push("kubectl api-resources".into());
        }
        (None, _) => {
            steps.push(
                "the CRD is not installed: `kubectl get crds` (install it before starting the program)".into(),
            );
            steps.push(
                "the group, version or plural in the code is wrong: compare with `kubectl api-resources`".into(),
            );
            m.commands.push("kubectl get crds".into());
            m.commands.push("kubectl api-resources".into());
        }
    }
    steps.push("an aggregated API is unavailable: `kubectl get apiservices` shows `False`".into());
    m.text = format!(
        "likely causes, in order:\n{}",
        steps
            .iter()
            .enumerate()
            .map(|(i, s)| format!("  {}. {s}", i + 1))
            .collect::<Vec<_>>()
            .join("\n")
    );
    m.commands.push("kubectl get apiservices".into());
}
