//! The streaming log reader behind `kubewhy explain`: reads any byte stream in bounded memory, finds every
//! message that holds a Kubernetes API failure, and folds repeats of the same failure, and the failures of one
//! cause that is not the request's (an unreachable server, a rejected credential), into one [`Finding`] with a
//! count, its first and last line numbers and the requests it hit ([`crate::fold`]).
//!
//! Speed comes from a cheap pre-filter: a search over whole buffers for the words every recognised failure
//! contains ([`PREFILTER`]; how to add one is said there), with aho-corasick's SIMD searchers (Teddy, a few
//! passes of at most 40 words each); only around the lines it hits is the text normalised
//! ([`crate::read::normalize`]: the message that holds the hit, re-joined from the lines a paste wrapped it over
//! and cleaned of quotes, borders and escapes) and parsed. A message that may go on past the end of a buffer is
//! read with the next one. Lines longer than the buffer are read in overlapping windows, so a 100 MB line costs
//! one buffer of memory and is still searched: each pre-filter hit of such a line belongs to exactly one window
//! (the one that sees at least `OVERLAP / 2` bytes on both sides of it), and only the text around the hit is
//! parsed, so a message cut by a window's edge is never read as a second, different failure.
//!
//! The calling thread reads; buffers of whole messages are searched and parsed on worker threads (as many as the
//! machine has cores, [`Scanner::with_threads`]) while it reads the next ones, and what they found is folded on
//! the calling thread in input order, so the findings are the same as on one thread. A window of a long line is
//! searched on the calling thread, after everything before it (the next window depends on what it read).

use std::io::{self, Read};
use std::sync::{Arc, Condvar, LazyLock, Mutex, MutexGuard, PoisonError, mpsc};

use aho_corasick::{AhoCorasick, packed};

use crate::diagnosis::Diagnosis;
use crate::fold::Folder;
pub use crate::fold::{EXCERPT_CHARS, Finding, Hit};
use crate::read::normalize::{self, Record};

