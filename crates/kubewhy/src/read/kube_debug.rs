//! kube-rs text: the `Debug` and `Display` forms of `kube::Error::Api` in both the old
//! `ErrorResponse { status, message, reason, code }` and the new `Status { status, code, message, metadata,
//! reason, details }` shapes, wherever they sit — inside `WatchFailed(..)`, `InitialListFailed(..)`,
//! `WatchStartFailed(..)`, `WatchError(..)`, `QueueError(..)`, kube_runtime's `watcher error 403: ..` lines, or a
//! JSON log whose string escapes them once more.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

use super::Evidence;
use super::escape::{normalize_from, string_literal};
use crate::cause::FieldError;
use crate::diagnosis::{Phase, Request};
use crate::note::Note;

/// Finds the step that failed from kube-rs variant names, their `Display` texts and kube_runtime's log
/// messages, most specific first.
const PHASES: [(&str, Phase); 17] = [
    ("InitialListFailed(", Phase::InitialList),
    ("failed to perform initial object list", Phase::InitialList),
    ("watch list error", Phase::InitialList),
    ("WatchStartFailed(", Phase::WatchStart),
    ("failed to start watching object", Phase::WatchStart),
    ("watch initlist error", Phase::WatchStart),
    ("WatchError(", Phase::WatchEvent),
    (
        "error returned by apiserver during watch",
        Phase::WatchEvent,
    ),
    ("watcher watchevent error", Phase::WatchEvent),
    ("error watchevent error", Phase::WatchEvent),
    ("WatchFailed(", Phase::WatchStream),
    ("watch stream failed", Phase::WatchStream),
    ("watcher error", Phase::WatchStream),
    ("ReconcilerFailed(", Phase::Reconcile),
    ("reconciler for object", Phase::Reconcile),
    ("failed to wait for", Phase::CacheSync),
    ("timed out waiting for cache to be synced", Phase::CacheSync),
];

static PHASE_FINDER: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::new(PHASES.iter().map(|(needle, _)| needle))
        .expect("the phase phrases are valid patterns")
});

/// Reads kube-rs framing and, when present, the `Status`/`ErrorResponse` struct. Returns whether a struct was
/// found.
pub(crate) fn read(text: &str, ev: &mut Evidence) -> bool {
    let struct_at = find_struct(text);
    let framing = struct_at.map_or(text, |(at, _)| &text[..at]);
    if ev.phase.is_none() {
        // The most specific (earliest in PHASES) of the phrases present.
        ev.phase = PHASE_FINDER
            .find_overlapping_iter(framing)
            .map(|m| m.pattern().as_usize())
            .min()
            .map(|i| PHASES[i].1);
    }
    if contains!(framing, "kube_runtime::watcher") || contains!(framing, "kube_runtime::controller")
    {
        ev.notes.push(Note::LoggedByKubeRuntime);
    }
    ev.reconciled = object_ref(text);
    // kube_runtime's finalizer helper patches the reconciled object's finalizers (a JSON patch with a `test`).
    if [
        finder!("failed to add finalizer"),
        finder!("failed to remove finalizer"),
        finder!("AddFinalizer("),
        finder!("RemoveFinalizer("),
    ]
    .iter()
    .any(|f| f.find(framing.as_bytes()).is_some())
    {
        ev.request.verb.get_or_insert_with(|| "patch".to_string());
        ev.on_reconciled = ev.reconciled.is_some();
    }
    let Some((at, open)) = struct_at else {
        return false;
    };
    // Undo the escaping a surrounding JSON log adds: judge it by the first quote inside the struct.
    let body_from = at + open;
    let text = match text[body_from..].find('"') {
        Some(q) => normalize_from(text, at, body_from + q),
        None => text[at..].to_string(),
    };
    parse_struct(&text[open..], ev);
    ev.is_failure = true;
    true
}

