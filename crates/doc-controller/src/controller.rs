//! The controller, built in this one place: a trimmed cache of Documents (managed fields, labels, annotations and,
//! unless it is published, the content left out: the reconciler never reads them), a cache of the ConfigMaps
//! doc-controller publishes (selected by label, their data kept as digests), both following this replica's share
//! of a ring when sharded (`shard::watch`), listed at start as `--initial-list` says and reported by kubewhy (the
//! watchers are declared to its readiness while the controller runs), the work queue they fill (a Document is queued when its generation,
//! finalizers or deletion change, when its ConfigMap changes, after a (re)list, and when its slot is taken over), a
//! periodic resync that walks the cache, bounded concurrency behind the shard gate, kubewhy's per-object back-off
//! ([`kubewhy::retry`]: reset on success, not grown by an outage, its wake-ups queue a Document the moment its
//! failure's cause is gone), graceful shutdown with a deadline, readiness once both caches have synced, and the queue-depth gauge.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use std::panic::AssertUnwindSafe;

use futures::{FutureExt, Stream, StreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use kube::runtime::events::Reporter;
use kube::runtime::reflector::{self, Store, store::Writer};
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::{debug, error, info, warn};

use kubewhy::rbac::NearMisses;
use kubewhy::retry::{Retry, RetryConfig};
use kubewhy::stale::{Check, LastWrites};
use kubewhy::trace::Inspector;
use kubewhy::watch::{Health, InitialList, Watch, WatchStreamDiagnoseExt};

use crate::document::Document;
use crate::metrics::Metrics;
use crate::queue::{Key, WorkQueue};
use crate::readiness::Readiness;
use crate::reconcile::{self, Context, MANAGED_BY};
use crate::recorder::Recorder;
use crate::shard::gate::Gate;
use crate::shard::select::ShardSelector;
use crate::shard::watch::{Follow, follow, report_strays};
use crate::shard::{Cache, Ownership, Slot, SlotSet, Target};
use crate::shutdown::Shutdown;

/// The readiness check this module reports.
pub const CACHES_CHECK: &str = "caches";

/// How the controller runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Watch only this namespace (`None`: all namespaces).
    pub namespace: Option<String>,
    /// At most this many reconciles at once.
    pub concurrency: u16,
    /// Reconcile every Document at least this often.
    pub resync: Duration,
    /// The per-object back-off after failed reconciles.
    pub retry: RetryConfig,
    /// How the watchers list at start.
    pub initial_list: InitialList,
    /// How long running reconciles may take to finish after shutdown starts.
    pub shutdown_timeout: Duration,
    /// The reporting instance on events (the pod name or the lease identity).
    pub instance: String,
    /// Watch requests end after this many seconds and are renewed (kube's default is 290).
    pub watch_timeout: u32,
    /// Where the watchers report: kubewhy's health registry (readiness, metrics, exit policy).
    pub health: Health,
    /// The request recorder of the client, so each watcher error carries the request that failed.
    pub inspector: Option<Inspector>,
    /// Which Documents this replica reconciles: every one ([`Ownership::everything`]) or its share of a ring.
    pub ownership: Ownership,
    /// The `shardSelector` the client's layer adds to the Documents watch (set as the share changes).
    pub shard_selector: ShardSelector,
    /// Benchmark knob: each reconcile first waits this long (`--simulated-work-ms`).
    pub simulated_work: Duration,
}

/// The name of the Documents watcher in logs, metrics and `/readyz`.
pub const DOCUMENTS_WATCHER: &str = "documents.kube.rs";
/// The name of the published-ConfigMaps watcher.
pub const CONFIGMAPS_WATCHER: &str = "configmaps";

fn watch(name: &str, settings: &Settings, near_misses: &Arc<NearMisses>) -> Watch {
    let mut watch = Watch::new(name, &settings.health).near_misses(near_misses);
    if name == DOCUMENTS_WATCHER {
        watch = watch.install_command("doc-controller crdgen | kubectl apply -f -");
    }
    match &settings.inspector {
        Some(inspector) => watch.inspector(inspector),
        None => watch,
    }
}

/// Which caches have finished their first list; reports `caches` ready once both have.
struct Synced {
    docs: AtomicBool,
    cms: AtomicBool,
    docs_store: Store<Document>,
    cms_store: Store<ConfigMap>,
    readiness: Readiness,
}

