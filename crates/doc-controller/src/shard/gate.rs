//! The gate in front of the reconcile function: a Document is reconciled only while its slot is active on this
//! replica, and the reconcile holds the slot's [`Permit`](super::ownership::Permit) until it returns — what a
//! hand-over waits for. Each gated reconcile is logged at DEBUG (target `doc_controller::shard::gate`) with its
//! slot and its start and end times, the record the tests check ownership overlaps against.

use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use tracing::{debug, info};

use super::ownership::Ownership;
use super::ring::unix_us;
use super::slots::Slot;
use crate::document::Document;
use crate::reconcile::{self, Context};

/// What the gate needs to decide and to run a reconcile; cloned into each reconcile task.
#[derive(Clone)]
pub struct Gate {
    /// What this replica may reconcile now.
    pub ownership: Ownership,
    /// The benchmark knob `--simulated-work-ms`: a wait inside the permit, like a call to a slow dependency
    /// (zero: none).
    pub simulated_work: Duration,
}

impl Gate {
    /// Reconciles `doc` if its slot is active here; otherwise does nothing and waits for a change (the slot's owner
    /// reconciles it; if the slot comes here later, taking it over reconciles every Document in it).
    pub async fn reconcile(
        self,
        doc: Arc<Document>,
        ctx: Arc<Context>,
    ) -> Result<(), kubewhy::Diagnosed> {
        let Self {
            ownership,
            simulated_work,
        } = self;
        let slot = Slot::of_object(&*doc);
        let Some(permit) = slot.and_then(|s| ownership.permit(s)) else {
            debug!(
                namespace = doc.namespace().unwrap_or_default(),
                name = doc.name_any(),
                "not reconciled here: its slot is not active on this replica"
            );
            return Ok(());
        };
        if let Some(after) = permit.first_after_handover {
            ownership
                .metrics()
                .handover_seconds
                .observe(after.as_secs_f64());
            info!(
                after_ms = u64::try_from(after.as_millis()).unwrap_or(u64::MAX),
                namespace = doc.namespace().unwrap_or_default(),
                name = doc.name_any(),
                "first reconcile in a slot taken over"
            );
        }
        let started = unix_us();
        if !simulated_work.is_zero() {
            tokio::time::sleep(simulated_work).await;
        }
        let result = reconcile::reconcile(doc.clone(), ctx).await;
        if !ownership.is_everything() {
            debug!(
                target: "doc_controller::shard::gate",
                slot = slot.map_or(0, Slot::index),
                uid = doc.uid().unwrap_or_default(),
                namespace = doc.namespace().unwrap_or_default(),
                name = doc.name_any(),
                started_unix_us = started,
                finished_unix_us = unix_us(),
                "reconciled"
            );
        }
        drop(permit);
        result
    }
}
