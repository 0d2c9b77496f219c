//! One run of one contender at one N, on a fresh control plane: cold start (N hidden Documents created first, then
//! the contender started, timed until every Document is converged), a restart with everything up to date (which
//! should write nothing), steady churn (spec updates at a set rate, timed until their status follows), optionally
//! a churn ramp to find the highest rate whose p99 stays within 1 s, deletion (every finalizer must be removed),
//! and a clean stop on SIGTERM. Memory and CPU come from `/proc`, the API server's cost from its own `/metrics`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use kube::api::{Patch, PatchParams};
use serde::Serialize;
use serde_json::json;

use crate::apimetrics;
use crate::cluster::{self, CrdSource};
use crate::contender::{Contender, Running};
use crate::observer::Observer;
use crate::procstat;
use crate::stats;

/// What a run does.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Documents created before the contender starts.
    pub n: usize,
    /// Bytes of `spec.content` per Document.
    pub content_bytes: usize,
    /// Spec updates per second during churn.
    pub churn_rate: f64,
    /// How long churn lasts.
    pub churn_time: Duration,
    /// The longest a cold start may take before the run counts as failed.
    pub converge_timeout: Duration,
    /// The longest deletion may take.
    pub delete_timeout: Duration,
    /// Restart the contender once converged and count what it writes (nothing, when it is right).
    pub restart: bool,
    /// Ramp the churn rate to find the capacity (rates per second, rising), each level for this long.
    pub capacity: Option<(Vec<f64>, Duration)>,
    /// Stop after the cold start (and the restart check): no churn, no deletion. For the largest N, where the
    /// cold start is what is measured and deleting 100,000 Documents would take as long again; the run's control
    /// plane is thrown away with the Documents in it.
    pub cold_start_only: bool,
}

/// The p99 latency within which a churn rate counts as sustained (the mutating-request SLO).
const CAPACITY_SLO_MS: f64 = 1000.0;

/// The API server's cost of the cold start.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ApiCost {
    /// All requests.
    pub total: f64,
    /// Requests by verb.
    pub by_verb: BTreeMap<String, f64>,
    /// Requests by verb and resource.
    pub by_verb_resource: BTreeMap<String, f64>,
    /// Accepted writes to Documents (object or status).
    pub document_writes: f64,
    /// resourceVersion changes of Documents the observer saw.
    pub rv_changes: f64,
    /// Document writes that changed nothing (`document_writes - rv_changes`, at least 0).
    pub noop_writes: f64,
    /// Requests answered 409 Conflict.
    pub conflicts: f64,
    /// Requests answered 5xx.
    pub server_errors: f64,
    /// Watches the contender opened and still holds at convergence, by resource.
    pub open_watches: BTreeMap<String, f64>,
}

/// Steady churn.
#[derive(Debug, Clone, Serialize)]
pub struct Churn {
    /// Updates per second asked for.
    pub rate: f64,
    /// Updates per second actually sent (the harness keeps its schedule unless the machine cannot).
    pub sent_rate: f64,
    /// Updates sent.
    pub updates: usize,
    /// Median update→status latency, ms.
    pub p50_ms: Option<f64>,
    /// 99th percentile, ms.
    pub p99_ms: Option<f64>,
    /// Median of the first part: update sent → new spec seen by the observer (the harness's write and the watch),
    /// ms.
    pub to_spec_p50_ms: Option<f64>,
    /// Median of the second part: new spec seen → status seen (the controller's watch, queue, reconcile and status
    /// write, and that write's way back through the watch), ms.
    pub spec_to_status_p50_ms: Option<f64>,
    /// 99th percentile of the second part, ms.
    pub spec_to_status_p99_ms: Option<f64>,
    /// Updates whose status never followed (within 30 s of the last update).
    pub lost: usize,
    /// Contender CPU milliseconds per update.
    pub cpu_ms_per_update: f64,
    /// API server (and its embedded etcd) CPU milliseconds per update: the harness's spec write plus whatever the
    /// contender sent for it.
    pub apiserver_cpu_ms_per_update: f64,
    /// Requests per update by `VERB resource[/subresource]`, the harness's own spec updates left out: what the
    /// contender sent for each (a status apply, when it is at the floor).
    pub requests_per_update: BTreeMap<String, f64>,
}

