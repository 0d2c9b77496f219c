//! Remedies: from a [`Diagnosis`] alone — its cause, request and notes, never the message it was read from — to
//! what to do: one line for logs, the next step in words, the commands that confirm the cause or apply the fix,
//! and a manifest when there is one (RBAC comes only from [`crate::rbac::generate`], through [`rbac`]).

mod near_miss;
pub mod rbac;

use serde::{Deserialize, Serialize};

use crate::cause::{
    Absence, Admitter, Cause, ConnectionFailure, CrdState, Denial, NotServed, TlsFailure,
};
use crate::describe::served::{core_group_twin, declared_needs};
use crate::diagnosis::{Diagnosis, Request};
use crate::rbac::Subject;
use crate::vocab::{builtin_group, can_i, request_resource, resource_name};

/// What to do about a failure.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remedy {
    /// The next step in one line (what a log line's `help:` says).
    pub summary: String,
    /// The next step in words (may span lines; the summary when it says it all).
    pub text: String,
    /// A manifest to apply (`kubectl apply -f -`), when there is one.
    pub yaml: Option<String>,
    /// Commands that confirm the cause or apply the fix, in order.
    #[serde(default)]
    pub commands: Vec<String>,
}

impl Remedy {
    fn new(text: impl Into<String>) -> Remedy {
        let text = text.into();
        Remedy {
            summary: text.clone(),
            text,
            ..Remedy::default()
        }
    }

    fn command(mut self, c: impl Into<String>) -> Remedy {
        self.commands.push(c.into());
        self
    }
}

