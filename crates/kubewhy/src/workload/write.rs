//! A workload [`Report`] in each [`Format`]: text (what was read and how far, each current failure as a
//! rustc-style diagnosis through [`crate::render::text`], the history in one line each, a closing summary), JSON
//! (the array `kubewhy explain -o json` writes, each finding with a `workload` object: its standing and where it
//! was seen) or JUnit (one case per failure). The reader's own failed requests are written apart
//! ([`Report::write_unread`]), as `explain` writes the inputs it could not read.

use std::io::{self, Write};

use serde::Serialize;

use super::{Found, Report, Standing};
use crate::note::Seen;
use crate::render::text::{self, TextOptions};
use crate::render::{Format, WriteError, json, junit};

/// The `workload` object of a JSON finding.
#[derive(Serialize)]
struct WireWorkload<'a> {
    standing: Standing,
    seen: Option<&'a Seen>,
}

impl Found {
    /// The finding as a JSON value: `kubewhy explain`'s finding with a `workload` object.
    pub fn json_value(&self) -> serde_json::Value {
        let mut value = json::finding_value(&self.finding.diagnosis, &self.finding.location());
        let workload = WireWorkload {
            standing: self.standing,
            seen: self.seen(),
        };
        if let Some(object) = value.as_object_mut() {
            // Plain serde data: serializing it cannot fail.
            let workload = serde_json::to_value(&workload)
                .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }));
            object.insert("workload".into(), workload);
        }
        value
    }

    /// The finding as rustc-style text.
    ///
    /// # Errors
    /// When writing fails.
    pub fn write_text(&self, w: &mut dyn Write, color: bool) -> io::Result<()> {
        let opts = TextOptions {
            color,
            ..TextOptions::default()
        };
        text::write_at(
            &mut &mut *w,
            &self.finding.diagnosis,
            Some(self.finding.location()),
            &opts,
        )
    }
}

impl Report {
    /// Writes the report in `format`.
    ///
    /// # Errors
    /// When writing to `w` fails.
    pub fn write(&self, w: &mut dyn Write, format: Format, color: bool) -> Result<(), WriteError> {
        match format {
            Format::Text => self.write_text(w, color)?,
            Format::Json => {
                let values: Vec<serde_json::Value> =
                    self.found.iter().map(Found::json_value).collect();
                serde_json::to_writer_pretty(&mut *w, &values).map_err(WriteError::Json)?;
                writeln!(w)?;
            }
            Format::Junit => {
                let names: Vec<String> = self
                    .found
                    .iter()
                    .map(|f| format!("{}:{}", f.finding.source, f.finding.first_line))
                    .collect();
                let histories: Vec<String> = self
                    .found
                    .iter()
                    .map(|f| {
                        format!(
                            "history: {} — {}",
                            f.finding.diagnosis.summary(),
                            f.finding.diagnosis.describe().notes.join("; ")
                        )
                    })
                    .collect();
                let cases: Vec<junit::Case<'_>> = self
                    .found
                    .iter()
                    .zip(&names)
                    .zip(&histories)
                    .map(|((f, name), history)| junit::Case {
                        class: "kubewhy.explain.workload",
                        name,
                        outcome: if f.standing == Standing::History {
                            junit::Outcome::Passed(history)
                        } else {
                            junit::Outcome::Failed(&f.finding.diagnosis)
                        },
                    })
                    .collect();
                let suite = format!("{} in namespace {}", self.target, self.namespace);
                junit::write(&mut *w, "kubewhy explain", &suite, &cases)
                    .map_err(WriteError::Junit)?;
            }
        }
        w.flush()?;
        Ok(())
    }

    /// Writes what could not be read: each of the reader's own failed requests as a rustc-style diagnosis (what
    /// failed, the permission it needs, the fix), and each log that broke off.
    ///
    /// # Errors
    /// When writing fails.
    pub fn write_unread(&self, w: &mut dyn Write, color: bool) -> io::Result<()> {
        let opts = TextOptions {
            color,
            ..TextOptions::default()
        };
        for d in &self.unread {
            text::write_diagnosis(&mut &mut *w, d, &opts)?;
        }
        for (what, why) in &self.read.broken {
            writeln!(w, "warning: {what} was not read to its end: {why}\n")?;
        }
        w.flush()
    }

