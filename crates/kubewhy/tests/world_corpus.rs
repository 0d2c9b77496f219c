//! The staged world corpus (`tests/data/world.yaml`): failure texts collected from public issue trackers as people
//! pasted them, damage included. These tests check the file itself — every case names its source, its damage
//! groups and the diagnosis expected, and together the cases cover every group of issue 10 — so that what is
//! measured against it is well formed. Whether `kubewhy` reads the cases right is measured separately until they
//! move into `corpus.yaml`, whose test checks every case.

use std::collections::{BTreeMap, BTreeSet};

use kubewhy::Class;
use serde::Deserialize;
use serde_yaml::Value;

/// The damage groups a case can name.
const DAMAGE: &[&str] = &[
    "quotes",
    "borders",
    "wrapped",
    "escaped",
    "numbered-chain",
    "two-layers",
    "syntax-python",
    "syntax-js",
    "syntax-go-struct",
    "syntax-go-map",
    "pretty-json",
    "none",
];

/// The fields `expect` may compare (those of `corpus.yaml`'s cases).
const FIELDS: &[&str] = &[
    "class",
    "code",
    "reason",
    "user",
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
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    format: String,
    source: String,
    project: String,
    damage: Vec<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    absent: bool,
    #[serde(default)]
    cause: Option<String>,
    #[serde(default)]
    findings: Option<u32>,
    text: String,
    #[serde(default)]
    expect: BTreeMap<String, Value>,
}

fn world() -> Vec<Case> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/world.yaml");
    let text = std::fs::read_to_string(path).expect("reading the world corpus");
    serde_yaml::from_str(&text).expect("the world corpus is valid YAML of cases")
}

/// Every case is complete: a GitHub source, a project and format, known damage groups, and for a failure the
/// expected cause, finding count and fields; a healthy excerpt expects nothing.
#[test]
fn every_world_case_is_well_formed() {
    let cases = world();
    let mut bad = Vec::new();
    let mut texts = BTreeSet::new();
    for (i, c) in cases.iter().enumerate() {
        let mut problem = |what: String| bad.push(format!("case {i} ({}): {what}", c.source));
        if !c.source.starts_with("https://github.com/") {
            problem("the source is not a GitHub address".into());
        }
        if c.project.trim().is_empty() || c.format.trim().is_empty() {
            problem("no project or format".into());
        }
        if c.text.trim().is_empty() {
            problem("no text".into());
        }
        if !texts.insert(c.text.as_str()) {
            problem("the same text as an earlier case".into());
        }
        if c.note.as_deref().is_some_and(|n| n.trim().is_empty()) {
            problem("an empty note".into());
        }
        if c.damage.is_empty() {
            problem("no damage group (`none` when undamaged)".into());
        }
        for d in &c.damage {
            if !DAMAGE.contains(&d.as_str()) {
                problem(format!("unknown damage group {d:?}"));
            }
        }
        if c.damage.len() > 1 && c.damage.iter().any(|d| d == "none") {
            problem("`none` with other damage groups".into());
        }
        if c.absent {
            if c.cause.is_some() || c.findings.is_some() || !c.expect.is_empty() {
                problem("a healthy excerpt expects a diagnosis".into());
            }
            continue;
        }
        match c.cause.as_deref().and_then(|s| s.split_whitespace().next()) {
            Some(kind) if kind.chars().all(|ch| ch.is_ascii_lowercase() || ch == '-') => {}
            other => problem(format!(
                "the cause does not start with a kind name: {other:?}"
            )),
        }
        if c.findings.unwrap_or(0) == 0 {
            problem("no expected finding count".into());
        }
        match c.expect.get("class").and_then(Value::as_str) {
            Some(class) if class.parse::<Class>().is_ok() => {}
            other => problem(format!("no valid expected class: {other:?}")),
        }
        for (field, value) in &c.expect {
            if !FIELDS.contains(&field.as_str()) {
                problem(format!("unknown expected field {field:?}"));
            }
            if field == "code"
                && !value
                    .as_u64()
                    .is_some_and(|code| (400..600).contains(&code))
            {
                problem(format!("an HTTP code that is not an error: {value:?}"));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The collection covers what issue 10 asks for: at least 60 failures and 10 healthy excerpts that mention
/// "forbidden", "error", "webhook" or "certificate"; every damage group; every Status syntax; every phrasing of
/// group 4 and every Kubernetes 1.33–1.36 behaviour of group 5 that public trackers show.
#[test]
fn the_world_corpus_covers_every_group_of_the_issue() {
    let cases = world();
    let failures: Vec<&Case> = cases.iter().filter(|c| !c.absent).collect();
    let healthy_with_words = cases
        .iter()
        .filter(|c| c.absent)
        .filter(|c| {
            let t = c.text.to_lowercase();
            ["forbidden", "error", "webhook", "certificate"]
                .iter()
                .any(|w| t.contains(w))
        })
        .count();
    assert!(
        failures.len() >= 60,
        "{} failure cases, at least 60 wanted",
        failures.len()
    );
    assert!(
        healthy_with_words >= 10,
        "{healthy_with_words} healthy excerpts mention forbidden/error/webhook/certificate, at least 10 wanted"
    );

    let damage: BTreeSet<&str> = cases
        .iter()
        .flat_map(|c| c.damage.iter().map(String::as_str))
        .collect();
    for d in DAMAGE {
        assert!(damage.contains(d), "no case with damage group {d}");
    }

    let classes: BTreeSet<&str> = failures
        .iter()
        .filter_map(|c| c.expect.get("class").and_then(Value::as_str))
        .collect();
    for class in Class::ALL {
        if class != Class::Unknown {
            assert!(
                classes.contains(class.as_str()),
                "no world case of class {class}"
            );
        }
    }

    // Phrasings of groups 4 and 5, as real pastes carry them.
    for phrase in [
        "etcdserver: leader changed",
        "(Connect",
        "os error 111",
        "UnknownIssuer",
        "the server has asked for the client to provide credentials (get ",
        "is not a known field selector",
        "BadRequest",
        "service \"warden\" not found",
        "the server rejected our request due to an error in our request",
        "storage is (re)initializing",
        "cannot impersonate resource",
        "ValidatingAdmissionPolicy",
        "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled",
    ] {
        assert!(
            failures.iter().any(|c| c.text.contains(phrase)),
            "no world case contains {phrase:?}"
        );
    }
}
