//! Fixes of load, server and transport failures and of the client's own: throttling, server errors, time-outs,
//! stalled watches, refused or lost connections, TLS, a client with no configuration.

use super::Remedy;
use crate::cause::{Cause, ConnectionFailure, TlsFailure};
use crate::diagnosis::Diagnosis;

pub(super) fn remedy(d: &Diagnosis) -> Remedy {
    match &d.cause {
    Cause::Throttled { .. } => Remedy::new(
        "retry after the server's Retry-After (kube-rs's default retry policy does); make fewer requests, \
         or give the client its own FlowSchema and priority level",
    )
    .command("kubectl get flowschemas,prioritylevelconfigurations"),
    Cause::ClientThrottled => Remedy::new(
        "raise the client's QPS/Burst if the delays matter, or make fewer requests (use informers/watches \
         rather than polling)",
    ),
    Cause::Reinitializing { .. } => Remedy::new(
        "nothing to fix: retry after the server's Retry-After (kube-rs's default retry policy does); it \
         passes once the watch cache is ready, seconds after the API server starts",
    ),
    Cause::ServerFailed | Cause::Unavailable => Remedy::new(
        "retry with back-off; if it persists, check the API server's health and, for 503, the aggregated \
         APIs",
    )
    .command("kubectl get --raw '/readyz?verbose'")
    .command("kubectl get apiservices"),
    Cause::LeaderChanged => Remedy::new(
        "nothing to fix: retry (kube-rs's watchers and default retry policy do); frequent leader changes \
         mean etcd is unhealthy (slow disks, a lossy network between its members)",
    ),
    Cause::StorageRead { .. } => Remedy::new(
        "restore the encryption key (KMS provider) the objects were written with, so they decrypt again; \
         as a last resort delete each unreadable object with the delete option \
         `ignoreStoreReadErrorWithClusterBreakingPotential` (it skips finalizers and owners: dangerous)",
    )
    .command("kubectl get --raw '/readyz?verbose'"),
    Cause::ServerTimeout | Cause::NoAnswer { .. } => Remedy::new(
        "retry with back-off; use smaller pages for large lists; check the API server's load and the \
         network path",
    )
    .command("kubectl get --raw '/readyz?verbose'"),
    Cause::StalledWatch { .. } => Remedy::new(
        "nothing to do for this one; if it repeats, check the network path to the API server: idle \
         time-outs of NAT, proxies or load balancers under a minute, VPN reconnects, or an overloaded API \
         server",
    )
    .command("kubectl get --raw '/readyz?verbose'"),
    Cause::NoInitialEventsEnd { .. } => Remedy::new(
        "use a paged list and watch for this server (kubewhy's `auto` initial list falls back by itself); \
         check the API server version and any proxy in front of it",
    )
    .command("kubectl version"),
    Cause::CacheSyncTimeout => Remedy::new(
        "find the informer's own error earlier in the log (a `Failed to watch` line: often `forbidden` or \
         a missing CRD) and fix that",
    ),
    Cause::Connection { failure, .. } => {
        let text = match failure {
            ConnectionFailure::Dns => {
                "check the server's host name in the kubeconfig and that it resolves from here"
            }
            _ => {
                "check the server address and port the client uses, that the API server is running, and \
                 DNS and network policy between them"
            }
        };
        Remedy::new(text)
            .command("kubectl config view --minify")
            .command("kubectl cluster-info")
    }
    Cause::Tls { failure } => {
        let text = match failure {
            TlsFailure::CaNotRoot => {
                "put the root CA of the server's certificate chain in the kubeconfig's \
                 `certificate-authority-data` (not the server's own certificate or an intermediate)"
            }
            TlsFailure::UnknownIssuer => {
                "give the client the root CA that signed the server's certificate (kubeconfig \
                 `certificate-authority-data`, or the in-cluster `ca.crt`); a leaf or intermediate \
                 certificate there is not enough for kube-rs"
            }
            TlsFailure::Expired => {
                "renew the expired certificate (the server's, or the client's in the kubeconfig)"
            }
            TlsFailure::WrongName => {
                "connect by a name or address the server's certificate lists, or reissue it with that \
                 name"
            }
            TlsFailure::Handshake | TlsFailure::Other => {
                "give the client the CA that signed the server's certificate (kubeconfig \
                 `certificate-authority-data`, or the in-cluster `ca.crt`), and connect by a name the \
                 certificate lists"
            }
        };
        Remedy::new(text).command("kubectl config view --minify --raw")
    }
    Cause::ProxyUnsupported => Remedy::new(
        "build the client with the proxy's protocol enabled (kube's `socks5` or `http-proxy` feature), \
         or take the proxy out of the kubeconfig",
    ),
    Cause::NoConfig => Remedy::new(
        "point KUBECONFIG at a kubeconfig (or create ~/.kube/config), or run in a pod with a \
         ServiceAccount",
    )
    .command("kubectl config view --minify"),
    Cause::Undecodable => Remedy::new(
        "compare the object the server returned with the Rust type it is read into (`kubectl get -o \
         yaml`); make the field optional or fix the type",
    ),
    Cause::Unknown => Remedy::new(
        "read the message; run with `RUST_LOG=kube=debug` (kube-rs) or `-v=6` (kubectl) to see the request \
         and the full answer",
    ),
        _ => unreachable!("remedy::server is given server causes only"),
    }
}
