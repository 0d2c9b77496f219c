//! Server messages: the text of a `metav1.Status` message — or the same text inside a log line, with its
//! quotes escaped to any depth — read into what it names: who was denied what, which object was missing,
//! which admission plugin refused, which list option was invalid.
//!
//! The formats are the API server's own (kubernetes/apiserver `responsewriters/errors.go`, apimachinery
//! `api/errors/errors.go`, `registry/rbac/validation/rule.go`, the admission plugins), current and older.

use std::sync::LazyLock;

use regex::{Captures, Regex};

use crate::cause::{Admitter, MissingRole};

/// What a message says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Said {
    /// `User "u" cannot <verb> resource "r" in API group "g" ...` (or the older shapes).
    Denied,
    /// `User "u" cannot <verb> path "/p"`.
    DeniedPath,
    /// `user "u" (groups=[..]) is attempting to grant RBAC permissions not currently held`.
    Escalation,
    /// An admission webhook, ValidatingAdmissionPolicy or built-in admission plugin refused.
    Admission,
    /// `<res> "<name>" not found`.
    ObjectMissing,
    /// `404 page not found`, `the server could not find the requested resource`, `no matches for kind`,
    /// `the server doesn't have a resource type`.
    NotServed,
    /// `<res> "<name>" already exists`.
    Exists,
    /// `Operation cannot be fulfilled on ...` or `Apply failed with N conflicts`.
    Conflict,
    /// `ListOptions.meta.k8s.io "" is invalid: ...` and the list/watch option rules.
    BadOptions,
    /// `<Kind> "<name>" is invalid: <field>: <reason>`.
    BadObject,
    /// `too old resource version`, `... is too old`.
    TooOld,
    /// APF's `Too many requests` or the server's `too many requests`.
    TooMany,
    /// Server-side time-outs.
    ServerTimeout,
    /// Server failures (`Internal error occurred`, `an error on the server`, 503 texts).
    ServerFailed,
    /// `Unauthorized`, `You must be logged in`, `the server has asked for the client to provide credentials`.
    NotLoggedIn,
    /// `failed calling webhook "w": ...`: the webhook could not be called.
    WebhookUnreachable,
    /// `etcdserver: leader changed`.
    LeaderChanged,
    /// `storage is (re)initializing` (the watch cache after an API server start).
    Reinitializing,
    /// `failed to read one or more <resource> from the storage` (`StorageReadError`).
    StorageRead,
    /// A request the server could not read: `"spec.nodeName" is not a known field selector`, `field label not
    /// supported`.
    BadRequest,
    /// `the server rejected our request due to an error in our request` (a JSON patch that did not apply) or a
    /// JSON patch `testing value ... failed`.
    PatchFailed,
}

/// Everything a message names. Empty fields: the message does not say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Facts {
    pub said: Option<Said>,
    pub user: Option<String>,
    pub groups: Vec<String>,
    pub verb: Option<String>,
    pub resource: Option<String>,
    pub subresource: Option<String>,
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub path: Option<String>,
    /// The message says `at the cluster scope`.
    pub cluster_scope: bool,
    /// A `RBAC: clusterrole... "x" not found` suffix.
    pub missing_role: Option<MissingRole>,
    /// Text an authorizer appended after the denial (GKE, AKS, `RBAC: ...`).
    pub authorizer_text: Option<String>,
    pub admission: Option<Admitter>,
    /// The webhook that could not be called, and its Service (`ns/name`) when the message names it.
    pub webhook: Option<(String, Option<String>)>,
    /// The webhook that could not be called is a CRD's conversion webhook for this kind (`Kind.group`).
    pub conversion: Option<String>,
    /// The message says a token has expired.
    pub expired: bool,
    /// Why the admission plugin or validation refused (the text after `denied the request:` / the causes).
    pub detail: Option<String>,
    /// Field paths named as invalid (`spec.title`, `resourceVersionMatch`).
    pub fields: Vec<String>,
    /// A field manager that owns conflicting fields.
    pub manager: Option<String>,
    /// The permissions an escalation check said are missing (`{APIGroups:[..], Resources:[..], Verbs:[..]}`).
    pub escalation_rules: Vec<String>,
    /// The HTTP code the message itself states (`the server responded with the status code 502 …`).
    pub code: Option<u16>,
    /// A healthy notice (client-go's client-side throttling, a server's warning): nothing failed.
    pub healthy: bool,
    /// A frame whose class its content never changes decided the class (`Internal error occurred: …`).
    pub framed: bool,
}

/// A quote, escaped to any depth.
const Q: &str = r#"\\*""#;
/// A quoted value's characters.
const V: &str = r#"[^"\\]*"#;

fn re(pattern: &str) -> Regex {
    let pattern = pattern.replace("{Q}", Q).replace("{V}", V);
    Regex::new(&pattern).unwrap_or_else(|e| panic!("built-in pattern {pattern:?}: {e}"))
}

