//! The ConfigMap a published Document owns: what it should hold, and creating, repairing or removing it — from the
//! cache first, so an up-to-date ConfigMap costs no request. The cache keeps a digest of each value doc-controller
//! writes instead of the value (the content would otherwise be cached twice: in the Document and in its ConfigMap).

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, Preconditions};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use tracing::info;

use super::context::{Context, FIELD_MANAGER};
use super::error::Error;
use crate::document::Document;
use crate::needs::NAME;
use crate::shard::slots::{SLOT_LABEL, Slot};

/// The label on every ConfigMap doc-controller publishes (value [`NAME`]); the ConfigMap cache selects on it.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";

/// The ConfigMap a published Document should have. It carries its owner's slot (label [`SLOT_LABEL`]), so each
/// replica of a ring caches only the ConfigMaps of its own Documents.
pub fn desired_config_map(doc: &Document) -> Result<ConfigMap, Error> {
    let owner = doc
        .controller_owner_ref(&())
        .ok_or_else(|| Error::Malformed("it has no name or uid".into()))?;
    let slot = Slot::of_uid(&owner.uid);
    Ok(ConfigMap {
        metadata: ObjectMeta {
            name: Some(doc.name_any()),
            namespace: doc.namespace(),
            labels: Some(BTreeMap::from([
                (MANAGED_BY.into(), NAME.into()),
                (SLOT_LABEL.into(), slot.label()),
            ])),
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([
            ("title".into(), doc.spec.title.clone()),
            ("content".into(), doc.spec.content.clone()),
        ])),
        ..ConfigMap::default()
    })
}

/// The data keys doc-controller writes.
const KEYS: [&str; 2] = ["title", "content"];

/// What the cache keeps of a value: its length and a 64-bit hash (enough to tell an edited value from ours).
fn digest(value: &str) -> String {
    let mut h = DefaultHasher::new();
    value.hash(&mut h);
    format!("{}:{:016x}", value.len(), h.finish())
}

/// Trims a ConfigMap for the cache: managed fields and annotations dropped, the values doc-controller writes kept as
/// digests, other data and binary data dropped (doc-controller neither reads nor manages them).
pub fn trim_config_map(cm: &mut ConfigMap) {
    cm.metadata.managed_fields = None;
    cm.metadata.annotations = None;
    cm.binary_data = None;
    if let Some(data) = cm.data.as_mut() {
        data.retain(|k, _| KEYS.contains(&k.as_str()));
        for value in data.values_mut() {
            *value = digest(value);
        }
    }
}

/// Whether a ConfigMap is owned by this Document (an ownerReference with its uid).
fn owned_by(cm: &ConfigMap, doc: &Document) -> bool {
    let Some(uid) = doc.uid() else { return false };
    cm.owner_references().iter().any(|o| o.uid == uid)
}

/// Whether a (trimmed) ConfigMap already says what the desired one says (fields of other managers are left alone,
/// as server-side apply does).
fn up_to_date(cm: &ConfigMap, desired: &ConfigMap, doc: &Document) -> bool {
    fn data<'a>(c: &'a ConfigMap, k: &str) -> Option<&'a String> {
        c.data.as_ref()?.get(k)
    }
    let label = |c: &ConfigMap, k: &str| c.labels().get(k).cloned();
    owned_by(cm, doc)
        && label(cm, MANAGED_BY).as_deref() == Some(NAME)
        && label(cm, SLOT_LABEL) == label(desired, SLOT_LABEL)
        && KEYS.iter().all(|k| {
            data(cm, k).map(String::as_str) == data(desired, k).map(|v| digest(v)).as_deref()
        })
}

