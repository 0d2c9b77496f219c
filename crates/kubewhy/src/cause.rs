//! The typed cause of a failure: what was found, as data — the denied request's scope, the admission plugin that
//! refused, the served names near a misspelled one, the invalid fields, the kind of transport failure. Producers
//! (the readers and the classifier, preflight, `--live`, the watcher layer) fill it in; [`crate::describe`] words
//! it and [`crate::remedy`] derives the fix from it. Nothing here formats a sentence.
//!
//! Each variant maps to exactly one [`Class`] ([`Cause::class`]), the stable contract of JSON and text output.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::class::Class;
use crate::near_miss::NearMiss;

/// What was found about a failure.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Cause {
    // ===== access =====
    /// An authorizer (RBAC, or another in the chain) did not allow the request.
    Denied(Denial),
    /// RBAC escalation prevention: a role or binding would grant permissions its creator does not hold.
    Escalation {
        /// The rules not held, as the API server lists them (`{APIGroups:[""], Resources:["secrets"], ...}`).
        not_held: Vec<String>,
        /// Why no binding of the creator grants `escalate` on the roles, and the smallest fix (when the RBAC
        /// objects could be read: [`crate::rbac::NearMisses`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        near_miss: Option<Arc<NearMiss>>,
    },
    /// The request was authorized, then admission refused it.
    Admission {
        /// Which admission mechanism refused.
        by: Admitter,
        /// Its reason, as it gave it.
        detail: Option<String>,
    },
    /// An admission webhook, or a CRD's conversion webhook, could not be called (a 500 from the API server): the
    /// webhook is down, not an object of the request.
    WebhookUnreachable {
        /// The webhook's name (`validate.example.com`); empty for a conversion webhook, which has none.
        webhook: String,
        /// The Service behind it (`ns/name`), when the message names it.
        service: Option<String>,
        /// What the call failed with.
        detail: Option<String>,
        /// For a CRD's conversion webhook (not an admission webhook): the kind and group whose objects it converts
        /// (`NodeClaim.karpenter.sh`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conversion: Option<String>,
    },
    /// The server did not accept the client's credentials (401).
    Unauthenticated {
        /// The message says the token has expired.
        expired: bool,
    },
    /// The client could not obtain credentials before sending (token file, exec plugin, auth provider).
    CredentialsUnavailable,

    // ===== what is served =====
    /// The resource type is not served.
    NotServed(NotServed),
    /// The resource type is served but has no such subresource.
    NoSubresource {
        /// The subresources it has.
        served: Vec<String>,
    },
    /// The type is served; the named object does not exist.
    ObjectMissing,
    /// A controller was asked to reconcile an object that is no longer in its cache.
    NotInCache,
    /// The ServiceAccount an identity names does not exist (checks as it answer for no program).
    SubjectMissing,
    /// The API server does not serve aggregated discovery (`apidiscovery.k8s.io/v2`, Kubernetes 1.30+).
    NoAggregatedDiscovery,

    // ===== the request =====
    /// The object failed validation (422).
    Invalid {
        /// The field causes (`details.causes`), in order.
        fields: Vec<FieldError>,
        /// The reason after `is invalid:` when there are no field causes.
        detail: Option<String>,
    },
    /// A JSON patch's `test` operation failed: the object changed since it was read (a stale cache). Transient.
    StalePatch {
        /// The server's reason.
        detail: Option<String>,
    },
    /// List or watch options the server rejects (422 on `ListOptions`, 400).
    BadOptions {
        /// The option fields named (`resourceVersionMatch`, `fieldSelector`).
        fields: Vec<String>,
        /// The server's reason.
        detail: Option<String>,
    },
    /// A watch set `sendInitialEvents` (a streaming list) on a server without the WatchList feature.
    WatchListDisabled,
    /// A watch set `resourceVersionMatch` without `sendInitialEvents=true`.
    ResourceVersionMatchOnWatch,
    /// A list or watch asked the server to filter by `shardSelector` and it sent objects outside the ranges: it
    /// does not serve sharded lists and watches (Kubernetes before 1.36, or the `ShardedListAndWatch` feature gate
    /// off on this API server — in an HA control plane, on one of them).
    ShardingNotServed {
        /// How many objects arrived outside the requested ranges.
        strays: u64,
    },
    /// A request the server could not read (400 `BadRequest`): an unsupported field selector, a bad body.
    BadRequest {
        /// The server's reason.
        detail: Option<String>,
    },
    /// Verbs the resource does not support (405, or a need that declares them).
    VerbUnsupported {
        /// The unsupported verbs.
        verbs: Vec<String>,
        /// The verbs the resource supports, when known (discovery).
        supported: Vec<String>,
    },
    /// A need declares the wrong scope for its type.
    WrongScope {
        /// What the need declares (`true`: namespaced).
        declared_namespaced: bool,
    },
    /// The client could not build the request; nothing was sent.
    NotSent,
    /// A list answer had no resourceVersion to start a watch from.
    NoResourceVersion,

    // ===== the object's state =====
    /// Optimistic concurrency: the update carried an old `resourceVersion` (409).
    Modified,
    /// Server-side apply: another field manager owns the fields (409).
    ApplyConflict {
        /// The other manager.
        manager: String,
        /// The conflicting fields, as the server lists them.
        detail: Option<String>,
    },
    /// A create named an object that exists (409).
    AlreadyExists,
    /// A resource version or continue token too old (410).
    Expired,

    // ===== load and the server =====
    /// API Priority and Fairness rejected the request (429).
    Throttled {
        /// The server's Retry-After, in seconds.
        retry_after: Option<u32>,
    },
    /// client-go's own rate limiter delayed requests; the server refused nothing.
    ClientThrottled,
    /// The watch cache is (re)initialising after an API server start (429 `storage is (re)initializing`).
    Reinitializing {
        /// The server's Retry-After, in seconds.
        retry_after: Option<u32>,
    },
    /// The server failed to handle the request (5xx).
    ServerFailed,
    /// The server, or an aggregated API behind it, is unavailable (503).
    Unavailable,
    /// etcd changed leader while serving the request: transient.
    LeaderChanged,
    /// Objects in storage could not be read or decrypted (500 `StorageReadError`).
    StorageRead {
        /// The storage keys named (`/registry/secrets/ns/name`).
        keys: Vec<String>,
    },
    /// The server timed out handling the request (504, 500 `ServerTimeout`).
    ServerTimeout,
    /// No answer arrived in time (a client-side time-out).
    NoAnswer {
        /// The client's time limit, in milliseconds, when known.
        after_ms: Option<u64>,
    },
    /// controller-runtime gave up waiting for an informer's cache to sync.
    CacheSyncTimeout,
    /// A watch delivered neither an event nor a bookmark for longer than the API server's bookmark interval: the
    /// connection is most likely half-open. The watch was ended and resumes from the last resourceVersion seen.
    StalledWatch {
        /// How long it was quiet, in seconds.
        idle_s: u64,
    },
    /// A streaming list (`sendInitialEvents=true`) sent no `k8s.io/initial-events-end` bookmark in time.
    NoInitialEventsEnd {
        /// How long it waited without progress, in seconds.
        waited_s: u64,
    },

    // ===== the application's own =====
    /// A failure of the application's own, not of the Kubernetes API: a hand-over between the replicas of a
    /// sharded controller that waits, an object its controller cannot handle, a resource owned by someone else.
    /// The application names it, classes it and brings its words ([`AppCause`]); kubewhy carries it through the
    /// same flow as every other cause (a log line, a metric by class, readiness, a condition, a report).
    Application(AppCause),

    // ===== transport =====
    /// No HTTP answer: the connection was refused, reset, or never made.
    Connection {
        /// How it failed.
        failure: ConnectionFailure,
        /// The operating system's error code (`os error 111`), when known.
        os_code: Option<i32>,
    },
    /// TLS failed.
    Tls {
        /// How it failed.
        failure: TlsFailure,
    },
    /// The configured proxy cannot be used by this build of the client.
    ProxyUnsupported,

    // ===== the client =====
    /// No usable configuration: no kubeconfig and no in-cluster ServiceAccount files.
    NoConfig,
    /// An answer could not be decoded into the client's type.
    Undecodable,
    /// Not recognised.
    Unknown,
}

