//! kubewhy: a Kubernetes API failure explains itself.
//!
//! One flow runs through the crate: *a failure* (a `kube::Error`, a watcher error, a log line, a failed check)
//! becomes *a [`Diagnosis`]* — plain data with a typed [`Cause`] — which is worded by one table
//! ([`Diagnosis::describe`]), remedied from the diagnosis alone ([`Diagnosis::remedy`]) and shown *somewhere a
//! person sees it* (a log line, a metric, a readiness answer, a CLI report rendered by [`render`]).
//!
//! The pipeline: read (evidence from any input) → classify (class, request, cause) → describe (wording) → remedy
//! → render. Kubernetes facts every layer shares live in [`vocab`], [`url`], [`catalog`] and [`review`].

//!
//! # Features
//!
//! The default build is the diagnosis itself and nothing that runs: [`diagnose`], [`diagnose_error`],
//! [`diagnose_text`], remedies ([`remedy`], the RBAC model in [`rbac`]), the wording table ([`describe`]), log
//! scanning ([`scan`]) and text and JSON rendering ([`render`]). kube comes with its `client` feature only: the
//! program picks its TLS stack. Opt in to the rest:
//!
//! | feature | adds | pulls in |
//! |---|---|---|
//! | `runtime` | `diagnose_watcher`, `diagnose_controller`; watcher errors found in error chains | kube's `runtime` |
//! | `metrics` | `metrics`: Prometheus metrics by class and code; `prometheus_client` re-exported | prometheus-client |
//! | `trace` | `trace`: a tower layer for kube's client that records, counts and diagnoses each request | `metrics`, tower, http-body |
//! | `preflight` | `preflight`: checks of a program's declared needs against the cluster; `render::report` | x509-cert, tokio `time` |
//! | `watch` | `watch`: never-silent watchers, back-off, readiness, the access watchdog; `controller`: kube's `Controller`, diagnosed, the watchdog on by default, on kube's stable `applier` | `runtime`, `trace`, `metrics`, fastrand, tokio `rt` |
//! | `live` | `live`: a diagnosis enriched from the cluster (discovery, access reviews); `workload`: a running workload explained from its logs, events and conditions | — |
//! | `junit` | JUnit XML from [`render::junit`] (without it, writing JUnit fails with an error naming the feature) | quick-junit |
//! | `cli` | clap's `ValueEnum` on [`render::Format`] and [`render::ColorChoice`] | clap |
//!
//! # Modules
//!
//! - Diagnosis: [`diagnosis`] (the data), [`cause`] (the typed cause), [`class`], [`note`], [`describe`] (words),
//!   [`remedy`] (fixes), [`near_miss`], [`chain`] (error chains).
//! - Kubernetes facts: [`vocab`], [`url`], [`catalog`], [`review`], [`needs`], [`rbac`], [`kubeconfig`].
//! - Controllers: [`Diagnosed`] (a failure diagnosed once), [`stale`] (stale reads waited out).
//! - Showing it: [`render`], [`scan`] (log text), [`condition`] (on the object: a condition and an event).
//! - Opt-in (above): `metrics`, `trace`, `preflight`, `watch`, `live`, `workload`.

#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod catalog;
pub mod cause;
pub mod chain;
pub mod class;
mod classify;
pub mod condition;
#[cfg(feature = "watch")]
pub mod controller;
pub mod describe;
mod diagnose;
pub mod diagnosis;
#[cfg(test)]
mod fixtures;
mod fold;
pub mod hash;
pub mod kubeconfig;
#[cfg(feature = "live")]
pub mod live;
mod merge;
#[cfg(feature = "metrics")]
pub mod metrics;
pub mod near_miss;
pub mod needs;
pub mod note;
#[cfg(feature = "preflight")]
pub mod preflight;
pub mod rbac;
mod read;
pub mod remedy;
pub mod render;
#[cfg(feature = "watch")]
pub mod retry;
pub mod review;
pub mod scan;
pub mod shell;
#[cfg(feature = "trace")]
mod sorted;
pub mod stale;
#[cfg(feature = "trace")]
pub mod trace;
pub mod url;
pub mod vocab;
#[cfg(feature = "watch")]
pub mod watch;
#[cfg(feature = "live")]
pub mod workload;

pub use cause::Cause;
pub use describe::Description;
pub use diagnose::{
    Diagnosed, diagnose, diagnose_error, diagnose_error_in, diagnose_in, diagnose_text,
};
#[cfg(feature = "runtime")]
pub use diagnose::{diagnose_controller, diagnose_watcher, diagnose_watcher_in};
pub use diagnosis::{Class, Diagnosis, Level, Phase, Request};
pub use note::Note;
/// The `prometheus_client` kubewhy's [`metrics`] are built with: register them in a registry of this version, or
/// encode them without one ([`metrics::Metrics`]).
#[cfg(feature = "metrics")]
pub use prometheus_client;
pub use remedy::Remedy;

/// The example in the crate's README (its crates.io page) compiles.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
