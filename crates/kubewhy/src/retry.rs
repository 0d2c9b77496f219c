//! Per-object back-off for any kube-rs `Controller`: a small wrapper around a reconciler and its error policy
//! (kube#1916, kube#297: kube-rs's error policy is not told about successes, so a back-off that resets on success
//! needs the reconciler wrapped too).
//!
//! - **Exponential per object, reset on success.** The schedule follows the failure's diagnosed cause: what passes
//!   by itself or is the object's own (a conflict, a stale cache, an invalid object, an unknown error) retries fast —
//!   200 ms doubling to 60 s; what needs someone to act (forbidden, not served, unauthorized, a bad request,
//!   admission, TLS) waits long — 10 s doubling to 5 min — and is never retried in a tight loop.
//! - **An outage is not the object's fault.** When the API server is unreachable, overloaded or restarting, the
//!   object's back-off does not grow; it waits for the server, and with [`Retry::wakeups`] wired into the
//!   controller (`Controller::reconcile_on`) every object that waited is reconciled again the moment a probe finds
//!   the server answering — likewise when a lost permission or a missing CRD comes back.
//! - **A cap on the global retry rate**: a token bucket of 10 retries a second with a burst of 100 (client-go's
//!   default controller rate limiter has the same bucket), so a thousand failing objects do not become a thousand
//!   requests a second.
//! - **One cause, one line.** A failure shared by many objects is logged once per interval with a count (the same
//!   log the watchers use, see [`crate::watch::Health`]); each attempt is at DEBUG, with the object, its attempt and
//!   its delay, and in `kubewhy_reconcile_retries_total{class,schedule}`.
//!
//! Why not client-go's 5 ms doubling to 1000 s: a 5 ms retry only helps a conflict, and kube-rs's controller
//! already delays a requeue by at least its scheduler's tick; a 1000 s cap leaves an object waiting 16 minutes
//! after a fix that no probe can see. Five minutes bounds that wait; probes end it at once for the causes they see.
//!
//! # Adopting it
//!
//! With a work queue of your own (as doc-controller has), run each reconcile through [`Retry::attempt`], ask
//! [`Retry::failed`] for the delay of a failure, and trigger your queue with what [`Retry::wakeups`] yields. With
//! a `Controller` ([`crate::controller::Controller`], or kube's with its `unstable-runtime` feature for
//! `reconcile_on`):
//!
//! A controller-rs-style reconciler and error policy keep their signatures; the policy's [`Action`] is replaced by
//! the back-off's, and it can still record metrics:
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use kube::runtime::controller::Action;
//! # use kube::{Api, Client};
//! # use k8s_openapi::api::core::v1::ConfigMap as Document;
//! # #[derive(Debug, thiserror::Error)] #[error("reconcile failed")] struct Error(#[source] kube::Error);
//! # struct Context;
//! # async fn reconcile(doc: Arc<Document>, ctx: Arc<Context>) -> Result<Action, Error> { todo!() }
//! # fn error_policy(doc: Arc<Document>, error: &Error, ctx: Arc<Context>) -> Action { todo!() }
//! # async fn demo(health: kubewhy::watch::Health, client: Client, ctx: Arc<Context>) {
//! use futures::StreamExt;
//! use kubewhy::controller::Controller;
//! use kubewhy::retry::Retry;
//!
//! let retry = Retry::new(&health);
//! Controller::new(Api::<Document>::all(client), Default::default(), &health)
//!     .reconcile_on(retry.wakeups())                       // the objects a probe woke up
//!     .run(retry.reconciler(reconcile), retry.error_policy(|doc, err, ctx, _retry| {
//!         error_policy(doc, err, ctx);                      // its metrics; its Action is not used
//!     }), ctx)
//!     .for_each(|_| async {})
//!     .await;
//! # }
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt::Debug;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use futures::Stream;
use kube::Resource;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::mpsc;

use crate::diagnosis::Diagnosis;
use crate::metrics::RetryLabels;
use crate::trace::recorded;
use crate::watch::{Health, is_object_specific, is_persistent, is_server_wide};

/// Exponential delays: `initial`, doubling up to `max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// The first delay.
    pub initial: Duration,
    /// The cap.
    pub max: Duration,
}

