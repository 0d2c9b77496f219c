//! The corpus (`tests/data/corpus.yaml`): real failure messages in every format, each with the classification
//! and fields expected. Every case is checked through `diagnose_text` and through the streaming scanner (so the
//! pre-filter cannot drop a known format), and every class and format must have cases.

use std::collections::BTreeMap;

use kubewhy::{Class, Diagnosis, diagnose_text};
use serde::Deserialize;
use serde_yaml::Value;

#[derive(Debug, Deserialize)]
struct Case {
    format: String,
    text: String,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    expect: BTreeMap<String, Value>,
    #[serde(default)]
    absent: bool,
}

fn corpus() -> Vec<Case> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/corpus.yaml"
    ))
    .expect("reading the corpus");
    serde_yaml::from_str(&text).expect("the corpus is valid YAML")
}

fn field<'a>(d: &'a Diagnosis, name: &str) -> Option<&'a str> {
    let r = &d.request;
    match name {
        "reason" => d.reason.as_deref(),
        "user" => d.user.as_deref(),
        "verb" => r.verb.as_deref(),
        "resource" => r.resource.as_deref(),
        "subresource" => r.subresource.as_deref(),
        "group" => r.group.as_deref(),
        "version" => r.version.as_deref(),
        "kind" => r.kind.as_deref(),
        "namespace" => r.namespace.as_deref(),
        "name" => r.name.as_deref(),
        "path" => r.path.as_deref(),
        "method" => r.method.as_deref(),
        "url" => r.url.as_deref(),
        other => panic!("the corpus names an unknown field {other:?}"),
    }
}

/// Checks one case; returns the mismatches.
fn check(case: &Case, d: &Diagnosis) -> Vec<String> {
    let mut bad = Vec::new();
    for (key, want) in &case.expect {
        let ok = match key.as_str() {
            "class" => want.as_str().and_then(|c| c.parse::<Class>().ok()) == Some(d.class),
            "code" => want.as_u64().map(|c| c as u16) == d.code,
            "groups" => {
                let want: Vec<String> = serde_yaml::from_value(want.clone()).unwrap();
                want == d.groups
            }
            "yaml" => want.is_null() == d.remedy().yaml.is_none(),
            "yaml_kind" => d
                .remedy()
                .yaml
                .as_deref()
                .is_some_and(|y| y.contains(&format!("kind: {}\n", want.as_str().unwrap()))),
            "yaml_subject" => d
                .remedy()
                .yaml
                .as_deref()
                .and_then(|y| y.split("subjects:").nth(1))
                .is_some_and(|s| s.contains(&format!("kind: {}\n", want.as_str().unwrap()))),
            "cause_contains" => d.describe().cause.contains(want.as_str().unwrap()),
            "summary_contains" => d.summary().contains(want.as_str().unwrap()),
            "note_contains" => d
                .describe()
                .notes
                .iter()
                .any(|n| n.contains(want.as_str().unwrap())),
            name => match want {
                Value::Null => field(d, name).is_none(),
                v => field(d, name) == v.as_str(),
            },
        };
        if !ok {
            bad.push(format!("{key}: expected {want:?}"));
        }
    }
    bad
}

#[test]
fn every_corpus_case_is_classified_with_its_fields() {
    let cases = corpus();
    let mut failures = Vec::new();
    let mut per_class: BTreeMap<Class, usize> = BTreeMap::new();
    let mut per_format: BTreeMap<String, usize> = BTreeMap::new();
    for (i, case) in cases.iter().enumerate() {
        *per_format.entry(case.format.clone()).or_default() += 1;
        let got = diagnose_text(&case.text);
        match (case.absent, got) {
            (true, None) => {}
            (true, Some(d)) => failures.push(format!(
                "case {i} ({}) should find nothing, found {d}",
                case.format
            )),
            (false, None) => failures.push(format!(
                "case {i} ({}) found nothing in {:?}",
                case.format, case.text
            )),
            (false, Some(d)) => {
                *per_class.entry(d.class).or_default() += 1;
                let bad = check(case, &d);
                if !bad.is_empty() {
                    failures.push(format!(
                        "case {i} ({}{}): {}\n  text: {}\n  got: {d:#?}",
                        case.format,
                        case.note
                            .as_deref()
                            .map(|n| format!(", {n}"))
                            .unwrap_or_default(),
                        bad.join("; "),
                        case.text
                    ));
                }
            }
        }
    }
    eprintln!("corpus cases per class: {per_class:?}");
    eprintln!("corpus cases per format: {per_format:?}");
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
    for class in Class::ALL {
        assert!(
            per_class.get(&class).copied().unwrap_or(0) >= 2,
            "class {class} needs at least two corpus cases"
        );
    }
    for format in [
        "server-message",
        "kube-rs-debug",
        "kube-rs-display",
        "kube-rs-log",
        "status-json",
        "client-go",
        "controller-runtime",
        "kubectl",
        "transport",
        "json-log",
    ] {
        assert!(
            per_format.contains_key(format),
            "no corpus case for format {format}"
        );
    }
}

fn scan(input: &str) -> Vec<kubewhy::scan::Finding> {
    let mut scanner = kubewhy::scan::Scanner::new();
    scanner
        .read("corpus", input.as_bytes())
        .expect("reading from memory cannot fail");
    scanner.into_findings()
}

#[test]
fn the_scanner_finds_every_corpus_case_and_nothing_else() {
    for (i, case) in corpus().iter().enumerate() {
        // The case twice among noise: it is found where it is, and the repeat is folded into the same findings,
        // each occurring twice as often as in the case alone.
        let noise = "2026-07-01T10:00:00Z INFO doc_controller: reconciled object\n";
        let alone = scan(&case.text);
        let input = format!("{noise}{text}\n{noise}{text}\n", text = case.text);
        let case_lines = case.text.lines().count() as u64;
        let findings = scan(&input);
        if case.absent {
            assert!(
                alone.is_empty() && findings.is_empty(),
                "case {i}: {findings:#?}"
            );
            continue;
        }
        let d = diagnose_text(&case.text).expect("checked by the other test");
        let (first, second) = (2, 3 + case_lines);
        let f = findings.first().expect("a failure");
        assert!(
            f.diagnosis == d
                && (first..first + case_lines).contains(&f.first_line)
                && (second..second + case_lines).contains(&f.last_line),
            "case {i} ({}) was not found twice by the scanner: {findings:#?}\n{input}",
            d.class
        );
        let counts = |fs: &[kubewhy::scan::Finding]| {
            fs.iter()
                .map(|f| (f.diagnosis.class, f.count))
                .collect::<Vec<_>>()
        };
        let doubled: Vec<_> = counts(&alone)
            .into_iter()
            .map(|(c, n)| (c, 2 * n))
            .collect();
        assert_eq!(counts(&findings), doubled, "case {i}: {findings:#?}");
    }
}
