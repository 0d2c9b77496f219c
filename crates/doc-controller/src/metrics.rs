//! The controller's Prometheus metrics (prometheus-client), registered in a registry the HTTP server shares and
//! serves on `/metrics`. Names are prefixed `doc_controller_`:
//!
//! | metric | type | meaning |
//! |---|---|---|
//! | `doc_controller_reconciles_total{result}` | counter | finished reconciles, `result` = `success` or `error` |
//! | `doc_controller_reconcile_duration_seconds` | histogram | how long each reconcile took |
//! | `doc_controller_reconcile_failures_total{class,cause}` | counter | failed reconciles by kubewhy's class and cause (`forbidden`/`denied`, `conflict`/`foreign-config-map`) |
//! | `doc_controller_stale_sync_skips_total{group,resource}` | counter | reconciles skipped and requeued because the cache was older than the controller's own last write (client-go's name, KEP-5647) |
//! | `doc_controller_queue_depth` | gauge | Documents with a change waiting for a worker |
//! | `doc_controller_reconciles_in_flight` | gauge | reconciles running now (at most `--concurrency`) |
//! | `doc_controller_objects_in_backoff` | gauge | Documents whose last reconcile failed, waiting for a retry |
//! | `doc_controller_leader` | gauge | 1 while this replica holds the leader lease (or runs without election) |

use std::fmt::Write;
use std::time::Instant;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// How a reconcile ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Outcome {
    /// It succeeded.
    Success,
    /// It failed and was scheduled for a retry.
    Error,
}

impl Outcome {
    /// The label value: `success` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Error => "error",
        }
    }
}

impl EncodeLabelValue for Outcome {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
        encoder.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: Outcome,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailureLabels {
    class: &'static str,
    cause: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StaleLabels {
    group: String,
    resource: String,
}

/// The controller's metrics. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Metrics {
    reconciles: Family<ResultLabels, Counter>,
    duration: Histogram,
    failures: Family<FailureLabels, Counter>,
    stale_skips: Family<StaleLabels, Counter>,
    queue_depth: Gauge,
    in_flight: Gauge,
    in_backoff: Gauge,
    leader: Gauge,
}

/// The prefix of every metric name.
pub const PREFIX: &str = "doc_controller";

impl Metrics {
    /// Creates the metrics and registers them under `doc_controller_` in `registry`.
    pub fn register(registry: &mut Registry) -> Metrics {
        let m = Metrics {
            reconciles: Family::default(),
            duration: Histogram::new([
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 15.0, 60.0,
            ]),
            failures: Family::default(),
            stale_skips: Family::default(),
            queue_depth: Gauge::default(),
            in_flight: Gauge::default(),
            in_backoff: Gauge::default(),
            leader: Gauge::default(),
        };
        let r = registry.sub_registry_with_prefix(PREFIX);
        r.register(
            "reconciles",
            "Finished reconciles of Documents, by result",
            m.reconciles.clone(),
        );
        r.register_with_unit(
            "reconcile_duration",
            "How long reconciles of Documents took",
            Unit::Seconds,
            m.duration.clone(),
        );
        r.register(
            "reconcile_failures",
            "Failed reconciles of Documents, by kubewhy's class and cause",
            m.failures.clone(),
        );
        r.register(
            "stale_sync_skips",
            "Reconciles skipped and requeued because the cache was older than the controller's own last write",
            m.stale_skips.clone(),
        );
        r.register(
            "queue_depth",
            "Documents with a change waiting for a reconcile worker",
            m.queue_depth.clone(),
        );
        r.register(
            "reconciles_in_flight",
            "Reconciles running now",
            m.in_flight.clone(),
        );
        r.register(
            "objects_in_backoff",
            "Documents whose last reconcile failed, waiting for their retry",
            m.in_backoff.clone(),
        );
        r.register(
            "leader",
            "1 while this replica is the leader (or runs without leader election), else 0",
            m.leader.clone(),
        );
        m
    }

    /// Starts timing a reconcile; finish it with [`ReconcileTimer::finish`].
    pub fn reconcile_started(&self) -> ReconcileTimer<'_> {
        self.in_flight.inc();
        ReconcileTimer {
            metrics: self,
            started: Instant::now(),
            finished: false,
        }
    }

    /// Counts a failed reconcile under its diagnosis's class and cause (a program's own cause by its code).
    pub fn failure(&self, d: &kubewhy::Diagnosis) {
        let cause = match &d.cause {
            kubewhy::Cause::Application(own) => own.code.clone(),
            other => other.kind().to_string(),
        };
        self.failures
            .get_or_create(&FailureLabels {
                class: d.class.as_str(),
                cause,
            })
            .inc();
    }

    /// Counts a reconcile skipped because the cache was older than the last write to the object.
    pub fn stale_skip(&self, stale: &kubewhy::stale::Stale) {
        self.stale_skips
            .get_or_create(&StaleLabels {
                group: stale.group.clone(),
                resource: stale.resource.clone(),
            })
            .inc();
    }

    /// Sets the queue depth.
    pub fn set_queue_depth(&self, depth: usize) {
        self.queue_depth
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// Sets how many objects wait for a retry.
    pub fn set_in_backoff(&self, n: usize) {
        self.in_backoff.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// Records whether this replica leads.
    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }
}

/// Times one reconcile: observes the duration and counts the result when finished (or, if dropped unfinished
/// because the reconcile was cancelled, counts nothing but still releases the in-flight slot).
pub struct ReconcileTimer<'a> {
    metrics: &'a Metrics,
    started: Instant,
    finished: bool,
}

impl ReconcileTimer<'_> {
    /// Records the result.
    pub fn finish(mut self, outcome: Outcome) {
        self.finished = true;
        self.metrics
            .duration
            .observe(self.started.elapsed().as_secs_f64());
        self.metrics
            .reconciles
            .get_or_create(&ResultLabels { result: outcome })
            .inc();
    }
}

impl Drop for ReconcileTimer<'_> {
    fn drop(&mut self) {
        self.metrics.in_flight.dec();
    }
}

/// Encodes a registry in the Prometheus text format.
pub fn encode(registry: &Registry) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, registry)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_the_documented_names() {
        let mut registry = Registry::default();
        let m = Metrics::register(&mut registry);
        m.reconcile_started().finish(Outcome::Success);
        m.reconcile_started().finish(Outcome::Error);
        m.failure(&kubewhy::Diagnosis::new(
            kubewhy::Cause::Application(
                kubewhy::cause::AppCause::new("foreign-config-map", kubewhy::Class::Conflict, "s")
                    .cause("c"),
            ),
            "m",
        ));
        m.stale_skip(&kubewhy::stale::Stale {
            group: "kube.rs".into(),
            resource: "documents".into(),
            namespace: None,
            name: "d".into(),
            read: "1".into(),
            written: "2".into(),
            waited: std::time::Duration::ZERO,
        });
        m.set_queue_depth(3);
        m.set_leader(true);
        drop(m.reconcile_started());
        let text = encode(&registry).unwrap();
        for line in [
            "doc_controller_reconciles_total{result=\"success\"} 1",
            "doc_controller_reconciles_total{result=\"error\"} 1",
            "doc_controller_reconcile_failures_total{class=\"conflict\",cause=\"foreign-config-map\"} 1",
            "doc_controller_stale_sync_skips_total{group=\"kube.rs\",resource=\"documents\"} 1",
            "doc_controller_reconcile_duration_seconds_count 2",
            "doc_controller_queue_depth 3",
            "doc_controller_reconciles_in_flight 0",
            "doc_controller_leader 1",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }
}