/// An authorizer's denial.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Denial {
    /// The scope the request was denied at.
    pub scope: Scope,
    /// A non-core resource was asked for in the core group (`""`): the client built the URL without the
    /// resource's group, so RBAC for group `""` cannot help.
    pub wrong_core_group: bool,
    /// The resource's real group, when known (a built-in resource, or discovery found it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub real_group: Option<String>,
    /// A binding refers to a role that does not exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_role: Option<MissingRole>,
    /// What the authorizer added (text after the denial; a SubjectAccessReview's `reason`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorizer: Option<String>,
    /// An authorizer denied it explicitly (a SubjectAccessReview's `denied: true`), not for want of a rule.
    #[serde(default)]
    pub explicit: bool,
    /// The authorizer reported an error while deciding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_error: Option<String>,
    /// The identity denied is the caller's own (a SelfSubjectAccessReview): checking it again needs no `--as`.
    #[serde(default)]
    pub caller: bool,
    /// Further verbs denied on the same target (a report shows several denials as one).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_denied: Vec<String>,
    /// Why each binding that names the subject does not grant the request, and the smallest fix (when the RBAC
    /// objects could be read: [`crate::rbac::NearMisses`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub near_miss: Option<Arc<NearMiss>>,
}

/// Where a request was denied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Scope {
    /// In one namespace (the request's).
    Namespace,
    /// In all namespaces: a namespaced type, every namespace.
    AllNamespaces,
    /// At cluster scope (`at the cluster scope`: a cluster-scoped type, or a namespaced one in all namespaces).
    Cluster,
    /// A cluster-scoped type.
    ClusterScoped,
    /// Not said.
    #[default]
    Unknown,
}

