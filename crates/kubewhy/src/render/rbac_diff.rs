//! A granted-versus-needed report ([`DiffReport`], `kubewhy rbac diff`, `doc-controller doctor --rbac-diff`) in
//! each [`Format`]: text (a header, one line per missing permission and per rule granted beyond the needs, the
//! score, a closing line), JSON (the report as data) or JUnit (a case per needed permission and per granted rule).
//! A missing permission is shown as the denial it would be, through the one wording table.

use std::io::Write;

use super::junit::{Case, Outcome};
use super::{Format, Level, Paint, WriteError};
use crate::describe::near_miss::{binding_text, groups_text, role_text};
use crate::diagnosis::Diagnosis;
use crate::rbac::diff::{DiffReport, Excess, Finding, GrantedRule, Source};

impl DiffReport {
    /// Writes the report in `format`; `color` for text.
    ///
    /// # Errors
    /// When writing to `w` fails.
    pub fn write(&self, w: &mut dyn Write, format: Format, color: bool) -> Result<(), WriteError> {
        match format {
            Format::Text => w.write_all(text(self, color).as_bytes())?,
            Format::Json => {
                serde_json::to_writer_pretty(&mut *w, self).map_err(WriteError::Json)?;
                writeln!(w)?;
            }
            Format::Junit => junit(self, &mut *w).map_err(WriteError::Junit)?,
        }
        w.flush()?;
        Ok(())
    }
}

/// ``ClusterRole `r` rule 2 (ClusterRoleBinding `b`)``, or the rule itself when its source is unknown.
fn rule_name(g: &GrantedRule) -> String {
    match &g.source {
        Some(source) => format!(
            "{} rule {} ({})",
            role_text(&source.role),
            source.index + 1,
            binding_text(&source.binding)
        ),
        None => {
            let r = &g.rule;
            let on = match &r.non_resource_urls {
                Some(urls) if !urls.is_empty() => urls.join(", "),
                _ => format!(
                    "{} in {}",
                    r.resources.clone().unwrap_or_default().join(", "),
                    groups_text(&r.api_groups.clone().unwrap_or_default())
                ),
            };
            let scope = match &g.namespace {
                Some(ns) => format!("in namespace `{ns}`"),
                None => "everywhere".into(),
            };
            format!("the rule `{}` on {on} {scope}", r.verbs.join(", "))
        }
    }
}

fn quoted(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a rule grants beyond the needs, in words.
fn finding_text(f: &Finding) -> String {
    match f {
        Finding::Privileged { verbs } => {
            format!("grants {} (it can grant itself more)", quoted(verbs))
        }
        Finding::Secrets { verbs } => format!("grants {} on Secrets", quoted(verbs)),
        Finding::Wildcard { field } => format!("a wildcard in `{field}`"),
        Finding::ClusterScope { needed_in } => format!(
            "granted in every namespace, needed only in {}",
            quoted(needed_in)
        ),
        Finding::Unused => "no need uses it".into(),
        Finding::ExtraVerbs { verbs } => format!("{} never needed", quoted(verbs)),
        Finding::ExtraResources { resources } => format!("{} never needed", quoted(resources)),
        Finding::NonResourceUrls { urls } => format!("non-resource URLs {}", quoted(urls)),
    }
}

fn excess_text(e: &Excess) -> String {
    let findings: Vec<String> = e.findings.iter().map(finding_text).collect();
    format!("{}: {}", rule_name(&e.rule), findings.join("; "))
}

fn source_text(report: &DiffReport) -> &'static str {
    match report.source {
        Source::Objects => "the RBAC objects",
        Source::Reviews => "rules reviews as the identity",
    }
}

