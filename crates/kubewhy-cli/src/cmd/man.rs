//! `kubewhy man --dir DIR`: writes the man pages (roff), one per command (`kubewhy.1`, `kubewhy-explain.1`, ...),
//! generated from the same clap definition as `--help`. Packagers run it at build time; the copies in `docs/man/`
//! are checked against it by a test.

use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `kubewhy man`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The directory to write the pages into (created when missing).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
}

/// Writes one page for `command` and one for each of its visible subcommands into `args.dir`.
pub fn run(args: Args, command: clap::Command) -> ExitCode {
    let written = std::fs::create_dir_all(&args.dir)
        .and_then(|()| clap_mangen::generate_to(command, &args.dir));
    match written {
        Ok(()) => {
            println!("wrote the man pages into {}", args.dir.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "error: writing the man pages into {} failed: {e}",
                args.dir.display()
            );
            ExitCode::from(2)
        }
    }
}
