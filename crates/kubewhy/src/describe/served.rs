//! Wording of what the API server serves: a type that is not served (a missing or unestablished CRD, a wrong
//! group or version, a misspelling with the nearest names), a missing subresource, a missing object, a
//! ServiceAccount that does not exist.

use super::{Words, in_namespace, object_text, quoted_commas};
use crate::cause::{Absence, Cause, CrdState, NotServed, Suggestion};
use crate::diagnosis::{Diagnosis, Request};
use crate::note::Note;
use crate::vocab::{builtin_group, request_resource, resource_name};

pub(super) fn words(d: &Diagnosis) -> Words {
    let r = &d.request;
    match &d.cause {
        Cause::NotServed(ns) => not_served(d, ns),
        Cause::NoSubresource { served } => {
            let name = resource_name(
                r.resource.as_deref().unwrap_or_default(),
                r.group.as_deref().unwrap_or(""),
                None,
            );
            let sub = r.subresource.as_deref().unwrap_or("?");
            Words {
                summary: format!("`{name}`{} has no subresource `{sub}`", version_text(r)),
                cause: if served.is_empty() {
                    format!("`{name}` serves no subresources")
                } else {
                    format!("`{name}` serves the subresources {}", quoted_commas(served))
                },
                notes: Vec::new(),
            }
        }
        Cause::ObjectMissing => {
            if r.resource.as_deref() == Some("namespaces")
                && let Some(name) = &r.name
            {
                Words {
                    summary: format!("namespace `{name}` does not exist"),
                    cause: "the request names a namespace that does not exist (or was deleted)"
                        .into(),
                    notes: Vec::new(),
                }
            } else {
                Words {
                    summary: format!("{} not found{}", object_text(r), in_namespace(r)),
                    cause: "the resource type is served, but no object with this name exists here: it was \
                            deleted, not created yet, or lives in another namespace"
                        .into(),
                    notes: Vec::new(),
                }
            }
        }
        Cause::NotInCache => {
            let what = r.kind.as_deref().unwrap_or("object");
            let name = match (&r.namespace, &r.name) {
                (Some(ns), Some(n)) => format!("{ns}/{n}"),
                (None, Some(n)) => n.clone(),
                _ => "?".into(),
            };
            Words {
                summary: format!(
                    "the controller was asked to reconcile {what} `{name}`, which is not in its cache"
                ),
                cause: "the object was deleted (or never seen) between the trigger and the reconcile; this is \
                        usually benign"
                    .into(),
                notes: Vec::new(),
            }
        }
        Cause::SubjectMissing => Words {
            summary: format!(
                "the service account `{}/{}` does not exist",
                r.namespace.as_deref().unwrap_or("?"),
                r.name.as_deref().unwrap_or("?")
            ),
            cause: "the checks below answer for a name no program can run as: RBAC grants to the \
                    `system:serviceaccounts` groups make a misspelled ServiceAccount look allowed"
                .into(),
            notes: Vec::new(),
        },
        Cause::NoAggregatedDiscovery => Words {
            summary: "the API server does not serve aggregated discovery".into(),
            cause: "the API server is older than the API kubewhy reads (aggregated discovery, \
                    apidiscovery.k8s.io/v2, served from Kubernetes 1.30 on)"
                .into(),
            notes: Vec::new(),
        },
        _ => unreachable!("describe::served is given served causes only"),
    }
}

/// ` (v1)`, or nothing.
fn version_text(r: &Request) -> String {
    r.version
        .as_deref()
        .map(|v| format!(" ({v})"))
        .unwrap_or_default()
}

/// `` `sprockets.g` (v1, kind `Sprocket`, namespaced) ``.
pub(super) fn suggestion_text(s: &Suggestion) -> String {
    format!(
        "`{}` ({}, kind `{}`, {})",
        resource_name(&s.plural, &s.group, None),
        s.version,
        s.kind,
        if s.namespaced {
            "namespaced"
        } else {
            "cluster-scoped"
        }
    )
}

/// The needs a diagnosis was declared by (`need #1`, `needs #1, #2`), when it was.
pub(crate) fn declared_needs(d: &Diagnosis) -> Option<String> {
    d.notes.iter().find_map(|n| match n {
        Note::Declared { needs, .. } if !needs.is_empty() => {
            let list: Vec<String> = needs.iter().map(|n| format!("#{n}")).collect();
            Some(if list.len() == 1 {
                format!("need {}", list[0])
            } else {
                format!("needs {}", list.join(", "))
            })
        }
        _ => None,
    })
}

/// A suggestion in another group with exactly the name asked for in the core group.
pub(crate) fn core_group_twin<'a>(ns: &'a NotServed, r: &Request) -> Option<&'a Suggestion> {
    let res = r.resource.as_deref()?;
    if !ns.wrong_core_group {
        return None;
    }
    ns.suggestions.iter().find(|s| s.plural == res)
}

