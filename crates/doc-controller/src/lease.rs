//! Leader election on a `coordination.k8s.io/v1` Lease, with client-go's semantics: a replica takes the Lease when
//! it has no holder or when its holder has not renewed it for a lease duration *as measured on this replica's own
//! clock* (so clock skew between nodes does not matter); the leader renews it every retry period and gives up
//! leadership when it cannot renew within the renew deadline; a leader that shuts down releases the Lease, and a
//! standby, which polls every retry period, takes over at once instead of waiting for it to expire.
//!
//! Every write is an update carrying the resourceVersion that was read, so two replicas can never both win.
//!
//! Why not `kube-lease-manager` (0.13, which does follow kube 5): a standby there sleeps until the expiry it last
//! read and only re-reads the Lease after that, so a Lease released on SIGTERM is taken over only after up to a
//! full lease duration — and its state cannot be refreshed from outside. Fast hand-over is a requirement here, and
//! the algorithm is small.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::{Client, ResourceExt};
use tokio::sync::Notify;
use tracing::{debug, info, warn};

use kubewhy::watch::Health;

use crate::readiness::Readiness;
use crate::shutdown::Shutdown;

/// The readiness check this module reports.
pub const CHECK: &str = "leader-election";

/// How to elect.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The Lease's name.
    pub name: String,
    /// The Lease's namespace.
    pub namespace: String,
    /// This replica's identity (unique among replicas: the pod name).
    pub identity: String,
    /// How long a Lease stays valid after its last renewal.
    pub duration: Duration,
    /// How long the leader keeps trying to renew before it gives up leadership (less than `duration`).
    pub renew_deadline: Duration,
    /// How often standbys try to take the Lease and the leader renews it.
    pub retry_period: Duration,
}

impl Settings {
    /// Checks that the durations make sense together.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.duration < Duration::from_secs(1) {
            return Err(SettingsError::DurationTooShort);
        }
        if self.renew_deadline >= self.duration {
            return Err(SettingsError::RenewDeadline {
                renew_deadline: self.renew_deadline,
                duration: self.duration,
            });
        }
        if self.retry_period.is_zero() || self.retry_period >= self.renew_deadline {
            return Err(SettingsError::RetryPeriod {
                retry_period: self.retry_period,
                renew_deadline: self.renew_deadline,
            });
        }
        if self.identity.is_empty() {
            return Err(SettingsError::NoIdentity);
        }
        Ok(())
    }

    fn lease(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// Leader-election settings that do not make sense together.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The lease duration is under a second.
    #[error("the lease duration must be at least 1s (a Lease counts whole seconds)")]
    DurationTooShort,
    /// The renew deadline is not shorter than the lease duration.
    #[error(
        "the renew deadline ({renew_deadline:?}) must be shorter than the lease duration ({duration:?}), or a leader \
         that cannot renew would still act after another replica took over"
    )]
    RenewDeadline {
        /// The renew deadline.
        renew_deadline: Duration,
        /// The lease duration.
        duration: Duration,
    },
    /// The retry period is zero or not shorter than the renew deadline.
    #[error(
        "the retry period ({retry_period:?}) must be above zero and shorter than the renew deadline \
         ({renew_deadline:?})"
    )]
    RetryPeriod {
        /// The retry period.
        retry_period: Duration,
        /// The renew deadline.
        renew_deadline: Duration,
    },
    /// The identity is empty.
    #[error("the identity must not be empty")]
    NoIdentity,
}

/// Why a leader lost its leadership.
#[derive(Debug, thiserror::Error)]
pub enum Lost {
    /// Another replica holds the Lease now.
    #[error("the Lease is now held by {holder}")]
    TakenOver {
        /// Who holds it, as far as this replica knows.
        holder: String,
    },
    /// Renewing failed until the renew deadline passed.
    #[error("could not renew the Lease within the renew deadline ({deadline:?})")]
    RenewFailed {
        /// The renew deadline.
        deadline: Duration,
        /// How long the Lease stays valid for other replicas: this replica must stop acting within it.
        expires_in: Duration,
        /// The last renewal's failure.
        #[source]
        source: Error,
    },
    /// A renewal request was still running when the renew deadline passed.
    #[error(
        "could not renew the Lease within the renew deadline ({deadline:?}): the request did not finish"
    )]
    RenewTimedOut {
        /// The renew deadline.
        deadline: Duration,
        /// How long the Lease stays valid for other replicas.
        expires_in: Duration,
    },
}

