//! The shell completion scripts and man pages of `doc-controller`, generated from the clap definition in
//! [`crate::cli`] (the same one `--help` prints): `doc-controller completion bash`, `doc-controller man --dir DIR`.
//! The copies in `docs/man/` are checked against [`pages`] by a test.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// The completion script for `shell`.
pub fn completion(shell: Shell) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "doc-controller", &mut script);
    script
}

/// Every man page: `(file name, roff)` for `doc-controller` and each visible subcommand
/// (`doc-controller-run.1`, ...).
pub fn pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let command = Cli::command().disable_help_subcommand(true);
    let name = command.get_name().to_string();
    let mut commands = vec![(name.clone(), command.clone())];
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let page = format!("{name}-{}", sub.get_name());
        // The page's title and synopsis name the full command (`doc-controller run`).
        let full = format!("{name} {}", sub.get_name());
        commands.push((page.clone(), sub.clone().name(page).bin_name(full)));
    }
    commands
        .into_iter()
        .map(|(page, cmd)| {
            let mut roff = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut roff)?;
            Ok((format!("{page}.1"), roff))
        })
        .collect()
}
