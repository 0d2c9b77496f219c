//! Undoing what pasting does to a log, before any reader sees it: typographic quotes, the borders and gutters of
//! terminal panes (`│`, `┃`, `║`, `> ` e-mail and markdown quoting, a `name… │` pane prefix), markdown fences,
//! emphasis and auto-links, lines hard-wrapped by a terminal, a pane, a mailer or a person, structures printed
//! over several lines (pretty JSON, Rust `{:#?}`, Go test output), numbered error chains (`Caused by:` / `0: …`),
//! and several log lines escaped into one JSON string (`"stderr": "Error…\nError…"`).
//!
//! The input is read as *records*: runs of physical lines that hold one message. A record keeps its span in the
//! input, so a finding maps back to the lines it came from (`-->` locations), and its *logical lines*: the
//! cleaned text, one per message (usually one; several when an escaped string held several log lines).
//!
//! Whether two neighbouring lines belong to one record is decided from those two lines alone (and, for a
//! `Caused by:` after a blank line, the line after the blank), never from the start of the input. So the record
//! around any position is found by looking a few lines up and down ([`record_at`]) and agrees with reading the
//! whole input ([`records`]): the scanner normalises only around the lines its pre-filter hits and pays nothing
//! for the lines it skips. A record holds at most [`MAX_LINES`] lines.

use std::borrow::Cow;
use std::ops::Range;

use super::escape::{backslashes_before, unescape_once};

/// The most physical lines one record holds; a longer run of joined lines is cut into records this long.
pub(crate) const MAX_LINES: usize = 64;

/// One message of the input: a run of physical lines, cleaned and joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    /// The bytes of the input it spans: whole lines, without the newline after the last one.
    pub span: Range<usize>,
    /// How many physical lines it spans.
    pub lines: usize,
    /// Its messages, cleaned: one, or several when an escaped string held several log lines. Each maps back to
    /// the whole span.
    pub logical: Vec<String>,
}

/// How a physical line continues the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Join {
    /// A new line of the same message (a structure printed over lines, an error chain).
    Newline,
    /// The same sentence, wrapped at a space.
    Space,
    /// The same word or URL, wrapped where the pane or terminal ran out of columns.
    Glue,
}

/// A physical line cleaned of paste damage.
#[derive(Debug)]
struct Clean<'a> {
    /// The content: no gutter, border, markdown quoting or typographic quote.
    text: Cow<'a, str>,
    /// Columns of white space before the content (a tab counts 8).
    indent: usize,
    /// Where the content stopped against a pane's right border, if one closed the line.
    edge: Edge,
    /// The whole line was a markdown code span or emphasis (`` `…` ``, `**…**`): a quote complete in itself.
    whole_quote: bool,
}

/// How a line's content met a pane's right border.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Edge {
    /// No right border.
    Open,
    /// The content stopped well before the border: the line ended there.
    Short,
    /// The content touches the border: the pane cut the line there, anywhere in a word.
    Touching,
    /// One column short of the border: the line ended there, or the pane cut it just after a space (a pane pads
    /// both alike), so the next framed line may go on with the next word.
    OneShort,
}

impl Clean<'_> {
    fn is_blank(&self) -> bool {
        self.text.trim().is_empty()
    }

    /// White space only, but not empty: a line inside a pretty-printed structure (`{\n    \n  }`).
    fn is_soft_blank(&self) -> bool {
        !self.text.is_empty() && self.is_blank()
    }
}

/// Reads a region of whole lines (the last may lack its newline) as records, in order. Every line belongs to
/// exactly one record; a blank line is a record of its own unless it bridges an error and its `Caused by:`.
pub(crate) fn records(region: &[u8]) -> Vec<Record> {
    if region.is_empty() {
        return Vec::new();
    }
    let starts = line_starts(region);
    let mut out = Vec::new();
    let mut i = 0;
    while i < starts.len() {
        let (first, last) = run_from(region, &starts, i, i);
        out.push(build(region, &starts, first, last));
        i = last + 1;
    }
    out
}

/// The record that holds byte `pos` of a region of whole lines, found by looking at most [`MAX_LINES`] lines
/// up and down. It is the record [`records`] gives for that position whenever the run of joined lines around
/// it is shorter than [`MAX_LINES`].
pub(crate) fn record_at(region: &[u8], pos: usize) -> Record {
    let pos = pos.min(region.len());
    // Most messages are one line: a few lines up and down decide that, before reaching further.
    within(region, pos, 2 + LOOKBACK)
        .or_else(|| within(region, pos, MAX_LINES))
        .expect("a reach of MAX_LINES always decides")
}

/// The record holding `pos`, from the lines within `reach` of it (only they are split: a long region is not
/// scanned from its start); `None` when that reach cannot tell where the record ends.
fn within(region: &[u8], pos: usize, reach: usize) -> Option<Record> {
    let lo = nth_line_start_before(region, pos, reach);
    let hi = nth_line_end_after(region, pos, reach);
    let local = &region[lo..hi];
    let starts = line_starts(local);
    let at = match starts.binary_search(&(pos - lo)) {
        Ok(i) => i,
        Err(i) => i - 1,
    };
    let floor = at.saturating_sub(MAX_LINES - 1);
    let (first, last) = run_from(local, &starts, at, floor);
    // A join looks one line below the two it joins and up to LOOKBACK lines above them: the run is known where
    // it stops that far short of the reach, or at the region's own ends.
    let top_known = lo == 0 || first >= 2 + LOOKBACK;
    let bottom_known = hi == region.len() || last + 2 < starts.len();
    if reach < MAX_LINES && !(top_known && bottom_known) {
        return None;
    }
    let mut r = build(local, &starts, first, last);
    r.span = r.span.start + lo..r.span.end + lo;
    Some(r)
}

/// The first and last line of the run holding line `at`, not starting before line `floor`.
fn run_from(region: &[u8], starts: &[usize], at: usize, floor: usize) -> (usize, usize) {
    let mut first = at;
    while first > floor && at - first + 1 < MAX_LINES && joined(region, starts, first - 1, first) {
        first -= 1;
    }
    let mut last = at;
    while last + 1 < starts.len()
        && last + 1 - first < MAX_LINES
        && joined(region, starts, last, last + 1)
    {
        last += 1;
    }
    (first, last)
}

/// Whether line `b` (= `a + 1`) continues line `a`.
fn joined(region: &[u8], starts: &[usize], a: usize, b: usize) -> bool {
    join_at(region, starts, a, b).is_some()
}

fn join_at(region: &[u8], starts: &[usize], a: usize, b: usize) -> Option<Join> {
    let prev = clean(line_bytes(region, starts, a));
    let next = clean(line_bytes(region, starts, b));
    // A blank line joins an error to the `Caused by:` that follows it, and a servlet container's `… threw exception
    // […] with root cause` to the root cause it prints below; only those.
    if next.is_blank() && !prev.is_blank() && !next.is_soft_blank() {
        let after = (b + 1 < starts.len()).then(|| clean(line_bytes(region, starts, b + 1)));
        return after
            .is_some_and(|c| {
                is_chain_header(c.text.trim())
                    || announces_root_cause(&prev.text) && !c.is_blank()
                    || is_debugger_field(prev.text.trim()) && is_debugger_field(c.text.trim())
            })
            .then_some(Join::Newline);
    }
    if prev.is_blank() && !prev.is_soft_blank() && !next.is_blank() {
        let before = (a > 0).then(|| clean(line_bytes(region, starts, a - 1)));
        let chain =
            is_chain_header(next.text.trim()) && before.as_ref().is_some_and(|c| !c.is_blank());
        let fields = is_debugger_field(next.text.trim())
            && before
                .as_ref()
                .is_some_and(|c| is_debugger_field(c.text.trim()));
        let root = before.is_some_and(|c| announces_root_cause(&c.text));
        return (chain || root || fields).then_some(Join::Newline);
    }
    if is_debugger_field(prev.text.trim()) && is_debugger_field(next.text.trim()) {
        return Some(Join::Newline);
    }
    if announces_root_cause(&prev.text) && !next.is_blank() {
        return Some(Join::Newline);
    }
    join(&prev, &next).or_else(|| inside_quotes_from_above(region, starts, a, &prev, &next))
}

/// Whether the last word of `p` and the first of `n` are two words of one printer's phrase that a value does not
/// separate (`failed` / `error:`), the first of them a word that ends no message.
fn continues_printer_phrase(p: &str, n: &str) -> bool {
    let last = p.rsplit(char::is_whitespace).next().unwrap_or(p);
    let first = n.split(char::is_whitespace).next().unwrap_or(n);
    last.chars().all(|c| c.is_ascii_alphabetic()) && super::templates::words().pair(last, first)
}

/// Whether a line announces the root cause printed below it: Tomcat's `Servlet.service() for servlet [x] in context
/// with path [] threw exception [<message>] with root cause` (apache/tomcat 9.0.x
/// java/org/apache/catalina/core/LocalStrings.properties `standardWrapper.serviceExceptionRoot`, logged by
/// StandardWrapperValve with the root cause as the throwable).
fn announces_root_cause(line: &str) -> bool {
    line.trim_end().ends_with("] with root cause")
}

/// How many lines above a pair of lines a join may look: a quoted value wrapped over several lines is still open
/// in a line without quotes when a line at most this far above opened it.
const LOOKBACK: usize = 3;

/// Whether line `a` lies inside a quoted value an earlier line opened (`"message":"admission` / `webhook … does` /
/// `not satisfy the policy of this` / `cluster","metadata":{}`), or inside a `Status` that lost its quotes, so `b`
/// goes on with it.
fn inside_quotes_from_above(
    region: &[u8],
    starts: &[usize],
    a: usize,
    prev: &Clean,
    next: &Clean,
) -> Option<Join> {
    let (p, n) = (prev.text.trim(), next.text.trim());
    if p.is_empty() || n.is_empty() || starts_record(n) || starts_record(p) {
        return None;
    }
    // The lines between the opener and `a` hold no unescaped quote of the opener's kind, and no bracket when a
    // bracket is open.
    let free_of = |t: &str, q: char| {
        t.char_indices()
            .filter(|(_, c)| *c == q)
            .all(|(i, _)| t[..i].ends_with('\\'))
    };
    let bracket_free = |t: &str| !t.contains(['(', ')', '[', ']']);
    for k in (a.saturating_sub(LOOKBACK)..a).rev() {
        let line = clean(line_bytes(region, starts, k));
        let t = line.text.trim();
        if t.is_empty() || starts_record(t) && k + 1 < a {
            return None;
        }
        let between = |ok: &dyn Fn(&str) -> bool| {
            (k + 1..=a).all(|j| ok(clean(line_bytes(region, starts, j)).text.trim()))
        };
        if let Some(q) = opened_quote(t) {
            return between(&|l: &str| free_of(l, q)).then_some(Join::Space);
        }
        if ends_inside_brackets(t) {
            return between(&bracket_free).then_some(Join::Space);
        }
        // A `Status` that lost its quotes, still open (`…,message:admission` / `webhook` / `\\x\\` / `does not …`).
        if opens_bare_status(t) {
            return between(&|l: &str| !l.contains('}')).then_some(Join::Space);
        }
    }
    None
}

