//! Identities and isolation on the control plane: clients for the admin, static-token users and ServiceAccounts
//! with real TokenRequest tokens, kubeconfig files for `kubectl`, and a fresh namespace per test.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount as CoreServiceAccount};
use kube::api::{Api, ObjectMeta, PostParams};
use kube::config::{
    AuthInfo, Cluster, Context, KubeConfigOptions, Kubeconfig, NamedAuthInfo, NamedCluster,
    NamedContext,
};
use kube::{Client, Config};

use crate::{ControlPlane, Error};

/// Who a client acts as: a name for messages plus the bearer token it presents.
#[derive(Clone)]
pub struct Identity {
    /// Kubernetes user name, e.g. `admin`, `alice` or `system:serviceaccount:ns:name`.
    pub user: String,
    /// Bearer token (never printed by this type's `Debug`).
    pub token: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("user", &self.user)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// A ServiceAccount created for a test, with a real token and a client acting as it.
#[derive(Clone)]
pub struct ServiceAccount {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// `system:serviceaccount:<namespace>:<name>` and its TokenRequest token.
    pub identity: Identity,
    /// A client authenticated as it.
    pub client: Client,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

/// Where a kubeconfig points and where its token comes from.
#[derive(Debug, Clone, Default)]
pub struct KubeconfigOptions {
    /// Another server URL (a proxy in front of the API server); default: the API server.
    pub server: Option<String>,
    /// Read the token from this file (`tokenFile`, re-read by kube-rs and kubectl) instead of writing it inline.
    pub token_file: Option<PathBuf>,
}

static NAMESPACE_COUNTER: AtomicU32 = AtomicU32::new(0);

impl ControlPlane {
    /// The admin identity (group `system:masters`: RBAC never denies it).
    pub fn admin_identity(&self) -> Identity {
        Identity {
            user: "admin".into(),
            token: self.state().admin_token.clone(),
        }
    }

