//! Errors of kubewhy's own programs, printed the cargo way: `error: <what failed>`, then each cause once under
//! `Caused by:` (a cause whose text its parent already shows is left out). Every binary of the workspace prints
//! its errors through [`write_error`].

use std::error::Error;
use std::io::{self, Write};

use super::Paint;

/// Writes `err` and its causes: `error: top`, a blank line, `Caused by:` and each cause indented.
pub fn write_error(w: &mut impl Write, err: &(dyn Error + 'static), color: bool) -> io::Result<()> {
    let p = Paint { on: color };
    let messages = crate::chain::messages(err);
    let mut lines = messages.iter();
    let top = lines.next().map_or("an error occurred", String::as_str);
    writeln!(w, "{}: {top}", p.level(super::Level::Error, "error"))?;
    let causes: Vec<&String> = lines.collect();
    if !causes.is_empty() {
        writeln!(w)?;
        writeln!(w, "{}", p.bold("Caused by:"))?;
        for cause in causes {
            for (i, line) in cause.lines().enumerate() {
                let indent = if i == 0 { "  " } else { "    " };
                writeln!(w, "{indent}{line}")?;
            }
        }
    }
    Ok(())
}

/// [`write_error`] to standard error (a failure to write there has nowhere else to go).
pub fn eprint_error(err: &(dyn Error + 'static), color: bool) {
    let mut stderr = io::stderr().lock();
    // Standard error is the last resort: if it cannot be written, there is no one left to tell.
    let _ = write_error(&mut stderr, err, color);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("the kubeconfig `/x` cannot be used")]
    struct Top(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("reading the file failed")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn prints_each_cause_once_under_caused_by() {
        let err = Top(Middle(std::io::Error::other(
            "No such file or directory (os error 2)",
        )));
        let mut out = Vec::new();
        write_error(&mut out, &err, false).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "error: the kubeconfig `/x` cannot be used\n\nCaused by:\n  reading the file failed\n  No such file \
             or directory (os error 2)\n"
        );
    }
}
