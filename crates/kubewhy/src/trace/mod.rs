//! Request inspection for `kube::Client`: a tower layer that records every request (method, path and query,
//! response code, latency, the span it belongs to), counts it in [`crate::metrics::Metrics`], logs it as a
//! redacted copy-paste `curl` command on demand (like `kubectl -v=9`), and keeps recent failures so an API
//! error can be matched to the request that caused it (see [`Inspector::request_for`], [`recorded`] and
//! [`crate::diagnose_in`]), keeps the server's `Audit-Id` and API Priority and Fairness headers with each request,
//! ends watches that stall ([`stall`]), and records the permissions the program used ([`Inspector::used`],
//! [`used`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use kubewhy::trace::Inspector;
//! let config = kube::Config::infer().await?;
//! let (client, inspector) = Inspector::new_client(config)?;   // KUBEWHY_LOG_CURL=1 logs curl commands
//! let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::default_namespaced(client);
//! if let Err(err) = pods.list(&Default::default()).await {
//!     let request = inspector.request_for(&err);            // GET /api/v1/namespaces/default/pods, verb list
//!     eprintln!("{request:?}: {err}");
//! }
//! # Ok(()) }
//! ```
//!
//! Credentials never reach a log: the layer sits outside kube's authentication layer (it never sees the token),
//! and the curl rendering redacts any credential header, token query parameter, client key and Secret body.

pub mod credentials;
pub mod curl;
mod layer;
mod scope;
pub mod stall;
pub mod used;

pub use crate::url::parse_request;
pub use layer::{CURL_ENV, Failure, InspectLayer, InspectService, Inspector};
pub use scope::{Failed, recorded};
pub use stall::{NoResponse, Stalled};
