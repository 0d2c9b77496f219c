//! Error and request metrics for a kube-rs program, in Prometheus form (prometheus-client): API requests by
//! verb, resource and code with a latency histogram (fed by [`crate::trace`]), and per-watcher errors by class
//! and code, up/synced gauges, the time of the last event, stalls and the initial-list strategy (fed by
//! [`crate::watch`]), the access watchdog's findings and reconcile retries by class.
//!
//! ```
//! let mut registry = prometheus_client::registry::Registry::default();
//! let metrics = kubewhy::metrics::Metrics::default();
//! metrics.register(&mut registry);
//! metrics.observe_request("list", "documents", "200", std::time::Duration::from_millis(3));
//! let mut text = String::new();
//! prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
//! assert!(text.contains(r#"kubewhy_api_requests_total{verb="list",resource="documents",code="200"} 1"#));
//! ```

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of an API request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Kubernetes verb (`list`, `watch`, `patch`, ...).
    pub verb: String,
    /// Resource (with `/subresource`), or the path of a non-resource request.
    pub resource: String,
    /// HTTP status code, or `error` when no response came.
    pub code: String,
}

/// Labels of a request's latency.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LatencyLabels {
    /// Kubernetes verb.
    pub verb: String,
    /// Resource.
    pub resource: String,
}

/// Labels of a watcher error.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WatcherErrorLabels {
    /// The watcher's name (the resource it watches).
    pub watcher: String,
    /// The diagnosis class (`forbidden`, `resource-not-found`, ...).
    pub class: String,
    /// HTTP status code, or `none`.
    pub code: String,
}

/// Labels naming a watcher.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WatcherLabels {
    /// The watcher's name.
    pub watcher: String,
}

/// All of kubewhy's metrics. Cheap to clone (shared handles).
#[derive(Clone, Debug)]
pub struct Metrics {
    /// `kubewhy_api_requests_total{verb,resource,code}`.
    pub api_requests: Family<RequestLabels, Counter>,
    /// `kubewhy_api_request_duration_seconds{verb,resource}` (time to response headers).
    pub api_latency: Family<LatencyLabels, Histogram>,
    /// `kubewhy_watcher_errors_total{watcher,class,code}`.
    pub watcher_errors: Family<WatcherErrorLabels, Counter>,
    /// `kubewhy_watcher_up{watcher}`: 1 while the watcher's last attempt succeeded.
    pub watcher_up: Family<WatcherLabels, Gauge>,
    /// `kubewhy_watcher_synced{watcher}`: 1 once the watcher's initial list completed.
    pub watcher_synced: Family<WatcherLabels, Gauge>,
    /// `kubewhy_watcher_last_event_timestamp_seconds{watcher}`: Unix time of the last successful event.
    pub watcher_last_event: Family<WatcherLabels, Gauge>,
    /// `kubewhy_watcher_stalls_total{watcher}`: watches ended because they delivered nothing for the stall window.
    pub watcher_stalls: Family<WatcherLabels, Counter>,
    /// `kubewhy_watcher_initial_list{watcher,strategy}`: 1 for the initial-list strategy a watcher uses.
    pub watcher_initial_list: Family<InitialListLabels, Gauge>,
    /// `kubewhy_access_allowed{verb,resource,namespace}`: 1 while the access watchdog finds the permission allowed.
    pub access_allowed: Family<AccessLabels, Gauge>,
    /// `kubewhy_reconcile_retries_total{class,schedule}`: failed reconciles scheduled for a retry.
    pub reconcile_retries: Family<RetryLabels, Counter>,
}

/// Labels of a watcher's initial-list strategy.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InitialListLabels {
    /// The watcher's name.
    pub watcher: String,
    /// `streaming` or `paged`.
    pub strategy: String,
}

/// Labels of a permission the access watchdog checks.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AccessLabels {
    /// The verb.
    pub verb: String,
    /// `documents.kube.rs` or `documents.kube.rs/status` (core resources without a group).
    pub resource: String,
    /// The namespace, empty for all namespaces or cluster scope.
    pub namespace: String,
}

/// Labels of a reconcile retry.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RetryLabels {
    /// The diagnosis class.
    pub class: String,
    /// `outage` (waits for the API server, the object's back-off unchanged), `transient` or `persistent`.
    pub schedule: String,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            api_requests: Family::default(),
            api_latency: Family::new_with_constructor(|| {
                Histogram::new([
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ])
            }),
            watcher_errors: Family::default(),
            watcher_up: Family::default(),
            watcher_synced: Family::default(),
            watcher_last_event: Family::default(),
            watcher_stalls: Family::default(),
            watcher_initial_list: Family::default(),
            access_allowed: Family::default(),
            reconcile_retries: Family::default(),
        }
    }
}

