//! `kubewhy explain` end to end (the release binary, process start to exit) against `grep -c -E` on the same
//! machine in one run: the realistic log of `kubewhy/benches/support/explain_log.rs` (512 MiB by default, a failure
//! every 200 lines) read from a file and from a pipe, and the every-line-a-failure log. The commands run in turn
//! (kubewhy, grep, kubewhy, grep, …) after one warm-up round that fills the page cache, so a change in the
//! machine's speed during the run moves both; the ratio is taken pair by pair and its median printed, beside each
//! command's min and median wall time and the load average before and after.
//!
//! What grep searches for: `forbidden|not found|no matches|too old|Unauthorized|refused`, six failure phrases a
//! person greps a controller's log for, which find every failure line of these logs (the bench checks grep's count
//! against the number of failures written). grep only counts lines; kubewhy searches for every word its
//! pre-filter knows (`kubewhy::scan::PREFILTER`, any failure it can read), reads the message around each hit,
//! parses and folds it. A second yardstick, grep with kubewhy's own pre-filter words, is printed for reference.
//!
//! Run: `cargo bench -p kubewhy-cli --bench explain_vs_grep`. `KUBEWHY_BENCH_MB` sets the realistic log's size
//! (default 512), `KUBEWHY_BENCH_RUNS` the timed rounds (default 5); `KUBEWHY_BENCH_BASELINE=<another kubewhy
//! binary>` runs that binary in the same rounds (a before/after in one run) and checks it prints the same report.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

#[path = "../../kubewhy/benches/support/explain_log.rs"]
mod explain_log;

const KUBEWHY: &str = env!("CARGO_BIN_EXE_kubewhy");

/// kubewhy's arguments before the input.
const EXPLAIN: [&str; 3] = ["explain", "--color", "never"];

/// The failure phrases grep looks for.
const GREP_KEYWORDS: &str = "forbidden|not found|no matches|too old|Unauthorized|refused";

/// Where a command reads the log from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Input {
    /// The log's path as the last argument.
    File,
    /// Its standard input, a pipe that `cat` writes the log into.
    Pipe,
}

/// One command of the alternation.
struct Cmd {
    name: String,
    program: PathBuf,
    args: Vec<OsString>,
    input: Input,
    /// grep: the count it must print; kubewhy: none (its report is compared between runs).
    count: Option<u64>,
    secs: Vec<f64>,
    /// The first run's standard output.
    output: Option<Vec<u8>>,
}

impl Cmd {
    fn new(name: &str, program: impl Into<PathBuf>, args: &[&str], input: Input) -> Cmd {
        Cmd {
            name: name.to_string(),
            program: program.into(),
            args: args.iter().map(OsString::from).collect(),
            input,
            count: None,
            secs: Vec::new(),
            output: None,
        }
    }

    fn counting(mut self, count: u64) -> Cmd {
        self.count = Some(count);
        self
    }

    /// Runs the command once on `log` and returns its wall time; panics with what went wrong when it fails.
    fn run(&mut self, log: &Path) -> f64 {
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let start = Instant::now();
        let mut cat = None;
        match self.input {
            Input::File => {
                command.arg(log).stdin(Stdio::null());
            }
            Input::Pipe => {
                let mut child = Command::new("cat")
                    .arg(log)
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap_or_else(|e| panic!("starting `cat {}`: {e}", log.display()));
                let pipe = child.stdout.take().expect("cat's stdout is piped");
                command.stdin(Stdio::from(pipe));
                cat = Some(child);
            }
        }
        let out = command
            .output()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.name));
        let secs = start.elapsed().as_secs_f64();
        if let Some(mut cat) = cat {
            let status = cat.wait().expect("waiting for cat");
            assert!(status.success(), "`cat {}` failed: {status}", log.display());
        }
        let code = out.status.code();
        match self.count {
            Some(expected) => {
                assert_eq!(code, Some(0), "{} failed: {}", self.name, text(&out.stderr));
                let counted: u64 = text(&out.stdout).trim().parse().unwrap_or_else(|e| {
                    panic!(
                        "{} printed {:?}, not a count: {e}",
                        self.name,
                        text(&out.stdout)
                    )
                });
                assert_eq!(
                    counted, expected,
                    "{} counted other lines than expected",
                    self.name
                );
            }
            // Exit 1: failures were found and reported.
            None => assert_eq!(
                code,
                Some(1),
                "{} failed ({}): {}",
                self.name,
                out.status,
                text(&out.stderr)
            ),
        }
        match &self.output {
            None => self.output = Some(out.stdout),
            Some(first) => assert!(
                *first == out.stdout,
                "{} printed another report than in its first run",
                self.name
            ),
        }
        secs
    }

    fn min(&self) -> f64 {
        self.secs.iter().copied().fold(f64::INFINITY, f64::min)
    }

    fn median(&self) -> f64 {
        median(&self.secs)
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|e| format!("unknown ({e})"))
}

