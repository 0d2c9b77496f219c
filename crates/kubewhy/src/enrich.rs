//! Live enrichment: with a client for the cluster the failure happened in, confirm or refute a diagnosis's
//! cause — discovery says whether (and where) a resource type is served and which served names are nearest to a
//! misspelled one (edit distance over plural, singular, kind and short names); a SubjectAccessReview says
//! whether a denial still holds for the named subject. Without a cluster, [`unconfirmed`] says what could not
//! be checked.

use k8s_openapi::api::authorization::v1::{
    NonResourceAttributes, ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::Client;
use kube::api::{Api, PostParams};

use crate::classify::is_wrong_core_group;
use crate::diagnosis::{Class, Diagnosis};
use crate::rbac::{Permission, Subject};
use crate::remedy::rbac::{Grant, grant, single_yaml};

/// One resource type the cluster serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// API group (`""` for core).
    pub group: String,
    /// Version.
    pub version: String,
    /// Plural name.
    pub plural: String,
    /// Singular name (may be empty).
    pub singular: String,
    /// Kind.
    pub kind: String,
    /// Short names (`cm`, `doc`).
    pub short_names: Vec<String>,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
}

impl Served {
    /// `documents.kube.rs/v1` or `configmaps/v1`.
    pub fn display(&self) -> String {
        if self.group.is_empty() {
            format!("{}/{}", self.plural, self.version)
        } else {
            format!("{}.{}/{}", self.plural, self.group, self.version)
        }
    }
}

/// The nearest served names to `wanted` (plural, singular, kind or short name; case-insensitive), closest
/// first, at most `limit`: those within an edit distance of 2 (1 for names of 4 letters or fewer).
pub fn nearest<'a>(catalog: &'a [Served], wanted: &str, limit: usize) -> Vec<(&'a Served, usize)> {
    let wanted = wanted.to_ascii_lowercase();
    let max = if wanted.len() <= 4 { 1 } else { 2 };
    let mut scored: Vec<(&Served, usize)> = catalog
        .iter()
        .filter_map(|s| {
            let names = [
                s.plural.clone(),
                s.singular.clone(),
                s.kind.to_ascii_lowercase(),
            ]
            .into_iter()
            .chain(s.short_names.iter().cloned());
            names
                .filter(|n| !n.is_empty())
                .map(|n| strsim::levenshtein(&wanted, &n))
                .min()
                .filter(|d| *d <= max)
                .map(|d| (s, d))
        })
        .collect();
    scored.sort_by(|a, b| {
        a.1.cmp(&b.1)
            .then_with(|| a.0.display().cmp(&b.0.display()))
    });
    scored.dedup_by(|a, b| a.0.plural == b.0.plural && a.0.group == b.0.group);
    scored.truncate(limit);
    scored
}

/// Reads what the cluster serves: every group version's resources (subresources left out).
pub async fn catalog(client: &Client) -> Result<Vec<Served>, kube::Error> {
    let mut out = Vec::new();
    let mut lists = Vec::new();
    for v in client.list_core_api_versions().await?.versions {
        lists.push((
            String::new(),
            v.clone(),
            client.list_core_api_resources(&v).await?,
        ));
    }
    for g in client.list_api_groups().await?.groups {
        for v in &g.versions {
            // An unavailable aggregated API fails its own discovery only: note nothing, keep the rest.
            match client.list_api_group_resources(&v.group_version).await {
                Ok(list) => lists.push((g.name.clone(), v.version.clone(), list)),
                Err(kube::Error::Api(s)) if s.code == 503 || s.code == 404 => continue,
                Err(e) => return Err(e),
            }
        }
    }
    for (group, version, list) in lists {
        for r in list.resources {
            if r.name.contains('/') {
                continue;
            }
            out.push(Served {
                group: group.clone(),
                version: version.clone(),
                plural: r.name,
                singular: r.singular_name,
                kind: r.kind,
                short_names: r.short_names.unwrap_or_default(),
                namespaced: r.namespaced,
            });
        }
    }
    Ok(out)
}

/// Checks diagnoses against one cluster, reading its discovery once.
pub struct Live {
    client: Client,
    catalog: Option<Result<Vec<Served>, String>>,
}

impl Live {
    /// Enrichment through `client`.
    pub fn new(client: Client) -> Live {
        Live {
            client,
            catalog: None,
        }
    }

