//! The generated files of the Helm chart in `charts/doc-controller/`: `Chart.yaml` (the crate's version), the CRD
//! and the RBAC, generated from the same declarations as `deploy/` ([`crate::document`], [`crate::needs`]) with Helm
//! placeholders for what a release decides (its name, its namespace, `watchNamespace`, `leaderElection.enabled`,
//! `sharding.enabled`).
//! `doc-controller gen-deploy` writes them with `deploy/`, and a test fails when they are stale. The values, the
//! Deployment and the helpers are written by hand.

use kubewhy::rbac::{self, Permission, Subject};

use crate::deploy::{File, header};
use crate::document;
use crate::needs::{Leases, NAME, needs_with};

/// The name of every object of a release (`templates/_helpers.tpl`).
const FULLNAME: &str = r#"{{ include "doc-controller.fullname" . }}"#;
/// The release's namespace: the ServiceAccount's and the Lease's.
const RELEASE_NAMESPACE: &str = "{{ .Release.Namespace }}";
/// The namespace doc-controller watches when `watchNamespace` is set.
const WATCH_NAMESPACE: &str = "{{ .Values.watchNamespace }}";

/// Every generated file of the chart, as the code would write it now (paths inside the chart's directory).
pub fn generated() -> Result<Vec<File>, serde_yaml::Error> {
    Ok(vec![
        File {
            path: "Chart.yaml",
            content: header("The chart's metadata; its versions are the crate's.") + &chart_yaml(),
        },
        File {
            path: "crds/documents.kube.rs.yaml",
            content: header("The Document CustomResourceDefinition (documents.kube.rs).")
                + &document::crd_yaml()?,
        },
        File {
            path: "templates/rbac.yaml",
            content: rbac_template()?,
        },
    ])
}

fn chart_yaml() -> String {
    let version = env!("CARGO_PKG_VERSION");
    format!(
        "apiVersion: v2\nname: {NAME}\ndescription: {description}\ntype: application\nversion: {version}\n\
         appVersion: \"{version}\"\nhome: {home}\nsources:\n  - {home}\nkeywords:\n  - controller\n  - kubewhy\n",
        description = env!("CARGO_PKG_DESCRIPTION"),
        home = env!("CARGO_PKG_REPOSITORY"),
    )
}

/// The RBAC of a release: the watch scope's objects (a ClusterRole, or a Role in `watchNamespace`) and, with
/// leader election or sharding, a Role for the Leases in the release's namespace. The Leases' grants are whatever
/// the declared needs add for leader election (or for the ring of `--shards auto`), under their own name, so they
/// never merge with a Role of the same namespace.
fn rbac_template() -> Result<String, serde_yaml::Error> {
    let subject = Subject::ServiceAccount {
        namespace: RELEASE_NAMESPACE.into(),
        name: FULLNAME.into(),
    };
    let (cluster_wide, lease, ring) = scope(&subject, None);
    let (namespaced, _, _) = scope(&subject, Some(WATCH_NAMESPACE));
    let lease_objects = rbac::generate(&format!("{FULLNAME}-leader-election"), &subject, &lease);
    let ring_objects = rbac::generate(&format!("{FULLNAME}-ring"), &subject, &ring);
    Ok(header(
        "Least-privilege RBAC for doc-controller, generated from its declared needs (src/needs.rs).",
    ) + "{{- if .Values.watchNamespace }}\n"
        + &rbac::to_yaml(&namespaced)?
        + "{{- else }}\n"
        + &rbac::to_yaml(&cluster_wide)?
        + "{{- end }}\n{{- if .Values.sharding.enabled }}\n---\n"
        + &rbac::to_yaml(&ring_objects)?
        + "{{- else if .Values.leaderElection.enabled }}\n---\n"
        + &rbac::to_yaml(&lease_objects)?
        + "{{- end }}\n")
}

/// The RBAC objects of one watch scope without Leases, the permissions leader election adds, and those the ring
/// of `--shards auto` adds.
fn scope(
    subject: &Subject,
    namespace: Option<&str>,
) -> (Vec<rbac::RbacObject>, Vec<Permission>, Vec<Permission>) {
    let without_lease = needs_with(namespace, Leases::None).permissions();
    let added = |leases: Leases<'_>| -> Vec<Permission> {
        needs_with(namespace, leases)
            .permissions()
            .into_iter()
            .filter(|p| !without_lease.contains(p))
            .collect()
    };
    let lease = added(Leases::Election(RELEASE_NAMESPACE));
    let ring = added(Leases::Ring(RELEASE_NAMESPACE));
    (
        rbac::generate(FULLNAME, subject, &without_lease),
        lease,
        ring,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rbac_template_has_both_scopes_and_a_separate_lease_role() {
        let text = rbac_template().unwrap();
        // Objects' kinds start a line; roleRef's are indented.
        let kinds = |kind: &str| {
            text.lines()
                .filter(|l| *l == format!("kind: {kind}"))
                .count()
        };
        assert_eq!(kinds("ClusterRole"), 1, "{text}");
        // The namespaced scope's Role, the Lease's and the ring's.
        assert_eq!(kinds("Role"), 3, "{text}");
        assert_eq!(kinds("RoleBinding"), 3, "{text}");
        assert!(text.contains("-leader-election"), "{text}");
        assert!(text.contains("-ring"), "{text}");
        assert_eq!(text.matches("- leases").count(), 2, "{text}");
    }

    #[test]
    fn leader_election_needs_the_same_grants_in_both_scopes() {
        // The template grants the Lease once, outside the scope's `if`: that is right only while this holds.
        let subject = Subject::from_username("system:serviceaccount:ns:doc-controller");
        let (_, cluster_wide, ring) = scope(&subject, None);
        let (_, namespaced, namespaced_ring) = scope(&subject, Some(WATCH_NAMESPACE));
        assert!(!cluster_wide.is_empty());
        assert_eq!(cluster_wide, namespaced);
        assert_eq!(ring, namespaced_ring);
        // The ring's Leases are listed besides.
        assert!(ring.len() > cluster_wide.len(), "{ring:?}");
    }
}
