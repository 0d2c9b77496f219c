//! An API request and the status code it was answered with, printed without a `Status` or any Kubernetes words:
//! the API server's own access log (k8s.io/apiserver `pkg/server/httplog`: `POST /api/v1/namespaces: (12.2s) 500`
//! before the structured form, `"HTTP" verb="POST" URI="/api/v1/namespaces" … resp=500` since), a client's status
//! line beside the URL it asked for (`ApiError https://h/api/v1/pods: Client Error: 404 Not Found`), and an error
//! object's fields (axios's `toJSON`: `"status": 503, … "method": "GET", … "url": "/apis/…"`).
//!
//! The rule is the same for all: the request (an `/api/…` or `/apis/…` path) and a 4xx or 5xx code in one record
//! give the class the code gives, with the request's fields. A 2xx or 3xx answer is healthy: nothing is read.

use std::sync::LazyLock;

use regex::Regex;

use super::{Answer, code_of_phrase};

/// httplog before klog's structured form (kubernetes v1.0 `pkg/httplog/log.go` to v1.20
/// `staging/src/k8s.io/apiserver/pkg/server/httplog/httplog.go`, `"%s %s: (%v) %v%v%v [%s %s]"`: method, request
/// URI, latency, status, then the status stack, added info, user agent and address).
static ACCESS_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b(?P<method>GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (?P<uri>/apis?(?:[/?]\S*?)?): \([0-9][0-9.]*[a-zµμ]+[0-9.a-zµμ]*\) (?P<code>[1-5][0-9]{2})\b",
    )
    .expect("the access line pattern is valid")
});

/// httplog since v1.21 (`respLogger.Log`: `klog.InfoSDepth(1, "HTTP", "verb", …, "URI", …, "resp", status)`), in
/// klog's text (`verb="LIST" URI="/api/v1/pods"`) or JSON (`"verb":"LIST","URI":"/api/v1/pods"`) form. The verb is
/// the API server's normalised one (`LIST`, `WATCH`, `APPLY`…).
static ACCESS_STRUCTURED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"\bverb"?[=:]\s?"(?P<verb>[A-Z]+)"[,\s]+"?URI"?[=:]\s?"(?P<uri>/apis?(?:[/?][^"\s]*)?)".*?\bresp"?[=:]\s?(?P<code>[1-5][0-9]{2})\b"#,
    )
    .expect("the structured access line pattern is valid")
});

/// A URL of the API server's resource paths (a server URL with a trailing slash doubles the path's first one).
static API_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"https?://[^\s/"'()]+/+apis?(?:[/?][^\s"'()]*)?"#)
        .expect("the URL pattern is valid")
});

/// A status code followed by its HTTP reason phrase (`404 Not Found`, `503 Service Unavailable`).
static CODE_AND_PHRASE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?P<code>[45][0-9]{2}) (?P<phrase>[A-Z][a-z]+(?: [A-Z][a-z]+){0,3})\b")
        .expect("the code and phrase pattern is valid")
});

/// An error object's fields, as a JavaScript logger prints them (`"status": 503`, `status: 503`, `"url": "/apis/…"`).
static OBJECT_STATUS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:^|[\s{,])"?(?:status|statusCode)"?\s?:\s?(?P<code>[1-5][0-9]{2})\b"#)
        .expect("the object status pattern is valid")
});
static OBJECT_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:^|[\s{,])"?url"?\s?:\s?["'](?P<url>(?:https?://[^"'\s/]+)?/+apis?(?:[/?][^"'\s]*)?)["']"#)
        .expect("the object URL pattern is valid")
});
static OBJECT_METHOD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:^|[\s{,])"?method"?\s?:\s?["'](?P<method>[A-Za-z]+)["']"#)
        .expect("the object method pattern is valid")
});

/// The HTTP method of the API server's normalised verb.
fn method_of_verb(verb: &str) -> &str {
    match verb {
        "LIST" | "WATCH" | "WATCHLIST" | "GET" => "GET",
        "APPLY" => "PATCH",
        "DELETECOLLECTION" => "DELETE",
        other => other,
    }
}

/// An answer of a failure: the code when it is 4xx or 5xx; `None` for a healthy one (the line says nothing failed).
fn failed(code: &str, method: Option<&str>, url: &str) -> Option<Answer> {
    let code: u16 = code.parse().ok()?;
    (400..600).contains(&code).then(|| Answer {
        code: Some(code),
        url: Some(url.to_string()),
        method: method.map(str::to_ascii_uppercase),
        ..Answer::default()
    })
}

