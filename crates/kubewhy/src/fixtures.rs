//! One fixture per [`Cause`] variant, test-only: a realistic diagnosis of each, with the class and transience the
//! variant must have. [`position`] has no wildcard arm, so a new variant does not compile until it is listed
//! here; the tests then check that [`fixtures`] holds one diagnosis per variant (against serde's own list of
//! tags), that `kind()` is the serde tag and the cause survives a JSON round trip, `class()` and
//! `is_transient()`, and snapshot each variant's text and JSON rendering (`src/snapshots/`). A module of its own
//! at the top of the module graph: it uses every layer.

// The fixtures are built as a program that uses the crate builds them: its types are `#[non_exhaustive]` outside
// the crate, so a default with fields set, not a struct literal.
#![allow(clippy::field_reassign_with_default)]

use crate::cause::*;
use crate::class::Class;
use crate::diagnosis::{Diagnosis, Phase, Request};
use crate::near_miss::NearMiss;
use crate::note::Note;

/// One variant's fixture.
struct Fixture {
    diagnosis: Diagnosis,
    class: Class,
    transient: bool,
}

/// Where a variant's fixture stands in [`fixtures`]. No wildcard: adding a variant to [`Cause`] is a compile error
/// here until its fixture is written (and [`fixtures`] lists it at that position).
fn position(c: &Cause) -> usize {
    match c {
        Cause::Denied(_) => 0,
        Cause::Escalation { .. } => 1,
        Cause::Admission { .. } => 2,
        Cause::WebhookUnreachable { .. } => 3,
        Cause::Unauthenticated { .. } => 4,
        Cause::CredentialsUnavailable => 5,
        Cause::NotServed(_) => 6,
        Cause::NoSubresource { .. } => 7,
        Cause::ObjectMissing => 8,
        Cause::NotInCache => 9,
        Cause::SubjectMissing => 10,
        Cause::NoAggregatedDiscovery => 11,
        Cause::Invalid { .. } => 12,
        Cause::StalePatch { .. } => 13,
        Cause::BadOptions { .. } => 14,
        Cause::WatchListDisabled => 15,
        Cause::ResourceVersionMatchOnWatch => 16,
        Cause::ShardingNotServed { .. } => 17,
        Cause::BadRequest { .. } => 18,
        Cause::VerbUnsupported { .. } => 19,
        Cause::WrongScope { .. } => 20,
        Cause::NotSent => 21,
        Cause::NoResourceVersion => 22,
        Cause::Modified => 23,
        Cause::ApplyConflict { .. } => 24,
        Cause::AlreadyExists => 25,
        Cause::Expired => 26,
        Cause::Throttled { .. } => 27,
        Cause::ClientThrottled => 28,
        Cause::Reinitializing { .. } => 29,
        Cause::ServerFailed => 30,
        Cause::Unavailable => 31,
        Cause::LeaderChanged => 32,
        Cause::StorageRead { .. } => 33,
        Cause::ServerTimeout => 34,
        Cause::NoAnswer { .. } => 35,
        Cause::CacheSyncTimeout => 36,
        Cause::StalledWatch { .. } => 37,
        Cause::NoInitialEventsEnd { .. } => 38,
        Cause::Application(_) => 39,
        Cause::Connection { .. } => 40,
        Cause::Tls { .. } => 41,
        Cause::ProxyUnsupported => 42,
        Cause::NoConfig => 43,
        Cause::Undecodable => 44,
        Cause::Unknown => 45,
    }
}

const SA: &str = "system:serviceaccount:doc-controller:doc-controller";

/// A request for `verb` on `resource` in `group`/`version`, in namespace `ns` when given.
fn request(verb: &str, group: &str, version: &str, resource: &str, ns: Option<&str>) -> Request {
    let mut r = Request::default();
    r.verb = Some(verb.into());
    r.group = Some(group.into());
    r.version = Some(version.into());
    r.resource = Some(resource.into());
    r.namespace = ns.map(Into::into);
    r
}

