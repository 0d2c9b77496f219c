//! The whole rendered text of a diagnosis for one failure of each kind of cause — summary, location, cause,
//! notes, help, manifest — kept as snapshots (insta, `tests/snapshots/`), so any change of wording is a reviewed
//! diff. Regenerate after a deliberate change with `INSTA_UPDATE=always cargo test -p kubewhy --test snapshots`
//! (or `cargo insta review`).

use kubewhy::Diagnosis;
use kubewhy::render::{Location, TextOptions, json, text};
use kubewhy::scan::Hit;

/// One failure per cause, as a user pastes it (server messages, kube-rs Debug, client-go, kubectl, transport).
const CASES: &[(&str, &str)] = &[
    (
        "denied_namespaced",
        r#"configmaps is forbidden: User "system:serviceaccount:ns1:doc-controller" cannot list resource "configmaps" in API group "" in the namespace "ns1""#,
    ),
    (
        "denied_wrong_core_group",
        r#"ErrorResponse { status: "Failure", message: " \"samuel\" is forbidden: User \"system:serviceaccount:default:doc-controller\" cannot patch resource \"documents\" in API group \"\" in the namespace \"default\"", reason: "Forbidden", code: 403 }"#,
    ),
    (
        "denied_watch_after_list",
        r#"WatchStartFailed(Api(Status { status: Some(Failure), code: 403, message: "documents.kube.rs is forbidden: User \"system:serviceaccount:docs:ctl\" cannot watch resource \"documents\" in API group \"kube.rs\" at the cluster scope", metadata: None, reason: "Forbidden", details: None }))"#,
    ),
    (
        "denied_missing_role",
        r#"secrets is forbidden: User "system:serviceaccount:app:web" cannot get resource "secrets" in API group "" in the namespace "app": RBAC: role.rbac.authorization.k8s.io "secret-reader" not found"#,
    ),
    (
        "denied_constrained_impersonation",
        r#"pods "foo" is forbidden: User "user-impersonater" cannot impersonate-on:user-info:create resource "pods" in API group "" in the namespace "bar": deny by default"#,
    ),
    (
        "escalation",
        r#"Error from server (Forbidden): error when creating "role.yaml": roles.rbac.authorization.k8s.io "secret-reader" is forbidden: user "alice" (groups=["dev-team" "system:authenticated"]) is attempting to grant RBAC permissions not currently held: {APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}"#,
    ),
    (
        "admission_webhook",
        r#"Error from server (Forbidden): pods "web" is forbidden: admission webhook "validate.kyverno.svc-fail" denied the request: image registry.example.com/web is not allowed"#,
    ),
    (
        "admission_policy_403",
        r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"deployments.apps \"web\" is forbidden: ValidatingAdmissionPolicy 'replica-limit' with binding 'replica-limit-binding' denied request: replicas must be at most 5","reason":"Forbidden","code":403}"#,
    ),
    (
        "webhook_unreachable",
        r#"Internal error occurred: failed calling webhook "validate.example.com": failed to call webhook: Post "https://webhook.example.svc:443/validate?timeout=10s": service "webhook" not found"#,
    ),
    (
        "not_served_crd",
        r#"E1125 07:00:03.000000 1 reflector.go:166] "Failed to watch" err="failed to list *v1.TLSRoute: the server could not find the requested resource (get tlsroutes.gateway.networking.k8s.io)" logger="UnhandledError""#,
    ),
    (
        "not_served_plain_404",
        r#"Api(ErrorResponse { status: "404 page not found\n", message: "404 page not found\n", reason: "Failed to parse error data", code: 404 })"#,
    ),
    (
        "object_missing_namespace",
        r#"Error from server (NotFound): namespaces "staging" not found"#,
    ),
    (
        "invalid_fields",
        r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Document.kube.rs \"x\" is invalid: [spec.title: Required value, spec.body: Too long: may not be more than 1024 bytes]","reason":"Invalid","details":{"name":"x","group":"kube.rs","kind":"Document","causes":[{"reason":"FieldValueRequired","message":"Required value","field":"spec.title"},{"reason":"FieldValueTooLong","message":"Too long: may not be more than 1024 bytes","field":"spec.body"}]},"code":422}"#,
    ),
    (
        "stale_json_patch",
        r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"the server rejected our request due to an error in our request","reason":"Invalid","details":{},"code":422}"#,
    ),
    (
        "watch_list_disabled",
        r#"InitialListFailed(Api(Status { status: Some(Failure), code: 422, message: "ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled", metadata: None, reason: "Invalid", details: None }))"#,
    ),
    (
        "bad_request_field_selector",
        r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"field label not supported: spec.foo","reason":"BadRequest","code":400}"#,
    ),
    (
        "conflict_modified",
        r#"Operation cannot be fulfilled on configmaps "settings": the object has been modified; please apply your changes to the latest version and try again"#,
    ),
    (
        "apply_conflict",
        r#"Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: .data.key"#,
    ),
    (
        "expired_watch",
        r#"2026-07-01T10:00:01Z DEBUG kube_runtime::watcher: watcher error: WatchError(Status { status: Some(Failure), code: 410, message: "too old resource version: 1234 (5678)", metadata: None, reason: "Expired", details: None })"#,
    ),
    (
        "throttled_apf",
        r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Too many requests, please try again later.","reason":"TooManyRequests","details":{"retryAfterSeconds":5},"code":429}"#,
    ),
    (
        "reinitializing",
        r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"storage is (re)initializing","reason":"TooManyRequests","details":{"retryAfterSeconds":1},"code":429}"#,
    ),
    (
        "leader_changed",
        r#"Error from server: etcdserver: leader changed"#,
    ),
    (
        "storage_read",
        r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"failed to read one or more secrets from the storage","reason":"StorageReadError","details":{"name":"/registry/secrets/","kind":"secrets","causes":[{"reason":"UnexpectedServerResponse","message":"failed to decrypt","field":"/registry/secrets/ns1/db"}]},"code":500}"#,
    ),
    (
        "connection_refused",
        r#"Error: ServiceError: client error (Connect): tcp connect error: Connection refused (os error 111) while connecting to https://127.0.0.1:6443"#,
    ),
    (
        "tls_unknown_issuer",
        r#"HyperError: error trying to connect: invalid peer certificate: UnknownIssuer (https://10.0.0.1:6443)"#,
    ),
    (
        "unauthenticated_credentials",
        r#"E0101 00:00:00.000000 1 memcache.go:265] couldn't get current server API group list: the server has asked for the client to provide credentials (get pods.metrics.k8s.io)"#,
    ),
    (
        "kubewhy_watcher_line",
        r#"2026-11-25T09:03:44.268175Z  WARN watcher documents.kube.rs failing: error[forbidden]: service account `doc-controller/doc-controller` cannot `watch` `documents.kube.rs` at cluster scope watcher=documents.kube.rs class=forbidden code=403 verb="watch" resource="documents" namespace="" user="system:serviceaccount:doc-controller:doc-controller" url="/apis/kube.rs/v1/documents?&watch=true" repeated=0"#,
    ),
];

