//! The HTTP status line of a client exception, where a client prints the code (or only its phrase) and the URL
//! beside the server's message rather than in a `Status`: aiohttp's `ClientResponseError: 403,
//! message='Forbidden', url=URL('…')`, requests' `403 Client Error: Forbidden for url: …`, the Python client's
//! `ApiException: (404)` and `Reason: Not Found`, and JavaScript clients' `status code: 403`, `statusCode=403 for
//! resource /apis/…`, `code: 403` and `status:400`.

use std::sync::LazyLock;

use regex::Regex;

use super::{Answer, code_of_phrase, when};

/// aiohttp: `ClientResponseError: 429, message='Too Many Requests', url=URL('https://…')` (or `url='https://…'`;
/// markdown may have put `**` around the first part).
static AIOHTTP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"ClientResponseError: (\d{3}),\s*message='[^']*',?\**(?:\s*url=(?:URL\()?'([^']+)')?",
    )
    .expect("the aiohttp pattern is valid")
});

/// reqwest (kube-rs before 0.60): `HTTP status client error (404 Not Found) for url (https://…)`; a wrap may break
/// it at any space.
static REQWEST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"HTTP\s+status\s+(?:client|server)\s+error\s+\((\d{3})[^)]*\)\s+for\s+url\s+\((\S+?)\)?(?:\s|$)",
    )
    .expect("the reqwest pattern is valid")
});

/// requests: `403 Client Error: Forbidden for url: https://…`; a wrap may break it at any space, and a paste that
/// broke it into records may leave the code in the one before: the reason phrase then gives it.
static REQUESTS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?:\b(?P<code>\d{3})\s+)?(?:(?:Client|Server)\s+)?Error:\s+(?P<phrase>[^:]*?)\s+for\s+url:\s+(?P<url>[^\s"'}\\]+)"#,
    )
    .expect("the requests pattern is valid")
});

/// The Python client: `ApiException: (404)`, then `Reason: Not Found` on the next line.
static PYTHON_CODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"ApiException: \((\d{3})\)").expect("the Python code pattern is valid")
});
static PYTHON_REASON: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^\s*>?\s*Reason: ([A-Za-z][A-Za-z ]*?)\s*$")
        .expect("the Python reason pattern is valid")
});

/// The Python client's watch: a Status in the stream becomes `ApiException(status=code, reason="<reason>:
/// <message>")`, so its `Reason:` line holds the Status reason, a colon and the message.
static PYTHON_STATUS_REASON: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)(?:^|\(\d{3}\))\s*>?\s*Reason: ([A-Z][A-Za-z]+): (.+?)\s*$")
        .expect("the Python watch reason pattern is valid")
});

/// JavaScript clients and tools: the code named after a key, with any of their separators.
static JS_CODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^A-Za-z0-9_])(?:status code|statusCode|code|status)\s?[:=]\s?(\d{3})\b")
        .expect("the JavaScript code pattern is valid")
});
/// Backstage: the path of the request that failed.
static JS_PATH: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:for resource |Kubernetes resource: ')(/apis?/[^'\s]+)")
        .expect("the Backstage pattern is valid")
});
/// A debugger's view of an error object: `reason:'Bad Request'`.
static JS_REASON: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\breason\s?:\s?'([A-Za-z ]+)'").expect("the JavaScript reason pattern is valid")
});

