//! Where a log line names the request it is about: a tracing span's fields (`http.method=`, `http.url=`,
//! `url.full=`), the URL clients put in their errors (reqwest, fabric8, node-fetch, urllib3, Go's `net/url.Error`),
//! kubectl's trace lines and a curl command pasted above its answer. What it finds is read by the one URL parser ([`crate::url`]).

use std::sync::LazyLock;

use memchr::memmem::Finder;
use regex::Regex;

use crate::diagnosis::Request;
use crate::url::{fill_from_url, merge_missing};

/// A program's words for the call that failed, before the error it wraps: `failed to delete StatefulSet ns/name:`,
/// `failed to get ReplicationController "x" in Namespace "ns":` (Go and Rust operators wrap a client's error so).
static PROGRAM_CALL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"\b[Ff]ailed\s+to\s+(?P<verb>get|list|watch|create|update|patch|delete)\s+(?P<kind>[A-Z][A-Za-z0-9]+)(?:\s+(?:(?P<ns>[a-z0-9][a-z0-9\-]*)/(?P<name>[a-z0-9][a-z0-9.\-]*)|"(?P<qname>[^"\\]+)"(?:\s+in\s+[Nn]amespace\s+"(?P<qns>[^"\\]+)")?))?:\s"#,
    )
    .expect("the program call pattern is valid")
});

/// Reads the request from log fields: kube-rs's `HTTP{http.method=GET http.url=..}` span, OpenTelemetry's
/// `url.full=`, reqwest's and hyper's `for url (https://..)`, fabric8's `executing: GET at: https://..`, node-fetch's
/// `request to https://.. failed`, fabric8 2.x's `Error accessing: https://..,due to:`, urllib3's `Max retries exceeded with url: /..`, and kubectl's `GET https://.. 403
/// Forbidden` trace lines. Only fills fields that are missing.
pub(crate) fn read(text: &str, r: &mut Request) {
    let value_after = |key: &Finder| -> Option<String> {
        let at = key.find(text.as_bytes())? + key.needle().len();
        let rest = text[at..].trim_start_matches(['"', '\\']);
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\\' || c == '}' || c == ',')
            .unwrap_or(rest.len());
        (end > 0).then(|| rest[..end].to_string())
    };
    // reqwest and hyper: `error sending request for url (https://…): …`.
    let in_parens = || {
        let at = find!(text, "for url (")? + "for url (".len();
        let rest = &text[at..];
        let end = rest
            .find(|c: char| c == ')' || c.is_whitespace())
            .unwrap_or(rest.len());
        (end > 0).then(|| rest[..end].to_string())
    };
    // A URL after a client's words: up to white space or a quote, less the full stop fabric8 ends its sentence with.
    let after = |marker: &Finder| -> Option<String> {
        let at = marker.find(text.as_bytes())? + marker.needle().len();
        let rest = text[at..].trim_start();
        let end = rest
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\\' | '\'' | ')'))
            .unwrap_or(rest.len());
        let url = rest[..end].trim_end_matches(['.', ',', ':']);
        (!url.is_empty()).then(|| url.to_string())
    };
    // urllib3's retry warning ends with the request's path: `Retrying (Retry(…)) after connection broken by '…': /api/…`
    // (markdown bold a reporter put around the line may stick to it).
    let urllib3_retry = || {
        let at = find!(text, "after connection broken by ")?;
        let rest = &text[at..];
        let path_at = rest.rfind("': /")? + "': ".len();
        let path = &rest[path_at..];
        let end = path.find(char::is_whitespace).unwrap_or(path.len());
        let path = path[..end].trim_end_matches('*');
        (path.len() > 1).then(|| path.to_string())
    };
    // fabric8: `Failure executing: GET at: https://…/pods.` / `Error executing: GET at: https://…. Cause: …`.
    let fabric8 = || {
        let at = find!(text, "executing: ")? + "executing: ".len();
        let (method, rest) = text[at..].split_once(" at: ")?;
        let method = method.trim();
        let url = after_in(rest)?;
        (method.chars().all(|c| c.is_ascii_uppercase()) && !method.is_empty())
            .then(|| (method.to_string(), url))
    };
    let url = value_after(finder!("http.url="))
        .or_else(|| value_after(finder!("url.full=")))
        .or_else(in_parens)
        .or_else(|| after(finder!("request to ")))
        .or_else(|| after(finder!("exceeded with url: ")))
        // fabric8 2.x: `Error accessing: https://…/namespaces/default,due to:Unauthorized! …`.
        .or_else(|| value_after(finder!("Error accessing: ")))
        .or_else(urllib3_retry);
    let url = url.or_else(|| fabric8().map(|(_, u)| u));
    let method = value_after(finder!("http.method="))
        .or_else(|| value_after(finder!("http.request.method=")))
        .or_else(|| fabric8().map(|(m, _)| m));
    if url.is_none() {
        program_call(text, r);
    }
    if url.is_none()
        && let Some((m, u)) = go_url_error(text)
    {
        // Any path the client asked for: discovery's `/version` and `/api` are requests too.
        let mut parsed = Request {
            method: Some(m),
            url: Some(u),
            ..Request::default()
        };
        fill_from_url(&mut parsed);
        merge_missing(r, &parsed);
        return;
    }
    let (method, url) = match (method, url) {
        (m, Some(u)) => (m, u),
        (_, None) => {
            // kubectl -v6: `round_trippers.go:553] GET https://host/api/v1/pods 403 Forbidden in 3 milliseconds`
            let trace_line = || {
                [
                    finder!("GET "),
                    finder!("POST "),
                    finder!("PUT "),
                    finder!("PATCH "),
                    finder!("DELETE "),
                ]
                .iter()
                .find_map(|m| {
                    let m_len = m.needle().len();
                    let at = m
                        .find_iter(text.as_bytes())
                        .map(|i| i + m_len)
                        .find(|&i| text[i..].starts_with("https://"))?;
                    let rest = &text[at..];
                    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                    let method = &text[at - m_len..at];
                    Some((method.trim().to_string(), rest[..end].to_string()))
                })
            };
            // curl's answer under the command that asked for it (the normaliser joins them).
            let Some((m, u)) = trace_line().or_else(|| curl_command(text)) else {
                return;
            };
            (Some(m), u)
        }
    };
    if !(url.contains("/api") || url.starts_with('/')) {
        return;
    }
    let mut parsed = Request {
        method: method.map(|m| m.to_ascii_uppercase()),
        url: Some(url),
        ..Request::default()
    };
    fill_from_url(&mut parsed);
    merge_missing(r, &parsed);
}

