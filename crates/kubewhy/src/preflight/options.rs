//! How the checks run ([`Options`]), whose access they check ([`AsIdentity`]), and why they could not run at all
//! ([`Error`]).

use std::time::Duration;

/// Whose access is checked when it is not the caller's (`kubectl --as` / `--as-group`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsIdentity {
    /// User name, e.g. `system:serviceaccount:default:doc-controller`.
    pub user: String,
    /// Groups. Empty: the groups the API server adds on impersonation (`system:authenticated`, and for a
    /// ServiceAccount `system:serviceaccounts` and `system:serviceaccounts:<namespace>`).
    pub groups: Vec<String>,
}

/// How the checks run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Check this identity instead of the caller. Access is then reviewed with SubjectAccessReview (or, when
    /// the caller may not create those, SelfSubjectAccessReview under impersonation), and probes run under
    /// impersonation (skipped, with the reason, when the caller may not impersonate).
    pub as_identity: Option<AsIdentity>,
    /// Run the live probes (list + watch) for watched needs.
    pub probes: bool,
    /// The command that installs a missing CRD (e.g. `doc-controller crdgen | kubectl apply -f -`); without it the
    /// fix names the CRD (`plural.group`) in a generic `kubectl apply -f` hint.
    pub crd_install: Option<String>,
    /// How many requests run at once.
    pub concurrency: usize,
    /// The time limit of one probe (list + watch) and of the other single requests.
    pub timeout: Duration,
    /// Explain each denial by the bindings that come closest, and fix it by editing them
    /// ([`crate::rbac::NearMisses`]), when the caller may read the RBAC objects.
    pub near_misses: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            as_identity: None,
            probes: true,
            crd_install: None,
            concurrency: 16,
            timeout: Duration::from_secs(10),
            near_misses: true,
        }
    }
}

/// Why the checks could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The client configuration could not be turned into a client (TLS material, proxy, headers).
    #[error("building a Kubernetes client from the configuration failed")]
    Client(#[source] kube::Error),
}