/// Reads a request and its status code from `text`; `None` unless both are there and the code is a failure's.
pub(crate) fn read(text: &str) -> Option<Answer> {
    if !text.contains("/api") {
        return None;
    }
    if text.contains(") ")
        && let Some(c) = ACCESS_LINE.captures(text)
    {
        return failed(&c["code"], Some(&c["method"]), &c["uri"]);
    }
    if text.contains("URI")
        && let Some(c) = ACCESS_STRUCTURED.captures(text)
    {
        return failed(&c["code"], Some(method_of_verb(&c["verb"])), &c["uri"]);
    }
    if let Some(url) = API_URL.find(text) {
        // The code must be said with its own reason phrase: a number beside a URL is not an answer.
        if let Some(c) = CODE_AND_PHRASE
            .captures_iter(text)
            .find(|c| code_of_phrase(&c["phrase"]).is_some_and(|p| p.to_string() == c["code"]))
        {
            // The `: ` a client puts after the URL is not part of it.
            return failed(
                &c["code"],
                None,
                url.as_str().trim_end_matches([':', ',', '.']),
            );
        }
    }
    let url = OBJECT_URL.captures(text)?;
    let code = OBJECT_STATUS.captures(text)?;
    let method = OBJECT_METHOD.captures(text);
    failed(
        &code["code"],
        method.as_ref().map(|m| &m["method"]),
        &url["url"],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_of(text: &str) -> Option<(u16, Option<String>, String)> {
        read(text).map(|a| (a.code.unwrap(), a.method, a.url.unwrap()))
    }

    #[test]
    fn the_api_server_s_access_lines_give_the_request_and_its_code() {
        // kubernetes#10122, kubernetes#57440: httplog before the structured form.
        assert_eq!(
            read_of(
                "I0619 20:37:50.685229       5 handlers.go:135] POST /api/v1/namespaces: (12.228060557s) 500"
            ),
            Some((500, Some("POST".into()), "/api/v1/namespaces".into()))
        );
        assert_eq!(
            read_of(
                "I1229 05:40:39.278483       1 wrap.go:42] POST /api/v1/namespaces/kube-system/events: (30.00091179s) 504"
            ),
            Some((
                504,
                Some("POST".into()),
                "/api/v1/namespaces/kube-system/events".into()
            ))
        );
        assert_eq!(
            read_of(
                "I1025 00:15:15.525108       1 httplog.go:79] GET /apis/apps/v1/namespaces/a/deployments/x: (513.2µs) 404 [kubectl/v1.20 10.0.0.1:5000]"
            ),
            Some((
                404,
                Some("GET".into()),
                "/apis/apps/v1/namespaces/a/deployments/x".into()
            ))
        );
        // The structured form (k8s.io/apiserver v0.36.3 httplog.go respLogger.Log), text and JSON.
        assert_eq!(
            read_of(
                r#"I1207 10:00:00.000000       1 httplog.go:134] "HTTP" verb="LIST" URI="/api/v1/pods?limit=500" latency="60.001s" userAgent="kubectl/v1.36.3" audit-ID="a" srcIP="10.0.0.1:5000" resp=504"#
            ),
            Some((504, Some("GET".into()), "/api/v1/pods?limit=500".into()))
        );
        assert_eq!(
            read_of(
                r#"{"ts":1,"caller":"httplog/httplog.go:134","msg":"HTTP","v":3,"verb":"APPLY","URI":"/apis/apps/v1/namespaces/a/deployments/x","latency":"1ms","resp":409}"#
            ),
            Some((
                409,
                Some("PATCH".into()),
                "/apis/apps/v1/namespaces/a/deployments/x".into()
            ))
        );
    }

    #[test]
    fn a_client_s_status_line_beside_the_url_gives_the_code() {
        // edrevo/suspicious-pods#3 (the `kubernetes` crate of 2020).
        assert_eq!(
            read_of(
                r#"ApiError https://server//api/v1/pods?: Client Error: 404 Not Found ("Error(Status(404), \"https://server//api/v1/pods?\")")"#
            ),
            Some((404, None, "https://server//api/v1/pods?".into()))
        );
        // kubevious/portable#19: axios's error object over lines, joined by the normaliser.
        let axios = r#"Error connecting: arg0: { "status": 503, "message": "Service Unavailable", "method": "GET", "baseURL": "https://172.18.100.90:6443", "url": "/apis/cluster.loft.sh/v1""#;
        assert_eq!(
            read_of(axios),
            Some((503, Some("GET".into()), "/apis/cluster.loft.sh/v1".into()))
        );
    }

    #[test]
    fn healthy_answers_and_numbers_that_are_not_codes_read_nothing() {
        for healthy in [
            "I1025 00:15:15.525108       1 httplog.go:79] GET /api/v1/namespaces/kube-system/pods/x: (1.512ms) 200 [pod_nanny/v0.0.0 10.0.0.1:5000]",
            "I0619 20:37:50.685229       5 handlers.go:135] PUT /api/v1/nodes/n/status: (2.1ms) 201",
            "I0619 20:37:50.685229       5 handlers.go:135] GET /api/v1/watch/pods: (5m0.2s) 301",
            r#"I1207 10:00:00.000000       1 httplog.go:134] "HTTP" verb="WATCH" URI="/api/v1/pods?watch=true" latency="5m0s" userAgent="k" audit-ID="a" srcIP="10.0.0.1:5000" resp=200"#,
            r#"arg0: { "status": 200, "message": "OK", "method": "GET", "url": "/api" }"#,
            // A code with another phrase, or a phrase beside a number that is not its code.
            "GET https://h/api/v1/pods took 404 Not Modified",
            "GET https://h/api/v1/pods: 3 Not Found",
            // A failure code without an API request.
            "GET /metrics: (1ms) 500",
            r#"{"status": 503, "url": "/healthz"}"#,
            "https://h/api/v1/pods answered",
        ] {
            assert_eq!(read(healthy), None, "{healthy}");
        }
    }
}
