//! The remedy of a denial whose near miss has a fix that changes what exists ([`FixKind`]): the edit in words (what
//! changes, what else it grants, who else it affects), the `kubectl patch` command, and the object as it will be
//! — or the object to create. A new role (`NewRole`) and a client-side group fix keep the remedy of a plain denial.

use super::{Manifest, Remedy};
use crate::describe::near_miss::{binding_text, groups_text, role_text};
use crate::near_miss::{Fix, FixKind, Rule, RuleEdit};

/// The remedy for `fix` and the object as the fix leaves it, `None` when the plain denial's remedy applies (a new
/// role, or the client's group).
pub(super) fn remedy(fix: &Fix) -> Option<(Remedy, Manifest<'_>)> {
    let (summary, mut text) = match &fix.kind {
        FixKind::EditRule {
            role,
            edit,
            binding,
            ..
        } => {
            let what = edit_text(edit);
            (
                format!("edit {}: {what}", role_text(role)),
                format!(
                    "edit {} (bound by {}): {what} — the role stays yours, in Git or a chart: change it there too",
                    role_text(role),
                    binding_text(binding)
                ),
            )
        }
        FixKind::AddSubject {
            binding, subject, ..
        } => {
            let who = match &subject.namespace {
                Some(ns) => format!("{} `{ns}/{}`", subject.kind, subject.name),
                None => format!("{} `{}`", subject.kind, subject.name),
            };
            let text = format!(
                "add {who} to the subjects of {}, which looks meant for it (the subject written there stays: it \
                 may name someone else)",
                binding_text(binding)
            );
            (format!("add {who} to {}", binding_text(binding)), text)
        }
        FixKind::CreateRole {
            role,
            binding,
            aggregated_into,
            ..
        } => match aggregated_into {
            Some(agg) => {
                let text = format!(
                    "create {} with the labels the aggregated ClusterRole `{agg}` selects and the one rule \
                     needed; the aggregation controller copies it into `{agg}` (bound by {})",
                    role_text(role),
                    binding_text(binding)
                );
                (
                    format!("create {} for `{agg}` to aggregate", role_text(role)),
                    text,
                )
            }
            None => {
                let text = format!(
                    "create {}, which {} refers to but which does not exist, with the one rule needed",
                    role_text(role),
                    binding_text(binding)
                );
                (format!("create the missing {}", role_text(role)), text)
            }
        },
        FixKind::NewBinding { role, object } => {
            let kind = object["kind"].as_str().unwrap_or("binding");
            let text = format!(
                "{} grants exactly this: bind it where the request is made, with a {kind}",
                role_text(role)
            );
            (format!("bind {} with a {kind}", role_text(role)), text)
        }
        FixKind::NewRole { .. } | FixKind::ClientGroup { .. } => return None,
    };
    if !fix.also_grants.is_empty() {
        let also: Vec<String> = fix.also_grants.iter().map(rule_text).collect();
        text.push_str(&format!("; it also grants {}", also.join("; ")));
    }
    if fix.all_namespaces {
        text.push_str(
            "; the role is bound by a ClusterRoleBinding, so the grant holds in every namespace, not only the \
             request's",
        );
    }
    match &fix.kind {
        FixKind::EditRule {
            shared_with,
            aggregated_into,
            ..
        } => {
            if !shared_with.is_empty() {
                let others: Vec<String> = shared_with.iter().map(binding_text).collect();
                text.push_str(&format!(
                    "; the edit changes what {} grant(s) too",
                    others.join(", ")
                ));
            }
            if let Some(agg) = aggregated_into {
                text.push_str(&format!(
                    "; the rule reaches the subject through the aggregated ClusterRole `{agg}`, which the \
                     aggregation controller updates"
                ));
            }
        }
        FixKind::CreateRole { .. } | FixKind::AddSubject { .. } | FixKind::NewBinding { .. } => {}
        FixKind::NewRole { .. } | FixKind::ClientGroup { .. } => {}
    }
    let mut remedy = Remedy {
        summary,
        text,
        yaml: None,
        commands: Vec::new(),
    };
    if let Some(args) = fix.kubectl_patch() {
        let words: Vec<String> = args
            .iter()
            .map(|a| crate::shell::word(a).into_owned())
            .collect();
        remedy.commands.push(format!("kubectl {}", words.join(" ")));
    }
    let manifest = fix.object().map_or(Manifest::None, Manifest::Object);
    Some((remedy, manifest))
}

/// What an edit does, in words.
pub(crate) fn edit_text(edit: &RuleEdit) -> String {
    match edit {
        RuleEdit::AddVerb { rule, verb } => format!("add `{verb}` to rule {}", rule + 1),
        RuleEdit::AddResource { rule, resource } => {
            format!("add `{resource}` to the resources of rule {}", rule + 1)
        }
        RuleEdit::ReplaceResource { rule, from, to } => {
            format!("correct `{from}` to `{to}` in rule {}", rule + 1)
        }
        RuleEdit::ReplaceApiGroup { rule, from, to } => format!(
            "change the API group of rule {} from {} to `{to}`",
            rule + 1,
            groups_text(std::slice::from_ref(from))
        ),
        RuleEdit::AddResourceName { rule, name } => {
            format!("add `{name}` to the resourceNames of rule {}", rule + 1)
        }
        RuleEdit::RemoveResourceNames { rule } => format!(
            "remove the resourceNames of rule {} (its only verb never names an object)",
            rule + 1
        ),
        RuleEdit::AddNonResourceUrl { rule, url } => {
            format!("add `{url}` to the nonResourceURLs of rule {}", rule + 1)
        }
        RuleEdit::AddRule {
            rule,
            instead_of: Some(near),
        } => format!(
            "add the rule {} (rule {} is close, but widening it would grant more than this request)",
            rule_text(rule),
            near + 1
        ),
        RuleEdit::AddRule {
            rule,
            instead_of: None,
        } => format!("add the rule {}", rule_text(rule)),
    }
}

/// A rule in one line: `` `get`, `list` on `configmaps` in `""` ``.
fn rule_text(r: &Rule) -> String {
    let verbs = r.verbs.join(", ");
    if r.non_resource_urls.is_empty() {
        let mut text = format!(
            "`{verbs}` on `{}` in {}",
            r.resources.join(", "),
            groups_text(&r.api_groups)
        );
        if !r.resource_names.is_empty() {
            text.push_str(&format!(" named `{}`", r.resource_names.join(", ")));
        }
        text
    } else {
        format!("`{verbs}` on `{}`", r.non_resource_urls.join(", "))
    }
}
