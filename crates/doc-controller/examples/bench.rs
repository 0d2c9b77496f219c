//! Reconcile throughput and memory (RSS) of doc-controller with 1,000 Documents on the local control plane.
//!
//! ```text
//! cargo run --release -p doc-controller --example bench -- [--documents 1000] [--concurrency 8]
//! ```
//!
//! It starts a private control plane, runs the release `doc-controller` binary (building it when missing) for one
//! namespace, and measures three phases, printing the figures (this is a measurement, not a test: nothing fails on
//! a slow machine):
//!
//! 1. *create*: N Documents are created (every third published as a ConfigMap, every fifth hidden); time until all
//!    are Ready, the reconciles that took, reconciles per second;
//! 2. *update*: every Document's title changes; time until all are Ready for their new generation;
//! 3. *restart*: a fresh controller process starts with N up-to-date Documents; time until it has reconciled each
//!    once (no-op reconciles: no request is sent), and its memory.
//!
//! Memory is the controller process's RSS (`VmRSS`) and peak RSS (`VmHWM`) from `/proc/<pid>/status`.

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use doc_controller::telemetry::one_line;
use doc_controller::{Document, DocumentSpec};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use kubewhy_testenv::{ControlPlane, Options};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;

struct Args {
    documents: usize,
    concurrency: u16,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        documents: 1000,
        concurrency: 8,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--documents" => {
                args.documents = value()?.parse().map_err(|e| format!("--documents: {e}"))?
            }
            "--concurrency" => {
                args.concurrency = value()?
                    .parse()
                    .map_err(|e| format!("--concurrency: {e}"))?
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?} (expected --documents N, --concurrency N)"
                ));
            }
        }
    }
    Ok(args)
}

fn main() {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Runtime::new().expect("starting the async runtime");
    if let Err(e) = runtime.block_on(bench(args)) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// The release doc-controller next to this example (`target/release/examples/bench` → `target/release/`).
fn controller_binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("locating the bench binary: {e}"))?;
    let profile = exe
        .parent()
        .and_then(|examples| examples.parent())
        .ok_or("unexpected bench location")?;
    let bin = profile.join("doc-controller");
    let release = profile.file_name().is_some_and(|n| n == "release");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build.args(["build", "-p", "doc-controller", "--bin", "doc-controller"]);
    if release {
        build.arg("--release");
    } else {
        eprintln!(
            "warning: the bench is not a release build; run it with `cargo run --release` for real figures"
        );
    }
    let status = build
        .status()
        .map_err(|e| format!("running cargo build: {e}"))?;
    if !status.success() || !bin.is_file() {
        return Err(format!("building {} failed ({status})", bin.display()));
    }
    Ok(bin)
}

struct Controller {
    child: Child,
    port: u16,
}

impl Controller {
    fn start(
        bin: &PathBuf,
        kubeconfig: &std::path::Path,
        ns: &str,
        concurrency: u16,
    ) -> Controller {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(bin)
            .args(["run", "--namespace", ns, "--resync", "1h", "--kubeconfig"])
            .arg(kubeconfig)
            .args([
                "--http-addr",
                &format!("127.0.0.1:{port}"),
                "--concurrency",
                &concurrency.to_string(),
            ])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("starting doc-controller");
        Controller { child, port }
    }

    async fn metric(&self, sample: &str) -> f64 {
        let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await else {
            return 0.0;
        };
        if s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").await.is_err() {
            return 0.0;
        }
        let mut body = String::new();
        if s.read_to_string(&mut body).await.is_err() {
            return 0.0;
        }
        body.lines()
            .find_map(|l| {
                l.strip_prefix(sample)?
                    .strip_prefix(' ')?
                    .trim()
                    .parse()
                    .ok()
            })
            .unwrap_or(0.0)
    }

    async fn reconciles(&self) -> f64 {
        self.metric("doc_controller_reconciles_total{result=\"success\"}")
            .await
            + self
                .metric("doc_controller_reconciles_total{result=\"error\"}")
                .await
    }

    /// (RSS, peak RSS) in MiB.
    fn memory(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let kib = |key: &str| -> f64 {
            status
                .lines()
                .find_map(|l| {
                    l.strip_prefix(key)?
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<f64>()
                        .ok()
                })
                .unwrap_or(0.0)
        };
        (kib("VmRSS:") / 1024.0, kib("VmHWM:") / 1024.0)
    }

    async fn stop(mut self) {
        // SIGTERM for a graceful stop; the exit status does not matter to the measurement.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Still running after 30 s: kill it; an error means it exited meanwhile.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `n` Documents satisfy `done`, watching them (cheaper than listing repeatedly).
async fn wait_all(
    client: &Client,
    ns: &str,
    n: usize,
    done: impl Fn(&Document) -> bool,
) -> Result<(), String> {
    let api: Api<Document> = Api::namespaced(client.clone(), ns);
    let mut seen = HashSet::new();
    let mut events = watcher(api, watcher::Config::default())
        .applied_objects()
        .boxed();
    let deadline = tokio::time::sleep(Duration::from_secs(600));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            () = &mut deadline => return Err(format!("only {} of {n} Documents done after 10 minutes", seen.len())),
            event = events.try_next() => match event {
                Ok(Some(doc)) => {
                    if done(&doc) {
                        seen.insert(doc.name_any());
                    } else {
                        seen.remove(&doc.name_any());
                    }
                    if seen.len() >= n {
                        return Ok(());
                    }
                }
                Ok(None) => return Err("the watch ended".into()),
                Err(e) => return Err(format!("watching Documents: {e}")),
            },
        }
    }
}

