//! Classification: from [`Evidence`](crate::read::Evidence) — what a failure says about itself — to a
//! [`Diagnosis`]: the stable class, the fields of the request and subject, a one-line summary, the cause,
//! notes, and (through [`crate::remedy`]) what to do.
//!
//! The rules, in order: what the message says (an admission plugin's words beat the 403 code; an authorizer's
//! `User ... cannot` is `forbidden`), then the HTTP code, then the `reason`, then the transport failure, then
//! what the framing implies.

use crate::diagnosis::{Class, Diagnosis, Request};
use crate::read::message::{self, Admission, Facts, Said};
use crate::read::url::{fill_from_url, merge_missing};
use crate::read::{Evidence, Phase, Transport};
use crate::remedy;

/// The resources of the core (`""`) API group; anything else asked for in the core group was given the wrong
/// group by the client.
pub(crate) const CORE_RESOURCES: [&str; 19] = [
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
    "*",
    "",
];

/// The group of a well-known built-in resource outside the core group.
pub(crate) fn builtin_group(resource: &str) -> Option<&'static str> {
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

/// Whether a denial asked for a non-core resource in the core group (the client built the URL without the
/// resource's group).
pub(crate) fn is_wrong_core_group(r: &Request) -> bool {
    r.group.as_deref() == Some("")
        && r.path.is_none()
        && r.resource
            .as_deref()
            .is_some_and(|res| !CORE_RESOURCES.contains(&res))
}

/// The HTTP code a reason implies (apimachinery's table), when it implies exactly one.
fn code_of_reason(reason: &str) -> Option<u16> {
    Some(match reason {
        "Unauthorized" => 401,
        "Forbidden" => 403,
        "NotFound" => 404,
        "AlreadyExists" | "Conflict" => 409,
        "Gone" | "Expired" => 410,
        "Invalid" => 422,
        "Timeout" => 504,
        "TooManyRequests" => 429,
        "BadRequest" => 400,
        "MethodNotAllowed" => 405,
        "NotAcceptable" => 406,
        "RequestEntityTooLarge" => 413,
        "UnsupportedMediaType" => 415,
        "ServiceUnavailable" => 503,
        "InternalError" | "ServerTimeout" => 500,
        _ => return None,
    })
}

/// The class for evidence whose message says `facts`.
fn decide(ev: &Evidence, facts: &Facts) -> Class {
    match facts.said {
        Some(Said::Admission) => return Class::AdmissionDenied,
        Some(Said::Denied | Said::DeniedPath | Said::Escalation) => return Class::Forbidden,
        _ => {}
    }
    let reason = ev.reason.as_deref().unwrap_or("");
    let code = ev.code.or_else(|| code_of_reason(reason));
    if let Some(code) = code {
        return match code {
            401 => Class::Unauthorized,
            403 => Class::Forbidden,
            404 => match facts.said {
                Some(Said::ObjectMissing) => Class::ObjectNotFound,
                Some(Said::NotServed) => Class::ResourceNotFound,
                _ if reason == "NotFound" && ev.detail_name.is_some() => Class::ObjectNotFound,
                _ => Class::ResourceNotFound,
            },
            409 if reason == "AlreadyExists" || facts.said == Some(Said::Exists) => {
                Class::AlreadyExists
            }
            409 => Class::Conflict,
            410 => Class::Expired,
            422 if facts.said == Some(Said::BadOptions) => Class::InvalidRequest,
            422 => Class::InvalidObject,
            400 | 405 | 406 | 411 | 413 | 414 | 415 => Class::InvalidRequest,
            429 => Class::Throttled,
            504 => Class::Timeout,
            500 if reason == "ServerTimeout" || facts.said == Some(Said::ServerTimeout) => {
                Class::Timeout
            }
            500..=599 => Class::ServerError,
            _ => Class::Unknown,
        };
    }
    let by_said = match facts.said {
        Some(Said::ObjectMissing) => Some(Class::ObjectNotFound),
        Some(Said::NotServed) => Some(Class::ResourceNotFound),
        Some(Said::Exists) => Some(Class::AlreadyExists),
        Some(Said::Conflict) => Some(Class::Conflict),
        Some(Said::BadOptions) => Some(Class::InvalidRequest),
        Some(Said::BadObject) => Some(Class::InvalidObject),
        Some(Said::TooOld) => Some(Class::Expired),
        Some(Said::TooMany | Said::ClientThrottled) => Some(Class::Throttled),
        Some(Said::ServerTimeout) => Some(Class::Timeout),
        Some(Said::ServerFailed) => Some(Class::ServerError),
        Some(Said::NotLoggedIn) => Some(Class::Unauthorized),
        _ => None,
    };
    // A hint from the framing (a cache-sync time-out) is more specific than a stray word in its text.
    if let Some(hint) = ev.hint
        && hint != Class::Unknown
    {
        return hint;
    }
    // client-go wraps a lost connection as "an error on the server (...)": the transport words are the cause.
    if by_said == Some(Class::ServerError) && ev.transport == Some(Transport::Connection) {
        return Class::Connection;
    }
    if let Some(class) = by_said {
        return class;
    }
    match ev.transport {
        Some(Transport::Connection) => Class::Connection,
        Some(Transport::Timeout) => Class::Timeout,
        Some(Transport::Tls) => Class::Tls,
        None => ev.hint.unwrap_or(Class::Unknown),
    }
}

