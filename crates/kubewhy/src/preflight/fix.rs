//! The fix for a report: the minimal RBAC granting exactly the permissions the access checks found missing
//! (made by [`crate::rbac::generate`], the one RBAC generator), the commands that install missing CRDs, and the
//! corrections a needs file needs — as one stream for `kubectl apply -f -` (everything but the RBAC is a
//! `#` comment in it).

use serde::Serialize;

use super::served::Served;
use super::{Options, Outcome, Report};
use crate::diagnosis::{Class, Diagnosis};
use crate::needs::Needs;
use crate::rbac::{self, Permission, RbacObject, Subject};

/// What grants or installs everything the checks found missing.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Fix {
    /// Who the RBAC grants to.
    pub subject: Option<Subject>,
    /// The missing permissions.
    pub permissions: Vec<Permission>,
    /// The name of the generated roles and bindings: `<program>-fix-<hash of the permissions>`, so a fix never
    /// overwrites the program's own roles nor an earlier fix for other permissions.
    pub name: Option<String>,
    /// The RBAC manifests granting exactly `permissions` (YAML for `kubectl apply -f -`).
    pub rbac: Option<String>,
    /// Changes of the RBAC objects that exist, chosen by the near misses ([`crate::rbac::NearMisses`]): one per
    /// object, its edits merged; the permissions they grant are not in `permissions`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// Commands to run first (CRD installs).
    pub commands: Vec<String>,
    /// Corrections to the needs file.
    pub edits: Vec<String>,
    /// What the fix cannot do (e.g. the subject is unknown).
    pub notes: Vec<String>,
}

/// One RBAC object the fix changes or creates instead of a new role.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Change {
    /// What changes, one remedy summary per denial it fixes (`edit ClusterRole `x`: add `watch` to rule 1`).
    pub what: Vec<String>,
    /// The permissions it grants that were missing.
    pub permissions: Vec<Permission>,
    /// The object after the change (YAML for `kubectl apply -f -`).
    pub yaml: String,
}

impl Fix {
    /// Whether there is nothing to apply, run or edit.
    pub fn is_empty(&self) -> bool {
        self.rbac.is_none()
            && self.changes.is_empty()
            && self.commands.is_empty()
            && self.edits.is_empty()
    }

    /// The fix as one YAML stream for `kubectl apply -f -`: commands and edits as `#` comments first, then the
    /// RBAC.
    pub fn to_apply_stream(&self) -> String {
        let mut out = String::new();
        if self.is_empty() {
            out.push_str("# kubewhy: nothing to apply\n");
            for n in &self.notes {
                out.push_str(&format!("# {n}\n"));
            }
            return out;
        }
        if !self.commands.is_empty() {
            out.push_str("# first, install what is missing:\n");
            for c in &self.commands {
                out.push_str(&format!("#   {c}\n"));
            }
        }
        if !self.edits.is_empty() {
            out.push_str("# correct the needs file, then check again:\n");
            for e in &self.edits {
                out.push_str(&format!("#   {e}\n"));
            }
        }
        for n in &self.notes {
            out.push_str(&format!("# {n}\n"));
        }
        for change in &self.changes {
            if !out.is_empty() {
                out.push_str("---\n");
            }
            for what in &change.what {
                out.push_str(&format!("# {what}\n"));
            }
            out.push_str(&change.yaml);
        }
        if let (Some(yaml), Some(subject)) = (&self.rbac, &self.subject) {
            if !self.changes.is_empty() {
                out.push_str("---\n");
            }
            out.push_str(&format!(
                "# grants {subject} the {} missing permission(s), nothing more:\n",
                self.permissions.len()
            ));
            out.push_str(yaml);
        }
        out
    }
}

