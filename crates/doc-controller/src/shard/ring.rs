//! The ring: every replica holds its own member Lease (labelled with the ring's name, named after its pod, held
//! under its per-process identity); the members are the held, unexpired Leases; the slots are assigned from the
//! member names ([`super::assign`]); and moves are handed over without overlap. The protocol, its proof sketch and
//! its failure cases are in `docs/sharding.md`; in short, on every poll a member
//!
//! 1. lists the ring's Leases (a consistent read: never a cache, so a Lease that looks expired here really stopped
//!    changing) and computes the ring (its id is a hash of every member's Lease name and identity);
//! 2. when the ring changed: points its watchers at its new slots (so their caches fill at once), stops
//!    reconciling the slots it lost and waits for their running reconciles ([`Ownership::deactivate`]), then
//!    acknowledges the ring on its Lease (`documents.kube.rs/ring-applied`);
//! 3. starts reconciling the slots it gained only when every other member's Lease acknowledges the same ring and
//!    its own caches have synced them.
//!
//! A member that cannot renew its Lease within the renew deadline stops (the Lease holder's side, `lease.rs`); a
//! member shutting down finishes its reconciles and releases its Lease, so the others take over at once.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::ListParams;
use kube::core::ObjectList;
use kube::{Client, Resource, ResourceExt};
use tracing::{debug, info, warn};

use super::assign::assign;
use super::ownership::Ownership;
use super::select::with_param;
use super::slots::{SlotSet, fnv1a64};
use crate::lease::{self, LeaseMeta, Observer};
use crate::readiness::Readiness;
use crate::shutdown::Shutdown;

/// The readiness check the ring reports.
pub const CHECK: &str = "sharding";
/// The label naming the ring a member Lease belongs to.
pub const RING_LABEL: &str = "documents.kube.rs/ring";
/// The annotation with the id of the last ring the member applied: it reconciles nothing outside that ring's share.
pub const APPLIED_ANNOTATION: &str = "documents.kube.rs/ring-applied";
/// The annotation with the slots the member reconciles now (16 hex digits, bit `i` = slot `i`), for people.
pub const ACTIVE_ANNOTATION: &str = "documents.kube.rs/slots-active";
/// The annotation with the slots the ring assigns to the member, for people.
pub const ASSIGNED_ANNOTATION: &str = "documents.kube.rs/slots-assigned";

/// How the Documents watch is filtered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Filter {
    /// By the API server with `shardSelector` when it honours it (detected on every poll of the ring), else on the
    /// client.
    Auto,
    /// Always on the client: every replica receives every Document and keeps its share.
    Client,
}

/// How this replica takes part in the ring.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The ring's name (the label value on its Leases).
    pub ring: String,
    /// The namespace of the ring's Leases.
    pub namespace: String,
    /// This replica's stable name (the pod name): its Lease is named after it and its slots are assigned to it.
    pub name: String,
    /// This process's identity (the name and a per-process id).
    pub identity: String,
    /// How long a member Lease stays valid after its last renewal.
    pub duration: Duration,
    /// How long a member keeps trying to renew before it stops.
    pub renew_deadline: Duration,
    /// How often members renew their Leases and poll the ring.
    pub retry_period: Duration,
    /// How the Documents watch is filtered.
    pub filter: Filter,
}

impl Settings {
    /// The name of this replica's member Lease: the replica's name, prefixed with the ring's unless it already is
    /// (a StatefulSet `doc-controller` has pods `doc-controller-0`, … whose Leases keep their names).
    pub fn lease_name(&self) -> String {
        let prefix = format!("{}-", self.ring);
        let name = if self.name.starts_with(&prefix) {
            self.name.clone()
        } else {
            format!("{prefix}{}", self.name)
        };
        dns_name(&name)
    }

    /// The member Lease as the Lease holder (`lease::Elector`) takes and renews it.
    pub fn lease(&self) -> lease::Settings {
        lease::Settings {
            name: self.lease_name(),
            namespace: self.namespace.clone(),
            identity: self.identity.clone(),
            duration: self.duration,
            renew_deadline: self.renew_deadline,
            retry_period: self.retry_period,
        }
    }

