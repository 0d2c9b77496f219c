//! `kubewhy explain [FILE ...]`: reads logs, error messages or Status JSON (standard input when no file is
//! given), and explains every distinct Kubernetes API failure in them — as rustc-style text, as JSON, or (with
//! `--fix`) as the merged RBAC manifests that grant what was denied.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use kubewhy::remedy::rbac::{grants, merged_yaml};
use kubewhy::render::{json, text};
use kubewhy::scan::{Finding, Scanner};

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// rustc-style diagnostics.
    Text,
    /// A JSON array, one object per distinct failure.
    Json,
}

/// When to colour text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Color {
    /// On a terminal, unless `NO_COLOR` is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Arguments of `kubewhy explain`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files to read (`-` is standard input); standard input when none is given.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Output::Text)]
    pub output: Output,

    /// Print only the RBAC manifests that grant every denied permission, merged into one role per subject,
    /// ready for `kubectl apply -f -`.
    #[arg(long)]
    pub fix: bool,

    /// Confirm causes against the cluster of the current kubeconfig: discovery (is the resource served, where,
    /// nearest names) and SubjectAccessReview (does the denial still hold).
    #[arg(long, visible_alias = "cluster")]
    pub live: bool,

    /// When to colour text output.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

/// Runs `kubewhy explain`.
pub fn run(args: Args) -> ExitCode {
    let mut scanner = Scanner::new();
    let mut input_failed = false;
    let sources: Vec<PathBuf> = if args.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.files.clone()
    };
    for path in &sources {
        let result = if path.as_os_str() == "-" {
            scanner.read("<stdin>", io::stdin().lock()).map(|_| ())
        } else if path.is_dir() {
            Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "it is a directory; give the log files inside it",
            ))
        } else {
            File::open(path).and_then(|f| scanner.read(&path.display().to_string(), f).map(|_| ()))
        };
        if let Err(e) = result {
            let name = if path.as_os_str() == "-" {
                "<stdin>".into()
            } else {
                path.display().to_string()
            };
            eprintln!("error: cannot read {name}: {e}");
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
        Err(e) => {
            eprintln!("error: cannot write the report: {e}");
            return ExitCode::from(2);
        }
    }
    if input_failed {
        ExitCode::from(2)
    } else if findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn use_color(choice: Color) -> bool {
    match choice {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => {
            io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var("TERM").map_or(true, |t| t != "dumb")
        }
    }
}

fn write_report(args: &Args, findings: &[Finding], names: &str) -> io::Result<()> {
    let mut out = BufWriter::new(io::stdout().lock());
    match args.output {
        Output::Json => {
            let found: Vec<_> = findings
                .iter()
                .map(|f| (&f.diagnosis, f.location()))
                .collect();
            json::write_findings(&mut out, &found)?
        }
        Output::Text => {
            let opts = text::TextOptions {
                color: use_color(args.color),
                ..text::TextOptions::default()
            };
            for f in findings {
                text::write_at(&mut out, &f.diagnosis, Some(f.location()), &opts)?;
            }
            let diagnoses: Vec<_> = findings.iter().map(|f| &f.diagnosis).collect();
            text::write_totals(&mut out, &diagnoses, names, &opts)?;
        }
    }
    out.flush()
}

fn write_fix(findings: &[Finding]) -> io::Result<()> {
    let mut all = Vec::new();
    let mut skipped = Vec::new();
    for f in findings {
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
    if grants.is_empty() {
        eprintln!("note: no denial that RBAC can fix was found; nothing to apply");
        return Ok(());
    }
    let yaml =
        merged_yaml(&grants).map_err(|e| io::Error::other(format!("rendering RBAC YAML: {e}")))?;
    let mut out = BufWriter::new(io::stdout().lock());
    out.write_all(yaml.as_bytes())?;
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