fn text(report: &DiffReport, color: bool) -> String {
    let p = Paint { on: color };
    let mut out = format!(
        "granted versus needed for `{}` as `{}` on {} (granted: {})\n",
        report.program,
        report.identity.user,
        report.server,
        source_text(report)
    );
    if let Some(why) = &report.objects_unreadable {
        out.push_str(&format!(
            "  = note: {why}; the rules were reviewed as the identity\n"
        ));
    }
    for why in &report.incomplete {
        out.push_str(&format!("  = note: the rules may be incomplete: {why}\n"));
    }
    let d = &report.diff;
    let granted_needs = report.needed.len() - d.missing.len();
    out.push_str(&format!(
        "  pass  needed  {granted_needs} of {} needed permissions granted\n",
        report.needed.len()
    ));
    for m in &d.missing {
        out.push_str(&format!(
            "  FAIL  needed  {}\n",
            report.denial_of(m).summary()
        ));
    }
    for e in &d.excess {
        out.push_str(&format!("  FAIL  excess  {}\n", excess_text(e)));
    }
    let percent = report.score * 100.0;
    if d.granted == 0 {
        out.push_str("  score nothing is granted\n\n");
    } else {
        out.push_str(&format!(
            "  score {} of {} granted permissions used ({percent:.0} %)\n\n",
            d.used, d.granted
        ));
    }
    // The missing permissions as the denials they would be, the verbs on one target shown as one; the manifests are
    // `kubewhy check --fix`'s.
    let options = super::TextOptions::default()
        .with_color(color)
        .with_manifests(false);
    for denial in report.missing_diagnoses() {
        let mut buf = Vec::new();
        // Writing to a Vec cannot fail; should it, the summary lines above still name the permissions.
        if super::text::write_diagnosis(&mut buf, &denial, &options).is_ok() {
            out.push_str(&String::from_utf8_lossy(&buf));
        }
    }
    let (missing, excess) = (d.missing.len(), d.excess.len());
    if missing == 0 && excess == 0 {
        out.push_str(&format!(
            "ok: `{}` is granted exactly what it needs\n",
            report.program
        ));
    }
    if missing > 0 {
        out.push_str(&format!(
            "{}: {missing} needed permission(s) not granted to `{}`\n",
            p.level(Level::Error, "error"),
            report.identity.user
        ));
    }
    if excess > 0 {
        out.push_str(&format!(
            "{}: {excess} granted rule(s) give more than `{}` needs (`--fail-on-excess` fails on them)\n",
            p.level(Level::Warning, "warning"),
            report.program
        ));
    }
    out
}

fn junit(report: &DiffReport, w: &mut dyn Write) -> Result<(), super::junit::Error> {
    let missing: Vec<(String, Diagnosis)> = report
        .diff
        .missing
        .iter()
        .map(|p| {
            let d = report.denial_of(p);
            (d.summary(), d)
        })
        .collect();
    let granted: Vec<String> = report
        .needed
        .iter()
        .filter(|p| !report.diff.missing.contains(p))
        .map(|p| report.denial_of(p).request)
        .map(|r| {
            let what = crate::vocab::request_resource(&r)
                .or_else(|| r.path.clone())
                .unwrap_or_default();
            format!(
                "{} {what}{}",
                r.verb.unwrap_or_default(),
                r.namespace
                    .map(|ns| format!(" in {ns}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    let excess: Vec<(String, String)> = report
        .diff
        .excess
        .iter()
        .map(|e| (rule_name(&e.rule), excess_text(e)))
        .collect();
    let mut cases: Vec<Case<'_>> = Vec::new();
    for name in &granted {
        cases.push(Case {
            class: "kubewhy.rbac.needed",
            name,
            outcome: Outcome::Passed("granted"),
        });
    }
    for (name, d) in &missing {
        cases.push(Case {
            class: "kubewhy.rbac.needed",
            name,
            outcome: Outcome::Failed(d),
        });
    }
    for (name, text) in &excess {
        cases.push(Case {
            class: "kubewhy.rbac.excess",
            name,
            outcome: Outcome::Unneeded(text),
        });
    }
    super::junit::write(w, "kubewhy rbac diff", &report.program, &cases)
}
