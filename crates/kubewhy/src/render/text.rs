//! Text in the rustc/cargo shape: `error[class]: summary`, `--> where`, the line that failed, `= cause:`,
//! `= note:`, `= help:` and the manifest to apply. Colour only when asked ([`TextOptions::color`]); the caller
//! decides (a terminal, and `NO_COLOR` unset).

use std::io::{self, Write};

use super::{Level, Paint};
use crate::diagnosis::{Diagnosis, Request};
use crate::fold::Hit;
use crate::vocab::request_resource;

/// How to render.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TextOptions {
    /// Use ANSI colours.
    pub color: bool,
    /// Show the remedy's manifest (a report that prints one merged fix at its end leaves them out).
    pub manifests: bool,
}

impl Default for TextOptions {
    fn default() -> TextOptions {
        TextOptions {
            color: false,
            manifests: true,
        }
    }
}

impl TextOptions {
    /// With ANSI colours, or without.
    #[must_use]
    pub fn with_color(mut self, color: bool) -> TextOptions {
        self.color = color;
        self
    }

    /// With the remedies' manifests, or without.
    #[must_use]
    pub fn with_manifests(mut self, manifests: bool) -> TextOptions {
        self.manifests = manifests;
        self
    }
}

/// Where a diagnosis was found, for the `-->` line and the excerpt.
#[derive(Debug, Clone, Copy)]
pub struct Location<'a> {
    /// The file (or `<stdin>`).
    pub source: &'a str,
    /// First line it was seen on.
    pub first_line: u64,
    /// Last line it was seen on.
    pub last_line: u64,
    /// How many lines held it.
    pub count: u64,
    /// The first line's text.
    pub excerpt: &'a str,
    /// The requests it hit, each with its count and lines (several when the cause is not the request's: an
    /// unreachable server, a rejected credential, a throttling server).
    pub requests: &'a [Hit],
    /// How many of its failures were of requests `requests` does not list (a bounded list).
    pub unlisted: u64,
}

/// How many of a finding's requests the text lists (the rest are counted).
const REQUESTS_SHOWN: usize = 8;

/// Writes one diagnosis without a source location: `-->` names the request when it is known, and the server's
/// message is shown as a note.
pub fn write_diagnosis(w: &mut impl Write, d: &Diagnosis, opts: &TextOptions) -> io::Result<()> {
    write_at(w, d, None, opts)
}

/// `GET /api/v1/...`, or `list configmaps in namespace x`, or nothing.
fn request_line(d: &Diagnosis) -> Option<String> {
    request_text(&d.request, false)
}

/// A request in a few words: `GET` and its URL (without its query when `short`: it changes on every retry), else
/// its verb and target; `None` when it names too little.
fn request_text(r: &Request, short: bool) -> Option<String> {
    if let (Some(m), Some(u)) = (&r.method, &r.url) {
        let u = if short {
            u.split('?').next().unwrap_or(u)
        } else {
            u
        };
        return Some(format!("{m} {u}"));
    }
    let mut parts = Vec::new();
    if let Some(v) = &r.verb {
        parts.push(v.clone());
    }
    if let Some(p) = &r.path {
        parts.push(p.clone());
    } else if let Some(t) = request_resource(r) {
        parts.push(t);
        if let Some(n) = &r.name {
            parts.push(format!("`{n}`"));
        }
    } else if let Some(k) = &r.kind {
        parts.push(format!("kind {k}"));
    }
    if let Some(ns) = &r.namespace {
        parts.push(format!("in namespace {ns}"));
    }
    if let Some(u) = &r.url
        && r.method.is_none()
    {
        parts.push(format!("({u})"));
    }
    (parts.len() > 1 || (parts.len() == 1 && r.verb.is_none())).then(|| parts.join(" "))
}

