//! Reading a Kubernetes API request (method + path and query) as the API server's request-info filter does:
//! the verb, group, version, resource, subresource, namespace and name it addresses.

use crate::diagnosis::Request;

/// What an HTTP method and URI ask of the API server.
///
/// ```
/// let r = kubewhy::trace::parse_request("GET", "/apis/kube.rs/v1/namespaces/ns/documents?watch=true&resourceVersion=5");
/// assert_eq!(r.verb.as_deref(), Some("watch"));
/// assert_eq!((r.group.as_deref(), r.resource.as_deref(), r.namespace.as_deref()), (Some("kube.rs"), Some("documents"), Some("ns")));
/// let r = kubewhy::trace::parse_request("PATCH", "/api/v1/namespaces/default/pods/p1/status");
/// assert_eq!((r.verb.as_deref(), r.subresource.as_deref(), r.name.as_deref()), (Some("patch"), Some("status"), Some("p1")));
/// ```
pub fn parse_request(method: &str, uri: &str) -> Request {
    let (path, query) = match uri.split_once('?') {
        Some((p, q)) => (p, q),
        None => (uri, ""),
    };
    // Absolute URIs (scheme://host/path) are reduced to their path.
    let path = match path.find("://") {
        Some(i) => path[i + 3..].find('/').map_or("/", |j| &path[i + 3 + j..]),
        None => path,
    };
    let method = method.to_ascii_uppercase();
    let mut request = Request {
        method: Some(method.clone()),
        url: Some(uri.to_string()),
        ..Request::default()
    };
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let rest = match parts.as_slice() {
        ["api", version, rest @ ..] => {
            request.group = Some(String::new());
            request.version = Some(version.to_string());
            rest
        }
        ["apis", group, version, rest @ ..] => {
            request.group = Some(group.to_string());
            request.version = Some(version.to_string());
            rest
        }
        _ => {
            request.path = Some(path.to_string());
            request.verb = Some(non_resource_verb(&method).to_string());
            return request;
        }
    };
    let rest = match rest {
        ["namespaces", ns, tail @ ..] if !tail.is_empty() => {
            request.namespace = Some(ns.to_string());
            tail
        }
        other => other,
    };
    match rest {
        [] => {
            // Discovery of a group version: a non-resource request.
            request.path = Some(path.to_string());
            request.verb = Some(non_resource_verb(&method).to_string());
            return request;
        }
        [resource] => request.resource = Some(resource.to_string()),
        [resource, name] => {
            request.resource = Some(resource.to_string());
            request.name = Some(name.to_string());
        }
        [resource, name, sub, ..] => {
            request.resource = Some(resource.to_string());
            request.name = Some(name.to_string());
            request.subresource = Some(sub.to_string());
        }
    }
    let watching = query
        .split('&')
        .any(|kv| kv == "watch=true" || kv == "watch=1");
    let has_name = request.name.is_some();
    let verb = match method.as_str() {
        "GET" | "HEAD" if watching => "watch",
        "GET" | "HEAD" if has_name => "get",
        "GET" | "HEAD" => "list",
        "POST" => "create",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" if has_name => "delete",
        "DELETE" => "deletecollection",
        _ => "",
    };
    if !verb.is_empty() {
        request.verb = Some(verb.to_string());
    }
    request
}

fn non_resource_verb(method: &str) -> &'static str {
    match method {
        "GET" | "HEAD" => "get",
        "POST" => "post",
        "PUT" => "put",
        "PATCH" => "patch",
        "DELETE" => "delete",
        _ => "",
    }
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

    #[test]
    fn reads_resource_requests() {
        let cases: &[(&str, &str, [Option<&str>; 7])] = &[
            (
                "GET",
                "/api/v1/pods",
                [
                    Some("list"),
                    Some(""),
                    Some("v1"),
                    Some("pods"),
                    None,
                    None,
                    None,
                ],
            ),
            (
                "GET",
                "/api/v1/namespaces",
                [
                    Some("list"),
                    Some(""),
                    Some("v1"),
                    Some("namespaces"),
                    None,
                    None,
                    None,
                ],
            ),
            (
                "GET",
                "/api/v1/namespaces/kube-system",
                [
                    Some("get"),
                    Some(""),
                    Some("v1"),
                    Some("namespaces"),
                    None,
                    None,
                    Some("kube-system"),
                ],
            ),
            (
                "GET",
                "/api/v1/namespaces/a/configmaps?watch=1",
                [
                    Some("watch"),
                    Some(""),
                    Some("v1"),
                    Some("configmaps"),
                    None,
                    Some("a"),
                    None,
                ],
            ),
            (
                "POST",
                "/apis/events.k8s.io/v1/namespaces/a/events",
                [
                    Some("create"),
                    Some("events.k8s.io"),
                    Some("v1"),
                    Some("events"),
                    None,
                    Some("a"),
                    None,
                ],
            ),
            (
                "PATCH",
                "/apis/kube.rs/v1/namespaces/a/documents/d/status?fieldManager=x",
                [
                    Some("patch"),
                    Some("kube.rs"),
                    Some("v1"),
                    Some("documents"),
                    Some("status"),
                    Some("a"),
                    Some("d"),
                ],
            ),
            (
                "DELETE",
                "/apis/kube.rs/v1/namespaces/a/documents",
                [
                    Some("deletecollection"),
                    Some("kube.rs"),
                    Some("v1"),
                    Some("documents"),
                    None,
                    Some("a"),
                    None,
                ],
            ),
            (
                "put",
                "/apis/coordination.k8s.io/v1/namespaces/a/leases/l",
                [
                    Some("update"),
                    Some("coordination.k8s.io"),
                    Some("v1"),
                    Some("leases"),
                    None,
                    Some("a"),
                    Some("l"),
                ],
            ),
            (
                "GET",
                "https://127.0.0.1:6443/apis/kube.rs/v1/documents",
                [
                    Some("list"),
                    Some("kube.rs"),
                    Some("v1"),
                    Some("documents"),
                    None,
                    None,
                    None,
                ],
            ),
        ];
        for (method, uri, want) in cases {
            assert_eq!(&facts(&parse_request(method, uri)), want, "{method} {uri}");
        }
    }

    #[test]
    fn reads_non_resource_requests() {
        for (uri, path) in [
            ("/version", "/version"),
            ("/apis/kube.rs/v1", "/apis/kube.rs/v1"),
            ("/healthz?verbose", "/healthz"),
        ] {
            let r = parse_request("GET", uri);
            assert_eq!(r.path.as_deref(), Some(path));
            assert_eq!(r.verb.as_deref(), Some("get"));
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
        ] {
            parse_request("GET", uri);
        }
    }
}