/// What a restart with every Document up to date cost.
#[derive(Debug, Clone, Serialize)]
pub struct Restart {
    /// Seconds watched after the restarted contender's Document watch opened.
    pub seconds: f64,
    /// Mutating requests in that time, access reviews left out (a start-up permission check creates review
    /// objects the server answers and keeps nothing of) and Lease writes left out (the API server renews its own
    /// identity Lease every 10 s, and a leader-electing contender its own, on a clock, whatever the Documents'
    /// state; counted in `lease_writes`).
    pub writes: f64,
    /// Writes to Leases in that time (the API server's own renewals included).
    pub lease_writes: f64,
    /// All requests by `VERB resource`.
    pub by_verb_resource: BTreeMap<String, f64>,
}

/// The churn ramp: each rate tried, and the highest whose p99 stayed within 1 s with nothing lost.
#[derive(Debug, Clone, Serialize)]
pub struct Capacity {
    /// Each level, rising.
    pub levels: Vec<Churn>,
    /// The highest rate sent (updates/s) whose p99 ≤ 1 s and none lost; `None` when even the first failed.
    pub capacity: Option<f64>,
}

/// What deleting every Document cost, per Document: the counts that say whether a contender sends the delete
/// floor's mix (the harness's `DELETE`, one event, one finalizer removal) and nothing more, whatever the load.
#[derive(Debug, Clone, Serialize)]
pub struct Deletion {
    /// Requests per Document by `VERB resource[/subresource]`, the harness's own `DELETE`s included.
    pub requests_per_doc: BTreeMap<String, f64>,
    /// API server (and its embedded etcd) CPU milliseconds per Document.
    pub apiserver_cpu_ms_per_doc: f64,
    /// Contender CPU milliseconds per Document.
    pub cpu_ms_per_doc: f64,
}

/// The correctness gates; a run that fails one is reported as failed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Gates {
    /// Every Document converged.
    pub all_converged: bool,
    /// Every churn update reached the status (`None`: churn not run, `--cold-start-only`).
    pub churn_applied: Option<bool>,
    /// Every Document was deleted, no finalizer left behind (`None`: deletion not run, `--cold-start-only`).
    pub no_finalizer_left: Option<bool>,
    /// The contender exited within 15 s of SIGTERM.
    pub clean_exit: bool,
}

impl Gates {
    /// All passed.
    pub fn passed(&self) -> bool {
        // A phase not run passes; a run that stopped early never reached `clean_exit`.
        self.all_converged
            && self.churn_applied != Some(false)
            && self.no_finalizer_left != Some(false)
            && self.clean_exit
    }
}

/// Everything one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    /// The contender's name.
    pub contender: String,
    /// N.
    pub n: usize,
    /// Which repetition (0-based).
    pub run: usize,
    /// The first thing that went wrong, if anything.
    pub error: Option<String>,
    /// Seconds from start to every Document converged.
    pub t_converge_s: Option<f64>,
    /// Contender CPU seconds during the cold start.
    pub cpu_s: Option<f64>,
    /// Peak RSS (VmHWM) by the end of the cold start, bytes.
    pub peak_rss: Option<u64>,
    /// RSS 2 s after convergence, bytes.
    pub rss_after_sync: Option<u64>,
    /// API server requests during the cold start.
    pub api: Option<ApiCost>,
    /// API server (and its embedded etcd) CPU seconds during the cold start.
    pub apiserver_cpu_s: Option<f64>,
    /// One converged Document's size as the API server serves it (JSON): whole, and without managed fields.
    pub document_bytes: Option<(usize, usize)>,
    /// API server (with etcd) RSS once the Documents exist, before the contender starts, bytes.
    pub apiserver_rss_before: Option<u64>,
    /// API server (with etcd) peak RSS (VmHWM: creation and cold start), bytes.
    pub apiserver_peak_rss: Option<u64>,
    /// The harness's own CPU seconds during the cold start (its observer decodes every watch event).
    pub harness_cpu_s: Option<f64>,
    /// CPU seconds other work on the machine (not the API server, the contender or the harness) took during the
    /// cold start: the run's noise.
    pub other_cpu_s: Option<f64>,
    /// The 1-minute load average when the contender started.
    pub load_average: Option<f64>,
    /// A restart with everything up to date.
    pub restart: Option<Restart>,
    /// Steady churn.
    pub churn: Option<Churn>,
    /// The churn ramp.
    pub capacity: Option<Capacity>,
    /// Seconds from the first delete until every Document is gone.
    pub t_delete_s: Option<f64>,
    /// Documents still there (held by a finalizer) at the deletion deadline.
    pub left_after_delete: Option<usize>,
    /// What deleting every Document cost.
    pub deletion: Option<Deletion>,
    /// Gates.
    pub gates: Gates,
    /// Errors the observer's watch reported.
    pub watch_errors: Vec<String>,
    /// The contender's log.
    pub log: String,
}

