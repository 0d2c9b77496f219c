//! The results: every run as measured (JSON), and the summary a reader wants (markdown): per N and contender the
//! median and range of each figure over the repeated runs, the floor, bytes per cached Document, and the CLI
//! timings. (Writing into a `String` cannot fail, so the `fmt::Result` of each `writeln!` is dropped with `let _`.)

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::calibrate::Floor;
use crate::contender::Contender;
use crate::procstat::Machine;
use crate::scenario::RunResult;
use crate::stats::{Spread, spread};
use crate::tools::{Check, Explain};

/// Everything a benchmark produced.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    /// The command line.
    pub command: String,
    /// Seconds since the Unix epoch when the benchmark started.
    pub started_unix: u64,
    /// Whether this was the smoke run (tiny N: checks the harness, not a measurement).
    pub smoke: bool,
    /// The machine.
    pub machine: Machine,
    /// The API server's version.
    pub server_version: String,
    /// Extra kube-apiserver flags.
    pub apiserver_args: Vec<String>,
    /// Where the CRD came from.
    pub crd: String,
    /// The contenders.
    pub contenders: Vec<Contender>,
    /// Bytes of content per Document.
    pub content_bytes: usize,
    /// Churn: updates per second and seconds.
    pub churn_rate: f64,
    /// Churn duration, seconds.
    pub churn_seconds: f64,
    /// The floor calibration.
    pub floor: Option<Floor>,
    /// Why the floor is missing.
    pub floor_error: Option<String>,
    /// The delete floor calibration.
    pub delete_floor: Option<Floor>,
    /// Why the delete floor is missing.
    pub delete_floor_error: Option<String>,
    /// Every run.
    pub runs: Vec<RunResult>,
    /// `kubewhy explain` throughput.
    pub explain: Option<Explain>,
    /// Why it is missing.
    pub explain_error: Option<String>,
    /// `kubewhy check` timing.
    pub check: Option<Check>,
    /// Why it is missing.
    pub check_error: Option<String>,
}

/// One contender at one N, summarised over its runs.
#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    /// Contender.
    pub contender: String,
    /// N.
    pub n: usize,
    /// Runs that passed every gate, of all runs.
    pub passed: usize,
    /// Runs.
    pub runs: usize,
    /// Seconds to converge.
    pub t_converge_s: Option<Spread>,
    /// `T_floor / T_converge`.
    pub efficiency: Option<Spread>,
    /// Peak RSS during the cold start, MiB.
    pub peak_rss_mib: Option<Spread>,
    /// RSS after sync, MiB.
    pub rss_after_sync_mib: Option<Spread>,
    /// Contender CPU ms per converged Document.
    pub cpu_ms_per_doc: Option<Spread>,
    /// API requests per converged Document.
    pub requests_per_doc: Option<Spread>,
    /// Requests per Document by verb (medians).
    pub requests_per_doc_by_verb: BTreeMap<String, f64>,
    /// Accepted Document writes per Document.
    pub document_writes_per_doc: Option<Spread>,
    /// Writes that changed nothing, per Document.
    pub noop_writes_per_doc: Option<Spread>,
    /// 409 Conflicts per Document.
    pub conflicts_per_doc: Option<Spread>,
    /// API server CPU ms per converged Document.
    pub apiserver_cpu_ms_per_doc: Option<Spread>,
    /// Churn p50, ms.
    pub churn_p50_ms: Option<Spread>,
    /// Churn p99, ms.
    pub churn_p99_ms: Option<Spread>,
    /// Churn, update sent → new spec seen (median), ms.
    pub churn_to_spec_p50_ms: Option<Spread>,
    /// Churn, new spec seen → status seen (median), ms.
    pub churn_spec_to_status_p50_ms: Option<Spread>,
    /// Churn capacity: the highest rate with p99 ≤ 1 s, updates/s.
    pub churn_capacity: Option<Spread>,
    /// Writes a restart with everything up to date cost.
    pub restart_writes: Option<Spread>,
    /// API server (with etcd) peak RSS, MiB.
    pub apiserver_peak_rss_mib: Option<Spread>,
    /// API server (with etcd) RSS once the Documents exist, before the contender starts, MiB.
    pub apiserver_rss_before_mib: Option<Spread>,
    /// `T_delete_floor / T_delete`.
    pub delete_efficiency: Option<Spread>,
    /// Contender CPU ms per churn update.
    pub churn_cpu_ms_per_update: Option<Spread>,
    /// Seconds to delete every Document.
    pub t_delete_s: Option<Spread>,
    /// Cores other work on the machine used during the cold start (noise).
    pub other_cores: Option<Spread>,
}