impl Diagnosis {
    /// What to do about it, derived from the diagnosis alone.
    pub fn remedy(&self) -> Remedy {
        let r = &self.request;
        match &self.cause {
            Cause::Denied(denial) => denied(self, denial),
            // The program knows what to do about its own failures; kubewhy adds nothing.
            Cause::Application(a) => Remedy::new(a.help.clone().unwrap_or_default()),
            Cause::Escalation { near_miss, .. } => {
                let mut m = Remedy::new(
                    "let a cluster admin create the role or binding, or grant the creator the permissions it tries \
                     to hand out — or the `escalate` verb on roles/clusterroles (for roles) or `bind` (for \
                     bindings)",
                );
                if let Some(edit) = near_miss
                    .as_ref()
                    .and_then(|n| n.fix.as_ref())
                    .and_then(near_miss::remedy)
                {
                    // `escalate` lets the creator grant anything in its scope: the narrower fix comes first.
                    m.text.push_str(&format!(
                        "; for `escalate`: {} (it lets the creator grant any permission in its scope)",
                        edit.text
                    ));
                    m.yaml = edit.yaml;
                    m.commands.extend(edit.commands);
                }
                if let Some(user) = &self.user {
                    m.commands
                        .push(format!("kubectl auth can-i --list --as={user}"));
                }
                m
            }
            Cause::Admission { by, .. } => admission(r, by),
            Cause::WebhookUnreachable { service, .. } => {
                let mut m = Remedy::new(
                    "bring the webhook back (its Service needs a ready endpoint), or — if skipping it is safe — \
                     set its `failurePolicy: Ignore`; the request and RBAC are not the problem",
                )
                .command(
                    "kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations -o yaml",
                );
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
            Cause::NotServed(ns) => not_served(self, ns),
            Cause::NoSubresource { .. } => {
                let name = resource_name(
                    r.resource.as_deref().unwrap_or_default(),
                    r.group.as_deref().unwrap_or(""),
                    None,
                );
                let group = r.group.as_deref().unwrap_or("");
                let sub = r.subresource.as_deref().unwrap_or("?");
                let elsewhere = match declared_needs(self) {
                    Some(needs) => format!("correct the subresource of {needs} in the needs file"),
                    None => "request a subresource it serves".into(),
                };
                if group.contains('.') && !group.ends_with(".k8s.io") {
                    Remedy::new(format!(
                        "if `{name}` is a CRD, enable the subresource in its version `{}` (`subresources: \
                         {{{sub}: {{}}}}`) and reinstall it; otherwise {}",
                        r.version.as_deref().unwrap_or("?"),
                        elsewhere
                    ))
                } else {
                    Remedy::new(elsewhere)
                }
            }
            Cause::ObjectMissing => {
                if r.resource.as_deref() == Some("namespaces") {
                    Remedy::new("create the namespace first, or use one that exists")
                        .command("kubectl get namespaces")
                } else {
                    let mut m = Remedy::new(
                        "check the name and namespace; if the object is expected to be absent, treat 404 \
                         `NotFound` as a normal answer (kube-rs: `Api::get_opt`)",
                    );
                    if let Some(t) = request_resource(r) {
                        m.commands.push(format!("kubectl get {t} --all-namespaces"));
                    }
                    m
                }
            }
            Cause::NotInCache => Remedy::new(
                "nothing to do unless it repeats for objects that exist; then check the watcher's errors (the \
                 cache may not be syncing)",
            ),
            Cause::SubjectMissing => {
                let mut m = Remedy::new(
                    "create it, or check the name the program really runs as (`spec.serviceAccountName` of its \
                     Pod)",
                );
                if let (Some(ns), Some(name)) = (&r.namespace, &r.name) {
                    m.commands
                        .push(format!("kubectl create serviceaccount {name} -n {ns}"));
                }
                m
            }
            Cause::NoAggregatedDiscovery => {
                Remedy::new("run the check against a Kubernetes 1.30 or later API server")
            }
            Cause::Invalid { .. } => {
                let mut m = Remedy::new("fix the fields the message names and send the object again");
                if let Some(kind) = &r.kind {
                    m.commands
                        .push(format!("kubectl explain {}", kind.to_ascii_lowercase()));
                }
                m
            }
            Cause::StalePatch { .. } => Remedy::new(
                "nothing to fix: the reconcile is retried with a fresh read; if it repeats for minutes, the \
                 controller's cache is not keeping up (check its watcher's errors)",
            ),
            Cause::BadOptions { .. } => Remedy::new("fix the request's parameters named in the message")
                .command("kubectl api-resources -o wide"),
            Cause::WatchListDisabled => Remedy::new(
                "drop `streaming_lists()` from the watcher's configuration (kube-rs `watcher::Config::default()` \
                 lists, then watches), or enable the WatchList feature gate on the API server",
            ),
            Cause::ShardingNotServed { .. } => Remedy::new(
                "enable the `ShardedListAndWatch` feature gate on every API server (Kubernetes 1.36+: \
                 `--feature-gates=ShardedListAndWatch=true`), or leave the filtering to the client (doc-controller: \
                 `--shard-filter client`)",
            )
            .command("kubectl get --raw /metrics | grep apiserver_watch_filtered_events_total"),
            Cause::ResourceVersionMatchOnWatch => Remedy::new(
                "drop `resourceVersionMatch` from the watch, or make it a streaming list (`sendInitialEvents=true` \
                 with `resourceVersionMatch=NotOlderThan`); with kube-rs use `watcher::Config::default()` or \
                 `.streaming_lists()` rather than hand-written watch parameters",
            )
            .command("kubectl api-resources -o wide"),
            Cause::BadRequest { .. } => Remedy::new(
                "fix what the message names: a field selector on a field the resource does not index (every \
                 resource supports `metadata.name` and `metadata.namespace`), a malformed body or patch",
            )
            .command("kubectl api-resources -o wide"),
            Cause::VerbUnsupported { verbs, .. } => match declared_needs(self) {
                Some(needs) if !verbs.is_empty() => {
                    Remedy::new(format!("remove those verbs from {needs} in the needs file"))
                }
                _ => Remedy::new(
                    "use a verb the resource supports (see the VERBS column of `kubectl api-resources -o wide`)",
                )
                .command("kubectl api-resources -o wide"),
            },
            Cause::WrongScope {
                declared_namespaced,
            } => Remedy::new(format!(
                "in the needs file, set `namespaced: {}` for {}",
                !declared_namespaced,
                declared_needs(self).unwrap_or_else(|| "the need".into())
            )),
            Cause::NotSent => Remedy::new(
                "check what the client builds: a name a URL cannot hold, a header value with a newline, a body \
                 that does not serialize",
            ),
            Cause::NoResourceVersion => Remedy::new(
                "watch a resource that supports list and watch (see the VERBS column of `kubectl api-resources -o \
                 wide`)",
            )
            .command("kubectl api-resources -o wide"),
            Cause::Modified => Remedy::new(
                "read the object again and retry the change on the latest version (or use server-side apply, which \
                 needs no resourceVersion); retrying is normal for controllers",
            ),
            Cause::ApplyConflict { .. } => Remedy::new(
                "if this manager should own those fields, apply with force (kube-rs \
                 `PatchParams::apply(..).force()`); otherwise stop setting them",
            ),
            Cause::AlreadyExists => Remedy::new(
                "treat 409 `AlreadyExists` as success when creating idempotently, or use server-side apply \
                 (`Patch::Apply`) instead of create",
            ),
            Cause::Expired => Remedy::new(
                "nothing to do for a watcher (it relists); otherwise list again and continue from the new \
                 resourceVersion",
            ),
            Cause::Throttled { .. } => Remedy::new(
                "retry after the server's Retry-After (kube-rs's default retry policy does); make fewer requests, \
                 or give the client its own FlowSchema and priority level",
            )
            .command("kubectl get flowschemas,prioritylevelconfigurations"),
            Cause::ClientThrottled => Remedy::new(
                "raise the client's QPS/Burst if the delays matter, or make fewer requests (use informers/watches \
                 rather than polling)",
            ),
            Cause::Reinitializing { .. } => Remedy::new(
                "nothing to fix: retry after the server's Retry-After (kube-rs's default retry policy does); it \
                 passes once the watch cache is ready, seconds after the API server starts",
            ),
            Cause::ServerFailed | Cause::Unavailable => Remedy::new(
                "retry with back-off; if it persists, check the API server's health and, for 503, the aggregated \
                 APIs",
            )
            .command("kubectl get --raw '/readyz?verbose'")
            .command("kubectl get apiservices"),
            Cause::LeaderChanged => Remedy::new(
                "nothing to fix: retry (kube-rs's watchers and default retry policy do); frequent leader changes \
                 mean etcd is unhealthy (slow disks, a lossy network between its members)",
            ),
            Cause::StorageRead { .. } => Remedy::new(
                "restore the encryption key (KMS provider) the objects were written with, so they decrypt again; \
                 as a last resort delete each unreadable object with the delete option \
                 `ignoreStoreReadErrorWithClusterBreakingPotential` (it skips finalizers and owners: dangerous)",
            )
            .command("kubectl get --raw '/readyz?verbose'"),
            Cause::ServerTimeout | Cause::NoAnswer { .. } => Remedy::new(
                "retry with back-off; use smaller pages for large lists; check the API server's load and the \
                 network path",
            )
            .command("kubectl get --raw '/readyz?verbose'"),
            Cause::HandoverStalled {
                namespace,
                waiting_for,
                ..
            } => Remedy::new(
                "read the log of each member named: its own diagnosis says why it cannot apply the ring (often RBAC: \
                 the ring's Leases need `list`); a member that is gone drops out when its Lease expires",
            )
            .command(format!(
                "kubectl -n {namespace} describe leases {}",
                waiting_for.join(" ")
            )),
            Cause::StalledWatch { .. } => Remedy::new(
                "nothing to do for this one; if it repeats, check the network path to the API server: idle \
                 time-outs of NAT, proxies or load balancers under a minute, VPN reconnects, or an overloaded API \
                 server",
            )
            .command("kubectl get --raw '/readyz?verbose'"),
            Cause::NoInitialEventsEnd { .. } => Remedy::new(
                "use a paged list and watch for this server (kubewhy's `auto` initial list falls back by itself); \
                 check the API server version and any proxy in front of it",
            )
            .command("kubectl version"),
            Cause::CacheSyncTimeout => Remedy::new(
                "find the informer's own error earlier in the log (a `Failed to watch` line: often `forbidden` or \
                 a missing CRD) and fix that",
            ),
            Cause::Connection { failure, .. } => {
                let text = match failure {
                    ConnectionFailure::Dns => {
                        "check the server's host name in the kubeconfig and that it resolves from here"
                    }
                    _ => {
                        "check the server address and port the client uses, that the API server is running, and \
                         DNS and network policy between them"
                    }
                };
                Remedy::new(text)
                    .command("kubectl config view --minify")
                    .command("kubectl cluster-info")
            }
            Cause::Tls { failure } => {
                let text = match failure {
                    TlsFailure::CaNotRoot => {
                        "put the root CA of the server's certificate chain in the kubeconfig's \
                         `certificate-authority-data` (not the server's own certificate or an intermediate)"
                    }
                    TlsFailure::UnknownIssuer => {
                        "give the client the root CA that signed the server's certificate (kubeconfig \
                         `certificate-authority-data`, or the in-cluster `ca.crt`); a leaf or intermediate \
                         certificate there is not enough for kube-rs"
                    }
                    TlsFailure::Expired => {
                        "renew the expired certificate (the server's, or the client's in the kubeconfig)"
                    }
                    TlsFailure::WrongName => {
                        "connect by a name or address the server's certificate lists, or reissue it with that \
                         name"
                    }
                    TlsFailure::Handshake | TlsFailure::Other => {
                        "give the client the CA that signed the server's certificate (kubeconfig \
                         `certificate-authority-data`, or the in-cluster `ca.crt`), and connect by a name the \
                         certificate lists"
                    }
                };
                Remedy::new(text).command("kubectl config view --minify --raw")
            }
            Cause::ProxyUnsupported => Remedy::new(
                "build the client with the proxy's protocol enabled (kube's `socks5` or `http-proxy` feature), \
                 or take the proxy out of the kubeconfig",
            ),
            Cause::NoConfig => Remedy::new(
                "point KUBECONFIG at a kubeconfig (or create ~/.kube/config), or run in a pod with a \
                 ServiceAccount",
            )
            .command("kubectl config view --minify"),
            Cause::Undecodable => Remedy::new(
                "compare the object the server returned with the Rust type it is read into (`kubectl get -o \
                 yaml`); make the field optional or fix the type",
            ),
            Cause::Unknown => Remedy::new(
                "read the message; run with `RUST_LOG=kube=debug` (kube-rs) or `-v=6` (kubectl) to see the request \
                 and the full answer",
            ),
        }
    }
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

fn denied(d: &Diagnosis, denial: &Denial) -> Remedy {
    let r = &d.request;
    let as_user = d.user.as_deref().filter(|_| !denial.caller);
    let fix = denial.near_miss.as_ref().and_then(|n| n.fix.as_ref());
    if !denial.wrong_core_group
        && let Some(mut m) = fix.and_then(near_miss::remedy)
    {
        if let Some(cmd) = can_i(r, denial.scope, as_user, &d.groups) {
            m.commands.push(cmd);
        }
        return m;
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
    let grants = rbac::grants(d);
    match rbac::grants_yaml(&grants) {
        Ok(yaml) => m.yaml = yaml,
        Err(e) => m.text = format!("(the RBAC manifest could not be rendered: {e}) "),
    }
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
                 group — `kubewhy explain --live` finds the group and writes the RBAC"
            )),
        }
        m.summary = format!("fix the client to request `{res}` in its real API group");
        m.commands
            .push(format!("kubectl api-resources | grep -w {res}"));
        return m;
    }
    if grants.len() > 1 && grants.iter().any(|g| !g.permission.verb.is_api_verb()) {
        m.text.push_str(&format!(
            "grant both rules of constrained impersonation to {subject_kind}: the action on the target and \
             whom it may impersonate (narrow the second with `resourceNames`)"
        ));
    } else if m.yaml.is_some() {
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
    m
}

