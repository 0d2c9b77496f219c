//! Peak memory of the initial sync of N Documents (default 10,000), streamed versus listed in pages.
//!
//! ```text
//! cargo run --release -p doc-controller --example initial_list -- [--documents 10000] [--rounds 3]
//! ```
//!
//! It starts a private control plane, creates N Documents (about 1 KB each), then, for each strategy and round,
//! starts a fresh process of itself that does what doc-controller's Documents watcher does at start — kubewhy's
//! watcher with `--initial-list stream` or `paged`, trimmed and reflected into a store — until the initial list is
//! complete, and reports that process's peak RSS (`VmHWM` from `/proc/self/status`) and how long the sync took.
//! One process per measurement: peak RSS is a process's, and an allocator does not give memory back. This is a
//! measurement, not a test: it prints figures and fails only when something does not work.

use std::process::Command;
use std::time::{Duration, Instant};

use doc_controller::{Document, DocumentSpec};
use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, PostParams};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kubewhy::watch::{Health, InitialList, Policy, Watch};

const CHILD_ENV: &str = "DOC_CONTROLLER_INITIAL_LIST_CHILD";

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The child: one initial sync with one strategy, then `hwm_kib secs objects` on stdout.
async fn child(kubeconfig: &str, namespace: &str, initial: InitialList) -> anyhow::Result<()> {
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(kubeconfig)?,
        &Default::default(),
    )
    .await?;
    let client = kube::Client::try_from(config)?;
    let health = Health::new(Policy::in_cluster());
    let (store, writer) = reflector::store::<Document>();
    let started = Instant::now();
    let mut events = Watch::new("documents.kube.rs", &health)
        .watcher(
            Api::<Document>::namespaced(client, namespace),
            watcher::Config::default().any_semantic(),
            initial,
        )
        .modify(|d: &mut Document| d.metadata.managed_fields = None)
        .reflect(writer)
        .boxed();
    while let Some(event) = events.try_next().await? {
        if matches!(event, watcher::Event::InitDone) {
            break;
        }
    }
    println!(
        "{} {:.3} {}",
        vm_hwm_kib(),
        started.elapsed().as_secs_f64(),
        store.len()
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        let mut parts = spec.splitn(3, ' ');
        let (Some(strategy), Some(ns), Some(kubeconfig)) =
            (parts.next(), parts.next(), parts.next())
        else {
            anyhow::bail!("{CHILD_ENV} must be `<strategy> <namespace> <kubeconfig>`");
        };
        let initial: InitialList = strategy.parse().map_err(anyhow::Error::msg)?;
        return runtime.block_on(child(kubeconfig, ns, initial));
    }
    let documents = arg("--documents", 10_000);
    let rounds = arg("--rounds", 3);
    let cp =
        kubewhy_testenv::controlplane::ControlPlane::start(kubewhy_testenv::Options::default())?;
    let ns = runtime.block_on(async {
        let admin = cp.admin().await?;
        let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
            Api::all(admin.clone());
        crds.create(&PostParams::default(), &Document::crd_with_labels())
            .await?;
        kubewhy_testenv::crd::wait_established(&admin, "documents.kube.rs", Duration::from_secs(60))
            .await?;
        let ns = cp.namespace("initial-list").await?;
        let api: Api<Document> = Api::namespaced(admin, &ns);
        let started = Instant::now();
        let content = "lorem ipsum dolor sit amet ".repeat(36); // about 1 KB
        let docs: Vec<Document> = (0..documents)
            .map(|i| {
                Document::new(
                    &format!("d{i:05}"),
                    DocumentSpec {
                        title: format!("Document {i}"),
                        content: content.clone(),
                        hide: false,
                        publish: false,
                    },
                )
            })
            .collect();
        let post = PostParams::default();
        for chunk in docs.chunks(64) {
            futures::future::try_join_all(chunk.iter().map(|d| api.create(&post, d))).await?;
        }
        println!(
            "created {documents} Documents in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        anyhow::Ok(ns)
    })?;
    let exe = std::env::current_exe()?;
    println!(
        "strategy   peak RSS (MiB)   sync (s)   objects   [{rounds} rounds, load {}]",
        load()
    );
    for strategy in ["stream", "paged"] {
        let mut rss = Vec::new();
        let mut secs = Vec::new();
        for _ in 0..rounds {
            let out = Command::new(&exe)
                .env(
                    CHILD_ENV,
                    format!("{strategy} {ns} {}", cp.kubeconfig().display()),
                )
                .output()?;
            anyhow::ensure!(
                out.status.success(),
                "the {strategy} sync failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let line = String::from_utf8_lossy(&out.stdout);
            let mut f = line.split_whitespace();
            let hwm: f64 = f.next().unwrap_or("0").parse()?;
            let s: f64 = f.next().unwrap_or("0").parse()?;
            let n: usize = f.next().unwrap_or("0").parse()?;
            anyhow::ensure!(n == documents, "{strategy}: synced {n} of {documents}");
            rss.push(hwm / 1024.0);
            secs.push(s);
        }
        rss.sort_by(f64::total_cmp);
        secs.sort_by(f64::total_cmp);
        println!(
            "{strategy:<10} {:>8.1} (median; {:.1}-{:.1})   {:>6.2}     {documents}",
            rss[rss.len() / 2],
            rss[0],
            rss[rss.len() - 1],
            secs[secs.len() / 2]
        );
    }
    Ok(())
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}
