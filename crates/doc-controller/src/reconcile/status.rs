//! The status a successful reconcile leaves (`hidden`, `observedGeneration`, the `Ready` and `Published`
//! conditions) and writing a status by server-side apply, only when it changed.

use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde_json::json;
use tracing::debug;

use super::context::{Context, FIELD_MANAGER};
use super::error::Error;
use crate::document::{self, Document, DocumentStatus, PUBLISHED, READY};

/// The status a successful reconcile leaves.
pub fn desired_status(doc: &Document, published: Option<String>) -> DocumentStatus {
    let generation = doc.metadata.generation;
    let previous = |t: &str| doc.condition(t);
    let what = match (&published, doc.spec.hide) {
        (Some(cm), _) => format!("the Document is visible and published as ConfigMap {cm}"),
        (None, true) => "the Document is hidden".to_string(),
        (None, false) => "the Document is visible".to_string(),
    };
    let mut conditions = vec![document::condition(
        READY,
        true,
        "Reconciled",
        what,
        generation,
        previous(READY),
    )];
    if doc.spec.publish {
        conditions.push(match &published {
            Some(cm) => document::condition(
                PUBLISHED,
                true,
                "ConfigMapPublished",
                format!("published as ConfigMap {cm}"),
                generation,
                previous(PUBLISHED),
            ),
            None => document::condition(
                PUBLISHED,
                false,
                "Hidden",
                "a hidden Document is not published",
                generation,
                previous(PUBLISHED),
            ),
        });
    }
    DocumentStatus {
        hidden: doc.spec.hide,
        observed_generation: generation,
        conditions,
        published_config_map: published,
    }
}

/// Writes `desired` by server-side apply unless the current status already says the same.
pub(super) async fn write_status(
    doc: &Document,
    current: &DocumentStatus,
    desired: DocumentStatus,
    ctx: &Context,
) -> Result<(), Error> {
    if doc.status.is_some() && document::same_status(current, &desired) {
        return Ok(());
    }
    let api: Api<Document> =
        Api::namespaced(ctx.client.clone(), &doc.namespace().unwrap_or_default());
    let patch = json!({
        "apiVersion": Document::api_version(&()),
        "kind": Document::kind(&()),
        "status": desired,
    });
    let written = api
        .patch_status(
            &doc.name_any(),
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await
        .map_err(Error::PatchStatus)?;
    // Until the cache holds this version, a reconcile of the Document would act on what it just overwrote.
    ctx.writes.wrote(&written);
    debug!("status written");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::sample;

    #[test]
    fn status_reflects_the_spec() {
        let s = desired_status(&sample(false, false), None);
        assert!(!s.hidden);
        assert_eq!(s.observed_generation, Some(3));
        assert_eq!(s.conditions.len(), 1);
        assert_eq!(s.conditions[0].type_, READY);
        let s = desired_status(&sample(false, true), Some("d".into()));
        assert_eq!(s.conditions[1].type_, PUBLISHED);
        assert_eq!(s.conditions[1].status, "True");
        assert_eq!(s.published_config_map.as_deref(), Some("d"));
        let s = desired_status(&sample(true, true), None);
        assert!(s.hidden);
        assert_eq!(s.conditions[1].status, "False");
        assert_eq!(s.conditions[1].reason, "Hidden");
    }
}
