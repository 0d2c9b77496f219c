//! client-go and controller-runtime log lines: the reflector's `failed to list *v1.Pod: ..` and `"Failed to
//! watch" err=".." type="*v1.Pod"` (current and the 2019–2024 shapes), `the server could not find the requested
//! resource (get x.g)`, client-side throttling, discovery failures, and controller-runtime's cache-sync
//! time-out and `if kind is a CRD, it should be installed before calling Start`.

use std::sync::LazyLock;

use regex::Regex;

use super::Evidence;
use crate::cause::{Cause, NotServed};
use crate::diagnosis::Phase;
use crate::note::Note;

/// `*v1.Pod`, `*v1alpha2.TLSRoute`, or a dynamic informer's `kube.rs/v1, Kind=Document`.
static GO_TYPE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\*(?P<version>v[0-9]+(?:(?:alpha|beta)[0-9]+)?)\.(?P<kind>[A-Z][A-Za-z0-9]*)|(?P<group>[a-z0-9.\-]*)/(?P<gversion>v[0-9]+(?:(?:alpha|beta)[0-9]+)?), Kind=(?P<gkind>[A-Z][A-Za-z0-9]*)")
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
static CRD_KIND: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"kind[\\"]*\s*[:=]\s*[\\"]*(?P<kind>[A-Z][A-Za-z0-9]*)(?:\.(?P<group>[a-z0-9.\-]+))?"#,
    )
    .expect("built-in pattern")
});

/// Reads client-go and controller-runtime framing into `ev` (phase, kind, version, hints).
pub(crate) fn read(text: &str, ev: &mut Evidence) {
    let list_at = text
        .find("failed to list ")
        .or_else(|| text.find("Failed to list "));
    if let Some(at) = list_at {
        ev.phase.get_or_insert(Phase::InitialList);
        go_type(&text[at..], ev);
    } else if let Some(at) = text.find("Failed to watch") {
        ev.phase.get_or_insert(Phase::WatchStart);
        go_type(&text[at..], ev);
    }
    if text.contains("Failed to watch") || text.contains("reflector.go") {
        ev.notes.push(Note::LoggedByReflector);
    }
    if let Some(at) = text.find("timed out waiting for cache to be synced") {
        ev.phase = Some(Phase::CacheSync);
        ev.hint.get_or_insert(Cause::CacheSyncTimeout);
        go_type(&text[at..], ev);
    }
    if text.contains("if kind is a CRD, it should be installed before calling Start") {
        ev.hint = Some(Cause::NotServed(NotServed::default()));
        if let Some(c) = CRD_KIND.captures(text) {
            ev.request.kind = c.name("kind").map(|m| m.as_str().to_string());
            ev.request.group = c.name("group").map(|m| m.as_str().to_string());
        }
    }
    if text.contains("client-side throttling")
        && let Some(c) = THROTTLED.captures(text)
    {
        ev.request.method = c.name("method").map(|m| m.as_str().to_string());
        ev.request.url = c.name("url").map(|m| m.as_str().to_string());
    }
    if text.contains("server APIs")
        && let Some(c) = DISCOVERY.captures(text)
    {
        ev.request.group = c.name("group").map(|m| m.as_str().to_string());
        ev.request.version = c.name("version").map(|m| m.as_str().to_string());
        ev.notes.push(Note::GroupDiscoveryFailed);
    }
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
}