const MIB: f64 = 1024.0 * 1024.0;

/// Summarises the runs of each (contender, N).
pub fn cells(results: &Results) -> Vec<Cell> {
    let mut keys: Vec<(usize, String)> = Vec::new();
    for r in &results.runs {
        let k = (r.n, r.contender.clone());
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys.sort_by_key(|(n, _)| *n);
    keys.into_iter()
        .map(|(n, contender)| {
            let runs: Vec<&RunResult> = results
                .runs
                .iter()
                .filter(|r| r.n == n && r.contender == contender)
                .collect();
            let per_doc = |v: Option<f64>| v.map(|v| v / n as f64);
            let t_floor = results.floor.as_ref().and_then(|f| f.t_floor(n));
            let t_delete_floor = results.delete_floor.as_ref().and_then(|f| f.t_floor(n));
            let mib = |b: Option<u64>| b.map(|b| b as f64 / MIB);
            let mut by_verb: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
            for r in &runs {
                if let Some(api) = &r.api {
                    for (verb, count) in &api.by_verb {
                        by_verb
                            .entry(verb.clone())
                            .or_default()
                            .push(Some(count / n as f64));
                    }
                }
            }
            Cell {
                contender: contender.clone(),
                n,
                passed: runs
                    .iter()
                    .filter(|r| r.gates.passed() && r.error.is_none())
                    .count(),
                runs: runs.len(),
                t_converge_s: spread(runs.iter().map(|r| r.t_converge_s)),
                efficiency: spread(runs.iter().map(|r| Some(t_floor? / r.t_converge_s?))),
                peak_rss_mib: spread(runs.iter().map(|r| r.peak_rss.map(|b| b as f64 / MIB))),
                rss_after_sync_mib: spread(
                    runs.iter()
                        .map(|r| r.rss_after_sync.map(|b| b as f64 / MIB)),
                ),
                cpu_ms_per_doc: spread(runs.iter().map(|r| per_doc(r.cpu_s.map(|s| s * 1000.0)))),
                requests_per_doc: spread(
                    runs.iter()
                        .map(|r| per_doc(r.api.as_ref().map(|a| a.total))),
                ),
                requests_per_doc_by_verb: by_verb
                    .into_iter()
                    .filter_map(|(verb, v)| Some((verb, spread(v)?.median)))
                    .collect(),
                document_writes_per_doc: spread(
                    runs.iter()
                        .map(|r| per_doc(r.api.as_ref().map(|a| a.document_writes))),
                ),
                noop_writes_per_doc: spread(
                    runs.iter()
                        .map(|r| per_doc(r.api.as_ref().map(|a| a.noop_writes))),
                ),
                conflicts_per_doc: spread(
                    runs.iter()
                        .map(|r| per_doc(r.api.as_ref().map(|a| a.conflicts))),
                ),
                apiserver_cpu_ms_per_doc: spread(
                    runs.iter()
                        .map(|r| per_doc(r.apiserver_cpu_s.map(|s| s * 1000.0))),
                ),
                churn_p50_ms: spread(runs.iter().map(|r| r.churn.as_ref().and_then(|c| c.p50_ms))),
                churn_p99_ms: spread(runs.iter().map(|r| r.churn.as_ref().and_then(|c| c.p99_ms))),
                churn_to_spec_p50_ms: spread(
                    runs.iter()
                        .map(|r| r.churn.as_ref().and_then(|c| c.to_spec_p50_ms)),
                ),
                churn_spec_to_status_p50_ms: spread(
                    runs.iter()
                        .map(|r| r.churn.as_ref().and_then(|c| c.spec_to_status_p50_ms)),
                ),
                churn_capacity: spread(
                    runs.iter()
                        .map(|r| r.capacity.as_ref().and_then(|c| c.capacity)),
                ),
                restart_writes: spread(runs.iter().map(|r| r.restart.as_ref().map(|x| x.writes))),
                apiserver_peak_rss_mib: spread(runs.iter().map(|r| mib(r.apiserver_peak_rss))),
                apiserver_rss_before_mib: spread(runs.iter().map(|r| mib(r.apiserver_rss_before))),
                delete_efficiency: spread(
                    runs.iter().map(|r| Some(t_delete_floor? / r.t_delete_s?)),
                ),
                churn_cpu_ms_per_update: spread(
                    runs.iter()
                        .map(|r| r.churn.as_ref().map(|c| c.cpu_ms_per_update)),
                ),
                t_delete_s: spread(runs.iter().map(|r| r.t_delete_s)),
                other_cores: spread(runs.iter().map(|r| Some(r.other_cpu_s? / r.t_converge_s?))),
            }
        })
        .collect()
}

/// Bytes of RSS per cached Document: the slope of RSS after sync between the smallest and the largest N (medians).
pub fn bytes_per_document(cells: &[Cell]) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let mut names: Vec<&str> = cells.iter().map(|c| c.contender.as_str()).collect();
    names.dedup();
    for name in names {
        let mine: Vec<&Cell> = cells
            .iter()
            .filter(|c| c.contender == name && c.rss_after_sync_mib.is_some())
            .collect();
        let (Some(lo), Some(hi)) = (
            mine.iter().min_by_key(|c| c.n),
            mine.iter().max_by_key(|c| c.n),
        ) else {
            continue;
        };
        if hi.n > lo.n
            && let (Some(a), Some(b)) = (&lo.rss_after_sync_mib, &hi.rss_after_sync_mib)
        {
            out.insert(
                name.to_string(),
                (b.median - a.median) * MIB / (hi.n - lo.n) as f64,
            );
        }
    }
    out
}