/// A role a binding refers to that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MissingRole {
    /// A ClusterRole (else a Role).
    pub cluster: bool,
    /// Its name.
    pub name: String,
}

/// The admission mechanism that refused a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Admitter {
    /// An admission webhook.
    Webhook {
        /// Its name.
        name: String,
    },
    /// A ValidatingAdmissionPolicy and its binding (the reason may be `Forbidden`: a 403 that is not RBAC).
    Policy {
        /// The policy.
        name: String,
        /// The binding.
        binding: String,
    },
    /// Pod Security admission.
    PodSecurity {
        /// The level and version (`restricted:latest`).
        level: String,
    },
    /// A ResourceQuota.
    Quota {
        /// Its name.
        name: String,
    },
    /// The namespace is being deleted.
    NamespaceTerminating,
    /// Another admission plugin.
    Other,
}

/// What a misspelled or missing type is, as far as it is known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NotServed {
    /// A non-core resource asked for in the core group; the real group when it is known.
    #[serde(default)]
    pub wrong_core_group: bool,
    /// The resource's real group, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub real_group: Option<String>,
    /// What discovery says about the group, version and resource, when it was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<Absence>,
    /// The CustomResourceDefinition, when it was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crd: Option<CrdState>,
    /// Served resources with a near name, nearest first (from the one nearest-name search).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<Suggestion>,
    /// The server answered a plain-text `404 page not found` (kube-rs: reason `Failed to parse error data`).
    #[serde(default)]
    pub plain_text: bool,
    /// The command that installs the type (`doc-controller crdgen | kubectl apply -f -`), when the program knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install: Option<String>,
}

/// Why discovery does not list a type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Absence {
    /// No served group has that name.
    Group,
    /// The group does not serve the version.
    Version {
        /// The versions it serves.
        served: Vec<String>,
    },
    /// The group version serves no such resource.
    Resource {
        /// Other versions of the group that serve it.
        other_versions: Vec<String>,
    },
}

/// What the CustomResourceDefinition of a type that is not served says.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum CrdState {
    /// Not installed.
    Missing,
    /// Installed, not `Established`.
    NotEstablished {
        /// The conditions that are not `True` (`NamesAccepted=False (NameConflict: ...)`).
        conditions: Vec<String>,
    },
    /// Installed, but it does not serve the version.
    VersionNotServed {
        /// It defines the version, with `served: false`.
        defined: bool,
        /// The versions it serves.
        served: Vec<String>,
    },
    /// Installed, Established and serving the version; discovery has not caught up yet.
    NotYetDiscovered,
    /// Reading it failed.
    Unreadable {
        /// Why.
        error: String,
    },
}

/// A served resource with a name near a wanted one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Suggestion {
    /// API group (`""` for core).
    pub group: String,
    /// Version.
    pub version: String,
    /// Plural.
    pub plural: String,
    /// Kind.
    pub kind: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
}

