//! The `Document` custom resource (`documents.kube.rs`, version `v1`): its spec, its status with standard
//! conditions, the validation the API server enforces, and the generated CustomResourceDefinition.
//!
//! The resource and its core semantics are those of kube-rs's reference controller (controller-rs), extended with
//! `publish`, conditions and the name of the published ConfigMap.

use std::collections::BTreeMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The largest `spec.content` the API server accepts, in characters (512 KiB of ASCII).
pub const MAX_CONTENT_CHARS: usize = 512 * 1024;
/// The longest `spec.title`, in characters.
pub const MAX_TITLE_CHARS: usize = 256;

/// The condition type saying whether the last reconcile of the current generation succeeded.
pub const READY: &str = "Ready";
/// The condition type saying whether the Document is published as a ConfigMap (present when `spec.publish`).
pub const PUBLISHED: &str = "Published";

/// A document: a title and some content, which the controller can hide and publish as a ConfigMap.
// Clippy reads the repeated `type_ = ...` of the printer columns as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "kube.rs",
    version = "v1",
    kind = "Document",
    namespaced,
    shortname = "doc",
    status = "DocumentStatus",
    derive = "PartialEq",
    doc = "A document: a title and some content that doc-controller can hide and publish as a ConfigMap.",
    printcolumn(name = "Title", type_ = "string", json_path = ".spec.title"),
    printcolumn(name = "Hidden", type_ = "boolean", json_path = ".status.hidden"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
// The size rule sits on the spec rather than on `content`: a failed rule on a string field makes the API server
// quote the whole (here: over 512 KiB) value in its error, a rule on an object does not.
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "!has(self.content) || size(self.content) <= 524288",
    "message": "spec.content must be at most 512 KiB (524288 characters); keep larger documents outside the cluster",
}]))]
pub struct DocumentSpec {
    /// The title (1 to 256 characters).
    #[schemars(length(min = 1, max = 256))]
    pub title: String,
    /// The content (may be empty; at most 512 KiB).
    #[serde(default)]
    pub content: String,
    /// Hide the document: the controller records a `HideRequested` event, sets `status.hidden` and stops publishing.
    #[serde(default)]
    pub hide: bool,
    /// Publish the document as a ConfigMap of the same name (unless it is hidden).
    #[serde(default)]
    pub publish: bool,
}

/// What the controller last observed and did.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DocumentStatus {
    /// Whether the document is hidden (mirrors `spec.hide` once reconciled).
    #[serde(default)]
    pub hidden: bool,
    /// The `metadata.generation` the status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, and `Published` when the document asks to be published.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// The name of the ConfigMap (same namespace) the document is published as, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_config_map: Option<String>,
}

impl Document {
    /// The CustomResourceDefinition, as `doc-controller crdgen` prints it.
    pub fn crd_with_labels() -> CustomResourceDefinition {
        let mut crd = <Document as kube::CustomResourceExt>::crd();
        crd.metadata.labels = Some(BTreeMap::from([(
            "app.kubernetes.io/part-of".to_string(),
            "doc-controller".to_string(),
        )]));
        crd
    }

    /// The condition of a type, if the status has it.
    pub fn condition(&self, type_: &str) -> Option<&Condition> {
        self.status
            .as_ref()?
            .conditions
            .iter()
            .find(|c| c.type_ == type_)
    }

    /// Whether the status says `Ready=True` for the current generation.
    pub fn is_ready(&self) -> bool {
        let Some(status) = &self.status else {
            return false;
        };
        status.observed_generation == self.metadata.generation
            && self.condition(READY).is_some_and(|c| {
                c.status == "True" && c.observed_generation == self.metadata.generation
            })
    }
}

/// The CRD as YAML for `kubectl apply -f -`.
pub fn crd_yaml() -> Result<String, serde_yaml::Error> {
    serde_yaml::to_string(&Document::crd_with_labels())
}

