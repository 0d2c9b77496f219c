//! Transport failures — no HTTP response at all: refused, reset and unreachable connections, DNS, time-outs
//! and TLS, as rustls, hyper, hyper-util, openssl, Go's net/http and kubectl word them.

use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

use super::Transport;
use crate::cause::{ConnectionFailure, TlsFailure};

/// Phrases of a failed TLS handshake or certificate check.
const TLS: [&str; 29] = [
    "x509:",
    "certificate verify failed",
    "invalid peer certificate",
    "UnknownIssuer",
    "NotValidForName",
    "InvalidCertificate",
    "BadEncoding",
    "certificate signed by unknown authority",
    "certificate has expired",
    "certificate is not valid",
    "tls: failed to verify certificate",
    "tls: bad certificate",
    "tls: handshake failure",
    "handshake failure",
    "SSL routines",
    "SSL_connect",
    "rustls tls error",
    "openssl tls error",
    "AlertReceived",
    "received fatal alert",
    "InvalidDnsNameError",
    // rustls before 0.20 (kube#596): the server's address is not a name it can check a certificate against.
    "invalid dnsname",
    "peer is incompatible",
    // OpenSSL's verify errors as Node (`self-signed certificate in certificate chain`, `UNABLE_TO_VERIFY_LEAF_SIGNATURE`)
    // and Python (`[SSL: CERTIFICATE_VERIFY_FAILED]`) print them.
    "self-signed certificate",
    "self signed certificate",
    "unable to verify the first certificate",
    "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    "CERTIFICATE_VERIFY_FAILED",
    "ERR_TLS_CERT_ALTNAME_INVALID",
];

/// Phrases of a time-out (checked before TLS: `TLS handshake timeout` is a time-out).
const TIMEOUT: [&str; 14] = [
    "TLS handshake timeout",
    "context deadline exceeded",
    "i/o timeout",
    "Client.Timeout exceeded",
    "deadline has elapsed",
    "operation timed out",
    "request timed out",
    "connection timed out",
    "Connection timed out",
    "TimedOut",
    "timed out",
    "timeout elapsed",
    "os error 110",
    // Node.
    "ETIMEDOUT",
];

/// Phrases of a connection that could not be made or was lost.
const CONNECTION: [&str; 39] = [
    "connection refused",
    "Connection refused",
    "ConnectionRefused",
    "os error 111",
    "connection reset",
    "Connection reset",
    "ConnectionReset",
    "os error 104",
    "no such host",
    "failed to lookup address",
    "Name or service not known",
    "Temporary failure in name resolution",
    "dns error",
    "No route to host",
    "no route to host",
    "network is unreachable",
    "Network is unreachable",
    "broken pipe",
    "Broken pipe",
    "connection closed before message completed",
    "http2: client connection lost",
    // The server closed the HTTP/2 connection (`http2: server sent GOAWAY and closed the connection; …`: x/net
    // http2 GoAwayError): an API server shutting down or a proxy in front of it.
    "server sent GOAWAY",
    "unexpected EOF",
    "tcp connect error",
    "error trying to connect",
    "Unable to connect to the server",
    "was refused - did you specify the right host or port",
    "use of closed network connection",
    // hyper-util's connect failure; kube-rs's `Display` of it (`ServiceError: client error (Connect)`) hides the
    // cause, which only `{:?}` or the source chain shows.
    "client error (Connect)",
    // hyper 0.14's `Debug` of the same (`HyperError(hyper::Error(Connect, …))`).
    "hyper::Error(Connect",
    // hyper 1.x's body lost mid-stream (`Kind::Body`), as kube-rs's watcher prints it (`watch stream failed: Error
    // reading events stream: error reading a body from connection`).
    "error reading a body from connection",
    // Node's system errors (`connect ECONNREFUSED 10.0.0.1:443`, `getaddrinfo ENOTFOUND host`).
    "ECONNREFUSED",
    "ECONNRESET",
    "ENOTFOUND",
    "EHOSTUNREACH",
    // OkHttp (Java), urllib3 (Python).
    "Failed to connect to",
    "Failed to establish a new connection",
    "Failed to resolve",
    // Windows' words for WSAECONNREFUSED, as Go prints them (`connectex: No connection could be made because the
    // target machine actively refused it.`).
    "actively refused",
];

/// All phrases in one automaton (one pass over the text): TIMEOUT, then TLS, then CONNECTION.
static PHRASES: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::new(TIMEOUT.iter().chain(TLS.iter()).chain(CONNECTION.iter()))
        .expect("the transport phrases are valid patterns")
});

/// The transport failure a text describes, if any: a time-out beats TLS (`TLS handshake timeout`), TLS beats a
/// connection failure (a TLS failure is also a failed connect).
pub(crate) fn classify_text(text: &str) -> Option<Transport> {
    let (mut timeout, mut tls, mut connection) = (false, false, false);
    for m in PHRASES.find_overlapping_iter(text) {
        let i = m.pattern().as_usize();
        if i < TIMEOUT.len() {
            timeout = true;
        } else if i < TIMEOUT.len() + TLS.len() {
            tls = true;
        } else {
            connection = true;
        }
    }
    if timeout && !text.contains("waiting for cache to be synced") {
        Some(Transport::Timeout)
    } else if tls {
        Some(Transport::Tls(tls_failure(text)))
    } else if connection {
        Some(Transport::Connection {
            failure: connection_failure(text),
            os_code: os_code(text),
        })
    } else {
        None
    }
}

