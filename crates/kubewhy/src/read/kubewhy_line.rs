//! kubewhy's own text, wherever a program printed it, read back to the same class and request:
//!
//! - its log lines: a watcher's `watcher <name> failing: error[<class>]: ...` or a retry's `reconcile of ... failed:
//!   error[<class>]: ...` with the structured fields `class=`, `code=`, `verb=`, `resource=`, `namespace=`, `user=`,
//!   `url=` (tracing's text format, `key=value` or `key="value"`) or the same fields in tracing's JSON format
//!   (`"class":"forbidden"`);
//! - a diagnosis printed without fields: the one-line form `{d:#}` (`error[<class>]: summary; cause: ...; help:
//!   ...`), the short form `{d}` (`error[<class>]: summary`) and the report's heading (`warning[<class>]: ...`), in
//!   any log format;
//! - the text [`crate::condition`] puts on an object — a condition's message, an event's note — as `kubectl
//!   describe`, `kubectl get events` or `-o yaml` print it: the one-line form and its request clause (`; request:
//!   PATCH /api/v1/... (403 Forbidden) as system:serviceaccount:ns:sa`); a report's `--> PATCH /api/v1/...` line
//!   read with its heading likewise.
//!
//! The fields are evidence like any other: a program that adopted kubewhy prints text `kubewhy explain` reads back,
//! `--fix` included.

use super::Evidence;
use crate::diagnosis::Class;

/// The fields of a line, text or JSON form: the value after `key=` or `"key":`, unquoted.
fn field<'t>(text: &'t str, key: &str) -> Option<&'t str> {
    let mut from = 0;
    while let Some(rel) = text[from..].find(key) {
        let at = from + rel;
        from = at + key.len();
        // A whole key: not the tail of a longer one (`http.url=` is not `url=`).
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
            continue;
        }
        let rest = &text[at + key.len()..];
        let value = if let Some(v) = rest.strip_prefix('=') {
            v
        } else if let Some(v) = rest
            .strip_prefix("\":")
            .or_else(|| rest.strip_prefix("\": "))
        {
            v
        } else {
            continue;
        };
        return Some(match value.strip_prefix('"') {
            Some(quoted) => &quoted[..quoted.find('"').unwrap_or(quoted.len())],
            None => {
                let end = value
                    .find(|c: char| c.is_whitespace() || c == ',' || c == '}')
                    .unwrap_or(value.len());
                &value[..end]
            }
        });
    }
    None
}

/// The class of kubewhy's own heading in `text` (`error[forbidden]:`, `warning[throttled]:`) and where the text
/// after it starts.
fn heading(text: &str) -> Option<(Class, usize)> {
    let mut from = 0;
    while let Some(rel) = text[from..].find("[") {
        let open = from + rel;
        from = open + 1;
        if !(text[..open].ends_with("error") || text[..open].ends_with("warning")) {
            continue;
        }
        let len = text[open + 1..].find(']')?;
        let close = open + 1 + len;
        if !text[close + 1..].starts_with(':') {
            continue;
        }
        if let Ok(class) = text[open + 1..close].parse::<Class>() {
            return Some((class, close + 2));
        }
    }
    None
}

/// A token of a request clause without what quotes or punctuation around the text left on it.
fn bare(token: &str) -> &str {
    token.trim_end_matches(['\'', '"', ',', '}', ';'])
}

