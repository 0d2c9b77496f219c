//! The Controller and its watchers, built in this one place: a trimmed reflector of Documents (filtered to changes
//! that matter: generation, finalizers, deletion), a trimmed reflector of the ConfigMaps doc-controller publishes
//! (selected by label), bounded concurrency, graceful shutdown with a deadline, readiness once both caches have
//! synced, and the queue-depth gauge.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use kube::runtime::controller::{self, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{PredicateConfig, WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use tracing::{debug, error, info, warn};

use kubewhy::trace::Inspector;
use kubewhy::watch::{Health, Watch, WatchStreamDiagnoseExt};

use crate::backoff::ErrorBackoff;
use crate::document::Document;
use crate::metrics::Metrics;
use crate::queue::Queue;
use crate::readiness::Readiness;
use crate::reconcile::{self, Context, MANAGED_BY};
use crate::shard::select::ShardSelector;
use crate::shard::watch::{Follow, after_sync, follow};
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
    /// The first retry delay after a failed reconcile.
    pub error_backoff_min: Duration,
    /// The longest retry delay (before jitter).
    pub error_backoff_max: Duration,
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
}

/// The name of the Documents watcher in logs, metrics and `/readyz`.
pub const DOCUMENTS_WATCHER: &str = "documents.kube.rs";
/// The name of the published-ConfigMaps watcher.
pub const CONFIGMAPS_WATCHER: &str = "configmaps";

