//! The generated files of the Helm chart in `charts/doc-controller/`: `Chart.yaml` (the crate's version), the CRD
//! and the RBAC, generated from the same declarations as `deploy/` ([`crate::document`], [`crate::needs`]) with Helm
//! placeholders for what a release decides (its name, its namespace, `watchNamespace`, `leaderElection.enabled`).
//! `doc-controller gen-deploy` writes them with `deploy/`, and a test fails when they are stale. The values, the
//! Deployment and the helpers are written by hand.

use kubewhy::rbac::{self, Permission, Subject};

use crate::deploy::{File, header};
use crate::document;
use crate::needs::{NAME, needs_for};

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
/// leader election, a Role for the Lease in the release's namespace. The Lease's grants are whatever the declared
/// needs add for leader election, under their own name, so they never merge with a Role of the same namespace.
fn rbac_template() -> Result<String, serde_yaml::Error> {
    let subject = Subject::ServiceAccount {
        namespace: RELEASE_NAMESPACE.into(),
        name: FULLNAME.into(),
    };
    let (cluster_wide, lease) = scope(&subject, None);
    let (namespaced, _) = scope(&subject, Some(WATCH_NAMESPACE));
    let lease_objects = rbac::generate(&format!("{FULLNAME}-leader-election"), &subject, &lease);
    Ok(header(
        "Least-privilege RBAC for doc-controller, generated from its declared needs (src/needs.rs).",
    ) + "{{- if .Values.watchNamespace }}\n"
        + &rbac::to_yaml(&namespaced)?
        + "{{- else }}\n"
        + &rbac::to_yaml(&cluster_wide)?
        + "{{- end }}\n{{- if .Values.leaderElection.enabled }}\n---\n"
        + &rbac::to_yaml(&lease_objects)?
        + "{{- end }}\n")
}

/// The RBAC objects of one watch scope without leader election, and the permissions leader election adds.
fn scope(subject: &Subject, namespace: Option<&str>) -> (Vec<rbac::RbacObject>, Vec<Permission>) {
    let without_lease = needs_for(namespace, None).permissions();
    let lease = needs_for(namespace, Some(RELEASE_NAMESPACE))
        .permissions()
        .into_iter()
        .filter(|p| !without_lease.contains(p))
        .collect();
    (rbac::generate(FULLNAME, subject, &without_lease), lease)
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
        // The namespaced scope's Role, and the Lease's.
        assert_eq!(kinds("Role"), 2, "{text}");
        assert_eq!(kinds("RoleBinding"), 2, "{text}");
        assert!(text.contains("-leader-election"), "{text}");
        assert!(text.contains("- leases"), "{text}");
        assert_eq!(text.matches("- leases").count(), 1, "{text}");
    }

    #[test]
    fn leader_election_needs_the_same_grants_in_both_scopes() {
        // The template grants the Lease once, outside the scope's `if`: that is right only while this holds.
        let subject = Subject::from_username("system:serviceaccount:ns:doc-controller");
        let (_, cluster_wide) = scope(&subject, None);
        let (_, namespaced) = scope(&subject, Some(WATCH_NAMESPACE));
        assert!(!cluster_wide.is_empty());
        assert_eq!(cluster_wide, namespaced);
    }
}
