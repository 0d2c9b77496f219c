//! The scale-out scenario (`doc-bench --scale-out`): how doc-controller's time to converge N Documents, its
//! throughput, each replica's peak memory and cache, and the API server's CPU change with the number of replicas
//! sharing the work (`run --shards auto`), against one leader-elected replica — with the real reconcile, and with a
//! reconcile that first waits on a simulated slow dependency (`run --simulated-work-ms`), which is where more
//! replicas pay off on a 2-core machine. Each setup runs on a fresh control plane with the `ShardedListAndWatch`
//! feature gate on, so the replicas filter server-side; `--shard-filters` adds client-side rows for comparison.
//!
//! Results go to `scaleout-n<N>.{md,json}` beside the main benchmark's.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kubewhy_testenv::{ControlPlane, Options};
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::apimetrics;
use crate::cluster::{self, CrdSource};
use crate::contender::{self, Contender, Running};
use crate::observer::Observer;
use crate::procstat;

/// The kube-apiserver flag that serves `shardSelector`.
const GATE: &str = "--feature-gates=ShardedListAndWatch=true";

/// What the scenario runs.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Documents.
    pub n: usize,
    /// Numbers of sharing replicas (each also runs against one leader-elected replica).
    pub replicas: Vec<usize>,
    /// Simulated slow-dependency waits per reconcile, in ms (0: the real reconcile alone).
    pub work_ms: Vec<u64>,
    /// Who filters the sharded replicas' Documents watch: `auto` (the API server, gate on) and/or `client`.
    pub filters: Vec<String>,
    /// Concurrent reconciles per replica.
    pub concurrency: u16,
    /// Bytes of `spec.content` per Document.
    pub content_bytes: usize,
    /// The longest a cold start may take.
    #[serde(skip)]
    pub converge_timeout: Duration,
}

/// One setup.
#[derive(Debug, Clone, Serialize)]
pub struct Setup {
    /// `leader-elected` or `sharded`.
    pub mode: &'static str,
    /// Replicas started.
    pub replicas: usize,
    /// `--shard-filter` of sharded replicas (`-` for the leader-elected one).
    pub filter: String,
    /// `--simulated-work-ms`.
    pub work_ms: u64,
}

/// What one setup measured.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// The setup.
    pub setup: Setup,
    /// The first thing that went wrong.
    pub error: Option<String>,
    /// Seconds from starting the replicas until every Document converged.
    pub t_converge_s: Option<f64>,
    /// Documents converged per second.
    pub docs_per_s: Option<f64>,
    /// Each replica's peak RSS (VmHWM) at convergence, bytes.
    pub peak_rss: Vec<u64>,
    /// Each replica's cached Documents at convergence (`doc_controller_shard_documents_owned`; the whole
    /// collection for the leader-elected replica).
    pub documents_cached: Vec<f64>,
    /// Whether each sharded replica saw the API server filter (`doc_controller_shard_server_side`).
    pub server_side: Vec<f64>,
    /// CPU seconds of all replicas together during the cold start.
    pub replicas_cpu_s: Option<f64>,
    /// CPU seconds of the API server (and its embedded etcd) during the cold start.
    pub apiserver_cpu_s: Option<f64>,
    /// API requests during the cold start.
    pub api_requests: Option<f64>,
    /// The 1-minute load average (as `uptime` shows it) when the replicas started.
    pub load_average: Option<f64>,
    /// The 1-minute load average when every Document had converged: with the one at the start, whether other work
    /// shared the cores during the run.
    pub load_average_end: Option<f64>,
}

/// Every setup of the plan, in the order they run: per simulated work, the leader-elected replica, then each
/// number of sharing replicas per filter.
pub fn setups(plan: &Plan) -> Vec<Setup> {
    let mut out = Vec::new();
    for &work_ms in &plan.work_ms {
        out.push(Setup {
            mode: "leader-elected",
            replicas: 1,
            filter: "-".into(),
            work_ms,
        });
        for filter in &plan.filters {
            for &replicas in &plan.replicas {
                out.push(Setup {
                    mode: "sharded",
                    replicas,
                    filter: filter.clone(),
                    work_ms,
                });
            }
        }
    }
    out
}

