//! Facts about the circumstances of a failure that are not its cause: who logged it, which reconciler returned it,
//! what a live check against the cluster found, why a check's answer is unknown. Producers record them as data;
//! [`crate::describe`] words them (the `= note:` lines).

use serde::{Deserialize, Serialize};

/// One fact about the circumstances of a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Note {
    /// kube_runtime logged it: its watcher retries the request with back-off.
    LoggedByKubeRuntime,
    /// A client-go reflector logged it: it retries with back-off for ever.
    LoggedByReflector,
    /// kubectl could not map a manifest's kind to a resource.
    KindNotMapped,
    /// Discovery of an aggregated API group failed.
    GroupDiscoveryFailed,
    /// A reconciler returned the error for this object.
    Reconciler {
        /// The object (`Document.v1.kube.rs/hello.docs`).
        object: String,
    },
    /// The controller's runner failed.
    Runner,
    /// The program's declared needs the failure belongs to (`kubewhy check`, `doctor`).
    Declared {
        /// The program (`doc-controller`).
        program: String,
        /// The needs, 1-based.
        needs: Vec<usize>,
    },
    /// The API server the checks talk to (from the kubeconfig).
    Server {
        /// Its URL.
        url: String,
    },
    /// kubewhy reads aggregated discovery (Kubernetes 1.30+).
    ReadsAggregatedDiscovery,
    /// The SelfSubjectReview API is served from Kubernetes 1.28 on.
    SelfSubjectReviewUnserved,
    /// Who the caller is is unknown; the other checks go on.
    CallerUnknown,
    /// An access review failed, so whether the subject may do this is unknown.
    ReviewUnanswered {
        /// Who was checked (a user name; empty: the caller).
        user: String,
        /// The verb.
        verb: String,
        /// The resource (`documents.kube.rs/status`).
        resource: String,
    },
    /// The access review allowed the request, yet it failed live.
    FailedDespiteReview,
    /// What a live check against the cluster found (`kubewhy explain --live`).
    Live(Live),
    /// What could not be confirmed without a cluster (`--live` would).
    Unconfirmed {
        /// Why no cluster could be asked, when `--live` was asked for.
        no_cluster: Option<String>,
    },
    /// The RBAC objects could not be read, so no near miss explains the denial (said once, on the first denial).
    RbacUnreadable {
        /// The kinds whose list was denied (`rolebindings`), empty when reading failed otherwise.
        denied: Vec<String>,
        /// Who was denied reading them.
        user: Option<String>,
        /// Why reading failed otherwise, in one line.
        error: Option<String>,
    },
    /// The access watchdog found a permission the program had gone while it runs.
    AccessLost {
        /// The program keeps a watch open on the resource (it still streams until its next reconnect).
        watching: bool,
    },
    /// The client's bearer token carries an expiry (a JWT `exp`) that has passed.
    TokenExpired {
        /// When it expired (RFC 3339, UTC).
        at: String,
        /// Its lifetime (`exp - iat`), in seconds, when the token says.
        lifetime_s: Option<u64>,
        /// The token is read from a file (a projected ServiceAccount token the kubelet rotates).
        from_file: bool,
    },
    /// Renewing the leader-election Lease failed: this replica stops leading before the Lease could expire.
    LeaseRenewal {
        /// `namespace/name` of the Lease.
        lease: String,
    },
    /// A streaming list is not possible here: the watcher lists page by page instead.
    StreamingListFallback,
    /// Where a failure was seen in a workload (`kubewhy explain deploy/x`): in which pods' logs, which objects'
    /// events and conditions, how often and when last.
    Seen(Seen),
    /// Part of a workload that could not be read (`kubewhy explain deploy/x`): the diagnosis is of the reader's
    /// own request, and kubewhy went on with the rest.
    NotRead(Unread),
}

