//! RBAC for the tests that need a ServiceAccount allowed some verbs (on configmaps, on events: watch.rs,
//! adoption.rs).

use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use kube::api::{Api, ObjectMeta, Patch, PatchParams};

/// Grants `verbs` on configmaps in `ns` to the ServiceAccount `sa` (a Role and RoleBinding named `name`).
pub async fn grant_configmaps(
    admin: &kube::Client,
    ns: &str,
    sa: &str,
    name: &str,
    verbs: &[&str],
) {
    grant(admin, ns, sa, name, ("", "configmaps"), verbs).await;
}

/// Grants `verbs` on `(group, resource)` in `ns` to the ServiceAccount `sa` (a Role and RoleBinding named `name`).
pub async fn grant(
    admin: &kube::Client,
    ns: &str,
    sa: &str,
    name: &str,
    (group, resource): (&str, &str),
    verbs: &[&str],
) {
    let role = Role {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![group.into()]),
            resources: Some(vec![resource.into()]),
            verbs: verbs.iter().map(|v| v.to_string()).collect(),
            ..PolicyRule::default()
        }]),
    };
    let binding = RoleBinding {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "Role".into(),
            name: name.into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: sa.into(),
            namespace: Some(ns.into()),
            api_group: None,
        }]),
    };
    let pp = PatchParams::apply("kubewhy-test").force();
    Api::<Role>::namespaced(admin.clone(), ns)
        .patch(name, &pp, &Patch::Apply(&role))
        .await
        .unwrap();
    Api::<RoleBinding>::namespaced(admin.clone(), ns)
        .patch(name, &pp, &Patch::Apply(&binding))
        .await
        .unwrap();
}
