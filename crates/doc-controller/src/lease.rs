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

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::{Client, ResourceExt};
use tracing::{debug, info, warn};

use crate::readiness::Readiness;
use crate::reconcile::describe;
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
    },
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

/// One replica's side of the election.
pub struct Elector {
    api: Api<Lease>,
    settings: Settings,
    /// The last record seen and when (on this replica's clock) it was first seen.
    observed: Option<(Record, Instant)>,
}

impl Elector {
    /// An elector for `settings` (call [`Settings::validate`] first).
    pub fn new(client: Client, settings: Settings) -> Elector {
        Elector {
            api: Api::namespaced(client, &settings.namespace),
            settings,
            observed: None,
        }
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
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.settings.name.clone()),
                    namespace: Some(self.settings.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(spec.clone()),
            };
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
            match self.try_acquire_or_renew().await {
                Ok(Attempt::Leader) => {
                    info!(lease = %lease, identity = %self.settings.identity, "became the leader");
                    readiness.ready(CHECK, format!("leader (holds Lease {lease})"));
                    return true;
                }
                Ok(Attempt::Standby { holder }) => {
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
                Err(e) => {
                    let why = describe(&e);
                    warn!(lease = %lease, error = %why, "cannot take part in leader election; retrying");
                    readiness
                        .not_ready(CHECK, format!("cannot take part in leader election: {why}"));
                }
            }
            tokio::select! {
                () = tokio::time::sleep(self.settings.retry_period) => {}
                () = shutdown.wait() => return false,
            }
        }
    }

    /// Keeps renewing the Lease. Returns `Ok(())` when `shutdown` is pulled, or `Err(why)` when leadership is lost
    /// (another replica holds the Lease, or it could not be renewed within the renew deadline).
    pub async fn hold(&mut self, shutdown: &Shutdown) -> Result<(), Lost> {
        let mut renewed = Instant::now();
        let deadline = self.settings.renew_deadline;
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.settings.retry_period) => {}
                () = shutdown.wait() => return Ok(()),
            }
            let left = deadline.saturating_sub(renewed.elapsed());
            match tokio::time::timeout(left, self.try_acquire_or_renew()).await {
                Ok(Ok(Attempt::Leader)) => {
                    renewed = Instant::now();
                    debug!("renewed the Lease");
                }
                Ok(Ok(Attempt::Standby { holder })) => return Err(Lost::TakenOver { holder }),
                Ok(Err(source)) => {
                    if renewed.elapsed() >= deadline {
                        return Err(Lost::RenewFailed { deadline, source });
                    }
                    warn!(error = %describe(&source), "renewing the Lease failed; retrying");
                }
                Err(_) => return Err(Lost::RenewTimedOut { deadline }),
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

/// A default identity: the host name (the pod name in a cluster) and the process id.
pub fn default_identity() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "doc-controller".into());
    format!("{host}_{}", std::process::id())
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
    fn identities_are_unique_per_process() {
        assert!(default_identity().ends_with(&format!("_{}", std::process::id())));
    }
}
