//! Reading one container's log from the API server (`pods/log`, which the API server proxies to the node's
//! kubelet) into the log scanner in bounded memory: the stream is asked with the kubelet's time stamps, which are
//! cut off each line before the scanner sees it and kept (one number a line) to say when a failure was last
//! seen; the scanner runs on a thread of its own, fed through a small channel, so at most a few chunks of a log
//! are in memory at once however long it is.

use std::io::{self, Read};

use futures::AsyncBufReadExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};
use tokio::sync::{mpsc, oneshot};

use super::Options;
use crate::scan::{Finding, Scanner};

/// How many chunks may wait between the stream and the scanner.
const QUEUE: usize = 4;
/// The size of a chunk handed to the scanner.
const CHUNK: usize = 64 << 10;
/// The longest time stamp the kubelet writes (`2026-07-01T10:00:00.123456789+00:00`), with room to spare.
const MAX_STAMP: usize = 48;

/// One log to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct LogJob {
    /// The pod.
    pub pod: String,
    /// The container.
    pub container: String,
    /// The previous container's log (after a restart).
    pub previous: bool,
}

impl LogJob {
    /// `pod/container`, or `pod/container (previous)`.
    pub fn source(&self) -> String {
        let previous = if self.previous { " (previous)" } else { "" };
        format!("{}/{}{previous}", self.pod, self.container)
    }
}

/// What reading one log found.
#[derive(Debug)]
pub(super) struct LogRead {
    /// Each finding, with the time (Unix seconds) of the line it was last seen on, when the line had one.
    pub findings: Vec<(Finding, Option<i64>)>,
    /// Bytes received.
    pub bytes: u64,
    /// Lines read.
    pub lines: u64,
    /// It reached the byte limit.
    pub truncated: bool,
    /// The stream broke off, why.
    pub broken: Option<String>,
}

/// Reads one log: `Err` when the API server refuses it (the reader's own failure to report).
pub(super) async fn read(
    api: &Api<Pod>,
    job: &LogJob,
    options: &Options,
) -> Result<LogRead, kube::Error> {
    let params = LogParams {
        container: Some(job.container.clone()),
        previous: job.previous,
        since_seconds: options
            .since
            .map(|s| i64::try_from(s.as_secs().max(1)).unwrap_or(i64::MAX)),
        limit_bytes: Some(i64::try_from(options.limit_bytes).unwrap_or(i64::MAX)),
        timestamps: true,
        ..LogParams::default()
    };
    let stream = api.log_stream(&job.pod, &params).await?;
    Ok(scan_stream(job.source(), stream, options.limit_bytes).await)
}

/// Scans a log stream with time-stamped lines (`<RFC 3339> <line>`), reading at most `limit` bytes.
pub(super) async fn scan_stream(
    source: String,
    stream: impl futures::AsyncBufRead + Unpin,
    limit: u64,
) -> LogRead {
    let (tx, rx) = mpsc::channel::<Vec<u8>>(QUEUE);
    let (done_tx, done_rx) = oneshot::channel();
    let name = source.clone();
    let spawned = std::thread::Builder::new()
        .name("kubewhy-log-scan".into())
        .spawn(move || {
            // One log per thread, several logs at once: the parallelism is across logs, not inside one.
            let mut scanner = Scanner::new().with_threads(0);
            let read = scanner.read(&name, ChannelReader::new(rx));
            // The receiver is gone only when the reading task was dropped (cancelled): nobody wants the result.
            let _ = done_tx.send((scanner.into_findings(), read));
        });
    let mut out = LogRead {
        findings: Vec::new(),
        bytes: 0,
        lines: 0,
        truncated: false,
        broken: None,
    };
    if let Err(e) = spawned {
        out.broken = Some(format!("starting a thread to scan it failed: {e}"));
        return out;
    }
    let mut stamps = Stamps::default();
    let pumped = pump(stream, &tx, &mut stamps, limit).await;
    drop(tx);
    match pumped {
        Ok(bytes) => {
            out.bytes = bytes;
            out.truncated = bytes >= limit;
        }
        Err((bytes, e)) => {
            out.bytes = bytes;
            out.broken = Some(e);
        }
    }
    match done_rx.await {
        Ok((findings, Ok(stats))) => {
            out.lines = stats.lines;
            out.findings = findings
                .into_iter()
                .map(|f| {
                    let at = stamps.at(f.last_line);
                    (f, at)
                })
                .collect();
        }
        // The channel reader never fails: an error here is the scanner's own, kept with what it found.
        Ok((findings, Err(e))) => {
            out.broken.get_or_insert(format!("scanning it failed: {e}"));
            out.findings = findings.into_iter().map(|f| (f, None)).collect();
        }
        Err(_) => {
            out.broken
                .get_or_insert_with(|| "the thread scanning it stopped unexpectedly".into());
        }
    }
    out
}

