//! What the client's credentials say about themselves: the expiry (`exp`) and lifetime (`exp - iat`) of a bearer
//! token that is a JWT (a ServiceAccount token, an OIDC ID token), read from the kubeconfig's `token` or from its
//! `tokenFile` (read again each time: the kubelet rotates a projected token in place). A 401 says only
//! `Unauthorized`; the API server logs why. The token's own `exp` tells an expired token apart from a revoked or
//! unknown one, on the client, without asking anyone.
//!
//! Only the token's claims are decoded (never verified, never logged); the token itself is not kept beyond that.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::ExposeSecret;

/// Where the client's bearer token comes from.
#[derive(Debug, Clone, Default)]
pub(crate) enum Source {
    /// Written in the kubeconfig: its expiry, read once.
    Inline(Option<Expiry>),
    /// A file, read again when asked.
    File(PathBuf),
    /// No bearer token, or one that carries no expiry the client can read (an exec plugin's).
    #[default]
    None,
}

/// A token's expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    /// Its `exp`.
    pub at: SystemTime,
    /// `exp - iat`, when it has an `iat`.
    pub lifetime: Option<Duration>,
    /// It is read from a file (a projected ServiceAccount token the kubelet rotates, or one renewed by hand).
    pub from_file: bool,
}

impl Expiry {
    /// Whether it has passed at `now`.
    pub fn passed(&self, now: SystemTime) -> bool {
        now >= self.at
    }

    /// RFC 3339, UTC, to the second.
    pub fn at_rfc3339(&self) -> String {
        let secs = self
            .at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        k8s_openapi::jiff::Timestamp::from_second(secs)
            .map_or_else(|_| format!("{secs} (Unix time)"), |t| t.to_string())
    }
}

impl Source {
    pub(crate) fn of(config: &kube::Config) -> Source {
        let info = &config.auth_info;
        if let Some(token) = &info.token {
            return Source::Inline(expiry(token.expose_secret(), false));
        }
        match &info.token_file {
            Some(file) => Source::File(PathBuf::from(file)),
            None => Source::None,
        }
    }

    /// The token's expiry, as far as it can be read now.
    pub(crate) fn expiry(&self) -> Option<Expiry> {
        match self {
            Source::Inline(e) => *e,
            // An unreadable file is kube's to report (it cannot send the request either).
            Source::File(path) => std::fs::read_to_string(path)
                .ok()
                .and_then(|t| expiry(t.trim(), true)),
            Source::None => None,
        }
    }
}

/// The expiry a JWT's claims carry.
fn expiry(token: &str, from_file: bool) -> Option<Expiry> {
    #[derive(serde::Deserialize)]
    struct Claims {
        exp: Option<u64>,
        iat: Option<u64>,
    }
    let payload = token.split('.').nth(1)?;
    let claims = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Claims = serde_json::from_slice(&claims).ok()?;
    let exp = claims.exp?;
    Some(Expiry {
        at: UNIX_EPOCH + Duration::from_secs(exp),
        lifetime: claims
            .iat
            .and_then(|iat| exp.checked_sub(iat))
            .map(Duration::from_secs),
        from_file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_exp_and_iat_of_a_jwt_and_nothing_of_other_tokens() {
        let claims = URL_SAFE_NO_PAD.encode(br#"{"iss":"x","exp":1700000600,"iat":1700000000}"#);
        let e = expiry(&format!("eyJhbGciOiJFUzI1NiJ9.{claims}.c2ln"), false).unwrap();
        assert_eq!(e.at, UNIX_EPOCH + Duration::from_secs(1_700_000_600));
        assert_eq!(e.lifetime, Some(Duration::from_secs(600)));
        assert_eq!(e.at_rfc3339(), "2023-11-14T22:23:20Z");
        assert!(e.passed(SystemTime::now()));
        assert!(
            expiry("0123456789abcdef", false).is_none(),
            "a static token"
        );
        assert!(expiry("a.b.c", false).is_none(), "not base64 JSON");
    }
}
