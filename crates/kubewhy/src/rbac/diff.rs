//! Granted versus needed: the rules an identity holds against the permissions a program needs — what is missing,
//! what is granted but never needed (extra verbs and resources, wildcards, cluster scope where namespaces would do,
//! Secrets, escalate/bind/impersonate, non-resource URLs), and a score: granted permissions used ÷ granted.
//!
//! Pure: the granted rules come from the RBAC objects ([`granted_rules`]) or from SelfSubjectRulesReviews
//! ([`super::fetch::reviewed_rules`]); the needs from [`crate::needs::Needs::permissions`]. Each rule counts as
//! the permissions it spells out (`verbs × apiGroups × resources`, a wildcard being one), so a score of 100 % means
//! every one of them serves a need.

use std::collections::BTreeSet;

use k8s_openapi::api::rbac::v1::PolicyRule;
use serde::{Deserialize, Serialize};

use super::eval::{AccessRequest, Identity, WILDCARD, list, subject_applies};
use super::objects::{BindingRef, RbacObjects, RoleKey, is_kubernetes_default};
use super::{Permission, Target};
use crate::cause::{Cause, Denial, Scope};
use crate::diagnosis::{Diagnosis, Request};

/// Verbs that let their holder grant itself more.
pub const PRIVILEGED_VERBS: [&str; 3] = ["escalate", "bind", "impersonate"];

/// One rule an identity holds, where it applies, and where it comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrantedRule {
    /// `None`: everywhere (a ClusterRoleBinding); `Some(ns)`: in that namespace only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The rule.
    pub rule: PolicyRule,
    /// The binding and role it comes from (known when read from the RBAC objects, not from a rules review).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<RuleSource>,
}

/// Where a granted rule comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSource {
    /// The binding that names the identity.
    pub binding: BindingRef,
    /// The role it refers to.
    pub role: RoleKey,
    /// The rule's position in the role.
    pub index: usize,
}

/// Granted against needed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RbacDiff {
    /// Needed and not granted.
    pub missing: Vec<Permission>,
    /// Granted rules with permissions no need uses, and what is wrong with each.
    pub excess: Vec<Excess>,
    /// Granted permissions (a rule's `verbs × apiGroups × resources`, or `verbs × nonResourceURLs`) some need uses.
    pub used: usize,
    /// Granted permissions.
    pub granted: usize,
}

/// A granted rule that grants more than the needs use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Excess {
    /// The rule.
    pub rule: GrantedRule,
    /// What it grants that no need uses, most serious first.
    pub findings: Vec<Finding>,
}

/// What a rule grants beyond the needs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Finding {
    /// escalate, bind or impersonate (or `*` verbs), which no need uses.
    Privileged {
        /// The verbs.
        verbs: Vec<String>,
    },
    /// Access to Secrets no need uses.
    Secrets {
        /// The verbs on them.
        verbs: Vec<String>,
    },
    /// A wildcard.
    Wildcard {
        /// Which list holds it (`verbs`, `apiGroups`, `resources`, `nonResourceURLs`).
        field: String,
    },
    /// Granted in every namespace while every need it serves is in one namespace.
    ClusterScope {
        /// The namespaces the needs are in.
        needed_in: Vec<String>,
    },
    /// No need uses the rule at all.
    Unused,
    /// Verbs no need uses.
    ExtraVerbs {
        /// The verbs.
        verbs: Vec<String>,
    },
    /// Resources (`resource` or `group/resource`) no need uses.
    ExtraResources {
        /// The resources.
        resources: Vec<String>,
    },
    /// Non-resource URLs (needs never name any).
    NonResourceUrls {
        /// The URLs.
        urls: Vec<String>,
    },
}

impl RbacDiff {
    /// Used ÷ granted, between 0 and 1; with nothing granted, 1 when nothing is needed either, else 0.
    pub fn score(&self) -> f64 {
        if self.granted == 0 {
            if self.missing.is_empty() { 1.0 } else { 0.0 }
        } else {
            self.used as f64 / self.granted as f64
        }
    }
}

