//! The streaming log reader behind `kubewhy explain`: reads any byte stream in bounded memory, finds every
//! message that holds a Kubernetes API failure, and folds repeats of the same failure, and the failures of one
//! cause that is not the request's (an unreachable server, a rejected credential), into one [`Finding`] with a
//! count, its first and last line numbers and the requests it hit ([`crate::fold`]).
//!
//! Speed comes from a cheap pre-filter: one multi-pattern search (aho-corasick) over whole buffers for words
//! every recognised failure contains; only around the lines it hits is the text normalised
//! ([`crate::read::normalize`]: the message that holds the hit, re-joined from the lines a paste wrapped it over
//! and cleaned of quotes, borders and escapes) and parsed. A message that may go on past the end of a buffer is
//! read with the next one. Lines longer than the buffer are read in overlapping windows, so a 100 MB line costs
//! one buffer of memory and is still searched: each pre-filter hit of such a line belongs to exactly one window
//! (the one that sees at least `OVERLAP / 2` bytes on both sides of it), and only the text around the hit is
//! parsed, so a message cut by a window's edge is never read as a second, different failure.

use std::io::{self, Read};
use std::sync::LazyLock;

use aho_corasick::AhoCorasick;

use crate::fold::Folder;
pub use crate::fold::{EXCERPT_CHARS, Finding, Hit};
use crate::read::normalize::{self, Record};

/// Words at least one of which every recognised failure contains (case-sensitive fragments chosen to cover the
/// capitalised and lower-case forms). Mostly single words: a message wrapped over lines may be cut between any
/// two of its words; the phrases kept are those whose words are too common alone and whose messages hold
/// another of these words too.
const PREFILTER: &[&str] = &[
    "orbidden",
    "nauthorized",
    "logged",
    "found",
    "Found",
    "NotFound",
    "nvalid",
    "onflict",
    "exists",
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
    "resolution",
    "dns error",
    "route to host",
    "nreachable",
    "roken pipe",
    "EOF",
    "onnect",
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
    "matches",
    "resource type",
    "requested",
    "nternal error",
    "InternalError",
    "navailable",
    "unable to handle",
    "Status",
    "ErrorResponse",
    "cannot",
    "denied",
    "quota",
    "PodSecurity",
    "terminated",
    "cache to be synced",
    "should be installed",
    "server APIs",
    "leader changed",
    "initializing",
    "from the storage",
    "calling",
    "credentials",
    "error[",
    // The server's answer in other syntaxes and clients' exceptions (read::status_syntax).
    "status code",
    "statusCode",
    "response code",
    "ResponseError",
    "BadRequest",
    "Unprocessable",
    // Flux's server-side apply (`Kind/ns/name dry-run failed, reason: …`) and a webhook without dry run.
    "dry-run",
    "dry run",
    "field selector",
    // A terminal pane's borders (read::normalize's BORDERS): a pane cuts its lines anywhere, inside any of the
    // words above (`not f │` / `│ ound`), so a framed line is a candidate whatever it says.
    "│",
    "┃",
    "║",
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
impl Finding {
    /// Where it was found, for a renderer.
    pub fn location(&self) -> crate::render::Location<'_> {
        crate::render::Location {
            source: &self.source,
            first_line: self.first_line,
            last_line: self.last_line,
            count: self.count,
            excerpt: &self.excerpt,
            requests: &self.requests,
        }
    }
}

/// Counts of what a scan read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes read.
    pub bytes: u64,
    /// Lines read (a last line without a newline counts).
    pub lines: u64,
    /// Messages the pre-filter passed to the parser (a message may span several lines).
    pub candidates: u64,
    /// Lines longer than the window, read in pieces.
    pub long_lines: u64,
}

