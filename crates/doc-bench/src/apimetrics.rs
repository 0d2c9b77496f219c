//! The API server's own count of the requests it served (`apiserver_request_total` on its `/metrics`), read before
//! and after a phase so the difference is what that phase cost the server.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use kube::Client;
use serde::Serialize;

/// One series of `apiserver_request_total`: who asked for what, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Key {
    /// `GET`, `LIST`, `WATCH`, `POST`, `PUT`, `PATCH`, `DELETE`, `APPLY` (server-side apply)...
    pub verb: String,
    /// The resource (`documents`, `events`, ...).
    pub resource: String,
    /// The subresource (`status`) or empty.
    pub subresource: String,
    /// The HTTP status code.
    pub code: String,
}

/// A reading of the counters, and of the watches open at that moment (`apiserver_longrunning_requests`, by
/// resource): a watch is counted in `apiserver_request_total` only when it ends, so open ones are read apart.
#[derive(Debug, Clone, Default)]
pub struct Snapshot(BTreeMap<Key, f64>, BTreeMap<String, f64>);

/// Reads the counters from the API server (the client must be allowed `get` on the `/metrics` path).
pub async fn snapshot(client: &Client) -> Result<Snapshot> {
    let req = http::Request::get("/metrics")
        .body(Vec::new())
        .context("building the /metrics request")?;
    let text = client
        .request_text(req)
        .await
        .context("reading the API server's /metrics")?;
    Ok(parse(&text))
}

/// Parses the `apiserver_request_total` lines of a Prometheus text exposition.
pub fn parse(text: &str) -> Snapshot {
    let mut out = BTreeMap::new();
    let mut watches = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("apiserver_longrunning_requests{")
            && let Some((labels, value)) = rest.rsplit_once('}')
            && let Ok(value) = value.trim().parse::<f64>()
        {
            let labels = parse_labels(labels);
            if labels.get("verb").map(String::as_str) == Some("WATCH") {
                let resource = labels.get("resource").cloned().unwrap_or_default();
                *watches.entry(resource).or_insert(0.0) += value;
            }
            continue;
        }
        let Some(rest) = line.strip_prefix("apiserver_request_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once('}') else {
            continue;
        };
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        let labels = parse_labels(labels);
        let get = |k: &str| labels.get(k).cloned().unwrap_or_default();
        let key = Key {
            verb: get("verb"),
            resource: get("resource"),
            subresource: get("subresource"),
            code: get("code"),
        };
        *out.entry(key).or_insert(0.0) += value;
    }
    Snapshot(out, watches)
}

/// `a="x",b="y \"q\""` → {a: x, b: y "q"}.
fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = text.chars().peekable();
    loop {
        let name: String = chars.by_ref().take_while(|c| *c != '=').collect();
        let name = name.trim_start_matches(',').trim().to_string();
        if name.is_empty() || chars.next() != Some('"') {
            break;
        }
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        value.push(if n == 'n' { '\n' } else { n });
                    }
                }
                '"' => break,
                c => value.push(c),
            }
        }
        out.insert(name, value);
    }
    out
}

/// What happened between two snapshots.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Delta(pub BTreeMap<Key, f64>);

impl Snapshot {
    /// The requests served since `earlier`.
    pub fn since(&self, earlier: &Snapshot) -> Delta {
        let mut out = BTreeMap::new();
        for (k, v) in &self.0 {
            let d = v - earlier.0.get(k).copied().unwrap_or(0.0);
            if d > 0.0 {
                out.insert(k.clone(), d);
            }
        }
        Delta(out)
    }

    /// Watches open now minus those open at `earlier`, by resource (only resources with more).
    pub fn new_watches(&self, earlier: &Snapshot) -> BTreeMap<String, f64> {
        self.1
            .iter()
            .map(|(r, v)| (r.clone(), v - earlier.1.get(r).copied().unwrap_or(0.0)))
            .filter(|(_, d)| *d > 0.0)
            .collect()
    }
}