impl Schedule {
    /// The delay before attempt `n + 1` after `n` consecutive failures (n ≥ 1).
    fn delay(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(32);
        let d = self.initial.as_secs_f64() * 2f64.powi(exp as i32);
        Duration::from_secs_f64(d.min(self.max.as_secs_f64()))
    }
}

/// The back-off's settings (see the module docs for the defaults and why).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryConfig {
    /// Failures that pass by themselves or are the object's own.
    pub transient: Schedule,
    /// Failures that need someone to act.
    pub persistent: Schedule,
    /// During an outage of the API server: when to try again if no probe says sooner (the object's own back-off
    /// does not grow).
    pub outage: Duration,
    /// Retries per second over all objects (a token bucket's rate).
    pub rate: f64,
    /// The bucket's size.
    pub burst: u32,
    /// Random spread added to each delay, as a fraction (0.2: up to 20 % more).
    pub jitter: f64,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            transient: Schedule {
                initial: Duration::from_millis(200),
                max: Duration::from_secs(60),
            },
            persistent: Schedule {
                initial: Duration::from_secs(10),
                max: Duration::from_secs(300),
            },
            outage: Duration::from_secs(30),
            rate: 10.0,
            burst: 100,
            jitter: 0.2,
        }
    }
}

/// Which schedule a failure follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// The API server is away: the object's back-off does not grow.
    Outage,
    /// It passes by itself or is the object's own.
    Transient,
    /// Someone has to act.
    Persistent,
}

impl Class {
    /// The schedule's name (`outage`, `transient`, `persistent`).
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Outage => "outage",
            Class::Transient => "transient",
            Class::Persistent => "persistent",
        }
    }

    /// The schedule of a diagnosed failure.
    pub fn of(d: &Diagnosis) -> Class {
        if is_server_wide(&d.cause) && d.cause.is_transient() {
            Class::Outage
        } else if is_persistent(d.class) && !is_object_specific(&d.cause) {
            Class::Persistent
        } else {
            Class::Transient
        }
    }
}

