//! The Kubernetes vocabulary every layer shares, so that one fact has one answer: the core resources and the
//! groups of the built-in ones, verbs ([`Verb`], `is_api_verb`), how resources, scopes and subjects are named in
//! a sentence, the groups the API server gives a ServiceAccount, and the `kubectl auth can-i` command.

mod verb;

pub use verb::{ApiVerb, IMPERSONATION_GROUP, ImpersonationMode, UnknownVerb, Verb, is_verb};

use crate::cause::Scope;
use crate::diagnosis::Request;

/// The resources of the core (`""`) API group; anything else asked for in the core group was given the wrong
/// group by the client.
pub const CORE_RESOURCES: [&str; 17] = [
    "bindings",
    "componentstatuses",
    "configmaps",
    "endpoints",
    "events",
    "limitranges",
    "namespaces",
    "nodes",
    "persistentvolumeclaims",
    "persistentvolumes",
    "pods",
    "podtemplates",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "serviceaccounts",
    "services",
];

/// Whether `resource` is in the core group (`*` and an unknown empty name count as core: they name no group).
pub fn is_core_resource(resource: &str) -> bool {
    resource.is_empty() || resource == "*" || CORE_RESOURCES.contains(&resource)
}

/// The group of a well-known built-in resource outside the core group.
pub fn builtin_group(resource: &str) -> Option<&'static str> {
    Some(match resource {
        "deployments" | "replicasets" | "statefulsets" | "daemonsets" | "controllerrevisions" => {
            "apps"
        }
        "jobs" | "cronjobs" => "batch",
        "ingresses" | "ingressclasses" | "networkpolicies" | "ipaddresses" | "servicecidrs" => {
            "networking.k8s.io"
        }
        "roles" | "rolebindings" | "clusterroles" | "clusterrolebindings" => {
            "rbac.authorization.k8s.io"
        }
        "leases" => "coordination.k8s.io",
        "customresourcedefinitions" => "apiextensions.k8s.io",
        "horizontalpodautoscalers" => "autoscaling",
        "poddisruptionbudgets" => "policy",
        "storageclasses"
        | "volumeattachments"
        | "csidrivers"
        | "csinodes"
        | "csistoragecapacities" => "storage.k8s.io",
        "certificatesigningrequests" => "certificates.k8s.io",
        "priorityclasses" => "scheduling.k8s.io",
        "endpointslices" => "discovery.k8s.io",
        "validatingwebhookconfigurations"
        | "mutatingwebhookconfigurations"
        | "validatingadmissionpolicies"
        | "validatingadmissionpolicybindings" => "admissionregistration.k8s.io",
        "tokenreviews" | "selfsubjectreviews" => "authentication.k8s.io",
        "subjectaccessreviews"
        | "selfsubjectaccessreviews"
        | "localsubjectaccessreviews"
        | "selfsubjectrulesreviews" => "authorization.k8s.io",
        "flowschemas" | "prioritylevelconfigurations" => "flowcontrol.apiserver.k8s.io",
        "apiservices" => "apiregistration.k8s.io",
        "runtimeclasses" => "node.k8s.io",
        _ => return None,
    })
}

/// Whether a request asked for a non-core resource in the core group: the client built the URL without the
/// resource's group. The `impersonate` check of `users` and `groups` is in the core group (apiserver
/// `endpoints/filters/impersonation`), not a client's mistake.
pub fn is_wrong_core_group(r: &Request) -> bool {
    let impersonated = r.verb.as_deref() == Some("impersonate")
        && matches!(r.resource.as_deref(), Some("users" | "groups"));
    r.group.as_deref() == Some("")
        && r.path.is_none()
        && !impersonated
        && r.resource
            .as_deref()
            .is_some_and(|res| !is_core_resource(res))
}

/// `documents.kube.rs`, `configmaps`, `documents.kube.rs/status`: how kubectl and kubewhy name a resource.
pub fn resource_name(resource: &str, group: &str, subresource: Option<&str>) -> String {
    let mut out = resource.to_string();
    if !group.is_empty() {
        out.push('.');
        out.push_str(group);
    }
    if let Some(sub) = subresource {
        out.push('/');
        out.push_str(sub);
    }
    out
}

