//! A running workload explained from the cluster itself (`kubewhy explain deploy/web`): its pods, each container's
//! recent log (and the previous container's, after a restart), the events and status conditions of the workload,
//! the objects between it and its pods and the pods themselves — read bounded ([`Options`]), scanned with the one
//! log scanner ([`crate::scan`]), each failure folded into one finding across pods and containers
//! ([`crate::note::Seen`]), and confirmed live as the identity the pods run as ([`crate::live`]: an access review
//! for each denial, with the near-miss binding and the fix that edits its role; discovery for each type not
//! served), which says what is current and what is history ([`Standing`]).
//!
//! What the person running it may not read is part of the answer ([`Report::unread`]: the diagnosis of each of
//! their own failed requests, with what it kept from view), and the rest is still explained.
//!
//! See [`explain`], then [`Report::write`] and [`follow`].

mod confirm;
mod follow;
mod gather;
mod logs;
mod merge;
mod target;
mod write;

use std::collections::HashSet;
use std::time::Duration;

use serde::Serialize;

pub use follow::follow;
pub use target::{Kind, Target, TargetError};

use crate::diagnosis::Diagnosis;
use crate::fold::Key;
use crate::note::{Note, Seen};
use crate::scan::Finding;

/// How much of a workload is read, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Read each container's log from this long ago (`None`: the whole log the kubelet keeps).
    pub since: Option<Duration>,
    /// Read at most this many bytes of each container's log (the first ones after `since`).
    pub limit_bytes: u64,
    /// Read at most this many logs at a time.
    pub concurrency: usize,
}

impl Default for Options {
    /// The last hour, 16 MiB per container, 4 at a time.
    fn default() -> Options {
        Options {
            since: Some(Duration::from_secs(3600)),
            limit_bytes: 16 << 20,
            concurrency: 4,
        }
    }
}

/// Whether a failure still holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Standing {
    /// Confirmed against the cluster: it still holds (the denial is still denied, the type is still not served).
    Current,
    /// Confirmed against the cluster: it no longer holds (allowed now, served now). Seen before, fixed since.
    History,
    /// A failure the cluster cannot be asked about (a timeout, a conflict, a server error): it happened as the
    /// log says, when it says.
    Unconfirmed,
}

impl Standing {
    /// What live confirmation recorded on `d`.
    pub fn of(d: &Diagnosis) -> Standing {
        use crate::note::Live;
        let mut standing = Standing::Unconfirmed;
        for note in &d.notes {
            if let Note::Live(live) = note {
                match live {
                    Live::StillDenied { .. }
                    | Live::ServedElsewhere { .. }
                    | Live::NothingNear { .. }
                    | Live::Nearest { .. }
                    | Live::ServedInGroup { .. }
                    | Live::ServedInGroups { .. }
                    | Live::NoGroupServes { .. } => return Standing::Current,
                    Live::AllowedNow { .. } | Live::ServedNow { .. } => {
                        standing = Standing::History
                    }
                    _ => {}
                }
            }
        }
        standing
    }
}

/// One failure of the workload: the diagnosis (with a [`Note::Seen`] and what live confirmation found) and where
/// it was first seen.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The diagnosis and its first place (`pod/container` and lines, or `events of replicaset/x`).
    pub finding: Finding,
    /// Whether it still holds.
    pub standing: Standing,
}

impl Found {
    /// Where it was seen, how often and when last.
    pub fn seen(&self) -> Option<&Seen> {
        self.finding.diagnosis.notes.iter().find_map(|n| match n {
            Note::Seen(seen) => Some(seen),
            _ => None,
        })
    }
}

/// A pod of the workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodSummary {
    /// Its name.
    pub name: String,
    /// Its phase (`Running`).
    pub phase: String,
    /// Its node, once scheduled.
    pub node: Option<String>,
    /// The ServiceAccount it runs as (`default` when the spec names none).
    pub service_account: String,
    /// Restarts of its containers, in all.
    pub restarts: u32,
    /// Its containers that have run (init containers included), whose logs `--follow` follows.
    pub containers: Vec<String>,
}

