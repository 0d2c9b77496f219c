//! Reading a workload from the API server: the object (its pod selector and status conditions), the objects
//! between it and its pods (a Deployment's ReplicaSets), its pods, the events of all of them, the ServiceAccounts
//! the pods run as, and the pods' logs (through [`super::logs`], a few at a time). Each request the reader may not
//! make (or the server will not answer) becomes a diagnosis in [`Report::unread`] and the rest is still read.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Event, Pod, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use kube::core::{GroupVersionKind, Selector};
use serde::Deserialize;

use super::logs::{self, LogJob};
use super::merge::{Merger, Origin};
use super::{Error, Found, Kind, Options, PodSummary, ReadStats, Report, Standing, Target};
use crate::diagnosis::{Diagnosis, Request};
use crate::fold::failure_key;
use crate::note::{Note, Said, SaidBy, Unread};
use crate::scan::Scanner;

/// What events and conditions are scanned with: their messages are short.
const SMALL_WINDOW: usize = 64 << 10;
/// The page size of lists.
const PAGE: u32 = 500;

/// What an object said, each message with its time (Unix seconds), in time order.
type Messages = Vec<(Option<i64>, String)>;

/// A workload read from the API server, before live confirmation.
pub(super) struct Gathered {
    /// The report, without its findings.
    pub report: Report,
    /// The findings, not yet confirmed.
    pub found: Vec<Found>,
    /// The identity each pod runs as, by pod name.
    pub identity_of_pod: HashMap<String, String>,
}

/// An object that owns pods or says something about them: its reference and status conditions.
struct Object {
    /// `replicaset/web-7d9c`.
    name: String,
    uid: Option<String>,
    conditions: Vec<Condition>,
}

/// A status condition, as every workload kind writes it.
#[derive(Debug, Deserialize)]
struct Condition {
    #[serde(rename = "type")]
    type_: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "lastTransitionTime")]
    transition: Option<String>,
    #[serde(default, rename = "lastUpdateTime")]
    update: Option<String>,
}

impl Condition {
    fn time(&self) -> Option<i64> {
        self.update
            .as_deref()
            .or(self.transition.as_deref())
            .and_then(parse_time)
    }
}

fn parse_time(s: &str) -> Option<i64> {
    s.parse::<k8s_openapi::jiff::Timestamp>()
        .ok()
        .map(|t| t.as_second())
}

/// Records the reader's own failed request: `request` failed with `err`, keeping `unread` from view. Failures of
/// the same request (logs of several containers) are one diagnosis listing them all.
struct Unreadable {
    index: HashMap<crate::fold::Key, usize>,
    list: Vec<Diagnosis>,
}

impl Unreadable {
    fn new() -> Unreadable {
        Unreadable {
            index: HashMap::new(),
            list: Vec::new(),
        }
    }

    fn add(&mut self, err: &kube::Error, request: &Request, unread: Unread) {
        let mut d = crate::diagnose::diagnose_in(err, Some(request));
        // The logs of several pods denied alike are one failure, of no one pod: its name is left out.
        if matches!(unread, Unread::Logs { .. }) {
            d.request.name = None;
        }
        let mut keyed = d.clone();
        keyed.message.clear();
        let key = failure_key(&keyed);
        if let Some(&i) = self.index.get(&key) {
            let held = &mut self.list[i];
            for note in &mut held.notes {
                if let (
                    Note::NotRead(Unread::Logs { containers }),
                    Unread::Logs { containers: more },
                ) = (note, &unread)
                {
                    containers.extend(more.iter().cloned());
                    return;
                }
            }
            held.notes.push(Note::NotRead(unread));
            return;
        }
        d.notes.push(Note::NotRead(unread));
        self.index.insert(key, self.list.len());
        self.list.push(d);
    }
}

fn request(verb: &str, group: &str, resource: &str, namespace: &str) -> Request {
    Request {
        verb: Some(verb.into()),
        group: Some(group.into()),
        version: Some("v1".into()),
        resource: Some(resource.into()),
        namespace: Some(namespace.into()),
        ..Request::default()
    }
}

