//! Renderers: show diagnoses to a person (rustc-style [`text`]) or a program ([`json`], [`junit`]), and the errors
//! of kubewhy's own programs ([`chain`]). They take a diagnosis (words come from [`crate::describe`], fixes from
//! [`crate::remedy`]) and an optional location and write to an `impl Write`; they never classify and never know
//! where a diagnosis came from.

pub mod chain;
pub mod command;
pub mod json;
pub mod junit;
pub mod rbac_diff;
#[cfg(feature = "preflight")]
pub mod report;
pub mod text;

use std::fmt;
use std::str::FromStr;

pub use command::CommandLine;
#[cfg(feature = "preflight")]
pub use report::ReportOptions;
pub use text::{Location, TextOptions};

/// An output format (`-o text|json|junit`).
///
/// Not `#[non_exhaustive]`, on purpose: a program that writes findings in every format should be told by the
/// compiler when a format is added (a new format is a new major version).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Format {
    /// rustc-style text.
    #[default]
    Text,
    /// JSON (`docs/json.md`).
    Json,
    /// JUnit XML, one test case per check or finding.
    Junit,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 3] = [Format::Text, Format::Json, Format::Junit];

    /// `text`, `json`, `junit`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Junit => "junit",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a word that is not a format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an output format (expected text, json or junit)")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Format, UnknownFormat> {
        Format::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| UnknownFormat(s.to_string()))
    }
}

/// Why a report (a preflight report, an RBAC diff) could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// Writing failed (a closed pipe included).
    #[error("writing the report failed")]
    Io(#[from] std::io::Error),
    /// Writing the JUnit XML failed.
    #[error("writing the JUnit report failed")]
    Junit(#[source] junit::Error),
    /// Writing the JSON failed.
    #[error("writing the JSON report failed")]
    Json(#[source] serde_json::Error),
}

impl WriteError {
    /// Whether the reader went away (`| head`): not worth an error message.
    pub fn is_broken_pipe(&self) -> bool {
        crate::chain::iter(self).any(|e| {
            e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
                || e.downcast_ref::<std::sync::Arc<std::io::Error>>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
        })
    }
}

/// When to colour text (`--color auto|always|never`: the whole set, so not `#[non_exhaustive]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set or `TERM` is `dumb`.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl ColorChoice {
    /// Whether to colour a stream that is (or is not) a terminal.
    pub fn colors(self, is_terminal: bool) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                is_terminal
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::env::var("TERM").map_or(true, |t| t != "dumb")
            }
        }
    }
}

pub use crate::diagnosis::Level;

/// ANSI colours, when on.
pub(crate) struct Paint {
    pub(crate) on: bool,
}

impl Paint {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    pub(crate) fn level(&self, l: Level, s: &str) -> String {
        self.wrap(if l == Level::Error { "1;31" } else { "1;33" }, s)
    }
    pub(crate) fn bold(&self, s: &str) -> String {
        self.wrap("1", s)
    }
    pub(crate) fn gutter(&self, s: &str) -> String {
        self.wrap("1;34", s)
    }
    pub(crate) fn added(&self, s: &str) -> String {
        self.wrap("32", s)
    }
}
