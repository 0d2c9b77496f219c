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

/// What a remedy's manifest is made of. It is written as YAML only when the whole remedy is asked for
/// ([`Diagnosis::remedy`]): a log line's `help:` ([`Diagnosis::help`]) needs none, so a program that only logs
/// diagnoses carries no YAML emitter.
pub(super) enum Manifest<'a> {
    /// No manifest.
    None,
    /// The RBAC that grants these ([`rbac::grants_yaml`]); not empty.
    Grants(Vec<rbac::Grant>),
    /// An existing object as a near miss's fix leaves it.
    Object(&'a serde_json::Value),
}

impl Manifest<'_> {
    /// The manifest written into `m.yaml`; a manifest that cannot be written says so in `m.text`.
    fn write_into(self, m: &mut Remedy) {
        match self {
            Manifest::None => {}
            Manifest::Grants(grants) => match rbac::grants_yaml(&grants) {
                Ok(yaml) => m.yaml = yaml,
                Err(e) => {
                    m.text = format!("(the RBAC manifest could not be rendered: {e}) {}", m.text);
                }
            },
            // A JSON object with string keys always has a YAML form.
            Manifest::Object(object) => m.yaml = serde_yaml::to_string(object).ok(),
        }
    }
}

impl Diagnosis {
    /// What to do about it, derived from the diagnosis alone.
    pub fn remedy(&self) -> Remedy {
        let (mut m, manifest) = self.remedy_parts();
        manifest.write_into(&mut m);
        m
    }

    /// The next step in one line (the remedy's summary, what a log line's `help:` says), without writing its
    /// manifest.
    pub fn help(&self) -> String {
        self.remedy_parts().0.summary
    }

    /// The remedy in words and commands, and what its manifest is made of.
    fn remedy_parts(&self) -> (Remedy, Manifest<'_>) {
        match self.cause.family() {
            Family::Access => access::remedy(self),
            Family::Served => (served::remedy(self), Manifest::None),
            Family::Request => (request::remedy(self), Manifest::None),
            Family::Server => (server::remedy(self), Manifest::None),
            Family::Application => (application::remedy(self), Manifest::None),
        }
    }
}