/// A diagnosis of `cause` with an HTTP answer (`code`, `reason`), a request and the server's message.
fn answered(cause: Cause, code: u16, reason: &str, request: Request, message: &str) -> Diagnosis {
    let mut d = Diagnosis::new(cause, message);
    d.code = Some(code);
    d.reason = Some(reason.into());
    d.request = request;
    d
}

fn fixture(diagnosis: Diagnosis, class: Class, transient: bool) -> Fixture {
    Fixture {
        diagnosis,
        class,
        transient,
    }
}

/// The fixtures, one per variant, in [`position`] order.
fn fixtures() -> Vec<Fixture> {
    let documents = |verb: &str, ns: Option<&str>| request(verb, "kube.rs", "v1", "documents", ns);
    let configmaps = |verb: &str| request(verb, "", "v1", "configmaps", Some("default"));
    vec![
        // ===== access =====
        {
            let mut denial = Denial::default();
            denial.scope = Scope::Cluster;
            let mut d = answered(
                Cause::Denied(denial),
                403,
                "Forbidden",
                documents("watch", None),
                &format!(
                    "documents.kube.rs is forbidden: User \"{SA}\" cannot watch resource \"documents\" in API \
                     group \"kube.rs\" at the cluster scope"
                ),
            );
            d.user = Some(SA.into());
            d.phase = Some(Phase::WatchStart);
            fixture(d, Class::Forbidden, false)
        },
        {
            let mut r = request("create", "rbac.authorization.k8s.io", "v1", "roles", Some("default"));
            r.name = Some("reader".into());
            let mut d = answered(
                Cause::Escalation {
                    not_held: vec![
                        "{APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\"]}".into(),
                    ],
                    near_miss: None::<std::sync::Arc<NearMiss>>,
                },
                403,
                "Forbidden",
                r,
                "roles.rbac.authorization.k8s.io \"reader\" is forbidden: user \"alice\" (groups=[\"dev\" \
                 \"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n\
                 {APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\"]}",
            );
            d.user = Some("alice".into());
            fixture(d, Class::Forbidden, false)
        },
        {
            let mut r = configmaps("create");
            r.name = Some("settings".into());
            fixture(
                answered(
                    Cause::Admission {
                        by: Admitter::Webhook {
                            name: "validate.example.com".into(),
                        },
                        detail: Some("label `team` is required".into()),
                    },
                    400,
                    "BadRequest",
                    r,
                    "admission webhook \"validate.example.com\" denied the request: label `team` is required",
                ),
                Class::AdmissionDenied,
                false,
            )
        },
        fixture(
            answered(
                Cause::WebhookUnreachable {
                    webhook: "validate.example.com".into(),
                    service: Some("webhooks/validator".into()),
                    detail: Some("connect: connection refused".into()),
                    conversion: None,
                },
                500,
                "InternalError",
                configmaps("create"),
                "Internal error occurred: failed calling webhook \"validate.example.com\": failed to call webhook: \
                 Post \"https://validator.webhooks.svc:443/validate?timeout=10s\": dial tcp 10.96.0.12:443: \
                 connect: connection refused",
            ),
            Class::ServerError,
            false,
        ),
        fixture(
            answered(
                Cause::Unauthenticated { expired: true },
                401,
                "Unauthorized",
                documents("list", None),
                "Unauthorized",
            ),
            Class::Unauthorized,
            false,
        ),
        fixture(
            Diagnosis::new(
                Cause::CredentialsUnavailable,
                "failed to get token: exec plugin `aws` exited with status 1",
            ),
            Class::Unauthorized,
            false,
        ),
        // ===== what is served =====
        {
            let mut d = answered(
                Cause::NotServed(NotServed::default()),
                404,
                "NotFound",
                request("list", "gateway.networking.k8s.io", "v1", "tlsroutes", None),
                "the server could not find the requested resource",
            );
            d.phase = Some(Phase::InitialList);
            d.notes.push(Note::LoggedByReflector);
            fixture(d, Class::ResourceNotFound, false)
        },
        {
            let mut r = documents("patch", Some("default"));
            r.subresource = Some("scale".into());
            r.name = Some("lorem".into());
            fixture(
                answered(
                    Cause::NoSubresource {
                        served: vec!["status".into(), "finalizers".into()],
                    },
                    404,
                    "NotFound",
                    r,
                    "the server could not find the requested resource",
                ),
                Class::ResourceNotFound,
                false,
            )
        },
        {
            let mut r = configmaps("get");
            r.name = Some("settings".into());
            fixture(
                answered(
                    Cause::ObjectMissing,
                    404,
                    "NotFound",
                    r,
                    "configmaps \"settings\" not found",
                ),
                Class::ObjectNotFound,
                false,
            )
        },
        {
            let mut d = Diagnosis::new(
                Cause::NotInCache,
                "object default/lorem of kind Document is no longer in the cache",
            );
            d.request.kind = Some("Document".into());
            d.request.namespace = Some("default".into());
            d.request.name = Some("lorem".into());
            fixture(d, Class::ObjectNotFound, false)
        },
        {
            let mut r = request("get", "", "v1", "serviceaccounts", Some("doc-controller"));
            r.name = Some("doc-controller".into());
            let mut d = Diagnosis::new(
                Cause::SubjectMissing,
                "serviceaccounts \"doc-controller\" not found",
            );
            d.request = r;
            fixture(d, Class::ObjectNotFound, false)
        },
        fixture(
            answered(
                Cause::NoAggregatedDiscovery,
                406,
                "NotAcceptable",
                Request::default(),
                "the server does not serve apidiscovery.k8s.io/v2",
            ),
            Class::ResourceNotFound,
            false,
        ),
        // ===== the request =====
        {
            let mut r = documents("create", Some("default"));
            r.kind = Some("Document".into());
            r.name = Some("lorem".into());
            let mut field = FieldError::default();
            field.field = "spec.title".into();
            field.reason = "FieldValueRequired".into();
            field.message = "Required value".into();
            fixture(
                answered(
                    Cause::Invalid {
                        fields: vec![field],
                        detail: None,
                    },
                    422,
                    "Invalid",
                    r,
                    "Document.kube.rs \"lorem\" is invalid: spec.title: Required value",
                ),
                Class::InvalidObject,
                false,
            )
        },
        {
            let mut r = documents("patch", Some("default"));
            r.name = Some("lorem".into());
            fixture(
                answered(
                    Cause::StalePatch {
                        detail: Some("the server rejected our request due to an error in our request".into()),
                    },
                    422,
                    "Invalid",
                    r,
                    "the server rejected our request due to an error in our request",
                ),
                Class::Conflict,
                true,
            )
        },
        fixture(
            answered(
                Cause::BadOptions {
                    fields: vec!["resourceVersionMatch".into()],
                    detail: Some(
                        "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless \
                         resourceVersion is provided"
                            .into(),
                    ),
                },
                422,
                "Invalid",
                documents("list", None),
                "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch \
                 is forbidden unless resourceVersion is provided",
            ),
            Class::InvalidRequest,
            false,
        ),
        fixture(
            answered(
                Cause::WatchListDisabled,
                422,
                "Invalid",
                documents("watch", None),
                "ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is \
                 forbidden for watch unless the WatchList feature gate is enabled",
            ),
            Class::InvalidRequest,
            false,
        ),
        fixture(
            answered(
                Cause::ResourceVersionMatchOnWatch,
                422,
                "Invalid",
                documents("watch", None),
                "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch \
                 is forbidden for watch unless sendInitialEvents is provided",
            ),
            Class::InvalidRequest,
            false,
        ),
        fixture(
            {
                let mut d = Diagnosis::new(
                    Cause::ShardingNotServed { strays: 4 },
                    "4 objects arrived outside the requested shard ranges",
                );
                d.request = documents("watch", None);
                d
            },
            Class::InvalidRequest,
            false,
        ),
        fixture(
            answered(
                Cause::BadRequest {
                    detail: Some("field label not supported: spec.title".into()),
                },
                400,
                "BadRequest",
                documents("list", None),
                "field label not supported: spec.title",
            ),
            Class::InvalidRequest,
            false,
        ),
        fixture(
            answered(
                Cause::VerbUnsupported {
                    verbs: vec!["deletecollection".into()],
                    supported: vec!["get".into(), "list".into(), "watch".into()],
                },
                405,
                "MethodNotAllowed",
                request("deletecollection", "", "v1", "componentstatuses", None),
                "the server does not allow this method on the requested resource",
            ),
            Class::InvalidRequest,
            false,
        ),
        {
            let mut d = Diagnosis::new(
                Cause::WrongScope {
                    declared_namespaced: true,
                },
                "declared namespaced, served cluster-scoped",
            );
            d.request = request("list", "", "v1", "namespaces", Some("default"));
            d.notes.push(Note::Declared {
                program: "doc-controller".into(),
                needs: vec![3],
            });
            fixture(d, Class::InvalidRequest, false)
        },
        fixture(
            Diagnosis::new(
                Cause::NotSent,
                "failed to build request: invalid header value",
            ),
            Class::InvalidRequest,
            false,
        ),
        fixture(
            {
                let mut d = Diagnosis::new(
                    Cause::NoResourceVersion,
                    "the list answer carried no resourceVersion",
                );
                d.request = documents("list", None);
                d
            },
            Class::InvalidRequest,
            false,
        ),
        // ===== the object's state =====
        {
            let mut r = configmaps("update");
            r.name = Some("settings".into());
            fixture(
                answered(
                    Cause::Modified,
                    409,
                    "Conflict",
                    r,
                    "Operation cannot be fulfilled on configmaps \"settings\": the object has been modified; \
                     please apply your changes to the latest version and try again",
                ),
                Class::Conflict,
                true,
            )
        },
        {
            let mut r = configmaps("patch");
            r.name = Some("settings".into());
            fixture(
                answered(
                    Cause::ApplyConflict {
                        manager: "kubectl-client-side-apply".into(),
                        detail: Some(".data.mode".into()),
                    },
                    409,
                    "Conflict",
                    r,
                    "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using v1: .data.mode",
                ),
                Class::Conflict,
                true,
            )
        },
        {
            let mut r = configmaps("create");
            r.name = Some("settings".into());
            fixture(
                answered(
                    Cause::AlreadyExists,
                    409,
                    "AlreadyExists",
                    r,
                    "configmaps \"settings\" already exists",
                ),
                Class::AlreadyExists,
                false,
            )
        },
        {
            let mut d = answered(
                Cause::Expired,
                410,
                "Expired",
                documents("watch", None),
                "too old resource version: 1200 (1500)",
            );
            d.phase = Some(Phase::WatchEvent);
            d.notes.push(Note::LoggedByKubeRuntime);
            fixture(d, Class::Expired, true)
        },
        // ===== load and the server =====
        fixture(
            answered(
                Cause::Throttled {
                    retry_after: Some(1),
                },
                429,
                "TooManyRequests",
                documents("list", None),
                "Too many requests, please try again later.",
            ),
            Class::Throttled,
            true,
        ),
        fixture(
            Diagnosis::new(
                Cause::ClientThrottled,
                "Waited for 1.2s due to client-side throttling, not priority and fairness, request: GET:\
                 https://10.96.0.1:443/apis/kube.rs/v1/documents",
            ),
            Class::Throttled,
            true,
        ),
        fixture(
            answered(
                Cause::Reinitializing {
                    retry_after: Some(1),
                },
                429,
                "TooManyRequests",
                documents("list", None),
                "storage is (re)initializing",
            ),
            Class::Throttled,
            true,
        ),
        fixture(
            answered(
                Cause::ServerFailed,
                500,
                "InternalError",
                documents("list", None),
                "Internal error occurred: unexpected error",
            ),
            Class::ServerError,
            true,
        ),
        fixture(
            answered(
                Cause::Unavailable,
                503,
                "ServiceUnavailable",
                request("list", "metrics.k8s.io", "v1beta1", "pods", None),
                "the server is currently unable to handle the request",
            ),
            Class::ServerError,
            true,
        ),
        fixture(
            answered(
                Cause::LeaderChanged,
                500,
                "InternalError",
                configmaps("update"),
                "etcdserver: leader changed",
            ),
            Class::ServerError,
            true,
        ),
        fixture(
            answered(
                Cause::StorageRead {
                    keys: vec!["/registry/secrets/default/token".into()],
                },
                500,
                "InternalError",
                request("list", "", "v1", "secrets", Some("default")),
                "Internal error occurred: failed to read storage: /registry/secrets/default/token: cipher: \
                 message authentication failed",
            ),
            Class::ServerError,
            false,
        ),
        fixture(
            answered(
                Cause::ServerTimeout,
                504,
                "Timeout",
                documents("list", None),
                "the server was unable to return a response in the time allotted, but may still be processing \
                 the request",
            ),
            Class::Timeout,
            true,
        ),
        fixture(
            {
                let mut d = Diagnosis::new(
                    Cause::NoAnswer {
                        after_ms: Some(295_000),
                    },
                    "operation timed out",
                );
                d.request = documents("list", None);
                d
            },
            Class::Timeout,
            true,
        ),
        fixture(
            Diagnosis::new(
                Cause::CacheSyncTimeout,
                "timed out waiting for cache to be synced for Kind *v1.Document",
            ),
            Class::Timeout,
            true,
        ),
        {
            let mut d = Diagnosis::new(
                Cause::StalledWatch { idle_s: 70 },
                "no event or bookmark for 70 s",
            );
            d.request = documents("watch", None);
            d.phase = Some(Phase::WatchStream);
            fixture(d, Class::Timeout, true)
        },
        {
            let mut d = Diagnosis::new(
                Cause::NoInitialEventsEnd { waited_s: 15 },
                "no initial-events-end bookmark after 15 s",
            );
            d.request = documents("watch", None);
            d.phase = Some(Phase::InitialList);
            fixture(d, Class::Timeout, true)
        },
        // ===== the application's own =====
        fixture(
            Diagnosis::new(
                Cause::Application(
                    AppCause::new(
                        "handover-stalled",
                        Class::Timeout,
                        "a hand-over in ring `docs` has waited 90 s for `docs-1`",
                    )
                    .cause("`docs-1` has not applied the new ring on its Lease")
                    .note("a member that stops renewing its Lease drops out once the Lease expires")
                    .help("read the log of `docs-1`: its own diagnosis says why it cannot apply the ring")
                    .command("kubectl -n docs describe leases docs-1"),
                ),
                "ring 1a2b not applied by every member",
            ),
            Class::Timeout,
            false,
        ),
        // ===== transport =====
        {
            let mut d = Diagnosis::new(
                Cause::Connection {
                    failure: ConnectionFailure::Refused,
                    os_code: Some(111),
                },
                "client error (Connect): tcp connect error: Connection refused (os error 111)",
            );
            d.request.method = Some("GET".into());
            d.request.url = Some("https://127.0.0.1:6443/apis/kube.rs/v1/documents".into());
            fixture(d, Class::Connection, true)
        },
        fixture(
            Diagnosis::new(
                Cause::Tls {
                    failure: TlsFailure::UnknownIssuer,
                },
                "client error (Connect): invalid peer certificate: UnknownIssuer",
            ),
            Class::Tls,
            false,
        ),
        fixture(
            Diagnosis::new(
                Cause::ProxyUnsupported,
                "proxy scheme socks5 is not supported: enable the `socks5` feature",
            ),
            Class::Connection,
            true,
        ),
        // ===== the client =====
        fixture(
            Diagnosis::new(
                Cause::NoConfig,
                "failed to infer config: in-cluster: missing KUBERNETES_SERVICE_HOST, kubeconfig: no such file",
            ),
            Class::Unknown,
            false,
        ),
        fixture(
            {
                let mut d = Diagnosis::new(
                    Cause::Undecodable,
                    "error decoding response body: missing field `title` at line 1 column 120",
                );
                d.request = documents("get", Some("default"));
                d
            },
            Class::Unknown,
            false,
        ),
        fixture(
            Diagnosis::new(Cause::Unknown, "something nobody has seen before"),
            Class::Unknown,
            false,
        ),
    ]
}