/// How `next` continues `prev`, if it does: the rules, from the strongest signal to the weakest.
fn join(prev: &Clean, next: &Clean) -> Option<Join> {
    let p = prev.text.trim_end();
    let n = next.text.trim_start();
    // Inside a pretty-printed structure a line of white space still belongs to it.
    if next.is_soft_blank() {
        return (ends_with_opener(p) || p.ends_with(',')).then_some(Join::Newline);
    }
    if prev.is_soft_blank() {
        return (starts_with_closer(n) || next.indent > 0).then_some(Join::Newline);
    }
    if p.is_empty() || n.is_empty() {
        return None;
    }
    // A line a reporter quoted whole (`` `cannot list resource …` `` under a log line) is a message of its own.
    if prev.whole_quote || next.whole_quote {
        return None;
    }
    // An error chain: `Caused by:` attaches to the error above it, and numbered causes to the chain.
    if is_chain_header(n) {
        return Some(Join::Newline);
    }
    if chain_item(n).is_some() {
        if is_chain_header(p) || chain_item(p).is_some() {
            return Some(Join::Newline);
        }
        // A pane cut an address or a word before its digits and a colon (`…10.96.0.1:` / `443: connect: …`, `x50` /
        // `9: certificate …`): not a numbered cause.
        return (prev.edge == Edge::Touching).then_some(Join::Glue);
    }
    // A command's answer under it: the JSON curl printed belongs to the request the command names.
    if n.starts_with('{') && super::log_fields::curl_command(p).is_some() {
        return Some(Join::Newline);
    }
    // An exception's detail whose value went to the next line (`HTTP response body:` / `{"kind":"Status",…}`).
    let body_then_json = n.starts_with(['{', '['])
        && ["response body", "response body:", "Body:", "body:"]
            .iter()
            .any(|b| p.ends_with(b));
    if body_then_json
        || p.ends_with(':')
            && (n.starts_with(['{', '[']) || !starts_record(n))
            && EXCEPTION_DETAILS
                .iter()
                .any(|d| p.trim_start().starts_with(d))
    {
        return Some(Join::Space);
    }
    // The storage's error wrapped before one of its labels (`…, Code: 2,` / `Key: /registry/…`).
    if storage_error_goes_on(p, n) {
        return Some(Join::Space);
    }
    // A program's error that ends with the answer's status line, then the message or the body it printed after it
    // (`failed to get … : 404 Not Found` / `{'reason': 'NotFound', …}`, deis/controller's KubeHTTPException).
    if status_line_goes_on(p, n) {
        return Some(Join::Space);
    }
    // (A wrap may have left the phrase, or its end, alone on the line above the body: `Error`, a pane's `flict`.)
    let phrase_then_body = n.starts_with('{') && {
        let t = p.trim();
        t.len() >= 3
            && http_phrases()
                .any(|ph| ph.ends_with(t) || (t.ends_with(ph) && status_tail(p).is_none()))
    };
    if (ends_with_status_line(p) || phrase_then_body) && !starts_record(n) {
        return Some(if n.starts_with('{') {
            Join::Newline
        } else {
            Join::Space
        });
    }
    // kubectl apply's block naming the object it could not read (`error when retrieving current configuration
    // of:` / `Resource: "…", GroupVersionKind: "…"` / `Name: "…", Namespace: "…"` / `Object: &{…}` / `from server
    // for: "<file>": <error>`, kubectl pkg/cmd/apply/apply.go with cli-runtime's `Info.String()`).
    if kubectl_object_block(n) {
        return Some(Join::Newline);
    }
    // A pane cut the line where a JSON object goes on (`"details": │` / `│ {"group":…`).
    if prev.edge == Edge::Touching && n.starts_with(['{', '[']) {
        return Some(Join::Glue);
    }
    // A word that may open a record (`Error`, `{"`) does not when the line above left a quoted value open: only a
    // time stamp or a log header always opens one.
    if starts_record(n) && !opens_with_time(n) && ends_inside_quotes(p) {
        return Some(Join::Space);
    }
    // A word that opens records (`error:`) after the word a printer puts before it (the StatefulSet controller's
    // `… failed` / `error: …`): the printer's phrase goes on.
    if starts_record(n) && !opens_with_time(n) && continues_printer_phrase(p, n) {
        return Some(Join::Space);
    }
    if starts_record(n) {
        // A klog header cut after its process id (`I0701 10:00:00.000000       1` / `reflector.go:816] …`).
        return is_klog_header_without_file(p).then_some(Join::Space);
    }
    // A pane's right border reached: the pane cut the line, anywhere in a word, or just after a space.
    match (prev.edge, next.edge) {
        (Edge::Touching, _) => return Some(Join::Glue),
        (Edge::OneShort, Edge::Touching | Edge::OneShort | Edge::Short) => {
            return Some(Join::Space);
        }
        _ => {}
    }
    // A `Status` that lost its quotes, wrapped at a space: its braces left open above, or its keys going on below.
    if bare_status_goes_on(p, n) {
        return Some(Join::Space);
    }
    // A structure printed over several lines.
    if ends_with_opener(p) || starts_with_closer(n) {
        return Some(Join::Newline);
    }
    if p.ends_with(',') && (next.indent > 0 || is_key_line(n)) {
        return Some(Join::Newline);
    }
    // An exception's details on the lines below it (the Python and Java clients): under the exception or the
    // details before them, not under any line.
    let is_detail = |t: &str| {
        EXCEPTION_DETAILS
            .iter()
            .any(|d| t.trim_start().starts_with(d))
    };
    let status_code = |t: &str| {
        let t = t.trim();
        t.len() == 5
            && t.starts_with('(')
            && t.ends_with(')')
            && t[1..4].bytes().all(|b| b.is_ascii_digit())
    };
    if is_detail(n)
        && (is_detail(p) || status_code(p) || p.contains("Exception") || p.contains("Error"))
    {
        return Some(Join::Newline);
    }
    // The response's details go with the exception above them however its headers were wrapped.
    if n.trim_start().starts_with("HTTP response ") && !starts_record(p) {
        return Some(Join::Newline);
    }
    // A pretty-printed object's member that opens a structure (`"connectionState": {`) under a line that is no part
    // of one begins the structure, not the line's hanging indent.
    if is_json_member_opening(n) && !ends_with_opener(p) && !p.ends_with(',') {
        return None;
    }
    // A Java stack frame under its exception (`\tat io.x.Watch.createWatch(Watch.java:104) ~[app.jar:1.0]`): the
    // exception's message ended with its line (`ApiException: Forbidden` is the reason phrase alone).
    if is_java_frame(n) {
        return Some(Join::Newline);
    }
    // A hanging indent: the rest of the message under its first line (Rich, stack frames).
    if next.indent >= 8 {
        return Some(Join::Space);
    }
    // A YAML quoted scalar folded over lines (`kubectl get -o yaml` wraps at 80 columns): its first line opens the
    // quote after a key, the next is indented deeper; each line after that is at the same indent until the quote
    // closes.
    if next.indent > prev.indent && opens_yaml_quote(p) {
        return Some(Join::Space);
    }
    // (A folded line may start with a word and a colon, `help: …`; two keys in a row are a mapping's.)
    if next.indent == prev.indent
        && prev.indent >= 2
        && !p.trim_start().starts_with("- ")
        && !(is_yaml_key(p) && is_yaml_key(n))
        && !closes_yaml_quote(p)
    {
        return Some(Join::Space);
    }
    // A URL wrapped inside its query.
    if p.ends_with(['&', '=', '?']) && !n.contains(' ') {
        return Some(Join::Glue);
    }
    // A message broken after its colon, or a klog header whose message went to the next line.
    if p.ends_with(':') || is_bare_klog_header(p) {
        return Some(Join::Space);
    }
    // A Kubernetes message wrapped at a space: the line ends inside the message or the next one goes on with it.
    // (A slash alone as a word never opens a message: fabric8's `kubectl login` / `/ oc login`.)
    if ends_inside_message(p)
        || goes_on_with_message(n)
        || straddles_message(p, n)
        || n.starts_with("/ ")
    {
        return Some(Join::Space);
    }
    // A structured line wrapped at a space: inside a quoted value, inside brackets, before the next `key=value`, or
    // before the Go type client-go names (`failed to list` / `*v1.Pod: …`).
    if ends_inside_quotes(p)
        || starts_inside_quotes(n)
        || ends_inside_brackets(p)
        || starts_with_key_value(n)
        || starts_with_go_type(n)
        || ends_inside_program_call(p)
        || (p.ends_with([',', '(', '{']) && starts_with_field(n))
        || starts_with_resource_then_scope(n)
        || starts_with_request_trailer(n)
        || starts_with_struct(n)
    {
        return Some(Join::Space);
    }
    // The full stop of a wrapped sentence alone on the last line.
    if p.len() >= 40 && n.chars().all(|c| ".,;:!?\"'`".contains(c)) {
        return Some(Join::Glue);
    }
    None
}

/// Words inside the API server's messages that never end one (`… cannot` / `list resource …`, `… in API` /
/// `group …`): a line ending with one was wrapped there.
const INSIDE_TAIL: [&str; 31] = [
    "for",
    "with",
    "from",
    "by",
    "and",
    "or",
    "unless",
    "than",
    "is",
    "are",
    "be",
    "been",
    "cannot",
    "can't",
    "could",
    "to",
    "of",
    "in",
    "at",
    "on",
    "the",
    "a",
    "an",
    "admission",
    "calling",
    "provide",
    "asked",
    "unable",
    "please",
    "your",
    "modified;",
];

/// Nouns of the API server's messages that a quoted name always follows (`User` / `"alice" cannot …`).
const BEFORE_NAME: [&str; 8] = [
    "User",
    "user",
    "resource",
    "group",
    "namespace",
    "webhook",
    "service",
    "Service",
];

/// Words inside the API server's messages that never begin one (`… pods is` / `forbidden …`): a line beginning
/// with one goes on with the line before. (`forbidden:` may: `forbidden: User "u" cannot get path "/metrics"`.)
const INSIDE_HEAD: [&str; 15] = [
    "forbidden",
    "unless",
    "cannot",
    "is",
    "resource",
    "API",
    "group",
    "namespace",
    "scope",
    "found",
    "exists",
    "fulfilled",
    "modified;",
    "credentials",
    "allotted,",
];