/// The resource a request names (`documents.kube.rs/status`), when it names one.
pub fn request_resource(r: &Request) -> Option<String> {
    let res = r.resource.as_deref().filter(|s| !s.is_empty())?;
    Some(resource_name(
        res,
        r.group.as_deref().unwrap_or(""),
        r.subresource.as_deref(),
    ))
}

/// The scope as a phrase: `in namespace `ns``, `in all namespaces`, `at cluster scope`, or nothing.
pub fn scope_phrase(scope: Scope, namespace: Option<&str>) -> Option<String> {
    match (scope, namespace) {
        (_, Some(ns)) => Some(format!("in namespace `{ns}`")),
        (Scope::AllNamespaces, None) => Some("in all namespaces".into()),
        (Scope::Cluster | Scope::ClusterScoped, None) => Some("at cluster scope".into()),
        (Scope::Namespace | Scope::Unknown, None) => None,
    }
}

/// The ServiceAccount a user name names: `system:serviceaccount:<namespace>:<name>`.
pub fn service_account(user: &str) -> Option<(&str, &str)> {
    let rest = user.strip_prefix("system:serviceaccount:")?;
    let (namespace, name) = rest.split_once(':')?;
    (!namespace.is_empty() && !name.is_empty() && !name.contains(':')).then_some((namespace, name))
}

/// How a subject is named in a sentence: ``service account `ns/name` ``, ``user `alice` ``, `anonymous
/// requests`, or `the client` when the failure names nobody.
pub fn subject_phrase(user: Option<&str>) -> String {
    match user {
        None => "the client".to_string(),
        Some(u) if u.is_empty() || u == "system:anonymous" => "anonymous requests".to_string(),
        Some(u) => match service_account(u) {
            Some((ns, name)) => format!("service account `{ns}/{name}`"),
            None => format!("user `{u}`"),
        },
    }
}

/// How a checked identity is named to the person running the check: [`subject_phrase`], or `you` when it is the
/// caller whose name is unknown (an empty user name).
pub fn subject_or_you(user: &str) -> String {
    if user.is_empty() {
        "you".into()
    } else {
        subject_phrase(Some(user))
    }
}

/// The groups the API server gives a user it authenticates or impersonates when none are named
/// (kubernetes/apiserver `filters/impersonation`, `serviceaccount.MakeGroupNames`): a ServiceAccount gets
/// `system:serviceaccounts` and `system:serviceaccounts:<namespace>`; every user but `system:anonymous` gets
/// `system:authenticated`. Named groups are kept, and `system:authenticated` added unless a special group is named.
pub fn groups_of(user: &str, named: &[String]) -> Vec<String> {
    let mut groups: Vec<String> = named.to_vec();
    if groups.is_empty()
        && let Some((namespace, _)) = service_account(user)
    {
        groups.push("system:serviceaccounts".into());
        groups.push(format!("system:serviceaccounts:{namespace}"));
    }
    let special = ["system:authenticated", "system:unauthenticated"];
    if user != "system:anonymous" && !groups.iter().any(|g| special.contains(&g.as_str())) {
        groups.push("system:authenticated".into());
    }
    groups
}