/// Every tag serde knows for [`Cause`], from its own "expected one of" list: what the fixtures must cover.
fn serde_tags() -> Vec<String> {
    let err = serde_json::from_value::<Cause>(serde_json::json!({ "kind": "-no-such-kind-" }))
        .expect_err("no cause is tagged `-no-such-kind-`")
        .to_string();
    let list = err
        .split_once("expected one of ")
        .unwrap_or_else(|| panic!("serde names the tags it expects: {err}"))
        .1;
    list.split(", ")
        .map(|t| {
            t.trim_matches(|c: char| c == '`' || c.is_whitespace())
                .to_string()
        })
        .collect()
}

#[test]
fn one_fixture_per_variant_in_order() {
    let fixtures = fixtures();
    for (i, f) in fixtures.iter().enumerate() {
        assert_eq!(
            position(&f.diagnosis.cause),
            i,
            "the fixture at {i} is of `{}`: fixtures() and position() disagree",
            f.diagnosis.cause.kind()
        );
    }
    let kinds: Vec<&str> = fixtures.iter().map(|f| f.diagnosis.cause.kind()).collect();
    assert_eq!(
        kinds,
        serde_tags(),
        "one fixture per serde tag of `Cause`, in declaration order"
    );
}

#[test]
fn the_kind_is_the_serde_tag_and_a_cause_survives_json() {
    for f in fixtures() {
        let c = &f.diagnosis.cause;
        let v = serde_json::to_value(c).unwrap();
        assert_eq!(v["kind"], c.kind(), "{v}");
        let back: Cause = serde_json::from_value(v).unwrap();
        assert_eq!(&back, c);
    }
}

#[test]
fn each_variant_has_its_class_and_transience() {
    for f in fixtures() {
        let d = &f.diagnosis;
        let kind = d.cause.kind();
        assert_eq!(d.cause.class(), f.class, "class of `{kind}`");
        assert_eq!(
            d.class, f.class,
            "Diagnosis::new takes the cause's class (`{kind}`)"
        );
        assert_eq!(d.is_transient(), f.transient, "transience of `{kind}`");
    }
}

#[test]
fn each_variant_renders_as_text_and_json() {
    for f in fixtures() {
        let d = &f.diagnosis;
        let kind = d.cause.kind();
        let mut text = Vec::new();
        crate::render::text::write_diagnosis(&mut text, d, &crate::render::TextOptions::default())
            .unwrap();
        let text = String::from_utf8(text).unwrap();
        let one_line = format!("{d:#}");
        insta::assert_snapshot!(format!("{kind}.text"), format!("{one_line}\n\n{text}"));
        let json = serde_json::to_string_pretty(&crate::render::json::diagnosis_value(d)).unwrap();
        insta::assert_snapshot!(format!("{kind}.json"), json);
    }
}