/// The rules the RBAC objects grant `identity`: every binding that names it (by name, ServiceAccount or group) and
/// the rules of its role, except Kubernetes' default bindings, whose grants every user has.
pub fn granted_rules(identity: &Identity, rbac: &RbacObjects) -> Vec<GrantedRule> {
    let defaults: BTreeSet<(&str, &str)> = rbac
        .cluster_role_bindings
        .iter()
        .filter(|b| is_kubernetes_default(b.metadata.labels.as_ref()))
        .map(|b| ("", b.metadata.name.as_deref().unwrap_or("")))
        .chain(
            rbac.role_bindings
                .iter()
                .filter(|b| is_kubernetes_default(b.metadata.labels.as_ref()))
                .map(|b| {
                    (
                        b.metadata.namespace.as_deref().unwrap_or(""),
                        b.metadata.name.as_deref().unwrap_or(""),
                    )
                }),
        )
        .collect();
    let mut out = Vec::new();
    for binding in rbac.bindings() {
        if defaults.contains(&(binding.namespace, binding.name))
            || !binding
                .subjects
                .iter()
                .any(|s| subject_applies(identity, s, binding.namespace))
        {
            continue;
        }
        let Some(role) = binding.role_key() else {
            continue;
        };
        for (index, rule) in rbac.rules_of(&role).unwrap_or(&[]).iter().enumerate() {
            out.push(GrantedRule {
                namespace: (!binding.namespace.is_empty()).then(|| binding.namespace.to_string()),
                rule: rule.clone(),
                source: Some(RuleSource {
                    binding: binding.reference(),
                    role: role.clone(),
                    index,
                }),
            });
        }
    }
    out
}

/// The request a needed permission stands for (its namespace, when it has one).
fn request_of(p: &Permission) -> AccessRequest {
    match &p.target {
        Target::Resource {
            group,
            resource,
            names,
        } => {
            let (resource, sub) = match resource.split_once('/') {
                Some((r, s)) => (r, Some(s)),
                None => (resource.as_str(), None),
            };
            let mut r = AccessRequest::resource(p.verb.as_str(), group, resource);
            if let Some(sub) = sub {
                r = r.subresource(sub);
            }
            if let Some(ns) = &p.namespace {
                r = r.in_namespace(ns);
            }
            if let Some(name) = names.iter().next() {
                r = r.named(name);
            }
            r
        }
        Target::NonResource { path } => AccessRequest::non_resource(p.verb.as_str(), path),
    }
}

/// Whether a rule granted where `granted` says applies to a need in `needed` (`None`: all namespaces or cluster).
fn scope_covers(granted: &Option<String>, needed: &Option<String>) -> bool {
    granted.is_none() || granted == needed
}

/// One permission a rule spells out.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Atom {
    verb: String,
    group: String,
    resource: String,
    url: bool,
}

fn atoms(rule: &PolicyRule) -> Vec<(Atom, PolicyRule)> {
    let mut out = Vec::new();
    for verb in &rule.verbs {
        for url in list(&rule.non_resource_urls) {
            let narrow = PolicyRule {
                non_resource_urls: Some(vec![url.clone()]),
                verbs: vec![verb.clone()],
                ..PolicyRule::default()
            };
            out.push((
                Atom {
                    verb: verb.clone(),
                    group: String::new(),
                    resource: url.clone(),
                    url: true,
                },
                narrow,
            ));
        }
        for group in list(&rule.api_groups) {
            for resource in list(&rule.resources) {
                let narrow = PolicyRule {
                    api_groups: Some(vec![group.clone()]),
                    resources: Some(vec![resource.clone()]),
                    resource_names: None,
                    verbs: vec![verb.clone()],
                    non_resource_urls: None,
                };
                out.push((
                    Atom {
                        verb: verb.clone(),
                        group: group.clone(),
                        resource: resource.clone(),
                        url: false,
                    },
                    narrow,
                ));
            }
        }
    }
    out
}

