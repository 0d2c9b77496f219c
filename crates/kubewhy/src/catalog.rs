//! The one discovery catalog: everything the API server serves, read from aggregated discovery (`/api` and
//! `/apis`, two requests, Kubernetes 1.30+) — groups, versions in order of preference, resources with their scope,
//! verbs, subresources, singular and short names — and the one nearest-name search over it, so that
//! `kubewhy explain --live`, `kubewhy check` and `doc-controller doctor` suggest the same name for one typo.

use std::collections::BTreeSet;

use kube::core::discovery::v2::APIGroupDiscoveryList;

use crate::cause::{Absence, Suggestion};

/// Everything the API server serves.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    groups: Vec<GroupInfo>,
}

/// One served group.
#[derive(Debug, Clone)]
pub struct GroupInfo {
    /// Its name (`""` for core).
    pub name: String,
    /// Its versions, in order of preference.
    pub versions: Vec<VersionInfo>,
}

/// One served group version.
#[derive(Debug, Clone)]
pub struct VersionInfo {
    /// The version (`v1`).
    pub version: String,
    /// Discovery marks it stale: an aggregated API server behind it may be down.
    pub stale: bool,
    /// Its resources.
    pub resources: Vec<ResourceInfo>,
}

/// One served resource.
#[derive(Debug, Clone)]
pub struct ResourceInfo {
    /// Plural (`documents`).
    pub plural: String,
    /// Singular (`document`; may be empty).
    pub singular: String,
    /// Kind (`Document`).
    pub kind: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// The verbs it supports.
    pub verbs: Vec<String>,
    /// Short names (`doc`).
    pub short_names: Vec<String>,
    /// Its subresources and their verbs.
    pub subresources: Vec<(String, Vec<String>)>,
}

/// Why the catalog could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// Reading `/api` or `/apis` failed.
    #[error("reading discovery (`/api` and `/apis`) failed")]
    Read(#[source] kube::Error),
    /// The server does not serve aggregated discovery.
    #[error(
        "the API server answered `/api` or `/apis` without aggregated discovery (apidiscovery.k8s.io/v2, served \
         from Kubernetes 1.30 on)"
    )]
    NotAggregated,
}

impl Catalog {
    /// Reads aggregated discovery (two requests, concurrently).
    ///
    /// # Errors
    /// When either request fails, or the server answers the plain (not aggregated) discovery documents.
    pub async fn read(client: &kube::Client) -> Result<Catalog, CatalogError> {
        let (core, apis) = futures::join!(
            client.list_core_api_versions_aggregated(),
            client.list_api_groups_aggregated()
        );
        let core = core.map_err(CatalogError::Read)?;
        let apis = apis.map_err(CatalogError::Read)?;
        if core.items.is_empty() || apis.items.is_empty() {
            // A server without aggregated discovery answers the plain APIGroupList, which has no `items`.
            return Err(CatalogError::NotAggregated);
        }
        Ok(Catalog::from_lists([core, apis]))
    }

    /// The catalog of aggregated discovery documents (`/api` and `/apis`).
    pub fn from_lists(lists: impl IntoIterator<Item = APIGroupDiscoveryList>) -> Catalog {
        let mut groups = Vec::new();
        for list in lists {
            for g in list.items {
                let name = g.metadata.and_then(|m| m.name).unwrap_or_default();
                let versions = g
                    .versions
                    .into_iter()
                    .map(|v| VersionInfo {
                        version: v.version.unwrap_or_default(),
                        stale: v.freshness.as_deref() == Some("Stale"),
                        resources: v
                            .resources
                            .into_iter()
                            .map(|r| ResourceInfo {
                                plural: r.resource.unwrap_or_default(),
                                singular: r.singular_resource.unwrap_or_default(),
                                kind: r.response_kind.and_then(|k| k.kind).unwrap_or_default(),
                                namespaced: r.scope.as_deref() == Some("Namespaced"),
                                verbs: r.verbs,
                                short_names: r.short_names,
                                subresources: r
                                    .subresources
                                    .into_iter()
                                    .map(|s| (s.subresource.unwrap_or_default(), s.verbs))
                                    .collect(),
                            })
                            .collect(),
                    })
                    .collect();
                groups.push(GroupInfo { name, versions });
            }
        }
        Catalog { groups }
    }