/// One field a 422 names (`details.causes[]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FieldError {
    /// The field path (`spec.title`).
    pub field: String,
    /// The cause type (`FieldValueRequired`).
    pub reason: String,
    /// The message (`Required value`).
    pub message: String,
}

/// A failure of the application's own ([`Cause::Application`]): what the application knows about it, in its
/// words — kubewhy knows nothing about the application's objects, so the application is the wording table of its
/// own causes. Built with [`AppCause::new`] and the builder methods.
///
/// ```
/// use kubewhy::cause::AppCause;
/// use kubewhy::{Cause, Class, Diagnosis};
///
/// let stalled = AppCause::new(
///     "handover-stalled",
///     Class::Timeout,
///     "a hand-over in ring `docs` has waited 90 s for `docs-1`",
/// )
/// .cause("`docs-1` has not applied the new ring on its Lease")
/// .help("read the log of `docs-1`: its own diagnosis says why")
/// .command("kubectl -n docs describe leases docs-1");
/// let d = Diagnosis::new(Cause::Application(stalled), "ring 1a2b not applied by every member");
/// assert_eq!(d.class, Class::Timeout);
/// assert!(!d.is_transient());
/// assert_eq!(format!("{d}"), "error[timeout]: a hand-over in ring `docs` has waited 90 s for `docs-1`");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AppCause {
    /// Its stable name, kebab-case, unique within the application (`handover-stalled`): what tells two causes of
    /// the application apart in JSON and in a log line (`code=`).
    pub code: String,
    /// The class it is counted and shown under.
    pub class: Class,
    /// Whether retrying with back-off is expected to help without anyone changing anything.
    #[serde(default)]
    pub transient: bool,
    /// What failed, in one line.
    pub summary: String,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cause: String,
    /// Further facts (`= note:` lines).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// What to do, in one line.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub help: String,
    /// Commands that confirm the cause or apply the fix, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<String>,
}

impl AppCause {
    /// A cause of the application named `code` (kebab-case), in `class`, saying `summary`; not transient.
    pub fn new(code: impl Into<String>, class: Class, summary: impl Into<String>) -> AppCause {
        AppCause {
            code: code.into(),
            class,
            transient: false,
            summary: summary.into(),
            cause: String::new(),
            notes: Vec::new(),
            help: String::new(),
            commands: Vec::new(),
        }
    }

    /// Why it failed.
    #[must_use]
    pub fn cause(mut self, cause: impl Into<String>) -> AppCause {
        self.cause = cause.into();
        self
    }

    /// Adds a fact (a `= note:` line).
    #[must_use]
    pub fn note(mut self, note: impl Into<String>) -> AppCause {
        self.notes.push(note.into());
        self
    }

    /// What to do, in one line.
    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> AppCause {
        self.help = help.into();
        self
    }

    /// Adds a command that confirms the cause or applies the fix.
    #[must_use]
    pub fn command(mut self, command: impl Into<String>) -> AppCause {
        self.commands.push(command.into());
        self
    }

    /// Whether retrying with back-off is expected to help (default: no).
    #[must_use]
    pub fn transient(mut self, transient: bool) -> AppCause {
        self.transient = transient;
        self
    }
}

/// How a connection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ConnectionFailure {
    /// Nothing listens at the address (ECONNREFUSED).
    Refused,
    /// The peer reset or closed the connection.
    Reset,
    /// The host name did not resolve.
    Dns,
    /// No route to the host or network.
    Unreachable,
    /// Otherwise lost or never made.
    Other,
}

/// How TLS failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum TlsFailure {
    /// The server's certificate chains to no CA the client trusts.
    UnknownIssuer,
    /// rustls rejected the chain although the CA data names a leaf or intermediate certificate of it, which Go's
    /// TLS (kubectl) accepts as a trust anchor and rustls does not (kube#1767).
    CaNotRoot,
    /// A certificate has expired (or is not yet valid).
    Expired,
    /// The certificate does not name the address connected to.
    WrongName,
    /// The handshake failed (protocol, alert, client certificate).
    Handshake,
    /// Another TLS failure.
    Other,
}

/// The family of a cause: which file of [`crate::describe`] words it and which of [`crate::remedy`] fixes it (the
/// same families in both), so a new cause touches one file per layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// Denials, admission, credentials.
    Access,
    /// What the API server serves.
    Served,
    /// The request and the object's state.
    Request,
    /// Load, the server, transport, the client.
    Server,
    /// The application's own.
    Application,
}