    fn write_text(&self, w: &mut dyn Write, color: bool) -> io::Result<()> {
        let opts = TextOptions {
            color,
            ..TextOptions::default()
        };
        writeln!(w, "{}", self.header())?;
        writeln!(w, "{}", self.read_line())?;
        for account in &self.missing_service_accounts {
            writeln!(
                w,
                "warning: the ServiceAccount `{account}` that its pods run as does not exist"
            )?;
        }
        if !self.read.truncated.is_empty() {
            writeln!(
                w,
                "note: {} reached the limit of {} a log; what followed was not read (`--limit-bytes`, `--since`): {}",
                count(self.read.truncated.len(), "log"),
                size(self.options.limit_bytes),
                list(&self.read.truncated)
            )?;
        }
        if !self.read.no_log.is_empty() {
            let containers: Vec<String> = self
                .read
                .no_log
                .iter()
                .map(|(c, why)| format!("{c} ({why})"))
                .collect();
            writeln!(w, "note: no log yet: {}", list(&containers))?;
        }
        writeln!(w)?;
        let current: Vec<&Found> = self.current().collect();
        for f in &current {
            text::write_at(
                &mut &mut *w,
                &f.finding.diagnosis,
                Some(f.finding.location()),
                &opts,
            )?;
        }
        let history: Vec<&Found> = self.history().collect();
        if !history.is_empty() {
            writeln!(
                w,
                "history — seen before, no longer happening (confirmed against the cluster now):"
            )?;
            for f in &history {
                let d = &f.finding.diagnosis;
                writeln!(w, "  - history[{}]: {}", d.class, d.summary())?;
                for note in d.describe().notes {
                    writeln!(w, "      {note}")?;
                }
            }
            writeln!(w)?;
        }
        let diagnoses: Vec<_> = current.iter().map(|f| &f.finding.diagnosis).collect();
        let unread = self.unread.len() + self.read.broken.len();
        let sources = if unread > 0 {
            format!("what could be read of {}", self.target)
        } else {
            self.target.clone()
        };
        text::write_totals(&mut &mut *w, &diagnoses, &sources, &opts)?;
        if !history.is_empty() {
            writeln!(
                w,
                "{} seen before {} history: fixed since",
                count(history.len(), "more failure"),
                if history.len() == 1 { "is" } else { "are" }
            )?;
        }
        if unread > 0 {
            writeln!(
                w,
                "incomplete: {} of {} could not be read (on standard error, with what each needs)",
                count(unread, "part"),
                self.target
            )?;
        }
        Ok(())
    }

    /// `deployment/web in namespace `shop`: 3 pods (3 Running), run as service account `shop/web``.
    fn header(&self) -> String {
        let mut phases: Vec<(String, usize)> = Vec::new();
        for p in &self.pods {
            match phases.iter_mut().find(|(ph, _)| *ph == p.phase) {
                Some((_, n)) => *n += 1,
                None => phases.push((p.phase.clone(), 1)),
            }
        }
        let phases: Vec<String> = phases.iter().map(|(p, n)| format!("{n} {p}")).collect();
        let pods = if self.pods.is_empty() {
            "no pods read".to_string()
        } else {
            let restarts: u32 = self.pods.iter().map(|p| p.restarts).sum();
            format!(
                "{} ({}{})",
                count(self.pods.len(), "pod"),
                phases.join(", "),
                if restarts > 0 {
                    format!(", {}", count(restarts as usize, "restart"))
                } else {
                    String::new()
                }
            )
        };
        let identities: Vec<String> = self
            .identities
            .iter()
            .map(|u| crate::vocab::subject_phrase(Some(u)))
            .collect();
        let run_as = if identities.is_empty() {
            String::new()
        } else {
            format!(", run as {}", identities.join(" and "))
        };
        format!(
            "{} in namespace `{}`: {pods}{run_as}",
            self.target, self.namespace
        )
    }

    /// `read: 3 logs of 3 pods, since 1 h ago (12.3 MiB, at most 16 MiB a log, 4 at a time), 14 events, 12 status
    /// conditions`.
    fn read_line(&self) -> String {
        let r = &self.read;
        let since = match self.options.since {
            Some(s) => format!(", since {} ago", duration(s.as_secs())),
            None => String::new(),
        };
        format!(
            "read: {} of {}{since} ({}, at most {} a log, {} at a time), {}, {}",
            count(r.logs, "log"),
            count(r.pods, "pod"),
            size(r.bytes),
            size(self.options.limit_bytes),
            self.options.concurrency,
            count(r.events, "event"),
            count(r.conditions, "status condition"),
        )
    }
}

fn count(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// `12.3 MiB`.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else if value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `1 h`, `10 min`, `45 s`.
fn duration(seconds: u64) -> String {
    match seconds {
        s if s >= 3600 && s % 3600 == 0 => format!("{} h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// At most 5 names, then how many more.
fn list(names: &[String]) -> String {
    let shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
    match names.len() - shown.len() {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_well() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(16 << 20), "16 MiB");
        assert_eq!(size(12_900_000), "12.3 MiB");
        assert_eq!(duration(3600), "1 h");
        assert_eq!(duration(600), "10 min");
        assert_eq!(duration(90), "90 s");
        let names: Vec<String> = (0..7).map(|i| format!("p{i}")).collect();
        assert_eq!(list(&names), "p0, p1, p2, p3, p4 and 2 more");
    }
}
