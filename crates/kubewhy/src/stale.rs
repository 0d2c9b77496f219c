//! Stale reads waited out, not failed on — kube-rs's version of Kubernetes 1.36's stale-controller mitigation
//! (KEP-5647): a controller remembers the `resourceVersion` of its own last write to each object and, while its cache
//! (a reflector's store) still holds an older version, skips the object and requeues it instead of acting on a
//! state it has already changed (a JSON patch whose `test` fails, an update that conflicts: the stale-cache 422s and
//! 409s). Resource versions are compared as Kubernetes 1.35 allows (KEP-5504: decimal integers, compared by length,
//! then digit by digit); a version that is not one is never waited for.
//!
//! client-go's controllers compare with the store's last synced version; kube's reflector keeps none, so
//! [`LastWrites`] compares with the cached object's own version (every write of the controller comes back through its
//! watch with that version or a newer one) and is told about watch events with [`LastWrites::observed`], which says
//! when a skipped object can go again. A wait is bounded ([`LastWrites::with_max_wait`]): a cache that does not
//! catch up within it is given up on rather than holding an object for ever. Count each skip in a metric named after
//! client-go's (`<controller>_stale_sync_skips_total{group,resource}`) and say why at DEBUG: a controller waiting on
//! its cache must not look stuck.
//!
//! ```
//! use k8s_openapi::api::core::v1::ConfigMap;
//! use kubewhy::stale::{Check, LastWrites};
//!
//! let writes = LastWrites::<ConfigMap>::new();
//! let mut cm = ConfigMap::default();
//! cm.metadata.name = Some("a".into());
//! cm.metadata.namespace = Some("ns".into());
//! cm.metadata.resource_version = Some("120".into());
//! writes.wrote(&cm); // the object the API server answered the write with
//!
//! let mut cached = cm.clone();
//! cached.metadata.resource_version = Some("99".into());
//! assert!(matches!(writes.check(&cached), Check::Stale(_))); // skip it, requeue it
//! assert!(writes.observed(&cm)); // the watch brought the write: reconcile it now
//! assert!(matches!(writes.check(&cm), Check::Fresh));
//! ```

use std::cmp::Ordering;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use kube::Resource;

/// How long a skipped object waits for its cache by default before it goes ahead anyway.
pub const DEFAULT_MAX_WAIT: Duration = Duration::from_secs(30);

/// Compares two resource versions as Kubernetes 1.35+ allows (KEP-5504): `None` when either is not a decimal
/// integer without leading zeros (an API server that does not promise comparable versions, or an empty one).
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    let well_formed =
        |s: &str| !s.is_empty() && !s.starts_with('0') && s.bytes().all(|c| c.is_ascii_digit());
    (well_formed(a) && well_formed(b)).then(|| a.len().cmp(&b.len()).then_with(|| a.cmp(b)))
}

/// An object read from a cache older than the controller's own last write to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stale {
    /// The object's API group (`""` for core).
    pub group: String,
    /// Its plural resource.
    pub resource: String,
    /// Its namespace.
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
    /// The version the cache holds.
    pub read: String,
    /// The version the last write made.
    pub written: String,
    /// How long ago that write was.
    pub waited: Duration,
}

/// What [`LastWrites::check`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// The cache holds the last write or newer (or there was none, or the versions cannot be compared): act.
    Fresh,
    /// The cache is older than the last write: skip the object and requeue it.
    Stale(Stale),
    /// The cache is still older than the last write after the longest wait: act anyway (the record is dropped).
    GaveUp(Stale),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    namespace: Option<String>,
    name: String,
}

#[derive(Debug)]
struct Written {
    version: String,
    at: Instant,
    skipped: bool,
}

/// The resource versions of a controller's own last writes to objects of type `K`, until its cache has caught up
/// with each. Share it (it is `Sync`) between the reconciles, which record their writes and check before acting,
/// and the watch, which reports what the cache received.
pub struct LastWrites<K> {
    writes: Mutex<HashMap<Key, Written>>,
    max_wait: Duration,
    _kind: PhantomData<fn() -> K>,
}

impl<K> std::fmt::Debug for LastWrites<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LastWrites")
            .field(
                "waiting",
                &self
                    .writes
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .len(),
            )
            .field("max_wait", &self.max_wait)
            .finish()
    }
}

impl<K> Default for LastWrites<K>
where
    K: Resource,
    K::DynamicType: Default,
{
    fn default() -> Self {
        LastWrites::new()
    }
}

fn key<K: Resource>(obj: &K) -> Option<Key> {
    let meta = obj.meta();
    Some(Key {
        namespace: meta.namespace.clone(),
        name: meta.name.clone()?,
    })
}

