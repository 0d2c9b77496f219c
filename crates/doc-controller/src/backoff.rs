//! Per-object retry delays after failed reconciles: exponential (doubling from a minimum up to a maximum) with
//! jitter, kept per object and reset by the object's next successful reconcile, so one failing Document neither
//! hammers the API server nor delays anyone else.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

/// One scheduled retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// How many reconciles of the object have failed in a row (1 for the first failure).
    pub attempt: u32,
    /// How long to wait before the next reconcile.
    pub delay: Duration,
}

struct Entry {
    failures: u32,
    delays: ExponentialBackoff,
}

/// Retry delays per object: the `n`-th consecutive failure waits `min * 2^(n-1)` (at most `max`) plus a random
/// jitter of up to as much again, so consecutive delays always grow until the cap.
pub struct ErrorBackoff<K> {
    builder: ExponentialBuilder,
    max: Duration,
    entries: Mutex<HashMap<K, Entry>>,
}

impl<K: Hash + Eq + Clone> ErrorBackoff<K> {
    /// Delays starting at `min` and doubling up to `max` (before jitter).
    pub fn new(min: Duration, max: Duration) -> ErrorBackoff<K> {
        let builder = ExponentialBuilder::default()
            .with_min_delay(min)
            .with_max_delay(max.max(min))
            .with_factor(2.0)
            .with_jitter()
            .without_max_times();
        ErrorBackoff {
            builder,
            max: max.max(min),
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<K, Entry>> {
        // A panic while holding the lock cannot leave the map half-updated (every update is one insert or
        // remove), so a poisoned lock is still safe to use.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a failure of `key` and returns when to retry it.
    pub fn failed(&self, key: &K) -> Retry {
        let mut entries = self.entries();
        let entry = entries.entry(key.clone()).or_insert_with(|| Entry {
            failures: 0,
            delays: self.builder.build(),
        });
        entry.failures += 1;
        // `without_max_times` makes the iterator endless; the fallback only guards against a future change.
        let delay = entry.delays.next().unwrap_or(self.max);
        Retry {
            attempt: entry.failures,
            delay,
        }
    }

    /// Forgets the failures of `key` (after a success, or when the object is gone).
    pub fn succeeded(&self, key: &K) {
        self.entries().remove(key);
    }

    /// How many objects are currently failing.
    pub fn failing(&self) -> usize {
        self.entries().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_per_object_and_reset_on_success() {
        let backoff = ErrorBackoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let a: Vec<Retry> = (0..8).map(|_| backoff.failed(&"a")).collect();
        for (i, r) in a.iter().enumerate() {
            assert_eq!(r.attempt as usize, i + 1);
        }
        for pair in a.windows(2).take(4) {
            assert!(pair[1].delay > pair[0].delay, "{a:?}");
        }
        assert!(
            a[0].delay >= Duration::from_millis(100) && a[0].delay <= Duration::from_millis(200)
        );
        // capped: 2 s base plus at most as much jitter
        assert!(
            a[7].delay >= Duration::from_secs(2) && a[7].delay <= Duration::from_secs(4),
            "{a:?}"
        );
        // another object starts from the beginning
        assert_eq!(backoff.failed(&"b").attempt, 1);
        assert_eq!(backoff.failing(), 2);
        backoff.succeeded(&"a");
        let again = backoff.failed(&"a");
        assert_eq!(again.attempt, 1);
        assert!(again.delay <= Duration::from_millis(200));
    }
}
