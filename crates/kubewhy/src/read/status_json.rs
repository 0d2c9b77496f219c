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
    // kubectl 1.1 printed the Status without its `kind` (`helpers.go:141] server response object: [{ "metadata":
    // {}, "status": "Failure", … }]`, kubernetes/kubernetes#15132): its `"status": "Failure"` marks it then.
    let Some(kind_at) = find_kind_status(text).or_else(|| find_failure(text)) else {
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
        if let Some(value) = status(&candidate).or_else(|| {
            // A paste that lost the escapes of the message's own quotes (`"message":"deployments.extensions
            // "x" Forbidden","reason":…`): the message is the text up to the next Status key.
            requoted_message(&candidate).and_then(|c| status(&c))
        }) {
            fill(&value, ev);
            return true;
        }
    }
    false
}

/// The Status object at the start of `candidate`, if it is one: its `kind` says so, or (without a `kind`) its
/// `status` is `Failure` and it has a numeric `code`.
fn status(candidate: &str) -> Option<Value> {
    let mut stream = serde_json::Deserializer::from_str(candidate).into_iter::<Value>();
    match stream.next() {
        Some(Ok(value)) => {
            let kind = value.get("kind").and_then(Value::as_str);
            let kindless_failure = kind.is_none()
                && value.get("status").and_then(Value::as_str) == Some("Failure")
                && value.get("code").is_some_and(Value::is_u64);
            (kind == Some("Status") || kindless_failure).then_some(value)
        }
        _ => None,
    }
}

/// The offset of a `"status": "Failure"` key (quotes escaped or not), for a Status printed without its `kind`.
fn find_failure(text: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(rel) = text[from..].find("\"status") {
        let at = from + rel;
        let rest = text[at + 7..].trim_start_matches(['\\', '"', ' ', ':']);
        if rest.starts_with("Failure") {
            return Some(at);
        }
        from = at + 7;
    }
    None
}

/// `candidate` with the quotes inside its `message` value escaped again, when a paste lost their escapes: the
/// value ends where the next key of a Status begins (`","reason":`), or the object ends. `None` when there is no
/// such message or nothing to mend.
fn requoted_message(candidate: &str) -> Option<String> {
    const KEY: &str = r#""message":""#;
    const NEXT: [&str; 7] = [
        r#"","reason":"#,
        r#"","details":"#,
        r#"","code":"#,
        r#"","status":"#,
        r#"","metadata":"#,
        r#"","apiVersion":"#,
        r#""}"#,
    ];
    let start = candidate.find(KEY)? + KEY.len();
    let rest = &candidate[start..];
    let end = NEXT.iter().filter_map(|n| rest.find(n)).min()?;
    let value = &rest[..end];
    if !value.contains('"') {
        return None;
    }
    let mut mended = String::with_capacity(candidate.len() + 8);
    mended.push_str(&candidate[..start]);
    let mut escaped = false;
    for c in value.chars() {
        if c == '"' && !escaped {
            mended.push('\\');
        }
        escaped = c == '\\' && !escaped;
        mended.push(c);
    }
    mended.push_str(&rest[end..]);
    Some(mended)
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
    fn a_message_whose_quotes_lost_their_escapes_is_mended() {
        // kubernetes-client/python#1045, as pasted.
        let body = r#"HTTP response body: {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"deployments.extensions "nfs-x" Forbidden","reason":"NotFound","details":{"name":"nfs-x","group":"extensions","kind":"deployments"},"code":403}"#;
        let mut ev = Evidence::default();
        assert!(read(body, &mut ev));
        assert_eq!(ev.message, r#"deployments.extensions "nfs-x" Forbidden"#);
        assert_eq!(
            (ev.code, ev.detail_group.as_deref()),
            (Some(403), Some("extensions"))
        );
    }

    #[test]
    fn a_status_without_its_kind_is_read_by_its_failure() {
        // kubernetes/kubernetes#15132: kubectl 1.1's pretty `server response object: [{…}]`.
        let text = "I1005 helpers.go:141] server response object: [{\n  \"metadata\": {},\n  \"status\": \"Failure\",\n  \"message\": \"persistentvolume \\\"pv0002\\\" already exists\",\n  \"reason\": \"AlreadyExists\",\n  \"code\": 409\n}]";
        let mut ev = Evidence::default();
        assert!(read(text, &mut ev), "{text}");
        assert_eq!(
            (ev.code, ev.reason.as_deref()),
            (Some(409), Some("AlreadyExists"))
        );
        // A success, or a failure without a code, is not taken for an answer.
        assert!(!read(
            r#"{"status": "Failure", "message": "x"}"#,
            &mut Evidence::default()
        ));
    }

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