impl Synced {
    fn mark(&self, which: &AtomicBool) {
        let first = !which.swap(true, Ordering::SeqCst);
        if first && self.docs.load(Ordering::SeqCst) && self.cms.load(Ordering::SeqCst) {
            let what = format!(
                "synced {} Documents and {} published ConfigMaps",
                self.docs_store.len(),
                self.cms_store.len()
            );
            info!("{what}");
            self.readiness.ready(CACHES_CHECK, what);
        }
    }
}

/// Drops what the controller never reads from any cached object: managed fields and the last-applied annotation
/// (together often half of an object's size).
fn trim<K: Resource>(obj: &mut K) {
    let meta = obj.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

/// Drops what the reconciler never reads from a cached Document: besides [`trim`], its labels, annotations, owner
/// references and generated-name prefix, and its content unless [`reconcile::publishes`] it (a watch event always
/// carries the whole object, so a Document that starts publishing brings its content with it).
fn trim_document(doc: &mut Document) {
    trim(doc);
    let meta = &mut doc.metadata;
    meta.labels = None;
    meta.annotations = None;
    meta.owner_references = None;
    meta.generate_name = None;
    if !reconcile::publishes(doc) {
        doc.spec.content = String::new();
        doc.spec.content.shrink_to_fit();
    }
}

/// The part of a Document whose change needs a reconcile: its generation (the spec), its finalizers and whether it
/// is being deleted. Status-only changes (including the controller's own writes) and label or annotation edits do
/// not trigger; the periodic resync still visits every Document.
fn relevant(doc: &Document) -> u64 {
    let mut h = DefaultHasher::new();
    doc.metadata.generation.hash(&mut h);
    doc.metadata.deletion_timestamp.is_some().hash(&mut h);
    doc.finalizers().hash(&mut h);
    h.finish()
}

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// The label selector of the ConfigMap cache.
pub fn config_map_selector() -> String {
    format!("{MANAGED_BY}={}", crate::needs::NAME)
}

/// The label selector of the ConfigMap cache of a share: the published ConfigMaps whose owner is in its slots.
fn config_map_selector_for(slots: SlotSet) -> String {
    match slots.label_selector() {
        Some(clause) => format!("{},{clause}", config_map_selector()),
        None => config_map_selector(),
    }
}

/// Applies one Documents watch event to the cache and queues what it makes due: an applied Document whose relevant
/// part changed (compared with the cached one before the update), and after a (re)list every Document (a relist
/// follows a gap in the watch, when anything may have been missed; reconciling an up-to-date Document sends
/// nothing).
fn on_document_event(
    event: watcher::Event<Document>,
    writer: &mut Writer<Document>,
    store: &Store<Document>,
    writes: &LastWrites<Document>,
    queue: &WorkQueue,
    synced: &Synced,
) {
    match &event {
        watcher::Event::Apply(doc) => {
            let changed = store
                .get(&reflector::ObjectRef::from_obj(doc))
                .is_none_or(|cached| relevant(&cached) != relevant(doc));
            writer.apply_watcher_event(&event);
            // The cache caught up with a write a reconcile waited for: that reconcile goes now. (A relist's objects
            // reach the cache only at its end, which queues every Document.)
            let caught_up = writes.observed(doc);
            if (changed || caught_up)
                && let Some(key) = Key::of(doc)
            {
                queue.trigger(key);
            }
        }
        watcher::Event::InitDone => {
            writer.apply_watcher_event(&event);
            for doc in store.state() {
                if let Some(key) = Key::of(&doc) {
                    queue.trigger(key);
                }
            }
            synced.mark(&synced.docs);
        }
        watcher::Event::Delete(doc) => {
            writes.forget(doc);
            writer.apply_watcher_event(&event);
        }
        watcher::Event::Init | watcher::Event::InitApply(_) => writer.apply_watcher_event(&event),
    }
}

/// Applies one published-ConfigMaps watch event to the cache and queues the Document that owns the ConfigMap.
fn on_config_map_event(
    event: watcher::Event<ConfigMap>,
    writer: &mut Writer<ConfigMap>,
    queue: &WorkQueue,
    synced: &Synced,
) {
    writer.apply_watcher_event(&event);
    let cm = match &event {
        watcher::Event::Apply(cm) | watcher::Event::Delete(cm) | watcher::Event::InitApply(cm) => {
            cm
        }
        watcher::Event::InitDone => {
            synced.mark(&synced.cms);
            return;
        }
        watcher::Event::Init => return,
    };
    let ns = cm.namespace().unwrap_or_default();
    for owner in cm.owner_references() {
        if owner.kind == Document::kind(&()) && owner.api_version == Document::api_version(&()) {
            queue.trigger(Key::new(&ns, &owner.name));
        }
    }
}

/// Queues the cached Documents of each set of slots this replica takes over, until the ownership stops sending
/// them (or forever, without a ring).
async fn activations(
    slots: Option<tokio::sync::mpsc::UnboundedReceiver<SlotSet>>,
    store: Store<Document>,
    queue: Arc<WorkQueue>,
) {
    let Some(mut slots) = slots else {
        return std::future::pending().await;
    };
    while let Some(taken) = slots.recv().await {
        for doc in store.state() {
            if Slot::of_object(&*doc).is_some_and(|s| taken.contains(s))
                && let Some(key) = Key::of(&doc)
            {
                queue.trigger(key);
            }
        }
    }
    std::future::pending().await
}

/// Hands every event of a watch to `apply` until the stream ends. Errors were diagnosed, logged (once per cause) and
/// backed off by kubewhy's layer around the stream; they are only noted here.
async fn drive<K, E>(
    events: impl Stream<Item = Result<watcher::Event<K>, E>>,
    name: &str,
    mut apply: impl FnMut(watcher::Event<K>),
) where
    E: std::error::Error + 'static,
{
    let mut events = std::pin::pin!(events);
    while let Some(event) = events.next().await {
        match event {
            Ok(event) => apply(event),
            Err(e) => {
                debug!(watcher = name, "a watch error, already reported: {e}")
            }
        }
    }
}

/// Walks the Documents cache once per `period`, queueing each Document in turn (spread evenly over the period) unless
/// it is already queued, running or waiting for a retry. One pass takes a snapshot of the cache (a pointer per
/// Document); a Document deleted meanwhile is reconciled as gone.
async fn resync(store: Store<Document>, queue: Arc<WorkQueue>, period: Duration) {
    // Wake at most this often; each wake-up queues the Documents whose turn came.
    const TICK: Duration = Duration::from_millis(100);
    loop {
        let docs = store.state();
        let started = tokio::time::Instant::now();
        if docs.is_empty() {
            tokio::time::sleep(period).await;
            continue;
        }
        let per_tick =
            (docs.len() as f64 * TICK.as_secs_f64() / period.as_secs_f64()).max(f64::MIN_POSITIVE);
        let mut due = 0.0;
        let mut docs = docs.into_iter();
        let mut tick = tokio::time::interval_at(started + TICK, TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        'pass: loop {
            tick.tick().await;
            due += per_tick;
            while due >= 1.0 {
                due -= 1.0;
                let Some(doc) = docs.next() else { break 'pass };
                if let Some(key) = Key::of(&doc) {
                    queue.resync(key);
                }
            }
        }
        tokio::time::sleep_until(started + period).await;
    }
}

/// Runs the controller until `shutdown` is pulled, then lets running reconciles finish within
/// `settings.shutdown_timeout`. Returns whether they all finished in time.
pub async fn run(
    client: Client,
    settings: &Settings,
    metrics: Arc<Metrics>,
    readiness: Readiness,
    shutdown: Shutdown,
) -> bool {
    let namespace = settings.namespace.as_deref();
    let queue = Arc::new(WorkQueue::new(metrics.clone()));

    // Readiness: both caches have finished their first list.
    readiness.not_ready(
        CACHES_CHECK,
        "waiting for the first list of Documents and published ConfigMaps (if this lasts, the log says why: \
         often the CRD is not installed or RBAC does not allow list/watch)",
    );
    let mut docs_writer = Writer::<Document>::default();
    let docs_store = docs_writer.as_reader();
    let mut cms_writer = Writer::<ConfigMap>::default();
    let cms_store = cms_writer.as_reader();
    let synced = Arc::new(Synced {
        docs: AtomicBool::new(false),
        cms: AtomicBool::new(false),
        docs_store: docs_store.clone(),
        cms_store: cms_store.clone(),
        readiness: readiness.clone(),
    });

    // The watchers, built only here. kubewhy's never-silent layer wraps these two streams (it diagnoses, logs once
    // per cause and backs off; its errors are only noted here); a denial is explained by the bindings that come
    // closest when this identity may read RBAC (it says once when it may not).
    let near_misses = Arc::new(NearMisses::new(client.clone()));
    settings
        .health
        .declare([DOCUMENTS_WATCHER, CONFIGMAPS_WATCHER]);
    let initial = settings.initial_list;
    let docs_watch = watch(DOCUMENTS_WATCHER, settings, &near_misses);
    let cms_watch = watch(CONFIGMAPS_WATCHER, settings, &near_misses);
    let writes = Arc::new(LastWrites::<Document>::new());
    let docs = {
        let (queue, synced, store) = (queue.clone(), synced.clone(), docs_store.clone());
        let writes = writes.clone();
        let owned = settings.ownership.metrics().documents_owned.clone();
        // Both watchers follow this replica's share (every Document without a ring); see `shard::watch`.
        let watch_timeout = settings.watch_timeout;
        let selector = settings.shard_selector.clone();
        let strays = settings.ownership.metrics().strays.clone();
        let events = follow(
            api::<Document>(&client, namespace),
            Follow {
                cache: Cache::Documents,
                ownership: settings.ownership.clone(),
                slot_of: Slot::of_object::<Document>,
                watcher: {
                    let watch = docs_watch.clone();
                    Arc::new(move |api, config| {
                        kubewhy::watch::initial::events(api, config, initial, &watch)
                    })
                },
                config: Arc::new(move |_: &Target| {
                    watcher::Config::default()
                        .any_semantic()
                        .timeout(watch_timeout)
                }),
                on_start: Arc::new(move |target: &Target| {
                    let filtered = target.server_side && !target.slots.is_all();
                    selector.set(filtered.then(|| target.slots.shard_selector()).flatten());
                }),
                on_stray: report_strays::<Document>(strays),
            },
        )
        .diagnosed(docs_watch);
        drive(events, DOCUMENTS_WATCHER, move |event| {
            let counts = !matches!(event, watcher::Event::InitApply(_) | watcher::Event::Init);
            on_document_event(
                event.modify(trim_document),
                &mut docs_writer,
                &store,
                &writes,
                &queue,
                &synced,
            );
            if counts {
                crate::shard::metrics::set(&owned, store.len());
            }
        })
    };
    let cms = {
        let (queue, synced) = (queue.clone(), synced.clone());
        let watch_timeout = settings.watch_timeout;
        let events = follow(
            api::<ConfigMap>(&client, namespace),
            Follow {
                cache: Cache::ConfigMaps,
                ownership: settings.ownership.clone(),
                slot_of: Slot::of_label::<ConfigMap>,
                watcher: {
                    let watch = cms_watch.clone();
                    Arc::new(move |api, config| {
                        kubewhy::watch::initial::events(api, config, initial, &watch)
                    })
                },
                config: Arc::new(move |target: &Target| {
                    watcher::Config::default()
                        .labels(&config_map_selector_for(target.slots))
                        .any_semantic()
                        .timeout(watch_timeout)
                }),
                on_start: Arc::new(|_: &Target| {}),
                on_stray: Arc::new(|_: &ConfigMap| {}),
            },
        )
        .diagnosed(cms_watch);
        drive(events, CONFIGMAPS_WATCHER, move |event| {
            on_config_map_event(
                event.modify(reconcile::trim_config_map),
                &mut cms_writer,
                &queue,
                &synced,
            );
        })
    };

    let retry = Retry::<Document>::with_config(&settings.health, settings.retry);
    // A Document waiting out a failure whose cause a probe found gone (the API server answers again, a permission or
    // the CRD is back) goes again at once: its back-off is not the time to recovery.
    let wakeups = {
        let (wakeups, queue) = (retry.wakeups(), queue.clone());
        async move {
            let mut wakeups = std::pin::pin!(wakeups);
            while let Some(object) = wakeups.next().await {
                if let Some(ns) = object.namespace.as_deref() {
                    queue.trigger(Key::new(ns, &object.name));
                }
            }
            std::future::pending::<()>().await
        }
    };
    let ctx = Arc::new(Context {
        client: client.clone(),
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: crate::needs::NAME.into(),
                instance: Some(settings.instance.clone()),
            },
        ),
        configmaps: cms_store,
        metrics: metrics.clone(),
        retry,
        health: settings.health.clone(),
        writes,
    });

    info!(
        namespace = namespace.unwrap_or("(all)"),
        concurrency = settings.concurrency,
        resync_s = settings.resync.as_secs_f64(),
        "starting the controller"
    );
    let dispatch = dispatch(
        queue.clone(),
        docs_store.clone(),
        ctx.configmaps.clone(),
        ctx,
        Gate {
            ownership: settings.ownership.clone(),
            simulated_work: settings.simulated_work,
        },
        settings.concurrency,
        shutdown.clone(),
    );
    // Slots taken over: reconcile every cached Document in them (the resync may be far off, and unchanged ones are
    // not queued by their watch).
    let activations = activations(
        settings.ownership.take_activations(),
        docs_store.clone(),
        queue.clone(),
    );
    let resync = resync(docs_store, queue.clone(), settings.resync);
    // The watchers and the resync run until the dispatcher has drained after shutdown.
    let drive = async {
        tokio::select! {
            () = dispatch => {}
            () = docs => warn!("the Documents watch ended"),
            () = cms => warn!("the ConfigMaps watch ended"),
            () = resync => {}
            () = activations => {}
            () = wakeups => {}
        }
    };

    let deadline = async {
        shutdown.wait().await;
        tokio::time::sleep(settings.shutdown_timeout).await;
    };
    let finished = tokio::select! {
        () = drive => true,
        () = deadline => {
            warn!(
                timeout_s = settings.shutdown_timeout.as_secs_f64(),
                "running reconciles did not finish within the shutdown timeout; stopping anyway"
            );
            false
        }
    };
    info!("controller stopped");
    // No watcher runs now (a replica that lost leadership stands by): readiness no longer waits for them.
    settings.health.declare(Vec::<String>::new());
    finished
}

