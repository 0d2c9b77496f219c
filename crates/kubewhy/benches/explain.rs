//! Throughput of the `kubewhy explain` scanner in process: the realistic log of `support/explain_log.rs` (mostly
//! noise, a failure every 200 lines, every format) and a log of failures only, read through `Scanner::read` as the
//! CLI reads a file. Prints MiB/s. The whole command against `grep` is `kubewhy-cli`'s `explain_vs_grep` bench.
//!
//! Run: `cargo bench -p kubewhy --bench explain` (set `KUBEWHY_BENCH_MB` to change the log size, default 256).

use std::time::Instant;

use kubewhy::scan::Scanner;

#[path = "support/explain_log.rs"]
mod explain_log;

fn measure(name: &str, log: &explain_log::Log, runs: usize) {
    let mut best = f64::INFINITY;
    let mut findings = 0;
    let mut stats = Default::default();
    for _ in 0..runs {
        let mut scanner = Scanner::new();
        let start = Instant::now();
        stats = scanner
            .read("bench.log", &log.bytes[..])
            .expect("reading from memory cannot fail");
        let secs = start.elapsed().as_secs_f64();
        best = best.min(secs);
        findings = scanner.findings().len();
    }
    let mb = log.bytes.len() as f64 / (1024.0 * 1024.0);
    println!(
        "{name}: {mb:.0} MiB, {} lines ({} failures, {} passed the pre-filter), {findings} distinct findings: best of {runs} {best:.3} s = {:.0} MiB/s",
        stats.lines,
        log.failures,
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
    let log = explain_log::realistic(size);
    measure(
        "realistic log (1 failure per 200 lines)",
        &log,
        if smoke { 1 } else { 3 },
    );
    // The worst case for the parser: every line is a failure.
    let dense = explain_log::failures_only(if smoke {
        1000
    } else {
        explain_log::FAILURES_ONLY_LINES
    });
    measure(
        "failures only (every line parsed)",
        &dense,
        if smoke { 1 } else { 3 },
    );
}
