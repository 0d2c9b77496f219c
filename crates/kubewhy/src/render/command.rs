//! A command line shown to a person — the `--fix` line a report ends with, a `kubectl` hint — with each argument
//! quoted for a POSIX shell only when it needs to be, so it can be copied as it is.

use std::fmt;

/// A command line being built: `CommandLine::new("kubewhy check").opt("--needs", Some("n.yaml")).flag("--fix", true)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine(String);

impl CommandLine {
    /// A command line starting with `program` (which may hold several words: `kubewhy check`).
    pub fn new(program: &str) -> CommandLine {
        CommandLine(program.to_string())
    }

    /// Appends one argument, quoted when it has to be.
    pub fn arg(mut self, arg: &str) -> CommandLine {
        self.0.push(' ');
        self.0.push_str(&crate::shell::word(arg));
        self
    }

    /// Appends `flag value` when there is a value.
    pub fn opt(self, flag: &str, value: Option<impl AsRef<str>>) -> CommandLine {
        match value {
            Some(v) => self.arg(flag).arg(v.as_ref()),
            None => self,
        }
    }

    /// Appends `flag value` for each value.
    pub fn opts(self, flag: &str, values: &[String]) -> CommandLine {
        values.iter().fold(self, |c, v| c.arg(flag).arg(v))
    }

    /// Appends `flag` when `on`.
    pub fn flag(self, flag: &str, on: bool) -> CommandLine {
        if on { self.arg(flag) } else { self }
    }
}

impl fmt::Display for CommandLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<CommandLine> for String {
    fn from(c: CommandLine) -> String {
        c.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_a_shell_would_split() {
        let c = CommandLine::new("kubewhy check")
            .opt("--needs", Some("/tmp/needs.yaml"))
            .opt("--context", None::<&str>)
            .opts("--as-group", &["dev team".into(), "it's".into()])
            .flag("--fix", true)
            .flag("--verbose", false);
        assert_eq!(
            c.to_string(),
            r"kubewhy check --needs /tmp/needs.yaml --as-group 'dev team' --as-group 'it'\''s' --fix"
        );
    }
}
