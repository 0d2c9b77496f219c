//! Live confirmation (`kubewhy explain --live`): with a client for the cluster the failure happened in, confirm or
//! refute a diagnosis's cause — the one discovery [`Catalog`] says whether (and where) a resource type is served
//! and, with the one nearest-name search, which served names are nearest to a misspelled one; the one access
//! [`review`] says whether a denial still holds for the named subject. What it finds is recorded on the
//! diagnosis as data ([`Note::Live`], a denial's real group); the wording and the fix follow from it.

use crate::catalog::Catalog;
use crate::cause::Cause;
use crate::diagnosis::Diagnosis;
use crate::note::{Live as Found, Note};
use crate::rbac::NearMisses;
use crate::review::{Reviewer, review};
use crate::vocab::resource_name;

/// How many near names are looked for.
const NEAREST: usize = 3;

/// `documents.kube.rs/v1`.
fn served_name(plural: &str, group: &str, version: &str) -> String {
    format!("{}/{version}", resource_name(plural, group, None))
}

/// Checks diagnoses against one cluster, reading its discovery once (and its RBAC objects, for the near misses of
/// denials that still hold).
pub struct Live {
    client: kube::Client,
    catalog: Option<Result<Catalog, String>>,
    near_misses: NearMisses,
}

impl Live {
    /// Live confirmation through `client`.
    pub fn new(client: kube::Client) -> Live {
        Live {
            near_misses: NearMisses::new(client.clone()),
            client,
            catalog: None,
        }
    }

    async fn catalog(&mut self) -> Result<&Catalog, String> {
        if self.catalog.is_none() {
            let read = Catalog::read(&self.client).await;
            self.catalog = Some(read.map_err(|e| crate::chain::one_line(&e)));
        }
        match self.catalog.as_ref() {
            Some(Ok(c)) => Ok(c),
            Some(Err(e)) => Err(e.clone()),
            None => Err("discovery was not read".into()),
        }
    }

    /// Confirms or refutes the cause of `d` against the cluster, recording what it found on `d`.
    pub async fn enrich(&mut self, d: &mut Diagnosis) {
        match d.cause {
            Cause::Denied(_) => self.denied(d).await,
            Cause::NotServed(_) => self.not_served(d).await,
            Cause::Escalation { .. } => {
                self.near_misses.explain(d).await;
            }
            _ => {}
        }
    }

    async fn not_served(&mut self, d: &mut Diagnosis) {
        let r = d.request.clone();
        let catalog = match self.catalog().await {
            Ok(c) => c,
            Err(error) => {
                d.notes.push(Note::Live(Found::DiscoveryFailed { error }));
                return;
            }
        };
        let Some(wanted) = r.resource.clone().or_else(|| r.kind.clone()) else {
            d.notes.push(Note::Live(Found::NoResourceNamed));
            return;
        };
        let exact = catalog.named(&wanted);
        let as_requested = exact.iter().find(|s| {
            r.group.as_deref().is_none_or(|g| g == s.group)
                && r.version.as_deref().is_none_or(|v| v == s.version)
        });
        let found = if let Some(s) = as_requested {
            Found::ServedNow {
                name: served_name(&s.plural, &s.group, &s.version),
            }
        } else if !exact.is_empty() {
            Found::ServedElsewhere {
                names: exact
                    .iter()
                    .map(|s| served_name(&s.plural, &s.group, &s.version))
                    .collect(),
            }
        } else {
            let near = catalog.nearest(&wanted, r.group.as_deref(), NEAREST);
            if near.is_empty() {
                Found::NothingNear { wanted }
            } else {
                Found::Nearest {
                    wanted,
                    names: near
                        .iter()
                        .map(|s| served_name(&s.plural, &s.group, &s.version))
                        .collect(),
                }
            }
        };
        d.notes.push(Note::Live(found));
    }

    async fn denied(&mut self, d: &mut Diagnosis) {
        let Cause::Denied(denial) = &d.cause else {
            return;
        };
        // A text that names the resource without its group (kubewhy's own `configmaps`, `documents.kube.rs`
        // forms read back, some client lines): the group is the one that serves that resource, when exactly one
        // does. The review and the near miss need it.
        if d.request.group.is_none()
            && d.request.path.is_none()
            && !denial.wrong_core_group
            && let Some(res) = d.request.resource.clone()
            && let Ok(catalog) = self.catalog().await
        {
            let mut groups: Vec<String> = catalog
                .named(&res)
                .into_iter()
                .filter(|s| s.plural == res)
                .map(|s| s.group)
                .collect();
            groups.sort();
            groups.dedup();
            if let [group] = groups.as_slice() {
                d.request.group = Some(group.clone());
            }
        }
        let Cause::Denied(denial) = &d.cause else {
            return;
        };
        if denial.wrong_core_group
            && let Some(res) = d.request.resource.clone()
        {
            let found = match self.catalog().await {
                Ok(catalog) => {
                    let groups: Vec<_> = catalog
                        .named(&res)
                        .into_iter()
                        .filter(|s| s.plural == res && !s.group.is_empty())
                        .collect();
                    match groups.as_slice() {
                        [s] => Some((
                            Found::ServedInGroup {
                                resource: res.clone(),
                                group: s.group.clone(),
                                name: served_name(&s.plural, &s.group, &s.version),
                            },
                            Some(s.group.clone()),
                        )),
                        [] => Some((Found::NoGroupServes { resource: res }, None)),
                        several => Some((
                            Found::ServedInGroups {
                                resource: res,
                                names: several
                                    .iter()
                                    .map(|s| served_name(&s.plural, &s.group, &s.version))
                                    .collect(),
                            },
                            None,
                        )),
                    }
                }
                Err(error) => Some((Found::DiscoveryFailed { error }, None)),
            };
            if let Some((found, group)) = found {
                d.notes.push(Note::Live(found));
                if let (Some(group), Cause::Denied(denial)) = (group, &mut d.cause) {
                    denial.real_group = Some(group);
                }
            }
        }
        let Some(user) = d.user.clone() else {
            d.notes.push(Note::Live(Found::NoUser));
            return;
        };
        let reviewer = Reviewer::Subject {
            user: user.clone(),
            groups: d.groups.clone(),
        };
        let found = match review(&self.client, &reviewer, &d.request).await {
            Ok(answer) if answer.allowed => Found::AllowedNow {
                user,
                reason: answer.reason,
            },
            Ok(answer) => Found::StillDenied {
                user,
                reason: answer.reason,
            },
            Err(e) => Found::ReviewFailed {
                error: crate::diagnose::diagnose(&e).summary(),
            },
        };
        let still_denied = matches!(found, Found::StillDenied { .. });
        d.notes.push(Note::Live(found));
        if still_denied {
            self.near_misses.explain(d).await;
        }
    }
}

/// What could not be confirmed without a cluster, for the diagnoses live confirmation would check; with the
/// reason no cluster could be asked when `--live` was asked for.
pub fn unconfirmed(d: &Diagnosis, no_cluster: Option<String>) -> Option<Note> {
    matches!(d.cause, Cause::Denied(_) | Cause::NotServed(_))
        .then_some(Note::Unconfirmed { no_cluster })
}
