//! Throughput of the `kubewhy explain` scanner on one core: a large, realistic log (kube-rs tracing lines,
//! client-go klog lines, controller-runtime JSON, kubectl output) that is mostly noise with a sprinkling of
//! failures in every format, read through `Scanner::read` as the CLI reads a file. Prints MB/s.
//!
//! Run: `cargo bench -p kubewhy --bench explain` (set `KUBEWHY_BENCH_MB` to change the log size, default 256).

use std::time::Instant;

use kubewhy::scan::Scanner;

/// Ordinary lines of a controller's and its neighbours' logs.
const NOISE: &[&str] = &[
    r#"2026-07-01T10:00:00.123456Z  INFO reconciling object{object.ref=Document.v1.kube.rs/hello.docs object.reason=object updated}: doc_controller::reconcile: title="Hello" published=true"#,
    r#"2026-07-01T10:00:00.123999Z DEBUG HTTP{http.method=PATCH http.url=https://10.96.0.1/apis/kube.rs/v1/namespaces/docs/documents/hello/status?&fieldManager=doc-controller otel.name="patch_status" otel.kind="client"}: kube_client::client::builder: requesting"#,
    r#"2026-07-01T10:00:00.124500Z DEBUG HTTP{http.method=PATCH http.url=https://10.96.0.1/apis/kube.rs/v1/namespaces/docs/documents/hello/status?&fieldManager=doc-controller otel.name="patch_status" otel.kind="client" http.status_code=200}: tower_http::trace::on_response: finished processing request latency=3 ms status=200"#,
    r#"I0701 10:00:00.125000       1 shared_informer.go:320] Caches are synced for endpoint slice config"#,
    r#"I0701 10:00:00.125100       1 round_trippers.go:553] GET https://10.96.0.1:443/api/v1/namespaces/kube-system/pods?limit=500 200 OK in 4 milliseconds"#,
    r#"{"level":"info","ts":"2026-07-01T10:00:00.126Z","logger":"controller.document","msg":"Reconciling","reconcileID":"8d1f4c0e-0b7a-4d3e-9f1e-2a3b4c5d6e7f","namespace":"docs","name":"hello"}"#,
    r#"{"level":"debug","ts":"2026-07-01T10:00:00.127Z","logger":"events","msg":"Normal","object":{"kind":"Document","namespace":"docs","name":"hello"},"reason":"Published","message":"Document hello was published"}"#,
    r#"2026-07-01T10:00:00.128Z  INFO doc_controller::metrics: serving /metrics on 0.0.0.0:8080 reconciles_total=18234 failures_total=0"#,
    r#"deployment.apps/web configured"#,
    r#"2026-07-01T10:00:00.129Z DEBUG kube_runtime::controller: applier: processing object key=Document.v1.kube.rs/hello.docs queue_len=3"#,
];

/// Failures in every format (about 1 in 200 lines).
const FAILURES: &[&str] = &[
    r#"2026-07-01T10:00:01Z  WARN kube_runtime::watcher: watcher error 403: Api(Status { status: Some(Failure), code: 403, message: "documents.kube.rs is forbidden: User \"system:serviceaccount:docs:doc-controller\" cannot watch resource \"documents\" in API group \"kube.rs\" at the cluster scope", metadata: Some(ListMeta { continue_: None, remaining_item_count: None, resource_version: None, self_link: None }), reason: "Forbidden", details: Some(StatusDetails { name: "", group: "kube.rs", kind: "documents", uid: "", causes: [], retry_after_seconds: 0 }) })"#,
    r#"E0701 10:00:01.000000       1 reflector.go:166] "Failed to watch" err="failed to list *v1.Pod: pods is forbidden: User \"system:serviceaccount:monitoring:agent\" cannot list resource \"pods\" in API group \"\" at the cluster scope" logger="UnhandledError" reflector="k8s.io/client-go/informers/factory.go:160" type="*v1.Pod""#,
    r#"Error from server (NotFound): namespaces "staging" not found"#,
    r#"{"level":"error","ts":"2026-07-01T10:00:01Z","logger":"controller-runtime.source.EventHandler","msg":"if kind is a CRD, it should be installed before calling Start","kind":"Document.kube.rs","error":"no matches for kind \"Document\" in version \"kube.rs/v1\""}"#,
    r#"2026-07-01T10:00:01Z DEBUG kube_runtime::watcher: watcher error: WatchError(Status { status: Some(Failure), code: 410, message: "too old resource version: 1234 (5678)", metadata: None, reason: "Expired", details: None })"#,
];

fn generate(bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes + 4096);
    let mut i: usize = 0;
    while out.len() < bytes {
        // A cheap deterministic mix: noise with a failure every 200 lines.
        let line = if i % 200 == 199 {
            FAILURES[(i / 200) % FAILURES.len()]
        } else {
            NOISE[(i * 7 + i / 13) % NOISE.len()]
        };
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
        i += 1;
    }
    out
}

fn measure(name: &str, log: &[u8], runs: usize) {
    let mut best = f64::INFINITY;
    let mut findings = 0;
    let mut stats = Default::default();
    for _ in 0..runs {
        let mut scanner = Scanner::new();
        let start = Instant::now();
        stats = scanner
            .read("bench.log", log)
            .expect("reading from memory cannot fail");
        let secs = start.elapsed().as_secs_f64();
        best = best.min(secs);
        findings = scanner.findings().len();
    }
    let mb = log.len() as f64 / (1024.0 * 1024.0);
    println!(
        "{name}: {mb:.0} MiB, {} lines ({} passed the pre-filter), {findings} distinct findings: best of {runs} {best:.3} s = {:.0} MiB/s",
        stats.lines,
        stats.candidates,
        mb / best
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this once on a small log as a smoke test.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let mb: usize = std::env::var("KUBEWHY_BENCH_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let size = if smoke { 1 << 20 } else { mb << 20 };
    let log = generate(size);
    measure(
        "realistic log (1 failure per 200 lines)",
        &log,
        if smoke { 1 } else { 3 },
    );
    // The worst case for the parser: every line is a failure.
    let dense: Vec<u8> = FAILURES
        .iter()
        .cycle()
        .take(if smoke { 1000 } else { 200_000 })
        .flat_map(|l| {
            let mut v = l.as_bytes().to_vec();
            v.push(b'\n');
            v
        })
        .collect();
    measure(
        "failures only (every line parsed)",
        &dense,
        if smoke { 1 } else { 3 },
    );
}