    /// The metadata the member Lease carries: the ring label (its annotations are set as the ring moves).
    pub fn meta(&self) -> LeaseMeta {
        LeaseMeta::with_labels(BTreeMap::from([(
            RING_LABEL.to_string(),
            self.ring.clone(),
        )]))
    }
}

/// A Kubernetes object name from any text: lowercase alphanumerics and `-`, at most 253 characters.
fn dns_name(text: &str) -> String {
    let mut name: String = text
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    name.truncate(253);
    name.trim_matches(|c: char| c == '-' || c == '.')
        .to_string()
}

/// Reading the ring failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The list request could not be built (a ring name that is not a valid label value).
    #[error("building the request that lists ring `{ring}` failed")]
    Request {
        /// The ring.
        ring: String,
        /// Why.
        #[source]
        source: kube::core::request::Error,
    },
    /// Listing the ring's Leases failed.
    #[error("listing the Leases of ring `{ring}` in namespace `{namespace}` failed")]
    List {
        /// The ring.
        ring: String,
        /// The namespace.
        namespace: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

/// One member, as its Lease says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its Lease's name (the key of the assignment).
    pub lease: String,
    /// Its process identity.
    pub identity: String,
    /// The last ring it applied.
    pub applied: Option<String>,
    /// Whether this replica has seen its Lease renewed (else it may be a dead replica's Lease that this replica has
    /// not watched long enough to see expire).
    pub renewal_seen: bool,
}

/// The ring as one poll saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// The members, by Lease name.
    pub members: Vec<Member>,
    /// The ring's id: a hash of every member's Lease name and identity.
    pub id: String,
    /// The slots of each member (by Lease name).
    pub assignment: BTreeMap<String, SlotSet>,
    /// Whether the API server honoured the `shardSelector` of the list (it echoed `metadata.shardInfo`).
    pub server_side: bool,
}

impl View {
    /// The ring formed by `members` (in any order).
    pub fn of(mut members: Vec<Member>, server_side: bool) -> View {
        members.sort_by(|a, b| a.lease.cmp(&b.lease));
        let key: String = members
            .iter()
            .map(|m| format!("{}={}\n", m.lease, m.identity))
            .collect();
        let id = format!("{:016x}", fnv1a64(&key));
        let assignment = assign(members.iter().map(|m| m.lease.as_str()));
        View {
            members,
            id,
            assignment,
            server_side,
        }
    }

    /// The ring without the members whose death the others vouch for: a Lease this replica has not seen renewed
    /// yet (it started less than a lease duration ago) is left out when every other member has applied the ring
    /// without it — they saw it expire, so its holder has stopped. A replica joining after a crash then need not
    /// wait a lease duration to agree with the others. (A member that is alive but not yet known to the others is
    /// not active either: it activates only after they apply a ring with it.)
    pub fn vouched(self, me: &str) -> View {
        let candidates: Vec<&Member> = self
            .members
            .iter()
            .filter(|m| m.lease != me && !m.renewal_seen)
            .take(6)
            .collect();
        let mut best: Option<View> = None;
        // Every non-empty subset of the candidates, largest first.
        let mut subsets: Vec<u32> = (1..(1u32 << candidates.len())).collect();
        subsets.sort_by_key(|s| std::cmp::Reverse(s.count_ones()));
        for subset in subsets {
            let dead: Vec<&str> = candidates
                .iter()
                .enumerate()
                .filter(|(i, _)| subset & (1 << i) != 0)
                .map(|(_, m)| m.lease.as_str())
                .collect();
            let rest: Vec<Member> = self
                .members
                .iter()
                .filter(|m| !dead.contains(&m.lease.as_str()))
                .cloned()
                .collect();
            let ring = View::of(rest, self.server_side);
            let vouchers: Vec<&Member> = ring.members.iter().filter(|m| m.lease != me).collect();
            if !vouchers.is_empty()
                && vouchers
                    .iter()
                    .all(|m| m.applied.as_deref() == Some(ring.id.as_str()))
            {
                best = Some(ring);
                break;
            }
        }
        best.unwrap_or(self)
    }