/// The `kubectl auth can-i` command that asks about a request: `verb resource[.group]`, `--subresource`, the
/// namespace (`-n ns`, or `--all-namespaces` unless the type is cluster-scoped), and `--as`/`--as-group` for
/// another identity (groups the API server adds itself, `system:*`, are left out). `None` without a verb, or
/// without a resource or path.
pub fn can_i(
    r: &Request,
    scope: Scope,
    as_user: Option<&str>,
    as_groups: &[String],
) -> Option<String> {
    let verb = r.verb.as_deref()?;
    let mut cmd = format!("kubectl auth can-i {verb} ");
    if let Some(path) = &r.path {
        cmd.push_str(path);
    } else {
        let res = r.resource.as_deref().filter(|s| !s.is_empty())?;
        cmd.push_str(&resource_name(res, r.group.as_deref().unwrap_or(""), None));
        if let Some(sub) = &r.subresource {
            cmd.push_str(&format!(" --subresource={sub}"));
        }
        match (&r.namespace, scope) {
            (Some(ns), _) => cmd.push_str(&format!(" -n {ns}")),
            (None, Scope::ClusterScoped) => {}
            (None, _) => cmd.push_str(" --all-namespaces"),
        }
    }
    if let Some(user) = as_user.filter(|u| !u.is_empty()) {
        cmd.push_str(&format!(" --as={user}"));
        for g in as_groups.iter().filter(|g| !g.starts_with("system:")) {
            cmd.push_str(&format!(" --as-group={g}"));
        }
    }
    Some(cmd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_accounts_get_their_groups_and_everyone_is_authenticated() {
        assert_eq!(
            groups_of("system:serviceaccount:ns1:ctl", &[]),
            [
                "system:serviceaccounts",
                "system:serviceaccounts:ns1",
                "system:authenticated"
            ]
        );
        assert_eq!(
            groups_of("bob", &["dev-team".into()]),
            ["dev-team", "system:authenticated"]
        );
        assert_eq!(groups_of("alice", &[]), ["system:authenticated"]);
        assert!(groups_of("system:anonymous", &[]).is_empty());
        assert_eq!(service_account("system:serviceaccount:broken"), None);
    }

    #[test]
    fn subjects_and_scopes_read_as_phrases() {
        assert_eq!(
            subject_phrase(Some("system:serviceaccount:a:b")),
            "service account `a/b`"
        );
        assert_eq!(subject_phrase(Some("alice")), "user `alice`");
        assert_eq!(
            subject_phrase(Some("system:anonymous")),
            "anonymous requests"
        );
        assert_eq!(subject_phrase(None), "the client");
        assert_eq!(
            scope_phrase(Scope::Unknown, Some("x")).as_deref(),
            Some("in namespace `x`")
        );
        assert_eq!(scope_phrase(Scope::Unknown, None), None);
    }

    #[test]
    fn can_i_names_the_scope_the_subresource_and_the_identity() {
        let r = Request {
            verb: Some("patch".into()),
            group: Some("kube.rs".into()),
            resource: Some("documents".into()),
            subresource: Some("status".into()),
            ..Request::default()
        };
        assert_eq!(
            can_i(
                &r,
                Scope::AllNamespaces,
                Some("system:serviceaccount:a:b"),
                &[]
            )
            .unwrap(),
            "kubectl auth can-i patch documents.kube.rs --subresource=status --all-namespaces \
             --as=system:serviceaccount:a:b"
        );
        let nodes = Request {
            verb: Some("list".into()),
            group: Some(String::new()),
            resource: Some("nodes".into()),
            ..Request::default()
        };
        assert_eq!(
            can_i(
                &nodes,
                Scope::ClusterScoped,
                Some("bob"),
                &["dev".into(), "system:authenticated".into()]
            )
            .unwrap(),
            "kubectl auth can-i list nodes --as=bob --as-group=dev"
        );
        assert_eq!(can_i(&Request::default(), Scope::Unknown, None, &[]), None);
    }

    #[test]
    fn only_non_core_resources_in_the_core_group_are_wrong() {
        let mut r = Request {
            group: Some(String::new()),
            resource: Some("documents".into()),
            ..Request::default()
        };
        assert!(is_wrong_core_group(&r));
        r.resource = Some("pods".into());
        assert!(!is_wrong_core_group(&r));
        r.resource = Some("*".into());
        assert!(!is_wrong_core_group(&r));
        // Impersonating a user or group is checked in the core group.
        r.resource = Some("users".into());
        assert!(is_wrong_core_group(&r));
        r.verb = Some("impersonate".into());
        assert!(!is_wrong_core_group(&r));
    }
}
