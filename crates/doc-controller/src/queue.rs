//! The work queue: which Documents need a reconcile and when. A Document is in at most one place — waiting its turn,
//! being reconciled, or due later (a retry) — so repeated triggers merge, one Document is never reconciled twice at
//! once, and a trigger that arrives during its reconcile runs it once more right after. Documents due now are
//! handed out in the order they became due, without a timer in between; retries wait on a timer. The
//! `doc_controller_queue_depth` gauge is the number waiting their turn.
//!
//! A queued Document costs one [`Key`] (its namespace and name in a single allocation) and a map slot, a few dozen
//! bytes; nothing is queued for an up-to-date Document (the periodic resync walks the cache instead of keeping a
//! timer per Document).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use kube::runtime::reflector::ObjectRef;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::document::Document;
use crate::metrics::Metrics;

/// A Document's identity in the queue: `namespace/name` in one allocation.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(Arc<str>);

impl Key {
    /// The key of a Document in `namespace` named `name`.
    pub fn new(namespace: &str, name: &str) -> Key {
        Key(format!("{namespace}/{name}").into())
    }

    /// The key of a Document (`None` without a namespace or a name, which every Document from the API server has).
    pub fn of(doc: &Document) -> Option<Key> {
        Some(Key::new(
            doc.metadata.namespace.as_deref()?,
            doc.metadata.name.as_deref()?,
        ))
    }

    /// The namespace.
    pub fn namespace(&self) -> &str {
        self.0.split_once('/').map_or("", |(ns, _)| ns)
    }

    /// The name.
    pub fn name(&self) -> &str {
        self.0.split_once('/').map_or(&self.0, |(_, name)| name)
    }

    /// The reference to look the Document up in the cache.
    pub fn object_ref(&self) -> ObjectRef<Document> {
        ObjectRef::new(self.name()).within(self.namespace())
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", &*self.0)
    }
}

/// Where a Document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// Waiting its turn.
    Ready,
    /// Due at this time (a retry).
    Later(Instant),
    /// Being reconciled; then again now (`Some(None)`), at a time (`Some(Some(t))`), or not (`None`).
    Running(Option<Option<Instant>>),
}

#[derive(Default)]
struct State {
    slots: HashMap<Key, Slot>,
    /// Keys in `Ready`, in the order they became ready.
    ready: VecDeque<Key>,
    /// Retry times (an entry whose key has since moved on is skipped when it comes up).
    timers: BinaryHeap<Reverse<(Instant, Key)>>,
    closed: bool,
}

impl State {
    fn make_ready(&mut self, key: Key) {
        self.slots.insert(key.clone(), Slot::Ready);
        self.ready.push_back(key);
    }

    /// Gives memory back once the queue has drained to a quarter of what it held (a start-up or a relist queues
    /// every Document at once; steady state queues a handful).
    fn tidy(&mut self) {
        const KEEP: usize = 1024;
        if self.slots.capacity() > KEEP && self.slots.len() * 4 < self.slots.capacity() {
            self.slots.shrink_to(KEEP.max(self.slots.len() * 2));
        }
        if self.ready.capacity() > KEEP && self.ready.len() * 4 < self.ready.capacity() {
            self.ready.shrink_to(KEEP.max(self.ready.len() * 2));
        }
        if self.timers.capacity() > KEEP && self.timers.len() * 4 < self.timers.capacity() {
            self.timers.shrink_to(KEEP.max(self.timers.len() * 2));
        }
    }

    /// Moves the retries that are due to the ready list; returns the next retry time.
    fn due(&mut self, now: Instant) -> Option<Instant> {
        while let Some(Reverse((at, _))) = self.timers.peek() {
            if *at > now {
                return Some(*at);
            }
            let Some(Reverse((at, key))) = self.timers.pop() else {
                break;
            };
            if self.slots.get(&key) == Some(&Slot::Later(at)) {
                self.make_ready(key);
            }
        }
        None
    }
}

/// The queue (shared by the watchers that fill it and the dispatcher that drains it).
pub struct WorkQueue {
    state: Mutex<State>,
    wake: Notify,
    metrics: Arc<Metrics>,
}