fn not_served(d: &Diagnosis, ns: &NotServed) -> Remedy {
    let r = &d.request;
    let res_name = r.resource.clone();
    let group = r.group.clone().unwrap_or_default();
    let version = r.version.clone().unwrap_or_default();
    let crd = format!("{}.{group}", res_name.as_deref().unwrap_or_default());
    let install = ns.install.clone().unwrap_or_else(|| {
        format!("kubectl apply -f <the manifest of CustomResourceDefinition {crd}>")
    });
    let needs = declared_needs(d);

    if let Some(twin) = core_group_twin(ns, r) {
        return match &needs {
            Some(needs) => Remedy::new(format!(
                "in the needs file, set `group: {}` and `version: {}` for {needs}",
                twin.group, twin.version
            )),
            None => Remedy::new(format!(
                "request `{}` in group `{}` (version `{}`)",
                twin.plural, twin.group, twin.version
            )),
        };
    }
    match &ns.crd {
        Some(CrdState::NotEstablished { .. }) => {
            return Remedy::new(
                "fix what the conditions name (a name another CRD already uses, an invalid schema) and reapply it",
            )
            .command(format!("kubectl describe customresourcedefinition {crd}"));
        }
        Some(CrdState::NotYetDiscovered) => {
            return Remedy::new(
                "wait a moment and check again: discovery follows a new CRD within seconds",
            );
        }
        Some(CrdState::VersionNotServed { .. }) => {
            return Remedy::new(format!(
                "install the CRD revision that serves `{version}`, or declare a served version for {}",
                needs.as_deref().unwrap_or("the request")
            ))
            .command(install);
        }
        _ => {}
    }
    if let Some(absence) = &ns.discovery {
        if let Some(best) = ns.suggestions.first() {
            let mut edit = format!("write `resource: {}`", best.plural);
            if best.group != group {
                edit.push_str(&format!(
                    ", `group: {}`",
                    if best.group.is_empty() {
                        "\"\""
                    } else {
                        &best.group
                    }
                ));
            }
            if best.version != version {
                edit.push_str(&format!(", `version: {}`", best.version));
            }
            return match &needs {
                Some(needs) => Remedy::new(format!("in the needs file, {edit} for {needs}")),
                None => Remedy::new(format!(
                    "use the served name: `{}`",
                    resource_name(&best.plural, &best.group, None)
                )),
            };
        }
        let version_fix = match absence {
            Absence::Version { served } => served.first(),
            Absence::Resource { other_versions } => other_versions.first(),
            Absence::Group => None,
        };
        if let Some(v) = version_fix {
            return Remedy::new(match &needs {
                Some(needs) => format!("in the needs file, write `version: {v}` for {needs}"),
                None => format!("use version `{v}`"),
            });
        }
        if group.is_empty() {
            // The core group has no CRDs: a resource it does not serve is a wrong name, never a missing install.
            return Remedy::new(format!(
                "correct {} in the needs file: the core group has no `{}`",
                needs.as_deref().unwrap_or("the request"),
                res_name.as_deref().unwrap_or_default()
            ));
        }
        return Remedy::new(format!("install the CustomResourceDefinition `{crd}`"))
            .command(install);
    }
    likely_causes(r, ns)
}