/// Builds the request from the framing, the message and the Status details (message first: it is what the
/// server authorized).
fn request_of(ev: &Evidence, facts: &Facts, class: Class) -> Request {
    let from_message = Request {
        verb: facts.verb.clone(),
        group: facts.group.clone(),
        version: facts.version.clone(),
        resource: facts.resource.clone(),
        subresource: facts.subresource.clone(),
        kind: facts.kind.clone(),
        namespace: facts.namespace.clone(),
        name: facts.name.clone(),
        path: facts.path.clone(),
        ..Request::default()
    };
    let mut r = from_message;
    merge_missing(&mut r, &ev.request);
    if r.url.is_some() {
        fill_from_url(&mut r);
    }
    // Details: for 403/404 `kind` is the plural resource; for 422/409 it is the Kind.
    if let Some(kind) = &ev.detail_kind {
        let is_plural = kind.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        if is_plural {
            r.resource.get_or_insert_with(|| kind.clone());
        } else {
            r.kind.get_or_insert_with(|| kind.clone());
        }
    }
    if let Some(group) = &ev.detail_group {
        r.group.get_or_insert_with(|| group.clone());
    }
    if let Some(name) = &ev.detail_name {
        r.name.get_or_insert_with(|| name.clone());
    }
    if r.verb.is_none()
        && let Some(phase) = ev.phase
    {
        r.verb = phase.verb().map(str::to_string);
    }
    if r.url.is_none()
        && matches!(class, Class::Connection | Class::Tls | Class::Timeout)
        && let Some(server) = crate::read::transport::server_of(&ev.message)
    {
        r.url = Some(server);
    }
    r
}

/// Turns evidence into a diagnosis with summary, cause, notes and remedy.
pub(crate) fn classify(ev: Evidence) -> Diagnosis {
    classify_with(ev, true)
}

/// [`classify`], optionally without the remedy (its RBAC YAML is the costly part): the scanner needs the
/// remedy only for the first occurrence of a failure.
pub(crate) fn classify_with(mut ev: Evidence, with_remedy: bool) -> Diagnosis {
    let facts = match ev.facts.take() {
        Some(f) => f,
        None => message::read(&ev.message),
    };
    let class = decide(&ev, &facts);
    let request = request_of(&ev, &facts, class);
    let mut d = Diagnosis::new(class, ev.message.trim_end().to_string());
    d.code = ev
        .code
        .or_else(|| ev.reason.as_deref().and_then(code_of_reason));
    d.reason = ev.reason.clone();
    d.user = facts.user.clone();
    d.groups = facts.groups.clone();
    d.request = request;
    d.notes = ev.notes.clone();
    describe(&mut d, &ev, &facts);
    if with_remedy {
        d.remedy = remedy::remedy_for(&d, &facts);
    }
    d
}

/// [`diagnose_text`] without the remedy, for telling occurrences apart cheaply.
pub(crate) fn diagnose_text_bare(text: &str) -> Option<Diagnosis> {
    crate::read::read_text(text).map(|ev| classify_with(ev, false))
}

