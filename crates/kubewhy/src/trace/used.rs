//! What a program used of the API: every permission its clients exercised — verb, group, resource, subresource,
//! namespace or cluster scope — and whether authorization allowed or denied it, kept in bounded memory and read
//! back as needs ([`crate::needs::Needs`]) or as the RBAC that grants exactly that.
//!
//! The request inspector ([`super::Inspector`]) feeds it every answered request; [`super::Inspector::used`] reads
//! it. What the API server authorizes on the program's behalf is recorded where the answer shows it (a PATCH
//! answered 201 Created was an apply that needed `create`); what it checks silently is not (the
//! `OwnerReferencesPermissionEnforcement` check of `update` on an owner's finalizers). Memory is bounded three ways: a permission used in more than [`MAX_NAMESPACES`] namespaces is kept once,
//! as "in many namespaces" (which only a cluster-wide grant covers); at most [`MAX_PERMISSIONS`] distinct
//! permissions and [`MAX_PATHS`] non-resource paths are kept, and what did not fit is counted in
//! [`Used::dropped`] (and logged once), never lost silently.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::diagnosis::Request;
use crate::needs::{Need, Needs, ResourceType};
use crate::rbac::{self, Permission, RbacObject, Subject, Verb};
use crate::read::message::{self, Said};
use crate::sorted::SortedMap;

/// Distinct permissions kept (a controller uses tens).
pub const MAX_PERMISSIONS: usize = 1024;
/// Namespaces kept per permission before it is recorded as used in many namespaces.
pub const MAX_NAMESPACES: usize = 16;
/// Distinct non-resource paths kept.
pub const MAX_PATHS: usize = 64;

/// Where a permission was used.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "namespace", rename_all = "camelCase")]
pub enum Scope {
    /// Without a namespace: a cluster-scoped resource, or a namespaced one across all namespaces.
    Cluster,
    /// In one namespace.
    Namespace(String),
    /// In more than [`MAX_NAMESPACES`] namespaces.
    ManyNamespaces,
}

/// One permission a program used, and how often authorization allowed and denied it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsedPermission {
    /// The verb.
    pub verb: String,
    /// The API group (`""` for core).
    pub group: String,
    /// The version last requested (`v1`).
    pub version: String,
    /// The plural resource.
    pub resource: String,
    /// The subresource, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subresource: Option<String>,
    /// Where.
    pub scope: Scope,
    /// Requests authorization allowed (whatever happened next: a 404 or a 409 was still allowed).
    pub allowed: u64,
    /// Requests authorization denied (403 from an authorizer or the RBAC escalation check).
    pub denied: u64,
}

/// One non-resource path a program requested (`/version`, `/apis`, `/metrics`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsedPath {
    /// The verb (`get`, `post`, ...).
    pub verb: String,
    /// The path.
    pub path: String,
    /// Requests allowed.
    pub allowed: u64,
    /// Requests denied.
    pub denied: u64,
}

/// What a program used, as read from the recorder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Used {
    /// The permissions, ordered by group, resource, subresource, verb and scope.
    pub permissions: Vec<UsedPermission>,
    /// The non-resource paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<UsedPath>,
    /// Requests whose permission was not kept because the record was full.
    #[serde(default)]
    pub dropped: u64,
    /// Requests that never reached authorization (no response, 401, 429) and so say nothing about permissions.
    #[serde(default)]
    pub undecided: u64,
}

/// A need's identity: group, resource, subresource, namespace.
type NeedKey = (String, String, Option<String>, Option<String>);

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Base {
    group: String,
    resource: String,
    subresource: Option<String>,
    verb: String,
}

#[derive(Debug, Default)]
struct Counts {
    version: String,
    allowed: u64,
    denied: u64,
}

#[derive(Debug, Default)]
struct State {
    permissions: SortedMap<(Base, Scope), Counts>,
    paths: SortedMap<(String, String), (u64, u64)>,
    dropped: u64,
    undecided: u64,
}

