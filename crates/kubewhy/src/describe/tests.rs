//! The wording table on the causes of Kubernetes 1.33–1.36 and the other cases the issue names, each read from a
//! real `Status` value or message (the shapes the API server v1.36 writes: see the comments).

use kube::core::Status;
use kube::core::response::StatusDetails;
use serde_json::json;

use crate::cause::{Admitter, AppCause, Cause, ConnectionFailure, Scope, TlsFailure};
use crate::diagnosis::Class;
use crate::{Diagnosis, diagnose, diagnose_text};

fn status(code: u16, reason: &str, message: &str) -> Status {
    Status::failure(message, reason).with_code(code)
}

fn details(v: serde_json::Value) -> StatusDetails {
    serde_json::from_value(v).expect("a StatusDetails in the API server's JSON")
}

fn of(s: Status) -> Diagnosis {
    diagnose(&kube::Error::Api(s.boxed()))
}

#[test]
fn the_one_line_form_is_derived_from_the_cause_never_a_remedy_s_first_line() {
    // A missing CRD: its remedy text starts with "likely causes, in order:", which once ended a log line.
    let d = diagnose_text(
        r#"failed to list kube.rs/v1, Kind=Document: the server could not find the requested resource (get documents.kube.rs)"#,
    )
    .unwrap();
    let line = format!("{d:#}");
    assert!(
        line.starts_with("error[resource-not-found]: `documents.kube.rs` (v1) is not served"),
        "{line}"
    );
    assert!(line.contains("; cause: the type is not served"), "{line}");
    assert!(
        line.contains("; help: install the CRD of `documents.kube.rs`"),
        "{line}"
    );
    assert!(!line.contains("likely causes"), "{line}");
    assert!(!line.contains('\n'), "{line}");
    assert_eq!(format!("{d}"), line.split("; cause").next().unwrap());
}

#[test]
fn a_reinitializing_watch_cache_is_not_priority_and_fairness() {
    // k8s.io/apiserver `storage/cacher/ready.go`; the 429 carries Retry-After.
    let mut s = status(429, "TooManyRequests", "storage is (re)initializing");
    s.details = Some(details(json!({"retryAfterSeconds": 1})));
    let d = of(s);
    assert_eq!(
        d.cause,
        Cause::Reinitializing {
            retry_after: Some(1)
        }
    );
    assert!(d.is_transient());
    let w = d.describe();
    assert!(
        w.cause.contains("not API Priority and Fairness"),
        "{}",
        w.cause
    );
    assert_eq!(w.notes, ["the server asked to retry after 1 s"]);
    let apf = of(status(
        429,
        "TooManyRequests",
        "Too many requests, please try again later.",
    ));
    assert_eq!(apf.cause, Cause::Throttled { retry_after: None });
}

#[test]
fn server_errors_tell_a_leader_change_from_unreadable_storage() {
    let d = of(status(500, "InternalError", "etcdserver: leader changed"));
    assert_eq!(
        (d.class, &d.cause),
        (Class::ServerError, &Cause::LeaderChanged)
    );
    assert!(d.is_transient());
    // k8s.io/apiserver `storage/etcd3/corrupt_obj_deleter.go`: the keys are the causes' fields.
    let mut s = status(
        500,
        "StorageReadError",
        "failed to read one or more secrets from the storage",
    );
    s.details = Some(details(json!({
        "kind": "secrets",
        "causes": [{"reason": "UnexpectedServerResponse", "message": "failed to decrypt", "field": "/registry/secrets/ns1/db"}]
    })));
    let d = of(s);
    assert_eq!(
        d.cause,
        Cause::StorageRead {
            keys: vec!["/registry/secrets/ns1/db".into()]
        }
    );
    assert!(!d.is_transient());
    let w = d.describe();
    assert_eq!(
        w.summary,
        "the API server could not read 1 object of `secrets` from storage"
    );
    assert_eq!(w.notes, ["unreadable: `/registry/secrets/ns1/db`"]);
    assert!(
        d.remedy()
            .text
            .contains("ignoreStoreReadErrorWithClusterBreakingPotential")
    );
}

#[test]
fn a_failed_json_patch_test_is_a_stale_read_not_invalid_fields() {
    // k8s.io/apiserver `endpoints/handlers/patch.go`: a JSON patch that does not apply is a generic 422 without causes.
    let d = of(status(
        422,
        "Invalid",
        "the server rejected our request due to an error in our request",
    ));
    assert_eq!(d.cause, Cause::StalePatch { detail: None });
    assert_eq!(d.class, Class::Conflict);
    assert!(d.is_transient());
    assert!(d.remedy().text.starts_with("nothing to fix"));
    // A field validation failure is still one.
    let d = of(status(
        422,
        "Invalid",
        r#"Document.kube.rs "x" is invalid: spec.title: Required value"#,
    ));
    assert_eq!(d.class, Class::InvalidObject);
}

