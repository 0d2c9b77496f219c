//! A watcher that follows this replica's share: it (re)starts the underlying kube-rs watcher whenever the target
//! slots or the server-side mode change — a fresh list for the new ranges, which the reflector swaps in atomically
//! at `InitDone` — drops objects outside the target slots (the client-side filter: the whole filter when the API
//! server ignores `shardSelector`, a cross-check when it honours it), and reports when it has synced a target.

use std::sync::Arc;

use std::collections::VecDeque;

use futures::stream::BoxStream;
use futures::{Stream, StreamExt, stream};
use kube::api::Api;
use kube::runtime::reflector::{ObjectRef, Store};
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

/// Holds back the objects of a (re)list until the reflector has swapped them in. Downstream of `reflect`, a watcher's
/// `InitApply` objects reach the Controller as triggers while the store still holds the previous list (the reflector
/// buffers them until `InitDone`): a reconcile triggered then reads the old object, and the predicate filter, having
/// seen the new one, triggers nothing later — a change made during a relist would wait for the next resync. kube-rs
/// holds reconciles only until the *first* list is in; a ring relists on every move. This adapter remembers the
/// listed objects' keys and, after `InitDone`, emits each as an `Apply` of the store's (now current) object.
pub fn after_sync<K, E, S>(
    events: S,
    store: Store<K>,
) -> impl Stream<Item = Result<Event<K>, E>> + Send
where
    K: kube::Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
    E: Send + 'static,
    S: Stream<Item = Result<Event<K>, E>> + Send + 'static,
{
    struct State<K: kube::Resource<DynamicType = ()> + 'static, E> {
        events: BoxStream<'static, Result<Event<K>, E>>,
        store: Store<K>,
        listed: Vec<ObjectRef<K>>,
        draining: VecDeque<ObjectRef<K>>,
    }
    let state = State {
        events: events.boxed(),
        store,
        listed: Vec::new(),
        draining: VecDeque::new(),
    };
    stream::unfold(state, |mut state| async move {
        loop {
            if let Some(key) = state.draining.pop_front() {
                // Deleted since it was listed: its Delete event follows (or followed) on its own.
                if let Some(obj) = state.store.get(&key) {
                    return Some((Ok(Event::Apply((*obj).clone())), state));
                }
                continue;
            }
            let item = state.events.next().await?;
            match item {
                Ok(Event::InitApply(obj)) => state.listed.push(ObjectRef::from_obj(&obj)),
                Ok(Event::Init) => {
                    state.listed.clear();
                    return Some((Ok(Event::Init), state));
                }
                Ok(Event::InitDone) => {
                    state.draining = std::mem::take(&mut state.listed).into();
                    return Some((Ok(Event::InitDone), state));
                }
                other => return Some((other, state)),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::runtime::{WatchStreamExt, reflector};

    fn cm(name: &str, version: &str) -> ConfigMap {
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some(name.into());
        cm.metadata.namespace = Some("ns".into());
        cm.metadata.resource_version = Some(version.into());
        cm
    }

    #[tokio::test]
    async fn a_relist_triggers_only_once_the_store_holds_it() {
        let (store, writer) = reflector::store::<ConfigMap>();
        let events: Vec<Result<Event<ConfigMap>, watcher::Error>> = vec![
            Ok(Event::Init),
            Ok(Event::InitApply(cm("a", "1"))),
            Ok(Event::InitDone),
            // A relist with a newer `a` and `b` gone.
            Ok(Event::Init),
            Ok(Event::InitApply(cm("a", "2"))),
            Ok(Event::InitDone),
            Ok(Event::Apply(cm("c", "3"))),
        ];
        let store_seen = store.clone();
        let out: Vec<(String, Option<String>, usize)> =
            after_sync(stream::iter(events).reflect(writer), store.clone())
                .map(|e| match e.unwrap() {
                    Event::Apply(o) => (
                        format!("apply {}", o.metadata.name.unwrap()),
                        o.metadata.resource_version,
                        store_seen.len(),
                    ),
                    Event::InitApply(_) => ("init-apply".into(), None, 0),
                    Event::Init => ("init".into(), None, 0),
                    Event::InitDone => ("done".into(), None, 0),
                    Event::Delete(_) => ("delete".into(), None, 0),
                })
                .collect()
                .await;
        let names: Vec<&str> = out.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "init", "done", "apply a", "init", "done", "apply a", "apply c"
            ]
        );
        // The relisted `a` comes out as the store holds it after the swap: the new version.
        assert_eq!(out[5].1.as_deref(), Some("2"));
    }
}
