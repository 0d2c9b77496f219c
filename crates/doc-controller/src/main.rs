//! `doc-controller`: the command line (see `doc-controller --help`); everything else lives in the library.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use doc_controller::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => {
            if let Err(e) = doc_controller::telemetry::init(cli.log_format, &cli.log_filter) {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
            let runtime = match runtime() {
                Ok(rt) => rt,
                Err(code) => return code,
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
                    tracing::error!(error = %doc_controller::telemetry::one_line(&e), help, "doc-controller stopped");
                    print_error(&e);
                    if let Some(help) = help {
                        eprintln!("  = help: {help}");
                    }
                    match e {
                        doc_controller::run::Error::LostMembership(_)
                        | doc_controller::run::Error::RenewalTask(_)
                        | doc_controller::run::Error::ShutdownTimeout(_)
                        | doc_controller::run::Error::Preflight(_) => ExitCode::FAILURE,
                        _ => ExitCode::from(2),
                    }
                }
            }
        }
        Command::Crdgen => print(doc_controller::document::crd_yaml()),
        Command::Rbac(scope) => print(scope.needs().rbac_yaml(&scope.subject())),
        Command::Needs(scope) => print(scope.needs().to_yaml()),
        Command::Doctor(args) => {
            let runtime = match runtime() {
                Ok(rt) => rt,
                Err(code) => return code,
            };
            let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
            match runtime.block_on(doc_controller::doctor::doctor(&args, &mut out, &mut err)) {
                Ok(code) => ExitCode::from(code),
                // A closed pipe (`doctor | head`) is not an error.
                Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
                Err(e) => {
                    drop(err);
                    print_error(&e);
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
            print_error(&doc_controller::deploy::Error::Generate(e));
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
                print_error(&e);
                return ExitCode::from(2);
            }
        }
    }
    ExitCode::SUCCESS
}

/// Why generated output could not be printed.
#[derive(Debug, thiserror::Error)]
enum PrintError<E: std::error::Error + 'static> {
    #[error("generating the YAML failed")]
    Generate(#[source] E),
    #[error("writing to standard output failed")]
    Write(#[source] std::io::Error),
    #[error("writing the man pages into {} failed", .0.display())]
    Man(std::path::PathBuf, #[source] E),
}

/// Prints generated YAML; a closed pipe is not an error.
fn print<E: std::error::Error + 'static>(text: Result<String, E>) -> ExitCode {
    match text {
        Ok(text) => print_bytes(text.as_bytes()),
        Err(e) => {
            print_error(&PrintError::Generate(e));
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
            print_error(&PrintError::<std::io::Error>::Write(e));
            ExitCode::from(2)
        }
    }
}

/// Prints an error that stops the program the cargo way: `error:`, then each cause once under `Caused by:`.
fn print_error(err: &(dyn std::error::Error + 'static)) {
    use std::io::IsTerminal;
    let color = kubewhy::render::ColorChoice::Auto.colors(std::io::stderr().is_terminal());
    kubewhy::render::chain::eprint_error(err, color);
}

/// The async runtime, or the exit status after saying why it could not start.
fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    #[derive(Debug, thiserror::Error)]
    #[error("starting the async runtime failed")]
    struct Runtime(#[source] std::io::Error);
    tokio::runtime::Runtime::new().map_err(|e| {
        print_error(&Runtime(e));
        ExitCode::from(2)
    })
}

/// `doc-controller man --dir DIR`: writes every man page into `dir`.
fn write_man_pages(dir: &std::path::Path) -> ExitCode {
    match doc_controller::manual::write_man_pages(dir) {
        Ok(()) => {
            println!("wrote the man pages into {}", dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            print_error(&PrintError::Man(dir.to_path_buf(), e));
            ExitCode::from(2)
        }
    }
}
