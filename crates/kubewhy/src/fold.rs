//! One failure, counted once: folds the diagnoses read from a text, message by message, into distinct
//! [`Finding`]s with a count of occurrences and their first and last line.
//!
//! Two readings are one failure when they say the same thing ([`Key`]: class, answer, subject, request, cause),
//! or when they are *layers* of one failure: logged a few lines apart by two parts of a program (kube_runtime at
//! `DEBUG` and the program at `ERROR`, a reflector's `W` and `E` lines, a Python traceback under the operator's
//! line), each adding what the other left out. Layers agree on everything both name; the one that names more is
//! kept, completed from the other. A hyper `client error (Connect)` that hides its cause is a layer of the TLS or
//! connection failure logged beside it.
//!
//! An occurrence is a run of readings of one failure where no text repeats: the same failure logged by two
//! layers is seen once; when a text comes again (digits aside: time stamps, resource versions), the failure
//! happened again.

use std::collections::{HashMap, VecDeque};

use crate::cause::{Cause, ConnectionFailure};
use crate::diagnosis::{Class, Diagnosis};
use crate::url::merge_missing;

/// How many lines apart two layers of one failure may be logged (a Python traceback sits between them).
pub(crate) const NEAR_LINES: u64 = 16;
/// How many of the most recently seen findings a reading is compared with as a possible layer.
const RECENT: usize = 8;
/// How much of a line a finding keeps to show (characters).
pub const EXCERPT_CHARS: usize = 400;

/// One distinct failure found in the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The diagnosis (the reading that said most, completed from its other layers).
    pub diagnosis: Diagnosis,
    /// Where it was read (`controller.log`, `<stdin>`).
    pub source: String,
    /// How many times it occurred (one failure logged by two layers occurs once).
    pub count: u64,
    /// The first line (1-based) of the message that first held it (a message may span several lines).
    pub first_line: u64,
    /// The first line of the message that last held it.
    pub last_line: u64,
    /// The message that first held it, cleaned of paste damage, for display (at most [`EXCERPT_CHARS`]
    /// characters).
    pub excerpt: String,
}

/// What makes two readings the same failure: the class, the answer, the subject and request (without the URL,
/// whose query changes on every retry) and the cause without its free text (which may run on into the rest of a
/// line); for unrecognised failures also the message with digits folded (timestamps, resource versions).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    source: String,
    class: Class,
    code: Option<u16>,
    reason: Option<String>,
    user: Option<String>,
    fields: [Option<String>; 9],
    cause: Cause,
    text: Option<String>,
}

impl Key {
    fn of(source: &str, d: &Diagnosis) -> Key {
        let r = &d.request;
        Key {
            source: source.to_string(),
            class: d.class,
            code: d.code,
            reason: d.reason.clone(),
            user: d.user.clone(),
            fields: [
                r.verb.clone(),
                r.group.clone(),
                r.version.clone(),
                r.resource.clone(),
                r.subresource.clone(),
                r.kind.clone(),
                r.namespace.clone(),
                r.name.clone(),
                r.path.clone(),
            ],
            cause: d.cause.without_text(),
            text: (d.class == Class::Unknown).then(|| fold_digits(&d.message)),
        }
    }
}

/// What makes two diagnoses the same failure wherever they were read (a workload's pods fold one failure into one
/// finding): [`Key`] without the source.
#[cfg(feature = "live")]
pub(crate) fn failure_key(d: &Diagnosis) -> Key {
    Key::of("", d)
}

fn fold_digits(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(512));
    let mut last_digit = false;
    for c in s.chars().take(512) {
        if c.is_ascii_digit() {
            if !last_digit {
                out.push('#');
            }
            last_digit = true;
        } else {
            out.push(c);
            last_digit = false;
        }
    }
    out
}

