//! The RBAC near-miss model: who asked for what ([`Identity`], [`AccessRequest`]), the bindings that name the
//! identity and why each does not grant the request ([`Explanation`]), and the smallest change that would
//! ([`Fix`]) — plain data, comparable and hashable, which a denial's cause carries
//! ([`crate::cause::Denial::near_miss`]). [`crate::rbac::advisor`] and [`crate::rbac::fix`](mod@crate::rbac::fix) compute it from the
//! RBAC objects; [`crate::describe`] words it; [`crate::remedy`] turns the fix into commands and manifests.
//!
//! Nothing here depends on the rest of the crate, so the model (`cause`) can hold it without an import cycle.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A near miss: the explanation of a denied request and the fix chosen for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NearMiss {
    /// Why each binding that names the identity does not grant the request.
    pub explanation: Explanation,
    /// The smallest fix (`None` when RBAC already grants the request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<Fix>,
}

/// A near miss hashes as nothing: it is context a live check adds to a cause, never what tells two causes apart
/// (`Cause::without_text` drops it), and equal near misses still hash equal, as `Hash` asks. Hashing the whole
/// model put its hash code into every program that keys causes (the log's one line per cause), ~17 KB of it.
impl std::hash::Hash for NearMiss {
    fn hash<H: std::hash::Hasher>(&self, _state: &mut H) {}
}

/// Who makes a request, as the authenticator reports it: the user name and the groups.
///
/// Impersonation and `kubectl auth can-i --as` add groups the caller may not expect (a ServiceAccount gets
/// `system:serviceaccounts`, `system:serviceaccounts:<namespace>` and `system:authenticated`): give the groups
/// the API server really sees (a SelfSubjectReview, or the denial's message).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Identity {
    /// The user name (`alice`, `system:serviceaccount:<namespace>:<name>`).
    pub user: String,
    /// The groups.
    #[serde(default)]
    pub groups: Vec<String>,
}

/// What a request asks of the authorizer: a verb on a resource (maybe a subresource, a namespace, an object name)
/// or on a non-resource URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AccessRequest {
    /// The verb (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`, or any other
    /// verb a rule may name: `escalate`, `bind`, `impersonate`, `use`, ...).
    pub verb: String,
    /// What it is on.
    pub target: AccessTarget,
}

/// The object of an [`AccessRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum AccessTarget {
    /// A resource of an API group.
    #[serde(rename_all = "camelCase")]
    Resource {
        /// The API group, `""` for core.
        group: String,
        /// The plural resource name.
        resource: String,
        /// The subresource (`status`, `scale`, ...).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        subresource: Option<String>,
        /// The namespace; `None` for a cluster-scoped resource or a request across all namespaces.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
        /// The object name; `None` for list, watch, create and deletecollection.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// A non-resource URL such as `/metrics` or `/healthz` (always cluster-wide).
    NonResource {
        /// The URL path.
        path: String,
    },
}

/// A policy rule as plain data: k8s-openapi's `PolicyRule` with lists instead of optional lists (absent and empty
/// mean the same to RBAC), comparable and hashable so that it can sit in a diagnosis. Serialized as Kubernetes
/// writes it (`apiGroups`, `nonResourceURLs`, empty lists left out).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    /// API groups (`""` for core, `*` for all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_groups: Vec<String>,
    /// Resources (`documents`, `documents/status`, `*`, `*/status`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// Object names the rule is restricted to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_names: Vec<String>,
    /// Non-resource URLs (`/metrics`, `/healthz/*`).
    #[serde(
        default,
        rename = "nonResourceURLs",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub non_resource_urls: Vec<String>,
    /// Verbs.
    pub verbs: Vec<String>,
}

/// A binding subject as written, as plain data (k8s-openapi's `Subject`, comparable and hashable).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubjectRef {
    /// `User`, `Group` or `ServiceAccount`.
    pub kind: String,
    /// The name.
    pub name: String,
    /// The namespace (ServiceAccounts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `rbac.authorization.k8s.io` for users and groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_group: Option<String>,
}

