//! `kubewhy explain [FILE ...]`: reads logs, error messages or Status JSON (standard input when no file is
//! given), and explains every distinct Kubernetes API failure in them — as rustc-style text, as JSON, or (with
//! `--fix`) as the merged RBAC manifests that grant what was denied. Given a workload (`deploy/web`, `-l app=web`)
//! instead, it reads it from the cluster ([`super::workload`]).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use kubewhy::remedy::rbac::{grants, merged_yaml, object_changes};
use kubewhy::render::{Format, json, junit, text};
use kubewhy::scan::{Finding, Scanner};

/// Arguments of `kubewhy explain`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files to read (`-` is standard input); standard input when none is given. Or one workload in the cluster,
    /// as TYPE/NAME (`deploy/web`, `sts/db`, `ds/agent`, `rs/web-7d9c`, `job/migrate`, `pod/web-0`).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Output format and colour.
    #[command(flatten)]
    pub out: super::OutputArgs,

    /// Print only the RBAC manifests that grant every denied permission, merged into one role per subject,
    /// ready for `kubectl apply -f -`.
    #[arg(long)]
    pub fix: bool,

    /// Confirm causes against the cluster of the current kubeconfig: discovery (is the resource served, where,
    /// nearest names) and SubjectAccessReview (does the denial still hold).
    #[arg(long, visible_alias = "cluster")]
    pub live: bool,

    /// Threads that search and parse the input while it is read (0: all on the reading thread); by default as
    /// many as the machine has cores. The report is the same whatever the number.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,

    /// Explaining a workload from the cluster.
    #[command(flatten)]
    pub workload: super::workload::WorkloadArgs,
}