fn watch(name: &str, settings: &Settings) -> Watch {
    let mut watch = Watch::new(name, &settings.health);
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

/// Drops what the controller never reads from cached objects: managed fields and the last-applied annotation
/// (together often half of an object's size).
fn trim<K: Resource>(obj: &mut K) {
    let meta = obj.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

/// The part of a Document whose change needs a reconcile: its generation (the spec), its finalizers and whether it
/// is being deleted. Status-only changes (including the controller's own writes) and label or annotation edits do
/// not trigger; the periodic resync still visits every Document.
fn reconcile_relevant(doc: &Document) -> Option<u64> {
    let mut h = DefaultHasher::new();
    doc.metadata.generation.hash(&mut h);
    doc.metadata.deletion_timestamp.is_some().hash(&mut h);
    doc.finalizers().hash(&mut h);
    Some(h.finish())
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
    let queue = Arc::new(Queue::new(metrics.clone()));

    // Readiness: both caches have finished their first list. (Watching the streams for `InitDone` rather than
    // awaiting `Store::wait_until_ready`: that wakes only one waiter, and the Controller already waits on the
    // Document store.)
    readiness.not_ready(
        CACHES_CHECK,
        "waiting for the first list of Documents and published ConfigMaps (if this lasts, the log says why: \
         often the CRD is not installed or RBAC does not allow list/watch)",
    );
    let (docs_store, docs_writer) = reflector::store::<Document>();
    let (cms_store, cms_writer) = reflector::store::<ConfigMap>();
    let synced = Arc::new(Synced {
        docs: AtomicBool::new(false),
        cms: AtomicBool::new(false),
        docs_store: docs_store.clone(),
        cms_store: cms_store.clone(),
        readiness: readiness.clone(),
    });

    // The watchers, built only here. kubewhy's never-silent layer wraps these two streams.
    let docs_queue = queue.clone();
    let docs_synced = synced.clone();
    let owned = settings.ownership.metrics().documents_owned.clone();
    // Both watchers follow this replica's share (every Document without a ring); see `shard::watch`.
    let watch_timeout = settings.watch_timeout;
    let selector = settings.shard_selector.clone();
    let strays = settings.ownership.metrics().strays.clone();
    let docs_events = follow(
        api::<Document>(&client, namespace),
        Follow {
            cache: Cache::Documents,
            ownership: settings.ownership.clone(),
            slot_of: Slot::of_object::<Document>,
            config: Arc::new(move |_: &Target| {
                watcher::Config::default()
                    .any_semantic()
                    .timeout(watch_timeout)
            }),
            on_start: Arc::new(move |target: &Target| {
                let filtered = target.server_side && !target.slots.is_all();
                selector.set(filtered.then(|| target.slots.shard_selector()).flatten());
            }),
            on_stray: Arc::new(move |doc: &Document| {
                strays.inc();
                warn!(
                    namespace = doc.namespace().unwrap_or_default(),
                    name = doc.name_any(),
                    "the API server sent a Document outside this replica's ranges although asked to filter by \
                     shardSelector; dropped on the client"
                );
            }),
        },
    )
    .diagnosed(watch(DOCUMENTS_WATCHER, settings))
    .modify(trim)
    .reflect(docs_writer)
    .inspect_ok(move |event| {
        if matches!(event, watcher::Event::InitDone) {
            docs_synced.mark(&docs_synced.docs);
        }
        if !matches!(event, watcher::Event::InitApply(_) | watcher::Event::Init) {
            crate::shard::metrics::set(&owned, docs_synced.docs_store.len());
        }
    });
    // Triggers from a (re)list only once the store holds it (see `after_sync`).
    let docs = after_sync(docs_events, docs_store.clone())
        .applied_objects()
        .predicate_filter(reconcile_relevant, PredicateConfig::default())
        .inspect_ok(move |doc| docs_queue.triggered(ObjectRef::from_obj(doc)));

    let cms_queue = queue.clone();
    let cms_synced = synced.clone();
    let cms_events = follow(
        api::<ConfigMap>(&client, namespace),
        Follow {
            cache: Cache::ConfigMaps,
            ownership: settings.ownership.clone(),
            slot_of: Slot::of_label::<ConfigMap>,
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
    .diagnosed(watch(CONFIGMAPS_WATCHER, settings))
    .modify(trim)
    .reflect(cms_writer)
    .inspect_ok(move |event| {
        if matches!(event, watcher::Event::InitDone) {
            cms_synced.mark(&cms_synced.cms);
        }
    });
    let cms = after_sync(cms_events, cms_store.clone())
        .touched_objects()
        .inspect_ok(move |cm: &ConfigMap| {
            let ns = cm.namespace().unwrap_or_default();
            for owner in cm.owner_references() {
                if owner.kind == Document::kind(&())
                    && owner.api_version == Document::api_version(&())
                {
                    cms_queue.triggered(ObjectRef::new(&owner.name).within(&ns));
                }
            }
        });

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
        backoff: ErrorBackoff::new(settings.error_backoff_min, settings.error_backoff_max),
        resync: settings.resync,
        queue: queue.clone(),
        inspector: settings.inspector.clone(),
    });

    info!(
        namespace = namespace.unwrap_or("(all)"),
        concurrency = settings.concurrency,
        resync_s = settings.resync.as_secs_f64(),
        "starting the controller"
    );
    // Slots taken over: reconcile every cached Document in them (their periodic requeues were dropped while another
    // replica owned them, and unchanged ones pass no predicate).
    let activations = settings.ownership.take_activations().map(|rx| {
        let store = docs_store.clone();
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|s| (s, rx)) })
            .flat_map(move |slots: SlotSet| {
                let refs: Vec<ObjectRef<Document>> = store
                    .state()
                    .iter()
                    .filter(|d| Slot::of_object(&***d).is_some_and(|s| slots.contains(s)))
                    .map(|d| ObjectRef::from_obj(&**d))
                    .collect();
                futures::stream::iter(refs)
            })
    });
    let ownership = settings.ownership.clone();
    let mut controller = Controller::for_stream(docs, docs_store)
        .owns_stream(cms)
        .with_config(controller::Config::default().concurrency(settings.concurrency))
        .graceful_shutdown_on(shutdown.wait());
    if let Some(activations) = activations {
        controller = controller.reconcile_on(activations);
    }
    let drive = controller
        .run(
            move |doc, ctx| crate::shard::gate::reconcile(ownership.clone(), doc, ctx),
            reconcile::error_policy,
            ctx,
        )
        .for_each(|result| {
            match result {
                Ok(_) => {}
                // Already logged by the error policy, with the attempt and the retry delay.
                Err(controller::Error::ReconcilerFailed(..)) => {}
                Err(controller::Error::ObjectNotFound(obj)) => {
                    // A trigger for an object deleted meanwhile: usually harmless (kube-rs#1167).
                    debug!(object = %obj, "skipped a reconcile: the object is gone");
                    let key = ObjectRef::<Document>::new(&obj.name);
                    let key = match &obj.namespace {
                        Some(ns) => key.within(ns),
                        None => key,
                    };
                    queue.started(&key);
                }
                Err(controller::Error::QueueError(e)) => {
                    // Diagnosed, logged (once per cause) and backed off by the watcher that failed.
                    debug!(error = %reconcile::describe(&e), "a watcher error, already reported by its watcher");
                }
                Err(controller::Error::RunnerError(e)) => {
                    error!(error = %reconcile::describe(&e), "the controller's runner failed");
                }
            }
            futures::future::ready(())
        });

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
    finished
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DocumentSpec;

    #[test]
    fn status_and_label_changes_are_not_relevant_but_spec_and_deletion_are() {
        let mut d = Document::new(
            "d",
            DocumentSpec {
                title: "t".into(),
                content: String::new(),
                hide: false,
                publish: false,
            },
        );
        d.metadata.generation = Some(1);
        let base = reconcile_relevant(&d);
        let mut status_only = d.clone();
        status_only.status = Some(Default::default());
        status_only.metadata.labels = Some([("a".to_string(), "b".to_string())].into());
        assert_eq!(reconcile_relevant(&status_only), base);
        let mut spec = d.clone();
        spec.metadata.generation = Some(2);
        assert_ne!(reconcile_relevant(&spec), base);
        let mut finalized = d.clone();
        finalized.metadata.finalizers = Some(vec![reconcile::FINALIZER.into()]);
        assert_ne!(reconcile_relevant(&finalized), base);
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
}
