//! The `kubewhy` command line, also installed as the kubectl plugin `kubectl-api_why` (so `kubectl api-why explain`
//! works): argument parsing and dispatch only. Each subcommand lives in `cmd/<name>.rs` with an `Args` struct
//! and a `run(args) -> ExitCode`.
//!
//! Exit status: 0 nothing found, 1 something found, 2 usage or input error.

mod cmd;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// A Kubernetes API failure explains itself.
#[derive(Debug, Parser)]
#[command(name = "kubewhy", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Explain the Kubernetes API failures in logs, error messages or Status JSON (files or standard input), or
    /// those of a running workload, read from the cluster (`kubewhy explain deploy/web -n shop`).
    Explain(cmd::explain::Args),
    /// Check that everything a program needs from the API server works (types served, verbs allowed, watches
    /// open), all at once, and print the exact fix.
    Check(cmd::check::Args),
    /// RBAC: compare what an identity is granted with what a program needs (`kubewhy rbac diff`).
    Rbac(cmd::rbac::Args),
    /// Print the shell completion script: `source <(kubewhy completion bash)`.
    Completion(cmd::completion::Args),
    /// Write the man pages into a directory (for packagers).
    #[command(hide = true)]
    Man(cmd::man::Args),
}

/// The kubectl plugin's binary name: `kubectl api-why` runs it. Not `kubectl-why`: the krew index and other
/// projects already use `why` (see the README, "The kubectl plugin").
pub const PLUGIN_BIN: &str = "kubectl-api_why";

/// Parses the command line (named `kubectl api-why` when run as the plugin) and runs the subcommand.
pub fn main() -> ExitCode {
    let as_plugin = std::env::args_os()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|n| n.to_string_lossy().starts_with(PLUGIN_BIN))
        })
        .unwrap_or(false);
    let mut command = Cli::command();
    if as_plugin {
        command = command.bin_name("kubectl api-why").display_name(PLUGIN_BIN);
    }
    // clap prints help/version (exit 0) and usage errors (exit 2) itself.
    let cli = match Cli::from_arg_matches(&command.get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    match cli.command {
        Command::Explain(args) => cmd::explain::run(args),
        Command::Check(args) => cmd::check::run(args),
        Command::Rbac(args) => cmd::rbac::run(args),
        Command::Completion(args) => cmd::completion::run(args, Cli::command(), "kubewhy"),
        Command::Man(args) => cmd::man::run(args, Cli::command()),
    }
}
