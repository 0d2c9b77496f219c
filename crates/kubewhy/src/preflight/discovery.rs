//! Check 3, `served`: every needed type is served. One aggregated discovery (`/api` and `/apis`, two requests)
//! lists every served group, version and resource with its scope, verbs, subresources, singular and short
//! names. A type that is not served is explained: its CRD is missing, not `Established` or does not serve the
//! version; the group does not serve the version; the name is misspelled (nearest served names by edit
//! distance over plural, singular, kind and short names); or a core-group need names a resource of another
//! group.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::Api;
use kube::core::discovery::v2::APIGroupDiscoveryList;

use super::{
    Check, CheckKind, Failure, Options, Plan, ServedKey, limited, need_request, resource_name,
    served_name,
};
use crate::diagnosis::{Class, Diagnosis, Request};
use crate::needs::ResourceType;
use crate::rbac::Verb;

/// Everything the API server serves.
#[derive(Debug, Default)]
pub(super) struct Catalog {
    groups: Vec<GroupInfo>,
}

#[derive(Debug)]
struct GroupInfo {
    name: String,
    /// In order of preference.
    versions: Vec<VersionInfo>,
}

#[derive(Debug)]
struct VersionInfo {
    version: String,
    stale: bool,
    resources: Vec<ResourceInfo>,
}

#[derive(Debug, Clone)]
struct ResourceInfo {
    plural: String,
    singular: String,
    kind: String,
    namespaced: bool,
    verbs: Vec<String>,
    short_names: Vec<String>,
    /// (name, verbs)
    subresources: Vec<(String, Vec<String>)>,
}

impl Catalog {
    fn from_lists(lists: [APIGroupDiscoveryList; 2]) -> Catalog {
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

    fn group(&self, name: &str) -> Option<&GroupInfo> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// Served resources with a name near `rt.resource` (or the same name in another group), best first.
    fn suggest(&self, rt: &ResourceType) -> Vec<Suggestion> {
        let needle = rt.resource.to_ascii_lowercase();
        let limit = match needle.chars().count() {
            0..=3 => 0,
            4..=6 => 1,
            _ => 2,
        };
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for g in &self.groups {
            for v in &g.versions {
                for r in &v.resources {
                    if (g.name == rt.group && r.plural == rt.resource)
                        || !seen.insert((g.name.clone(), r.plural.clone()))
                    {
                        continue;
                    }
                    let kind = r.kind.to_ascii_lowercase();
                    let names = std::iter::once(&r.plural)
                        .chain(std::iter::once(&r.singular))
                        .chain(std::iter::once(&kind))
                        .chain(r.short_names.iter())
                        .filter(|n| !n.is_empty());
                    let distance = names
                        .map(|n| strsim::damerau_levenshtein(&needle, n))
                        .min()
                        .unwrap_or(usize::MAX);
                    if distance <= limit {
                        out.push(Suggestion {
                            distance,
                            group: g.name.clone(),
                            version: v.version.clone(),
                            plural: r.plural.clone(),
                            kind: r.kind.clone(),
                            namespaced: r.namespaced,
                        });
                    }
                }
            }
        }
        out.sort_by_key(|s| {
            (
                s.distance,
                s.group != rt.group,
                s.group.clone(),
                s.plural.clone(),
            )
        });
        out.truncate(3);
        out
    }
}

#[derive(Debug, Clone)]
struct Suggestion {
    distance: usize,
    group: String,
    version: String,
    plural: String,
    kind: String,
    namespaced: bool,
}

impl Suggestion {
    fn name(&self) -> String {
        let rt = ResourceType::new(&self.group, &self.version, &self.plural, &self.kind, true);
        resource_name(&rt, None)
    }