/// Compares what is granted with what is needed.
pub fn diff(needed: &[Permission], granted: &[GrantedRule]) -> RbacDiff {
    let requests: Vec<(AccessRequest, &Option<String>)> = needed
        .iter()
        .map(|p| (request_of(p), &p.namespace))
        .collect();
    let missing = needed
        .iter()
        .zip(&requests)
        .filter(|(_, (request, ns))| {
            !granted
                .iter()
                .any(|g| scope_covers(&g.namespace, ns) && request.allowed_by(&g.rule))
        })
        .map(|(p, _)| p.clone())
        .collect();
    let mut used = 0;
    let mut total = 0;
    let mut excess = Vec::new();
    for g in granted {
        let spelled = atoms(&g.rule);
        total += spelled.len();
        // For each permission the rule spells out: the needs it serves (ignoring resourceNames: a named grant
        // serves a need on that type).
        let serving: Vec<(Atom, Vec<usize>)> = spelled
            .into_iter()
            .map(|(atom, narrow)| {
                let serves = requests
                    .iter()
                    .enumerate()
                    .filter(|(_, (r, ns))| scope_covers(&g.namespace, ns) && r.allowed_by(&narrow))
                    .map(|(i, _)| i)
                    .collect();
                (atom, serves)
            })
            .collect();
        let used_here = serving.iter().filter(|(_, s)| !s.is_empty()).count();
        used += used_here;
        let findings = findings(g, &serving, needed, used_here);
        if !findings.is_empty() {
            excess.push(Excess {
                rule: g.clone(),
                findings,
            });
        }
    }
    RbacDiff {
        missing,
        excess,
        used,
        granted: total,
    }
}

