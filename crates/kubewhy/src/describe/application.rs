//! Wording of failures of coordination between the replicas of one controller: a hand-over of a sharded
//! controller's work that waits for members which have not applied the new ring.

use super::Words;
use crate::cause::Cause;
use crate::diagnosis::Diagnosis;

pub(super) fn words(d: &Diagnosis) -> Words {
    match &d.cause {
        Cause::HandoverStalled {
            ring,
            waiting_for,
            waited_s,
            ..
        } => Words {
            summary: format!(
                "a hand-over in ring `{ring}` has waited {waited_s} s for {}",
                waiting_for
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            cause: "the members named have not applied the new ring on their Lease: they cannot read the ring (a \
                    `list` on Leases denied, an API server they cannot reach), or a reconcile of theirs in a moving \
                    slot is still running; until they do, nobody takes their slots over — no Document is reconciled \
                    twice, but the moved ones wait"
                .into(),
            notes: vec![
                "a member that stops renewing its Lease drops out of the ring once the Lease expires, and the \
                 hand-over completes without it"
                    .into(),
            ],
        },
        _ => Words::default(),
    }
}
