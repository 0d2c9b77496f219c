//! kubectl output: `Error from server (Reason): ..`, `error: You must be logged in to the server (..)`,
//! `error: the server doesn't have a resource type "x"`, `resource mapping not found for name: ..`,
//! `The connection to the server .. was refused`, `Unable to connect to the server: ..`, and the verb its framing
//! names (`error when creating "x.yaml": ..`, `error: failed to create deployment: ..`, and the ReplicaSet
//! controller's `Error creating: ..` event that `kubectl describe` shows).

use std::sync::LazyLock;

use regex::Regex;

use super::{Evidence, Transport};
use crate::cause::ConnectionFailure;
use crate::note::Note;

static FROM_SERVER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"Error from server(?: \((?P<reason>[A-Za-z]+)\))?: (?:error when [a-z]+ \x22[^\x22]*\x22: )?(?P<msg>.*)")
        .expect("built-in pattern")
});
static MAPPING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"resource mapping not found for name: "(?P<name>[^"]*)" namespace: "(?P<ns>[^"]*)""#,
    )
    .expect("built-in pattern")
});
static LOGGED_IN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"You must be logged in to the server(?: \((?P<msg>.*)\))?")
        .expect("built-in pattern")
});

/// kubectl apply's `error when retrieving current configuration of:` block (kubernetes/kubectl v0.36.3
/// pkg/cmd/apply/apply.go, `AddSourceToErr` of cli-runtime's `Info.String()`): the object it names, then the
/// error after `from server for: "<file>": `. Quotes may be escaped (the block inside a JSON string).
static CURRENT_CONFIG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?s)retrieving\s+current\s+configuration\s+of:(?:\s|\\n)*(?:Resource:\s+\\*"(?P<gvr>[^"\\]*)\\*",\s+GroupVersionKind:\s+\\*"(?P<gvk>[^"\\]*)\\*"(?:\s|\\n)*)?Name:\s+\\*"(?P<name>[^"\\]*)\\*",\s+Namespace:\s+\\*"(?P<ns>[^"\\]*)\\*".*?from\s+server\s+for:\s+\\*"[^"\\]*\\*":\s+(?P<msg>.*)"#,
    )
    .expect("built-in pattern")
});

/// The verbs of kubectl's `error when <doing> "<source>": ..` (`cmdutil.AddSourceToErr`), of `kubectl create
/// <kind>` and of controllers' `Error creating:` events.
const FRAMING_VERBS: [(&str, &str); 8] = [
    ("error when creating ", "create"),
    ("error when replacing ", "update"),
    ("error when patching ", "patch"),
    ("error when applying patch", "patch"),
    ("error when deleting ", "delete"),
    ("error when retrieving current configuration", "get"),
    ("error: failed to create ", "create"),
    ("Error creating: ", "create"),
];

