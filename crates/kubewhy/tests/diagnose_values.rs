//! The value entry points without a cluster: controller errors (queue and reconciler, with the `kube::Error`
//! found through `source()`), errors wrapped by the caller, and what `diagnose_in` adds from the request.

use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::core::Status;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{controller, watcher};
use kubewhy::url::parse_request;
use kubewhy::{Class, Request, diagnose, diagnose_controller, diagnose_error, diagnose_in};

fn forbidden_watch() -> kube::Error {
    kube::Error::Api(
        Status::failure(
            r#"documents.kube.rs is forbidden: User "system:serviceaccount:docs:ctl" cannot watch resource "documents" in API group "kube.rs" at the cluster scope"#,
            "Forbidden",
        )
        .with_code(403)
        .boxed(),
    )
}

fn plain_404() -> kube::Error {
    kube::Error::Api(
        Status::failure("404 page not found\n", "Failed to parse error data")
            .with_code(404)
            .boxed(),
    )
}

/// A reconciler's own error type, wrapping a kube error as its source (what thiserror's `#[source]` does).
#[derive(Debug, thiserror::Error)]
enum ReconcileError {
    #[error("patching the document's status failed")]
    Patch(#[source] kube::Error),
    #[error("the document has no title")]
    NoTitle,
}

fn obj() -> Box<ObjectRef<DynamicObject>> {
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("kube.rs", "v1", "Document"),
        "documents",
    );
    Box::new(ObjectRef::new_with("hello", ar).within("docs"))
}

#[test]
fn a_queue_error_is_the_watchers_diagnosis() {
    let err: controller::Error<ReconcileError, watcher::Error> =
        controller::Error::QueueError(watcher::Error::WatchStartFailed(forbidden_watch()));
    let d = diagnose_controller(&err);
    assert_eq!(d.class, Class::Forbidden);
    assert_eq!(d.request.verb.as_deref(), Some("watch"));
    assert_eq!(d.request.group.as_deref(), Some("kube.rs"));
    assert!(
        d.remedy()
            .yaml
            .as_deref()
            .unwrap()
            .contains("kind: ClusterRoleBinding")
    );
    assert!(
        d.describe()
            .notes
            .iter()
            .any(|n| n.contains("never sees changes")),
        "{:#?}",
        d.describe().notes
    );
}

#[test]
fn a_reconciler_error_is_diagnosed_through_its_source_chain() {
    let status = Status::failure(
        r#"Operation cannot be fulfilled on documents.kube.rs "hello": the object has been modified; please apply your changes to the latest version and try again"#,
        "Conflict",
    )
    .with_code(409);
    let err: controller::Error<ReconcileError, watcher::Error> =
        controller::Error::ReconcilerFailed(
            ReconcileError::Patch(kube::Error::Api(status.boxed())),
            obj(),
        );
    let d = diagnose_controller(&err);
    assert_eq!(d.class, Class::Conflict);
    assert_eq!(d.request.name.as_deref(), Some("hello"));
    assert!(
        d.describe().notes[0].contains("the reconciler for `Document.v1.kube.rs/hello.docs`"),
        "{:#?}",
        d.describe().notes
    );

    // A reconciler error with no API error inside is unknown, with its text kept.
    let err: controller::Error<ReconcileError, watcher::Error> =
        controller::Error::ReconcilerFailed(ReconcileError::NoTitle, obj());
    let d = diagnose_controller(&err);
    assert_eq!(d.class, Class::Unknown);
    assert_eq!(d.message, "the document has no title");
}

#[test]
fn an_object_missing_from_the_cache_is_benign_object_not_found() {
    let err: controller::Error<ReconcileError, watcher::Error> =
        controller::Error::ObjectNotFound(obj());
    let d = diagnose_controller(&err);
    assert_eq!(d.class, Class::ObjectNotFound);
    assert_eq!(
        (d.request.name.as_deref(), d.request.namespace.as_deref()),
        (Some("hello"), Some("docs"))
    );
    assert!(d.describe().cause.contains("benign"));
}