/// What was read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReadStats {
    /// Pods whose logs were read (at least one container).
    pub pods: usize,
    /// Logs read (a restarted container's previous log counts apart).
    pub logs: usize,
    /// Bytes of log read, as the API server sent them.
    pub bytes: u64,
    /// Lines of log read.
    pub lines: u64,
    /// Events read about the workload, the objects it owns and its pods.
    pub events: usize,
    /// Status conditions read.
    pub conditions: usize,
    /// Logs that reached the byte limit (`pod/container`): what came after was not read.
    pub truncated: Vec<String>,
    /// What could not be read to its end (`pod/container`, `deployment/web`), and why: a log stream that broke
    /// off, a pod selector that cannot be read.
    pub broken: Vec<(String, String)>,
    /// Containers without a log yet (`pod/container`, why: `waiting: ContainerCreating`, `not scheduled`).
    pub no_log: Vec<(String, String)>,
}

/// What [`explain`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// What was explained (`deployment/web`, `pods -l app=web`).
    pub target: String,
    /// Its namespace.
    pub namespace: String,
    /// Its pods.
    pub pods: Vec<PodSummary>,
    /// The identities its pods run as (`system:serviceaccount:shop:web`).
    pub identities: Vec<String>,
    /// ServiceAccounts its pods name that do not exist (`shop/web`).
    pub missing_service_accounts: Vec<String>,
    /// Its failures, current ones first, each in order of first appearance.
    pub found: Vec<Found>,
    /// What could not be read: the diagnosis of each of the reader's own failed requests, with a
    /// [`Note::NotRead`] saying what it kept from view.
    pub unread: Vec<Diagnosis>,
    /// What was read.
    pub read: ReadStats,
    /// How it was read.
    pub options: Options,
    /// When reading began (Unix seconds): `--follow` goes on from there.
    pub read_at: i64,
    /// Its failures as the scanner read them, before live confirmation: what `--follow` compares new ones with.
    pub(crate) keys: HashSet<Key>,
}

impl Report {
    /// The failures that still hold or cannot be confirmed.
    pub fn current(&self) -> impl Iterator<Item = &Found> {
        self.found
            .iter()
            .filter(|f| f.standing != Standing::History)
    }

    /// The failures seen before that no longer hold.
    pub fn history(&self) -> impl Iterator<Item = &Found> {
        self.found
            .iter()
            .filter(|f| f.standing == Standing::History)
    }

    /// `explain`'s exit status: 2 when something could not be read, else 1 when a failure is current (or
    /// unconfirmed), else 0 (nothing found, or only history).
    pub fn exit_code(&self) -> u8 {
        if !self.unread.is_empty() || !self.read.broken.is_empty() {
            2
        } else if self.current().next().is_some() {
            1
        } else {
            0
        }
    }
}

/// Why a workload could not be explained at all.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The workload does not exist.
    #[error("{target} was not found in namespace `{namespace}`")]
    NotFound {
        /// `deployment/web`.
        target: String,
        /// The namespace.
        namespace: String,
    },
    /// The API server could not be asked (unreachable, bad credentials, …): the diagnosis says why.
    #[error("reading {target} from the API server failed: {}", diagnosis.summary())]
    Api {
        /// `deployment/web`.
        target: String,
        /// The failure, diagnosed.
        diagnosis: Box<Diagnosis>,
        /// The error.
        #[source]
        source: Box<kube::Error>,
    },
}

/// Reads `target` in `namespace` through `client` (bounded by `options`), explains every Kubernetes API failure
/// its logs, events and status conditions show, and confirms each live as the identity its pods run as.
///
/// # Errors
/// When the workload does not exist, or the API server cannot be asked at all. A request the reader may not make
/// is not an error: it is in [`Report::unread`], and the rest is read.
pub async fn explain(
    client: &kube::Client,
    namespace: &str,
    target: &Target,
    options: &Options,
) -> Result<Report, Error> {
    let gathered = gather::gather(client, namespace, target, options).await?;
    let mut report = gathered.report;
    let mut found = gathered.found;
    report.keys = found
        .iter()
        .map(|f| merge::key(&f.finding.diagnosis))
        .collect();
    confirm::confirm(client, &mut found, &gathered.identity_of_pod).await;
    // Current first, each group in order of first appearance.
    found.sort_by_key(|f| f.standing == Standing::History);
    report.found = found;
    Ok(report)
}