/// kubewhy's pre-filter words as one extended regular expression.
fn prefilter_regex() -> String {
    kubewhy::scan::PREFILTER
        .iter()
        .map(|w| {
            w.chars()
                .flat_map(|c| {
                    let special = "\\.[]()*+?{}|^$".contains(c);
                    special.then_some('\\').into_iter().chain([c])
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// Runs `cmds` in turn, `runs` rounds after one warm-up round, and prints their figures and each kubewhy
/// command's speed relative to the grep command that follows it in `pairs` (kubewhy index, grep index).
fn compare(title: &str, log: &Path, cmds: &mut [Cmd], pairs: &[(usize, usize)], runs: usize) {
    let mib = std::fs::metadata(log)
        .unwrap_or_else(|e| panic!("reading the size of {}: {e}", log.display()))
        .len() as f64
        / (1024.0 * 1024.0);
    for cmd in cmds.iter_mut() {
        cmd.run(log);
    }
    for _ in 0..runs {
        for cmd in cmds.iter_mut() {
            let secs = cmd.run(log);
            cmd.secs.push(secs);
        }
    }
    println!(
        "{title} ({mib:.0} MiB), {runs} alternating rounds, load average now {}",
        load()
    );
    println!(
        "  {:<46} {:>8} {:>9} {:>14}",
        "command", "min s", "median s", "MiB/s (median)"
    );
    for cmd in cmds.iter() {
        println!(
            "  {:<46} {:>8.3} {:>9.3} {:>14.0}",
            cmd.name,
            cmd.min(),
            cmd.median(),
            mib / cmd.median()
        );
    }
    for &(a, b) in pairs {
        let ratios: Vec<f64> = cmds[a]
            .secs
            .iter()
            .zip(&cmds[b].secs)
            .map(|(ta, tb)| tb / ta)
            .collect();
        println!(
            "  {} at {:.2}x the speed of {} (median of {} pairs; min against min {:.2}x)",
            cmds[a].name,
            median(&ratios),
            cmds[b].name,
            ratios.len(),
            cmds[b].min() / cmds[a].min()
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this once on small logs as a smoke test.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let env = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let mb = env("KUBEWHY_BENCH_MB", 512);
    let runs = if smoke {
        1
    } else {
        env("KUBEWHY_BENCH_RUNS", 5)
    };
    let baseline = std::env::var_os("KUBEWHY_BENCH_BASELINE").map(PathBuf::from);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("explain_vs_grep");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    println!(
        "kubewhy explain against grep -c -E '{GREP_KEYWORDS}' ({} cores, load average {})",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load()
    );

    let realistic = explain_log::realistic(if smoke { 1 << 20 } else { mb << 20 });
    let path = dir.join("realistic.log");
    write(&path, &realistic.bytes);
    println!(
        "realistic log: {} lines, {} failures (one in 200)",
        realistic.lines, realistic.failures
    );
    let failures = realistic.failures;
    drop(realistic);
    let grep = ["-c", "-E", GREP_KEYWORDS];
    let mut cmds = vec![
        Cmd::new("kubewhy explain FILE", KUBEWHY, &EXPLAIN, Input::File),
        Cmd::new("grep -c -E FILE", "grep", &grep, Input::File).counting(failures),
        Cmd::new("cat FILE | kubewhy explain", KUBEWHY, &EXPLAIN, Input::Pipe),
        Cmd::new("cat FILE | grep -c -E", "grep", &grep, Input::Pipe).counting(failures),
    ];
    let mut pairs = vec![(0, 1), (2, 3)];
    if let Some(base) = &baseline {
        cmds.push(baseline_cmd(base, Input::File));
        cmds.push(baseline_cmd(base, Input::Pipe));
        pairs.extend([(0, 4), (2, 5)]);
    }
    let prefilter = prefilter_regex();
    cmds.push(
        Cmd::new(
            "grep -c -E <kubewhy's pre-filter words> FILE",
            "grep",
            &["-c", "-E", &prefilter],
            Input::File,
        )
        .counting(failures),
    );
    pairs.push((0, cmds.len() - 1));
    compare("realistic log", &path, &mut cmds, &pairs, runs);
    check_same_report(&cmds, &path);
    std::fs::remove_file(&path).unwrap_or_else(|e| panic!("removing {}: {e}", path.display()));

    let dense = explain_log::failures_only(if smoke {
        1000
    } else {
        explain_log::FAILURES_ONLY_LINES
    });
    let path = dir.join("failures-only.log");
    write(&path, &dense.bytes);
    let mut cmds = vec![
        Cmd::new("kubewhy explain FILE", KUBEWHY, &EXPLAIN, Input::File),
        Cmd::new("grep -c -E FILE", "grep", &grep, Input::File).counting(dense.failures),
    ];
    let mut pairs = vec![(0, 1)];
    if let Some(base) = &baseline {
        cmds.push(baseline_cmd(base, Input::File));
        pairs.push((0, 2));
    }
    println!();
    compare(
        &format!("every line a failure: {} lines", dense.lines),
        &path,
        &mut cmds,
        &pairs,
        runs,
    );
    check_same_report(&cmds, &path);
    std::fs::remove_file(&path).unwrap_or_else(|e| panic!("removing {}: {e}", path.display()));
}

/// The baseline binary (`KUBEWHY_BENCH_BASELINE`) reading `input`.
fn baseline_cmd(base: &Path, input: Input) -> Cmd {
    let name = match input {
        Input::File => "baseline explain FILE",
        Input::Pipe => "cat FILE | baseline explain",
    };
    Cmd::new(name, base, &EXPLAIN, input)
}

fn write(path: &Path, bytes: &[u8]) {
    use std::io::Write;
    File::create(path)
        .and_then(|mut f| f.write_all(bytes))
        .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// Every kubewhy command printed the same report (the source's name aside: a file's path or `<stdin>`).
fn check_same_report(cmds: &[Cmd], log: &Path) {
    let path = log.display().to_string();
    let reports: Vec<(&str, String)> = cmds
        .iter()
        .filter(|c| c.count.is_none())
        .map(|c| {
            // `compare` ran every command at least once (its warm-up round) and kept the first output.
            let out = text(
                c.output
                    .as_deref()
                    .expect("every command ran before its report is compared"),
            );
            let normal = match c.input {
                Input::File => out.replace(&path, "FILE"),
                Input::Pipe => out.replace("<stdin>", "FILE"),
            };
            (c.name.as_str(), normal)
        })
        .collect();
    let Some((first_name, first)) = reports.first() else {
        return;
    };
    for (name, report) in &reports[1..] {
        assert!(
            report == first,
            "{name} printed another report than {first_name}:\n{report}\n---\n{first}"
        );
    }
    // An empty report (nothing printed) is shown as such.
    let summary = first.lines().last().unwrap_or("(nothing printed)");
    println!("  every kubewhy run printed the same report, ending: {summary}");
}
