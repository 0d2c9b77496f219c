//! Property tests (proptest, run by `cargo test`): no input makes the readers or the scanner panic, line
//! numbers and counts survive any chunking of the input, and a failure reads the same however deeply its
//! quotes are escaped.

use std::io::Read;

use kubewhy::diagnose_text;
use kubewhy::scan::{OVERLAP, Scanner};
use proptest::prelude::*;

mod paste;
use paste::{DAMAGES, damaged, word_wrap};

const MESSAGES: &[&str] = &[
    r#"configmaps is forbidden: User "system:serviceaccount:ns1:sa" cannot list resource "configmaps" in API group "" in the namespace "ns1""#,
    r#"documents.kube.rs "a" is forbidden: User "bob" cannot patch resource "documents/status" in API group "kube.rs" at the cluster scope"#,
    r#"pods "p" is forbidden: admission webhook "deny.example.com" denied the request: no"#,
    r#"documents.kube.rs "nope" not found"#,
    r#"Operation cannot be fulfilled on configmaps "settings": the object has been modified; please apply your changes to the latest version and try again"#,
    r#"ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"#,
];

/// A reader that hands out its data in the given chunk sizes (cycling), like a pipe.
struct Chunked<'a> {
    data: &'a [u8],
    sizes: Vec<usize>,
    i: usize,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = self.sizes[self.i % self.sizes.len()].max(1);
        self.i += 1;
        let n = want.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn summarize(s: &Scanner) -> Vec<(String, u64, u64, u64)> {
    s.findings()
        .iter()
        .map(|f| {
            (
                f.diagnosis.class.to_string(),
                f.count,
                f.first_line,
                f.last_line,
            )
        })
        .collect()
}