/// Writes a diagnosis, with a location when one is given.
pub fn write_at(
    w: &mut impl Write,
    d: &Diagnosis,
    loc: Option<Location<'_>>,
    opts: &TextOptions,
) -> io::Result<()> {
    let p = Paint { on: opts.color };
    let level = Level::of(d);
    let width = loc.map_or(1, |l| l.first_line.to_string().len()).max(1);
    let pad = " ".repeat(width);
    let bar = p.gutter(&format!("{pad} |"));
    let eq = p.gutter(&format!("{pad} ="));
    let described = d.describe();
    let remedy = d.remedy();
    let summary = if described.summary.is_empty() {
        &d.message
    } else {
        &described.summary
    };
    writeln!(
        w,
        "{}{}",
        p.level(level, &format!("{}[{}]", level.as_str(), d.class)),
        p.bold(&format!(": {summary}"))
    )?;
    match loc {
        Some(l) => {
            let seen = if l.count > 1 {
                format!(" (seen {} times, last at line {})", l.count, l.last_line)
            } else {
                String::new()
            };
            writeln!(
                w,
                "{}{} {}:{}{seen}",
                pad,
                p.gutter("-->"),
                l.source,
                l.first_line
            )?;
            writeln!(w, "{bar}")?;
            writeln!(
                w,
                "{} {}",
                p.gutter(&format!("{:>width$} |", l.first_line)),
                one_line(l.excerpt)
            )?;
            writeln!(w, "{bar}")?;
        }
        None => {
            if let Some(req) = request_line(d) {
                writeln!(w, "{}{} {req}", pad, p.gutter("-->"))?;
            }
            writeln!(w, "{bar}")?;
            if !d.message.is_empty() && d.message != *summary {
                writeln!(w, "{eq} {}: {}", p.bold("message"), one_line(&d.message))?;
            }
        }
    }
    if !described.cause.is_empty() {
        writeln!(w, "{eq} {}: {}", p.bold("cause"), described.cause)?;
    }
    if let Some(l) = loc.filter(|l| l.requests.len() > 1) {
        write_requests(w, l.requests, l.unlisted, &pad, &eq, &p)?;
    }
    for n in &described.notes {
        writeln!(w, "{eq} {}: {n}", p.bold("note"))?;
    }
    if !remedy.text.is_empty() {
        let mut lines = remedy.text.lines();
        if let Some(first) = lines.next() {
            writeln!(w, "{eq} {}: {first}", p.bold("help"))?;
        }
        for l in lines {
            writeln!(w, "{pad}   {l}")?;
        }
    }
    if let Some(yaml) = remedy.yaml.as_ref().filter(|_| opts.manifests) {
        writeln!(w, "{bar}")?;
        for l in yaml.lines() {
            writeln!(w, "{} {}", p.gutter(&format!("{pad} +")), p.added(l))?;
        }
        writeln!(w, "{bar}")?;
    }
    // A command the help's own words already show (a numbered step of "likely causes") is not repeated as a line
    // of its own; JSON keeps every command in `remedy.commands`.
    for c in remedy
        .commands
        .iter()
        .filter(|c| !remedy.text.contains(&format!("`{c}`")))
    {
        writeln!(w, "{eq} {}: `{c}`", p.bold("help"))?;
    }
    writeln!(w)
}

/// The requests one cause failed: `= note: the same cause failed 3 requests:` and a line for each (at most
/// [`REQUESTS_SHOWN`]), with how often and where.
fn write_requests(
    w: &mut impl Write,
    requests: &[Hit],
    unlisted: u64,
    pad: &str,
    eq: &str,
    p: &Paint,
) -> io::Result<()> {
    let how_many = if unlisted > 0 {
        format!("more than {}", requests.len())
    } else {
        requests.len().to_string()
    };
    writeln!(
        w,
        "{eq} {}: the same cause failed {how_many} requests:",
        p.bold("note"),
    )?;
    // Under the note's text, as rustc continues a note.
    let indent = format!("{pad}         ");
    for h in requests.iter().take(REQUESTS_SHOWN) {
        let what = hit_text(&h.request);
        let times = if h.count > 1 {
            format!("{} times, ", h.count)
        } else {
            String::new()
        };
        let lines = if h.first_line == h.last_line {
            format!("line {}", h.first_line)
        } else {
            format!("lines {}–{}", h.first_line, h.last_line)
        };
        writeln!(w, "{indent}{} ({times}{lines})", one_line(&what))?;
    }
    if requests.len() > REQUESTS_SHOWN {
        writeln!(w, "{indent}and {} more", requests.len() - REQUESTS_SHOWN)?;
    }
    if unlisted > 0 {
        writeln!(w, "{indent}and {unlisted} failures of requests not listed")?;
    }
    Ok(())
}

/// One request of a list: its verb and target when known (`watch services in namespace x`), else its method and
/// URL without the query, else whatever it names.
fn hit_text(r: &Request) -> String {
    let target = Request {
        method: None,
        url: None,
        ..r.clone()
    };
    match (&r.verb, request_text(&target, true)) {
        (Some(_), Some(text)) => text,
        _ => request_text(r, true)
            .or_else(|| r.url.clone())
            .unwrap_or_else(|| "a request the text does not name".into()),
    }
}

