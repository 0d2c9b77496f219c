//! ServiceAccount tokens with a lifetime, for tests of what happens when one expires.
//!
//! The API server issues tokens of at least 600 s (`TokenRequest` validation, `MinTokenAgeSec` in
//! `k8s.io/kubernetes/pkg/apis/authentication/validation`), and a test must not wait ten minutes. So
//! [`ControlPlane::expiring_token`] asks the API server for a real token, keeps its claims (issuer, audience,
//! subject, the ServiceAccount's name and UID) and its header, moves its issue and expiry times back so that it
//! has the shortest lifetime the API server issues (600 s) and expires when the test wants, and signs it again with
//! the control plane's own ServiceAccount signing key. The API server then authenticates it exactly as one of its
//! own and rejects it for the same reason once `exp` has passed — after the 60 s of clock-skew leeway its JWT
//! validation allows (`go-jose` `DefaultLeeway`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::Value;

use crate::identity::Identity;
use crate::{ControlPlane, Error};

/// The shortest lifetime the API server issues (TokenRequest `expirationSeconds` minimum).
pub const MIN_LIFETIME: Duration = Duration::from_secs(600);

/// How long past `exp` the API server still accepts a token (go-jose's default leeway).
pub const SERVER_LEEWAY: Duration = Duration::from_secs(60);

/// A token and when it expires.
#[derive(Debug, Clone)]
pub struct ExpiringToken {
    /// Who it authenticates, and the token.
    pub identity: Identity,
    /// Its `exp` claim.
    pub expires_at: SystemTime,
}

impl ExpiringToken {
    /// When the API server starts rejecting it (`exp` plus the server's leeway).
    pub fn rejected_from(&self) -> SystemTime {
        self.expires_at + SERVER_LEEWAY
    }
}

fn bad(what: impl Into<String>) -> Error {
    Error::io(what, std::io::Error::other("unexpected token format"))
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl ControlPlane {
    /// A token for ServiceAccount `namespace/name` (created if missing) with a lifetime of 600 s that expires
    /// `expires_in` from now (see the module docs).
    pub async fn expiring_token(
        &self,
        namespace: &str,
        name: &str,
        expires_in: Duration,
    ) -> Result<ExpiringToken, Error> {
        let issued = self.service_account(namespace, name).await?;
        let token = &issued.identity.token;
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(_sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("the TokenRequest token is not a JWT"));
        };
        let claims = B64
            .decode(payload)
            .map_err(|e| Error::io("decoding the token's claims", std::io::Error::other(e)))?;
        let mut claims: Value = serde_json::from_slice(&claims)
            .map_err(|e| Error::io("reading the token's claims", std::io::Error::other(e)))?;
        let expires_at = SystemTime::now() + expires_in;
        let issued_at = expires_at - MIN_LIFETIME;
        let obj = claims
            .as_object_mut()
            .ok_or_else(|| bad("the token's claims are not an object"))?;
        obj.insert("exp".into(), unix(expires_at).into());
        obj.insert("iat".into(), unix(issued_at).into());
        obj.insert("nbf".into(), unix(issued_at).into());
        let payload = B64.encode(
            serde_json::to_vec(&claims)
                .map_err(|e| Error::io("encoding the token's claims", std::io::Error::other(e)))?,
        );
        let signed = format!("{header}.{payload}");
        let signature = self.sign_es256(signed.as_bytes())?;
        Ok(ExpiringToken {
            identity: Identity {
                user: issued.identity.user.clone(),
                token: format!("{signed}.{}", B64.encode(signature)),
            },
            expires_at,
        })
    }

    /// An ES256 signature (r ‖ s) with the control plane's ServiceAccount signing key (`<dir>/sa.key`, SEC1 PEM).
    fn sign_es256(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
        let path = self.state().dir.join("sa.key");
        let pem = std::fs::read_to_string(&path)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        let key_error = |e: &dyn std::fmt::Display| {
            Error::io(
                format!("reading the key in {}", path.display()),
                std::io::Error::other(e.to_string()),
            )
        };
        let (_label, der) =
            sec1::der::pem::decode_vec(pem.as_bytes()).map_err(|e| key_error(&e))?;
        let key = sec1::EcPrivateKey::try_from(der.as_slice()).map_err(|e| key_error(&e))?;
        let public = key
            .public_key
            .ok_or_else(|| key_error(&"the key holds no public key"))?;
        let rng = ring::rand::SystemRandom::new();
        let pair = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            key.private_key,
            public,
            &rng,
        )
        .map_err(|e| key_error(&e))?;
        let signature = pair.sign(&rng, message).map_err(|e| key_error(&e))?;
        Ok(signature.as_ref().to_vec())
    }
}

/// Keeps a token file fresh; stops when dropped.
#[derive(Debug)]
pub struct TokenRenewal {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TokenRenewal {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Writes `token` to `path` atomically (a temporary file renamed over it), readable by its owner only: a reader
/// (kube-rs re-reads a kubeconfig's `tokenFile` about once a minute) never sees half a token.
pub fn write_token_file(path: &std::path::Path, token: &str) -> Result<(), Error> {
    let tmp = path.with_extension("new");
    crate::write_private(&tmp, token.as_bytes())?;
    std::fs::rename(&tmp, path).map_err(|e| {
        Error::io(
            format!("renaming {} to {}", tmp.display(), path.display()),
            e,
        )
    })
}

impl ControlPlane {
    /// Writes a fresh TokenRequest token (one hour) for ServiceAccount `namespace/name` to `path` now, and again
    /// every `every` until the returned guard is dropped — what the kubelet does for a projected ServiceAccount
    /// token, for a program run outside a cluster with a kubeconfig whose `tokenFile` is `path`. Needs a tokio
    /// runtime.
    pub async fn renew_token_file(
        &self,
        namespace: &str,
        name: &str,
        path: &std::path::Path,
        every: Duration,
    ) -> Result<TokenRenewal, Error> {
        let first = self.service_account(namespace, name).await?;
        write_token_file(path, &first.identity.token)?;
        let (cp, namespace, name, path) = (
            ControlPlane::reuse(&self.state().dir)?,
            namespace.to_string(),
            name.to_string(),
            path.to_path_buf(),
        );
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let renewed = match cp.service_account(&namespace, &name).await {
                    Ok(sa) => write_token_file(&path, &sa.identity.token),
                    Err(e) => Err(e),
                };
                match renewed {
                    Ok(()) => println!(
                        "  renewed the token of {namespace}/{name} in {} (next in {every:?})",
                        path.display()
                    ),
                    // The next round tries again; the current token is still valid for a while.
                    Err(e) => eprintln!(
                        "  renewing the token of {namespace}/{name} failed ({}); retrying in {every:?}",
                        anyhow::Chain::new(&e)
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join(": ")
                    ),
                }
            }
        });
        Ok(TokenRenewal { task })
    }
}
