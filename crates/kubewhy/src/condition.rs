//! The diagnosis on the object it failed for, where `kubectl describe` shows it: a status condition's `reason` and
//! `message`, an event's `reason` and `note`. The reason is the class in CamelCase (`Forbidden`,
//! `ResourceNotFound`, `Conflict`: Kubernetes' convention for reasons); the message is kubewhy's one-line diagnosis
//! (`{d:#}`: what failed, `cause:`, `help:`) followed by the request that failed (`request: PATCH /api/v1/... (403
//! Forbidden) as system:serviceaccount:ns:sa`), cut to what the API server accepts — a condition's message to 32 KiB,
//! an event's note to 1 KiB — saying how much was cut. `kubewhy explain` reads the text back, from `kubectl
//! describe`, `kubectl get events` or `-o yaml`, to the same class and request.
//!
//! One line gives a controller what doc-controller shows:
//!
//! ```
//! use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
//! # let status = kube::core::Status::failure(
//! #     "configmaps \"a\" is forbidden: User \"system:serviceaccount:ns:ctl\" cannot patch resource \"configmaps\" in API group \"\" in the namespace \"ns\"",
//! #     "Forbidden",
//! # ).with_code(403);
//! # let diagnosis = kubewhy::diagnose(&kube::Error::Api(status.boxed()));
//! # let previous: Option<&Condition> = None;
//! let ready = kubewhy::condition::failed("Ready", &diagnosis, Some(3), previous);
//! assert_eq!(ready.reason, "Forbidden");
//! assert!(ready.message.starts_with("error[forbidden]: service account `ns/ctl` cannot `patch` `configmaps`"));
//! assert!(ready.message.contains("; help: "));
//! ```
//!
//! and, with the `runtime` feature, the Warning event for kube's `Recorder`:
//! `recorder.publish(&kubewhy::condition::warning(&diagnosis, "Reconciling"), &obj.object_ref(&())).await?`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::diagnosis::{Class, Diagnosis};

/// The longest condition message the API server accepts (`metav1.Condition`: 32 KiB).
pub const MAX_MESSAGE: usize = 32 * 1024;
/// The longest event note the API server accepts (`events.k8s.io/v1`: 1 KiB).
pub const MAX_NOTE: usize = 1024;
/// The longest URL the request clause keeps (a list with selectors can be long; the path says which request).
const MAX_URL: usize = 512;

/// The reason a condition or an event gives for a failure of `class`: the class in CamelCase (`forbidden` →
/// `Forbidden`, `resource-not-found` → `ResourceNotFound`).
pub fn reason(class: Class) -> String {
    class
        .as_str()
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect()
}

/// The condition message: the one-line diagnosis and its request, within [`MAX_MESSAGE`].
pub fn message(d: &Diagnosis) -> String {
    fit(d, MAX_MESSAGE)
}

/// The event note: the one-line diagnosis and its request, within [`MAX_NOTE`] (the cause, then the help, then the
/// summary are cut first, each ending in `…`; the note ends saying how many bytes were cut).
pub fn note(d: &Diagnosis) -> String {
    fit(d, MAX_NOTE)
}

/// A `False` condition of `type_` for `d` (reason and message as above), observing `generation`; its
/// `lastTransitionTime` is kept from `previous` when that was `False` already.
pub fn failed(
    type_: &str,
    d: &Diagnosis,
    generation: Option<i64>,
    previous: Option<&Condition>,
) -> Condition {
    let last_transition_time = previous.filter(|p| p.status == "False").map_or_else(
        || Time(k8s_openapi::jiff::Timestamp::now()),
        |p| p.last_transition_time.clone(),
    );
    Condition {
        type_: type_.to_string(),
        status: "False".into(),
        reason: reason(d.class),
        message: message(d),
        observed_generation: generation,
        last_transition_time,
    }
}

/// A Warning event for `d` (reason and note as above) about `action` (`Reconciling`), for kube's event `Recorder`.
#[cfg(feature = "runtime")]
pub fn warning(d: &Diagnosis, action: &str) -> kube::runtime::events::Event {
    kube::runtime::events::Event {
        type_: kube::runtime::events::EventType::Warning,
        reason: reason(d.class),
        note: Some(note(d)),
        action: action.to_string(),
        secondary: None,
    }
}