#[test]
fn a_watch_list_request_on_a_server_without_the_feature_is_named() {
    let d = diagnose_text(
        r#"ListOptions.meta.k8s.io "" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled"#,
    )
    .unwrap();
    assert_eq!(d.cause, Cause::WatchListDisabled);
    assert!(d.remedy().text.contains("streaming_lists()"));
}

#[test]
fn credentials_asked_for_keep_the_resource_and_group() {
    let d = diagnose_text(
        "the server has asked for the client to provide credentials (get pods.metrics.k8s.io)",
    )
    .unwrap();
    assert_eq!(d.cause, Cause::Unauthenticated { expired: false });
    assert_eq!(d.request.resource.as_deref(), Some("pods"));
    assert_eq!(d.request.group.as_deref(), Some("metrics.k8s.io"));
    assert!(
        d.summary().contains("`pods.metrics.k8s.io`"),
        "{}",
        d.summary()
    );
}

#[test]
fn a_conversion_webhook_whose_service_is_missing_is_down_not_the_user_s_object() {
    // aws-samples/karpenter-blueprints#17: the reflector's error, no `Internal error occurred:` before it.
    let d = diagnose_text(
        r#"failed to list *v1beta1.NodeClaim: conversion webhook for karpenter.sh/v1, Kind=NodeClaim failed: Post "https://karpenter.kube-system.svc:8443/conversion/karpenter.sh?timeout=30s": service "karpenter" not found"#,
    )
    .unwrap();
    assert_eq!(d.class, Class::ServerError);
    let Cause::WebhookUnreachable {
        webhook,
        service,
        conversion,
        ..
    } = &d.cause
    else {
        panic!("{:?}", d.cause);
    };
    assert_eq!(
        (webhook.as_str(), service.as_deref(), conversion.as_deref()),
        (
            "",
            Some("kube-system/karpenter"),
            Some("NodeClaim.karpenter.sh")
        )
    );
    assert_eq!(
        (d.request.kind.as_deref(), d.request.version.as_deref()),
        (Some("NodeClaim"), Some("v1beta1"))
    );
    assert!(
        d.summary()
            .starts_with("the conversion webhook of `NodeClaim.karpenter.sh` could not be called"),
        "{}",
        d.summary()
    );
    let commands = d.remedy().commands;
    assert!(
        commands
            .iter()
            .any(|c| c.contains("spec.names.kind==\"NodeClaim\""))
    );
    assert!(!commands.iter().any(|c| c.contains("webhookconfigurations")));
}

#[test]
fn a_webhook_whose_service_is_missing_is_down_not_the_user_s_object() {
    let d = diagnose_text(
        r#"Internal error occurred: failed calling webhook "validate.kyverno.svc-fail": failed to call webhook: Post "https://kyverno-svc.kyverno.svc:443/validate/fail?timeout=10s": service "kyverno-svc" not found"#,
    )
    .unwrap();
    assert_eq!(
        d.cause,
        Cause::WebhookUnreachable {
            webhook: "validate.kyverno.svc-fail".into(),
            service: Some("kyverno/kyverno-svc".into()),
            detail: Some(
                r#"failed to call webhook: Post "https://kyverno-svc.kyverno.svc:443/validate/fail?timeout=10s": service "kyverno-svc" not found"#
                    .into()
            ),
            conversion: None,
        }
    );
    assert_eq!(d.class, Class::ServerError);
    assert!(!d.is_transient());
    assert!(
        d.remedy().commands.contains(
            &"kubectl get endpointslices -n kyverno -l kubernetes.io/service-name=kyverno-svc"
                .to_string()
        )
    );
}

#[test]
fn a_policy_denial_with_reason_forbidden_is_not_rbac() {
    let d = of(status(
        403,
        "Forbidden",
        r#"deployments.apps "web" is forbidden: ValidatingAdmissionPolicy 'replica-limit' with binding 'replica-limit-binding' denied request: replicas must be at most 5"#,
    ));
    assert_eq!(d.class, Class::AdmissionDenied);
    let Cause::Admission {
        by: Admitter::Policy { name, binding },
        ..
    } = &d.cause
    else {
        panic!("{:?}", d.cause)
    };
    assert_eq!(
        (name.as_str(), binding.as_str()),
        ("replica-limit", "replica-limit-binding")
    );
    assert!(
        d.describe()
            .notes
            .iter()
            .any(|n| n.contains("this 403 looks like an RBAC denial"))
    );
    assert!(d.remedy().yaml.is_none());
}