/// Reads `target` and everything about it.
pub(super) async fn gather(
    client: &kube::Client,
    namespace: &str,
    target: &Target,
    options: &Options,
) -> Result<Gathered, Error> {
    let name = target.to_string();
    let mut unread = Unreadable::new();
    let mut read = ReadStats::default();
    let read_at = k8s_openapi::jiff::Timestamp::now().as_second();
    let mut objects: Vec<Object> = Vec::new();
    let pods_api: Api<Pod> = Api::namespaced(client.clone(), namespace);

    // The workload, and what its pods are.
    let mut pods: Vec<Pod> = Vec::new();
    match target {
        Target::Object {
            kind: Kind::Pod,
            name: pod,
        } => match pods_api.get(pod).await {
            Ok(p) => pods.push(p),
            Err(e) => {
                let e = first_failure(e, &name, namespace)?;
                let mut r = request("get", "", "pods", namespace);
                r.name = Some(pod.clone());
                unread.add(&e, &r, Unread::Workload { name: name.clone() });
            }
        },
        Target::Object { kind, name: object } => {
            let api = dynamic_api(client, namespace, *kind);
            match api.get(object).await {
                Ok(obj) => {
                    let selector = selector_of(&obj);
                    let uid = obj.metadata.uid.clone();
                    objects.push(Object {
                        name: name.clone(),
                        uid: uid.clone(),
                        conditions: conditions_of(&obj),
                    });
                    let mut owners: BTreeSet<String> = uid.into_iter().collect();
                    if *kind == Kind::Deployment {
                        // The Deployment's pods belong to its ReplicaSets.
                        let sets = dynamic_api(client, namespace, Kind::ReplicaSet);
                        let params = selector.as_ref().map_or_else(ListParams::default, |s| {
                            ListParams::default().labels_from(s)
                        });
                        match sets.list(&params).await {
                            Ok(list) => {
                                owners.clear();
                                let deployment = objects[0].uid.clone();
                                for rs in list
                                    .items
                                    .iter()
                                    .filter(|rs| owned_by(&rs.metadata, deployment.as_deref()))
                                {
                                    let rs_name = rs.metadata.name.clone().unwrap_or_default();
                                    owners.extend(rs.metadata.uid.clone());
                                    objects.push(Object {
                                        name: format!("replicaset/{rs_name}"),
                                        uid: rs.metadata.uid.clone(),
                                        conditions: conditions_of(rs),
                                    });
                                }
                            }
                            Err(e) => {
                                unread.add(
                                    &e,
                                    &request("list", "apps", "replicasets", namespace),
                                    Unread::Owned {
                                        resource: "replicasets".into(),
                                    },
                                );
                                // Without the ReplicaSets, the Deployment's selector alone picks its pods.
                                owners.clear();
                            }
                        }
                    }
                    match selector {
                        Some(selector) => {
                            match list_all(&pods_api, &ListParams::default().labels_from(&selector)).await
                            {
                                Ok(list) => pods.extend(list.into_iter().filter(|p| {
                                    owners.is_empty()
                                        || owners.iter().any(|o| owned_by(&p.metadata, Some(o)))
                                })),
                                Err(e) => {
                                    unread.add(&e, &request("list", "", "pods", namespace), Unread::Pods);
                                                    }
                            }
                        }
                        None => read.broken.push((
                            name.clone(),
                            "its pod selector (spec.selector) is missing or cannot be read, so its pods are unknown"
                                .into(),
                        )),
                    }
                }
                Err(e) => {
                    let e = first_failure(e, &name, namespace)?;
                    let mut r = request("get", kind.group(), kind.resource(), namespace);
                    r.name = Some(object.clone());
                    unread.add(&e, &r, Unread::Workload { name: name.clone() });
                }
            }
        }
        Target::Selector(selector) => {
            match list_all(&pods_api, &ListParams::default().labels(selector)).await {
                Ok(list) => pods = list,
                Err(e) => {
                    let e = first_failure(e, &name, namespace)?;
                    unread.add(&e, &request("list", "", "pods", namespace), Unread::Pods);
                }
            }
        }
    }
    pods.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    for pod in &pods {
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        let conditions = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .map(|cs| {
                cs.iter()
                    .map(|c| Condition {
                        type_: c.type_.clone(),
                        reason: c.reason.clone(),
                        message: c.message.clone(),
                        transition: c.last_transition_time.as_ref().map(|t| t.0.to_string()),
                        update: None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        objects.push(Object {
            name: format!("pod/{pod_name}"),
            uid: pod.metadata.uid.clone(),
            conditions,
        });
    }

    // Who the pods run as.
    let mut identity_of_pod = HashMap::new();
    let mut accounts = BTreeSet::new();
    let summaries: Vec<PodSummary> = pods
        .iter()
        .map(|p| {
            let name = p.metadata.name.clone().unwrap_or_default();
            let spec = p.spec.as_ref();
            let account = spec
                .and_then(|s| s.service_account_name.clone())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "default".into());
            identity_of_pod.insert(
                name.clone(),
                format!("system:serviceaccount:{namespace}:{account}"),
            );
            accounts.insert(account.clone());
            let status = p.status.as_ref();
            PodSummary {
                name,
                phase: status
                    .and_then(|s| s.phase.clone())
                    .unwrap_or_else(|| "Unknown".into()),
                node: spec.and_then(|s| s.node_name.clone()),
                service_account: account,
                restarts: status
                    .into_iter()
                    .flat_map(|s| {
                        s.container_statuses
                            .iter()
                            .flatten()
                            .chain(s.init_container_statuses.iter().flatten())
                    })
                    .map(|c| u32::try_from(c.restart_count).unwrap_or(0))
                    .sum(),
                containers: status
                    .into_iter()
                    .flat_map(|s| {
                        s.init_container_statuses
                            .iter()
                            .flatten()
                            .chain(s.container_statuses.iter().flatten())
                    })
                    .filter(|c| c.state.as_ref().is_some_and(|s| s.running.is_some()))
                    .map(|c| c.name.clone())
                    .collect(),
            }
        })
        .collect();
    let mut missing_service_accounts = Vec::new();
    let accounts_api: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    for account in &accounts {
        match accounts_api.get(account).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {
                missing_service_accounts.push(format!("{namespace}/{account}"));
            }
            Err(e) => {
                let mut r = request("get", "", "serviceaccounts", namespace);
                r.name = Some(account.clone());
                unread.add(
                    &e,
                    &r,
                    Unread::ServiceAccount {
                        name: format!("{namespace}/{account}"),
                    },
                );
            }
        }
    }

    // The logs, a few at a time, in a fixed order.
    let mut jobs = Vec::new();
    for pod in &pods {
        log_jobs(pod, &mut jobs, &mut read.no_log);
    }
    let concurrency = options.concurrency.max(1);
    let mut results: Vec<(usize, Result<logs::LogRead, kube::Error>)> =
        futures::stream::iter(jobs.iter().enumerate().map(|(i, job)| {
            let api = &pods_api;
            async move { (i, logs::read(api, job, options).await) }
        }))
        .buffer_unordered(concurrency)
        .collect()
        .await;
    results.sort_by_key(|(i, _)| *i);
    let mut merger = Merger::default();
    let mut pods_read = BTreeSet::new();
    for (i, result) in results {
        let job = &jobs[i];
        match result {
            Ok(log) => {
                pods_read.insert(job.pod.clone());
                read.logs += 1;
                read.bytes += log.bytes;
                read.lines += log.lines;
                if log.truncated {
                    read.truncated.push(job.source());
                }
                if let Some(why) = log.broken {
                    read.broken.push((job.source(), why));
                }
                for (finding, at) in log.findings {
                    merger.add(
                        finding,
                        Origin::Log {
                            pod: &job.pod,
                            previous: job.previous,
                        },
                        at,
                    );
                }
            }
            Err(e) => {
                let mut r = request("get", "", "pods", namespace);
                r.subresource = Some("log".into());
                r.name = Some(job.pod.clone());
                unread.add(
                    &e,
                    &r,
                    Unread::Logs {
                        containers: vec![job.source()],
                    },
                );
            }
        }
    }
    read.pods = pods_read.len();

    // Events and status conditions.
    let events_api: Api<Event> = Api::namespaced(client.clone(), namespace);
    match list_all(&events_api, &ListParams::default()).await {
        Ok(events) => {
            let by_uid: HashMap<&str, &str> = objects
                .iter()
                .filter_map(|o| o.uid.as_deref().map(|u| (u, o.name.as_str())))
                .collect();
            // Per object and reason, in time order.
            let mut said: BTreeMap<(String, String), Messages> = BTreeMap::new();
            for event in events {
                let involved = &event.involved_object;
                let object = match involved.uid.as_deref().and_then(|u| by_uid.get(u)) {
                    Some(name) => name.to_string(),
                    // The workload could not be read: its events are found by kind and name.
                    None if objects.is_empty() => match target {
                        Target::Object { kind, name: n }
                            if involved.kind.as_deref() == Some(kind.kind())
                                && involved.name.as_deref() == Some(n) =>
                        {
                            name.clone()
                        }
                        _ => continue,
                    },
                    None => continue,
                };
                read.events += 1;
                let at = event
                    .last_timestamp
                    .as_ref()
                    .map(|t| t.0.as_second())
                    .or(event.event_time.as_ref().map(|t| t.0.as_second()))
                    .or(event.first_timestamp.as_ref().map(|t| t.0.as_second()));
                said.entry((object, event.reason.clone().unwrap_or_default()))
                    .or_default()
                    .push((at, event.message.clone().unwrap_or_default()));
            }
            for ((object, reason), mut messages) in said {
                messages.sort_by_key(|(at, _)| *at);
                scan_said(
                    &mut merger,
                    &format!("events of {object} ({reason})"),
                    &messages,
                    Said {
                        object,
                        by: SaidBy::Event { reason },
                    },
                );
            }
        }
        Err(e) => unread.add(
            &e,
            &request("list", "", "events", namespace),
            Unread::Events,
        ),
    }
    for object in &objects {
        for c in &object.conditions {
            read.conditions += 1;
            let Some(message) = c.message.as_deref().filter(|m| !m.is_empty()) else {
                continue;
            };
            let text = match &c.reason {
                Some(reason) => format!("{reason}: {message}"),
                None => message.to_string(),
            };
            scan_said(
                &mut merger,
                &format!("{} condition {}", object.name, c.type_),
                &[(c.time(), text)],
                Said {
                    object: object.name.clone(),
                    by: SaidBy::Condition {
                        condition: c.type_.clone(),
                    },
                },
            );
        }
    }

    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    let found = merger
        .into_findings(&name, read.pods, now)
        .into_iter()
        .map(|finding| Found {
            finding,
            standing: Standing::Unconfirmed,
        })
        .collect();
    let mut identities: Vec<String> = identity_of_pod.values().cloned().collect();
    identities.sort();
    identities.dedup();
    Ok(Gathered {
        report: Report {
            target: name,
            namespace: namespace.to_string(),
            pods: summaries,
            identities,
            missing_service_accounts,
            found: Vec::new(),
            unread: unread.list,
            read,
            options: options.clone(),
            read_at,
            keys: Default::default(),
        },
        found,
        identity_of_pod,
    })
}

/// The first request about the workload failed: a workload that does not exist, or a server that cannot be
/// asked, ends the explanation; anything else (a denial) is the reader's to know, and the rest goes on.
fn first_failure(err: kube::Error, target: &str, namespace: &str) -> Result<kube::Error, Error> {
    match err {
        kube::Error::Api(s) if s.code == 404 => Err(Error::NotFound {
            target: target.to_string(),
            namespace: namespace.to_string(),
        }),
        e @ kube::Error::Api(_) => Ok(e),
        other => Err(Error::Api {
            target: target.to_string(),
            diagnosis: Box::new(crate::diagnose::diagnose(&other)),
            source: Box::new(other),
        }),
    }
}

/// Scans the messages an object said (events of one reason, or one condition), in time order.
fn scan_said(merger: &mut Merger, source: &str, messages: &[(Option<i64>, String)], said: Said) {
    // A few messages, in an async task: scanned on this thread, no workers.
    let mut scanner = Scanner::with_window(SMALL_WINDOW).with_threads(0);
    let mut text = String::new();
    for (_, m) in messages {
        // One message a line: a message that spans lines is kept on one.
        text.push_str(&m.replace('\n', " "));
        text.push('\n');
    }
    if let Err(e) = scanner.read(source, text.as_bytes()) {
        // Reading from memory cannot fail; were it to, what was read is kept.
        tracing::warn!(source, error = %e, "scanning messages failed");
    }
    for finding in scanner.into_findings() {
        let at = usize::try_from(finding.last_line.saturating_sub(1))
            .ok()
            .and_then(|i| messages.get(i))
            .and_then(|(at, _)| *at);
        merger.add(finding, Origin::Said(said.clone()), at);
    }
}

/// The logs of a pod worth reading: each container that has run (init containers included), and the previous
/// container's after a restart; the others are listed with why they have no log.
fn log_jobs(pod: &Pod, jobs: &mut Vec<LogJob>, no_log: &mut Vec<(String, String)>) {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let Some(status) = pod.status.as_ref() else {
        return;
    };
    let statuses = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    let scheduled = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_ref())
        .is_some();
    if !scheduled {
        for c in pod.spec.iter().flat_map(|s| s.containers.iter()) {
            no_log.push((
                format!("{name}/{}", c.name),
                "not scheduled to a node".into(),
            ));
        }
        return;
    }
    for c in statuses {
        let state = c.state.as_ref();
        let ran = state.is_some_and(|s| s.running.is_some() || s.terminated.is_some());
        // The kubelet keeps the log of the container before the last restart: its last state is terminated.
        let previous = c
            .last_state
            .as_ref()
            .is_some_and(|s| s.terminated.is_some());
        if previous {
            jobs.push(LogJob {
                pod: name.clone(),
                container: c.name.clone(),
                previous: true,
            });
        }
        if ran {
            jobs.push(LogJob {
                pod: name.clone(),
                container: c.name.clone(),
                previous: false,
            });
        } else {
            let why = state
                .and_then(|s| s.waiting.as_ref())
                .and_then(|w| w.reason.clone())
                .map_or_else(|| "not started".into(), |r| format!("waiting: {r}"));
            no_log.push((format!("{name}/{}", c.name), why));
        }
    }
}

fn dynamic_api(client: &kube::Client, namespace: &str, kind: Kind) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk(kind.group(), "v1", kind.kind());
    let resource = ApiResource::from_gvk_with_plural(&gvk, kind.resource());
    Api::namespaced_with(client.clone(), namespace, &resource)
}