impl WorkQueue {
    /// An empty queue reporting its depth to `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> WorkQueue {
        WorkQueue {
            state: Mutex::new(State::default()),
            wake: Notify::new(),
            metrics,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every operation leaves the state consistent before it can panic: a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn report(&self, state: &State) {
        self.metrics.set_queue_depth(state.ready.len());
    }

    /// `key` changed: reconcile it as soon as a worker is free (once more after its running reconcile, if any).
    pub fn trigger(&self, key: Key) {
        let mut s = self.state();
        match s.slots.get_mut(&key) {
            Some(Slot::Ready) => return,
            Some(Slot::Running(again)) => {
                *again = Some(None);
                return;
            }
            Some(Slot::Later(_)) | None => s.make_ready(key),
        }
        self.report(&s);
        drop(s);
        self.wake.notify_one();
    }

    /// The periodic resync visits `key`: reconcile it unless it is already waiting, running or due for a retry
    /// (a retry's back-off is not cut short).
    pub fn resync(&self, key: Key) {
        let mut s = self.state();
        if s.slots.contains_key(&key) {
            return;
        }
        s.make_ready(key);
        self.report(&s);
        drop(s);
        self.wake.notify_one();
    }

    /// The next Document to reconcile, once one is due; `None` once the queue is closed. The Document counts as
    /// running until [`WorkQueue::done`].
    pub async fn next(&self) -> Option<Key> {
        loop {
            let notified = self.wake.notified();
            let deadline = {
                let mut s = self.state();
                if s.closed {
                    return None;
                }
                let deadline = s.due(Instant::now());
                if let Some(key) = s.ready.pop_front() {
                    s.slots.insert(key.clone(), Slot::Running(None));
                    self.report(&s);
                    return Some(key);
                }
                deadline
            };
            match deadline {
                Some(at) => {
                    tokio::select! {
                        () = notified => {}
                        () = tokio::time::sleep_until(at) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// The reconcile of `key` ended; run it again after `retry`, if given (sooner if it was triggered meanwhile).
    pub fn done(&self, key: &Key, retry: Option<Duration>) {
        let mut s = self.state();
        let Some(Slot::Running(again)) = s.slots.get(key).copied() else {
            return;
        };
        let retry_at = retry.map(|d| Instant::now() + d);
        let next = match (again, retry_at) {
            (Some(None), _) => Some(None),
            (Some(Some(a)), Some(b)) => Some(Some(a.min(b))),
            (Some(Some(a)), None) => Some(Some(a)),
            (None, Some(b)) => Some(Some(b)),
            (None, None) => None,
        };
        match next {
            None => {
                s.slots.remove(key);
                s.tidy();
            }
            Some(None) => s.make_ready(key.clone()),
            Some(Some(at)) => {
                s.slots.insert(key.clone(), Slot::Later(at));
                s.timers.push(Reverse((at, key.clone())));
            }
        }
        self.report(&s);
        drop(s);
        self.wake.notify_one();
    }

    /// Hands out nothing more: [`WorkQueue::next`] returns `None` from now on.
    pub fn close(&self) {
        self.state().closed = true;
        self.wake.notify_one();
    }

    /// How many Documents wait their turn.
    pub fn depth(&self) -> usize {
        self.state().ready.len()
    }

    /// How many Documents the queue knows (waiting, running or due later).
    pub fn known(&self) -> usize {
        self.state().slots.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::registry::Registry;

    fn queue() -> WorkQueue {
        let mut registry = Registry::default();
        WorkQueue::new(Arc::new(Metrics::register(&mut registry)))
    }

    fn key(name: &str) -> Key {
        Key::new("ns", name)
    }

    /// The next key if one is due now.
    async fn now(q: &WorkQueue) -> Option<Key> {
        tokio::time::timeout(Duration::from_millis(20), q.next())
            .await
            .ok()
            .flatten()
    }

    #[test]
    fn keys_split_back_into_namespace_and_name() {
        let k = Key::new("ns", "doc-1");
        assert_eq!((k.namespace(), k.name()), ("ns", "doc-1"));
        assert_eq!(k.object_ref(), ObjectRef::new("doc-1").within("ns"));
        assert_eq!(k.to_string(), "ns/doc-1");
    }

    #[tokio::test]
    async fn repeated_triggers_merge_and_come_out_in_order() {
        let q = queue();
        q.trigger(key("a"));
        q.trigger(key("b"));
        q.trigger(key("a"));
        assert_eq!(q.depth(), 2);
        assert_eq!(now(&q).await, Some(key("a")));
        assert_eq!(now(&q).await, Some(key("b")));
        assert_eq!(q.depth(), 0);
        assert_eq!(now(&q).await, None);
    }

    #[tokio::test]
    async fn a_trigger_during_a_reconcile_runs_it_once_more_after() {
        let q = queue();
        q.trigger(key("a"));
        let a = now(&q).await.unwrap();
        q.trigger(key("a"));
        q.trigger(key("a"));
        assert_eq!(now(&q).await, None, "never twice at once");
        q.done(&a, None);
        assert_eq!(now(&q).await, Some(key("a")));
        q.done(&a, None);
        assert_eq!(now(&q).await, None);
        assert_eq!(q.known(), 0, "nothing kept for an up-to-date Document");
    }

    #[tokio::test]
    async fn retries_wait_their_time_and_a_change_cuts_them_short() {
        let q = queue();
        q.trigger(key("a"));
        let a = now(&q).await.unwrap();
        q.done(&a, Some(Duration::from_millis(150)));
        assert_eq!(now(&q).await, None);
        let started = Instant::now();
        assert_eq!(q.next().await, Some(key("a")));
        assert!(
            started.elapsed() >= Duration::from_millis(100),
            "{:?}",
            started.elapsed()
        );
        q.done(&a, Some(Duration::from_secs(3600)));
        q.trigger(key("a"));
        assert_eq!(
            now(&q).await,
            Some(key("a")),
            "a change does not wait for the retry"
        );
    }

    #[tokio::test]
    async fn the_resync_neither_doubles_nor_cuts_a_back_off_short() {
        let q = queue();
        q.trigger(key("a"));
        let a = now(&q).await.unwrap();
        q.resync(key("a"));
        q.done(&a, Some(Duration::from_secs(3600)));
        q.resync(key("a"));
        assert_eq!(now(&q).await, None);
        q.resync(key("b"));
        q.resync(key("b"));
        assert_eq!(now(&q).await, Some(key("b")));
        assert_eq!(now(&q).await, None);
    }

    #[tokio::test]
    async fn a_drained_queue_gives_its_memory_back() {
        let q = queue();
        for i in 0..10_000 {
            q.trigger(key(&format!("d{i}")));
        }
        while let Some(k) = now(&q).await {
            q.done(&k, None);
        }
        let s = q.state();
        assert!(s.slots.is_empty());
        assert!(s.slots.capacity() <= 2048, "{}", s.slots.capacity());
        assert!(s.ready.capacity() <= 2048, "{}", s.ready.capacity());
    }

    #[tokio::test]
    async fn a_closed_queue_hands_out_nothing() {
        let q = Arc::new(queue());
        let waiter = tokio::spawn({
            let q = q.clone();
            async move { q.next().await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        q.close();
        assert_eq!(waiter.await.unwrap(), None);
        q.trigger(key("a"));
        assert_eq!(q.next().await, None);
    }
}
