//! Recognition compiled from the message catalog (`catalog/go.yaml`, `catalog/clients.yaml`, included at build
//! time): every template the API server and the clients print as a plain sentence with placeholders becomes a
//! pattern that reads the class the catalog gives it and the fields its placeholders hold, and every healthy notice
//! (client-go's client-side throttling, a server's warning) a pattern that says "nothing failed here". One fact, one
//! place: a template added to the catalog is recognised without a line of code here.
//!
//! The hand-written readers (`message`, `status_syntax`, …) run first: they know structure a template cannot say
//! (quotes escaped to any depth, texts cut by a paste, an authorizer's suffix). What they do not recognise, this does.
//! A template whose fixed words are few (`not authorized`) is only taken as the whole message or the last part of
//! an error chain (`…: not authorized`), never inside ordinary prose.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind};
use regex::{Captures, Regex};

use super::message::{Facts, Said, split_resource};
use crate::cause::Admitter;
use crate::class::Class;

// The catalog as static text (`CATALOG`: each file's rows and printers, a record each), compiled from
// `catalog/*.yaml` by build.rs: what recognition reads, without the provenance and without a YAML parser at run
// time.
include!(concat!(env!("OUT_DIR"), "/catalog.rs"));

/// Fixed text at least this long anchors a template anywhere in a line; shorter, the template must be the whole
/// message (or its last `: ` part).
const ANCHOR_ANYWHERE: usize = 16;

/// A pattern compiled where it is first used: a text holds the anchors of a few of the catalog's hundreds of
/// patterns, and compiling them all up front cost more than reading a thousand failures (callgrind: some 220
/// million instructions before the first message was read). A pattern that does not compile panics with the row
/// it comes from (`every_catalog_template_compiles` compiles them all).
type LazyRegex = LazyLock<Regex, Box<dyn FnOnce() -> Regex + Send>>;

/// `pattern`, compiled on first use; `what` names it if it does not compile.
fn lazy_regex(pattern: String, what: String) -> LazyRegex {
    LazyLock::new(Box::new(move || {
        Regex::new(&pattern).unwrap_or_else(|e| panic!("{what}: {e}"))
    }))
}
/// A printer's words around an error are tried where the text holds a fixed phrase of theirs at least this long
/// (`in StatefulSet`): they only fill what the error leaves unsaid, never its class.
const FRAME_ANCHOR: usize = 12;
/// Fixed text shorter than this says too little to recognise anything.
const ANCHOR_MIN: usize = 6;

/// One catalog file.
struct CatalogFile {
    rows: Vec<Row>,
    /// How the clients print an answer or an error (clients.yaml): their words wrap like the rest.
    wrappers: Vec<Printer>,
}

struct Printer {
    template: Option<&'static str>,
    /// What the printer says of the request (`cannot patch …`: the verb `patch`).
    verb: Option<&'static str>,
    /// The answer's code the printer's own words state (kubectl's `The request is invalid` is said of a 422).
    code: Option<u16>,
}

struct Row {
    id: &'static str,
    kind: &'static str,
    class: Option<&'static str>,
    template: &'static str,
    within: Vec<&'static str>,
    /// An authorizer's reason printed after a denial (the row has `after`).
    after: bool,
    /// The answer's code, where the source fixes it.
    code: Option<u16>,
    /// The code is the webhook's or the policy's, not the template's.
    code_varies: bool,
}

