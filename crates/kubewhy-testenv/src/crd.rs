//! CustomResourceDefinitions on the control plane: waiting until one is `Established` (accepted and served).

use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{Api, Client};

use crate::Error;

/// Whether a CRD reports `Established=True`.
pub fn is_established(crd: &CustomResourceDefinition) -> bool {
    crd.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
        })
}

/// Polls (every 100 ms) until the CRD `name` is Established, or fails after `timeout` saying so.
pub async fn wait_established(client: &Client, name: &str, timeout: Duration) -> Result<(), Error> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let deadline = Instant::now() + timeout;
    loop {
        let crd = crds
            .get(name)
            .await
            .map_err(|e| Error::kube(format!("reading CRD {name}"), e))?;
        if is_established(&crd) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::NotEstablished {
                name: name.into(),
                timeout_s: timeout.as_secs(),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
