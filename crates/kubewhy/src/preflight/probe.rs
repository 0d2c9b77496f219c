//! Check 5, `probe`: for every watched need, a real list (`limit=1`) and a watch that opens and is closed at
//! once, as the checked identity (under impersonation for `--as`). This catches what access reviews cannot: an
//! aggregated API or conversion webhook that is down, a proxy or network policy in the way.

use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, WatchParams};

use super::served::Served;
use super::{Check, CheckKind, Failure, Options, Outcome, Plan, limited, probe_name};
use crate::diagnosis::Request;
use crate::needs::Need;
use crate::note::Note;
use crate::rbac::{Permission, Verb};

/// The URL path of a collection (`/apis/kube.rs/v1/namespaces/ns/documents`).
fn collection_path(need: &Need) -> String {
    let rt = &need.resource;
    let root = if rt.group.is_empty() {
        format!("/api/{}", rt.version)
    } else {
        format!("/apis/{}/{}", rt.group, rt.version)
    };
    match (&need.namespace, rt.namespaced) {
        (Some(ns), true) => format!("{root}/namespaces/{ns}/{}", rt.resource),
        _ => format!("{root}/{}", rt.resource),
    }
}

fn request(need: &Need, verb: Verb, query: &str) -> Request {
    let path = collection_path(need);
    let mut r = super::need_request(&need.resource, None, need.namespace.as_deref(), Some(verb));
    r.method = Some("GET".into());
    r.url = Some(format!("{path}?{query}"));
    r
}

/// Why the probe of a need is not run, if it is not.
fn skip_reason(index: usize, need: &Need, served: &Served, access: &[Check]) -> Option<String> {
    if let Some(reason) = served.misnamed.get(&index) {
        return Some(reason.clone());
    }
    if served.not_served.contains_key(&need.resource) {
        return Some("the type is not served (see `served`)".into());
    }
    for verb in [Verb::List, Verb::Watch] {
        let permission = Permission::resource(
            &need.resource.group,
            &need.resource.resource,
            verb,
            if need.resource.namespaced {
                need.namespace.as_deref()
            } else {
                None
            },
        );
        match access
            .iter()
            .find(|c| c.permission.as_ref() == Some(&permission))
            .map(|c| c.outcome)
        {
            Some(Outcome::Pass) => {}
            Some(Outcome::Fail) => return Some(format!("`{verb}` is denied (see `access`)")),
            Some(Outcome::Skipped) | None => {
                return Some(format!(
                    "whether `{verb}` is allowed is unknown (see `access`)"
                ));
            }
        }
    }
    None
}

async fn probe(client: &kube::Client, need: &Need, options: &Options) -> Check {
    let rt = &need.resource;
    let check = Check::new(CheckKind::Probe, probe_name(need), None);
    let ar = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(&rt.group, &rt.version, &rt.kind),
        &rt.resource,
    );
    let api: Api<DynamicObject> = match (&need.namespace, rt.namespaced) {
        (Some(ns), true) => Api::namespaced_with(client.clone(), ns, &ar),
        _ => Api::all_with(client.clone(), &ar),
    };
    let list = match limited(options.timeout, api.list(&ListParams::default().limit(1))).await {
        Ok(list) => list,
        Err(failure) => {
            return check.fail(diagnose(&failure, &request(need, Verb::List, "limit=1")));
        }
    };
    let rv = list.metadata.resource_version.clone().unwrap_or_default();
    let seconds = options.timeout.as_secs().clamp(1, 10) as u32;
    let params = WatchParams::default().timeout(seconds);
    // The watch is accepted when the response headers arrive (an error status is returned before any event);
    // dropping the stream closes it.
    match limited(options.timeout, api.watch(&params, &rv)).await {
        Ok(stream) => {
            drop(stream);
            check.pass(format!(
                "listed {} item(s) with limit=1 and opened a watch at resourceVersion {rv}",
                list.items.len()
            ))
        }
        Err(failure) => check.fail(diagnose(
            &failure,
            &request(
                need,
                Verb::Watch,
                &format!("watch=true&resourceVersion={rv}&timeoutSeconds={seconds}"),
            ),
        )),
    }
}

fn diagnose(failure: &Failure, request: &Request) -> crate::diagnosis::Diagnosis {
    let mut d = failure.diagnose(request);
    d.notes.push(Note::FailedDespiteReview);
    d
}

pub(super) async fn check(
    client: Result<&kube::Client, String>,
    plan: &Plan,
    served: &Served,
    access: &[Check],
    options: &Options,
) -> Vec<Check> {
    // Made in a loop, not by a closure over references, so that the whole preflight future stays `Send`.
    let mut probes = Vec::with_capacity(plan.probes.len());
    for (index, need) in &plan.probes {
        probes.push(probe_one(
            client.clone(),
            *index,
            need,
            served,
            access,
            options,
        ));
    }
    futures::stream::iter(probes)
        .buffered(options.concurrency.max(1))
        .collect()
        .await
}

/// One probe as a check (skipped, with the reason, when its answer would mean nothing or it cannot run).
async fn probe_one(
    client: Result<&kube::Client, String>,
    index: usize,
    need: &Need,
    served: &Served,
    access: &[Check],
    options: &Options,
) -> Check {
    let reason = skip_reason(index, need, served, access).or_else(|| {
        client.as_ref().err().map(|why| {
            format!("the probe runs as the checked identity, by impersonation, and {why}")
        })
    });
    let mut check = match (reason, client) {
        (Some(reason), _) => Check::new(CheckKind::Probe, probe_name(need), None).skip(reason),
        (None, Ok(client)) => probe(client, need, options).await,
        (None, Err(why)) => Check::new(CheckKind::Probe, probe_name(need), None).skip(why),
    };
    check.need = Some(index);
    check
}
