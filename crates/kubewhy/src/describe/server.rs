//! Wording of load, server and transport failures and of the client's own: throttling (API Priority and
//! Fairness, client-side, the watch cache re-initialising), server errors (etcd leader changes, unreadable
//! storage), time-outs, refused or lost connections, TLS, and a client with no configuration.

use super::{Words, server_text};
use crate::cause::{Cause, ConnectionFailure, TlsFailure};
use crate::diagnosis::{Diagnosis, Phase};

/// How many storage keys are listed one by one.
const KEYS_SHOWN: usize = 10;

pub(super) fn words(d: &Diagnosis) -> Words {
    let r = &d.request;
    let w = Words::new;
    let retry = |s: &Option<u32>| {
        s.map(|s| format!("the server asked to retry after {s} s"))
            .into_iter()
            .collect::<Vec<_>>()
    };
    match &d.cause {
        Cause::Throttled { retry_after } => Words {
            summary: "the API server is rate limiting requests (429)".into(),
            cause: "API Priority and Fairness has no free seat for this client's flow".into(),
            notes: retry(retry_after),
        },
        Cause::ClientThrottled => w(
            "client-side rate limiting delayed requests".into(),
            "client-go's own limiter (QPS/Burst) made the request wait; the server did not refuse it",
        ),
        Cause::Reinitializing { retry_after } => Words {
            summary: "the API server's watch cache is (re)initializing (429)".into(),
            cause: "the API server (re)started and is filling its watch cache from etcd; until it is ready, lists \
                    and watches are refused with `storage is (re)initializing` (Kubernetes 1.31+): transient, not \
                    API Priority and Fairness, and nothing the client did"
                .into(),
            notes: retry(retry_after),
        },
        Cause::ServerFailed => w(
            match d.code {
                Some(c) => format!("the API server failed to handle the request ({c})"),
                None => "the API server failed to handle the request".into(),
            },
            "a server-side failure, not a problem with the request",
        ),
        Cause::Unavailable => w(
            "the API server (or an aggregated API behind it) is unavailable (503)".into(),
            "a server-side failure, not a problem with the request",
        ),
        Cause::LeaderChanged => w(
            "etcd changed leader while the API server handled the request".into(),
            "`etcdserver: leader changed`: an etcd leader election interrupted the request; transient — a retry \
             goes to the new leader",
        ),
        Cause::StorageRead { keys } => {
            let what = super::quoted_resource(r).unwrap_or_else(|| "objects".into());
            let mut notes: Vec<String> = keys
                .iter()
                .take(KEYS_SHOWN)
                .map(|k| format!("unreadable: `{k}`"))
                .collect();
            if keys.len() > KEYS_SHOWN {
                notes.push(format!("and {} more keys", keys.len() - KEYS_SHOWN));
            }
            Words {
                summary: format!(
                    "the API server could not read {} of {what} from storage",
                    match keys.len() {
                        0 => "some".to_string(),
                        1 => "1 object".to_string(),
                        n => format!("{n} objects"),
                    }
                ),
                cause: "objects in etcd cannot be decrypted or decoded (`StorageReadError`): an encryption key \
                        (KMS) was lost or rotated away, or the data is corrupt; a list or watch of the type fails \
                        until they are repaired or deleted"
                    .into(),
                notes,
            }
        }
        Cause::ServerTimeout => w(
            "the API server timed out handling the request".into(),
            "the request took longer than the server allows (large lists, an overloaded server or etcd)",
        ),
        Cause::NoAnswer { after_ms } => match after_ms {
            Some(ms) => w(
                format!(
                    "the API server did not answer within {}s",
                    *ms as f64 / 1000.0
                ),
                "the request was sent but no response came in time: the API server (or an aggregated API \
                 behind it) is overloaded or unavailable, or the network drops the connection",
            ),
            None => w(
                format!("the request to {} timed out", server_text(r)),
                "no answer arrived in time: the server is overloaded or unreachable, or the network drops \
                 packets",
            ),
        },
        Cause::CacheSyncTimeout => Words {
            summary: format!(
                "an informer's cache never synced{}",
                r.kind
                    .as_deref()
                    .map(|k| format!(" (kind `{k}`)"))
                    .unwrap_or_default()
            ),
            cause: "the informer could not list and watch its type before the cache-sync timeout".into(),
            notes: (d.phase == Some(Phase::CacheSync))
                .then(|| {
                    "controller-runtime gave up waiting for an informer to list and watch; the informer's own \
                     error (often `forbidden` or a missing CRD) is logged earlier by its reflector"
                        .to_string()
                })
                .into_iter()
                .collect(),
        },
        Cause::StalledWatch { idle_s } => Words {
            summary: format!(
                "the watch of {} delivered neither an event nor a bookmark for {idle_s}s",
                super::quoted_resource(r).unwrap_or_else(|| "a resource".into())
            ),
            cause: "the API server sends a bookmark on such a watch about every minute, so the connection is \
                    most likely half-open: a VPN, NAT, proxy or load balancer dropped it without closing it \
                    (kube#1791), and without this check the watch would wait for its idle time-out (about 5 \
                    minutes) while changes went unseen"
                .into(),
            notes: vec![
                "the watch was ended and resumes from the last resourceVersion it saw (or lists again if that \
                 is too old): no change is lost, only delayed"
                    .into(),
            ],
        },
        Cause::NoInitialEventsEnd { waited_s } => w(
            format!(
                "the streaming list of {} sent no `k8s.io/initial-events-end` bookmark in {waited_s}s",
                super::quoted_resource(r).unwrap_or_else(|| "a resource".into())
            ),
            "the API server accepted `sendInitialEvents=true` but never marked the end of the initial events (an \
             API server or proxy that does not implement streaming lists fully); a client that waits for the mark \
             never finishes its initial list",
        ),
        Cause::Connection { failure, os_code } => {
            let code = os_code
                .map(|c| format!(" (os error {c})"))
                .unwrap_or_default();
            w(
                format!("could not connect to {}", server_text(r)),
                &match failure {
                    ConnectionFailure::Refused => format!(
                        "the connection was refused{code}: nothing listens at that address and port — the API \
                         server is down, or the address or port is wrong"
                    ),
                    ConnectionFailure::Dns => {
                        "the server's host name did not resolve (DNS): a wrong name, or no DNS for it from here"
                            .into()
                    }
                    ConnectionFailure::Unreachable => format!(
                        "no route to the server{code}: the network or a network policy is in the way"
                    ),
                    ConnectionFailure::Reset => format!(
                        "the connection was reset or closed before an answer{code} (the server, a proxy or a \
                         load balancer dropped it)"
                    ),
                    ConnectionFailure::Other => "no HTTP answer: the connection was refused, reset or never made \
                                                 (wrong address or port, server down, DNS, network policy)"
                        .into(),
                },
            )
        }
        Cause::Tls { failure } => tls(d, *failure),
        Cause::ProxyUnsupported => w(
            "the configured proxy cannot be used".into(),
            "the configured proxy cannot be used by this build of the client (its protocol is not enabled)",
        ),
        Cause::NoConfig => w(
            "no usable Kubernetes configuration".into(),
            "no usable configuration: neither a kubeconfig (KUBECONFIG, ~/.kube/config) nor in-cluster service \
             account files were found or valid",
        ),
        Cause::Undecodable => Words {
            summary: "an answer could not be decoded into the client's type".into(),
            cause: "the API server answered, but the client could not read the answer".into(),
            notes: vec![
                "the response could not be decoded into the requested type: a field of an object does not \
                 match the Rust type (kube-rs `DeserializeGuard` lets a list survive single bad objects)"
                    .into(),
            ],
        },
        Cause::Unknown => w(
            format!(
                "unrecognised failure{}",
                d.code.map(|c| format!(" ({c})")).unwrap_or_default()
            ),
            "kubewhy has no rule for this failure; its message is shown as is",
        ),
        _ => unreachable!("describe::server is given server, transport and client causes only"),
    }
}