/// The request clause: `PATCH /api/v1/... (403 Forbidden) as user`, as far as it is known; without a URL, the
/// verb and the resource (`patch configmaps in ns1 (403 Forbidden) as user`, `list deployments.apps`).
fn request(d: &Diagnosis) -> String {
    let r = &d.request;
    let mut out = Vec::new();
    if let Some(url) = &r.url {
        let url = shorten(&one_line(url), MAX_URL);
        out.push(match &r.method {
            Some(m) => format!("{m} {url}"),
            None => url,
        });
    } else if let (Some(verb), Some(resource)) = (&r.verb, &r.resource) {
        let mut what = match r.group.as_deref().filter(|g| !g.is_empty()) {
            Some(group) => format!("{verb} {resource}.{group}"),
            None => format!("{verb} {resource}"),
        };
        if let Some(ns) = r.namespace.as_deref().filter(|n| !n.is_empty()) {
            what.push_str(&format!(" in {ns}"));
        }
        out.push(one_line(&what));
    }
    if let Some(code) = d.code {
        out.push(match d.reason.as_deref().filter(|r| !r.is_empty()) {
            Some(reason) => format!("({code} {reason})"),
            None => format!("({code})"),
        });
    }
    if !out.is_empty()
        && let Some(user) = &d.user
    {
        out.push(format!("as {user}"));
    }
    out.join(" ")
}

/// Line breaks as spaces: a condition message and a note are one line.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// `s` cut to at most `max` bytes, on a character boundary, ending in `…` when cut.
fn shorten(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut cut = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &s[..cut])
}

/// The parts of the one-line form, in the order they are written.
struct Parts {
    summary: String,
    cause: String,
    help: String,
    request: String,
}

impl Parts {
    fn of(d: &Diagnosis) -> Parts {
        let words = d.describe();
        Parts {
            summary: one_line(&words.summary),
            cause: one_line(&words.cause),
            help: one_line(&d.help()),
            request: request(d),
        }
    }

    /// `error[class]: summary; cause: …; help: …; request: …` — `{d:#}` and the request.
    fn write(&self, class: Class) -> String {
        let mut out = format!("error[{class}]: {}", self.summary);
        for (label, text) in [
            ("cause", &self.cause),
            ("help", &self.help),
            ("request", &self.request),
        ] {
            if !text.is_empty() {
                out.push_str(&format!("; {label}: {text}"));
            }
        }
        out
    }
}