impl Metrics {
    /// Registers every metric (prefix `kubewhy_`) in a registry.
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("kubewhy");
        r.register(
            "api_requests",
            "Kubernetes API requests by verb, resource and status code",
            self.api_requests.clone(),
        );
        r.register(
            "api_request_duration_seconds",
            "Latency of Kubernetes API requests until the response headers",
            self.api_latency.clone(),
        );
        r.register(
            "watcher_errors",
            "Watcher errors by watcher, diagnosis class and status code",
            self.watcher_errors.clone(),
        );
        r.register(
            "watcher_up",
            "1 while the watcher's last attempt succeeded",
            self.watcher_up.clone(),
        );
        r.register(
            "watcher_synced",
            "1 once the watcher's initial list completed",
            self.watcher_synced.clone(),
        );
        r.register(
            "watcher_last_event_timestamp_seconds",
            "Unix time of the watcher's last successful event",
            self.watcher_last_event.clone(),
        );
        r.register(
            "watcher_stalls",
            "Watches ended because they delivered neither an event nor a bookmark for the stall window",
            self.watcher_stalls.clone(),
        );
        r.register(
            "watcher_initial_list",
            "1 for the initial-list strategy (streaming or paged) the watcher uses",
            self.watcher_initial_list.clone(),
        );
        r.register(
            "access_allowed",
            "1 while the access watchdog finds the permission allowed, 0 when denied",
            self.access_allowed.clone(),
        );
        r.register(
            "reconcile_retries",
            "Failed reconciles scheduled for a retry, by diagnosis class and schedule",
            self.reconcile_retries.clone(),
        );
    }

    /// Records one API request.
    pub fn observe_request(&self, verb: &str, resource: &str, code: &str, latency: Duration) {
        self.api_requests
            .get_or_create(&RequestLabels {
                verb: verb.into(),
                resource: resource.into(),
                code: code.into(),
            })
            .inc();
        self.api_latency
            .get_or_create(&LatencyLabels {
                verb: verb.into(),
                resource: resource.into(),
            })
            .observe(latency.as_secs_f64());
    }
}

/// Without a registry of the program's: for a program that serves `/metrics` some other way (another metrics crate,
/// its own text), the text to serve or to append to its own exposition.
impl Metrics {
    /// Every metric in the Prometheus text format (`# HELP`, `# TYPE`, the samples; names prefixed `kubewhy_`),
    /// ending with the OpenMetrics `# EOF` line only when `eof` is true. To add it to an exposition of the
    /// program's own, use [`Metrics::append_to`]: an OpenMetrics exposition (prometheus-client's
    /// `encoding::text::encode` writes one) already ends with `# EOF`, which must stay its last line — text
    /// appended after it is ignored by Prometheus, or the scrape fails.
    ///
    /// ```
    /// let metrics = kubewhy::metrics::Metrics::default();
    /// metrics.observe_request("list", "configmaps", "200", std::time::Duration::from_millis(3));
    /// let text = metrics.encode_text(false);
    /// assert!(text.contains("kubewhy_api_requests_total{verb=\"list\",resource=\"configmaps\",code=\"200\"} 1"));
    /// assert!(!text.contains("# EOF"));
    /// ```
    pub fn encode_text(&self, eof: bool) -> String {
        let mut registry = Registry::default();
        self.register(&mut registry);
        let mut text = String::new();
        // Writing to a String cannot fail; prometheus-client's encoder fails only when its writer does.
        if let Err(err) = prometheus_client::encoding::text::encode(&mut text, &registry) {
            text.push_str(&format!("# kubewhy: encoding the metrics failed: {err}\n"));
        }
        if !eof && let Some(body) = text.strip_suffix("# EOF\n") {
            text = body.to_string();
        }
        text
    }

    /// Appends every metric to `exposition`, the program's own text: before its OpenMetrics `# EOF` line when it
    /// ends with one (which stays last), else at its end (the Prometheus text format has no end line).
    ///
    /// ```
    /// let metrics = kubewhy::metrics::Metrics::default();
    /// metrics.observe_request("list", "configmaps", "200", std::time::Duration::from_millis(3));
    /// let mut text = String::from("# TYPE runs counter\nruns_total 3\n# EOF\n");
    /// metrics.append_to(&mut text);
    /// assert!(text.starts_with("# TYPE runs counter\nruns_total 3\n# HELP kubewhy_"));
    /// assert!(text.ends_with("\n# EOF\n") && text.matches("# EOF").count() == 1);
    /// ```
    pub fn append_to(&self, exposition: &mut String) {
        let eof = match exposition.trim_end().strip_suffix("# EOF") {
            Some(body) if body.is_empty() || body.ends_with('\n') => {
                exposition.truncate(body.len());
                true
            }
            _ => false,
        };
        if !exposition.is_empty() && !exposition.ends_with('\n') {
            exposition.push('\n');
        }
        exposition.push_str(&self.encode_text(eof));
    }
}