/// Pairs of words of the API server's messages that a wrap may separate (`… not` / `found`): words that can end
/// or begin a message on their own, but not when they meet like this.
const INSIDE_PAIRS: [(&str, &str); 51] = [
    ("apply", "your"),
    ("changes", "to"),
    ("latest", "version"),
    ("version", "and"),
    ("and", "try"),
    ("in", "API"),
    ("API", "group"),
    ("cluster", "scope"),
    ("in", "the"),
    ("at", "the"),
    ("not", "found"),
    ("already", "exists"),
    ("has", "been"),
    ("been", "modified;"),
    ("be", "fulfilled"),
    ("fulfilled", "on"),
    ("cannot", "be"),
    ("denied", "the"),
    ("the", "request"),
    ("the", "request:"),
    ("webhook", "denied"),
    ("too", "many"),
    ("many", "requests"),
    ("try", "again"),
    ("again", "later"),
    ("unable", "to"),
    ("to", "handle"),
    ("handle", "the"),
    ("to", "return"),
    ("the", "time"),
    ("still", "be"),
    ("be", "processing"),
    ("asked", "us"),
    ("for", "the"),
    ("the", "client"),
    ("to", "provide"),
    ("could", "not"),
    ("not", "find"),
    ("find", "the"),
    ("the", "requested"),
    ("requested", "resource"),
    ("failed", "calling"),
    ("calling", "webhook"),
    ("failed", "to"),
    ("to", "call"),
    ("the", "object"),
    ("object", "has"),
    ("the", "server"),
    ("server", "has"),
    ("server", "could"),
    ("error", "occurred:"),
];

/// Predicates that follow an object's quoted name (`pods "p"` / `is forbidden: …`, `"x"` / `not found`).
const AFTER_NAME: [&str; 8] = [
    "is", "not", "already", "cannot", "denied", "has", "in", "at",
];

/// Whether a line ends with a word that never ends an API server message.
fn ends_inside_message(p: &str) -> bool {
    let mut words = p.rsplit(char::is_whitespace);
    let word = words.next().unwrap_or(p);
    let before = words.next().unwrap_or("");
    p.contains(' ')
        && (INSIDE_TAIL.contains(&word)
            || INSIDE_TAIL
                .iter()
                .any(|t| t.eq_ignore_ascii_case(word) && word != "A")
            || super::templates::words().before_value(word)
            || super::templates::words().before_value_pair(before, word))
}

/// Whether the line's last quote opens a value it does not close (`err="the` / `server rejected …"`): a quote
/// after `=`, `:`, a bracket, a comma or a space, before a word.
fn ends_inside_quotes(p: &str) -> bool {
    opened_quote(p).is_some()
}

/// The quote the line's last quote opens, if it opens one ([`ends_inside_quotes`]).
fn opened_quote(p: &str) -> Option<char> {
    let at = p.rfind(['"', '\''])?;
    let before = p[..at].trim_end_matches('\\').chars().next_back();
    let after = p[at + 1..].chars().next();
    let opens = before.is_none_or(|c| matches!(c, '=' | ':' | '(' | '[' | '{' | ',' | ' ' | '\t'))
        && after.is_some_and(|c| {
            !c.is_whitespace() && !matches!(c, ',' | ';' | ')' | '}' | ']' | '"' | '\'')
        });
    opens.then(|| p[at..].chars().next()).flatten()
}

/// Whether the line's first quote closes a value an earlier line opened (`cluster","metadata":{}`): a quote after a
/// word, before a comma, a colon, a closing bracket or the end.
fn starts_inside_quotes(n: &str) -> bool {
    let Some(at) = n
        .char_indices()
        .find(|(i, c)| matches!(c, '"' | '\'') && !n[..*i].ends_with('\\'))
        .map(|(i, _)| i)
    else {
        return false;
    };
    let body = n[..at].trim_end_matches('\\');
    let before = body.chars().next_back();
    let after = n[at + 1..].chars().next();
    // Escaped quotes before it are inside the value (`\"vyo\" not found", …`).
    let body = body.replace("\\\"", "").replace("\\'", "");
    // The text before the quote is a value's end, not a key's start: no `key=`, no `:`.
    before.is_some_and(|c| c.is_alphanumeric() || matches!(c, '.' | ')' | ']'))
        && !body.contains(['=', '"', '\'', '{', ':'])
        && after.is_none_or(|c| matches!(c, ',' | ':' | '}' | ']' | ')' | ' ' | '\\'))
}

/// Whether a line opens with a field of a printed struct (`code: 404, message: …`, Rust's and Go's `Debug`).
fn starts_with_field(n: &str) -> bool {
    let key_len = n
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    if key_len < 2 || !n.as_bytes()[0].is_ascii_alphabetic() {
        return false;
    }
    // A key whose value went to the next line (`message:`).
    if n[key_len..].trim_end() == ":" {
        return true;
    }
    if !n[key_len..].starts_with(": ") {
        return false;
    }
    // A struct's value, not a sentence (`forbidden: User …` is a message).
    let value = &n[key_len + 2..];
    value.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '"' | '\'' | '[' | '{'))
        || ["Some(", "None", "true", "false"]
            .iter()
            .any(|v| value.starts_with(v))
}

/// Whether a line opens with a printed struct in brackets (`(Status { …`, `(ErrorResponse { …`), which kube-rs's
/// `Display` puts after the message.
fn starts_with_struct(n: &str) -> bool {
    let Some(rest) = n.strip_prefix('(') else {
        return false;
    };
    let name_len = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    name_len > 0 && rest.as_bytes()[0].is_ascii_uppercase() && rest[name_len..].starts_with(" {")
}

/// Whether a line opens with the request client-go puts after its message (`(get pods.metrics.k8s.io)`).
fn starts_with_request_trailer(n: &str) -> bool {
    ["(get ", "(post ", "(put ", "(patch ", "(delete "]
        .iter()
        .any(|t| n.starts_with(t))
}

/// Whether a line opens with a resource and the scope the older RBAC denial put after it (`configmaps in the
/// namespace …`, `nodes at the cluster scope`): never the start of a message.
fn starts_with_resource_then_scope(n: &str) -> bool {
    let mut words = n.split_whitespace();
    let (Some(first), Some(second), Some(third)) = (words.next(), words.next(), words.next())
    else {
        return false;
    };
    is_resource_word(first) && matches!(second, "in" | "at") && third == "the"
}

/// Whether a line and the next are one `Status` that lost every double quote (`{apiVersion:v1,…,kind:Status,
/// message:configmaps` / `\\x\\ not found,metadata:{},reason:NotFound,status:Failure}`, bitnami/charts#13544): the
/// line above opens the object (`kind:Status`) and leaves a brace open, or the line below holds its keys after a
/// comma. (A paste may have cut the object before it closes: a line that opens a record is never part of it, and
/// the caller has returned before this for one.)
fn bare_status_goes_on(p: &str, n: &str) -> bool {
    opens_bare_status(p)
        || !n.contains('"')
            && (n.contains(",reason:")
                || n.contains(",status:Failure")
                || n.contains(",metadata:{"))
}

/// The labels of the API server's storage error (k8s.io/apiserver v0.36.3 pkg/storage/errors.go StorageError.Error:
/// `StorageError: <what>, Code: <n>, Key: <key>, ResourceVersion: <rv>, AdditionalErrorMsg: <message>`).
const STORAGE_ERROR_LABELS: [&str; 4] = [
    "Code: ",
    "Key: ",
    "ResourceVersion: ",
    "AdditionalErrorMsg: ",
];

/// Whether the next line goes on with a storage error wrapped after the comma before one of its labels (a label
/// that never opens a record).
fn storage_error_goes_on(p: &str, n: &str) -> bool {
    p.ends_with(',') && STORAGE_ERROR_LABELS.iter().any(|l| n.starts_with(l))
}

/// Whether a line is one field of an object as a debugger's variables view shows it (`reason:'Bad Request'`,
/// `status:400`, `body:'{"kind":"Status",…`, kubernetes-client/python#858): a lower-case key, a colon and at once
/// a quoted string, a number or an opening bracket. A view's fields stand on lines of their own, blank lines
/// between some of them: they are one object.
fn is_debugger_field(t: &str) -> bool {
    let key_len = t
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
        .count();
    key_len > 0
        && t.as_bytes()[0].is_ascii_lowercase()
        && t.as_bytes().get(key_len) == Some(&b':')
        && t.as_bytes()
            .get(key_len + 1)
            .is_some_and(|b| matches!(b, b'\'' | b'0'..=b'9' | b'{' | b'['))
}

/// Whether a line opens a `Status` that lost its quotes (`kind:Status` bare) and leaves a brace open.
fn opens_bare_status(t: &str) -> bool {
    t.contains("kind:Status")
        && t.bytes().filter(|b| *b == b'{').count() > t.bytes().filter(|b| *b == b'}').count()
}

/// Whether the line opens more round or square brackets than it closes (`… supports (put` / `secrets x)`), outside
/// quoted values.
fn ends_inside_brackets(p: &str) -> bool {
    let mut depth = 0i32;
    // A line that goes on with a value an earlier line opened starts inside its quotes.
    let mut quoted = starts_inside_quotes(p);
    let mut escaped = false;
    for c in p.chars() {
        let was_escaped = escaped;
        escaped = c == '\\' && !was_escaped;
        match c {
            '"' if !was_escaped => quoted = !quoted,
            '(' | '[' if !quoted => depth += 1,
            ')' | ']' if !quoted => depth -= 1,
            _ => {}
        }
    }
    depth > 0 && !quoted
}

/// Whether a line opens with a `key=value` field of a structured log line (`reflector="…"`, `err="…"`).
fn starts_with_key_value(n: &str) -> bool {
    let key_len = n
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        .count();
    key_len > 0
        && n.as_bytes().get(key_len) == Some(&b'=')
        && n[..1].chars().all(|c| c.is_ascii_lowercase())
}

/// Whether a line is one of kubectl's lines naming an object under `error when retrieving current configuration
/// of:` (cli-runtime `Info.String()`, the object kubectl printed, its source).
fn kubectl_object_block(t: &str) -> bool {
    let t = t.trim_start();
    [
        "Resource: \"",
        "GroupVersionKind:",
        "Name: \"",
        "Namespace: \"",
        "Object: &",
        "from server for:",
    ]
    .iter()
    .any(|p| t.starts_with(p))
}

/// The HTTP reason phrases of the failures' codes, which a wrap may cut between the code and the phrase or inside
/// the phrase (`…: 500 Internal Server` / `Error …`): the status readers' list.
fn http_phrases() -> impl Iterator<Item = &'static str> {
    super::status_syntax::HTTP_PHRASES
        .iter()
        .map(|(phrase, _)| *phrase)
}

/// What follows an answer's code at the end of a line (`…: 404 Not Found` gives `Not Found`, `…: 500` gives ``),
/// the code after a colon or opening the line.
fn status_tail(p: &str) -> Option<&str> {
    // After the last `: ` (`p.rsplit_once(": ")`, without building a searcher at every call: this runs for every
    // pair of lines the normaliser looks at).
    let last_colon_space =
        memchr::memrchr_iter(b':', p.as_bytes()).find(|&i| p.as_bytes().get(i + 1) == Some(&b' '));
    let after = last_colon_space.map_or(p.trim_start(), |i| &p[i + 2..]);
    let code = after.get(..3)?;
    let rest = &after[3..];
    (code.starts_with(['4', '5'])
        && code.bytes().all(|b| b.is_ascii_digit())
        && (rest.is_empty() || rest.starts_with(' ')))
    .then(|| rest.trim_start())
}