/// Where a failure was seen in a workload, for [`Note::Seen`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Seen {
    /// The workload (`deployment/web`, `pods -l app=web`).
    pub workload: String,
    /// The pods whose logs held it, by name.
    pub pods: Vec<String>,
    /// How many pods' logs were read.
    pub of: usize,
    /// How many containers' logs held it (a restarted container's previous log counts apart).
    pub containers: usize,
    /// How many times it occurred, in all.
    pub count: u64,
    /// The objects whose events or status conditions said it.
    pub said: Vec<Said>,
    /// It was seen only in the logs of containers that have restarted since.
    pub previous_only: bool,
    /// When it was last seen (RFC 3339), when the log's time stamps or the events say.
    pub last_at: Option<String>,
    /// How long before the report that was, in seconds.
    pub last_ago_s: Option<u64>,
    /// The failure's text names no user, so the identity the pods run as (`system:serviceaccount:ns:name`) was
    /// taken as the one that failed.
    pub identity_from_pods: Option<String>,
}

/// An object whose event or status condition said a failure, for [`Seen`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Said {
    /// `replicaset/web-7d9c`, `pod/web-7d9c-x2x`.
    pub object: String,
    /// How.
    pub by: SaidBy,
}

/// How an object said a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum SaidBy {
    /// An event with this reason (`FailedCreate`).
    Event {
        /// The event's reason.
        reason: String,
    },
    /// A status condition of this type (`ReplicaFailure`).
    Condition {
        /// The condition's type.
        condition: String,
    },
}

/// What of a workload could not be read, for [`Note::NotRead`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "what", rename_all = "kebab-case")]
pub enum Unread {
    /// The workload object (its selector, its status conditions).
    Workload {
        /// `deployment/web`.
        name: String,
    },
    /// Its pods: no logs, no pod events or conditions.
    Pods,
    /// The objects between the workload and its pods (a Deployment's ReplicaSets): their events and conditions.
    Owned {
        /// `replicasets`.
        resource: String,
    },
    /// The logs of these containers (`pod/container`, `pod/container (previous)`).
    Logs {
        /// The containers.
        containers: Vec<String>,
    },
    /// The events of the namespace.
    Events,
    /// The ServiceAccount the pods run as.
    ServiceAccount {
        /// `namespace/name`.
        name: String,
    },
}

/// What a live check against the cluster found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "found", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Live {
    /// Discovery could not be read.
    DiscoveryFailed {
        /// Why.
        error: String,
    },
    /// The failure names no resource, so discovery cannot check it.
    NoResourceNamed,
    /// The type is served now, as requested (installed after the failure).
    ServedNow {
        /// `documents.kube.rs/v1`.
        name: String,
    },
    /// The type is served, in another group or version.
    ServedElsewhere {
        /// Where (`documents.kube.rs/v1`).
        names: Vec<String>,
    },
    /// Nothing served has a near name: the CRD (or the API serving it) is not installed.
    NothingNear {
        /// The name looked for.
        wanted: String,
    },
    /// Not served; the nearest served names.
    Nearest {
        /// The name looked for.
        wanted: String,
        /// The nearest names, closest first.
        names: Vec<String>,
    },
    /// A resource asked for in the core group is served by exactly one group.
    ServedInGroup {
        /// The resource.
        resource: String,
        /// Its group.
        group: String,
        /// `documents.kube.rs/v1`.
        name: String,
    },
    /// A resource asked for in the core group is served by several groups.
    ServedInGroups {
        /// The resource.
        resource: String,
        /// Where.
        names: Vec<String>,
    },
    /// No group serves a resource asked for in the core group.
    NoGroupServes {
        /// The resource.
        resource: String,
    },
    /// A SubjectAccessReview still denies it.
    StillDenied {
        /// The user reviewed.
        user: String,
        /// The authorizer's reason.
        reason: Option<String>,
    },
    /// A SubjectAccessReview allows it now.
    AllowedNow {
        /// The user reviewed.
        user: String,
        /// The authorizer's reason.
        reason: Option<String>,
    },
    /// The SubjectAccessReview could not be made.
    ReviewFailed {
        /// Its failure in one line.
        error: String,
    },
    /// The denial names no user, so it cannot be re-checked.
    NoUser,
}