/// The call a program says failed (`failed to delete StatefulSet ns/name: <error>`): its verb, kind, namespace and
/// name, where the error does not say them.
fn program_call(text: &str, r: &mut Request) {
    if !contains!(text, "ailed") {
        return;
    }
    let Some(c) = PROGRAM_CALL.captures(text) else {
        return;
    };
    let get = |n: &str| c.name(n).map(|m| m.as_str().to_string());
    let said = Request {
        verb: get("verb"),
        kind: get("kind"),
        namespace: get("ns").or_else(|| get("qns")),
        name: get("name").or_else(|| get("qname")),
        ..Request::default()
    };
    merge_missing(r, &said);
}

/// Go's HTTP client names a failed request in its `*url.Error`: the method with only its first letter capital
/// (net/http `urlErrorOp`), then the URL, quoted since Go 1.14 (`Get "https://host/api/v1/pods": dial tcp …`) and
/// bare before (`Get https://host/api/v1/pods: x509: …`), as client-go, helm, kubectl and Terraform print it. The
/// quotes may be escaped when a structured log quotes the error again. Returns the method in capitals and the URL.
pub(crate) fn go_url_error(text: &str) -> Option<(String, String)> {
    /// The first segments of the API server's paths (resources, discovery, health).
    const API_SERVER_PATHS: [&str; 7] = [
        "api", "apis", "version", "openapi", "healthz", "livez", "readyz",
    ];
    const OPS: [&str; 7] = [
        "Get ", "Post ", "Put ", "Patch ", "Delete ", "Head ", "Options ",
    ];
    // Searchers built once (see `finder!`), one for each operation.
    static SEARCHERS: LazyLock<Vec<Finder<'static>>> =
        LazyLock::new(|| OPS.iter().map(Finder::new).collect());
    OPS.iter().zip(SEARCHERS.iter()).find_map(|(op, searcher)| {
        searcher.find_iter(text.as_bytes()).find_map(|at| {
            // The operation is a word of its own (not `forGet `).
            let before = text[..at].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric()) {
                return None;
            }
            let rest = text[at + op.len()..].trim_start_matches('\\');
            let (quoted, rest) = match rest.strip_prefix('"') {
                Some(r) => (true, r),
                None => (false, rest),
            };
            if !(rest.starts_with("https://") || rest.starts_with("http://")) {
                return None;
            }
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '"' || c == '\\')
                .unwrap_or(rest.len());
            let url = &rest[..end];
            // The bare form ends with the `: ` before the error; the quoted one with its quote.
            let url = if quoted {
                url
            } else {
                url.trim_end_matches(':')
            };
            // Only a request to the API server: not a webhook's own URL (`failed to call webhook: Post
            // "https://svc.ns.svc:443/validate"`) nor another server's.
            let path = url
                .split_once("://")
                .and_then(|(_, r)| r.find('/').map(|p| &r[p + 1..]))
                .unwrap_or("");
            let first = path.split(['/', '?']).next().unwrap_or("");
            API_SERVER_PATHS
                .contains(&first)
                .then(|| (op.trim().to_ascii_uppercase(), url.to_string()))
        })
    })
}