    fn describe(&self) -> String {
        format!(
            "`{}` ({}, kind `{}`, {})",
            self.name(),
            self.version,
            self.kind,
            if self.namespaced {
                "namespaced"
            } else {
                "cluster-scoped"
            }
        )
    }
}

/// Reads the aggregated discovery documents.
pub(super) async fn discover(client: &kube::Client) -> Result<Catalog, Failure> {
    let (core, apis) = futures::join!(
        client.list_core_api_versions_aggregated(),
        client.list_api_groups_aggregated()
    );
    let core = core.map_err(|e| Failure::Api(Box::new(e)))?;
    let apis = apis.map_err(|e| Failure::Api(Box::new(e)))?;
    if core.items.is_empty() || apis.items.is_empty() {
        // A server without aggregated discovery answers the plain APIGroupList, which has no `items`.
        return Err(Failure::Unsupported(
            "the API server answered `/api` or `/apis` without aggregated discovery (apidiscovery.k8s.io/v2)"
                .into(),
        ));
    }
    Ok(Catalog::from_lists([core, apis]))
}

/// What the served stage found, for the later stages and the fix.
#[derive(Debug, Default)]
pub(crate) struct Served {
    pub checks: Vec<Check>,
    /// Needs (1-based) whose name is wrong, with the reason their access and probes are skipped.
    pub misnamed: BTreeMap<usize, String>,
    /// (need, verb) pairs the type does not support, with the reason their access reviews are skipped.
    pub unsupported: BTreeMap<(usize, Verb), String>,
    /// Types that are served as declared.
    pub served: BTreeSet<ResourceType>,
    /// Types not served, with the reason (for the probes).
    pub not_served: BTreeMap<ResourceType, String>,
    /// CRDs to install (`plural.group`), in order.
    pub missing_crds: Vec<String>,
    /// Corrections to the needs file, one sentence each.
    pub edits: Vec<String>,
}

/// A CRD as far as it could be read.
enum Crd {
    Missing,
    Found(Box<CustomResourceDefinition>),
    Unknown(String),
}

async fn read_crd(client: &kube::Client, name: &str, options: &Options) -> Crd {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    match limited(options.timeout, api.get_opt(name)).await {
        Ok(Some(crd)) => Crd::Found(Box::new(crd)),
        Ok(None) => Crd::Missing,
        Err(f) => Crd::Unknown(f.message().trim().to_string()),
    }
}

fn needs_list(key: &ServedKey) -> String {
    let list: Vec<String> = key.needs.iter().map(|n| format!("#{n}")).collect();
    format!("need {}", list.join(", "))
}

fn not_served_diagnosis(key: &ServedKey, summary: String, cause: String) -> Diagnosis {
    let rt = &key.resource;
    // No request was refused: the summary is the whole message.
    let mut d = Diagnosis::new(Class::ResourceNotFound, summary.clone());
    d.request = need_request(rt, key.subresource.as_deref(), None, None);
    d.summary = summary;
    d.cause = cause;
    d
}

pub(super) async fn check(
    client: &kube::Client,
    plan: &Plan,
    catalog: Result<Catalog, Failure>,
    options: &Options,
) -> Served {
    let mut out = Served::default();
    let catalog = match catalog {
        Ok(c) => c,
        Err(failure) => {
            let request = Request {
                method: Some("GET".into()),
                url: Some("/apis".into()),
                path: Some("/apis".into()),
                ..Request::default()
            };
            let mut d = failure.diagnose(&request);
            d.notes.push(
                "kubewhy reads aggregated discovery (apidiscovery.k8s.io/v2, Kubernetes 1.30 and later)".into(),
            );
            for (i, key) in plan.served.iter().enumerate() {
                let c = Check::new(CheckKind::Served, served_name(key), Some(key.need));
                out.checks.push(if i == 0 {
                    c.fail(d.clone())
                } else {
                    c.skip("discovery failed (see the first `served` check)")
                });
            }
            return out;
        }
    };

    // Read the CRDs of the types discovery does not serve as declared, concurrently.
    let mut crd_names = BTreeSet::new();
    for key in &plan.served {
        let rt = &key.resource;
        if !rt.group.is_empty() && lookup(&catalog, rt).is_err() {
            crd_names.insert(format!("{}.{}", rt.resource, rt.group));
        }
    }
    // Made in a loop, not by a closure over references, so that the whole preflight future stays `Send`.
    let names: Vec<String> = crd_names.into_iter().collect();
    let mut reads = Vec::with_capacity(names.len());
    for name in &names {
        reads.push(read_crd(client, name, options));
    }
    let read = futures::future::join_all(reads).await;
    let crds: BTreeMap<String, Crd> = names.iter().cloned().zip(read).collect();

    let mut reported: BTreeMap<ResourceType, String> = BTreeMap::new();
    for key in &plan.served {
        let rt = &key.resource;
        let check = Check::new(CheckKind::Served, served_name(key), Some(key.need));
        if let Some(first) = reported.get(rt) {
            out.checks
                .push(check.skip(format!("the type is not served (see {first})")));
            continue;
        }
        match lookup(&catalog, rt) {
            Ok((info, stale)) => {
                let (check, misdeclared, unsupported) =
                    served_check(check, key, info, stale, &mut out.edits);
                for verb in unsupported {
                    for n in &key.needs {
                        out.unsupported.insert(
                            (*n, verb),
                            format!("the type does not support it: {}", check.detail),
                        );
                    }
                }
                if misdeclared {
                    for n in &key.needs {
                        out.misnamed.insert(
                            *n,
                            format!("the need declares the wrong scope: {}", check.detail),
                        );
                    }
                }
                out.checks.push(check);
            }
            Err(missing) => {
                let crd_name = format!("{}.{}", rt.resource, rt.group);
                let crd = crds.get(&crd_name);
                let (d, misnamed, crd_missing, edit) =
                    explain_not_served(key, &catalog, missing, crd, options);
                reported.insert(rt.clone(), served_name(key));
                out.not_served.insert(rt.clone(), d.summary.clone());
                if misnamed {
                    for n in &key.needs {
                        out.misnamed.insert(
                            *n,
                            format!("the need names a type that is not served: {}", d.summary),
                        );
                    }
                }
                if crd_missing && !out.missing_crds.contains(&crd_name) {
                    out.missing_crds.push(crd_name);
                }
                if let Some(e) = edit {
                    out.edits.push(e);
                }
                out.checks.push(check.fail(d));
            }
        }
    }
    for key in &plan.served {
        if !out.not_served.contains_key(&key.resource) {
            out.served.insert(key.resource.clone());
        }
    }
    out
}

/// Why a type is not served, as far as discovery tells.
enum Missing {
    Group,
    Version { served: Vec<String> },
    Resource { other_versions: Vec<String> },
}

fn lookup<'a>(
    catalog: &'a Catalog,
    rt: &ResourceType,
) -> Result<(&'a ResourceInfo, bool), Missing> {
    let group = catalog.group(&rt.group).ok_or(Missing::Group)?;
    let other_versions: Vec<String> = group
        .versions
        .iter()
        .filter(|v| v.resources.iter().any(|r| r.plural == rt.resource))
        .map(|v| v.version.clone())
        .collect();
    let Some(version) = group.versions.iter().find(|v| v.version == rt.version) else {
        return Err(if other_versions.is_empty() {
            Missing::Version {
                served: group.versions.iter().map(|v| v.version.clone()).collect(),
            }
        } else {
            Missing::Resource { other_versions }
        });
    };
    match version.resources.iter().find(|r| r.plural == rt.resource) {
        Some(info) => Ok((info, version.stale)),
        None => Err(Missing::Resource { other_versions }),
    }
}

