//! The shell completion scripts and man pages of `doc-controller`, generated from the clap definition in
//! [`crate::cli`] (the same one `--help` prints): `doc-controller completion bash`, `doc-controller man --dir DIR`.
//! The copies in `docs/man/` are checked against [`write_man_pages`] by a test.

use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// The completion script for `shell`.
pub fn completion(shell: Shell) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "doc-controller", &mut script);
    script
}

/// Writes one man page for `doc-controller` and one for each visible subcommand (`doc-controller-run.1`, ...) into
/// `dir`, creating it when missing.
pub fn write_man_pages(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    clap_mangen::generate_to(Cli::command(), dir)
}
