//! The one reading of a Kubernetes API request: from a method and a URL to the verb, group, version, resource,
//! subresource, namespace and name it addresses — the reading of the API server's `RequestInfoFactory`
//! (k8s.io/apiserver `endpoints/request/requestinfo.go`) that authorization and admission see. The request
//! inspector, the log readers and `diagnose_in` all use it.
//!
//! Reading where a request is named in a log line (a span's `http.url=`, a curl command) is a reader's job:
//! `read::log_fields` finds the method and URL there and hands them to this parser.
//!
//! Where a naive reading goes wrong, the API server's wins: `/api/v1/namespaces/ns/status` is the `status`
//! subresource of the namespace `ns` (in the namespace `ns`), not a resource `status` in it; a GET of a named
//! object is a `get` even with `watch=true`; `/api/v1/watch/...` is a watch; a non-resource URL's verb is the
//! lower-case method.

use crate::diagnosis::Request;

/// Path segments the API server treats as verbs (`/api/v1/watch/namespaces/ns/pods`).
const SPECIAL_VERBS: [&str; 2] = ["proxy", "watch"];
/// Subresources of a namespace (`/api/v1/namespaces/ns/status`).
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];

/// What an HTTP method and URI ask of the API server: `method` and `url` as given, and the fields the API
/// server derives (a non-resource URL sets `path`).
///
/// ```
/// let r = kubewhy::url::parse_request("GET", "/apis/kube.rs/v1/namespaces/ns/documents?watch=true&resourceVersion=5");
/// assert_eq!(r.verb.as_deref(), Some("watch"));
/// assert_eq!((r.group.as_deref(), r.resource.as_deref(), r.namespace.as_deref()), (Some("kube.rs"), Some("documents"), Some("ns")));
/// let r = kubewhy::url::parse_request("PATCH", "/api/v1/namespaces/default/pods/p1/status");
/// assert_eq!((r.verb.as_deref(), r.subresource.as_deref(), r.name.as_deref()), (Some("patch"), Some("status"), Some("p1")));
/// ```
pub fn parse_request(method: &str, uri: &str) -> Request {
    let mut r = Request {
        method: Some(method.to_ascii_uppercase()),
        url: Some(uri.to_string()),
        ..Request::default()
    };
    fill_from_url(&mut r);
    r
}

/// The server part of a URL: `https://10.0.0.1:6443` of `https://10.0.0.1:6443/api?timeout=32s`, or the
/// `host:port` kubectl names a server by; `None` for a bare path.
///
/// ```
/// assert_eq!(kubewhy::url::origin("https://10.0.0.1:6443/api/v1/pods?watch=1"), Some("https://10.0.0.1:6443"));
/// assert_eq!(kubewhy::url::origin("localhost:8080"), Some("localhost:8080"));
/// assert_eq!(kubewhy::url::origin("/api/v1/pods"), None);
/// ```
pub fn origin(url: &str) -> Option<&str> {
    if url.is_empty() || url.starts_with('/') {
        return None;
    }
    let start = url.find("://").map_or(0, |i| i + 3);
    Some(
        url[start..]
            .find(['/', '?'])
            .map_or(url, |end| &url[..start + end]),
    )
}

/// Fills the fields of `r` that are missing from its `method` and `url` (the fields it has are kept: a server
/// message that names the request is more authoritative than a URL).
pub fn fill_from_url(r: &mut Request) {
    let Some(url) = r.url.as_deref() else {
        return;
    };
    let info = RequestInfo::read(r.method.as_deref(), url);
    merge_missing(r, &info.into_request());
}

/// The fields the API server derives from one request.
#[derive(Debug, Default, PartialEq, Eq)]
struct RequestInfo {
    verb: Option<String>,
    group: Option<String>,
    version: Option<String>,
    resource: Option<String>,
    subresource: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
    /// Set for a non-resource request.
    path: Option<String>,
}

