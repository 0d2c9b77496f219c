//! The text form of a preflight report: a header, one line per check (`pass` / `FAIL` / `skip`), each failure
//! as a rustc-style diagnosis whose `-->` names the declared need, and a closing summary line.

use super::{Check, CheckKind, Outcome, Report};
use crate::diagnosis::{Class, Diagnosis};

/// Appends one formatted line to a `String` (which, unlike `writeln!`, has no error to discard).
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {{
        $out.push_str(&format!($($arg)*));
        $out.push('\n');
    }};
}

/// How the text is written.
#[derive(Debug, Clone, Default)]
pub struct TextOptions {
    /// Use ANSI colours in the diagnoses.
    pub color: bool,
    /// List every passing check (default: the passes of `served`, `access` and `probe` are counted on one line
    /// per kind).
    pub verbose: bool,
    /// The command that prints the fix (e.g. `kubewhy check --needs needs.yaml --fix`), named in the last help
    /// line when something is missing.
    pub fix_command: Option<String>,
}

fn origin(needs: &[usize]) -> Option<String> {
    let list: Vec<String> = needs.iter().map(|n| format!("#{n}")).collect();
    match list.len() {
        0 => None,
        1 => Some(format!("need {}", list[0])),
        _ => Some(format!("needs {}", list.join(", "))),
    }
}

/// The failures' diagnoses with their origin, in report order; denials of several verbs on one resource and
/// scope are shown as one.
fn diagnoses(report: &Report) -> Vec<(Option<String>, Diagnosis)> {
    let mut out: Vec<(Option<String>, Diagnosis)> = Vec::new();
    let failures: Vec<&Check> = report.failures().collect();
    let mut done = vec![false; failures.len()];
    for i in 0..failures.len() {
        if done[i] {
            continue;
        }
        let Some(d) = &failures[i].diagnosis else {
            continue;
        };
        if failures[i].kind == CheckKind::Access && d.class == Class::Forbidden {
            let alike: Vec<usize> = (i..failures.len())
                .filter(|&j| {
                    !done[j]
                        && failures[j].kind == CheckKind::Access
                        && failures[j]
                            .diagnosis
                            .as_ref()
                            .is_some_and(|e| super::access::merge_denials(&[d, e]).is_some())
                })
                .collect();
            let group: Vec<&Diagnosis> = alike
                .iter()
                .filter_map(|&j| failures[j].diagnosis.as_ref())
                .collect();
            if let Some(merged) = super::access::merge_denials(&group) {
                let mut needs: Vec<usize> =
                    alike.iter().filter_map(|&j| failures[j].need).collect();
                needs.dedup();
                for j in alike {
                    done[j] = true;
                }
                out.push((origin(&needs), merged));
                continue;
            }
        }
        done[i] = true;
        let needs: Vec<usize> = failures[i].need.into_iter().collect();
        out.push((origin(&needs), d.clone()));
    }
    out
}

/// The report as text.
pub fn render(report: &Report, options: &TextOptions) -> String {
    let mut out = String::new();
    let version = report
        .server_version
        .as_deref()
        .map(|v| format!(" (Kubernetes {v})"))
        .unwrap_or_default();
    let as_whom = match (&report.subject, &report.caller) {
        (Some(s), Some(c)) if s.user != c.user => format!(" as `{}`", s.user),
        (Some(s), None) => format!(" as `{}`", s.user),
        _ => String::new(),
    };
    say!(
        out,
        "checking the needs of `{}`{as_whom} on {}{version}",
        report.name,
        report.server
    );
    for (i, check) in report.checks.iter().enumerate() {
        let word = match check.outcome {
            Outcome::Pass => "pass",
            Outcome::Fail => "FAIL",
            Outcome::Skipped => "skip",
        };
        // Without `verbose`, the passes of the numerous kinds are counted on one line after the kind's last check.
        let numerous = matches!(
            check.kind,
            CheckKind::Served | CheckKind::Access | CheckKind::Probe
        );
        if check.outcome == Outcome::Pass && numerous && !options.verbose {
            let last_of_kind = report
                .checks
                .get(i + 1)
                .is_none_or(|next| next.kind != check.kind);
            if last_of_kind {
                let of_kind: Vec<&Check> = report
                    .checks
                    .iter()
                    .filter(|c| c.kind == check.kind)
                    .collect();
                let passed = of_kind
                    .iter()
                    .filter(|c| c.outcome == Outcome::Pass)
                    .count();
                let what = match check.kind {
                    CheckKind::Served => "types served",
                    CheckKind::Access => "permissions allowed",
                    _ => "watched types listed and watched",
                };
                say!(
                    out,
                    "  pass  {:<6}  {passed} of {} {what}",
                    check.kind.as_str(),
                    of_kind.len()
                );
            }
            continue;
        }
        let detail = match check.outcome {
            Outcome::Fail => String::new(),
            _ if check.detail.is_empty() => String::new(),
            _ => format!(": {}", check.detail),
        };
        say!(
            out,
            "  {word}  {:<6}  {}{detail}",
            check.kind.as_str(),
            check.name
        );
    }
    out.push('\n');
    let render_options = crate::render::text::TextOptions {
        color: options.color,
    };
    for (origin, mut d) in diagnoses(report) {
        if let Some(origin) = origin {
            d.notes
                .insert(0, format!("declared by {origin} of `{}`", report.name));
        }
        let mut buf = Vec::new();
        match crate::render::text::write_diagnosis(&mut buf, &d, &render_options) {
            Ok(()) => out.push_str(&String::from_utf8_lossy(&buf)),
            // Writing to a Vec cannot fail; should the renderer ever fail, the one-line form still shows it.
            Err(_) => say!(out, "{d}"),
        }
    }
    let s = report.summary;
    let total = s.passed + s.failed + s.skipped;
    if let Some(why) = &report.blocked {
        say!(out, "error: the checks could not run: {why}");
        say!(
            out,
            "  = note: {} of {total} checks failed, {} passed, {} skipped",
            s.failed,
            s.passed,
            s.skipped
        );
    } else if s.failed > 0 {
        say!(
            out,
            "error: {} of {total} checks failed for `{}` ({} passed, {} skipped)",
            s.failed,
            report.name,
            s.passed,
            s.skipped
        );
    } else {
        say!(
            out,
            "ok: all {} checks passed for `{}`{}",
            s.passed,
            report.name,
            if s.skipped > 0 {
                format!(" ({} skipped)", s.skipped)
            } else {
                String::new()
            }
        );
    }
    let fix = &report.fix;
    if !fix.is_empty() {
        let mut parts = Vec::new();
        if !fix.permissions.is_empty() && fix.rbac.is_some() {
            parts.push(format!(
                "grants the {} missing permission(s)",
                fix.permissions.len()
            ));
        }
        if !fix.commands.is_empty() {
            parts.push(format!("lists {} install command(s)", fix.commands.len()));
        }
        if !fix.edits.is_empty() {
            parts.push(format!(
                "lists {} correction(s) to the needs file",
                fix.edits.len()
            ));
        }
        let command = options
            .fix_command
            .clone()
            .unwrap_or_else(|| "kubewhy check --needs <file> --fix".into());
        say!(
            out,
            "  = help: `{command} | kubectl apply -f -` {}",
            parts.join(", ")
        );
    }
    for note in &fix.notes {
        say!(out, "  = note: {note}");
    }
    out
}