impl Lost {
    /// How long the Lease stays valid for other replicas after this replica lost it: every reconcile must have
    /// stopped by then, or two replicas could act at once.
    pub fn expires_in(&self) -> Duration {
        match self {
            Lost::TakenOver { .. } => Duration::ZERO,
            Lost::RenewFailed { expires_in, .. } | Lost::RenewTimedOut { expires_in, .. } => {
                *expires_in
            }
        }
    }
}

/// A failed Lease request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the Lease failed.
    #[error("reading Lease {lease} failed")]
    Read {
        /// `namespace/name`.
        lease: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Creating the Lease failed.
    #[error("creating Lease {lease} failed")]
    Create {
        /// `namespace/name`.
        lease: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Updating the Lease failed.
    #[error("updating Lease {lease} failed")]
    Update {
        /// `namespace/name`.
        lease: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

/// The outcome of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// This replica holds the Lease (it just took or renewed it).
    Leader,
    /// Another replica holds it (or won a race for it).
    Standby {
        /// Who holds it, as far as this replica knows.
        holder: String,
    },
}

/// The part of the Lease whose change proves its holder is alive.
#[derive(Debug, Clone, PartialEq)]
struct Record {
    holder: Option<String>,
    renew_time: Option<MicroTime>,
    transitions: Option<i32>,
    duration: Option<i32>,
}

impl Record {
    fn of(spec: &LeaseSpec) -> Record {
        Record {
            holder: spec.holder_identity.clone().filter(|h| !h.is_empty()),
            renew_time: spec.renew_time.clone(),
            transitions: spec.lease_transitions,
            duration: spec.lease_duration_seconds,
        }
    }
}

/// How long each Lease's record has been unchanged, as measured on this replica's clock: a Lease whose record has
/// not changed for its duration is expired (its holder stopped renewing), whatever the clocks of other nodes say.
/// The one place doc-controller decides that another replica's claim has lapsed.
#[derive(Debug, Default)]
pub struct Observer {
    /// Per Lease: its record, when it was first seen, and whether this replica has seen it change (renewed).
    seen: HashMap<String, (Record, Instant, bool)>,
}

/// What an [`Observer`] concluded about one Lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Liveness {
    /// The holder, if the Lease names one.
    pub holder: Option<String>,
    /// Whether the holder stopped renewing it for its duration (or it names no holder).
    pub expired: bool,
    /// Whether this replica has seen the Lease change since it first saw it: its holder was alive then. A Lease not
    /// seen renewed yet may belong to a replica that died before this one started.
    pub renewal_seen: bool,
}

impl Observer {
    /// Records the Lease `name`'s current spec and says whether it is held and unexpired. `default_duration` applies
    /// when the Lease states none.
    pub fn observe(
        &mut self,
        name: &str,
        spec: &LeaseSpec,
        default_duration: Duration,
    ) -> Liveness {
        let record = Record::of(spec);
        let (at, renewal_seen) = match self.seen.get(name) {
            Some((seen, at, renewed)) if *seen == record => (*at, *renewed),
            previous => {
                let now = Instant::now();
                let renewed = previous.is_some();
                self.seen
                    .insert(name.to_string(), (record.clone(), now, renewed));
                (now, renewed)
            }
        };
        let valid_for = record
            .duration
            .and_then(|d| u64::try_from(d).ok())
            .map_or(default_duration, Duration::from_secs);
        Liveness {
            expired: record.holder.is_none() || at.elapsed() >= valid_for,
            holder: record.holder,
            renewal_seen,
        }
    }

    /// Forgets Leases not in `names` (deleted ones).
    pub fn retain(&mut self, names: &[&str]) {
        self.seen.retain(|name, _| names.contains(&name.as_str()));
    }
}

/// Labels and annotations an [`Elector`] writes on its Lease with every write (a ring member publishes its state
/// there). Clones share them; [`LeaseMeta::annotate`] asks the holder to write soon instead of at its next renewal.
#[derive(Debug, Clone, Default)]
pub struct LeaseMeta {
    labels: Arc<BTreeMap<String, String>>,
    annotations: Arc<Mutex<BTreeMap<String, String>>>,
    changed: Arc<Notify>,
}

impl LeaseMeta {
    /// Metadata with these fixed labels.
    pub fn with_labels(labels: BTreeMap<String, String>) -> LeaseMeta {
        LeaseMeta {
            labels: Arc::new(labels),
            ..LeaseMeta::default()
        }
    }

    /// Sets annotations; the holder writes them at once (they are written with every renewal too).
    pub fn annotate(&self, values: impl IntoIterator<Item = (String, String)>) {
        let mut annotations = self
            .annotations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut changed = false;
        for (k, v) in values {
            if annotations.get(&k) != Some(&v) {
                annotations.insert(k, v);
                changed = true;
            }
        }
        if changed {
            // `notify_one` keeps the wake-up if the holder is in the middle of a write.
            self.changed.notify_one();
        }
    }

    fn apply(&self, meta: &mut ObjectMeta) {
        if !self.labels.is_empty() {
            let labels = meta.labels.get_or_insert_with(BTreeMap::new);
            labels.extend(self.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        let annotations = self
            .annotations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !annotations.is_empty() {
            let meta_annotations = meta.annotations.get_or_insert_with(BTreeMap::new);
            meta_annotations.extend(annotations.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }

    fn clear_annotations(&self, meta: &mut ObjectMeta) {
        let annotations = self
            .annotations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(meta_annotations) = meta.annotations.as_mut() {
            meta_annotations.retain(|k, _| !annotations.contains_key(k));
        }
    }
}

/// What holding the Lease means, for logs and `/readyz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The leader-election Lease: its holder is the one replica that reconciles; a standby is ready.
    Leader,
    /// A ring member's own Lease, reported under the readiness check `check`: a replica waiting for it (its pod's
    /// previous process still holds it) is not ready yet.
    Member {
        /// The readiness check.
        check: &'static str,
    },
}

/// One replica's side of the election.
pub struct Elector {
    api: Api<Lease>,
    settings: Settings,
    /// The last record seen and when (on this replica's clock) it was first seen.
    observed: Option<(Record, Instant)>,
    meta: LeaseMeta,
    role: Role,
    /// Where failures are reported (one line per cause, shared with the watchers).
    health: Option<Health>,
}

/// The diagnosis of a failed Lease request, naming the Lease.
pub fn diagnose(lease: &str, e: &Error) -> kubewhy::Diagnosis {
    let mut d = kubewhy::diagnose_error(e);
    d.notes.push(kubewhy::Note::LeaseRenewal {
        lease: lease.to_string(),
    });
    d
}

impl Elector {
    /// An elector for `settings` (call [`Settings::validate`] first).
    pub fn new(client: Client, settings: Settings) -> Elector {
        Elector {
            api: Api::namespaced(client, &settings.namespace),
            settings,
            observed: None,
            meta: LeaseMeta::default(),
            role: Role::Leader,
            health: None,
        }
    }

    /// Reports failures through kubewhy's shared log of causes (one line per cause per interval).
    pub fn with_health(mut self, health: Health) -> Elector {
        self.health = Some(health);
        self
    }

    /// Whether a line about `d` is due (always, without a health registry).
    fn due(&self, d: &kubewhy::Diagnosis) -> bool {
        self.health.as_ref().is_none_or(|h| h.due(d).is_some())
    }

    /// The readiness check this elector reports.
    fn check(&self) -> &'static str {
        match self.role {
            Role::Leader => CHECK,
            Role::Member { check } => check,
        }
    }

    /// Holds the Lease in this role (default: [`Role::Leader`]).
    pub fn with_role(mut self, role: Role) -> Elector {
        self.role = role;
        self
    }

    /// Writes `meta`'s labels and annotations with every write of the Lease.
    pub fn with_meta(mut self, meta: LeaseMeta) -> Elector {
        self.meta = meta;
        self
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn observe(&mut self, record: Record) {
        if self.observed.as_ref().map(|(r, _)| r) != Some(&record) {
            self.observed = Some((record, Instant::now()));
        }
    }

    /// One attempt to take or renew the Lease.
    pub async fn try_acquire_or_renew(&mut self) -> Result<Attempt, Error> {
        let lease_name = self.settings.lease();
        let me = self.settings.identity.clone();
        let now = MicroTime(Timestamp::now());
        let duration_s = i32::try_from(self.settings.duration.as_secs()).unwrap_or(i32::MAX);
        let params = PostParams {
            field_manager: Some(crate::needs::NAME.into()),
            ..PostParams::default()
        };

        let Some(mut lease) = self
            .api
            .get_opt(&self.settings.name)
            .await
            .map_err(|source| Error::Read {
                lease: lease_name.clone(),
                source,
            })?
        else {
            let spec = LeaseSpec {
                holder_identity: Some(me.clone()),
                lease_duration_seconds: Some(duration_s),
                acquire_time: Some(now.clone()),
                renew_time: Some(now),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            };
            let mut lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.settings.name.clone()),
                    namespace: Some(self.settings.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(spec.clone()),
            };
            self.meta.apply(&mut lease.metadata);
            return match self.api.create(&params, &lease).await {
                Ok(_) => {
                    self.observe(Record::of(&spec));
                    Ok(Attempt::Leader)
                }
                Err(kube::Error::Api(s)) if s.code == 409 => Ok(Attempt::Standby {
                    holder: "another replica (it created the Lease first)".into(),
                }),
                Err(source) => Err(Error::Create {
                    lease: lease_name,
                    source,
                }),
            };
        };

        let spec = lease.spec.clone().unwrap_or_default();
        let record = Record::of(&spec);
        self.observe(record.clone());
        let holding = record.holder.as_deref() == Some(me.as_str());
        if let Some(holder) = &record.holder
            && !holding
        {
            let valid_for = Duration::from_secs(
                u64::try_from(record.duration.unwrap_or(duration_s)).unwrap_or(0),
            );
            let seen = self
                .observed
                .as_ref()
                .map_or_else(Instant::now, |(_, at)| *at);
            if seen.elapsed() < valid_for {
                return Ok(Attempt::Standby {
                    holder: holder.clone(),
                });
            }
            info!(
                lease = %lease_name,
                previous = %holder,
                "the Lease's holder has not renewed it for a lease duration; taking over"
            );
        }

        let mut new = spec.clone();
        new.holder_identity = Some(me.clone());
        new.lease_duration_seconds = Some(duration_s);
        new.renew_time = Some(now.clone());
        if !holding {
            new.acquire_time = Some(now);
            new.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        lease.spec = Some(new.clone());
        if !holding {
            // A predecessor's annotations say nothing about this process.
            self.meta.clear_annotations(&mut lease.metadata);
        }
        self.meta.apply(&mut lease.metadata);
        match self.api.replace(&self.settings.name, &params, &lease).await {
            Ok(_) => {
                self.observe(Record::of(&new));
                Ok(Attempt::Leader)
            }
            // Someone else wrote the Lease between our read and our write.
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(Attempt::Standby {
                holder: "another replica (it updated the Lease first)".into(),
            }),
            Err(source) => Err(Error::Update {
                lease: lease_name,
                source,
            }),
        }
    }

    /// Waits until this replica holds the Lease (returns `true`) or `shutdown` is pulled (`false`). Errors are logged,
    /// shown on `/readyz`, and retried.
    pub async fn acquire(&mut self, readiness: &Readiness, shutdown: &Shutdown) -> bool {
        let lease = self.settings.lease();
        let mut last_holder = None;
        loop {
            match (self.try_acquire_or_renew().await, self.role) {
                (Ok(Attempt::Leader), Role::Leader) => {
                    info!(lease = %lease, identity = %self.settings.identity, "became the leader");
                    readiness.ready(CHECK, format!("leader (holds Lease {lease})"));
                    return true;
                }
                (Ok(Attempt::Leader), Role::Member { check }) => {
                    info!(lease = %lease, identity = %self.settings.identity, "holds its member Lease");
                    readiness.not_ready(check, format!("joining: holds its member Lease {lease}"));
                    return true;
                }
                (Ok(Attempt::Standby { holder }), Role::Leader) => {
                    if last_holder.as_ref() != Some(&holder) {
                        info!(lease = %lease, %holder, "standing by: another replica is the leader");
                        last_holder = Some(holder.clone());
                    }
                    readiness.ready(
                        CHECK,
                        format!(
                            "standby: Lease {lease} is held by {holder}; this replica takes over when it is released \
                             or expires"
                        ),
                    );
                }
                (Ok(Attempt::Standby { holder }), Role::Member { check }) => {
                    if last_holder.as_ref() != Some(&holder) {
                        info!(
                            lease = %lease,
                            %holder,
                            "waiting for its member Lease: a previous process of this replica holds it; taking it \
                             when it is released or expires"
                        );
                        last_holder = Some(holder.clone());
                    }
                    readiness.not_ready(
                        check,
                        format!(
                            "joining: its member Lease {lease} is held by {holder} (a previous process of this \
                             replica, or another replica with the same name); taken when it is released or expires"
                        ),
                    );
                }
                (Err(e), role) => {
                    let d = kubewhy::diagnose_error(&e);
                    let (check, what) = match role {
                        Role::Leader => (CHECK, "leader election"),
                        Role::Member { check } => (check, "the ring"),
                    };
                    if self.due(&d) {
                        warn!(
                            lease = %lease, class = %d.class,
                            "cannot take part in {what}: {d:#}; retrying every {:?}",
                            self.settings.retry_period
                        );
                    }
                    readiness.not_ready(check, format!("cannot take part in {what}: {d}"));
                }
            }
            tokio::select! {
                () = tokio::time::sleep(self.settings.retry_period) => {}
                () = shutdown.wait() => return false,
            }
        }
    }

    /// Keeps renewing the Lease. Returns `Ok(())` when `shutdown` is pulled, or `Err(why)` when leadership is lost
    /// (another replica holds the Lease, or it could not be renewed within the renew deadline). A failed renewal is
    /// reported once per cause, with its diagnosis and how long this replica goes on holding the Lease; `readiness`
    /// says so when the cause will not pass by itself (a revoked `update` on Leases).
    pub async fn hold(&mut self, shutdown: &Shutdown, readiness: &Readiness) -> Result<(), Lost> {
        let mut renewed = Instant::now();
        let deadline = self.settings.renew_deadline;
        let duration = self.settings.duration;
        let lease = self.settings.lease();
        let check = self.check();
        let mut failing = false;
        let changed = self.meta.changed.clone();
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.settings.retry_period) => {}
                () = changed.notified() => {}
                () = shutdown.wait() => return Ok(()),
            }
            let left = deadline.saturating_sub(renewed.elapsed());
            let expires_in = |renewed: Instant| duration.saturating_sub(renewed.elapsed());
            match tokio::time::timeout(left, self.try_acquire_or_renew()).await {
                Ok(Ok(Attempt::Leader)) => {
                    if failing && self.role == Role::Leader {
                        readiness.ready(CHECK, format!("leader (holds Lease {lease})"));
                    }
                    failing = false;
                    renewed = Instant::now();
                    debug!("renewed the Lease");
                }
                Ok(Ok(Attempt::Standby { holder })) => return Err(Lost::TakenOver { holder }),
                Ok(Err(source)) => {
                    if renewed.elapsed() >= deadline {
                        return Err(Lost::RenewFailed {
                            deadline,
                            expires_in: expires_in(renewed),
                            source,
                        });
                    }
                    let d = kubewhy::diagnose_error(&source);
                    let stop_in = deadline.saturating_sub(renewed.elapsed());
                    if self.due(&d) {
                        warn!(
                            lease = %lease, class = %d.class,
                            "renewing Lease {lease} failed: {d:#}; still holding it for at most {stop_in:.0?} (the \
                             renew deadline), then this replica stops reconciling, before the Lease can expire"
                        );
                    }
                    if kubewhy::watch::is_persistent(d.class) {
                        failing = true;
                        readiness.not_ready(
                            check,
                            format!("cannot renew Lease {lease}: {d}; stops reconciling in {stop_in:.0?}"),
                        );
                    }
                }
                Err(_) => {
                    return Err(Lost::RenewTimedOut {
                        deadline,
                        expires_in: expires_in(renewed),
                    });
                }
            }
        }
    }

    /// Gives the Lease up (if this replica holds it) so that a standby takes over at once.
    pub async fn release(&mut self) -> Result<(), Error> {
        let lease_name = self.settings.lease();
        let Some(mut lease) = self
            .api
            .get_opt(&self.settings.name)
            .await
            .map_err(|source| Error::Read {
                lease: lease_name.clone(),
                source,
            })?
        else {
            return Ok(());
        };
        let mut spec = lease.spec.clone().unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.settings.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(Timestamp::now()));
        lease.spec = Some(spec);
        self.meta.clear_annotations(&mut lease.metadata);
        let params = PostParams {
            field_manager: Some(crate::needs::NAME.into()),
            ..PostParams::default()
        };
        self.api
            .replace(&lease.name_any(), &params, &lease)
            .await
            .map_err(|source| Error::Update {
                lease: lease_name,
                source,
            })?;
        info!(lease = %self.settings.lease(), "released the Lease");
        Ok(())
    }
}

