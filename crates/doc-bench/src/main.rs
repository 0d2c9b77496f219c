//! `doc-bench`: benchmarks doc-controller against its peers and against the API server's own write ceiling, on
//! the local control plane (kube-apiserver + etcd, built by kubewhy-testenv).
//!
//! ```text
//! cargo build --release -p doc-controller            # the contender under test
//! cargo run --release -p doc-bench -- --n 1000,10000 --runs 3
//! cargo run --release -p doc-bench -- --smoke        # tiny N, < 1 minute: checks the harness itself
//! cargo run --release -p doc-bench -- --scale-out --n 10000   # replicas sharing the work (src/scaleout.rs)
//! ```
//!
//! Results go to `target/bench/results.{md,json}`; contender logs to `target/bench/logs/`. See
//! `docs/benchmarks.md` for the method.

mod apimetrics;
mod calibrate;
mod cluster;
mod contender;
mod observer;
mod peer;
mod procstat;
mod report;
mod scaleout;
mod scenario;
mod stats;
mod tools;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use clap::Parser;

use crate::cluster::CrdSource;
use crate::contender::Contender;
use crate::report::Results;

/// Benchmarks Document controllers on the local control plane: the floor (the API server's write ceiling for
/// doc-controller's write mix), then for each N and contender a cold start, steady churn and deletion, repeated
/// with the contenders in alternating order; then the kubewhy CLI's `explain` and `check` timings.
#[derive(Debug, Parser)]
#[command(
    name = "doc-bench",
    version,
    after_help = "Examples:\n  \
    cargo run --release -p doc-bench -- --n 1000,10000 --runs 3\n  \
    cargo run --release -p doc-bench -- --contender doc-controller --contender cr-tuned \\\n      \
    --contender controller-rs --controller-rs /path/to/controller-rs/target/release/controller\n  \
    cargo run --release -p doc-bench -- --smoke"
)]
struct Args {
    /// Numbers of Documents for the cold start (comma-separated; 100000 is a stress test beyond the CRD scale
    /// target of 10k objects).
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    n: Vec<usize>,
    /// Runs per (contender, N); contenders alternate between runs.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// A contender: a built-in name (doc-controller, cr-stock, cr-tuned, controller-rs) or `name=command` (run with
    /// $KUBECONFIG set to the control plane's admin kubeconfig; `{root}` is the workspace root). Repeatable;
    /// default: the built-ins (controller-rs only when its binary is given).
    #[arg(long = "contender", value_name = "NAME[=COMMAND]")]
    contenders: Vec<String>,
    /// kube-rs/controller-rs's binary (`target/release/controller` of its checkout; the harness fetches and builds
    /// nothing of it: docs/benchmarks.md says how to build it).
    #[arg(long, value_name = "PATH", env = contender::CONTROLLER_RS_ENV)]
    controller_rs: Option<PathBuf>,
    /// Tiny N, one run, short phases, a small log: checks the harness in under a minute (default contender:
    /// cr-tuned).
    #[arg(long)]
    smoke: bool,
    /// Bytes of `spec.content` per Document.
    #[arg(long, default_value_t = 1024)]
    content_bytes: usize,
    /// Spec updates per second during churn.
    #[arg(long, default_value_t = 50.0)]
    churn_rate: f64,
    /// Seconds of churn.
    #[arg(long, default_value_t = 20.0)]
    churn_seconds: f64,
    /// Seconds a cold start may take before the run fails.
    #[arg(long, default_value_t = 900)]
    converge_timeout: u64,
    /// Concurrency levels of the floor calibration.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1,2,4,8,16,32,64,128,256"
    )]
    floor_levels: Vec<usize>,
    /// Seconds per floor level.
    #[arg(long, default_value_t = 4.0)]
    floor_seconds: f64,
    /// Documents created for each level of the delete floor (each is deleted once; a level ends early when they
    /// run out).
    #[arg(long, default_value_t = 2000)]
    delete_floor_pool: usize,
    /// Skip the restart check (the contender restarted once converged; what it writes then is counted).
    #[arg(long)]
    skip_restart: bool,
    /// After steady churn, ramp the churn rate through `--capacity-rates` to find the highest rate whose p99
    /// stays within 1 s with no update lost.
    #[arg(long)]
    capacity: bool,
    /// Churn rates of the ramp, updates/s, rising.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "100,200,400,600,800,1000,1200,1600,2000,2400"
    )]
    capacity_rates: Vec<f64>,
    /// Seconds per ramp level.
    #[arg(long, default_value_t = 10.0)]
    capacity_seconds: f64,
    /// Stop each run after the cold start and the restart check: no churn, no deletion (for N = 100000, where
    /// deleting the Documents would take as long as creating them and no goal is measured there).
    #[arg(long)]
    cold_start_only: bool,
    /// Skip the floor calibration.
    #[arg(long)]
    skip_floor: bool,
    /// Skip the kubewhy CLI timings.
    #[arg(long)]
    skip_tools: bool,
    /// Size of the generated log for `kubewhy explain`, bytes.
    #[arg(long, default_value_t = 1_000_000_000)]
    explain_bytes: u64,
    /// The Document CRD (default: deploy/crd.yaml, else `doc-controller crdgen`).
    #[arg(long, value_name = "FILE")]
    crd: Option<PathBuf>,
    /// Where results and logs go (default: target/bench).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Run the scale-out scenario instead: doc-controller replicas sharing the Documents (`run --shards auto`)
    /// against one leader-elected replica, per `--n`, `--replicas` and `--simulated-work-ms` (see
    /// src/scaleout.rs); results in scaleout.{md,json}.
    #[arg(long)]
    scale_out: bool,
    /// Scale-out: numbers of sharing replicas.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4")]
    replicas: Vec<usize>,
    /// Scale-out: milliseconds each reconcile waits on a simulated slow dependency (doc-controller's
    /// `--simulated-work-ms` benchmark knob); 0 is the real reconcile alone.
    #[arg(long, value_delimiter = ',', default_value = "0,50")]
    simulated_work_ms: Vec<u64>,
    /// Scale-out: who filters the sharded replicas' watch, `auto` (the API server, whose ShardedListAndWatch gate
    /// the scenario turns on) and/or `client`.
    #[arg(long, value_delimiter = ',', default_value = "auto")]
    shard_filters: Vec<String>,
    /// Scale-out: this doc-controller binary instead of a snapshot of `target/release/doc-controller`.
    #[arg(long, value_name = "PATH")]
    doc_controller: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("doc-bench: some runs failed a correctness gate; see the report");
            ExitCode::from(1)
        }
        Err(e) => {
            // The cargo way, as every binary of the workspace: `error:` and each cause once under `Caused by:`.
            let color = kubewhy::render::ColorChoice::Auto.colors(std::io::stderr().is_terminal());
            kubewhy::render::chain::eprint_error(e.as_ref(), color);
            ExitCode::from(2)
        }
    }
}

