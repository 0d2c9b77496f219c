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

use crate::cause::Cause;
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
        match &self.cause {
            Cause::Denied(_)
            | Cause::Escalation { .. }
            | Cause::Admission { .. }
            | Cause::WebhookUnreachable { .. }
            | Cause::Unauthenticated { .. }
            | Cause::CredentialsUnavailable => access::remedy(self),
            Cause::NotServed(_)
            | Cause::NoSubresource { .. }
            | Cause::ObjectMissing
            | Cause::NotInCache
            | Cause::SubjectMissing
            | Cause::NoAggregatedDiscovery => served::remedy(self),
            Cause::Invalid { .. }
            | Cause::StalePatch { .. }
            | Cause::BadOptions { .. }
            | Cause::WatchListDisabled
            | Cause::ResourceVersionMatchOnWatch
            | Cause::ShardingNotServed { .. }
            | Cause::BadRequest { .. }
            | Cause::VerbUnsupported { .. }
            | Cause::WrongScope { .. }
            | Cause::NotSent
            | Cause::NoResourceVersion
            | Cause::Modified
            | Cause::ApplyConflict { .. }
            | Cause::AlreadyExists
            | Cause::Expired => request::remedy(self),
            Cause::Throttled { .. }
            | Cause::ClientThrottled
            | Cause::Reinitializing { .. }
            | Cause::ServerFailed
            | Cause::Unavailable
            | Cause::LeaderChanged
            | Cause::StorageRead { .. }
            | Cause::ServerTimeout
            | Cause::NoAnswer { .. }
            | Cause::CacheSyncTimeout
            | Cause::StalledWatch { .. }
            | Cause::NoInitialEventsEnd { .. }
            | Cause::Connection { .. }
            | Cause::Tls { .. }
            | Cause::ProxyUnsupported
            | Cause::NoConfig
            | Cause::Undecodable
            | Cause::Unknown => server::remedy(self),
            Cause::Application(_) => application::remedy(self),
        }
    }
}