/// The object kube_runtime's controller names in its spans (`object.ref=Kind.version.group/name[.namespace]`,
/// kube-runtime's `ObjectRef` display). A namespace is a DNS label, so it is the name's last dotted part; a
/// cluster-scoped object whose name has dots is read with a namespace it does not have, so only a namespace the
/// request lacks is ever taken from it.
fn object_ref(text: &str) -> Option<Request> {
    let at = find!(text, "object.ref=")? + "object.ref=".len();
    let value = text[at..].split(char::is_whitespace).next()?;
    let (gvk, object) = value.split_once('/')?;
    let mut parts = gvk.splitn(3, '.');
    let kind = parts.next().filter(|k| !k.is_empty())?;
    let version = parts.next().filter(|v| !v.is_empty())?;
    let group = parts.next().unwrap_or("");
    let (name, namespace) = match object.rsplit_once('.') {
        Some((name, ns)) if !name.is_empty() && !ns.is_empty() => (name, Some(ns)),
        _ => (object, None),
    };
    Some(Request {
        kind: Some(kind.to_string()),
        version: Some(version.to_string()),
        group: Some(group.to_string()),
        name: Some(name.to_string()).filter(|n| !n.is_empty()),
        namespace: namespace.map(str::to_string),
        ..Request::default()
    })
}

/// The byte offset of `Status {` or `ErrorResponse {` and the length of that opener.
fn find_struct(text: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(rel) = find!(&text[from..], "Status {") {
        let at = from + rel;
        // `ErrorResponse { ` or a whole word `Status { ` (not `StatusDetails {`, not `PodStatus {`).
        let before = text[..at].chars().next_back();
        if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Some((at, "Status {".len()));
        }
        from = at + 1;
    }
    find!(text, "ErrorResponse {").map(|at| (at, "ErrorResponse {".len()))
}