fn not_served(d: &Diagnosis, ns: &NotServed) -> Words {
    let r = &d.request;
    let res = r.resource.as_deref().unwrap_or_default();
    let group = r.group.as_deref().unwrap_or("");
    let version = r.version.as_deref().unwrap_or("");
    let crd_name = format!("{res}.{group}");
    let name = request_resource(&Request {
        subresource: None,
        ..r.clone()
    });
    let mut summary = match (&name, &r.kind) {
        (Some(n), _) => format!("`{n}`{} is not served by the API server", version_text(r)),
        (None, Some(k)) => {
            let gv = match (group, version) {
                ("", "") => String::new(),
                ("", v) => format!(" (`{v}`)"),
                (g, "") => format!(" (group `{g}`)"),
                (g, v) => format!(" (`{g}/{v}`)"),
            };
            format!("kind `{k}`{gv} is not served by the API server")
        }
        (None, None) => match &r.verb {
            Some(v) => format!("the resource type of a `{v}` request is not served (404)"),
            None => "the resource type of a request is not served (404)".to_string(),
        },
    };
    let mut notes = Vec::new();

    if let Some(twin) = core_group_twin(ns, r) {
        return Words {
            summary: format!(
                "`{res}` is not a core resource: it is {}",
                suggestion_text(twin)
            ),
            cause: format!(
                "`{res}` is not a core resource, yet it was asked for in the core API group, which has no `{res}`: \
                 the URL (`/api/v1/{res}`) was built without the resource's group, and RBAC rules for the core \
                 group never match it either"
            ),
            notes,
        };
    }

    let cause = match &ns.crd {
        Some(CrdState::NotEstablished { conditions }) => {
            summary = format!("the CRD `{crd_name}` is installed but not Established");
            if conditions.is_empty() {
                "the API server has not marked it Established yet".to_string()
            } else {
                format!("its conditions: {}", conditions.join("; "))
            }
        }
        Some(CrdState::VersionNotServed { defined, served }) => {
            summary = format!(
                "the CRD `{crd_name}` is installed, but it does not serve version `{version}`"
            );
            let why = if *defined {
                format!("it defines `{version}` with `served: false`")
            } else {
                format!("it does not define version `{version}`")
            };
            format!(
                "{why}; it serves {}",
                if served.is_empty() {
                    "no version".to_string()
                } else {
                    quoted_commas(served)
                }
            )
        }
        Some(CrdState::NotYetDiscovered) => format!(
            "the CRD `{crd_name}` is Established and serves `{version}`, but discovery does not list it yet"
        ),
        _ => match &ns.discovery {
            Some(absence) => discovery_cause(ns, absence, res, group, version),
            None if ns.wrong_core_group => format!(
                "`{res}` is not a core resource, yet it was asked for in the core API group: the client built the \
                 URL without the resource's group{}",
                ns.real_group
                    .as_deref()
                    .or_else(|| builtin_group(res))
                    .map(|g| format!(" (`{res}` is in `{g}`)"))
                    .unwrap_or_default()
            ),
            None => "the type is not served: its CRD is not installed (or not yet established), the group or \
                     version is wrong, or the resource name is misspelled"
                .into(),
        },
    };
    for s in &ns.suggestions {
        notes.push(format!(
            "there is a resource with a similar name: {}",
            suggestion_text(s)
        ));
    }
    if let Some(CrdState::Unreadable { error }) = &ns.crd {
        notes.push(format!(
            "whether the CRD `{crd_name}` is installed is unknown: reading it failed ({error})"
        ));
    }
    if ns.plain_text {
        notes.push(
            "the server answered with a plain-text `404 page not found`, which kube-rs reports with reason \
             \"Failed to parse error data\"; `Status::is_not_found()` is false for it — match `code == 404`"
                .into(),
        );
    }
    if name.is_none() && r.kind.is_none() {
        notes.push(if d.notes.contains(&Note::LoggedByReflector) {
            // A dynamic informer's reflector prints `*unstructured.Unstructured`, not the type it lists.
            "the line does not name the type the reflector lists (a dynamic informer prints \
             `*unstructured.Unstructured`): the program's informer for that resource is the one failing"
                .into()
        } else {
            "the error does not say which URL failed (kube-rs's errors never do: pass the request to \
             `kubewhy::diagnose_in`, or use kubewhy's request tracing, to name the resource)"
                .into()
        });
    }
    Words {
        summary,
        cause,
        notes,
    }
}

/// Why discovery does not list a type.
fn discovery_cause(
    ns: &NotServed,
    absence: &Absence,
    res: &str,
    group: &str,
    version: &str,
) -> String {
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    let name = resource_name(res, group, None);
    if !ns.suggestions.is_empty() {
        return match absence {
            Absence::Group if !group.is_empty() => {
                format!("no served API group is named `{group}`")
            }
            _ if group.is_empty() => format!("the core group serves no resource named `{res}`"),
            _ => format!("group `{group}` serves no resource named `{res}`"),
        };
    }
    let mut cause = match absence {
        Absence::Group if group.is_empty() => {
            format!("the core group serves no resource named `{res}`")
        }
        Absence::Group => format!("no served API group is named `{group}`"),
        Absence::Version { served } => format!(
            "group `{}` does not serve version `{version}` (it serves {})",
            if group.is_empty() { "\"\"" } else { group },
            quoted_commas(served)
        ),
        Absence::Resource { other_versions } if !other_versions.is_empty() => format!(
            "`{name}` is served in {}, not in `{version}`",
            quoted_commas(other_versions)
        ),
        Absence::Resource { .. } if group.is_empty() => {
            format!("the core group (`{gv}`) serves no resource named `{res}`")
        }
        Absence::Resource { .. } => format!("`{gv}` serves no resource named `{res}`"),
    };
    if matches!(ns.crd, Some(CrdState::Missing)) {
        cause.push_str(&format!(
            ", and no CustomResourceDefinition `{res}.{group}` is installed"
        ));
    }
    cause
}
