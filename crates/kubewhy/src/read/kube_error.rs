//! kube-rs error values: `kube::Error` (an API `Status`, or a transport, TLS, auth or config failure),
//! `kube::runtime::watcher::Error` and `kube::runtime::controller::Error`, read by type — never by matching
//! their `Display` — except for the innermost transport causes, whose types belong to hyper, rustls or the OS.

use std::error::Error as StdError;
use std::io;

use kube::core::Status;
use kube::runtime::watcher;

use super::{Cause, Evidence, Phase, Transport};
use crate::Class;

/// The first error of type `T` in `err`'s `source()` chain, `err` included.
pub(crate) fn find_in_chain<'a, T: StdError + 'static>(
    err: &'a (dyn StdError + 'static),
) -> Option<&'a T> {
    let mut current: Option<&'a (dyn StdError + 'static)> = Some(err);
    let mut depth = 0;
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        depth += 1;
        if depth > 64 {
            // A cyclic or absurdly deep chain: stop rather than loop.
            return None;
        }
        current = e.source();
    }
    None
}

/// `err` and its causes as one line (`a: b: c`), leaving out a cause whose text its parent already contains.
pub(crate) fn chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut out = err.to_string();
    let mut current = err.source();
    let mut depth = 0;
    while let Some(e) = current {
        let text = e.to_string();
        if !text.is_empty() && !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        depth += 1;
        if depth > 64 {
            break;
        }
        current = e.source();
    }
    out
}

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
            .map(|c| Cause {
                reason: c.reason.clone(),
                message: c.message.clone(),
                field: c.field.clone(),
            })
            .collect();
    }
    ev
}

/// The transport failure an I/O error kind means.
fn io_transport(kind: io::ErrorKind) -> Option<Transport> {
    use io::ErrorKind as K;
    match kind {
        K::ConnectionRefused
        | K::ConnectionReset
        | K::ConnectionAborted
        | K::NotConnected
        | K::BrokenPipe
        | K::UnexpectedEof
        | K::AddrNotAvailable
        | K::HostUnreachable
        | K::NetworkUnreachable
        | K::NetworkDown => Some(Transport::Connection),
        K::TimedOut => Some(Transport::Timeout),
        _ => None,
    }
}

/// The transport failure somewhere in a chain: by I/O error kind first, then by the causes' words.
fn transport_of(err: &(dyn StdError + 'static), text: &str) -> Option<Transport> {
    // TLS words win over an I/O kind: rustls reports a bad certificate as an `InvalidData` I/O error.
    let by_text = super::transport::classify_text(text);
    if by_text == Some(Transport::Tls) {
        return by_text;
    }
    find_in_chain::<io::Error>(err)
        .and_then(|e| io_transport(e.kind()))
        .or(by_text)
}

/// Evidence from a `kube::Error`.
pub(crate) fn from_kube_error(err: &kube::Error) -> Evidence {
    if let kube::Error::Api(status) = err {
        return from_status(status);
    }
    let text = chain_text(err);
    let mut ev = Evidence {
        message: text.clone(),
        is_failure: true,
        ..Evidence::default()
    };
    match err {
        kube::Error::HyperError(_) | kube::Error::Service(_) | kube::Error::ReadEvents(_) => {
            ev.transport = Some(transport_of(err, &text).unwrap_or(Transport::Connection));
        }
        kube::Error::RustlsTls(_) | kube::Error::TlsRequired => {
            ev.transport = Some(Transport::Tls);
        }
        kube::Error::ProxyProtocolUnsupported { .. }
        | kube::Error::ProxyProtocolDisabled { .. } => {
            ev.transport = Some(Transport::Connection);
            ev.notes
                .push("the configured proxy cannot be used by this build of the client".into());
        }
        kube::Error::Auth(_) => {
            ev.hint = Some(Class::Unauthorized);
            ev.notes.push(
                "the client could not obtain credentials (token file, exec plugin or auth provider) before \
                 sending the request"
                    .into(),
            );
        }
        kube::Error::Discovery(_) => ev.hint = Some(Class::ResourceNotFound),
        kube::Error::BuildRequest(_) | kube::Error::HttpError(_) => {
            ev.hint = Some(Class::InvalidRequest);
            ev.notes
                .push("the client could not build the request; nothing was sent".into());
        }
        kube::Error::SerdeError(_) => {
            ev.hint = Some(Class::Unknown);
            ev.notes.push(
                "the response could not be decoded into the requested type: a field of an object does not \
                 match the Rust type (kube-rs `DeserializeGuard` lets a list survive single bad objects)"
                    .into(),
            );
        }
        kube::Error::InferConfig(_) | kube::Error::InferKubeconfig(_) => {
            ev.hint = Some(Class::Unknown);
            ev.notes.push(
                "no usable configuration: neither a kubeconfig (KUBECONFIG, ~/.kube/config) nor in-cluster \
                 service account files were found or valid"
                    .into(),
            );
        }
        _ => {
            ev.transport = super::transport::classify_text(&text);
        }
    }
    ev
}

/// Evidence from a watcher error: the inner error plus the step that failed.
pub(crate) fn from_watcher_error(err: &watcher::Error) -> Evidence {
    let (mut ev, phase) = match err {
        watcher::Error::InitialListFailed(e) => (from_kube_error(e), Phase::InitialList),
        watcher::Error::WatchStartFailed(e) => (from_kube_error(e), Phase::WatchStart),
        watcher::Error::WatchError(status) => (from_status(status), Phase::WatchEvent),
        watcher::Error::WatchFailed(e) => (from_kube_error(e), Phase::WatchStream),
        watcher::Error::NoResourceVersion => {
            let mut ev = Evidence {
                message: err.to_string(),
                hint: Some(Class::InvalidRequest),
                is_failure: true,
                ..Evidence::default()
            };
            ev.notes.push(
                "the list answer had no resourceVersion to start watching from: the resource may not support \
                 list and watch"
                    .into(),
            );
            return ev;
        }
    };
    ev.phase = Some(phase);
    ev
}
