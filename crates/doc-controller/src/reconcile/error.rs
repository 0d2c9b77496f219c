//! A failed reconcile step ([`Error`]) and its one diagnosis ([`diagnose`]): an API failure is diagnosed by
//! kubewhy with the request that failed (from the step's scope of recorded requests); doc-controller's own failures
//! (a malformed Document, a ConfigMap owned by someone else, a panic) are kubewhy causes of its own
//! ([`kubewhy::cause::AppCause`]), worded here. The step's error is consumed by its diagnosis: what is logged,
//! counted, retried and shown on the Document is that one value.

use kube::ResourceExt;
use kubewhy::cause::{AppCause, Cause};
use kubewhy::trace::Failed;
use kubewhy::watch::Health;
use kubewhy::{Class, Diagnosed, Diagnosis};

use super::context::FINALIZER;
use crate::document::Document;

/// A failed reconcile step.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Adding the finalizer failed.
    #[error("adding the finalizer `{FINALIZER}` failed")]
    AddFinalizer(#[source] kube::Error),
    /// Removing the finalizer failed.
    #[error("removing the finalizer `{FINALIZER}` failed")]
    RemoveFinalizer(#[source] kube::Error),
    /// The object lacks what every object from the API server has.
    #[error("the Document cannot be reconciled: {0}")]
    Malformed(String),
    /// The reconcile panicked: a bug in doc-controller, not an API failure (the panic's message is logged above it).
    #[error(
        "the reconcile panicked (a bug in doc-controller; the panic's message is logged above it)"
    )]
    Panicked,
    /// An event could not be published.
    #[error("publishing the `{reason}` event failed")]
    PublishEvent {
        /// The event's reason.
        reason: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Reading a ConfigMap failed.
    #[error("reading ConfigMap {namespace}/{name} failed")]
    ReadConfigMap {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// A ConfigMap of the Document's name exists and belongs to someone else.
    #[error("ConfigMap {namespace}/{name} already exists and is not owned by this Document")]
    ForeignConfigMap {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// Creating or repairing the published ConfigMap failed.
    #[error("publishing ConfigMap {namespace}/{name} failed")]
    ApplyConfigMap {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Deleting the published ConfigMap failed.
    #[error("deleting ConfigMap {namespace}/{name} failed")]
    DeleteConfigMap {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Writing the status failed.
    #[error("writing the Document's status failed")]
    PatchStatus(#[source] kube::Error),
}

impl Error {
    /// doc-controller's own failures as kubewhy causes, in its own words; `None` for a failed API request (kubewhy
    /// diagnoses those).
    fn own_cause(&self) -> Option<AppCause> {
        match self {
            Error::ForeignConfigMap { namespace, name } => Some(
                AppCause::new("foreign-config-map", Class::Conflict, format!(
                        "ConfigMap `{namespace}/{name}` already exists and is not owned by this Document"
                    )).cause("doc-controller publishes a Document only into a ConfigMap it owns (an ownerReference to the \
                     Document), so it does not overwrite another's")
                .help(
                    "delete or rename that ConfigMap (doc-controller then publishes on its next retry), or stop \
                     publishing this Document (`spec.publish: false`)",
                ),
            ),
            Error::Malformed(what) => Some(AppCause::new("malformed-document", Class::InvalidObject, format!("the Document cannot be reconciled: {what}")).cause("every object the API server serves has a namespace, a name and a uid; this one came from \
                 elsewhere")),
            Error::Panicked => Some(panic_cause()),
            Error::AddFinalizer(_)
            | Error::RemoveFinalizer(_)
            | Error::PublishEvent { .. }
            | Error::ReadConfigMap { .. }
            | Error::ApplyConfigMap { .. }
            | Error::DeleteConfigMap { .. }
            | Error::PatchStatus(_) => None,
        }
    }
}

/// A panicked reconcile, as a cause.
fn panic_cause() -> AppCause {
    AppCause::new("reconcile-panicked", Class::Unknown, "the reconcile panicked").cause("a bug in doc-controller, not an API failure; the panic's message is logged above this line")
    .help("report it with the log around the panic; the Document is retried with back-off")
    .transient(true)
}

/// The diagnosis of one of doc-controller's own failures, about `doc`.
fn own(cause: AppCause, err: Error, doc: &Document) -> Diagnosed {
    let mut d = Diagnosis::new(Cause::Application(cause), err.to_string());
    d.request.namespace = doc.namespace();
    d.request.name = Some(doc.name_any());
    Diagnosed::new(d, err)
}

/// Diagnoses a failed step once: doc-controller's own failures by their cause, API failures by kubewhy with the
/// exact request that failed (the first among the step's `failed` requests matching the error) and what the client
/// knows of its credentials. The error is consumed; it stays the diagnosis's source.
pub fn diagnose(err: Error, failed: &Failed, health: &Health, doc: &Document) -> Diagnosed {
    if let Some(cause) = err.own_cause() {
        return own(cause, err, doc);
    }
    let request = kubewhy::chain::find::<kube::Error>(&err).and_then(|k| failed.request_for(k));
    let mut d = kubewhy::diagnose_error_in(&err, request.as_ref());
    health.annotate(&mut d);
    Diagnosed::new(d, err)
}

/// The diagnosis of a panicked reconcile (a bug in doc-controller).
pub fn panicked(doc: &Document) -> Diagnosed {
    own(panic_cause(), Error::Panicked, doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::sample;

    fn forbidden() -> Error {
        let message = "configmaps \"d\" is forbidden: User \"system:serviceaccount:ns:sa\" cannot patch resource \
                       \"configmaps\" in API group \"\" in the namespace \"ns\"";
        let status = kube::core::Status::failure(message, "Forbidden").with_code(403);
        Error::ApplyConfigMap {
            namespace: "ns".into(),
            name: "d".into(),
            source: kube::Error::Api(Box::new(status)),
        }
    }

    #[test]
    fn api_failures_are_kubewhy_s_diagnosis_and_are_not_diagnosed_again() {
        let health = Health::new(kubewhy::watch::Policy::in_cluster());
        let once = diagnose(
            forbidden(),
            &Failed::default(),
            &health,
            &sample(false, true),
        );
        let d = once.diagnosis();
        assert_eq!((d.class, d.code), (Class::Forbidden, Some(403)));
        assert_eq!(d.request.verb.as_deref(), Some("patch"));
        // Whatever looks at the error later (kubewhy's retry, a log line) takes the same value.
        assert_eq!(kubewhy::diagnose_error(&once), *d);
        // The step that failed stays the diagnosis's source.
        assert!(kubewhy::chain::find::<kube::Error>(&once).is_some());
    }

    /// The one diagnosis goes through kubewhy's back-off as it is: `attempt` and `failed` do not diagnose the error
    /// again (here the carried diagnosis says something a second diagnosis of its source never would).
    #[tokio::test]
    async fn the_back_off_takes_the_diagnosis_as_it_is() {
        let health = Health::new(kubewhy::watch::Policy::in_cluster());
        let retry = kubewhy::retry::Retry::<Document>::new(&health);
        let doc = sample(false, true);
        let mut once = diagnose(forbidden(), &Failed::default(), &health, &doc).into_diagnosis();
        once.set_cause(Cause::Application(
            AppCause::new(
                "marker",
                Class::Conflict,
                "only the first diagnosis says this",
            )
            .cause(""),
        ));
        let carried = Diagnosed::new(once.clone(), forbidden());
        let err = retry
            .attempt(&doc, async { Err::<(), _>(carried) })
            .await
            .unwrap_err();
        let retrying = retry.failed(&doc, &err);
        assert_eq!(retrying.diagnosis, once);
        assert_eq!(*err.diagnosis(), once);
    }

    #[test]
    fn doc_controller_s_own_failures_are_causes_with_a_class() {
        let health = Health::new(kubewhy::watch::Policy::in_cluster());
        let doc = sample(false, true);
        let foreign = Error::ForeignConfigMap {
            namespace: "ns".into(),
            name: "d".into(),
        };
        let d = diagnose(foreign, &Failed::default(), &health, &doc).into_diagnosis();
        assert_eq!(d.class, Class::Conflict);
        assert!(matches!(&d.cause, Cause::Application(a) if a.code == "foreign-config-map"));
        let line = format!("{d:#}");
        assert!(
            line.starts_with(
                "error[conflict]: ConfigMap `ns/d` already exists and is not owned by this Document"
            ) && line.contains("; help: delete or rename that ConfigMap"),
            "{line}"
        );
        let panic = panicked(&doc).into_diagnosis();
        assert_eq!(panic.class, Class::Unknown);
        assert!(panic.is_transient());
        let malformed = diagnose(
            Error::Malformed("it has no namespace".into()),
            &Failed::default(),
            &health,
            &doc,
        );
        assert_eq!(malformed.diagnosis().class, Class::InvalidObject);
    }
}
