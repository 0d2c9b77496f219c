//! The floor: how fast this API server can take doc-controller's write mix at all. A load generator performs,
//! per Document, exactly what doc-controller writes when it first meets a hidden Document — a finalizer patch, a
//! server-side-apply status patch (field manager `doc-controller`) and one event (events.k8s.io/v1, the body
//! kube's `Recorder` sends) — at rising concurrency. The requests are built and sent raw and their answers are not
//! decoded (beyond the new resourceVersion), so the client costs as little CPU as a client can on this shared
//! machine and the ceiling is the API server's. `W` is the highest rate of writes
//! per second at which the p99 latency of these mutating calls stays within the 1 s SLO; `T_floor(N) = 3N / W` is
//! then the least time any controller needs to converge N fresh Documents on this server.
//!
//! The delete floor is measured the same way with doc-controller's deletion mix — the user's `DELETE` (which, with
//! the finalizer in place, only marks the Document), the `DeleteRequested` event and the finalizer's removal (a
//! JSON patch that tests and removes it, after which the server deletes the object) — on Documents created with the
//! finalizer already in place, each consumed once: `T_delete_floor(N) = 3N / W_delete`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde::Serialize;
use serde_json::json;
use tokio::sync::Mutex;

use crate::cluster;
use crate::stats;

/// Writes per Document in doc-controller's cold-start mix: finalizer, status, event.
pub const WRITES_PER_DOCUMENT: f64 = 3.0;
/// The mutating-request latency SLO (Kubernetes SIG Scalability: p99 ≤ 1 s).
pub const SLO: Duration = Duration::from_secs(1);

/// The finalizer doc-controller puts on every Document.
const FINALIZER: &str = "documents.kube.rs/cleanup";

/// Which write mix a calibration performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mix {
    /// A controller's first meeting with a hidden Document: finalizer, status, `HideRequested` event.
    Converge,
    /// Deleting a Document that carries the finalizer: the `DELETE`, the `DeleteRequested` event, the finalizer's
    /// removal.
    Delete,
}

/// How the calibration runs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The write mix.
    pub mix: Mix,
    /// Concurrency levels, rising.
    pub levels: Vec<usize>,
    /// How long each level runs.
    pub level_time: Duration,
    /// How many Documents the load cycles over (converge), or how many are created for each level to consume
    /// (delete: a level ends early when they run out).
    pub pool: usize,
}

/// One concurrency level.
#[derive(Debug, Clone, Serialize)]
pub struct Level {
    /// Workers, each doing one Document's mix at a time, its three writes in order.
    pub concurrency: usize,
    /// Completed writes.
    pub writes: u64,
    /// Failed writes.
    pub errors: u64,
    /// Writes per second.
    pub writes_per_s: f64,
    /// Median write latency, ms.
    pub p50_ms: f64,
    /// 99th percentile write latency, ms.
    pub p99_ms: f64,
    /// API server CPU seconds per second during the level (2.0 = both cores busy).
    pub apiserver_cpu_per_s: f64,
    /// The load generator's (this process's) CPU seconds per second.
    pub generator_cpu_per_s: f64,
}

/// The calibration's result.
#[derive(Debug, Clone, Serialize)]
pub struct Floor {
    /// The write mix measured.
    pub mix: Mix,
    /// All levels measured.
    pub levels: Vec<Level>,
    /// The write ceiling `W` (writes/s with p99 ≤ 1 s); 0 when no level met the SLO.
    pub w: f64,
    /// The concurrency at which `W` was reached.
    pub at_concurrency: usize,
}

impl Floor {
    /// `T_floor(N)` in seconds.
    pub fn t_floor(&self, n: usize) -> Option<f64> {
        (self.w > 0.0).then(|| n as f64 * WRITES_PER_DOCUMENT / self.w)
    }
}

struct PoolDoc {
    name: String,
    uid: String,
    uses: AtomicU64,
}