/// Words at least one of which every recognised failure contains (case-sensitive fragments chosen to cover the
/// capitalised and lower-case forms). Mostly single words: a message wrapped over lines may be cut between any
/// two of its words; the phrases kept are those whose words are too common alone and whose messages hold
/// another of these words too.
///
/// To add a word, append it. The search (`Filter`) looks for all of them at once with SIMD and costs about 0.07
/// instructions a byte of input for each word (callgrind, the explain bench's log: 116 words, 7.8 a byte); a word
/// that holds another one costs nothing, and words of four bytes or more keep out of the searcher of the short ones
/// (`EOF`), whose masks are a byte shorter. Every 40 words of four bytes or more are one more pass over the input
/// ([`WORDS_PER_SEARCHER`]). Two things keep a word cheap:
/// - the word itself is rare in ordinary log lines: every line that holds it is normalised and parsed (some
///   100,000 instructions, as for a failure; [`Stats::candidates`] counts them, the explain benches print it);
/// - its first four bytes are rare too: where they are found, the rest of the word is compared. Cutting the front
///   of a word loses nothing (whatever holds the word holds the rest): `uested`, not `requested` (`requ` is in
///   every `requesting`), `gged`, not `logged` (`logg` is in every JSON line's `logger`), `us code`, not
///   `status code`.
pub const PREFILTER: &[&str] = &[
    "orbidden",
    "nauthorized",
    "gged",
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
    "ame or service",
    "esolution",
    "dns error",
    "route to host",
    "nreachable",
    "roken pipe",
    "EOF",
    "onnect",
    "x509",
    "ertificate",
    "Issuer",
    "lidFor",
    "BadEncoding",
    "andshake",
    "SSL",
    "tls",
    "TLS",
    "lert",
    "DnsName",
    "incompatible",
    "r from server",
    "r on the server",
    "matches",
    "urce type",
    "uested",
    "nternal error",
    "InternalError",
    "navailable",
    "unable to handle",
    "Status",
    "rorResponse",
    "cannot",
    "denied",
    "quota",
    "PodSecurity",
    "terminated",
    "che to be synced",
    "should be installed",
    "r APIs",
    "leader changed",
    "initializing",
    "from the storage",
    "calling",
    "credentials",
    "ror[",
    // The server's answer in other syntaxes and clients' exceptions (read::status_syntax).
    "us code",
    "usCode",
    "nse code",
    "ResponseError",
    "BadRequest",
    "Unprocessable",
    // Flux's server-side apply (`Kind/ns/name dry-run failed, reason: …`) and a webhook without dry run.
    "dry-run",
    "dry run",
    "eld selector",
    // The catalog's templates (catalog/*.yaml) that hold none of the words above: client-go's answers without a
    // Status (`the server rejected our request …`, `… in the time allotted …`, `… a content type …`), apimachinery's
    // `… is not supported on resources of kind …`, `… operation against … could not be completed …`, `not
    // authorized`, `Request entity too large`, `strict decoding error: unknown field …`, etcd's `etcdserver: …`,
    // `an error on the server (…) has prevented …`, discovery's `unable to retrieve …`.
    "rejected",
    "allotted",
    "content type",
    "supported",
    "authorized",
    "operation against",
    "too large",
    "decoding",
    "etcdserver",
    "prevented",
    "retrieve",
    // A wrap splits a phrase anywhere: second phrases of the templates above keep them found.
    "completed at",
    "asked us",
    "currently unable",
    "responded with",
    "support dry",
    "for the provided",
    "unable to respond",
    "client supports",
    "old resource",
    "have a resource",
    "backing off",
    "continue parameter",
    "could not be",
    "try again",
    // APF's plain 429 (`Too many requests, please try again later.`) with a code span or a wrap inside its phrases.
    "again later",
    // apiserver's transformDecodeError (`the object provided is unrecognized (must be of type …)`).
    "unrecognized",
    // The Java client's exception when it names only the reason phrase (`ApiException: Method Not Allowed`, `Gone`).
    "piException",
    // The API server's access log (read::status_syntax::request): a failure's code after the latency (`: (12.2s)
    // 500`) or as `resp=`/`"resp":` (a 2xx or 3xx answer holds neither).
    "s) 4",
    "s) 5",
    "esp=4",
    "esp=5",
    "esp\":4",
    "esp\":5",
    // Go's HTTP/2 stream reset (`stream error: stream ID 1359; INTERNAL_ERROR`): the error code's name, a word a
    // wrap cannot split (`…_ERROR`, `REFUSED_STREAM`, `ENHANCE_YOUR_CALM`).
    "_ERROR",
    "_STREAM",
    "YOUR_CALM",
    // The server closed the HTTP/2 connection (`http2: server sent GOAWAY and closed the connection`).
    "GOAWAY",
    // A client's words for an answer's code beside the URL it asked (read::status_syntax): Python requests' `405
    // Client Error: Method Not Allowed for url: https://…`, reqwest's `HTTP status server error (500 Internal Server
    // Error) for url (https://…)`, whose phrases hold none of the words above; as a wrap may split `for url`, their
    // words for a 4xx too, and the 500's phrase. (Fronts cut: `for ` and `Inte` are in many lines.)
    "r url",
    "lient Error",
    "lient error",
    "al Server Error",
    // The API server's authentication filter (`Unable to authenticate the request due to an error: …`): a 401,
    // whatever the error it quotes (an expired client certificate's `x509: …`).
    "Unable to authenticate",
    // A terminal pane's borders (read::normalize's BORDERS): a pane cuts its lines anywhere, inside any of the
    // words above (`not f │` / `│ ound`), so a framed line is a candidate whatever it says.
    "│",
    "┃",
    "║",
];

/// How the words are shared out between packed searchers: slim Teddy (SSSE3, AVX2 or NEON: 8 buckets, 32 bytes a
/// step with AVX2), at most this many words a searcher, one pass over the input a searcher. Teddy puts a
/// searcher's words in buckets and finds where some bucket's words may start by the low and high four bits of
/// their first four bytes; a log is mostly lower-case letters, whose high four bits are all alike, so every word
/// more in a bucket makes it stop and verify more often, and every searcher more is another pass. Measured with
/// callgrind over 109 words of four bytes or more (instructions for the explain bench's 16 MiB log, the API
/// server's 4.4 MB log, a 13 MB klog log): slim of 40 (3 passes, ~5 words a bucket) 133M, 32M, 73M; fat (AVX2, 16
/// buckets, 16 bytes a step) of 40 (3 passes) 149M, 39M, 109M; fat of 56 (2 passes) 138M, 35M, 92M; slim of 16
/// (7 passes) 175M; slim of 56 (2 passes) 233M.
const WORDS_PER_SEARCHER: usize = 40;
/// A slim searcher's buckets.
const BUCKETS: usize = 8;

