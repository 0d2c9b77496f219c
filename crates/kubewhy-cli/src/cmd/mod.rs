//! The subcommands, one module each, and what they share: the output flags (`-o`, `--color`) and how an error
//! that stops a command is printed (cargo's way: `error:` and each cause once under `Caused by:`).

pub mod check;
pub mod completion;
pub mod explain;
pub mod man;
pub mod rbac;
pub mod workload;

use std::io::IsTerminal;
use std::process::ExitCode;

use kubewhy::render::{ColorChoice, Format};

/// The output flags `explain` and `check` share.
#[derive(Debug, Clone, clap::Args)]
pub struct OutputArgs {
    /// The output format.
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// When to colour text: on a terminal (unless `NO_COLOR` is set), always, never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

impl OutputArgs {
    /// Whether to colour standard output.
    pub fn stdout_color(&self) -> bool {
        self.color.colors(std::io::stdout().is_terminal())
    }

    /// Whether to colour standard error.
    pub fn stderr_color(&self) -> bool {
        self.color.colors(std::io::stderr().is_terminal())
    }
}

/// Prints the error that stopped a command and returns exit status 2 (bad usage or input, or the command could not
/// run).
pub fn failed(err: &(dyn std::error::Error + 'static), color: ColorChoice) -> ExitCode {
    kubewhy::render::chain::eprint_error(err, color.colors(std::io::stderr().is_terminal()));
    ExitCode::from(2)
}