/// The records of build.rs's text (`\u{1e}` after each; fields between `\u{1f}`, list items between `\u{1d}`;
/// an absent value is empty).
fn records(text: &'static str) -> impl Iterator<Item = Vec<&'static str>> {
    text.split_terminator('\u{1e}')
        .map(|record| record.split('\u{1f}').collect())
}

fn present(field: &'static str) -> Option<&'static str> {
    (!field.is_empty()).then_some(field)
}

/// The catalog, split once per process.
static FILES: LazyLock<Vec<CatalogFile>> = LazyLock::new(|| {
    CATALOG
        .iter()
        .map(|(rows, printers)| CatalogFile {
            rows: records(rows)
                .map(|f| {
                    let [id, kind, class, template, within, after, code, code_varies] = f[..]
                    else {
                        panic!("build.rs writes 8 fields a catalog row: {f:?}");
                    };
                    Row {
                        id,
                        kind,
                        class: present(class),
                        template,
                        within: within.split_terminator('\u{1d}').collect(),
                        after: !after.is_empty(),
                        code: present(code)
                            .map(|c| c.parse().expect("build.rs writes a row's code as a number")),
                        code_varies: !code_varies.is_empty(),
                    }
                })
                .collect(),
            wrappers: records(printers)
                .map(|f| {
                    let [template, verb, code] = f[..] else {
                        panic!("build.rs writes 3 fields a catalog printer: {f:?}");
                    };
                    Printer {
                        template: present(template),
                        verb: present(verb),
                        code: present(code).map(|c| {
                            c.parse()
                                .expect("build.rs writes a printer's code as a number")
                        }),
                    }
                })
                .collect(),
        })
        .collect()
});

/// What one template reads as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    /// A failure of this class.
    Failure(Class),
    /// A healthy notice: nothing failed.
    Notice,
}

struct Template {
    #[allow(dead_code)] // named in test failures
    id: &'static str,
    reading: Reading,
    re: LazyRegex,
    /// How much fixed text it has: the more, the more specific.
    fixed: usize,
    /// The code the source answers this text with, when it fixes one.
    code: Option<u16>,
}

/// A client's words around an error that name the request or its answer's code (helm's `cannot patch "x" with
/// kind Deployment: …`, Argo CD's `failed to load initial state of resource Kind.group: …`, fabric8's `Exec
/// Failure: HTTP 403`): they fill what the error leaves out.
struct FieldFrame {
    re: LazyRegex,
    verb: Option<String>,
    /// The answer's code its words state.
    code: Option<u16>,
    /// Its longest fixed phrase: the pattern is tried only where the text holds it.
    anchor: String,
}

/// What the catalog says about where a paste may wrap a message: the word pairs its templates (and its clients'
/// printers) hold side by side (`not` then `found`), the words a quoted value follows (`User`, `namespace`,
/// `version`) and the words a number follows (`status code`).
pub(super) struct Words {
    /// For each word, the words that follow it in some template.
    pairs: std::collections::HashMap<&'static str, Vec<&'static str>>,
    /// Words a quoted placeholder follows.
    before_quoted: Vec<&'static str>,
    /// Words a number follows (`status code {code}`).
    before_number: Vec<&'static str>,
    /// Words a value follows (`operation against {gr}`): a line never ends with one.
    before_value: Vec<&'static str>,
    /// Two words a value follows (`of resource {gk}`) that end no template (`the requested resource` does): a line
    /// never ends with them, though it may end with the last alone.
    before_value_pairs: Vec<(&'static str, &'static str)>,
    /// Words that follow a value (`{gr} could not be …`) and begin no template: a line never begins with one.
    after_value: Vec<&'static str>,
    /// Every word that follows a value in some template, whether or not it also begins one.
    follows_value: Vec<&'static str>,
    /// Two words that follow a value and begin no template as a pair (`failed error:`, where `failed to` begins
    /// some): a line beginning with them goes on.
    after_value_pairs: Vec<(&'static str, &'static str)>,
}

/// The word in a token, without the quotes, brackets, escapes and punctuation around it (`\"The` is `The`,
/// `old.\",\"metadata\"` is `old`).
fn core(token: &str) -> &str {
    let t = token.trim_start_matches(|c: char| !c.is_alphanumeric());
    let end = t
        .find(|c: char| !(c.is_alphanumeric() || matches!(c, '-' | '_')))
        .unwrap_or(t.len());
    &t[..end]
}

impl Words {
    /// Whether `a` then `b` are two words of one template (compared without the punctuation around them).
    pub(super) fn pair(&self, a: &str, b: &str) -> bool {
        let (a, b) = (core(a), core(b));
        !a.is_empty() && !b.is_empty() && self.pairs.get(a).is_some_and(|next| next.contains(&b))
    }

    /// Whether a quoted value follows `word` in some template.
    pub(super) fn before_quoted(&self, word: &str) -> bool {
        self.before_quoted.contains(&core(word))
    }

    /// Whether a number follows `word` in some template.
    pub(super) fn before_number(&self, word: &str) -> bool {
        self.before_number.contains(&core(word))
    }

    /// Whether a value follows `word` in some template (so a line ending with it goes on).
    pub(super) fn before_value(&self, word: &str) -> bool {
        self.before_value.contains(&word)
    }

    /// Whether a value follows the two words `a b` in some template and no template ends with them.
    pub(super) fn before_value_pair(&self, a: &str, b: &str) -> bool {
        self.before_value_pairs.binary_search(&(a, b)).is_ok()
    }

    /// Whether `word` follows a value in some template and begins none (so a line beginning with it goes on).
    pub(super) fn after_value(&self, word: &str) -> bool {
        self.after_value.contains(&word)
    }

    /// Whether `a` then `b` follow a value in some template and begin none (so a line beginning with them goes on).
    pub(super) fn after_value_pair(&self, a: &str, b: &str) -> bool {
        self.after_value_pairs.binary_search(&(a, b)).is_ok()
    }

    /// Whether `word` follows a value in some template (a line beginning with it goes on after a line that ends
    /// with a value: a resource, a quoted name).
    pub(super) fn follows_value(&self, word: &str) -> bool {
        self.follows_value.contains(&word)
    }
}

static WORDS: LazyLock<Words> = LazyLock::new(|| {
    let mut pairs: std::collections::HashMap<&'static str, Vec<&'static str>> = Default::default();
    let mut before_quoted = Vec::new();
    let mut before_number = Vec::new();
    let mut before_value = Vec::new();
    let mut before_value_pairs: Vec<(&'static str, &'static str)> = Vec::new();
    let mut after_value = Vec::new();
    let mut first_words = Vec::new();
    let mut first_pairs: Vec<(String, String)> = Vec::new();
    let mut after_value_pairs: Vec<(&'static str, &'static str)> = Vec::new();
    let mut last_words = Vec::new();
    let mut last_pairs: Vec<(String, String)> = Vec::new();
    for file in FILES.iter() {
        let templates = file
            .rows
            .iter()
            .map(|r| r.template)
            .chain(file.wrappers.iter().filter_map(|w| w.template));
        for template in templates {
            let mut opening = template.split_whitespace();
            if let Some(first) = opening.next() {
                first_words.push(first.to_string());
                if let Some(second) = opening.next() {
                    first_pairs.push((first.to_string(), second.to_string()));
                }
            }
            if let Some(last) = template.split_whitespace().last() {
                last_words.push(core(last).to_string());
            }
            let mut tail = template.split_whitespace().rev();
            if let (Some(b), Some(a)) = (tail.next(), tail.next()) {
                last_pairs.push((core(a).to_string(), core(b).to_string()));
            }
            let pieces = pieces(template);
            let count = pieces.len();
            for (i, (fixed, next)) in pieces.into_iter().enumerate() {
                // Built once per process: the words live as long as it does.
                let fixed: &'static str = Box::leak(fixed.into_boxed_str());
                let words: Vec<&'static str> = fixed
                    .split_whitespace()
                    .map(core)
                    .filter(|w| !w.is_empty())
                    .collect();
                for pair in words.windows(2) {
                    pairs.entry(pair[0]).or_default().push(pair[1]);
                }
                let spaced = fixed.trim_end_matches(['"', '\'']).ends_with(' ');
                match (next, words.last()) {
                    (Next::Quoted, Some(last)) if spaced => before_quoted.push(*last),
                    (Next::Number, Some(last)) if spaced => before_number.push(*last),
                    _ => {}
                }
                // Plain words around a value (not punctuation: `error:` may end a line of its own).
                let plain = |w: &str| w.len() > 1 && w.chars().all(|c| c.is_ascii_alphabetic());
                // A quote or bracket around the value is the value's (`'{policy}' with binding`, fabric8's
                // `[{kind}]  with name`).
                let unquoted_end = fixed.trim_end_matches(['"', '\'', '[']);
                let last_raw = unquoted_end.split_whitespace().last().unwrap_or("");
                if i + 1 < count && unquoted_end.ends_with(' ') && plain(last_raw) {
                    before_value.push(last_raw);
                    let mut tail = unquoted_end.split_whitespace().rev().skip(1);
                    if let Some(a) = tail.next().filter(|a| plain(a)) {
                        before_value_pairs.push((a, last_raw));
                    }
                }
                // (And a bracket closed around it: client-go's `({err:q}) has prevented`.)
                let unquoted_start = fixed.trim_start_matches(['"', '\'', ']', ')']);
                let first_raw = unquoted_start.split_whitespace().next().unwrap_or("");
                // A word may be glued to the next by the printer's punctuation (fabric8's `failed.Reason:`).
                let glued = |w: &str| {
                    w.len() > 1
                        && w.starts_with(|c: char| c.is_ascii_alphabetic())
                        && w.chars()
                            .all(|c| c.is_ascii_alphabetic() || matches!(c, '.' | ':'))
                };
                if i > 0
                    && unquoted_start.starts_with(' ')
                    && (plain(first_raw) || glued(first_raw))
                {
                    after_value.push(first_raw);
                    let mut two = unquoted_start.split_whitespace();
                    if let (Some(a), Some(b)) = (two.next(), two.next()) {
                        after_value_pairs.push((a, b));
                    }
                }
            }
        }
    }
    for next in pairs.values_mut() {
        next.sort_unstable();
        next.dedup();
    }
    after_value_pairs.retain(|(a, b)| !first_pairs.iter().any(|(x, y)| x == a && y == b));
    after_value_pairs.sort_unstable();
    after_value_pairs.dedup();
    first_words.sort_unstable();
    let mut follows_value = after_value.clone();
    after_value.retain(|w| first_words.binary_search_by(|f| f.as_str().cmp(w)).is_err());
    // A word that ends some message may end a line.
    last_words.sort_unstable();
    before_value.retain(|w| last_words.binary_search_by(|f| f.as_str().cmp(w)).is_err());
    last_pairs.sort_unstable();
    before_value_pairs.retain(|(a, b)| {
        last_pairs
            .binary_search_by(|(x, y)| (x.as_str(), y.as_str()).cmp(&(*a, *b)))
            .is_err()
    });
    before_value_pairs.sort_unstable();
    before_value_pairs.dedup();
    for list in [
        &mut before_quoted,
        &mut before_number,
        &mut before_value,
        &mut after_value,
        &mut follows_value,
    ] {
        list.sort_unstable();
        list.dedup();
    }
    Words {
        pairs,
        before_quoted,
        before_number,
        before_value,
        before_value_pairs,
        after_value,
        follows_value,
        after_value_pairs,
    }
});

/// What follows a fixed piece of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// A quoted value (`{x:q}`, `"{x}"`, `'{x}'`).
    Quoted,
    /// A number (`{code}`, `{count}`, `{rv}`).
    Number,
    /// Another value, or the end.
    Other,
}