    /// A served group.
    pub fn group(&self, name: &str) -> Option<&GroupInfo> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// Every served (group, version, resource), groups and versions in discovery order.
    pub fn resources(&self) -> impl Iterator<Item = (&GroupInfo, &VersionInfo, &ResourceInfo)> {
        self.groups.iter().flat_map(|g| {
            g.versions
                .iter()
                .flat_map(move |v| v.resources.iter().map(move |r| (g, v, r)))
        })
    }

    /// The resource `group`/`version`/`plural` and whether its version is stale, or why it is not served.
    pub fn lookup(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Result<(&ResourceInfo, bool), Absence> {
        let g = self.group(group).ok_or(Absence::Group)?;
        let other_versions: Vec<String> = g
            .versions
            .iter()
            .filter(|v| v.resources.iter().any(|r| r.plural == plural))
            .map(|v| v.version.clone())
            .collect();
        let Some(v) = g.versions.iter().find(|v| v.version == version) else {
            return Err(if other_versions.is_empty() {
                Absence::Version {
                    served: g.versions.iter().map(|v| v.version.clone()).collect(),
                }
            } else {
                Absence::Resource { other_versions }
            });
        };
        match v.resources.iter().find(|r| r.plural == plural) {
            Some(info) => Ok((info, v.stale)),
            None => Err(Absence::Resource { other_versions }),
        }
    }

    /// Every served (group, version, resource) whose plural or kind is exactly `name`.
    pub fn named(&self, name: &str) -> Vec<Suggestion> {
        self.resources()
            .filter(|(_, _, r)| r.plural == name || r.kind == name)
            .map(|(g, v, r)| suggestion(g, v, r))
            .collect()
    }

    /// The served resources nearest to `wanted` — a plural, singular, kind or short name, case-insensitive —
    /// nearest first, at most `limit`. Names of three letters or fewer match exactly only, of four to six within
    /// one edit, longer ones within two (Damerau–Levenshtein: a swap of two letters is one edit). The same name
    /// in `group` is not a suggestion (it is what was asked for); among equals, `group`'s resources come first.
    /// Each resource appears once, in its preferred version.
    pub fn nearest(&self, wanted: &str, group: Option<&str>, limit: usize) -> Vec<Suggestion> {
        let needle = wanted.to_ascii_lowercase();
        let max = match needle.chars().count() {
            0..=3 => 0,
            4..=6 => 1,
            _ => 2,
        };
        let mut seen = BTreeSet::new();
        let mut scored: Vec<(usize, bool, Suggestion)> = Vec::new();
        for (g, v, r) in self.resources() {
            let same_group = group == Some(g.name.as_str());
            if (same_group && r.plural == wanted)
                || !seen.insert((g.name.as_str(), r.plural.as_str()))
            {
                continue;
            }
            let kind = r.kind.to_ascii_lowercase();
            let distance = [&r.plural, &r.singular, &kind]
                .into_iter()
                .chain(r.short_names.iter())
                .filter(|n| !n.is_empty())
                .map(|n| strsim::damerau_levenshtein(&needle, &n.to_ascii_lowercase()))
                .min()
                .unwrap_or(usize::MAX);
            if distance <= max {
                scored.push((distance, !same_group, suggestion(g, v, r)));
            }
        }
        scored.sort_by(|a, b| {
            (a.0, a.1, &a.2.group, &a.2.plural).cmp(&(b.0, b.1, &b.2.group, &b.2.plural))
        });
        scored.into_iter().take(limit).map(|(_, _, s)| s).collect()
    }
}

fn suggestion(g: &GroupInfo, v: &VersionInfo, r: &ResourceInfo) -> Suggestion {
    Suggestion {
        group: g.name.clone(),
        version: v.version.clone(),
        plural: r.plural.clone(),
        kind: r.kind.clone(),
        namespaced: r.namespaced,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use kube::core::discovery::v2::{
        APIGroupDiscovery, APIResourceDiscovery, APIVersionDiscovery, GroupVersionKind,
    };

    /// A small catalog: `configmaps` (core), `documents.kube.rs`, `deployments.apps`.
    pub(crate) fn catalog() -> Catalog {
        let res = |plural: &str, singular: &str, kind: &str, short: &[&str]| APIResourceDiscovery {
            resource: Some(plural.into()),
            singular_resource: Some(singular.into()),
            response_kind: Some(GroupVersionKind {
                kind: Some(kind.into()),
                ..GroupVersionKind::default()
            }),
            scope: Some("Namespaced".into()),
            verbs: vec!["get".into(), "list".into()],
            short_names: short.iter().map(|s| s.to_string()).collect(),
            ..APIResourceDiscovery::default()
        };
        let group = |name: &str, resources: Vec<APIResourceDiscovery>| APIGroupDiscovery {
            metadata: Some(kube::api::ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            }),
            versions: vec![APIVersionDiscovery {
                version: Some("v1".into()),
                resources,
                freshness: Some("Current".into()),
            }],
        };
        Catalog::from_lists([
            APIGroupDiscoveryList {
                metadata: None,
                items: vec![group(
                    "",
                    vec![res("configmaps", "configmap", "ConfigMap", &["cm"])],
                )],
            },
            APIGroupDiscoveryList {
                metadata: None,
                items: vec![
                    group(
                        "kube.rs",
                        vec![res("documents", "document", "Document", &["doc"])],
                    ),
                    group(
                        "apps",
                        vec![res("deployments", "deployment", "Deployment", &["deploy"])],
                    ),
                ],
            },
        ])
    }

    fn plurals(s: &[Suggestion]) -> Vec<(&str, &str)> {
        s.iter()
            .map(|s| (s.group.as_str(), s.plural.as_str()))
            .collect()
    }

    #[test]
    fn nearest_names_use_every_name_form() {
        let c = catalog();
        // A swap is one edit.
        assert_eq!(
            plurals(&c.nearest("documnets", Some("kube.rs"), 3)),
            [("kube.rs", "documents")]
        );
        assert_eq!(
            plurals(&c.nearest("Document", Some("kube.rs"), 3)),
            [("kube.rs", "documents")]
        );
        assert_eq!(
            plurals(&c.nearest("deploymnet", None, 3)),
            [("apps", "deployments")]
        );
        // The same name in another group is a suggestion; in the group asked, it is what was asked for.
        assert_eq!(
            plurals(&c.nearest("documents", Some(""), 3)),
            [("kube.rs", "documents")]
        );
        assert!(c.nearest("documents", Some("kube.rs"), 3).is_empty());
        assert!(c.nearest("widgets", None, 3).is_empty());
        // Short needles only match exactly.
        assert!(c.nearest("cn", None, 3).is_empty());
        assert_eq!(plurals(&c.nearest("cm", None, 3)), [("", "configmaps")]);
    }

    #[test]
    fn lookup_says_why_a_type_is_absent() {
        let c = catalog();
        assert!(c.lookup("kube.rs", "v1", "documents").is_ok());
        assert_eq!(c.lookup("nope.io", "v1", "x").unwrap_err(), Absence::Group);
        assert_eq!(
            c.lookup("kube.rs", "v2", "documents").unwrap_err(),
            Absence::Resource {
                other_versions: vec!["v1".into()]
            }
        );
        assert_eq!(
            c.lookup("kube.rs", "v2", "widgets").unwrap_err(),
            Absence::Version {
                served: vec!["v1".into()]
            }
        );
        assert_eq!(c.named("Document").len(), 1);
    }
}
