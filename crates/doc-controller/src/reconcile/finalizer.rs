//! The finalizer that holds a Document's deletion until what it published is removed: added by a JSON patch that
//! first tests the list it saw, removed by one that tests the entry it removes — kube-rs's finalizer protocol, so
//! another controller's finalizer is never dropped and two writers never add it twice. Here rather than through
//! `kube::runtime::finalizer` so that the deletion's event can travel together with the removal.

use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

use super::context::FINALIZER;
use super::error::Error;
use crate::document::Document;

/// Where doc-controller's finalizer is in the Document's list, if it is there.
pub(super) fn position(doc: &Document) -> Option<usize> {
    doc.finalizers().iter().position(|f| f == FINALIZER)
}

/// The JSON patch that adds the finalizer to the list `doc` has.
fn add_patch(doc: &Document) -> serde_json::Value {
    if doc.finalizers().is_empty() {
        json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": [FINALIZER]},
        ])
    } else {
        json!([
            {"op": "test", "path": "/metadata/finalizers", "value": doc.finalizers()},
            {"op": "add", "path": "/metadata/finalizers/-", "value": FINALIZER},
        ])
    }
}

/// The JSON patch that removes the finalizer at `index`.
fn remove_patch(index: usize) -> serde_json::Value {
    let path = format!("/metadata/finalizers/{index}");
    json!([
        {"op": "test", "path": path, "value": FINALIZER},
        {"op": "remove", "path": path},
    ])
}

/// Sends `patch`; returns the Document as the API server wrote it.
async fn send(
    api: &Api<Document>,
    doc: &Document,
    patch: serde_json::Value,
) -> Result<Document, kube::Error> {
    let patch: Patch<()> =
        Patch::Json(serde_json::from_value(patch).map_err(kube::Error::SerdeError)?);
    let name = doc.meta().name.as_deref().unwrap_or_default();
    api.patch(name, &PatchParams::default(), &patch).await
}

/// Adds the finalizer (its watch event brings the next reconcile, which finds it there); returns the Document as
/// written.
pub(super) async fn add(api: &Api<Document>, doc: &Document) -> Result<Document, Error> {
    send(api, doc, add_patch(doc))
        .await
        .map_err(Error::AddFinalizer)
}

/// Removes the finalizer at `index`; the API server then deletes the Document (unless others hold it). Returns the
/// Document as written.
pub(super) async fn remove(
    api: &Api<Document>,
    doc: &Document,
    index: usize,
) -> Result<Document, Error> {
    send(api, doc, remove_patch(index))
        .await
        .map_err(Error::RemoveFinalizer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::sample;

    #[test]
    fn patches_test_what_they_change() {
        let mut d = sample(false, false);
        assert_eq!(position(&d), None);
        assert_eq!(add_patch(&d)[0]["value"], serde_json::Value::Null);
        assert_eq!(add_patch(&d)[1]["value"], json!([FINALIZER]));
        d.metadata.finalizers = Some(vec!["someone.else/keep".into()]);
        assert_eq!(add_patch(&d)[0]["value"], json!(["someone.else/keep"]));
        assert_eq!(add_patch(&d)[1]["path"], "/metadata/finalizers/-");
        d.metadata.finalizers = Some(vec!["someone.else/keep".into(), FINALIZER.into()]);
        assert_eq!(position(&d), Some(1));
        let remove = remove_patch(1);
        assert_eq!(remove[0]["path"], "/metadata/finalizers/1");
        assert_eq!(remove[0]["value"], FINALIZER);
        assert_eq!(remove[1]["op"], "remove");
        // Both are valid JSON patches.
        for p in [add_patch(&d), remove] {
            let patch: Patch<()> = Patch::Json(serde_json::from_value(p).unwrap());
            assert!(matches!(patch, Patch::Json(_)));
        }
    }
}