impl RequestInfo {
    fn read(method: Option<&str>, url: &str) -> RequestInfo {
        // Absolute URLs (scheme://host/path) are reduced to their path.
        let path_and_query = match url.find("://") {
            Some(i) => url[i + 3..].find('/').map_or("/", |p| &url[i + 3 + p..]),
            None => url,
        };
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let method = method.map(str::to_ascii_uppercase);
        let non_resource = || RequestInfo {
            verb: method.as_deref().map(str::to_ascii_lowercase),
            path: Some(path.to_string()),
            ..RequestInfo::default()
        };
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let (group, rest) = match parts.as_slice() {
            ["api", rest @ ..] if rest.len() >= 2 => ("", rest),
            ["apis", group, rest @ ..] if rest.len() >= 2 => (*group, rest),
            _ => return non_resource(),
        };
        let mut info = RequestInfo {
            group: Some(group.to_string()),
            version: Some(rest[0].to_string()),
            ..RequestInfo::default()
        };
        let mut rest = &rest[1..];
        let mut verb = match method.as_deref() {
            Some("POST") => Some("create"),
            Some("GET" | "HEAD") => Some("get"),
            Some("PUT") => Some("update"),
            Some("PATCH") => Some("patch"),
            Some("DELETE") => Some("delete"),
            // Without a method, a `watch=true` query still says it was a GET (a log line that names only the URL).
            None if watching(query) => Some("get"),
            _ => None,
        }
        .map(str::to_string);
        if let Some(special) = rest.first().filter(|s| SPECIAL_VERBS.contains(s)) {
            verb = Some(special.to_string());
            rest = &rest[1..];
        }
        if rest.first() == Some(&"namespaces") && rest.len() > 1 {
            info.namespace = Some(rest[1].to_string());
            if rest.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&rest[2]) {
                rest = &rest[2..];
            }
        }
        if rest.len() >= 3 && verb.as_deref() != Some("proxy") {
            info.subresource = Some(rest[2].to_string());
        }
        if rest.len() >= 2 {
            info.name = Some(rest[1].to_string());
        }
        if let Some(resource) = rest.first() {
            info.resource = Some(resource.to_string());
        }
        let query_name = query_value(query, "fieldSelector").and_then(|s| {
            let s = s.replace("%3D", "=").replace("%3d", "=");
            s.split(',')
                .find_map(|term| term.strip_prefix("metadata.name="))
                .map(str::to_string)
        });
        if info.name.is_none() && verb.as_deref() == Some("get") {
            verb = Some(if watching(query) { "watch" } else { "list" }.to_string());
            info.name = query_name.clone();
        }
        if info.name.is_none() && verb.as_deref() == Some("delete") {
            verb = Some("deletecollection".to_string());
        }
        info.verb = verb;
        info
    }

    fn into_request(self) -> Request {
        Request {
            verb: self.verb,
            group: self.group,
            version: self.version,
            resource: self.resource,
            subresource: self.subresource,
            namespace: self.namespace,
            name: self.name,
            path: self.path,
            ..Request::default()
        }
    }
}

/// Whether the query asks for a watch (`watch`, `watch=true`, `watch=1`; not `watch=false` or `watch=0`).
fn watching(query: &str) -> bool {
    query_value(query, "watch")
        .is_some_and(|v| !matches!(v, "false" | "0" | "f" | "F" | "FALSE" | "False"))
}

/// The first value of a query parameter (`None` when it is absent; `Some("")` for `?watch`).
fn query_value<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query.split('&').find_map(|kv| match kv.split_once('=') {
        Some((k, v)) if k == key => Some(v),
        None if kv == key => Some(""),
        _ => None,
    })
}