/// A template's parts: fixed text (`{{`/`}}` are braces) and placeholders (`name` or `name:modifier`).
enum Token<'a> {
    Fixed(String),
    Slot(&'a str),
}

/// A template's tokens, and whether it was read to its end (a `{` never closed ends it).
fn tokens(template: &str) -> (Vec<Token<'_>>, bool) {
    let mut out = Vec::new();
    let mut fixed = String::new();
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if let Some(r) = rest.strip_prefix("{{") {
            fixed.push('{');
            rest = r;
        } else if let Some(r) = rest.strip_prefix("}}") {
            fixed.push('}');
            rest = r;
        } else if let Some(r) = rest.strip_prefix('{') {
            let Some(end) = r.find('}') else {
                out.push(Token::Fixed(fixed));
                return (out, false);
            };
            if !fixed.is_empty() {
                out.push(Token::Fixed(std::mem::take(&mut fixed)));
            }
            out.push(Token::Slot(&r[..end]));
            rest = &r[end + 1..];
        } else {
            fixed.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    if !fixed.is_empty() {
        out.push(Token::Fixed(fixed));
    }
    (out, true)
}

/// A template's fixed pieces, each with what follows it.
fn pieces(template: &str) -> Vec<(String, Next)> {
    let mut out = Vec::new();
    let mut fixed = String::new();
    for token in tokens(template).0 {
        match token {
            Token::Fixed(t) => fixed.push_str(&t),
            Token::Slot(name) => {
                let next = if name.ends_with(":q") || fixed.ends_with(['"', '\'']) {
                    Next::Quoted
                } else if matches!(name, "code" | "count" | "rv") {
                    Next::Number
                } else {
                    Next::Other
                };
                out.push((std::mem::take(&mut fixed), next));
            }
        }
    }
    out.push((fixed, Next::Other));
    out
}

/// The catalog's words (for the normaliser's joins).
pub(super) fn words() -> &'static Words {
    &WORDS
}

