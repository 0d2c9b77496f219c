//! Several diagnoses of one failure made one before any surface shows them: denials of one subject on one target
//! (``cannot `get` and `list` `x` ``) — what the preflight report and the RBAC diff list. The model's step, not a
//! renderer's: a renderer shows the diagnoses it is given.

use crate::cause::{Cause, Denial};
use crate::diagnosis::Diagnosis;
use crate::note::Note;

/// Denials of one subject on one target (resource, subresource, namespace and scope) shown as one:
/// ``cannot `get` and `list` `x` ``.
pub(crate) fn merge_denials(denials: &[&Diagnosis]) -> Option<Diagnosis> {
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

/// `diagnoses` in order, each group of denials that [`merge_denials`] can merge shown as one (at the place of its
/// first); `mergeable` says which may join a group at all.
pub(crate) fn merged(
    diagnoses: Vec<Diagnosis>,
    mergeable: impl Fn(usize) -> bool,
) -> Vec<Diagnosis> {
    let mut out = Vec::new();
    let mut done = vec![false; diagnoses.len()];
    for i in 0..diagnoses.len() {
        if done[i] {
            continue;
        }
        done[i] = true;
        if !mergeable(i) || !matches!(diagnoses[i].cause, Cause::Denied(_)) {
            out.push(diagnoses[i].clone());
            continue;
        }
        let mut group = vec![i];
        for j in i + 1..diagnoses.len() {
            if !done[j] && mergeable(j) && merge_denials(&[&diagnoses[i], &diagnoses[j]]).is_some()
            {
                group.push(j);
            }
        }
        let members: Vec<&Diagnosis> = group.iter().map(|&j| &diagnoses[j]).collect();
        match merge_denials(&members) {
            Some(one) => {
                for j in group {
                    done[j] = true;
                }
                out.push(one);
            }
            None => out.push(diagnoses[i].clone()),
        }
    }
    out
}
