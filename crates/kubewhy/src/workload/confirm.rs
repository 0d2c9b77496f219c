//! Live confirmation of a workload's failures as the identity its pods run as: a denial whose text names no user
//! is the pods' ServiceAccount's; each denial is re-checked with an access review (and, while it holds, explained
//! by the near-miss binding with the fix that edits its role), each type not served is looked up in discovery
//! ([`crate::live`]); what they find says whether the failure is current or history ([`Standing`]).

use std::collections::HashMap;

use super::{Found, Standing};
use crate::cause::Cause;
use crate::live::Live;
use crate::note::Note;

/// Confirms each finding against the cluster through `client`; `identity_of_pod` names the identity each pod
/// runs as.
pub(super) async fn confirm(
    client: &kube::Client,
    found: &mut [Found],
    identity_of_pod: &HashMap<String, String>,
) {
    let mut live = Live::new(client.clone());
    for f in found.iter_mut() {
        confirm_one(&mut live, f, identity_of_pod).await;
    }
}

/// Confirms one finding (`--follow` confirms each new one as it appears).
pub(super) async fn confirm_one(
    live: &mut Live,
    f: &mut Found,
    identity_of_pod: &HashMap<String, String>,
) {
    let d = &mut f.finding.diagnosis;
    if matches!(d.cause, Cause::Denied(_)) && d.user.is_none() {
        let identity = d.notes.iter().find_map(|n| match n {
            Note::Seen(seen) => seen
                .pods
                .iter()
                .find_map(|p| identity_of_pod.get(p))
                .cloned(),
            _ => None,
        });
        if let Some(user) = identity {
            for note in &mut d.notes {
                if let Note::Seen(seen) = note {
                    seen.identity_from_pods = Some(user.clone());
                }
            }
            d.user = Some(user);
        }
    }
    live.enrich(d).await;
    f.standing = Standing::of(d);
}
