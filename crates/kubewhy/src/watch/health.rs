//! The health registry: per watcher, whether it has synced, whether it is healthy, the current diagnosis, when
//! it last succeeded and since when it fails — the data behind `/readyz`, metrics and the exit policy.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch as signal;

use crate::diagnosis::Diagnosis;
use crate::metrics::Metrics;

use super::policy::{OnPersistent, Policy, is_persistent};

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
}

/// A watcher that makes the program not ready, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotReady {
    /// The watcher.
    pub watcher: String,
    /// Why: the diagnosis's one-line form, or "initial list not complete".
    pub reason: String,
}

/// The registry shared by a program's watchers, its readiness endpoint and its metrics. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Health {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    policy: Policy,
    metrics: Option<Metrics>,
    watchers: Mutex<BTreeMap<String, WatcherStatus>>,
    fatal: signal::Sender<Option<Diagnosis>>,
}

impl Health {
    /// A registry with a policy.
    pub fn new(policy: Policy) -> Health {
        let (fatal, _) = signal::channel(None);
        Health {
            inner: Arc::new(Inner {
                policy,
                metrics: None,
                watchers: Mutex::new(BTreeMap::new()),
                fatal,
            }),
        }
    }

    /// Also exports watcher metrics (errors, up, synced, last event).
    pub fn with_metrics(self, metrics: Metrics) -> Health {
        let policy = self.inner.policy;
        let (fatal, _) = signal::channel(None);
        Health {
            inner: Arc::new(Inner {
                policy,
                metrics: Some(metrics),
                watchers: Mutex::new(BTreeMap::new()),
                fatal,
            }),
        }
    }

    /// The policy.
    pub fn policy(&self) -> Policy {
        self.inner.policy
    }

    /// Registers a watcher (not synced yet) so readiness waits for it.
    pub fn register(&self, name: &str) {
        self.lock()
            .entry(name.to_string())
            .or_insert_with(|| WatcherStatus::new(name));
        if let Some(m) = &self.inner.metrics {
            let labels = crate::metrics::WatcherLabels {
                watcher: name.to_string(),
            };
            m.watcher_synced.get_or_create(&labels).set(0);
            m.watcher_up.get_or_create(&labels).set(0);
        }
    }

    /// Every watcher's status, by name.
    pub fn snapshot(&self) -> Vec<WatcherStatus> {
        self.lock().values().cloned().collect()
    }

    /// One watcher's status.
    pub fn status(&self, name: &str) -> Option<WatcherStatus> {
        self.lock().get(name).cloned()
    }

    /// Ready when every watcher has synced and none has been failing past the grace period; otherwise the
    /// watchers that are in the way and why.
    pub fn readiness(&self) -> Result<(), Vec<NotReady>> {
        let now = Instant::now();
        let grace = self.inner.policy.grace;
        let problems: Vec<NotReady> = self
            .lock()
            .values()
            .filter_map(|w| {
                if w.failing_longer_than(grace, now) {
                    let reason = w
                        .diagnosis
                        .as_ref()
                        .map_or_else(|| "failing".to_string(), |d| d.to_string());
                    Some(NotReady {
                        watcher: w.name.clone(),
                        reason,
                    })
                } else if !w.synced {
                    let reason = match &w.diagnosis {
                        Some(d) => format!("initial list not complete: {d}"),
                        None => "initial list not complete".to_string(),
                    };
                    Some(NotReady {
                        watcher: w.name.clone(),
                        reason,
                    })
                } else {
                    None
                }
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
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
        let mut watchers = self.lock();
        let w = watchers
            .entry(name.to_string())
            .or_insert_with(|| WatcherStatus::new(name));
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
        if let Some(m) = &self.inner.metrics {
            let labels = crate::metrics::WatcherLabels {
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
        let mut watchers = self.lock();
        let w = watchers
            .entry(name.to_string())
            .or_insert_with(|| WatcherStatus::new(name));
        w.healthy = false;
        w.errors += 1;
        let since = *w.failing_since.get_or_insert(now);
        w.diagnosis = Some(diagnosis.clone());
        drop(watchers);
        let failing_for = now.saturating_duration_since(since);
        if let Some(m) = &self.inner.metrics {
            let labels = crate::metrics::WatcherLabels {
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

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, WatcherStatus>> {
        // Entries are replaced field by field; a panic elsewhere cannot leave one half-written in a harmful way.
        self.inner
            .watchers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
