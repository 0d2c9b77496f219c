//! `doc-controller`: the command line (see `doc-controller --help`); everything else lives in the library.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use doc_controller::cli::{Cli, Command};
use doc_controller::reconcile::describe;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => {
            if let Err(e) = doc_controller::telemetry::init(cli.log_format, &cli.log_filter) {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: starting the async runtime failed: {e}");
                    return ExitCode::from(2);
                }
            };
            match runtime.block_on(doc_controller::run::run(args)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(doc_controller::run::Error::Persistent(diagnosis)) => {
                    // The exit policy: the full diagnosis, then an exit code that names its class.
                    let code = kubewhy::watch::exit_code(diagnosis.class);
                    tracing::error!(class = %diagnosis.class, exit_code = code, "{diagnosis}; exiting (--on-persistent-error=exit)");
                    let mut err = std::io::stderr().lock();
                    let written = kubewhy::render::text::write_diagnosis(&mut err, &diagnosis, &Default::default())
                        .and_then(|()| writeln!(err, "doc-controller: exiting with code {code} ({}) after --error-grace, as --on-persistent-error=exit asks", diagnosis.class));
                    if let Err(e) = written {
                        eprintln!("error: {diagnosis} (printing the full diagnosis failed: {e})");
                    }
                    ExitCode::from(code)
                }
                Err(e) => {
                    let help = e.help();
                    tracing::error!(error = %describe(&e), help, "doc-controller stopped");
                    eprintln!("error: {}", describe(&e));
                    if let Some(help) = help {
                        eprintln!("  = help: {help}");
                    }
                    match e {
                        doc_controller::run::Error::LostLeadership(_)
                        | doc_controller::run::Error::RenewalTask(_)
                        | doc_controller::run::Error::ShutdownTimeout(_)
                        | doc_controller::run::Error::Preflight(_) => ExitCode::FAILURE,
                        _ => ExitCode::from(2),
                    }
                }
            }
        }
        Command::Crdgen => print(doc_controller::document::crd_yaml().map_err(|e| e.to_string())),
        Command::Rbac(scope) => print(
            scope
                .needs()
                .rbac_yaml(&scope.subject())
                .map_err(|e| e.to_string()),
        ),
        Command::Needs(scope) => print(scope.needs().to_yaml().map_err(|e| e.to_string())),
        Command::Doctor(args) => {
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: starting the async runtime failed: {e}");
                    return ExitCode::from(2);
                }
            };
            let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
            match runtime.block_on(doc_controller::doctor::doctor(&args, &mut out, &mut err)) {
                Ok(code) => ExitCode::from(code),
                // A closed pipe (`doctor | head`) is not an error.
                Err(doc_controller::doctor::DoctorError::Write(e))
                    if e.kind() == std::io::ErrorKind::BrokenPipe =>
                {
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {}", describe(&e));
                    ExitCode::from(2)
                }
            }
        }
        Command::Completion { shell } => print_bytes(&doc_controller::manual::completion(shell)),
        Command::Man { dir } => write_man_pages(&dir),
        Command::GenDeploy(args) => gen_deploy(&args),
    }
}

/// `doc-controller gen-deploy [--check]`: the generated files of `deploy/` and of the Helm chart.
fn gen_deploy(args: &doc_controller::cli::GenDeployArgs) -> ExitCode {
    use doc_controller::{chart, deploy};
    let files = match (deploy::generated(), chart::generated()) {
        (Ok(deploy), Ok(chart)) => [(&args.dir, deploy), (&args.chart_dir, chart)],
        (Err(e), _) | (_, Err(e)) => {
            eprintln!(
                "error: {}",
                describe(&doc_controller::deploy::Error::Generate(e))
            );
            return ExitCode::from(2);
        }
    };
    if args.check {
        let stale: Vec<_> = files
            .into_iter()
            .flat_map(|(dir, files)| deploy::stale_files(dir, files))
            .collect();
        if stale.is_empty() {
            println!(
                "{} and {} are up to date",
                args.dir.display(),
                args.chart_dir.display()
            );
            return ExitCode::SUCCESS;
        }
        for path in stale {
            eprintln!("error: {} is stale", path.display());
        }
        eprintln!(
            "  = help: run `cargo run -p doc-controller -- gen-deploy` and commit the result"
        );
        return ExitCode::FAILURE;
    }
    for (dir, files) in files {
        match deploy::write_files(dir, files) {
            Ok(paths) => {
                for p in paths {
                    println!("wrote {}", p.display());
                }
            }
            Err(e) => {
                eprintln!("error: {}", describe(&e));
                return ExitCode::from(2);
            }
        }
    }
    ExitCode::SUCCESS
}

/// Prints generated YAML; a closed pipe is not an error.
fn print(text: Result<String, String>) -> ExitCode {
    match text {
        Ok(text) => print_bytes(text.as_bytes()),
        Err(e) => {
            eprintln!("error: generating the YAML failed: {e}");
            ExitCode::from(2)
        }
    }
}

/// Writes generated output to standard output; a closed pipe is not an error.
fn print_bytes(bytes: &[u8]) -> ExitCode {
    match std::io::stdout().write_all(bytes) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: writing to standard output failed: {e}");
            ExitCode::from(2)
        }
    }
}

/// `doc-controller man --dir DIR`: writes every man page into `dir`.
fn write_man_pages(dir: &std::path::Path) -> ExitCode {
    match doc_controller::manual::write_man_pages(dir) {
        Ok(()) => {
            println!("wrote the man pages into {}", dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "error: writing the man pages into {} failed: {e}",
                dir.display()
            );
            ExitCode::from(2)
        }
    }
}
