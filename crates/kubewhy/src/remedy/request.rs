//! Fixes of failures of the request itself and of the object's state: validation, stale patches, list and watch
//! options, streaming lists, bad requests, unsupported verbs, a need's wrong scope, conflicts, existing objects,
//! expired resource versions.

use super::Remedy;
use crate::cause::Cause;
use crate::describe::served::declared_needs;
use crate::diagnosis::Diagnosis;

pub(super) fn remedy(d: &Diagnosis) -> Remedy {
    let r = &d.request;
    match &d.cause {
    Cause::Invalid { .. } => {
        let mut m = Remedy::new("fix the fields the message names and send the object again");
        if let Some(kind) = &r.kind {
            m.commands
                .push(format!("kubectl explain {}", kind.to_ascii_lowercase()));
        }
        m
    }
    Cause::StalePatch { .. } => Remedy::new(
        "nothing to fix: the reconcile is retried with a fresh read; if it repeats for minutes, the \
         controller's cache is not keeping up (check its watcher's errors)",
    ),
    Cause::BadOptions { .. } => Remedy::new("fix the request's parameters named in the message")
        .command("kubectl api-resources -o wide"),
    Cause::WatchListDisabled => Remedy::new(
        "drop `streaming_lists()` from the watcher's configuration (kube-rs `watcher::Config::default()` \
         lists, then watches), or enable the WatchList feature gate on the API server",
    ),
    Cause::ShardingNotServed { .. } => Remedy::new(
        "enable the `ShardedListAndWatch` feature gate on every API server (Kubernetes 1.36+: \
         `--feature-gates=ShardedListAndWatch=true`), or filter on the client side (the program's own choice)",
    )
    .command("kubectl get --raw /metrics | grep apiserver_watch_filtered_events_total"),
    Cause::ResourceVersionMatchOnWatch => Remedy::new(
        "drop `resourceVersionMatch` from the watch, or make it a streaming list (`sendInitialEvents=true` \
         with `resourceVersionMatch=NotOlderThan`); with kube-rs use `watcher::Config::default()` or \
         `.streaming_lists()` rather than hand-written watch parameters",
    )
    .command("kubectl api-resources -o wide"),
    Cause::BadRequest { .. } => Remedy::new(
        "fix what the message names: a field selector on a field the resource does not index (every \
         resource supports `metadata.name` and `metadata.namespace`), a malformed body or patch",
    )
    .command("kubectl api-resources -o wide"),
    Cause::VerbUnsupported { verbs, .. } => match declared_needs(d) {
        Some(needs) if !verbs.is_empty() => {
            Remedy::new(format!("remove those verbs from {needs} in the needs file"))
        }
        _ => Remedy::new(
            "use a verb the resource supports (see the VERBS column of `kubectl api-resources -o wide`)",
        )
        .command("kubectl api-resources -o wide"),
    },
    Cause::WrongScope {
        declared_namespaced,
    } => Remedy::new(format!(
        "in the needs file, set `namespaced: {}` for {}",
        !declared_namespaced,
        declared_needs(d).unwrap_or_else(|| "the need".into())
    )),
    Cause::NotSent => Remedy::new(
        "check what the client builds: a name a URL cannot hold, a header value with a newline, a body \
         that does not serialize",
    ),
    Cause::NoResourceVersion => Remedy::new(
        "watch a resource that supports list and watch (see the VERBS column of `kubectl api-resources -o \
         wide`)",
    )
    .command("kubectl api-resources -o wide"),
    Cause::Modified => Remedy::new(
        "read the object again and retry the change on the latest version (or use server-side apply, which \
         needs no resourceVersion); retrying is normal for controllers",
    ),
    Cause::ApplyConflict { .. } => Remedy::new(
        "if this manager should own those fields, apply with force (kube-rs \
         `PatchParams::apply(..).force()`); otherwise stop setting them",
    ),
    Cause::AlreadyExists => Remedy::new(
        "treat 409 `AlreadyExists` as success when creating idempotently, or use server-side apply \
         (`Patch::Apply`) instead of create",
    ),
    Cause::Expired => Remedy::new(
        "nothing to do for a watcher (it relists); otherwise list again and continue from the new \
         resourceVersion",
    ),
        _ => unreachable!("remedy::request is given request causes only"),
    }
}