/// Reads `[METHOD ]URL[ (CODE[ REASON])][ as USER]` or `verb resource[.group][ in NS][ (CODE…)][ as USER]` — the request clause of [`crate::condition`]'s text, or what a
/// report's `-->` line names — into `ev`.
fn read_request(clause: &str, ev: &mut Evidence) {
    const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
    let mut tokens = clause.split_whitespace().peekable();
    let mut method = None;
    let mut url_seen = false;
    if let Some(m) = tokens.peek().copied().filter(|m| METHODS.contains(m)) {
        method = Some(m.to_string());
        tokens.next();
    }
    if let Some(url) = tokens
        .peek()
        .copied()
        .filter(|u| u.starts_with('/') || u.starts_with("https://") || u.starts_with("http://"))
    {
        tokens.next();
        url_seen = true;
        if ev.request.url.is_none() {
            ev.request.method = ev.request.method.take().or(method);
            ev.request.url = Some(bare(url).to_string());
        }
    }
    // Without a URL: `verb resource[.group][ in namespace]`.
    let api_verb = |t: &&str| crate::vocab::ApiVerb::ALL.iter().any(|v| v.as_str() == *t);
    if !url_seen
        && ev.request.url.is_none()
        && let Some(verb) = tokens.next_if(api_verb)
        && let Some(what) = tokens.next_if(|t| !t.starts_with('('))
    {
        let r = &mut ev.request;
        let (resource, group) = what.split_once('.').unwrap_or((what, ""));
        r.verb = r.verb.take().or(Some(verb.to_string()));
        r.resource = r.resource.take().or(Some(resource.to_string()));
        r.group = r.group.take().or(Some(group.to_string()));
        if tokens.next_if_eq(&"in").is_some()
            && let Some(ns) = tokens.next().map(bare)
        {
            r.namespace = r.namespace.take().or(Some(ns.to_string()));
        }
    }
    if let Some(token) = tokens.peek().copied().filter(|t| t.starts_with('('))
        && let Ok(code) = token[1..].trim_end_matches(')').parse::<u16>()
    {
        tokens.next();
        ev.code = ev.code.or(Some(code));
        if !token.ends_with(')')
            && let Some(reason) = tokens.next_if(|t| t.ends_with(')'))
        {
            let reason = reason.trim_end_matches(')');
            if ev.reason.is_none() && !reason.is_empty() {
                ev.reason = Some(reason.to_string());
            }
        }
    }
    if tokens.next() == Some("as")
        && let Some(user) = tokens
            .next()
            // The line's own syntax after the value: a JSON line's `"},"target":…`.
            .map(|t| &t[..t.find(['"', '\'', ',', '}', ';']).unwrap_or(t.len())])
            .filter(|u| !u.is_empty())
        && ev.user.is_none()
    {
        ev.user = Some(user.to_string());
    }
    crate::url::fill_from_url(&mut ev.request);
}

/// Reads kubewhy's own forms without fields (see the module docs): `true` when `text` holds one.
fn read_printed(text: &str, ev: &mut Evidence) -> bool {
    let Some((class, after)) = heading(text) else {
        return false;
    };
    ev.class_said = Some(class);
    ev.is_failure = true;
    let rest = &text[after..];
    if let Some(at) = rest.find("; request: ") {
        read_request(&rest[at + "; request: ".len()..], ev);
    } else if let Some(at) = rest.find("--> ") {
        read_request(&rest[at + "--> ".len()..], ev);
    }
    true
}