/// Reads kubectl framing into `ev`.
pub(crate) fn read(text: &str, ev: &mut Evidence) {
    // Searchers built once (see `finder!`), one for each framing.
    static FRAMINGS: LazyLock<Vec<memchr::memmem::Finder<'static>>> = LazyLock::new(|| {
        FRAMING_VERBS
            .iter()
            .map(|(f, _)| memchr::memmem::Finder::new(f))
            .collect()
    });
    if ev.request.verb.is_none()
        && let Some((_, verb)) = FRAMING_VERBS
            .iter()
            .zip(FRAMINGS.iter())
            .find(|(_, f)| f.find(text.as_bytes()).is_some())
            .map(|(v, _)| v)
    {
        ev.request.verb = Some(verb.to_string());
    }
    if contains!(text, "current configuration")
        && let Some(c) = CURRENT_CONFIG.captures(text)
    {
        let get = |n: &str| {
            c.name(n)
                .map(|m| m.as_str().to_string())
                .filter(|s| !s.is_empty())
        };
        let r = &mut ev.request;
        r.name = r.name.take().or_else(|| get("name"));
        r.namespace = r.namespace.take().or_else(|| get("ns"));
        if let Some(gvr) = c.name("gvr") {
            super::client_go::read_type(gvr.as_str(), ev);
        }
        if let Some(gvk) = c.name("gvk") {
            super::client_go::read_type(gvk.as_str(), ev);
        }
        if ev.message.is_empty()
            && let Some(msg) = get("msg")
        {
            ev.message = if c[0].contains("Name: \\\"") {
                // The block inside a JSON string: the error ends with the string.
                let end = msg
                    .char_indices()
                    .find(|&(i, ch)| ch == '"' && !msg[..i].ends_with('\\'))
                    .map_or(msg.len(), |(i, _)| i);
                super::escape::unescape_once(&msg[..end]).trim().to_string()
            } else {
                msg.trim().to_string()
            };
        }
        ev.reason = ev.reason.take().or_else(|| {
            FROM_SERVER
                .captures(text)
                .and_then(|c| c.name("reason").map(|m| m.as_str().to_string()))
        });
        ev.is_failure = true;
    }
    if contains!(text, "Error from server")
        && let Some(c) = FROM_SERVER.captures(text)
    {
        if ev.reason.is_none() {
            ev.reason = c.name("reason").map(|m| m.as_str().to_string());
        }
        if ev.message.is_empty() {
            ev.message = c
                .name("msg")
                .map_or_else(String::new, |m| m.as_str().trim().to_string());
        }
        ev.is_failure = true;
    }
    if contains!(text, "logged in")
        && let Some(c) = LOGGED_IN.captures(text)
    {
        ev.reason.get_or_insert_with(|| "Unauthorized".to_string());
        ev.code.get_or_insert(401);
        if ev.message.is_empty() {
            ev.message = c
                .name("msg")
                .map_or_else(|| "Unauthorized".to_string(), |m| m.as_str().to_string());
        }
    }
    if contains!(text, "resource mapping")
        && let Some(c) = MAPPING.captures(text)
    {
        ev.request.name = c
            .name("name")
            .map(|m| m.as_str().to_string())
            .filter(|s| !s.is_empty());
        ev.request.namespace = c
            .name("ns")
            .map(|m| m.as_str().to_string())
            .filter(|s| !s.is_empty());
        ev.notes.push(Note::KindNotMapped);
    }
    if let Some(at) = find!(text, "Unable to connect to the server") {
        ev.transport =
            super::transport::classify_text(&text[at + "Unable to connect to the server".len()..])
                .or(Some(Transport::Connection {
                    failure: ConnectionFailure::Other,
                    os_code: None,
                }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_s_current_configuration_block_names_the_object_escaped_or_not() {
        let block = "Error from server: error when retrieving current configuration of:\nResource: \"/v1, Resource=serviceaccounts\", GroupVersionKind: \"/v1, Kind=ServiceAccount\"\nName: \"admin\", Namespace: \"kube-system\"\nfrom server for: \"users.yml\": etcdserver: request timed out";
        // hitachienergy/epiphany#1085: the same block inside Ansible's JSON (`\n`, `\"`).
        let escaped = serde_json::to_string(block).expect("a string serializes");
        for text in [
            block.to_string(),
            format!("{{\"stderr\": {escaped}, \"rc\": 1}}"),
        ] {
            let mut ev = Evidence::default();
            read(&text, &mut ev);
            let r = &ev.request;
            assert_eq!(r.verb.as_deref(), Some("get"), "{text}");
            assert_eq!(
                (r.resource.as_deref(), r.group.as_deref(), r.kind.as_deref()),
                (Some("serviceaccounts"), Some(""), Some("ServiceAccount"))
            );
            assert_eq!(
                (r.name.as_deref(), r.namespace.as_deref()),
                (Some("admin"), Some("kube-system"))
            );
            assert_eq!(ev.message, "etcdserver: request timed out");
        }
    }

    #[test]
    fn the_framing_names_the_verb() {
        for (text, verb) in [
            (
                r#"Error from server (Forbidden): error when creating "d.yaml": x is forbidden: y"#,
                "create",
            ),
            (
                r#"Error from server (Conflict): error when replacing "d.yaml": x"#,
                "update",
            ),
            (
                "error: failed to create deployment: deployments.apps \"x\" is forbidden: y",
                "create",
            ),
            (
                r#" Error creating: pods "p" is forbidden: violates PodSecurity "restricted:latest": x"#,
                "create",
            ),
        ] {
            let mut ev = Evidence::default();
            read(text, &mut ev);
            assert_eq!(ev.request.verb.as_deref(), Some(verb), "{text}");
        }
    }
}