/// Runs one contender once.
pub async fn run(
    contender: &Contender,
    plan: &Plan,
    crd: &CrdSource,
    run: usize,
    log: &Path,
) -> RunResult {
    let mut result = RunResult {
        contender: contender.name.clone(),
        n: plan.n,
        run,
        error: None,
        t_converge_s: None,
        cpu_s: None,
        peak_rss: None,
        rss_after_sync: None,
        api: None,
        apiserver_cpu_s: None,
        document_bytes: None,
        apiserver_rss_before: None,
        apiserver_peak_rss: None,
        harness_cpu_s: None,
        other_cpu_s: None,
        load_average: None,
        restart: None,
        churn: None,
        capacity: None,
        t_delete_s: None,
        left_after_delete: None,
        deletion: None,
        gates: Gates::default(),
        watch_errors: Vec::new(),
        log: log.display().to_string(),
    };
    if let Err(e) = run_inner(contender, plan, crd, log, &mut result).await {
        result.error = Some(format!("{e:#}"));
    }
    result
}

async fn run_inner(
    contender: &Contender,
    plan: &Plan,
    crd: &CrdSource,
    log: &Path,
    r: &mut RunResult,
) -> Result<()> {
    let mut cp = tokio::task::spawn_blocking(cluster::start_control_plane)
        .await
        .context("the control-plane start panicked")??;
    let outcome = run_on(&cp, contender, plan, crd, log, r).await;
    // A run that fails because the API server died says so, with the end of its log (a contender can take it down:
    // controller-rs at 100k opened more connections than the process may hold files).
    match (outcome, cp.exited()) {
        (Err(e), Some(status)) => {
            let end = match cp.log_path() {
                Some(path) => format!(
                    "; the end of its log ({}):\n{}",
                    path.display(),
                    kubewhy_testenv::controlplane::tail(path, 8)
                ),
                None => String::new(),
            };
            Err(e.context(format!(
                "the control plane exited during the run ({status}){end}"
            )))
        }
        (outcome, _) => outcome,
    }
}

