//! A real validating admission webhook that denies every request it is sent, for one namespace: a TLS server in the
//! test process that the API server calls (its certificate is the control plane's own serving certificate, valid for
//! 127.0.0.1, so the CA bundle is the control plane's CA) and a `ValidatingWebhookConfiguration` pointing at it.

use std::path::Path;
use std::sync::Arc;

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    RuleWithOperations, ValidatingWebhook, ValidatingWebhookConfiguration, WebhookClientConfig,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::Client;
use kube::api::{Api, DeleteParams, PostParams};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A running webhook and its configuration; dropping it stops the server (delete the configuration first:
/// [`DenyingWebhook::remove`]).
pub struct DenyingWebhook {
    /// The webhook's name, as the API server's denial names it.
    pub name: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for DenyingWebhook {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Answers one AdmissionReview request read from `stream`: denied, with `message`.
async fn answer<S>(mut stream: S, message: &str) -> std::io::Result<()>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let (head_end, length) = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (end + 4, length);
        }
    };
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let review: serde_json::Value =
        serde_json::from_slice(&buf[head_end..]).unwrap_or(serde_json::Value::Null);
    let body = serde_json::json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {
            "uid": review["request"]["uid"],
            "allowed": false,
            "status": {"code": 403, "message": message},
        },
    })
    .to_string();
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

impl DenyingWebhook {
    /// Starts a webhook named `name` that denies `operations` on `resources` (core group) in namespace `ns` with
    /// `message`, served with the certificate of the control plane whose state directory is `state_dir`.
    pub async fn start(
        admin: &Client,
        state_dir: &Path,
        name: &str,
        ns: &str,
        resources: &[&str],
        message: &str,
    ) -> DenyingWebhook {
        let certs = CertificateDer::pem_file_iter(state_dir.join("apiserver.crt"))
            .expect("reading the serving certificate")
            .collect::<Result<Vec<_>, _>>()
            .expect("parsing the serving certificate");
        let key = PrivateKeyDer::from_pem_file(state_dir.join("apiserver.key"))
            .expect("reading the serving key");
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("a TLS server configuration");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the webhook's port");
        let port = listener.local_addr().expect("its address").port();
        let message = message.to_string();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, message) = (acceptor.clone(), message.clone());
                tokio::spawn(async move {
                    // A connection the API server dropped, or a failed handshake, is its to retry: nothing to do here.
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        let _answered = answer(tls, &message).await;
                    }
                });
            }
        });
        let ca = std::fs::read(state_dir.join("ca.crt")).expect("reading the control plane's CA");
        let configuration = ValidatingWebhookConfiguration {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            webhooks: Some(vec![ValidatingWebhook {
                name: name.into(),
                admission_review_versions: vec!["v1".into()],
                side_effects: "None".into(),
                failure_policy: Some("Fail".into()),
                timeout_seconds: Some(5),
                client_config: WebhookClientConfig {
                    url: Some(format!("https://127.0.0.1:{port}/validate")),
                    ca_bundle: Some(ByteString(ca)),
                    service: None,
                },
                namespace_selector: Some(LabelSelector {
                    match_labels: Some([("kubernetes.io/metadata.name".into(), ns.into())].into()),
                    ..LabelSelector::default()
                }),
                rules: Some(vec![RuleWithOperations {
                    api_groups: Some(vec![String::new()]),
                    api_versions: Some(vec!["v1".into()]),
                    operations: Some(vec!["CREATE".into(), "UPDATE".into()]),
                    resources: Some(resources.iter().map(|r| r.to_string()).collect()),
                    scope: Some("Namespaced".into()),
                }]),
                ..ValidatingWebhook::default()
            }]),
        };
        Api::<ValidatingWebhookConfiguration>::all(admin.clone())
            .create(&PostParams::default(), &configuration)
            .await
            .expect("creating the ValidatingWebhookConfiguration");
        DenyingWebhook {
            name: name.into(),
            task,
        }
    }

    /// Deletes the webhook's configuration (it is cluster-scoped: other tests share the control plane).
    pub async fn remove(self, admin: &Client) {
        Api::<ValidatingWebhookConfiguration>::all(admin.clone())
            .delete(&self.name, &DeleteParams::default())
            .await
            .expect("deleting the ValidatingWebhookConfiguration");
    }
}