/// The published ConfigMap from the cache, or from the API server when the cache has none (a ConfigMap without
/// our label is never cached; a new one may not be cached yet).
async fn find_config_map(doc: &Document, ctx: &Context) -> Result<Option<Arc<ConfigMap>>, Error> {
    let namespace = doc.namespace().unwrap_or_default();
    let name = doc.name_any();
    let key = ObjectRef::<ConfigMap>::new(&name).within(&namespace);
    if let Some(cm) = ctx.configmaps.get(&key) {
        return Ok(Some(cm));
    }
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &namespace);
    api.get_opt(&name)
        .await
        .map(|cm| {
            cm.map(|mut cm| {
                trim_config_map(&mut cm);
                Arc::new(cm)
            })
        })
        .map_err(|source| Error::ReadConfigMap {
            namespace,
            name,
            source,
        })
}

/// Creates or repairs the published ConfigMap; returns its name.
pub(super) async fn ensure_config_map(doc: &Document, ctx: &Context) -> Result<String, Error> {
    let namespace = doc.namespace().unwrap_or_default();
    let name = doc.name_any();
    let desired = desired_config_map(doc)?;
    match find_config_map(doc, ctx).await? {
        Some(cm) if !owned_by(&cm, doc) => {
            return Err(Error::ForeignConfigMap { namespace, name });
        }
        Some(cm) if up_to_date(&cm, &desired, doc) => return Ok(name),
        Some(_) => info!("repairing the published ConfigMap"),
        None => info!("publishing the Document as a ConfigMap"),
    }
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &namespace);
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&desired),
    )
    .await
    .map_err(|source| Error::ApplyConfigMap {
        namespace,
        name: name.clone(),
        source,
    })?;
    Ok(name)
}

/// Deletes the published ConfigMap if there is one owned by this Document.
pub(super) async fn remove_config_map(doc: &Document, ctx: &Context) -> Result<(), Error> {
    let namespace = doc.namespace().unwrap_or_default();
    let name = doc.name_any();
    let key = ObjectRef::<ConfigMap>::new(&name).within(&namespace);
    let might_exist = doc.spec.publish
        || doc
            .status
            .as_ref()
            .is_some_and(|s| s.published_config_map.is_some());
    let cm = match ctx.configmaps.get(&key) {
        Some(cm) => Some(cm),
        None if might_exist => find_config_map(doc, ctx).await?,
        None => None,
    };
    let Some(cm) = cm.filter(|cm| owned_by(cm, doc)) else {
        return Ok(());
    };
    info!("removing the published ConfigMap");
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &namespace);
    let params = DeleteParams {
        // Only the ConfigMap we saw: if it was replaced meanwhile, the new one is not ours to delete.
        preconditions: Some(Preconditions {
            uid: cm.uid(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(&name, &params).await {
        Ok(_) => Ok(()),
        // Already gone (404), or replaced by another object (409 on the uid precondition): nothing of ours is left.
        Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => Ok(()),
        Err(source) => Err(Error::DeleteConfigMap {
            namespace,
            name,
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::sample;

    #[test]
    fn the_config_map_is_owned_labelled_and_compared_on_its_data() {
        let d = sample(false, true);
        let cm = desired_config_map(&d).unwrap();
        assert!(owned_by(&cm, &d));
        let mut cached = cm.clone();
        trim_config_map(&mut cached);
        assert!(up_to_date(&cached, &cm, &d));
        assert_ne!(
            cached.data.as_ref().unwrap()["content"],
            cm.data.as_ref().unwrap()["content"],
            "the cache keeps a digest"
        );
        let owner = &cm.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(owner.controller, Some(true));
        assert_eq!(owner.kind, "Document");
        let mut edited = cm.clone();
        edited
            .data
            .as_mut()
            .unwrap()
            .insert("title".into(), "x".into());
        trim_config_map(&mut edited);
        assert!(!up_to_date(&edited, &cm, &d));
        let mut unlabelled = cached.clone();
        unlabelled.labels_mut().remove(SLOT_LABEL);
        assert!(
            !up_to_date(&unlabelled, &cm, &d),
            "a ConfigMap without its slot label is repaired"
        );
        let mut foreign = cm.clone();
        foreign.metadata.owner_references = None;
        assert!(!owned_by(&foreign, &d));
    }
}