/// Which kind of binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum BindingKind {
    /// A ClusterRoleBinding: grants its role everywhere.
    ClusterRoleBinding,
    /// A RoleBinding: grants its role in its own namespace only.
    RoleBinding,
}

/// One binding, by kind, name and namespace.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BindingRef {
    /// RoleBinding or ClusterRoleBinding.
    pub kind: BindingKind,
    /// Its name.
    pub name: String,
    /// Its namespace (RoleBindings only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Which kind of role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RoleKind {
    /// A ClusterRole.
    ClusterRole,
    /// A Role (namespaced).
    Role,
}

/// One role, by kind, name and namespace.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RoleKey {
    /// Role or ClusterRole.
    pub kind: RoleKind,
    /// Its name.
    pub name: String,
    /// Its namespace (Roles only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Why each binding that names an identity does (not) grant a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Explanation {
    /// Who asked.
    pub identity: Identity,
    /// What was asked.
    pub request: AccessRequest,
    /// The bindings whose role grants the request where it was asked: when there are any, RBAC allows it (a
    /// denial then came from another authorizer, or before the grant reached the authorizer's cache).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub granted_by: Vec<Granted>,
    /// Every other binding that names the identity and why it does not grant the request, closest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub near_misses: Vec<BindingMiss>,
    /// Bindings that do not name the identity but look meant for it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lookalikes: Vec<Lookalike>,
}

/// A binding that grants the request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Granted {
    /// The binding.
    pub binding: BindingRef,
    /// How it names the identity.
    pub via: Via,
    /// The rule that allows the request.
    pub rule: RuleRef,
}

/// How a binding names the identity: the subject entry that matched.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Via {
    /// The user by name.
    User {
        /// The user name.
        name: String,
    },
    /// One of the identity's groups.
    Group {
        /// The group.
        name: String,
    },
    /// The ServiceAccount the identity is.
    ServiceAccount {
        /// Its namespace (the binding's own when the subject names none).
        namespace: String,
        /// Its name.
        name: String,
    },
}

/// A binding that names the identity but does not grant the request, and why.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BindingMiss {
    /// The binding.
    pub binding: BindingRef,
    /// How it names the identity.
    pub via: Via,
    /// The role it refers to.
    pub role: RoleKey,
    /// Set when the binding cannot grant where the request was made, whatever its role holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ScopeMiss>,
    /// What its role holds for the request.
    pub outcome: RoleOutcome,
}

/// Why a RoleBinding cannot grant where the request was made.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum ScopeMiss {
    /// A RoleBinding of a Role grants only in its own namespace; the request is in another one (or cluster-wide).
    BindingInOtherNamespace {
        /// The binding's namespace.
        binding_namespace: String,
        /// The request's namespace; `None`: cluster-wide (a cluster-scoped resource, all namespaces, a URL).
        request_namespace: Option<String>,
    },
    /// A ClusterRole bound by a RoleBinding grants only in the RoleBinding's namespace.
    ClusterRoleConfined {
        /// The binding's namespace.
        binding_namespace: String,
        /// The request's namespace; `None`: cluster-wide.
        request_namespace: Option<String>,
    },
}

/// What a role holds for a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum RoleOutcome {
    /// A rule allows it (the binding's scope is what fails).
    Grants {
        /// The rule.
        rule: RuleRef,
    },
    /// The roleRef names a role that does not exist (RBAC accepts such bindings silently).
    NotFound,
    /// An aggregated ClusterRole whose label selectors select no ClusterRole: it holds no rules.
    AggregationSelectsNothing {
        /// The selectors (`rbac.example.com/aggregate-to-docs=true`).
        selectors: Vec<String>,
    },
    /// The role has no rules.
    NoRules,
    /// No rule allows it.
    NoRuleGrants {
        /// How many rules the role has.
        rules: usize,
        /// The closest rules (those with the fewest differences, at most two), each with how it differs;
        /// empty: nothing close.
        closest: Vec<RuleMiss>,
    },
}

