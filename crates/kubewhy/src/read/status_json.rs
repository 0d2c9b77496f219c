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
        // A Status that lost every double quote (`{kind:Status,…,message:pods is forbidden: User
        // \system:serviceaccount:a:b\ cannot …,code:403}`, bitnami/charts#13544): its first key is bare.
        if text[open + 1..]
            .trim_start()
            .starts_with(|c: char| c.is_ascii_alphabetic())
        {
            if let Some(value) = unquoted(&text[open..]).and_then(|c| status(&c)) {
                fill(&value, ev);
                return true;
            }
            continue;
        }
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
        // A pretty-printed Status whose string a wrap broke over lines (a hanging indent under kubectl 1.1's
        // `server response object: [{`): the line break inside the string was a space.
        // (Once: a control character other than a line break, a tab, is still one after it.)
        Some(Err(e)) if e.is_syntax() && e.to_string().contains("control character") => {
            let mended = breaks_in_strings_as_spaces(candidate);
            (mended != candidate).then(|| status(&mended)).flatten()
        }
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

/// `text` with each line break inside a JSON string (and the indent after it) made one space.
fn breaks_in_strings_as_spaces(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut quoted, mut escaped, mut skip_indent) = (false, false, false);
    for c in text.chars() {
        if skip_indent && c == ' ' {
            continue;
        }
        skip_indent = false;
        match c {
            '\n' | '\r' if quoted => {
                if !out.ends_with(' ') {
                    out.push(' ');
                }
                skip_indent = true;
                continue;
            }
            '"' if !escaped => quoted = !quoted,
            _ => {}
        }
        escaped = c == '\\' && !escaped;
        out.push(c);
    }
    out
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

/// The keys of a `Status` (and of its `details` and causes) that end a quote-less message: the message runs to the
/// first `,<key>:` (or ` reason: `, a paste that lost the comma too) after it.
const STATUS_KEYS: [&str; 7] = [
    "reason",
    "details",
    "code",
    "status",
    "metadata",
    "apiVersion",
    "kind",
];

/// A `Status` object that lost every double quote, as JSON again: keys are words before a `:`, a value runs to the
/// next `,` or closing bracket, the `message` to the next key of a Status; where an escaped quote was, its
/// backslashes are left (`User \system:serviceaccount:a:b\ cannot …`), and they are quotes again. `None` when
/// `text` (from its `{`) is not such an object.
fn unquoted(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 64);
    // What follows the object is not part of it.
    unquoted_value(text.trim_start(), "", &mut out, 0)?;
    Some(out)
}

/// Converts one quote-less JSON value at the start of `s` (the value of `key`) into `out`; returns what follows it.
fn unquoted_value<'s>(s: &'s str, key: &str, out: &mut String, depth: usize) -> Option<&'s str> {
    if depth > 8 {
        return None;
    }
    let s = s.trim_start();
    // An object (its keys bare words before a colon) or an array; a paste cut at its end closes what is open.
    for (open, close) in [('{', '}'), ('[', ']')] {
        let Some(mut rest) = s.strip_prefix(open) else {
            continue;
        };
        out.push(open);
        let mut first = true;
        loop {
            rest = rest.trim_start().trim_start_matches(',').trim_start();
            if let Some(after) = rest.strip_prefix(close).or(rest.is_empty().then_some(rest)) {
                out.push(close);
                return Some(after);
            }
            if !first {
                out.push(',');
            }
            first = false;
            let mut name = "";
            if open == '{' {
                let colon = rest.find(':')?;
                name = rest[..colon].trim();
                let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
                if name.is_empty() || !name.chars().all(word) {
                    return None;
                }
                out.push_str(&serde_json::to_string(name).ok()?);
                out.push(':');
                rest = &rest[colon + 1..];
            }
            rest = unquoted_value(rest, name, out, depth + 1)?;
        }
    }
    let end = if key == "message" {
        message_end(s)
    } else {
        s.find([',', '}', ']', '\n']).unwrap_or(s.len())
    };
    let value = s[..end].trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        out.push_str(value);
    } else {
        // Where a quote was escaped, a paste that dropped the quotes left its backslashes: a run of them between
        // two spaces was an empty value (`in API group \\ in …`), any other an opening or closing quote.
        let mut text = String::with_capacity(value.len());
        let mut chars = value.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\\' {
                while chars.peek() == Some(&'\\') {
                    chars.next();
                }
                let spaced_before = text.is_empty() || text.ends_with(' ');
                let spaced_after = chars.peek().is_none_or(|n| *n == ' ');
                text.push_str(if spaced_before && spaced_after {
                    "\"\""
                } else {
                    "\""
                });
            } else {
                text.push(c);
            }
        }
        out.push_str(&serde_json::to_string(&text).ok()?);
    }
    Some(&s[end..])
}