async fn bench(args: Args) -> Result<(), String> {
    let n = args.documents;
    let bin = controller_binary()?;
    let cp = tokio::task::spawn_blocking(|| ControlPlane::start(Options::default()))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| one_line(&e))?;
    let admin = cp.admin().await.map_err(|e| one_line(&e))?;
    let crds: Api<CustomResourceDefinition> = Api::all(admin.clone());
    crds.patch(
        "documents.kube.rs",
        &PatchParams::apply("bench").force(),
        &Patch::Apply(Document::crd_with_labels()),
    )
    .await
    .map_err(|e| format!("installing the CRD: {e}"))?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let ns = cp.namespace("bench").await.map_err(|e| one_line(&e))?;
    println!(
        "doc-controller bench: {n} Documents, --concurrency {}, kube-apiserver {} on this machine ({} CPUs)",
        args.concurrency,
        cp.state().version,
        std::thread::available_parallelism()
            .map(|p| p.get())
            .unwrap_or(0)
    );

    // Phase 1: create.
    let controller = Controller::start(&bin, cp.kubeconfig(), &ns, args.concurrency);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (idle_rss, _) = controller.memory();
    let api: Api<Document> = Api::namespaced(admin.clone(), &ns);
    let before = controller.reconciles().await;
    let started = Instant::now();
    let limit = Arc::new(Semaphore::new(16));
    let mut creates = Vec::new();
    for i in 0..n {
        let (api, limit) = (api.clone(), limit.clone());
        creates.push(tokio::spawn(async move {
            let _permit = limit.acquire().await;
            let doc = Document::new(
                &format!("doc-{i:05}"),
                DocumentSpec {
                    title: format!("Document {i}"),
                    content: "lorem ipsum ".repeat(20),
                    hide: i % 5 == 0,
                    publish: i % 3 == 0,
                },
            );
            api.create(&PostParams::default(), &doc).await.map(|_| ())
        }));
    }
    for c in creates {
        c.await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("creating a Document: {e}"))?;
    }
    let created = started.elapsed();
    wait_all(&admin, &ns, n, |d| d.is_ready()).await?;
    let converged = started.elapsed();
    let reconciles = controller.reconciles().await - before;
    let (rss, peak) = controller.memory();
    println!(
        "create : {n} created in {:.2}s, all Ready after {:.2}s: {reconciles:.0} reconciles, {:.0} reconciles/s, {:.0} Documents/s; RSS {rss:.1} MiB (idle before: {idle_rss:.1} MiB, peak {peak:.1} MiB)",
        created.as_secs_f64(),
        converged.as_secs_f64(),
        reconciles / converged.as_secs_f64(),
        n as f64 / converged.as_secs_f64(),
    );

    // Phase 2: update every title.
    let before = controller.reconciles().await;
    let started = Instant::now();
    let mut patches = Vec::new();
    for i in 0..n {
        let (api, limit) = (api.clone(), limit.clone());
        patches.push(tokio::spawn(async move {
            let _permit = limit.acquire().await;
            let patch =
                serde_json::json!({ "spec": { "title": format!("Document {i}, revised") } });
            api.patch(
                &format!("doc-{i:05}"),
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await
            .map(|_| ())
        }));
    }
    for p in patches {
        p.await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("updating a Document: {e}"))?;
    }
    wait_all(&admin, &ns, n, |d| {
        d.is_ready() && d.spec.title.ends_with("revised")
    })
    .await?;
    let converged = started.elapsed();
    let reconciles = controller.reconciles().await - before;
    let (rss, peak) = controller.memory();
    println!(
        "update : all Ready for their new generation after {:.2}s: {reconciles:.0} reconciles, {:.0} reconciles/s; RSS {rss:.1} MiB (peak {peak:.1} MiB)",
        converged.as_secs_f64(),
        reconciles / converged.as_secs_f64(),
    );
    controller.stop().await;

    // Phase 3: restart with N up-to-date Documents (every reconcile is a no-op).
    let started = Instant::now();
    let controller = Controller::start(&bin, cp.kubeconfig(), &ns, args.concurrency);
    let deadline = Instant::now() + Duration::from_secs(600);
    while controller.reconciles().await < n as f64 {
        if Instant::now() > deadline {
            return Err(
                "the restarted controller did not reconcile every Document within 10 minutes"
                    .into(),
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = started.elapsed();
    let (rss, peak) = controller.memory();
    println!(
        "restart: start-up, initial list and {n} no-op reconciles in {:.2}s ({:.0} reconciles/s including start-up); RSS {rss:.1} MiB (peak {peak:.1} MiB)",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (rss, peak) = controller.memory();
    println!(
        "steady : RSS {rss:.1} MiB (peak {peak:.1} MiB) holding {n} Documents and their ConfigMaps"
    );
    controller.stop().await;
    Ok(())
}