/// The scale-out scenario alone (`--scale-out`); every setup must converge.
async fn scale_out(args: &Args, root: &std::path::Path) -> Result<bool> {
    anyhow::ensure!(
        args.replicas.iter().all(|r| *r > 0),
        "--replicas values must be positive"
    );
    for filter in &args.shard_filters {
        anyhow::ensure!(
            filter == "auto" || filter == "client",
            "--shard-filters takes `auto` and/or `client`, not `{filter}`"
        );
    }
    let out = args.out.clone().unwrap_or_else(|| peer::output_dir(root));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let crd = CrdSource::find(root, args.crd.as_deref())?;
    let mut ok = true;
    for &n in &args.n {
        let plan = scaleout::Plan {
            n,
            replicas: args.replicas.clone(),
            work_ms: args.simulated_work_ms.clone(),
            filters: args.shard_filters.clone(),
            concurrency: 8,
            content_bytes: args.content_bytes,
            converge_timeout: Duration::from_secs(args.converge_timeout),
        };
        let runs = scaleout::run(root, args.doc_controller.as_deref(), &out, &crd, &plan).await?;
        println!("{}", scaleout::markdown(&plan, &runs));
        ok &= runs.iter().all(|r| r.error.is_none());
    }
    eprintln!(
        "doc-bench: results in {}",
        out.join("scaleout-n<N>.{md,json}").display()
    );
    Ok(ok)
}

