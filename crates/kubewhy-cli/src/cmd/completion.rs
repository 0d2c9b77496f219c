//! `kubewhy completion bash|zsh|fish|powershell|elvish`: the shell completion script, generated from the same clap
//! definition as `--help`, spelled as kubectl spells it (`source <(kubewhy completion bash)`).

use std::io::Write;
use std::process::ExitCode;

use clap_complete::Shell;

/// Arguments of `kubewhy completion`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    source <(kubewhy completion bash)                                  # this bash session\n  \
    kubewhy completion bash > /etc/bash_completion.d/kubewhy           # every bash session\n  \
    kubewhy completion zsh > \"${fpath[1]}/_kubewhy\"                    # zsh\n  \
    kubewhy completion fish > ~/.config/fish/completions/kubewhy.fish  # fish")]
pub struct Args {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Writes the completion script for `command` (named `bin_name`) to standard output.
pub fn run(args: Args, mut command: clap::Command, bin_name: &str) -> ExitCode {
    // clap_complete panics on a failed write (e.g. a closed pipe): render into memory, then write.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, bin_name, &mut script);
    let mut out = std::io::stdout().lock();
    match out.write_all(&script).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "error: writing the {} completion script failed: {e}",
                args.shell
            );
            ExitCode::from(2)
        }
    }
}
