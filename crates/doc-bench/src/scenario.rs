//! One run of one contender at one N, on a fresh control plane: cold start (N hidden Documents created first, then
//! the contender started, timed until every Document is converged), steady churn (spec updates at a set rate,
//! timed until their status follows), deletion (every finalizer must be removed), and a clean stop on SIGTERM.
//! Memory and CPU come from `/proc`, the API server's cost from its own `/metrics`.

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
}

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
    /// Updates sent.
    pub updates: usize,
    /// Median update→status latency, ms.
    pub p50_ms: Option<f64>,
    /// 99th percentile, ms.
    pub p99_ms: Option<f64>,
    /// Updates whose status never followed (within 30 s of the last update).
    pub lost: usize,
    /// Contender CPU milliseconds per update.
    pub cpu_ms_per_update: f64,
}

/// The correctness gates; a run that fails one is reported as failed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Gates {
    /// Every Document converged.
    pub all_converged: bool,
    /// Every churn update reached the status.
    pub churn_applied: bool,
    /// Every Document was deleted (no finalizer left behind).
    pub no_finalizer_left: bool,
    /// The contender exited within 15 s of SIGTERM.
    pub clean_exit: bool,
}

impl Gates {
    /// All passed.
    pub fn passed(&self) -> bool {
        self.all_converged && self.churn_applied && self.no_finalizer_left && self.clean_exit
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
    /// The harness's own CPU seconds during the cold start (its observer decodes every watch event).
    pub harness_cpu_s: Option<f64>,
    /// CPU seconds other work on the machine (not the API server, the contender or the harness) took during the
    /// cold start: the run's noise.
    pub other_cpu_s: Option<f64>,
    /// The 1-minute load average when the contender started.
    pub load_average: Option<f64>,
    /// Steady churn.
    pub churn: Option<Churn>,
    /// Seconds from the first delete until every Document is gone.
    pub t_delete_s: Option<f64>,
    /// Documents still there (held by a finalizer) at the deletion deadline.
    pub left_after_delete: Option<usize>,
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
        harness_cpu_s: None,
        other_cpu_s: None,
        load_average: None,
        churn: None,
        t_delete_s: None,
        left_after_delete: None,
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
    let cp = tokio::task::spawn_blocking(cluster::start_control_plane)
        .await
        .context("the control-plane start panicked")??;
    let client = cp.admin().await.context("an admin client")?;
    cluster::install_crd(&client, crd).await?;
    let ns = cp
        .namespace("bench")
        .await
        .context("creating the run's namespace")?;
    let observer = Observer::start(&client, &ns);
    cluster::create_documents(&client, &ns, plan.n, plan.content_bytes).await?;
    observer
        .wait_for(
            "the observer seeing every Document",
            Duration::from_secs(120),
            |o| {
                (
                    o.existing() == plan.n,
                    format!("{} of {}", o.existing(), plan.n),
                )
            },
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
    tokio::time::sleep(Duration::from_secs(2)).await;
    running.check_alive()?;
    r.rss_after_sync = Some(procstat::memory(pid)?.rss);

    // Steady churn.
    let cpu_before = procstat::cpu_seconds(pid)?;
    let churn = churn(&client, &ns, &observer, plan).await?;
    let cpu_churn = procstat::cpu_seconds(pid)? - cpu_before;
    r.gates.churn_applied = churn.0 > 0 && churn.2 == 0;
    r.churn = Some(Churn {
        updates: churn.0,
        p50_ms: stats::percentile(&churn.1, 50.0),
        p99_ms: stats::percentile(&churn.1, 99.0),
        lost: churn.2,
        cpu_ms_per_update: cpu_churn * 1000.0 / churn.0.max(1) as f64,
    });
    running.check_alive()?;

    // Deletion: every finalizer must come off.
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
    r.gates.no_finalizer_left = gone.is_ok();
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

/// Flips `spec.hide` of Documents in turn at `plan.churn_rate` per second; returns (updates, latencies in ms, lost).
async fn churn(
    client: &kube::Client,
    ns: &str,
    observer: &Observer,
    plan: &Plan,
) -> Result<(usize, Vec<f64>, usize)> {
    let api = cluster::documents(client, ns);
    let updates = (plan.churn_rate * plan.churn_time.as_secs_f64()).round() as usize;
    let interval = Duration::from_secs_f64(1.0 / plan.churn_rate);
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(updates);
    let _ = observer.take_latencies(); // nothing was expected before churn; start from an empty list
    for k in 0..updates {
        tokio::time::sleep_until(start + interval.mul_f64(k as f64)).await;
        let name = cluster::doc_name(k % plan.n);
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
    let ms = observer
        .take_latencies()
        .iter()
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    Ok((updates, ms, lost))
}