/// The pre-filter: [`PREFILTER`]'s words, searched with SIMD where the CPU has it.
#[derive(Debug)]
enum Filter {
    /// Teddy (aho-corasick's packed searchers), each for a share of the words, run in turn over the same bytes.
    Packed(Vec<packed::Searcher>),
    /// One automaton for all the words, where packed searchers cannot be built (a CPU without SSSE3 or NEON).
    Automaton(AhoCorasick),
}

static FILTER: LazyLock<Filter> = LazyLock::new(|| Filter::new(PREFILTER));

impl Filter {
    fn new(words: &[&str]) -> Filter {
        let words = distinct_words(words);
        match Filter::packed(&words) {
            Some(searchers) => Filter::Packed(searchers),
            None => Filter::Automaton(
                AhoCorasick::new(&words).expect("the pre-filter's patterns are valid"),
            ),
        }
    }

    /// Packed searchers for `words`, if the CPU has the SIMD they need.
    fn packed(words: &[&str]) -> Option<Vec<packed::Searcher>> {
        // Words shorter than four bytes make their searcher look at three (`EOF`, `tls`, a border): they go in a
        // searcher of their own, so that every other one looks at four.
        let (short, mut long): (Vec<&str>, Vec<&str>) = words.iter().partition(|w| w.len() < 4);
        // Words whose first bytes look alike share a bucket; the words are split evenly between the searchers.
        long.sort_by_key(|w| {
            let head: [u8; 4] = w.as_bytes()[..4].try_into().expect("four bytes or more");
            (head.map(|b| b & 0xf), head.map(|b| b >> 4))
        });
        let searchers = long.len().div_ceil(WORDS_PER_SEARCHER).max(1);
        let size = long.len().div_ceil(searchers).max(1);
        let searcher = |group: &[&str]| {
            packed::Config::new()
                .match_kind(packed::MatchKind::LeftmostFirst)
                .only_teddy_fat(Some(false))
                .builder()
                .extend(bucketed(group, BUCKETS))
                .build()
        };
        short
            .chunks(WORDS_PER_SEARCHER)
            .chain(long.chunks(size))
            .map(searcher)
            .collect()
    }

    /// The first hit at or after `from`.
    fn find(&self, bytes: &[u8], from: usize) -> Option<usize> {
        self.hits(bytes).next_from(from)
    }

    /// A search for hits in `bytes` at increasing positions.
    fn hits<'a>(&'a self, bytes: &'a [u8]) -> Hits<'a> {
        let next = match self {
            Filter::Packed(groups) => vec![Next::Unknown; groups.len()],
            Filter::Automaton(_) => vec![Next::Unknown],
        };
        Hits {
            filter: self,
            bytes,
            next,
        }
    }
}

/// The words that matter to a search: each once, and none that holds another (whatever holds `found` is a hit
/// without `NotFound`).
fn distinct_words<'a>(words: &[&'a str]) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let held = words
            .iter()
            .enumerate()
            .any(|(j, o)| j != i && w.contains(o) && (o.len() < w.len() || j < i));
        if !held {
            out.push(w);
        }
    }
    out
}

/// `sorted` reordered so that Teddy puts neighbours in one bucket: it gives the word at index `i` the bucket
/// `i % buckets` (aho-corasick 1.1; a word whose first bytes' low four bits are another's joins that one's
/// bucket). Another order only costs speed, never a hit.
fn bucketed<'a>(sorted: &[&'a str], buckets: usize) -> Vec<&'a str> {
    let mut out = vec![""; sorted.len()];
    let mut next = sorted.iter();
    for bucket in 0..buckets {
        for i in (bucket..sorted.len()).step_by(buckets) {
            out[i] = next.next().expect("one word for every index");
        }
    }
    out
}

/// Where one searcher's next hit is, as far as it has looked.
#[derive(Debug, Clone, Copy)]
enum Next {
    /// Not searched yet.
    Unknown,
    /// Its first hit at or after where it last looked.
    At(usize),
    /// No hit from where it last looked to the end.
    Never,
}

/// The hits of the pre-filter in one region, asked for at increasing positions: each searcher remembers its
/// next hit, so that it reads every byte at most once however many hits the others have.
struct Hits<'a> {
    filter: &'a Filter,
    bytes: &'a [u8],
    next: Vec<Next>,
}

