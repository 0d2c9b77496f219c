//! One failure of a workload, counted once: folds the findings of each log, event and condition read into one
//! finding per failure ([`crate::fold`]'s notion of the same failure, without the source, and without the name of
//! an object a `create` was refused: a ReplicaSet tries a new generated name each time), with where it was seen as
//! a [`Seen`] note: the pods, the containers, the objects whose events or conditions said it, how often, when
//! last.

use std::collections::{BTreeSet, HashMap};

use crate::diagnosis::Diagnosis;
use crate::fold::{Key, are_layers, failure_key, merge_layer};
use crate::note::{Note, Said, Seen};
use crate::scan::Finding;

/// Where a finding was read.
pub(super) enum Origin<'a> {
    /// A container's log.
    Log {
        /// The pod.
        pod: &'a str,
        /// The previous container's log (before a restart).
        previous: bool,
    },
    /// An event or a status condition.
    Said(Said),
}

struct Entry {
    finding: Finding,
    pods: BTreeSet<String>,
    containers: usize,
    count: u64,
    said: Vec<Said>,
    in_current_log: bool,
    last: Option<i64>,
    /// It was seen for objects of several names (creates of generated names): it names none.
    unnamed: bool,
}

/// Findings folded across the sources of one workload, in order of first appearance.
#[derive(Default)]
pub(super) struct Merger {
    index: HashMap<Key, usize>,
    entries: Vec<Entry>,
}

/// What makes two findings of a workload one failure.
pub(super) fn key(d: &Diagnosis) -> Key {
    if d.request.verb.as_deref() == Some("create") && d.request.name.is_some() {
        let mut unnamed = d.clone();
        unnamed.request.name = None;
        return failure_key(&unnamed);
    }
    failure_key(d)
}

impl Merger {
    /// Adds a finding read from `origin`, last seen at `last` (Unix seconds, when known).
    pub(super) fn add(&mut self, finding: Finding, origin: Origin<'_>, last: Option<i64>) {
        let key = key(&finding.diagnosis);
        // The same failure; or, between events and conditions, another report of it that names less or more (an
        // event says `Error creating: pods "x" is forbidden: …`, the condition copied from it only `pods "x" is
        // forbidden: …`). Logs fold as `kubewhy explain` folds them.
        let said = matches!(origin, Origin::Said(_));
        let found = self.index.get(&key).copied().or_else(|| {
            self.entries.iter().position(|e| {
                said && !e.said.is_empty() && are_layers(&e.finding.diagnosis, &finding.diagnosis)
            })
        });
        let i = match found {
            Some(i) => {
                let kept = &mut self.entries[i].finding.diagnosis;
                if let std::collections::hash_map::Entry::Vacant(slot) = self.index.entry(key) {
                    merge_layer(kept, finding.diagnosis.clone());
                    slot.insert(i);
                }
                i
            }
            None => {
                self.index.insert(key, self.entries.len());
                self.entries.push(Entry {
                    count: 0,
                    finding,
                    pods: BTreeSet::new(),
                    containers: 0,
                    said: Vec::new(),
                    in_current_log: false,
                    last: None,
                    unnamed: false,
                });
                let i = self.entries.len() - 1;
                let e = &mut self.entries[i];
                e.count = e.finding.count;
                e.last = last;
                record(e, origin);
                return;
            }
        };
        let e = &mut self.entries[i];
        // Creates of objects of several names (generated ones) are one failure of none of them: the names of both
        // findings' requests (a finding the reader folded over several objects lists them) and the diagnoses'.
        let several = {
            let mut names = [&e.finding, &finding].into_iter().flat_map(|f| {
                std::iter::once(&f.diagnosis.request.name)
                    .chain(f.requests.iter().map(|h| &h.request.name))
                    .flatten()
            });
            names.next().is_some_and(|first| names.any(|n| n != first))
        };
        if several {
            e.unnamed = true;
        }
        if e.unnamed {
            e.finding.diagnosis.request.name = None;
        }
        e.count += finding.count;
        e.last = e.last.max(last);
        record(e, origin);
    }

