//! A diagnosed kube-rs controller without kube's unstable features: the main watcher of a `Controller::new`,
//! diagnosed by [`crate::watch`] ([`Watch`]), feeding a reflector [`Store`] and a trigger stream, run by kube's
//! stable [`applier`] — what `Controller::for_stream` would do, which needs kube's `unstable-runtime`.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use k8s_openapi::api::core::v1::ConfigMap;
//! # use kube::runtime::controller::Action;
//! # #[derive(Debug, thiserror::Error)] #[error("reconcile failed")] struct Error(#[source] kube::Error);
//! # async fn reconcile(_: Arc<ConfigMap>, _: Arc<()>) -> Result<Action, Error> { Ok(Action::await_change()) }
//! # fn error_policy(_: Arc<ConfigMap>, _: &Error, _: Arc<()>) -> Action { Action::await_change() }
//! # async fn demo(client: kube::Client) {
//! use futures::StreamExt;
//! use kube::runtime::watcher;
//! use kubewhy::watch::{Health, Policy, Watch};
//!
//! let health = Health::new(Policy::in_cluster());
//! let cms = kube::Api::<ConfigMap>::all(client);
//! kubewhy::controller::diagnosed(cms, watcher::Config::default(), Watch::new("configmaps", &health))
//!     .run(reconcile, error_policy, Arc::new(()))
//!     .for_each(|_| futures::future::ready(()))
//!     .await;
//! # }
//! ```

use std::fmt::Debug;
use std::sync::Arc;

use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryFuture, TryFutureExt};
use kube::runtime::controller::{self, Action, ReconcileRequest, applier, trigger_self};
use kube::runtime::reflector::{self, ObjectRef, Store, reflector};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;

use crate::watch::{Watch, WatchStreamDiagnoseExt};

/// The inputs of a controller whose main watcher is diagnosed: the [`Store`] of the watched objects and the
/// stream of reconcile requests (one per applied object). [`Diagnosed::run`] runs them as `Controller::run`
/// does; [`Diagnosed::into_parts`] hands them to [`applier`] for a controller that merges more triggers.
pub struct Diagnosed<K: Resource<DynamicType = ()> + 'static> {
    store: Store<K>,
    trigger: BoxStream<'static, Result<ReconcileRequest<K>, watcher::Error>>,
}

/// The diagnosed inputs of a controller of `K`: `watcher(api, wc)` diagnosed, reported and backed off by `watch`
/// (its name is the watcher's name in logs, metrics and readiness), cached in a reflector store.
pub fn diagnosed<K>(api: Api<K>, wc: watcher::Config, watch: Watch) -> Diagnosed<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let (store, writer) = reflector::store();
    let objects = reflector(writer, watcher(api, wc).diagnosed(watch)).applied_objects();
    Diagnosed {
        store,
        trigger: trigger_self(objects, ()).boxed(),
    }
}

impl<K> Diagnosed<K>
where
    K: Resource<DynamicType = ()> + Clone + Debug + Send + Sync + 'static,
{
    /// The store the reconciler reads (kube's `Controller::store`).
    pub fn store(&self) -> Store<K> {
        self.store.clone()
    }

    /// Also reconciles each object `trigger` names (kube's `Controller::reconcile_on`, which needs kube's
    /// `unstable-runtime-reconcile-on`): e.g. the objects a per-object back-off woke up.
    #[must_use]
    pub fn reconcile_on(self, trigger: impl Stream<Item = ObjectRef<K>> + Send + 'static) -> Self {
        let extra = trigger.map(|obj| Ok(ReconcileRequest::from(obj)));
        Diagnosed {
            store: self.store,
            trigger: futures::stream::select(self.trigger, extra).boxed(),
        }
    }

    /// The store and the trigger stream, for [`applier`] with triggers of one's own merged in.
    pub fn into_parts(
        self,
    ) -> (
        Store<K>,
        BoxStream<'static, Result<ReconcileRequest<K>, watcher::Error>>,
    ) {
        (self.store, self.trigger)
    }

    /// Runs the controller with kube's default controller configuration: the stream `Controller::run` returns
    /// (each reconcile's object and action, or the error — [`crate::diagnose_controller`] reads it).
    pub fn run<ReconcilerFut, Ctx>(
        self,
        reconciler: impl FnMut(Arc<K>, Arc<Ctx>) -> ReconcilerFut,
        error_policy: impl Fn(Arc<K>, &ReconcilerFut::Error, Arc<Ctx>) -> Action,
        context: Arc<Ctx>,
    ) -> impl Stream<
        Item = Result<
            (ObjectRef<K>, Action),
            controller::Error<ReconcilerFut::Error, watcher::Error>,
        >,
    >
    where
        ReconcilerFut: TryFuture<Ok = Action> + Send + 'static,
        ReconcilerFut::Error: std::error::Error + Send + 'static,
    {
        self.run_with(
            reconciler,
            error_policy,
            context,
            controller::Config::default(),
        )
    }

    /// [`Diagnosed::run`] with a controller configuration (concurrency, debounce).
    pub fn run_with<ReconcilerFut, Ctx>(
        self,
        reconciler: impl FnMut(Arc<K>, Arc<Ctx>) -> ReconcilerFut,
        error_policy: impl Fn(Arc<K>, &ReconcilerFut::Error, Arc<Ctx>) -> Action,
        context: Arc<Ctx>,
        config: controller::Config,
    ) -> impl Stream<
        Item = Result<
            (ObjectRef<K>, Action),
            controller::Error<ReconcilerFut::Error, watcher::Error>,
        >,
    >
    where
        ReconcilerFut: TryFuture<Ok = Action> + Send + 'static,
        ReconcilerFut::Error: std::error::Error + Send + 'static,
    {
        let mut reconciler = reconciler;
        // `applier` polls the reconcile futures in place: boxed, an `async fn` reconciler needs no `Unpin`.
        let reconcile = move |obj, ctx| Box::pin(TryFutureExt::into_future(reconciler(obj, ctx)));
        applier(
            reconcile,
            error_policy,
            context,
            self.store,
            self.trigger,
            config,
        )
    }
}
