//! Back-off for a failing watcher: jittered exponential growth to a cap that keeps growing across relists.
//!
//! kube-runtime's `default_backoff()` resets on every successful item, and a watcher whose list succeeds but
//! whose watch is denied produces successful items (the relist) between failures — so it retries about once a
//! second forever. Here the streak only ends after `reset_after` without any error.
//!
//! Every random draw (the back-off's jitter, [`jittered`] waits of the access watchdog, the probes and the retries)
//! comes from a `fastrand` generator seeded from the OS (through std's `RandomState`, whose keys the OS supplies):
//! replicas of one controller started at the same moment draw differently, and two callers in one process never
//! share a draw (each thread has its own generator; a back-off has its own).

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
    rng: fastrand::Rng,
}

impl Backoff {
    /// A fresh back-off.
    pub fn new(config: BackoffConfig) -> Backoff {
        Backoff {
            config,
            streak: 0,
            last_failure: None,
            rng: fastrand::Rng::with_seed(os_seed()),
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
        let spread = capped * self.config.jitter.clamp(0.0, 1.0) * self.rng.f64();
        Duration::from_secs_f64((capped - spread).max(0.0))
    }

    /// How many failures in a row so far (0 after the first of a streak).
    pub fn streak(&self) -> u32 {
        self.streak
    }
}

/// A seed from the OS: std's `RandomState` takes its keys from the OS's random source (once per thread, varied for
/// each new state), so every call, thread and process gets its own. (fastrand's own seed hashes the time and the
/// thread id with fixed keys.)
fn os_seed() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(0u8)
}

thread_local! {
    /// The generator of [`jittered`] on this thread.
    static RNG: std::cell::RefCell<fastrand::Rng> = std::cell::RefCell::new(fastrand::Rng::with_seed(os_seed()));
}

/// `d` spread at random by up to `fraction` either way, so that many waiters do not all go at one moment.
pub(crate) fn jittered(d: Duration, fraction: f64) -> Duration {
    let unit = RNG.with(|rng| rng.borrow_mut().f64()); // [0, 1)
    let spread = fraction.clamp(0.0, 1.0) * (2.0 * unit - 1.0);
    Duration::from_secs_f64((d.as_secs_f64() * (1.0 + spread)).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Set in the child processes of [`two_processes_draw_differently`]: print the draws and stop.
    const DRAWS_ENV: &str = "KUBEWHY_TEST_JITTER_DRAWS";

    /// Four waits of a minute jittered by 10 %, and the first delay of two back-offs.
    fn draws() -> (Vec<Duration>, Vec<Duration>) {
        let waits = (0..4)
            .map(|_| jittered(Duration::from_secs(60), 0.1))
            .collect();
        let backoffs = (0..2)
            .map(|_| Backoff::new(BackoffConfig::default()).failure(Instant::now()))
            .collect();
        (waits, backoffs)
    }

    /// Replicas of a controller start at the same moment from the same binary: each process must draw its own
    /// jitter (the seed used to be one constant for every process). Runs this test binary twice as a child.
    #[test]
    fn two_processes_draw_differently() {
        if std::env::var_os(DRAWS_ENV).is_some() {
            let (waits, backoffs) = draws();
            println!("draws: {waits:?} / {backoffs:?}");
            return;
        }
        let exe = std::env::current_exe().unwrap();
        let child = || {
            let out = std::process::Command::new(&exe)
                .args([
                    "watch::backoff::tests::two_processes_draw_differently",
                    "--exact",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(DRAWS_ENV, "1")
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            let stdout = String::from_utf8(out.stdout).unwrap();
            // The harness prints the test's name on the same line.
            stdout
                .lines()
                .find_map(|l| l.split_once("draws: ").map(|(_, draws)| draws.to_string()))
                .unwrap_or_else(|| panic!("no draws in the child's output: {stdout}"))
        };
        let (a, b) = (child(), child());
        println!("process 1 drew {a}\nprocess 2 drew {b}");
        let (a, b) = (a.split_once(" / ").unwrap(), b.split_once(" / ").unwrap());
        assert_ne!(a.0, b.0, "two processes drew the same jittered waits");
        assert_ne!(a.1, b.1, "two processes drew the same back-off delays");
        // Within one process, two callers never share a draw either.
        let (waits, backoffs) = draws();
        assert_ne!(waits[0], waits[1], "{waits:?}");
        assert_ne!(backoffs[0], backoffs[1], "{backoffs:?}");
    }

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
