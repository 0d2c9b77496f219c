//! The RBAC remedy for a denial: the permissions that were denied, for the subject that was denied, turned into
//! manifests by [`crate::rbac::generate`] — alone, or merged with every other denial of the same subject into one
//! role (what `kubewhy explain --fix` prints).

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::PolicyRule;

use crate::cause::Cause;
use crate::diagnosis::Diagnosis;
use crate::near_miss::FixKind;
use crate::rbac::{self, Permission, Subject};
use crate::vocab::{IMPERSONATION_GROUP, Verb, builtin_group};

/// One denied permission and who needs it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    /// Who was denied.
    pub subject: Subject,
    /// What was denied.
    pub permission: Permission,
}

/// The grants that fix a denial, when RBAC is the fix: empty for other causes, when the subject or verb is
/// unknown, and when the client asked for a non-core resource in the core group (the fix is the client's group)
/// unless the resource's real group is known (built in, or found by `--live`). A constrained impersonation
/// denial (`impersonate-on:<mode>:<verb>`) needs two rules: the action on the target and `impersonate:<mode>` on
/// the identity.
pub fn grants(d: &Diagnosis) -> Vec<Grant> {
    let Cause::Denied(denial) = &d.cause else {
        return Vec::new();
    };
    let (Some(user), Some(verb)) = (
        d.user.as_deref(),
        d.request
            .verb
            .as_deref()
            .and_then(|v| v.parse::<Verb>().ok()),
    ) else {
        return Vec::new();
    };
    let subject = Subject::from_username(user);
    let r = &d.request;
    if let Some(path) = &r.path {
        return vec![Grant {
            subject,
            permission: Permission::non_resource(path, verb),
        }];
    }
    let Some(resource) = r.resource.as_deref() else {
        return Vec::new();
    };
    let group = if denial.wrong_core_group {
        match denial
            .real_group
            .as_deref()
            .or_else(|| builtin_group(resource))
        {
            Some(g) => g,
            None => return Vec::new(),
        }
    } else {
        match r.group.as_deref() {
            Some(g) => g,
            None => return Vec::new(),
        }
    };
    let target = match &r.subresource {
        Some(sub) => format!("{resource}/{sub}"),
        None => resource.to_string(),
    };
    let mut verbs = vec![verb];
    verbs.extend(
        denial
            .also_denied
            .iter()
            .filter_map(|v| v.parse::<Verb>().ok()),
    );
    let mut out: Vec<Grant> = verbs
        .into_iter()
        .map(|verb| Grant {
            subject: subject.clone(),
            permission: Permission::resource(group, &target, verb, r.namespace.as_deref()),
        })
        .collect();
    if let Verb::ImpersonateOn(mode, _) = verb {
        out.push(Grant {
            subject,
            permission: Permission::resource(
                IMPERSONATION_GROUP,
                mode.identity_resource(),
                Verb::ImpersonateAs(mode),
                None,
            ),
        });
    }
    out
}

/// One RBAC object that near misses' fixes change or create (an edited role, a corrected binding, a missing role),
/// with the fixes of every diagnosis that touch it merged: the edits of one role apply in turn.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectChange {
    /// What changes, one remedy summary per fix (`edit ClusterRole `x`: add `watch` to rule 1`).
    pub what: Vec<String>,
    /// The object after every change (YAML for `kubectl apply -f -`).
    pub yaml: String,
    /// The positions of the diagnoses it fixes.
    pub of: Vec<usize>,
}

/// The near miss's fix of a denial, when it changes or creates an object other than a new role.
fn object_fix(d: &Diagnosis) -> Option<&crate::near_miss::Fix> {
    let fix = match &d.cause {
        Cause::Denied(denial) if !denial.wrong_core_group => {
            denial.near_miss.as_ref()?.fix.as_ref()?
        }
        Cause::Escalation { near_miss, .. } => near_miss.as_ref()?.fix.as_ref()?,
        _ => return None,
    };
    (!matches!(
        fix.kind,
        FixKind::NewRole { .. } | FixKind::ClientGroup { .. }
    ))
    .then_some(fix)
}