/// How long a Document skipped for a stale cache waits at most before it is looked at again; the watch event that
/// brings the controller's own write queues it at once (see [`on_document_event`]).
const STALE_RECHECK: Duration = Duration::from_secs(2);

/// Whether the cached `doc` is older than this controller's own last write to it (KEP-5647): then it is not
/// reconciled now — acting on it would redo or undo what was written (a finalizer patch whose test fails, a status
/// written twice) — and is looked at again when the watch brings the write. Returns when to look again; counts the
/// skip and says why at DEBUG.
fn stale(doc: &Document, key: &Key, ctx: &Context) -> Option<Duration> {
    match ctx.writes.check(doc) {
        Check::Fresh => None,
        Check::Stale(s) => {
            ctx.metrics.stale_skip(&s);
            debug!(
                object = %key, read = %s.read, written = %s.written,
                waited_ms = u64::try_from(s.waited.as_millis()).unwrap_or(u64::MAX),
                "waiting for the cache: it holds resourceVersion {} of the Document, older than this controller's \
                 own last write ({}); reconciling it when the watch brings that write (stale-read guard, KEP-5647)",
                s.read, s.written
            );
            Some(STALE_RECHECK)
        }
        Check::GaveUp(s) => {
            debug!(
                object = %key, read = %s.read, written = %s.written,
                "the cache still holds resourceVersion {} of the Document, older than this controller's own last \
                 write ({}), after {:.0?}: reconciling anyway",
                s.read, s.written, s.waited
            );
            None
        }
    }
}

