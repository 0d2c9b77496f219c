//! The corpus (`tests/data/corpus.yaml`): real failure messages in every format, each with the classification
//! and fields expected, and the world's: texts pasted into public issue trackers, damage included, each with its
//! source, damage groups, cause and number of findings. Every case is checked through `diagnose_text` and through
//! the streaming scanner (so the pre-filter cannot drop a known format), every class and format must have cases,
//! and the world's cases must cover every group of issue 10.
//!
//! Issue 19's fresh pastes are split by a rule (the parity of the FNV-1a hash of the source): the development part
//! sits in the corpus and is checked case by case; the held-out part (`tests/data/held_out.yaml`) is only scored, per
//! class and per program, and the test fails only when that score falls below its first one.

use std::collections::{BTreeMap, BTreeSet};

use kubewhy::{Class, Diagnosis, diagnose_text};
use serde::Deserialize;
use serde_yaml::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    format: String,
    text: String,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    expect: BTreeMap<String, Value>,
    #[serde(default)]
    absent: bool,
    /// A world case: the issue or pull request it was pasted in.
    #[serde(default)]
    source: Option<String>,
    /// The client or tool that printed it.
    #[serde(default)]
    project: Option<String>,
    /// What pasting did to it ([`DAMAGE`]).
    #[serde(default)]
    damage: Vec<String>,
    /// The kind of the typed cause expected, then in words.
    #[serde(default)]
    cause: Option<String>,
    /// How many distinct failures the scanner reports.
    #[serde(default)]
    findings: Option<usize>,
    /// Why the case is still read wrong.
    #[serde(default)]
    known_wrong: Option<String>,
    /// A fresh case of issue 19: the program that printed it ([`PROGRAMS`]).
    #[serde(default)]
    program: Option<String>,
}

/// The damage groups a world case can name.
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
    "syntax-java",
    "blockquote",
    "stack-trace",
    "none",
];

/// The programs issue 19's fresh pastes come from (a fresh case's `program`).
const PROGRAMS: &[&str] = &[
    "go-operator",
    "controller-runtime",
    "client-go",
    "kubectl",
    "helm",
    "argo-cd",
    "karpenter",
    "terraform",
    "fabric8",
    "java-client",
    "python-client",
    "js-client",
    "csharp-client",
    "kopf",
    "airflow",
    "spark",
    "kube-rs",
    "other",
];

/// The held-out part's floor, read right of total: the first score of each collection, taken before any code changed
/// for it (recorded in CHANGELOG.md). The first 79 cases scored 33 on main at 895edb0 (48 by e9363e8); with the 50 of
/// the second collection (2026-12-07) the whole part scored 89 of 129 on e9363e8; by 786023c those 129 read 108, and
/// the 34 of the third collection (2026-12-07 evening) scored 28 there, so the whole part scored 136 of 163 on
/// 786023c. By 21ae20e those 163 read 139, and the 52 of the fourth collection (2026-12-07/08 night) scored 45 there,
/// so the whole part scored 184 of 215 on 21ae20e. By 0479278 (main after reader5's merge) those 215 read 185, and the
/// 34 of the fifth collection (2026-12-08 night) scored 26 there, so the whole part scored 211 of 249 on 0479278, the
/// floor kept here. The held-out test fails only if the score falls below it.
const HELD_OUT_FIRST_SCORE: (usize, usize) = (211, 249);

/// The fields a world case's `expect` compares: the diagnosis's, not the wording's.
const WORLD_FIELDS: &[&str] = &[
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

fn load(file: &str) -> Vec<Case> {
    let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path} is not a valid corpus: {e}"))
}

fn corpus() -> Vec<Case> {
    load("corpus.yaml")
}

/// The held-out part of the fresh pastes: only ever scored as a whole ([`the_held_out_score_does_not_fall`]).
fn held_out() -> Vec<Case> {
    load("held_out.yaml")
}

/// FNV-1a, 64 bits: the split rule's hash (written here so the rule depends on no crate's version).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The split rule: a fresh case is held out when the hash of its source is odd.
fn is_held_out(source: &str) -> bool {
    fnv1a(source.as_bytes()) & 1 == 1
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
    if let Some(kind) = case
        .cause
        .as_deref()
        .and_then(|c| c.split_whitespace().next())
        && kind != d.cause.kind()
    {
        bad.push(format!("cause: expected {kind}, got {}", d.cause.kind()));
    }
    if let Some(n) = case.findings {
        let found = scan(&case.text);
        if found.len() != n {
            let classes: Vec<_> = found.iter().map(|f| f.diagnosis.class.as_str()).collect();
            bad.push(format!(
                "findings: expected {n}, the scanner found {classes:?}"
            ));
        }
    }
    bad
}

/// Why a case is read wrong, or `None` when it is read right.
fn wrong(case: &Case) -> Option<String> {
    match (case.absent, diagnose_text(&case.text)) {
        (true, None) => None,
        (true, Some(d)) => Some(format!("should find nothing, found {d}")),
        (false, None) => Some(format!("found nothing in {:?}", case.text)),
        (false, Some(d)) => {
            let bad = check(case, &d);
            (!bad.is_empty()).then(|| format!("{}\n  got: {d:#?}", bad.join("; ")))
        }
    }
}