#[test]
fn a_constrained_impersonation_denial_gets_both_rules() {
    // The API server's own test (k8s.io/apiserver `filters/impersonation`).
    let d = diagnose_text(
        r#"pods "foo" is forbidden: User "user-impersonater" cannot impersonate-on:user-info:create resource "pods" in API group "" in the namespace "bar": deny by default"#,
    )
    .unwrap();
    assert_eq!(d.class, Class::Forbidden);
    assert_eq!(
        d.request.verb.as_deref(),
        Some("impersonate-on:user-info:create")
    );
    assert!(d.describe().cause.contains("needs two rules"));
    let yaml = d.remedy().yaml.unwrap();
    assert!(yaml.contains("impersonate-on:user-info:create"), "{yaml}");
    assert!(yaml.contains("impersonate:user-info"), "{yaml}");
    assert!(yaml.contains("authentication.k8s.io"), "{yaml}");
    assert!(
        yaml.contains("kind: ClusterRole\n") && yaml.contains("kind: Role\n"),
        "{yaml}"
    );
}

#[test]
fn transport_failures_keep_their_kind_and_os_code() {
    let d = diagnose_text(
        "error trying to connect: tcp connect error: Connection refused (os error 111)",
    )
    .unwrap();
    assert_eq!(
        d.cause,
        Cause::Connection {
            failure: ConnectionFailure::Refused,
            os_code: Some(111)
        }
    );
    assert!(d.describe().cause.contains("(os error 111)"));
    let d = diagnose_text("invalid peer certificate: UnknownIssuer").unwrap();
    assert_eq!(
        d.cause,
        Cause::Tls {
            failure: TlsFailure::UnknownIssuer
        }
    );
    assert!(d.describe().notes.iter().any(|n| n.contains("kube#1767")));
}

#[test]
fn a_field_selector_the_resource_does_not_support_is_a_bad_request() {
    let d = of(status(
        400,
        "BadRequest",
        r#"field label not supported: spec.foo"#,
    ));
    assert_eq!(d.class, Class::InvalidRequest);
    assert_eq!(d.cause, Cause::BadRequest { detail: None });
    assert_eq!(d.describe().cause, "field label not supported: spec.foo");
}

#[test]
fn a_watch_denied_after_its_list_says_so() {
    let d = diagnose_text(
        r#"WatchStartFailed(Api(Status { status: Some(Failure), code: 403, message: "configmaps is forbidden: User \"alice\" cannot watch resource \"configmaps\" in API group \"\" in the namespace \"a\"", metadata: None, reason: "Forbidden", details: None }))"#,
    )
    .unwrap();
    let Cause::Denied(denial) = &d.cause else {
        panic!("{:?}", d.cause)
    };
    assert_eq!(denial.scope, Scope::Namespace);
    assert!(d.describe().notes.iter().any(|n| n.contains("kube#1132")));
}

#[test]
fn a_malformed_shard_selector_is_the_requests_fault_though_it_comes_as_a_500() {
    let d = of(status(
        500,
        "",
        r#"invalid shard selector: hexStart must be a 0x-prefixed 16-digit hex value, got "0x0" (did you mean "0x0000000000000000"?)"#,
    ));
    assert_eq!(d.class, Class::InvalidRequest);
    assert!(!d.is_transient());
    let words = d.describe();
    assert!(words.summary.contains("`shardSelector`"), "{words:?}");
    assert!(words.notes.iter().any(|n| n.contains("500")), "{words:?}");
}

#[test]
fn sharding_failures_are_worded_and_have_a_fix() {
    let mut d = Diagnosis::new(Cause::ShardingNotServed { strays: 4 }, "");
    d.request.resource = Some("documents".into());
    d.request.group = Some("kube.rs".into());
    assert_eq!(d.class, Class::InvalidRequest);
    assert!(
        d.summary().contains("by `shardSelector`"),
        "{}",
        d.summary()
    );
    assert!(d.remedy().text.contains("ShardedListAndWatch"));
    let app = AppCause::new(
        "handover-stalled",
        Class::Timeout,
        "a hand-over has waited 45 s",
    )
    .cause("members have not applied the ring")
    .note("a member that stops renewing drops out")
    .help("read the members' logs")
    .command("kubectl -n ns describe leases r-1 r-2");
    let d = Diagnosis::new(Cause::Application(app), "");
    assert_eq!(d.class, Class::Timeout);
    assert!(
        !d.is_transient(),
        "not transient unless the application says so"
    );
    let words = d.describe();
    assert_eq!(
        (
            words.summary.as_str(),
            words.cause.as_str(),
            words.notes.as_slice()
        ),
        (
            "a hand-over has waited 45 s",
            "members have not applied the ring",
            &["a member that stops renewing drops out".to_string()][..]
        )
    );
    let remedy = d.remedy();
    assert_eq!(remedy.summary, "read the members' logs");
    assert_eq!(remedy.commands, ["kubectl -n ns describe leases r-1 r-2"]);
}