/// Hands queued Documents to at most `concurrency` reconciles at once, once both caches have synced; on shutdown it
/// starts no more and returns when the running ones have finished.
async fn dispatch(
    queue: Arc<WorkQueue>,
    store: Store<Document>,
    configmaps: Store<ConfigMap>,
    ctx: Arc<Context>,
    gate: Gate,
    concurrency: u16,
    shutdown: Shutdown,
) {
    let permits = Arc::new(Semaphore::new(usize::from(concurrency.max(1))));
    let mut running = JoinSet::new();
    let stopping = shutdown.wait();
    tokio::pin!(stopping);
    // Both caches first: a reconcile that finds no ConfigMap in a cache still listing would ask the API server.
    let ready = async {
        (
            store.wait_until_ready().await,
            configmaps.wait_until_ready().await,
        )
    };
    tokio::select! {
        (docs, cms) = ready => if docs.is_err() || cms.is_err() {
            warn!("a cache was dropped before its first list completed; no reconcile will run");
            return;
        },
        () = &mut stopping => return,
    }
    loop {
        let next = async {
            let permit = permits.clone().acquire_owned().await.ok()?;
            Some((permit, queue.next().await?))
        };
        let (permit, key) = tokio::select! {
            next = next => match next {
                Some(next) => next,
                None => break,
            },
            () = &mut stopping => break,
            // Reap finished reconciles so the set does not grow (a panic is caught and reported inside the task).
            Some(result) = running.join_next(), if !running.is_empty() => {
                if let Err(e) = result {
                    error!(error = %e, "a reconcile task ended abnormally");
                }
                continue;
            }
        };
        let Some(doc) = store.get(&key.object_ref()) else {
            debug!(object = %key, "skipped a reconcile: the object is gone");
            queue.done(&key, None);
            continue;
        };
        if let Some(again) = stale(&doc, &key, &ctx) {
            queue.done(&key, Some(again));
            continue;
        }
        let (queue, ctx, gate) = (queue.clone(), ctx.clone(), gate.clone());
        running.spawn(async move {
            // kubewhy's back-off sees each attempt: a success resets it; a failure comes diagnosed (once, with its own
            // request), and the back-off, the log, the metrics and the Document all take that diagnosis.
            let work = AssertUnwindSafe(gate.reconcile(doc.clone(), ctx.clone()));
            let attempt = ctx.retry.attempt(&doc, async {
                work.catch_unwind().await.unwrap_or_else(|_| {
                    // A bug, not an API failure (the panic's message is logged above): retried after the back-off
                    // like a failure (the Document must not stay marked as running).
                    Err(reconcile::panicked(&doc))
                })
            });
            let retry = match attempt.await {
                Ok(()) => None,
                Err(err) => Some(reconcile::on_failure(&doc, &err, &ctx).await),
            };
            // A success resets the Document's back-off, a failure starts or grows it: the gauge follows both.
            ctx.metrics.set_in_backoff(ctx.retry.in_backoff());
            queue.done(&key, retry);
            drop(permit);
        });
    }
    queue.close();
    while let Some(result) = running.join_next().await {
        if let Err(e) = result {
            error!(error = %e, "a reconcile task ended abnormally");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DocumentSpec;

    fn doc(content: &str, hide: bool, publish: bool) -> Document {
        let mut d = Document::new(
            "d",
            DocumentSpec {
                title: "t".into(),
                content: content.into(),
                hide,
                publish,
            },
        );
        d.metadata.generation = Some(1);
        d
    }

    #[test]
    fn status_and_label_changes_are_not_relevant_but_spec_and_deletion_are() {
        let d = doc("", false, false);
        let base = relevant(&d);
        let mut status_only = d.clone();
        status_only.status = Some(Default::default());
        status_only.metadata.labels = Some([("a".to_string(), "b".to_string())].into());
        assert_eq!(relevant(&status_only), base);
        let mut spec = d.clone();
        spec.metadata.generation = Some(2);
        assert_ne!(relevant(&spec), base);
        let mut finalized = d.clone();
        finalized.metadata.finalizers = Some(vec![reconcile::FINALIZER.into()]);
        assert_ne!(relevant(&finalized), base);
    }

    #[test]
    fn trimming_drops_managed_fields_and_last_applied() {
        let mut cm = ConfigMap::default();
        cm.metadata.managed_fields = Some(vec![Default::default()]);
        cm.metadata.annotations = Some(
            [
                (
                    "kubectl.kubernetes.io/last-applied-configuration".to_string(),
                    "{}".to_string(),
                ),
                ("keep".to_string(), "me".to_string()),
            ]
            .into(),
        );
        trim(&mut cm);
        assert!(cm.metadata.managed_fields.is_none());
        assert_eq!(cm.annotations().len(), 1);
    }

    #[test]
    fn cached_documents_keep_their_content_only_when_they_publish_it() {
        for (hide, publish, kept) in [
            (false, true, true),
            (true, true, false),
            (false, false, false),
        ] {
            let mut d = doc("lorem ipsum", hide, publish);
            d.metadata.labels = Some([("a".to_string(), "b".to_string())].into());
            d.metadata.managed_fields = Some(vec![Default::default()]);
            let before = relevant(&d);
            trim_document(&mut d);
            assert_eq!(
                d.spec.content.is_empty(),
                !kept,
                "hide {hide} publish {publish}"
            );
            assert!(d.metadata.labels.is_none() && d.metadata.managed_fields.is_none());
            assert_eq!(
                relevant(&d),
                before,
                "trimming changes nothing a reconcile depends on"
            );
            assert_eq!(d.spec.title, "t");
        }
    }
}
