//! The streaming log reader behind `kubewhy explain`: reads any byte stream in bounded memory, finds every
//! line that holds a Kubernetes API failure, and folds repeats of the same failure into one [`Finding`] with a
//! count and its first and last line numbers.
//!
//! Speed comes from a cheap pre-filter: one multi-pattern search (aho-corasick) over whole buffers for words
//! every recognised failure contains; only lines it hits are decoded and parsed. Lines longer than the
//! buffer are read in overlapping windows, so a 100 MB line costs one buffer of memory and is still searched.

use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

use crate::diagnosis::{Class, Diagnosis};

/// Words at least one of which every recognised failure line contains (case-sensitive fragments chosen to
/// cover the capitalised and lower-case forms).
const PREFILTER: &[&str] = &[
    "orbidden",
    "nauthorized",
    "logged in",
    "not found",
    "NotFound",
    "nvalid",
    "onflict",
    "lready exists",
    "AlreadyExists",
    "too old",
    "Expired",
    "oo many requests",
    "TooManyRequests",
    "throttling",
    "imeout",
    "imed out",
    "imedOut",
    "deadline",
    "elapsed",
    "efused",
    "eset",
    "no such host",
    "lookup",
    "Name or service",
    "name resolution",
    "dns error",
    "route to host",
    "nreachable",
    "roken pipe",
    "onnection",
    "EOF",
    "to connect",
    "tcp connect",
    "(Connect)",
    "x509",
    "ertificate",
    "Issuer",
    "ValidFor",
    "BadEncoding",
    "andshake",
    "SSL",
    "tls",
    "TLS",
    "lert",
    "DnsName",
    "incompatible",
    "Error from server",
    "rror on the server",
    "no matches for",
    "resource type",
    "could not find the requested",
    "nternal error",
    "InternalError",
    "navailable",
    "unable to handle",
    "Status",
    "ErrorResponse",
    "cannot",
    "denied",
    "xceeded quota",
    "PodSecurity",
    "being terminated",
    "cache to be synced",
    "should be installed",
    "server APIs",
];

static FILTER: LazyLock<AhoCorasick> =
    LazyLock::new(|| AhoCorasick::new(PREFILTER).expect("the pre-filter's patterns are valid"));

/// Whether a line may hold a failure (the cheap test done before parsing).
pub fn may_hold_failure(line: &[u8]) -> bool {
    FILTER.is_match(line)
}

/// The longest stretch of a line parsed at once; longer lines are read in windows this size.
pub const DEFAULT_WINDOW: usize = 1 << 20;
/// How much consecutive windows of one long line overlap, so a message across a window edge is seen whole.
pub const OVERLAP: usize = 16 << 10;
/// How much of a line a finding keeps to show (characters).
pub const EXCERPT_CHARS: usize = 400;

/// One distinct failure found in the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The diagnosis (of its first occurrence).
    pub diagnosis: Diagnosis,
    /// Where it was read (`controller.log`, `<stdin>`).
    pub source: String,
    /// How many lines held it.
    pub count: u64,
    /// The first line (1-based).
    pub first_line: u64,
    /// The last line (1-based).
    pub last_line: u64,
    /// The start of the first line, for display (at most [`EXCERPT_CHARS`] characters).
    pub excerpt: String,
}

/// What makes two occurrences the same failure: the class, the answer, the subject and request (without the
/// URL, whose query changes on every retry), and the summary; for unrecognised failures also the message with
/// digits folded (timestamps, resource versions).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    source: String,
    class: Class,
    code: Option<u16>,
    reason: Option<String>,
    user: Option<String>,
    fields: [Option<String>; 9],
    summary: String,
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
            summary: d.summary.clone(),
            text: (d.class == Class::Unknown).then(|| fold_digits(&d.message)),
        }
    }
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

/// Counts of what a scan read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes read.
    pub bytes: u64,
    /// Lines read (a last line without a newline counts).
    pub lines: u64,
    /// Lines the pre-filter passed to the parser.
    pub candidates: u64,
    /// Lines longer than the window, read in pieces.
    pub long_lines: u64,
}

/// Folds failures found in one or more inputs into findings, in order of first appearance.
#[derive(Debug)]
pub struct Scanner {
    window: usize,
    findings: Vec<Finding>,
    index: HashMap<Key, usize>,
    stats: Stats,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner::new()
    }
}

impl Scanner {
    /// A scanner with the default window ([`DEFAULT_WINDOW`]).
    pub fn new() -> Scanner {
        Scanner::with_window(DEFAULT_WINDOW)
    }

    /// A scanner that parses at most `window` bytes of a line at once (at least `2 * OVERLAP`).
    pub fn with_window(window: usize) -> Scanner {
        Scanner {
            window: window.max(2 * OVERLAP),
            findings: Vec::new(),
            index: HashMap::new(),
            stats: Stats::default(),
        }
    }

    /// The findings so far.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// The findings, consuming the scanner.
    pub fn into_findings(self) -> Vec<Finding> {
        self.findings
    }