async fn run(mut args: Args) -> Result<bool> {
    let root = kubewhy_testenv::binary::workspace_root();
    if args.smoke {
        args.n = vec![20];
        args.runs = 1;
        args.churn_rate = 10.0;
        args.churn_seconds = 2.0;
        args.floor_levels = vec![1, 4];
        args.floor_seconds = 0.5;
        args.delete_floor_pool = 20;
        args.capacity_rates = vec![20.0, 40.0];
        args.capacity_seconds = 1.0;
        args.explain_bytes = 4_000_000;
        if args.contenders.is_empty() {
            args.contenders = vec!["cr-tuned".into()];
        }
        args.replicas = vec![2];
        args.simulated_work_ms = vec![20];
    }
    if args.scale_out {
        return scale_out(&args, &root).await;
    }
    if args.contenders.is_empty() {
        args.contenders = contender::BUILTIN
            .iter()
            .filter(|name| **name != contender::CONTROLLER_RS || args.controller_rs.is_some())
            .map(|s| s.to_string())
            .collect();
    }
    anyhow::ensure!(args.runs > 0, "--runs must be at least 1");
    anyhow::ensure!(args.n.iter().all(|n| *n > 0), "--n values must be positive");
    anyhow::ensure!(args.churn_rate > 0.0, "--churn-rate must be positive");
    let out = args.out.clone().unwrap_or_else(|| peer::output_dir(&root));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    let contenders: Vec<Contender> = args
        .contenders
        .iter()
        .map(|s| Contender::parse(s, &root, args.controller_rs.as_deref()))
        .collect::<Result<_>>()?;
    if contenders.iter().any(Contender::is_peer) {
        tokio::task::spawn_blocking({
            let root = root.clone();
            move || peer::ensure_built(&root)
        })
        .await
        .context("the peer build panicked")??;
    }
    for c in &contenders {
        c.check_ready(&root, args.controller_rs.as_deref())
            .with_context(|| format!("contender {} is not ready", c.name))?;
    }
    let crd = CrdSource::find(&root, args.crd.as_deref())?;
    // Build (or find) the control plane once, before anything is timed.
    tokio::task::spawn_blocking(kubewhy_testenv::binary::ensure_built)
        .await
        .context("the build panicked")??;

    let mut results = Results {
        command: std::env::args().collect::<Vec<_>>().join(" "),
        started_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        smoke: args.smoke,
        machine: procstat::machine()?,
        server_version: kubewhy_testenv::binary::KUBERNETES_VERSION.to_string(),
        apiserver_args: cluster::APISERVER_ARGS
            .iter()
            .map(|s| s.to_string())
            .collect(),
        crd: crd.describe(),
        contenders: contenders.clone(),
        content_bytes: args.content_bytes,
        churn_rate: args.churn_rate,
        churn_seconds: args.churn_seconds,
        floor: None,
        floor_error: None,
        delete_floor: None,
        delete_floor_error: None,
        runs: Vec::new(),
        explain: None,
        explain_error: None,
        check: None,
        check_error: None,
    };

    // The floor, and `kubewhy check` on the same control plane.
    if !args.skip_floor || !args.skip_tools {
        let cp = tokio::task::spawn_blocking(cluster::start_control_plane)
            .await
            .context("start panicked")??;
        let client = cp.admin().await.context("an admin client")?;
        if !args.skip_floor {
            for mix in [calibrate::Mix::Converge, calibrate::Mix::Delete] {
                let floor = async {
                    cluster::install_crd(&client, &crd).await?;
                    let ns = cp
                        .namespace(match mix {
                            calibrate::Mix::Converge => "floor",
                            calibrate::Mix::Delete => "delete-floor",
                        })
                        .await
                        .context("creating the floor namespace")?;
                    let plan = calibrate::Plan {
                        mix,
                        levels: args.floor_levels.clone(),
                        level_time: Duration::from_secs_f64(args.floor_seconds),
                        pool: match mix {
                            calibrate::Mix::Converge if args.smoke => 16,
                            calibrate::Mix::Converge => 1024,
                            calibrate::Mix::Delete => args.delete_floor_pool,
                        },
                    };
                    calibrate::run(&client, &ns, cp.pid(), &plan).await
                }
                .await;
                let (slot, error) = match mix {
                    calibrate::Mix::Converge => (&mut results.floor, &mut results.floor_error),
                    calibrate::Mix::Delete => {
                        (&mut results.delete_floor, &mut results.delete_floor_error)
                    }
                };
                match floor {
                    Ok(f) => {
                        eprintln!("doc-bench: {mix:?} floor: W = {:.0} writes/s", f.w);
                        *slot = Some(f);
                    }
                    Err(e) => {
                        eprintln!("doc-bench: the {mix:?} floor calibration failed: {e:#}");
                        *error = Some(format!("{e:#}"));
                    }
                }
            }
        }
        if !args.skip_tools {
            match tools::check(&root, &out, &cp).await {
                Ok(c) => results.check = Some(c),
                Err(e) => {
                    eprintln!("doc-bench: timing `kubewhy check` failed: {e:#}");
                    results.check_error = Some(format!("{e:#}"));
                }
            }
        }
    }
    if !args.skip_tools {
        let (root, out, bytes) = (root.clone(), out.clone(), args.explain_bytes);
        match tokio::task::spawn_blocking(move || tools::explain(&root, &out, bytes, 3)).await? {
            Ok(e) => results.explain = Some(e),
            Err(e) => {
                eprintln!("doc-bench: timing `kubewhy explain` failed: {e:#}");
                results.explain_error = Some(format!("{e:#}"));
            }
        }
    }
    report::write(&results, &out)?;

    for &n in &args.n {
        let plan = scenario::Plan {
            n,
            content_bytes: args.content_bytes,
            churn_rate: args.churn_rate,
            churn_time: Duration::from_secs_f64(args.churn_seconds),
            converge_timeout: Duration::from_secs(args.converge_timeout),
            delete_timeout: Duration::from_secs(args.converge_timeout),
            restart: !args.skip_restart,
            capacity: args.capacity.then(|| {
                (
                    args.capacity_rates.clone(),
                    Duration::from_secs_f64(args.capacity_seconds),
                )
            }),
            cold_start_only: args.cold_start_only,
        };
        for run in 0..args.runs {
            // Alternate: run r starts with contender r (mod the count), so no contender always goes first.
            let k = contenders.len();
            for c in (0..k).map(|i| &contenders[(i + run) % k]) {
                let log = out
                    .join("logs")
                    .join(format!("{}-n{}-run{}.log", c.name, n, run));
                eprintln!(
                    "doc-bench: N={n} run {}/{}: {} ...",
                    run + 1,
                    args.runs,
                    c.name
                );
                let r = scenario::run(c, &plan, &crd, run, &log).await;
                eprintln!(
                    "doc-bench:   converged in {} s, peak RSS {} MiB, {} requests/doc, churn p99 {} ms, delete {} s{}",
                    r.t_converge_s
                        .map(|t| format!("{t:.2}"))
                        .unwrap_or("–".into()),
                    r.peak_rss
                        .map(|b| format!("{:.1}", b as f64 / 1048576.0))
                        .unwrap_or("–".into()),
                    r.api
                        .as_ref()
                        .map(|a| format!("{:.2}", a.total / n as f64))
                        .unwrap_or("–".into()),
                    r.churn
                        .as_ref()
                        .and_then(|c| c.p99_ms)
                        .map(|t| format!("{t:.0}"))
                        .unwrap_or("–".into()),
                    r.t_delete_s
                        .map(|t| format!("{t:.1}"))
                        .unwrap_or("–".into()),
                    r.error
                        .as_ref()
                        .map(|e| format!("; FAILED: {e}"))
                        .unwrap_or_default()
                );
                results.runs.push(r);
                report::write(&results, &out)?;
            }
        }
    }
    let md = report::markdown(&results);
    println!("{md}");
    eprintln!(
        "doc-bench: results in {} and {}",
        out.join("results.md").display(),
        out.join("results.json").display()
    );
    Ok(results
        .runs
        .iter()
        .all(|r| r.error.is_none() && r.gates.passed()))
}