/// Whether a line ends with an HTTP answer's status line (`…: 404 Not Found`, `409 Conflict`): a failure's code and
/// its reason phrase.
fn ends_with_status_line(p: &str) -> bool {
    status_tail(p).is_some_and(|t| http_phrases().any(|ph| ph == t))
}

/// Whether a wrap cut an answer's status line between its code and its phrase, or inside the phrase (`…: 404` /
/// `Not Found`, `…: 500 Internal Server` / `Error …`).
fn status_line_goes_on(p: &str, n: &str) -> bool {
    let Some(tail) = status_tail(p) else {
        return false;
    };
    let starts_word = |rest: &str| {
        n.starts_with(rest) && !n[rest.len()..].starts_with(|c: char| c.is_alphanumeric())
    };
    http_phrases().any(|phrase| {
        if tail.is_empty() {
            starts_word(phrase)
        } else {
            phrase.len() > tail.len()
                && phrase.starts_with(tail)
                && phrase[tail.len()..].starts_with(' ')
                && starts_word(&phrase[tail.len() + 1..])
        }
    })
}

/// Whether a line opens with a Go type (`*v1.Pod:`, `*v1beta1.Ingress`) or the second half of a dynamic informer's
/// (`apps/v1,` / `Resource=deployments: …`, apimachinery's `GroupVersionResource.String()`; `Kind=` for a kind's).
fn starts_with_go_type(n: &str) -> bool {
    n.strip_prefix('*').is_some_and(|t| {
        t.starts_with('v') && t[1..].starts_with(|c: char| c.is_ascii_digit()) && t.contains('.')
    }) || n.starts_with("Resource=")
        || n.starts_with("Kind=")
        || starts_with_group_version(n)
}

/// Whether a line opens with the first half of a dynamic informer's type (`apps/v1,`, `/v1,`).
fn starts_with_group_version(n: &str) -> bool {
    let first = n.split(char::is_whitespace).next().unwrap_or(n);
    let Some((group, version)) = first.strip_suffix(',').and_then(|t| t.split_once('/')) else {
        return false;
    };
    version.starts_with('v')
        && version[1..].starts_with(|c: char| c.is_ascii_digit())
        && version
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && group
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
}

/// Whether a line ends inside a program's words for the call that failed (`failed to delete` / `StatefulSet ns/x:
/// …`, `failed to delete StatefulSet` / `ns/x: …`): the verb, or the verb and the kind, end no message.
fn ends_inside_program_call(p: &str) -> bool {
    const VERBS: [&str; 7] = [
        "get", "list", "watch", "create", "update", "patch", "delete",
    ];
    let mut words = p.rsplit(char::is_whitespace);
    let (Some(last), Some(before)) = (words.next(), words.next()) else {
        return false;
    };
    if before == "to" {
        return VERBS.contains(&last);
    }
    words.next() == Some("to")
        && VERBS.contains(&before)
        && last.starts_with(|c: char| c.is_ascii_uppercase())
        && last.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A klog header cut after its process id: `I0701 10:00:00.000000       1`.
fn is_klog_header_without_file(p: &str) -> bool {
    // The level's letter first: most lines are not split into words at all.
    if !p.trim_start().starts_with(['I', 'W', 'E', 'F']) {
        return false;
    }
    let mut parts = p.split_whitespace();
    let (Some(level), Some(time), Some(pid), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    level.len() == 5
        && level.starts_with(['I', 'W', 'E', 'F'])
        && level[1..].bytes().all(|b| b.is_ascii_digit())
        && time.contains(':')
        && pid.bytes().all(|b| b.is_ascii_digit())
}

/// Whether a line begins with a word that never begins an API server message, or with an object's quoted name
/// and its predicate.
fn goes_on_with_message(n: &str) -> bool {
    let mut words = n.split_whitespace();
    let first = words.next().unwrap_or("");
    let second = words.next();
    let catalog = super::templates::words();
    // helm's opening (`cannot patch "<name>" with kind <Kind>: …`, helm v3 pkg/kube/client.go updateResource) begins
    // a message: the authorizer's `cannot` goes on with a verb and a resource, never a quoted name.
    let third = n.split_whitespace().nth(2);
    if first == "cannot" && third.is_some_and(|t| t.starts_with('"')) && n.contains(" with kind ") {
        return false;
    }
    if INSIDE_HEAD.contains(&first) || catalog.after_value(first) {
        return true;
    }
    if second.is_some_and(|s| catalog.after_value_pair(first, s)) {
        return true;
    }
    let bare = first.trim_matches('\\');
    let quoted =
        bare.len() >= 2 && first.trim_start_matches('\\').starts_with('"') && bare.ends_with('"');
    quoted && second.is_some_and(|w| AFTER_NAME.contains(&w))
}

/// Whether the last word of `p` and the first of `n` are two words of one API server message.
fn straddles_message(p: &str, n: &str) -> bool {
    let last = p.rsplit(char::is_whitespace).next().unwrap_or(p);
    let first = n.split(char::is_whitespace).next().unwrap_or(n);
    let named = last.ends_with('"') && AFTER_NAME.contains(&first);
    // A quoted name (`"settings": the object …`), not a JSON key (`"status": "Failure",`).
    let words = super::templates::words();
    let name_follows = first.trim_start_matches('\\').starts_with(['"', '\''])
        && !is_json_member(n)
        && (BEFORE_NAME.contains(&last) || is_resource_word(last) || words.before_quoted(last));
    let number_follows =
        first.starts_with(|c: char| c.is_ascii_digit()) && words.before_number(last);
    // (A quoted value may close a bracket too: client-go's `("<the body>")` / `has prevented …`.)
    let value_ends =
        is_resource_word(last) || (last.trim_end_matches(')').ends_with('"') && last.len() > 1);
    let word_follows_value = value_ends && words.follows_value(first);
    named
        || name_follows
        || number_follows
        || word_follows_value
        || INSIDE_PAIRS.contains(&(last, first))
        || (last.ends_with(';') && is_error_code_name(first))
        || words.pair(last, first)
        || super::status_syntax::phrase_pair(last, first)
}

/// An HTTP/2 error code's name after the stream ID it reset (`stream error: stream ID 2;` / `INTERNAL_ERROR`,
/// golang.org/x/net http2 `ErrCode.String`): capitals, digits and underscores, an underscore among them.
fn is_error_code_name(w: &str) -> bool {
    let w = w.trim_end_matches(';');
    w.len() > 3
        && w.contains('_')
        && w.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// A plural resource, maybe with its group (`configmaps`, `documents.kube.rs`): the noun before an object's
/// quoted name (not any word: `reconciled object` / `"status": …` are two lines).
fn is_resource_word(w: &str) -> bool {
    let plural = (w.ends_with('s') && !w.ends_with("ss")) || w.contains('.');
    plural
        && w.len() > 1
        && w.starts_with(|c: char| c.is_ascii_lowercase())
        && w.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
}

/// Whether a line is a JVM stack frame: `at`, a qualified method, and its place in parentheses (`(Watch.java:104)`,
/// `(Unknown Source)`, `(Native Method)`), then at most the jar logback names (`~[app.jar:1.0]`).
fn is_java_frame(line: &str) -> bool {
    let Some(rest) = line.trim_start().strip_prefix("at ") else {
        return false;
    };
    let Some((method, place)) = rest.split_once('(') else {
        return false;
    };
    let qualified = method.contains('.')
        && !method.contains(char::is_whitespace)
        && method.starts_with(|c: char| c.is_ascii_alphabetic());
    let after = place.split_once(')').map(|(_, a)| a.trim());
    qualified
        && after.is_some_and(|a| a.is_empty() || (a.starts_with(['~', '[']) && a.ends_with(']')))
}

/// The detail lines the Python and Java clients print under an `ApiException`.
const EXCEPTION_DETAILS: [&str; 5] = [
    "Reason: ",
    "HTTP response headers:",
    "HTTP response body:",
    "HTTP response code:",
    "HTTP response status:",
];

fn build(region: &[u8], starts: &[usize], first: usize, last: usize) -> Record {
    let mut text = clean(line_bytes(region, starts, first))
        .text
        .trim_start()
        .to_string();
    for i in first + 1..=last {
        let next = clean(line_bytes(region, starts, i));
        match join_at(region, starts, i - 1, i).unwrap_or(Join::Newline) {
            Join::Newline => {
                text.push('\n');
                text.push_str(&next.text);
            }
            Join::Space => {
                text.truncate(text.trim_end().len());
                text.push(' ');
                text.push_str(next.text.trim());
            }
            Join::Glue => {
                // The pane's own padding is gone already; a space left at the cut is the text's.
                text.truncate(text.trim_end().len());
                text.push_str(next.text.trim_end());
            }
        }
    }
    text.truncate(text.trim_end().len());
    let end = line_end(region, starts, last);
    Record {
        span: starts[first]..end,
        lines: last - first + 1,
        // A markdown table's cell joins its lines with `<br>`: each piece is read as a line of its own.
        logical: if text.contains("<br") {
            split_breaks(&text).into_iter().flat_map(unfold).collect()
        } else {
            unfold(text)
        },
    }
}

// ------------------------------------------------------------------------------------------------ lines

/// The byte offset where each line of the region starts.
fn line_starts(region: &[u8]) -> Vec<usize> {
    let mut starts = vec![0];
    starts.extend(memchr::memchr_iter(b'\n', region).map(|i| i + 1));
    // A region ending with a newline has no line after it.
    if starts.len() > 1 && *starts.last().expect("not empty") == region.len() {
        starts.pop();
    }
    starts
}

fn line_end(region: &[u8], starts: &[usize], i: usize) -> usize {
    memchr::memchr(b'\n', &region[starts[i]..]).map_or(region.len(), |k| starts[i] + k)
}

fn line_bytes<'a>(region: &'a [u8], starts: &[usize], i: usize) -> &'a [u8] {
    &region[starts[i]..line_end(region, starts, i)]
}

/// The start of the line `n` lines before the one holding `pos` (or of the region).
fn nth_line_start_before(region: &[u8], pos: usize, n: usize) -> usize {
    let mut at = pos;
    for _ in 0..=n {
        match memchr::memrchr(b'\n', &region[..at]) {
            Some(nl) => at = nl,
            None => return 0,
        }
    }
    at + 1
}

/// The end (exclusive, after its newline) of the line `n` lines after the one holding `pos` (or the region's).
fn nth_line_end_after(region: &[u8], pos: usize, n: usize) -> usize {
    let mut at = pos;
    for _ in 0..=n {
        match memchr::memchr(b'\n', &region[at..]) {
            Some(nl) => at += nl + 1,
            None => return region.len(),
        }
    }
    at
}

// ------------------------------------------------------------------------------------------------ cleaning

/// Box-drawing characters that frame a terminal pane.
const BORDERS: [char; 3] = ['│', '┃', '║'];

/// Cleans one physical line: terminal colours, typographic quotes, gutters and borders, markdown quoting, fences,
/// emphasis around the whole line and auto-links.
fn clean(raw: &[u8]) -> Clean<'_> {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    // Valid UTF-8 (nearly every line) is checked a word at a time; only invalid bytes need the lossy path.
    let mut text = match std::str::from_utf8(raw) {
        Ok(valid) => Cow::Borrowed(valid),
        Err(_) => String::from_utf8_lossy(raw),
    };
    if memchr::memchr(0x1b, raw).is_some() {
        text = Cow::Owned(strip_ansi(&text));
    }
    if !text.is_ascii() {
        text = Cow::Owned(plain_punctuation(&text));
        if let Some(stripped) = strip_box_frame(&text) {
            text = Cow::Owned(stripped.0);
            return finish(text, stripped.1);
        }
    }
    finish(text, Edge::Open)
}