/// How a TLS failure failed, from rustls's, Go's and OpenSSL's words.
pub(crate) fn tls_failure(text: &str) -> TlsFailure {
    let has = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
    if has(&[
        "UnknownIssuer",
        "signed by unknown authority",
        "unable to get local issuer certificate",
        "self signed certificate in certificate chain",
        "self-signed certificate in certificate chain",
        "self-signed certificate",
        "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
        "unable to verify the first certificate",
    ]) {
        TlsFailure::UnknownIssuer
    } else if has(&[
        "NotValidForName",
        "is valid for",
        "not valid for",
        "doesn't contain any IP SANs",
        "Hostname mismatch",
    ]) {
        TlsFailure::WrongName
    } else if has(&[
        "Expired",
        "has expired",
        "NotValidYet",
        "is not yet valid",
        "certificate has expired",
    ]) {
        TlsFailure::Expired
    } else if has(&[
        "handshake",
        "AlertReceived",
        "received fatal alert",
        "bad certificate",
        "peer is incompatible",
    ]) {
        TlsFailure::Handshake
    } else {
        TlsFailure::Other
    }
}

/// How a connection failed, from the OS's, hyper's and Go's words.
fn connection_failure(text: &str) -> ConnectionFailure {
    let has = |needles: &[&str]| needles.iter().any(|n| text.contains(n));
    if has(&[
        "efused",
        "os error 111",
        "ConnectionRefused",
        "ECONNREFUSED",
    ]) {
        ConnectionFailure::Refused
    } else if has(&[
        "no such host",
        "failed to lookup address",
        "Name or service not known",
        "name resolution",
        "dns error",
        "ENOTFOUND",
        "Failed to resolve",
    ]) {
        ConnectionFailure::Dns
    } else if has(&["route to host", "nreachable", "EHOSTUNREACH"]) {
        ConnectionFailure::Unreachable
    } else if has(&[
        "eset",
        "os error 104",
        "roken pipe",
        "unexpected EOF",
        "closed before message completed",
        "ECONNRESET",
    ]) {
        ConnectionFailure::Reset
    } else {
        ConnectionFailure::Other
    }
}

/// The OS error code a message names (`(os error 111)`).
fn os_code(text: &str) -> Option<i32> {
    let at = text.find("os error ")? + "os error ".len();
    let digits: String = text[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The server a transport error names: `https://host:port`, `dial tcp host:port`, `The connection to the server
/// host:port was refused`.
pub(crate) fn server_of(text: &str) -> Option<String> {
    if let Some(i) = text.find("https://").or_else(|| text.find("http://")) {
        let rest = &text[i..];
        let scheme_len = if rest.starts_with("https://") { 8 } else { 7 };
        let end = rest[scheme_len..]
            .find(|c: char| {
                c == '/'
                    || c == '"'
                    || c == '\\'
                    || c == '?'
                    || c.is_whitespace()
                    || c == ')'
                    || c == ','
            })
            .map_or(rest.len(), |e| e + scheme_len);
        return Some(rest[..end].to_string());
    }
    for marker in ["dial tcp ", "The connection to the server "] {
        if let Some(i) = text.find(marker) {
            let rest = &text[i + marker.len()..];
            let end = rest.find([' ', ':', '"']).map_or(rest.len(), |e| {
                // Keep `:port` after a host.
                let after = &rest[e..];
                if after.starts_with(':') && after[1..].starts_with(|c: char| c.is_ascii_digit()) {
                    e + 1 + after[1..].chars().take_while(char::is_ascii_digit).count()
                } else {
                    e
                }
            });
            let host = rest[..end].trim_end_matches(':');
            if !host.is_empty() {
                return Some(host.to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_and_finds_the_server() {
        assert_eq!(
            classify_text(
                "Unable to connect to the server: x509: certificate signed by unknown authority"
            ),
            Some(Transport::Tls(TlsFailure::UnknownIssuer))
        );
        assert_eq!(
            classify_text("Get \"https://10.0.0.1:6443/api\": net/http: TLS handshake timeout"),
            Some(Transport::Timeout)
        );
        assert_eq!(
            classify_text(
                "The connection to the server localhost:8080 was refused - did you specify the right host or port?"
            ),
            Some(Transport::Connection {
                failure: ConnectionFailure::Refused,
                os_code: None
            })
        );
        assert_eq!(
            classify_text(
                "error trying to connect: tcp connect error: Connection refused (os error 111)"
            ),
            Some(Transport::Connection {
                failure: ConnectionFailure::Refused,
                os_code: Some(111)
            })
        );
        assert_eq!(
            classify_text("dial tcp: lookup api.example.invalid on 10.0.0.10:53: no such host"),
            Some(Transport::Connection {
                failure: ConnectionFailure::Dns,
                os_code: None
            })
        );
        assert_eq!(
            classify_text("invalid peer certificate: NotValidForName"),
            Some(Transport::Tls(TlsFailure::WrongName))
        );
        assert_eq!(
            server_of("The connection to the server localhost:8080 was refused"),
            Some("localhost:8080".into())
        );
        assert_eq!(
            server_of("dial tcp 10.96.0.1:443: connect: connection refused"),
            Some("10.96.0.1:443".into())
        );
        assert_eq!(
            server_of("Get \"https://k8s.example:6443/api/v1/pods\": EOF"),
            Some("https://k8s.example:6443".into())
        );
        assert_eq!(classify_text("all fine"), None);
    }
}
