//! Failures the API server and Go's HTTP/2 transport word without a `Status` reason or an apimachinery
//! constructor: a CRD's conversion webhook the server could not call (k8s.io/apiextensions-apiserver
//! `pkg/apiserver/conversion/webhook_converter.go`), an HTTP/2 stream the server reset (golang.org/x/net `http2`
//! `StreamError.Error`), whatever the error code it names (the catalog's rows, `go/http2-stream-*`, are two of
//! them). [`crate::read::message`] takes what they say into its facts.

use std::sync::LazyLock;

use regex::Regex;

/// A CRD's conversion webhook the API server could not call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Conversion {
    /// The kind whose objects it converts (`NodeClaim`).
    pub kind: String,
    /// Its API group (empty: the core group).
    pub group: String,
    /// What the call failed with.
    pub detail: Option<String>,
    /// The webhook answered, wrongly (`returned 2 objects, expected 3`): it is not down, its answer is bad.
    pub answered: bool,
}

/// What else a text may say failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failed {
    /// The server failed: it reset the request's stream.
    Server,
    /// The server reset the stream because the client sent too much (`ENHANCE_YOUR_CALM`).
    Calm,
}

/// `conversion webhook for <group/version>, Kind=<Kind> failed: <error>` (the GroupVersionKind's `String()`; the
/// core group prints nothing before `/`), `… failed, no objects returned`, and the webhook's wrong answers
/// (`… returned 2 objects, expected 3`, `… returned invalid converted object at index 0: …`).
static CONVERSION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?s)conversion\s+webhook\s+for\s+(?:(?P<group>[a-z0-9.\-]+)/)?/?(?P<version>v[a-z0-9]+),\s*Kind=(?P<kind>[A-Za-z0-9]+)\s+(?:failed(?::\s*(?P<why>.*)|,)|(?P<answered>returned)\s*(?P<what>.*))"#,
    )
    .expect("the conversion webhook pattern is valid")
});

/// `stream error: stream ID <n>; <ErrCode>` and `…; <ErrCode>; <cause>`.
static STREAM_ERROR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"stream\s+error:\s+stream\s+ID\s+[0-9]+;\s+(?P<code>[A-Z_0-9]+)")
        .expect("the stream error pattern is valid")
});

/// A CRD's conversion webhook the API server could not call: its `service "x" not found` is the webhook's Service,
/// not the request's object. `None` when the text says no such thing.
pub(crate) fn conversion_webhook(text: &str) -> Option<Conversion> {
    if !text.contains("Kind=") || !text.contains("webhook") {
        return None;
    }
    let c = CONVERSION.captures(text)?;
    let why = c
        .name("why")
        .or(c.name("what"))
        .map(|w| w.as_str().split_whitespace().collect::<Vec<_>>().join(" "));
    Some(Conversion {
        kind: c["kind"].to_string(),
        group: c.name("group").map_or("", |g| g.as_str()).to_string(),
        detail: why.filter(|w| !w.is_empty()),
        answered: c.name("answered").is_some(),
    })
}

/// What a text says that no other rule read: an HTTP/2 stream the server reset.
pub(crate) fn read(text: &str) -> Option<Failed> {
    if text.contains("stream")
        && let Some(c) = STREAM_ERROR.captures(text)
    {
        // The server ended the request's stream without an answer: `REFUSED_STREAM` before processing it,
        // `ENHANCE_YOUR_CALM` because the client sent too much, any other code because it failed.
        return Some(match &c["code"] {
            "ENHANCE_YOUR_CALM" => Failed::Calm,
            _ => Failed::Server,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conversion_webhook_names_its_kind_and_service_not_an_object() {
        // aws-samples/karpenter-blueprints#17.
        let f = conversion_webhook(r#"failed to list *v1beta1.NodeClaim: conversion webhook for karpenter.sh/v1, Kind=NodeClaim failed: Post "https://karpenter.kube-system.svc:8443/conversion/karpenter.sh?timeout=30s": service "karpenter" not found"#).unwrap();
        assert_eq!(
            (f.kind.as_str(), f.group.as_str()),
            ("NodeClaim", "karpenter.sh")
        );
        assert!(
            f.detail
                .unwrap()
                .ends_with(r#"service "karpenter" not found"#)
        );
        let core = conversion_webhook(
            "conversion webhook for /v1, Kind=Widget failed, no objects returned",
        )
        .unwrap();
        assert_eq!((core.kind.as_str(), core.group.as_str()), ("Widget", ""));
        assert!(!core.answered);
        let wrong = conversion_webhook(
            "conversion webhook for stable.example.com/v1, Kind=Widget returned 2 objects, expected 3",
        )
        .unwrap();
        assert!(wrong.answered);
        assert_eq!(wrong.detail.as_deref(), Some("2 objects, expected 3"));
        assert_eq!(
            conversion_webhook("the conversion webhook for x is fine"),
            None
        );
    }

    #[test]
    fn a_reset_stream_is_the_server_s_failure() {
        for (text, said) in [
            (
                r#"Get "https://10.0.0.1:443/apis/monitoring.coreos.com/v1/thanosrulers?limit=500": stream error: stream ID 1359; INTERNAL_ERROR"#,
                Failed::Server,
            ),
            (
                "stream error: stream ID 3; REFUSED_STREAM; received from peer",
                Failed::Server,
            ),
            ("stream error: stream ID 7; ENHANCE_YOUR_CALM", Failed::Calm),
            ("stream error: stream ID 9; PROTOCOL_ERROR", Failed::Server),
        ] {
            assert_eq!(read(text), Some(said), "{text}");
        }
        assert_eq!(read("the stream ended; nothing failed"), None);
    }
}