fn finish(mut text: Cow<'_, str>, edge: Edge) -> Clean<'_> {
    if let Some(rest) = strip_quote_gutter(&text) {
        text = Cow::Owned(rest);
    }
    if let Some(rest) = strip_tool_prefix(&text) {
        text = Cow::Owned(rest.to_string());
    }
    let trimmed = text.trim();
    if let Some(inside) = glued_fence(trimmed) {
        text = Cow::Owned(inside.to_string());
        return finish(text, edge);
    }
    let box_edge = !trimmed.is_empty() && trimmed.chars().all(|c| matches!(c, '╷' | '╵' | '─'));
    if trimmed.starts_with("```") || box_edge {
        // A markdown fence or a box's top or bottom edge: a blank line.
        return Clean {
            text: Cow::Borrowed(""),
            indent: 0,
            edge: Edge::Open,
            whole_quote: false,
        };
    }
    let mut whole_quote = false;
    if let Some(inner) = strip_emphasis(trimmed) {
        text = Cow::Owned(inner.to_string());
        whole_quote = true;
    }
    if let Some(plain) = strip_code_spans(&text) {
        text = Cow::Owned(plain);
    }
    if memchr::memchr(b']', text.as_bytes()).is_some() && text.contains("](http") {
        text = Cow::Owned(unlink(&text));
    }
    let indent = text
        .chars()
        .take_while(|c| c.is_whitespace())
        .map(|c| if c == '\t' { 8 } else { 1 })
        .sum();
    Clean {
        text,
        indent,
        edge,
        whole_quote,
    }
}

/// The text of a line a markdown fence was glued to (```` ```text``` ````, ```` ```text ````, ```` text``` ````: a
/// one-line block, or a block whose fence the writer put on its first or last line). A fence line proper is the
/// backticks and at most an info string of one word (```` ```yaml ````): that is not this, and stays a blank line.
fn glued_fence(trimmed: &str) -> Option<&str> {
    let (opened, rest) = match trimmed.strip_prefix("```") {
        Some(rest) => (true, rest.trim_start_matches('`')),
        None => (false, trimmed),
    };
    let closed = rest.strip_suffix("```").map(|r| r.trim_end_matches('`'));
    if !opened && closed.is_none() {
        return None;
    }
    let inside = closed.unwrap_or(rest).trim();
    // Text glued to a fence holds a space; an info string does not (`yaml`, `console`, `text`).
    inside.contains(char::is_whitespace).then_some(inside)
}

/// `s` without ANSI escape sequences: tracing's and env_logger's coloured levels, targets and field names (`ESC [`
/// parameters, then a final byte from `@` to `~`), as a program logs them to a file or `kubectl logs` shows them.
/// (Hand-written: ten lines, against a crate and its parser in every build.)
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
        } else if chars.clone().next() == Some('[') {
            chars.next();
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        }
    }
    out
}

/// Typographic quotes and primes as ASCII quotes; no-break spaces as spaces; zero-width spaces dropped.
fn plain_punctuation(s: &str) -> String {
    s.chars()
        .filter(|c| !matches!(c, '\u{200B}' | '\u{FEFF}'))
        .map(|c| match c {
            '“' | '”' | '„' | '‟' | '″' | '＂' => '"',
            '‘' | '’' | '‚' | '‛' | '′' => '\'',
            '\u{00A0}' | '\u{202F}' => ' ',
            other => other,
        })
        .collect()
}

/// Removes a pane's box-drawing frame: a border or a `name… │ ` prefix on the left, a border on the right, and
/// says how the content met the right border.
fn strip_box_frame(s: &str) -> Option<(String, Edge)> {
    if !s.contains(BORDERS) {
        return None;
    }
    let mut body = s;
    // Left: a border alone, or a pane name (one word) and a border (Tilt's `doc-controll… │ `).
    if let Some(at) = body.find(BORDERS) {
        let before = body[..at].trim();
        let word = !before.contains(char::is_whitespace) && before.chars().count() <= 40;
        let border_len = body[at..].chars().next().map_or(0, char::len_utf8);
        // A border with nothing after it closes the line on the right: not a gutter.
        let content_after = !body[at + border_len..].trim().is_empty();
        if content_after && (before.is_empty() || (word && !before.contains(['"', '{', '(', '='])))
        {
            body = &body[at + border_len..];
            body = body.strip_prefix(' ').unwrap_or(body);
        }
    }
    // Right: a border at the end; one space or none before it means the content reached the edge, two that it
    // stopped one column short (or was cut after a space: the same padding).
    let mut edge = Edge::Open;
    let trimmed = body.trim_end();
    if let Some(last) = trimmed.chars().last()
        && BORDERS.contains(&last)
    {
        let inner = &trimmed[..trimmed.len() - last.len_utf8()];
        let pad = inner.len() - inner.trim_end().len();
        if !inner.trim().is_empty() {
            edge = match pad {
                0 | 1 => Edge::Touching,
                2 => Edge::OneShort,
                _ => Edge::Short,
            };
        }
        body = inner.trim_end();
    }
    Some((body.to_string(), edge))
}

/// The line without the prefix `kubectl logs --prefix` puts before every line (`[pod/web-7d9f/app] `).
fn strip_tool_prefix(s: &str) -> Option<&str> {
    let t = s.trim_start();
    let rest = [
        "[pod/",
        "[deployment/",
        "[job/",
        "[statefulset/",
        "[daemonset/",
        "[replicaset/",
    ]
    .iter()
    .find_map(|p| t.strip_prefix(p))?;
    let close = rest.find(']')?;
    (!rest[..close].contains(char::is_whitespace)).then(|| {
        rest[close + 1..]
            .strip_prefix(' ')
            .unwrap_or(&rest[close + 1..])
    })
}

/// Removes e-mail and markdown quoting (`> `, `>> `) and a `| ` gutter at the start of a line.
fn strip_quote_gutter(s: &str) -> Option<String> {
    let t = s.trim_start();
    let rest = match t.strip_prefix('>') {
        Some(r) => r.trim_start_matches('>'),
        None => t.strip_prefix("| ")?,
    };
    Some(rest.strip_prefix(' ').unwrap_or(rest).to_string())
}

/// The line without markdown emphasis or code quotes around all of it (`` `…` ``, `*…*`, `**…**`).
fn strip_emphasis(t: &str) -> Option<&str> {
    for mark in ["**", "`", "*"] {
        if t.len() > 2 * mark.len()
            && t.starts_with(mark)
            && t.ends_with(mark)
            && !t[mark.len()..t.len() - mark.len()].contains(mark)
        {
            return Some(&t[mark.len()..t.len() - mark.len()]);
        }
    }
    None
}

/// The line without the backticks of markdown code spans opened and closed inside it (`` error ` "admission
/// webhook "x"` does not support dry run" ``): a span a person put around part of a message splits the message's
/// phrases. Only a line that holds two or more backticks is copied (no log line or message holds them in pairs).
fn strip_code_spans(t: &str) -> Option<String> {
    let first = memchr::memchr(b'`', t.as_bytes())?;
    memchr::memchr(b'`', &t.as_bytes()[first + 1..])?;
    Some(t.replace('`', ""))
}