/// One rule, where it lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RuleRef {
    /// The role that holds the rule: for an aggregated ClusterRole, the selected ClusterRole the rule comes from.
    pub role: RoleKey,
    /// Its position in that role's `rules`.
    pub index: usize,
    /// The rule.
    pub rule: Rule,
    /// The aggregated ClusterRole the rule reaches the binding through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregated_into: Option<String>,
}

/// A rule that does not allow a request, and how it differs from one that would.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RuleMiss {
    /// The rule.
    pub rule: RuleRef,
    /// Every way it differs (one: a near miss).
    pub differences: Vec<Difference>,
}

/// One way a rule differs from a rule that would allow the request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Difference {
    /// The rule does not list the verb.
    Verb {
        /// The verbs it lists.
        listed: Vec<String>,
    },
    /// The rule does not list the API group (e.g. the core group `""` for a CRD's resource).
    ApiGroup {
        /// The groups it lists.
        listed: Vec<String>,
    },
    /// The rule does not list the resource.
    Resource {
        /// The resources it lists.
        listed: Vec<String>,
        /// A listed name that looks like a misspelling of the requested one (`document` for `documents`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        near: Option<String>,
    },
    /// The rule lists the resource but not the requested subresource: `documents` does not cover
    /// `documents/status`.
    Subresource {
        /// The resources it lists.
        listed: Vec<String>,
    },
    /// The rule's `resourceNames` do not allow the request.
    ResourceNames {
        /// The names it lists.
        names: Vec<String>,
        /// The request carries no object name (list, watch, create, deletecollection): no rule with
        /// `resourceNames` can ever allow it.
        unnamed: bool,
    },
    /// The rule's non-resource URLs do not match the path.
    NonResourceUrl {
        /// The URLs it lists.
        listed: Vec<String>,
        /// A listed URL that looks like a misspelling of the path.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        near: Option<String>,
    },
    /// The rule is for non-resource URLs; the request is for a resource.
    NonResourceRule,
    /// The rule is for resources; the request is for a non-resource URL.
    ResourceRule,
}

/// A binding that does not name the identity but looks meant for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Lookalike {
    /// The binding.
    pub binding: BindingRef,
    /// The position of the subject in the binding's `subjects`.
    pub index: usize,
    /// The subject as written.
    pub subject: SubjectRef,
    /// Why it looks meant for the identity.
    pub why: LookalikeWhy,
    /// The role it refers to.
    pub role: RoleKey,
    /// Whether its role would allow the request.
    pub role_grants: bool,
    /// Whether the binding could grant where the request was made (a ClusterRoleBinding, or a RoleBinding in the
    /// request's namespace).
    pub scope_fits: bool,
}

/// Why a subject looks meant for the identity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "reason")]
pub enum LookalikeWhy {
    /// A ServiceAccount of the identity's name in another namespace.
    ServiceAccountNamespace {
        /// The namespace the subject names.
        subject_namespace: String,
        /// The subject names none: it means the RoleBinding's own namespace.
        defaulted: bool,
    },
    /// A ServiceAccount subject without a namespace in a ClusterRoleBinding: it names nobody.
    ServiceAccountWithoutNamespace,
    /// The identity's name as another kind of subject (`User doc-controller` for a ServiceAccount).
    Kind {
        /// The kind written.
        kind: String,
    },
    /// A name one or two letters off the identity's name or one of its groups.
    SimilarName {
        /// The identity's name (or group) it resembles.
        resembles: String,
    },
}

/// The fix for a denied request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fix {
    /// What it changes.
    pub kind: FixKind,
    /// What it grants beyond the request (empty: exactly the request).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also_grants: Vec<Rule>,
    /// The request was in one namespace but the fix takes effect in all of them: it changes a role bound by a
    /// ClusterRoleBinding (what a controller that works in every namespace needs).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all_namespaces: bool,
}

