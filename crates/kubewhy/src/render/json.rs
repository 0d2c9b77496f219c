//! JSON: one object per diagnosis (or finding) with stable field names — `class`, every request and subject
//! field (null when unknown), `message`, `summary`, `cause`, `notes`, `remedy: {text, yaml?, commands}`, and
//! for findings `file`, `count`, `first_line`, `last_line`. The wire types are private so the model can change
//! without changing the schema.

use std::io::{self, Write};

use serde::Serialize;

use crate::diagnosis::{Class, Diagnosis};
use crate::scan::Finding;

#[derive(Serialize)]
struct WireRemedy<'a> {
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    yaml: Option<&'a str>,
    commands: &'a [String],
}

#[derive(Serialize)]
struct WireDiagnosis<'a> {
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
    message: &'a str,
    summary: &'a str,
    cause: &'a str,
    notes: &'a [String],
    remedy: WireRemedy<'a>,
}

#[derive(Serialize)]
struct WireFinding<'a> {
    #[serde(flatten)]
    diagnosis: WireDiagnosis<'a>,
    file: &'a str,
    count: u64,
    first_line: u64,
    last_line: u64,
}

fn wire(d: &Diagnosis) -> WireDiagnosis<'_> {
    let r = &d.request;
    WireDiagnosis {
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
        message: &d.message,
        summary: &d.summary,
        cause: &d.cause,
        notes: &d.notes,
        remedy: WireRemedy {
            text: &d.remedy.text,
            yaml: d.remedy.yaml.as_deref(),
            commands: &d.remedy.commands,
        },
    }
}

/// A diagnosis as a JSON value.
pub fn diagnosis_value(d: &Diagnosis) -> serde_json::Value {
    serde_json::to_value(wire(d)).expect("the wire types always serialize")
}

/// A finding as a JSON value.
pub fn finding_value(f: &Finding) -> serde_json::Value {
    serde_json::to_value(WireFinding {
        diagnosis: wire(&f.diagnosis),
        file: &f.source,
        count: f.count,
        first_line: f.first_line,
        last_line: f.last_line,
    })
    .expect("the wire types always serialize")
}

/// Writes one diagnosis as a JSON object on one line.
pub fn write_diagnosis(w: &mut impl Write, d: &Diagnosis) -> io::Result<()> {
    serde_json::to_writer(&mut *w, &wire(d))?;
    writeln!(w)
}

/// Writes findings as a pretty-printed JSON array.
pub fn write_findings(w: &mut impl Write, findings: &[Finding]) -> io::Result<()> {
    let values: Vec<serde_json::Value> = findings.iter().map(finding_value).collect();
    serde_json::to_writer_pretty(&mut *w, &values)?;
    writeln!(w)
}
