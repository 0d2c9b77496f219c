//! The CustomResourceDefinition of a type discovery does not serve: installed or not, `Established` or not, and
//! which versions it serves — as a [`CrdState`] for the not-served cause.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::Api;

use super::{Options, limited};
use crate::cause::CrdState;

/// Reads the CRD `name` (`plural.group`) and says what it means for `version`.
pub(super) async fn state(
    client: &kube::Client,
    name: &str,
    version: &str,
    options: &Options,
) -> CrdState {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    match limited(options.timeout, api.get_opt(name)).await {
        Ok(Some(crd)) => of(&crd, version),
        Ok(None) => CrdState::Missing,
        Err(f) => CrdState::Unreadable {
            error: f.message().trim().to_string(),
        },
    }
}

/// What an installed CRD says about `version`.
fn of(crd: &CustomResourceDefinition, version: &str) -> CrdState {
    let conditions = crd
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let established = conditions.iter().find(|c| c.type_ == "Established");
    if established.map(|c| c.status.as_str()) != Some("True") {
        return CrdState::NotEstablished {
            conditions: conditions
                .iter()
                .filter(|c| c.status != "True")
                .map(|c| {
                    format!(
                        "{}={} ({}: {})",
                        c.type_,
                        c.status,
                        c.reason.clone().unwrap_or_default(),
                        c.message.clone().unwrap_or_default()
                    )
                })
                .collect(),
        };
    }
    let served: Vec<String> = crd
        .spec
        .versions
        .iter()
        .filter(|v| v.served)
        .map(|v| v.name.clone())
        .collect();
    match crd.spec.versions.iter().find(|v| v.name == version) {
        // Installed, Established and serving the version, yet not in discovery: discovery lags a new CRD.
        Some(v) if v.served => CrdState::NotYetDiscovered,
        found => CrdState::VersionNotServed {
            defined: found.is_some(),
            served,
        },
    }
}