/// The generated objects' name for a set of permissions: a short suffix that is the same in every run, build and
/// Rust version — FNV-1a ([`crate::hash`]) over the permissions' JSON (their public, stable form), folded to 32 bits.
fn fix_name(program: &str, permissions: &[Permission]) -> String {
    // Permissions are plain strings, enums and sets: their JSON cannot fail to encode.
    let key = serde_json::to_vec(permissions).unwrap_or_default();
    let h = crate::hash::fnv1a64(&key);
    format!("{program}-fix-{:08x}", (h ^ (h >> 32)) as u32)
}

/// Merges the near misses' fixes of the failed checks into one change per object.
fn changes(report: &Report) -> Vec<Change> {
    let failed: Vec<(&Diagnosis, &Permission)> = report
        .checks
        .iter()
        .filter(|c| c.outcome == Outcome::Fail)
        .filter_map(|c| Some((c.diagnosis.as_ref()?, c.permission.as_ref()?)))
        .collect();
    crate::remedy::rbac::object_changes(failed.iter().map(|(d, _)| *d))
        .into_iter()
        .map(|o| Change {
            what: o.what,
            permissions: o.of.iter().map(|&i| failed[i].1.clone()).collect(),
            yaml: o.yaml,
        })
        .collect()
}

pub(super) fn build(needs: &Needs, report: &Report, served: &Served, options: &Options) -> Fix {
    let mut fix = Fix {
        changes: changes(report),
        ..Fix::default()
    };
    let changed: Vec<&Permission> = fix.changes.iter().flat_map(|c| &c.permissions).collect();
    let mut permissions: Vec<Permission> = report
        .checks
        .iter()
        .filter(|c| c.outcome == Outcome::Fail)
        .filter(|c| c.diagnosis.as_ref().map(|d| d.class) == Some(Class::Forbidden))
        .filter_map(|c| c.permission.clone())
        .filter(|p| !changed.contains(&p))
        .collect();
    permissions.sort();
    permissions.dedup();
    for crd in &served.missing_crds {
        let command = options.crd_install.clone().unwrap_or_else(|| {
            format!("kubectl apply -f <the manifest of CustomResourceDefinition {crd}>")
        });
        if !fix.commands.contains(&command) {
            fix.commands.push(command);
        }
    }
    fix.edits = served.edits.clone();
    if !permissions.is_empty() {
        match &report.subject {
            Some(subject) if !subject.user.is_empty() => {
                let subject = Subject::from_username(&subject.user);
                let name = fix_name(&needs.name, &permissions);
                let objects: Vec<RbacObject> = rbac::generate(&name, &subject, &permissions);
                match rbac::to_yaml(&objects) {
                    Ok(yaml) => {
                        fix.rbac = Some(yaml);
                        fix.name = Some(name);
                    }
                    Err(e) => fix.notes.push(format!("writing the RBAC as YAML failed: {e}")),
                }
                fix.subject = Some(subject);
            }
            _ => fix.notes.push(
                "who is to be granted is unknown (SelfSubjectReview failed): check again as a named identity to \
                 get the RBAC"
                    .into(),
            ),
        }
    }
    if fix.subject.is_none()
        && !fix.changes.is_empty()
        && let Some(subject) = report.subject.as_ref().filter(|s| !s.user.is_empty())
    {
        fix.subject = Some(Subject::from_username(&subject.user));
    }
    fix.permissions = permissions;
    fix
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbac::Verb;

    #[test]
    fn fix_names_are_stable_and_differ_by_permissions() {
        let a = vec![Permission::resource(
            "kube.rs",
            "documents",
            Verb::Watch,
            None,
        )];
        let b = vec![Permission::resource(
            "kube.rs",
            "documents",
            Verb::List,
            None,
        )];
        assert_eq!(fix_name("ctl", &a), fix_name("ctl", &a));
        assert_ne!(fix_name("ctl", &a), fix_name("ctl", &b));
        // The name is shipped (the objects `--fix` prints): pinned, so a change of encoding is seen.
        assert_eq!(fix_name("ctl", &a), "ctl-fix-74090ebf");
    }
}
