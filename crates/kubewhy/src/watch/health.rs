//! The health registry: per watcher, whether it has synced, whether it is healthy, the current diagnosis, when it
//! last succeeded and since when it fails; the permissions the access watchdog found allowed or denied; the
//! program's own named checks — the data behind readiness ([`Health::readiness`]), metrics and the exit policy.
//! It also holds what a program's watchers and reconciles share: the log of causes (one line per cause per
//! interval), the recovery probes, the request inspector of the program's client ([`Health::try_default_client`])
//! and kubewhy's metrics ([`Health::append_metrics`]).

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{Notify, watch as signal};

use crate::diagnosis::Diagnosis;
use crate::metrics::{Metrics, WatcherLabels};
use crate::needs::Needs;
use crate::sorted::SortedMap;
use crate::trace::Inspector;

use super::policy::{OnPersistent, Policy, counts_at_once, is_persistent};
use super::probe::{Probe, Prober};
use super::readiness::{Checks, Item, Readiness};
use super::report::Reporter;

/// What is known about one watcher.
#[derive(Debug, Clone)]
pub struct WatcherStatus {
    /// Its name (the resource it watches).
    pub name: String,
    /// Its initial list has completed at least once.
    pub synced: bool,
    /// Its last attempt succeeded.
    pub healthy: bool,
    /// The diagnosis of the current failure (None while healthy).
    pub diagnosis: Option<Diagnosis>,
    /// When it last received something successfully.
    pub last_success: Option<SystemTime>,
    /// Since when it has been failing (None while healthy).
    pub failing_since: Option<Instant>,
    /// Errors since it started.
    pub errors: u64,
}

impl WatcherStatus {
    fn new(name: &str) -> WatcherStatus {
        WatcherStatus {
            name: name.to_string(),
            synced: false,
            healthy: true,
            diagnosis: None,
            last_success: None,
            failing_since: None,
            errors: 0,
        }
    }

    /// Whether it has been failing for longer than `grace`.
    pub fn failing_longer_than(&self, grace: Duration, now: Instant) -> bool {
        self.failing_since
            .is_some_and(|since| now.saturating_duration_since(since) >= grace)
    }

    /// Whether it keeps the program from being ready: not synced yet, failing past the grace period, or failing for
    /// a cause that counts at once (persistent, or a stalled watch).
    fn in_the_way(&self, grace: Duration, now: Instant) -> bool {
        !self.synced
            || self.failing_longer_than(grace, now)
            || (!self.healthy
                && self
                    .diagnosis
                    .as_ref()
                    .is_some_and(|d| counts_at_once(&d.cause)))
    }
}

/// What the access watchdog last found about one permission.
#[derive(Debug, Clone)]
pub struct AccessStatus {
    /// `` `watch` `documents.kube.rs` in namespace `a` ``.
    pub name: String,
    /// Allowed at the last check.
    pub allowed: bool,
    /// The denial (None while allowed).
    pub diagnosis: Option<Diagnosis>,
}

/// The registry shared by a program's watchers, its reconciles, its readiness endpoint and its metrics. Cheap to
/// clone. `Health::default()` is [`Health::new`] with [`Policy::in_cluster`].
#[derive(Clone, Debug, Default)]
pub struct Health {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    policy: Policy,
    /// The registry's own, or those [`Health::with_metrics`] gave, for every clone.
    metrics: RwLock<Option<Metrics>>,
    watchers: Mutex<SortedMap<String, WatcherStatus>>,
    /// The watchers the program declared (None: it never declared any).
    declared: Mutex<Option<BTreeSet<String>>>,
    access: Mutex<Option<SortedMap<String, AccessStatus>>>,
    /// What the access watchdog checks: declared and derived needs.
    access_needs: Mutex<Option<Needs>>,
    /// Why the access watchdog cannot check at all (its reviews fail for a reason that will not pass by itself).
    access_error: Mutex<Option<Diagnosis>>,
    checks: Checks,
    /// Set by [`Health::with_inspector`], for every clone.
    inspector: RwLock<Option<Inspector>>,
    reporter: Arc<Reporter>,
    prober: Prober,
    recheck: Arc<Notify>,
    /// A recheck without the spacing of [`Inner::recheck`]: a watcher recovered, so a permission may be back.
    recheck_now: Arc<Notify>,
    fatal: signal::Sender<Option<Diagnosis>>,
}

