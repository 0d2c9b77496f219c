//! doc-controller against the real local control plane: the real binary runs as a child process; each test has its
//! own namespace (and its own Lease), so the tests run in parallel on one control plane.

mod backoff;
mod chart;
mod deploy;
mod harness;
mod leader;
mod lifecycle;
mod never_silent;
mod object;
mod packaging;
mod rbac;
mod sharding;
mod silent;
mod validation;
mod webhook;
