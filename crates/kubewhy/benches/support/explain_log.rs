//! The logs the `kubewhy explain` benchmarks read (`kubewhy/benches/explain.rs` in process,
//! `kubewhy-cli/benches/explain_vs_grep.rs` end to end): a large, realistic log (kube-rs tracing lines, client-go
//! klog lines, controller-runtime JSON, kubectl output) that is mostly noise with a sprinkling of failures in every
//! format, and a log where every line is a failure.

/// Ordinary lines of a controller's and its neighbours' logs.
pub const NOISE: &[&str] = &[
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
pub const FAILURES: &[&str] = &[
    r#"2026-07-01T10:00:01Z  WARN kube_runtime::watcher: watcher error 403: Api(Status { status: Some(Failure), code: 403, message: "documents.kube.rs is forbidden: User \"system:serviceaccount:docs:doc-controller\" cannot watch resource \"documents\" in API group \"kube.rs\" at the cluster scope", metadata: Some(ListMeta { continue_: None, remaining_item_count: None, resource_version: None, self_link: None }), reason: "Forbidden", details: Some(StatusDetails { name: "", group: "kube.rs", kind: "documents", uid: "", causes: [], retry_after_seconds: 0 }) })"#,
    r#"E0701 10:00:01.000000       1 reflector.go:166] "Failed to watch" err="failed to list *v1.Pod: pods is forbidden: User \"system:serviceaccount:monitoring:agent\" cannot list resource \"pods\" in API group \"\" at the cluster scope" logger="UnhandledError" reflector="k8s.io/client-go/informers/factory.go:160" type="*v1.Pod""#,
    r#"Error from server (NotFound): namespaces "staging" not found"#,
    r#"{"level":"error","ts":"2026-07-01T10:00:01Z","logger":"controller-runtime.source.EventHandler","msg":"if kind is a CRD, it should be installed before calling Start","kind":"Document.kube.rs","error":"no matches for kind \"Document\" in version \"kube.rs/v1\""}"#,
    r#"2026-07-01T10:00:01Z DEBUG kube_runtime::watcher: watcher error: WatchError(Status { status: Some(Failure), code: 410, message: "too old resource version: 1234 (5678)", metadata: None, reason: "Expired", details: None })"#,
];

/// A generated log and what it holds.
pub struct Log {
    /// Its text.
    pub bytes: Vec<u8>,
    /// Its lines.
    pub lines: u64,
    /// How many of them are failures.
    pub failures: u64,
}

/// A realistic log of about `bytes` bytes: noise with one failure every 200 lines.
pub fn realistic(bytes: usize) -> Log {
    let mut out = Vec::with_capacity(bytes + 4096);
    let (mut lines, mut failures) = (0u64, 0u64);
    while out.len() < bytes {
        let i = lines as usize;
        // A cheap deterministic mix: noise with a failure every 200 lines.
        let line = if i % 200 == 199 {
            failures += 1;
            FAILURES[(i / 200) % FAILURES.len()]
        } else {
            NOISE[(i * 7 + i / 13) % NOISE.len()]
        };
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
        lines += 1;
    }
    Log {
        bytes: out,
        lines,
        failures,
    }
}

/// The lines of the every-line-a-failure log both benchmarks read.
pub const FAILURES_ONLY_LINES: usize = 200_000;

/// The worst case for the parser: `lines` lines, every one a failure.
pub fn failures_only(lines: usize) -> Log {
    let mut out = Vec::new();
    for line in FAILURES.iter().cycle().take(lines) {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    Log {
        bytes: out,
        lines: lines as u64,
        failures: lines as u64,
    }
}