    /// The members other than `me` that have not applied this ring yet.
    pub fn waiting_for(&self, me: &str) -> Vec<&Member> {
        self.members
            .iter()
            .filter(|m| m.lease != me && m.applied.as_deref() != Some(self.id.as_str()))
            .collect()
    }

    /// The member names, for logs.
    pub fn names(&self) -> String {
        self.members
            .iter()
            .map(|m| m.lease.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The members among a ring's Leases: held and not expired as `observer` measures it.
pub fn members(
    leases: &[Lease],
    observer: &mut Observer,
    default_duration: Duration,
) -> Vec<Member> {
    let names: Vec<String> = leases.iter().map(ResourceExt::name_any).collect();
    observer.retain(&names.iter().map(String::as_str).collect::<Vec<_>>());
    leases
        .iter()
        .filter(|l| l.metadata.deletion_timestamp.is_none())
        .filter_map(|l| {
            let name = l.name_any();
            let liveness =
                observer.observe(&name, &l.spec.clone().unwrap_or_default(), default_duration);
            let identity = liveness.holder.filter(|_| !liveness.expired)?;
            Some(Member {
                lease: name,
                identity,
                applied: l.annotations().get(APPLIED_ANNOTATION).cloned(),
                renewal_seen: liveness.renewal_seen,
            })
        })
        .collect()
}

/// Microseconds since the Unix epoch: the time fields of the hand-over log lines, comparable across replicas on
/// one host (the overlap check of the tests) and close enough across nodes to read.
pub fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Ends this replica's part in the ring once its controller has stopped: no slot is active any more and no
/// reconcile runs; logged as a hand-over of every slot it had (`why`: shutting down, or its Lease was lost).
pub async fn leave(ownership: &Ownership, why: &str) {
    let active = ownership.active();
    ownership.deactivate(SlotSet::ALL).await;
    if !active.is_empty() {
        info!(
            slots = %active,
            slots_hex = %active.to_hex(),
            at_unix_us = unix_us(),
            why,
            "handed over slots"
        );
        ownership.metrics().moved(false, active.len());
        super::metrics::set(&ownership.metrics().slots_active, 0u32);
    }
}

/// One member's side of the ring.
pub struct Ring {
    client: Client,
    api_path: String,
    settings: Settings,
    ownership: Ownership,
    meta: LeaseMeta,
    observer: Observer,
}

impl Ring {
    /// The ring for `settings`; `meta` must be the metadata of the member Lease's holder (it publishes the ring's
    /// acknowledgements).
    pub fn new(client: Client, settings: Settings, ownership: Ownership, meta: LeaseMeta) -> Ring {
        Ring {
            api_path: Lease::url_path(&(), Some(&settings.namespace)),
            client,
            settings,
            ownership,
            meta,
            observer: Observer::default(),
        }
    }

    /// Lists the ring's Leases — a consistent read, with a `shardSelector` over the whole space to learn whether
    /// the API server honours it — and computes the ring.
    pub async fn view(&mut self) -> Result<View, Error> {
        let ring = &self.settings.ring;
        let params = ListParams::default().labels(&format!("{RING_LABEL}={ring}"));
        let mut request = kube::core::Request::new(&self.api_path)
            .list(&params)
            .map_err(|source| Error::Request {
                ring: ring.clone(),
                source,
            })?;
        if let Some(uri) = SlotSet::ALL
            .shard_selector()
            .and_then(|s| with_param(request.uri(), "shardSelector", &s))
        {
            *request.uri_mut() = uri;
        }
        let list: ObjectList<Lease> =
            self.client
                .request(request)
                .await
                .map_err(|source| Error::List {
                    ring: ring.clone(),
                    namespace: self.settings.namespace.clone(),
                    source,
                })?;
        let server_side = list.metadata.shard_info.is_some();
        let members = members(&list.items, &mut self.observer, self.settings.duration);
        Ok(View::of(members, server_side).vouched(&self.settings.lease_name()))
    }

    /// Takes part in the ring until `stop` is pulled (see the module docs). The member Lease must be held (and kept
    /// renewed by its holder) while this runs.
    pub async fn run(mut self, readiness: Readiness, stop: Shutdown) {
        let fast = (self.settings.retry_period / 4).min(Duration::from_millis(200));
        let mut progress = Progress::default();
        let mut interval = Duration::ZERO;
        loop {
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = stop.wait() => return,
            }
            interval = match self.step(&mut progress, &readiness).await {
                Pace::Waiting => fast,
                Pace::Settled => self.settings.retry_period,
            };
        }
    }

    /// One poll: read the ring, apply a change, take over what is due, report.
    async fn step(&mut self, progress: &mut Progress, readiness: &Readiness) -> Pace {
        let me = self.settings.lease_name();
        let view = match self.view().await {
            Ok(view) => {
                if progress.unreadable.take().is_some() {
                    info!("can read the ring again");
                }
                view
            }
            Err(e) => {
                let why = match &e {
                    Error::List { source, .. } => format!("{:#}", kubewhy::diagnose(source)),
                    Error::Request { .. } => crate::telemetry::one_line(&e),
                };
                // Once per distinct cause, not at every poll.
                if progress.unreadable.as_deref() != Some(why.as_str()) {
                    warn!(
                        ring = %self.settings.ring,
                        "cannot read the ring, so nothing is taken over (the active slots stay): {why}"
                    );
                }
                readiness.not_ready(CHECK, format!("cannot read the ring: {why}"));
                progress.unreadable = Some(why);
                return Pace::Settled;
            }
        };
        if !view
            .members
            .iter()
            .any(|m| m.lease == me && m.identity == self.settings.identity)
        {
            // Between a renewal that failed and the renew deadline, or right after joining: change nothing.
            readiness.not_ready(
                CHECK,
                format!(
                    "this replica's Lease {me} is not a live member of ring `{}` yet",
                    self.settings.ring
                ),
            );
            return Pace::Waiting;
        }
        let since = progress.changed(&view, &me);
        let filtered = self.mode(progress, &view);
        // The assignment is computed from the members, and `me` was just found among them: it has an entry. Were it
        // missing, the empty set is the safe reading (this replica reconciles nothing, so no slot has two owners).
        let assigned = view.assignment.get(&me).copied().unwrap_or_default();
        self.ownership.set_target(assigned, filtered);
        if progress.applied.as_deref() != Some(view.id.as_str()) {
            self.apply(&view, assigned).await;
            progress.applied = Some(view.id.clone());
        }
        let pace = self.take_over(&view, assigned, since);
        let stalled = since.elapsed() >= self.settings.duration * 3;
        self.report_stall(progress, &view, since, stalled);
        self.report(readiness, &view, assigned, filtered, since, stalled);
        pace
    }

    /// Which mode runs (the API server filters, or this replica does), logged when it changes.
    fn mode(&self, progress: &mut Progress, view: &View) -> bool {
        let filtered = match self.settings.filter {
            Filter::Auto => view.server_side,
            Filter::Client => false,
        };
        if progress.server_side != Some(filtered) {
            if filtered {
                info!(
                    "the API server honours shardSelector: server-side sharding (each replica receives only its \
                     Documents)"
                );
            } else if self.settings.filter == Filter::Client {
                info!(
                    "client-side sharding (--shard-filter=client): every replica receives every Document and keeps \
                     its share"
                );
            } else {
                info!(
                    "the API server ignores shardSelector (feature gate ShardedListAndWatch off, or a server older \
                     than 1.36): client-side sharding — every replica receives every Document and keeps its share"
                );
            }
            progress.server_side = Some(filtered);
        }
        filtered
    }

    /// Applies a new ring: stops the slots it lost, waits for their running reconciles, then acknowledges the ring.
    async fn apply(&self, view: &View, assigned: SlotSet) {
        let metrics = self.ownership.metrics();
        let lost = self.ownership.active().minus(assigned);
        if !lost.is_empty() {
            info!(
                ring = %view.id,
                slots = %lost,
                running = self.ownership.in_flight(lost),
                "handing over slots: no new reconciles there; waiting for the running ones"
            );
            let started = Instant::now();
            self.ownership.deactivate(lost).await;
            info!(
                ring = %view.id,
                slots = %lost,
                slots_hex = %lost.to_hex(),
                at_unix_us = unix_us(),
                waited_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                "handed over slots"
            );
            metrics.moved(false, lost.len());
        }
        metrics.ring_changes.inc();
        self.meta.annotate([
            (APPLIED_ANNOTATION.to_string(), view.id.clone()),
            (
                ACTIVE_ANNOTATION.to_string(),
                self.ownership.active().to_hex(),
            ),
            (ASSIGNED_ANNOTATION.to_string(), assigned.to_hex()),
        ]);
    }

    /// Starts the assigned slots it does not reconcile yet, once every other member has applied the ring and the
    /// caches have synced them.
    fn take_over(&self, view: &View, assigned: SlotSet, since: Instant) -> Pace {
        let gained = assigned.minus(self.ownership.active());
        if gained.is_empty() {
            return Pace::Settled;
        }
        let waiting = view.waiting_for(&self.settings.lease_name());
        let synced = self.ownership.synced();
        if !waiting.is_empty() || !synced {
            debug!(
                ring = %view.id,
                waiting_for = %names(&waiting),
                synced,
                "slots to take over once every member has applied the ring and the caches have synced"
            );
            return Pace::Waiting;
        }
        // The time is taken before the first reconcile can start.
        let at = unix_us();
        self.ownership.activate(gained, since);
        info!(
            ring = %view.id,
            slots = %gained,
            slots_hex = %gained.to_hex(),
            at_unix_us = at,
            after_ms = u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX),
            "took over slots"
        );
        self.ownership.metrics().moved(true, gained.len());
        self.meta.annotate([(
            ACTIVE_ANNOTATION.to_string(),
            self.ownership.active().to_hex(),
        )]);
        Pace::Settled
    }

    /// Logs the `handover-stalled` diagnosis once per ring that some member has not applied for three lease
    /// durations.
    fn report_stall(&self, progress: &mut Progress, view: &View, since: Instant, stalled: bool) {
        let waiting = view.waiting_for(&self.settings.lease_name());
        if waiting.is_empty()
            || !stalled
            || progress.reported_stall.as_deref() == Some(view.id.as_str())
        {
            return;
        }
        let waiting_for: Vec<String> = waiting.iter().map(|m| m.lease.clone()).collect();
        let diagnosis = kubewhy::Diagnosis::new(
            kubewhy::Cause::Application(handover_stalled(
                &self.settings.ring,
                &self.settings.namespace,
                &waiting_for,
                since.elapsed().as_secs(),
            )),
            format!("ring {} not applied by every member", view.id),
        );
        warn!(class = %diagnosis.class, ring = %view.id, "{diagnosis:#}");
        progress.reported_stall = Some(view.id.clone());
    }

    /// The metrics and the `sharding` readiness check: ready once the caches have synced the assigned slots; the
    /// text says the mode, the ring and the ranges reconciled.
    fn report(
        &self,
        readiness: &Readiness,
        view: &View,
        assigned: SlotSet,
        filtered: bool,
        since: Instant,
        stalled: bool,
    ) {
        let metrics = self.ownership.metrics();
        let active = self.ownership.active();
        super::metrics::set(&metrics.slots_active, active.len());
        super::metrics::set(&metrics.slots_assigned, assigned.len());
        super::metrics::set(&metrics.ring_members, view.members.len());
        metrics.server_side.set(i64::from(filtered));
        let mode = if filtered {
            "server-side sharding (the API server filters the Documents watch by shardSelector)"
        } else {
            "client-side sharding (the Documents watch receives every Document; this replica keeps its share)"
        };
        let mut text = format!(
            "{mode}; member {} of ring `{}` ({} members, ring {}); reconciles {active}",
            self.settings.lease_name(),
            self.settings.ring,
            view.members.len(),
            view.id
        );
        let waiting = view.waiting_for(&self.settings.lease_name());
        let gained = assigned.minus(active);
        if !gained.is_empty() && !waiting.is_empty() {
            text.push_str(&format!(
                "; takes over {} more slots once {} hand them over",
                gained.len(),
                names(&waiting)
            ));
        }
        if !waiting.is_empty() && stalled {
            text.push_str(&format!(
                "; the ring has waited {} s for {} to apply it (see the log)",
                since.elapsed().as_secs(),
                names(&waiting)
            ));
        }
        if self.ownership.synced() {
            readiness.ready(CHECK, text);
        } else {
            readiness.not_ready(
                CHECK,
                format!("{text}; listing the Documents and ConfigMaps of its new ranges"),
            );
        }
    }
}

/// How soon to poll again.
enum Pace {
    /// A hand-over waits for others or for the caches: soon.
    Waiting,
    /// Nothing pending: at the retry period.
    Settled,
}

/// What a member remembers between polls.
#[derive(Debug, Default)]
struct Progress {
    /// The last ring applied (acknowledged on the Lease).
    applied: Option<String>,
    /// The current ring and when it was first seen.
    seen: Option<(String, Instant)>,
    /// Why the ring cannot be read, while it cannot.
    unreadable: Option<String>,
    /// The last ring a stall was reported for.
    reported_stall: Option<String>,
    /// The mode last logged.
    server_side: Option<bool>,
}

impl Progress {
    /// When this replica first saw `view`'s ring (logging a new one).
    fn changed(&mut self, view: &View, me: &str) -> Instant {
        match &self.seen {
            Some((id, at)) if *id == view.id => *at,
            _ => {
                info!(
                    ring = %view.id,
                    members = view.members.len(),
                    names = %view.names(),
                    assigned = %view.assignment.get(me).copied().unwrap_or_default(),
                    "the ring changed"
                );
                let now = Instant::now();
                self.seen = Some((view.id.clone(), now));
                now
            }
        }
    }
}

/// Members' Lease names, for logs.
fn names(members: &[&Member]) -> String {
    members
        .iter()
        .map(|m| m.lease.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// doc-controller's own cause for a hand-over that waits ([`kubewhy::cause::AppCause`], code `handover-stalled`):
/// members of ring `ring` (Leases in `namespace`) have not applied the new ring for `waited_s` seconds. Not
/// transient: a member that cannot read the ring does not learn to by waiting.
pub fn handover_stalled(
    ring: &str,
    namespace: &str,
    waiting_for: &[String],
    waited_s: u64,
) -> kubewhy::cause::AppCause {
    let members = waiting_for
        .iter()
        .map(|m| format!("`{m}`"))
        .collect::<Vec<_>>()
        .join(", ");
    kubewhy::cause::AppCause::new(
        "handover-stalled",
        kubewhy::Class::Timeout,
        format!("a hand-over in ring `{ring}` has waited {waited_s} s for {members}"),
    )
    .cause(
        "the members named have not applied the new ring on their Lease: they cannot read the ring (a `list` on \
         Leases denied, an API server they cannot reach), or a reconcile of theirs in a moving slot is still \
         running; until they do, nobody takes their slots over — no Document is reconciled twice, but the moved \
         ones wait",
    )
    .note(
        "a member that stops renewing its Lease drops out of the ring once the Lease expires, and the hand-over \
         completes without it",
    )
    .help(
        "read the log of each member named: its own diagnosis says why it cannot apply the ring (often RBAC: the \
         ring's Leases need `list`); a member that is gone drops out when its Lease expires",
    )
    .command(format!(
        "kubectl -n {namespace} describe leases {}",
        waiting_for.join(" ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::coordination::v1::LeaseSpec;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
    use k8s_openapi::jiff::Timestamp;
    use kube::api::ObjectMeta;

    fn lease(name: &str, holder: Option<&str>, applied: Option<&str>) -> Lease {
        Lease {
            metadata: ObjectMeta {
                name: Some(name.into()),
                annotations: applied
                    .map(|a| BTreeMap::from([(APPLIED_ANNOTATION.to_string(), a.to_string())])),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: holder.map(String::from),
                lease_duration_seconds: Some(15),
                renew_time: Some(MicroTime(Timestamp::now())),
                ..LeaseSpec::default()
            }),
        }
    }

    #[test]
    fn members_are_the_held_leases_and_the_ring_id_names_every_identity() {
        let mut observer = Observer::default();
        let leases = [
            lease("dc-a", Some("a_1"), None),
            lease("dc-b", None, None),
            lease("dc-c", Some("c_1"), Some("x")),
        ];
        let m = members(&leases, &mut observer, Duration::from_secs(15));
        assert_eq!(
            m.iter().map(|m| m.lease.as_str()).collect::<Vec<_>>(),
            ["dc-a", "dc-c"]
        );
        let view = View::of(m.clone(), false);
        assert_eq!(view.assignment.len(), 2);
        assert_eq!(
            view.waiting_for("dc-a").len(),
            1,
            "dc-c has not applied this ring"
        );
        // A restarted process (same Lease, new identity) is a new ring with the same assignment.
        let mut restarted = m.clone();
        restarted[0].identity = "a_2".into();
        assert!(!m[0].renewal_seen, "first sight");
        let again = View::of(restarted, false);
        assert_ne!(again.id, view.id);
        assert_eq!(again.assignment, view.assignment);
        // The order of the list does not matter.
        let mut reversed = m;
        reversed.reverse();
        assert_eq!(View::of(reversed, false).id, view.id);
    }

    fn member(lease: &str, applied: Option<&str>, renewal_seen: bool) -> Member {
        Member {
            lease: lease.into(),
            identity: format!("{lease}_1"),
            applied: applied.map(String::from),
            renewal_seen,
        }
    }

    #[test]
    fn a_dead_lease_is_left_out_when_every_other_member_applied_a_ring_without_it() {
        // b and c applied the ring {b, c, d}; d just started and has not seen a's Lease change yet.
        let without_a = View::of(
            vec![
                member("b", None, true),
                member("c", None, true),
                member("d", None, true),
            ],
            false,
        );
        let id = without_a.id.clone();
        let seen_by_d = View::of(
            vec![
                member("a", Some("old"), false),
                member("b", Some(&id), false),
                member("c", Some(&id), false),
                member("d", None, true),
            ],
            false,
        );
        let vouched = seen_by_d.clone().vouched("d");
        assert_eq!(vouched.id, id);
        assert_eq!(vouched.members.len(), 3);
        // Without the others' agreement, nothing is left out.
        let mut disputed = seen_by_d.clone();
        disputed.members[2].applied = Some("other".into());
        let disputed = View::of(disputed.members, false);
        assert_eq!(disputed.clone().vouched("d").members.len(), 4);
        // A Lease seen renewed is never left out.
        let mut alive = seen_by_d.members.clone();
        alive[0].renewal_seen = true;
        assert_eq!(View::of(alive, false).vouched("d").members.len(), 4);
    }

    #[test]
    fn lease_names_follow_the_pod_names() {
        let mut s = Settings {
            ring: "doc-controller".into(),
            namespace: "ns".into(),
            name: "doc-controller-0".into(),
            identity: "doc-controller-0_00".into(),
            duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
            filter: Filter::Auto,
        };
        assert_eq!(s.lease_name(), "doc-controller-0");
        s.name = "Shard_A".into();
        assert_eq!(s.lease_name(), "doc-controller-shard-a");
    }

    #[test]
    fn a_stalled_hand_over_is_doc_controllers_own_cause_in_its_own_words() {
        let d = kubewhy::Diagnosis::new(
            kubewhy::Cause::Application(handover_stalled(
                "r",
                "ns",
                &["r-1".into(), "r-2".into()],
                45,
            )),
            "",
        );
        assert_eq!(d.class, kubewhy::Class::Timeout);
        assert!(!d.is_transient(), "someone has to look");
        assert_eq!(
            d.summary(),
            "a hand-over in ring `r` has waited 45 s for `r-1`, `r-2`"
        );
        assert!(
            d.describe()
                .cause
                .contains("no Document is reconciled twice")
        );
        assert_eq!(
            d.remedy().commands,
            ["kubectl -n ns describe leases r-1 r-2"]
        );
    }
}
