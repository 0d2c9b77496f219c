//! Kubernetes API URLs: from a method and a URL (`PATCH /apis/kube.rs/v1/namespaces/ns/documents/a/status`) to
//! the request's verb, group, version, resource, subresource, namespace and name — the same reading the API
//! server's `RequestInfoFactory` makes before it authorizes.

use crate::diagnosis::Request;

/// Reads a method (optional) and a URL (absolute, or a path with query) into a [`Request`] with `method` and
/// `url` set and, for resource URLs, `verb`, `group`, `version`, `resource`, `subresource`, `namespace` and
/// `name`; for other URLs `path`.
///
/// ```
/// let r = kubewhy::read::url::request_from_url(Some("GET"), "/api/v1/namespaces/ns/configmaps?watch=true");
/// assert_eq!(r.verb.as_deref(), Some("watch"));
/// assert_eq!(r.group.as_deref(), Some(""));
/// assert_eq!(r.resource.as_deref(), Some("configmaps"));
/// assert_eq!(r.namespace.as_deref(), Some("ns"));
/// ```
pub fn request_from_url(method: Option<&str>, url: &str) -> Request {
    let mut r = Request {
        method: method.map(|m| m.to_ascii_uppercase()),
        url: Some(url.to_string()),
        ..Request::default()
    };
    fill_from_url(&mut r);
    r
}

/// Fills the missing fields of `r` from its `method` and `url`.
pub fn fill_from_url(r: &mut Request) {
    let Some(url) = r.url.clone() else {
        return;
    };
    // Strip scheme and authority.
    let path_and_query = match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            rest.find('/').map_or("/", |p| &rest[p..])
        }
        None => url.as_str(),
    };
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let watch = query
        .split('&')
        .any(|kv| kv == "watch=true" || kv == "watch=1" || kv == "watch");
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => {
            r.path.get_or_insert_with(|| path.to_string());
            if r.verb.is_none() {
                r.verb = r.method.as_deref().map(|m| m.to_ascii_lowercase());
            }
            return;
        }
    };
    if rest.is_empty() {
        // Discovery of a group version is a non-resource request.
        r.path.get_or_insert_with(|| path.to_string());
        r.verb.get_or_insert_with(|| "get".to_string());
        return;
    }
    let (namespace, rest) = match rest {
        ["namespaces", ns, sub @ ("status" | "finalize")] if group.is_empty() => {
            // The namespace object's own subresource.
            r.resource.get_or_insert_with(|| "namespaces".into());
            r.name.get_or_insert_with(|| ns.to_string());
            r.subresource.get_or_insert_with(|| sub.to_string());
            (None, &[][..])
        }
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(*ns), rest),
        rest => (None, rest),
    };
    if let Some(ns) = namespace {
        r.namespace.get_or_insert_with(|| ns.to_string());
    }
    match rest {
        [resource] => {
            r.resource.get_or_insert_with(|| resource.to_string());
        }
        [resource, name] => {
            r.resource.get_or_insert_with(|| resource.to_string());
            r.name.get_or_insert_with(|| name.to_string());
        }
        [resource, name, sub, ..] => {
            r.resource.get_or_insert_with(|| resource.to_string());
            r.name.get_or_insert_with(|| name.to_string());
            r.subresource.get_or_insert_with(|| sub.to_string());
        }
        [] => {}
    }
    r.group.get_or_insert_with(|| group.to_string());
    r.version.get_or_insert_with(|| version.to_string());
    if r.verb.is_none() {
        let named = r.name.is_some();
        r.verb = match r.method.as_deref() {
            Some("GET") | Some("HEAD") if watch => Some("watch"),
            Some("GET") | Some("HEAD") if named => Some("get"),
            Some("GET") | Some("HEAD") => Some("list"),
            Some("POST") => Some("create"),
            Some("PUT") => Some("update"),
            Some("PATCH") => Some("patch"),
            Some("DELETE") if named => Some("delete"),
            Some("DELETE") => Some("deletecollection"),
            _ if watch => Some("watch"),
            _ => None,
        }
        .map(str::to_string);
    }
}