fn diagnose(name: &str, input: &str) -> Diagnosis {
    kubewhy::diagnose_text(input).unwrap_or_else(|| panic!("{name}: nothing found in {input:?}"))
}

/// Where every case is found: three times in `app.log`, first on line 7.
fn at(input: &str) -> Location<'_> {
    Location {
        source: "app.log",
        first_line: 7,
        last_line: 19,
        count: 3,
        excerpt: input,
        requests: &[],
        unlisted: 0,
    }
}

fn rendered(d: &Diagnosis, input: &str) -> String {
    let mut out = Vec::new();
    text::write_at(&mut out, d, Some(at(input)), &TextOptions::default())
        .expect("writing to a Vec");
    String::from_utf8(out).expect("the text is UTF-8")
}

#[test]
fn every_cause_renders_as_its_snapshot() {
    for (name, input) in CASES {
        let d = diagnose(name, input);
        insta::assert_snapshot!(*name, rendered(&d, input));
    }
}

/// Without a location (a diagnosis made from a value), `-->` names the request and the message is shown.
#[test]
fn a_diagnosis_without_a_location_names_its_request() {
    let status = kube::core::Status::failure(
        r#"leases.coordination.k8s.io "doc-controller" is forbidden: User "system:serviceaccount:docs:ctl" cannot update resource "leases" in API group "coordination.k8s.io" in the namespace "docs""#,
        "Forbidden",
    )
    .with_code(403);
    let d = kubewhy::diagnose(&kube::Error::Api(status.boxed()));
    let mut out = Vec::new();
    text::write_diagnosis(&mut out, &d, &TextOptions::default()).unwrap();
    insta::assert_snapshot!(String::from_utf8(out).unwrap());
}

/// The JSON of one finding, whole: the schema of `docs/json.md`.
#[test]
fn a_finding_in_json() {
    let (_, input) = CASES[0];
    let d = diagnose("json", input);
    let hits = [Hit {
        request: d.request.clone(),
        count: 3,
        first_line: 7,
        last_line: 19,
    }];
    let value = json::finding_value(
        &d,
        &Location {
            requests: &hits,
            ..at(input)
        },
    );
    insta::assert_snapshot!(serde_json::to_string_pretty(&value).unwrap());
}