struct Compiled {
    /// The longest fixed piece of each template, in `templates` order.
    anchors: AhoCorasick,
    templates: Vec<Template>,
    /// The frames whose class the text inside them never changes (`Internal error occurred: …` is the server's
    /// failure whatever it quotes), as prefixes.
    closed_frames: Vec<(LazyRegex, Class)>,
    /// Their longest fixed phrases (pattern i = frame i): a frame is tried only where the text holds its phrase.
    closed_anchors: AhoCorasick,
    /// The printers that name the request, and their anchors (one automaton, pattern i = frame i).
    field_frames: Vec<FieldFrame>,
    field_anchors: AhoCorasick,
}

static COMPILED: LazyLock<Compiled> = LazyLock::new(compile);

/// A quote, escaped to any depth (as in `message`).
const Q: &str = r#"\\*""#;

/// The pattern of one placeholder: what its values look like.
fn placeholder(name: &str, quoted: bool, last: bool, seen: &mut Vec<String>) -> String {
    let body = match name {
        "gr" | "resource" | "res_sub" => r"[a-z0-9][a-z0-9.\-]*(?:/[a-z0-9]+)?",
        "gk" | "kind" => r"[A-Za-z][A-Za-z0-9]*(?:\.[a-z0-9.\-]+)?",
        "name" | "namespace" | "node" | "quota" | "policy" | "binding" | "webhook" => {
            if quoted {
                r#"[^"\\]*"#
            } else {
                r"[A-Za-z0-9][A-Za-z0-9._:\-]*"
            }
        }
        "user" => {
            if quoted {
                r#"[^"\\]*"#
            } else {
                r"[^\s,)]+"
            }
        }
        // A verb may be title-cased by its printer (the StatefulSet controller's `Create Pod …`).
        "verb" => r"[A-Za-z]+",
        "http_verb" | "subresource" => r"[a-z]+",
        "group" | "version" => r"[a-z0-9.\-]*",
        "path" => r"/[^\s\x22\\]*",
        // A field's path (`spec.containers[0].image`, `.spec.replicas`): a word alone before `: ` is not one.
        "field_path" => r#"[^\s"':]*[.\[][^\s"':]*"#,
        "type" => r"\*[a-z0-9]+\.[A-Z][A-Za-z0-9]*",
        // apimachinery's `GroupVersionResource.String()`: `apps/v1, Resource=deployments`, `/v1, Resource=pods`.
        "gvr" => r"[a-z0-9.\-]*/v[0-9a-z]+,\s+Resource=[a-z0-9\-]+",
        "code" | "count" | "rv" => r"\d+",
        // A slot holds any text, quotes included (escaped inside a quoted slot).
        "err" if last && !quoted => ".*",
        "err" => ".*?",
        _ if last => ".*",
        _ if quoted => r#"[^"\\]*"#,
        _ => ".*?",
    };
    let capture = matches!(
        name,
        "gr" | "gk"
            | "res_sub"
            | "resource"
            | "subresource"
            | "group"
            | "version"
            | "kind"
            | "name"
            | "namespace"
            | "user"
            | "verb"
            | "path"
            | "type"
            | "gvr"
            | "code"
    ) && !seen.iter().any(|s| s == name);
    let inner = if capture {
        seen.push(name.to_string());
        format!("(?P<{name}>{body})")
    } else {
        format!("(?:{body})")
    };
    if quoted {
        format!("{Q}{inner}{Q}")
    } else if name == "gr" {
        // A markdown link whose target a paste lost keeps its text in brackets (`on [pods.example.com] "x"`).
        format!(r"\[?{inner}\]?")
    } else {
        inner
    }
}

