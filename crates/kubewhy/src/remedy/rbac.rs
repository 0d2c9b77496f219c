//! The RBAC remedy for a `forbidden` diagnosis: the one permission that was denied, for the subject that was
//! denied, turned into manifests by [`crate::rbac::generate`] — alone, or merged with every other denial of the
//! same subject into one role (what `kubewhy explain --fix` prints).

use std::collections::BTreeMap;

use crate::classify::{builtin_group, is_wrong_core_group};
use crate::diagnosis::{Class, Diagnosis};
use crate::rbac::{self, Permission, Subject, Verb};
use crate::read::message;

/// One denied permission and who needs it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    /// Who was denied.
    pub subject: Subject,
    /// What was denied.
    pub permission: Permission,
}

/// The grant that fixes a `forbidden` diagnosis, when RBAC is the fix: `None` for other classes, for
/// escalation-prevention denials, when the subject or verb is unknown, and when the client asked for a non-core
/// resource in the core group (the fix is the client's group) unless the resource's real group is well known.
pub fn grant(d: &Diagnosis) -> Option<Grant> {
    if d.class != Class::Forbidden {
        return None;
    }
    if message::is_escalation(&d.message) {
        return None;
    }
    let user = d.user.as_deref()?;
    let verb: Verb = d.request.verb.as_deref()?.parse().ok()?;
    let subject = Subject::from_username(user);
    let r = &d.request;
    if let Some(path) = &r.path {
        return Some(Grant {
            subject,
            permission: Permission::non_resource(path, verb),
        });
    }
    let resource = r.resource.as_deref()?;
    let group = if is_wrong_core_group(r) {
        builtin_group(resource)?
    } else {
        r.group.as_deref()?
    };
    let resource = match &r.subresource {
        Some(sub) => format!("{resource}/{sub}"),
        None => resource.to_string(),
    };
    Some(Grant {
        subject,
        permission: Permission::resource(group, &resource, verb, r.namespace.as_deref()),
    })
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

/// The manifests for one grant alone, named after the subject, verb and resource.
pub fn single_yaml(g: &Grant) -> Result<String, serde_yaml::Error> {
    let what = match &g.permission.target {
        rbac::Target::Resource { resource, .. } => resource.replace('/', "-"),
        rbac::Target::NonResource { path } => path.trim_matches('/').replace('/', "-"),
    };
    let name = object_name(&[
        "kubewhy",
        subject_name(&g.subject),
        g.permission.verb.as_str(),
        &what,
    ]);
    rbac::to_yaml(&rbac::generate(
        &name,
        &g.subject,
        std::slice::from_ref(&g.permission),
    ))
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