impl Default for Inner {
    fn default() -> Inner {
        Inner::new(Policy::default())
    }
}

impl Inner {
    fn new(policy: Policy) -> Inner {
        let (fatal, _) = signal::channel(None);
        let reporter = Arc::new(Reporter::new(policy.log_interval));
        Inner {
            policy,
            metrics: RwLock::new(Some(Metrics::default())),
            watchers: Mutex::new(SortedMap::default()),
            declared: Mutex::new(None),
            access: Mutex::new(None),
            access_needs: Mutex::new(None),
            access_error: Mutex::new(None),
            checks: Checks::default(),
            inspector: RwLock::new(None),
            prober: Prober::new(None, reporter.clone()),
            reporter,
            recheck: Arc::new(Notify::new()),
            recheck_now: Arc::new(Notify::new()),
            fatal,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Entries are replaced whole or field by field; a panic elsewhere cannot leave one half-written in a harmful way.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A value a builder set, copied out (replaced whole: poisoning cannot leave it half-written).
fn read<T: Clone>(m: &RwLock<Option<T>>) -> Option<T> {
    m.read().unwrap_or_else(PoisonError::into_inner).clone()
}

fn set<T>(m: &RwLock<Option<T>>, value: T) {
    *m.write().unwrap_or_else(PoisonError::into_inner) = Some(value);
}

impl Health {
    /// A registry with a policy.
    pub fn new(policy: Policy) -> Health {
        Health {
            inner: Arc::new(Inner::new(policy)),
        }
    }

    /// Exports watcher and access metrics (errors, up, synced, last event, stalls, access allowed) to `metrics`
    /// (shared with an [`Inspector`], registered in the program's registry) instead of the registry's own. Every
    /// clone of the registry, those made before the call included, exports to `metrics` from now on; what its own
    /// metrics counted before is not carried over.
    pub fn with_metrics(self, metrics: Metrics) -> Health {
        set(&self.inner.metrics, metrics);
        self
    }

    /// Registers kubewhy's metrics (prefix `kubewhy_`) in the program's prometheus-client registry.
    pub fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry) {
        if let Some(m) = self.metrics().as_ref() {
            m.register(registry);
        }
    }

    /// Appends kubewhy's metrics to the program's own exposition (see [`Metrics::append_to`]: an OpenMetrics
    /// `# EOF` line stays last).
    ///
    /// ```
    /// let health = kubewhy::watch::Health::default();
    /// health.declare(["documents.kube.rs"]);
    /// let mut text = String::from("# TYPE runs counter\nruns_total 3\n# EOF\n"); // the program's own
    /// health.append_metrics(&mut text);
    /// assert!(text.starts_with("# TYPE runs counter\nruns_total 3\n# HELP kubewhy_"));
    /// assert!(text.contains("kubewhy_watcher_synced{watcher=\"documents.kube.rs\"} 0\n"));
    /// assert!(text.ends_with("\n# EOF\n") && text.matches("# EOF").count() == 1);
    /// ```
    pub fn append_metrics(&self, exposition: &mut String) {
        if let Some(m) = self.metrics().as_ref() {
            m.append_to(exposition);
        }
    }

    /// Like `kube::Client::try_default()` (the kubeconfig, else the in-cluster configuration), with kubewhy's
    /// request inspector ([`Health::client_for`]).
    pub async fn try_default_client(&self) -> Result<kube::Client, kube::Error> {
        let config = kube::Config::infer()
            .await
            .map_err(kube::Error::InferConfig)?;
        self.client_for(config)
    }

    /// A client for `config` with kubewhy's request inspector ([`Inspector`]): each request is recorded (its
    /// exact URL reaches the diagnosis of its failure, the permissions it used reach the access watchdog) and
    /// counted in this registry's metrics, and the registry asks the API server with it when a failure's cause is
    /// gone ([`Health::with_client`]). Every clone of the registry uses them from now on.
    pub fn client_for(&self, config: kube::Config) -> Result<kube::Client, kube::Error> {
        let mut inspector = Inspector::new(&config);
        if let Some(m) = self.metrics().as_ref() {
            inspector = inspector.with_metrics(m.clone());
        }
        let client = inspector.client(config)?;
        self.inner.prober.set_client(client.clone());
        set(&self.inner.inspector, inspector);
        Ok(client)
    }

    /// Lets the registry ask the API server when a failure's cause is gone (recovery probes: `/readyz`, discovery,
    /// access reviews), so waiting watchers and reconciles go again at once. Use the program's own (inspected)
    /// client. Every clone of the registry probes with it from now on.
    pub fn with_client(self, client: kube::Client) -> Health {
        self.inner.prober.set_client(client);
        self
    }

    /// Lets every diagnosis reported here say what the client knows of its own credentials (an expired token, see
    /// [`Inspector::annotate`]). Every clone of the registry, those made before the call included, does.
    pub fn with_inspector(self, inspector: &Inspector) -> Health {
        set(&self.inner.inspector, inspector.clone());
        self
    }

    /// The request inspector of the program's client, when one was given or made here.
    pub(crate) fn inspector(&self) -> Option<Inspector> {
        read(&self.inner.inspector)
    }

    /// Probes with `client` when no client was given yet.
    pub(crate) fn set_client_if_none(&self, client: &kube::Client) {
        self.inner.prober.set_client_if_none(client);
    }

    /// Adds what the client knows of its credentials to `d` (when an inspector was given).
    pub fn annotate(&self, d: &mut Diagnosis) {
        if let Some(inspector) = read(&self.inner.inspector) {
            inspector.annotate(d);
        }
    }

    /// The policy.
    pub fn policy(&self) -> Policy {
        self.inner.policy
    }

    /// The program's own named checks (preflight, leader election, ...), reported with the watchers.
    pub fn checks(&self) -> Checks {
        self.inner.checks.clone()
    }

    /// Declares the watchers the program runs, up front: it is not ready until each has synced at least once (an
    /// empty list counts). Replaces an earlier declaration and forgets registered watchers it no longer names; an
    /// empty declaration says the program runs none now (a standby replica).
    pub fn declare<I, S>(&self, names: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names: BTreeSet<String> = names.into_iter().map(Into::into).collect();
        lock(&self.inner.watchers).retain(|name, _| names.contains(name));
        if let Some(m) = self.metrics().as_ref() {
            for name in &names {
                let labels = WatcherLabels {
                    watcher: name.clone(),
                };
                m.watcher_synced.get_or_create(&labels).set(0);
                m.watcher_up.get_or_create(&labels).set(0);
            }
        }
        *lock(&self.inner.declared) = Some(names);
    }

    /// Registers a watcher (not synced yet) so readiness waits for it.
    pub fn register(&self, name: &str) {
        lock(&self.inner.watchers)
            .get_or_insert_with(name.to_string(), || WatcherStatus::new(name));
        if let Some(m) = self.metrics().as_ref() {
            let labels = WatcherLabels {
                watcher: name.to_string(),
            };
            m.watcher_synced.get_or_create(&labels).set(0);
            m.watcher_up.get_or_create(&labels).set(0);
        }
    }

    /// Every watcher's status, by name.
    pub fn snapshot(&self) -> Vec<WatcherStatus> {
        lock(&self.inner.watchers).values().cloned().collect()
    }

    /// One watcher's status.
    pub fn status(&self, name: &str) -> Option<WatcherStatus> {
        lock(&self.inner.watchers).get(name).cloned()
    }

    /// What the access watchdog checks — the needs it was given and those it derived (the watched types; the writes
    /// the request inspector saw allowed) — as needs: `to_yaml()` serves a `needs.yaml` that `kubewhy check` and
    /// `kubewhy rbac diff` read, [`Needs::rbac_yaml`] the RBAC that grants exactly that. None when it does not run.
    pub fn access_needs(&self) -> Option<Needs> {
        lock(&self.inner.access_needs).clone()
    }

    /// What the access watchdog last found, by permission (None when it does not run).
    pub fn access(&self) -> Option<Vec<AccessStatus>> {
        lock(&self.inner.access)
            .as_ref()
            .map(|a| a.values().cloned().collect())
    }

    /// The readiness report: ready when every declared (or registered) watcher has synced and none has been
    /// failing past the grace period (or for a cause that counts at once), every permission the access watchdog
    /// checks is allowed, and every named check is ready. A program that declared nothing and started no watcher
    /// is not ready: readiness that is trivially true before anything ran hides a controller that never started.
    pub fn readiness(&self) -> Readiness {
        let now = Instant::now();
        let grace = self.inner.policy.grace;
        let mut items = Vec::new();
        let declared = lock(&self.inner.declared).clone();
        let watchers = lock(&self.inner.watchers).clone();
        let mut names: BTreeSet<String> = watchers.keys().cloned().collect();
        names.extend(declared.iter().flatten().cloned());
        if declared.is_none() && names.is_empty() {
            items.push(Item {
                name: "watchers".into(),
                ready: false,
                message:
                    "no watcher has started yet (a program declares its watchers up front with \
                          `Health::declare`)"
                        .into(),
                diagnosis: None,
            });
        }
        for name in names {
            let item = match watchers.get(&name) {
                None => Item {
                    name: format!("watcher {name}"),
                    ready: false,
                    message: "initial list not complete (not started)".into(),
                    diagnosis: None,
                },
                Some(w) => {
                    let ready = !w.in_the_way(grace, now);
                    let message = match (&w.diagnosis, w.synced) {
                        (Some(d), true) => format!("{d}"),
                        (Some(d), false) => format!("{d} (initial list not complete)"),
                        (None, false) => "initial list not complete".into(),
                        (None, true) => "synced".into(),
                    };
                    let message = match (ready, &w.failing_since) {
                        (true, Some(since)) => format!(
                            "failing for {}s, within the grace period ({}s): {message}",
                            now.saturating_duration_since(*since).as_secs(),
                            grace.as_secs()
                        ),
                        _ => message,
                    };
                    Item {
                        name: format!("watcher {name}"),
                        ready,
                        message,
                        diagnosis: w.diagnosis.clone().map(Box::new),
                    }
                }
            };
            items.push(item);
        }
        if let Some(d) = lock(&self.inner.access_error).as_ref() {
            items.push(Item {
                name: "access".into(),
                ready: false,
                message: format!("cannot check access: {d}"),
                diagnosis: Some(Box::new(d.clone())),
            });
        } else if let Some(access) = lock(&self.inner.access).as_ref() {
            let denied: Vec<&AccessStatus> = access.values().filter(|a| !a.allowed).collect();
            items.push(match denied.first() {
                None => Item {
                    name: "access".into(),
                    ready: true,
                    message: format!("{} permissions allowed", access.len()),
                    diagnosis: None,
                },
                Some(first) => Item {
                    name: "access".into(),
                    ready: false,
                    message: denied
                        .iter()
                        .map(|a| match &a.diagnosis {
                            Some(d) => format!("{d}"),
                            None => format!("denied: {}", a.name),
                        })
                        .collect::<Vec<_>>()
                        .join("; "),
                    diagnosis: first.diagnosis.clone().map(Box::new),
                },
            });
        }
        for (name, check) in self.inner.checks.all() {
            let (ready, message) = match check {
                super::readiness::Check::Ready(m) => (true, m),
                super::readiness::Check::NotReady(m) => (false, m),
            };
            items.push(Item {
                name,
                ready,
                message,
                diagnosis: None,
            });
        }
        Readiness::new(items)
    }

    /// Resolves with the diagnosis of the first persistent failure that outlasted the grace period, when the
    /// policy is [`OnPersistent::Exit`]; never resolves otherwise.
    pub async fn fatal(&self) -> Diagnosis {
        let mut rx = self.inner.fatal.subscribe();
        loop {
            if let Some(d) = rx.borrow_and_update().clone() {
                return d;
            }
            if rx.changed().await.is_err() {
                // The sender lives in `self`: unreachable while we hold `self`; wait forever to be safe.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Asks the access watchdog (when one runs) to check again now: after any watcher or reconcile error.
    pub fn recheck_access(&self) {
        self.inner.recheck.notify_one();
    }

    /// Asks the access watchdog to check again at once, without the spacing of rechecks after errors: a watcher
    /// recovered or a denied request succeeded, so a permission may be back (readiness follows within seconds).
    pub(crate) fn recheck_access_now(&self) {
        self.inner.recheck_now.notify_one();
    }

    /// The signals of [`Health::recheck_access`] and [`Health::recheck_access_now`].
    pub(crate) fn recheck_signals(&self) -> (Arc<Notify>, Arc<Notify>) {
        (self.inner.recheck.clone(), self.inner.recheck_now.clone())
    }

    /// Resolves when a recovery probe says `d`'s cause is gone; `None` when no probe can tell (or there is no
    /// client to ask with).
    pub(crate) fn fixed(&self, d: &Diagnosis) -> Option<impl Future<Output = ()> + Send + 'static> {
        let probe = Probe::for_diagnosis(d)?;
        self.inner
            .prober
            .client()
            .is_some()
            .then(|| self.inner.prober.fixed(probe))
    }

    /// Whether a log line for `d` is due now: one line per cause per interval, shared by every watcher and reconcile
    /// of the program (see [`super::is_server_wide`] for what counts as the same cause). `Some(how many were held
    /// back since the last line)` when it is; `None` when the cause was logged within the interval.
    pub fn due(&self, d: &Diagnosis) -> Option<u64> {
        self.inner.reporter.due(d, Instant::now())
    }

    /// The metrics, when there are any: a read guard, not a copy (this is on every watcher event's path). Hold it
    /// only while recording, never across an await.
    pub(crate) fn metrics(&self) -> RwLockReadGuard<'_, Option<Metrics>> {
        self.inner
            .metrics
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Records what the access watchdog checks.
    pub(crate) fn set_access_needs(&self, needs: Needs) {
        *lock(&self.inner.access_needs) = Some(needs);
    }

    /// Records the access watchdog's findings.
    pub(crate) fn set_access(&self, found: SortedMap<String, AccessStatus>) {
        *lock(&self.inner.access) = Some(found);
    }

    /// Records why the access watchdog cannot check at all (None: it can).
    pub(crate) fn set_access_error(&self, why: Option<Diagnosis>) {
        *lock(&self.inner.access_error) = why;
    }

    /// Records a successful item that does not prove recovery (a relist): last success, synced, metrics.
    pub(crate) fn progress(&self, name: &str, synced_now: bool) {
        self.succeeded(name, synced_now, false);
    }

    /// Records a success that ends any failure; returns (errors, how long it failed) when it was failing.
    pub(crate) fn success(&self, name: &str, synced_now: bool) -> Option<(u64, Duration)> {
        self.succeeded(name, synced_now, true)
    }

    fn succeeded(&self, name: &str, synced_now: bool, recovered: bool) -> Option<(u64, Duration)> {
        let now = SystemTime::now();
        let mut watchers = lock(&self.inner.watchers);
        let w = watchers.get_or_insert_with(name.to_string(), || WatcherStatus::new(name));
        let ended = (recovered && !w.healthy).then(|| {
            (
                w.errors,
                w.failing_since.map_or(Duration::ZERO, |s| s.elapsed()),
            )
        });
        if recovered {
            w.healthy = true;
            w.diagnosis = None;
            w.failing_since = None;
        }
        w.last_success = Some(now);
        w.synced |= synced_now;
        let (synced, healthy) = (w.synced, w.healthy);
        drop(watchers);
        if let Some(m) = self.metrics().as_ref() {
            let labels = WatcherLabels {
                watcher: name.to_string(),
            };
            if healthy {
                m.watcher_up.get_or_create(&labels).set(1);
            }
            m.watcher_synced
                .get_or_create(&labels)
                .set(i64::from(synced));
            let secs = now
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            m.watcher_last_event.get_or_create(&labels).set(secs);
        }
        ended
    }

    /// Records a failure; returns how long the watcher has been failing.
    pub(crate) fn failure(&self, name: &str, diagnosis: &Diagnosis) -> Duration {
        let now = Instant::now();
        let mut watchers = lock(&self.inner.watchers);
        let w = watchers.get_or_insert_with(name.to_string(), || WatcherStatus::new(name));
        w.healthy = false;
        w.errors += 1;
        let since = *w.failing_since.get_or_insert(now);
        w.diagnosis = Some(diagnosis.clone());
        drop(watchers);
        let failing_for = now.saturating_duration_since(since);
        if let Some(m) = self.metrics().as_ref() {
            let labels = WatcherLabels {
                watcher: name.to_string(),
            };
            m.watcher_up.get_or_create(&labels).set(0);
            m.watcher_errors
                .get_or_create(&crate::metrics::WatcherErrorLabels {
                    watcher: name.to_string(),
                    class: diagnosis.class.to_string(),
                    code: diagnosis
                        .code
                        .map_or_else(|| "none".to_string(), |c| c.to_string()),
                })
                .inc();
            if matches!(diagnosis.cause, crate::Cause::StalledWatch { .. }) {
                m.watcher_stalls.get_or_create(&labels).inc();
            }
        }
        if self.inner.policy.on_persistent == OnPersistent::Exit
            && is_persistent(diagnosis.class)
            && failing_for >= self.inner.policy.grace
        {
            self.inner.fatal.send_if_modified(|slot| {
                if slot.is_none() {
                    *slot = Some(diagnosis.clone());
                    true
                } else {
                    false
                }
            });
        }
        failing_for
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builders_reach_the_clones_made_before_them_and_keep_what_is_known() {
        let health = Health::new(Policy::in_cluster());
        let earlier = health.clone();
        earlier.declare(["a"]);
        let metrics = Metrics::default();
        let health = health.with_metrics(metrics.clone());
        // A clone made before the builder reports to the metrics, and the declaration made before it is kept.
        earlier.register("b");
        let text = metrics.encode_text(false);
        assert!(
            text.contains(r#"kubewhy_watcher_synced{watcher="b"} 0"#),
            "{text}"
        );
        assert_eq!(
            health.readiness().failing().count(),
            2,
            "{}",
            health.readiness().text()
        );
        health.progress("a", true);
        earlier.progress("b", true);
        assert!(health.readiness().ready, "{}", health.readiness().text());
    }

    #[test]
    fn nothing_declared_and_nothing_started_is_not_ready() {
        let health = Health::new(Policy::in_cluster());
        let r = health.readiness();
        assert!(!r.ready, "{}", r.text());
        assert!(
            r.text().contains("no watcher has started yet"),
            "{}",
            r.text()
        );
        health.declare(["a", "b"]);
        assert_eq!(health.readiness().failing().count(), 2);
        health.progress("a", true);
        health.progress("b", true);
        assert!(health.readiness().ready, "{}", health.readiness().text());
        // A standby runs no watcher: an empty declaration, its other checks decide.
        health.declare(Vec::<String>::new());
        health.checks().ready("leader-election", "standby");
        assert!(health.readiness().ready, "{}", health.readiness().text());
        assert!(
            health.snapshot().is_empty(),
            "undeclared watchers are forgotten"
        );
    }

    #[test]
    fn an_empty_list_counts_as_synced() {
        let health = Health::new(Policy::in_cluster());
        health.declare(["empty"]);
        health.success("empty", true);
        assert!(health.readiness().ready);
    }
}