/// A template as a pattern, with its fixed pieces; `None` when it has too little fixed text to say anything.
fn pattern(template: &str) -> Option<(String, String, usize)> {
    let template = template.trim();
    let mut out = String::new();
    let mut fixed = String::new();
    let mut longest = String::new();
    let mut total = 0;
    let mut seen = Vec::new();
    let flush = |fixed: &mut String, out: &mut String, longest: &mut String, total: &mut usize| {
        if fixed.is_empty() {
            return;
        }
        *total += fixed.trim().len();
        if fixed.trim().len() > longest.len() {
            *longest = fixed.trim().to_string();
        }
        for (i, word) in fixed.split(char::is_whitespace).enumerate() {
            if i > 0 && !out.ends_with(r"\s+") {
                // A paste may wrap or pad at any space (and collapse a printer's double space).
                out.push_str(r"\s+");
            }
            for (j, piece) in word.split('"').enumerate() {
                if j > 0 {
                    out.push_str(Q);
                }
                out.push_str(&regex::escape(piece));
            }
        }
        fixed.clear();
    };
    let (tokens, complete) = tokens(template);
    if !complete {
        return None;
    }
    for (i, token) in tokens.iter().enumerate() {
        match token {
            Token::Fixed(t) => fixed.push_str(t),
            Token::Slot(slot) => {
                let (name, modifier) = slot.split_once(':').unwrap_or((slot, ""));
                flush(&mut fixed, &mut out, &mut longest, &mut total);
                let last = tokens[i + 1..]
                    .iter()
                    .all(|t| matches!(t, Token::Fixed(f) if f.trim().is_empty()));
                out.push_str(&placeholder(name, modifier == "q", last, &mut seen));
            }
        }
    }
    flush(&mut fixed, &mut out, &mut longest, &mut total);
    (longest.len() >= ANCHOR_MIN).then_some((out, longest, total))
}

fn reading_of(row: &Row) -> Option<Reading> {
    if row.kind == "notice" {
        return Some(Reading::Notice);
    }
    if !matches!(row.kind, "status" | "frame" | "inner" | "text" | "plain") {
        return None;
    }
    let class: Class = row.class?.parse().ok()?;
    // Transport failures (and a client's own time-outs) are read by their words (`transport`), which are broader
    // than any template.
    let transport = matches!(class, Class::Connection | Class::Tls)
        || (row.kind == "text" && class == Class::Timeout);
    (!transport).then_some(Reading::Failure(class))
}

/// The template a row is recognised by: an inner row printed only in one frame that has no words of its own (a
/// field error's type in `{field_path}: {err}`) is that frame around it, since its words alone say too little: a
/// bare `Forbidden` after a `: ` is an HTTP reason phrase (`Post "…": Forbidden`), a field's `Forbidden` follows
/// the field's path (`spec.x: Forbidden`).
fn in_wordless_frame(row: &Row, rows: &[&Row]) -> String {
    let [frame] = row.within.as_slice() else {
        return row.template.to_string();
    };
    let wordless = |t: &str| {
        tokens(t).0.iter().all(|token| match token {
            Token::Fixed(f) => !f.chars().any(char::is_alphanumeric),
            Token::Slot(_) => true,
        })
    };
    match rows.iter().find(|r| r.id == *frame) {
        Some(f) if row.kind == "inner" && f.template.contains("{err}") && wordless(f.template) => {
            f.template.replacen("{err}", row.template, 1)
        }
        _ => row.template.to_string(),
    }
}

/// Where a message can start and end: the line's ends, a `: ` of an error chain, a quote or a bracket around it,
/// or (before it) the answer's status line a client printed first (`…: 422 Unprocessable Entity <message>`).
const BEFORE: &str =
    r#"(?:^|:\s|[\"'(\[{=]\s*|\]\s+|\s[-|>]\s+|\b[45]\d\d(?:\s[A-Z][A-Za-z']*)+\s)"#;
const AFTER: &str = r#"(?:\s*$|\\*["',;)}\]]|\.(?:\s|$|\\*["'}\])])|\s+\(|\s+[|│])"#;

