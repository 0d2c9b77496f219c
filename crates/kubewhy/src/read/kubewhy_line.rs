//! kubewhy's own log lines: a watcher's `watcher <name> failing: error[<class>]: ...` with the structured fields
//! `class=`, `code=`, `verb=`, `resource=`, `namespace=`, `user=`, `url=` (tracing's text format, `key=value` or
//! `key="value"`) or the same fields in tracing's JSON format (`"class":"forbidden"`). The fields are evidence like
//! any other: a program that adopted kubewhy logs lines `kubewhy explain` reads back, `--fix` included.

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

/// Reads a kubewhy watcher line's fields into `ev`. Only a line that names a class kubewhy knows, together with
/// a kubewhy marker (`watcher`, or the `error[class]` of its one-line form), is read.
pub(crate) fn read(text: &str, ev: &mut Evidence) {
    if !text.contains("class") {
        return;
    }
    let Some(class) = field(text, "class").and_then(|c| c.parse::<Class>().ok()) else {
        return;
    };
    let marked = field(text, "watcher").is_some() || text.contains(&format!("error[{class}]"));
    if !marked {
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