/// The causes of a 404 in order of likelihood, when nothing was checked against discovery.
fn likely_causes(r: &Request, ns: &NotServed) -> Remedy {
    let res = r
        .resource
        .clone()
        .or_else(|| r.kind.clone().map(|k| k.to_ascii_lowercase()));
    let group = r.group.clone().filter(|g| !g.is_empty());
    let mut m = Remedy::default();
    let mut steps = Vec::new();
    if ns.wrong_core_group {
        let name = r.resource.as_deref().unwrap_or_default();
        steps.push(format!(
            "the client asked for `{name}` in the core group: fix the group in the code{}",
            ns.real_group
                .as_deref()
                .or_else(|| builtin_group(name))
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
                "the name is misspelled (plural, singular, kind and short names differ): `kubectl api-resources | \
                 grep -i {}`",
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
    m.commands.push("kubectl get apiservices".into());
    m.text = format!(
        "likely causes, in order:\n{}",
        steps
            .iter()
            .enumerate()
            .map(|(i, s)| format!("  {}. {s}", i + 1))
            .collect::<Vec<_>>()
            .join("\n")
    );
    m.summary = match &res {
        Some(res) => format!(
            "install the CRD of `{}`, or correct its group, version or name (`kubectl api-resources`)",
            resource_name(res, group.as_deref().unwrap_or(""), None)
        ),
        None => "install the CRD, or correct the group, version or plural in the code (`kubectl api-resources`)"
            .into(),
    };
    if let Some(install) = &ns.install {
        m.text = format!("install it: `{install}`\n{}", m.text);
        m.summary = format!("install it: `{install}`");
        m.commands.insert(0, install.clone());
    }
    m
}