/// The closing line: `error: 3 problems found in app.log (2 errors, 1 warning)`.
pub fn write_totals(
    w: &mut impl Write,
    diagnoses: &[&Diagnosis],
    sources: &str,
    opts: &TextOptions,
) -> io::Result<()> {
    let p = Paint { on: opts.color };
    let findings = diagnoses;
    let warnings = findings
        .iter()
        .filter(|d| Level::of(d) == Level::Warning)
        .count();
    let errors = findings.len() - warnings;
    if findings.is_empty() {
        return writeln!(w, "no Kubernetes API failures found in {sources}");
    }
    let level = if errors > 0 {
        Level::Error
    } else {
        Level::Warning
    };
    writeln!(
        w,
        "{}: {} distinct problem{} found in {sources} ({errors} error{}, {warnings} warning{})",
        p.level(level, level.as_str()),
        findings.len(),
        plural(findings.len()),
        plural(errors),
        plural(warnings),
    )
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A line for display: control characters made visible, at most 300 characters.
fn one_line(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(300)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.chars().count() > 300 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_rustc_style_without_colour() {
        let d = crate::diagnose_text(
            r#"configmaps is forbidden: User "system:serviceaccount:ns:sa" cannot list resource "configmaps" in API group "" in the namespace "ns""#,
        )
        .unwrap();
        let mut out = Vec::new();
        write_diagnosis(&mut out, &d, &TextOptions::default()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("error[forbidden]: service account `ns/sa` cannot `list` `configmaps` in namespace `ns`\n"),
            "{text}"
        );
        assert!(text.contains("  = cause: "), "{text}");
        assert!(text.contains("  + kind: RoleBinding"), "{text}");
        assert!(!text.contains('\x1b'));
        let mut coloured = Vec::new();
        write_diagnosis(
            &mut coloured,
            &d,
            &TextOptions {
                color: true,
                ..TextOptions::default()
            },
        )
        .unwrap();
        assert!(
            String::from_utf8(coloured)
                .unwrap()
                .contains("\x1b[1;31merror[forbidden]")
        );
    }

    #[test]
    fn no_help_line_repeats_a_numbered_step() {
        let d = crate::diagnose_text(
            r#"failed to list *v1.TLSRoute: the server could not find the requested resource (get tlsroutes.gateway.networking.k8s.io)"#,
        )
        .unwrap();
        let remedy = d.remedy();
        assert!(remedy.text.contains("  1. "), "{}", remedy.text);
        assert!(!remedy.commands.is_empty(), "JSON keeps the commands");
        let mut out = Vec::new();
        write_diagnosis(&mut out, &d, &TextOptions::default()).unwrap();
        let text = String::from_utf8(out).unwrap();
        for c in &remedy.commands {
            assert_eq!(
                text.matches(&format!("`{c}`")).count(),
                1,
                "`{c}` is shown once:\n{text}"
            );
        }
    }

    #[test]
    fn a_finding_that_hit_several_requests_lists_them() {
        let input = r#"E0922 01:30:03.632236 7 reflector.go:138] Failed to watch *v1.Service: Get "https://10.43.0.1:443/api/v1/services?watch=true": dial tcp 10.43.0.1:443: connect: connection refused"#;
        let d = crate::diagnose_text(input).unwrap();
        let hit = |url: &str, count, first_line, last_line| Hit {
            request: crate::url::parse_request("GET", url),
            count,
            first_line,
            last_line,
        };
        let mut requests: Vec<Hit> = (0..REQUESTS_SHOWN as u64)
            .map(|i| {
                hit(
                    &format!("https://10.43.0.1:443/api/v1/namespaces/n{i}/pods?watch=true"),
                    1,
                    10 + i,
                    10 + i,
                )
            })
            .collect();
        requests.insert(
            0,
            hit("https://10.43.0.1:443/api/v1/services?watch=true", 2, 7, 19),
        );
        let loc = Location {
            source: "app.log",
            first_line: 7,
            last_line: 19,
            count: 10,
            excerpt: input,
            requests: &requests,
            unlisted: 0,
        };
        let mut out = Vec::new();
        write_at(&mut out, &d, Some(loc), &TextOptions::default()).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(
                "  = note: the same cause failed 9 requests:\n          watch services (2 times, lines 7–19)\n          watch pods in namespace n0 (line 10)\n"
            ),
            "{text}"
        );
        assert!(text.contains("\n          and 1 more\n"), "{text}");
        // One request: no list.
        let loc = Location {
            requests: &requests[..1],
            unlisted: 0,
            ..loc
        };
        let mut out = Vec::new();
        write_at(&mut out, &d, Some(loc), &TextOptions::default()).unwrap();
        assert!(
            !String::from_utf8(out)
                .unwrap()
                .contains("the same cause failed")
        );
    }
}