    async fn served(&mut self) -> Result<&[Served], String> {
        if self.catalog.is_none() {
            self.catalog = Some(catalog(&self.client).await.map_err(|e| e.to_string()));
        }
        match self.catalog.as_ref().expect("set above") {
            Ok(c) => Ok(c),
            Err(e) => Err(e.clone()),
        }
    }

    /// Adds `live:` notes to `d` that confirm or refute its cause. Returns the grant that fixes a denial whose
    /// group the client got wrong, when discovery finds the resource's real group (its YAML also becomes the
    /// remedy's).
    pub async fn enrich(&mut self, d: &mut Diagnosis) -> Option<Grant> {
        match d.class {
            Class::Forbidden => self.enrich_forbidden(d).await,
            Class::ResourceNotFound => {
                self.enrich_not_served(d).await;
                None
            }
            _ => None,
        }
    }

    async fn enrich_not_served(&mut self, d: &mut Diagnosis) {
        let r = d.request.clone();
        let wanted = r.resource.clone().or_else(|| r.kind.clone());
        let catalog = match self.served().await {
            Ok(c) => c,
            Err(e) => {
                d.notes.push(format!(
                    "live: could not read discovery, so no cause was confirmed: {e}"
                ));
                return;
            }
        };
        let Some(wanted) = wanted else {
            d.notes.push(
                "live: the failure does not name a resource, so discovery cannot check it".into(),
            );
            return;
        };
        let exact: Vec<&Served> = catalog
            .iter()
            .filter(|s| s.plural == wanted || s.kind == wanted)
            .collect();
        let in_requested = exact.iter().find(|s| {
            r.group.as_deref().is_none_or(|g| g == s.group)
                && r.version.as_deref().is_none_or(|v| v == s.version)
        });
        if let Some(s) = in_requested {
            d.notes.push(format!(
                "live: `{}` is served now — it was probably installed after the failure (a CRD applied late, or \
                 not yet Established then)",
                s.display()
            ));
            return;
        }
        if !exact.is_empty() {
            let places: Vec<String> = exact.iter().map(|s| format!("`{}`", s.display())).collect();
            d.notes.push(format!(
                "live: confirmed — the group or version is wrong: `{wanted}` is served as {}",
                places.join(", ")
            ));
            return;
        }
        let near = nearest(catalog, &wanted, 3);
        if near.is_empty() {
            d.notes.push(format!(
                "live: confirmed — nothing served is named like `{wanted}`: install its CRD (or the API that \
                 serves it)"
            ));
        } else {
            let names: Vec<String> = near
                .iter()
                .map(|(s, _)| format!("`{}`", s.display()))
                .collect();
            d.notes.push(format!(
                "live: confirmed — `{wanted}` is not served; the nearest served names are {}",
                names.join(", ")
            ));
        }
    }