/// The one-line form within `max` bytes: the cause, the help, the summary and the request are shortened in that
/// order until it fits, and the text ends saying how many bytes were cut.
fn fit(d: &Diagnosis, max: usize) -> String {
    let mut parts = Parts::of(d);
    let full = parts.write(d.class);
    if full.len() <= max {
        return full;
    }
    // Room for ` [NNNNNN bytes cut]`.
    const MARK: usize = 24;
    let budget = max.saturating_sub(MARK);
    let mut excess = full.len().saturating_sub(budget);
    for part in [
        &mut parts.cause,
        &mut parts.help,
        &mut parts.summary,
        &mut parts.request,
    ] {
        if excess == 0 {
            break;
        }
        if part.is_empty() {
            continue;
        }
        let before = part.len();
        let target = before.saturating_sub(excess).max('…'.len_utf8());
        *part = shorten(part, target);
        excess = excess.saturating_sub(before.saturating_sub(part.len()));
    }
    let short = parts.write(d.class);
    let text = format!(
        "{short} [{} bytes cut]",
        full.len().saturating_sub(short.len())
    );
    // A limit too small for even the class and the marker: the head alone, cut hard.
    shorten(&text, max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cause::{AppCause, Cause};

    fn forbidden() -> Diagnosis {
        let status = kube::core::Status::failure(
            "configmaps \"newdoc\" is forbidden: User \"system:serviceaccount:dc:dc\" cannot patch resource \
             \"configmaps\" in API group \"\" in the namespace \"default\"",
            "Forbidden",
        )
        .with_code(403);
        let request = crate::url::parse_request(
            "PATCH",
            "/api/v1/namespaces/default/configmaps/newdoc?fieldManager=doc-controller&force=true",
        );
        crate::diagnose_in(&kube::Error::Api(status.boxed()), Some(&request))
    }

    #[test]
    fn the_reason_is_the_class_in_camel_case() {
        assert_eq!(reason(Class::Forbidden), "Forbidden");
        assert_eq!(reason(Class::ResourceNotFound), "ResourceNotFound");
        assert_eq!(reason(Class::AdmissionDenied), "AdmissionDenied");
        for class in Class::ALL {
            let r = reason(class);
            // The pattern the API server checks a condition's reason against.
            assert!(
                r.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                    && r.chars().all(|c| c.is_ascii_alphanumeric()),
                "{r}"
            );
        }
    }

    #[test]
    fn the_message_is_the_one_line_diagnosis_and_its_request() {
        let d = forbidden();
        let m = message(&d);
        assert!(m.starts_with(&format!("{d:#}")), "{m}");
        assert!(
            m.ends_with(
                "; request: PATCH /api/v1/namespaces/default/configmaps/newdoc?fieldManager=doc-controller&force=true \
                 (403 Forbidden) as system:serviceaccount:dc:dc"
            ),
            "{m}"
        );
        assert!(!m.contains('\n'));
        assert_eq!(note(&d), m, "short enough for a note as it is");
    }

    #[test]
    fn a_long_diagnosis_is_cut_to_the_limit_saying_so() {
        let long = "why ".repeat(600);
        let d = Diagnosis::new(
            Cause::Application(
                AppCause::new("big", Class::Conflict, "the summary")
                    .cause(long.clone())
                    .help("do this"),
            ),
            "m",
        );
        let n = note(&d);
        assert!(n.len() <= MAX_NOTE, "{}", n.len());
        assert!(
            n.starts_with("error[conflict]: the summary; cause: why why"),
            "{n}"
        );
        assert!(
            n.contains("…; help: do this"),
            "the help survives a cut cause: {n}"
        );
        let (short, cut) = n
            .rsplit_once(" [")
            .and_then(|(short, tail)| Some((short, tail.strip_suffix(" bytes cut]")?)))
            .and_then(|(short, c)| Some((short, c.parse::<usize>().ok()?)))
            .unwrap_or_else(|| panic!("says what was cut: {n}"));
        assert_eq!(short.len() + cut, format!("{d:#}").len(), "{n}");
        assert_eq!(
            message(&d),
            format!("{d:#}"),
            "the condition has room for all of it"
        );
        // Multibyte text is cut on a character boundary.
        let d = Diagnosis::new(
            Cause::Application(AppCause::new("big", Class::Conflict, "é".repeat(2000)).cause("")),
            "m",
        );
        let n = note(&d);
        assert!(n.len() <= MAX_NOTE && n.contains("…"), "{n}");
        assert!(shorten("ééé", 5).ends_with('…'));
    }

    #[test]
    fn a_condition_keeps_its_transition_time_while_it_stays_false() {
        let d = forbidden();
        let first = failed("Ready", &d, Some(2), None);
        assert_eq!(
            (first.status.as_str(), first.reason.as_str()),
            ("False", "Forbidden")
        );
        assert_eq!(first.observed_generation, Some(2));
        let mut old = first.clone();
        old.last_transition_time = Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
        let again = failed("Ready", &d, Some(3), Some(&old));
        assert_eq!(again.last_transition_time, old.last_transition_time);
        old.status = "True".into();
        let flipped = failed("Ready", &d, Some(3), Some(&old));
        assert_ne!(flipped.last_transition_time, old.last_transition_time);
    }

    /// What `kubewhy explain` reads back from a text holding `m`: class, code, verb, group, resource, namespace,
    /// name, user.
    fn read_back(text: &str) -> Diagnosis {
        crate::diagnose_text(text).unwrap_or_else(|| panic!("nothing read from {text}"))
    }

    fn same_fields(d: &Diagnosis, back: &Diagnosis, form: &str) {
        let r = |d: &Diagnosis| {
            let q = &d.request;
            (
                d.class,
                d.code,
                q.verb.clone(),
                q.group.clone(),
                q.resource.clone(),
                q.namespace.clone(),
                q.name.clone(),
                d.user.clone(),
            )
        };
        assert_eq!(r(back), r(d), "{form}");
    }

    #[test]
    fn explain_reads_the_message_back_wherever_it_is_printed() {
        let d = forbidden();
        let m = message(&d);
        let yaml_quoted = m.replace('\'', "''");
        for (form, text) in [
            ("the message", m.clone()),
            (
                "kubectl describe",
                format!(
                    "    Message:               {m}\n    Observed Generation:   1\n    Reason:                Forbidden\n"
                ),
            ),
            (
                "kubectl describe events",
                format!("  Warning  Forbidden  3s    doc-controller  {m}\n"),
            ),
            (
                "kubectl get events",
                format!(
                    "LAST SEEN   TYPE      REASON      OBJECT             MESSAGE\n3s          Warning   Forbidden   document/newdoc    {m}\n"
                ),
            ),
            (
                "-o yaml",
                format!(
                    "  - lastTransitionTime: \"2026-11-25T09:03:44Z\"\n    message: '{yaml_quoted}'\n    reason: Forbidden\n"
                ),
            ),
            (
                "-o json",
                format!(
                    "{{\"message\": {}, \"reason\": \"Forbidden\"}}",
                    serde_json::to_string(&m).unwrap()
                ),
            ),
            ("the note", note(&d)),
        ] {
            same_fields(&d, &read_back(&text), form);
        }
    }

    #[test]
    fn explain_reads_kubewhy_s_own_forms_in_any_log() {
        let d = forbidden();
        let one_line = format!("{d:#}");
        let short = format!("{d}");
        for (form, text) in [
            ("{d:#} in a plain line", format!("2026-11-25T09:03:44Z WARN mycontroller: reconcile failed: {one_line}")),
            ("{d:#} in JSON", serde_json::json!({"level": "WARN", "fields": {"message": format!("reconcile failed: {one_line}")}}).to_string()),
            ("{d} in logfmt", format!("level=warn msg=\"reconcile failed: {short}\"")),
        ] {
            let back = read_back(&text);
            assert_eq!(back.class, d.class, "{form}: {text}");
        }
        // An admission denial's 403 beside its class does not make it RBAC's, wrapped by YAML or not.
        let status = kube::core::Status::failure(
            "admission webhook \"deny.example.com\" denied the request: ConfigMaps here need an approval label",
            "Forbidden",
        )
        .with_code(403);
        let request =
            crate::url::parse_request("PATCH", "/api/v1/namespaces/default/configmaps/newdoc");
        let denied = crate::diagnose_in(&kube::Error::Api(status.boxed()), Some(&request));
        assert_eq!(denied.class, Class::AdmissionDenied);
        let m = message(&denied);
        same_fields(&denied, &read_back(&m), &m);
        let mut folded =
            String::from("  - lastTransitionTime: \"2026-11-25T09:03:44Z\"\n    message: '");
        for (i, word) in m.replace('\'', "''").split(' ').enumerate() {
            // go-yaml's folding: about 80 columns, continued 6 columns in.
            folded.push_str(if i > 0 && i % 9 == 0 {
                "\n      "
            } else if i > 0 {
                " "
            } else {
                ""
            });
            folded.push_str(word);
        }
        folded.push_str("'\n    reason: AdmissionDenied\n");
        same_fields(&denied, &read_back(&folded), &folded);
        // A folded line that starts with a label of the one-line form is still inside the scalar.
        let at_help = folded.replace(" help: ", "\n      help: ");
        same_fields(&denied, &read_back(&at_help), &at_help);
        // An application's own failure: its class.
        let own = Diagnosis::new(
            Cause::Application(
                AppCause::new(
                    "foreign-config-map",
                    Class::Conflict,
                    "ConfigMap `ns/a` is someone else's",
                )
                .cause("no owner"),
            ),
            "m",
        );
        assert_eq!(read_back(&message(&own)).class, Class::Conflict);
        // The report's heading and its `-->` line.
        let mut report = Vec::new();
        crate::render::text::write_diagnosis(&mut report, &d, &Default::default()).unwrap();
        let report = String::from_utf8(report).unwrap();
        let mut back = read_back(&report);
        // A report does not print the code; the words it quotes may imply it (the catalog's denial is a 403).
        assert!(
            back.code.is_none() || back.code == d.code,
            "a report's code is none or the one its words imply: {:?}",
            back.code
        );
        back.code = d.code;
        same_fields(&d, &back, &report);
    }
}