/// An authorizer's denial (the RBAC authorizer's sentence, k8s.io/apiserver v0.36.3
/// `pkg/endpoints/handlers/responsewriters/errors.go` forbiddenMessage inside apimachinery's `NewForbidden`), written
/// once for the two ways it is pasted: `quote` is what stands where the sentence quotes a value, `value` what a
/// quoted value may hold, `resource` what the resource may (not the `/` before a subresource). As pasted, the subject's opening quote or the space before it may be lost, a message cut
/// at the end of its namespace may lack the closing quote, and a quote of it may begin at `cannot` (the subject left
/// out: `cannot list resource "x" in API group "g" …` says enough on its own).
fn denial_pattern(quote: &str, value: &str, resource: &str) -> String {
    let (q, v, r) = (quote, value, resource);
    format!(
        r#"(?:(?:\[?(?P<pres>[A-Za-z0-9.\-]*)\]?(?:\s*{q}(?P<pname>{v}){q})?\s*is forbidden:\s*)?[Uu]ser ?(?:{q})?(?P<user>{v}){q} |\b)cannot (?P<verb>[a-z*][a-z:\-]*) resource {q}(?P<res>{r})(?:/(?P<sub>{v}))?{q} in API group {q}(?P<group>{v}){q}(?: (?:in the namespace {q}(?P<ns>{v})(?:{q}|$)|(?P<cluster>at the cluster scope)))?(?::\s*(?P<suffix>.*))?"#
    )
}

