//! Check 3, `served`: every needed type is served, by the one discovery [`Catalog`] (aggregated discovery: its
//! scope, verbs, subresources, singular and short names). A type that is not served gets a not-served cause with
//! what discovery says (no such group, version or resource), the nearest served names (the one nearest-name
//! search), and for a custom type what its CRD says (missing, not `Established`, the version not served).

use std::collections::{BTreeMap, BTreeSet};

use super::{Check, CheckKind, Options, Plan, ServedKey, need_request, served_name};
use crate::catalog::{Catalog, CatalogError, ResourceInfo};
use crate::cause::{Absence, Cause, CrdState, NotServed};
use crate::diagnosis::{Diagnosis, Request};
use crate::needs::ResourceType;
use crate::note::Note;
use crate::rbac::Verb;
use crate::vocab::{is_wrong_core_group, resource_name};

/// How many near names a not-served type gets.
const SUGGESTIONS: usize = 3;

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

/// The diagnosis of a need's type, which declared it, and what it asks about.
fn diagnosis(key: &ServedKey, cause: Cause, subresource: Option<&str>, program: &str) -> Diagnosis {
    let mut d = Diagnosis::new(cause, String::new());
    d.request = need_request(&key.resource, subresource, None, None);
    d.notes.push(Note::Declared {
        program: program.to_string(),
        needs: key.needs.clone(),
    });
    // No request was refused: the summary is the whole message.
    d.message = d.summary();
    d
}