/// The checks on a served type: its scope, the subresource and the verbs; also whether the need declares the
/// wrong scope (its access reviews and probes would then ask the wrong question), and the verbs it does not
/// support.
fn served_check(
    check: Check,
    key: &ServedKey,
    info: &ResourceInfo,
    stale: bool,
    edits: &mut Vec<String>,
) -> (Check, bool, Vec<Verb>) {
    let rt = &key.resource;
    let name = resource_name(rt, None);
    if rt.namespaced != info.namespaced {
        let (declared, actual, set) = if rt.namespaced {
            ("namespaced", "cluster-scoped", "namespaced: false")
        } else {
            ("cluster-scoped", "namespaced", "namespaced: true")
        };
        let mut d = Diagnosis::new(
            Class::InvalidRequest,
            format!("{name} is {actual}, declared {declared}"),
        );
        d.request = need_request(rt, key.subresource.as_deref(), None, None);
        d.summary = format!(
            "`{name}` is {actual}, but {} declares it {declared}",
            needs_list(key)
        );
        d.cause = "the scope decides the RBAC (a Role grants only namespaced types; a cluster-scoped type needs a \
                   ClusterRole) and the request URLs, so both would be wrong"
            .into();
        d.remedy.text = format!("in the needs file, set `{set}` for {}", needs_list(key));
        edits.push(d.remedy.text.clone());
        d.message = d.summary.clone();
        return (check.fail(d), true, Vec::new());
    }
    let (supported, what) = match &key.subresource {
        None => (Some(&info.verbs), name.clone()),
        // `finalizers` is no URL: RBAC checks `update` on it when an ownerReference sets `blockOwnerDeletion`
        // (the OwnerReferencesPermissionEnforcement admission plugin), so discovery never lists it.
        Some(sub) if sub == "finalizers" => {
            let detail = format!(
                "`{name}/finalizers` is checked by RBAC only (an ownerReference with `blockOwnerDeletion` needs \
                 `update` on it), never served as a URL; `{name}` is served by `{}`",
                rt.api_version()
            );
            return (check.pass(detail), false, Vec::new());
        }
        Some(sub) => match info.subresources.iter().find(|(s, _)| s == sub) {
            Some((_, verbs)) => (Some(verbs), format!("{name}/{sub}")),
            None => {
                let served: Vec<String> = info
                    .subresources
                    .iter()
                    .map(|(s, _)| format!("`{s}`"))
                    .collect();
                let mut d = Diagnosis::new(
                    Class::ResourceNotFound,
                    format!("{name} has no subresource {sub}"),
                );
                d.request = need_request(rt, Some(sub), None, None);
                d.summary = format!("`{name}` ({}) has no subresource `{sub}`", rt.version);
                d.cause = if served.is_empty() {
                    format!("`{name}` serves no subresources")
                } else {
                    format!("`{name}` serves the subresources {}", served.join(", "))
                };
                d.remedy.text = if rt.group.contains('.') && !rt.group.ends_with(".k8s.io") {
                    format!(
                        "if `{name}` is a CRD, enable the subresource in its version `{}` \
                         (`subresources: {{{sub}: {{}}}}`) and reinstall it; otherwise correct {} in the needs file",
                        rt.version,
                        needs_list(key)
                    )
                } else {
                    format!(
                        "correct the subresource of {} in the needs file",
                        needs_list(key)
                    )
                };
                d.message = d.summary.clone();
                d.message = d.summary.clone();
                return (check.fail(d), false, Vec::new());
            }
        },
    };
    if let Some(supported) = supported.filter(|s| !s.is_empty()) {
        let api_verbs = [
            Verb::Get,
            Verb::List,
            Verb::Watch,
            Verb::Create,
            Verb::Update,
            Verb::Patch,
            Verb::Delete,
            Verb::DeleteCollection,
        ];
        let verbs: Vec<Verb> = key
            .verbs
            .iter()
            .copied()
            .filter(|v| api_verbs.contains(v) && !supported.iter().any(|s| s == v.as_str()))
            .collect();
        let unsupported: Vec<String> = verbs.iter().map(|v| format!("`{v}`")).collect();
        if !unsupported.is_empty() {
            let mut d = Diagnosis::new(
                Class::InvalidRequest,
                format!("{what} does not support {}", unsupported.join(", ")),
            );
            d.request = need_request(rt, key.subresource.as_deref(), None, None);
            d.summary = format!(
                "`{what}` ({}) does not support {}",
                rt.version,
                unsupported.join(", ")
            );
            d.cause = format!(
                "discovery lists the verbs it supports: {}",
                supported.join(", ")
            );
            d.remedy.text = format!(
                "remove those verbs from {} in the needs file",
                needs_list(key)
            );
            edits.push(d.remedy.text.clone());
            d.message = d.summary.clone();
            return (check.fail(d), false, verbs);
        }
    }
    let mut detail = format!(
        "kind `{}`, {}, by `{}`",
        info.kind,
        if info.namespaced {
            "namespaced"
        } else {
            "cluster-scoped"
        },
        rt.api_version()
    );
    if stale {
        detail.push_str(
            " (discovery marks this version stale: an aggregated API server behind it may be down)",
        );
    }
    (check.pass(detail), false, Vec::new())
}