#[test]
fn every_corpus_case_is_classified_with_its_fields() {
    let cases = corpus();
    let mut failures = Vec::new();
    let mut per_class: BTreeMap<Class, usize> = BTreeMap::new();
    let mut per_format: BTreeMap<String, usize> = BTreeMap::new();
    let mut known_wrong = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        *per_format.entry(case.format.clone()).or_default() += 1;
        let what = format!(
            "case {i} ({}{}{})",
            case.format,
            case.source
                .as_deref()
                .map(|s| format!(", {s}"))
                .unwrap_or_default(),
            case.note
                .as_deref()
                .map(|n| format!(", {n}"))
                .unwrap_or_default(),
        );
        match (wrong(case), &case.known_wrong) {
            (None, None) => {
                if let Some(d) = diagnose_text(&case.text) {
                    *per_class.entry(d.class).or_default() += 1;
                }
            }
            (Some(why), None) => failures.push(format!("{what}: {why}\n  text: {}", case.text)),
            (None, Some(reason)) => failures.push(format!(
                "{what} is marked known_wrong ({reason}) but is read right: remove the mark"
            )),
            (Some(_), Some(reason)) => known_wrong.push(format!("{what}: {reason}")),
        }
    }
    eprintln!("corpus cases per class: {per_class:?}");
    eprintln!("{}", world_figures(&cases));
    eprintln!("{}", development_figures(&cases));
    eprintln!("corpus cases per format: {per_format:?}");
    eprintln!(
        "{} cases still read wrong, each with its reason:\n{}",
        known_wrong.len(),
        known_wrong.join("\n")
    );
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

/// How many of some cases are read right (fields, cause and number of findings), with the same figures per
/// expected class, per damage group and, for fresh cases, per program: the figures issue 10's closing note and issue
/// 19 item 5 give.
struct Score {
    total: usize,
    right: usize,
    report: String,
}

fn score(title: &str, cases: &[&Case]) -> Score {
    let mut per_class: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut per_damage: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut per_program: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let (mut total, mut right) = (0, 0);
    for case in cases {
        let ok = usize::from(wrong(case).is_none());
        let class = if case.absent {
            "healthy (nothing)".to_string()
        } else {
            match case.expect.get("class").and_then(Value::as_str) {
                Some(c) => c.to_string(),
                None => "no class".to_string(),
            }
        };
        let tally = |t: &mut (usize, usize)| {
            t.0 += 1;
            t.1 += ok;
        };
        tally(per_class.entry(class).or_default());
        for d in &case.damage {
            tally(per_damage.entry(d.clone()).or_default());
        }
        if let Some(program) = &case.program {
            tally(per_program.entry(program.clone()).or_default());
        }
        total += 1;
        right += ok;
    }
    let table = |title: &str, rows: &BTreeMap<String, (usize, usize)>| {
        let mut out = format!("| {title} | cases | read right |\n|---|---:|---:|\n");
        for (name, (n, ok)) in rows {
            out.push_str(&format!("| {name} | {n} | {ok} |\n"));
        }
        out
    };
    let mut report = format!(
        "{title}: {total}, read right: {right}\n\n{}\n{}",
        table("expected class", &per_class),
        table("damage group", &per_damage)
    );
    if !per_program.is_empty() {
        report.push('\n');
        report.push_str(&table("program", &per_program));
    }
    Score {
        total,
        right,
        report,
    }
}

/// The world's cases of issue 10 (fresh cases are scored per part).
fn world_figures(cases: &[Case]) -> String {
    let world: Vec<&Case> = cases
        .iter()
        .filter(|c| c.source.is_some() && c.program.is_none())
        .collect();
    score("world cases", &world).report
}