/// Verbs that change something.
pub fn is_mutating(verb: &str) -> bool {
    matches!(
        verb,
        "POST" | "PUT" | "PATCH" | "APPLY" | "DELETE" | "DELETECOLLECTION"
    )
}

/// Review resources (`selfsubjectaccessreviews`, `tokenreviews`, ...): a `POST` asks a question and stores nothing.
pub fn is_review(resource: &str) -> bool {
    resource.ends_with("reviews")
}

impl Delta {
    /// Requests by verb (all resources).
    pub fn by_verb(&self) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for (k, v) in &self.0 {
            *out.entry(k.verb.clone()).or_insert(0.0) += v;
        }
        out
    }

    /// Requests by `VERB resource[/subresource]`.
    pub fn by_verb_resource(&self) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for (k, v) in &self.0 {
            let what = if k.subresource.is_empty() {
                format!("{} {}", k.verb, k.resource)
            } else {
                format!("{} {}/{}", k.verb, k.resource, k.subresource)
            };
            *out.entry(what).or_insert(0.0) += v;
        }
        out
    }

    /// All requests.
    pub fn total(&self) -> f64 {
        self.0.values().fold(0.0, |a, b| a + b)
    }

    /// Requests matching a filter.
    pub fn count(&self, f: impl Fn(&Key) -> bool) -> f64 {
        // Start from +0.0: an empty f64 sum is -0.0, which would print as "-0".
        self.0
            .iter()
            .filter(|(k, _)| f(k))
            .map(|(_, v)| v)
            .fold(0.0, |a, b| a + b)
    }

    /// Mutating requests on Documents (the object or its status) that the server accepted (2xx).
    pub fn document_writes(&self) -> f64 {
        self.count(|k| {
            k.resource == "documents"
                && is_mutating(&k.verb)
                && k.verb != "DELETE"
                && k.code.starts_with('2')
        })
    }

    /// Requests the server answered 409 Conflict.
    pub fn conflicts(&self) -> f64 {
        self.count(|k| k.code == "409")
    }

    /// Requests the server answered with a 5xx (e.g. 504 when a request outlived its timeout).
    pub fn server_errors(&self) -> f64 {
        self.count(|k| k.code.starts_with('5'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP apiserver_request_total [STABLE] Counter of apiserver requests
# TYPE apiserver_request_total counter
apiserver_request_total{code="200",component="apiserver",dry_run="",group="kube.rs",resource="documents",scope="resource",subresource="status",verb="APPLY",version="v1"} 7
apiserver_request_total{code="200",component="apiserver",dry_run="",group="kube.rs",resource="documents",scope="resource",subresource="",verb="PATCH",version="v1"} 3
apiserver_request_total{code="409",component="apiserver",dry_run="",group="kube.rs",resource="documents",scope="resource",subresource="",verb="PUT",version="v1"} 2
apiserver_request_total{code="201",component="apiserver",dry_run="",group="events.k8s.io",resource="events",scope="resource",subresource="",verb="POST",version="v1"} 4
apiserver_request_total_other{verb="GET"} 99
apiserver_longrunning_requests{component="apiserver",group="kube.rs",resource="documents",scope="cluster",subresource="",verb="WATCH",version="v1"} 2
"#;

    #[test]
    fn parses_and_subtracts() {
        let before = parse("");
        let after = parse(TEXT);
        let d = after.since(&before);
        assert_eq!(d.total(), 16.0);
        assert_eq!(d.by_verb()["APPLY"], 7.0);
        assert_eq!(d.by_verb_resource()["APPLY documents/status"], 7.0);
        assert_eq!(d.document_writes(), 10.0);
        assert_eq!(d.conflicts(), 2.0);
        assert!(after.since(&after).0.is_empty());
        assert_eq!(after.new_watches(&before)["documents"], 2.0);
        assert!(after.new_watches(&after).is_empty());
    }

    #[test]
    fn labels_with_escapes() {
        let l = parse_labels(r#"a="x",b="y \"q\"",c="""#);
        assert_eq!(l["a"], "x");
        assert_eq!(l["b"], "y \"q\"");
        assert_eq!(l["c"], "");
    }
}