/// The denial with its quotes (escaped to any depth).
static DENIED: LazyLock<Regex> = LazyLock::new(|| re(&denial_pattern(Q, V, r#"[^"\\/]*"#)));

/// The denial pasted without its quotes, where escaped ones left their backslashes or nothing (`User
/// \system:serviceaccount:ns:default\ cannot list resource pods in API group \ in the namespace ns`, as
/// bitnami/charts#13544 shows a Python exception's body): tried only on a text without a double quote, a value
/// ending at a space, a backslash or a comma.
static DENIED_UNQUOTED: LazyLock<Regex> =
    LazyLock::new(|| re(&denial_pattern(r"\\*", r"[^\s\\,]*", r"[^\s\\,/]*")));
static DENIED_PATH: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"[Uu]ser {Q}(?P<user>{V}){Q} cannot (?P<verb>[a-z*][a-z:\-]*) path {Q}(?P<path>{V}){Q}(?::\s*(?P<suffix>.*))?"#,
    )
});
/// Before Kubernetes 1.14: `User "u" cannot list pods in the namespace "x"`, `cannot get deployments.extensions
/// at the cluster scope`.
static DENIED_OLD: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?:\[?(?P<pres>[A-Za-z0-9.\-]*)\]?(?:\s*{Q}(?P<pname>{V}){Q})?\s*is forbidden:\s*)?[Uu]ser {Q}(?P<user>{V}){Q} cannot (?P<verb>[a-z*]+) \[?(?P<res>[a-z0-9\-]+)(?:/(?P<sub>[a-z]+))?(?:\.(?P<group>[a-z0-9.\-]+))?\]?(?: (?:in the namespace {Q}(?P<ns>{V}){Q}|(?P<cluster>at the cluster scope)))?"#,
    )
});
static ESCALATION: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?:\[?(?P<pres>[A-Za-z0-9.\-]+)\]? {Q}(?P<pname>{V}){Q} is forbidden: )?user {Q}(?P<user>{V}){Q} \(groups=\[(?P<groups>[^\]]*)\]\) is attempting to grant RBAC permissions not currently held"#,
    )
});
static RULE: LazyLock<Regex> = LazyLock::new(|| re(r#"\{APIGroups:\[[^}]*\}"#));
static QUOTED: LazyLock<Regex> = LazyLock::new(|| re(r#"{Q}({V}){Q}"#));
static MISSING_ROLE: LazyLock<Regex> = LazyLock::new(|| {
    re(r#"(?P<cluster>cluster)?role\.rbac\.authorization\.k8s\.io {Q}(?P<role>{V}){Q} not found"#)
});
static WEBHOOK: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"admission webhook {Q}(?P<name>{V}){Q} (?:denied the request(?::\s*(?P<why>.*))?|(?P<dry>does not support dry run))"#,
    )
});
static POLICY: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"ValidatingAdmissionPolicy '(?P<name>[^']*)'(?: with binding '(?P<binding>[^']*)')? denied request(?::\s*(?P<why>.*))?"#,
    )
});
static POD_SECURITY: LazyLock<Regex> =
    LazyLock::new(|| re(r#"violates PodSecurity {Q}(?P<level>{V}){Q}(?::\s*(?P<why>.*))?"#));
static QUOTA: LazyLock<Regex> = LazyLock::new(|| {
    re(r#"(?:exceeded|failed) quota: (?P<name>[A-Za-z0-9.\-]+)(?:[,:]\s*(?P<why>.*))?"#)
});
static TERMINATING: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"unable to create new content in namespace (?P<ns>[a-z0-9\-]+) because it is being terminated"#,
    )
});
/// `<res>[.<group>] ["<name>"] is forbidden: <text>` where the text is not an authorizer's.
static FORBIDDEN_OTHER: LazyLock<Regex> = LazyLock::new(|| {
    re(r#"\[?(?P<pres>[a-z0-9.\-]+)\]?(?: {Q}(?P<pname>{V}){Q})? is forbidden: (?P<why>.*)"#)
});
/// The text after `is forbidden:` opens with the subject: an authorizer's words.
static USER_FIRST: LazyLock<Regex> =
    LazyLock::new(|| re(r#"^[Uu]ser ?(?:{Q})?(?P<user>[^"\\\s]+){Q}"#));
/// (Kubernetes before 1.9 named some resources in camel case: `replicationControllers "x" not found`.)
static OBJECT_MISSING: LazyLock<Regex> =
    LazyLock::new(|| re(r#"(?P<pres>[a-z0-9][A-Za-z0-9.\-]*) {Q}(?P<name>{V}){Q} not found"#));
static NOT_SERVED_GET: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"the server could not find the requested resource(?: \((?P<verb>[a-z]+) (?P<pres>[a-z0-9.\-]+)(?: (?P<name>[^)]*))?\))?"#,
    )
});
static NO_KIND_MATCH: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"no matches for kind {Q}(?P<kind>{V}){Q} in (?:version|group|versions) {Q}?\[?(?P<gv>[^"\\\]]*)"#,
    )
});
static NO_RESOURCE_TYPE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"the server doesn't have a resource type {Q}?'?(?P<res>[A-Za-z0-9.\-/]+)'?{Q}?(?: in group {Q}?'?(?P<group>[a-z0-9.\-]*)'?{Q}?)?(?: (?:and )?(?:in )?version {Q}?'?(?P<version>[a-z0-9]*)'?{Q}?)?"#,
    )
});
static EXISTS: LazyLock<Regex> =
    LazyLock::new(|| re(r#"(?P<pres>[a-z0-9][a-z0-9.\-]*) {Q}(?P<name>{V}){Q} already exists"#));
/// (A program that prints the resource as a Go slice, `[deployments.apps]`, keeps it in brackets.)
static CONFLICT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"Operation cannot be fulfilled on \[?(?P<pres>[a-z0-9.\-]+)\]? {Q}(?P<name>{V}){Q}:\s*(?P<why>.*)"#,
    )
});
static APPLY_CONFLICT: LazyLock<Regex> = LazyLock::new(|| {
    re(r#"Apply failed with \d+ conflicts?: conflicts? with {Q}(?P<manager>{V}){Q}(?P<why>.*)"#)
});
static INVALID: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?:(?P<kind>[A-Za-z0-9]+)(?:\.(?P<group>[a-z0-9.\-]+))? )?{Q}(?P<name>{V}){Q} is invalid:\s*(?P<why>.*)"#,
    )
});
/// kubectl's opening of an Invalid answer whose details name a resource (`The galaxies "x" is invalid: : …`, a
/// ValidatingAdmissionPolicy's 422: kubernetes/kubectl v0.36.3 pkg/cmd/util/helpers.go checkErr prints
/// `The %s %q is invalid` with `details.Kind` and `details.Name`, then the causes, here one with an empty field).
static KUBECTL_INVALID: LazyLock<Regex> =
    LazyLock::new(|| re(r#"\bThe (?P<res>[a-z][a-z0-9\-]*) {Q}(?P<name>{V}){Q} is invalid:"#));
static FIELD: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"(?:^|[\[, ]\s*)(?P<field>[A-Za-z][A-Za-z0-9_.\[\]\-]*): (?:Required|Invalid|Unsupported|Forbidden|Duplicate|Not found|Too long|Too many|Internal error)"#,
    )
});
static TOO_OLD: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"too old resource version|The resourceVersion for the provided (?:watch|list) is too old|The provided continue parameter is too old|resource version .* is too old|Expired: "#,
    )
});
/// client-go's `failed to list *v1.Node: Unauthorized` (the 401 Status message on its own).
static UNAUTHORIZED: LazyLock<Regex> =
    LazyLock::new(|| re(r#"(?:^|: )Unauthorized(?:$|[\\"\s]|\.(?:\s|$))"#));
static WEBHOOK_CALL: LazyLock<Regex> =
    LazyLock::new(|| re(r#"failed calling webhook {Q}(?P<name>{V}){Q}:\s*(?P<why>.*)"#));
static SERVICE_NOT_FOUND: LazyLock<Regex> =
    LazyLock::new(|| re(r#"service {Q}(?P<svc>{V}){Q} not found"#));
/// A webhook Service's in-cluster host name: `https://<service>.<namespace>.svc`.
static SERVICE_HOST: LazyLock<Regex> =
    LazyLock::new(|| re(r#"https://(?P<svc>[a-z0-9\-]+)\.(?P<ns>[a-z0-9\-]+)\.svc"#));
static CREDENTIALS: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r#"the server has asked for the client to provide credentials(?: \((?P<verb>[a-z]+) (?P<pres>[a-z0-9.\-]+)(?: (?P<name>[^)]*))?\))?"#,
    )
});
static FOR_WATCH: LazyLock<Regex> = LazyLock::new(|| re(r#"forbidden for watch|for watch unless"#));

/// The list and watch options the server validates (apimachinery `internalversion/validation`).
const OPTION_FIELDS: [&str; 9] = [
    "resourceVersionMatch",
    "resourceVersion",
    "sendInitialEvents",
    "allowWatchBookmarks",
    "continue",
    "limit",
    "timeoutSeconds",
    "fieldSelector",
    "labelSelector",
];

/// Runs `re` only when `text` holds `literal` (which every match contains): a fast substring test spares the
/// regex engine on the many messages that cannot match.
fn gated<'t>(re: &Regex, literal: &str, text: &'t str) -> Option<Captures<'t>> {
    if text.contains(literal) {
        re.captures(text)
    } else {
        None
    }
}

fn cap(c: &Captures<'_>, name: &str) -> Option<String> {
    c.name(name).map(|m| m.as_str().to_string())
}

/// Splits `configmaps`, `documents.kube.rs` or `roles.rbac.authorization.k8s.io` into (resource, group).
pub(crate) fn split_resource(s: &str) -> (String, Option<String>) {
    match s.split_once('.') {
        Some((res, group)) => (res.to_string(), Some(group.to_string())),
        None => (s.to_string(), None),
    }
}

/// Cuts a trailing quote left by a surrounding literal, and escape backslashes, from free text.
fn clean(s: &str) -> String {
    let mut t = s.trim();
    // The rest of the line may go on with the literal's closing quote and the next field.
    for end in [
        "\", reason:",
        "\\\", reason:",
        "\",\"",
        "\\\",\\\"",
        "\" logger=",
        "\" reflector=",
        "\" type=",
        "\"}",
        "\\\"}",
    ] {
        if let Some(i) = t.find(end) {
            t = &t[..i];
        }
    }
    let t = t.trim_end_matches(['"', '\\']).trim();
    t.replace("\\\"", "\"")
}

/// The Service behind a webhook the API server could not call, from the call's error (`Post
/// "https://<svc>.<ns>.svc:443/…": service "<svc>" not found`): `ns/name`, or the name alone.
fn webhook_service(why: &str) -> Option<String> {
    let host = SERVICE_HOST.captures(why);
    let ns = host.as_ref().and_then(|h| cap(h, "ns"));
    let svc = gated(&SERVICE_NOT_FOUND, "not found", why)
        .and_then(|c| cap(&c, "svc"))
        .or_else(|| host.as_ref().and_then(|h| cap(h, "svc")))?;
    Some(match ns {
        Some(ns) => format!("{ns}/{svc}"),
        None => svc,
    })
}

/// Reads a server message. Returns facts with `said == None` when the text says none of the known things (and
/// `healthy` when it is a notice that nothing failed).
pub(crate) fn read(text: &str) -> Facts {
    use super::templates;
    let anchored = templates::Anchored::of(text);
    if templates::is_notice(text, &anchored) {
        return Facts {
            healthy: true,
            ..Facts::default()
        };
    }
    let mut f = known(text);
    if f.said.is_none() {
        templates::read(text, &anchored, &mut f);
    }
    if f.said.is_none() {
        f.said = super::server_words::read(text).map(|failed| match failed {
            super::server_words::Failed::Server => Said::ServerFailed,
            super::server_words::Failed::Calm => Said::TooMany,
        });
    }
    // The outermost frame decides when it is one whose content never changes its class: the server's 500 quoting
    // a `not found` is the server's failure, not a missing object.
    let quotable = matches!(
        f.said,
        None | Some(
            Said::ObjectMissing
                | Said::Exists
                | Said::NotServed
                | Said::TooMany
                | Said::TooOld
                | Said::NotLoggedIn
                | Said::Conflict
                | Said::ServerTimeout
        )
    );
    templates::frame_fields(text, &mut f);
    if f.code.is_none() {
        f.code = templates::implied_code(text, &anchored);
    }
    if let Some((class, framed)) = templates::closed_frame(text) {
        if f.said.and_then(templates::class_of) == Some(class) {
            f.framed = true;
        } else if quotable && let Some(said) = templates::said_of(class) {
            // What the frame quotes names other objects than the request's: only the frame's own fields are kept.
            f = Facts {
                said: Some(said),
                framed: true,
                code: f.code,
                ..framed
            };
        }
    }
    f
}

/// What the hand-written patterns recognise: the messages whose structure a catalog template cannot say.
fn known(text: &str) -> Facts {
    let mut f = Facts::default();

    if let Some(c) = gated(&ESCALATION, "attempting to grant", text) {
        f.said = Some(Said::Escalation);
        f.user = cap(&c, "user");
        f.groups = QUOTED
            .captures_iter(c.name("groups").map_or("", |m| m.as_str()))
            .filter_map(|g| g.get(1).map(|m| m.as_str().to_string()))
            .collect();
        if let Some(pres) = c.name("pres") {
            let (res, group) = split_resource(pres.as_str());
            f.resource = Some(res);
            f.group = group;
        }
        f.name = cap(&c, "pname").filter(|n| !n.is_empty());
        f.escalation_rules = RULE
            .find_iter(text)
            .map(|m| m.as_str().replace("\\\"", "\""))
            .collect();
        return f;
    }

    // A webhook that could not be called: its `service "x" not found` is the webhook's Service, not the request's
    // object, and the call's transport words are the webhook's, not the client's.
    if let Some(c) = gated(&WEBHOOK_CALL, "failed calling webhook", text) {
        f.said = Some(Said::WebhookUnreachable);
        let why = c.name("why").map(|m| clean(m.as_str()));
        let service = why.as_deref().and_then(webhook_service);
        f.webhook = Some((cap(&c, "name").unwrap_or_default(), service));
        f.detail = why;
        admission_target(text, &mut f);
        return f;
    }

    // A CRD's conversion webhook that could not be called: likewise the webhook's failure, for the kind it converts
    // (one that answered wrongly made the server fail).
    if let Some(c) = super::server_words::conversion_webhook(text) {
        if c.answered {
            // The 500 the server answers it with; an answer the webhook's text quotes is not the request's.
            f.said = Some(Said::ServerFailed);
            f.code = Some(500);
            f.kind = Some(c.kind);
            f.group = Some(c.group);
            f.detail = c.detail;
            return f;
        }
        f.said = Some(Said::WebhookUnreachable);
        f.conversion = Some(if c.group.is_empty() {
            c.kind.clone()
        } else {
            format!("{}.{}", c.kind, c.group)
        });
        f.webhook = Some((String::new(), c.detail.as_deref().and_then(webhook_service)));
        f.kind = Some(c.kind);
        f.group = Some(c.group);
        f.detail = c.detail;
        return f;
    }

    // Admission comes before RBAC: "is forbidden" in a webhook's or policy's text does not make it RBAC.
    if let Some(c) = gated(&WEBHOOK, "admission webhook", text) {
        f.said = Some(Said::Admission);
        f.admission = Some(Admitter::Webhook {
            name: cap(&c, "name").unwrap_or_default(),
        });
        f.detail = c.name("why").or(c.name("dry")).map(|m| clean(m.as_str()));
        admission_target(text, &mut f);
        return f;
    }
    if let Some(c) = gated(&POLICY, "ValidatingAdmissionPolicy", text) {
        f.said = Some(Said::Admission);
        f.admission = Some(Admitter::Policy {
            name: cap(&c, "name").unwrap_or_default(),
            binding: cap(&c, "binding").unwrap_or_default(),
        });
        f.detail = c.name("why").map(|m| clean(m.as_str()));
        admission_target(text, &mut f);
        return f;
    }

    let unquoted = || {
        (!text.contains('"'))
            .then(|| gated(&DENIED_UNQUOTED, " cannot ", text))
            .flatten()
    };
    if let Some(c) = gated(&DENIED, "cannot ", text).or_else(unquoted) {
        f.said = Some(Said::Denied);
        f.user = cap(&c, "user");
        f.verb = cap(&c, "verb");
        f.resource = cap(&c, "res");
        f.subresource = cap(&c, "sub").filter(|s| !s.is_empty());
        f.group = cap(&c, "group");
        f.namespace = cap(&c, "ns");
        f.cluster_scope = c.name("cluster").is_some();
        f.name = cap(&c, "pname").filter(|n| !n.is_empty());
        if let Some(suffix) = c.name("suffix") {
            authorizer_suffix(suffix.as_str(), &mut f);
        }
        return f;
    }
    if let Some(c) = gated(&DENIED_PATH, " path ", text) {
        f.said = Some(Said::DeniedPath);
        f.user = cap(&c, "user");
        f.verb = cap(&c, "verb");
        f.path = cap(&c, "path");
        f.cluster_scope = true;
        if let Some(suffix) = c.name("suffix") {
            authorizer_suffix(suffix.as_str(), &mut f);
        }
        return f;
    }
    if let Some(c) = gated(&DENIED_OLD, " cannot ", text) {
        f.said = Some(Said::Denied);
        f.user = cap(&c, "user");
        f.verb = cap(&c, "verb");
        f.resource = cap(&c, "res");
        f.subresource = cap(&c, "sub");
        // The old shape names the core group by leaving it out.
        f.group = Some(cap(&c, "group").unwrap_or_default());
        f.namespace = cap(&c, "ns");
        f.cluster_scope = c.name("cluster").is_some();
        f.name = cap(&c, "pname").filter(|n| !n.is_empty());
        if f.resource.as_deref() == Some("resource") {
            // Today's wording cut before its resource's closing quote (`cannot list resource \"nodeclaims\`,
            // aws/karpenter-provider-aws#5424): not the old shape. The subject names the resource and its group.
            let (res, group) = c
                .name("pres")
                .map(|p| split_resource(p.as_str()))
                .filter(|(r, _)| !r.is_empty())
                .unzip();
            f.resource = res;
            f.group = group.flatten();
            f.subresource = None;
        }
        return f;
    }

    if let Some(c) = gated(&POD_SECURITY, "PodSecurity", text) {
        f.said = Some(Said::Admission);
        f.admission = Some(Admitter::PodSecurity {
            level: cap(&c, "level").unwrap_or_default(),
        });
        f.detail = c.name("why").map(|m| clean(m.as_str()));
        admission_target(text, &mut f);
        return f;
    }
    if let Some(c) = gated(&QUOTA, "d quota: ", text) {
        f.said = Some(Said::Admission);
        f.admission = Some(Admitter::Quota {
            name: cap(&c, "name").unwrap_or_default(),
        });
        f.detail = c.name("why").map(|m| clean(m.as_str()));
        admission_target(text, &mut f);
        return f;
    }
    if let Some(c) = gated(&TERMINATING, "being terminated", text) {
        f.said = Some(Said::Admission);
        f.admission = Some(Admitter::NamespaceTerminating);
        f.namespace = cap(&c, "ns");
        admission_target(text, &mut f);
        return f;
    }

    if text.contains("404 page not found") {
        f.said = Some(Said::NotServed);
        return f;
    }
    if let Some(c) = gated(&NOT_SERVED_GET, "could not find the requested", text) {
        // `(get x.g)` names the REST client's HTTP verb, not the Kubernetes verb (a list says `get` too).
        f.said = Some(Said::NotServed);
        if let Some(pres) = c.name("pres") {
            let (res, group) = split_resource(pres.as_str());
            f.resource = Some(res);
            f.group = Some(group.unwrap_or_default());
        }
        f.name = cap(&c, "name").filter(|n| !n.is_empty());
        return f;
    }
    if let Some(c) = gated(&NO_KIND_MATCH, "no matches for kind", text) {
        f.said = Some(Said::NotServed);
        f.kind = cap(&c, "kind");
        if let Some(gv) = c.name("gv").map(|m| m.as_str()) {
            let gv = gv.split_whitespace().next().unwrap_or("");
            match gv.split_once('/') {
                Some((g, v)) => {
                    f.group = Some(g.to_string());
                    f.version = Some(v.to_string());
                }
                None if gv.starts_with('v')
                    && gv[1..].starts_with(|c: char| c.is_ascii_digit()) =>
                {
                    f.group = Some(String::new());
                    f.version = Some(gv.to_string());
                }
                None if !gv.is_empty() => f.group = Some(gv.to_string()),
                // `in group ""`: the core group.
                None if text.contains("in group") => f.group = Some(String::new()),
                None => {}
            }
        }
        return f;
    }
    if let Some(c) = gated(&NO_RESOURCE_TYPE, "doesn't have a resource type", text) {
        f.said = Some(Said::NotServed);
        if let Some(res) = c.name("res") {
            let (res, group) = split_resource(res.as_str());
            f.resource = Some(res);
            f.group = cap(&c, "group").or(group);
        }
        f.version = cap(&c, "version").filter(|v| !v.is_empty());
        return f;
    }

    if let Some(c) = gated(&APPLY_CONFLICT, "Apply failed", text) {
        f.said = Some(Said::Conflict);
        f.manager = cap(&c, "manager");
        f.detail = c
            .name("why")
            .map(|m| clean(m.as_str()))
            .filter(|s| !s.is_empty());
        return f;
    }
    if let Some(c) = gated(&CONFLICT, "Operation cannot be fulfilled", text) {
        f.said = Some(Said::Conflict);
        named_resource(&c, &mut f);
        f.detail = c.name("why").map(|m| clean(m.as_str()));
        return f;
    }
    if let Some(c) = gated(&EXISTS, "already exists", text)
        && c.name("pres")
            .is_some_and(|r| looks_like_resource(r.as_str()))
    {
        f.said = Some(Said::Exists);
        named_resource(&c, &mut f);
        return f;
    }
    if (text.contains("too old") || text.contains("Expired: ")) && TOO_OLD.is_match(text) {
        f.said = Some(Said::TooOld);
        return f;
    }
    if let Some(c) = gated(&INVALID, "is invalid", text) {
        let why = c.name("why").map(|m| clean(m.as_str())).unwrap_or_default();
        f.fields = FIELD
            .captures_iter(&why)
            .filter_map(|m| m.name("field").map(|m| m.as_str().to_string()))
            .collect();
        let kind = cap(&c, "kind");
        let is_options = kind.as_deref() == Some("ListOptions")
            || (kind.is_none() && c.name("name").is_some_and(|n| n.as_str().is_empty()))
            || FOR_WATCH.is_match(&why)
            || (!f.fields.is_empty()
                && f.fields
                    .iter()
                    .all(|fd| OPTION_FIELDS.contains(&fd.as_str())));
        if is_options {
            f.said = Some(Said::BadOptions);
            if FOR_WATCH.is_match(&why) {
                f.verb = Some("watch".to_string());
            }
        } else {
            f.said = Some(Said::BadObject);
            // `GroupKind.String()` leaves the core group out: a kind without a group is in the core group.
            f.group = cap(&c, "group").or_else(|| kind.as_ref().map(|_| String::new()));
            f.kind = kind;
            f.name = cap(&c, "name").filter(|n| !n.is_empty());
        }
        f.detail = Some(why).filter(|s| !s.is_empty());
        return f;
    }
    if let Some(c) = gated(&FORBIDDEN_OTHER, "is forbidden", text)
        && let Some(user) = c
            .name("why")
            .and_then(|w| USER_FIRST.captures(w.as_str()))
            .and_then(|u| cap(&u, "user"))
    {
        // An authorizer's denial whose text was cut after its subject (`is forbidden: User "u"`).
        f.said = Some(Said::Denied);
        f.user = Some(user);
        if let Some(pres) = c.name("pres") {
            let (res, group) = split_resource(pres.as_str());
            f.resource = Some(res);
            f.group = group;
        }
        f.name = cap(&c, "pname").filter(|n| !n.is_empty());
        return f;
    }
    if let Some(c) = gated(&FORBIDDEN_OTHER, "is forbidden", text) {
        // A 403 whose text is not an authorizer's (`User ... cannot ...`) comes from an admission plugin
        // (ServiceAccount, NodeRestriction, LimitRanger, ...).
        f.said = Some(Said::Admission);
        f.admission = Some(Admitter::Other);
        if let Some(pres) = c.name("pres") {
            let (res, group) = split_resource(pres.as_str());
            f.resource = Some(res);
            f.group = Some(group.unwrap_or_default());
        }
        f.name = cap(&c, "pname").filter(|n| !n.is_empty());
        f.detail = c.name("why").map(|m| clean(m.as_str()));
        return f;
    }
    if let Some(c) = gated(&OBJECT_MISSING, "not found", text) {
        f.said = Some(Said::ObjectMissing);
        named_resource(&c, &mut f);
        return f;
    }

    let lower_has = |needle: &str| contains_ignore_ascii_case(text, needle);
    if let Some((_, why)) = text.split_once("invalid shard selector: ") {
        // A malformed `shardSelector` (Kubernetes 1.36+, `ShardedListAndWatch`): the registry returns it as a plain
        // error, so it arrives as a 500, but it is the request's fault.
        f.said = Some(Said::BadOptions);
        f.fields = vec!["shardSelector".into()];
        f.detail = Some(clean(why)).filter(|s| !s.is_empty());
    } else if text.contains("storage is (re)initializing") {
        f.said = Some(Said::Reinitializing);
    } else if text.contains("etcdserver: leader changed") {
        f.said = Some(Said::LeaderChanged);
    } else if text.contains("etcdserver: ") {
        // etcd's own errors (`request timed out`, `too many requests`, `no leader`) reach a client as the API
        // server's failure: its storage, not the client's load.
        f.said = Some(Said::ServerFailed);
    } else if text.contains("from the storage") && text.contains("failed to read one or more") {
        f.said = Some(Said::StorageRead);
    } else if text.contains("the server rejected our request due to an error in our request")
        || (lower_has("testing value") && text.contains("failed"))
    {
        f.said = Some(Said::PatchFailed);
    } else if text.contains("is not a known field selector")
        || text.contains("field label not supported")
        || text.contains("No field label conversion function found")
    {
        f.said = Some(Said::BadRequest);
    } else if let Some(c) = gated(&CREDENTIALS, "provide credentials", text) {
        f.said = Some(Said::NotLoggedIn);
        if let Some(pres) = c.name("pres") {
            let (res, group) = split_resource(pres.as_str());
            f.resource = Some(res);
            f.group = Some(group.unwrap_or_default());
        }
        f.name = cap(&c, "name").filter(|n| !n.is_empty());
        f.expired = lower_has("expired");
    } else if lower_has("too many requests") || text.contains("TooManyRequests") {
        f.said = Some(Said::TooMany);
    } else if text.contains("Timeout: request did not complete within")
        || text.contains("the server was unable to return a response in the time allotted")
    {
        f.said = Some(Said::ServerTimeout);
    } else if text.contains("Internal error occurred")
        || text.contains("an error on the server")
        || text.contains("the server is currently unable to handle the request")
        || text.contains("before all known HTTP paths have been installed")
    {
        f.said = Some(Said::ServerFailed);
    } else if UNAUTHORIZED.is_match(text) || text.contains("You must be logged in to the server") {
        f.said = Some(Said::NotLoggedIn);
        f.expired = lower_has("token is expired") || lower_has("token has expired");
    }
    f
}

/// Whether a word before an object's quoted name is a resource as the API server names one in its messages: a
/// plural (`namespaces`, `statefulsets.apps`, a built-in), not a kind or a noun of a program's own sentence
/// (cert-manager's `Certificate "c" for ingress "i" already exists`).
fn looks_like_resource(word: &str) -> bool {
    let (res, group) = split_resource(word);
    // `ingress`, `class`: a singular whose plural adds `es`.
    (res.ends_with('s') && !res.ends_with("ss"))
        || group.is_some()
        || crate::vocab::is_core_resource(&res)
        || crate::vocab::builtin_group(&res).is_some()
}

/// The resource and name an admission denial names in its `<res> "<name>" is forbidden:` prefix.
fn admission_target(text: &str, f: &mut Facts) {
    if let Some(c) = gated(&FORBIDDEN_OTHER, "is forbidden", text) {
        if let Some(pres) = c.name("pres") {
            let (res, group) = split_resource(pres.as_str());
            f.resource = Some(res);
            f.group = Some(group.unwrap_or_default());
        }
        f.name = cap(&c, "pname").filter(|n| !n.is_empty());
    } else if let Some(c) = gated(&KUBECTL_INVALID, "is invalid", text) {
        // kubectl names the answer's `details.kind`: a policy's 422 names the resource, not its group.
        f.resource = cap(&c, "res");
        f.name = cap(&c, "name").filter(|n| !n.is_empty());
    }
}

fn named_resource(c: &Captures<'_>, f: &mut Facts) {
    if let Some(pres) = c.name("pres") {
        let (res, group) = split_resource(pres.as_str());
        // Kubernetes before 1.9 named some resources in camel case (`replicationControllers`).
        f.resource = Some(res.to_ascii_lowercase());
        f.group = Some(group.unwrap_or_default());
    }
    f.name = cap(c, "name").filter(|n| !n.is_empty());
}

fn authorizer_suffix(suffix: &str, f: &mut Facts) {
    let text = clean(suffix);
    if text.is_empty() {
        return;
    }
    if let Some(c) = MISSING_ROLE.captures(suffix) {
        f.missing_role = Some(MissingRole {
            cluster: c.name("cluster").is_some(),
            name: cap(&c, "role").unwrap_or_default(),
        });
    }
    f.authorizer_text = Some(text);
}

/// ASCII case-insensitive substring test without allocating.
pub(crate) fn contains_ignore_ascii_case(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_current_rbac_denial() {
        let f = read(
            r#"configmaps is forbidden: User "system:serviceaccount:ns1:sa" cannot list resource "configmaps" in API group "" in the namespace "ns1""#,
        );
        assert_eq!(f.said, Some(Said::Denied));
        assert_eq!(f.user.as_deref(), Some("system:serviceaccount:ns1:sa"));
        assert_eq!(f.verb.as_deref(), Some("list"));
        assert_eq!(f.resource.as_deref(), Some("configmaps"));
        assert_eq!(f.group.as_deref(), Some(""));
        assert_eq!(f.namespace.as_deref(), Some("ns1"));
        assert!(!f.cluster_scope);
    }

    #[test]
    fn reads_escaped_quotes_and_the_missing_role_suffix() {
        let f = read(
            r#"documents.kube.rs \"a\" is forbidden: User \"bob\" cannot patch resource \"documents/status\" in API group \"kube.rs\" at the cluster scope: RBAC: clusterrole.rbac.authorization.k8s.io \"doc-writer\" not found"#,
        );
        assert_eq!(f.said, Some(Said::Denied));
        assert_eq!(f.subresource.as_deref(), Some("status"));
        assert_eq!(f.name.as_deref(), Some("a"));
        assert!(f.cluster_scope);
        assert_eq!(
            f.missing_role,
            Some(MissingRole {
                cluster: true,
                name: "doc-writer".into()
            })
        );
    }

    #[test]
    fn a_webhook_is_admission_even_when_forbidden() {
        let f = read(
            r#"pods "p" is forbidden: admission webhook "deny.example.com" denied the request: no"#,
        );
        assert_eq!(f.said, Some(Said::Admission));
        assert_eq!(
            f.admission,
            Some(Admitter::Webhook {
                name: "deny.example.com".into()
            })
        );
        assert_eq!(f.resource.as_deref(), Some("pods"));
        assert_eq!(f.detail.as_deref(), Some("no"));
    }

    #[test]
    fn a_malformed_shard_selector_is_a_bad_option_although_it_comes_as_a_500() {
        let f = read(
            r#"invalid shard selector: hexStart must be a 0x-prefixed 16-digit hex value, got "0x0" (did you mean "0x0000000000000000"?)"#,
        );
        assert_eq!(f.said, Some(Said::BadOptions));
        assert_eq!(f.fields, vec!["shardSelector".to_string()]);
        assert!(f.detail.unwrap().starts_with("hexStart must be"));
    }

    #[test]
    fn list_options_are_bad_options() {
        let f = read(
            r#"ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"#,
        );
        assert_eq!(f.said, Some(Said::BadOptions));
        let f = read(
            r#" "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch"#,
        );
        assert_eq!(f.said, Some(Said::BadOptions));
        let f = read(r#"Document.kube.rs "x" is invalid: spec.title: Required value"#);
        assert_eq!(f.said, Some(Said::BadObject));
        assert_eq!(f.fields, vec!["spec.title".to_string()]);
        assert_eq!(f.kind.as_deref(), Some("Document"));
    }

    #[test]
    fn pasted_denials_that_lost_a_quote_or_their_end_are_still_denials() {
        // kubernetes#104127: the subject's opening quote lost; meshery#39: the space before it.
        let f = read(
            r#"users "x@y.it" is forbidden: User system:serviceaccount:gke-connect:sa" cannot impersonate resource "users" in API group "" at the cluster scope"#,
        );
        assert_eq!(f.said, Some(Said::Denied));
        assert_eq!(
            f.user.as_deref(),
            Some("system:serviceaccount:gke-connect:sa")
        );
        assert_eq!(f.verb.as_deref(), Some("impersonate"));
        let f = read(
            r#"crds is forbidden: User\"a\" cannot create resource \"crds\" in API group \"x\" at the cluster scope"#,
        );
        assert_eq!(f.user.as_deref(), Some("a"));
        // kubeflow-distribution#381: cut inside the namespace's quotes.
        let f = read(
            r#"pods is forbidden: User "a" cannot list resource "pods" in API group "" in the namespace "istio-system"#,
        );
        assert_eq!(f.namespace.as_deref(), Some("istio-system"));
        // Cut right after the subject: the authorizer's words all the same.
        let f = read(r#"users "x@y.it" is forbidden: User "system:serviceaccount:gke-connect:sa""#);
        assert_eq!(f.said, Some(Said::Denied));
        assert_eq!(
            (f.resource.as_deref(), f.name.as_deref()),
            (Some("users"), Some("x@y.it"))
        );
    }

    #[test]
    fn a_webhook_without_dry_run_a_field_selector_and_a_watch_option_are_read() {
        let f = read(r#"admission webhook "a.b.svc" does not support dry run"#);
        assert_eq!(f.said, Some(Said::Admission));
        assert_eq!(f.detail.as_deref(), Some("does not support dry run"));
        let f = read(
            r#""spec.nodeName" is not a known field selector: only "metadata.name", "metadata.namespace""#,
        );
        assert_eq!(f.said, Some(Said::BadRequest));
        let f = read(
            r#"ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled"#,
        );
        assert_eq!(f.verb.as_deref(), Some("watch"));
        assert_eq!(
            read("Testing value /resourceVersion failed").said,
            Some(Said::PatchFailed)
        );
    }

    #[test]
    fn a_denial_cut_inside_its_resource_s_quotes_takes_the_subject_s_resource() {
        // aws/karpenter-provider-aws#5424: escaped quotes, the line cut after `resource \"nodeclaims\`.
        let f = read(
            r#"nodeclaims.karpenter.sh is forbidden: User \"system:serviceaccount:kube-system:karpenter\" cannot list resource \"nodeclaims\"#,
        );
        assert_eq!(f.said, Some(Said::Denied));
        assert_eq!(
            (f.resource.as_deref(), f.group.as_deref(), f.verb.as_deref()),
            (Some("nodeclaims"), Some("karpenter.sh"), Some("list"))
        );
    }

    #[test]
    fn a_denial_that_lost_its_quotes_is_read() {
        // bitnami/charts#13544: backslashes left where escaped quotes were, or nothing.
        let f = read(
            r"pods is forbidden: User \system:serviceaccount:ns:default\ cannot list resource pods in API group \ in the namespace ns",
        );
        assert_eq!(f.said, Some(Said::Denied));
        assert_eq!(f.user.as_deref(), Some("system:serviceaccount:ns:default"));
        assert_eq!(
            (f.verb.as_deref(), f.resource.as_deref(), f.group.as_deref()),
            (Some("list"), Some("pods"), Some(""))
        );
        assert_eq!(f.namespace.as_deref(), Some("ns"));
    }

    #[test]
    fn a_conflict_s_resource_in_a_link_s_brackets_is_read() {
        // dell/csm#1670: a markdown link that lost its target keeps the brackets.
        let f = read(
            r#"Failed install: Operation cannot be fulfilled on [containerstoragemodules.storage.dell.com] "powerflex": the object has been modified; please apply your changes to the latest version and try again"#,
        );
        assert_eq!(f.said, Some(Said::Conflict));
        assert_eq!(
            (f.resource.as_deref(), f.group.as_deref(), f.name.as_deref()),
            (
                Some("containerstoragemodules"),
                Some("storage.dell.com"),
                Some("powerflex")
            )
        );
    }

    #[test]
    fn only_a_resource_before_a_name_makes_already_exists() {
        assert_eq!(
            read(r#"statefulsets.apps "b" already exists"#).said,
            Some(Said::Exists)
        );
        assert_eq!(
            read(r#"namespaces "a" already exists"#).said,
            Some(Said::Exists)
        );
        // cert-manager#1328: a program's own sentence.
        let healthy = r#"Certificate "c-tls" for ingress "c" already exists"#;
        assert_eq!(read(healthy).said, None);
    }
}
