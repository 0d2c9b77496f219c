//! doc-controller: the reference controller of kubewhy, for `Document` resources (`documents.kube.rs`).
//!
//! It keeps the resource and core semantics of kube-rs's controller-rs (finalizer, `HideRequested` and
//! `DeleteRequested` events, status by server-side apply) and adds what running it for real needs: publishing as an
//! owned ConfigMap, kubewhy's per-object back-off, errors visible on the object, leader election on a Lease,
//! graceful shutdown, metrics, health and readiness endpoints, and RBAC generated from one declaration of needs.
//!
//! Modules, one concept each: [`document`] (the resource and its CRD), [`needs`] (what it uses of the API),
//! [`reconcile`] (what one reconcile does), [`recorder`] (events, repeats aggregated into series), [`queue`] (which
//! Documents need a reconcile and when), [`controller`] (the watchers and the Controller, built in one place), [`lease`] (leader
//! election and the Lease primitives the ring shares), [`shard`] (scaling out: a ring of replicas sharing the
//! Documents), [`metrics`], [`readiness`], [`http`] (the endpoints), [`telemetry`] (logs), [`shutdown`] (signals),
//! [`deploy`] (the generated files in `deploy/`), [`chart`] (the generated files of the Helm chart), [`manual`]
//! (shell completions and man pages), [`preflight`] (the checks of its needs, and `run --preflight`),
//! [`doctor`] (the checks on demand), [`cli`] (flags) and [`run`] (start-up, wiring it all together).
//!
//! Modules depend one way: `cli` → `run` → `controller` → `reconcile` → `document`, `needs`, `metrics`, ...; a unit
//! test (`module_graph`) lists the imports between modules and fails on a cycle.

#![deny(missing_docs)]

pub mod chart;
pub mod cli;
pub mod controller;
pub mod debug;
pub mod deploy;
pub mod doctor;
pub mod document;
pub mod http;
pub mod lease;
pub mod manual;
pub mod metrics;
pub mod needs;
pub mod preflight;
pub mod queue;
pub mod readiness;
pub mod reconcile;
pub mod recorder;
pub mod run;
pub mod shard;
pub mod shutdown;
pub mod telemetry;

#[cfg(test)]
mod module_graph;

pub use document::{Document, DocumentSpec, DocumentStatus};