fn tls(d: &Diagnosis, failure: TlsFailure) -> Words {
    let mut notes = Vec::new();
    let cause = match failure {
        TlsFailure::UnknownIssuer => {
            notes.push(
                "kube-rs (rustls) trusts only what the CA data holds as a root: CA data that holds the server's \
                 own certificate or an intermediate works with kubectl (Go) and fails here (kube#1767)"
                    .into(),
            );
            "the server's certificate chains to no CA the client trusts (kubeconfig `certificate-authority-data`, \
             or the in-cluster `ca.crt`)"
        }
        TlsFailure::CaNotRoot => {
            "the kubeconfig's CA data holds a leaf or intermediate certificate, not a root CA: Go's TLS (kubectl) \
             accepts it as a trust anchor, rustls (kube-rs) does not (kube#1767)"
        }
        TlsFailure::Expired => "a certificate in the chain has expired (or is not valid yet)",
        TlsFailure::WrongName => {
            "the server's certificate does not name the address the client connected to"
        }
        TlsFailure::Handshake => {
            "the TLS handshake failed: no common protocol, or the server rejected the client certificate"
        }
        TlsFailure::Other => {
            "the server's certificate is not trusted by the client's CA bundle, has expired, or does not name the \
             address used"
        }
    };
    Words {
        summary: format!("TLS with {} failed", server_text(&d.request)),
        cause: cause.into(),
        notes,
    }
}