/// The objects the near misses of `diagnoses` change or create, one per object. The other denials keep
/// [`grants`] (a new role).
pub fn object_changes<'a>(diagnoses: impl IntoIterator<Item = &'a Diagnosis>) -> Vec<ObjectChange> {
    let mut out: Vec<(String, serde_json::Value, ObjectChange)> = Vec::new();
    for (i, d) in diagnoses.into_iter().enumerate() {
        let Some(fix) = object_fix(d) else { continue };
        let Some(object) = fix.object() else { continue };
        let meta = &object["metadata"];
        let key = format!("{}/{}/{}", object["kind"], meta["namespace"], meta["name"]);
        let what = d.help();
        match out.iter_mut().find(|(k, ..)| *k == key) {
            Some((_, merged, change)) => {
                if let FixKind::EditRule { edit, .. } = &fix.kind {
                    // The rules were written from `PolicyRule`s by the fix itself: they read back, and write.
                    let rules: Vec<PolicyRule> =
                        serde_json::from_value(merged["rules"].clone()).unwrap_or_default();
                    merged["rules"] =
                        serde_json::to_value(crate::rbac::fix::apply_edit(&rules, edit))
                            .unwrap_or_default();
                }
                if !change.what.contains(&what) {
                    change.what.push(what);
                }
                change.of.push(i);
            }
            None => out.push((
                key,
                object.clone(),
                ObjectChange {
                    what: vec![what],
                    yaml: String::new(),
                    of: vec![i],
                },
            )),
        }
    }
    out.into_iter()
        .map(|(_, object, mut change)| {
            // A JSON object with string keys always has a YAML form.
            change.yaml = serde_yaml::to_string(&object).unwrap_or_default();
            change
        })
        .collect()
}

/// A name a Role and binding can carry: lowercase letters, digits, `-` and `.`, at most 63 characters.
pub fn object_name(parts: &[&str]) -> String {
    let mut out = String::new();
    for part in parts {
        if !out.is_empty() {
            out.push('-');
        }
        for c in part.chars() {
            let c = c.to_ascii_lowercase();
            out.push(if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '-'
            });
        }
    }
    let mut out: String = out
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    out.truncate(63);
    out.trim_end_matches(['-', '.']).to_string()
}

/// The short name of a subject for object names (`doc-controller`, `alice`).
fn subject_name(s: &Subject) -> &str {
    match s {
        Subject::ServiceAccount { name, .. } | Subject::User { name } | Subject::Group { name } => {
            name
        }
    }
}

/// The manifests for the grants of one diagnosis (one subject), named after the subject, the first verb and the
/// resource.
pub fn grants_yaml(grants: &[Grant]) -> Result<Option<String>, serde_yaml::Error> {
    let Some(first) = grants.first() else {
        return Ok(None);
    };
    let what = match &first.permission.target {
        rbac::Target::Resource { resource, .. } => resource.replace('/', "-"),
        rbac::Target::NonResource { path } => path.trim_matches('/').replace('/', "-"),
    };
    let name = object_name(&[
        "kubewhy",
        subject_name(&first.subject),
        first.permission.verb.as_str(),
        &what,
    ]);
    let perms: Vec<Permission> = grants.iter().map(|g| g.permission.clone()).collect();
    rbac::to_yaml(&rbac::generate(&name, &first.subject, &perms)).map(Some)
}

/// The manifests for one grant alone (see [`grants_yaml`]).
pub fn single_yaml(g: &Grant) -> Result<String, serde_yaml::Error> {
    grants_yaml(std::slice::from_ref(g)).map(Option::unwrap_or_default)
}

/// Merges grants per subject: one Role/ClusterRole (and binding) set per subject, named `kubewhy-<subject>`,
/// as one YAML stream for `kubectl apply -f -`. Subjects are in a stable order.
pub fn merged_yaml<'a>(
    grants: impl IntoIterator<Item = &'a Grant>,
) -> Result<String, serde_yaml::Error> {
    let mut by_subject: BTreeMap<&Subject, Vec<Permission>> = BTreeMap::new();
    for g in grants {
        let perms = by_subject.entry(&g.subject).or_default();
        if !perms.contains(&g.permission) {
            perms.push(g.permission.clone());
        }
    }
    let mut out = String::new();
    for (subject, perms) in by_subject {
        let name = object_name(&["kubewhy", subject_name(subject)]);
        let yaml = rbac::to_yaml(&rbac::generate(&name, subject, &perms))?;
        if !out.is_empty() {
            out.push_str("---\n");
        }
        out.push_str(&yaml);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_valid() {
        assert_eq!(
            object_name(&["kubewhy", "Doc_Controller", "get", "documents/status"]),
            "kubewhy-doc-controller-get-documents-status"
        );
        assert!(object_name(&["kubewhy", &"x".repeat(100)]).len() <= 63);
    }
}