/// Reads kubewhy's own text into `ev`: a log line with its fields (a class kubewhy knows, together with a kubewhy
/// marker: `watcher`, or the `error[class]` of its one-line form), else a diagnosis printed without fields.
pub(crate) fn read(text: &str, ev: &mut Evidence) {
    if !text.contains('[') && !text.contains("class") {
        return;
    }
    let Some(class) = field(text, "class").and_then(|c| c.parse::<Class>().ok()) else {
        read_printed(text, ev);
        return;
    };
    let marked = field(text, "watcher").is_some() || text.contains(&format!("error[{class}]"));
    if !marked {
        read_printed(text, ev);
        return;
    }
    ev.class_said = Some(class);
    ev.is_failure = true;
    let some = |v: Option<&str>| v.filter(|s| !s.is_empty()).map(str::to_string);
    if ev.code.is_none() {
        ev.code = field(text, "code")
            .and_then(|c| c.parse::<u16>().ok())
            .filter(|c| *c > 0);
    }
    ev.user = some(field(text, "user"));
    let r = &mut ev.request;
    r.verb = r.verb.take().or_else(|| some(field(text, "verb")));
    r.resource = r.resource.take().or_else(|| some(field(text, "resource")));
    r.namespace = r
        .namespace
        .take()
        .or_else(|| some(field(text, "namespace")));
    if r.url.is_none()
        && let Some(url) = some(field(text, "url"))
    {
        r.url = Some(url);
        crate::url::fill_from_url(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's example line (kubewhy's text log format).
    const LINE: &str = r#"2026-11-25T09:03:44.268175Z  WARN watcher documents.kube.rs failing: error[forbidden]: service account `doc-controller/doc-controller` cannot `watch` `documents.kube.rs` at cluster scope; cause: denied by authorization; failing for 0s, retrying in 0.4s watcher=documents.kube.rs class=forbidden code=403 verb="watch" resource="documents" namespace="" user="system:serviceaccount:doc-controller:doc-controller" url="/apis/kube.rs/v1/documents?&watch=true&timeoutSeconds=5&allowWatchBookmarks=true&resourceVersion=244" repeated=0"#;

    #[test]
    fn reads_the_fields_of_a_text_line() {
        let mut ev = Evidence::default();
        read(LINE, &mut ev);
        assert_eq!(ev.class_said, Some(Class::Forbidden));
        assert_eq!(ev.code, Some(403));
        assert_eq!(
            ev.user.as_deref(),
            Some("system:serviceaccount:doc-controller:doc-controller")
        );
        let r = &ev.request;
        assert_eq!(
            (r.verb.as_deref(), r.resource.as_deref(), r.group.as_deref()),
            (Some("watch"), Some("documents"), Some("kube.rs"))
        );
        assert_eq!(r.namespace, None);
    }

    #[test]
    fn reads_the_fields_of_a_json_line() {
        let line = r#"{"timestamp":"2026-11-25T09:03:44Z","level":"WARN","fields":{"message":"watcher configmaps failing: error[forbidden]: x","watcher":"configmaps","class":"forbidden","code":403,"verb":"list","resource":"configmaps","namespace":"ns1","user":"alice","url":"/api/v1/namespaces/ns1/configmaps?limit=500"},"target":"kubewhy::watch"}"#;
        let mut ev = Evidence::default();
        read(line, &mut ev);
        assert_eq!(ev.class_said, Some(Class::Forbidden));
        assert_eq!(ev.code, Some(403));
        assert_eq!(ev.request.namespace.as_deref(), Some("ns1"));
        assert_eq!(ev.request.group.as_deref(), Some(""));
    }

    #[test]
    fn reads_a_request_clause_without_a_url() {
        let line = "WARN example: reconcile failed: error[forbidden]: service account `ns1/ro` cannot `patch` \
                    `deployments.apps` in namespace `ns1`; cause: denied; help: grant it; request: patch \
                    deployments.apps in ns1 (403 Forbidden) as system:serviceaccount:ns1:ro";
        let mut ev = Evidence::default();
        read(line, &mut ev);
        assert_eq!(ev.class_said, Some(Class::Forbidden));
        assert_eq!(ev.code, Some(403));
        assert_eq!(ev.user.as_deref(), Some("system:serviceaccount:ns1:ro"));
        let r = &ev.request;
        assert_eq!(
            (
                r.verb.as_deref(),
                r.resource.as_deref(),
                r.group.as_deref(),
                r.namespace.as_deref()
            ),
            (
                Some("patch"),
                Some("deployments"),
                Some("apps"),
                Some("ns1")
            )
        );
    }

    #[test]
    fn ignores_lines_that_are_not_kubewhy_s() {
        for line in [
            "class=forbidden but no marker",
            "watcher=x class=nonsense",
            r#"<div class="error">"#,
        ] {
            let mut ev = Evidence::default();
            read(line, &mut ev);
            assert_eq!(ev.class_said, None, "{line}");
        }
    }
}