/// `service account `ns/name``, `user `alice``, or `the client`.
pub(crate) fn subject_text(user: Option<&str>) -> String {
    match user {
        Some(u) => match u
            .strip_prefix("system:serviceaccount:")
            .and_then(|r| r.split_once(':'))
        {
            Some((ns, name)) => format!("service account `{ns}/{name}`"),
            None if u.is_empty() || u == "system:anonymous" => "anonymous requests".to_string(),
            None => format!("user `{u}`"),
        },
        None => "the client".to_string(),
    }
}

/// `documents.kube.rs`, `configmaps`, `documents.kube.rs/status`.
pub(crate) fn resource_text(r: &Request) -> Option<String> {
    let res = r.resource.as_deref().filter(|s| !s.is_empty())?;
    let mut out = res.to_string();
    if let Some(g) = r.group.as_deref().filter(|g| !g.is_empty()) {
        out.push('.');
        out.push_str(g);
    }
    if let Some(sub) = &r.subresource {
        out.push('/');
        out.push_str(sub);
    }
    Some(out)
}

/// ` in namespace `ns``, ` at cluster scope`, or nothing.
fn scope_text(r: &Request, cluster_scope: bool) -> String {
    match (&r.namespace, cluster_scope) {
        (Some(ns), _) => format!(" in namespace `{ns}`"),
        (None, true) => " at cluster scope".to_string(),
        (None, false) => String::new(),
    }
}

/// The object a request names: `` `documents.kube.rs` `a` `` or the kind.
fn object_text(r: &Request) -> String {
    let what = resource_text(r)
        .or_else(|| r.kind.clone())
        .map_or_else(|| "the object".to_string(), |w| format!("`{w}`"));
    match &r.name {
        Some(n) => format!("{what} `{n}`"),
        None => what,
    }
}

fn phase_note(phase: Option<Phase>, class: Class) -> Option<String> {
    let phase = phase?;
    Some(match (phase, class) {
        (Phase::InitialList | Phase::WatchStart | Phase::WatchEvent | Phase::WatchStream, Class::Expired) => {
            "harmless for a watcher: it starts over with a fresh list and keeps going".to_string()
        }
        (Phase::InitialList, _) => {
            "the watcher's initial list failed: it receives no objects until this is fixed, and retries".into()
        }
        (Phase::WatchStart, Class::Forbidden) => {
            "the list succeeded but the watch is denied: the watcher never sees changes, only its initial list \
             (kube#1132)"
                .into()
        }
        (Phase::WatchStart, _) => "starting the watch failed; the watcher retries the watch with back-off".into(),
        (Phase::WatchEvent, _) => "the API server sent this error as an event inside the watch stream".into(),
        (Phase::WatchStream, _) => "the watch stream failed; the watcher retries with back-off".into(),
        (Phase::Reconcile, _) => "a reconciler's API call failed".into(),
        (Phase::CacheSync, _) => return None,
    })
}

