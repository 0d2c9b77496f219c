//! client-go and controller-runtime log lines: the reflector's `failed to list *v1.Pod: ..` and `"Failed to
//! watch" err=".." type="*v1.Pod"` (current and the 2019–2024 shapes) and `watch of *v1.Pod ended with: ..`,
//! the request a client-go error message names at its end (`... (get pods.metrics.k8s.io)`, `(post
//! configmaps)`), client-side throttling, discovery failures, and controller-runtime's cache-sync time-out, `if
//! kind is a CRD, it should be installed before calling Start` and the object a `Reconciler error` names. The Java
//! client's reflector words a watch's end like client-go's (`Watch connection expired: ..`).

use std::sync::LazyLock;

use regex::Regex;

use super::Evidence;
use crate::cause::{Cause, NotServed};
use crate::diagnosis::Phase;
use crate::note::Note;

/// `*v1.Pod`, `*v1alpha2.TLSRoute`, or a dynamic informer's `kube.rs/v1, Kind=Document` (a GroupVersionKind) or
/// `/v1, Resource=namespaces` (apimachinery `schema.GroupVersionResource.String`).
static GO_TYPE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\*(?P<version>v[0-9]+(?:(?:alpha|beta)[0-9]+)?)\.(?P<kind>[A-Z][A-Za-z0-9]*)|(?P<group>[a-z0-9.\-]*)/(?P<gversion>v[0-9]+(?:(?:alpha|beta)[0-9]+)?),\s+(?:Kind=(?P<gkind>[A-Z][A-Za-z0-9]*)|Resource=(?P<gresource>[a-z0-9\-]+))")
        .expect("built-in pattern")
});
static THROTTLED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"due to client-side throttling, not priority and fairness, request: (?P<method>[A-Z]+):(?P<url>[^\s\x22\\]+)")
        .expect("built-in pattern")
});
static DISCOVERY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"unable to retrieve the complete list of server APIs: (?P<group>[a-z0-9.\-]+)/(?P<version>v[0-9a-z]+)")
        .expect("built-in pattern")
});
/// The request client-go appends to an error it builds from an answer without a `Status`
/// (apimachinery `NewGenericServerResponse`): `(get pods.metrics.k8s.io)`, `(get services http:heapster:)`. The
/// verb is the HTTP method's. (A link that lost its target keeps the resource in brackets: `(get [pods.x.io] p)`.)
static TRAILER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\((?P<method>get|post|put|patch|delete) \[?(?P<res>[A-Za-z][A-Za-z0-9\-]*(?:\.[a-z0-9\-.]+)?)\]?(?: (?P<name>[^()\s]+))?\)")
        .expect("built-in pattern")
});
/// controller-runtime's `Reconciler error` names the object reconciled (zap's JSON or console encoding).
static RECONCILED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#""name":\s*"(?P<name>[^"]+)",\s*"namespace":\s*"(?P<ns>[^"]*)""#)
        .expect("built-in pattern")
});
static CRD_KIND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"kind[\\"]*\s*[:=]\s*[\\"]*(?P<kind>[A-Z][A-Za-z0-9]*)(?:\.(?P<group>[a-z0-9.\-]+))?"#,
    )
    .expect("built-in pattern")
});

