//! A preflight [`Report`] (`kubewhy check`, `doc-controller doctor`) in each [`Format`] through one
//! [`Report::write`]: text (a header, one line per check, each failure as a rustc-style diagnosis — denials of
//! several verbs on one target shown as one — and a closing summary), JSON (the report with each diagnosis in the
//! schema of [`super::json`]) or JUnit (one test case per check).

use std::io::Write;

use super::json::diagnosis_value;
use super::junit::{Case, Outcome as CaseOutcome};
use super::text::{TextOptions, write_diagnosis};
use super::{Format, Paint};
use crate::cause::Cause;
use crate::diagnosis::Diagnosis;
use crate::preflight::{Check, CheckKind, Outcome, Report};

/// How a report is written.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ReportOptions {
    /// Use ANSI colours (text).
    pub color: bool,
    /// List every passing check (default: the passes of `served`, `access` and `probe` are counted on one line per
    /// kind).
    pub verbose: bool,
    /// The command that prints the fix (e.g. `kubewhy check --needs needs.yaml --fix`), named in the last help line
    /// when something is missing.
    pub fix_command: Option<String>,
}

impl ReportOptions {
    /// With ANSI colours (text), or without.
    #[must_use]
    pub fn with_color(mut self, color: bool) -> ReportOptions {
        self.color = color;
        self
    }

    /// Listing every passing check, or counting the numerous ones.
    #[must_use]
    pub fn with_verbose(mut self, verbose: bool) -> ReportOptions {
        self.verbose = verbose;
        self
    }

    /// Naming `command` as the one that prints the fix.
    #[must_use]
    pub fn with_fix_command(mut self, command: impl Into<String>) -> ReportOptions {
        self.fix_command = Some(command.into());
        self
    }
}

pub use super::WriteError;

impl Report {
    /// Writes the report in `format`.
    ///
    /// # Errors
    /// When writing to `w` fails.
    pub fn write(
        &self,
        w: &mut dyn Write,
        format: Format,
        options: &ReportOptions,
    ) -> Result<(), WriteError> {
        match format {
            Format::Text => w.write_all(text(self, options).as_bytes())?,
            Format::Json => {
                serde_json::to_writer_pretty(&mut *w, &json(self)).map_err(WriteError::Json)?;
                writeln!(w)?;
            }
            Format::Junit => junit(self, &mut *w).map_err(WriteError::Junit)?,
        }
        w.flush()?;
        Ok(())
    }
}

/// The report as JSON: its own fields, with each check's diagnosis in the schema of [`super::json`].
fn json(report: &Report) -> serde_json::Value {
    let mut value = serde_json::to_value(report)
        .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }));
    if let Some(checks) = value.get_mut("checks").and_then(|c| c.as_array_mut()) {
        for (wire, check) in checks.iter_mut().zip(&report.checks) {
            if let (Some(d), Some(obj)) = (&check.diagnosis, wire.as_object_mut()) {
                obj.insert("diagnosis".into(), diagnosis_value(d));
            }
        }
    }
    value
}

/// The report as JUnit XML: one test case per check (class `kubewhy.check.<kind>`).
fn junit(report: &Report, w: &mut dyn Write) -> Result<(), super::junit::Error> {
    let classes: Vec<String> = report
        .checks
        .iter()
        .map(|c| format!("kubewhy.check.{}", c.kind))
        .collect();
    // A failure always carries a diagnosis when made by the checks; one built by hand without it still fails.
    let diagnoses: Vec<Diagnosis> = report
        .checks
        .iter()
        .map(|c| {
            c.diagnosis
                .clone()
                .unwrap_or_else(|| Diagnosis::new(Cause::Unknown, c.detail.clone()))
        })
        .collect();
    let cases: Vec<Case<'_>> = report
        .checks
        .iter()
        .zip(&classes)
        .zip(&diagnoses)
        .map(|((c, class), d)| Case {
            class,
            name: &c.name,
            outcome: match c.outcome {
                Outcome::Fail => CaseOutcome::Failed(d),
                Outcome::Pass => CaseOutcome::Passed(&c.detail),
                Outcome::Skipped => CaseOutcome::Skipped(&c.detail),
            },
        })
        .collect();
    super::junit::write(w, "kubewhy check", &report.name, &cases)
}

/// Appends one formatted line to a `String` (which, unlike `writeln!`, has no error to discard).
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {{
        $out.push_str(&format!($($arg)*));
        $out.push('\n');
    }};
}

/// The report as text.
fn text(report: &Report, options: &ReportOptions) -> String {
    let p = Paint { on: options.color };
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
    let unreached = report
        .checks
        .first()
        .is_some_and(|c| c.kind == CheckKind::Reach && c.outcome == Outcome::Fail);
    for (i, check) in report.checks.iter().enumerate() {
        if unreached && i > 0 {
            // Nothing else ran: one line for all of it, not one per check.
            say!(
                out,
                "  skip  {:<6}  the other {} checks: {}",
                "all",
                report.checks.len() - 1,
                check.detail
            );
            break;
        }
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
    let render_options = TextOptions {
        color: options.color,
        // The fix (`--fix`) prints every missing permission merged; the report points to it once.
        manifests: false,
    };
    for d in report.diagnoses() {
        let mut buf = Vec::new();
        match write_diagnosis(&mut buf, &d, &render_options) {
            Ok(()) => out.push_str(&String::from_utf8_lossy(&buf)),
            // Writing to a Vec cannot fail; should the renderer ever fail, the one-line form still shows it.
            Err(_) => say!(out, "{d:#}"),
        }
    }
    let s = report.summary;
    let total = s.passed + s.failed + s.skipped;
    let error = p.level(super::Level::Error, "error");
    if let Some(why) = &report.blocked {
        say!(out, "{error}: the checks could not run: {why}");
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
            "{error}: {} of {total} checks failed for `{}` ({} passed, {} skipped)",
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
        if !fix.changes.is_empty() {
            let fixed: usize = fix.changes.iter().map(|c| c.permissions.len()).sum();
            parts.push(format!(
                "fixes {fixed} missing permission(s) where the RBAC already is ({} object(s) changed or completed)",
                fix.changes.len()
            ));
        }
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
        // The program that prints the fix names its own command; without one, the library's call that writes it.
        match &options.fix_command {
            Some(command) => say!(
                out,
                "  = help: `{command} | kubectl apply -f -` {}",
                parts.join(", ")
            ),
            None => say!(
                out,
                "  = help: the report's fix (`Fix::to_apply_stream`, for `kubectl apply -f -`) {}",
                parts.join(", ")
            ),
        }
    }
    for note in &fix.notes {
        say!(out, "  = note: {note}");
    }
    out
}
