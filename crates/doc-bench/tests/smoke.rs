//! The harness itself, tested: `doc-bench --smoke` against the real local control plane with the
//! controller-runtime peer (built by the harness), checking that every phase produced real figures and that the
//! correctness gates passed. The full benchmark is never part of `cargo test`.

use std::process::Command;

#[test]
fn smoke_run_measures_the_go_peer_end_to_end() {
    let out = tempfile::tempdir().expect("a temporary directory");
    let run = Command::new(env!("CARGO_BIN_EXE_doc-bench"))
        .args(["--smoke", "--contender", "cr-tuned", "--out"])
        .arg(out.path())
        .output()
        .expect("running doc-bench");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "doc-bench --smoke failed ({}):\n{stderr}",
        run.status
    );

    let md = std::fs::read_to_string(out.path().join("results.md")).expect("results.md");
    assert!(md.contains("| cr-tuned | 1/1 |"), "{md}");
    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.path().join("results.json")).expect("results.json"),
    )
    .expect("results.json is JSON");
    let results = &json["results"];

    // The floor: some write rate was measured within the SLO.
    assert!(
        results["floor"]["w"].as_f64().unwrap() > 0.0,
        "{}",
        results["floor"]
    );

    // The delete floor: the deletion mix was measured within the SLO too.
    assert!(
        results["delete_floor"]["w"].as_f64().unwrap() > 0.0,
        "{}",
        results["delete_floor"]
    );

    // One run, every gate passed, and every figure is a real measurement.
    let runs = results["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let r = &runs[0];
    assert!(r["error"].is_null(), "{r}");
    for gate in [
        "all_converged",
        "churn_applied",
        "no_finalizer_left",
        "clean_exit",
    ] {
        assert_eq!(r["gates"][gate], true, "gate {gate}: {r}");
    }
    assert!(r["t_converge_s"].as_f64().unwrap() > 0.0);
    assert!(r["peak_rss"].as_u64().unwrap() > 1_000_000, "{r}");
    assert!(r["cpu_s"].as_f64().unwrap() > 0.0, "{r}");
    assert!(r["apiserver_cpu_s"].as_f64().unwrap() > 0.0, "{r}");
    // The peer wrote at least a finalizer and a status for each of the 20 Documents, and one event each.
    let api = &r["api"];
    assert!(api["rv_changes"].as_f64().unwrap() >= 40.0, "{api}");
    assert!(
        api["by_verb_resource"]["POST events"].as_f64().unwrap() >= 20.0,
        "{api}"
    );
    assert!(
        api["by_verb_resource"]["APPLY documents/status"]
            .as_f64()
            .unwrap()
            >= 20.0,
        "{api}"
    );
    let churn = &r["churn"];
    assert_eq!(churn["updates"], 20, "{churn}");
    assert_eq!(churn["lost"], 0, "{churn}");
    assert!(churn["p99_ms"].as_f64().unwrap() > 0.0, "{churn}");
    // Each update's time split at the moment its new spec was seen.
    let (to_spec, rest) = (
        churn["to_spec_p50_ms"].as_f64().unwrap(),
        churn["spec_to_status_p50_ms"].as_f64().unwrap(),
    );
    assert!(to_spec > 0.0 && rest > 0.0, "{churn}");
    // What each update cost: the API server's CPU, and the peer's status apply (the harness's spec patch left out).
    assert!(
        churn["apiserver_cpu_ms_per_update"].as_f64().unwrap() > 0.0,
        "{churn}"
    );
    assert!(
        churn["requests_per_update"]["APPLY documents/status"]
            .as_f64()
            .unwrap()
            >= 1.0,
        "{churn}"
    );
    assert!(
        churn["requests_per_update"]["PATCH documents"].is_null(),
        "the harness's own spec patches are left out: {churn}"
    );
    // The restart check ran, and the API server's memory was read.
    assert!(r["restart"]["seconds"].as_f64().unwrap() > 0.0, "{r}");
    assert!(r["restart"]["writes"].as_f64().is_some(), "{r}");
    assert!(
        r["apiserver_peak_rss"].as_u64().unwrap() > 50_000_000,
        "{r}"
    );
    assert_eq!(r["left_after_delete"], 0, "{r}");
    // What deletion cost: the harness's DELETE of each Document, and the API server's CPU.
    let deletion = &r["deletion"];
    assert!(
        deletion["requests_per_doc"]["DELETE documents"]
            .as_f64()
            .unwrap()
            >= 1.0,
        "{deletion}"
    );
    assert!(
        deletion["apiserver_cpu_ms_per_doc"].as_f64().unwrap() > 0.0,
        "{deletion}"
    );

    // The CLI timings ran (kubewhy's own steps may be skipped while it is not built, with the reason given).
    assert!(
        results["explain"]["grep_mb_per_s"].as_f64().unwrap() > 0.0,
        "{}",
        results["explain"]
    );
    let explain = &results["explain"];
    assert!(
        explain["explain_s"].is_number() || explain["skipped"].is_string(),
        "{explain}"
    );
    assert!(
        results["check"]["ssar_ms"].as_f64().unwrap() > 0.0,
        "{}",
        results["check"]
    );
}