    /// What was read so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Records one line (or window of a long line) read from `source`.
    pub fn line(&mut self, source: &str, line_no: u64, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !may_hold_failure(line) {
            return;
        }
        self.stats.candidates += 1;
        let text = String::from_utf8_lossy(line);
        // Telling occurrences apart needs no remedy; only a new failure gets its full diagnosis.
        let Some(d) = crate::classify::diagnose_text_bare(&text) else {
            return;
        };
        let key = Key::of(source, &d);
        match self.index.get(&key) {
            Some(&i) => {
                let f = &mut self.findings[i];
                // A long line's overlapping windows may show one failure twice: count each line once.
                if f.last_line != line_no {
                    f.count += 1;
                    f.last_line = line_no;
                }
            }
            None => {
                let d = crate::diagnose_text(&text).unwrap_or(d);
                self.index.insert(key, self.findings.len());
                self.findings.push(Finding {
                    diagnosis: d,
                    source: source.to_string(),
                    count: 1,
                    first_line: line_no,
                    last_line: line_no,
                    excerpt: excerpt(&text),
                });
            }
        }
    }

    /// Reads `input` to its end. I/O errors are returned; what was read before one is kept.
    pub fn read(&mut self, source: &str, mut input: impl Read) -> io::Result<Stats> {
        let before = self.stats;
        let mut buf = vec![0u8; self.window];
        let mut len = 0usize; // bytes in buf
        let mut line_no: u64 = 1; // the line that starts at buf[0]
        let mut in_long_line = false;
        let mut eof = false;
        loop {
            while len < buf.len() && !eof {
                match input.read(&mut buf[len..]) {
                    Ok(0) => eof = true,
                    Ok(n) => {
                        len += n;
                        self.stats.bytes += n as u64;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            if len == 0 {
                break;
            }
            // Complete lines in the buffer end at its last newline; at the end of input, everything is.
            let end = match memchr::memrchr(b'\n', &buf[..len]) {
                Some(nl) => nl + 1,
                None if eof => len,
                None => {
                    // A line longer than the window: search this window, keep an overlap, read on.
                    if !in_long_line {
                        self.stats.long_lines += 1;
                    }
                    in_long_line = true;
                    self.search(source, &buf[..len], line_no);
                    buf.copy_within(len - OVERLAP..len, 0);
                    len = OVERLAP;
                    continue;
                }
            };
            let newlines = self.search(source, &buf[..end], line_no);
            line_no += newlines;
            self.stats.lines += newlines;
            if eof && end == len && buf[end - 1] != b'\n' {
                self.stats.lines += 1;
            }
            in_long_line = false;
            buf.copy_within(end..len, 0);
            len -= end;
            if eof && len == 0 {
                break;
            }
        }
        Ok(Stats {
            bytes: self.stats.bytes - before.bytes,
            lines: self.stats.lines - before.lines,
            candidates: self.stats.candidates - before.candidates,
            long_lines: self.stats.long_lines - before.long_lines,
        })
    }

    /// Searches a region of whole lines (the first starting at `first_line`) and returns its newline count.
    fn search(&mut self, source: &str, region: &[u8], first_line: u64) -> u64 {
        let mut pos = 0;
        let mut counted_to = 0;
        let mut line_no = first_line;
        while pos < region.len() {
            let Some(m) = FILTER.find(&region[pos..]) else {
                break;
            };
            let hit = pos + m.start();
            let start = memchr::memrchr(b'\n', &region[..hit]).map_or(0, |i| i + 1);
            let stop = memchr::memchr(b'\n', &region[hit..]).map_or(region.len(), |i| hit + i);
            line_no += memchr::memchr_iter(b'\n', &region[counted_to..start]).count() as u64;
            counted_to = start;
            self.line(source, line_no, &region[start..stop]);
            pos = stop + 1;
        }
        let rest =
            memchr::memchr_iter(b'\n', &region[counted_to.min(region.len())..]).count() as u64;
        line_no - first_line + rest
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

#[cfg(test)]
mod tests {
    use super::*;

    const DENIED: &str = r#"configmaps is forbidden: User "alice" cannot list resource "configmaps" in API group "" in the namespace "x""#;

    #[test]
    fn folds_repeats_and_numbers_lines() {
        let input = format!("noise\n{DENIED}\nmore noise\n{DENIED}\r\n\nlast {DENIED}");
        let mut s = Scanner::new();
        let stats = s.read("t", input.as_bytes()).unwrap();
        assert_eq!(stats.lines, 6);
        let f = s.findings();
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!((f[0].count, f[0].first_line, f[0].last_line), (3, 2, 6));
    }

    #[test]
    fn a_line_longer_than_the_window_is_searched_in_pieces() {
        let window = 2 * OVERLAP;
        let long = format!(
            "{}{DENIED}{}\n{DENIED}\n",
            "x".repeat(window * 3 + 17),
            "y".repeat(window * 2)
        );
        let mut s = Scanner::with_window(window);
        let stats = s.read("t", long.as_bytes()).unwrap();
        assert_eq!(stats.long_lines, 1);
        assert_eq!(stats.lines, 2);
        let f = s.findings();
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!((f[0].count, f[0].first_line, f[0].last_line), (2, 1, 2));
    }
}