/// Records the permissions a program used. Shared by the clones of an [`super::Inspector`].
#[derive(Debug, Default)]
pub struct Recorder {
    state: Mutex<State>,
    warned: AtomicBool,
}

/// Whether authorization allowed a request answered with `code` and a Status `message`; `None` when the request
/// never reached authorization.
fn authorized(code: u16, message: &str) -> Option<bool> {
    match code {
        0 | 401 | 429 => None,
        403 => Some(matches!(message::read(message).said, Some(Said::Admission))),
        _ => Some(true),
    }
}

impl Recorder {
    /// An empty record.
    pub fn new() -> Recorder {
        Recorder::default()
    }

    /// Records one answered request: its HTTP status (0 when there was no response) and the Status message of an
    /// error (an admission plugin's 403 was allowed by authorization; an authorizer's was not).
    pub fn observe(&self, request: &Request, code: u16, message: &str) {
        let mut state = self.lock();
        let Some(allowed) = authorized(code, message) else {
            state.undecided += 1;
            return;
        };
        let verb = request.verb.clone().unwrap_or_default();
        let full = match (&request.path, &request.resource) {
            (Some(path), _) => {
                let key = (verb, path.clone());
                let known = state.paths.contains_key(&key);
                if !known && state.paths.len() >= MAX_PATHS {
                    true
                } else {
                    let counts = state.paths.get_or_insert_with(key, <(u64, u64)>::default);
                    if allowed {
                        counts.0 += 1
                    } else {
                        counts.1 += 1
                    }
                    false
                }
            }
            (None, Some(resource)) => {
                let base = Base {
                    group: request.group.clone().unwrap_or_default(),
                    resource: resource.clone(),
                    subresource: request.subresource.clone(),
                    verb,
                };
                let version = request.version.clone().unwrap_or_default();
                // A PATCH answered 201 was a server-side apply that created the object: the API server authorized
                // `create` for it too.
                let created = (base.verb == "patch" && code == 201).then(|| Base {
                    verb: "create".into(),
                    ..base.clone()
                });
                let namespace = request.namespace.as_deref();
                let full =
                    created.is_some_and(|c| state.count(c, namespace, version.clone(), allowed));
                state.count(base, namespace, version, allowed) || full
            }
            (None, None) => {
                state.undecided += 1;
                false
            }
        };
        if full {
            state.dropped += 1;
            drop(state);
            if !self.warned.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    target: "kubewhy::trace",
                    max_permissions = MAX_PERMISSIONS,
                    max_paths = MAX_PATHS,
                    "the record of used permissions is full: further new permissions are counted as dropped, not kept"
                );
            }
        }
    }

    /// What was used so far.
    pub fn snapshot(&self) -> Used {
        let state = self.lock();
        Used {
            permissions: state
                .permissions
                .iter()
                .map(|((base, scope), c)| UsedPermission {
                    verb: base.verb.clone(),
                    group: base.group.clone(),
                    version: c.version.clone(),
                    resource: base.resource.clone(),
                    subresource: base.subresource.clone(),
                    scope: scope.clone(),
                    allowed: c.allowed,
                    denied: c.denied,
                })
                .collect(),
            paths: state
                .paths
                .iter()
                .map(|((verb, path), (allowed, denied))| UsedPath {
                    verb: verb.clone(),
                    path: path.clone(),
                    allowed: *allowed,
                    denied: *denied,
                })
                .collect(),
            dropped: state.dropped,
            undecided: state.undecided,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Counting cannot leave the maps inconsistent if a thread panicked mid-way: keep using them.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    /// Counts a resource request; `true` when it did not fit.
    fn count(
        &mut self,
        base: Base,
        namespace: Option<&str>,
        version: String,
        allowed: bool,
    ) -> bool {
        let scope = match namespace {
            None => Scope::Cluster,
            Some(_)
                if self
                    .permissions
                    .contains_key(&(base.clone(), Scope::ManyNamespaces)) =>
            {
                Scope::ManyNamespaces
            }
            Some(ns) => Scope::Namespace(ns.to_string()),
        };
        let key = (base, scope);
        if !self.permissions.contains_key(&key) {
            if let Scope::Namespace(_) = key.1
                && self.namespaced(&key.0).count() >= MAX_NAMESPACES
            {
                return self.collapse(key.0, version, allowed);
            }
            if self.permissions.len() >= MAX_PERMISSIONS {
                return true;
            }
        }
        let counts = self.permissions.get_or_insert_with(key, Counts::default);
        counts.version = version;
        if allowed {
            counts.allowed += 1;
        } else {
            counts.denied += 1;
        }
        false
    }

    /// The per-namespace entries of `base` (the namespaces it is kept in, until it becomes
    /// [`Scope::ManyNamespaces`]): counted from the record itself, not from a second map of its own.
    fn namespaced<'a>(&'a self, base: &'a Base) -> impl Iterator<Item = &'a (Base, Scope)> {
        self.permissions
            .from(&(base.clone(), Scope::Cluster))
            .map(|(k, _)| k)
            .take_while(move |(b, _)| b == base)
            .filter(|(_, s)| matches!(s, Scope::Namespace(_)))
    }

    /// Replaces the per-namespace entries of `base` by one [`Scope::ManyNamespaces`] entry.
    fn collapse(&mut self, base: Base, version: String, allowed: bool) -> bool {
        let keys: Vec<(Base, Scope)> = self.namespaced(&base).cloned().collect();
        let mut many = Counts {
            version,
            allowed: u64::from(allowed),
            denied: u64::from(!allowed),
        };
        for key in keys {
            if let Some(c) = self.permissions.remove(&key) {
                many.allowed += c.allowed;
                many.denied += c.denied;
            }
        }
        self.permissions.insert((base, Scope::ManyNamespaces), many);
        false
    }
}

/// Paths Kubernetes lets every authenticated user read (`system:discovery`, `system:public-info-viewer`):
/// using them needs no grant.
fn granted_to_everyone(path: &str) -> bool {
    matches!(
        path,
        "/api" | "/apis" | "/version" | "/healthz" | "/livez" | "/readyz"
    ) || [
        "/api/",
        "/apis/",
        "/openapi/",
        "/healthz/",
        "/livez/",
        "/readyz/",
    ]
    .iter()
    .any(|p| path.starts_with(p))
}

/// The reviews of one's own identity and access every authenticated user may create (`system:basic-user`):
/// kubewhy's access watchdog and recovery probes make them; using them needs no grant.
fn reviews_granted_to_everyone(group: &str, resource: &str) -> bool {
    matches!(
        (group, resource),
        (
            "authorization.k8s.io",
            "selfsubjectaccessreviews" | "selfsubjectrulesreviews"
        ) | ("authentication.k8s.io", "selfsubjectreviews")
    )
}

impl Used {
    /// The needs this use implies, named `name`: one need per resource type, subresource and namespace (all
    /// namespaces for [`Scope::Cluster`] and [`Scope::ManyNamespaces`]), with the verbs used — allowed or denied,
    /// both are needed. `types` supplies the kind and scope of the resources the program knows (a request names
    /// neither); other resources get an empty kind and count as namespaced when seen in a namespace.
    /// Verbs that are not RBAC verbs are left out (none come from the request inspector).
    pub fn needs(&self, name: &str, types: &[ResourceType]) -> Needs {
        let namespaced = |group: &str, resource: &str| {
            self.permissions.iter().any(|p| {
                !matches!(p.scope, Scope::Cluster) && p.group == group && p.resource == resource
            })
        };
        // (group, resource, subresource, namespace) -> (version, verbs)
        let mut grouped: SortedMap<NeedKey, (String, BTreeSet<Verb>)> = SortedMap::default();
        for p in &self.permissions {
            let Ok(verb) = p.verb.parse::<Verb>() else {
                continue;
            };
            if reviews_granted_to_everyone(&p.group, &p.resource) {
                continue;
            }
            let namespace = match &p.scope {
                Scope::Namespace(ns) => Some(ns.clone()),
                Scope::Cluster | Scope::ManyNamespaces => None,
            };
            let entry = grouped.get_or_insert_with(
                (
                    p.group.clone(),
                    p.resource.clone(),
                    p.subresource.clone(),
                    namespace,
                ),
                || (p.version.clone(), BTreeSet::new()),
            );
            entry.1.insert(verb);
        }
        let mut needs = Needs::new(name);
        for ((group, resource, subresource, namespace), (version, verbs)) in grouped {
            let known = types
                .iter()
                .find(|t| t.group == group && t.resource == resource);
            let resource_type = known.cloned().unwrap_or_else(|| ResourceType {
                group: group.clone(),
                version,
                resource: resource.clone(),
                kind: String::new(),
                namespaced: namespaced(&group, &resource),
            });
            let watch = subresource.is_none()
                && verbs.contains(&Verb::Watch)
                && !resource_type.kind.is_empty();
            needs.needs.push(Need {
                resource: resource_type,
                subresource,
                verbs,
                namespace,
                watch,
            });
        }
        needs
    }

    /// The permissions used, as [`crate::rbac`] grants them: those of [`Used::needs`], and the non-resource paths
    /// Kubernetes does not grant to everyone.
    pub fn permissions(&self, name: &str) -> Vec<Permission> {
        let mut out = self.needs(name, &[]).permissions();
        for p in &self.paths {
            if let Ok(verb) = p.verb.parse::<Verb>()
                && !granted_to_everyone(&p.path)
            {
                out.push(Permission::non_resource(&p.path, verb));
            }
        }
        out
    }

    /// The RBAC granting exactly what was used to `subject`, named `name` ([`crate::rbac::generate`]).
    pub fn rbac(&self, name: &str, subject: &Subject) -> Vec<RbacObject> {
        rbac::generate(name, subject, &self.permissions(name))
    }

    /// [`Used::rbac`] as YAML for `kubectl apply -f -`.
    pub fn rbac_yaml(&self, name: &str, subject: &Subject) -> Result<String, serde_yaml::Error> {
        rbac::to_yaml(&self.rbac(name, subject))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::url::parse_request;

    const DENIED: &str = r#"documents.kube.rs is forbidden: User "system:serviceaccount:ns:ctl" cannot watch resource "documents" in API group "kube.rs" at the cluster scope"#;
    const WEBHOOK: &str = r#"admission webhook "deny.example.com" denied the request: no"#;

    #[test]
    fn records_allowed_and_denied_with_scope() {
        let r = Recorder::new();
        r.observe(
            &parse_request("GET", "/apis/kube.rs/v1/documents?watch=true"),
            403,
            DENIED,
        );
        r.observe(&parse_request("GET", "/apis/kube.rs/v1/documents"), 200, "");
        r.observe(
            &parse_request("PATCH", "/apis/kube.rs/v1/namespaces/a/documents/d/status"),
            200,
            "",
        );
        r.observe(
            &parse_request("PATCH", "/apis/kube.rs/v1/namespaces/a/documents/d/status"),
            404,
            "not found",
        );
        r.observe(
            &parse_request("POST", "/api/v1/namespaces/a/configmaps"),
            403,
            WEBHOOK,
        );
        r.observe(
            &parse_request("PATCH", "/api/v1/namespaces/a/secrets/s?fieldManager=x"),
            201,
            "",
        );
        r.observe(
            &parse_request("GET", "/api/v1/namespaces/a/pods"),
            0,
            "connection refused",
        );
        r.observe(
            &parse_request("GET", "/api/v1/namespaces/a/pods"),
            401,
            "Unauthorized",
        );
        r.observe(&parse_request("GET", "/version"), 200, "");
        let used = r.snapshot();
        let find = |verb: &str, resource: &str| {
            used.permissions
                .iter()
                .find(|p| p.verb == verb && p.resource == resource)
                .unwrap()
        };
        let watch = find("watch", "documents");
        assert_eq!(
            (watch.allowed, watch.denied, &watch.scope),
            (0, 1, &Scope::Cluster)
        );
        let status = find("patch", "documents");
        assert_eq!(status.subresource.as_deref(), Some("status"));
        assert_eq!(
            (status.allowed, &status.scope),
            (2, &Scope::Namespace("a".into())),
            "a 404 was authorized"
        );
        assert_eq!(
            find("create", "configmaps").allowed,
            1,
            "an admission denial was authorized"
        );
        assert_eq!(used.undecided, 2);
        assert_eq!(used.paths.len(), 1);
        assert_eq!(
            find("create", "secrets").allowed,
            1,
            "an apply that created the object needed create"
        );
        assert_eq!(find("patch", "secrets").allowed, 1);
        assert_eq!(used.permissions.len(), 6);
    }

    #[test]
    fn many_namespaces_collapse_and_the_record_stays_bounded() {
        let r = Recorder::new();
        for i in 0..MAX_NAMESPACES + 5 {
            r.observe(
                &parse_request("PATCH", &format!("/api/v1/namespaces/n{i}/configmaps/x")),
                200,
                "",
            );
        }
        let used = r.snapshot();
        assert_eq!(used.permissions.len(), 1, "{used:?}");
        assert_eq!(used.permissions[0].scope, Scope::ManyNamespaces);
        assert_eq!(
            used.permissions[0].allowed,
            (MAX_NAMESPACES + 5) as u64,
            "no request lost"
        );

        for i in 0..MAX_PERMISSIONS + 10 {
            r.observe(
                &parse_request("GET", &format!("/apis/g{i}.example.com/v1/things")),
                200,
                "",
            );
        }
        for i in 0..MAX_PATHS + 3 {
            r.observe(&parse_request("GET", &format!("/p{i}")), 200, "");
        }
        let used = r.snapshot();
        assert_eq!(used.permissions.len(), MAX_PERMISSIONS);
        assert_eq!(used.paths.len(), MAX_PATHS);
        assert_eq!(used.dropped, 11 + 3);
    }

    #[test]
    fn needs_and_rbac_of_what_was_used() {
        let r = Recorder::new();
        r.observe(&parse_request("GET", "/apis/kube.rs/v1/documents"), 200, "");
        r.observe(
            &parse_request("GET", "/apis/kube.rs/v1/documents?watch=true"),
            200,
            "",
        );
        r.observe(
            &parse_request("PATCH", "/apis/kube.rs/v1/namespaces/a/documents/d/status"),
            403,
            DENIED,
        );
        r.observe(
            &parse_request(
                "GET",
                "/apis/coordination.k8s.io/v1/namespaces/ctl/leases/l",
            ),
            200,
            "",
        );
        r.observe(&parse_request("GET", "/metrics"), 200, "");
        r.observe(&parse_request("GET", "/apis"), 200, "");
        // kubewhy's own access checks need no grant.
        r.observe(
            &parse_request(
                "POST",
                "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            ),
            201,
            "",
        );
        let used = r.snapshot();
        let documents = ResourceType::new("kube.rs", "v1", "documents", "Document", true);
        let needs = used.needs("ctl", &[documents]);
        let yaml = needs.to_yaml().unwrap();
        let back = Needs::from_yaml(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        assert_eq!(back, needs);
        assert_eq!(needs.needs.len(), 3, "{yaml}");
        let docs = &needs.needs[1];
        assert_eq!(
            (
                docs.resource.kind.as_str(),
                docs.watch,
                docs.namespace.as_deref()
            ),
            ("Document", true, None)
        );
        assert_eq!(
            needs.needs[2].subresource.as_deref(),
            Some("status"),
            "{yaml}"
        );
        let sa = Subject::from_username("system:serviceaccount:ctl:ctl");
        let rbac = used.rbac_yaml("ctl", &sa).unwrap();
        assert!(
            rbac.contains("/metrics") && !rbac.contains("- /apis"),
            "{rbac}"
        );
        assert!(
            rbac.contains("kind: Role\n") && rbac.contains("leases"),
            "{rbac}"
        );
    }
}