impl<K> LastWrites<K>
where
    K: Resource,
    K::DynamicType: Default,
{
    /// No writes remembered; a skipped object waits at most [`DEFAULT_MAX_WAIT`].
    pub fn new() -> LastWrites<K> {
        LastWrites {
            writes: Mutex::new(HashMap::new()),
            max_wait: DEFAULT_MAX_WAIT,
            _kind: PhantomData,
        }
    }

    /// A skipped object waits at most `max_wait` after the write for its cache.
    pub fn with_max_wait(mut self, max_wait: Duration) -> LastWrites<K> {
        self.max_wait = max_wait;
        self
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Written>> {
        // Every update is one insert, change or remove: a poisoned map is still consistent.
        self.writes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Remembers a write: `written` is the object the API server answered it with (a patch's, an update's or a
    /// status write's answer). An older version than one remembered is ignored.
    pub fn wrote(&self, written: &K) {
        let (Some(key), Some(version)) = (key(written), written.meta().resource_version.clone())
        else {
            return;
        };
        let mut writes = self.lock();
        match writes.get_mut(&key) {
            Some(w) if compare(&w.version, &version) == Some(Ordering::Greater) => {}
            Some(w) => {
                w.version = version;
                w.at = Instant::now();
            }
            None => {
                writes.insert(
                    key,
                    Written {
                        version,
                        at: Instant::now(),
                        skipped: false,
                    },
                );
            }
        }
    }

    /// Whether `cached` (the object as the cache holds it) is at least as new as the last write to it.
    pub fn check(&self, cached: &K) -> Check {
        let Some(key) = key(cached) else {
            return Check::Fresh;
        };
        let read = cached.meta().resource_version.clone().unwrap_or_default();
        let mut writes = self.lock();
        let Some(w) = writes.get_mut(&key) else {
            return Check::Fresh;
        };
        if compare(&read, &w.version) != Some(Ordering::Less) {
            writes.remove(&key);
            return Check::Fresh;
        }
        let dt = K::DynamicType::default();
        let stale = Stale {
            group: K::group(&dt).into_owned(),
            resource: K::plural(&dt).into_owned(),
            namespace: key.namespace.clone(),
            name: key.name.clone(),
            read,
            written: w.version.clone(),
            waited: w.at.elapsed(),
        };
        if stale.waited >= self.max_wait {
            writes.remove(&key);
            return Check::GaveUp(stale);
        }
        w.skipped = true;
        Check::Stale(stale)
    }

    /// The cache received `obj` (a watch event): forgets the write it catches up with. Returns whether the object was
    /// skipped meanwhile, so it should be queued now.
    pub fn observed(&self, obj: &K) -> bool {
        let (Some(key), Some(read)) = (key(obj), obj.meta().resource_version.as_deref()) else {
            return false;
        };
        let mut writes = self.lock();
        match writes.get(&key) {
            Some(w) if compare(read, &w.version) != Some(Ordering::Less) => {
                writes.remove(&key).is_some_and(|w| w.skipped)
            }
            _ => false,
        }
    }

    /// Forgets the writes to `obj` (it was deleted).
    pub fn forget(&self, obj: &K) {
        if let Some(key) = key(obj) {
            self.lock().remove(&key);
        }
    }

    /// How many writes the cache has not caught up with yet.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the cache has caught up with every write.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;

    fn cm(name: &str, rv: &str) -> ConfigMap {
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some(name.into());
        cm.metadata.namespace = Some("ns".into());
        cm.metadata.resource_version = Some(rv.into());
        cm
    }

    #[test]
    fn versions_compare_as_integers_of_any_length_when_well_formed() {
        assert_eq!(compare("9", "10"), Some(Ordering::Less));
        assert_eq!(compare("100", "99"), Some(Ordering::Greater));
        assert_eq!(
            compare(
                "123456789012345678901234567890",
                "123456789012345678901234567891"
            ),
            Some(Ordering::Less)
        );
        assert_eq!(compare("7", "7"), Some(Ordering::Equal));
        for bad in ["", "012", "1a", "-1"] {
            assert_eq!(compare(bad, "5"), None, "{bad:?}");
        }
    }

    #[test]
    fn a_cache_older_than_the_last_write_is_stale_until_it_catches_up() {
        let writes = LastWrites::<ConfigMap>::new();
        assert_eq!(writes.check(&cm("a", "5")), Check::Fresh, "nothing written");
        writes.wrote(&cm("a", "10"));
        writes.wrote(&cm("a", "9")); // an older answer arriving late changes nothing
        let Check::Stale(s) = writes.check(&cm("a", "9")) else {
            panic!("stale")
        };
        assert_eq!(
            (
                s.group.as_str(),
                s.resource.as_str(),
                s.read.as_str(),
                s.written.as_str()
            ),
            ("", "configmaps", "9", "10")
        );
        assert_eq!((s.namespace.as_deref(), s.name.as_str()), (Some("ns"), "a"));
        assert!(!writes.observed(&cm("a", "9")), "not caught up yet");
        assert!(
            writes.observed(&cm("a", "11")),
            "caught up, and it was skipped"
        );
        assert!(writes.is_empty());
        assert_eq!(
            writes.check(&cm("a", "9")),
            Check::Fresh,
            "nothing left to wait for"
        );
        // Caught up before any skip: nothing to requeue.
        writes.wrote(&cm("b", "20"));
        assert!(!writes.observed(&cm("b", "20")));
        // The cache at the write itself is fresh; a version that cannot be compared is never waited for.
        writes.wrote(&cm("c", "30"));
        assert_eq!(writes.check(&cm("c", "30")), Check::Fresh);
        writes.wrote(&cm("d", "30"));
        assert_eq!(writes.check(&cm("d", "x")), Check::Fresh);
        writes.wrote(&cm("e", "40"));
        writes.forget(&cm("e", "40"));
        assert!(writes.is_empty());
    }

    #[test]
    fn a_wait_is_bounded() {
        let writes = LastWrites::<ConfigMap>::new().with_max_wait(Duration::ZERO);
        writes.wrote(&cm("a", "10"));
        assert!(matches!(writes.check(&cm("a", "9")), Check::GaveUp(_)));
        assert!(writes.is_empty());
    }
}
