//! A `Status` and an HTTP code printed by the Java and .NET clients: fabric8's `Status(apiVersion=v1, code=404,
//! …, message=…, reason=NotFound, …)` with the request it failed (`Failure executing: POST at: https://…`), the
//! official Java client's `HTTP response code: 403` and `ApiException: Forbidden`, and the .NET client's
//! `Operation returned an invalid status code 'NotFound'`.

use std::sync::LazyLock;

use regex::Regex;

use super::{Answer, code_of_phrase, when};

/// fabric8: the request that failed, before the message.
static FABRIC8_REQUEST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"Failure executing: ([A-Z]+) at: (\S+?)\.?(?:\s|$)")
        .expect("the fabric8 pattern is valid")
});

/// The official Java client: the code on a details line, or only the reason phrase after the exception's name (its
/// words capitalised, `Method Not Allowed`; a stack frame's `at …` may follow on the same line once a paste joined
/// them).
static JAVA_CODE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"HTTP response code: (\d{3})\b").expect("the Java code pattern is valid")
});
static JAVA_PHRASE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"ApiException:\s*([A-Z][A-Za-z]*(?:\s+[A-Z][A-Za-z]*)*)(?:\s*(?::|$)|\s+[^A-Z\s])")
        .expect("the Java phrase pattern is valid")
});

/// The .NET client: the status code's name, in single quotes (a paste's markdown may turn them double).
static DOTNET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"invalid status code ['"]([A-Za-z]+)['"]"#).expect("the .NET pattern is valid")
});

/// The fields of fabric8's `Status(…)`, in the order it prints them.
const FABRIC8_KEYS: [&str; 9] = [
    "apiVersion",
    "code",
    "details",
    "kind",
    "message",
    "metadata",
    "reason",
    "status",
    "additionalProperties",
];

/// Reads what the Java and .NET clients print of the server's answer.
pub(crate) fn read(text: &str) -> Option<Answer> {
    let mut a = fabric8_status(text).unwrap_or_default();
    if let Some(c) = when(text, "Failure executing", &FABRIC8_REQUEST) {
        a.method = Some(c[1].to_string());
        a.url = Some(c[2].to_string());
    }
    if a.code.is_none() {
        a.code = when(text, "HTTP response code", &JAVA_CODE)
            .and_then(|c| c[1].parse().ok())
            .or_else(|| {
                when(text, "ApiException", &JAVA_PHRASE).and_then(|c| code_of_phrase(&c[1]))
            })
            .or_else(|| {
                when(text, "invalid status code", &DOTNET).and_then(|c| code_of_phrase(&c[1]))
            });
    }
    (a != Answer::default()).then_some(a)
}

/// fabric8's `Status(apiVersion=v1, code=404, details=StatusDetails(…), kind=Status, message=…, reason=…, …)`:
/// each value runs to the next `, key=` at the same depth.
fn fabric8_status(text: &str) -> Option<Answer> {
    let open = text
        .find("Status(apiVersion=")
        .or_else(|| text.find("Status(code="))?
        + "Status(".len();
    let body = &text[open..];
    let value = |key: &str| -> Option<String> {
        let (_, start) = field_start(body, key)?;
        let end = FABRIC8_KEYS
            .iter()
            .filter_map(|k| field_start(&body[start..], k).map(|(key_at, _)| start + key_at))
            .min()
            .unwrap_or_else(|| body[start..].find(')').map_or(body.len(), |i| start + i));
        // The value runs to the separator before the next key (`, ` or, in a wrapped paste, `,` and a line break).
        let v = body[start..end].trim_end().trim_end_matches(',').trim();
        (!v.is_empty() && v != "null").then(|| v.to_string())
    };
    Some(Answer {
        code: value("code").and_then(|c| c.parse().ok()),
        reason: value("reason"),
        message: value("message"),
        ..Answer::default()
    })
}

/// Where `key=` starts and where its value starts, at depth 0 of fabric8's field list (the key preceded by `(` or
/// `,` and white space).
fn field_start(body: &str, key: &str) -> Option<(usize, usize)> {
    let pattern = format!("{key}=");
    let mut depth = 0usize;
    for (i, c) in body.char_indices() {
        match c {
            '(' | '{' | '[' => depth += 1,
            ')' | '}' | ']' => {
                if depth == 0 {
                    return None;
                }
                depth -= 1;
            }
            _ if depth == 0
                && body[i..].starts_with(&pattern)
                && (i == 0
                    || (body[..i].ends_with(char::is_whitespace)
                        && body[..i].trim_end().ends_with(','))) =>
            {
                return Some((i, i + pattern.len()));
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fabric8_s_status_and_request_are_read() {
        // gofabric8#53.
        let text = "io.fabric8.kubernetes.client.KubernetesClientException: Failure executing: POST at: https://kubernetes.default.svc/api/v1/namespaces/sample-project/configmaps. Message: the server could not find the requested resource. Received status: Status(apiVersion=v1, code=404, details=StatusDetails(causes=[], group=null, kind=null, name=null, retryAfterSeconds=null, additionalProperties={}), kind=Status, message=the server could not find the requested resource, metadata=ListMeta(resourceVersion=null, selfLink=null, additionalProperties={}), reason=NotFound, status=Failure, additionalProperties={}).";
        let a = read(text).unwrap();
        assert_eq!(a.code, Some(404));
        assert_eq!(a.reason.as_deref(), Some("NotFound"));
        assert_eq!(
            a.message.as_deref(),
            Some("the server could not find the requested resource")
        );
        assert_eq!(a.method.as_deref(), Some("POST"));
        assert_eq!(
            a.url.as_deref(),
            Some("https://kubernetes.default.svc/api/v1/namespaces/sample-project/configmaps")
        );
    }

    #[test]
    fn the_java_client_s_code_or_phrase_and_the_dotnet_client_s_name_give_the_code() {
        // cassandra-operator#142, java#535, dotnet-operator-sdk#401.
        let details = "Response details of io.kubernetes.client.ApiException: Forbidden:\n\tHTTP response code: 403\n\tHTTP response body: {}";
        assert_eq!(read(details).unwrap().code, Some(403));
        assert_eq!(
            read("  io.kubernetes.client.ApiException: Unprocessable Entity\n    at x")
                .unwrap()
                .code,
            Some(422)
        );
        assert_eq!(
            read("Microsoft.Rest.HttpOperationException: Operation returned an invalid status code 'NotFound'").unwrap().code,
            Some(404)
        );
        // Markdown turned the quotes double (azure-pipelines-orchestrator#4).
        assert_eq!(
            read(r#"k8s.Autorest.HttpOperationException: Operation returned an invalid status code "Forbidden""#).unwrap().code,
            Some(403)
        );
        // The stack frame joined to it, or the phrase wrapped (flink-controller#43).
        assert_eq!(
            read("io.kubernetes.client.ApiException: Forbidden at io.kubernetes.client.util.Watch.createWatch(Watch.java:104) ~[x.jar:1.3.5]").unwrap().code,
            Some(403)
        );
        assert_eq!(
            read("io.kubernetes.client.ApiException:\nMethod\nNot Allowed\n\tat x.Y.z(Y.java:1)")
                .unwrap()
                .code,
            Some(405)
        );
        assert_eq!(
            read("io.kubernetes.client.ApiException: Something Odd"),
            None
        );
        assert_eq!(read("all fine"), None);
    }
}
