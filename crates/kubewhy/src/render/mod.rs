//! Renderers: show diagnoses and findings to a person (rustc-style [`text`]) or a program ([`json`]). They take
//! plain data and an `impl Write`; they never classify and never know where a diagnosis came from.

pub mod json;
pub mod junit;
pub mod text;

use crate::diagnosis::{Class, Diagnosis};

/// How serious a diagnosis is when shown: an `expired` resource version is routine for a watcher (it relists),
/// so it is a warning; everything else is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Needs attention.
    Error,
    /// Worth knowing, usually harmless.
    Warning,
}

impl Level {
    /// The level a diagnosis is shown at.
    pub fn of(d: &Diagnosis) -> Level {
        match d.class {
            Class::Expired => Level::Warning,
            _ => Level::Error,
        }
    }

    /// `error` or `warning`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
        }
    }
}