/// Runs the calibration against a fresh control plane.
pub async fn run(
    client: &Client,
    namespace: &str,
    apiserver_pid: u32,
    plan: &Plan,
) -> Result<Floor> {
    // Converge: one pool the load cycles over. Delete: a fresh pool per level (each Document is deleted once).
    let cycled = match plan.mix {
        Mix::Converge => Some(pool(client, namespace, "doc", plan.pool, None).await?),
        Mix::Delete => None,
    };
    let mut levels = Vec::new();
    let mut stalled = 0;
    for &concurrency in &plan.levels {
        let pool = match &cycled {
            Some(pool) => pool.clone(),
            None => {
                let prefix = format!("del{concurrency}");
                pool(client, namespace, &prefix, plan.pool, Some(FINALIZER)).await?
            }
        };
        let level = run_level(
            client,
            namespace,
            plan.mix,
            &pool,
            concurrency,
            plan.level_time,
            apiserver_pid,
        )
        .await?;
        eprintln!(
            "doc-bench: {} floor: concurrency {:>3}: {:>7.0} writes/s, p50 {:>6.1} ms, p99 {:>7.1} ms, {} errors, CPU: apiserver {:.2}, generator {:.2}",
            match plan.mix {
                Mix::Converge => "converge",
                Mix::Delete => "delete",
            },
            level.concurrency,
            level.writes_per_s,
            level.p50_ms,
            level.p99_ms,
            level.errors,
            level.apiserver_cpu_per_s,
            level.generator_cpu_per_s
        );
        let best = levels
            .iter()
            .map(|l: &Level| l.writes_per_s)
            .fold(0.0, f64::max);
        let over_slo = level.p99_ms > SLO.as_secs_f64() * 1000.0;
        stalled = if level.writes_per_s < best * 1.05 {
            stalled + 1
        } else {
            0
        };
        levels.push(level);
        if over_slo || stalled >= 2 {
            break;
        }
    }
    let within: Vec<&Level> = levels
        .iter()
        .filter(|l| l.p99_ms <= SLO.as_secs_f64() * 1000.0 && l.errors == 0)
        .collect();
    let best = within
        .iter()
        .max_by(|a, b| a.writes_per_s.total_cmp(&b.writes_per_s));
    Ok(Floor {
        mix: plan.mix,
        w: best.map(|l| l.writes_per_s).unwrap_or(0.0),
        at_concurrency: best.map(|l| l.concurrency).unwrap_or(0),
        levels,
    })
}

/// Creates `size` Documents named `{prefix}-NNNNNN` (with `finalizer` in place, if given) for the load.
async fn pool(
    client: &Client,
    namespace: &str,
    prefix: &str,
    size: usize,
    finalizer: Option<&str>,
) -> Result<Arc<Vec<PoolDoc>>> {
    let names = (0..size).map(|i| format!("{prefix}-{i:06}")).collect();
    let created = cluster::create_named(client, namespace, names, 1024, finalizer).await?;
    Ok(Arc::new(
        created
            .into_iter()
            .map(|(name, uid)| PoolDoc {
                name,
                uid,
                uses: AtomicU64::new(0),
            })
            .collect(),
    ))
}