/// Reads the request from log fields: kube-rs's `HTTP{http.method=GET http.url=..}` span and kubectl's
/// `GET https://.. 403 Forbidden` trace lines. Only fills fields that are missing.
pub(crate) fn from_log_fields(text: &str, r: &mut Request) {
    let value_after = |key: &str| -> Option<String> {
        let at = text.find(key)? + key.len();
        let rest = text[at..].trim_start_matches(['"', '\\']);
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\\' || c == '}' || c == ',')
            .unwrap_or(rest.len());
        (end > 0).then(|| rest[..end].to_string())
    };
    let url = value_after("http.url=").or_else(|| value_after("url.full="));
    let method = value_after("http.method=").or_else(|| value_after("http.request.method="));
    let (method, url) = match (method, url) {
        (m, Some(u)) => (m, u),
        (_, None) => {
            // kubectl -v6: `round_trippers.go:553] GET https://host/api/v1/pods 403 Forbidden in 3 milliseconds`
            let Some((m, u)) = ["GET ", "POST ", "PUT ", "PATCH ", "DELETE "]
                .iter()
                .find_map(|m| {
                    let at = text.find(&format!("{m}https://"))?;
                    let rest = &text[at + m.len()..];
                    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                    Some((m.trim().to_string(), rest[..end].to_string()))
                })
            else {
                return;
            };
            (Some(m), u)
        }
    };
    if !(url.contains("/api") || url.starts_with('/')) {
        return;
    }
    let parsed = request_from_url(method.as_deref(), &url);
    merge_missing(r, &parsed);
}

/// Copies into `r` every field of `from` that `r` lacks.
pub(crate) fn merge_missing(r: &mut Request, from: &Request) {
    macro_rules! take {
        ($($f:ident),*) => {$(
            if r.$f.is_none() {
                r.$f = from.$f.clone();
            }
        )*};
    }
    take!(
        method,
        url,
        verb,
        group,
        version,
        resource,
        subresource,
        kind,
        namespace,
        name,
        path
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_resource_urls() {
        let r = request_from_url(
            Some("patch"),
            "https://127.0.0.1:6443/apis/kube.rs/v1/namespaces/ns/documents/a/status?fieldManager=x",
        );
        assert_eq!(r.verb.as_deref(), Some("patch"));
        assert_eq!(r.group.as_deref(), Some("kube.rs"));
        assert_eq!(r.version.as_deref(), Some("v1"));
        assert_eq!(r.resource.as_deref(), Some("documents"));
        assert_eq!(r.subresource.as_deref(), Some("status"));
        assert_eq!(r.name.as_deref(), Some("a"));
        assert_eq!(r.namespace.as_deref(), Some("ns"));
        let r = request_from_url(Some("GET"), "/api/v1/namespaces/kube-system");
        assert_eq!(
            (r.resource.as_deref(), r.name.as_deref()),
            (Some("namespaces"), Some("kube-system"))
        );
        assert_eq!(r.verb.as_deref(), Some("get"));
        let r = request_from_url(Some("GET"), "/metrics");
        assert_eq!(
            (r.path.as_deref(), r.verb.as_deref()),
            (Some("/metrics"), Some("get"))
        );
        let r = request_from_url(Some("DELETE"), "/apis/apps/v1/namespaces/x/deployments");
        assert_eq!(r.verb.as_deref(), Some("deletecollection"));
    }

    #[test]
    fn reads_kube_rs_spans() {
        let mut r = Request::default();
        from_log_fields(
            r#"DEBUG HTTP{http.method=GET http.url=https://10.0.0.1/apis/kube.rs/v1/documents?&watch=true&timeoutSeconds=290 otel.name="watch" otel.kind="client"}: kube_client::client: requesting"#,
            &mut r,
        );
        assert_eq!(r.verb.as_deref(), Some("watch"));
        assert_eq!(r.resource.as_deref(), Some("documents"));
        assert_eq!(r.group.as_deref(), Some("kube.rs"));
        assert_eq!(r.namespace, None);
    }
}