/// The diagnosis fields a reading must keep.
fn fields(d: &kubewhy::Diagnosis) -> (String, Option<String>, kubewhy::Request) {
    let mut r = d.request.clone();
    r.url = None;
    (d.class.to_string(), d.user.clone(), r)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        // The tests are in a crate's tests/ directory; failures are reported in full instead of persisted.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn text_readers_never_panic(s in "\\PC*") {
        let _ = diagnose_text(&s);
    }

    #[test]
    fn text_readers_never_panic_on_near_misses(
        prefix in "[ -~]{0,40}",
        i in 0..MESSAGES.len(),
        cut in 0usize..200,
        junk in "[\"\\\\{}():, a-z]{0,20}",
    ) {
        // A real message cut at any point, with junk around it: truncated log lines, broken escapes.
        let m = MESSAGES[i];
        let cut = m.char_indices().map(|(i, _)| i).nth(cut).unwrap_or(m.len());
        for framing in [
            format!("{prefix}{}{junk}", &m[..cut]),
            format!("{prefix}Api(Status {{ code: 403, message: {:?}{junk}", &m[..cut]),
            format!("{prefix}{{\"kind\":\"Status\",\"message\":{}{junk}", serde_json::to_string(&m[..cut]).unwrap()),
        ] {
            let _ = diagnose_text(&framing);
        }
    }

    #[test]
    fn the_scanner_counts_lines_in_any_bytes_and_any_chunking(
        data in proptest::collection::vec(any::<u8>(), 0..4096),
        sizes in proptest::collection::vec(1usize..700, 1..8),
    ) {
        let mut s = Scanner::with_window(2 * OVERLAP);
        let stats = s.read("p", Chunked { data: &data, sizes, i: 0 }).unwrap();
        let newlines = data.iter().filter(|b| **b == b'\n').count() as u64;
        let partial = u64::from(!data.is_empty() && data.last() != Some(&b'\n'));
        prop_assert_eq!(stats.lines, newlines + partial);
        prop_assert_eq!(stats.bytes, data.len() as u64);
    }

    #[test]
    fn a_failure_is_found_on_its_line_whatever_surrounds_it(
        before in proptest::collection::vec("[ -~]{0,120}", 0..40),
        after in proptest::collection::vec("[ -~]{0,120}", 0..40),
        i in 0..MESSAGES.len(),
        sizes in proptest::collection::vec(1usize..5000, 1..5),
    ) {
        // Log records (each opens with its time stamp, so none continues another) around the failure's.
        let record = |l: &str| format!("2026-07-01T10:00:00Z INFO {l}");
        let noise = |l: &String| diagnose_text(&record(l)).is_none();
        let before: Vec<String> = before.into_iter().filter(|l| noise(l)).collect();
        let after: Vec<String> = after.into_iter().filter(|l| noise(l)).collect();
        let mut input = String::new();
        for l in &before { input.push_str(&record(l)); input.push('\n'); }
        input.push_str(&format!("2026-07-01T10:00:01Z ERROR {}", MESSAGES[i]));
        input.push('\n');
        for l in &after { input.push_str(&record(l)); input.push('\n'); }
        let line = before.len() as u64 + 1;
        let want = diagnose_text(MESSAGES[i]).unwrap().class.to_string();

        let mut whole = Scanner::new();
        whole.read("p", input.as_bytes()).unwrap();
        prop_assert_eq!(summarize(&whole), vec![(want, 1, line, line)]);
        let mut chunked = Scanner::with_window(2 * OVERLAP);
        chunked.read("p", Chunked { data: input.as_bytes(), sizes, i: 0 }).unwrap();
        prop_assert_eq!(summarize(&chunked), summarize(&whole));
    }

    #[test]
    fn a_wrapped_failure_is_read_whole_wherever_a_buffer_ends(
        pad in (2 * OVERLAP - 700)..(2 * OVERLAP + 100),
        i in 0..MESSAGES.len(),
        width in 30usize..90,
        sizes in proptest::collection::vec(1usize..5000, 1..5),
    ) {
        // The message quoted in an e-mail reply, wrapped at `width` columns, after `pad` bytes of log: the
        // scanner's first buffer ends anywhere in it.
        let wrapped = word_wrap(MESSAGES[i], width);
        let quoted: Vec<String> = wrapped.iter().map(|l| format!("> {l}")).collect();
        let noise = "2026-07-01T10:00:00Z INFO doc_controller: reconciled object; all is well .........\n";
        let lines = pad / noise.len();
        let input = format!(
            "{}2026-07-01T10:00:00Z INFO {}\n{}\n2026-07-01T10:00:02Z INFO done\n",
            noise.repeat(lines),
            "x".repeat(pad % noise.len()),
            quoted.join("\n")
        );
        let line = lines as u64 + 2;
        let plain = diagnose_text(MESSAGES[i]).unwrap();
        let mut s = Scanner::with_window(2 * OVERLAP);
        let stats = s.read("p", Chunked { data: input.as_bytes(), sizes, i: 0 }).unwrap();
        prop_assert_eq!(stats.lines, line + quoted.len() as u64);
        let found: Vec<_> = s.findings().iter().map(|f| (f.diagnosis.clone(), f.count, f.first_line)).collect();
        prop_assert_eq!(found.len(), 1, "{:#?}", s.findings());
        prop_assert_eq!(&found[0].0.request, &plain.request, "{}", input.len());
        prop_assert_eq!((found[0].0.class, found[0].1, found[0].2), (plain.class, 1, line));
    }

    #[test]
    fn long_lines_are_searched_in_windows(pad in 0usize..120_000, i in 0..MESSAGES.len()) {
        let want = diagnose_text(MESSAGES[i]).unwrap().class.to_string();
        prop_assert_eq!(scan_long_line(pad, i), vec![(want, 1, 1, 1)]);
    }

    #[test]
    fn paste_damage_does_not_change_the_diagnosis(
        i in 0..MESSAGES.len(),
        damage in 0..DAMAGES.len(),
        width in 24usize..100,
        before in "[a-z ]{0,40}",
    ) {
        let m = MESSAGES[i];
        let want = fields(&diagnose_text(m).expect("a known message"));
        let input = format!("2026-07-01T10:00:00Z INFO {before}\n{}\n2026-07-01T10:00:01Z INFO done\n", damaged(m, damage, width));
        let mut s = Scanner::default();
        s.read("p", input.as_bytes()).unwrap();
        prop_assert_eq!(s.findings().len(), 1, "{}\n{:#?}", input, s.findings());
        prop_assert_eq!(fields(&s.findings()[0].diagnosis), want, "{}", input);
    }

    #[test]
    fn escaping_does_not_change_the_diagnosis(i in 0..MESSAGES.len(), prefix in "[a-zA-Z0-9 :=]{0,30}") {
        let m = MESSAGES[i];
        let plain = diagnose_text(m).unwrap();
        let status_debug = format!("{prefix}Api(Status {{ status: Some(Failure), code: 0, message: {m:?}, metadata: None, reason: \"\", details: None }})");
        let json_of_debug = serde_json::to_string(&serde_json::json!({ "msg": status_debug })).unwrap();
        for text in [format!("{prefix} {m}"), status_debug.clone(), json_of_debug] {
            let d = diagnose_text(&text).unwrap();
            prop_assert_eq!(d.class, plain.class, "{}", text);
            prop_assert_eq!(&d.user, &plain.user);
            prop_assert_eq!(&d.request.verb, &plain.request.verb);
            prop_assert_eq!(&d.request.resource, &plain.request.resource);
            prop_assert_eq!(&d.request.namespace, &plain.request.namespace);
            prop_assert_eq!(&d.request.name, &plain.request.name);
        }
    }
}

