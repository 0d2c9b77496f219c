//! The API server's answer (HTTP code, `reason`, message, details) printed in the syntaxes clients print it in
//! when it is neither a JSON `Status` nor a kube-rs struct: a Python dict or a JavaScript object literal
//! ([`literal`]), a Go `%#v` dump, gomega's pretty form or a Go map ([`go`]), Java's `toString` and the Java and
//! .NET clients' exception texts ([`java`]), and the HTTP status lines of client exceptions — aiohttp, requests,
//! the Python client's `(404)`, `status code: 403` ([`http`]), and a request beside the code it was answered with
//! (the API server's access log, a status line after a URL: [`request`]).
//!
//! Each reader is a pure function from text to an [`Answer`]; [`read`] tries them all and keeps what each adds.

pub(crate) mod go;
pub(crate) mod http;
pub(crate) mod java;
pub(crate) mod literal;
pub(crate) mod request;

use serde_json::Value;

use crate::cause::FieldError;

/// What a failure's text says of the server's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Answer {
    /// The HTTP status code.
    pub code: Option<u16>,
    /// The `Status` reason (`NotFound`), when the text carries the `Status`; never an HTTP reason phrase.
    pub reason: Option<String>,
    /// The `Status` message.
    pub message: Option<String>,
    /// `details.name`, `details.group`, `details.kind`.
    pub name: Option<String>,
    pub group: Option<String>,
    pub kind: Option<String>,
    /// `details.causes`.
    pub causes: Vec<FieldError>,
    /// `details.retryAfterSeconds`.
    pub retry_after: Option<u32>,
    /// The request's URL or path, when the client printed it.
    pub url: Option<String>,
    /// The request's HTTP method, when the client printed it.
    pub method: Option<String>,
}

/// Runs `re` only when `text` holds `literal`, which every match contains: most texts hold none of the syntaxes,
/// and a substring test is cheaper than a search.
pub(crate) fn when<'t>(
    text: &'t str,
    literal: &str,
    re: &regex::Regex,
) -> Option<regex::Captures<'t>> {
    if text.contains(literal) {
        re.captures(text)
    } else {
        None
    }
}

impl Answer {
    /// Fields this answer lacks, taken from `other`.
    fn fill_from(&mut self, other: Answer) {
        fn keep<T>(mine: &mut Option<T>, theirs: Option<T>) {
            if mine.is_none() {
                *mine = theirs;
            }
        }
        keep(&mut self.code, other.code);
        keep(&mut self.reason, other.reason);
        keep(&mut self.message, other.message);
        keep(&mut self.name, other.name);
        keep(&mut self.group, other.group);
        keep(&mut self.kind, other.kind);
        keep(&mut self.retry_after, other.retry_after);
        keep(&mut self.url, other.url);
        keep(&mut self.method, other.method);
        if self.causes.is_empty() {
            self.causes = other.causes;
        }
    }

    fn is_empty(&self) -> bool {
        *self == Answer::default()
    }
}

/// Reads the server's answer from any syntax the text holds it in; `None` when it holds none.
pub(crate) fn read(text: &str) -> Option<Answer> {
    let mut answer = Answer::default();
    for found in [
        literal::read(text),
        go::read(text),
        java::read(text),
        http::read(text),
        request::read(text),
    ]
    .into_iter()
    .flatten()
    {
        answer.fill_from(found);
    }
    (!answer.is_empty()).then_some(answer)
}