fn compile() -> Compiled {
    let mut templates = Vec::new();
    let mut anchors = Vec::new();
    let files: &'static [CatalogFile] = &FILES;
    let rows: Vec<&Row> = files.iter().flat_map(|f| &f.rows).collect();
    let closed_frames = rows
        .iter()
        .filter(|r| {
            matches!(r.kind, "frame" | "status" | "inner")
                && (r.template.contains("{err}") || r.template.contains("{err:q}"))
        })
        .filter_map(|frame| {
            let class: Class = frame.class?.parse().ok()?;
            // Closed: every row printed in it has its class (or none is).
            let closed = rows
                .iter()
                .filter(|r| r.within.contains(&frame.id))
                .all(|k| k.class == frame.class);
            let (body, anchor, _) = pattern(frame.template)?;
            (closed && class != Class::Unknown && anchor.len() >= 8).then(|| {
                (
                    lazy_regex(
                        format!("{BEFORE}{body}"),
                        format!("catalog frame {}", frame.id),
                    ),
                    class,
                    anchor,
                )
            })
        })
        .collect::<Vec<_>>();
    let closed_anchors = AhoCorasick::new(closed_frames.iter().map(|(_, _, a)| a))
        .expect("the frames' anchors are valid patterns");
    let closed_frames = closed_frames
        .into_iter()
        .map(|(re, class, _)| (re, class))
        .collect();
    for file in files {
        for row in &file.rows {
            // An authorizer's reason after a denial is read with the denial.
            if row.after {
                continue;
            }
            let Some(reading) = reading_of(row) else {
                continue;
            };
            let template = in_wordless_frame(row, &rows);
            let Some((body, anchor, fixed)) = pattern(&template) else {
                continue;
            };
            let re = if anchor.len() >= ANCHOR_ANYWHERE {
                body
            } else {
                format!("{BEFORE}{body}{AFTER}")
            };
            let re = lazy_regex(re, format!("catalog row {}", row.id));
            // The longest word of that piece finds the template: a paste may wrap or pad at any space.
            let word = anchor
                .split(|c: char| c.is_whitespace() || c == '"')
                .max_by_key(|w| w.len())
                .unwrap_or(&anchor)
                .to_string();
            anchors.push(word);
            templates.push(Template {
                id: row.id,
                reading,
                re,
                fixed,
                code: row.code.filter(|_| !row.code_varies),
            });
        }
    }
    let field_frames = files
        .iter()
        .flat_map(|f| &f.wrappers)
        .filter_map(|w| {
            let template = w.template?;
            let verb = w.verb.map(str::to_string);
            let names_request = ["{name", "{kind", "{gk", "{gr", "{code"]
                .iter()
                .any(|p| template.contains(p));
            if verb.is_none() && w.code.is_none() && !names_request {
                return None;
            }
            // The printer's own words, up to the error it prints, and only to the word that ends the last value
            // they name when they name one: what follows it may be cut or joined to the next line (fabric8's `… in
            // namespace: [ns]  failed.` then `Reason: …` or the cause's stack trace).
            let prefix = template.split("{message").next()?;
            let prefix = match prefix.rfind('{') {
                Some(open) if names_request => prefix[open..].find('}').map_or(prefix, |close| {
                    let after = open + close + 1;
                    let word_end = prefix[after..]
                        .find(|c: char| c.is_whitespace() || c == '{')
                        .map_or(prefix.len(), |i| after + i);
                    &prefix[..word_end]
                }),
                _ => prefix,
            };
            let (body, anchor, _) = pattern(prefix)?;
            (anchor.len() >= FRAME_ANCHOR).then(|| FieldFrame {
                re: lazy_regex(body, "a catalog printer".to_string()),
                verb,
                code: w.code,
                anchor,
            })
        })
        .collect::<Vec<_>>();
    let field_anchors = AhoCorasick::new(field_frames.iter().map(|f| &f.anchor))
        .expect("the printers' anchors are valid patterns");
    Compiled {
        // A DFA: every message is searched for all of them at once, and a DFA reads a byte in a few instructions
        // where the contiguous NFA chosen for this many patterns takes some thirty.
        anchors: AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::DFA))
            .build(&anchors)
            .expect("the catalog's anchors are valid patterns"),
        templates,
        closed_frames,
        closed_anchors,
        field_frames,
        field_anchors,
    }
}

/// The templates whose anchor a text holds, each once, in the order their anchors appear: one overlapping search
/// of the text, shared by the readings of one message (the notice, the best template, the code a template fixes).
pub(super) struct Anchored(Vec<usize>);

impl Anchored {
    pub(super) fn of(text: &str) -> Anchored {
        let compiled: &'static Compiled = &COMPILED;
        let mut found: Vec<usize> = Vec::new();
        for m in compiled.anchors.find_overlapping_iter(text) {
            let i = m.pattern().as_usize();
            if !found.contains(&i) {
                found.push(i);
            }
        }
        Anchored(found)
    }

    fn templates(&self) -> impl Iterator<Item = &'static Template> + '_ {
        let compiled: &'static Compiled = &COMPILED;
        self.0.iter().map(|&i| &compiled.templates[i])
    }
}

/// The code the source answers the text with, when the most specific template it matches fixes one (client-go's
/// `the server has received too many requests …` is its 429; a bare `Unauthorized` is the authentication filter's
/// 401; `404 page not found` is the 404 of a path nothing serves). `anchored`: the text's [`Anchored`].
pub(super) fn implied_code(text: &str, anchored: &Anchored) -> Option<u16> {
    // The candidates whose anchor the text holds, most specific first; the first that matches decides (a match
    // test, not captures: nothing but the code is wanted).
    let mut candidates: Vec<&Template> = anchored
        .templates()
        .filter(|t| t.reading != Reading::Notice)
        .collect();
    candidates.sort_by_key(|t| std::cmp::Reverse(t.fixed));
    candidates.into_iter().find(|t| t.re.is_match(text))?.code
}