/// Which change a fix makes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum FixKind {
    /// Edit one rule of a role bound to the identity (or add one rule to it).
    EditRule {
        /// The role.
        role: RoleKey,
        /// The edit.
        edit: RuleEdit,
        /// The binding through which the role reaches the identity.
        binding: BindingRef,
        /// Other bindings of the same role: the edit changes what they grant too.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        shared_with: Vec<BindingRef>,
        /// The aggregated ClusterRole the edited role is aggregated into (the edit reaches the identity once the
        /// aggregation controller has copied it there).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        aggregated_into: Option<String>,
        /// The JSON patch (RFC 6902), guarded by a `test` of the rule it edits.
        patch: Vec<Value>,
        /// The role after the edit.
        after: Value,
    },
    /// Create the role a binding names but that does not exist, or a ClusterRole an empty aggregation selects.
    CreateRole {
        /// The role to create.
        role: RoleKey,
        /// The binding through which it reaches the identity: the one that names the missing role, or the one of
        /// the aggregated ClusterRole.
        binding: BindingRef,
        /// The aggregated ClusterRole whose selectors the new role matches (its rules reach the identity once the
        /// aggregation controller has run).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        aggregated_into: Option<String>,
        /// The new role.
        object: Value,
    },
    /// Add the identity to the subjects of a binding that looks meant for it. The subject as written stays: it
    /// may well name someone else (a ServiceAccount of the same name in another namespace).
    AddSubject {
        /// The binding.
        binding: BindingRef,
        /// The position of the subject that resembles the identity.
        resembling: usize,
        /// The subject added.
        subject: SubjectRef,
        /// The JSON patch.
        patch: Vec<Value>,
        /// The binding after the edit.
        after: Value,
    },
    /// Bind a role that already grants the request where the request is made.
    NewBinding {
        /// The role.
        role: RoleKey,
        /// The new binding.
        object: Value,
    },
    /// Nothing close exists: a new Role/ClusterRole and binding granting exactly the request, to the identity
    /// (what [`crate::rbac::generate`] writes).
    NewRole {
        /// The one rule.
        rule: Rule,
        /// The namespace of the Role; `None`: a ClusterRole.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
    },
    /// RBAC is not the problem: the client asked for a non-core resource in the core group (`""`); a rule grants
    /// it in its real group.
    ClientGroup {
        /// The group a rule grants the resource in, when one does.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<String>,
    },
}

/// One edit of a role's rules.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum RuleEdit {
    /// Add a verb to rule `rule`.
    AddVerb {
        /// The rule's position.
        rule: usize,
        /// The verb.
        verb: String,
    },
    /// Add a resource (a subresource such as `documents/status`) to rule `rule`.
    AddResource {
        /// The rule's position.
        rule: usize,
        /// The resource.
        resource: String,
    },
    /// Replace a misspelt resource of rule `rule`.
    ReplaceResource {
        /// The rule's position.
        rule: usize,
        /// The name as written.
        from: String,
        /// The name the request uses.
        to: String,
    },
    /// Replace the API group of rule `rule` (written for the resource, in the wrong group).
    ReplaceApiGroup {
        /// The rule's position.
        rule: usize,
        /// The group as written.
        from: String,
        /// The group the request uses.
        to: String,
    },
    /// Add an object name to the `resourceNames` of rule `rule`.
    AddResourceName {
        /// The rule's position.
        rule: usize,
        /// The name.
        name: String,
    },
    /// Remove `resourceNames` from rule `rule`, which lists only the verb that never carries a name.
    RemoveResourceNames {
        /// The rule's position.
        rule: usize,
    },
    /// Add a URL to the `nonResourceURLs` of rule `rule`.
    AddNonResourceUrl {
        /// The rule's position.
        rule: usize,
        /// The URL.
        url: String,
    },
    /// Add a rule granting exactly the request.
    AddRule {
        /// The new rule.
        rule: Rule,
        /// The near-miss rule left as it is, because widening it would grant more than the request.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instead_of: Option<usize>,
    },
}
