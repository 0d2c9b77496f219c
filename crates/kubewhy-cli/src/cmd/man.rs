//! `kubewhy man --dir DIR`: writes the man pages (roff), one per command, generated from the same clap definition
//! as `--help`. Packagers run it at build time; the copies in `docs/man/` are checked against it by a test.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `kubewhy man`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The directory to write `kubewhy.1`, `kubewhy-explain.1`, ... into (created when missing).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
}

/// Writes one page for `command` and one for each of its visible subcommands into `args.dir`.
pub fn run(args: Args, command: clap::Command) -> ExitCode {
    match write_pages(&args.dir, command) {
        Ok(paths) => {
            for path in paths {
                println!("wrote {}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn write_pages(dir: &Path, command: clap::Command) -> Result<Vec<PathBuf>, String> {
    let pages = pages(command).map_err(|e| format!("rendering the man pages: {e}"))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let mut written = Vec::new();
    for (file, roff) in pages {
        let path = dir.join(file);
        std::fs::write(&path, roff).map_err(|e| format!("writing {}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// Every man page: `(file name, roff)` for the command and each visible subcommand (`kubewhy-explain.1`, ...).
fn pages(command: clap::Command) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let command = command.disable_help_subcommand(true);
    let name = command.get_name().to_string();
    let mut commands = vec![(name.clone(), command.clone())];
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let page = format!("{name}-{}", sub.get_name());
        // The page's title and synopsis name the full command (`kubewhy explain`).
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