fn findings(
    g: &GrantedRule,
    serving: &[(Atom, Vec<usize>)],
    needed: &[Permission],
    used: usize,
) -> Vec<Finding> {
    let mut out = BTreeSet::new();
    let unused: Vec<&Atom> = serving
        .iter()
        .filter(|(_, s)| s.is_empty())
        .map(|(a, _)| a)
        .collect();
    let rule = &g.rule;
    for (field, values) in [
        ("verbs", &rule.verbs[..]),
        ("apiGroups", list(&rule.api_groups)),
        ("resources", list(&rule.resources)),
        ("nonResourceURLs", list(&rule.non_resource_urls)),
    ] {
        if values.iter().any(|v| v == WILDCARD) {
            out.insert(Finding::Wildcard {
                field: field.to_string(),
            });
        }
    }
    let sorted = |it: &mut dyn Iterator<Item = String>| -> Vec<String> {
        it.collect::<BTreeSet<_>>().into_iter().collect()
    };
    // Privileged verbs and Secrets count when no need they serve is privileged or on Secrets: a wildcard that
    // serves other needs still hands them out.
    let serves_any = |served: &[usize], test: &dyn Fn(&Permission) -> bool| {
        served.iter().any(|i| test(&needed[*i]))
    };
    let privileged = sorted(
        &mut serving
            .iter()
            .filter(|(a, served)| {
                !a.url
                    && (PRIVILEGED_VERBS.contains(&a.verb.as_str()) || a.verb == WILDCARD)
                    && !serves_any(served, &|p| PRIVILEGED_VERBS.contains(&p.verb.as_str()))
            })
            .map(|(a, _)| a.verb.clone()),
    );
    if !privileged.is_empty() {
        out.insert(Finding::Privileged { verbs: privileged });
    }
    let on_secrets = |p: &Permission| matches!(&p.target, Target::Resource { group, resource, .. } if group.is_empty() && resource == "secrets");
    let secrets = sorted(
        &mut serving
            .iter()
            .filter(|(a, served)| {
                !a.url
                    && (a.group.is_empty() || a.group == WILDCARD)
                    && (a.resource == "secrets" || a.resource == WILDCARD)
                    && !serves_any(served, &on_secrets)
            })
            .map(|(a, _)| a.verb.clone()),
    );
    if !secrets.is_empty() {
        out.insert(Finding::Secrets { verbs: secrets });
    }
    let urls = sorted(&mut unused.iter().filter(|a| a.url).map(|a| a.resource.clone()));
    if !urls.is_empty() {
        out.insert(Finding::NonResourceUrls { urls });
    }
    if used == 0 {
        if urls_only(rule) {
            return out.into_iter().collect();
        }
        out.insert(Finding::Unused);
        return out.into_iter().collect();
    }
    let unserved_everywhere = |pick: fn(&Atom) -> String| -> Vec<String> {
        let values: BTreeSet<String> = serving
            .iter()
            .filter(|(a, _)| !a.url)
            .map(|(a, _)| pick(a))
            .collect();
        values
            .into_iter()
            .filter(|v| {
                serving
                    .iter()
                    .filter(|(a, _)| !a.url && pick(a) == *v)
                    .all(|(_, s)| s.is_empty())
            })
            .collect()
    };
    let verbs = unserved_everywhere(|a| a.verb.clone());
    if !verbs.is_empty() {
        out.insert(Finding::ExtraVerbs { verbs });
    }
    let resources = unserved_everywhere(|a| {
        if a.group.is_empty() {
            a.resource.clone()
        } else {
            format!("{}/{}", a.group, a.resource)
        }
    });
    if !resources.is_empty() {
        out.insert(Finding::ExtraResources { resources });
    }
    if g.namespace.is_none() {
        let needed_in: BTreeSet<&Option<String>> = serving
            .iter()
            .flat_map(|(_, s)| s.iter().map(|i| &needed[*i].namespace))
            .collect();
        if !needed_in.is_empty() && needed_in.iter().all(|ns| ns.is_some()) {
            out.insert(Finding::ClusterScope {
                needed_in: needed_in.into_iter().flatten().cloned().collect(),
            });
        }
    }
    out.into_iter().collect()
}

fn urls_only(rule: &PolicyRule) -> bool {
    list(&rule.resources).is_empty() && !list(&rule.non_resource_urls).is_empty()
}

/// Where the granted rules were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// The RBAC objects (the caller may list them): each rule with its binding and role.
    Objects,
    /// SelfSubjectRulesReviews made as the identity (by impersonation, or as itself): rules without their source.
    Reviews,
}

/// Granted against needed for one program and one identity: what `kubewhy rbac diff` and `doc-controller doctor
/// --rbac-diff` show ([`crate::render::rbac_diff`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DiffReport {
    /// The program whose needs were compared.
    pub program: String,
    /// The API server.
    pub server: String,
    /// Whose grants.
    pub identity: Identity,
    /// Where the granted rules were read.
    pub source: Source,
    /// Why the RBAC objects could not be used (then the rules reviews were), in one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects_unreadable: Option<String>,
    /// What an incomplete rules review said it could not list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incomplete: Vec<String>,
    /// The needed permissions, in order.
    pub needed: Vec<Permission>,
    /// The comparison.
    pub diff: RbacDiff,
    /// Used ÷ granted (0 to 1).
    pub score: f64,
}

impl DiffReport {
    /// The missing permissions as the denials they would be, the verbs on one target shown as one.
    pub fn missing_diagnoses(&self) -> Vec<Diagnosis> {
        let denials = self
            .diff
            .missing
            .iter()
            .map(|m| self.denial_of(m))
            .collect();
        crate::merge::merged(denials, |_| true)
    }