/// Copies into `r` every field of `from` that `r` lacks.
pub fn merge_missing(r: &mut Request, from: &Request) {
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
        path,
        audit_id,
        flow_schema_uid,
        priority_level_uid
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(r: &Request) -> [Option<&str>; 7] {
        [
            r.verb.as_deref(),
            r.group.as_deref(),
            r.version.as_deref(),
            r.resource.as_deref(),
            r.subresource.as_deref(),
            r.namespace.as_deref(),
            r.name.as_deref(),
        ]
    }

    /// Each case as the API server reads it (k8s.io/apiserver v0.36 `requestinfo.go`, `requestinfo_test.go`).
    #[test]
    fn reads_resource_requests_as_the_api_server_does() {
        #[rustfmt::skip]
        let cases: &[(&str, &str, [Option<&str>; 7])] = &[
            ("GET", "/api/v1/pods", [Some("list"), Some(""), Some("v1"), Some("pods"), None, None, None]),
            ("GET", "/api/v1/namespaces", [Some("list"), Some(""), Some("v1"), Some("namespaces"), None, None, None]),
            // A namespace is in itself: RBAC in namespace `kube-system` can grant `get` on it.
            ("GET", "/api/v1/namespaces/kube-system", [Some("get"), Some(""), Some("v1"), Some("namespaces"), None, Some("kube-system"), Some("kube-system")]),
            // The namespace's own subresources (the case the two former parsers read differently).
            ("PUT", "/api/v1/namespaces/ns/status", [Some("update"), Some(""), Some("v1"), Some("namespaces"), Some("status"), Some("ns"), Some("ns")]),
            ("PUT", "/api/v1/namespaces/ns/finalize", [Some("update"), Some(""), Some("v1"), Some("namespaces"), Some("finalize"), Some("ns"), Some("ns")]),
            ("GET", "/api/v1/namespaces/a/configmaps?watch=1", [Some("watch"), Some(""), Some("v1"), Some("configmaps"), None, Some("a"), None]),
            ("GET", "/api/v1/namespaces/a/configmaps?watch", [Some("watch"), Some(""), Some("v1"), Some("configmaps"), None, Some("a"), None]),
            ("GET", "/api/v1/namespaces/a/configmaps?watch=false", [Some("list"), Some(""), Some("v1"), Some("configmaps"), None, Some("a"), None]),
            // A named GET is a get, whatever the query says.
            ("GET", "/api/v1/namespaces/a/configmaps/c?watch=true", [Some("get"), Some(""), Some("v1"), Some("configmaps"), None, Some("a"), Some("c")]),
            // The deprecated watch path, and a watch of one object by field selector.
            ("GET", "/api/v1/watch/namespaces/a/pods/p", [Some("watch"), Some(""), Some("v1"), Some("pods"), None, Some("a"), Some("p")]),
            ("GET", "/api/v1/namespaces/a/pods?watch=true&fieldSelector=metadata.name%3Dp", [Some("watch"), Some(""), Some("v1"), Some("pods"), None, Some("a"), Some("p")]),
            ("GET", "/api/v1/namespaces/a/pods/p/proxy/x/y", [Some("get"), Some(""), Some("v1"), Some("pods"), Some("proxy"), Some("a"), Some("p")]),
            ("POST", "/apis/events.k8s.io/v1/namespaces/a/events", [Some("create"), Some("events.k8s.io"), Some("v1"), Some("events"), None, Some("a"), None]),
            ("PATCH", "/apis/kube.rs/v1/namespaces/a/documents/d/status?fieldManager=x", [Some("patch"), Some("kube.rs"), Some("v1"), Some("documents"), Some("status"), Some("a"), Some("d")]),
            ("DELETE", "/apis/kube.rs/v1/namespaces/a/documents", [Some("deletecollection"), Some("kube.rs"), Some("v1"), Some("documents"), None, Some("a"), None]),
            ("put", "/apis/coordination.k8s.io/v1/namespaces/a/leases/l", [Some("update"), Some("coordination.k8s.io"), Some("v1"), Some("leases"), None, Some("a"), Some("l")]),
            ("GET", "https://127.0.0.1:6443/apis/kube.rs/v1/documents", [Some("list"), Some("kube.rs"), Some("v1"), Some("documents"), None, None, None]),
        ];
        for (method, uri, want) in cases {
            assert_eq!(&facts(&parse_request(method, uri)), want, "{method} {uri}");
        }
    }

    #[test]
    fn reads_non_resource_requests() {
        for (method, uri, path, verb) in [
            ("GET", "/version", "/version", "get"),
            ("GET", "/apis/kube.rs/v1", "/apis/kube.rs/v1", "get"),
            ("GET", "/api/v1", "/api/v1", "get"),
            ("GET", "/healthz?verbose", "/healthz", "get"),
            ("POST", "/metrics", "/metrics", "post"),
        ] {
            let r = parse_request(method, uri);
            assert_eq!(r.path.as_deref(), Some(path), "{uri}");
            assert_eq!(r.verb.as_deref(), Some(verb), "{uri}");
            assert_eq!(r.resource, None);
        }
    }

    #[test]
    fn never_panics_on_odd_input() {
        for uri in [
            "",
            "/",
            "?",
            "//",
            "/apis",
            "/api",
            "http://",
            "/apis/g",
            "/api/v1/namespaces/",
            "/api/v1/watch",
            "/api/v1/proxy/",
            "?watch&&=&fieldSelector",
        ] {
            parse_request("GET", uri);
        }
    }

    #[test]
    fn a_known_field_is_kept_when_the_url_is_read() {
        let mut known = Request {
            verb: Some("list".into()),
            method: Some("GET".into()),
            url: Some("/api/v1/namespaces/x/pods?watch=true".into()),
            ..Request::default()
        };
        fill_from_url(&mut known);
        assert_eq!(known.verb.as_deref(), Some("list"), "a known verb is kept");
        assert_eq!(known.namespace.as_deref(), Some("x"));
    }
}