/// Runs `kubewhy explain`.
pub fn run(args: Args) -> ExitCode {
    match super::workload::target(&args.files, &args.workload) {
        Ok(Some(target)) => return super::workload::run(&args, target),
        Ok(None) => {}
        Err(usage) => {
            let err = UsageError(usage);
            return super::failed(&err, args.out.color);
        }
    }
    let mut scanner = Scanner::new();
    if let Some(threads) = args.threads {
        scanner = scanner.with_threads(threads);
    }
    let mut input_failed = false;
    let sources: Vec<PathBuf> = if args.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.files.clone()
    };
    for path in &sources {
        let result = if path.as_os_str() == "-" {
            let stdin = io::stdin();
            widen_pipe(&stdin);
            scanner.read("<stdin>", stdin.lock()).map(|_| ())
        } else if path.is_dir() {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "it is a directory; give the log files inside it",
            ))
        } else {
            File::open(path).and_then(|f| scanner.read(&path.display().to_string(), f).map(|_| ()))
        };
        if let Err(source) = result {
            let name = if path.as_os_str() == "-" {
                "<stdin>".into()
            } else {
                path.display().to_string()
            };
            let err = ReadError { name, source };
            kubewhy::render::chain::eprint_error(&err, args.out.stderr_color());
            input_failed = true;
        }
    }
    let mut findings = scanner.into_findings();
    if args.live {
        live(&mut findings);
    } else {
        for f in &mut findings {
            if let Some(note) = kubewhy::live::unconfirmed(&f.diagnosis, None) {
                f.diagnosis.notes.push(note);
            }
        }
    }

    let names = sources
        .iter()
        .map(|p| {
            if p.as_os_str() == "-" {
                "<stdin>".to_string()
            } else {
                p.display().to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let written = if args.fix {
        write_fix(&findings)
    } else {
        write_report(&args, &findings, &names)
    };
    match written {
        Ok(()) => {}
        // A closed pipe (`| head`) is the reader's choice, not a failure.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return ExitCode::SUCCESS,
        Err(e) => return super::failed(&WriteError(e), args.out.color),
    }
    if input_failed {
        ExitCode::from(2)
    } else if findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// When standard input is a pipe, makes its buffer one scanner window (1 MiB, the most an unprivileged process may
/// ask by default, `/proc/sys/fs/pipe-max-size`) instead of 64 KiB: the writer (`cat`, `kubectl logs`) fills a
/// window before the reader wakes, so the two switch about six times less often (on the 512 MiB bench log, 1,240
/// voluntary context switches instead of 7,000).
#[cfg(target_os = "linux")]
fn widen_pipe(stdin: &io::Stdin) {
    // Not a pipe (a file, a terminal), or a size above the system's limit: the input reads the same with the buffer
    // it has, only in smaller steps; nothing is lost, so the error is dropped.
    let _ = rustix::pipe::fcntl_setpipe_size(stdin, kubewhy::scan::DEFAULT_WINDOW);
}

#[cfg(not(target_os = "linux"))]
fn widen_pipe(_stdin: &io::Stdin) {}

/// An input that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {name}")]
struct ReadError {
    name: String,
    #[source]
    source: io::Error,
}

/// The arguments ask for something `explain` cannot do.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct UsageError(String);

/// The report could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the report")]
struct WriteError(#[source] io::Error);

fn write_report(args: &Args, findings: &[Finding], names: &str) -> io::Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    match args.out.output {
        Format::Json => {
            let found: Vec<_> = findings
                .iter()
                .map(|f| (&f.diagnosis, f.location()))
                .collect();
            json::write_findings(&mut out, &found)?
        }
        Format::Junit => {
            let places: Vec<String> = findings
                .iter()
                .map(|f| format!("{}:{}", f.source, f.first_line))
                .collect();
            let cases: Vec<junit::Case<'_>> = findings
                .iter()
                .zip(&places)
                .map(|(f, place)| junit::Case {
                    class: "kubewhy.explain",
                    name: place,
                    outcome: junit::Outcome::Failed(&f.diagnosis),
                })
                .collect();
            junit::write(&mut out, "kubewhy explain", names, &cases).map_err(io::Error::other)?
        }
        Format::Text => {
            let opts = text::TextOptions::default().with_color(args.out.stdout_color());
            for f in findings {
                text::write_at(&mut out, &f.diagnosis, Some(f.location()), &opts)?;
            }
            let diagnoses: Vec<_> = findings.iter().map(|f| &f.diagnosis).collect();
            text::write_totals(&mut out, &diagnoses, names, &opts)?;
            // The library says what a live check would confirm; the flag that runs one is the CLI's to name.
            let unconfirmed = diagnoses.iter().any(|d| {
                d.notes
                    .iter()
                    .any(|n| matches!(n, kubewhy::Note::Unconfirmed { .. }))
            });
            if unconfirmed && !args.live {
                writeln!(
                    out,
                    "note: `--live` checks what was not confirmed against the cluster of your kubeconfig"
                )?;
            }
        }
    }
    out.flush()
}

/// Writes the RBAC manifests that grant (or edit the roles to grant) every denial of `findings`.
pub(super) fn write_fix(findings: &[Finding]) -> io::Result<()> {
    // Denials whose near miss edits (or completes) the RBAC that exists: the objects as they will be.
    let changes = object_changes(findings.iter().map(|f| &f.diagnosis));
    let changed: Vec<usize> = changes.iter().flat_map(|c| c.of.iter().copied()).collect();
    let mut all = Vec::new();
    let mut skipped = Vec::new();
    for (i, f) in findings.iter().enumerate() {
        if changed.contains(&i) {
            continue;
        }
        let found = grants(&f.diagnosis);
        if found.is_empty() && f.diagnosis.class == kubewhy::Class::Forbidden {
            skipped.push(f);
        }
        all.extend(found);
    }
    let grants = all;
    for f in &skipped {
        eprintln!(
            "note: not in the manifests: {}:{}: {} — {}",
            f.source,
            f.first_line,
            f.diagnosis.summary(),
            f.diagnosis.remedy().summary
        );
    }
    if grants.is_empty() && changes.is_empty() {
        eprintln!("note: no denial that RBAC can fix was found; nothing to apply");
        return Ok(());
    }
    let mut out = BufWriter::new(io::stdout().lock());
    for (i, change) in changes.iter().enumerate() {
        if i > 0 {
            out.write_all(b"---\n")?;
        }
        for what in &change.what {
            writeln!(out, "# fix: {what}")?;
        }
        out.write_all(change.yaml.as_bytes())?;
    }
    if !grants.is_empty() {
        let yaml = merged_yaml(&grants)
            .map_err(|e| io::Error::other(format!("rendering RBAC YAML: {e}")))?;
        if !changes.is_empty() {
            out.write_all(b"---\n# fix: a new role for what nothing that exists comes close to\n")?;
        }
        out.write_all(yaml.as_bytes())?;
    }
    out.flush()
}

/// Confirms findings against the current kubeconfig's cluster; when it cannot be reached, says so on each
/// finding that needed it.
fn live(findings: &mut [Finding]) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!(
                "warning: --live: cannot start the async runtime: {e}; nothing was confirmed"
            );
            return;
        }
    };
    runtime.block_on(async {
        let client = match kube::Client::try_default().await {
            Ok(c) => c,
            Err(e) => {
                let why = kubewhy::diagnose(&e).summary();
                eprintln!("warning: --live: no cluster to ask ({why}); nothing was confirmed");
                for f in findings.iter_mut() {
                    if let Some(note) = kubewhy::live::unconfirmed(&f.diagnosis, Some(why.clone()))
                    {
                        f.diagnosis.notes.push(note);
                    }
                }
                return;
            }
        };
        let mut live = kubewhy::live::Live::new(client);
        for f in findings.iter_mut() {
            live.enrich(&mut f.diagnosis).await;
        }
    });
}