/// What the back-off decided about one failure (given to the error policy's hook).
#[derive(Debug, Clone)]
pub struct Retrying {
    /// Consecutive failures of the object (an outage does not count).
    pub attempt: u32,
    /// When it is retried (sooner when a probe finds the cause gone and [`Retry::wakeups`] is wired).
    pub delay: Duration,
    /// The schedule.
    pub class: Class,
    /// The diagnosis, with the request that failed when it is known.
    pub diagnosis: Diagnosis,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

struct Inner<K: Resource> {
    config: RetryConfig,
    health: Health,
    failures: Mutex<HashMap<ObjectRef<K>, u32>>,
    diagnoses: Mutex<HashMap<ObjectRef<K>, Diagnosis>>,
    bucket: Mutex<Bucket>,
    waiting: Mutex<HashMap<crate::watch::probe::Probe, HashSet<ObjectRef<K>>>>,
    wakeups: mpsc::UnboundedSender<ObjectRef<K>>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<ObjectRef<K>>>>,
    wired: std::sync::atomic::AtomicBool,
}

/// The per-object back-off of one controller. Cheap to clone.
pub struct Retry<K: Resource> {
    inner: Arc<Inner<K>>,
}

impl<K: Resource> Clone for Retry<K> {
    fn clone(&self) -> Self {
        Retry {
            inner: self.inner.clone(),
        }
    }
}

impl<K: Resource> Debug for Retry<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Retry")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update is one insert or remove: a poisoned map is still consistent.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<K> Retry<K>
where
    K: Resource + Send + Sync + 'static,
    K::DynamicType: Default + Eq + Hash + Clone + Debug + Send + Sync,
{
    /// A back-off with the default settings, reporting to (and probing through) `health`.
    pub fn new(health: &Health) -> Retry<K> {
        Retry::with_config(health, RetryConfig::default())
    }

    /// A back-off with `config`.
    pub fn with_config(health: &Health, config: RetryConfig) -> Retry<K> {
        let (wakeups, receiver) = mpsc::unbounded_channel();
        Retry {
            inner: Arc::new(Inner {
                config,
                health: health.clone(),
                failures: Mutex::new(HashMap::new()),
                diagnoses: Mutex::new(HashMap::new()),
                bucket: Mutex::new(Bucket {
                    tokens: f64::from(config.burst),
                    at: Instant::now(),
                }),
                waiting: Mutex::new(HashMap::new()),
                wakeups,
                receiver: Mutex::new(Some(receiver)),
                wired: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    /// The objects to reconcile again because a probe found the cause of their failure gone (the API server
    /// answers, the permission or the type is back). Wire it into `Controller::reconcile_on` (or a program's own
    /// queue); without it, waiting objects go again after their delay. Only the first call gets them.
    pub fn wakeups(&self) -> impl Stream<Item = ObjectRef<K>> + Send + 'static {
        let rx = lock(&self.inner.receiver).take();
        if rx.is_some() {
            self.inner
                .wired
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        futures::stream::unfold(rx, |rx| async move {
            let mut rx = rx?;
            let next = rx.recv().await?;
            Some((next, Some(rx)))
        })
    }

    /// How many objects are backing off now.
    pub fn in_backoff(&self) -> usize {
        lock(&self.inner.failures).len()
    }

    /// Runs one reconcile of `obj` in any reconcile loop (kube's `Controller` or a program's own work queue): a
    /// success resets the object's back-off, and a failure is diagnosed with the exact request that failed (the
    /// requests it made are recorded apart, see [`crate::trace::recorded`]) for [`Retry::failed`].
    pub async fn attempt<T, E, Fut>(&self, obj: &K, reconcile: Fut) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
        E: std::error::Error + 'static,
    {
        let key = ObjectRef::from_obj(obj);
        let (result, failed) = recorded(reconcile).await;
        match &result {
            Ok(_) => {
                if lock(&self.inner.failures).remove(&key).is_some() {
                    // It failed before: a permission the access watchdog found denied may be back.
                    self.inner.health.recheck_access_now();
                }
                lock(&self.inner.diagnoses).remove(&key);
            }
            Err(e) => {
                let request =
                    crate::chain::find::<kube::Error>(e).and_then(|k| failed.request_for(k));
                let mut d = crate::diagnose_error_in(e, request.as_ref());
                self.inner.health.annotate(&mut d);
                lock(&self.inner.diagnoses).insert(key, d);
            }
        }
        result
    }

    /// A failed reconcile of `obj` (after [`Retry::attempt`], whose diagnosis it uses): decides the object's next
    /// attempt by the diagnosed cause (see the module docs), logs it once per cause and counts it.
    pub fn failed<E>(&self, obj: &K, err: &E) -> Retrying
    where
        E: std::error::Error + 'static,
    {
        let key = ObjectRef::from_obj(obj);
        let diagnosis = lock(&self.inner.diagnoses)
            .remove(&key)
            .unwrap_or_else(|| crate::diagnose_error(err));
        self.schedule(&key, diagnosis)
    }

    /// Wraps a reconciler for kube's `Controller` ([`Retry::attempt`] around each call).
    pub fn reconciler<Ctx, F, Fut, E>(
        &self,
        mut reconcile: F,
    ) -> impl FnMut(Arc<K>, Arc<Ctx>) -> futures::future::BoxFuture<'static, Result<Action, E>>
    where
        F: FnMut(Arc<K>, Arc<Ctx>) -> Fut,
        Fut: Future<Output = Result<Action, E>> + Send + 'static,
        E: std::error::Error + Send + 'static,
        Ctx: 'static,
    {
        let this = self.clone();
        move |obj: Arc<K>, ctx: Arc<Ctx>| {
            let fut = reconcile(obj.clone(), ctx);
            let this = this.clone();
            Box::pin(async move { this.attempt(&obj, fut).await })
        }
    }

    /// The error policy for kube's `Controller`: [`Retry::failed`]; `hook` runs first with what was decided (for
    /// metrics or a status write; its own back-off is not needed).
    pub fn error_policy<Ctx, E, H>(&self, hook: H) -> impl Fn(Arc<K>, &E, Arc<Ctx>) -> Action
    where
        E: std::error::Error + 'static,
        H: Fn(Arc<K>, &E, Arc<Ctx>, &Retrying),
    {
        let this = self.clone();
        move |obj: Arc<K>, err: &E, ctx: Arc<Ctx>| {
            let retrying = this.failed(&*obj, err);
            hook(obj, err, ctx, &retrying);
            Action::requeue(retrying.delay)
        }
    }

    /// Decides, logs and counts one failure of `key`.
    fn schedule(&self, key: &ObjectRef<K>, diagnosis: Diagnosis) -> Retrying {
        let config = &self.inner.config;
        let class = Class::of(&diagnosis);
        let attempt = {
            let mut failures = lock(&self.inner.failures);
            let n = failures.entry(key.clone()).or_insert(0);
            if class != Class::Outage {
                *n += 1;
            }
            (*n).max(1)
        };
        let base = match class {
            Class::Outage if self.woken_when_fixed(key, &diagnosis) => config.outage,
            // Nobody wakes it: a short, constant wait (the bucket below keeps the rate down).
            Class::Outage => config.transient.initial.max(Duration::from_secs(2)),
            Class::Transient => config.transient.delay(attempt),
            Class::Persistent => {
                self.woken_when_fixed(key, &diagnosis);
                config.persistent.delay(attempt)
            }
        };
        // Jitter only adds: a retry never comes sooner than its schedule says.
        let spread = crate::watch::jittered(base, config.jitter.clamp(0.0, 1.0)).abs_diff(base);
        let delay = (base + spread).max(self.take_token());
        if !is_server_wide(&diagnosis.cause) {
            self.inner.health.recheck_access();
        }
        if let Some(m) = self.inner.health.metrics().as_ref() {
            m.reconcile_retries
                .get_or_create(&RetryLabels {
                    class: diagnosis.class.to_string(),
                    schedule: class.as_str().into(),
                })
                .inc();
        }
        let retrying = Retrying {
            attempt,
            delay,
            class,
            diagnosis,
        };
        self.log(key, &retrying);
        retrying
    }

    /// Registers `key` to be woken when a probe finds `d`'s cause gone; whether that will happen.
    fn woken_when_fixed(&self, key: &ObjectRef<K>, d: &Diagnosis) -> bool {
        if !self.inner.wired.load(std::sync::atomic::Ordering::Relaxed) {
            return false;
        }
        let Some(probe) = crate::watch::probe::Probe::for_diagnosis(d) else {
            return false;
        };
        let Some(fixed) = self.inner.health.fixed(d) else {
            return false;
        };
        let mut waiting = lock(&self.inner.waiting);
        let first = !waiting.contains_key(&probe);
        waiting
            .entry(probe.clone())
            .or_default()
            .insert(key.clone());
        if first {
            let inner = Arc::downgrade(&self.inner);
            tokio::spawn(async move {
                fixed.await;
                let Some(inner) = inner.upgrade() else { return };
                let woken = lock(&inner.waiting).remove(&probe).unwrap_or_default();
                for key in woken {
                    // The receiver is gone only when the controller stopped: nobody to wake then.
                    if inner.wakeups.send(key).is_err() {
                        break;
                    }
                }
            });
        }
        true
    }

    /// The wait imposed by the global rate cap (zero while the bucket has tokens).
    fn take_token(&self) -> Duration {
        let config = &self.inner.config;
        if config.rate <= 0.0 {
            return Duration::ZERO;
        }
        let mut b = lock(&self.inner.bucket);
        let now = Instant::now();
        let refill = now.saturating_duration_since(b.at).as_secs_f64() * config.rate;
        b.tokens = (b.tokens + refill).min(f64::from(config.burst));
        b.at = now;
        b.tokens -= 1.0;
        if b.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-b.tokens / config.rate)
        }
    }

    fn log(&self, key: &ObjectRef<K>, r: &Retrying) {
        let d = &r.diagnosis;
        let due = self.inner.health.due(d);
        let then = match (
            r.class,
            self.inner.wired.load(std::sync::atomic::Ordering::Relaxed),
        ) {
            (Class::Outage, true) => " or as soon as the API server answers again",
            (Class::Persistent, true) if crate::watch::probe::Probe::for_diagnosis(d).is_some() => {
                " or as soon as a probe finds the cause gone"
            }
            _ => "",
        };
        let held = match due {
            Some(n) if n > 0 => {
                format!("; {n} more failure(s) of this cause since the last report")
            }
            _ => String::new(),
        };
        let object = match &key.namespace {
            Some(ns) => format!("{} {ns}/{}", K::kind(&key.dyntype), key.name),
            None => format!("{} {}", K::kind(&key.dyntype), key.name),
        };
        let text = format!(
            "reconcile of {object} failed: {d:#}; attempt {}, retrying in {:.1}s{then}{held}",
            r.attempt,
            r.delay.as_secs_f64()
        );
        let req = &d.request;
        let help = d.help();
        macro_rules! emit {
            ($level:expr) => {
                tracing::event!(
                    target: "kubewhy::retry", $level,
                    namespace = key.namespace.as_deref().unwrap_or(""),
                    name = %key.name,
                    attempt = r.attempt,
                    retry_in_ms = u64::try_from(r.delay.as_millis()).unwrap_or(u64::MAX),
                    schedule = r.class.as_str(),
                    class = %d.class,
                    cause = d.cause.kind(),
                    verb = req.verb.as_deref().unwrap_or(""),
                    url = req.url.as_deref().unwrap_or(""),
                    audit_id = req.audit_id.as_deref().unwrap_or(""),
                    help = help.as_str(),
                    "{text}"
                )
            };
        }
        match due {
            None => emit!(tracing::Level::DEBUG),
            Some(_) if r.class == Class::Outage => emit!(tracing::Level::INFO),
            Some(_) => emit!(tracing::Level::WARN),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cause::{Cause, ConnectionFailure, Denial};
    use crate::watch::Policy;
    use k8s_openapi::api::core::v1::ConfigMap;

    fn cm(name: &str) -> ObjectRef<ConfigMap> {
        ObjectRef::new(name).within("ns")
    }

    fn config() -> RetryConfig {
        RetryConfig {
            jitter: 0.0,
            ..RetryConfig::default()
        }
    }

    #[test]
    fn schedules_double_to_their_cap() {
        let s = RetryConfig::default().transient;
        assert_eq!(s.delay(1), Duration::from_millis(200));
        assert_eq!(s.delay(2), Duration::from_millis(400));
        assert_eq!(s.delay(40), Duration::from_secs(60));
    }

    #[tokio::test]
    async fn the_cause_chooses_the_schedule_and_an_outage_does_not_grow_the_back_off() {
        let health = Health::new(Policy::in_cluster());
        let retry = Retry::<ConfigMap>::with_config(&health, config());
        let conflict = Diagnosis::new(Cause::Modified, "m");
        let r1 = retry.schedule(&cm("a"), conflict.clone());
        let r2 = retry.schedule(&cm("a"), conflict.clone());
        assert_eq!((r1.class, r1.attempt, r2.attempt), (Class::Transient, 1, 2));
        assert_eq!(r2.delay, r1.delay * 2);
        let refused = Diagnosis::new(
            Cause::Connection {
                failure: ConnectionFailure::Refused,
                os_code: None,
            },
            "m",
        );
        let r3 = retry.schedule(&cm("a"), refused.clone());
        assert_eq!((r3.class, r3.attempt), (Class::Outage, 2), "not counted");
        let denied = Diagnosis::new(Cause::Denied(Denial::default()), "m");
        let r4 = retry.schedule(&cm("b"), denied);
        assert_eq!(r4.class, Class::Persistent);
        assert!(r4.delay >= Duration::from_secs(10), "never a tight loop");
        assert_eq!(retry.in_backoff(), 2);
    }

    #[tokio::test]
    async fn the_global_rate_is_capped() {
        let health = Health::new(Policy::in_cluster());
        let retry = Retry::<ConfigMap>::with_config(
            &health,
            RetryConfig {
                rate: 10.0,
                burst: 5,
                ..config()
            },
        );
        let conflict = Diagnosis::new(Cause::Modified, "m");
        let delays: Vec<Duration> = (0..20)
            .map(|i| {
                retry
                    .schedule(&cm(&format!("o{i}")), conflict.clone())
                    .delay
            })
            .collect();
        assert!(delays[..5].iter().all(|d| *d == Duration::from_millis(200)));
        assert!(delays[19] >= Duration::from_millis(1400), "{delays:?}");
    }
}