#[test]
fn an_error_wrapped_by_the_caller_is_found() {
    #[derive(Debug, thiserror::Error)]
    #[error("starting the controller")]
    struct Startup(#[source] watcher::Error);
    let err = Startup(watcher::Error::InitialListFailed(plain_404()));
    let d = diagnose_error(&err);
    assert_eq!(
        (d.class, d.request.verb.as_deref()),
        (Class::ResourceNotFound, Some("list"))
    );
}

#[test]
fn diagnose_in_names_what_the_error_leaves_out() {
    let err = plain_404();
    let bare = diagnose(&err);
    assert_eq!(bare.request, Request::default());
    assert!(
        bare.describe()
            .notes
            .iter()
            .any(|n| n.contains("diagnose_in")),
        "{:#?}",
        bare.describe().notes
    );

    let req = parse_request(
        "GET",
        "https://10.0.0.1/apis/kube.rs/v1/namespaces/docs/documnets?limit=500",
    );
    let d = diagnose_in(&err, Some(&req));
    assert_eq!(d.request.verb.as_deref(), Some("list"));
    assert_eq!(d.request.resource.as_deref(), Some("documnets"));
    assert_eq!(d.request.namespace.as_deref(), Some("docs"));
    assert_eq!(d.request.method.as_deref(), Some("GET"));
    assert!(d.summary().contains("documnets.kube.rs"), "{}", d.summary());
    assert!(!d.describe().notes.iter().any(|n| n.contains("diagnose_in")));

    // The server's message stays authoritative; the request only fills gaps.
    let mut req = Request::default();
    req.verb = Some("get".into());
    req.namespace = Some("elsewhere".into());
    let d = diagnose_in(&forbidden_watch(), Some(&req));
    assert_eq!(d.request.verb.as_deref(), Some("watch"));
    assert_eq!(
        d.request.namespace,
        Some("elsewhere".into()),
        "the message names no namespace (cluster scope)"
    );
}

#[test]
fn client_side_failures_are_classified_by_type() {
    let err = kube::Error::TlsRequired;
    assert_eq!(diagnose(&err).class, Class::Tls);
    let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "read timed out");
    let d = diagnose(&kube::Error::ReadEvents(io));
    assert_eq!(d.class, Class::Timeout);
    let io = std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        "connection reset by peer",
    );
    assert_eq!(
        diagnose(&kube::Error::ReadEvents(io)).class,
        Class::Connection
    );
    let serde = serde_json::from_str::<u8>("x").unwrap_err();
    let d = diagnose(&kube::Error::SerdeError(serde));
    assert_eq!(d.class, Class::Unknown);
    assert!(
        d.describe()
            .notes
            .iter()
            .any(|n| n.contains("DeserializeGuard"))
    );
}

/// A program's error that kept only the text of the error underneath (`anyhow!("{e:?}")`, `#[error("{0}")]` of a
/// `String`): `diagnose_error` reads that text as an error's, to the same diagnosis `diagnose_text` gives the line.
#[test]
fn an_error_that_kept_only_the_text_is_read_as_the_text_is() {
    #[derive(Debug, thiserror::Error)]
    #[error("reconciling: {0}")]
    struct Flattened(String);
    let texts = [
        // kube-rs's `Debug` of a denial, stringified.
        format!("{:?}", forbidden_watch()),
        // Its `Display`.
        forbidden_watch().to_string(),
        // A Status JSON body a program logged whole.
        r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"configmaps \"a\" not found","reason":"NotFound","details":{"name":"a","kind":"configmaps"},"code":404}"#.to_string(),
        // The transport's words.
        "error trying to connect: tcp connect error: Connection refused (os error 111)".to_string(),
    ];
    for text in texts {
        let d = diagnose_error(&Flattened(text.clone()));
        let line = kubewhy::diagnose_text(&format!("reconciling: {text}"))
            .unwrap_or_else(|| panic!("diagnose_text reads {text}"));
        assert_ne!(d.class, Class::Unknown, "{text}: {d:#}");
        assert_eq!(
            (d.class, d.code, &d.cause, &d.user, &d.request.resource),
            (
                line.class,
                line.code,
                &line.cause,
                &line.user,
                &line.request.resource
            ),
            "{text}"
        );
    }
    let denied = diagnose_error(&Flattened(format!("{:?}", forbidden_watch())));
    assert_eq!(
        (denied.class, denied.code, denied.user.as_deref()),
        (
            Class::Forbidden,
            Some(403),
            Some("system:serviceaccount:docs:ctl")
        )
    );
}