/// The replica's stable name: the host name (the pod name in a cluster), or `doc-controller`.
pub fn default_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "doc-controller".into())
}

/// This process's identity in Leases: `name` (the pod name) and a random per-process id, `<name>_<16 hex digits>`.
/// A restarted process — same pod name, and in a container the same pid (1) — is a new identity, so it never
/// inherits its predecessor's claim: it waits for the old claim to be released or to expire like any other replica.
pub fn process_identity(name: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    // `RandomState` keys come from the OS's random source once per process: 64 random bits without a dependency.
    static NONCE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let nonce = NONCE.get_or_init(|| {
        let mut h = std::hash::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.write_u32(std::process::id());
        h.finish()
    });
    format!("{name}_{nonce:016x}")
}

/// The default identity: [`process_identity`] of [`default_name`].
pub fn default_identity() -> String {
    process_identity(&default_name())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            name: "l".into(),
            namespace: "ns".into(),
            identity: "me".into(),
            duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }

    #[test]
    fn durations_are_checked_together() {
        assert!(settings().validate().is_ok());
        let mut s = settings();
        s.renew_deadline = Duration::from_secs(15);
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("renew deadline")
        );
        let mut s = settings();
        s.retry_period = Duration::from_secs(10);
        assert!(
            s.validate()
                .unwrap_err()
                .to_string()
                .contains("retry period")
        );
        let mut s = settings();
        s.duration = Duration::from_millis(500);
        assert!(s.validate().is_err());
    }

    #[test]
    fn identities_are_the_name_and_a_per_process_id() {
        let id = process_identity("doc-controller-0");
        let (name, nonce) = id.rsplit_once('_').unwrap();
        assert_eq!(name, "doc-controller-0");
        assert_eq!(nonce.len(), 16);
        assert!(nonce.chars().all(|c| c.is_ascii_hexdigit()));
        // The same within a process, so every Lease of one replica names the same identity.
        assert_eq!(process_identity("doc-controller-0"), id);
    }

    #[test]
    fn a_lease_expires_when_its_record_stays_unchanged_for_its_duration() {
        let mut observer = Observer::default();
        let spec = LeaseSpec {
            holder_identity: Some("a_1".into()),
            lease_duration_seconds: Some(0),
            renew_time: Some(MicroTime(Timestamp::now())),
            ..LeaseSpec::default()
        };
        let l = observer.observe("x", &spec, Duration::from_secs(15));
        assert!(l.expired, "a zero duration expires at once");
        let spec = LeaseSpec {
            lease_duration_seconds: Some(15),
            ..spec
        };
        let l = observer.observe("x", &spec, Duration::from_secs(15));
        assert_eq!(l.holder.as_deref(), Some("a_1"));
        assert!(!l.expired, "a changed record is fresh");
        assert!(l.renewal_seen);
        assert!(
            !observer
                .observe("y", &spec, Duration::from_secs(15))
                .renewal_seen
        );
        let released = LeaseSpec {
            holder_identity: None,
            ..spec
        };
        assert!(
            observer
                .observe("x", &released, Duration::from_secs(15))
                .expired
        );
        observer.retain(&[]);
        assert!(observer.seen.is_empty());
    }
}
