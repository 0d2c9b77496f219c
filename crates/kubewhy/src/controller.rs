//! kube's `Controller`, diagnosed, with the whole of kubewhy by default and without kube's unstable features: the
//! same builder (`new`, `owns`, `watches`, `reconcile_on`, `shutdown_on_signal`, `graceful_shutdown_on`, `run`),
//! run by kube's stable [`applier`], where
//!
//! - each watcher is diagnosed, reported once per cause, backed off and cut short by recovery probes
//!   ([`crate::watch`]), and reports to the program's [`Health`] (readiness, metrics);
//! - the access watchdog runs ([`crate::watch::access`]), its needs derived from what the controller declares —
//!   `list` and `watch` on the watched and owned types, in the `Api`'s namespace or cluster-wide — and from the
//!   writes the request inspector sees allowed ([`Health::try_default_client`]): a permission revoked while its watch
//!   stays open is known within about a minute (66 s at most, not at the reconnect ~5 minutes later), and readiness
//!   follows the fix within seconds. [`Controller::needs`] adds a hand-written declaration; none is required;
//! - with [`Controller::warning_events`], a failed reconcile shows on its object: a Warning event with the class as
//!   its reason and the one-line diagnosis as its note;
//! - a graceful shutdown stops taking work, lets the running reconciles finish within a deadline
//!   ([`DEFAULT_SHUTDOWN_DEADLINE`]), then returns.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use k8s_openapi::api::core::v1::ConfigMap;
//! # use kube::runtime::controller::Action;
//! # #[derive(Debug, thiserror::Error)] #[error("reconcile failed")] struct Error(#[source] kube::Error);
//! # async fn reconcile(_: Arc<ConfigMap>, _: Arc<()>) -> Result<Action, Error> { Ok(Action::await_change()) }
//! # fn error_policy(_: Arc<ConfigMap>, _: &Error, _: Arc<()>) -> Action { Action::await_change() }
//! # async fn demo() -> Result<(), kube::Error> {
//! use futures::StreamExt;
//! use kube::runtime::watcher;
//! use kubewhy::controller::Controller;
//! use kubewhy::watch::Health;
//!
//! let health = Health::default();                       // readiness, metrics; serve it over HTTP
//! let client = health.try_default_client().await?;      // Client::try_default(), inspected
//! let cms = kube::Api::<ConfigMap>::all(client);
//! Controller::new(cms, watcher::Config::default(), &health)
//!     .shutdown_on_signal()
//!     .run(reconcile, error_policy, Arc::new(()))
//!     .for_each(|_| futures::future::ready(()))
//!     .await;
//! # Ok(()) }
//! ```

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::{BoxStream, SelectAll};
use futures::{FutureExt, Stream, StreamExt, TryFuture, TryFutureExt};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::controller::{
    self, Action, ReconcileRequest, applier, trigger_owners, trigger_self, trigger_with,
};
use kube::runtime::events::{Event, Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store, reflector};
use kube::runtime::utils::CancelableJoinHandle;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

use crate::needs::{Needs, ResourceType};
use crate::watch::access::{AccessWatchdog, DEFAULT_INTERVAL, Plan};
use crate::watch::{Health, Watch, WatchStreamDiagnoseExt};

/// How long a graceful shutdown waits for the running reconciles before it cancels them: below the 30 s a pod
/// is given by default (`terminationGracePeriodSeconds`), so the program returns before it is killed.
pub const DEFAULT_SHUTDOWN_DEADLINE: Duration = Duration::from_secs(25);

type Trigger<K> = BoxStream<'static, Result<ReconcileRequest<K>, watcher::Error>>;

/// What [`Controller::run`] yields: each reconcile's object and action, or the error.
pub type Reconciled<'a, K, E> =
    BoxStream<'a, Result<(ObjectRef<K>, Action), controller::Error<E, watcher::Error>>>;

/// Publishes a failed reconcile's Warning event about an object ([`Controller::warning_events`]). Made only when
/// events are asked for, so a program without them carries no event publisher.
type Events = Arc<dyn Fn(&crate::Diagnosis, ObjectReference) + Send + Sync>;

/// A controller of `K` (see the module docs): kube's `Controller` builder, diagnosed.
pub struct Controller<K: Resource<DynamicType = ()> + 'static> {
    health: Health,
    client: kube::Client,
    store: Store<K>,
    triggers: SelectAll<Trigger<K>>,
    /// What the controller declares: its watched and owned types.
    derived: Needs,
    /// What the program declared by hand.
    declared: Needs,
    /// The access watchdog's interval; None: off.
    watchdog: Option<Duration>,
    graceful: Vec<BoxFuture<'static, ()>>,
    signals: bool,
    deadline: Duration,
    config: controller::Config,
    /// Where a failed reconcile's Warning event goes; None: no events.
    events: Option<Events>,
}