async fn run_on(
    cp: &kubewhy_testenv::ControlPlane,
    contender: &Contender,
    plan: &Plan,
    crd: &CrdSource,
    log: &Path,
    r: &mut RunResult,
) -> Result<()> {
    let client = cp.admin().await.context("an admin client")?;
    cluster::install_crd(&client, crd).await?;
    let (ns, observer) = Observer::with_documents(
        cp,
        &client,
        "bench",
        plan.n,
        plan.content_bytes,
        Duration::from_secs(120),
    )
    .await?;

    let apiserver = cp.pid();
    let me = std::process::id();
    let m0 = apimetrics::snapshot(&client).await?;
    let (a0, h0, rv0) = (
        procstat::cpu_seconds(apiserver)?,
        procstat::cpu_seconds(me)?,
        observer.rv_changes(),
    );
    let busy0 = procstat::machine_busy_seconds()?;
    r.load_average = Some(procstat::load_average()?);
    r.apiserver_rss_before = Some(procstat::memory(apiserver)?.rss);
    let mut running = contender.spawn(cp.kubeconfig(), log)?;
    let pid = running.pid();

    // Cold start.
    let converged = wait_converged(&observer, &mut running, plan).await;
    let t_converge = running.started.elapsed();
    let peak = procstat::memory(pid);
    let cpu = procstat::cpu_seconds(pid);
    let (a1, h1) = (
        procstat::cpu_seconds(apiserver)?,
        procstat::cpu_seconds(me)?,
    );
    let busy1 = procstat::machine_busy_seconds()?;
    let m1 = apimetrics::snapshot(&client).await?;
    let rv1 = observer.rv_changes();
    r.watch_errors = observer.watch_errors();
    converged?;
    r.gates.all_converged = true;
    r.t_converge_s = Some(t_converge.as_secs_f64());
    r.peak_rss = Some(peak?.peak);
    let cpu = cpu?;
    r.cpu_s = Some(cpu);
    r.apiserver_cpu_s = Some(a1 - a0);
    r.apiserver_peak_rss = Some(procstat::memory(apiserver)?.peak);
    r.harness_cpu_s = Some(h1 - h0);
    r.other_cpu_s = Some((busy1 - busy0 - (a1 - a0) - (h1 - h0) - cpu).max(0.0));
    let delta = m1.since(&m0);
    let rv_changes = (rv1 - rv0) as f64;
    let document_writes = delta.document_writes();
    r.api = Some(ApiCost {
        total: delta.total(),
        by_verb: delta.by_verb(),
        by_verb_resource: delta.by_verb_resource(),
        document_writes,
        rv_changes,
        noop_writes: (document_writes - rv_changes).max(0.0),
        conflicts: delta.conflicts(),
        server_errors: delta.server_errors(),
        open_watches: m1.new_watches(&m0),
    });
    r.document_bytes = Some(cluster::document_size(&client, &ns, &cluster::doc_name(0)).await?);
    tokio::time::sleep(Duration::from_secs(2)).await;
    running.check_alive()?;
    r.rss_after_sync = Some(procstat::memory(pid)?.rss);

    // A restart with everything up to date: a controller that trusts its cache writes nothing.
    if plan.restart {
        let (next, restart) =
            restart(contender, running, cp.kubeconfig(), &client, &m0, plan, log).await?;
        running = next;
        r.restart = Some(restart);
    }
    if plan.cold_start_only {
        let stopped = running.stop();
        r.gates.clean_exit = stopped.is_ok();
        return stopped.map(|_| ());
    }

    // Steady churn.
    let mut next_doc = 0;
    let steady = churn(
        &client,
        &ns,
        &observer,
        plan,
        (running.pid(), apiserver),
        plan.churn_rate,
        plan.churn_time,
        &mut next_doc,
    )
    .await?;
    r.gates.churn_applied = Some(steady.updates > 0 && steady.lost == 0);
    r.churn = Some(steady);
    running.check_alive()?;

    // The ramp: rising rates until p99 passes 1 s or an update is lost.
    if let Some((rates, time)) = &plan.capacity {
        let mut levels: Vec<Churn> = Vec::new();
        for &rate in rates {
            let level = churn(
                &client,
                &ns,
                &observer,
                plan,
                (running.pid(), apiserver),
                rate,
                *time,
                &mut next_doc,
            )
            .await?;
            eprintln!(
                "doc-bench:   ramp {rate:.0}/s (sent {:.0}/s): p50 {} ms, p99 {} ms, {} lost",
                level.sent_rate,
                level.p50_ms.map_or("–".into(), |v| format!("{v:.0}")),
                level.p99_ms.map_or("–".into(), |v| format!("{v:.0}")),
                level.lost
            );
            let ok = level.lost == 0 && level.p99_ms.is_some_and(|p| p <= CAPACITY_SLO_MS);
            levels.push(level);
            running.check_alive()?;
            if !ok {
                break;
            }
        }
        r.capacity = Some(Capacity {
            capacity: sustained(&levels),
            levels,
        });
    }

    // Deletion: every finalizer must come off.
    let m_delete = apimetrics::snapshot(&client).await?;
    let (a_delete, c_delete) = (
        procstat::cpu_seconds(apiserver)?,
        procstat::cpu_seconds(running.pid())?,
    );
    let t = Instant::now();
    cluster::delete_documents(&client, &ns, plan.n).await?;
    let gone = observer
        .wait_for("deleting every Document", plan.delete_timeout, |o| {
            (
                o.existing() == 0,
                format!("{} still held by a finalizer", o.existing()),
            )
        })
        .await;
    r.left_after_delete = Some(observer.existing());
    let per_doc = |v: f64| v / plan.n as f64;
    r.deletion = Some(Deletion {
        requests_per_doc: apimetrics::snapshot(&client)
            .await?
            .since(&m_delete)
            .by_verb_resource()
            .into_iter()
            // The scrape that opened the window, counted when it ended.
            .filter(|(k, _)| k != "GET ")
            .map(|(k, v)| (k, per_doc(v)))
            .collect(),
        apiserver_cpu_ms_per_doc: per_doc((procstat::cpu_seconds(apiserver)? - a_delete) * 1000.0),
        cpu_ms_per_doc: per_doc((procstat::cpu_seconds(running.pid())? - c_delete) * 1000.0),
    });
    r.gates.no_finalizer_left = Some(gone.is_ok());
    if gone.is_ok() {
        r.t_delete_s = Some(t.elapsed().as_secs_f64());
    }
    running.check_alive()?;
    let stopped = running.stop();
    r.gates.clean_exit = stopped.is_ok();
    gone?;
    stopped?;
    Ok(())
}