/// Reads a client exception's HTTP status line.
pub(crate) fn read(text: &str) -> Option<Answer> {
    let mut a = Answer::default();
    if let Some(c) = when(text, "ClientResponseError", &AIOHTTP) {
        a.code = c[1].parse().ok();
        a.url = c.get(2).map(|u| u.as_str().to_string());
    } else if let Some(c) = when(text, "error (", &REQWEST) {
        a.code = c[1].parse().ok();
        a.url = Some(c[2].to_string());
    } else if let Some(c) = when(text, "Error:", &REQUESTS)
        .filter(|c| c.name("code").is_some() || code_of_phrase(&c["phrase"]).is_some())
    {
        a.code = c
            .name("code")
            .and_then(|n| n.as_str().parse().ok())
            .or_else(|| code_of_phrase(&c["phrase"]));
        a.url = Some(c["url"].to_string());
    } else if let Some(c) = when(text, "ApiException", &PYTHON_CODE) {
        a.code = c[1].parse().ok();
    } else if let Some(c) = JS_CODE.captures(text) {
        a.code = c[1].parse().ok();
    }
    a.code = a.code.filter(|c| (400..600).contains(c));
    if let Some(c) = when(text, "Reason: ", &PYTHON_STATUS_REASON)
        && code_of_phrase(&c[1]).is_some()
    {
        a.reason = Some(c[1].to_string());
        a.message = Some(c[2].to_string());
        a.code = a.code.or_else(|| code_of_phrase(&c[1]));
    }
    if a.code.is_none() {
        a.code = when(text, "Reason: ", &PYTHON_REASON)
            .or_else(|| when(text, "reason", &JS_REASON))
            .and_then(|c| code_of_phrase(&c[1]));
    }
    if a.url.is_none() {
        a.url = when(text, "resource", &JS_PATH).map(|c| c[1].to_string());
    }
    (a != Answer::default()).then_some(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_python_watch_s_reason_line_holds_the_status_reason_and_message() {
        // apache/airflow#23521.
        let a = read("kubernetes.client.exceptions.ApiException: (410)\nReason: Expired: too old resource version: 380528372 (382477719)").unwrap();
        assert_eq!((a.code, a.reason.as_deref()), (Some(410), Some("Expired")));
        assert_eq!(
            a.message.as_deref(),
            Some("too old resource version: 380528372 (382477719)")
        );
    }

    #[test]
    fn python_clients_give_code_and_url() {
        // kopf#1011, Tedezed/kubernetes-containers-tools#2, the Python client.
        let aiohttp = "aiohttp.client_exceptions.ClientResponseError: 429, message='Too Many Requests', url=URL('https://10.32.0.1:443/apis/example.com/v1/grafanaalerts?watch=true&resourceVersion=1')";
        let a = read(aiohttp).unwrap();
        assert_eq!(a.code, Some(429));
        assert_eq!(
            a.url.as_deref(),
            Some(
                "https://10.32.0.1:443/apis/example.com/v1/grafanaalerts?watch=true&resourceVersion=1"
            )
        );
        // A wrap between the words, or a record that lost the code to the line before: the phrase gives it.
        for split in [
            "HTTPError: 410\nClient Error: Gone for\nurl: https://h/api/v1/pods",
            "Client Error: Gone for url: https://h/api/v1/pods",
        ] {
            let a = read(split).unwrap();
            assert_eq!(
                (a.code, a.url.as_deref()),
                (Some(410), Some("https://h/api/v1/pods"))
            );
        }
        assert!(read("Error: Something odd for url: https://h/api/v1/pods").is_none());
        let requests = "requests.exceptions.HTTPError: 403 Client Error: Forbidden for url: https://kubernetes:443/apis/apps/v1beta1/namespaces/default/statefulsets";
        assert_eq!(
            read(requests).unwrap().url.as_deref(),
            Some("https://kubernetes:443/apis/apps/v1beta1/namespaces/default/statefulsets")
        );
        assert_eq!(
            read("kubernetes.client.exceptions.ApiException: (404)\nReason: Not Found")
                .unwrap()
                .code,
            Some(404)
        );
        // kopf#688: markdown bold inside the line.
        let bold = "**aiohttp.client_exceptions.ClientResponseError: 422, message='Unprocessable Entity',** url=URL('https://192.167.0.1:443/apis/ok.fine/v1/namespaces/default/MyApp/bun-test3')";
        let b = read(bold).unwrap();
        assert_eq!(
            (b.code, b.url.as_deref()),
            (
                Some(422),
                Some("https://192.167.0.1:443/apis/ok.fine/v1/namespaces/default/MyApp/bun-test3")
            )
        );
        // kube#272 (reqwest), wrapped inside the query and joined again by the normaliser.
        let reqwest = "ReqwestError: HTTP status client error (404 Not Found) for url (https://192.168.39.228:8443/apis/example.com/v1alpha1/namespaces/kube-system/examples?&watch=true&resourceVersion=0&timeoutSeconds=290)";
        let r = read(reqwest).unwrap();
        assert_eq!(r.code, Some(404));
        assert_eq!(
            r.url.as_deref(),
            Some(
                "https://192.168.39.228:8443/apis/example.com/v1alpha1/namespaces/kube-system/examples?&watch=true&resourceVersion=0&timeoutSeconds=290"
            )
        );
        assert_eq!(
            read("> kubernetes.client.rest.ApiException: (403)\n> Reason: Forbidden")
                .unwrap()
                .code,
            Some(403)
        );
    }

    #[test]
    fn javascript_clients_give_code_and_path() {
        // backstage#26024, backstage#13767, pod-dependency-init-container#1, python#858.
        let backstage = "Error fetching Kubernetes resource: '/apis/batch/v1/jobs', error: UNKNOWN_ERROR, status code: 403";
        let a = read(backstage).unwrap();
        assert_eq!(
            (a.code, a.url.as_deref()),
            (Some(403), Some("/apis/batch/v1/jobs"))
        );
        let warn = "kubernetes warn statusCode=403 for resource /apis/apps/v1/daemonsets body=[{}]";
        assert_eq!(
            read(warn).unwrap().url.as_deref(),
            Some("/apis/apps/v1/daemonsets")
        );
        assert_eq!(
            read("`code: 403, statusCode: 403 } pods is forbidden")
                .unwrap()
                .code,
            Some(403)
        );
        assert_eq!(
            read("body:'{\"kind\":\"Status\"\n\nmessage:''\nreason:'Bad Request'\nstatus:400")
                .unwrap()
                .code,
            Some(400)
        );
    }

    #[test]
    fn other_numbers_named_code_are_not_http_codes() {
        assert_eq!(
            read("level=error code=1006 probable-cause= severity=2"),
            None
        );
        assert_eq!(read("exitCode: 137 errorCode: 404"), None);
        assert_eq!(read("status: 200 OK"), None);
        assert_eq!(read("all fine"), None);
    }
}
