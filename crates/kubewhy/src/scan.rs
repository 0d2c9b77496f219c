//! The streaming log reader behind `kubewhy explain`: reads any byte stream in bounded memory, finds every
//! line that holds a Kubernetes API failure, and folds repeats of the same failure into one [`Finding`] with a
//! count and its first and last line numbers.
//!
//! Speed comes from a cheap pre-filter: one multi-pattern search (aho-corasick) over whole buffers for words
//! every recognised failure contains; only lines it hits are decoded and parsed. Lines longer than the
//! buffer are read in overlapping windows, so a 100 MB line costs one buffer of memory and is still searched:
//! each pre-filter hit of such a line belongs to exactly one window (the one that sees at least
//! `OVERLAP / 2` bytes on both sides of it), and only the text around the hit is parsed, so a message cut by a
//! window's edge is never read as a second, different failure.

use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

use crate::cause::Cause;
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
    "leader changed",
    "initializing",
    "from the storage",
    "failed calling webhook",
    "provide credentials",
    "error[",
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

impl Finding {
    /// Where it was found, for a renderer.
    pub fn location(&self) -> crate::render::Location<'_> {
        crate::render::Location {
            source: &self.source,
            first_line: self.first_line,
            last_line: self.last_line,
            count: self.count,
            excerpt: &self.excerpt,
        }
    }
}

/// What makes two occurrences the same failure: the class, the answer, the subject and request (without the
/// URL, whose query changes on every retry) and the cause without its free text (which may run on into the rest of
/// a line); for unrecognised failures also the message with digits folded (timestamps, resource versions).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
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
        let Some(d) = crate::diagnose::diagnose_text(&text) else {
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
        // Inside a line longer than the window: buf[0] is not a line start, and the hits in buf[..skip] were
        // read with the previous window.
        let mut skip = 0usize;
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
                    let window = Region { skip, cut: true };
                    let searched = self.search(source, &buf[..len], line_no, window);
                    // The next window starts OVERLAP bytes before this one's end; what this one has read there
                    // (at least the hits it owns, up to OVERLAP / 2 before the end) is not read again.
                    skip = searched
                        .read_to
                        .saturating_sub(len - OVERLAP)
                        .max(OVERLAP / 2);
                    buf.copy_within(len - OVERLAP..len, 0);
                    len = OVERLAP;
                    continue;
                }
            };
            let region = Region { skip, cut: false };
            let newlines = self.search(source, &buf[..end], line_no, region).newlines;
            line_no += newlines;
            self.stats.lines += newlines;
            if eof && end == len && buf[end - 1] != b'\n' {
                self.stats.lines += 1;
            }
            in_long_line = false;
            skip = 0;
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

    /// Searches a region of lines (the first starting at `first_line`). Whole lines are parsed whole; a
    /// line longer than the window (the region's first line when `region.skip > 0`, its only line when
    /// `region.cut`) is parsed as pieces of at most `OVERLAP` bytes centred on each pre-filter hit it owns.
    fn search(&mut self, source: &str, bytes: &[u8], first_line: u64, region: Region) -> Searched {
        const HALF: usize = OVERLAP / 2;
        // Hits in a cut window's last HALF bytes belong to the next window, which sees HALF bytes after them.
        let owned_end = if region.cut {
            bytes.len() - HALF
        } else {
            bytes.len()
        };
        let mut pos = region.skip;
        let mut read_to = 0;
        let mut counted_to = 0;
        let mut line_no = first_line;
        while pos < owned_end {
            let Some(m) = FILTER.find(&bytes[pos..]) else {
                break;
            };
            let hit = pos + m.start();
            if hit >= owned_end {
                break;
            }
            let start = memchr::memrchr(b'\n', &bytes[..hit]).map_or(0, |i| i + 1);
            let stop = memchr::memchr(b'\n', &bytes[hit..]).map_or(bytes.len(), |i| hit + i);
            line_no += memchr::memchr_iter(b'\n', &bytes[counted_to..start]).count() as u64;
            counted_to = start;
            let long = start == 0 && (region.skip > 0 || region.cut);
            let (from, to) = if long {
                // Never re-read text already parsed: a message's tail is not a second failure.
                let from = start.max(hit.saturating_sub(HALF)).max(read_to);
                (from, stop.min(hit + HALF))
            } else {
                (start, stop)
            };
            self.line(source, line_no, &bytes[from..to]);
            read_to = to;
            pos = if to < stop { to } else { stop + 1 };
        }
        let rest = memchr::memchr_iter(b'\n', &bytes[counted_to.min(bytes.len())..]).count() as u64;
        Searched {
            newlines: line_no - first_line + rest,
            read_to,
        }
    }
}

/// Where a region handed to [`Scanner::search`] stands in a line longer than the window.
#[derive(Debug, Clone, Copy)]
struct Region {
    /// The region starts inside a long line, and that line's hits before this offset were read with the
    /// previous window (0: the region starts at a line start).
    skip: usize,
    /// The region ends inside a long line (it holds no newline).
    cut: bool,
}

/// What [`Scanner::search`] did with a region.
#[derive(Debug, Clone, Copy)]
struct Searched {
    /// Newlines in the region.
    newlines: u64,
    /// The end of the last text parsed (0 if none).
    read_to: usize,
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

    #[test]
    fn each_failure_on_a_long_line_is_found_once() {
        let window = 2 * OVERLAP;
        let missing = r#"documents.kube.rs "nope" not found"#;
        // Both failures lie in the first window; the second also in the next two, and near their edges.
        let long = format!(
            "{DENIED} {} {missing} {}\n",
            "x".repeat(window - OVERLAP / 2 - DENIED.len() - 20),
            "y".repeat(window * 2)
        );
        let mut s = Scanner::with_window(window);
        s.read("t", long.as_bytes()).unwrap();
        let found: Vec<_> = s
            .findings()
            .iter()
            .map(|f| (f.diagnosis.class, f.count, f.first_line))
            .collect();
        assert_eq!(
            found,
            vec![(Class::Forbidden, 1, 1), (Class::ObjectNotFound, 1, 1)],
            "{:#?}",
            s.findings()
        );
    }
}