/// The watcher name of a type: `documents.kube.rs`, `configmaps`.
fn watcher_name(t: &ResourceType) -> String {
    crate::vocab::resource_name(&t.resource, &t.group, None)
}

/// The program's name for the needs it derives (its RBAC roles if generated from them): the executable's name.
fn program_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "controller".into())
}

/// `list` and `watch` on `K`, in `namespace` or everywhere.
fn watched<K: Resource<DynamicType = ()>>(needs: Needs, namespace: Option<&str>) -> Needs {
    needs.watch_with(ResourceType::of::<K>(), namespace, [])
}

impl<K> Controller<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    /// A controller of the objects of `api` selected by `wc` (kube's `Controller::new`), reporting to `health`: its
    /// watcher is named after the type (`documents.kube.rs`), uses the request inspector of `health` (when the
    /// client came from [`Health::try_default_client`]), and probes with `api`'s client when `health` has none.
    pub fn new(api: Api<K>, wc: watcher::Config, health: &Health) -> Self {
        let mut watch = Watch::new(watcher_name(&ResourceType::of::<K>()), health);
        if let Some(inspector) = health.inspector() {
            watch = watch.inspector(&inspector);
        }
        Controller::for_watch(api, wc, watch)
    }

    /// [`Controller::new`] with a watcher of one's own ([`Watch`]: its name, its install command, near misses).
    pub fn for_watch(api: Api<K>, wc: watcher::Config, watch: Watch) -> Self {
        let health = watch.health().clone();
        let client: kube::Client = api.clone().into();
        health.set_client_if_none(&client);
        let derived = watched::<K>(Needs::new(&program_name()), api.namespace());
        let (store, writer) = reflector::store();
        let objects = reflector(writer, watcher(api, wc).diagnosed(watch)).applied_objects();
        let mut triggers = SelectAll::new();
        triggers.push(trigger_self(objects, ()).boxed());
        Controller {
            health,
            client,
            store,
            triggers,
            derived,
            declared: Needs::new(&program_name()),
            watchdog: Some(DEFAULT_INTERVAL),
            graceful: Vec::new(),
            signals: false,
            deadline: DEFAULT_SHUTDOWN_DEADLINE,
            config: controller::Config::default(),
            events: None,
        }
    }

    /// The watcher of `api` for another type, diagnosed and reporting to this controller's registry.
    fn watch_of<T>(
        &mut self,
        api: Api<T>,
        wc: watcher::Config,
    ) -> impl Stream<Item = Result<T, watcher::Error>> + Send + 'static
    where
        T: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static,
    {
        let mut watch = Watch::new(watcher_name(&ResourceType::of::<T>()), &self.health);
        if let Some(inspector) = self.health.inspector() {
            watch = watch.inspector(&inspector);
        }
        self.derived = watched::<T>(self.derived.clone(), api.namespace());
        watcher(api, wc).diagnosed(watch).touched_objects()
    }

    /// Also reconciles the owner of each `Child` object that changes (kube's `Controller::owns`). The children are
    /// watched whole; pass an `Api<PartialObjectMeta<Child>>` to watch their metadata only.
    #[must_use]
    pub fn owns<Child>(mut self, api: Api<Child>, wc: watcher::Config) -> Self
    where
        Child: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static,
    {
        let children = self.watch_of(api, wc);
        self.triggers
            .push(trigger_owners::<K, _>(children, (), ()).boxed());
        self
    }

    /// Also reconciles the objects `mapper` names for each `Other` object that changes (kube's
    /// `Controller::watches`).
    #[must_use]
    pub fn watches<Other, I>(
        mut self,
        api: Api<Other>,
        wc: watcher::Config,
        mapper: impl Fn(Other) -> I + Send + Sync + 'static,
    ) -> Self
    where
        Other: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static,
        I: IntoIterator<Item = ObjectRef<K>> + 'static,
        I::IntoIter: Send,
    {
        let others = self.watch_of(api, wc);
        self.triggers
            .push(trigger_with::<Other, K, I, _>(others, mapper).boxed());
        self
    }

    /// Also reconciles each object `trigger` names (kube's `Controller::reconcile_on`, which needs kube's
    /// `unstable-runtime-reconcile-on`): e.g. the objects a per-object back-off woke up ([`crate::retry`]).
    #[must_use]
    pub fn reconcile_on(
        mut self,
        trigger: impl Stream<Item = ObjectRef<K>> + Send + 'static,
    ) -> Self {
        self.triggers
            .push(trigger.map(|obj| Ok(ReconcileRequest::from(obj))).boxed());
        self
    }

    /// kube's controller configuration (concurrency, debounce).
    #[must_use]
    pub fn with_config(mut self, config: controller::Config) -> Self {
        self.config = config;
        self
    }

    /// Also checks a hand-written declaration of needs (what the reconciler writes, say): its denials name the
    /// need. Never required: the watched types and the writes the inspector sees are checked without it.
    #[must_use]
    pub fn needs(mut self, needs: &Needs) -> Self {
        self.declared = needs.clone();
        self
    }

    /// The access watchdog's interval (default [`DEFAULT_INTERVAL`], one minute, jittered); `None` turns it off.
    #[must_use]
    pub fn access_watchdog(mut self, interval: Option<Duration>) -> Self {
        self.watchdog = interval;
        self
    }

    /// Starts a graceful shutdown when `trigger` resolves (kube's `Controller::graceful_shutdown_on`): no new
    /// reconciles, the watchers stop, readiness says `shutdown`, the running reconciles finish within the deadline
    /// ([`Controller::shutdown_deadline`]), then [`Controller::run`]'s stream ends.
    #[must_use]
    pub fn graceful_shutdown_on(
        mut self,
        trigger: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        self.graceful.push(trigger.boxed());
        self
    }

    /// A graceful shutdown on SIGTERM or Ctrl+C (kube's `Controller::shutdown_on_signal`); a second signal, or the
    /// deadline, cancels the reconciles still running.
    #[must_use]
    pub fn shutdown_on_signal(mut self) -> Self {
        self.signals = true;
        self
    }

    /// How long a graceful shutdown waits for the running reconciles (default [`DEFAULT_SHUTDOWN_DEADLINE`]).
    #[must_use]
    pub fn shutdown_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// A failed reconcile also shows on its object: a Warning event whose reason is the class in CamelCase
    /// (`Forbidden`) and whose note is the one-line diagnosis with its request and first help
    /// ([`crate::condition::warning`]), published as `reporter` (the controller's name) — what `kubectl describe`
    /// and `kubectl get events` show, and what `kubewhy explain` reads back. Needs `create` and `patch` on
    /// `events.k8s.io` `events`; while publishing fails, one WARN line says why (the rest at DEBUG).
    #[must_use]
    pub fn warning_events(mut self, reporter: impl Into<Reporter>) -> Self {
        let recorder = Recorder::new(self.client.clone(), reporter.into());
        let failing = Arc::new(AtomicBool::new(false));
        self.events = Some(Arc::new(move |d: &crate::Diagnosis, reference| {
            let event = crate::condition::warning(d, "Reconciling");
            publish(recorder.clone(), event, reference, failing.clone());
        }));
        self
    }

    /// The store the reconciler reads (kube's `Controller::store`).
    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    /// The store and the trigger stream, for [`applier`] with a loop of one's own (no watchdog, no shutdown).
    pub fn into_parts(
        self,
    ) -> (
        Store<K>,
        BoxStream<'static, Result<ReconcileRequest<K>, watcher::Error>>,
    ) {
        (self.store, self.triggers.boxed())
    }

    /// Runs the controller (kube's `Controller::run`): each reconcile in a task of its own, the access watchdog
    /// beside them. The stream yields each reconcile's object and action, or the error ([`crate::diagnose_controller`]
    /// reads it), and ends after a shutdown. The stream is boxed and `Send` (the reconciler and the context are
    /// `Send`, the policy `Send + Sync`): the program's combinators over it are compiled for one short type, not
    /// for the whole applier's, and a program can spawn it. It may borrow what the reconciler and the policy borrow.
    pub fn run<'a, ReconcilerFut, Ctx>(
        self,
        mut reconciler: impl FnMut(Arc<K>, Arc<Ctx>) -> ReconcilerFut + Send + 'a,
        error_policy: impl Fn(Arc<K>, &ReconcilerFut::Error, Arc<Ctx>) -> Action + Send + Sync + 'a,
        context: Arc<Ctx>,
    ) -> Reconciled<'a, K, ReconcilerFut::Error>
    where
        ReconcilerFut: TryFuture<Ok = Action> + Send + 'static,
        ReconcilerFut::Error: std::error::Error + Send + 'static,
        Ctx: Send + Sync + 'a,
    {
        let health = self.health.clone();
        let (graceful, forceful) = shutdown(self.graceful, self.signals, self.deadline, &health);
        let recheck = health.clone();
        let events = self.events;
        let error_policy = move |obj: Arc<K>, err: &ReconcilerFut::Error, ctx: Arc<Ctx>| {
            // A denied request: has the program lost a permission? (The watchdog spaces its rechecks.)
            if crate::chain::find::<kube::Error>(err)
                .is_some_and(|e| matches!(e, kube::Error::Api(s) if s.code == 403))
            {
                recheck.recheck_access();
            }
            if let Some(events) = &events {
                events(&crate::diagnose_error(err), obj.object_ref(&()));
            }
            error_policy(obj, err, ctx)
        };
        let applied = applier(
            move |obj, ctx| {
                CancelableJoinHandle::spawn(
                    TryFutureExt::into_future(reconciler(obj, ctx)),
                    &tokio::runtime::Handle::current(),
                )
            },
            error_policy,
            context,
            self.store,
            self.triggers.take_until(graceful),
            self.config,
        )
        .take_until(forceful);
        let applied = applied.boxed();
        let watchdog = self.watchdog.map(|interval| {
            let plan = Plan {
                declared: self.declared,
                derived: self.derived,
                learn: true,
                interval,
            };
            (health, self.client, plan)
        });
        // The watchdog starts with the stream's first poll (inside the program's runtime) and stops with it.
        futures::stream::unfold(
            (applied, watchdog, None::<AccessWatchdog>),
            |(mut applied, mut watchdog, mut running)| async move {
                if let Some((health, client, plan)) = watchdog.take() {
                    running = Some(AccessWatchdog::start_plan(&health, client, plan));
                }
                let item = applied.next().await?;
                Some((item, (applied, watchdog, running)))
            },
        )
        .boxed()
    }
}

