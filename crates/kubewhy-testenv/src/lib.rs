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
//!
//! Tests of running workloads use [`shared_with_kwok`]: a control plane with its workload controllers and KWOK
//! playing a node, so pods run and serve logs ([`kwok`]).

pub mod binary;
pub mod cargo;
pub mod controlplane;
pub mod crd;
mod identity;
pub mod kwok;
pub mod metrics;
pub mod module_graph;
pub mod proxy;
pub mod token;
pub mod tools;

pub use identity::{KubeconfigOptions, scratch_path, write_private};

use std::path::PathBuf;
use std::sync::OnceLock;

pub use binary::BuildError;
pub use controlplane::{ControlPlane, Options, StartError, State};
pub use identity::{Identity, ServiceAccount};

/// What can go wrong while building, starting or using the control plane.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Go is missing or too old, or `go build` failed.
    #[error("building the local control plane failed")]
    Build(#[source] binary::BuildError),
    /// `go install` of a Go tool the tests use (helm, krew) failed.
    #[error(
        "`go install {package}@{version}` failed ({status}):\n{output}\n  = help: it downloads from the Go module \
         proxy: set GOPROXY when the default one is not reachable"
    )]
    GoInstall {
        /// The tool's package.
        package: &'static str,
        /// Its version.
        version: &'static str,
        /// The exit status of `go install`.
        status: std::process::ExitStatus,
        /// What it printed (standard output, then standard error).
        output: String,
    },
    /// The control plane did not come up.
    #[error("starting the local control plane failed")]
    Start(#[source] controlplane::StartError),
    /// The control plane has no static-token user of this name.
    #[error("the control plane has no static-token user {name:?} (it has: {known})")]
    UnknownUser {
        /// The name asked for.
        name: String,
        /// The users it has, comma-separated.
        known: String,
    },
    /// A TokenRequest was answered without a token.
    #[error("TokenRequest for {namespace}/{name} returned no status")]
    NoToken {
        /// The ServiceAccount's namespace.
        namespace: String,
        /// The ServiceAccount's name.
        name: String,
    },
    /// A CRD did not become Established in time.
    #[error(
        "CRD {name} was not Established within {timeout_s}s (see `kubectl get crd {name} -o yaml`, \
         status.conditions)"
    )]
    NotEstablished {
        /// The CRD's name.
        name: String,
        /// How long it was waited for, in seconds.
        timeout_s: u64,
    },
    /// A file or process operation failed.
    #[error("{what}")]
    Io {
        /// What was being done.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A Kubernetes API call made by the harness failed.
    #[error("{what}")]
    Kube {
        /// What was being done.
        what: String,
        /// The underlying error.
        #[source]
        source: Box<kube::Error>,
    },
    /// Building a client configuration failed.
    #[error("building a client for {who}")]
    Config {
        /// The identity.
        who: String,
        /// The underlying error.
        #[source]
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

    /// What to do about it, when there is more to say than the error and its causes (printed after them).
    pub fn help(&self) -> Option<&'static str> {
        match self {
            Error::Build(
                binary::BuildError::NoGo(_)
                | binary::BuildError::GoVersionFailed { .. }
                | binary::BuildError::UnreadableGoVersion { .. }
                | binary::BuildError::GoTooOld { .. },
            ) => Some(binary::GO_HELP),
            _ => None,
        }
    }
}

/// The error and its causes on one line (`: `-separated), then its help: the message [`shared`] panics with.
fn panic_message(e: &Error) -> String {
    let chain = anyhow::Chain::new(e)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ");
    match e.help() {
        Some(help) => format!("{chain}\n  = help: {help}"),
        None => chain,
    }
}

static SHARED: OnceLock<Result<ControlPlane, Error>> = OnceLock::new();

/// A control plane that runs workloads: its workload controllers and scheduler, and KWOK playing a node.
#[derive(Debug)]
pub struct WithKwok {
    /// The control plane (started with [`Options::workloads`]).
    pub control_plane: ControlPlane,
    /// KWOK.
    pub kwok: kwok::Kwok,
}

static SHARED_KWOK: OnceLock<Result<WithKwok, Error>> = OnceLock::new();

/// The control plane with KWOK shared by every test in this process that runs workloads: started on first use
/// (or reused from `KUBEWHY_CONTROLPLANE`, when `kubewhy-dev up --kwok` started it). Panics with the full reason
/// when it cannot be had.
pub fn shared_with_kwok() -> &'static WithKwok {
    let started = SHARED_KWOK.get_or_init(|| match std::env::var_os(controlplane::REUSE_ENV) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            Ok(WithKwok {
                control_plane: ControlPlane::reuse(&dir)?,
                kwok: kwok::Kwok::reuse(&dir)?,
            })
        }
        None => {
            let control_plane = ControlPlane::start(Options {
                workloads: true,
                ..Options::default()
            })?;
            let kwok = kwok::Kwok::start(&control_plane, &binary::output_dir().join("logs"))?;
            Ok(WithKwok {
                control_plane,
                kwok,
            })
        }
    });
    match started {
        Ok(w) => w,
        Err(e) => panic!("{}", panic_message(e)),
    }
}

/// The control plane shared by every test in this process: started on first use (or reused from
/// `KUBEWHY_CONTROLPLANE`). Panics with the full reason (including the tail of the control plane's log) when it
/// cannot be had, so every test fails fast with the same message instead of hanging.
pub fn shared() -> &'static ControlPlane {
    match try_shared() {
        Ok(cp) => cp,
        Err(e) => panic!("{}", panic_message(e)),
    }
}

/// Like [`shared`], returning the error instead of panicking.
pub fn try_shared() -> Result<&'static ControlPlane, &'static Error> {
    SHARED
        .get_or_init(|| match std::env::var_os(controlplane::REUSE_ENV) {
            Some(dir) => ControlPlane::reuse(&PathBuf::from(dir)),
            None => ControlPlane::start(Options::default()),
        })
        .as_ref()
}