/// Reads client-go and controller-runtime framing into `ev` (phase, kind, version, hints).
pub(crate) fn read(text: &str, ev: &mut Evidence) {
    let list_at = find!(text, "failed to list ").or_else(|| find!(text, "Failed to list "));
    if let Some(at) = list_at {
        ev.phase.get_or_insert(Phase::InitialList);
        go_type(&text[at..], ev);
    } else if let Some(at) = find!(text, "Failed to watch") {
        ev.phase.get_or_insert(Phase::WatchStart);
        go_type(&text[at..], ev);
    }
    // klog's structured lines name the informer's type as a key (`type="*v1.Pod"`), whatever their message.
    if let Some(at) = find!(text, "type=\"*").or_else(|| find!(text, "type=\\\"*")) {
        go_type(&text[at..], ev);
    }
    if let Some(at) = find!(text, "watch of ")
        && contains!(&text[at..], " ended with: ")
    {
        ev.phase.get_or_insert(Phase::WatchEvent);
        // The reflector names the type it watched: `watch of *v1.Endpoints ended with: …`.
        go_type(&text[at..], ev);
    } else if contains!(text, "Watch connection expired") {
        ev.phase.get_or_insert(Phase::WatchEvent);
    }
    if contains!(text, "Reconciler error")
        && let Some(c) = RECONCILED.captures(text)
    {
        ev.reconciled = Some(crate::diagnosis::Request {
            name: Some(c["name"].to_string()),
            namespace: Some(c["ns"].to_string()).filter(|ns| !ns.is_empty()),
            ..Default::default()
        });
    }
    trailer(text, ev);
    if contains!(text, "Failed to watch") || contains!(text, "reflector.go") {
        ev.notes.push(Note::LoggedByReflector);
    }
    if let Some(at) = find!(text, "timed out waiting for cache to be synced") {
        ev.phase = Some(Phase::CacheSync);
        ev.hint.get_or_insert(Cause::CacheSyncTimeout);
        go_type(&text[at..], ev);
    }
    if contains!(
        text,
        "if kind is a CRD, it should be installed before calling Start"
    ) {
        ev.hint = Some(Cause::NotServed(NotServed::default()));
        if let Some(c) = CRD_KIND.captures(text) {
            ev.request.kind = c.name("kind").map(|m| m.as_str().to_string());
            ev.request.group = c.name("group").map(|m| m.as_str().to_string());
        }
    }
    if contains!(text, "client-side throttling")
        && let Some(c) = THROTTLED.captures(text)
    {
        ev.request.method = c.name("method").map(|m| m.as_str().to_string());
        ev.request.url = c.name("url").map(|m| m.as_str().to_string());
    }
    if contains!(text, "server APIs")
        && let Some(c) = DISCOVERY.captures(text)
    {
        ev.request.group = c.name("group").map(|m| m.as_str().to_string());
        ev.request.version = c.name("version").map(|m| m.as_str().to_string());
        ev.notes.push(Note::GroupDiscoveryFailed);
    }
}

/// The request named at the end of a client-go error (the last such trailer in the text).
fn trailer(text: &str, ev: &mut Evidence) {
    if !text.contains(')') {
        return;
    }
    let Some(c) = TRAILER.captures_iter(text).last() else {
        return;
    };
    let name = c.name("name").map(|m| m.as_str().to_string());
    let verb = match (&c["method"], name.is_some()) {
        ("get", true) => Some("get"),
        // A GET of a collection is a list or a watch: the method does not say which.
        ("get", false) => None,
        ("post", _) => Some("create"),
        ("put", _) => Some("update"),
        ("patch", _) => Some("patch"),
        ("delete", true) => Some("delete"),
        ("delete", false) => Some("deletecollection"),
        _ => None,
    };
    let (res, group) = super::message::split_resource(&c["res"]);
    let r = &mut ev.request;
    if r.resource.is_none() {
        // Kubernetes before 1.9 named some resources in camel case (`replicationControllers`).
        r.resource = Some(res.to_ascii_lowercase());
        r.group.get_or_insert_with(|| group.unwrap_or_default());
    }
    if r.verb.is_none() {
        r.verb = verb.map(str::to_string);
    }
    if r.name.is_none() {
        r.name = name;
    }
}

/// Reads a type client-go or cli-runtime prints (`*v1.Pod`, `apps/v1, Kind=Deployment`, `/v1, Resource=pods`).
pub(super) fn read_type(text: &str, ev: &mut Evidence) {
    go_type(text, ev);
}

fn go_type(text: &str, ev: &mut Evidence) {
    if let Some(c) = GO_TYPE.captures(text) {
        if let Some(kind) = c.name("kind").or(c.name("gkind")) {
            ev.request
                .kind
                .get_or_insert_with(|| kind.as_str().to_string());
        }
        if let Some(version) = c.name("version").or(c.name("gversion")) {
            ev.request
                .version
                .get_or_insert_with(|| version.as_str().to_string());
        }
        if let Some(group) = c.name("group") {
            ev.request
                .group
                .get_or_insert_with(|| group.as_str().to_string());
        }
        if let Some(resource) = c.name("gresource") {
            ev.request
                .resource
                .get_or_insert_with(|| resource.as_str().to_string());
        }
        // A typed informer of a built-in type: its resource is the kind's plural.
        if let Some(kind) = c.name("kind")
            && ev.request.resource.is_none()
        {
            let plural = guess_plural(kind.as_str());
            let group = if crate::vocab::CORE_RESOURCES.contains(&plural.as_str()) {
                Some("")
            } else {
                crate::vocab::builtin_group(&plural)
            };
            if let Some(group) = group {
                ev.request.group.get_or_insert_with(|| group.to_string());
                ev.request.resource = Some(plural);
            }
        }
    }
}