/// Runs every setup with doc-controller's `binary` (default: a snapshot of its release build); writes
/// `scaleout-n<N>.{md,json}` into `out` after each.
pub async fn run(
    root: &Path,
    binary: Option<&Path>,
    out: &Path,
    crd: &CrdSource,
    plan: &Plan,
) -> Result<Vec<Run>> {
    let base = Contender::parse("doc-controller", root, None)?;
    let binary = match binary {
        Some(b) => b.to_path_buf(),
        None => {
            base.check_ready(root, None)
                .context("doc-controller is not ready for the scale-out scenario")?;
            contender::snapshot_path(root)
        }
    };
    tokio::task::spawn_blocking(kubewhy_testenv::binary::ensure_built)
        .await
        .context("the control-plane build panicked")??;
    let mut runs = Vec::new();
    for setup in setups(plan) {
        eprintln!(
            "doc-bench: scale-out: {} x{} (filter {}, work {} ms), N={} ...",
            setup.mode, setup.replicas, setup.filter, setup.work_ms, plan.n
        );
        let r = run_one(&base, &binary, crd, plan, setup, &out.join("logs")).await;
        eprintln!(
            "doc-bench:   converged in {} s ({} Documents/s), peak RSS per replica {} MiB, API server CPU {} s{}",
            r.t_converge_s.map_or("–".into(), |t| format!("{t:.2}")),
            r.docs_per_s.map_or("–".into(), |t| format!("{t:.0}")),
            r.peak_rss
                .iter()
                .map(|b| format!("{:.1}", *b as f64 / 1048576.0))
                .collect::<Vec<_>>()
                .join("/"),
            r.apiserver_cpu_s.map_or("–".into(), |t| format!("{t:.1}")),
            r.error
                .as_ref()
                .map(|e| format!("; FAILED: {e}"))
                .unwrap_or_default()
        );
        runs.push(r);
        write(out, plan, &runs)?;
    }
    Ok(runs)
}

async fn run_one(
    base: &Contender,
    binary: &Path,
    crd: &CrdSource,
    plan: &Plan,
    setup: Setup,
    logs: &Path,
) -> Run {
    let mut run = Run {
        setup,
        error: None,
        t_converge_s: None,
        docs_per_s: None,
        peak_rss: Vec::new(),
        documents_cached: Vec::new(),
        server_side: Vec::new(),
        replicas_cpu_s: None,
        apiserver_cpu_s: None,
        api_requests: None,
        load_average: None,
        load_average_end: None,
    };
    if let Err(e) = run_inner(base, binary, crd, plan, logs, &mut run).await {
        run.error = Some(format!("{e:#}"));
    }
    run
}

/// A replica: its process and its HTTP port.
struct Replica {
    running: Running,
    port: u16,
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("binding a free port")?;
    Ok(listener
        .local_addr()
        .context("reading a bound port")?
        .port())
}

/// One value of a replica's `/metrics` (0 when absent).
async fn metric(port: u16, name: &str) -> Result<f64> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .with_context(|| format!("connecting to a replica's /metrics on port {port}"))?;
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await
        .context("asking a replica for /metrics")?;
    let mut body = String::new();
    stream
        .read_to_string(&mut body)
        .await
        .context("reading a replica's /metrics")?;
    Ok(body
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0.0))
}

