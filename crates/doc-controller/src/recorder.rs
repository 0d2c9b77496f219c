//! Publishing `events.k8s.io/v1` Events, with repeats of the same event aggregated into a series — the
//! [`kube::runtime::events::Recorder`] protocol (same event names, same series key, same 6-minute window), with a
//! cache that keeps only what a series needs.
//!
//! kube's recorder keeps every event it published for 6 minutes as a whole `Event` keyed by its whole
//! `ObjectReference` (about 2.4 KB per event), and scans that cache on every publish. Right after a cold start
//! every Document has had its `HideRequested` event, so that cache held more than the cached Documents themselves
//! (2.6 KB per Document at 10,000, heap profile in docs/benchmarks.md), and at 100,000 Documents the scan made
//! publishing quadratic. Here an entry is a 64-bit key and the few numbers a series update needs (24 bytes, about 60
//! with its map and expiry slots), and expired entries are dropped in the order they were written, so a publish
//! costs O(1).

use std::collections::{HashMap, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event as K8sEvent, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Reporter};
use serde_json::json;

/// How long a published event is remembered for aggregation into a series (kube's and client-go's window).
pub const SERIES_WINDOW: Duration = Duration::from_secs(6 * 60);

/// What the cache keeps of a published event: enough to name it and to count its series (24 bytes).
#[derive(Debug, Clone, Copy)]
struct Series {
    /// The nanosecond Unix timestamp in the event's name (`<regarding name>.<nanos in hex>`).
    nanos: i64,
    /// How many times it was published (1 before it became a series).
    count: i32,
    /// When it was last published, in Unix seconds.
    last: i64,
}

#[derive(Debug, Default)]
struct Cache {
    series: HashMap<u64, Series>,
    /// Keys in the order they were last published, with that time (Unix seconds): the oldest expire first.
    order: VecDeque<(i64, u64)>,
}

/// Whole seconds of the window, for comparisons with Unix seconds.
const WINDOW_S: i64 = SERIES_WINDOW.as_secs() as i64;

impl Cache {
    /// Forgets events last published more than [`SERIES_WINDOW`] before `now`.
    fn expire(&mut self, now: Timestamp) {
        let now = now.as_second();
        while let Some(&(at, key)) = self.order.front() {
            if at + WINDOW_S > now {
                break;
            }
            self.order.pop_front();
            // A later publish of the same key left a newer slot behind: keep the entry until that one expires.
            if self.series.get(&key).is_some_and(|s| s.last <= at) {
                self.series.remove(&key);
            }
        }
        // Give memory back once a burst (every Document's event at start-up) has expired.
        const KEEP: usize = 1024;
        if self.series.capacity() > KEEP && self.series.len() * 4 < self.series.capacity() {
            self.series.shrink_to(KEEP.max(self.series.len() * 2));
        }
        if self.order.capacity() > KEEP && self.order.len() * 4 < self.order.capacity() {
            self.order.shrink_to(KEEP.max(self.order.len() * 2));
        }
    }

    /// Records a publish of `key` at `now` and returns the series it belongs to (count 1 for a new event).
    fn record(&mut self, key: u64, now: Timestamp) -> Series {
        self.expire(now);
        let seconds = now.as_second();
        let series = self
            .series
            .entry(key)
            .and_modify(|s| {
                s.count = s.count.saturating_add(1);
                s.last = seconds;
            })
            .or_insert(Series {
                // Unix nanoseconds fit an i64 until the year 2262.
                nanos: i64::try_from(now.as_nanosecond()).unwrap_or(i64::MAX),
                count: 1,
                last: seconds,
            });
        let out = *series;
        self.order.push_back((seconds, key));
        out
    }

    /// Undoes [`Cache::record`] after the API server refused the write, so the next attempt is new again.
    fn forget(&mut self, key: u64) {
        self.series.remove(&key);
    }

    fn len(&self) -> usize {
        self.series.len()
    }
}

/// Publishes events on behalf of one controller instance.
pub struct Recorder {
    client: Client,
    reporter: Reporter,
    cache: Mutex<Cache>,
}

impl Recorder {
    /// A recorder that reports as `reporter`.
    pub fn new(client: Client, reporter: Reporter) -> Recorder {
        Recorder {
            client,
            reporter,
            cache: Mutex::new(Cache::default()),
        }
    }

    fn cache(&self) -> MutexGuard<'_, Cache> {
        // Every update leaves the cache consistent (single inserts, removes and pops): a poisoned one is usable.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many events are remembered for aggregation.
    pub fn remembered(&self) -> usize {
        self.cache().len()
    }