pub(super) async fn check(
    client: &kube::Client,
    plan: &Plan,
    catalog: Result<Catalog, CatalogError>,
    options: &Options,
) -> Served {
    let mut out = Served::default();
    let catalog = match catalog {
        Ok(c) => c,
        Err(e) => {
            let request = Request {
                method: Some("GET".into()),
                url: Some("/apis".into()),
                path: Some("/apis".into()),
                ..Request::default()
            };
            let mut d = match &e {
                CatalogError::Read(e) => crate::diagnose::diagnose_in(e, Some(&request)),
                CatalogError::NotAggregated => {
                    let mut d = Diagnosis::new(Cause::NoAggregatedDiscovery, e.to_string());
                    d.request = request;
                    d
                }
            };
            d.notes.push(Note::ReadsAggregatedDiscovery);
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

    // Read the CRDs of the custom types discovery does not serve and has no near name for, concurrently.
    let mut wanted = BTreeSet::new();
    for key in &plan.served {
        let rt = &key.resource;
        if !rt.group.is_empty()
            && catalog
                .lookup(&rt.group, &rt.version, &rt.resource)
                .is_err()
            && catalog
                .nearest(&rt.resource, Some(&rt.group), SUGGESTIONS)
                .is_empty()
        {
            wanted.insert((format!("{}.{}", rt.resource, rt.group), rt.version.clone()));
        }
    }
    // Made in a loop, not by a closure over references, so that the whole preflight future stays `Send`.
    let wanted: Vec<(String, String)> = wanted.into_iter().collect();
    let mut reads = Vec::with_capacity(wanted.len());
    for (name, version) in &wanted {
        reads.push(super::crd::state(client, name, version, options));
    }
    let states = futures::future::join_all(reads).await;
    let crds: BTreeMap<(String, String), CrdState> = wanted.into_iter().zip(states).collect();

    let mut reported: BTreeMap<ResourceType, String> = BTreeMap::new();
    for key in &plan.served {
        let rt = &key.resource;
        let check = Check::new(CheckKind::Served, served_name(key), Some(key.need));
        if let Some(first) = reported.get(rt) {
            out.checks
                .push(check.skip(format!("the type is not served (see {first})")));
            continue;
        }
        match catalog.lookup(&rt.group, &rt.version, &rt.resource) {
            Ok((info, stale)) => {
                let checked = served_check(check, key, info, stale, &plan.program);
                if let Some(d) = checked.diagnosis.as_ref().filter(|d| is_edit(&d.cause)) {
                    out.edits.push(d.remedy().text);
                }
                if let Some(Cause::VerbUnsupported { verbs, .. }) =
                    checked.diagnosis.as_ref().map(|d| &d.cause)
                {
                    for verb in verbs.iter().filter_map(|v| v.parse::<Verb>().ok()) {
                        for n in &key.needs {
                            out.unsupported.insert(
                                (*n, verb),
                                format!("the type does not support it: {}", checked.detail),
                            );
                        }
                    }
                }
                if let Some(Cause::WrongScope { .. }) = checked.diagnosis.as_ref().map(|d| &d.cause)
                {
                    for n in &key.needs {
                        out.misnamed.insert(
                            *n,
                            format!("the need declares the wrong scope: {}", checked.detail),
                        );
                    }
                }
                out.checks.push(checked);
            }
            Err(absence) => {
                let crd_name = format!("{}.{}", rt.resource, rt.group);
                let ns = NotServed {
                    wrong_core_group: is_wrong_core_group(&need_request(rt, None, None, None)),
                    discovery: Some(absence),
                    crd: crds.get(&(crd_name.clone(), rt.version.clone())).cloned(),
                    suggestions: catalog.nearest(&rt.resource, Some(&rt.group), SUGGESTIONS),
                    install: options.crd_install.clone(),
                    ..NotServed::default()
                };
                // A name discovery has near names for, or a core-group name with no other version: the need names
                // the wrong type, so its access and probes would answer the wrong question.
                let misnamed =
                    !ns.suggestions.is_empty() || (rt.group.is_empty() && !has_version_fix(&ns));
                let crd_missing = ns.suggestions.is_empty()
                    && match &ns.crd {
                        Some(CrdState::Missing | CrdState::Unreadable { .. }) => {
                            !has_version_fix(&ns)
                        }
                        Some(CrdState::VersionNotServed { .. }) => true,
                        _ => false,
                    };
                let d = diagnosis(key, Cause::NotServed(ns), None, &plan.program);
                reported.insert(rt.clone(), served_name(key));
                out.not_served.insert(rt.clone(), d.summary());
                if misnamed {
                    for n in &key.needs {
                        out.misnamed.insert(
                            *n,
                            format!("the need names a type that is not served: {}", d.summary()),
                        );
                    }
                }
                if crd_missing && !out.missing_crds.contains(&crd_name) {
                    out.missing_crds.push(crd_name);
                }
                if is_edit(&d.cause) {
                    let text = d.remedy().text;
                    if text.starts_with("in the needs file") {
                        out.edits.push(text);
                    }
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

/// Whether discovery names another version of the type (the fix is then the needs file's version).
fn has_version_fix(ns: &NotServed) -> bool {
    match &ns.discovery {
        Some(Absence::Version { served }) => !served.is_empty(),
        Some(Absence::Resource { other_versions }) => !other_versions.is_empty(),
        _ => false,
    }
}

/// Whether a cause's fix is a correction to the needs file.
fn is_edit(cause: &Cause) -> bool {
    matches!(
        cause,
        Cause::NotServed(_) | Cause::WrongScope { .. } | Cause::VerbUnsupported { .. }
    )
}

/// The checks on a served type: its scope, the subresource and the verbs.
fn served_check(
    check: Check,
    key: &ServedKey,
    info: &ResourceInfo,
    stale: bool,
    program: &str,
) -> Check {
    let rt = &key.resource;
    let name = resource_name(&rt.resource, &rt.group, None);
    if rt.namespaced != info.namespaced {
        let cause = Cause::WrongScope {
            declared_namespaced: rt.namespaced,
        };
        return check.fail(diagnosis(key, cause, key.subresource.as_deref(), program));
    }
    let supported = match &key.subresource {
        None => Some(&info.verbs),
        // `finalizers` is no URL: RBAC checks `update` on it when an ownerReference sets `blockOwnerDeletion`
        // (the OwnerReferencesPermissionEnforcement admission plugin), so discovery never lists it.
        Some(sub) if sub == "finalizers" => {
            return check.pass(format!(
                "`{name}/finalizers` is checked by RBAC only (an ownerReference with `blockOwnerDeletion` needs \
                 `update` on it), never served as a URL; `{name}` is served by `{}`",
                rt.api_version()
            ));
        }
        Some(sub) => match info.subresources.iter().find(|(s, _)| s == sub) {
            Some((_, verbs)) => Some(verbs),
            None => {
                let cause = Cause::NoSubresource {
                    served: info.subresources.iter().map(|(s, _)| s.clone()).collect(),
                };
                return check.fail(diagnosis(key, cause, Some(sub), program));
            }
        },
    };
    if let Some(supported) = supported.filter(|s| !s.is_empty()) {
        let unsupported: Vec<String> = key
            .verbs
            .iter()
            .filter(|v| v.is_api_verb() && !supported.iter().any(|s| s == v.as_str()))
            .map(|v| v.to_string())
            .collect();
        if !unsupported.is_empty() {
            let cause = Cause::VerbUnsupported {
                verbs: unsupported,
                supported: supported.clone(),
            };
            return check.fail(diagnosis(key, cause, key.subresource.as_deref(), program));
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
    check.pass(detail)
}