/// A message's text with digits folded, hashed (FNV-1a): what tells a repeat from another layer. A collision
/// could only count two layers' texts as one.
fn form_of(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut last_digit = false;
    for &b in text.trim().as_bytes() {
        let b = if b.is_ascii_digit() {
            if last_digit {
                continue;
            }
            last_digit = true;
            b'#'
        } else {
            last_digit = false;
            b
        };
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Folds readings into findings, in order of first appearance.
#[derive(Debug, Default)]
pub(crate) struct Folder {
    findings: Vec<Finding>,
    /// Per finding, the texts seen in its current occurrence.
    forms: Vec<Vec<u64>>,
    index: HashMap<Key, usize>,
    /// The findings seen most recently, newest last.
    recent: VecDeque<usize>,
}

impl Folder {
    /// The findings so far.
    pub(crate) fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// The findings, consuming the folder.
    pub(crate) fn into_findings(self) -> Vec<Finding> {
        self.findings
    }

    /// Adds the diagnosis of one message (`text`, cleaned) read from `source`, starting on `line`.
    pub(crate) fn add(&mut self, source: &str, line: u64, text: &str, d: Diagnosis) {
        let key = Key::of(source, &d);
        let form = form_of(text);
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => match self.layer_of(source, line, &d) {
                Some(i) => {
                    self.merge(i, d);
                    let merged = Key::of(source, &self.findings[i].diagnosis);
                    self.index.insert(merged, i);
                    self.index.insert(key, i);
                    i
                }
                None => {
                    let i = self.findings.len();
                    self.index.insert(key, i);
                    self.findings.push(Finding {
                        diagnosis: d,
                        source: source.to_string(),
                        count: 1,
                        first_line: line,
                        last_line: line,
                        excerpt: excerpt(text),
                    });
                    self.forms.push(vec![form]);
                    self.touch(i);
                    return;
                }
            },
        };
        let forms = &mut self.forms[i];
        let f = &mut self.findings[i];
        if line.saturating_sub(f.last_line) <= NEAR_LINES && !forms.contains(&form) {
            // Another layer's report of the same occurrence.
            forms.push(form);
        } else if f.last_line != line {
            // The failure happened again (a message of one line is counted once, however often it repeats it).
            f.count += 1;
            forms.clear();
            forms.push(form);
        }
        f.last_line = line;
        self.touch(i);
    }

    fn touch(&mut self, i: usize) {
        self.recent.retain(|&r| r != i);
        self.recent.push_back(i);
        if self.recent.len() > RECENT {
            self.recent.pop_front();
        }
    }

    /// A finding seen in the last few lines that `d` is another layer of.
    fn layer_of(&self, source: &str, line: u64, d: &Diagnosis) -> Option<usize> {
        self.recent.iter().rev().copied().find(|&i| {
            let f = &self.findings[i];
            f.source == source
                && line.saturating_sub(f.last_line) <= NEAR_LINES
                && are_layers(&f.diagnosis, d)
        })
    }

    /// Keeps the reading of finding `i` or `d`, whichever names more, completed from the other.
    fn merge(&mut self, i: usize, d: Diagnosis) {
        merge_layer(&mut self.findings[i].diagnosis, d);
    }
}

/// Keeps the reading `kept` or `d` of one failure, whichever names more, completed from the other.
pub(crate) fn merge_layer(kept: &mut Diagnosis, d: Diagnosis) {
    let (mut richer, other) = if detail(&d) > detail(kept) {
        (d, kept.clone())
    } else {
        (kept.clone(), d)
    };
    complete(&mut richer, &other);
    *kept = richer;
}

/// hyper's `client error (Connect)`: a failed connection whose cause the text does not show.
fn is_hidden_connect(c: &Cause) -> bool {
    matches!(
        c,
        Cause::Connection {
            failure: ConnectionFailure::Other,
            os_code: None
        }
    )
}

/// Whether two readings can be two layers' reports of one failure: the same cause (or a hidden connect failure
/// beside a transport failure that shows its cause), and no field that both name differs.
pub(crate) fn are_layers(a: &Diagnosis, b: &Diagnosis) -> bool {
    let transport = |c: Class| matches!(c, Class::Connection | Class::Tls | Class::Timeout);
    let same_cause = if a.class == b.class {
        a.cause.kind() == b.cause.kind() && causes_agree(&a.cause, &b.cause)
    } else {
        (is_hidden_connect(&a.cause) && transport(b.class))
            || (is_hidden_connect(&b.cause) && transport(a.class))
    };
    if !same_cause || a.class == Class::Unknown {
        return false;
    }
    fn agree<T: PartialEq>(x: &Option<T>, y: &Option<T>) -> bool {
        x.is_none() || y.is_none() || x == y
    }
    let (r, s) = (&a.request, &b.request);
    agree(&a.code, &b.code)
        && agree(&a.reason, &b.reason)
        && agree(&a.user, &b.user)
        && agree(&a.phase, &b.phase)
        && agree(&r.verb, &s.verb)
        && agree(&r.group, &s.group)
        && agree(&r.version, &s.version)
        && agree(&r.resource, &s.resource)
        && agree(&r.subresource, &s.subresource)
        && agree(&r.kind, &s.kind)
        && agree(&r.namespace, &s.namespace)
        && agree(&r.name, &s.name)
        && agree(&r.path, &s.path)
}

/// Whether two causes of one kind agree on everything both name (two webhooks that could not be called are two
/// failures; a detail cut short in one layer's text is the same detail).
fn causes_agree(a: &Cause, b: &Cause) -> bool {
    // Causes are plain serde data: serialising them cannot fail.
    match (serde_json::to_value(a), serde_json::to_value(b)) {
        (Ok(x), Ok(y)) => values_agree(&x, &y),
        _ => a == b,
    }
}

/// Whether two values agree where both say something: an absent, empty, `false` or `unknown` value says nothing;
/// a text agrees with one that holds it.
fn values_agree(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    let silent = |v: &Value| match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty() || s == "unknown",
        Value::Array(items) => items.is_empty(),
        _ => false,
    };
    if silent(a) || silent(b) || a == b {
        return true;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => x
            .iter()
            .all(|(k, v)| y.get(k).is_none_or(|w| values_agree(v, w))),
        (Value::String(x), Value::String(y)) => x.contains(y.as_str()) || y.contains(x.as_str()),
        _ => false,
    }
}

