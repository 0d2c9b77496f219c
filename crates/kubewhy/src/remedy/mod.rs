//! Remedies: from a [`Diagnosis`] alone — its cause, request and notes, never the message it was read from — to
//! what to do: one line for logs, the next step in words, the commands that confirm the cause or apply the fix,
//! and a manifest when there is one (RBAC comes only from [`crate::rbac::generate`], through [`rbac`]).

mod access;
mod application;
mod near_miss;
pub mod rbac;
mod request;
mod served;
mod server;

use serde::{Deserialize, Serialize};

use crate::cause::Family;
use crate::diagnosis::Diagnosis;

/// What to do about a failure.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Remedy {
    /// The next step in one line (what a log line's `help:` says).
    pub summary: String,
    /// The next step in words (may span lines; the summary when it says it all).
    pub text: String,
    /// A manifest to apply (`kubectl apply -f -`), when there is one.
    pub yaml: Option<String>,
    /// Commands that confirm the cause or apply the fix, in order.
    #[serde(default)]
    pub commands: Vec<String>,
}

impl Remedy {
    pub(super) fn new(text: impl Into<String>) -> Remedy {
        let text = text.into();
        Remedy {
            summary: text.clone(),
            text,
            ..Remedy::default()
        }
    }

    pub(super) fn command(mut self, c: impl Into<String>) -> Remedy {
        self.commands.push(c.into());
        self
    }
}

impl Diagnosis {
    /// What to do about it, derived from the diagnosis alone.
    pub fn remedy(&self) -> Remedy {
        match self.cause.family() {
            Family::Access => access::remedy(self),
            Family::Served => served::remedy(self),
            Family::Request => request::remedy(self),
            Family::Server => server::remedy(self),
            Family::Application => application::remedy(self),
        }
    }
}