/// Walks `field: value` pairs of the struct body (strings parsed as literals so their contents cannot confuse
/// the walk) until the struct closes or the text ends.
fn parse_struct(body: &str, ev: &mut Evidence) {
    let bytes = body.as_bytes();
    let mut stack: Vec<&str> = vec!["Status"];
    let mut field: &str = "";
    let mut cause = FieldError::default();
    let mut i = 0;
    while i < bytes.len() && !stack.is_empty() {
        let b = bytes[i];
        match b {
            b'"' => {
                let (value, used) = string_literal(&body[i..]);
                assign(
                    stack.last().copied().unwrap_or(""),
                    field,
                    Value::Str(value),
                    ev,
                    &mut cause,
                );
                i += used;
            }
            b'{' => {
                stack.push("");
                i += 1;
            }
            b'}' => {
                if stack.pop() == Some("StatusCause") {
                    ev.causes.push(std::mem::take(&mut cause));
                }
                i += 1;
            }
            b'0'..=b'9' => {
                let end = i + bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
                if let Ok(n) = body[i..end].parse::<u64>() {
                    assign(
                        stack.last().copied().unwrap_or(""),
                        field,
                        Value::Num(n),
                        ev,
                        &mut cause,
                    );
                }
                i = end;
            }
            b if b.is_ascii_alphabetic() || b == b'_' => {
                let end = i + bytes[i..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                    .count();
                let ident = &body[i..end];
                let rest = &body[end..];
                if rest.starts_with(": ") {
                    field = ident;
                    i = end + 2;
                } else if rest.starts_with(" {") {
                    stack.push(ident);
                    i = end + 2;
                } else {
                    i = end;
                }
            }
            _ => i += 1,
        }
    }
    if stack.last() == Some(&"StatusCause") {
        ev.causes.push(cause);
    }
}

enum Value {
    Str(String),
    Num(u64),
}

fn assign(within: &str, field: &str, value: Value, ev: &mut Evidence, cause: &mut FieldError) {
    match (within, field, value) {
        ("Status", "message", Value::Str(s)) => ev.message = s,
        ("Status", "reason", Value::Str(s)) if !s.is_empty() => ev.reason = Some(s),
        ("Status", "code", Value::Num(n)) if n > 0 => ev.code = u16::try_from(n).ok(),
        ("StatusDetails", "name", Value::Str(s)) if !s.is_empty() => ev.detail_name = Some(s),
        ("StatusDetails", "group", Value::Str(s)) if !s.is_empty() => ev.detail_group = Some(s),
        ("StatusDetails", "kind", Value::Str(s)) if !s.is_empty() => ev.detail_kind = Some(s),
        ("StatusDetails", "retry_after_seconds", Value::Num(n)) if n > 0 => {
            ev.retry_after = u32::try_from(n).ok()
        }
        ("StatusCause", "reason", Value::Str(s)) => cause.reason = s,
        ("StatusCause", "message", Value::Str(s)) => cause.message = s,
        ("StatusCause", "field", Value::Str(s)) => cause.field = s,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_seed_watcher_line() {
        let line = r#"WARN kube_runtime::watcher: watcher error 403: Api(ErrorResponse { status: "Failure", message: " is forbidden: User \"system:serviceaccount:default:doc-controller\" cannot watch resource \"documents\" in API group \"\" at the cluster scope", reason: "Forbidden", code: 403 })"#;
        let mut ev = Evidence::default();
        assert!(read(line, &mut ev));
        assert_eq!(ev.code, Some(403));
        assert_eq!(ev.reason.as_deref(), Some("Forbidden"));
        assert!(
            ev.message.starts_with(" is forbidden: User \"system:"),
            "{}",
            ev.message
        );
        assert_eq!(ev.phase, Some(Phase::WatchStream));
    }

    #[test]
    fn reads_the_new_status_shape_with_details_and_causes() {
        let line = r#"InitialListFailed(Api(Status { status: Some(Failure), code: 422, message: "Document.kube.rs \"x\" is invalid: spec.title: Required value", metadata: Some(ListMeta { continue_: None, remaining_item_count: None, resource_version: None, self_link: None }), reason: "Invalid", details: Some(StatusDetails { name: "x", group: "kube.rs", kind: "Document", uid: "", causes: [StatusCause { reason: "FieldValueRequired", message: "Required value", field: "spec.title" }], retry_after_seconds: 0 }) }))"#;
        let mut ev = Evidence::default();
        assert!(read(line, &mut ev));
        assert_eq!(ev.code, Some(422));
        assert_eq!(ev.detail_name.as_deref(), Some("x"));
        assert_eq!(ev.detail_group.as_deref(), Some("kube.rs"));
        assert_eq!(ev.causes.len(), 1);
        assert_eq!(ev.causes[0].field, "spec.title");
        assert_eq!(ev.phase, Some(Phase::InitialList));
    }

    #[test]
    fn reads_a_struct_escaped_inside_json() {
        let line = r#"{"level":"WARN","fields":{"message":"watcher error 403: Api(Status { status: Some(Failure), code: 403, message: \"configmaps is forbidden: User \\\"alice\\\" cannot watch resource \\\"configmaps\\\" in API group \\\"\\\" in the namespace \\\"x\\\"\", metadata: None, reason: \"Forbidden\", details: None })"}}"#;
        let mut ev = Evidence::default();
        assert!(read(line, &mut ev));
        assert_eq!(ev.code, Some(403));
        assert!(
            ev.message.contains("User \"alice\" cannot watch"),
            "{}",
            ev.message
        );
    }

    #[test]
    fn a_finalizer_error_is_a_patch_of_the_object_reconciled() {
        let line = r#"WARN reconciling object: controller::controller: reconcile failed: FinalizerError(AddFinalizer(Api(ErrorResponse { status: "Failure", message: "the server rejected our request due to an error in our request", reason: "Invalid", code: 422 }))) object.ref=Cluster.v1beta1.cluster.x-k8s.io/cluster1.default object.reason=object updated"#;
        let mut ev = Evidence::default();
        assert!(read(line, &mut ev));
        assert_eq!(ev.request.verb.as_deref(), Some("patch"));
        assert!(ev.on_reconciled);
        let obj = ev.reconciled.unwrap();
        assert_eq!(obj.kind.as_deref(), Some("Cluster"));
        assert_eq!(obj.group.as_deref(), Some("cluster.x-k8s.io"));
        assert_eq!(
            (obj.name.as_deref(), obj.namespace.as_deref()),
            (Some("cluster1"), Some("default"))
        );
        // A core, cluster-scoped object.
        let obj = object_ref("object.ref=Namespace.v1./default").unwrap();
        assert_eq!(
            (obj.group.as_deref(), obj.name.as_deref(), obj.namespace),
            (Some(""), Some("default"), None)
        );
    }
}
