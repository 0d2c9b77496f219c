//! What the client trusts: whether the kubeconfig's CA data holds a root certificate. rustls (kube-rs) anchors
//! trust only in roots it is given, where Go's TLS (kubectl) also accepts a leaf or intermediate certificate — so
//! CA data holding the server's own certificate works with kubectl and fails here with `UnknownIssuer`
//! (kube#1767).

use x509_cert::Certificate;
use x509_cert::der::Decode;

/// Whether the CA data (DER certificates) holds a root: a self-issued certificate (issuer = subject). `None`
/// without CA data, or when a certificate cannot be read.
pub(super) fn holds_a_root(ca: &[Vec<u8>]) -> Option<bool> {
    if ca.is_empty() {
        return None;
    }
    let mut any_root = false;
    for der in ca {
        let cert = Certificate::from_der(der).ok()?;
        let tbs = cert.tbs_certificate();
        any_root |= tbs.issuer() == tbs.subject();
    }
    Some(any_root)
}