/// The workload's pod selector (`spec.selector`).
fn selector_of(obj: &DynamicObject) -> Option<Selector> {
    let value = obj.data.get("spec")?.get("selector")?.clone();
    let selector: LabelSelector = serde_json::from_value(value).ok()?;
    Selector::try_from(selector).ok()
}

/// The status conditions every workload kind writes (`status.conditions`).
fn conditions_of(obj: &DynamicObject) -> Vec<Condition> {
    obj.data
        .get("status")
        .and_then(|s| s.get("conditions"))
        .and_then(|c| serde_json::from_value(c.clone()).ok())
        .unwrap_or_default()
}

/// Whether an object's controller is the object with this uid.
fn owned_by(meta: &kube::api::ObjectMeta, owner: Option<&str>) -> bool {
    let Some(owner) = owner else { return false };
    meta.owner_references
        .iter()
        .flatten()
        .any(|r| r.uid == owner && r.controller == Some(true))
}

/// Every item of a list, page by page.
async fn list_all<K>(api: &Api<K>, params: &ListParams) -> Result<Vec<K>, kube::Error>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let mut items = Vec::new();
    let mut params = params.clone().limit(PAGE);
    loop {
        let page = api.list(&params).await?;
        items.extend(page.items);
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(items),
        }
    }
}
