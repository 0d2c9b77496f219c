//! `metav1.Status` JSON bodies (`{"kind":"Status","apiVersion":"v1","status":"Failure",...}`), alone or inside
//! a log line, plain or escaped as a JSON string.

use serde_json::Value;

use super::Evidence;
use super::escape::normalize_from;
use crate::cause::FieldError;

/// How many `{` before the `kind` key are tried as the object's start.
const CANDIDATES: usize = 8;

/// Reads the first Status object in the text into `ev`. Returns whether one was found.
pub(crate) fn read(text: &str, ev: &mut Evidence) -> bool {
    let Some(kind_at) = find_kind_status(text) else {
        return false;
    };
    let mut tried = 0;
    let mut end = kind_at;
    while tried < CANDIDATES {
        let Some(open) = text[..end].rfind('{') else {
            break;
        };
        tried += 1;
        end = open;
        let first_quote = match text[open..].find('"') {
            Some(q) => open + q,
            None => continue,
        };
        let candidate = normalize_from(text, open, first_quote);
        let mut stream = serde_json::Deserializer::from_str(&candidate).into_iter::<Value>();
        if let Some(Ok(value)) = stream.next()
            && value.get("kind").and_then(Value::as_str) == Some("Status")
        {
            fill(&value, ev);
            return true;
        }
    }
    false
}

/// The offset of a `"kind": "Status"` key (quotes escaped or not).
fn find_kind_status(text: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(rel) = text[from..].find("kind") {
        let at = from + rel;
        let rest = text[at + 4..].trim_start_matches(['\\', '"', ' ', ':']);
        if rest.starts_with("Status") && !rest[6..].starts_with(|c: char| c.is_ascii_alphanumeric())
        {
            return Some(at);
        }
        from = at + 4;
    }
    None
}

fn fill(v: &Value, ev: &mut Evidence) {
    let s = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    ev.message = s(v, "message").unwrap_or_default();
    ev.reason = s(v, "reason");
    ev.code = v
        .get("code")
        .and_then(Value::as_u64)
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| *c > 0);
    if let Some(d) = v.get("details") {
        ev.detail_name = s(d, "name");
        ev.detail_group = s(d, "group");
        ev.detail_kind = s(d, "kind");
        ev.retry_after = d
            .get("retryAfterSeconds")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0);
        if let Some(causes) = d.get("causes").and_then(Value::as_array) {
            ev.causes = causes
                .iter()
                .map(|c| FieldError {
                    reason: s(c, "reason").unwrap_or_default(),
                    message: s(c, "message").unwrap_or_default(),
                    field: s(c, "field").unwrap_or_default(),
                })
                .collect();
        }
    }
    ev.is_failure = v.get("status").and_then(Value::as_str) != Some("Success");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_status_body_and_an_escaped_one() {
        let body = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"documents.kube.rs \"nope\" not found","reason":"NotFound","details":{"name":"nope","group":"kube.rs","kind":"documents"},"code":404}"#;
        let mut ev = Evidence::default();
        assert!(read(&format!("E0101 body: {body}"), &mut ev));
        assert_eq!(ev.code, Some(404));
        assert_eq!(ev.detail_kind.as_deref(), Some("documents"));
        let escaped = serde_json::to_string(&serde_json::json!({ "body": body })).unwrap();
        let mut ev2 = Evidence::default();
        assert!(read(&escaped, &mut ev2), "{escaped}");
        assert_eq!(ev2.message, "documents.kube.rs \"nope\" not found");
    }
}