/// Publishes `event` about `reference` in a task of its own (a policy is not async). A failure to publish is
/// logged at WARN once while publishing keeps failing (`failing`), at DEBUG after that: the reconcile's own failure
/// is the program's line, this one is secondary.
fn publish(recorder: Recorder, event: Event, reference: ObjectReference, failing: Arc<AtomicBool>) {
    tokio::spawn(async move {
        match recorder.publish(&event, &reference).await {
            Ok(()) => failing.store(false, Ordering::Relaxed),
            Err(e) => {
                let why = crate::condition::message(&crate::diagnose_error(&e));
                let object = reference.name.as_deref().unwrap_or_default();
                if failing.swap(true, Ordering::Relaxed) {
                    tracing::debug!(target: "kubewhy::controller", object, "publishing a Warning event failed: {why}");
                } else {
                    tracing::warn!(target: "kubewhy::controller", object, "publishing Warning events fails (further failures at DEBUG until one succeeds): {why}");
                }
            }
        }
    });
}

/// SIGTERM or Ctrl+C.
async fn signal() {
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                tracing::warn!(target: "kubewhy::controller", error = %e, "cannot listen for SIGTERM; shutting down on Ctrl+C only");
                if let Err(e) = tokio::signal::ctrl_c().await {
                    tracing::warn!(target: "kubewhy::controller", error = %e, "cannot listen for Ctrl+C either: no shutdown on a signal");
                    std::future::pending::<()>().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    if let Err(e) = tokio::signal::ctrl_c().await {
        tracing::warn!(target: "kubewhy::controller", error = %e, "cannot listen for Ctrl+C: no shutdown on a signal");
        std::future::pending::<()>().await;
    }
}

/// The two moments of a shutdown: stop taking work (any trigger, or the first signal), then cancel what still runs
/// (the deadline after that, or a second signal).
fn shutdown(
    triggers: Vec<BoxFuture<'static, ()>>,
    signals: bool,
    deadline: Duration,
    health: &Health,
) -> (BoxFuture<'static, ()>, BoxFuture<'static, ()>) {
    let mut triggers = triggers;
    if signals {
        triggers.push(signal().boxed());
    }
    let graceful = if triggers.is_empty() {
        std::future::pending::<()>().boxed()
    } else {
        futures::future::select_all(triggers).map(|_| ()).boxed()
    }
    .shared();
    let health = health.clone();
    let started = graceful.clone();
    let forceful = async move {
        started.await;
        health
            .checks()
            .not_ready("shutdown", "shutting down: no new reconciles");
        tracing::info!(
            target: "kubewhy::controller",
            deadline_s = deadline.as_secs(),
            "shutting down: no new reconciles; the running ones have {deadline:?} to finish"
        );
        let second = async {
            if signals {
                signal().await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            () = tokio::time::sleep(deadline) => tracing::warn!(
                target: "kubewhy::controller",
                "shutdown deadline ({deadline:?}) passed: the reconciles still running are cancelled"
            ),
            () = second => tracing::warn!(
                target: "kubewhy::controller",
                "a second signal: the reconciles still running are cancelled"
            ),
        }
    }
    .boxed();
    (graceful.boxed(), forceful)
}