/// A new condition, keeping `lastTransitionTime` from `previous` when the status did not change.
pub fn condition(
    type_: &str,
    status: bool,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
    previous: Option<&Condition>,
) -> Condition {
    let status = if status { "True" } else { "False" }.to_string();
    let last_transition_time = match previous {
        Some(p) if p.status == status => p.last_transition_time.clone(),
        _ => Time(Timestamp::now()),
    };
    Condition {
        type_: type_.into(),
        status,
        reason: reason.into(),
        message: message.into(),
        observed_generation: generation,
        last_transition_time,
    }
}

/// Whether two statuses say the same thing, ignoring `lastTransitionTime` (which [`condition`] carries over).
pub fn same_status(a: &DocumentStatus, b: &DocumentStatus) -> bool {
    fn key(s: &DocumentStatus) -> impl PartialEq + '_ {
        let mut conditions: Vec<_> = s
            .conditions
            .iter()
            .map(|c| {
                (
                    &c.type_,
                    &c.status,
                    &c.reason,
                    &c.message,
                    c.observed_generation,
                )
            })
            .collect();
        conditions.sort();
        (
            s.hidden,
            s.observed_generation,
            &s.published_config_map,
            conditions,
        )
    }
    key(a) == key(b)
}

/// A Document as the API server would hand it over (namespace `ns`, uid `uid-1`, generation 3), for unit tests.
#[cfg(test)]
pub(crate) fn sample(hide: bool, publish: bool) -> Document {
    let mut d = Document::new(
        "d",
        DocumentSpec {
            title: "t".into(),
            content: "c".into(),
            hide,
            publish,
        },
    );
    d.metadata.namespace = Some("ns".into());
    d.metadata.uid = Some("uid-1".into());
    d.metadata.generation = Some(3);
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crd_has_the_agreed_shape() {
        let crd = Document::crd_with_labels();
        assert_eq!(crd.metadata.name.as_deref(), Some("documents.kube.rs"));
        assert_eq!(crd.spec.names.short_names, Some(vec!["doc".to_string()]));
        assert_eq!(crd.spec.scope, "Namespaced");
        let version = &crd.spec.versions[0];
        assert!(version.subresources.as_ref().unwrap().status.is_some());
        let columns: Vec<_> = version
            .additional_printer_columns
            .as_ref()
            .unwrap()
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(columns, ["Title", "Hidden", "Ready", "Age"]);
        let yaml = crd_yaml().unwrap();
        assert!(yaml.contains("maxLength: 256"), "{yaml}");
        assert!(yaml.contains("minLength: 1"), "{yaml}");
        assert!(yaml.contains("size(self.content) <= 524288"), "{yaml}");
        assert!(yaml.contains("x-kubernetes-list-type: map"), "{yaml}");
    }

    #[test]
    fn conditions_keep_their_transition_time_while_unchanged() {
        let first = condition(READY, true, "Reconciled", "ok", Some(1), None);
        let mut old = first.clone();
        old.last_transition_time = Time(Timestamp::UNIX_EPOCH);
        let same = condition(READY, true, "Reconciled", "ok", Some(2), Some(&old));
        assert_eq!(same.last_transition_time, old.last_transition_time);
        let flipped = condition(READY, false, "ReconcileFailed", "boom", Some(2), Some(&old));
        assert_ne!(flipped.last_transition_time, old.last_transition_time);
    }

    #[test]
    fn same_status_ignores_transition_times_and_order() {
        let a = DocumentStatus {
            hidden: false,
            observed_generation: Some(1),
            conditions: vec![
                condition(READY, true, "Reconciled", "ok", Some(1), None),
                condition(PUBLISHED, true, "ConfigMapPublished", "cm", Some(1), None),
            ],
            published_config_map: Some("x".into()),
        };
        let mut b = a.clone();
        b.conditions.reverse();
        b.conditions[0].last_transition_time = Time(Timestamp::UNIX_EPOCH);
        assert!(same_status(&a, &b));
        b.hidden = true;
        assert!(!same_status(&a, &b));
    }
}