impl Cause {
    /// The family that words and fixes it.
    pub(crate) fn family(&self) -> Family {
        match self {
            Cause::Denied(_)
            | Cause::Escalation { .. }
            | Cause::Admission { .. }
            | Cause::WebhookUnreachable { .. }
            | Cause::Unauthenticated { .. }
            | Cause::CredentialsUnavailable => Family::Access,
            Cause::NotServed(_)
            | Cause::NoSubresource { .. }
            | Cause::ObjectMissing
            | Cause::NotInCache
            | Cause::SubjectMissing
            | Cause::NoAggregatedDiscovery => Family::Served,
            Cause::Invalid { .. }
            | Cause::StalePatch { .. }
            | Cause::BadOptions { .. }
            | Cause::WatchListDisabled
            | Cause::ResourceVersionMatchOnWatch
            | Cause::ShardingNotServed { .. }
            | Cause::BadRequest { .. }
            | Cause::VerbUnsupported { .. }
            | Cause::WrongScope { .. }
            | Cause::NotSent
            | Cause::NoResourceVersion
            | Cause::Modified
            | Cause::ApplyConflict { .. }
            | Cause::AlreadyExists
            | Cause::Expired => Family::Request,
            Cause::Throttled { .. }
            | Cause::ClientThrottled
            | Cause::Reinitializing { .. }
            | Cause::ServerFailed
            | Cause::Unavailable
            | Cause::LeaderChanged
            | Cause::StorageRead { .. }
            | Cause::ServerTimeout
            | Cause::NoAnswer { .. }
            | Cause::CacheSyncTimeout
            | Cause::StalledWatch { .. }
            | Cause::NoInitialEventsEnd { .. }
            | Cause::Connection { .. }
            | Cause::Tls { .. }
            | Cause::ProxyUnsupported
            | Cause::NoConfig
            | Cause::Undecodable
            | Cause::Unknown => Family::Server,
            Cause::Application(_) => Family::Application,
        }
    }

    /// The class this cause belongs to.
    pub fn class(&self) -> Class {
        match self {
            Cause::Denied(_) | Cause::Escalation { .. } => Class::Forbidden,
            Cause::Admission { .. } => Class::AdmissionDenied,
            Cause::Unauthenticated { .. } | Cause::CredentialsUnavailable => Class::Unauthorized,
            Cause::NotServed(_) | Cause::NoSubresource { .. } | Cause::NoAggregatedDiscovery => {
                Class::ResourceNotFound
            }
            Cause::ObjectMissing | Cause::NotInCache | Cause::SubjectMissing => {
                Class::ObjectNotFound
            }
            Cause::BadOptions { .. }
            | Cause::WatchListDisabled
            | Cause::ResourceVersionMatchOnWatch
            | Cause::ShardingNotServed { .. }
            | Cause::BadRequest { .. }
            | Cause::VerbUnsupported { .. }
            | Cause::WrongScope { .. }
            | Cause::NotSent
            | Cause::NoResourceVersion => Class::InvalidRequest,
            Cause::Invalid { .. } => Class::InvalidObject,
            Cause::Modified | Cause::ApplyConflict { .. } | Cause::StalePatch { .. } => {
                Class::Conflict
            }
            Cause::AlreadyExists => Class::AlreadyExists,
            Cause::Expired => Class::Expired,
            Cause::Throttled { .. } | Cause::ClientThrottled | Cause::Reinitializing { .. } => {
                Class::Throttled
            }
            Cause::ServerFailed
            | Cause::Unavailable
            | Cause::LeaderChanged
            | Cause::StorageRead { .. }
            | Cause::WebhookUnreachable { .. } => Class::ServerError,
            Cause::ServerTimeout
            | Cause::NoAnswer { .. }
            | Cause::CacheSyncTimeout
            | Cause::StalledWatch { .. }
            | Cause::NoInitialEventsEnd { .. } => Class::Timeout,
            Cause::Connection { .. } | Cause::ProxyUnsupported => Class::Connection,
            Cause::Tls { .. } => Class::Tls,
            Cause::NoConfig | Cause::Undecodable | Cause::Unknown => Class::Unknown,
            Cause::Application(app) => app.class,
        }
    }

