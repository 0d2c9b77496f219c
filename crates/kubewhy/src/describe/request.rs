//! Wording of failures of the request itself and of the object's state: validation (422), a JSON patch built from a
//! stale copy, list and watch options, streaming lists, bad requests (400), unsupported verbs, a need's wrong
//! scope, conflicts, existing objects, expired resource versions.

use super::served::declared_needs;
use super::{Words, in_namespace, object_text, quoted_commas, quoted_list, quoted_resource};
use crate::cause::{Cause, FieldError};
use crate::diagnosis::Diagnosis;
use crate::vocab::resource_name;

pub(super) fn words(d: &Diagnosis) -> Words {
    let r = &d.request;
    let w = Words::new;
    match &d.cause {
        Cause::Invalid { fields, detail } => invalid(d, fields, detail.as_deref()),
        Cause::StalePatch { .. } => w(
            format!(
                "the JSON patch of {} did not apply: the object changed since it was read",
                object_text(r)
            ),
            "a JSON patch `test` operation found a value other than the one it was built from (kube-runtime's \
             finalizer helper tests `metadata.finalizers` this way): the patch came from a stale copy, e.g. an \
             informer cache behind the server; transient — the next reconcile reads the object again",
        ),
        Cause::BadOptions { fields, detail } => Words {
            summary: format!(
                "the API server rejected the request's options{}",
                if fields.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", quoted_commas(fields))
                }
            ),
            cause: detail
                .clone()
                .unwrap_or_else(|| "the request's parameters are not valid for this verb".into()),
            notes: (d.code == Some(500) && fields.iter().any(|f| f == "shardSelector"))
                .then(|| {
                    "the API server answers a malformed `shardSelector` with a 500 (it returns the parse error as an \
                     internal one): the request is at fault, and retrying it does not help; each bound is `0x` and \
                     16 lowercase hex digits (`0x10000000000000000` for the end of the space)"
                        .to_string()
                })
                .into_iter()
                .collect(),
        },
        Cause::WatchListDisabled => w(
            "the API server refused a streaming list (`sendInitialEvents`): its WatchList feature is off".into(),
            "`sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled`: the client \
             asked for a streaming list (kube-rs `watcher::Config::streaming_lists()`), which this API server does \
             not serve; kube-rs does not fall back to a plain list and retries for ever",
        ),
        Cause::ShardingNotServed { strays } => Words {
            summary: match quoted_resource(r) {
                Some(t) => format!("the API server does not filter {t} by `shardSelector`"),
                None => "the API server does not filter by `shardSelector`".into(),
            },
            cause: "it sent objects outside the ranges the request's `shardSelector` asked for: it does not serve \
                    sharded lists and watches (Kubernetes before 1.36, or its `ShardedListAndWatch` feature gate is \
                    off — in a control plane of several API servers, on at least one of them)"
                .into(),
            notes: vec![format!(
                "{strays} object(s) outside the requested ranges arrived; the client must filter them itself (the \
                 list and watch cost every client the whole collection)"
            )],
        },
        Cause::ResourceVersionMatchOnWatch => w(
            "the API server rejected the request's options (`resourceVersionMatch`)".into(),
            "a watch may not set `resourceVersionMatch` unless it also sets `sendInitialEvents=true` (a streaming \
             list); `resourceVersionMatch` belongs to list requests",
        ),
        Cause::BadRequest { detail } => Words {
            summary: match quoted_resource(r) {
                Some(t) => format!("the API server could not accept the request for {t} (400)"),
                None => "the API server could not accept the request (400)".into(),
            },
            cause: detail.clone().unwrap_or_else(|| {
                if d.message.is_empty() {
                    "the request is malformed for this resource".into()
                } else {
                    d.message.clone()
                }
            }),
            notes: Vec::new(),
        },
        Cause::VerbUnsupported { verbs, supported } => {
            let what = quoted_resource(r).unwrap_or_else(|| "the resource".into());
            let what = match &r.version {
                Some(v) if !supported.is_empty() => format!("{what} ({v})"),
                _ => what,
            };
            let verbs = if verbs.is_empty() {
                r.verb.iter().cloned().collect()
            } else {
                verbs.clone()
            };
            Words {
                summary: format!("{what} does not support {}", quoted_list(&verbs)),
                cause: if supported.is_empty() {
                    "the server does not allow this method on the resource (405)".into()
                } else {
                    format!(
                        "discovery lists the verbs it supports: {}",
                        supported.join(", ")
                    )
                },
                notes: Vec::new(),
            }
        }
        Cause::WrongScope {
            declared_namespaced,
        } => {
            let name = resource_name(
                r.resource.as_deref().unwrap_or_default(),
                r.group.as_deref().unwrap_or(""),
                None,
            );
            let (declared, actual) = if *declared_namespaced {
                ("namespaced", "cluster-scoped")
            } else {
                ("cluster-scoped", "namespaced")
            };
            let by = declared_needs(d).unwrap_or_else(|| "the declaration".into());
            w(
                format!("`{name}` is {actual}, but {by} declares it {declared}"),
                "the scope decides the RBAC (a Role grants only namespaced types; a cluster-scoped type needs a \
                 ClusterRole) and the request URLs, so both would be wrong",
            )
        }
        Cause::NotSent => w(
            "the client could not build the request".into(),
            "nothing was sent: the URL, a header or the body is one the HTTP client rejects",
        ),
        Cause::NoResourceVersion => w(
            "the list answer had no resourceVersion to start watching from".into(),
            "the resource may not support list and watch",
        ),
        Cause::Modified => w(
            format!("{} was modified since it was read", object_text(r)),
            "optimistic concurrency: the update carried an old `resourceVersion`",
        ),
        Cause::ApplyConflict { manager, .. } => w(
            format!("server-side apply conflicts with field manager `{manager}`"),
            &format!(
                "another field manager (`{manager}`) owns fields this apply sets to different values"
            ),
        ),
        Cause::AlreadyExists => w(
            format!("{} already exists{}", object_text(r), in_namespace(r)),
            "a create named an object that exists",
        ),
        Cause::Expired => w(
            "the requested resource version is too old".into(),
            "the API server no longer has history that old (etcd compaction or the watch cache window)",
        ),
        _ => unreachable!("describe::request is given request causes only"),
    }
}

fn invalid(d: &Diagnosis, fields: &[FieldError], detail: Option<&str>) -> Words {
    let first = fields
        .first()
        .map(|c| format!("{}: {}", c.field, c.message))
        .or_else(|| detail.map(str::to_string))
        .unwrap_or_default();
    Words {
        summary: format!(
            "{} is invalid{}",
            object_text(&d.request),
            if first.is_empty() {
                String::new()
            } else {
                format!(": {first}")
            }
        ),
        cause: "the object failed validation (schema, required fields or immutable fields)".into(),
        notes: fields
            .iter()
            .skip(1)
            .map(|c| format!("also invalid: `{}`: {}", c.field, c.message))
            .collect(),
    }
}