async fn run_inner(
    base: &Contender,
    binary: &Path,
    crd: &CrdSource,
    plan: &Plan,
    logs: &Path,
    r: &mut Run,
) -> Result<()> {
    let cp = tokio::task::spawn_blocking(|| {
        ControlPlane::start(Options {
            apiserver_args: cluster::APISERVER_ARGS
                .iter()
                .map(|s| s.to_string())
                .chain([GATE.to_string()])
                .collect(),
            ..Options::default()
        })
    })
    .await
    .context("the control-plane start panicked")?
    .context("starting a control plane with the ShardedListAndWatch gate on")?;
    let client = cp.admin().await.context("an admin client")?;
    cluster::install_crd(&client, crd).await?;
    let (ns, observer) = Observer::with_documents(
        &cp,
        &client,
        "scaleout",
        plan.n,
        plan.content_bytes,
        Duration::from_secs(300),
    )
    .await?;

    let apiserver = cp.pid();
    let m0 = apimetrics::snapshot(&client).await?;
    let a0 = procstat::cpu_seconds(apiserver)?;
    r.load_average = Some(procstat::load_average()?);
    let started = Instant::now();
    let mut replicas = Vec::new();
    for i in 0..r.setup.replicas {
        let port = free_port()?;
        let role = if r.setup.mode == "leader-elected" {
            format!("--leader-elect --lease-namespace {ns}")
        } else {
            format!(
                "--shards auto --shard-filter {} --lease-namespace {ns} --identity replica-{i}",
                r.setup.filter
            )
        };
        let contender = Contender {
            name: format!("{}-{}-{i}", base.name, r.setup.mode),
            // The built-in contender's binary and log level, on a port of its own, in this namespace, in its role.
            command: format!(
                "env RUST_LOG=warn {} run --http-addr 127.0.0.1:{port} --namespace {ns} --concurrency {} \
                 --simulated-work-ms {} {role}",
                kubewhy::shell::word(&binary.display().to_string()),
                plan.concurrency,
                r.setup.work_ms,
            ),
            description: base.description.clone(),
        };
        let log = logs.join(format!(
            "scaleout-{}-x{}-{}-work{}-n{}-replica{i}.log",
            r.setup.mode, r.setup.replicas, r.setup.filter, r.setup.work_ms, plan.n
        ));
        replicas.push(Replica {
            running: contender.spawn(cp.kubeconfig(), &log)?,
            port,
        });
    }

    // Cold start: until every Document is converged.
    let deadline = started + plan.converge_timeout;
    while observer.converged() < plan.n {
        for replica in &mut replicas {
            replica.running.check_alive()?;
        }
        if Instant::now() > deadline {
            bail!(
                "only {} of {} Documents converged within {:.0} s",
                observer.converged(),
                plan.n,
                plan.converge_timeout.as_secs_f64()
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let t = started.elapsed();
    r.load_average_end = Some(procstat::load_average()?);
    let a1 = procstat::cpu_seconds(apiserver)?;
    let m1 = apimetrics::snapshot(&client).await?;
    r.t_converge_s = Some(t.as_secs_f64());
    r.docs_per_s = Some(plan.n as f64 / t.as_secs_f64());
    r.apiserver_cpu_s = Some(a1 - a0);
    r.api_requests = Some(m1.since(&m0).total());
    let mut cpu = 0.0;
    for replica in &replicas {
        let pid = replica.running.pid();
        r.peak_rss.push(procstat::memory(pid)?.peak);
        cpu += procstat::cpu_seconds(pid)?;
        if r.setup.mode == "sharded" {
            r.documents_cached
                .push(metric(replica.port, "doc_controller_shard_documents_owned").await?);
            r.server_side
                .push(metric(replica.port, "doc_controller_shard_server_side").await?);
        } else {
            r.documents_cached.push(plan.n as f64);
        }
    }
    r.replicas_cpu_s = Some(cpu);
    for replica in &mut replicas {
        replica.running.stop()?;
    }
    Ok(())
}

/// The 1-minute load averages at the start and at convergence.
fn load(r: &Run) -> String {
    let one = |l: Option<f64>| l.map_or("–".into(), |t| format!("{t:.1}"));
    format!("{} → {}", one(r.load_average), one(r.load_average_end))
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / 1048576.0
}

/// The report: one row per setup.
pub fn markdown(plan: &Plan, runs: &[Run]) -> String {
    let mut md = String::new();
    // Writing into a String cannot fail.
    let _ = writeln!(
        md,
        "# doc-bench scale-out\n\nN = {} Documents, {} concurrent reconciles per replica, API server with \
         `{GATE}`.\n",
        plan.n, plan.concurrency
    );
    let _ = writeln!(
        md,
        "| setup | work per reconcile | converge, s | Documents/s | peak RSS per replica, MiB | Documents cached \
         per replica | replicas' CPU, s | API server CPU, s | API requests | load (start → end) |\n|---|---|---|---|---|---|---|---|---|---|"
    );
    for r in runs {
        let s = &r.setup;
        let setup = if s.mode == "leader-elected" {
            "1 leader-elected".to_string()
        } else {
            let filter = if s.filter == "client" {
                "client-side"
            } else {
                "server-side"
            };
            format!("{} sharded ({filter})", s.replicas)
        };
        let work = if s.work_ms == 0 {
            "real reconcile".to_string()
        } else {
            format!("+{} ms simulated", s.work_ms)
        };
        if let Some(e) = &r.error {
            let _ = writeln!(
                md,
                "| {setup} | {work} | FAILED: {} | | | | | | | |",
                e.replace('|', "/")
            );
            continue;
        }
        let list = |v: Vec<String>| v.join(" / ");
        let _ = writeln!(
            md,
            "| {setup} | {work} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.t_converge_s.map_or("–".into(), |t| format!("{t:.1}")),
            r.docs_per_s.map_or("–".into(), |t| format!("{t:.0}")),
            list(
                r.peak_rss
                    .iter()
                    .map(|b| format!("{:.0}", mib(*b)))
                    .collect()
            ),
            list(
                r.documents_cached
                    .iter()
                    .map(|d| format!("{d:.0}"))
                    .collect()
            ),
            r.replicas_cpu_s.map_or("–".into(), |t| format!("{t:.1}")),
            r.apiserver_cpu_s.map_or("–".into(), |t| format!("{t:.1}")),
            r.api_requests.map_or("–".into(), |t| format!("{t:.0}")),
            load(r),
        );
    }
    md
}

fn write(out: &Path, plan: &Plan, runs: &[Run]) -> Result<()> {
    #[derive(Serialize)]
    struct File<'a> {
        plan: &'a Plan,
        runs: &'a [Run],
    }
    let json =
        serde_json::to_string_pretty(&File { plan, runs }).context("encoding the results")?;
    let path: PathBuf = out.join(format!("scaleout-n{}.json", plan.n));
    std::fs::write(&path, json).with_context(|| format!("writing {}", path.display()))?;
    let path = out.join(format!("scaleout-n{}.md", plan.n));
    std::fs::write(&path, markdown(plan, runs))
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_work_level_compares_the_sharded_replicas_with_one_leader() {
        let plan = Plan {
            n: 10,
            replicas: vec![1, 2, 4],
            work_ms: vec![0, 50],
            filters: vec!["auto".into(), "client".into()],
            concurrency: 8,
            content_bytes: 10,
            converge_timeout: Duration::from_secs(1),
        };
        let s = setups(&plan);
        assert_eq!(s.len(), 2 * (1 + 2 * 3));
        assert_eq!(s[0].mode, "leader-elected");
        assert_eq!(
            (s[1].replicas, s[1].filter.as_str(), s[1].work_ms),
            (1, "auto", 0)
        );
        assert_eq!((s[7].mode, s[7].work_ms), ("leader-elected", 50));
        let md = markdown(
            &plan,
            &[Run {
                setup: s[3].clone(),
                error: None,
                t_converge_s: Some(2.0),
                docs_per_s: Some(5.0),
                peak_rss: vec![10 << 20, 12 << 20, 11 << 20, 10 << 20],
                documents_cached: vec![2.0, 3.0, 3.0, 2.0],
                server_side: vec![1.0; 4],
                replicas_cpu_s: Some(1.0),
                apiserver_cpu_s: Some(3.0),
                api_requests: Some(40.0),
                load_average: Some(0.5),
                load_average_end: Some(1.3),
            }],
        );
        assert!(
            md.contains("| 4 sharded (server-side) | real reconcile | 2.0 | 5 | 10 / 12 / 11 / 10 | 2 / 3 / 3 / 2 |"),
            "{md}"
        );
        assert!(md.contains("| 0.5 → 1.3 |"), "{md}");
    }
}