/// The URL at the start of `rest` (fabric8 ends it with the sentence's full stop).
fn after_in(rest: &str) -> Option<String> {
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let url = rest[..end].trim_end_matches(['.', ',']);
    (!url.is_empty()).then(|| url.to_string())
}

/// A curl command line (after a shell prompt, if any) pasted above the answer it printed: its method (`-X`,
/// `--request`; POST when it sends data, HEAD for `-I`, else GET) and URL. Only the first line of `text` is read.
pub(crate) fn curl_command(text: &str) -> Option<(String, String)> {
    let line = text.lines().next()?.trim_start();
    let line = ["$ ", "% ", "# ", "> "]
        .iter()
        .find_map(|p| line.strip_prefix(p))
        .unwrap_or(line)
        .trim_start();
    let args = line.strip_prefix("curl ")?;
    let mut words = args.split_whitespace().map(|w| w.trim_matches(['"', '\'']));
    let (mut method, mut url, mut sends) = (None, None, false);
    while let Some(w) = words.next() {
        match w {
            "-X" | "--request" => method = words.next().map(str::to_ascii_uppercase),
            "-I" | "--head" => method = Some("HEAD".to_string()),
            _ if w.starts_with("-X") && w.len() > 2 => method = Some(w[2..].to_ascii_uppercase()),
            _ if w.starts_with("-d") || w.starts_with("--data") || w == "-F" || w == "--form" => {
                sends = true
            }
            _ if url.is_none() && (w.starts_with("http://") || w.starts_with("https://")) => {
                url = Some(w.to_string())
            }
            _ => {}
        }
    }
    let method = method.unwrap_or_else(|| if sends { "POST" } else { "GET" }.to_string());
    Some((method, url?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_names_the_call_that_failed() {
        let read = |t: &str| {
            let mut r = Request::default();
            read(t, &mut r);
            (r.verb, r.kind, r.namespace, r.name)
        };
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            read(
                "error=failed to delete StatefulSet kanidm-external/kanidm-default: Api(Status { code: 404 })"
            ),
            (
                s("delete"),
                s("StatefulSet"),
                s("kanidm-external"),
                s("kanidm-default")
            )
        );
        assert_eq!(
            read(
                r#"detail: failed to get ReplicationController "x-cmd" in Namespace "x": 404 Not Found"#
            ),
            (s("get"), s("ReplicationController"), s("x"), s("x-cmd"))
        );
        // Not a call: no kind, or no error after it.
        assert_eq!(read("failed to get pods: x"), (None, None, None, None));
        assert_eq!(
            read("failed to get Deployment in time"),
            (None, None, None, None)
        );
    }

    #[test]
    fn go_names_the_request_its_client_failed() {
        let read = |t: &str| {
            let mut r = Request::default();
            read(t, &mut r);
            (r.method, r.verb, r.resource, r.namespace, r.path)
        };
        let s = |v: &str| Some(v.to_string());
        // Go 1.14 and later quote the URL; before, it stood bare before the error's `: `.
        assert_eq!(
            read(
                r#"Error: Get "http://localhost/api/v1/namespaces/x": dial tcp 127.0.0.1:80: connect: connection refused"#
            ),
            (s("GET"), s("get"), s("namespaces"), s("x"), None)
        );
        assert_eq!(
            read(
                "Post https://10.0.0.1:6443/api/v1/namespaces/default/configmaps: x509: certificate signed by unknown authority"
            ),
            (s("POST"), s("create"), s("configmaps"), s("default"), None)
        );
        // Discovery's `/version` is a request too; a klog value escapes the quotes.
        assert_eq!(
            read(r#"err="Get "https://h:6443/version?timeout=32s": dial tcp: i/o timeout""#),
            (s("GET"), s("get"), None, None, s("/version"))
        );
        // Not a method: a word that ends with one, or a URL that is not after it.
        assert_eq!(
            read("forGet https://h/api/v1/pods: x"),
            (None, None, None, None, None)
        );
        assert_eq!(
            read("Get the pods from https://h/api/v1/pods"),
            (None, None, None, None, None)
        );
    }

    #[test]
    fn a_curl_command_names_its_request() {
        let read = |t: &str| {
            let mut r = Request::default();
            read(t, &mut r);
            (r.method, r.verb, r.resource, r.version, r.namespace, r.name)
        };
        let s = |v: &str| Some(v.to_string());
        // kubernetes#17974, with the answer the normaliser joined under it.
        assert_eq!(
            read(
                "curl http://localhost:8080/api/v1/services?fieldSelector=metadata.name=kubernetes\n{\"code\": 400}"
            ),
            (
                s("GET"),
                s("list"),
                s("services"),
                s("v1"),
                None,
                s("kubernetes")
            )
        );
        assert_eq!(
            read("$ curl -k -X DELETE 'https://h:6443/api/v1/namespaces/a/pods/p'"),
            (s("DELETE"), s("delete"), s("pods"), s("v1"), s("a"), s("p"))
        );
        assert_eq!(
            read(
                "curl -H 'Content-Type: application/json' -d @pod.json https://h/api/v1/namespaces/a/pods"
            ),
            (s("POST"), s("create"), s("pods"), s("v1"), s("a"), None)
        );
        // Not a command: a URL in prose names nothing.
        assert_eq!(
            read("see curl https://h/api/v1/pods"),
            (None, None, None, None, None, None)
        );
    }

    #[test]
    fn reads_kube_rs_spans_and_keeps_what_is_known() {
        let mut r = Request::default();
        read(
            r#"DEBUG HTTP{http.method=GET http.url=https://10.0.0.1/apis/kube.rs/v1/documents?&watch=true&timeoutSeconds=290 otel.name="watch" otel.kind="client"}: kube_client::client: requesting"#,
            &mut r,
        );
        assert_eq!(r.verb.as_deref(), Some("watch"));
        assert_eq!(r.resource.as_deref(), Some("documents"));
        assert_eq!(r.group.as_deref(), Some("kube.rs"));
        assert_eq!(r.namespace, None);
    }

    #[test]
    fn reads_the_url_reqwest_and_hyper_name() {
        let mut r = Request::default();
        read(
            "Error: ReqwestError: error sending request for url (https://h/apis/iot.eclipse.org/v1alpha1/namespaces/ditto/dittos?): error trying to connect",
            &mut r,
        );
        assert_eq!(r.resource.as_deref(), Some("dittos"));
        assert_eq!(r.namespace.as_deref(), Some("ditto"));
        assert_eq!(r.verb, None);
    }

    #[test]
    fn reads_the_url_other_clients_name() {
        let read_one = |t: &str| {
            let mut r = Request::default();
            read(t, &mut r);
            (r.method, r.resource, r.namespace, r.path)
        };
        let s = |v: &str| Some(v.to_string());
        // fabric8 (a request that failed and one that got no answer), with the sentence's full stop.
        assert_eq!(
            read_one(
                "KubernetesClientException: Error executing: GET at: https://10.96.0.1:443/api/v1/namespaces/a/pods. Cause: Connection refused"
            ),
            (s("GET"), s("pods"), s("a"), None)
        );
        assert_eq!(
            read_one(
                "Failure executing: DELETE at: https://h/apis/apps/v1/namespaces/b/deployments/web. Message: Forbidden."
            ),
            (s("DELETE"), s("deployments"), s("b"), None)
        );
        // node-fetch and urllib3.
        assert_eq!(
            read_one(
                "FetchError: request to https://h/api/v1/namespaces/c/pods failed, reason: connect ECONNREFUSED h:443"
            ),
            (None, s("pods"), s("c"), None)
        );
        assert_eq!(
            read_one(
                "HTTPSConnectionPool(host='h', port=443): Max retries exceeded with url: /metrics (Caused by NewConnectionError(...))"
            ),
            (None, None, None, s("/metrics"))
        );
    }
}