impl Hits<'_> {
    /// The first hit at or after `from` (which never goes back between calls).
    fn next_from(&mut self, from: usize) -> Option<usize> {
        if from >= self.bytes.len() {
            return None;
        }
        let mut first: Option<usize> = None;
        for (i, next) in self.next.iter_mut().enumerate() {
            let at = match *next {
                Next::At(at) if at >= from => Some(at),
                Next::Never => None,
                Next::At(_) | Next::Unknown => {
                    let span = aho_corasick::Span::from(from..self.bytes.len());
                    let found = match self.filter {
                        Filter::Packed(groups) => {
                            groups[i].find_in(self.bytes, span).map(|m| m.start())
                        }
                        Filter::Automaton(ac) => ac
                            .find(aho_corasick::Input::new(self.bytes).span(span))
                            .map(|m| m.start()),
                    };
                    *next = found.map_or(Next::Never, Next::At);
                    found
                }
            };
            first = match (first, at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        first
    }
}

/// Whether a line may hold a failure (the cheap test done before parsing).
pub fn may_hold_failure(line: &[u8]) -> bool {
    FILTER.find(line, 0).is_some()
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
            unlisted: self.unlisted,
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

/// The most threads a scan parses with.
pub const MAX_THREADS: usize = 8;

/// Folds failures found in one or more inputs into findings, in order of first appearance.
#[derive(Debug)]
pub struct Scanner {
    window: usize,
    threads: usize,
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
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        Scanner {
            window: window.max(2 * OVERLAP),
            threads: threads.min(MAX_THREADS),
            folder: Folder::default(),
            stats: Stats::default(),
        }
    }

    /// The same scanner searching and parsing on at most `threads` threads besides the one that reads (1: on one
    /// worker; 0: on the calling thread only). The default is the machine's available parallelism, at most
    /// [`MAX_THREADS`]. The findings, their order and the stats are the same whatever the number.
    pub fn with_threads(mut self, threads: usize) -> Scanner {
        self.threads = threads.min(MAX_THREADS);
        self
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

    /// Reads `input` to its end. I/O errors are returned; what was read before one is kept.
    ///
    /// The input is read on the calling thread in buffers of the window's size. Each buffer's whole messages are
    /// searched and parsed on a worker thread (the workers start when the input is longer than one buffer) while
    /// the next buffer is read, and the worker then folds what it found, in input order: it waits for the folding
    /// of the buffer before its own. What a worker parsed is folded on the core that parsed it.
    pub fn read(&mut self, source: &str, mut input: impl Read) -> io::Result<Stats> {
        let before = self.stats;
        let threads = self.threads;
        let window = self.window;
        let folding = Folding {
            state: Mutex::new(FoldState {
                scanner: self,
                source,
                next_line: 1,
                folded: 0,
                panic: None,
            }),
            turn: Condvar::new(),
        };
        let (read, bytes, long_lines) = std::thread::scope(|scope| {
            let (back, returned) = mpsc::channel();
            let mut reading = Reading {
                folding: &folding,
                scope,
                threads,
                window,
                jobs: None,
                back,
                returned,
                spare: Vec::new(),
                sent: 0,
                bytes: 0,
                long_lines: 0,
            };
            let read = reading.read(&mut input);
            // What was handed out before an error is kept too.
            let waited = reading.wait_folded(reading.sent);
            // The workers stop when the queue closes.
            reading.jobs = None;
            (read.and(waited), reading.bytes, reading.long_lines)
        });
        let state = folding
            .state
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(panic) = state.panic {
            // A bug in a reader: it fails the scan as it would have on this thread.
            std::panic::resume_unwind(panic);
        }
        self.stats.bytes += bytes;
        self.stats.long_lines += long_lines;
        read?;
        Ok(Stats {
            bytes: self.stats.bytes - before.bytes,
            lines: self.stats.lines - before.lines,
            candidates: self.stats.candidates - before.candidates,
            long_lines: self.stats.long_lines - before.long_lines,
        })
    }
}

/// Where the regions of one [`Scanner::read`] are folded, one after the other in input order, by whichever
/// thread searched them.
struct Folding<'a> {
    state: Mutex<FoldState<'a>>,
    /// Signalled when a region has been folded (or a worker panicked).
    turn: Condvar,
}

struct FoldState<'a> {
    scanner: &'a mut Scanner,
    source: &'a str,
    /// The line the next region to fold starts on.
    next_line: u64,
    /// Regions folded (they are numbered from 0 in input order).
    folded: u64,
    /// A worker's panic, resumed on the calling thread.
    panic: Option<Box<dyn std::any::Any + Send>>,
}