/// apimachinery's `StatusReason`s (`pkg/apis/meta/v1/types.go`) with the code the API server sends them with, and
/// the HTTP reason phrase of that code.
const REASONS: &[(&str, u16, &str)] = &[
    ("Unauthorized", 401, "Unauthorized"),
    ("Forbidden", 403, "Forbidden"),
    ("NotFound", 404, "Not Found"),
    ("AlreadyExists", 409, "Conflict"),
    ("Conflict", 409, "Conflict"),
    ("Gone", 410, "Gone"),
    ("Invalid", 422, "Unprocessable Entity"),
    ("ServerTimeout", 500, "Internal Server Error"),
    ("StorageReadError", 500, "Internal Server Error"),
    ("Timeout", 504, "Gateway Timeout"),
    ("TooManyRequests", 429, "Too Many Requests"),
    ("BadRequest", 400, "Bad Request"),
    ("MethodNotAllowed", 405, "Method Not Allowed"),
    ("NotAcceptable", 406, "Not Acceptable"),
    ("RequestEntityTooLarge", 413, "Request Entity Too Large"),
    ("UnsupportedMediaType", 415, "Unsupported Media Type"),
    ("InternalError", 500, "Internal Server Error"),
    ("Expired", 410, "Gone"),
    ("ServiceUnavailable", 503, "Service Unavailable"),
];

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Issue 19 item 4: a message no template knows still reads to the class its reason or code gives, in every
    /// printer that keeps the reason or the code.
    #[test]
    fn a_reason_or_a_code_is_never_unknown(
        i in 0..REASONS.len(),
        words in proptest::collection::vec("[b-df-hj-np-tv-z]{4,9}", 2..8),
        printer in 0..6usize,
    ) {
        let (reason, code, phrase) = REASONS[i];
        let message = words.join(" ");
        let status = serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code,
        })
        .to_string();
        let text = match printer {
            0 => format!("Error from server ({reason}): {message}"),
            1 => status.clone(),
            2 => format!(
                "Api(Status {{ status: Some(Failure), code: {code}, message: {message:?}, metadata: None, reason: {reason:?}, details: None }})"
            ),
            3 => format!(
                "kubernetes.client.exceptions.ApiException: ({code})\nReason: {phrase}\nHTTP response headers: HTTPHeaderDict({{'Content-Type': 'application/json'}})\nHTTP response body: {status}\n"
            ),
            4 => format!(
                "io.kubernetes.client.openapi.ApiException: Message: {phrase}\nHTTP response code: {code}\nHTTP response body: {status}\n"
            ),
            _ => format!("2026-07-01T10:00:00Z ERROR controller: reconcile failed: {}", serde_json::json!({"error": status})),
        };
        let d = diagnose_text(&text);
        prop_assert!(d.is_some(), "nothing found in {}", text);
        let d = d.unwrap();
        prop_assert_ne!(d.class.as_str(), "unknown", "{}", text);
        prop_assert_eq!(d.code, Some(code), "{}", text);
        let mut s = Scanner::default();
        s.read("p", text.as_bytes()).unwrap();
        prop_assert!(
            s.findings().iter().any(|f| f.diagnosis.class == d.class),
            "the scanner: {:?}\n{}",
            s.findings().iter().map(|f| f.diagnosis.class).collect::<Vec<_>>(),
            text
        );
    }
}

/// The scanner's findings for one long line: `pad` bytes, a space, message `i`, a space, `pad / 2` bytes.
fn scan_long_line(pad: usize, i: usize) -> Vec<(String, u64, u64, u64)> {
    let mut input = "x".repeat(pad);
    input.push(' ');
    input.push_str(MESSAGES[i]);
    input.push(' ');
    input.push_str(&"y".repeat(pad / 2));
    input.push('\n');
    let mut s = Scanner::with_window(2 * OVERLAP);
    let stats = s.read("p", input.as_bytes()).unwrap();
    assert_eq!(stats.lines, 1);
    summarize(&s)
}

/// The input proptest found (`long_lines_are_searched_in_windows`): the window ending at byte 81,920 cut the
/// message just before its namespace, so the cut copy (no namespace) and the whole copy in the next window were
/// two different failures.
#[test]
fn a_message_cut_by_a_window_edge_is_one_failure() {
    let want = diagnose_text(MESSAGES[0]).unwrap().class.to_string();
    assert_eq!(scan_long_line(81_789, 0), vec![(want, 1, 1, 1)]);
}

/// Every message across a window's edge and across the boundary where the next window takes over the
/// pre-filter hits, at every third offset (each offset costs a parse of 16 KiB in a debug build): always one
/// failure, read whole.
#[test]
fn a_message_at_any_offset_around_a_window_edge_is_one_failure() {
    for (i, m) in MESSAGES.iter().enumerate() {
        let want = vec![(diagnose_text(m).unwrap().class.to_string(), 1, 1, 1)];
        // The first window is [0, 2 * OVERLAP); the second starts at OVERLAP and owns the hits from
        // 1.5 * OVERLAP on. The message starts at pad + 1.
        for edge in [2 * OVERLAP, 3 * OVERLAP / 2] {
            for pad in (edge - m.len() - 2..edge + 2).step_by(3) {
                assert_eq!(scan_long_line(pad, i), want, "message {i}, pad {pad}");
            }
        }
    }
}