/// Moves the stream into the scanner's channel, time stamps cut off, until its end or `limit` bytes: the bytes
/// received, or them and why the stream broke off.
async fn pump(
    mut stream: impl futures::AsyncBufRead + Unpin,
    tx: &mpsc::Sender<Vec<u8>>,
    stamps: &mut Stamps,
    limit: u64,
) -> Result<u64, (u64, String)> {
    let mut bytes = 0u64;
    let mut chunk = Vec::with_capacity(CHUNK);
    loop {
        let buf = match stream.fill_buf().await {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                stamps.finish(&mut chunk);
                send(tx, chunk).await;
                return Err((bytes, e.to_string()));
            }
        };
        if buf.is_empty() {
            break;
        }
        let take = buf
            .len()
            .min(usize::try_from(limit - bytes).unwrap_or(usize::MAX));
        stamps.strip(&buf[..take], &mut chunk);
        stream.consume_unpin(take);
        bytes += take as u64;
        if chunk.len() >= CHUNK {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK));
            if !send(tx, full).await {
                return Err((bytes, "the scanner stopped reading".into()));
            }
        }
        if bytes >= limit {
            break;
        }
    }
    stamps.finish(&mut chunk);
    send(tx, chunk).await;
    Ok(bytes)
}

/// Sends a chunk to the scanner: false when it no longer reads.
async fn send(tx: &mpsc::Sender<Vec<u8>>, chunk: Vec<u8>) -> bool {
    chunk.is_empty() || tx.send(chunk).await.is_ok()
}

/// The kubelet's time stamp of each line (Unix seconds, `i64::MIN` for a line without one), cut off the lines.
#[derive(Debug)]
pub(super) struct Stamps {
    times: Vec<i64>,
    /// At a line's start: the bytes of its time stamp so far.
    head: Vec<u8>,
    in_head: bool,
}

impl Default for Stamps {
    fn default() -> Stamps {
        Stamps {
            times: Vec::new(),
            head: Vec::with_capacity(MAX_STAMP),
            in_head: true,
        }
    }
}

impl Stamps {
    /// Copies `input` to `out` without the time stamp at the start of each line.
    pub(super) fn strip(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        while !input.is_empty() {
            if self.in_head {
                let end = input
                    .iter()
                    .take(MAX_STAMP + 1 - self.head.len())
                    .position(|&b| b == b' ' || b == b'\n');
                match end {
                    Some(i) => {
                        self.head.extend_from_slice(&input[..i]);
                        let newline = input[i] == b'\n';
                        self.end_head(out, !newline);
                        if newline {
                            out.push(b'\n');
                            self.in_head = true;
                        }
                        input = &input[i + 1..];
                    }
                    None if self.head.len() + input.len() > MAX_STAMP => {
                        // No time stamp at this line's start: keep the line whole.
                        let room = MAX_STAMP + 1 - self.head.len();
                        self.head.extend_from_slice(&input[..room]);
                        self.times.push(i64::MIN);
                        out.append(&mut self.head);
                        self.in_head = false;
                        input = &input[room..];
                    }
                    None => {
                        self.head.extend_from_slice(input);
                        input = &[];
                    }
                }
            } else {
                match memchr::memchr(b'\n', input) {
                    Some(i) => {
                        out.extend_from_slice(&input[..=i]);
                        self.in_head = true;
                        input = &input[i + 1..];
                    }
                    None => {
                        out.extend_from_slice(input);
                        input = &[];
                    }
                }
            }
        }
    }

    /// The head of a line is complete (`spaced`: a space followed it): a time stamp is dropped and recorded,
    /// anything else kept as the line's start.
    fn end_head(&mut self, out: &mut Vec<u8>, spaced: bool) {
        let at = std::str::from_utf8(&self.head)
            .ok()
            .and_then(|s| s.parse::<k8s_openapi::jiff::Timestamp>().ok());
        match at {
            Some(t) => self.times.push(t.as_second()),
            None => {
                self.times.push(i64::MIN);
                out.append(&mut self.head);
                if spaced {
                    out.push(b' ');
                }
            }
        }
        self.head.clear();
        self.in_head = false;
    }

