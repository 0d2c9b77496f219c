//! Denials of one subject on one target shown as one (``cannot `get` and `list` `x` ``): shared by the
//! preflight report and the RBAC diff.

use crate::cause::{Cause, Denial};
use crate::diagnosis::Diagnosis;
use crate::note::Note;

/// Denials of one subject on one target (resource, subresource, namespace and scope) shown as one:
/// ``cannot `get` and `list` `x` ``.
pub(super) fn merge_denials(denials: &[&Diagnosis]) -> Option<Diagnosis> {
    let first = denials.first()?;
    let Cause::Denied(first_denial) = &first.cause else {
        return None;
    };
    let target = |d: &Diagnosis| {
        let mut r = d.request.clone();
        r.verb = None;
        (r, d.user.clone())
    };
    let mut verbs = Vec::new();
    let mut needs = Vec::new();
    let mut program = None;
    for d in denials {
        let Cause::Denied(denial) = &d.cause else {
            return None;
        };
        // Each verb has its own near miss; the first one's stands for the merged denial.
        let same = Denial {
            also_denied: Vec::new(),
            near_miss: None,
            ..denial.clone()
        } == Denial {
            also_denied: Vec::new(),
            near_miss: None,
            ..first_denial.clone()
        };
        if !same || target(d) != target(first) {
            return None;
        }
        verbs.push(d.request.verb.clone()?);
        for n in &d.notes {
            if let Note::Declared {
                program: p,
                needs: ns,
            } = n
            {
                program = Some(p.clone());
                needs.extend(ns.iter().copied());
            }
        }
    }
    needs.sort_unstable();
    needs.dedup();
    let mut merged = (*first).clone();
    if let Cause::Denied(denial) = &mut merged.cause {
        denial.also_denied = verbs[1..].to_vec();
    }
    merged.notes.retain(|n| !matches!(n, Note::Declared { .. }));
    if let Some(program) = program {
        merged.notes.insert(0, Note::Declared { program, needs });
    }
    Some(merged)
}
