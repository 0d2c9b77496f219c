//! JUnit XML for CI systems: one `<testsuite>` of named cases, each passed, failed (the diagnosis: class as the
//! failure `type`, summary as its `message`, the rustc-style text as its body) or skipped (with the reason).
//! Written with `quick-junit`, the JUnit model and serializer behind cargo-nextest (feature `junit`; without it,
//! [`write`] fails with an error that names the feature).

use std::io::Write;

#[cfg(feature = "junit")]
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::diagnosis::Diagnosis;

/// How one case ended.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// Passed; the text is shown as the case's standard output.
    Passed(&'a str),
    /// Failed with this diagnosis.
    Failed(&'a Diagnosis),
    /// Failed as granting more than is needed (`kubewhy rbac diff`): what it grants beyond, in words.
    Unneeded(&'a str),
    /// Not run, for this reason.
    Skipped(&'a str),
}

/// One test case.
#[derive(Debug, Clone, Copy)]
pub struct Case<'a> {
    /// The JUnit `classname` (a group, e.g. `kubewhy.check.access`).
    pub class: &'a str,
    /// The case's name.
    pub name: &'a str,
    /// How it ended.
    pub outcome: Outcome<'a>,
}

/// An error writing the XML.
#[cfg(feature = "junit")]
#[derive(Debug, thiserror::Error)]
#[error("writing the JUnit XML failed")]
pub struct Error(#[source] quick_junit::SerializeError);

/// An error writing the XML: this build of kubewhy has no JUnit writer.
#[cfg(not(feature = "junit"))]
#[derive(Debug, thiserror::Error)]
#[error("JUnit output is not built into this program: build kubewhy with its `junit` feature")]
pub struct Error(());

/// Writes `cases` as one JUnit report with one test suite named `suite`.
///
/// # Errors
/// Always without the `junit` feature (nothing is written).
#[cfg(not(feature = "junit"))]
pub fn write(
    _w: impl Write,
    _report_name: &str,
    _suite: &str,
    _cases: &[Case<'_>],
) -> Result<(), Error> {
    Err(Error(()))
}

/// Writes `cases` as one JUnit report with one test suite named `suite`.
#[cfg(feature = "junit")]
pub fn write(
    w: impl Write,
    report_name: &str,
    suite: &str,
    cases: &[Case<'_>],
) -> Result<(), Error> {
    let mut test_suite = TestSuite::new(suite);
    for case in cases {
        let status = match case.outcome {
            Outcome::Passed(_) => TestCaseStatus::success(),
            Outcome::Failed(d) => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let mut text = Vec::new();
                let body = match super::text::write_diagnosis(
                    &mut text,
                    d,
                    &super::text::TextOptions::default(),
                ) {
                    Ok(()) => String::from_utf8_lossy(&text).into_owned(),
                    // The text renderer writes to a Vec, which cannot fail; keep the one-line form regardless.
                    Err(_) => format!("{d:#}"),
                };
                status
                    .set_type(d.class.as_str())
                    .set_message(d.summary())
                    .set_description(body);
                status
            }
            Outcome::Unneeded(text) => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status.set_type("excess").set_message(text);
                status
            }
            Outcome::Skipped(reason) => {
                let mut status = TestCaseStatus::skipped();
                status.set_message(reason);
                status
            }
        };
        let mut test_case = TestCase::new(case.name, status);
        test_case.set_classname(case.class);
        if let Outcome::Passed(text) = case.outcome
            && !text.is_empty()
        {
            test_case.set_system_out(text);
        }
        test_suite.add_test_case(test_case);
    }
    let mut report = Report::new(report_name);
    report.add_test_suite(test_suite);
    report.serialize(w).map_err(Error)
}

#[cfg(all(test, feature = "junit"))]
mod tests {
    use super::*;
    use crate::cause::Cause;

    #[test]
    fn writes_passes_failures_and_skips_with_escaping() {
        let mut d = Diagnosis::new(Cause::Denied(Default::default()), "m");
        d.request.verb = Some("watch".into());
        d.request.resource = Some("<documents> & more".into());
        let cases = [
            Case {
                class: "kubewhy.check.reach",
                name: "API server reachable",
                outcome: Outcome::Passed("answers"),
            },
            Case {
                class: "kubewhy.check.access",
                name: "watch documents",
                outcome: Outcome::Failed(&d),
            },
            Case {
                class: "kubewhy.check.probe",
                name: "list and watch",
                outcome: Outcome::Skipped("denied"),
            },
        ];
        let mut out = Vec::new();
        write(&mut out, "kubewhy check", "ctl", &cases).unwrap();
        let xml = String::from_utf8(out).unwrap();
        assert!(xml.contains(r#"tests="3""#), "{xml}");
        assert!(xml.contains(r#"failures="1""#), "{xml}");
        assert!(xml.contains(r#"skipped="1""#), "{xml}");
        assert!(
            xml.contains(r#"type="forbidden""#) && xml.contains("&lt;documents&gt; &amp; more"),
            "{xml}"
        );
        assert!(xml.contains(r#"<skipped message="denied""#), "{xml}");
    }
}
