//! A failed reconcile step ([`Error`]), its class for metrics and logs, and [`describe`], which puts an error and
//! its causes on one line for logs, conditions and events.

use std::error::Error as StdError;

use super::context::FINALIZER;

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
    /// The reconcile panicked: a bug in doc-controller, not an API failure (the panic message is in the log above).
    #[error(
        "the reconcile panicked (a bug in doc-controller; the panic's message is logged above it)"
    )]
    Panicked,
    /// An event could not be published.
    #[error("publishing the `{reason}` event failed")]
    PublishEvent {
        /// The event's reason.
        reason: &'static str,
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
    #[error(
        "ConfigMap {namespace}/{name} already exists and is not owned by this Document, so doc-controller will not \
         overwrite it; delete or rename that ConfigMap (doc-controller then publishes on its next retry), or stop \
         publishing this Document (`spec.publish: false`)"
    )]
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
    /// The error class for metrics and logs: `configmap-conflict` for a foreign ConfigMap, otherwise the class of the
    /// API failure underneath (kubewhy's class names: `forbidden`, `object-not-found`, `conflict`, ...).
    pub fn class(&self) -> &'static str {
        match self {
            Error::ForeignConfigMap { .. } => "configmap-conflict",
            Error::Malformed(_) => "malformed-object",
            Error::Panicked => "panic",
            // The same class the watchers and `kubewhy explain` report.
            _ => self
                .api_error()
                .map_or("unknown", |e| kubewhy::diagnose(e).class.as_str()),
        }
    }

    /// The API error underneath, when a request to the API server failed.
    pub fn api_error(&self) -> Option<&kube::Error> {
        match self {
            Error::ForeignConfigMap { .. } | Error::Malformed(_) | Error::Panicked => None,
            Error::AddFinalizer(e)
            | Error::RemoveFinalizer(e)
            | Error::PatchStatus(e)
            | Error::PublishEvent { source: e, .. }
            | Error::ReadConfigMap { source: e, .. }
            | Error::ApplyConfigMap { source: e, .. }
            | Error::DeleteConfigMap { source: e, .. } => Some(e),
        }
    }
}

/// The error and its causes on one line (`publishing ConfigMap ns/x failed: configmaps "x" is forbidden: ... (403
/// Forbidden)`); API errors show the server's message, reason and code rather than kube's long Debug form.
pub fn describe(err: &(dyn StdError + 'static)) -> String {
    let mut out = String::new();
    let mut next: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = next {
        if !out.is_empty() {
            out.push_str(": ");
        }
        if let Some(kube::Error::Api(s)) = e.downcast_ref::<kube::Error>() {
            out.push_str(&format!("{} ({} {})", s.message.trim(), s.code, s.reason));
            break;
        }
        out.push_str(&e.to_string());
        next = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_are_described_by_the_server_message() {
        let message = "configmaps \"d\" is forbidden: User \"system:serviceaccount:ns:sa\" cannot patch resource \
                       \"configmaps\" in API group \"\" in the namespace \"ns\"";
        let status = kube::core::Status::failure(message, "Forbidden").with_code(403);
        let err = Error::ApplyConfigMap {
            namespace: "ns".into(),
            name: "d".into(),
            source: kube::Error::Api(Box::new(status)),
        };
        assert_eq!(
            describe(&err),
            format!("publishing ConfigMap ns/d failed: {message} (403 Forbidden)")
        );
        assert_eq!(err.class(), "forbidden");
        // A 403 that names no denied verb is not RBAC's: kubewhy classes it as an admission denial.
        let webhook =
            kube::core::Status::failure("configmaps \"d\" is forbidden: nope", "Forbidden")
                .with_code(403);
        let err = Error::ApplyConfigMap {
            namespace: "ns".into(),
            name: "d".into(),
            source: kube::Error::Api(Box::new(webhook)),
        };
        assert_eq!(err.class(), "admission-denied");
    }
}
