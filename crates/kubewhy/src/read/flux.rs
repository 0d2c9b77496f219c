//! Flux's server-side apply errors (fluxcd/pkg/ssa, as kustomize-controller and helm-controller log and report
//! them): `Kind/namespace/name dry-run failed, reason: Invalid, error: <the server's message>` — the object applied,
//! the server's reason and its message.

use std::sync::LazyLock;

use regex::Regex;

use super::Evidence;

static DRY_RUN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?P<kind>[A-Z][A-Za-z0-9]*)/(?:(?P<ns>[a-z0-9][a-z0-9\-]*)/)?(?P<name>[^\s/,]+) dry-run failed(?:, reason: (?P<reason>[A-Za-z]+))?(?:, error)?: (?P<msg>.*)",
    )
    .expect("built-in pattern")
});

/// Reads Flux's framing into `ev`: the object, the reason and, when no other reader found the server's message,
/// the message.
pub(crate) fn read(text: &str, ev: &mut Evidence) {
    if !text.contains("dry-run failed") {
        return;
    }
    let Some(c) = DRY_RUN.captures(text) else {
        return;
    };
    let r = &mut ev.request;
    r.kind.get_or_insert_with(|| c["kind"].to_string());
    if r.namespace.is_none() {
        r.namespace = c.name("ns").map(|m| m.as_str().to_string());
    }
    r.name.get_or_insert_with(|| c["name"].to_string());
    if ev.reason.is_none() {
        ev.reason = c.name("reason").map(|m| m.as_str().to_string());
    }
    if ev.message.is_empty() {
        ev.message = c["msg"].trim().to_string();
    }
    ev.is_failure = true;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_object_the_reason_and_the_message() {
        // fluxcd/website#1091.
        let mut ev = Evidence::default();
        read(
            r#"Kustomization reconciliation failed: Kustomization/oci/podinfo dry-run failed, reason: Invalid, error: Kustomization.kustomize.toolkit.fluxcd.io "podinfo" is invalid: spec.prune: Required value"#,
            &mut ev,
        );
        assert_eq!(ev.request.kind.as_deref(), Some("Kustomization"));
        assert_eq!(ev.request.namespace.as_deref(), Some("oci"));
        assert_eq!(ev.request.name.as_deref(), Some("podinfo"));
        assert_eq!(ev.reason.as_deref(), Some("Invalid"));
        assert!(
            ev.message.starts_with("Kustomization.kustomize"),
            "{}",
            ev.message
        );
        // A cluster-scoped object, the older shape without a reason.
        let mut ev = Evidence::default();
        read(
            r#"ClusterRole/view-all dry-run failed: clusterroles.rbac.authorization.k8s.io "view-all" is forbidden: user "x" (groups=["y"]) is attempting to grant RBAC permissions not currently held"#,
            &mut ev,
        );
        assert_eq!(ev.request.namespace, None);
        assert_eq!(ev.request.name.as_deref(), Some("view-all"));
        assert_eq!(ev.reason, None);
    }
}
