//! Readiness: named checks, each ready or not with a reason, that `/readyz` reports together with kubewhy's watchers
//! and access watchdog ([`kubewhy::watch::Health::readiness`]). Any part of the program can set its own check
//! (preflight, leader election, the caches), so a pod that is not ready always says why.

pub use kubewhy::watch::readiness::{Check, Checks as Readiness};