/// The diagnosis of a type that is not served; also whether the name is wrong (access checks are then
/// meaningless), whether a CRD is to be installed, and the correction to the needs file.
fn explain_not_served(
    key: &ServedKey,
    catalog: &Catalog,
    missing: Missing,
    crd: Option<&Crd>,
    options: &Options,
) -> (Diagnosis, bool, bool, Option<String>) {
    let rt = &key.resource;
    let name = resource_name(rt, None);
    let needs = needs_list(key);
    let suggestions = catalog.suggest(rt);
    let gv = rt.api_version();
    let summary = format!("`{name}` ({}) is not served by the API server", rt.version);

    // A core-group need for a resource another group serves under exactly that name.
    if rt.group.is_empty()
        && let Some(s) = suggestions.iter().find(|s| s.plural == rt.resource)
    {
        let mut d = not_served_diagnosis(
            key,
            format!(
                "`{}` is not a core resource: it is {}",
                rt.resource,
                s.describe()
            ),
            format!(
                "{needs} names the core group (`group: \"\"`, requests to `/api/v1/{}`), which has no `{}`; \
                 RBAC rules for the core group never match it either",
                rt.resource, rt.resource
            ),
        );
        let edit = format!(
            "in the needs file, set `group: {}` and `version: {}` for {needs}",
            s.group, s.version
        );
        d.remedy.text = edit.clone();
        return (d, true, false, Some(edit));
    }

    if let Some(best) = suggestions.first() {
        let cause = match &missing {
            Missing::Group => format!("no served API group is named `{}`", rt.group),
            Missing::Version { .. } | Missing::Resource { .. } if rt.group.is_empty() => {
                format!("the core group serves no resource named `{}`", rt.resource)
            }
            _ => format!(
                "group `{}` serves no resource named `{}`",
                rt.group, rt.resource
            ),
        };
        let mut d = not_served_diagnosis(key, summary, cause);
        for s in &suggestions {
            d.notes.push(format!(
                "there is a resource with a similar name: {}",
                s.describe()
            ));
        }
        let mut edit = format!("in the needs file, write `resource: {}`", best.plural);
        if best.group != rt.group {
            edit.push_str(&format!(
                ", `group: {}`",
                if best.group.is_empty() {
                    "\"\""
                } else {
                    &best.group
                }
            ));
        }
        if best.version != rt.version {
            edit.push_str(&format!(", `version: {}`", best.version));
        }
        edit.push_str(&format!(" for {needs}"));
        d.remedy.text = edit.clone();
        return (d, true, false, Some(edit));
    }

    let crd_name = format!("{}.{}", rt.resource, rt.group);
    let install = options.crd_install.clone().unwrap_or_else(|| {
        format!("kubectl apply -f <the manifest of CustomResourceDefinition {crd_name}>")
    });
    match crd {
        Some(Crd::Found(crd)) => {
            let status = crd.status.clone().unwrap_or_default();
            let conditions = status.conditions.unwrap_or_default();
            let established = conditions.iter().find(|c| c.type_ == "Established");
            let versions: Vec<(String, bool)> = crd
                .spec
                .versions
                .iter()
                .map(|v| (v.name.clone(), v.served))
                .collect();
            let served: Vec<String> = versions
                .iter()
                .filter(|v| v.1)
                .map(|v| format!("`{}`", v.0))
                .collect();
            if established.map(|c| c.status.as_str()) != Some("True") {
                let why = conditions
                    .iter()
                    .filter(|c| c.status != "True")
                    .map(|c| {
                        format!(
                            "{}={} ({}: {})",
                            c.type_,
                            c.status,
                            c.reason.clone().unwrap_or_default(),
                            c.message.clone().unwrap_or_default()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                let mut d = not_served_diagnosis(
                    key,
                    format!("the CRD `{crd_name}` is installed but not Established"),
                    if why.is_empty() {
                        "the API server has not marked it Established yet".to_string()
                    } else {
                        format!("its conditions: {why}")
                    },
                );
                d.remedy.text =
                    "fix what the conditions name (a name another CRD already uses, an invalid schema) and reapply it"
                        .into();
                d.remedy.commands = vec![format!(
                    "kubectl describe customresourcedefinition {crd_name}"
                )];
                return (d, false, false, None);
            }
            match versions.iter().find(|v| v.0 == rt.version) {
                Some((_, true)) => {
                    // Installed, Established and serving the version, yet not in discovery: discovery lags a
                    // freshly created CRD by a moment.
                    let mut d = not_served_diagnosis(
                        key,
                        summary,
                        format!(
                            "the CRD `{crd_name}` is Established and serves `{}`, but discovery does not list it yet",
                            rt.version
                        ),
                    );
                    d.remedy.text =
                        "wait a moment and check again: discovery follows a new CRD within seconds"
                            .into();
                    (d, false, false, None)
                }
                found => {
                    let why = if found.is_some() {
                        format!("it defines `{}` with `served: false`", rt.version)
                    } else {
                        format!("it does not define version `{}`", rt.version)
                    };
                    let mut d = not_served_diagnosis(
                        key,
                        format!(
                            "the CRD `{crd_name}` is installed, but it does not serve version `{}`",
                            rt.version
                        ),
                        format!(
                            "{why}; it serves {}",
                            if served.is_empty() {
                                "no version".to_string()
                            } else {
                                served.join(", ")
                            }
                        ),
                    );
                    d.remedy.text = format!(
                        "install the CRD revision that serves `{}`, or declare a served version for {needs}",
                        rt.version
                    );
                    d.remedy.commands = vec![install];
                    (d, false, true, None)
                }
            }
        }
        Some(Crd::Missing) | Some(Crd::Unknown(_)) | None => {
            let mut cause = match &missing {
                Missing::Group if rt.group.is_empty() => {
                    format!("the core group serves no resource named `{}`", rt.resource)
                }
                Missing::Group => format!("no served API group is named `{}`", rt.group),
                Missing::Version { served } => format!(
                    "group `{}` does not serve version `{}` (it serves {})",
                    if rt.group.is_empty() {
                        "\"\""
                    } else {
                        &rt.group
                    },
                    rt.version,
                    served
                        .iter()
                        .map(|v| format!("`{v}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Missing::Resource { other_versions } if !other_versions.is_empty() => format!(
                    "`{name}` is served in {}, not in `{}`",
                    other_versions
                        .iter()
                        .map(|v| format!("`{v}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    rt.version
                ),
                Missing::Resource { .. } if rt.group.is_empty() => {
                    format!(
                        "the core group (`{gv}`) serves no resource named `{}`",
                        rt.resource
                    )
                }
                Missing::Resource { .. } => {
                    format!("`{gv}` serves no resource named `{}`", rt.resource)
                }
            };
            let crd_known_missing = matches!(crd, Some(Crd::Missing));
            if crd_known_missing {
                cause.push_str(&format!(
                    ", and no CustomResourceDefinition `{crd_name}` is installed"
                ));
            }
            let mut d = not_served_diagnosis(key, summary, cause);
            if let Some(Crd::Unknown(why)) = crd {
                d.notes.push(format!("whether the CRD `{crd_name}` is installed is unknown: reading it failed ({why})"));
            }
            let version_fix = match &missing {
                Missing::Version { served } => served.first().cloned(),
                Missing::Resource { other_versions } => other_versions.first().cloned(),
                Missing::Group => None,
            };
            if let Some(v) = version_fix {
                let edit = format!("in the needs file, write `version: {v}` for {needs}");
                d.remedy.text = edit.clone();
                return (d, false, false, Some(edit));
            }
            if rt.group.is_empty() {
                // The core group has no CRDs: a resource it does not serve is a wrong name, never a missing install.
                d.remedy.text = format!(
                    "correct {needs} in the needs file: the core group has no `{}`",
                    rt.resource
                );
                return (d, true, false, None);
            }
            d.remedy.text = format!("install the CustomResourceDefinition `{crd_name}`");
            d.remedy.commands = vec![install];
            (
                d,
                false,
                crd_known_missing || matches!(crd, Some(Crd::Unknown(_))),
                None,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::discovery::v2::{
        APIGroupDiscovery, APIResourceDiscovery, APIVersionDiscovery, GroupVersionKind,
    };

    fn catalog() -> Catalog {
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
                items: vec![group(
                    "kube.rs",
                    vec![res("documents", "document", "Document", &["doc"])],
                )],
            },
        ])
    }

    #[test]
    fn suggests_near_names_over_plural_singular_kind_and_short_names() {
        let c = catalog();
        let s = c.suggest(&ResourceType::new(
            "kube.rs",
            "v1",
            "documnets",
            "Document",
            true,
        ));
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].plural.as_str(), s[0].distance), ("documents", 1));
        let s = c.suggest(&ResourceType::new(
            "kube.rs", "v1", "Document", "Document", true,
        ));
        assert_eq!(s[0].plural, "documents");
        let s = c.suggest(&ResourceType::new("", "v1", "documents", "Document", true));
        assert_eq!((s[0].group.as_str(), s[0].distance), ("kube.rs", 0));
        assert!(
            c.suggest(&ResourceType::new("", "v1", "widgets", "Widget", true))
                .is_empty()
        );
        // Short needles only match exactly.
        assert!(
            c.suggest(&ResourceType::new("", "v1", "cn", "X", true))
                .is_empty()
        );
        assert_eq!(
            c.suggest(&ResourceType::new("", "v1", "cm", "X", true))
                .len(),
            1
        );
    }
}