/// The scale-out scenario's harness, on a tiny N: one leader-elected replica and two sharing ones, with a simulated
/// slow dependency; every setup converges and reports per-replica figures. doc-controller's debug binary (built
/// with the workspace, or here) stands in for the release build the real benchmark snapshots.
#[test]
fn scale_out_smoke_run_measures_sharded_replicas_against_one_leader() {
    let bench = std::path::PathBuf::from(env!("CARGO_BIN_EXE_doc-bench"));
    let controller = bench.with_file_name("doc-controller");
    if !controller.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let built = Command::new(cargo)
            .args(["build", "-p", "doc-controller", "--bin", "doc-controller"])
            .status()
            .expect("running cargo build");
        assert!(built.success(), "building doc-controller failed");
    }
    let out = tempfile::tempdir().expect("a temporary directory");
    let run = Command::new(&bench)
        .args(["--scale-out", "--smoke", "--doc-controller"])
        .arg(&controller)
        .arg("--out")
        .arg(out.path())
        .output()
        .expect("running doc-bench --scale-out");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "doc-bench --scale-out --smoke failed ({}):\n{stderr}",
        run.status
    );
    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.path().join("scaleout-n20.json")).expect("scaleout-n20.json"),
    )
    .expect("scaleout-n20.json is JSON");
    let runs = json["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{json}");
    for r in runs {
        assert!(r["error"].is_null(), "{r}");
        assert!(r["t_converge_s"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["apiserver_cpu_s"].as_f64().unwrap() > 0.0, "{r}");
        // The load at the start and at convergence, so a timing figure says whether the cores were shared.
        assert!(r["load_average"].as_f64().is_some(), "{r}");
        assert!(r["load_average_end"].as_f64().is_some(), "{r}");
    }
    let sharded = &runs[1];
    assert_eq!(sharded["setup"]["replicas"], 2, "{sharded}");
    assert_eq!(
        sharded["peak_rss"].as_array().unwrap().len(),
        2,
        "{sharded}"
    );
    // Each replica caches its share only, and the two shares make the whole; the API server filtered.
    let cached: Vec<f64> = sharded["documents_cached"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(cached.iter().sum::<f64>(), 20.0, "{sharded}");
    assert!(cached.iter().all(|c| *c < 20.0), "{sharded}");
    assert_eq!(
        sharded["server_side"],
        serde_json::json!([1.0, 1.0]),
        "{sharded}"
    );
    let md = std::fs::read_to_string(out.path().join("scaleout-n20.md")).expect("scaleout-n20.md");
    assert!(
        md.contains("| 2 sharded (server-side) | +20 ms simulated |"),
        "{md}"
    );
}
