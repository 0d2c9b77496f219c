//! The one wording table: from a [`Diagnosis`] — its typed cause, request, phase and notes — to the sentences every
//! surface shows (the summary, the cause text, the `= note:` lines, and the one-line form logs use). Nothing else
//! in the crate turns a cause into words, so the CLI, the preflight report, the watcher's log line, readiness and
//! JSON say the same thing about the same failure.
//!
//! The table is split by family, one private module each: `access` (denials, admission, credentials), `served`
//! (what the API server serves), `request` (the request and the object's state), `server` (load, the server,
//! transport, the client), `application` (the application's own causes, in its own words).

mod access;
mod application;
pub(crate) mod near_miss;
mod notes;
mod request;
pub(crate) mod served;
mod server;

use std::fmt;

use crate::cause::Family;
use crate::diagnosis::{Diagnosis, Request};
use crate::vocab::request_resource;

/// A diagnosis in words.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Description {
    /// One line: what failed.
    pub summary: String,
    /// Why it failed.
    pub cause: String,
    /// Further facts (`= note:` lines), in order.
    pub notes: Vec<String>,
}

/// What a family's table writes for one cause.
#[derive(Default)]
struct Words {
    summary: String,
    cause: String,
    notes: Vec<String>,
}

impl Words {
    /// A summary and a cause, no notes.
    fn new(summary: String, cause: &str) -> Words {
        Words {
            summary,
            cause: cause.to_string(),
            notes: Vec::new(),
        }
    }
}

impl Diagnosis {
    /// The diagnosis in words: summary, cause and notes.
    pub fn describe(&self) -> Description {
        let w = match self.cause.family() {
            Family::Access => access::words(self),
            Family::Served => served::words(self),
            Family::Request => request::words(self),
            Family::Server => server::words(self),
            Family::Application => application::words(self),
        };
        let mut out = notes::leading(self);
        if let Some(n) = notes::phase(self) {
            out.push(n);
        }
        out.extend(w.notes);
        out.extend(notes::trailing(self));
        out.extend(notes::records(&self.request));
        Description {
            summary: w.summary,
            cause: w.cause,
            notes: out,
        }
    }

    /// The summary alone: what failed, in one line.
    pub fn summary(&self) -> String {
        self.describe().summary
    }
}

impl fmt::Display for Diagnosis {
    /// `error[class]: summary`; with `{:#}` the one-line form logs use:
    /// `error[class]: summary; cause: ...; help: ...`, derived from the cause and its fix.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.describe();
        write!(f, "error[{}]: {}", self.class, d.summary)?;
        if f.alternate() {
            if !d.cause.is_empty() {
                write!(f, "; cause: {}", d.cause)?;
            }
            let help = self.help();
            if !help.is_empty() {
                write!(f, "; help: {help}")?;
            }
        }
        Ok(())
    }
}

// ===== phrases the families share =====

/// `` ` ``-quoted resource of a request (`documents.kube.rs/status`), when it names one.
fn quoted_resource(r: &Request) -> Option<String> {
    request_resource(r).map(|t| format!("`{t}`"))
}

/// The object a request names: `` `documents.kube.rs` `a` ``, the kind, or `the object`.
fn object_text(r: &Request) -> String {
    let what = quoted_resource(r)
        .or_else(|| r.kind.as_ref().map(|k| format!("`{k}`")))
        .unwrap_or_else(|| "the object".to_string());
    match &r.name {
        Some(n) => format!("{what} `{n}`"),
        None => what,
    }
}

/// ` in namespace `ns``, or nothing.
fn in_namespace(r: &Request) -> String {
    r.namespace
        .as_deref()
        .map(|ns| format!(" in namespace `{ns}`"))
        .unwrap_or_default()
}

/// The server a request went to: `` `https://host:6443` `` (scheme and authority of an absolute URL, or the host
/// a transport error names), else `the API server`.
fn server_text(r: &Request) -> String {
    match r.url.as_deref().and_then(crate::url::origin) {
        Some(server) => format!("`{server}`"),
        None => "the API server".into(),
    }
}

/// `` `a`, `b` and `c` ``.
fn quoted_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => quoted.join(""),
    }
}

/// `` `a`, `b`, `c` `` (an enumeration, not a sentence's list).
fn quoted_commas(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
