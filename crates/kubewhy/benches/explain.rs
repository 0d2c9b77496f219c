//! Throughput of the `kubewhy explain` scanner in process: the realistic log of `support/explain_log.rs` (mostly
//! noise, a failure every 200 lines, every format) and a log of failures only, read through `Scanner::read` as the
//! CLI reads a file. Prints MiB/s. The whole command against `grep` is `kubewhy-cli`'s `explain_vs_grep` bench.
//!
//! Run: `cargo bench -p kubewhy --bench explain` (set `KUBEWHY_BENCH_MB` to change the log size, default 256).

use std::time::Instant;

use kubewhy::scan::Scanner;

#[path = "support/explain_log.rs"]
mod explain_log;

/// Reads `log` `runs` times with a scanner of `threads` workers ([`Scanner::with_threads`]) and prints the best.
fn measure(name: &str, log: &explain_log::Log, runs: usize, threads: usize) {
    let mut best = f64::INFINITY;
    let mut findings = 0;
    let mut stats = Default::default();
    for _ in 0..runs {
        let mut scanner = Scanner::new().with_threads(threads);
        let start = Instant::now();
        stats = scanner
            .read("bench.log", &log.bytes[..])
            .expect("reading from memory cannot fail");
        let secs = start.elapsed().as_secs_f64();
        best = best.min(secs);
        findings = scanner.findings().len();
    }
    assert_eq!(
        stats.lines, log.lines,
        "{name}: the scanner counted other lines than the log has"
    );
    let mb = log.bytes.len() as f64 / (1024.0 * 1024.0);
    println!(
        "{name}, {threads} worker threads: {mb:.0} MiB, {} lines ({} failures, {} passed the pre-filter), {findings} distinct findings: best of {runs} {best:.3} s = {:.0} MiB/s",
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
    let runs = if smoke { 1 } else { 3 };
    // On the calling thread only (0 workers), then on as many workers as the machine has cores.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let log = explain_log::realistic(size);
    for threads in [0, cores] {
        measure(
            "realistic log (1 failure per 200 lines)",
            &log,
            runs,
            threads,
        );
    }
    // The worst case for the parser: every line is a failure.
    let dense = explain_log::failures_only(if smoke {
        1000
    } else {
        explain_log::FAILURES_ONLY_LINES
    });
    for threads in [0, cores] {
        measure("failures only (every line parsed)", &dense, runs, threads);
    }
}
