//! The client configuration as kubectl finds it: `--kubeconfig` and `--context`, else `$KUBECONFIG` or
//! `~/.kube/config`, else the pod's ServiceAccount (in a cluster). One loader for `kubewhy check` and
//! `doc-controller doctor`; its errors keep kube's as their sources.

use std::path::{Path, PathBuf};

use kube::config::{InferConfigError, KubeConfigOptions, Kubeconfig, KubeconfigError};

/// Why no client configuration could be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file named by `--kubeconfig` could not be read or parsed.
    #[error("reading the kubeconfig `{}` failed", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: KubeconfigError,
    },
    /// The file was read, but its context, cluster or user cannot be used.
    #[error("the kubeconfig `{}` cannot be used", path.display())]
    Use {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: KubeconfigError,
    },
    /// The context named by `--context` cannot be used.
    #[error("the kubeconfig context `{context}` cannot be used")]
    Context {
        /// The context.
        context: String,
        /// Why.
        #[source]
        source: KubeconfigError,
    },
    /// Neither a kubeconfig nor the in-cluster configuration could be used.
    #[error("no usable kubeconfig ($KUBECONFIG, ~/.kube/config) and not running in a cluster")]
    Infer(#[source] InferConfigError),
}

/// Loads the client configuration: `kubeconfig` and `context` as kubectl's `--kubeconfig` and `--context` read
/// them; without either, kube's inference (`$KUBECONFIG`, `~/.kube/config`, then in-cluster).
///
/// # Errors
/// When the file cannot be read or used, the context does not exist, or nothing can be inferred.
pub async fn load(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Result<kube::Config, ConfigError> {
    let options = KubeConfigOptions {
        context: context.map(str::to_string),
        ..KubeConfigOptions::default()
    };
    match (kubeconfig, context) {
        (Some(path), _) => {
            let kc = Kubeconfig::read_from(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?;
            kube::Config::from_custom_kubeconfig(kc, &options)
                .await
                .map_err(|source| ConfigError::Use {
                    path: path.to_path_buf(),
                    source,
                })
        }
        (None, Some(name)) => kube::Config::from_kubeconfig(&options)
            .await
            .map_err(|source| ConfigError::Context {
                context: name.to_string(),
                source,
            }),
        (None, None) => kube::Config::infer().await.map_err(ConfigError::Infer),
    }
}