    /// The series key: what kube's recorder compares (type, reason, action, reporter, regarding and related
    /// object), not the note.
    fn key(&self, ev: &Event, regarding: &ObjectReference) -> u64 {
        let mut h = DefaultHasher::new();
        matches!(ev.type_, EventType::Warning).hash(&mut h);
        ev.reason.hash(&mut h);
        ev.action.hash(&mut h);
        self.reporter.controller.hash(&mut h);
        self.reporter.instance.hash(&mut h);
        hash_reference(regarding, &mut h);
        if let Some(related) = &ev.secondary {
            hash_reference(related, &mut h);
        }
        h.finish()
    }

    /// Publishes `ev` about `regarding`: a new Event the first time, a PATCH of its series when the same event was
    /// published within the last [`SERIES_WINDOW`] (a new Event again when the server no longer has the old one).
    pub async fn publish(
        &self,
        ev: &Event,
        regarding: &ObjectReference,
    ) -> Result<(), kube::Error> {
        let key = self.key(ev, regarding);
        let now = Timestamp::now();
        let series = self.cache().record(key, now);
        let namespace = regarding.namespace.as_deref().unwrap_or("default");
        let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), namespace);
        let name = event_name(regarding, &self.reporter, series.nanos);
        let result = if series.count > 1 {
            let patch = json!({"series": EventSeries {
                count: series.count,
                last_observed_time: MicroTime(now),
            }});
            match api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => Ok(()),
                // The server dropped the event meanwhile (events live one hour by default): start over.
                Err(kube::Error::Api(s)) if s.code == 404 => {
                    self.cache().forget(key);
                    let series = self.cache().record(key, now);
                    let name = event_name(regarding, &self.reporter, series.nanos);
                    self.create(&api, ev, regarding, name, now).await
                }
                Err(e) => Err(e),
            }
        } else {
            self.create(&api, ev, regarding, name, now).await
        };
        if result.is_err() && series.count == 1 {
            self.cache().forget(key);
        }
        result
    }

    async fn create(
        &self,
        api: &Api<K8sEvent>,
        ev: &Event,
        regarding: &ObjectReference,
        name: String,
        now: Timestamp,
    ) -> Result<(), kube::Error> {
        let event = K8sEvent {
            action: Some(ev.action.clone()),
            reason: Some(ev.reason.clone()),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding.clone()),
            note: ev.note.clone(),
            metadata: ObjectMeta {
                namespace: regarding.namespace.clone(),
                name: Some(name),
                ..ObjectMeta::default()
            },
            reporting_controller: Some(self.reporter.controller.clone()),
            reporting_instance: Some(
                self.reporter
                    .instance
                    .clone()
                    .unwrap_or_else(|| self.reporter.controller.clone()),
            ),
            type_: Some(
                match ev.type_ {
                    EventType::Normal => "Normal",
                    EventType::Warning => "Warning",
                }
                .into(),
            ),
            related: ev.secondary.clone(),
            ..K8sEvent::default()
        };
        api.create(&PostParams::default(), &event).await.map(|_| ())
    }
}

/// kube's event name: the regarding object's name (else the controller's) and the first publish's nanoseconds.
fn event_name(regarding: &ObjectReference, reporter: &Reporter, nanos: i64) -> String {
    format!(
        "{}.{:x}",
        regarding.name.as_deref().unwrap_or(&reporter.controller),
        nanos
    )
}

fn hash_reference(r: &ObjectReference, h: &mut DefaultHasher) {
    r.api_version.hash(h);
    r.kind.hash(h);
    r.namespace.hash(h);
    r.name.hash(h);
    r.uid.hash(h);
    r.field_path.hash(h);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    #[test]
    fn repeats_within_the_window_form_a_series_and_expire_after_it() {
        let mut cache = Cache::default();
        let first = cache.record(1, at(0));
        assert_eq!(first.count, 1);
        assert_eq!(cache.record(2, at(1)).count, 1);
        let again = cache.record(1, at(60));
        assert_eq!((again.count, again.nanos), (2, first.nanos));
        // Key 2 expires 6 minutes after its only publish; key 1 lives on from its later one.
        cache.expire(at(361));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.record(1, at(400)).count, 3);
        cache.expire(at(400 + 360));
        assert_eq!(cache.len(), 0);
        assert!(cache.order.is_empty());
        assert_eq!(
            cache.record(1, at(800)).count,
            1,
            "a new event after the window"
        );
    }

    #[test]
    fn a_refused_first_publish_is_forgotten() {
        let mut cache = Cache::default();
        cache.record(7, at(0));
        cache.forget(7);
        assert_eq!(cache.record(7, at(1)).count, 1);
    }

    #[test]
    fn names_follow_kubes_recorder() {
        let r = ObjectReference {
            name: Some("doc-1".into()),
            ..ObjectReference::default()
        };
        let reporter = Reporter {
            controller: "doc-controller".into(),
            instance: None,
        };
        assert_eq!(event_name(&r, &reporter, 255), "doc-1.ff");
        assert_eq!(
            event_name(&ObjectReference::default(), &reporter, 16),
            "doc-controller.10"
        );
    }
}
