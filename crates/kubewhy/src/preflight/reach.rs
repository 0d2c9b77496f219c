//! Check 1, `reach`: the API server answers `/version` with these credentials — which proves the connection,
//! TLS and authentication (an unknown token is a 401 even on `/version`) — and tells its version.

use std::time::Duration;

use super::{Check, CheckKind, limited};
use crate::cause::{Cause, TlsFailure};
use crate::diagnosis::Request;
use crate::note::Note;

/// The reach check and the server's version when it answered. `ca` is the configuration's CA data (DER), read
/// when TLS fails with an unknown issuer.
pub(super) async fn check(
    client: &kube::Client,
    server: &str,
    ca: Option<&[Vec<u8>]>,
    timeout: Duration,
) -> (Check, Option<String>) {
    let check = Check::new(CheckKind::Reach, "API server reachable", None);
    match limited(timeout, client.apiserver_version()).await {
        Ok(info) => {
            let detail = format!("`{server}` answers: Kubernetes {}", info.git_version);
            (check.pass(detail), Some(info.git_version))
        }
        Err(failure) => {
            let request = Request {
                method: Some("GET".into()),
                url: Some(format!("{}/version", server.trim_end_matches('/'))),
                path: Some("/version".into()),
                ..Request::default()
            };
            let mut d = failure.diagnose(&request);
            // The CA data is a leaf or intermediate: Go would have trusted it, rustls does not.
            if d.cause
                == (Cause::Tls {
                    failure: TlsFailure::UnknownIssuer,
                })
                && ca.and_then(super::trust::holds_a_root) == Some(false)
            {
                d.set_cause(Cause::Tls {
                    failure: TlsFailure::CaNotRoot,
                });
            }
            d.notes.push(Note::Server {
                url: server.to_string(),
            });
            (check.fail(d), None)
        }
    }
}