    /// The end of the stream: a last line without a newline.
    pub(super) fn finish(&mut self, out: &mut Vec<u8>) {
        if self.in_head && !self.head.is_empty() {
            self.end_head(out, false);
        }
    }

    /// The time of line `line` (1-based).
    pub(super) fn at(&self, line: u64) -> Option<i64> {
        let i = usize::try_from(line.checked_sub(1)?).ok()?;
        self.times.get(i).copied().filter(|&t| t != i64::MIN)
    }
}

/// A `Read` over the chunks a channel delivers, for the scanner's thread.
struct ChannelReader {
    rx: mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl ChannelReader {
    fn new(rx: mpsc::Receiver<Vec<u8>>) -> ChannelReader {
        ChannelReader {
            rx,
            chunk: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.chunk.len() {
            match self.rx.blocking_recv() {
                Some(chunk) => {
                    self.chunk = chunk;
                    self.pos = 0;
                }
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip_in_pieces(input: &str, piece: usize) -> (String, Stamps) {
        let mut stamps = Stamps::default();
        let mut out = Vec::new();
        for part in input.as_bytes().chunks(piece) {
            stamps.strip(part, &mut out);
        }
        stamps.finish(&mut out);
        (String::from_utf8(out).unwrap(), stamps)
    }

    #[test]
    fn time_stamps_are_cut_off_and_kept_whatever_the_chunks() {
        let input = "2026-07-01T10:00:00.123456789Z first line\n2026-07-01T10:00:05Z \n\nno stamp here\n2026-07-01T10:01:00Z last";
        for piece in [1, 2, 7, 20, 1000] {
            let (out, stamps) = strip_in_pieces(input, piece);
            assert_eq!(out, "first line\n\n\nno stamp here\nlast", "piece {piece}");
            let t0 = "2026-07-01T10:00:00Z"
                .parse::<k8s_openapi::jiff::Timestamp>()
                .unwrap()
                .as_second();
            assert_eq!(stamps.at(1), Some(t0));
            assert_eq!(stamps.at(2), Some(t0 + 5));
            assert_eq!(stamps.at(3), None);
            assert_eq!(stamps.at(4), None);
            assert_eq!(stamps.at(5), Some(t0 + 60));
            assert_eq!(stamps.at(6), None);
        }
    }

    #[test]
    fn a_long_first_word_is_kept_whole() {
        let word = "x".repeat(200);
        let input = format!("{word} y\nshort\n");
        for piece in [1, 3, 64, 1000] {
            let (out, stamps) = strip_in_pieces(&input, piece);
            assert_eq!(out, input, "piece {piece}");
            assert_eq!(stamps.at(1), None);
        }
    }

    #[tokio::test]
    async fn a_stream_is_scanned_to_the_limit_with_times() {
        let line = r#"2026-07-01T10:00:00Z E0701 10:00:00.000000       1 reflector.go:166] "Unhandled Error" err="failed to list *v1.ConfigMap: configmaps is forbidden: User \"system:serviceaccount:shop:web\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"shop\"""#;
        let text = format!(
            "{line}\n{}",
            format!("{line}\n").replace("10:00:00Z", "10:02:00Z")
        );
        let read = scan_stream("t".into(), futures::io::Cursor::new(text.clone()), 1 << 20).await;
        assert_eq!(
            (read.bytes, read.lines, read.truncated),
            (text.len() as u64, 2, false)
        );
        assert!(read.broken.is_none());
        assert_eq!(read.findings.len(), 1, "{:#?}", read.findings);
        let at = "2026-07-01T10:02:00Z"
            .parse::<k8s_openapi::jiff::Timestamp>()
            .unwrap()
            .as_second();
        assert_eq!(read.findings[0].1, Some(at));
        assert_eq!(read.findings[0].0.count, 2);
        // Cut at the limit: only the first line is read.
        let read = scan_stream(
            "t".into(),
            futures::io::Cursor::new(text.clone()),
            line.len() as u64 + 1,
        )
        .await;
        assert!(read.truncated);
        assert_eq!((read.lines, read.findings[0].0.count), (1, 1));
    }
}