async fn wait_converged(observer: &Observer, running: &mut Running, plan: &Plan) -> Result<()> {
    let deadline = Instant::now() + plan.converge_timeout;
    loop {
        if observer.converged() == plan.n {
            return Ok(());
        }
        running.check_alive()?;
        if Instant::now() > deadline {
            anyhow::bail!(
                "only {} of {} Documents converged within {:.0} s",
                observer.converged(),
                plan.n,
                plan.converge_timeout.as_secs_f64()
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The highest rate actually sent among the levels that held p99 ≤ 1 s with nothing lost, counting only the
/// levels before the first that did not.
fn sustained(levels: &[Churn]) -> Option<f64> {
    levels
        .iter()
        .take_while(|l| l.lost == 0 && l.p99_ms.is_some_and(|p| p <= CAPACITY_SLO_MS))
        .map(|l| l.sent_rate)
        .reduce(f64::max)
}

/// Stops the contender, starts it again and counts the requests it makes until its Document watch is open and it
/// has had time to visit every Document; returns the new process.
async fn restart(
    contender: &Contender,
    mut running: Running,
    kubeconfig: &Path,
    client: &kube::Client,
    earlier: &apimetrics::Snapshot,
    plan: &Plan,
    log: &Path,
) -> Result<(Running, Restart)> {
    running
        .stop()
        .context("stopping the contender to restart it")?;
    drop(running);
    // Its watches end when the server notices the connection closed: wait until none of them is open (the
    // observer's was open before `earlier` and does not count), so the restarted process's watch can be told apart.
    let documents_watches = |m: &apimetrics::Snapshot| {
        m.new_watches(earlier)
            .get("documents")
            .copied()
            .unwrap_or(0.0)
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while documents_watches(&apimetrics::snapshot(client).await?) > 0.0 {
        if Instant::now() > deadline {
            anyhow::bail!(
                "the stopped contender's watch on Documents was still open 30 s after it exited"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let m0 = apimetrics::snapshot(client).await?;
    let log = log.with_extension("restart.log");
    let mut running = contender.spawn(kubeconfig, &log)?;
    // Up to a minute (plus a second per thousand Documents) for its Document watch to open (the initial list comes
    // before it, or streams through it).
    let deadline = Instant::now() + Duration::from_secs(60 + (plan.n / 1000) as u64);
    loop {
        running.check_alive()?;
        if documents_watches(&apimetrics::snapshot(client).await?) > 0.0 {
            break;
        }
        if Instant::now() > deadline {
            anyhow::bail!(
                "the restarted contender opened no watch on Documents within the deadline"
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Then time to visit every Document: a few seconds plus one per 10,000.
    let settle = Duration::from_secs(3) + Duration::from_secs_f64(plan.n as f64 / 10_000.0);
    tokio::time::sleep(settle).await;
    running.check_alive()?;
    let delta = apimetrics::snapshot(client).await?.since(&m0);
    let seconds = running.started.elapsed().as_secs_f64();
    Ok((
        running,
        Restart {
            seconds,
            writes: delta.count(|k| {
                apimetrics::is_mutating(&k.verb)
                    && !apimetrics::is_review(&k.resource)
                    && k.resource != "leases"
            }),
            lease_writes: delta
                .count(|k| apimetrics::is_mutating(&k.verb) && k.resource == "leases"),
            by_verb_resource: delta.by_verb_resource(),
        },
    ))
}

/// Flips `spec.hide` of Documents in turn (from `next_doc` on) at `rate` per second for `time`, then waits up to
/// 30 s for every status to follow. `pids` are the contender's and the API server's.
#[allow(clippy::too_many_arguments)]
async fn churn(
    client: &kube::Client,
    ns: &str,
    observer: &Observer,
    plan: &Plan,
    (pid, apiserver): (u32, u32),
    rate: f64,
    time: Duration,
    next_doc: &mut usize,
) -> Result<Churn> {
    let m0 = apimetrics::snapshot(client).await?;
    let cpu_before = procstat::cpu_seconds(pid)?;
    let apiserver_before = procstat::cpu_seconds(apiserver)?;
    let api = cluster::documents(client, ns);
    let updates = (rate * time.as_secs_f64()).round().max(1.0) as usize;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(updates);
    let _ = observer.take_latencies(); // nothing was expected before churn; start from an empty list
    for _ in 0..updates {
        tokio::time::sleep_until(start + interval.mul_f64(tasks.len() as f64)).await;
        let name = cluster::doc_name(*next_doc % plan.n);
        *next_doc += 1;
        let want = !observer.hidden(&name).unwrap_or(true);
        observer.expect(&name, want);
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            api.patch(
                &name,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"hide": want}})),
            )
            .await
            .with_context(|| format!("updating Document {name}"))
            .map(|_| ())
        }));
    }
    let sent_in = start.elapsed().as_secs_f64();
    for t in tasks {
        t.await.context("a churn update panicked")??;
    }
    let waited = observer
        .wait_for(
            "every churn update reaching the status",
            Duration::from_secs(30),
            |o| (o.pending() == 0, format!("{} waiting", o.pending())),
        )
        .await;
    let lost = if waited.is_ok() {
        0
    } else {
        observer.pending()
    };
    let cpu = procstat::cpu_seconds(pid)? - cpu_before;
    let apiserver_cpu = procstat::cpu_seconds(apiserver)? - apiserver_before;
    let mut requests = apimetrics::snapshot(client)
        .await?
        .since(&m0)
        .by_verb_resource();
    // The harness's own spec updates (merge patches of Documents), and its scrape of /metrics that opened the window
    // (a request is counted when it ends).
    for (what, own) in [("PATCH documents", updates as f64), ("GET ", 1.0)] {
        if let Some(v) = requests.get_mut(what) {
            *v -= own;
        }
    }
    let requests_per_update = requests
        .into_iter()
        .filter(|(_, v)| *v > 0.0)
        .map(|(k, v)| (k, v / updates as f64))
        .collect();
    let latencies = observer.take_latencies();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let total: Vec<f64> = latencies.iter().map(|l| ms(l.total)).collect();
    let to_spec: Vec<f64> = latencies.iter().filter_map(|l| l.to_spec.map(ms)).collect();
    let rest: Vec<f64> = latencies
        .iter()
        .filter_map(|l| l.spec_to_status().map(ms))
        .collect();
    Ok(Churn {
        rate,
        // The time to send the last update is the time of the first plus (updates - 1) intervals.
        sent_rate: if updates > 1 {
            (updates - 1) as f64 / sent_in.max(f64::EPSILON)
        } else {
            rate
        },
        updates,
        p50_ms: stats::percentile(&total, 50.0),
        p99_ms: stats::percentile(&total, 99.0),
        to_spec_p50_ms: stats::percentile(&to_spec, 50.0),
        spec_to_status_p50_ms: stats::percentile(&rest, 50.0),
        spec_to_status_p99_ms: stats::percentile(&rest, 99.0),
        lost,
        cpu_ms_per_update: cpu * 1000.0 / updates as f64,
        apiserver_cpu_ms_per_update: apiserver_cpu * 1000.0 / updates as f64,
        requests_per_update,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(sent_rate: f64, p99_ms: Option<f64>, lost: usize) -> Churn {
        Churn {
            rate: sent_rate,
            sent_rate,
            updates: 10,
            p50_ms: p99_ms,
            p99_ms,
            to_spec_p50_ms: None,
            spec_to_status_p50_ms: None,
            spec_to_status_p99_ms: None,
            lost,
            cpu_ms_per_update: 0.0,
            apiserver_cpu_ms_per_update: 0.0,
            requests_per_update: BTreeMap::new(),
        }
    }

    #[test]
    fn capacity_is_the_last_rate_before_the_first_miss() {
        let levels = [
            level(100.0, Some(20.0), 0),
            level(198.0, Some(900.0), 0),
            level(390.0, Some(1500.0), 0),
            level(800.0, Some(10.0), 0),
        ];
        assert_eq!(sustained(&levels), Some(198.0));
        assert_eq!(
            sustained(&[level(100.0, Some(5.0), 1)]),
            None,
            "a lost update fails a level"
        );
        assert_eq!(sustained(&[level(100.0, None, 0)]), None);
    }
}