fn fmt(s: &Option<Spread>, digits: usize) -> String {
    match s {
        None => "–".into(),
        Some(s) if s.runs == 1 || (s.max - s.min).abs() < f64::EPSILON => {
            format!("{:.*}", digits, s.median)
        }
        Some(s) => format!(
            "{:.*} ({:.*}–{:.*})",
            digits, s.median, digits, s.min, digits, s.max
        ),
    }
}

/// A floor's levels, W and what it means for each N.
fn floor_section(
    md: &mut String,
    floor: &Option<Floor>,
    error: &Option<String>,
    what: &str,
    ns: &[usize],
) {
    match (floor, error) {
        (Some(f), _) => {
            let _ = writeln!(
                md,
                "| concurrency | writes/s | p50 ms | p99 ms | errors | apiserver CPU (cores) | generator CPU (cores) |\n|---:|---:|---:|---:|---:|---:|---:|"
            );
            for l in &f.levels {
                let _ = writeln!(
                    md,
                    "| {} | {:.0} | {:.1} | {:.1} | {} | {:.2} | {:.2} |",
                    l.concurrency,
                    l.writes_per_s,
                    l.p50_ms,
                    l.p99_ms,
                    l.errors,
                    l.apiserver_cpu_per_s,
                    l.generator_cpu_per_s
                );
            }
            let _ = writeln!(
                md,
                "\n**W = {:.0} writes/s** (at concurrency {}, p99 ≤ 1 s).",
                f.w, f.at_concurrency
            );
            for &n in ns {
                if let Some(t) = f.t_floor(n) {
                    let _ = writeln!(md, "{what}({n}) = 3 × {n} / W = **{t:.2} s**.");
                }
            }
            let _ = writeln!(md);
        }
        (None, Some(e)) => {
            let _ = writeln!(md, "Not measured: {e}\n");
        }
        (None, None) => {
            let _ = writeln!(md, "Not measured (`--skip-floor`).\n");
        }
    }
}

