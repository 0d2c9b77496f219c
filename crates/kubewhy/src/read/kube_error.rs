//! kube-rs error values: `kube::Error` (an API `Status`, or a transport, TLS, auth or config failure),
//! `kube::runtime::watcher::Error` and `kube::runtime::controller::Error`, read by type — never by matching
//! their `Display` — except for the innermost transport causes, whose types belong to hyper, rustls or the OS.

use std::error::Error as StdError;
use std::io;

use kube::core::Status;
#[cfg(feature = "runtime")]
use kube::runtime::watcher;

use super::{Evidence, Transport};
use crate::cause::{Cause, ConnectionFailure, FieldError, NotServed};
#[cfg(feature = "runtime")]
use crate::diagnosis::Phase;

/// Evidence from an API server answer.
pub(crate) fn from_status(status: &Status) -> Evidence {
    let mut ev = Evidence {
        code: (status.code > 0).then_some(status.code),
        reason: (!status.reason.is_empty()).then(|| status.reason.clone()),
        message: status.message.clone(),
        is_failure: true,
        ..Evidence::default()
    };
    if let Some(d) = &status.details {
        let some = |s: &String| (!s.is_empty()).then(|| s.clone());
        ev.detail_name = some(&d.name);
        ev.detail_group = some(&d.group);
        ev.detail_kind = some(&d.kind);
        ev.retry_after = (d.retry_after_seconds > 0).then_some(d.retry_after_seconds);
        ev.causes = d
            .causes
            .iter()
            .map(|c| FieldError {
                reason: c.reason.clone(),
                message: c.message.clone(),
                field: c.field.clone(),
            })
            .collect();
    }
    ev
}

/// The transport failure an I/O error means.
fn io_transport(e: &io::Error) -> Option<Transport> {
    use io::ErrorKind as K;
    let failure = match e.kind() {
        K::ConnectionRefused => ConnectionFailure::Refused,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
            ConnectionFailure::Reset
        }
        K::HostUnreachable | K::NetworkUnreachable | K::NetworkDown | K::AddrNotAvailable => {
            ConnectionFailure::Unreachable
        }
        K::NotConnected => ConnectionFailure::Other,
        K::TimedOut => return Some(Transport::Timeout),
        _ => return None,
    };
    Some(Transport::Connection {
        failure,
        os_code: e.raw_os_error(),
    })
}

/// The transport failure somewhere in a chain: by I/O error first, then by the causes' words.
fn transport_of(err: &(dyn StdError + 'static), text: &str) -> Option<Transport> {
    // TLS words win over an I/O kind: rustls reports a bad certificate as an `InvalidData` I/O error.
    let by_text = super::transport::classify_text(text);
    if let Some(Transport::Tls(_)) = by_text {
        return by_text;
    }
    // hyper-util wraps a DNS failure in an I/O error of kind `Other`: the words say more.
    if let Some(Transport::Connection {
        failure: ConnectionFailure::Dns,
        ..
    }) = by_text
    {
        return by_text;
    }
    crate::chain::find::<io::Error>(err)
        .and_then(io_transport)
        .or(by_text)
}

/// Evidence from a `kube::Error`.
pub(crate) fn from_kube_error(err: &kube::Error) -> Evidence {
    if let kube::Error::Api(status) = err {
        return from_status(status);
    }
    let text = crate::chain::one_line(err);
    let mut ev = Evidence {
        message: text.clone(),
        is_failure: true,
        ..Evidence::default()
    };
    let other = Transport::Connection {
        failure: ConnectionFailure::Other,
        os_code: None,
    };
    match err {
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => {
            ev.transport = Some(transport_of(err, &text).unwrap_or(other));
        }
        kube::Error::TlsRequired => {
            ev.transport = Some(Transport::Tls(super::transport::tls_failure(&text)));
        }
        // kube's `RustlsTls`/`OpensslTls` variants exist only with the TLS feature the program picks, not kubewhy:
        // read them by the prefix of their `Display` (kube-client's `#[error("rustls tls error: {0}")]`).
        _ if text.starts_with("rustls tls error") || text.starts_with("openssl tls error") => {
            ev.transport = Some(Transport::Tls(super::transport::tls_failure(&text)));
        }
        kube::Error::ProxyProtocolUnsupported { .. }
        | kube::Error::ProxyProtocolDisabled { .. } => ev.hint = Some(Cause::ProxyUnsupported),
        kube::Error::Auth(_) => ev.hint = Some(Cause::CredentialsUnavailable),
        kube::Error::Discovery(_) => ev.hint = Some(Cause::NotServed(NotServed::default())),
        kube::Error::BuildRequest(_) | kube::Error::HttpError(_) => ev.hint = Some(Cause::NotSent),
        kube::Error::SerdeError(_) => ev.hint = Some(Cause::Undecodable),
        kube::Error::InferConfig(_) | kube::Error::InferKubeconfig(_) => {
            ev.hint = Some(Cause::NoConfig)
        }
        _ => {
            ev.transport = super::transport::classify_text(&text);
        }
    }
    ev
}

/// Evidence from a watcher error: the inner error plus the step that failed.
#[cfg(feature = "runtime")]
pub(crate) fn from_watcher_error(err: &watcher::Error) -> Evidence {
    let (mut ev, phase) = match err {
        watcher::Error::InitialListFailed(e) => (from_kube_error(e), Phase::InitialList),
        watcher::Error::WatchStartFailed(e) => (from_kube_error(e), Phase::WatchStart),
        watcher::Error::WatchError(status) => (from_status(status), Phase::WatchEvent),
        watcher::Error::WatchFailed(e) => (from_kube_error(e), Phase::WatchStream),
        watcher::Error::NoResourceVersion => {
            return Evidence {
                message: err.to_string(),
                hint: Some(Cause::NoResourceVersion),
                is_failure: true,
                ..Evidence::default()
            };
        }
    };
    ev.phase = Some(phase);
    ev
}