impl<'a> Folding<'a> {
    fn lock(&self) -> MutexGuard<'_, FoldState<'a>> {
        // Nothing panics while holding the lock (a reader's panic is caught before it is taken), so a poisoned
        // lock still holds whole state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Folds region `seq` when its turn comes (after region `seq - 1`); false if a worker panicked meanwhile.
    fn fold(&self, seq: u64, found: Found) -> bool {
        let mut state = self.lock();
        while state.folded != seq && state.panic.is_none() {
            state = self
                .turn
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if state.panic.is_some() {
            return false;
        }
        let FoldState {
            scanner,
            source,
            next_line,
            ..
        } = &mut *state;
        scanner.stats.candidates += found.candidates;
        scanner.stats.lines += found.newlines + u64::from(found.unterminated);
        for r in found.readings {
            scanner
                .folder
                .add(source, *next_line + r.line, &r.text, r.diagnosis);
        }
        *next_line += found.newlines;
        state.folded += 1;
        drop(state);
        self.turn.notify_all();
        true
    }

    fn panicked(&self, panic: Box<dyn std::any::Any + Send>) {
        self.lock().panic.get_or_insert(panic);
        self.turn.notify_all();
    }
}

/// The reading thread's side of one [`Scanner::read`].
struct Reading<'f, 'a, 'scope, 'env> {
    folding: &'f Folding<'a>,
    scope: &'scope std::thread::Scope<'scope, 'env>,
    threads: usize,
    window: usize,
    /// The workers' queue, opened with the second buffer.
    jobs: Option<mpsc::SyncSender<Job>>,
    /// Buffers the workers are done with.
    back: mpsc::Sender<Vec<u8>>,
    returned: mpsc::Receiver<Vec<u8>>,
    spare: Vec<Vec<u8>>,
    /// Regions handed out or folded here.
    sent: u64,
    bytes: u64,
    long_lines: u64,
}

/// A region of whole lines for a worker: the first `len` bytes of `buf`.
struct Job {
    seq: u64,
    buf: Vec<u8>,
    len: usize,
    /// The region ends the input without a newline.
    unterminated: bool,
}

impl<'f, 'a: 'f, 'scope, 'env> Reading<'f, 'a, 'scope, 'env>
where
    'f: 'scope,
{
    /// Reads the input to its end (or an error), handing out whole regions as it goes.
    fn read(&mut self, input: &mut impl Read) -> io::Result<()> {
        let window = self.window;
        let mut buf = self.buffer();
        let mut len = 0usize; // bytes in buf
        // Inside a line longer than the window: buf[0] is not a line start, and the hits in buf[..skip] were
        // read with the previous window.
        let mut skip = 0usize;
        let mut in_long_line = false;
        let mut eof = false;
        loop {
            while len < window && !eof {
                match input.read(&mut buf[len..]) {
                    Ok(0) => eof = true,
                    Ok(n) => {
                        len += n;
                        self.bytes += n as u64;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            if len == 0 {
                return Ok(());
            }
            // Complete lines in the buffer end at its last newline; at the end of input, everything is (a message
            // whose last line has no newline is read whole).
            let end = match memchr::memrchr(b'\n', &buf[..len]) {
                _ if eof => len,
                Some(nl) => nl + 1,
                None => {
                    // A line longer than the window: search this window, keep an overlap, read on. The next
                    // window depends on what this one read, so it is searched here, after everything before it.
                    if !in_long_line {
                        self.long_lines += 1;
                    }
                    in_long_line = true;
                    let found = search(&buf[..len], Region { skip, cut: true });
                    // The next window starts OVERLAP bytes before this one's end; what this one has read there
                    // (at least the hits it owns, up to OVERLAP / 2 before the end) is not read again.
                    skip = found.read_to.saturating_sub(len - OVERLAP).max(OVERLAP / 2);
                    self.inline(found)?;
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
            let unterminated = eof && upto == len && buf[upto - 1] != b'\n';
            let mut next = if eof { Vec::new() } else { self.buffer() };
            next[..len - upto].copy_from_slice(&buf[upto..len]);
            if skip > 0 || self.threads == 0 || (eof && self.jobs.is_none()) {
                // The rest of a long line (whose hits before `skip` were read), a scan on this thread only, or an
                // input of one buffer: searched here.
                let mut found = search(&buf[..upto], Region { skip, cut: false });
                found.unterminated = unterminated;
                self.inline(found)?;
                self.spare.push(buf);
            } else {
                self.send(Job {
                    seq: self.sent,
                    buf,
                    len: upto,
                    unterminated,
                })?;
            }
            in_long_line = false;
            skip = 0;
            len -= upto;
            buf = next;
            if eof {
                return Ok(());
            }
        }
    }

    /// A buffer of the window's size.
    fn buffer(&mut self) -> Vec<u8> {
        self.spare.extend(self.returned.try_iter());
        self.spare.pop().unwrap_or_else(|| vec![0u8; self.window])
    }

    /// Folds a region searched on this thread, after every region handed out before it.
    fn inline(&mut self, found: Found) -> io::Result<()> {
        let seq = self.sent;
        self.sent += 1;
        if self.folding.fold(seq, found) {
            Ok(())
        } else {
            Err(worker_panicked())
        }
    }

    /// Waits until `regions` regions have been folded.
    fn wait_folded(&self, regions: u64) -> io::Result<()> {
        let mut state = self.folding.lock();
        while state.folded < regions && state.panic.is_none() {
            state = self
                .folding
                .turn
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if state.panic.is_some() {
            return Err(worker_panicked());
        }
        Ok(())
    }

    /// Hands a region to the workers (starting them with the first).
    fn send(&mut self, job: Job) -> io::Result<()> {
        if self.jobs.is_none() {
            self.jobs = Some(self.start_workers());
        }
        // At most two regions a worker in flight: memory stays bounded, and every worker has the next one ready.
        let most = 2 * self.threads as u64;
        if self.sent >= most {
            self.wait_folded(self.sent + 1 - most)?;
        }
        self.sent += 1;
        let jobs = self.jobs.as_ref().expect("started above");
        jobs.send(job).map_err(|_| worker_panicked())
    }

    /// Starts the workers: each takes the next region from the queue, searches it and folds what it found.
    fn start_workers(&self) -> mpsc::SyncSender<Job> {
        let (jobs, queue) = mpsc::sync_channel::<Job>(self.threads);
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..self.threads.max(1) {
            let queue = Arc::clone(&queue);
            let back = self.back.clone();
            let folding = self.folding;
            self.scope.spawn(move || {
                loop {
                    // A poisoned lock only means another worker panicked while it waited; the queue is intact.
                    let job = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
                    // The reader closed the queue: the scan is over.
                    let Ok(job) = job else { return };
                    let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        let mut found = search(&job.buf[..job.len], Region::WHOLE);
                        found.unterminated = job.unterminated;
                        found
                    }));
                    let folded = match found {
                        Ok(found) => folding.fold(job.seq, found),
                        Err(panic) => {
                            folding.panicked(panic);
                            false
                        }
                    };
                    if !folded {
                        return;
                    }
                    // The reader only hangs up when it is done: then nobody needs the buffer.
                    if back.send(job.buf).is_err() {
                        return;
                    }
                }
            });
        }
        jobs
    }
}

/// A worker panicked: the scan stops, and [`Scanner::read`] resumes the panic.
fn worker_panicked() -> io::Error {
    io::Error::other("a worker thread of the scan panicked")
}

/// What the search of a region found, for [`Folding::fold`]: the failures read, line numbers counted from the
/// region's first line.
#[derive(Debug, Default)]
struct Found {
    readings: Vec<Found1>,
    /// Messages parsed.
    candidates: u64,
    /// Newlines in the region.
    newlines: u64,
    /// The end of the last text parsed (0 if none).
    read_to: usize,
    /// The region ends the input with a line that has no newline.
    unterminated: bool,
}

/// One failure read: the message that held it and its diagnosis.
#[derive(Debug)]
struct Found1 {
    line: u64,
    text: String,
    diagnosis: Diagnosis,
}

impl Found {
    /// Parses one message (a record: its lines re-joined and cleaned) that starts on line `line`.
    fn record(&mut self, line: u64, record: Record) {
        self.candidates += 1;
        for text in record.logical {
            if let Some(diagnosis) = crate::diagnose::diagnose_message(&text) {
                self.readings.push(Found1 {
                    line,
                    text,
                    diagnosis,
                });
            }
        }
    }

    /// Parses a piece of a line longer than the window, cleaned as a line of its own.
    fn piece(&mut self, line: u64, piece: &[u8]) {
        let piece = piece.strip_suffix(b"\r").unwrap_or(piece);
        for record in normalize::records(piece) {
            self.record(line, record);
        }
    }
}

/// Searches a region of lines. Around each pre-filter hit, the message that holds it is normalised and parsed,
/// and the search goes on after it. A line longer than the window (the region's first line when
/// `region.skip > 0`, its only line when `region.cut`) is parsed as pieces of at most `OVERLAP` bytes centred on
/// each pre-filter hit it owns.
fn search(bytes: &[u8], region: Region) -> Found {
    const HALF: usize = OVERLAP / 2;
    let mut found = Found::default();
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
    let mut counted_to = 0;
    let mut line_no = 0;
    let mut hits = FILTER.hits(bytes);
    while pos < owned_end {
        let Some(hit) = hits.next_from(pos) else {
            break;
        };
        if hit >= owned_end {
            break;
        }
        if hit < whole {
            // A long line: never re-read text already parsed, so a message's tail is not a second failure.
            let stop = memchr::memchr(b'\n', &bytes[hit..]).map_or(bytes.len(), |i| hit + i);
            let from = hit.saturating_sub(HALF).max(found.read_to);
            let to = stop.min(hit + HALF);
            found.piece(0, &bytes[from..to]);
            found.read_to = to;
            pos = if to < stop { to } else { stop + 1 };
            continue;
        }
        // The message around the hit, from the lines not read yet: messages never overlap.
        let done = found.read_to.max(whole);
        let record = normalize::record_at(&bytes[done..], hit - done);
        let (start, end) = (done + record.span.start, done + record.span.end);
        line_no += memchr::memchr_iter(b'\n', &bytes[counted_to..start]).count() as u64;
        counted_to = start;
        found.record(line_no, record);
        found.read_to = (end + 1).min(bytes.len());
        pos = found.read_to;
    }
    let rest = memchr::memchr_iter(b'\n', &bytes[counted_to.min(bytes.len())..]).count() as u64;
    found.newlines = line_no + rest;
    found
}

/// Where whole lines start in a region: after its first line when the region starts inside a long line
/// (`skip > 0`), else at its start.
fn whole_lines_from(bytes: &[u8], skip: usize) -> usize {
    if skip == 0 {
        return 0;
    }
    memchr::memchr(b'\n', bytes).map_or(bytes.len(), |nl| nl + 1)
}

/// Where a region handed to [`search`] stands in a line longer than the window.
#[derive(Debug, Clone, Copy)]
struct Region {
    /// The region starts inside a long line, and that line's hits before this offset were read with the
    /// previous window (0: the region starts at a line start).
    skip: usize,
    /// The region ends inside a long line (it holds no newline).
    cut: bool,
}

impl Region {
    /// Whole lines.
    const WHOLE: Region = Region {
        skip: 0,
        cut: false,
    };
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

    /// Every word is found wherever it stands (at a buffer's start and end, and past the SIMD searchers' block
    /// size), in every search a CPU can have: the packed searchers and the automaton.
    #[test]
    fn every_word_is_found_wherever_it_stands() {
        let words = distinct_words(PREFILTER);
        let mut filters = vec![Filter::Automaton(AhoCorasick::new(PREFILTER).unwrap())];
        let searchers = Filter::packed(&words);
        // Every x86-64 CPU this runs on has SSSE3.
        assert!(
            searchers.is_some() || !cfg!(target_arch = "x86_64"),
            "no packed searchers on x86-64"
        );
        filters.extend(searchers.map(Filter::Packed));
        for word in PREFILTER {
            for before in [0usize, 1, 15, 31, 33, 64, 100] {
                for after in [0usize, 1, 17, 70] {
                    let text = format!("{}{word}{}", "a".repeat(before), "b".repeat(after));
                    for f in &filters {
                        // The hit is the word or a word it holds (`Found` in `NotFound`).
                        let hit = f.find(text.as_bytes(), 0);
                        let within = before..before + word.len();
                        assert!(
                            hit.is_some_and(|h| within.contains(&h)),
                            "{word:?} in {text:?}: {hit:?}"
                        );
                        let after = f.find(text.as_bytes(), within.end);
                        assert_eq!(after, None, "{word:?} in {text:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn neighbours_share_a_bucket() {
        let sorted = ["a", "b", "c", "d", "e", "f", "g"];
        // Three buckets: indexes 0, 3, 6 / 1, 4 / 2, 5.
        assert_eq!(
            bucketed(&sorted, 3),
            vec!["a", "d", "f", "b", "e", "g", "c"]
        );
    }

    #[test]
    fn words_held_by_others_are_searched_once() {
        assert_eq!(
            distinct_words(&["found", "NotFound", "Found", "found", "xfoundx", "x"]),
            vec!["found", "Found", "x"]
        );
    }

    use proptest::prelude::*;

    /// One automaton for all the words, the search of a CPU without SIMD.
    static AUTOMATON: LazyLock<Filter> =
        LazyLock::new(|| Filter::Automaton(AhoCorasick::new(PREFILTER).unwrap()));

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// The packed searchers, asked for hits at increasing positions as the scanner asks, give the hits one
        /// automaton for all the words gives.
        #[test]
        fn packed_searchers_find_what_one_automaton_finds(
            pieces in proptest::collection::vec(
                prop_oneof![
                    3 => proptest::sample::select(PREFILTER).prop_map(str::to_string),
                    5 => "[a-zA-Z :\"{}│\n]{0,40}",
                ],
                0..40,
            ),
            steps in proptest::collection::vec(0usize..60, 1..20),
        ) {
            let text = pieces.concat();
            let bytes = text.as_bytes();
            let (mut a, mut b) = (FILTER.hits(bytes), AUTOMATON.hits(bytes));
            let mut pos = 0;
            for step in steps.iter().cycle().take(200) {
                let (x, y) = (a.next_from(pos), b.next_from(pos));
                // The automaton reports the match that ends first, the packed searchers the one that starts
                // first (and skip the words others hold): they may differ inside overlapping words, never in the
                // line they hit.
                let line = |at: Option<usize>| at.map(|at| memchr::memchr_iter(b'\n', &bytes[..at]).count());
                prop_assert_eq!(line(x), line(y), "from {} in {:?}", pos, text);
                let Some(hit) = x else { break };
                pos = hit + 1 + step;
            }
        }
    }

    /// A scan gives the same findings, in the same order, and the same stats on the calling thread only and on
    /// any number of workers, whatever the buffer size.
    #[test]
    fn threads_change_nothing() {
        let failures = [
            DENIED,
            r#"Error from server (NotFound): namespaces "staging" not found"#,
            "> configmaps is forbidden: User \"bob\" cannot\n> list resource \"configmaps\" in API group \"\" in the namespace \"y\"",
            r#"2026-07-01T10:00:01Z DEBUG kube_runtime::watcher: watcher error: WatchError(Status { status: Some(Failure), code: 410, message: "too old resource version: 1234 (5678)", metadata: None, reason: "Expired", details: None })"#,
        ];
        let mut input = String::new();
        for i in 0..1000 {
            if i % 7 == 3 {
                input.push_str(failures[i % failures.len()]);
            } else {
                input.push_str("2026-07-01T10:00:00Z INFO reconciling object name=hello");
            }
            input.push('\n');
            if i == 500 {
                // A line longer than the window, with a failure in it.
                input.push_str(&"x".repeat(5 * OVERLAP));
                input.push_str(DENIED);
                input.push_str(&"y".repeat(3 * OVERLAP));
                input.push('\n');
            }
        }
        input.push_str(failures[1]);
        let scan = |window: usize, threads: usize| {
            let mut s = Scanner::with_window(window).with_threads(threads);
            let stats = s.read("t", input.as_bytes()).unwrap();
            (stats, s.into_findings())
        };
        let (stats, findings) = scan(2 * OVERLAP, 0);
        let lines = memchr::memchr_iter(b'\n', input.as_bytes()).count() as u64 + 1;
        assert_eq!((stats.lines, stats.long_lines), (lines, 1));
        assert_eq!(findings.len(), 4, "{findings:#?}");
        for window in [2 * OVERLAP, 3 * OVERLAP + 7] {
            for threads in [0, 1, 3] {
                let (s, f) = scan(window, threads);
                assert_eq!(s.lines, stats.lines, "window {window}, {threads} threads");
                assert_eq!(
                    s.candidates, stats.candidates,
                    "window {window}, {threads} threads"
                );
                assert!(f == findings, "window {window}, {threads} threads: {f:#?}");
            }
        }
    }

    /// A read error keeps what was read before it, including what the workers were still parsing.
    #[test]
    fn what_was_read_before_an_error_is_kept() {
        struct Failing<'a>(&'a [u8]);
        impl Read for Failing<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() {
                    return Err(io::Error::other("the disk went away"));
                }
                let n = buf.len().min(self.0.len()).min(4096);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let input = format!("{DENIED}\n{}", "noise\n".repeat(30_000));
        let mut s = Scanner::with_window(2 * OVERLAP).with_threads(2);
        let err = s.read("t", Failing(input.as_bytes())).unwrap_err();
        assert_eq!(err.to_string(), "the disk went away");
        assert_eq!(s.findings().len(), 1, "{:#?}", s.findings());
        assert_eq!(s.findings()[0].first_line, 1);
    }
}
