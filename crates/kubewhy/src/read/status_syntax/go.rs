//! A `Status` printed by Go: a `%#v` dump of an `*errors.StatusError`
//! (`&errors.StatusError{ErrStatus:v1.Status{…, Message:"…", Reason:"…", Code:429}}`), gomega's pretty form of it
//! (`Code: 401,` on its own line) and a Go map (`map[code:410 kind:Status message:… reason:Expired]`, the `%v` of
//! an unstructured `Status`).

use std::sync::LazyLock;

use regex::Regex;

use super::Answer;
use crate::read::escape::string_literal;

/// A `Code` field of a Go `Status`: `Code:429` (`%#v`) or `Code: 401,` (gomega).
static CODE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bCode:\s?(\d{3})\b").expect("the Go Code pattern is valid"));

/// The keys of an unstructured `Status`, as a Go map prints them.
const MAP_KEYS: [&str; 8] = [
    "apiVersion",
    "code",
    "details",
    "kind",
    "message",
    "metadata",
    "reason",
    "status",
];

/// Reads a `Status` printed by Go, in any of the three forms.
pub(crate) fn read(text: &str) -> Option<Answer> {
    struct_form(text).or_else(|| map_form(text))
}

/// `%#v` and gomega: the struct's capitalised fields.
fn struct_form(text: &str) -> Option<Answer> {
    let is_status =
        text.contains("ErrStatus") || text.contains("StatusError") || text.contains("v1.Status{");
    if !is_status {
        return None;
    }
    let code = CODE
        .captures(text)
        .and_then(|c| c[1].parse::<u16>().ok())
        .filter(|c| (100..600).contains(c));
    let field = |name: &str| {
        let at = text.find(&format!("{name}:"))? + name.len() + 1;
        let rest = text[at..].trim_start();
        rest.starts_with('"')
            .then(|| string_literal(rest).0)
            .filter(|s| !s.is_empty())
    };
    let answer = Answer {
        code,
        reason: field("Reason"),
        message: field("Message"),
        ..Answer::default()
    };
    (answer.code.is_some() || answer.message.is_some()).then_some(answer)
}

/// A Go map: `map[code:410 kind:Status message:The resourceVersion … reason:Expired]`. Values are not quoted;
/// each runs to the next known key.
fn map_form(text: &str) -> Option<Answer> {
    let mut from = 0;
    while let Some(rel) = text[from..].find("map[") {
        let open = from + rel + 4;
        from = open;
        let Some(body) = map_body(&text[open..]) else {
            continue;
        };
        let value = |key: &str| map_value(body, key);
        if value("kind").as_deref() != Some("Status")
            && value("status").as_deref() != Some("Failure")
        {
            continue;
        }
        let answer = Answer {
            code: value("code")
                .and_then(|c| c.parse().ok())
                .filter(|c| (100..600).contains(c)),
            reason: value("reason").filter(|r| !r.is_empty()),
            message: value("message").filter(|m| !m.is_empty()),
            ..Answer::default()
        };
        return (!answer.is_empty()).then_some(answer);
    }
    None
}

/// The text of a map up to its matching `]` (or the end of the text).
fn map_body(s: &str) -> Option<&str> {
    let mut depth = 1usize;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&s[..i]);
                }
            }
            _ => {}
        }
    }
    (!s.is_empty()).then_some(s)
}

/// The value of `key:` at the top level of a map's text, up to the next top-level key.
fn map_value(body: &str, key: &str) -> Option<String> {
    let start = top_level_key(body, key)? + key.len() + 1;
    let end = MAP_KEYS
        .iter()
        .filter_map(|k| top_level_key(&body[start..], k).map(|i| start + i))
        .min()
        .map_or(body.len(), |i| i.saturating_sub(1).max(start));
    Some(body[start..end].trim().to_string())
}

/// Where `key:` starts a field at nesting level 0 of a map's text (after the start or a space).
fn top_level_key(body: &str, key: &str) -> Option<usize> {
    let pattern = format!("{key}:");
    let mut depth = 0usize;
    let bytes = body.as_bytes();
    for (i, c) in body.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            _ if depth == 0
                && body[i..].starts_with(&pattern)
                && (i == 0 || bytes[i - 1] == b' ') =>
            {
                return Some(i);
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_error_dump_gives_code_reason_and_message() {
        // banzaicloud admission-webhook-example (%#v).
        let text = r#"W0608 19:39:02.558911       1 dispatcher.go:141] rejected by webhook "required-labels.banzaicloud.com": &errors.StatusError{ErrStatus:v1.Status{TypeMeta:v1.TypeMeta{Kind:"", APIVersion:""}, ListMeta:v1.ListMeta{SelfLink:"", ResourceVersion:"", Continue:"", RemainingItemCount:(*int64)(nil)}, Status:"Failure", Message:"admission webhook \"required-labels.banzaicloud.com\" denied the request: fake reason", Reason:"fake reason", Details:(*v1.StatusDetails)(nil), Code:400}}"#;
        let a = read(text).unwrap();
        assert_eq!(a.code, Some(400));
        assert_eq!(a.reason.as_deref(), Some("fake reason"));
        assert_eq!(
            a.message.as_deref(),
            Some(
                "admission webhook \"required-labels.banzaicloud.com\" denied the request: fake reason"
            )
        );
    }

    #[test]
    fn gomega_s_pretty_status_error_gives_its_code() {
        // multicloud-operators-foundation e2e.
        let text = "Unexpected error:\n    <*errors.StatusError | 0xc0005494a0>: {\n        ErrStatus: {\n            TypeMeta: {Kind: \"\", APIVersion: \"\"},\n            Status: \"Failure\",\n            Message: \"Unauthorized\",\n            Reason: \"Unauthorized\",\n            Details: nil,\n            Code: 401,\n        },\n    }\n    Unauthorized\noccurred";
        let a = read(text).unwrap();
        assert_eq!(a.code, Some(401));
        assert_eq!(a.reason.as_deref(), Some("Unauthorized"));
    }

    #[test]
    fn a_go_map_gives_its_status_with_unquoted_values() {
        // jaeger-operator#103.
        let text = "watch of *unstructured.Unstructured ended with: unexpected object: &{map[code:410 kind:Status apiVersion:v1 metadata:map[] status:Failure message:The resourceVersion for the provided watch is too old. reason:Expired]}";
        let a = read(text).unwrap();
        assert_eq!(a.code, Some(410));
        assert_eq!(a.reason.as_deref(), Some("Expired"));
        assert_eq!(
            a.message.as_deref(),
            Some("The resourceVersion for the provided watch is too old.")
        );
        let nested = "map[apiVersion:v1 code:403 details:map[group:apps kind:deployments] kind:Status message:deployments.apps is forbidden: User \"u\" cannot list resource \"deployments\" reason:Forbidden status:Failure]";
        let b = read(nested).unwrap();
        assert_eq!(b.code, Some(403));
        assert_eq!(b.reason.as_deref(), Some("Forbidden"));
        assert!(b.message.unwrap().ends_with("\"deployments\""));
    }

    #[test]
    fn text_that_only_looks_like_go_gives_nothing() {
        assert_eq!(read("map[a:1 b:2] exit Code:200"), None);
        assert_eq!(read("map[kind:Status"), None);
        assert_eq!(read("ErrStatus"), None);
        assert_eq!(read("exit Code: 401, no Go status here"), None);
    }
}