/// How much a reading names: its request fields, subject, answer, and whether its cause shows itself.
fn detail(d: &Diagnosis) -> usize {
    let r = &d.request;
    let named = [
        &r.method,
        &r.url,
        &r.verb,
        &r.group,
        &r.version,
        &r.resource,
        &r.subresource,
        &r.kind,
        &r.namespace,
        &r.name,
        &r.path,
        &d.user,
        &d.reason,
    ]
    .iter()
    .filter(|f| f.is_some())
    .count();
    let shown = if is_hidden_connect(&d.cause) { 0 } else { 100 };
    shown + named + usize::from(d.code.is_some()) + usize::from(d.phase.is_some())
}

/// Fills what `d` leaves out from another layer's reading of the same failure.
fn complete(d: &mut Diagnosis, other: &Diagnosis) {
    merge_missing(&mut d.request, &other.request);
    if d.user.is_none() {
        d.user.clone_from(&other.user);
    }
    if d.code.is_none() {
        d.code = other.code;
    }
    if d.reason.is_none() {
        d.reason.clone_from(&other.reason);
    }
    if d.phase.is_none() {
        d.phase = other.phase;
    }
    for note in &other.notes {
        if !d.notes.contains(note) {
            d.notes.push(note.clone());
        }
    }
}

fn excerpt(text: &str) -> String {
    let trimmed = text.trim();
    let mut out: String = trimmed.chars().take(EXCERPT_CHARS).collect();
    if out.len() < trimmed.len() {
        out.push('…');
    }
    out
}