    /// A static-token user known to the control plane (see [`crate::controlplane::DEFAULT_USERS`]).
    pub fn user_identity(&self, name: &str) -> Result<Identity, Error> {
        let token = self
            .state()
            .users
            .get(name)
            .ok_or_else(|| Error::UnknownUser {
                name: name.into(),
                known: self
                    .state()
                    .users
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        Ok(Identity {
            user: name.into(),
            token: token.clone(),
        })
    }

    /// The kubeconfig for an identity, with this control plane's server and CA.
    pub fn kubeconfig_for(&self, identity: &Identity, namespace: Option<&str>) -> Kubeconfig {
        self.kubeconfig_with(identity, namespace, &KubeconfigOptions::default())
    }

    /// The kubeconfig for an identity, with this control plane's CA, and the server and token source `options`
    /// choose.
    pub fn kubeconfig_with(
        &self,
        identity: &Identity,
        namespace: Option<&str>,
        options: &KubeconfigOptions,
    ) -> Kubeconfig {
        let name = "kubewhy-local".to_string();
        let auth_info = match &options.token_file {
            Some(file) => AuthInfo {
                token_file: Some(file.display().to_string()),
                ..AuthInfo::default()
            },
            None => AuthInfo {
                token: Some(identity.token.clone().into()),
                ..AuthInfo::default()
            },
        };
        Kubeconfig {
            clusters: vec![NamedCluster {
                name: name.clone(),
                cluster: Some(Cluster {
                    server: Some(
                        options
                            .server
                            .clone()
                            .unwrap_or_else(|| self.state().server.clone()),
                    ),
                    certificate_authority: Some(self.state().ca_file.display().to_string()),
                    ..Cluster::default()
                }),
                ..NamedCluster::default()
            }],
            auth_infos: vec![NamedAuthInfo {
                name: identity.user.clone(),
                auth_info: Some(auth_info),
                ..NamedAuthInfo::default()
            }],
            contexts: vec![NamedContext {
                name: name.clone(),
                context: Some(Context {
                    cluster: name.clone(),
                    user: Some(identity.user.clone()),
                    namespace: namespace.map(str::to_string),
                    ..Context::default()
                }),
                ..NamedContext::default()
            }],
            current_context: Some(name),
            ..Kubeconfig::default()
        }
    }

    /// A client configuration for an identity.
    pub async fn config_for(&self, identity: &Identity) -> Result<Config, Error> {
        Config::from_custom_kubeconfig(
            self.kubeconfig_for(identity, None),
            &KubeConfigOptions::default(),
        )
        .await
        .map_err(|e| Error::Config {
            who: identity.user.clone(),
            source: Box::new(e),
        })
    }

    /// A client for an identity.
    pub async fn client_for(&self, identity: &Identity) -> Result<Client, Error> {
        let config = self.config_for(identity).await?;
        Client::try_from(config)
            .map_err(|e| Error::kube(format!("creating a client for {}", identity.user), e))
    }

    /// A client acting as the admin.
    pub async fn admin(&self) -> Result<Client, Error> {
        self.client_for(&self.admin_identity()).await
    }

    /// A client acting as a static-token user.
    pub async fn user(&self, name: &str) -> Result<Client, Error> {
        self.client_for(&self.user_identity(name)?).await
    }

    /// Writes a kubeconfig file for an identity (for `kubectl --kubeconfig`), mode 0600.
    pub fn write_kubeconfig(
        &self,
        identity: &Identity,
        namespace: Option<&str>,
        path: &Path,
    ) -> Result<(), Error> {
        self.write_kubeconfig_with(identity, namespace, &KubeconfigOptions::default(), path)
    }

    /// [`ControlPlane::write_kubeconfig`] with another server address or a token file.
    pub fn write_kubeconfig_with(
        &self,
        identity: &Identity,
        namespace: Option<&str>,
        options: &KubeconfigOptions,
        path: &Path,
    ) -> Result<(), Error> {
        let yaml =
            serde_json::to_string_pretty(&self.kubeconfig_with(identity, namespace, options))
                .map_err(|e| Error::io("encoding a kubeconfig", std::io::Error::other(e)))?;
        write_private(path, yaml.as_bytes())
    }

    /// Creates a fresh namespace `kw-<prefix>-<pid>-<n>` for one test and returns its name.
    ///
    /// Namespaces are not deleted afterwards: without a controller-manager a deleted namespace stays
    /// `Terminating`, and the control plane is thrown away at the end of the run anyway.
    pub async fn namespace(&self, prefix: &str) -> Result<String, Error> {
        let n = NAMESPACE_COUNTER.fetch_add(1, Ordering::Relaxed);
        let prefix: String = prefix
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .take(30)
            .collect();
        let name = format!("kw-{prefix}-{}-{n}", std::process::id());
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(self.admin().await?)
            .create(&PostParams::default(), &ns)
            .await
            .map_err(|e| Error::kube(format!("creating namespace {name}"), e))?;
        Ok(name)
    }

    /// Creates a ServiceAccount (as admin), asks the API server for a token for it (TokenRequest, one hour) and
    /// returns a client that authenticates with that token as `system:serviceaccount:<namespace>:<name>`.
    pub async fn service_account(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<ServiceAccount, Error> {
        let admin = self.admin().await?;
        let sas: Api<CoreServiceAccount> = Api::namespaced(admin, namespace);
        let sa = CoreServiceAccount {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            ..CoreServiceAccount::default()
        };
        match sas.create(&PostParams::default(), &sa).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {} // already there: reuse it
            Err(e) => {
                return Err(Error::kube(
                    format!("creating ServiceAccount {namespace}/{name}"),
                    e,
                ));
            }
        }
        let request = TokenRequest {
            spec: Some(TokenRequestSpec {
                expiration_seconds: Some(3600),
                ..TokenRequestSpec::default()
            }),
            ..TokenRequest::default()
        };
        let token = sas
            .create_token_request(name, &PostParams::default(), &request)
            .await
            .map_err(|e| {
                Error::kube(
                    format!("requesting a token for ServiceAccount {namespace}/{name}"),
                    e,
                )
            })?
            .status
            .and_then(|s| s.token)
            .ok_or_else(|| Error::NoToken {
                namespace: namespace.into(),
                name: name.into(),
            })?;
        let identity = Identity {
            user: format!("system:serviceaccount:{namespace}:{name}"),
            token,
        };
        let client = self.client_for(&identity).await?;
        Ok(ServiceAccount {
            namespace: namespace.into(),
            name: name.into(),
            identity,
            client,
        })
    }

    /// Runs `kubectl` as the admin against this control plane, returning (success, stdout, stderr).
    pub fn kubectl(&self, args: &[&str]) -> Result<(bool, String, String), Error> {
        self.kubectl_with(self.kubeconfig(), args, None)
    }

    /// Runs `kubectl` with a given kubeconfig and optional standard input.
    pub fn kubectl_with(
        &self,
        kubeconfig: &Path,
        args: &[&str],
        stdin: Option<&str>,
    ) -> Result<(bool, String, String), Error> {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let mut child = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .args(args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::io("running kubectl (is it installed?)", e))?;
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(input.as_bytes())
                .map_err(|e| Error::io("writing kubectl's standard input", e))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| Error::io("waiting for kubectl", e))?;
        Ok((
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }
}

/// A temporary file path unique to this process, under the control plane's output directory.
pub fn scratch_path(name: &str) -> PathBuf {
    let dir = crate::binary::output_dir().join("scratch");
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("creating {}: {e}", dir.display());
    }
    dir.join(format!("{}-{name}", std::process::id()))
}

/// Writes `data` to `path`, readable by its owner only.
pub fn write_private(path: &Path, data: &[u8]) -> Result<(), Error> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
    f.write_all(data)
        .map_err(|e| Error::io(format!("writing {}", path.display()), e))
}