async fn run_level(
    client: &Client,
    namespace: &str,
    mix: Mix,
    pool: &Arc<Vec<PoolDoc>>,
    concurrency: usize,
    time: Duration,
    apiserver_pid: u32,
) -> Result<Level> {
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let first_error = Arc::new(Mutex::new(None::<String>));
    let cpu0 = crate::procstat::cpu_seconds(apiserver_pid)?;
    let me0 = crate::procstat::cpu_seconds(std::process::id())?;
    let start = Instant::now();
    let end = start + time;
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let ns = namespace.to_string();
            let docs =
                kube::core::Request::new(format!("/apis/kube.rs/v1/namespaces/{ns}/documents"));
            let events =
                kube::core::Request::new(format!("/apis/events.k8s.io/v1/namespaces/{ns}/events"));
            let (client, pool, next, errors, first_error) = (
                client.clone(),
                pool.clone(),
                next.clone(),
                errors.clone(),
                first_error.clone(),
            );
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < end {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if mix == Mix::Delete && i >= pool.len() {
                        break; // every Document of this level's pool is deleted
                    }
                    let doc = &pool[i % pool.len()];
                    let use_no = doc.uses.fetch_add(1, Ordering::Relaxed);
                    let mut record = |r: Result<Duration>| match r {
                        Ok(d) => latencies.push(d),
                        Err(e) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            if let Ok(mut f) = first_error.try_lock() {
                                f.get_or_insert(format!("{e:#}"));
                            }
                        }
                    };
                    let name = &doc.name;
                    match mix {
                        Mix::Converge => {
                            // Alternate so that every write changes the object, as a controller's first writes do.
                            let add = use_no % 2 == 0;
                            let t = Instant::now();
                            let finalizers = if add { json!([FINALIZER]) } else { json!(null) };
                            let patch =
                                Patch::Merge(json!({"metadata": {"finalizers": finalizers}}));
                            let r =
                                send(&client, docs.patch(name, &PatchParams::default(), &patch))
                                    .await;
                            record(r.map(|_| t.elapsed()).context("finalizer patch"));
                            let t = Instant::now();
                            let status = Patch::Apply(json!({
                                "apiVersion": "kube.rs/v1", "kind": "Document",
                                "status": {"hidden": add, "observedGeneration": 1, "conditions": [{
                                    "type": "Ready", "status": "True", "reason": "Reconciled",
                                    "message": format!("floor calibration write {use_no}"),
                                    "observedGeneration": 1,
                                    "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
                            }));
                            let pp = PatchParams::apply("doc-controller").force();
                            let r = send(
                                &client,
                                docs.patch_subresource("status", name, &pp, &status),
                            )
                            .await;
                            let rv = r.as_ref().ok().and_then(|body| resource_version(body));
                            record(r.map(|_| t.elapsed()).context("status apply"));
                            let t = Instant::now();
                            let ev = event(&ns, name, &doc.uid, rv, use_no, HIDE);
                            let r = post_event(&client, &events, &ev).await;
                            record(r.map(|_| t.elapsed()).context("event"));
                        }
                        Mix::Delete => {
                            let t = Instant::now();
                            let r =
                                send(&client, docs.delete(name, &DeleteParams::default())).await;
                            let rv = r.as_ref().ok().and_then(|body| resource_version(body));
                            record(r.map(|_| t.elapsed()).context("delete"));
                            let t = Instant::now();
                            let ev = event(&ns, name, &doc.uid, rv, use_no, DELETE);
                            let r = post_event(&client, &events, &ev).await;
                            record(r.map(|_| t.elapsed()).context("event"));
                            let t = Instant::now();
                            let r = send(&client, remove_finalizer(&ns, name)).await;
                            record(r.map(|_| t.elapsed()).context("finalizer removal"));
                        }
                    }
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for w in workers {
        latencies.extend(w.await.context("a load worker panicked")?);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = crate::procstat::cpu_seconds(apiserver_pid)? - cpu0;
    let me = crate::procstat::cpu_seconds(std::process::id())? - me0;
    let errors = errors.load(Ordering::Relaxed);
    if let Some(e) = first_error.lock().await.take() {
        eprintln!(
            "doc-bench: floor: concurrency {concurrency}: {errors} writes failed, the first with: {e}"
        );
    }
    let ms: Vec<f64> = latencies.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    Ok(Level {
        concurrency,
        writes: ms.len() as u64,
        errors,
        writes_per_s: ms.len() as f64 / elapsed,
        p50_ms: stats::percentile(&ms, 50.0).unwrap_or(0.0),
        p99_ms: stats::percentile(&ms, 99.0).unwrap_or(0.0),
        apiserver_cpu_per_s: cpu / elapsed,
        generator_cpu_per_s: me / elapsed,
    })
}

/// Creates an event (raw: encoded here, the answer not decoded).
async fn post_event(client: &Client, events: &kube::core::Request, ev: &Event) -> Result<String> {
    let body = serde_json::to_vec(ev).context("encoding an event")?;
    send(client, events.create(&PostParams::default(), body)).await
}

/// Sends a built request; returns the answer's body (errors carry the API server's status).
async fn send(
    client: &Client,
    req: std::result::Result<http::Request<Vec<u8>>, kube::core::request::Error>,
) -> Result<String> {
    let req = req.context("building a request")?;
    Ok(client.request_text(req).await?)
}

/// The `metadata.resourceVersion` of an object's JSON, found without decoding it.
fn resource_version(body: &str) -> Option<String> {
    let at = body.find("\"resourceVersion\":\"")? + "\"resourceVersion\":\"".len();
    let len = body[at..].find('"')?;
    Some(body[at..at + len].to_string())
}

/// The finalizer's removal as doc-controller sends it: a JSON patch that tests that the finalizer is the first one,
/// then removes it.
fn remove_finalizer(
    ns: &str,
    name: &str,
) -> std::result::Result<http::Request<Vec<u8>>, kube::core::request::Error> {
    let body = json!([
        {"op": "test", "path": "/metadata/finalizers/0", "value": FINALIZER},
        {"op": "remove", "path": "/metadata/finalizers/0"},
    ]);
    http::Request::patch(format!("/apis/kube.rs/v1/namespaces/{ns}/documents/{name}"))
        .header(http::header::CONTENT_TYPE, "application/json-patch+json")
        .body(body.to_string().into_bytes())
        .map_err(kube::core::request::Error::BuildRequest)
}

/// An event's reason, action and note verb.
type EventKind = (&'static str, &'static str, &'static str);
const HIDE: EventKind = ("HideRequested", "Hiding", "Hiding");
const DELETE: EventKind = ("DeleteRequested", "Deleting", "Delete");

/// The event doc-controller creates for a Document (`HideRequested` or `DeleteRequested`).
fn event(
    ns: &str,
    name: &str,
    uid: &str,
    rv: Option<String>,
    use_no: u64,
    (reason, action, verb): EventKind,
) -> Event {
    Event {
        metadata: ObjectMeta {
            name: Some(format!(
                "{name}.{use_no:x}{:x}",
                Timestamp::now().as_nanosecond()
            )),
            namespace: Some(ns.to_string()),
            ..ObjectMeta::default()
        },
        event_time: Some(MicroTime(Timestamp::now())),
        action: Some(action.into()),
        reason: Some(reason.into()),
        note: Some(format!("{verb} `{name}`")),
        type_: Some("Normal".into()),
        reporting_controller: Some("doc-controller".into()),
        reporting_instance: Some("doc-bench-floor".into()),
        regarding: Some(ObjectReference {
            api_version: Some("kube.rs/v1".into()),
            kind: Some("Document".into()),
            name: Some(name.to_string()),
            namespace: Some(ns.to_string()),
            uid: Some(uid.to_string()),
            resource_version: rv,
            ..ObjectReference::default()
        }),
        ..Event::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_resource_version_without_decoding() {
        let body = r#"{"kind":"Document","metadata":{"name":"d","resourceVersion":"1234","generation":1}}"#;
        assert_eq!(resource_version(body).as_deref(), Some("1234"));
        assert_eq!(resource_version("{}"), None);
    }

    #[test]
    fn events_look_like_the_recorders() {
        let e = event("ns", "doc-000001", "u-1", Some("7".into()), 3, HIDE);
        assert!(
            e.metadata
                .name
                .as_deref()
                .unwrap()
                .starts_with("doc-000001.")
        );
        assert_eq!(
            e.regarding.as_ref().unwrap().resource_version.as_deref(),
            Some("7")
        );
        assert_eq!(e.reporting_controller.as_deref(), Some("doc-controller"));
    }
}
