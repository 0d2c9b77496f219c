//! Back-off for a failing watcher: jittered exponential growth to a cap that keeps growing across relists.
//!
//! kube-runtime's `default_backoff()` resets on every successful item, and a watcher whose list succeeds but
//! whose watch is denied produces successful items (the relist) between failures — so it retries about once a
//! second forever. Here the streak only ends after `reset_after` without any error.

use std::time::{Duration, Instant};

/// Back-off settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffConfig {
    /// The first delay.
    pub initial: Duration,
    /// The cap.
    pub max: Duration,
    /// Growth per consecutive failure.
    pub factor: f64,
    /// Random spread, as a fraction of the delay (0.0–1.0): the delay is drawn from `[d·(1−j), d]`.
    pub jitter: f64,
    /// A failure this long after the previous one starts a new streak.
    pub reset_after: Duration,
}

impl Default for BackoffConfig {
    /// 800 ms doubling to 30 s with 50 % jitter, streak reset after 2 minutes without errors (client-go's
    /// reflector uses the same 800 ms → 30 s range and 2-minute reset).
    fn default() -> Self {
        BackoffConfig {
            initial: Duration::from_millis(800),
            max: Duration::from_secs(30),
            factor: 2.0,
            jitter: 0.5,
            reset_after: Duration::from_secs(120),
        }
    }
}

/// The state of one watcher's back-off.
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    streak: u32,
    last_failure: Option<Instant>,
    seed: u64,
}

impl Backoff {
    /// A fresh back-off.
    pub fn new(config: BackoffConfig) -> Backoff {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9e37_79b9, |d| d.as_nanos() as u64)
            ^ (&config as *const BackoffConfig as u64);
        Backoff {
            config,
            streak: 0,
            last_failure: None,
            seed: seed | 1,
        }
    }

    /// Records a failure at `now` and returns how long to wait before the next attempt.
    pub fn failure(&mut self, now: Instant) -> Duration {
        let continues = self
            .last_failure
            .is_some_and(|last| now.saturating_duration_since(last) < self.config.reset_after);
        self.streak = if continues {
            self.streak.saturating_add(1)
        } else {
            0
        };
        self.last_failure = Some(now);
        let base =
            self.config.initial.as_secs_f64() * self.config.factor.powi(self.streak.min(64) as i32);
        let capped = base.min(self.config.max.as_secs_f64());
        let spread = capped * self.config.jitter.clamp(0.0, 1.0) * self.next_unit();
        Duration::from_secs_f64((capped - spread).max(0.0))
    }

    /// How many failures in a row so far (0 after the first of a streak).
    pub fn streak(&self) -> u32 {
        self.streak
    }

    /// A pseudo-random number in [0, 1) (xorshift; jitter needs no cryptographic quality).
    fn next_unit(&mut self) -> f64 {
        let mut x = self.seed;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.seed = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `d` spread at random by up to `fraction` either way, so that many waiters do not all go at one moment.
pub(crate) fn jittered(d: Duration, fraction: f64) -> Duration {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0x2545_f491_4f6c_dd1d);
    let mut x = STATE.load(Ordering::Relaxed);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    let unit = (x >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
    let spread = fraction.clamp(0.0, 1.0) * (2.0 * unit - 1.0);
    Duration::from_secs_f64((d.as_secs_f64() * (1.0 + spread)).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_the_cap_with_jitter_and_resets_after_quiet() {
        let config = BackoffConfig::default();
        let mut b = Backoff::new(config);
        let start = Instant::now();
        let mut now = start;
        let mut delays = Vec::new();
        for _ in 0..12 {
            let d = b.failure(now);
            delays.push(d);
            now += d + Duration::from_millis(50); // a relist succeeds in between: the streak goes on
        }
        assert!(
            delays[0] <= config.initial && delays[0] >= config.initial / 2,
            "{delays:?}"
        );
        assert!(
            delays[3] >= Duration::from_millis(3200),
            "grows: {delays:?}"
        );
        for d in &delays {
            assert!(*d <= config.max, "capped: {delays:?}");
        }
        assert!(delays[11] >= config.max / 2, "reaches the cap: {delays:?}");
        let after_quiet = b.failure(now + config.reset_after);
        assert!(
            after_quiet <= config.initial,
            "a new streak starts small: {after_quiet:?}"
        );
        assert_eq!(b.streak(), 0);
    }
}
