//! How long `kubewhy explain deploy/x` takes, and how much memory it holds, for a 20-pod Deployment with 10 MiB of
//! log per container (issue 23: "within a few seconds, memory bounded"), on the local control plane with its
//! workload controllers and KWOK playing the node: every byte goes API server → KWOK's kubelet endpoint → API
//! server → kubewhy, as `kubectl logs` reads it.
//!
//! Run: `cargo bench -p kubewhy-cli --bench workload` (the release build of `kubewhy`). Prints, for each of a few
//! runs: the wall time, the peak resident memory (`/usr/bin/time`'s maximum RSS), and the bytes of log read (the
//! report's own count) — beside `kubectl logs` of one pod, for scale. Set `KUBEWHY_CONTROLPLANE` to a state
//! directory of `kubewhy-dev up --kwok` to reuse a running one.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use kubewhy_testenv::kwok::{self, LogFiles};

const KUBEWHY: &str = env!("CARGO_BIN_EXE_kubewhy");
const PODS: usize = 20;
const LOG_BYTES: u64 = 10 << 20;
const RUNS: usize = 3;

/// 10 MiB of a controller's log: klog lines of routine work, with a denial every 2000 lines and a timeout every
/// 5000 (both real client-go shapes).
fn log_lines(ns: &str) -> Vec<String> {
    let denied = format!(
        r#"E0101 00:00:00.000000       1 reflector.go:166] "Unhandled Error" err="failed to list *v1.Secret: secrets is forbidden: User \"system:serviceaccount:{ns}:big\" cannot list resource \"secrets\" in API group \"\" in the namespace \"{ns}\"" logger="UnhandledError""#
    );
    let timeout = r#"E0101 00:00:00.000000       1 reflector.go:166] "Failed to watch" err="failed to list *v1.Node: Get \"https://10.96.0.1:443/api/v1/nodes?limit=500&resourceVersion=0\": net/http: TLS handshake timeout" type="*v1.Node""#;
    let mut lines = Vec::new();
    let mut bytes = 0u64;
    let mut i = 0u64;
    while bytes < LOG_BYTES {
        let line = if i % 2000 == 1999 {
            denied.clone()
        } else if i % 5000 == 4999 {
            timeout.to_string()
        } else {
            format!(
                "I0101 00:00:{:02}.{:06}       1 controller.go:{}] \"Reconciled object\" object=\"{ns}/item-{i}\" duration=\"{}ms\" generation={}",
                i % 60,
                i % 1_000_000,
                100 + i % 400,
                i % 97,
                i % 13
            )
        };
        bytes += line.len() as u64 + 1;
        lines.push(line);
        i += 1;
    }
    lines
}

fn main() {
    let env = kubewhy_testenv::shared_with_kwok();
    let cp = &env.control_plane;
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let ns = runtime
        .block_on(cp.namespace("bench-workload"))
        .expect("a namespace");
    let admin = runtime.block_on(cp.admin()).expect("an admin client");

    let file = kubewhy_testenv::scratch_path(&format!("{ns}-big.log"));
    let written = kwok::write_cri_log(
        &file,
        log_lines(&ns),
        SystemTime::now() - Duration::from_secs(600),
        Duration::from_micros(5),
    )
    .expect("writing the log");
    let on_disk = std::fs::metadata(&file).expect("the log").len();
    runtime
        .block_on(kwok::serve_namespace_logs(
            &admin,
            &ns,
            &ns,
            &[LogFiles {
                containers: vec![],
                file: file.clone(),
                previous: None,
            }],
        ))
        .expect("serving the logs");
    let manifest = format!(
        r#"{{"apiVersion": "v1", "kind": "List", "items": [
  {{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {{"name": "big", "namespace": "{ns}"}}}},
  {{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {{"name": "big", "namespace": "{ns}"}},
   "spec": {{"replicas": {PODS}, "selector": {{"matchLabels": {{"app": "big"}}}},
     "template": {{"metadata": {{"labels": {{"app": "big"}}}},
       "spec": {{"serviceAccountName": "big", "containers": [{{"name": "app", "image": "example.com/big:1"}}]}}}}}}}}
]}}"#
    );
    let (ok, out, err) = cp
        .kubectl_with(cp.kubeconfig(), &["apply", "-f", "-"], Some(&manifest))
        .expect("kubectl");
    assert!(ok, "{out}{err}");
    let pods: Api<Pod> = Api::namespaced(admin, &ns);
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let list = runtime
            .block_on(pods.list(&ListParams::default().labels("app=big")))
            .expect("listing pods");
        let running = list
            .items
            .iter()
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            .count();
        if running == PODS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{running} of {PODS} pods run after 180 s"
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // The load is context for the figures, not one of them: unreadable, it is said so.
    let load = match std::fs::read_to_string("/proc/loadavg") {
        Ok(l) => l.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        Err(e) => format!("unknown (/proc/loadavg: {e})"),
    };
    println!(
        "workload: deployment/big, {PODS} pods × 1 container, {:.1} MiB of log text each ({:.1} MiB in the kubelet's CRI file); load average {}",
        written as f64 / (1 << 20) as f64,
        on_disk as f64 / (1 << 20) as f64,
        load
    );
    let one_pod = runtime
        .block_on(pods.list(&ListParams::default().labels("app=big").limit(1)))
        .expect("a pod")
        .items[0]
        .metadata
        .name
        .clone()
        .unwrap_or_default();
    let started = Instant::now();
    let kubectl = Command::new("kubectl")
        .args(["--kubeconfig"])
        .arg(cp.kubeconfig())
        .args(["logs", "-n", &ns, &one_pod])
        .stdout(Stdio::null())
        .status()
        .expect("kubectl logs");
    assert!(kubectl.success());
    println!(
        "  kubectl logs of one pod (for scale): {:.2} s",
        started.elapsed().as_secs_f64()
    );
    for run in 1..=RUNS {
        let (wall, rss_kib, report) = measure(cp.kubeconfig(), &ns);
        let read = report
            .lines()
            .find(|l| l.starts_with("read: "))
            .unwrap_or("(no read line)")
            .to_string();
        let found = report
            .lines()
            .filter(|l| l.starts_with("error[") || l.starts_with("warning["))
            .count();
        println!(
            "  run {run}: {wall:.2} s wall, peak RSS {:.1} MiB, {found} distinct failures; {read}",
            rss_kib as f64 / 1024.0
        );
    }
}

/// Runs `kubewhy explain deploy/big` under `/usr/bin/time`: wall seconds, peak RSS (KiB), the report.
fn measure(kubeconfig: &Path, ns: &str) -> (f64, u64, String) {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%e %M"])
        .arg(KUBEWHY)
        .args(["explain", "deploy/big", "-n", ns])
        .env("KUBECONFIG", kubeconfig)
        .env("NO_COLOR", "1")
        .output()
        .expect("running kubewhy under /usr/bin/time");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // No line at all fails below, with the whole of stderr.
    let last = stderr.lines().last().unwrap_or_default();
    let mut figures = last.split_whitespace();
    let wall: f64 = figures
        .next()
        .and_then(|w| w.parse().ok())
        .unwrap_or_else(|| panic!("no wall time in {stderr}"));
    let rss: u64 = figures
        .next()
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no RSS in {stderr}"));
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "kubewhy found nothing?\n{report}\n{stderr}"
    );
    (wall, rss, report)
}