/// What a client's words around the error say of the request (the verb, and the object they name), into what the
/// error left unsaid.
pub(super) fn frame_fields(text: &str, f: &mut Facts) {
    let compiled: &'static Compiled = &COMPILED;
    let mut tried = Vec::new();
    for m in compiled.field_anchors.find_overlapping_iter(text) {
        let i = m.pattern().as_usize();
        if tried.contains(&i) {
            continue;
        }
        tried.push(i);
        let frame = &compiled.field_frames[i];
        if let Some(c) = frame.re.captures(text) {
            fields(&c, f);
            // The printer states the answer's code (fabric8's `Exec Failure: HTTP 403`): it beats any the words
            // inside imply.
            if let Some(code) = c.name("code").and_then(|m| m.as_str().parse().ok()) {
                f.code = Some(code);
            }
            // Its words are said of one code only (kubectl's `The request is invalid`: a 422).
            if let Some(code) = frame.code {
                f.code.get_or_insert(code);
            }
            if f.verb.is_none() {
                f.verb.clone_from(&frame.verb);
            }
        }
    }
}

/// Whether a catalog notice says the text is healthy (client-go waited for its own rate limiter, a server's
/// warning): it is, whatever failure words it quotes. `anchored`: the text's [`Anchored`].
pub(super) fn is_notice(text: &str, anchored: &Anchored) -> bool {
    best(text, anchored, |r| r == Reading::Notice).is_some()
}

/// The class of the outermost closed frame the text is printed in, if any (`Internal error occurred: …`), with the
/// fields its own placeholders hold.
pub(super) fn closed_frame(text: &str) -> Option<(Class, Facts)> {
    let compiled: &'static Compiled = &COMPILED;
    let mut tried = Vec::new();
    let (class, c) = compiled
        .closed_anchors
        .find_overlapping_iter(text)
        .map(|m| m.pattern().as_usize())
        .filter(|i| {
            let new = !tried.contains(i);
            tried.push(*i);
            new
        })
        .filter_map(|i| {
            let (re, class) = &compiled.closed_frames[i];
            re.captures(text).map(|c| (*class, c))
        })
        .min_by_key(|(_, c)| c.get(0).map_or(usize::MAX, |m| m.start()))?;
    let mut f = Facts::default();
    fields(&c, &mut f);
    Some((class, f))
}