/// Folds failures found in one or more inputs into findings, in order of first appearance.
#[derive(Debug)]
pub struct Scanner {
    window: usize,
    folder: Folder,
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
            folder: Folder::default(),
            stats: Stats::default(),
        }
    }

    /// The findings so far.
    pub fn findings(&self) -> &[Finding] {
        self.folder.findings()
    }

    /// The findings, consuming the scanner.
    pub fn into_findings(self) -> Vec<Finding> {
        self.folder.into_findings()
    }

    /// What was read so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Parses one message (a record: its lines re-joined and cleaned) that starts on line `first_line`.
    fn record(&mut self, source: &str, first_line: u64, record: &Record) {
        self.stats.candidates += 1;
        for text in &record.logical {
            if let Some(d) = crate::diagnose::diagnose_message(text) {
                self.folder.add(source, first_line, text, d);
            }
        }
    }

    /// Parses a piece of a line longer than the window, cleaned as a line of its own.
    fn piece(&mut self, source: &str, line_no: u64, piece: &[u8]) {
        let piece = piece.strip_suffix(b"\r").unwrap_or(piece);
        for record in normalize::records(piece) {
            self.record(source, line_no, &record);
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
            // Complete lines in the buffer end at its last newline; at the end of input, everything is (a message
            // whose last line has no newline is read whole).
            let end = match memchr::memrchr(b'\n', &buf[..len]) {
                _ if eof => len,
                Some(nl) => nl + 1,
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
            // The last message may go on in what is not read yet: it is read with the next buffer (unless it
            // fills this one).
            let upto = if eof {
                end
            } else {
                let whole = whole_lines_from(&buf[..end], skip);
                if whole >= end {
                    end
                } else {
                    let last = normalize::record_at(&buf[whole..end], end - 1 - whole);
                    match whole + last.span.start {
                        0 => end,
                        carry => carry,
                    }
                }
            };
            let region = Region { skip, cut: false };
            let newlines = self.search(source, &buf[..upto], line_no, region).newlines;
            line_no += newlines;
            self.stats.lines += newlines;
            if eof && upto == len && buf[upto - 1] != b'\n' {
                self.stats.lines += 1;
            }
            in_long_line = false;
            skip = 0;
            buf.copy_within(upto..len, 0);
            len -= upto;
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

    /// Searches a region of lines (the first starting at `first_line`). Around each pre-filter hit, the message
    /// that holds it is normalised and parsed, and the search goes on after it. A line longer than the window
    /// (the region's first line when `region.skip > 0`, its only line when `region.cut`) is parsed as pieces of
    /// at most `OVERLAP` bytes centred on each pre-filter hit it owns.
    fn search(&mut self, source: &str, bytes: &[u8], first_line: u64, region: Region) -> Searched {
        const HALF: usize = OVERLAP / 2;
        // Hits in a cut window's last HALF bytes belong to the next window, which sees HALF bytes after them.
        let owned_end = if region.cut {
            bytes.len() - HALF
        } else {
            bytes.len()
        };
        // Where whole lines start: after the long line the region starts inside, if it does.
        let whole = if region.cut {
            bytes.len()
        } else {
            whole_lines_from(bytes, region.skip)
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
            if hit < whole {
                // A long line: never re-read text already parsed, so a message's tail is not a second failure.
                let stop = memchr::memchr(b'\n', &bytes[hit..]).map_or(bytes.len(), |i| hit + i);
                let from = hit.saturating_sub(HALF).max(read_to);
                let to = stop.min(hit + HALF);
                self.piece(source, first_line, &bytes[from..to]);
                read_to = to;
                pos = if to < stop { to } else { stop + 1 };
                continue;
            }
            // The message around the hit, from the lines not read yet: messages never overlap.
            let done = read_to.max(whole);
            let record = normalize::record_at(&bytes[done..], hit - done);
            let (start, end) = (done + record.span.start, done + record.span.end);
            line_no += memchr::memchr_iter(b'\n', &bytes[counted_to..start]).count() as u64;
            counted_to = start;
            self.record(source, line_no, &record);
            read_to = (end + 1).min(bytes.len());
            pos = read_to;
        }
        let rest = memchr::memchr_iter(b'\n', &bytes[counted_to.min(bytes.len())..]).count() as u64;
        Searched {
            newlines: line_no - first_line + rest,
            read_to,
        }
    }
}

/// Where whole lines start in a region: after its first line when the region starts inside a long line
/// (`skip > 0`), else at its start.
fn whole_lines_from(bytes: &[u8], skip: usize) -> usize {
    if skip == 0 {
        return 0;
    }
    memchr::memchr(b'\n', bytes).map_or(bytes.len(), |nl| nl + 1)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Class;

    const DENIED: &str = r#"configmaps is forbidden: User "alice" cannot list resource "configmaps" in API group "" in the namespace "x""#;

    #[test]
    fn folds_repeats_and_numbers_lines() {
        let input = format!("noise\n{DENIED}\nmore noise\n{DENIED}\r\n\n{DENIED}");
        let mut s = Scanner::new();
        let stats = s.read("t", input.as_bytes()).unwrap();
        assert_eq!(stats.lines, 6);
        let f = s.findings();
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!((f[0].count, f[0].first_line, f[0].last_line), (3, 2, 6));
    }

    #[test]
    fn one_failure_logged_by_two_layers_is_one_occurrence() {
        // kube_runtime logs the Status at DEBUG, the program its error at ERROR; then both again on a retry.
        let debug = r#"2026-07-01T10:00:00.1Z DEBUG kube_client::client: Unsuccessful: ErrorResponse { status: "Failure", message: "configmaps is forbidden: User \"alice\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"x\"", reason: "Forbidden", code: 403 }"#;
        let error = format!("2026-07-01T10:00:00.2Z ERROR app: listing settings failed: {DENIED}");
        let input = format!("{debug}\n{error}\nnoise\n{debug}\n{error}\n");
        let mut s = Scanner::new();
        s.read("t", input.as_bytes()).unwrap();
        let f = s.findings();
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!((f[0].count, f[0].first_line, f[0].last_line), (2, 1, 5));
        // The reading that names more is kept: the code from the DEBUG line, the subject from both.
        assert_eq!(f[0].diagnosis.code, Some(403));
        assert_eq!(f[0].diagnosis.user.as_deref(), Some("alice"));
    }

    #[test]
    fn a_message_wrapped_over_lines_is_one_failure_on_its_first_line() {
        let input = "2026-07-01T10:00:00Z INFO start\n> configmaps is forbidden: User \"alice\" cannot\n> list resource \"configmaps\" in API group \"\" in the namespace \"x\"\n2026-07-01T10:00:01Z INFO done\n";
        let mut s = Scanner::new();
        let stats = s.read("t", input.as_bytes()).unwrap();
        assert_eq!((stats.lines, stats.candidates), (4, 1));
        let f = s.findings();
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!((f[0].count, f[0].first_line), (1, 2));
        assert_eq!(f[0].diagnosis.request.verb.as_deref(), Some("list"));
        assert_eq!(f[0].excerpt, DENIED);
    }

    #[test]
    fn a_message_whose_last_line_has_no_newline_is_read_whole() {
        // kubernetes-client/java#726: a pretty-printed Status pasted at the end of the input.
        let input = "{\n  \"kind\": \"Status\",\n  \"message\": \"configmaps is forbidden\",\n  \"reason\": \"Forbidden\",\n  \"code\": 403\n}";
        let mut s = Scanner::new();
        let stats = s.read("t", input.as_bytes()).unwrap();
        assert_eq!(stats.lines, 6);
        let f = s.findings();
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!((f[0].diagnosis.code, f[0].first_line), (Some(403), 1));
    }

    #[test]
    fn a_message_across_the_end_of_a_buffer_is_read_whole() {
        // The window ends inside the wrapped message (at every offset around its line break).
        let wrapped = "> configmaps is forbidden: User \"alice\" cannot\n> list resource \"configmaps\" in API group \"\" in the namespace \"x\"\n";
        let window = 2 * OVERLAP;
        for cut in [0usize, 1, 20, 48, 49, 50, 60, 100] {
            let noise_len = window - cut;
            let noise: String = "n".repeat(noise_len.saturating_sub(1)) + "\n";
            let input = format!("{noise}{wrapped}");
            let mut s = Scanner::with_window(window);
            let stats = s.read("t", input.as_bytes()).unwrap();
            assert_eq!(stats.lines, 3, "cut {cut}");
            let f = s.findings();
            assert_eq!(f.len(), 1, "cut {cut}: {f:#?}");
            assert_eq!(f[0].first_line, 2, "cut {cut}");
            assert_eq!(
                f[0].diagnosis.request.verb.as_deref(),
                Some("list"),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn a_line_longer_than_the_window_is_searched_in_pieces() {
        let window = 2 * OVERLAP;
        // The same failure again after the long line, far enough not to be another layer's report of it.
        let long = format!(
            "{}{DENIED}{}\n{}{DENIED}\n",
            "x".repeat(window * 3 + 17),
            "y".repeat(window * 2),
            "noise\n".repeat(20),
        );
        let mut s = Scanner::with_window(window);
        let stats = s.read("t", long.as_bytes()).unwrap();
        assert_eq!(stats.long_lines, 1);
        assert_eq!(stats.lines, 22);
        let f = s.findings();
        assert_eq!(f.len(), 1, "{f:#?}");
        assert_eq!((f[0].count, f[0].first_line, f[0].last_line), (2, 1, 22));
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

    #[test]
    fn two_webhooks_that_could_not_be_called_are_two_failures() {
        // metallb#1823: the same words, two webhooks.
        let line = |w: &str| {
            format!(
                "Error from server (InternalError): error when creating \"x.yaml\": Internal error occurred: failed calling webhook \"{w}\": failed to call webhook: Post \"https://webhook-service.metallb-system.svc:443/validate?timeout=10s\": service \"webhook-service\" not found"
            )
        };
        let input = format!("{}\n{}\n", line("a.metallb.io"), line("b.metallb.io"));
        let mut s = Scanner::new();
        s.read("t", input.as_bytes()).unwrap();
        assert_eq!(s.findings().len(), 2, "{:#?}", s.findings());
    }
}