/// Requests per unit (`VERB resource 0.00, ...`).
fn per_request(by_verb_resource: &BTreeMap<String, f64>) -> String {
    by_verb_resource
        .iter()
        .map(|(k, v)| format!("{k} {v:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An optional figure with one decimal, or a dash.
fn ms1(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{v:.1}"))
}

/// The markdown report.
pub fn markdown(results: &Results) -> String {
    let cells = cells(results);
    let mut md = String::new();
    let m = &results.machine;
    let _ = writeln!(
        md,
        "# doc-controller benchmark{}\n",
        if results.smoke {
            " (smoke run: tiny N, not a measurement)"
        } else {
            ""
        }
    );
    let _ = writeln!(md, "Command: `{}`\n", results.command);
    let _ = writeln!(
        md,
        "Machine: {} CPUs ({}), {:.1} GiB memory, Linux {}. The API server (kube-apiserver {} with embedded etcd, \
         one process), the contender and the harness all share this machine.\n",
        m.cpus,
        m.cpu_model,
        m.memory_bytes as f64 / (1024.0 * MIB),
        m.kernel,
        results.server_version
    );
    let _ = writeln!(md, "```\n$ free -h\n{}\n```\n", m.free_h);
    let _ = writeln!(
        md,
        "kube-apiserver flags added: `{}`. Everything runs as `system:masters` (APF's exempt level). CRD: {}. \
         Documents: {} bytes of content, created with `hide: true` (so a controller's first reconcile writes a \
         finalizer, an event and the status). Churn: {} updates/s for {} s (flipping `spec.hide`).\n",
        results.apiserver_args.join(" "),
        results.crd,
        results.content_bytes,
        results.churn_rate,
        results.churn_seconds
    );
    let _ = writeln!(md, "## Contenders\n");
    for c in &results.contenders {
        let _ = writeln!(
            md,
            "- **{}**: {}. Command: `{}`",
            c.name, c.description, c.command
        );
    }
    let _ = writeln!(md);

    let _ = writeln!(
        md,
        "## Floor (the API server's own limit for this write mix)\n"
    );
    let mut ns: Vec<usize> = cells.iter().map(|c| c.n).collect();
    ns.dedup();
    floor_section(
        &mut md,
        &results.floor,
        &results.floor_error,
        "T_floor",
        &ns,
    );
    let _ = writeln!(
        md,
        "## Delete floor (the API server's own limit for the deletion mix: DELETE, event, finalizer removal)\n"
    );
    floor_section(
        &mut md,
        &results.delete_floor,
        &results.delete_floor_error,
        "T_delete_floor",
        &ns,
    );

    let mut ns: Vec<usize> = cells.iter().map(|c| c.n).collect();
    ns.dedup();
    for n in ns {
        let _ = writeln!(
            md,
            "## N = {n}: cold start, churn, deletion (median (min–max) of the runs)\n"
        );
        let _ = writeln!(
            md,
            "| contender | gates passed | T_converge s | E = T_floor/T | peak RSS MiB | RSS after sync MiB | CPU ms/doc | \
             API req/doc | doc writes/doc | no-op writes/doc | 409s/doc | apiserver CPU ms/doc | churn p50 ms | \
             churn p99 ms | churn: to spec / spec to status p50 ms | churn CPU ms/update | capacity /s | \
             restart writes | delete all s | E_delete | apiserver MiB: before / peak | other load (cores) |\n\
             |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for c in cells.iter().filter(|c| c.n == n) {
            let _ = writeln!(
                md,
                "| {} | {}/{} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} | {} | {} | {} | {} | {} | {} / {} | {} |",
                c.contender,
                c.passed,
                c.runs,
                fmt(&c.t_converge_s, 2),
                fmt(&c.efficiency, 2),
                fmt(&c.peak_rss_mib, 1),
                fmt(&c.rss_after_sync_mib, 1),
                fmt(&c.cpu_ms_per_doc, 3),
                fmt(&c.requests_per_doc, 2),
                fmt(&c.document_writes_per_doc, 2),
                fmt(&c.noop_writes_per_doc, 2),
                fmt(&c.conflicts_per_doc, 3),
                fmt(&c.apiserver_cpu_ms_per_doc, 2),
                fmt(&c.churn_p50_ms, 1),
                fmt(&c.churn_p99_ms, 1),
                fmt(&c.churn_to_spec_p50_ms, 1),
                fmt(&c.churn_spec_to_status_p50_ms, 1),
                fmt(&c.churn_cpu_ms_per_update, 3),
                fmt(&c.churn_capacity, 0),
                fmt(&c.restart_writes, 0),
                fmt(&c.t_delete_s, 1),
                fmt(&c.delete_efficiency, 2),
                fmt(&c.apiserver_rss_before_mib, 0),
                fmt(&c.apiserver_peak_rss_mib, 0),
                fmt(&c.other_cores, 2),
            );
        }
        let _ = writeln!(
            md,
            "\nAPI requests per converged Document by verb (cold start, medians):\n"
        );
        for c in cells.iter().filter(|c| c.n == n) {
            let verbs: Vec<String> = c
                .requests_per_doc_by_verb
                .iter()
                .map(|(v, x)| format!("{v} {x:.3}"))
                .collect();
            let watches = results
                .runs
                .iter()
                .find(|r| r.contender == c.contender && r.n == n && r.api.is_some())
                .and_then(|r| r.api.as_ref())
                .map(|a| {
                    a.open_watches
                        .iter()
                        .map(|(r, v)| format!("{r} {v:.0}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            let server_errors: f64 = results
                .runs
                .iter()
                .filter(|r| r.contender == c.contender && r.n == n)
                .filter_map(|r| r.api.as_ref().map(|a| a.server_errors))
                .fold(0.0, |a, b| a + b);
            let _ = writeln!(
                md,
                "- {}: {}; watches held open: {}; 5xx answers (all runs): {server_errors:.0}",
                c.contender,
                verbs.join(", "),
                if watches.is_empty() {
                    "none seen".into()
                } else {
                    watches
                }
            );
        }
        let _ = writeln!(md);
    }

    let churns: Vec<String> = results
        .runs
        .iter()
        .filter_map(|r| {
            let c = r.churn.as_ref()?;
            Some(format!(
                "| {} | {} | {} | {} / {} | {} / {} | {:.3} | {:.2} | {} |",
                r.contender,
                r.n,
                r.run,
                ms1(c.to_spec_p50_ms),
                ms1(c.p50_ms),
                ms1(c.spec_to_status_p50_ms),
                ms1(c.spec_to_status_p99_ms),
                c.cpu_ms_per_update,
                c.apiserver_cpu_ms_per_update,
                per_request(&c.requests_per_update)
            ))
        })
        .collect();
    if !churns.is_empty() {
        let _ = writeln!(
            md,
            "## Steady churn: where an update goes (each run)\n\n\
             The update's way: the harness's spec write and its watch event (to spec), then the contender's watch \
             event, queue, reconcile and status write and that write's watch event (spec to status). Requests are \
             what reached the API server per update while the contender ran, the harness's own spec patch left \
             out (the API server's own Lease renewals and OpenAPI reads show up as small fractions); the API \
             server's CPU covers both writes.\n\n\
             | contender | N | run | to spec p50 / total p50 ms | spec to status p50 / p99 ms | contender CPU \
             ms/update | apiserver CPU ms/update | contender requests/update |\n\
             |---|---:|---:|---:|---:|---:|---:|---|\n{}\n",
            churns.join("\n")
        );
    }

    let deletions: Vec<String> = results
        .runs
        .iter()
        .filter_map(|r| {
            let d = r.deletion.as_ref()?;
            Some(format!(
                "| {} | {} | {} | {} | {:.3} | {:.2} | {} |",
                r.contender,
                r.n,
                r.run,
                ms1(r.t_delete_s),
                d.cpu_ms_per_doc,
                d.apiserver_cpu_ms_per_doc,
                per_request(&d.requests_per_doc)
            ))
        })
        .collect();
    if !deletions.is_empty() {
        let _ = writeln!(
            md,
            "## Deletion: what each Document cost (each run)\n\n\
             The delete floor's mix is the harness's `DELETE`, one event and one finalizer removal per Document; \
             requests below include the harness's `DELETE`s.\n\n\
             | contender | N | run | delete all s | contender CPU ms/doc | apiserver CPU ms/doc | requests/doc |\n\
             |---|---:|---:|---:|---:|---:|---|\n{}\n",
            deletions.join("\n")
        );
    }

    let ramps: Vec<&RunResult> = results
        .runs
        .iter()
        .filter(|r| r.capacity.is_some())
        .collect();
    if !ramps.is_empty() {
        let _ = writeln!(
            md,
            "## Churn capacity (the ramp: each rate for a fixed time, until p99 passes 1 s or an update is lost)\n"
        );
        for r in ramps {
            let Some(c) = &r.capacity else { continue };
            let levels: Vec<String> = c
                .levels
                .iter()
                .map(|l| {
                    format!(
                        "{:.0}/s (sent {:.0}): p50 {} / p99 {} ms{}",
                        l.rate,
                        l.sent_rate,
                        l.p50_ms.map_or("–".into(), |v| format!("{v:.0}")),
                        l.p99_ms.map_or("–".into(), |v| format!("{v:.0}")),
                        if l.lost > 0 {
                            format!(", {} lost", l.lost)
                        } else {
                            String::new()
                        }
                    )
                })
                .collect();
            let _ = writeln!(
                md,
                "- {} N={} run {}: **capacity {}** — {}",
                r.contender,
                r.n,
                r.run,
                c.capacity
                    .map_or("below the first rate".into(), |v| format!(
                        "{v:.0} updates/s"
                    )),
                levels.join("; ")
            );
        }
        let _ = writeln!(md);
    }

    let restarts: Vec<String> = results
        .runs
        .iter()
        .filter_map(|r| {
            let x = r.restart.as_ref()?;
            let writes: Vec<String> = x
                .by_verb_resource
                .iter()
                .filter(|(k, _)| {
                    let mut words = k.split_whitespace();
                    words.next().is_some_and(crate::apimetrics::is_mutating)
                        && !words
                            .next()
                            .is_some_and(|r| crate::apimetrics::is_review(r) || r == "leases")
                })
                .map(|(k, v)| format!("{k} {v:.0}"))
                .collect();
            Some(format!(
                "- {} N={} run {}: {:.0} writes in {:.1} s{}{}",
                r.contender,
                r.n,
                r.run,
                x.writes,
                x.seconds,
                if writes.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", writes.join(", "))
                },
                if x.lease_writes > 0.0 {
                    format!(
                        "; Lease renewals: {:.0} (on a clock: the API server's own every 10 s)",
                        x.lease_writes
                    )
                } else {
                    String::new()
                }
            ))
        })
        .collect();
    if !restarts.is_empty() {
        let _ = writeln!(
            md,
            "## Restart with everything up to date (requests after the restarted contender's watch opened)\n\n{}\n",
            restarts.join("\n")
        );
    }

    let bpd = bytes_per_document(&cells);
    if !bpd.is_empty() {
        let _ = writeln!(
            md,
            "## Memory per cached Document\n\nSlope of RSS after sync between the smallest and largest N:\n"
        );
        let size = results.runs.iter().find_map(|r| r.document_bytes);
        for (name, b) in bpd {
            let _ = writeln!(
                md,
                "- {name}: {:.0} bytes per Document{}",
                b,
                size.map_or(String::new(), |(_, trimmed)| format!(
                    " ({:.2}× the Document's own serialized size)",
                    b / trimmed as f64
                ))
            );
        }
        if let Some((whole, trimmed)) = size {
            let _ = writeln!(
                md,
                "\nA converged Document as the API server serves it: {whole} bytes of JSON, {trimmed} without its \
                 managed fields."
            );
        }
        let _ = writeln!(md);
    }

    let failures: Vec<&RunResult> = results
        .runs
        .iter()
        .filter(|r| r.error.is_some() || !r.gates.passed())
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(md, "## Failed runs\n");
        for r in failures {
            let _ = writeln!(
                md,
                "- {} N={} run {}: {} (gates {:?}; log {})",
                r.contender,
                r.n,
                r.run,
                r.error.as_deref().unwrap_or("a gate failed"),
                r.gates,
                r.log
            );
        }
        let _ = writeln!(md);
    }

    let _ = writeln!(md, "## kubewhy CLI\n");
    match (&results.explain, &results.explain_error) {
        (Some(e), _) => {
            let _ = writeln!(
                md,
                "`kubewhy explain` on a generated {:.0} MB log ({} lines, {} with an API failure): {}. \
                 `grep -c -E` (six failure phrases) on the same file: {:.2} s = {:.0} MB/s ({} matches; warm page cache).\n",
                e.bytes as f64 / 1e6,
                e.lines,
                e.error_lines,
                match (e.explain_s, e.explain_mb_per_s, &e.skipped) {
                    (Some(s), Some(mbs), _) => format!("{s:.2} s = **{mbs:.0} MB/s**"),
                    (_, _, Some(why)) => format!("not measured ({why})"),
                    _ => "not measured".into(),
                },
                e.grep_s,
                e.grep_mb_per_s,
                e.grep_count
            );
        }
        (None, Some(err)) => {
            let _ = writeln!(md, "`kubewhy explain`: not measured: {err}\n");
        }
        (None, None) => {}
    }
    match (&results.check, &results.check_error) {
        (Some(c), _) => {
            let _ = writeln!(
                md,
                "`kubewhy check` with {} needs: {}. One SelfSubjectAccessReview round trip: {:.1} ms. {} sequential \
                 `kubectl auth can-i`: {}.\n",
                c.needs,
                match (c.check_s, &c.skipped) {
                    (Some(s), _) => format!("**{:.0} ms**", s * 1000.0),
                    (None, Some(why)) => format!("not measured ({why})"),
                    _ => "not measured".into(),
                },
                c.ssar_ms,
                c.needs,
                match (c.kubectl_s, &c.kubectl_skipped) {
                    (Some(s), _) => format!("{:.0} ms", s * 1000.0),
                    (None, Some(why)) => format!("not measured ({why})"),
                    _ => "not measured".into(),
                }
            );
        }
        (None, Some(err)) => {
            let _ = writeln!(md, "`kubewhy check`: not measured: {err}\n");
        }
        (None, None) => {}
    }
    md
}

/// Writes `results.json` and `results.md` into `dir`.
pub fn write(results: &Results, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let json = serde_json::json!({"results": results, "cells": cells(results), "bytes_per_document": bytes_per_document(&cells(results))});
    let path = dir.join("results.json");
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&json).context("encoding the results")?,
    )
    .with_context(|| format!("writing {}", path.display()))?;
    let path = dir.join("results.md");
    std::fs::write(&path, markdown(results))
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
