//! Test support for kubewhy: a real local Kubernetes control plane (embedded etcd + the genuine kube-apiserver,
//! built from Go modules by `controlplane/`), started once per test process, with isolated namespaces and clients
//! for every kind of identity.
//!
//! ```no_run
//! # async fn demo() -> Result<(), kubewhy_testenv::Error> {
//! let env = kubewhy_testenv::shared();
//! let ns = env.namespace("docs").await?;
//! let admin = env.admin().await?;                        // group system:masters
//! let alice = env.user("alice").await?;                  // static-token user, no permissions
//! let sa = env.service_account(&ns, "doc-controller").await?; // a real TokenRequest token
//! # let _ = (admin, alice, sa); Ok(()) }
//! ```
//!
//! Set `KUBEWHY_CONTROLPLANE=<state dir>` to reuse a running control plane (e.g. one started by
//! `kubewhy-dev up --dir <state dir>`), and `KUBEWHY_CONTROLPLANE_BIN` to use a prebuilt binary.

pub mod binary;
pub mod controlplane;
pub mod crd;
mod identity;

pub use identity::scratch_path;

use std::path::PathBuf;
use std::sync::OnceLock;

pub use controlplane::{ControlPlane, Options, State};
pub use identity::{Identity, ServiceAccount};

/// What can go wrong while building, starting or using the control plane.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Go is missing or too old, or `go build` failed.
    #[error("building the local control plane failed: {0}")]
    Build(String),
    /// The control plane did not come up.
    #[error("starting the local control plane failed: {0}")]
    Start(String),
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A Kubernetes API call made by the harness failed.
    #[error("{what}: {source}")]
    Kube {
        /// What was being done.
        what: String,
        /// The underlying error.
        source: Box<kube::Error>,
    },
    /// Building a client configuration failed.
    #[error("building a client for {who}: {source}")]
    Config {
        /// The identity.
        who: String,
        /// The underlying error.
        source: Box<kube::config::KubeconfigError>,
    },
}

impl Error {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            what: what.into(),
            source,
        }
    }
    pub(crate) fn kube(what: impl Into<String>, source: kube::Error) -> Error {
        Error::Kube {
            what: what.into(),
            source: Box::new(source),
        }
    }
}

static SHARED: OnceLock<Result<ControlPlane, String>> = OnceLock::new();

/// The control plane shared by every test in this process: started on first use (or reused from
/// `KUBEWHY_CONTROLPLANE`). Panics with the full reason (including the tail of the control plane's log) when it
/// cannot be had, so every test fails fast with the same message instead of hanging.
pub fn shared() -> &'static ControlPlane {
    match try_shared() {
        Ok(cp) => cp,
        Err(e) => panic!("{e}"),
    }
}

/// Like [`shared`], returning the error instead of panicking.
pub fn try_shared() -> Result<&'static ControlPlane, &'static str> {
    SHARED
        .get_or_init(|| {
            let result = match std::env::var_os(controlplane::REUSE_ENV) {
                Some(dir) => ControlPlane::reuse(&PathBuf::from(dir)),
                None => ControlPlane::start(Options::default()),
            };
            result.map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| e.as_str())
}
