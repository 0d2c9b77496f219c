//! A watcher that follows this replica's share: it (re)starts the underlying kube-rs watcher whenever the target
//! slots or the server-side mode change — a fresh list for the new ranges, which the reflector swaps in atomically
//! at `InitDone` — drops objects outside the target slots (the client-side filter: the whole filter when the API
//! server ignores `shardSelector`, a cross-check when it honours it), and reports when it has synced a target.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::stream::BoxStream;
use futures::{StreamExt, stream};
use kube::api::Api;
use kube::runtime::watcher::{self, Event};
use tokio::sync::watch;
use tracing::info;

use super::ownership::{Cache, Ownership, Target};
use super::slots::Slot;

/// Makes a watcher of an API with a configuration.
pub type MakeWatcher<K> =
    Arc<dyn Fn(Api<K>, watcher::Config) -> BoxStream<'static, Item<K>> + Send + Sync>;

/// How one cache follows the share.
pub struct Follow<K> {
    /// Which cache this is (it reports its syncs under this name).
    pub cache: Cache,
    /// The shared ownership, whose target it follows.
    pub ownership: Ownership,
    /// The slot an object belongs to (`None`: keep it, it cannot be placed).
    pub slot_of: fn(&K) -> Option<Slot>,
    /// Makes the underlying watcher (kubewhy's, with its initial-list strategy).
    pub watcher: MakeWatcher<K>,
    /// The watcher configuration for a target.
    pub config: Arc<dyn Fn(&Target) -> watcher::Config + Send + Sync>,
    /// Called just before the watcher (re)starts for a target (the Documents watch sets its `shardSelector`).
    pub on_start: Arc<dyn Fn(&Target) + Send + Sync>,
    /// Called for each object the client-side filter drops while the server was asked to filter: the server
    /// ignored the selector.
    pub on_stray: Arc<dyn Fn(&K) + Send + Sync>,
}

impl<K> Clone for Follow<K> {
    fn clone(&self) -> Self {
        Follow {
            cache: self.cache,
            ownership: self.ownership.clone(),
            slot_of: self.slot_of,
            watcher: self.watcher.clone(),
            config: self.config.clone(),
            on_start: self.on_start.clone(),
            on_stray: self.on_stray.clone(),
        }
    }
}

struct State<K: 'static> {
    api: Api<K>,
    follow: Follow<K>,
    targets: watch::Receiver<Target>,
    current: Target,
    inner: BoxStream<'static, Result<Event<K>, watcher::Error>>,
}

type Item<K> = Result<Event<K>, watcher::Error>;

fn start<K>(api: &Api<K>, follow: &Follow<K>, target: &Target) -> BoxStream<'static, Item<K>>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + 'static,
{
    if target.slots.is_empty() && target.generation == 0 {
        // A ring member before the ring has assigned it anything: no list yet (an empty one would look synced).
        return stream::pending().boxed();
    }
    if target.slots.is_empty() {
        // Nothing to watch: an empty, complete list (no selector can express "no range").
        return stream::iter([Ok(Event::Init), Ok(Event::InitDone)])
            .chain(stream::pending())
            .boxed();
    }
    (follow.on_start)(target);
    (follow.watcher)(api.clone(), (follow.config)(target))
}

/// What [`Follow::on_stray`] does for Documents: counts each stray (`doc_controller_shard_strays_total`) and logs
/// kubewhy's diagnosis (`sharding-not-served`) at the first one and then at every hundredth.
pub fn report_strays<K: kube::Resource<DynamicType = ()>>(
    counter: prometheus_client::metrics::counter::Counter,
) -> Arc<dyn Fn(&K) + Send + Sync> {
    let seen = AtomicU64::new(0);
    Arc::new(move |obj: &K| {
        counter.inc();
        let strays = seen.fetch_add(1, Ordering::Relaxed) + 1;
        if strays == 1 || strays.is_multiple_of(100) {
            let mut diagnosis = kubewhy::Diagnosis::new(
                kubewhy::Cause::ShardingNotServed { strays },
                format!(
                    "{} {}/{} arrived outside this replica's ranges",
                    K::kind(&()),
                    obj.meta().namespace.as_deref().unwrap_or_default(),
                    obj.meta().name.as_deref().unwrap_or_default()
                ),
            );
            diagnosis.request.verb = Some("watch".into());
            diagnosis.request.group = Some(K::group(&()).into_owned());
            diagnosis.request.version = Some(K::version(&()).into_owned());
            diagnosis.request.resource = Some(K::plural(&()).into_owned());
            tracing::warn!(
                class = %diagnosis.class,
                strays,
                "{diagnosis:#}; dropped on the client"
            );
        }
    })
}

/// The watcher of `api` that follows the ownership's target (see the module docs).
pub fn follow<K>(api: Api<K>, follow: Follow<K>) -> BoxStream<'static, Item<K>>
where
    K: kube::Resource
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
{
    let mut targets = follow.ownership.watch_target();
    let current = *targets.borrow_and_update();
    let inner = start(&api, &follow, &current);
    let state = State {
        api,
        follow,
        targets,
        current,
        inner,
    };
    stream::unfold(state, |mut state| async move {
        loop {
            tokio::select! {
                biased;
                changed = state.targets.changed() => {
                    if changed.is_err() {
                        // The ownership is gone (the controller is stopping): keep the current watch.
                        std::future::pending::<()>().await;
                    }
                    let target = *state.targets.borrow_and_update();
                    if target != state.current {
                        info!(
                            cache = ?state.follow.cache,
                            server_side = target.server_side,
                            generation = target.generation,
                            slots = %target.slots,
                            "restarting the watch for new ranges"
                        );
                        state.current = target;
                        state.inner = start(&state.api, &state.follow, &target);
                    }
                }
                item = state.inner.next() => {
                    let item = item?;
                    if let Ok(event) = &item {
                        match event {
                            Event::Apply(o) | Event::InitApply(o) | Event::Delete(o) => tracing::trace!(
                                cache = ?state.follow.cache,
                                generation = state.current.generation,
                                kind = match event { Event::Apply(_) => "apply", Event::InitApply(_) => "init-apply", _ => "delete" },
                                name = o.meta().name.as_deref().unwrap_or(""),
                                rv = o.meta().resource_version.as_deref().unwrap_or(""),
                                object_generation = o.meta().generation,
                                "event"
                            ),
                            Event::Init | Event::InitDone => tracing::trace!(cache = ?state.follow.cache, generation = state.current.generation, ?event, "event"),
                        }
                        match event {
                            Event::Apply(obj) | Event::InitApply(obj) | Event::Delete(obj) => {
                                let outside = (state.follow.slot_of)(obj)
                                    .is_some_and(|slot| !state.current.slots.contains(slot));
                                if outside {
                                    if state.current.server_side {
                                        (state.follow.on_stray)(obj);
                                    }
                                    continue;
                                }
                            }
                            Event::InitDone => state
                                .follow
                                .ownership
                                .report_synced(state.follow.cache, state.current.generation),
                            Event::Init => {}
                        }
                    }
                    return Some((item, state));
                }
            }
        }
    })
    .boxed()
}