/// The fields of a `Status`-shaped value (`code`, `reason`, `message`, `details`), whatever syntax it was
/// printed in.
pub(crate) fn from_status_value(v: &Value) -> Answer {
    let s = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let number = |v: &Value, k: &str| {
        v.get(k).and_then(|n| {
            n.as_u64()
                .or_else(|| n.as_str().and_then(|s| s.parse().ok()))
        })
    };
    let mut a = Answer {
        code: number(v, "code")
            .and_then(|c| u16::try_from(c).ok())
            .filter(|c| (100..600).contains(c)),
        reason: s(v, "reason"),
        message: s(v, "message"),
        ..Answer::default()
    };
    if let Some(d) = v.get("details").filter(|d| d.is_object()) {
        a.name = s(d, "name");
        a.group = s(d, "group");
        a.kind = s(d, "kind");
        a.retry_after = number(d, "retryAfterSeconds")
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0);
        a.causes = d
            .get("causes")
            .and_then(Value::as_array)
            .map(|causes| {
                causes
                    .iter()
                    .map(|c| FieldError {
                        reason: s(c, "reason").unwrap_or_default(),
                        message: s(c, "message").unwrap_or_default(),
                        field: s(c, "field").unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default();
    }
    a
}

/// The HTTP status code of a `Status` reason (`NotFound`, apimachinery's table where a reason implies exactly one
/// code) or an HTTP reason phrase (`Not Found`, `Unprocessable Entity`), as clients print them in place of the
/// code.
pub(crate) fn code_of_phrase(phrase: &str) -> Option<u16> {
    // A paste may have wrapped the phrase between its words (`Method` / `Not Allowed`).
    let p = phrase.split_whitespace().collect::<Vec<_>>().join(" ");
    HTTP_PHRASES
        .iter()
        .chain(&REASONS)
        .find(|(name, _)| name.eq_ignore_ascii_case(&p))
        .map(|(_, code)| *code)
}

/// Whether `a` then `b` are two words of one HTTP reason phrase (`Unprocessable` / `Entity`): a line ending with
/// the one goes on with the other.
pub(crate) fn phrase_pair(a: &str, b: &str) -> bool {
    // Asked for line pairs as the normaliser joins them: the phrases' word pairs without an allocation.
    HTTP_PHRASES.iter().any(|(name, _)| {
        name.split(' ')
            .zip(name.split(' ').skip(1))
            .any(|(x, y)| x == a && y == b)
    })
}

/// The HTTP reason phrases of the failures' codes (RFC 9110), as a client prints them after the code or in its place.
/// The normaliser joins a status line a wrap cut inside one of them.
pub(crate) const HTTP_PHRASES: [(&str, u16); 17] = [
    ("Bad Request", 400),
    ("Unauthorized", 401),
    ("Forbidden", 403),
    ("Not Found", 404),
    ("Method Not Allowed", 405),
    ("Not Acceptable", 406),
    ("Conflict", 409),
    ("Gone", 410),
    ("Request Entity Too Large", 413),
    ("Unsupported Media Type", 415),
    ("I'm a teapot", 418),
    ("Unprocessable Entity", 422),
    ("Too Many Requests", 429),
    ("Internal Server Error", 500),
    ("Bad Gateway", 502),
    ("Service Unavailable", 503),
    ("Gateway Timeout", 504),
];

/// The `Status` reasons and other clients' names of the codes (.NET's `HttpStatusCode`), printed in place of the code.
const REASONS: [(&str, u16); 18] = [
    ("BadRequest", 400),
    ("NotFound", 404),
    ("MethodNotAllowed", 405),
    ("NotAcceptable", 406),
    ("AlreadyExists", 409),
    ("Expired", 410),
    ("RequestEntityTooLarge", 413),
    ("UnsupportedMediaType", 415),
    ("UnprocessableEntity", 422),
    ("Invalid", 422),
    ("TooManyRequests", 429),
    // .NET's `HttpStatusCode` name.
    ("InternalServerError", 500),
    ("InternalError", 500),
    ("ServerTimeout", 500),
    ("StorageReadError", 500),
    ("ServiceUnavailable", 503),
    ("GatewayTimeout", 504),
    ("Timeout", 504),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_syntax_gives_what_it_holds_and_later_ones_fill_the_gaps() {
        // Kopf: the Python dict gives the Status; aiohttp's line below gives the URL.
        let kopf = "Watcher has failed: ('x is forbidden', {'kind': 'Status', 'message': 'x is forbidden', 'reason': 'Forbidden', 'details': {'group': 'g', 'kind': 'xs'}, 'code': 403})\naiohttp.client_exceptions.ClientResponseError: 403, message='Forbidden', url='https://10.96.0.1/apis/g/v1/xs'";
        let a = read(kopf).unwrap();
        assert_eq!(a.code, Some(403));
        assert_eq!(a.reason.as_deref(), Some("Forbidden"));
        assert_eq!(a.kind.as_deref(), Some("xs"));
        assert_eq!(a.url.as_deref(), Some("https://10.96.0.1/apis/g/v1/xs"));
        assert_eq!(read("2026-07-01 INFO all good, nothing to see"), None);
    }

    #[test]
    fn phrases_and_reasons_name_their_codes() {
        assert_eq!(code_of_phrase("Not Found"), Some(404));
        assert_eq!(code_of_phrase("NotFound"), Some(404));
        assert_eq!(code_of_phrase("Unprocessable Entity"), Some(422));
        assert_eq!(code_of_phrase("too many requests"), Some(429));
        assert_eq!(code_of_phrase("Gateway Timeout"), Some(504));
        // The normaliser's phrases are the same list: every one has its code.
        assert_eq!(code_of_phrase("Bad Gateway"), Some(502));
        assert_eq!(code_of_phrase("Teapot"), None);
    }

    use proptest::prelude::*;

    /// Real pastes in every syntax, cut anywhere by the property below.
    const SAMPLES: [&str; 5] = [
        r#"('x is forbidden', {'kind': 'Status', 'message': 'x is \'forbidden\'', 'reason': 'Forbidden', 'details': {'kind': 'xs'}, 'code': 403})"#,
        r#"&errors.StatusError{ErrStatus:v1.Status{Status:"Failure", Message:"m \"q\"", Reason:"TooManyRequests", Details:(*v1.StatusDetails)(0xc0), Code:429}}"#,
        "map[code:410 kind:Status metadata:map[] message:too old reason:Expired status:Failure]",
        "Received status: Status(apiVersion=v1, code=404, details=StatusDetails(causes=[]), kind=Status, message=a, b, reason=NotFound, status=Failure)",
        "ClientResponseError: 403, message='Forbidden', url=URL('https://h/api/v1/namespaces')",
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn any_text_is_read_without_panicking(s in "\\PC*") {
            let _ = read(&s);
        }

        #[test]
        fn a_paste_cut_anywhere_is_read_without_panicking(i in 0..SAMPLES.len(), cut in 0usize..400, junk in "[{}()\\[\\]'\":=, a-z0-9]{0,12}") {
            let s = SAMPLES[i];
            let cut = s.char_indices().map(|(i, _)| i).nth(cut).unwrap_or(s.len());
            let _ = read(&format!("{}{junk}", &s[..cut]));
            // Whole, each sample gives its code.
            prop_assert!(read(s).and_then(|a| a.code).is_some());
        }
    }
}