/// The plural a kind's resource has unless it says otherwise (apimachinery `UnsafeGuessKindToResource`).
fn guess_plural(kind: &str) -> String {
    let singular = kind.to_ascii_lowercase();
    if singular.ends_with('s') {
        format!("{singular}es")
    } else if let Some(stem) = singular.strip_suffix('y') {
        format!("{stem}ies")
    } else {
        format!("{singular}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_current_reflector_line() {
        let line = r#"E0312 10:00:00.000000       1 reflector.go:166] "Failed to watch" err="failed to list *v1.Pod: pods is forbidden: User \"system:serviceaccount:a:b\" cannot list resource \"pods\" in API group \"\" at the cluster scope" logger="UnhandledError" reflector="k8s.io/client-go/informers/factory.go:160" type="*v1.Pod""#;
        let mut ev = Evidence::default();
        read(line, &mut ev);
        assert_eq!(ev.phase, Some(Phase::InitialList));
        assert_eq!(ev.request.kind.as_deref(), Some("Pod"));
        assert_eq!(ev.request.version.as_deref(), Some("v1"));
    }

    #[test]
    fn reads_a_dynamic_informer_type() {
        let mut ev = Evidence::default();
        read(
            "failed to list kube.rs/v1, Kind=Document: the server could not find the requested resource",
            &mut ev,
        );
        assert_eq!(ev.request.group.as_deref(), Some("kube.rs"));
        assert_eq!(ev.request.kind.as_deref(), Some("Document"));
    }

    #[test]
    fn the_request_a_client_go_error_names_at_its_end() {
        let mut ev = Evidence::default();
        read(
            "the server has received too many requests and has asked us to try again later (get replicationControllers load-small-rc-3541)",
            &mut ev,
        );
        let r = &ev.request;
        assert_eq!(
            (r.verb.as_deref(), r.resource.as_deref(), r.name.as_deref()),
            (
                Some("get"),
                Some("replicationcontrollers"),
                Some("load-small-rc-3541")
            )
        );
        // A GET of a collection does not say list or watch.
        let mut ev = Evidence::default();
        read(
            "the server is currently unable to handle the request (get pods.metrics.k8s.io)",
            &mut ev,
        );
        assert_eq!(ev.request.verb, None);
        assert_eq!(ev.request.group.as_deref(), Some("metrics.k8s.io"));
    }

    #[test]
    fn a_typed_informer_names_its_resource_and_a_watch_end_its_phase() {
        let mut ev = Evidence::default();
        read(
            r#"failed to list *v1.Deployment: "spec.nodeName" is not a known field selector"#,
            &mut ev,
        );
        assert_eq!(ev.request.resource.as_deref(), Some("deployments"));
        assert_eq!(ev.request.group.as_deref(), Some("apps"));
        // A kind that is not built in keeps its resource unknown.
        let mut ev = Evidence::default();
        read("failed to list *v1alpha1.Widget: forbidden", &mut ev);
        assert_eq!(ev.request.resource, None);
        assert_eq!(guess_plural("NetworkPolicy"), "networkpolicies");
        assert_eq!(guess_plural("Ingress"), "ingresses");
        let mut ev = Evidence::default();
        read(
            "watch of *unstructured.Unstructured ended with: too old",
            &mut ev,
        );
        assert_eq!(ev.phase, Some(Phase::WatchEvent));
    }

    #[test]
    fn a_reconciler_error_names_the_object_reconciled() {
        let mut ev = Evidence::default();
        read(
            r#"ERROR	Reconciler error	{"reconciler kind": "AlluxioRuntime", "name": "hbase", "namespace": "default", "error": "x"}"#,
            &mut ev,
        );
        let obj = ev.reconciled.unwrap();
        assert_eq!(
            (obj.namespace.as_deref(), obj.name.as_deref()),
            (Some("default"), Some("hbase"))
        );
    }
}