/// The development part of issue 19's fresh pastes (the fresh cases in the corpus).
fn development_figures(cases: &[Case]) -> String {
    let fresh: Vec<&Case> = cases.iter().filter(|c| c.program.is_some()).collect();
    score("fresh pastes, development part", &fresh).report
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
        if case.known_wrong.is_some() {
            // Checked by the other test: still read wrong, for the reason given.
            continue;
        }
        if case.absent {
            assert!(
                alone.is_empty() && findings.is_empty(),
                "case {i}: {findings:#?}"
            );
            continue;
        }
        let d = diagnose_text(&case.text).expect("checked by the other test");
        let (first, second) = (2, 3 + case_lines);
        assert!(
            findings.iter().any(|f| f.diagnosis == d
                && (first..first + case_lines).contains(&f.first_line)
                && (second..second + case_lines).contains(&f.last_line)),
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

/// Every case is complete: a GitHub source, a project and format, known damage groups, and for a failure the
/// expected cause, finding count and fields; a healthy excerpt expects nothing.
#[test]
fn every_world_case_is_well_formed() {
    let corpus = corpus();
    let world: Vec<&Case> = corpus.iter().filter(|c| c.source.is_some()).collect();
    let mut bad = malformed("corpus.yaml", &world);
    let held_out = held_out();
    bad.extend(malformed(
        "held_out.yaml",
        &held_out.iter().collect::<Vec<_>>(),
    ));
    for c in &held_out {
        if c.known_wrong.is_some() {
            bad.push(format!(
                "held_out.yaml ({}): a held-out case is scored, never marked known_wrong",
                c.source.as_deref().unwrap_or_default()
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// What is wrong with the form of some world cases of one file (none of what they read to).
fn malformed(file: &str, cases: &[&Case]) -> Vec<String> {
    let mut bad = Vec::new();
    let mut texts = BTreeSet::new();
    for (i, c) in cases.iter().enumerate() {
        let source = c.source.as_deref().unwrap_or_default();
        let mut problem = |what: String| bad.push(format!("{file} case {i} ({source}): {what}"));
        if !source.starts_with("https://github.com/") {
            problem("the source is not a GitHub address".into());
        }
        if c.project.as_deref().is_none_or(|p| p.trim().is_empty()) || c.format.trim().is_empty() {
            problem("no project or format".into());
        }
        if let Some(program) = c.program.as_deref()
            && !PROGRAMS.contains(&program)
        {
            problem(format!("unknown program {program:?}"));
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
            if !WORLD_FIELDS.contains(&field.as_str()) {
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
    bad
}

/// The collection covers what issue 10 asks for: at least 60 failures and 10 healthy excerpts that mention
/// "forbidden", "error", "webhook" or "certificate"; every damage group; every Status syntax; every phrasing of
/// group 4 and every Kubernetes 1.33–1.36 behaviour of group 5 that public trackers show.
#[test]
fn the_world_cases_cover_every_group_of_the_issue() {
    let cases: Vec<Case> = corpus()
        .into_iter()
        .filter(|c| c.source.is_some())
        .collect();
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

/// Issue 19 item 5: the fresh pastes stand where the split rule puts them (held out when the hash of the source is
/// odd), no fresh source is one of issue 10's world cases, no source or text is in both parts, and both parts hold
/// failures and healthy texts.
#[test]
fn the_fresh_pastes_are_split_by_the_rule() {
    let corpus = corpus();
    let held_out = held_out();
    let development: Vec<&Case> = corpus.iter().filter(|c| c.program.is_some()).collect();
    let world_sources: BTreeSet<&str> = corpus
        .iter()
        .filter(|c| c.program.is_none())
        .filter_map(|c| c.source.as_deref())
        .collect();
    let mut bad = Vec::new();
    for (part, cases, held) in [
        ("development", development.clone(), false),
        ("held-out", held_out.iter().collect::<Vec<_>>(), true),
    ] {
        for c in &cases {
            let Some(source) = c.source.as_deref() else {
                bad.push(format!("a {part} case has no source: {:?}", c.text));
                continue;
            };
            if c.program.is_none() {
                bad.push(format!("{part} case {source}: no program"));
            }
            if is_held_out(source) != held {
                bad.push(format!(
                    "{part} case {source}: the rule puts it in the {} part",
                    if held { "development" } else { "held-out" }
                ));
            }
            if world_sources.contains(source) {
                bad.push(format!(
                    "{part} case {source}: the source of a world case of issue 10"
                ));
            }
        }
        assert!(
            cases.iter().any(|c| c.absent) && cases.iter().any(|c| !c.absent),
            "the {part} part needs failures and healthy texts"
        );
    }
    let dev_sources: BTreeSet<&str> = development
        .iter()
        .filter_map(|c| c.source.as_deref())
        .collect();
    let corpus_texts: BTreeSet<&str> = corpus.iter().map(|c| c.text.as_str()).collect();
    for c in &held_out {
        let source = c.source.as_deref().unwrap_or_default();
        if dev_sources.contains(source) {
            bad.push(format!("{source} is in both parts"));
        }
        if corpus_texts.contains(c.text.as_str()) {
            bad.push(format!(
                "held-out case {source}: its text is also in the corpus"
            ));
        }
    }
    eprintln!(
        "fresh pastes: {} in the development part, {} held out",
        development.len(),
        held_out.len()
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// Issue 19 item 5: the held-out part is scored, never checked case by case; the test fails only if its score falls
/// below the first one ([`HELD_OUT_FIRST_SCORE`]). Raise the constant (and the CHANGELOG line) when the reader
/// generalises better; never tune the reader to these cases.
#[test]
fn the_held_out_score_does_not_fall() {
    let cases = held_out();
    let score = score(
        "fresh pastes, held-out part",
        &cases.iter().collect::<Vec<_>>(),
    );
    eprintln!("{}", score.report);
    let (first, total) = HELD_OUT_FIRST_SCORE;
    assert_eq!(
        score.total, total,
        "the held-out part changed size: record its first score again only with a new collection"
    );
    assert!(
        score.right >= first,
        "the held-out score fell: {} of {} read right, first score {first} of {total}",
        score.right,
        score.total
    );
}