/// Where a quote-less message ends: at the first `,<key>:` of a Status key after it (or ` reason: `), else at the
/// object's last closing brace.
fn message_end(s: &str) -> usize {
    let mut best = None::<usize>;
    for key in STATUS_KEYS {
        let mut from = 0;
        while let Some(rel) = s[from..].find(key) {
            let at = from + rel;
            from = at + key.len();
            let after = s[from..].trim_start();
            if !after.starts_with(':') {
                continue;
            }
            let before = s[..at].trim_end();
            let start = if before.ends_with(',') {
                Some(before.len() - 1)
            } else if key == "reason" && at > 0 && s[..at].ends_with(' ') {
                Some(before.len())
            } else {
                None
            };
            if let Some(start) = start {
                best = Some(best.map_or(start, |b| b.min(start)));
                break;
            }
        }
    }
    best.unwrap_or_else(|| s.rfind('}').unwrap_or(s.len()))
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
    fn a_control_character_that_is_not_a_line_break_ends_the_search() {
        // A tab inside a string stays a control character once line breaks are spaces: no endless retry.
        let body =
            "{\"kind\": \"Status\", \"status\": \"Failure\", \"message\": \"a\tb\", \"code\": 500}";
        let mut ev = Evidence::default();
        assert!(!read(body, &mut ev), "{body}");
        let wrapped = "{\"kind\": \"Status\", \"status\": \"Failure\", \"message\": \"pods is\n   forbidden\", \"code\": 403}";
        let mut ev = Evidence::default();
        assert!(read(wrapped, &mut ev), "{wrapped}");
        assert_eq!(ev.message, "pods is forbidden");
    }

    #[test]
    fn a_status_that_lost_its_quotes_is_read() {
        // bitnami/charts#13544, as pasted: no double quote left, a backslash where an escaped one was, the comma
        // before `reason` and the one before `code` lost too.
        let body = r"HTTP response body: {kind:Status, apiVersion:v1,metadata:{},status:failure,message:pods is forbidden: User \system:serviceaccount:ns:default\ cannot list resource pods in API group \ in the namespace ns reason: Forbidden, details: {kind:pods} code: 403";
        let mut ev = Evidence::default();
        assert!(read(body, &mut ev), "{body}");
        assert_eq!(
            ev.message,
            r#"pods is forbidden: User "system:serviceaccount:ns:default" cannot list resource pods in API group "" in the namespace ns"#
        );
        assert_eq!(
            (ev.reason.as_deref(), ev.detail_kind.as_deref()),
            (Some("Forbidden"), Some("pods"))
        );
        // Whole, keys in any order, a message with commas and colons of its own.
        let body = r"{apiVersion:v1,code:409,details:{group:apps,kind:deployments,name:web},kind:Status,message:Operation cannot be fulfilled on deployments.apps \web\: the object has been modified; please apply your changes to the latest version and try again,metadata:{},reason:Conflict,status:Failure}";
        let mut ev = Evidence::default();
        assert!(read(body, &mut ev), "{body}");
        assert_eq!(
            (
                ev.code,
                ev.detail_name.as_deref(),
                ev.detail_group.as_deref()
            ),
            (Some(409), Some("web"), Some("apps"))
        );
        assert!(
            ev.message.starts_with(
                r#"Operation cannot be fulfilled on deployments.apps "web": the object"#
            )
        );
        assert!(ev.message.ends_with("and try again"), "{}", ev.message);
        // Words that are not an object are not one.
        assert!(!read(
            "kind:Status is what we wanted {not: [a, status",
            &mut Evidence::default()
        ));
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