/// The most specific template that matches `text` (whose [`Anchored`] is `anchored`) and `wanted`.
fn best<'t>(
    text: &'t str,
    anchored: &Anchored,
    wanted: impl Fn(Reading) -> bool,
) -> Option<(&'static Template, Captures<'t>)> {
    let mut found: Option<(&Template, Captures<'_>)> = None;
    for t in anchored.templates() {
        if !wanted(t.reading) || found.as_ref().is_some_and(|(b, _)| b.fixed >= t.fixed) {
            continue;
        }
        if let Some(c) = t.re.captures(text) {
            found = Some((t, c));
        }
    }
    found
}

/// Reads what the hand-written readers did not: the catalog's class and the fields its placeholders hold.
/// `anchored`: the text's [`Anchored`].
pub(super) fn read(text: &str, anchored: &Anchored, f: &mut Facts) {
    let Some((t, c)) = best(text, anchored, |r| r != Reading::Notice) else {
        return;
    };
    let Reading::Failure(class) = t.reading else {
        return;
    };
    let get = |name: &str| {
        c.name(name)
            .map(|m| m.as_str().to_string())
            .filter(|s| !s.is_empty())
    };
    if f.code.is_none() {
        f.code = get("code").and_then(|c| c.parse().ok());
    }
    f.said = Some(match class {
        Class::Forbidden => Said::Denied,
        Class::AdmissionDenied => {
            f.admission = Some(Admitter::Other);
            f.detail = Some(text.trim().to_string());
            Said::Admission
        }
        Class::Unauthorized => Said::NotLoggedIn,
        Class::ResourceNotFound => Said::NotServed,
        Class::ObjectNotFound => Said::ObjectMissing,
        Class::InvalidRequest => Said::BadRequest,
        Class::InvalidObject => Said::BadObject,
        Class::Conflict => Said::Conflict,
        Class::AlreadyExists => Said::Exists,
        Class::Expired => Said::TooOld,
        Class::Throttled => Said::TooMany,
        Class::ServerError => Said::ServerFailed,
        Class::Timeout => Said::ServerTimeout,
        Class::Connection | Class::Tls | Class::Unknown => return,
    });
    fields(&c, f);
}

/// The request's fields a template's placeholders captured.
fn fields(c: &Captures<'_>, f: &mut Facts) {
    let get = |name: &str| {
        c.name(name)
            .map(|m| m.as_str().to_string())
            .filter(|s| !s.is_empty())
    };
    let set = |slot: &mut Option<String>, v: Option<String>| {
        if slot.is_none() {
            *slot = v;
        }
    };
    for name in ["gr", "res_sub", "resource"] {
        if let Some(v) = get(name) {
            let (res, group) = split_resource(&v);
            let (res, sub) = match res.split_once('/') {
                Some((r, s)) => (r.to_string(), Some(s.to_string())),
                None => (res, None),
            };
            set(&mut f.resource, Some(res));
            set(&mut f.subresource, sub);
            if name == "gr" {
                set(&mut f.group, Some(group.unwrap_or_default()));
            } else {
                set(&mut f.group, group);
            }
        }
    }
    if let Some(gk) = get("gk") {
        let (kind, group) = split_resource(&gk);
        set(&mut f.kind, Some(kind));
        set(&mut f.group, Some(group.unwrap_or_default()));
    }
    if let Some(ty) = get("type").and_then(|t| t.strip_prefix('*').map(str::to_string))
        && let Some((version, kind)) = ty.split_once('.')
    {
        set(&mut f.version, Some(version.to_string()));
        set(&mut f.kind, Some(kind.to_string()));
    }
    if let Some(gvr) = get("gvr")
        && let Some((gv, resource)) = gvr.split_once("Resource=")
        && let Some((group, version)) = gv.trim_end().trim_end_matches(',').split_once('/')
    {
        set(&mut f.resource, Some(resource.to_string()));
        set(&mut f.group, Some(group.to_string()));
        set(&mut f.version, Some(version.to_string()));
    }
    set(&mut f.kind, get("kind"));
    set(&mut f.subresource, get("subresource"));
    set(&mut f.group, get("group"));
    set(&mut f.version, get("version"));
    set(&mut f.name, get("name"));
    set(&mut f.namespace, get("namespace"));
    set(&mut f.user, get("user"));
    set(&mut f.verb, get("verb").map(|v| v.to_ascii_lowercase()));
    set(&mut f.path, get("path"));
}

/// The class a reading of the hand-written patterns gives.
pub(super) fn class_of(said: Said) -> Option<Class> {
    Some(match said {
        Said::Denied | Said::DeniedPath | Said::Escalation => Class::Forbidden,
        Said::Admission => Class::AdmissionDenied,
        Said::ObjectMissing => Class::ObjectNotFound,
        Said::NotServed => Class::ResourceNotFound,
        Said::Exists => Class::AlreadyExists,
        Said::Conflict | Said::PatchFailed => Class::Conflict,
        Said::BadOptions | Said::BadRequest => Class::InvalidRequest,
        Said::BadObject => Class::InvalidObject,
        Said::TooOld => Class::Expired,
        Said::TooMany | Said::Reinitializing => Class::Throttled,
        Said::ServerTimeout => Class::Timeout,
        Said::ServerFailed | Said::WebhookUnreachable | Said::LeaderChanged | Said::StorageRead => {
            Class::ServerError
        }
        Said::NotLoggedIn => Class::Unauthorized,
    })
}

/// The reading a closed frame's class gives, for a text whose words inside the frame said something else.
pub(super) fn said_of(class: Class) -> Option<Said> {
    Some(match class {
        Class::ServerError => Said::ServerFailed,
        Class::Timeout => Said::ServerTimeout,
        Class::Throttled => Said::TooMany,
        Class::InvalidRequest => Said::BadRequest,
        Class::InvalidObject => Said::BadObject,
        Class::Conflict => Said::Conflict,
        Class::Expired => Said::TooOld,
        Class::Unauthorized => Said::NotLoggedIn,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_template_compiles() {
        assert!(
            COMPILED.templates.len() > 100,
            "{}",
            COMPILED.templates.len()
        );
        // Each is compiled where it is first used: here, all of them.
        let patterns = COMPILED
            .templates
            .iter()
            .map(|t| &t.re)
            .chain(COMPILED.closed_frames.iter().map(|(re, _)| re))
            .chain(COMPILED.field_frames.iter().map(|f| &f.re));
        for re in patterns {
            LazyLock::force(re);
        }
    }

    /// [`read`] with the text's own [`Anchored`].
    fn read_text(text: &str, f: &mut Facts) {
        read(text, &Anchored::of(text), f);
    }

    #[test]
    fn a_template_reads_its_class_and_fields() {
        let mut f = Facts::default();
        read_text(
            r#"create is not supported on resources of kind "widgets.example.com""#,
            &mut f,
        );
        assert_eq!(f.said, Some(Said::BadRequest));
        assert_eq!(
            (f.verb.as_deref(), f.resource.as_deref()),
            (Some("create"), Some("widgets"))
        );
        let notice = r#"I0101 request.go:697] Waited for 1.18s due to client-side throttling, not priority and fairness, request: GET:https://10.96.0.1:443/api/v1/pods"#;
        assert!(is_notice(notice, &Anchored::of(notice)));
        assert_eq!(
            closed_frame("Internal error occurred: pods \"x\" not found").map(|(c, _)| c),
            Some(Class::ServerError)
        );
        assert_eq!(
            closed_frame("pods \"x\" is forbidden: y").map(|(c, _)| c),
            None
        );
    }

    #[test]
    fn a_short_template_is_only_a_whole_message() {
        let mut f = Facts::default();
        read_text(
            "the user is not authorized to see this page, come back later",
            &mut f,
        );
        assert_eq!(f.said, None);
        read_text("list pods: not authorized", &mut f);
        assert_eq!(f.said, Some(Said::NotLoggedIn));
    }

    #[test]
    fn a_field_error_s_type_follows_a_field_path_and_a_bare_reason_phrase_is_the_answer_s() {
        let said = |text: &str| {
            let mut f = Facts::default();
            read_text(text, &mut f);
            f.said
        };
        assert_eq!(
            said("spec.template.spec.containers[0].image: Forbidden"),
            Some(Said::BadObject)
        );
        assert_eq!(
            said(
                r#"Post "https://10.0.0.1/apis/apps/v1/namespaces/default/deployments": Forbidden"#
            ),
            Some(Said::Denied)
        );
        assert_eq!(
            said("failed to create deployment: Forbidden"),
            Some(Said::Denied)
        );
    }
}