    async fn enrich_forbidden(&mut self, d: &mut Diagnosis) -> Option<Grant> {
        let mut corrected = None;
        if is_wrong_core_group(&d.request)
            && let Some(res) = d.request.resource.clone()
        {
            match self.served().await {
                Ok(catalog) => {
                    let groups: Vec<&Served> = catalog
                        .iter()
                        .filter(|s| s.plural == res && !s.group.is_empty())
                        .collect();
                    if let [s] = groups.as_slice() {
                        d.notes.push(format!(
                            "live: `{res}` is served in group `{}` (`{}`): the client must use that group",
                            s.group,
                            s.display()
                        ));
                        if let (Some(user), Some(verb)) = (
                            &d.user,
                            d.request.verb.as_deref().and_then(|v| v.parse().ok()),
                        ) {
                            let resource = match &d.request.subresource {
                                Some(sub) => format!("{res}/{sub}"),
                                None => res.clone(),
                            };
                            let g = Grant {
                                subject: Subject::from_username(user),
                                permission: Permission::resource(
                                    &s.group,
                                    &resource,
                                    verb,
                                    d.request.namespace.as_deref(),
                                ),
                            };
                            if let Ok(yaml) = single_yaml(&g) {
                                d.remedy.yaml = Some(yaml);
                            }
                            corrected = Some(g);
                        }
                    } else if groups.is_empty() {
                        d.notes.push(format!(
                            "live: no API group serves `{res}`: its CRD is not installed either"
                        ));
                    } else {
                        let names: Vec<String> = groups
                            .iter()
                            .map(|s| format!("`{}`", s.display()))
                            .collect();
                        d.notes.push(format!(
                            "live: `{res}` is served by several groups: {}",
                            names.join(", ")
                        ));
                    }
                }
                Err(e) => d.notes.push(format!("live: could not read discovery: {e}")),
            }
        }
        let Some(user) = d.user.clone() else {
            d.notes
                .push("live: the denial names no user, so it cannot be re-checked".into());
            return corrected;
        };
        let mut groups = d.groups.clone();
        if let Subject::ServiceAccount { namespace, .. } = Subject::from_username(&user)
            && groups.is_empty()
        {
            groups = vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".into(),
            ];
        }
        let r = &d.request;
        let spec = SubjectAccessReviewSpec {
            user: Some(user.clone()),
            groups: (!groups.is_empty()).then(|| groups.clone()),
            resource_attributes: r.path.is_none().then(|| ResourceAttributes {
                namespace: r.namespace.clone(),
                verb: r.verb.clone(),
                group: r.group.clone(),
                version: r.version.clone(),
                resource: r.resource.clone(),
                subresource: r.subresource.clone(),
                name: r.name.clone(),
                ..ResourceAttributes::default()
            }),
            non_resource_attributes: r.path.as_ref().map(|p| NonResourceAttributes {
                path: Some(p.clone()),
                verb: r.verb.clone(),
            }),
            ..SubjectAccessReviewSpec::default()
        };
        let review = SubjectAccessReview {
            spec,
            ..SubjectAccessReview::default()
        };
        let api: Api<SubjectAccessReview> = Api::all(self.client.clone());
        match api.create(&PostParams::default(), &review).await {
            Ok(answer) => {
                let status = answer.status.unwrap_or_default();
                if status.allowed {
                    d.notes.push(format!(
                        "live: the denial no longer holds — a SubjectAccessReview for `{user}` is allowed now{}",
                        status.reason.map(|r| format!(" ({r})")).unwrap_or_default()
                    ));
                } else {
                    d.notes.push(format!(
                        "live: confirmed — a SubjectAccessReview for `{user}` is still denied{}",
                        status
                            .reason
                            .filter(|r| !r.is_empty())
                            .map(|r| format!(" ({r})"))
                            .unwrap_or_default()
                    ));
                }
            }
            Err(e) => d.notes.push(format!(
                "live: could not confirm whether the denial still holds: creating a SubjectAccessReview failed \
                 ({}) — it needs `create subjectaccessreviews`",
                crate::diagnose(&e).summary
            )),
        }
        if corrected.is_none() {
            corrected = grant(d);
        }
        corrected
    }
}

/// What could not be confirmed without a cluster, for the diagnoses live enrichment would check.
pub fn unconfirmed(d: &Diagnosis) -> Option<String> {
    match d.class {
        Class::Forbidden => Some(
            "not confirmed without a cluster: whether the denial still holds (`--live` asks the API server with a \
             SubjectAccessReview)"
                .into(),
        ),
        Class::ResourceNotFound => Some(
            "not confirmed without a cluster: which cause applies (`--live` reads discovery and finds the \
             nearest served names)"
                .into(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(group: &str, plural: &str, kind: &str, short: &[&str]) -> Served {
        Served {
            group: group.into(),
            version: "v1".into(),
            plural: plural.into(),
            singular: plural.trim_end_matches('s').into(),
            kind: kind.into(),
            short_names: short.iter().map(|s| s.to_string()).collect(),
            namespaced: true,
        }
    }

    #[test]
    fn nearest_names_use_every_name_form() {
        let catalog = vec![
            served("kube.rs", "documents", "Document", &["doc"]),
            served("", "configmaps", "ConfigMap", &["cm"]),
            served("apps", "deployments", "Deployment", &["deploy"]),
        ];
        let near = nearest(&catalog, "documnets", 3);
        assert_eq!(near.len(), 1);
        assert_eq!(near[0].0.plural, "documents");
        assert_eq!(nearest(&catalog, "Documet", 3)[0].0.plural, "documents");
        assert_eq!(nearest(&catalog, "dc", 3)[0].0.plural, "documents");
        assert!(nearest(&catalog, "gadgets", 3).is_empty());
    }
}
