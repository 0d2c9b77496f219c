//! kubewhy: a Kubernetes API failure explains itself.
//!
//! One flow runs through the crate: *a failure* (a `kube::Error`, a watcher error, a log line, a failed check)
//! becomes *a [`Diagnosis`]* — plain data with a typed [`Cause`] — which is worded by one table
//! ([`Diagnosis::describe`]), remedied from the diagnosis alone ([`Diagnosis::remedy`]) and shown *somewhere a
//! person sees it* (a log line, a metric, a readiness answer, a CLI report rendered by [`render`]).
//!
//! The pipeline: read (evidence from any input) → classify (class, request, cause) → describe (wording) → remedy
//! → render. Kubernetes facts every layer shares live in [`vocab`], [`url`], [`catalog`] and [`review`].

#![deny(missing_docs)]

pub mod catalog;
pub mod cause;
pub mod chain;
pub mod class;
mod classify;
pub mod describe;
mod diagnose;
pub mod diagnosis;
mod fold;
pub mod kubeconfig;
pub mod live;
pub mod metrics;
pub mod near_miss;
pub mod needs;
pub mod note;
pub mod preflight;
pub mod rbac;
mod read;
pub mod remedy;
pub mod render;
pub mod retry;
pub mod review;
pub mod scan;
pub mod trace;
pub mod url;
pub mod vocab;
pub mod watch;

pub use cause::Cause;
pub use describe::Description;
pub use diagnose::{
    diagnose, diagnose_controller, diagnose_error, diagnose_error_in, diagnose_in, diagnose_text,
    diagnose_watcher, diagnose_watcher_in,
};
pub use diagnosis::{Class, Diagnosis, Phase, Request};
pub use note::Note;
pub use remedy::Remedy;

/// The example in the crate's README (its crates.io page) compiles.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