/// Fills summary, cause and class-specific notes.
fn describe(d: &mut Diagnosis, ev: &Evidence, facts: &Facts) {
    let r = d.request.clone();
    let who = subject_text(d.user.as_deref());
    let verb = r.verb.clone().unwrap_or_else(|| "use".into());
    let scope = scope_text(&r, facts.cluster_scope);
    if let Some(n) = phase_note(ev.phase, d.class) {
        d.notes.push(n);
    }
    match d.class {
        Class::Forbidden => describe_forbidden(d, facts, &who, &verb, &scope),
        Class::AdmissionDenied => {
            let what = object_text(&r);
            let (by, cause) = match &facts.admission {
                Some(Admission::Webhook { name }) => (
                    format!("admission webhook `{name}`"),
                    format!(
                        "the request was authorized, then the admission webhook `{name}` refused it{}",
                        facts
                            .detail
                            .as_deref()
                            .map(|w| format!(": {w}"))
                            .unwrap_or_default()
                    ),
                ),
                Some(Admission::Policy { name, binding }) => (
                    format!("ValidatingAdmissionPolicy `{name}`"),
                    format!(
                        "the request was authorized, then the ValidatingAdmissionPolicy `{name}` (binding \
                         `{binding}`) refused it{}",
                        facts
                            .detail
                            .as_deref()
                            .map(|w| format!(": {w}"))
                            .unwrap_or_default()
                    ),
                ),
                Some(Admission::PodSecurity { level }) => (
                    format!("Pod Security admission (`{level}`)"),
                    format!(
                        "the pod violates the namespace's Pod Security level `{level}`{}",
                        facts
                            .detail
                            .as_deref()
                            .map(|w| format!(": {w}"))
                            .unwrap_or_default()
                    ),
                ),
                Some(Admission::Quota { name }) => (
                    format!("ResourceQuota `{name}`"),
                    format!(
                        "creating it would exceed the namespace's ResourceQuota `{name}`{}",
                        facts
                            .detail
                            .as_deref()
                            .map(|w| format!(": {w}"))
                            .unwrap_or_default()
                    ),
                ),
                Some(Admission::NamespaceTerminating) => (
                    "namespace lifecycle admission".into(),
                    "the namespace is being deleted: nothing new can be created in it".into(),
                ),
                Some(Admission::Other) | None => (
                    "an admission plugin".into(),
                    format!(
                        "the request was refused by admission, not by authorization (the message names no \
                         `User ... cannot`){}",
                        facts
                            .detail
                            .as_deref()
                            .map(|w| format!(": {w}"))
                            .unwrap_or_default()
                    ),
                ),
            };
            d.summary = match &r.verb {
                Some(v) => format!("{by} denied `{v}` of {what}{scope}"),
                None => format!("{by} denied a request for {what}{scope}"),
            };
            d.cause = cause;
            d.notes.push(
                "\"is forbidden\" in this message does not make it RBAC: more permissions will not help".into(),
            );
        }
        Class::Unauthorized => {
            d.summary = "the API server did not accept the client's credentials".into();
            d.cause = "authentication failed (401): the bearer token is unknown, expired or revoked, or the client \
                       certificate is not signed by a CA the server trusts"
                .into();
        }
        Class::ResourceNotFound => describe_not_served(d, ev),
        Class::ObjectNotFound => {
            if r.resource.as_deref() == Some("namespaces") && r.name.is_some() {
                d.summary = format!(
                    "namespace `{}` does not exist",
                    r.name.as_deref().unwrap_or_default()
                );
                d.cause =
                    "the request names a namespace that does not exist (or was deleted)".into();
            } else {
                d.summary = format!("{} not found{scope}", object_text(&r));
                d.cause = "the resource type is served, but no object with this name exists here: it was deleted, \
                           not created yet, or lives in another namespace"
                    .into();
            }
        }
        Class::InvalidRequest => {
            let fields = if facts.fields.is_empty() {
                String::new()
            } else {
                format!(
                    " ({})",
                    facts
                        .fields
                        .iter()
                        .map(|f| format!("`{f}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            d.summary = match d.code {
                Some(405) => format!(
                    "{} does not support `{verb}`",
                    resource_text(&r).map_or("the resource".into(), |t| format!("`{t}`"))
                ),
                _ => format!("the API server rejected the request's options{fields}"),
            };
            d.cause = facts
                .detail
                .clone()
                .unwrap_or_else(|| "the request's parameters are not valid for this verb".into());
            if facts.fields.iter().any(|f| f == "resourceVersionMatch")
                && (verb == "watch" || ev.phase.is_some_and(|p| p.verb() == Some("watch")))
            {
                d.cause = "a watch may not set `resourceVersionMatch` unless it also sets `sendInitialEvents=true` \
                           (a streaming list); `resourceVersionMatch` belongs to list requests"
                    .into();
            }
        }
        Class::InvalidObject => {
            let first = ev
                .causes
                .first()
                .map(|c| format!("{}: {}", c.field, c.message))
                .or_else(|| facts.detail.clone())
                .unwrap_or_default();
            d.summary = format!(
                "{} is invalid{}",
                object_text(&r),
                if first.is_empty() {
                    String::new()
                } else {
                    format!(": {first}")
                }
            );
            d.cause =
                "the object failed validation (schema, required fields or immutable fields)".into();
            for c in ev.causes.iter().skip(1) {
                d.notes
                    .push(format!("also invalid: `{}`: {}", c.field, c.message));
            }
        }
        Class::Conflict => {
            if let Some(manager) = &facts.manager {
                d.summary = format!("server-side apply conflicts with field manager `{manager}`");
                d.cause = format!(
                    "another field manager (`{manager}`) owns fields this apply sets to different values"
                );
            } else {
                d.summary = format!("{} was modified since it was read", object_text(&r));
                d.cause =
                    "optimistic concurrency: the update carried an old `resourceVersion`".into();
            }
        }
        Class::AlreadyExists => {
            d.summary = format!("{} already exists{scope}", object_text(&r));
            d.cause = "a create named an object that exists".into();
        }
        Class::Expired => {
            d.summary = "the requested resource version is too old".into();
            d.cause = "the API server no longer has history that old (etcd compaction or the watch cache window)"
                .into();
        }
        Class::Throttled => {
            if facts.said == Some(Said::ClientThrottled) {
                d.summary = "client-side rate limiting delayed requests".into();
                d.cause = "client-go's own limiter (QPS/Burst) made the request wait; the server did not refuse it"
                    .into();
            } else {
                d.summary = "the API server is rate limiting requests (429)".into();
                d.cause =
                    "API Priority and Fairness has no free seat for this client's flow".into();
                if let Some(s) = ev.retry_after {
                    d.notes
                        .push(format!("the server asked to retry after {s} s"));
                }
            }
        }
        Class::ServerError => {
            d.summary = match d.code {
                Some(503) => {
                    "the API server (or an aggregated API behind it) is unavailable (503)".into()
                }
                Some(c) => format!("the API server failed to handle the request ({c})"),
                None => "the API server failed to handle the request".into(),
            };
            d.cause = "a server-side failure, not a problem with the request".into();
        }
        Class::Timeout => {
            if ev.phase == Some(Phase::CacheSync) {
                d.summary = format!(
                    "an informer's cache never synced{}",
                    r.kind
                        .as_deref()
                        .map(|k| format!(" (kind `{k}`)"))
                        .unwrap_or_default()
                );
                d.cause =
                    "the informer could not list and watch its type before the cache-sync timeout"
                        .into();
            } else if d.code.is_some() {
                d.summary = "the API server timed out handling the request".into();
                d.cause = "the request took longer than the server allows (large lists, an overloaded server or etcd)".into();
            } else {
                d.summary = format!("the request to {} timed out", server_text(&r));
                d.cause = "no answer arrived in time: the server is overloaded or unreachable, or the network drops packets".into();
            }
        }
        Class::Connection => {
            d.summary = format!("could not connect to {}", server_text(&r));
            d.cause = "no HTTP answer: the connection was refused, reset or never made (wrong address or port, \
                       server down, DNS, network policy)"
                .into();
        }
        Class::Tls => {
            d.summary = format!("TLS with {} failed", server_text(&r));
            d.cause = "the server's certificate is not trusted by the client's CA bundle, has expired, or does not \
                       name the address used"
                .into();
        }
        Class::Unknown => {
            d.summary = format!(
                "unrecognised failure{}",
                d.code.map(|c| format!(" ({c})")).unwrap_or_default()
            );
            d.cause = "kubewhy has no rule for this failure; its message is shown as is".into();
        }
    }
}

fn server_text(r: &Request) -> String {
    r.url
        .as_deref()
        .map_or_else(|| "the API server".into(), |u| format!("`{u}`"))
}

fn describe_forbidden(d: &mut Diagnosis, facts: &Facts, who: &str, verb: &str, scope: &str) {
    let r = d.request.clone();
    if facts.said == Some(Said::Escalation) {
        d.summary = format!(
            "{who} may not grant permissions it does not hold{}",
            resource_text(&r)
                .map(|t| format!(" (`{verb}` `{t}`)"))
                .unwrap_or_default()
        );
        d.cause = "RBAC escalation prevention: a role or binding can only grant permissions its creator holds, \
                   unless the creator has `escalate` (roles) or `bind` (bindings)"
            .into();
        for rule in &facts.escalation_rules {
            d.notes.push(format!("not held: {rule}"));
        }
        return;
    }
    let target = match (&r.path, resource_text(&r)) {
        (Some(p), _) => format!("path `{p}`"),
        (None, Some(t)) => format!("`{t}`"),
        (None, None) => "the resource".into(),
    };
    let core = if is_wrong_core_group(&r) {
        " in the core API group"
    } else {
        ""
    };
    d.summary = format!("{who} cannot `{verb}` {target}{core}{scope}");
    d.cause = match &facts.missing_role {
        Some((cluster, role)) => format!(
            "a binding for this subject refers to the {} `{role}`, which does not exist, so it grants nothing",
            if *cluster { "ClusterRole" } else { "Role" }
        ),
        None => "denied by authorization: no Role or ClusterRole bound to the subject grants this verb on this \
                 resource here"
            .into(),
    };
    if is_wrong_core_group(&r) {
        let res = r.resource.as_deref().unwrap_or_default();
        let known = builtin_group(res);
        d.cause = format!(
            "`{res}` is not a core resource, yet the request asked for it in the core API group (\"\"): the client \
             built the URL without the resource's group{}; the fix is in the code — RBAC for group \"\" would \
             not help",
            known
                .map(|g| format!(" (`{res}` is in `{g}`)"))
                .unwrap_or_default()
        );
    } else if r.path.is_none() {
        d.notes.push(
            "denied by authorization; the message names no admission webhook or policy".into(),
        );
    }
    if facts.cluster_scope && r.path.is_none() && r.namespace.is_none() {
        d.notes.push(
            "only a ClusterRoleBinding can grant a request at cluster scope; a RoleBinding cannot"
                .into(),
        );
    }
    if let Some(name) = &r.name
        && !is_wrong_core_group(&r)
        && matches!(verb, "get" | "update" | "patch" | "delete")
    {
        d.notes.push(format!(
            "RBAC could limit this to the one object with `resourceNames: [{name}]`; the remedy grants the verb on \
             every object of the type"
        ));
    }
    if let Some(text) = &facts.authorizer_text
        && facts.missing_role.is_none()
    {
        d.notes.push(format!("the authorizer added: {text}"));
    }
}

fn describe_not_served(d: &mut Diagnosis, ev: &Evidence) {
    let r = d.request.clone();
    let gv = match (&r.group, &r.version) {
        (Some(g), Some(v)) if g.is_empty() => format!("v1 core group ({v})"),
        (Some(g), Some(v)) => format!("`{g}/{v}`"),
        (Some(g), None) if !g.is_empty() => format!("group `{g}`"),
        _ => String::new(),
    };
    d.summary = match (resource_text(&r), &r.kind) {
        (Some(t), _) => format!(
            "the API server does not serve `{}`{}",
            t,
            r.version
                .as_deref()
                .map(|v| format!(" in version `{v}`"))
                .unwrap_or_default()
        ),
        (None, Some(k)) => format!(
            "the API server does not serve kind `{k}`{}",
            if gv.is_empty() {
                String::new()
            } else {
                format!(" in {gv}")
            }
        ),
        (None, None) => match &r.verb {
            Some(v) => format!("the resource type of a `{v}` request is not served (404)"),
            None => "the resource type of a request is not served (404)".to_string(),
        },
    };
    d.cause = if is_wrong_core_group(&r) {
        let res = r.resource.as_deref().unwrap_or_default();
        format!(
            "`{res}` is not a core resource, yet it was asked for in the core API group: the client built the URL \
             without the resource's group{}",
            builtin_group(res)
                .map(|g| format!(" (`{res}` is in `{g}`)"))
                .unwrap_or_default()
        )
    } else {
        "the type is not served: its CRD is not installed (or not yet established), the group or version is \
         wrong, or the resource name is misspelled"
            .into()
    };
    if ev.reason.as_deref() == Some("Failed to parse error data") {
        d.notes.push(
            "the server answered with a plain-text `404 page not found`, which kube-rs reports with reason \
             \"Failed to parse error data\"; `Status::is_not_found()` is false for it — match `code == 404`"
                .into(),
        );
    }
    if resource_text(&r).is_none() && r.kind.is_none() {
        d.notes.push(
            "a kube-rs error does not say which URL failed: pass the request to `kubewhy::diagnose_in` (or use \
             kubewhy's request tracing) to name the resource"
                .into(),
        );
    }
}

// ===== entry points (re-exported at the crate root) =====

use crate::read::kube_error::{chain_text, find_in_chain, from_kube_error, from_watcher_error};
use kube::runtime::{controller, watcher};

/// Diagnoses a `kube::Error`.
///
/// A kube-rs error does not carry the URL that failed; when the request is known (kubewhy's request tracing
/// records it), [`diagnose_in`] names the resource too.
///
/// ```
/// let status = kube::core::Status::failure("Unauthorized", "Unauthorized").with_code(401);
/// let d = kubewhy::diagnose(&kube::Error::Api(status.boxed()));
/// assert_eq!(d.class, kubewhy::Class::Unauthorized);
/// ```
pub fn diagnose(err: &kube::Error) -> Diagnosis {
    classify(from_kube_error(err))
}

/// Diagnoses a `kube::Error` with what is known about the request that failed (method, url, verb, group,
/// version, resource, namespace, name): the server's message stays authoritative, the request fills what it
/// leaves out. A request with only `method` and `url` is read like the API server reads it.
pub fn diagnose_in(err: &kube::Error, request: Option<&Request>) -> Diagnosis {
    let mut ev = from_kube_error(err);
    if let Some(req) = request {
        merge_missing(&mut ev.request, req);
        fill_from_url(&mut ev.request);
    }
    classify(ev)
}

/// Diagnoses a `kube::runtime::watcher::Error`: the inner API or transport error, plus the step that failed
/// (initial list, watch start, an error event in the stream, a broken stream).
pub fn diagnose_watcher(err: &watcher::Error) -> Diagnosis {
    classify(from_watcher_error(err))
}

/// Diagnoses a `kube::runtime::controller::Error`: a queue (watcher) error, or a reconciler error whose
/// `source()` chain holds a `kube::Error` or a watcher error. Reconciler errors without one are read as text.
pub fn diagnose_controller<E, Q>(err: &controller::Error<E, Q>) -> Diagnosis
where
    E: std::error::Error + 'static,
    Q: std::error::Error + 'static,
{
    match err {
        controller::Error::ObjectNotFound(obj) => {
            let mut d = Diagnosis::new(Class::ObjectNotFound, err.to_string());
            d.request.name = Some(obj.name.clone());
            d.request.namespace = obj.namespace.clone();
            d.request.kind = Some(obj.dyntype.kind.clone());
            d.request.group = Some(obj.dyntype.group.clone());
            d.request.version = Some(obj.dyntype.version.clone());
            d.request.resource = Some(obj.dyntype.plural.clone());
            d.summary =
                format!("the controller was asked to reconcile `{obj}`, which is not in its cache");
            d.cause = "the object was deleted (or never seen) between the trigger and the reconcile; this is \
                       usually benign"
                .into();
            d.remedy.text =
                "nothing to do unless it repeats for objects that exist; then check the watcher's \
                             errors (the cache may not be syncing)"
                    .into();
            d
        }
        controller::Error::ReconcilerFailed(e, obj) => {
            let mut d = diagnose_error(e);
            d.notes
                .insert(0, format!("the reconciler for `{obj}` returned this error"));
            d
        }
        controller::Error::QueueError(q) => diagnose_error(q),
        controller::Error::RunnerError(e) => {
            let mut d = diagnose_error(e);
            d.notes.insert(0, "the controller's runner failed".into());
            d
        }
    }
}

/// Diagnoses any error by its `source()` chain: the first watcher error or `kube::Error` in it, else its text.
pub fn diagnose_error(err: &(dyn std::error::Error + 'static)) -> Diagnosis {
    if let Some(w) = find_in_chain::<watcher::Error>(err) {
        return diagnose_watcher(w);
    }
    if let Some(k) = find_in_chain::<kube::Error>(err) {
        return diagnose(k);
    }
    let text = chain_text(err);
    diagnose_text(&text).unwrap_or_else(|| {
        let mut ev = crate::read::Evidence {
            message: text,
            is_failure: true,
            ..crate::read::Evidence::default()
        };
        ev.hint = Some(Class::Unknown);
        classify(ev)
    })
}

/// Diagnoses one message or log line (kube-rs `Debug`/`Display`, a Status JSON body, client-go,
/// controller-runtime or kubectl output, a transport error). `None` when it holds no recognisable failure.
///
/// ```
/// let d = kubewhy::diagnose_text(
///     r#"Error from server (NotFound): namespaces "nope" not found"#,
/// ).unwrap();
/// assert_eq!(d.class, kubewhy::Class::ObjectNotFound);
/// assert_eq!(d.request.name.as_deref(), Some("nope"));
/// ```
pub fn diagnose_text(text: &str) -> Option<Diagnosis> {
    crate::read::read_text(text).map(classify)
}