/// Markdown auto-links a tracker or chat made of a plain name (`[k8s.io/x](http://k8s.io/x)`) as the name.
fn unlink(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find("](http") {
        let Some(open) = rest[..at].rfind('[') else {
            out.push_str(&rest[..at + 2]);
            rest = &rest[at + 2..];
            continue;
        };
        let name = &rest[open + 1..at];
        let link_end = rest[at..].find(')').map(|i| at + i);
        let url = link_end.map(|e| &rest[at + 2..e]);
        let same = url.is_some_and(|u| {
            let bare = u
                .trim_start_matches("https://")
                .trim_start_matches("http://");
            bare.trim_end_matches('/') == name.trim_end_matches('/')
        });
        match (same, link_end) {
            (true, Some(e)) => {
                out.push_str(&rest[..open]);
                out.push_str(name);
                rest = &rest[e + 1..];
            }
            _ => {
                out.push_str(&rest[..at + 2]);
                rest = &rest[at + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

// ------------------------------------------------------------------------------------------------ line kinds

/// Whether a line opens with a time stamp or a klog header (`2026-07-01…`, `[05/24/26 …]`, `10:47:45`, `I0701 …`):
/// the start of a record whatever the line above says.
fn opens_with_time(t: &str) -> bool {
    let b = t.as_bytes();
    let digits = |from: usize, n: usize| {
        b.len() >= from + n && b[from..from + n].iter().all(u8::is_ascii_digit)
    };
    (digits(0, 4) && matches!(b.get(4), Some(b'-' | b'/')))
        || (b.first() == Some(&b'[') && digits(1, 2))
        || opens_with_clock(b)
        || (matches!(b.first(), Some(b'I' | b'W' | b'E' | b'F'))
            && digits(1, 4)
            && b.get(5) == Some(&b' '))
}

/// A clock at the start of a line: `4:54PM`, `10:47:45.481` — not a numbered cause (`4: …`) nor the rest of an
/// address a wrap cut after its first digit (`1:443/version`: minutes have two digits, `0:53: no such host`).
fn opens_with_clock(b: &[u8]) -> bool {
    let digits = |from: usize, n: usize| {
        b.len() >= from + n && b[from..from + n].iter().all(u8::is_ascii_digit)
    };
    let hour = if digits(0, 2) {
        2
    } else {
        usize::from(digits(0, 1))
    };
    // After the minutes: the end, the seconds, a fraction, `AM`/`PM` or a space; not a third digit or `: ` (the
    // port and the colon of `…:53: no such host`).
    let after = b.get(hour + 3).copied();
    hour > 0
        && b.get(hour) == Some(&b':')
        && digits(hour + 1, 2)
        && match after {
            None => true,
            Some(b':') => digits(hour + 4, 2),
            Some(c) => !c.is_ascii_digit(),
        }
}

/// Whether a line opens a message of its own: a timestamp, a log level, a JSON log object, an error or warning
/// opener, a shell prompt, a list item, a traceback or an Ansible task.
fn starts_record(t: &str) -> bool {
    let b = t.as_bytes();
    let digits = |from: usize, n: usize| {
        b.len() >= from + n && b[from..from + n].iter().all(u8::is_ascii_digit)
    };
    // 2024-01-31…, 2024/01/31…, [2024-…, [05/24/26 …], 4:54PM, 10:47:45.481, I0101 12:00:00, E0821 …
    if digits(0, 4) && matches!(b.get(4), Some(b'-' | b'/')) {
        return true;
    }
    if b.first() == Some(&b'[') && digits(1, 2) {
        return true;
    }
    if opens_with_clock(b) {
        return true;
    }
    if matches!(b.first(), Some(b'I' | b'W' | b'E' | b'F'))
        && digits(1, 4)
        && b.get(5) == Some(&b' ')
    {
        return true;
    }
    const OPENERS: [&str; 32] = [
        "{\"",
        "time=",
        "ts=",
        "level=",
        "INFO",
        "WARN",
        "ERROR",
        "DEBUG",
        "TRACE",
        "FATAL",
        "CRITICAL",
        "[INFO",
        "[WARN",
        "[ERROR",
        "[DEBUG",
        "Error",
        "error:",
        "error[",
        "Warning:",
        "warning:",
        "fatal:",
        "failed:",
        "panic:",
        "Traceback (most recent call last)",
        "Exception in thread",
        "TASK [",
        "PLAY [",
        "$ ",
        "% ",
        "❯ ",
        "- ",
        "* ",
    ];
    if OPENERS.iter().any(|o| t.starts_with(o)) {
        return true;
    }
    // A shell prompt: `user@host:~$ …`, `[root@host dir]# …`.
    if let Some(at) = t.find(['$', '#'])
        && at < 80
        && t[at + 1..].starts_with(' ')
        && t[..at].contains('@')
        && !t[..at].contains(' ')
    {
        return true;
    }
    t.starts_with('[') && t.find("]#").is_some_and(|i| i < 80 && t[..i].contains('@'))
}

/// `Caused by:`, `Caused by these errors (recent errors listed first):` — the header of an error chain.
fn is_chain_header(t: &str) -> bool {
    t.get(..9)
        .is_some_and(|head| head.eq_ignore_ascii_case("caused by"))
        && t.ends_with(':')
}

/// The number of a numbered cause (`0: …`, ` 4: …`), if the line is one.
fn chain_item(t: &str) -> Option<u32> {
    let t = t.trim_start();
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    if (1..=3).contains(&digits) && t[digits..].starts_with(": ") {
        t[..digits].parse().ok()
    } else {
        None
    }
}

/// A klog header whose message is on the next line (`E1227 08:28:34.712122 1 reflector.go:178]`).
fn is_bare_klog_header(t: &str) -> bool {
    starts_record(t) && t.ends_with(']') && t.contains(".go:")
}

fn ends_with_opener(t: &str) -> bool {
    t.ends_with(['{', '[', '('])
}

fn starts_with_closer(t: &str) -> bool {
    t.starts_with(['}', ']', ')'])
}

/// A member of a JSON object: a quoted key, a colon and a JSON value (`"status": "Failure",`, `"code": 403`).
fn is_json_member(t: &str) -> bool {
    let Some(rest) = t.strip_prefix('"') else {
        return false;
    };
    let Some(close) = rest.find('"') else {
        return false;
    };
    let Some(value) = rest[close + 1..].trim_start().strip_prefix(':') else {
        return false;
    };
    let value = value.trim_start();
    value.starts_with(['"', '{', '[', '-'])
        || value.starts_with(|c: char| c.is_ascii_digit())
        || ["true", "false", "null"]
            .iter()
            .any(|w| value.starts_with(w) && !value[w.len()..].starts_with(char::is_alphanumeric))
}

/// A mapping key at the start of a line: YAML's (`message: …`, `- type: Ready`) or `kubectl describe`'s (`Last
/// Transition Time:  …`, each word capitalised) — not a sentence's words before a colon (`refused it: …`).
fn is_yaml_key(t: &str) -> bool {
    let t = t.trim_start();
    let t = t.strip_prefix("- ").unwrap_or(t);
    let key = t
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ' ')))
        .unwrap_or(t.len());
    let words = &t[..key];
    let one_key = !words.contains(' ')
        || words
            .split(' ')
            .all(|w| w.starts_with(|c: char| c.is_ascii_uppercase()));
    key > 0
        && one_key
        && t[key..].starts_with(':')
        && (t.len() == key + 1 || t[key + 1..].starts_with(' '))
}

/// Whether a single-quoted YAML scalar opened after a key (`message: 'error[…`) stays open at the line's end (a
/// quote inside one is doubled: `''`).
fn opens_yaml_quote(t: &str) -> bool {
    if !is_yaml_key(t) {
        return false;
    }
    let Some(open) = t.find(": '") else {
        return false;
    };
    t[open + 3..].replace("''", "").find('\'').is_none()
}

/// Whether a line ends a single-quoted YAML scalar (a lone quote at its end, not a doubled one).
fn closes_yaml_quote(t: &str) -> bool {
    t.ends_with('\'') && !t.ends_with("''")
}

/// A line of a JSON object printed one key per line: `"kind":"Status",`.
/// A JSON member whose value opens on the line (`"status": {`, `"items": [`).
fn is_json_member_opening(t: &str) -> bool {
    t.starts_with('"') && is_key_line(t) && t.trim_end().ends_with(['{', '['])
}

fn is_key_line(t: &str) -> bool {
    let Some(q) = t.chars().next().filter(|c| matches!(c, '"' | '\'')) else {
        return false;
    };
    t[1..]
        .find(q)
        .is_some_and(|i| t[i + 2..].trim_start().starts_with(':'))
}

// ------------------------------------------------------------------------------------------------ unfolding

/// Splits a line whose lines a markdown table's cell joined with HTML line breaks (`a<br>b`) into its messages: the
/// pieces are cleaned and joined again as the lines of a paste are.
fn split_breaks(text: &str) -> Vec<String> {
    if !text.contains("<br") {
        return vec![text.to_string()];
    }
    let unified = text.replace("<br />", "<br>").replace("<br/>", "<br>");
    let pieces: Vec<Clean> = unified.split("<br>").map(|p| clean(p.as_bytes())).collect();
    let mut groups: Vec<String> = vec![pieces[0].text.trim().to_string()];
    for pair in pieces.windows(2) {
        let group = groups.last_mut().expect("one group");
        match join(&pair[0], &pair[1]) {
            Some(Join::Newline) => {
                group.push('\n');
                group.push_str(&pair[1].text);
            }
            Some(Join::Space) => {
                group.truncate(group.trim_end().len());
                group.push(' ');
                group.push_str(pair[1].text.trim());
            }
            Some(Join::Glue) => {
                group.truncate(group.trim_end().len());
                group.push_str(pair[1].text.trim_end());
            }
            None => groups.push(pair[1].text.trim().to_string()),
        }
    }
    groups.retain(|g| !g.trim().is_empty());
    if groups.is_empty() {
        groups.push(String::new());
    }
    groups
}

/// Splits a record whose JSON strings escape several log lines (`"stderr": "Error…\nError…"`) into those lines,
/// each unescaped once. A string is split only when a line after its first opens a message of its own: an
/// escaped newline inside one message (`an error on the server ("…\nTrying to reach: …")`) stays where it is.
fn unfold(text: String) -> Vec<String> {
    // Only a string holding an escaped newline (`\n`) can hold several log lines, and most messages have none.
    let bytes = text.as_bytes();
    if !memchr::memchr_iter(b'\\', bytes).any(|i| bytes.get(i + 1) == Some(&b'n')) {
        return vec![if text.trim().is_empty() {
            String::new()
        } else {
            text
        }];
    }
    let text = text.as_str();
    let mut out = Vec::new();
    let mut current = String::new();
    let mut done = 0;
    for (open, close) in string_literals(text) {
        let content = &text[open + 1..close];
        if !has_escaped_newline(content) {
            continue;
        }
        let unescaped = unescape_once(content);
        let parts: Vec<&str> = unescaped.split('\n').collect();
        if parts.len() < 2 || !parts[1..].iter().any(|l| starts_record(l.trim_start())) {
            continue;
        }
        // The escaped lines join as the lines of a paste do: an exception's details stay with it.
        let mut groups: Vec<String> = vec![parts[0].to_string()];
        for pair in parts.windows(2) {
            let (prev, next) = (clean(pair[0].as_bytes()), clean(pair[1].as_bytes()));
            let group = groups.last_mut().expect("one group");
            match join(&prev, &next) {
                Some(Join::Newline) => {
                    group.push('\n');
                    group.push_str(&next.text);
                }
                Some(Join::Space) => {
                    group.truncate(group.trim_end().len());
                    group.push(' ');
                    group.push_str(next.text.trim());
                }
                Some(Join::Glue) => {
                    group.truncate(group.trim_end().len());
                    group.push_str(next.text.trim_end());
                }
                None => groups.push(pair[1].to_string()),
            }
        }
        if groups.len() < 2 {
            continue;
        }
        current.push_str(&text[done..=open]);
        current.push_str(&groups[0]);
        out.push(std::mem::take(&mut current));
        out.extend(groups[1..groups.len() - 1].iter().cloned());
        current.push_str(&groups[groups.len() - 1]);
        done = close;
    }
    current.push_str(&text[done..]);
    out.push(current);
    out.retain(|l| !l.trim().is_empty());
    if out.is_empty() {
        out.push(String::new());
    }
    out
}

/// The byte ranges of `"…"` literals: each opening quote and its closing quote (or the end of the text).
fn string_literals(text: &str) -> Vec<(usize, usize)> {
    let quotes: Vec<usize> = memchr::memchr_iter(b'"', text.as_bytes())
        .filter(|&i| backslashes_before(text, i).is_multiple_of(2))
        .collect();
    quotes
        .chunks(2)
        .map(|pair| (pair[0], pair.get(1).copied().unwrap_or(text.len())))
        .collect()
}

/// Whether a string's content holds `\n` escaped once (an odd run of backslashes before the `n`).
fn has_escaped_newline(content: &str) -> bool {
    memchr::memchr_iter(b'n', content.as_bytes())
        .any(|i| i > 0 && !backslashes_before(content, i).is_multiple_of(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(input: &str) -> Vec<Vec<String>> {
        records(input.as_bytes())
            .into_iter()
            .filter(|r| r.logical.iter().any(|l| !l.is_empty()))
            .map(|r| r.logical)
            .collect()
    }

    #[test]
    fn a_fence_glued_to_the_text_is_taken_off_and_a_fence_line_stays_blank() {
        let glued = "```E0101 reflector.go:138] pods is forbidden: User \"x\" cannot list resource \"pods\"```";
        assert_eq!(
            clean(glued.as_bytes()).text,
            "E0101 reflector.go:138] pods is forbidden: User \"x\" cannot list resource \"pods\""
        );
        assert_eq!(clean(b"```text with words").text, "text with words");
        assert_eq!(clean(b"  the last line``` ").text, "the last line");
        for fence in ["```", "```yaml", " ```console ", "````"] {
            assert_eq!(clean(fence.as_bytes()).text, "", "{fence}");
        }
    }

    #[test]
    fn terminal_colours_are_left_out() {
        // tracing-subscriber's default format writes these codes to a file too.
        let line = "\u{1b}[2m2026-12-07T13:30:42Z\u{1b}[0m \u{1b}[33m WARN\u{1b}[0m \u{1b}[2mkube\u{1b}[0m\u{1b}[2m:\u{1b}[0m \
                    reconcile failed: error[forbidden]: x \u{1b}[3mclass\u{1b}[0m\u{1b}[2m=\u{1b}[0mforbidden";
        assert_eq!(
            one(line),
            "2026-12-07T13:30:42Z  WARN kube: reconcile failed: error[forbidden]: x class=forbidden"
        );
    }

    fn one(input: &str) -> String {
        let t = texts(input);
        assert_eq!(t.len(), 1, "{t:#?}");
        assert_eq!(t[0].len(), 1, "{t:#?}");
        t[0][0].clone()
    }

    #[test]
    fn a_status_that_lost_its_quotes_and_a_storage_error_are_one_record_however_wrapped() {
        // A Python body without quotes (bitnami/charts#13544's form), wrapped at a space over four lines.
        let body = "HTTP response body:\n{apiVersion:v1,code:400,kind:Status,message:admission\nwebhook\n\\w.example.com\\\ndoes not support dry\nrun,metadata:{},reason:BadRequest,status:Failure}";
        assert_eq!(
            one(body),
            "HTTP response body: {apiVersion:v1,code:400,kind:Status,message:admission webhook \\w.example.com\\ does not support dry run,metadata:{},reason:BadRequest,status:Failure}"
        );
        // k8s.io/apiserver's StorageError wrapped before its labels.
        let storage = "Internal error occurred: StorageError: invalid object, Code: 2, Key:\n/registry/pods/a/b, ResourceVersion: 12345,\nAdditionalErrorMsg: x509: certificate signed by unknown authority";
        assert_eq!(
            one(storage),
            "Internal error occurred: StorageError: invalid object, Code: 2, Key: /registry/pods/a/b, ResourceVersion: 12345, AdditionalErrorMsg: x509: certificate signed by unknown authority"
        );
    }

    #[test]
    fn a_debugger_s_view_of_an_object_is_one_record() {
        // kubernetes-client/python#858: fields on lines of their own, a blank line between two of them.
        let t = texts(
            "body:'{\"kind\":\"Status\"\n\nmessage:''\nreason:'Bad Request'\nstatus:400\nDone.",
        );
        assert_eq!(t.len(), 2, "{t:#?}");
        // Words with a colon and a space are not a view's fields.
        assert_eq!(texts("note: one\n\nnote: two").len(), 2);
    }

    #[test]
    fn a_yaml_quoted_scalar_folded_over_lines_is_one_record_and_the_keys_around_it_are_not() {
        let yaml = "  - lastTransitionTime: \"2026-11-25T09:03:44Z\"\n    message: 'error[forbidden]: service account \
                    `a/b`\n      cannot `patch` `configmaps`; cause: denied, then\n      refused it: no;\n      help: grant \
                    it; request: PATCH /api/v1/namespaces/a/configmaps/c\n      (403 Forbidden)'\n    observedGeneration: \
                    1\n    reason: Forbidden\n";
        let t = texts(yaml);
        assert_eq!(t.len(), 4, "{t:#?}");
        assert!(
            t[1][0].ends_with(
                "denied, then refused it: no; help: grant it; request: PATCH /api/v1/namespaces/a/configmaps/c (403 \
                 Forbidden)'"
            ),
            "{t:#?}"
        );
        assert_eq!(t[2][0].trim(), "observedGeneration: 1");
    }

    #[test]
    fn clean_log_lines_are_records_of_one_line_each() {
        let input = "2026-07-01T10:00:00Z INFO a\n2026-07-01T10:00:01Z WARN b: forbidden\nI0701 10:00:00.1 1 x.go:1] c\n";
        let rs = records(input.as_bytes());
        assert_eq!(rs.len(), 3);
        assert!(rs.iter().all(|r| r.lines == 1 && r.logical.len() == 1));
        assert_eq!(rs[1].logical[0], "2026-07-01T10:00:01Z WARN b: forbidden");
        assert_eq!(
            &input.as_bytes()[rs[1].span.clone()],
            rs[1].logical[0].as_bytes()
        );
    }

    #[test]
    fn bare_messages_on_consecutive_lines_stay_apart() {
        let input = "2026-07-01T10:00:00Z INFO doc_controller: reconciled object\nconfigmaps is forbidden: User \"a\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"x\"\nsecrets is forbidden: User \"a\" cannot list resource \"secrets\" in API group \"\" in the namespace \"x\"\ndocuments.kube.rs \"nope\" not found\nthe server could not find the requested resource\ndeployment.apps/web configured\nservice/web unchanged";
        let rs = records(input.as_bytes());
        assert_eq!(rs.len(), 7, "{rs:#?}");
        assert!(rs.iter().all(|r| r.lines == 1));
    }

    #[test]
    fn code_spans_inside_a_line_lose_their_backticks() {
        // kubernetes-sigs/controller-tools#197: the span closes inside the quoted message.
        let line = r#"In my CRD I will return this error ` "admission webhook "v.kubesphere.io"` does not support dry run", is there any plan support?"#;
        assert_eq!(
            clean(line.as_bytes()).text,
            r#"In my CRD I will return this error  "admission webhook "v.kubesphere.io" does not support dry run", is there any plan support?"#
        );
        // A lone backtick (a span going on over lines) and a line without any are left as they are.
        assert_eq!(clean(b"`").text, "`");
        assert!(matches!(clean(b"no spans").text, Cow::Borrowed(_)));
    }

    #[test]
    fn typographic_quotes_become_ascii() {
        let s = one("users “xxx@xxx.it” is forbidden: User ‘a’");
        assert_eq!(s, "users \"xxx@xxx.it\" is forbidden: User 'a'");
    }

    #[test]
    fn pane_borders_and_prefixes_are_removed_and_a_full_pane_line_is_glued() {
        // k9s (kustomize-controller#244): the pane cut `kustomize.toolkit.fl` / `uxcd.io`.
        let input = " {\"error\":\"validation failed: kustomization.kustomize.toolkit.fl │\n│ uxcd.io/basics created\"} │";
        assert_eq!(
            one(input),
            "{\"error\":\"validation failed: kustomization.kustomize.toolkit.fluxcd.io/basics created\"}"
        );
        // Tilt (controller-rs#49): a pane name and a border before each line.
        let tilt = "doc-controll… │ 2023-03-14T10:33:48.912876Z ERROR controller::controller: CRD is not queryable";
        assert_eq!(
            one(tilt),
            "2023-03-14T10:33:48.912876Z ERROR controller::controller: CRD is not queryable"
        );
        // A pane that cut a line just after a space pads it like a line that ended one column short: the next
        // framed line goes on with the next word.
        let cut = "│ is invalid: resourceVersionMatch is forbidden  │\n│ for watch unless sendInitialEvents is given    │";
        assert_eq!(
            one(cut),
            "is invalid: resourceVersionMatch is forbidden for watch unless sendInitialEvents is given"
        );
        // Terraform: the box edges are blank lines, the gutter goes.
        let tf = "╷\n│ Error: Unauthorized\n│ \n│   with kubernetes_namespace.x,\n╵";
        let t = texts(tf);
        assert_eq!(t[0], vec!["Error: Unauthorized"]);
    }

    #[test]
    fn email_quoting_and_a_hard_wrap_at_72_columns_are_one_message() {
        // kube-cleanup-operator#81.
        let input = "> E1227 08:28:34.712122 1 reflector.go:178]\n> pkg/controller/controller.go:154: Failed to list *v1.Pod: pods is\n> forbidden: User \"system:serviceaccount:default:cleanup-operator\" cannot\n> list resource \"pods\" in API group \"\" in the namespace \"default\"\n> .";
        assert_eq!(
            one(input),
            "E1227 08:28:34.712122 1 reflector.go:178] pkg/controller/controller.go:154: Failed to list *v1.Pod: pods is forbidden: User \"system:serviceaccount:default:cleanup-operator\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\"."
        );
    }

    #[test]
    fn a_hanging_indent_continues_the_message_and_the_next_level_opens_a_new_one() {
        // SREGym#775: Rich wraps at 52 columns under an indented gutter; an indented `Error …` opens its own
        // record, which its wrapped lines continue.
        let input = "[05/24/26 08:30:05] INFO     all.stratus.tool_node - Agent   \n                             choose to call: x   \n                    INFO     all.stratus.diagnosis - [Tool Output] Command      \n                             Rejected: Error executing kubectl command:         \n                             Error from server (Forbidden): pods.metrics.k8s.io \n                             is forbidden: User                                 \n                             \"system:serviceaccount:sregym:mcp-server\" cannot   \n                             list resource \"pods\" in API group \"metrics.k8s.io\" \n                             in the namespace \"astronomy-shop\" ";
        let t = texts(input);
        assert_eq!(t.len(), 3, "{t:#?}");
        assert_eq!(
            t[1][0],
            "INFO     all.stratus.diagnosis - [Tool Output] Command Rejected: Error executing kubectl command:"
        );
        assert_eq!(
            t[2][0],
            "Error from server (Forbidden): pods.metrics.k8s.io is forbidden: User \"system:serviceaccount:sregym:mcp-server\" cannot list resource \"pods\" in API group \"metrics.k8s.io\" in the namespace \"astronomy-shop\""
        );
    }

    #[test]
    fn curls_answer_stays_with_the_command_that_asked_for_it() {
        // kubernetes#17974: the request is named only by the command.
        let input = "$ curl http://localhost:8080/api/v1/services?fieldSelector=x\n{\n  \"kind\": \"Status\",\n  \"code\": 400\n}\nnext";
        assert_eq!(
            texts(input),
            vec![
                vec!["$ curl http://localhost:8080/api/v1/services?fieldSelector=x\n{\n  \"kind\": \"Status\",\n  \"code\": 400\n}".to_string()],
                vec!["next".to_string()],
            ]
        );
        // Not any command, and not curl's output when it is not a JSON body.
        assert_eq!(texts("$ kubectl get x -o json\n{\"a\": 1}").len(), 2);
        assert_eq!(
            texts("curl https://h/api/v1/pods\nHTTP/1.1 403 Forbidden").len(),
            2
        );
    }

    #[test]
    fn a_message_broken_after_colons_and_a_url_broken_in_its_query_are_joined() {
        // controller-runtime#943.
        let input = "Error from server (InternalError): error when creating \"example.yml\": \nInternal error occurred: failed calling webhook \"m.d.com\":\nPost https://svc.ns.svc:443/mutate?timeout=30s:\nno service port 'x' found for service \"svc\"";
        assert_eq!(
            one(input),
            "Error from server (InternalError): error when creating \"example.yml\": Internal error occurred: failed calling webhook \"m.d.com\": Post https://svc.ns.svc:443/mutate?timeout=30s: no service port 'x' found for service \"svc\""
        );
        // kube#272.
        let url = "ReqwestError: HTTP status client error (404 Not Found) for url (https://h/apis/example.com/v1alpha1/namespaces/kube-system/examples?&watch=true&resourceVersion=0&\ntimeoutSeconds=290)";
        assert!(one(url).ends_with("resourceVersion=0&timeoutSeconds=290)"));
    }

    #[test]
    fn a_pretty_printed_status_is_one_record_even_with_a_blank_line_inside() {
        // kubernetes-client/java#726.
        let input = "{\n  \"kind\": \"Status\",\n  \"metadata\": {\n    \n  },\n  \"message\": \"x is forbidden\",\n  \"code\": 403\n}\nnext line";
        let rs = records(input.as_bytes());
        assert_eq!(rs[0].lines, 8, "{rs:#?}");
        let v: serde_json::Value = serde_json::from_str(&rs[0].logical[0]).unwrap();
        assert_eq!(v["code"], 403);
        // One key per line, no indentation (java#2762).
        let flat = "{\n\"kind\":\"Status\",\n\"code\":403\n}";
        assert_eq!(records(flat.as_bytes()).len(), 1);
    }

    #[test]
    fn a_numbered_error_chain_is_one_record_across_its_blank_line() {
        // kube#1562 (eyre).
        let input = "Error: ServiceError: client error (Connect)\n\nCaused by:\n   0: client error (Connect)\n   1: invalid peer certificate: UnknownIssuer\n\nLocation:\n    src/main.rs:16:9";
        let rs = records(input.as_bytes());
        assert_eq!(rs[0].lines, 5, "{rs:#?}");
        assert!(rs[0].logical[0].ends_with("1: invalid peer certificate: UnknownIssuer"));
        // stackablectl#370 (snafu): the header has words before its colon.
        let snafu = "An unrecoverable error occured: failed\n\nCaused by these errors (recent errors listed first):\n 1: failed to list stacklets\n 4: ApiError: storage is (re)initializing: TooManyRequests\n 5: storage is (re)initializing: TooManyRequests";
        assert_eq!(records(snafu.as_bytes())[0].lines, 6);
    }

    #[test]
    fn a_json_string_holding_several_log_lines_is_unfolded_and_unescaped() {
        // ocs_performance#1 (Ansible).
        let input = r#"fatal: [localhost]: FAILED! => {"rc": 1, "stderr": "Error from server (AlreadyExists): namespaces \"a\" already exists\nError from server (AlreadyExists): statefulsets.apps \"b\" already exists"}"#;
        let t = texts(input);
        assert_eq!(t.len(), 1);
        assert_eq!(
            t[0],
            vec![
                r#"fatal: [localhost]: FAILED! => {"rc": 1, "stderr": "Error from server (AlreadyExists): namespaces "a" already exists"#,
                r#"Error from server (AlreadyExists): statefulsets.apps "b" already exists"}"#,
            ]
        );
    }

    #[test]
    fn an_escaped_newline_inside_one_message_is_not_unfolded() {
        // kubo-deployment#263: the server's own message holds the newline.
        let input = r#"Error from server (InternalError): an error on the server ("Error: 'x'\nTrying to reach: 'http://h/'") has prevented the request from succeeding (get services http:heapster:)"#;
        assert_eq!(one(input), input);
        // kube-rs Display of a 404 body: `"404 page not found\n"` ends with its newline.
        let kube = r#"ApiError: "404 page not found\n": Failed to parse error data (ErrorResponse { status: "404 Not Found", code: 404 })"#;
        assert_eq!(one(kube), kube);
    }

    #[test]
    fn markdown_emphasis_code_quotes_and_auto_links_are_removed() {
        assert_eq!(
            one("*error: You must be logged in to the server (Unauthorized)*"),
            "error: You must be logged in to the server (Unauthorized)"
        );
        assert_eq!(
            one("`code: 403, statusCode: 403 }`"),
            "code: 403, statusCode: 403 }"
        );
        assert_eq!(
            one(
                "INFO Operation cannot be fulfilled on [addons.x.io](http://addons.x.io/) \"m\": modified"
            ),
            "INFO Operation cannot be fulfilled on addons.x.io \"m\": modified"
        );
    }

    #[test]
    fn python_exception_details_stay_with_their_exception() {
        let input = "kubernetes.client.exceptions.ApiException: (404)\nReason: Not Found\nHTTP response headers: HTTPHeaderDict({})\nHTTP response body: {\"kind\":\"Status\",\"code\":404}\n\nnext";
        let rs = records(input.as_bytes());
        assert_eq!(rs[0].lines, 4, "{rs:#?}");
    }

    #[test]
    fn a_java_stack_frame_ends_its_exception_s_line_and_a_wrapped_reason_phrase_is_joined() {
        // flink-controller#43: the reason phrase alone, then the frames.
        let input = "io.kubernetes.client.ApiException: Forbidden\n\tat io.kubernetes.client.util.Watch.createWatch(Watch.java:104) ~[app.jar:1.3.5]\n\tat x.Y.run(Unknown Source)";
        let rs = records(input.as_bytes());
        assert_eq!(rs.len(), 1, "{rs:#?}");
        assert!(rs[0].logical[0].contains("Forbidden\n"), "{rs:#?}");
        let rs = records(b"io.kubernetes.client.ApiException: Unprocessable\nEntity");
        assert_eq!(rs.len(), 1, "{rs:#?}");
        assert!(
            rs[0].logical[0].ends_with("Unprocessable Entity"),
            "{rs:#?}"
        );
    }

    #[test]
    fn a_servlet_s_root_cause_stays_with_the_exception_that_announces_it() {
        // fabric8 kubernetes-client#3554: Spring's servlet error, a blank line, then the root cause.
        let input = "ERROR --- [exec-2] : Servlet.service() for servlet [dispatcherServlet] threw exception [nested exception is x.KubernetesClientException: Operation: [get]  for kind: [Pod]  failed.] with root cause\n\njava.net.ConnectException: Connection refused (Connection refused)\n\nnext";
        let rs = records(input.as_bytes());
        assert_eq!(rs[0].lines, 3, "{rs:#?}");
        assert_eq!(rs.last().map(|r| r.logical[0].as_str()), Some("next"));
    }

    #[test]
    fn record_at_finds_the_record_around_any_byte() {
        let input = "2026-01-01 INFO start\n> E1227 08:28:34.712122 1 reflector.go:178]\n> pkg/controller/controller.go:154: Failed to list *v1.Pod: pods is\n> forbidden: User \"system:serviceaccount:default:cleanup\" cannot\n> list resource \"pods\" in API group \"\" in the namespace \"default\"\n2026-01-01 INFO end\n";
        assert_eq!(records(input.as_bytes()).len(), 3);
        let all = records(input.as_bytes());
        for pos in 0..input.len() {
            let r = record_at(input.as_bytes(), pos);
            let want = all
                .iter()
                .find(|r| r.span.contains(&pos) || r.span.end == pos);
            assert_eq!(Some(&r), want, "at {pos}");
        }
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    /// Lines that exercise every rule.
    const FRAGMENTS: &[&str] = &[
        "{",
        "}",
        "  },",
        "  \"k\": 1,",
        "\"kind\":\"Status\",",
        "Caused by:",
        "   0: client error (Connect)",
        " 1: invalid peer certificate: UnknownIssuer",
        "│ pods is │",
        "│ forbidden: User \"u\" cannot list resource \"pods\" │",
        "> E1227 08:28:34.712122 1 r.go:1]",
        "> pkg/x.go:1: Failed to list *v1.Pod: pods is",
        "forbidden: User \"u\" cannot",
        "list resource \"pods\" in",
        "API group \"\"",
        "Error: x",
        "2026-01-01T00:00:00Z INFO y",
        "{\"stderr\": \"Error a\\nError b\"}",
        "doc-x… │ msg",
        "╷",
        "╵",
        "```",
        "Reason: Not Found",
        "HTTP response body: {}",
        "\tat x.y(Z.java:1)",
        "*error: x*",
        "“quoted”",
        "pods \"p\" is",
        "the server could not find the requested resource",
        "https://h/x?a=1&",
        "b=2)",
    ];

    fn line() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => "[ -~]{0,60}",
            1 => Just(String::new()),
            1 => Just("    ".to_string()),
            3 => proptest::sample::select(FRAGMENTS).prop_map(str::to_string),
        ]
    }

    fn input_of(lines: &[String], trailing_newline: bool) -> String {
        let mut s = lines.join("\n");
        if trailing_newline && !lines.is_empty() {
            s.push('\n');
        }
        s
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 256,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn any_bytes_are_read_without_panicking(
            data in vec(any::<u8>(), 0..2048),
            positions in vec(any::<usize>(), 0..8),
        ) {
            let all = records(&data);
            prop_assert_eq!(all.iter().map(|r| r.lines).sum::<usize>(), if data.is_empty() { 0 } else { line_starts(&data).len() });
            for p in positions {
                let r = record_at(&data, p % (data.len() + 1));
                prop_assert!(r.span.end <= data.len());
            }
        }

        #[test]
        fn records_cover_every_line_once_in_order(lines in vec(line(), 0..50), trailing in any::<bool>()) {
            let input = input_of(&lines, trailing);
            let rs = records(input.as_bytes());
            // Lines as the scanner counts them: a last line without a newline counts.
            let ends = input.ends_with('\n');
            let want_lines = memchr::memchr_iter(b'\n', input.as_bytes()).count()
                + usize::from(!input.is_empty() && !ends);
            prop_assert_eq!(rs.iter().map(|r| r.lines).sum::<usize>(), want_lines);
            let mut next = 0;
            for r in &rs {
                prop_assert_eq!(r.span.start, next);
                let inside = memchr::memchr_iter(b'\n', &input.as_bytes()[r.span.clone()]).count();
                prop_assert_eq!(inside + 1, r.lines);
                prop_assert!(!r.logical.is_empty());
                prop_assert!(r.lines <= MAX_LINES);
                next = r.span.end + 1;
            }
            if let Some(last) = rs.last() {
                prop_assert_eq!(last.span.end, input.len() - usize::from(ends));
            }
        }

        #[test]
        fn record_at_agrees_with_records(lines in vec(line(), 1..40), trailing in any::<bool>()) {
            let input = input_of(&lines, trailing);
            let rs = records(input.as_bytes());
            for pos in 0..input.len() {
                let want = rs.iter().find(|r| r.span.start <= pos && pos <= r.span.end);
                prop_assert_eq!(Some(&record_at(input.as_bytes(), pos)), want, "at byte {}", pos);
            }
        }

        #[test]
        fn clean_log_lines_are_left_as_they_are(
            msgs in vec("[a-zA-Z0-9 =:;,.'/_+-]{0,80}", 1..30),
        ) {
            let lines: Vec<String> = msgs
                .iter()
                .enumerate()
                .map(|(i, m)| format!("2026-07-01T10:00:{:02}Z INFO {m}", i % 60))
                .collect();
            let input = input_of(&lines, true);
            let rs = records(input.as_bytes());
            prop_assert_eq!(rs.len(), lines.len());
            for (r, l) in rs.iter().zip(&lines) {
                prop_assert_eq!(&r.logical, &vec![l.trim_end().to_string()]);
            }
        }
    }
}