    /// Whether retrying with back-off is expected to help without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        match self {
            // Undecryptable objects stay undecryptable; a webhook whose Service is gone stays gone.
            Cause::StorageRead { .. } | Cause::WebhookUnreachable { .. } => false,
            // The application knows.
            Cause::Application(app) => app.transient,
            other => other.class().is_transient(),
        }
    }

    /// The cause without the free text a server or authorizer adds to it (a webhook's reason, the rest of a log
    /// line after `denied the request:`): what tells two occurrences of one failure apart from two failures.
    pub fn without_text(&self) -> Cause {
        let mut c = self.clone();
        match &mut c {
            Cause::Denied(d) => {
                d.authorizer = None;
                d.evaluation_error = None;
                // What the live cluster says about the bindings is context added to a cause, not part of it.
                d.near_miss = None;
            }
            Cause::Admission { detail, .. }
            | Cause::WebhookUnreachable { detail, .. }
            | Cause::StalePatch { detail }
            | Cause::BadOptions { detail, .. }
            | Cause::BadRequest { detail }
            | Cause::ApplyConflict { detail, .. }
            | Cause::Invalid { detail, .. } => *detail = None,
            Cause::Escalation {
                not_held,
                near_miss,
            } => {
                not_held.clear();
                *near_miss = None;
            }
            _ => {}
        }
        c
    }

    /// The cause's stable name (the JSON `kind`): `denied`, `not-served`, `stale-patch`, ...
    pub fn kind(&self) -> &'static str {
        match self {
            Cause::Denied(_) => "denied",
            Cause::Escalation { .. } => "escalation",
            Cause::Admission { .. } => "admission",
            Cause::WebhookUnreachable { .. } => "webhook-unreachable",
            Cause::Unauthenticated { .. } => "unauthenticated",
            Cause::CredentialsUnavailable => "credentials-unavailable",
            Cause::NotServed(_) => "not-served",
            Cause::NoSubresource { .. } => "no-subresource",
            Cause::ObjectMissing => "object-missing",
            Cause::NotInCache => "not-in-cache",
            Cause::SubjectMissing => "subject-missing",
            Cause::NoAggregatedDiscovery => "no-aggregated-discovery",
            Cause::Invalid { .. } => "invalid",
            Cause::StalePatch { .. } => "stale-patch",
            Cause::BadOptions { .. } => "bad-options",
            Cause::WatchListDisabled => "watch-list-disabled",
            Cause::ResourceVersionMatchOnWatch => "resource-version-match-on-watch",
            Cause::ShardingNotServed { .. } => "sharding-not-served",
            Cause::BadRequest { .. } => "bad-request",
            Cause::VerbUnsupported { .. } => "verb-unsupported",
            Cause::WrongScope { .. } => "wrong-scope",
            Cause::NotSent => "not-sent",
            Cause::NoResourceVersion => "no-resource-version",
            Cause::Modified => "modified",
            Cause::ApplyConflict { .. } => "apply-conflict",
            Cause::AlreadyExists => "already-exists",
            Cause::Expired => "expired",
            Cause::Throttled { .. } => "throttled",
            Cause::ClientThrottled => "client-throttled",
            Cause::Reinitializing { .. } => "reinitializing",
            Cause::ServerFailed => "server-failed",
            Cause::Unavailable => "unavailable",
            Cause::LeaderChanged => "leader-changed",
            Cause::StorageRead { .. } => "storage-read",
            Cause::ServerTimeout => "server-timeout",
            Cause::NoAnswer { .. } => "no-answer",
            Cause::CacheSyncTimeout => "cache-sync-timeout",
            Cause::StalledWatch { .. } => "stalled-watch",
            Cause::NoInitialEventsEnd { .. } => "no-initial-events-end",
            Cause::Connection { .. } => "connection",
            Cause::Tls { .. } => "tls",
            Cause::ProxyUnsupported => "proxy-unsupported",
            Cause::NoConfig => "no-config",
            Cause::Undecodable => "undecodable",
            Cause::Unknown => "unknown",
            Cause::Application(_) => "application",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_read_errors_are_not_transient_though_server_errors_are() {
        assert!(Cause::LeaderChanged.is_transient());
        assert!(!Cause::StorageRead { keys: vec![] }.is_transient());
        assert!(Cause::StalePatch { detail: None }.is_transient());
    }
}
