//! JSON: one object per diagnosis with stable field names (schema version [`SCHEMA_VERSION`], documented in
//! `docs/json.md`) — `schema_version`, `class`, `level`, `code`, `reason`, the subject and every request field
//! (null when unknown), `phase`, `message`, `summary`, `cause`, `notes`, `remedy: {summary, text, yaml?,
//! commands}`, the typed cause as `typed_cause`, and for log findings `file`, `count`, `first_line`, `last_line`
//! and `requests` (each request the finding hit, with its count and lines).
//! The wire types are private so the model can change without changing the schema.

use std::io::{self, Write};

use serde::Serialize;

use super::text::Location;
use crate::cause::Cause;
use crate::diagnosis::{Class, Diagnosis, Phase};
use crate::fold::Hit;

/// The version of the JSON schema (`docs/json.md`): 2 added `schema_version`, `phase`, `typed_cause` and
/// `remedy.summary` to the fields of version 1; 3 added `requests` to a finding of `kubewhy explain`.
pub const SCHEMA_VERSION: u32 = 3;

#[derive(Serialize)]
struct WireRemedy {
    summary: String,
    text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    yaml: Option<String>,
    commands: Vec<String>,
}

#[derive(Serialize)]
struct WireDiagnosis<'a> {
    schema_version: u32,
    class: Class,
    level: &'static str,
    code: Option<u16>,
    reason: Option<&'a str>,
    user: Option<&'a str>,
    groups: &'a [String],
    verb: Option<&'a str>,
    resource: Option<&'a str>,
    subresource: Option<&'a str>,
    group: Option<&'a str>,
    version: Option<&'a str>,
    kind: Option<&'a str>,
    namespace: Option<&'a str>,
    name: Option<&'a str>,
    path: Option<&'a str>,
    method: Option<&'a str>,
    url: Option<&'a str>,
    phase: Option<Phase>,
    message: &'a str,
    summary: String,
    cause: String,
    notes: Vec<String>,
    remedy: WireRemedy,
    typed_cause: &'a Cause,
}

#[derive(Serialize)]
struct WireFinding<'a> {
    #[serde(flatten)]
    diagnosis: WireDiagnosis<'a>,
    file: &'a str,
    count: u64,
    first_line: u64,
    last_line: u64,
    requests: Vec<WireHit<'a>>,
    requests_unlisted: u64,
}

/// One request a finding hit.
#[derive(Serialize)]
struct WireHit<'a> {
    method: Option<&'a str>,
    url: Option<&'a str>,
    verb: Option<&'a str>,
    group: Option<&'a str>,
    version: Option<&'a str>,
    resource: Option<&'a str>,
    subresource: Option<&'a str>,
    kind: Option<&'a str>,
    namespace: Option<&'a str>,
    name: Option<&'a str>,
    path: Option<&'a str>,
    count: u64,
    first_line: u64,
    last_line: u64,
}

fn wire_hit(h: &Hit) -> WireHit<'_> {
    let r = &h.request;
    WireHit {
        method: r.method.as_deref(),
        url: r.url.as_deref(),
        verb: r.verb.as_deref(),
        group: r.group.as_deref(),
        version: r.version.as_deref(),
        resource: r.resource.as_deref(),
        subresource: r.subresource.as_deref(),
        kind: r.kind.as_deref(),
        namespace: r.namespace.as_deref(),
        name: r.name.as_deref(),
        path: r.path.as_deref(),
        count: h.count,
        first_line: h.first_line,
        last_line: h.last_line,
    }
}

fn wire(d: &Diagnosis) -> WireDiagnosis<'_> {
    let r = &d.request;
    let described = d.describe();
    let remedy = d.remedy();
    WireDiagnosis {
        schema_version: SCHEMA_VERSION,
        class: d.class,
        level: super::Level::of(d).as_str(),
        code: d.code,
        reason: d.reason.as_deref(),
        user: d.user.as_deref(),
        groups: &d.groups,
        verb: r.verb.as_deref(),
        resource: r.resource.as_deref(),
        subresource: r.subresource.as_deref(),
        group: r.group.as_deref(),
        version: r.version.as_deref(),
        kind: r.kind.as_deref(),
        namespace: r.namespace.as_deref(),
        name: r.name.as_deref(),
        path: r.path.as_deref(),
        method: r.method.as_deref(),
        url: r.url.as_deref(),
        phase: d.phase,
        message: &d.message,
        summary: described.summary,
        cause: described.cause,
        notes: described.notes,
        remedy: WireRemedy {
            summary: remedy.summary,
            text: remedy.text,
            yaml: remedy.yaml,
            commands: remedy.commands,
        },
        typed_cause: &d.cause,
    }
}

/// A diagnosis as a JSON value.
pub fn diagnosis_value(d: &Diagnosis) -> serde_json::Value {
    to_value(&wire(d))
}

/// A diagnosis found in a log as a JSON value (with `file`, `count`, `first_line`, `last_line`, `requests`).
pub fn finding_value(d: &Diagnosis, at: &Location<'_>) -> serde_json::Value {
    to_value(&WireFinding {
        diagnosis: wire(d),
        file: at.source,
        count: at.count,
        first_line: at.first_line,
        last_line: at.last_line,
        requests: at.requests.iter().map(wire_hit).collect(),
        requests_unlisted: at.unlisted,
    })
}

fn to_value(v: &impl Serialize) -> serde_json::Value {
    // The wire types hold strings, numbers and serde-derived enums only: serializing them cannot fail.
    serde_json::to_value(v).unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }))
}

/// Writes one diagnosis as a JSON object on one line.
pub fn write_diagnosis(w: &mut impl Write, d: &Diagnosis) -> io::Result<()> {
    serde_json::to_writer(&mut *w, &wire(d))?;
    writeln!(w)
}

/// Writes diagnoses found in logs as a pretty-printed JSON array.
pub fn write_findings(w: &mut impl Write, found: &[(&Diagnosis, Location<'_>)]) -> io::Result<()> {
    let values: Vec<serde_json::Value> = found.iter().map(|(d, at)| finding_value(d, at)).collect();
    serde_json::to_writer_pretty(&mut *w, &values)?;
    writeln!(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_version_1_fields_and_adds_the_typed_cause() {
        let d = crate::diagnose::diagnose_text(
            r#"secrets is forbidden: User "system:serviceaccount:app:web" cannot watch resource "secrets" in API group "" in the namespace "app""#,
        )
        .expect("a denial");
        let v = diagnosis_value(&d);
        for key in [
            "class",
            "code",
            "reason",
            "user",
            "groups",
            "verb",
            "resource",
            "subresource",
            "group",
            "version",
            "kind",
            "namespace",
            "name",
            "path",
            "method",
            "url",
            "message",
            "summary",
            "cause",
            "notes",
            "remedy",
        ] {
            assert!(v.get(key).is_some(), "{key} missing: {v:#}");
        }
        assert_eq!(v["schema_version"], SCHEMA_VERSION);
        assert_eq!(v["typed_cause"]["kind"], "denied");
        assert_eq!(v["typed_cause"]["scope"], "namespace");
        assert!(
            v["cause"]
                .as_str()
                .unwrap()
                .contains("no Role or ClusterRole")
        );
        assert!(
            v["remedy"]["yaml"]
                .as_str()
                .unwrap()
                .contains("kind: RoleBinding")
        );
    }
}