    /// The denial permission `p` is (or would be) for the identity, worded by the one table.
    pub fn denial_of(&self, p: &Permission) -> Diagnosis {
        let mut request = Request {
            verb: Some(p.verb.to_string()),
            namespace: p.namespace.clone(),
            ..Request::default()
        };
        match &p.target {
            Target::Resource {
                group, resource, ..
            } => {
                let (resource, sub) = match resource.split_once('/') {
                    Some((r, s)) => (r.to_string(), Some(s.to_string())),
                    None => (resource.clone(), None),
                };
                request.group = Some(group.clone());
                request.resource = Some(resource);
                request.subresource = sub;
            }
            Target::NonResource { path } => request.path = Some(path.clone()),
        }
        let scope = match (&p.namespace, &p.target) {
            (Some(_), _) => Scope::Namespace,
            (None, Target::NonResource { .. }) => Scope::Cluster,
            (None, Target::Resource { .. }) => Scope::AllNamespaces,
        };
        let mut d = Diagnosis::new(
            Cause::Denied(Denial {
                scope,
                ..Denial::default()
            }),
            format!("needed by `{}`, not granted", self.program),
        );
        d.user = Some(self.identity.user.clone());
        d.groups = self.identity.groups.clone();
        d.request = request;
        d
    }

    /// 0: nothing missing (and, with `fail_on_excess`, nothing in excess); 1 otherwise.
    pub fn exit_code(&self, fail_on_excess: bool) -> u8 {
        u8::from(!self.diff.missing.is_empty() || (fail_on_excess && !self.diff.excess.is_empty()))
    }
}

/// Comparing could not be done.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// The client configuration could not be turned into a client.
    #[error("building a Kubernetes client from the configuration failed")]
    Client(#[source] kube::Error),
    /// Who the caller is could not be asked (SelfSubjectReview), and no identity was named.
    #[error(
        "asking the API server who you are failed (SelfSubjectReview), and no identity was named"
    )]
    Whoami(#[source] kube::Error),
    /// Reading the RBAC objects failed for another reason than a refusal.
    #[error("reading the RBAC objects failed")]
    Fetch(#[source] super::FetchError),
    /// The RBAC objects may not be read, and the identity's rules could not be reviewed either.
    #[error(
        "the RBAC objects may not be read, and the rules of `{user}` could not be reviewed as it (impersonating it \
         needs `impersonate` on users, groups or serviceaccounts)"
    )]
    Review {
        /// The identity.
        user: String,
        /// The review's failure.
        #[source]
        source: super::fetch::ReviewError,
    },
}