    /// The findings, each with its [`Note::Seen`]: `workload` names it, `of` is how many pods' logs were read,
    /// `now` the time of the report (Unix seconds).
    pub(super) fn into_findings(self, workload: &str, of: usize, now: i64) -> Vec<Finding> {
        self.entries
            .into_iter()
            .map(|e| {
                // The finding keeps its place in the log it was first seen in (lines, count there); the
                // count over every source is the note's.
                let mut finding = e.finding;
                let last_at = e.last.and_then(|t| {
                    k8s_openapi::jiff::Timestamp::from_second(t)
                        .ok()
                        .map(|t| t.to_string())
                });
                finding.diagnosis.notes.push(Note::Seen(Seen {
                    workload: workload.to_string(),
                    of,
                    containers: e.containers,
                    count: e.count,
                    previous_only: !e.pods.is_empty() && !e.in_current_log,
                    pods: e.pods.into_iter().collect(),
                    said: e.said,
                    last_ago_s: e.last.map(|t| now.saturating_sub(t).max(0).unsigned_abs()),
                    last_at,
                    identity_from_pods: None,
                }));
                finding
            })
            .collect()
    }
}

fn record(e: &mut Entry, origin: Origin<'_>) {
    match origin {
        Origin::Log { pod, previous } => {
            e.pods.insert(pod.to_string());
            e.containers += 1;
            e.in_current_log |= !previous;
        }
        Origin::Said(said) => {
            if !e.said.contains(&said) {
                e.said.push(said);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::SaidBy;
    use crate::scan::Scanner;

    fn findings(source: &str, text: &str) -> Vec<Finding> {
        let mut s = Scanner::new();
        s.read(source, text.as_bytes()).unwrap();
        s.into_findings()
    }

    const DENIED: &str = r#"E0701 10:00:00.000000       1 reflector.go:166] "Unhandled Error" err="failed to list *v1.ConfigMap: configmaps is forbidden: User \"system:serviceaccount:shop:web\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"shop\"""#;

    #[test]
    fn one_failure_in_three_pods_is_one_finding_seen_in_three() {
        let mut m = Merger::default();
        for (pod, at) in [("web-a", 100), ("web-b", 300), ("web-c", 200)] {
            for f in findings(
                &format!("{pod}/app"),
                &format!("{DENIED}\nnoise\n{DENIED}\n"),
            ) {
                m.add(
                    f,
                    Origin::Log {
                        pod,
                        previous: false,
                    },
                    Some(at),
                );
            }
        }
        let event = findings(
            "events of replicaset/web-1",
            "Error creating: pods \"web-x\" is forbidden: exceeded quota: q, requested: pods=1, used: pods=3, limited: pods=3",
        );
        assert_eq!(event.len(), 1, "{event:#?}");
        for f in event {
            m.add(
                f,
                Origin::Said(Said {
                    object: "replicaset/web-1".into(),
                    by: SaidBy::Event {
                        reason: "FailedCreate".into(),
                    },
                }),
                Some(50),
            );
        }
        let found = m.into_findings("deployment/web", 4, 360);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert_eq!(found[0].source, "web-a/app");
        assert_eq!(found[0].count, 2, "the count in the first log");
        let Some(Note::Seen(seen)) = found[0].diagnosis.notes.last() else {
            panic!("no seen note: {:#?}", found[0]);
        };
        assert_eq!(seen.pods, ["web-a", "web-b", "web-c"]);
        assert_eq!((seen.of, seen.containers, seen.count), (4, 3, 6));
        assert_eq!(seen.last_ago_s, Some(60));
        assert!(!seen.previous_only);
        let text = found[0].diagnosis.describe().notes.join("\n");
        assert!(
            text.contains("seen in 3 of 4 pods of deployment/web (6 times), last 1 min ago"),
            "{text}"
        );
        let text = found[1].diagnosis.describe().notes.join("\n");
        assert!(
            text.contains(
                "seen in the events of `replicaset/web-1` (FailedCreate), last 5 min ago"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_failure_only_in_previous_logs_says_so() {
        let mut m = Merger::default();
        for f in findings("web-a/app (previous)", DENIED) {
            m.add(
                f,
                Origin::Log {
                    pod: "web-a",
                    previous: true,
                },
                None,
            );
        }
        let found = m.into_findings("deployment/web", 1, 0);
        let text = found[0].diagnosis.describe().notes.join("\n");
        assert!(
            text.contains("seen in the log of pod `web-a` of deployment/web (1 time), only in the logs of containers that have restarted since"),
            "{text}"
        );
    }
}