/// Compares what `identity` (default: the caller) is granted on the cluster of `config` with what `program` needs
/// (`needed`: [`crate::needs::Needs::permissions`]): from the
/// RBAC objects when the caller may list them, else from SelfSubjectRulesReviews made as the identity (by
/// impersonation when it is not the caller), Kubernetes' defaults for its groups left out.
///
/// # Errors
/// [`DiffError`] when no client can be built, the caller is unknown, or neither source can be read.
pub async fn check(
    config: &kube::Config,
    program: &str,
    needed: Vec<Permission>,
    identity: Option<Identity>,
) -> Result<DiffReport, DiffError> {
    let caller = kube::Client::try_from(config.clone()).map_err(DiffError::Client)?;
    let (identity, is_caller) = match identity {
        Some(who) => (who, false),
        None => {
            let who = crate::review::whoami(&caller)
                .await
                .map_err(DiffError::Whoami)?;
            (Identity::new(who.user, who.groups), true)
        }
    };
    let mut report = DiffReport {
        program: program.to_string(),
        server: config.cluster_url.to_string(),
        identity: identity.clone(),
        source: Source::Objects,
        objects_unreadable: None,
        incomplete: Vec::new(),
        needed: needed.clone(),
        diff: diff(&needed, &[]),
        score: 1.0,
    };
    let granted = match super::fetch(&caller).await {
        Ok(objects) => granted_rules(&identity, &objects),
        Err(e @ super::FetchError::NotPermitted { .. }) => {
            report.objects_unreadable = Some(crate::chain::one_line(&e));
            report.source = Source::Reviews;
            let as_identity = |user: &str, groups: &[String]| -> Result<kube::Client, DiffError> {
                let mut cfg = config.clone();
                cfg.auth_info.impersonate = Some(user.to_string());
                cfg.auth_info.impersonate_groups = Some(groups.to_vec());
                kube::Client::try_from(cfg).map_err(DiffError::Client)
            };
            let client = if is_caller {
                caller.clone()
            } else {
                as_identity(&identity.user, &identity.groups)?
            };
            // A user with the identity's groups that every identity has, and no bindings of its own.
            let broad: Vec<String> = identity
                .groups
                .iter()
                .filter(|g| super::advisor::BROAD_GROUPS.contains(&g.as_str()))
                .cloned()
                .collect();
            let baseline = as_identity("kubewhy:no-bindings", &broad)?;
            let mut namespaces: Vec<String> =
                needed.iter().filter_map(|p| p.namespace.clone()).collect();
            namespaces.sort();
            namespaces.dedup();
            let reviewed = match super::reviewed_rules(&client, &namespaces, Some(&baseline)).await
            {
                Ok(reviewed) => reviewed,
                Err(with_baseline) => {
                    // The identity's own reviews may work when impersonating the bare user does not.
                    let mut reviewed = super::reviewed_rules(&client, &namespaces, None)
                        .await
                        .map_err(|source| DiffError::Review {
                            user: identity.user.clone(),
                            source,
                        })?;
                    reviewed.incomplete.push(format!(
                        "Kubernetes' defaults for every user could not be told apart ({}): they count as granted",
                        crate::chain::one_line(&with_baseline)
                    ));
                    reviewed
                }
            };
            report.incomplete = reviewed.incomplete;
            reviewed.rules
        }
        Err(e) => return Err(DiffError::Fetch(e)),
    };
    report.diff = diff(&needed, &granted);
    report.score = report.diff.score();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbac::Verb;
    use crate::rbac::eval::tests::rule;

    fn granted(namespace: Option<&str>, rule: PolicyRule) -> GrantedRule {
        GrantedRule {
            namespace: namespace.map(str::to_string),
            rule,
            source: None,
        }
    }

    fn needs() -> Vec<Permission> {
        vec![
            Permission::resource("kube.rs", "documents", Verb::List, None),
            Permission::resource("kube.rs", "documents", Verb::Watch, None),
            Permission::resource("kube.rs", "documents/status", Verb::Patch, None),
            Permission::resource("coordination.k8s.io", "leases", Verb::Get, Some("ctl")),
        ]
    }

    #[test]
    fn exact_grants_score_one_hundred_percent() {
        let rules = vec![
            granted(None, rule(&["kube.rs"], &["documents"], &["list", "watch"])),
            granted(None, rule(&["kube.rs"], &["documents/status"], &["patch"])),
            granted(
                Some("ctl"),
                rule(&["coordination.k8s.io"], &["leases"], &["get"]),
            ),
        ];
        let d = diff(&needs(), &rules);
        assert!(d.missing.is_empty() && d.excess.is_empty(), "{d:#?}");
        assert_eq!((d.used, d.granted, d.score()), (4, 4, 1.0));
    }

    #[test]
    fn missing_and_every_kind_of_excess() {
        let rules = vec![
            granted(
                None,
                rule(&["kube.rs"], &["documents"], &["list", "watch", "delete"]),
            ),
            granted(None, rule(&["*"], &["*"], &["*"])),
            granted(None, rule(&["coordination.k8s.io"], &["leases"], &["get"])),
            granted(Some("other"), rule(&[""], &["secrets"], &["get", "list"])),
            granted(
                None,
                rule(
                    &["rbac.authorization.k8s.io"],
                    &["roles"],
                    &["escalate", "bind"],
                ),
            ),
            granted(
                None,
                PolicyRule {
                    non_resource_urls: Some(vec!["/metrics".into()]),
                    verbs: vec!["get".into()],
                    ..PolicyRule::default()
                },
            ),
        ];
        let mut needed = needs();
        needed.push(Permission::resource(
            "",
            "configmaps",
            Verb::Create,
            Some("ctl"),
        ));
        let d = diff(&needed, &rules[..1]);
        assert_eq!(
            d.missing.len(),
            3,
            "status, leases and configmaps are missing: {d:#?}"
        );
        let d = diff(&needed, &rules);
        assert!(
            d.missing.is_empty(),
            "the wildcard covers everything: {d:#?}"
        );
        let findings = |i: usize| {
            d.excess
                .iter()
                .find(|e| e.rule == rules[i])
                .map(|e| e.findings.clone())
                .unwrap_or_default()
        };
        assert_eq!(
            findings(0),
            [Finding::ExtraVerbs {
                verbs: vec!["delete".into()]
            }]
        );
        let wildcard = findings(1);
        assert!(
            wildcard.contains(&Finding::Wildcard {
                field: "verbs".into()
            }),
            "{wildcard:?}"
        );
        assert!(
            wildcard.contains(&Finding::Privileged {
                verbs: vec!["*".into()]
            }),
            "{wildcard:?}"
        );
        assert!(
            wildcard.contains(&Finding::Secrets {
                verbs: vec!["*".into()]
            }),
            "{wildcard:?}"
        );
        assert_eq!(
            findings(2),
            [Finding::ClusterScope {
                needed_in: vec!["ctl".into()]
            }]
        );
        assert_eq!(
            findings(3),
            [
                Finding::Secrets {
                    verbs: vec!["get".into(), "list".into()]
                },
                Finding::Unused
            ]
        );
        assert_eq!(
            findings(4),
            [
                Finding::Privileged {
                    verbs: vec!["bind".into(), "escalate".into()]
                },
                Finding::Unused
            ]
        );
        assert_eq!(
            findings(5),
            [Finding::NonResourceUrls {
                urls: vec!["/metrics".into()]
            }]
        );
        assert!(d.score() < 0.5, "{}", d.score());
    }

    #[test]
    fn granted_rules_from_the_objects_leave_out_kubernetes_defaults() {
        let rbac = RbacObjects::from_yaml(
            "kind: ClusterRole\nmetadata: {name: c}\nrules: [{apiGroups: [''], resources: [pods], verbs: [get]}]\n---\n\
             kind: ClusterRoleBinding\nmetadata: {name: c}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: c}\n\
             subjects: [{kind: ServiceAccount, name: ctl, namespace: ctl}]\n---\n\
             kind: ClusterRoleBinding\nmetadata: {name: 'system:basic-user', labels: {kubernetes.io/bootstrapping: rbac-defaults}}\n\
             roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: c}\nsubjects: [{kind: Group, name: 'system:authenticated'}]\n---\n\
             kind: RoleBinding\nmetadata: {name: r, namespace: ctl}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: c}\n\
             subjects: [{kind: Group, name: 'system:serviceaccounts:ctl'}]\n",
        )
        .unwrap();
        let who = Identity::new(
            "system:serviceaccount:ctl:ctl",
            [
                "system:serviceaccounts",
                "system:serviceaccounts:ctl",
                "system:authenticated",
            ],
        );
        let rules = granted_rules(&who, &rbac);
        let sources: Vec<(Option<&str>, &str)> = rules
            .iter()
            .map(|g| {
                (
                    g.namespace.as_deref(),
                    g.source.as_ref().unwrap().binding.name.as_str(),
                )
            })
            .collect();
        assert_eq!(sources, [(None, "c"), (Some("ctl"), "r")]);
    }
}
