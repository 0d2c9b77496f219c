//! Scaling out (issue 13) against the real control plane, with the API server filtering by `shardSelector`
//! (`ShardedListAndWatch` on: a control plane of its own) and without it (the shared one, gate off: the client-side
//! fallback). Three replicas share 1,000 Documents; one is killed with SIGKILL, a fourth joins, one gets SIGTERM;
//! Documents are created, updated and deleted during each move. From the replicas' own logs (each reconcile with its
//! slot and times, each slot taken over and handed over with its time): no Document was reconciled by two replicas
//! in overlapping ownership intervals. The takeover and hand-over times are printed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use doc_controller::Document;
use doc_controller::shard::ring::unix_us;
use doc_controller::shard::{Slot, SlotSet};
use futures::StreamExt;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams};
use kube::core::ObjectList;
use kube::{Client, ResourceExt};
use kubewhy_testenv::ControlPlane;
use kubewhy_testenv::controlplane::Options;

use crate::harness::*;

const DOCUMENTS: usize = 1000;
/// Leases short enough for a quick SIGKILL step and long enough that a hand-over after SIGTERM (a relist of the
/// Documents under a loaded machine included) is clearly shorter than waiting for expiry; a renew deadline leaving
/// 3 s of margin.
const LEASE: [&str; 6] = [
    "--lease-duration",
    "10s",
    "--lease-renew-deadline",
    "7s",
    "--lease-retry-period",
    "500ms",
];
const LEASE_DURATION: Duration = Duration::from_secs(10);
/// The gate's DEBUG lines are the record of every reconcile.
const LOG: &str = "info,kube=warn,kubewhy=info,doc_controller::shard=debug";

fn replica(cp: &ControlPlane, ns: &str, name: &str) -> Controller {
    let mut args = vec![
        "--namespace",
        ns,
        "--shards",
        "auto",
        "--lease-namespace",
        ns,
        "--identity",
        name,
        "--concurrency",
        "16",
    ];
    args.extend_from_slice(&LEASE);
    Controller::start_logging(name, cp.kubeconfig(), &args, LOG)
}

/// One replica's ownership record, from its log.
#[derive(Debug, Default)]
struct Record {
    /// Per slot, the intervals `[taken over, handed over)` in µs since the epoch (`None`: still held).
    intervals: BTreeMap<u32, Vec<(u64, Option<u64>)>>,
    /// Every gated reconcile: (slot, uid, start, end).
    reconciles: Vec<(u32, String, u64, u64)>,
}

fn field<'a>(line: &'a LogLine, name: &str) -> Option<&'a serde_json::Value> {
    line.json.get("fields")?.get(name)
}

fn record(logs: &[LogLine], killed_at: Option<u64>) -> Record {
    let mut r = Record::default();
    let slots = |line: &LogLine| {
        let hex = field(line, "slots_hex")
            .and_then(|v| v.as_str())
            .unwrap_or("0");
        SlotSet::from_hex(hex).expect("slots_hex is 16 hex digits")
    };
    let at = |line: &LogLine, name: &str| field(line, name).and_then(|v| v.as_u64()).unwrap();
    for line in logs {
        match field(line, "message").and_then(|m| m.as_str()) {
            Some("took over slots") => {
                for s in slots(line).iter() {
                    r.intervals
                        .entry(s.index())
                        .or_default()
                        .push((at(line, "at_unix_us"), None));
                }
            }
            Some("handed over slots") => {
                for s in slots(line).iter() {
                    let open = r
                        .intervals
                        .get_mut(&s.index())
                        .and_then(|iv| iv.last_mut())
                        .filter(|(_, end)| end.is_none())
                        .unwrap_or_else(|| {
                            panic!("slot {} handed over but never taken over", s.index())
                        });
                    open.1 = Some(at(line, "at_unix_us"));
                }
            }
            Some("reconciled") => r.reconciles.push((
                u32::try_from(at(line, "slot")).unwrap(),
                field(line, "uid")
                    .and_then(|v| v.as_str())
                    .unwrap()
                    .to_string(),
                at(line, "started_unix_us"),
                at(line, "finished_unix_us"),
            )),
            _ => {}
        }
    }
    // A killed replica's intervals end when it was killed.
    if let Some(killed) = killed_at {
        for iv in r.intervals.values_mut() {
            for (_, end) in iv.iter_mut().filter(|(_, end)| end.is_none()) {
                *end = Some(killed);
            }
        }
    }
    r
}

/// Checks the ownership records of every replica; returns the problems (empty: no overlap) and what was checked.
fn overlaps(records: &BTreeMap<String, Record>) -> (Vec<String>, String) {
    let mut problems = Vec::new();
    // 1. No slot is owned by two replicas at once.
    let mut by_slot: BTreeMap<u32, Vec<(&str, u64, u64)>> = BTreeMap::new();
    for (name, r) in records {
        for (slot, ivs) in &r.intervals {
            for (start, end) in ivs {
                by_slot
                    .entry(*slot)
                    .or_default()
                    .push((name, *start, end.unwrap_or(u64::MAX)));
            }
        }
    }
    let mut intervals = 0;
    for (slot, ivs) in &mut by_slot {
        ivs.sort_by_key(|(_, start, _)| *start);
        intervals += ivs.len();
        for pair in ivs.windows(2) {
            let ((a, _, a_end), (b, b_start, _)) = (pair[0], pair[1]);
            if a != b && a_end > b_start {
                problems.push(format!(
                    "slot {slot}: {a} owned it until {a_end}, {b} from {b_start}"
                ));
            }
        }
    }
    // 2. Every reconcile ran inside its replica's ownership of its slot.
    let mut reconciles = 0;
    let mut by_uid: BTreeMap<&str, Vec<(&str, u64, u64)>> = BTreeMap::new();
    for (name, r) in records {
        for (slot, uid, start, end) in &r.reconciles {
            reconciles += 1;
            let inside = r.intervals.get(slot).is_some_and(|ivs| {
                ivs.iter()
                    .any(|(s, e)| s <= start && e.is_none_or(|e| *end <= e))
            });
            if !inside {
                problems.push(format!(
                    "{name} reconciled {uid} (slot {slot}) from {start} to {end}, outside its ownership"
                ));
            }
            by_uid.entry(uid).or_default().push((name, *start, *end));
        }
    }
    // 3. No Document was reconciled by two replicas at overlapping times.
    for (uid, runs) in &mut by_uid {
        runs.sort_by_key(|(_, start, _)| *start);
        for pair in runs.windows(2) {
            let ((a, _, a_end), (b, b_start, _)) = (pair[0], pair[1]);
            if a != b && a_end > b_start {
                problems.push(format!(
                    "{uid}: reconciled by {a} until {a_end} and by {b} from {b_start}"
                ));
            }
        }
    }
    let summary = format!(
        "{reconciles} reconciles of {} Documents by {} replicas, {intervals} ownership intervals over {} slots",
        by_uid.len(),
        records.len(),
        by_slot.len()
    );
    (problems, summary)
}

/// Checks the replicas' records (name, log, kill time) for overlapping ownership; prints what was checked.
fn assert_no_overlap(label: &str, replicas: Vec<(&str, Record)>) -> BTreeMap<String, Record> {
    let records: BTreeMap<String, Record> = replicas
        .into_iter()
        .map(|(n, r)| (n.to_string(), r))
        .collect();
    let (problems, checked) = overlaps(&records);
    println!(
        "{label}: ownership-overlap check: {checked}: {} overlaps",
        problems.len()
    );
    assert!(
        problems.is_empty(),
        "{label}: overlapping ownership:\n{}",
        problems.join("\n")
    );
    records
}

/// The slots a replica reconciles now, from its Lease's annotation.
async fn active_slots(admin: &Client, ns: &str, replica: &str) -> SlotSet {
    let lease = Api::<Lease>::namespaced(admin.clone(), ns)
        .get(&format!("doc-controller-{replica}"))
        .await
        .unwrap_or_else(|e| panic!("reading the Lease of {replica}: {e}"));
    lease
        .annotations()
        .get("documents.kube.rs/slots-active")
        .and_then(|h| SlotSet::from_hex(h))
        .unwrap_or_default()
}

/// The slots a replica reconciles once its Lease says it reconciles every slot assigned to it (the Lease is written
/// just after the hand-over, asynchronously).
async fn settled_slots(admin: &Client, ns: &str, replica: &str) -> SlotSet {
    let leases: Api<Lease> = Api::namespaced(admin.clone(), ns);
    eventually(
        &format!("the Lease of {replica} to show its assigned slots active"),
        Duration::from_secs(30),
        || async {
            let lease = leases
                .get(&format!("doc-controller-{replica}"))
                .await
                .ok()?;
            let slots = |key: &str| {
                lease
                    .annotations()
                    .get(key)
                    .and_then(|h| SlotSet::from_hex(h))
            };
            let active = slots("documents.kube.rs/slots-active")?;
            (Some(active) == slots("documents.kube.rs/slots-assigned") && !active.is_empty())
                .then_some(active)
        },
    )
    .await
}

/// The earliest reconcile by any replica but `by` of a Document in `slots` that started after `after`: (µs after,
/// who).
fn first_reconcile_elsewhere(
    records: &BTreeMap<String, Record>,
    not_by: &str,
    slots: SlotSet,
    after: u64,
) -> Option<(u64, String)> {
    records
        .iter()
        .filter(|(name, _)| name.as_str() != not_by)
        .flat_map(|(name, r)| {
            r.reconciles
                .iter()
                .filter(|(slot, _, start, _)| {
                    *start > after && slots.contains(Slot::new(*slot).unwrap())
                })
                .map(move |(_, _, start, _)| (start - after, name.clone()))
        })
        .min()
}

/// Waits until every live replica sees `members` members and reconciles all its assigned slots, and the active
/// slots add up to the whole space once: the ring has settled. Two minutes at most (it takes seconds on a quiet
/// machine; a ring waits for Leases to be renewed, which a loaded 2-core machine delays); on time-out the message
/// says what each replica last reported, and each replica's log is printed as it is dropped.
async fn wait_ring(replicas: &[&Controller], members: usize) {
    let budget = Duration::from_secs(120);
    let started = Instant::now();
    loop {
        let mut total = 0.0;
        let mut settled = true;
        let mut seen = Vec::new();
        for r in replicas {
            // A replica that has just started may not serve /metrics yet.
            let Some((_, body)) = r.get("/metrics").await else {
                seen.push(format!("{}: no /metrics yet", r.name));
                settled = false;
                continue;
            };
            let exposed = kubewhy_testenv::metrics::Exposition::parse(&body);
            let value = |name: &str| exposed.value(name).unwrap_or(0.0);
            let (seen_members, active, assigned) = (
                value("doc_controller_shard_ring_members"),
                value("doc_controller_shard_slots_active"),
                value("doc_controller_shard_slots_assigned"),
            );
            seen.push(format!(
                "{}: {seen_members} members, {active} of {assigned} assigned slots active",
                r.name
            ));
            settled &= seen_members == members as f64 && active == assigned;
            total += active;
        }
        if settled && total == 64.0 {
            println!(
                "a ring of {members} members covered the 64 slots after {:.1}s (load {})",
                started.elapsed().as_secs_f64(),
                load()
            );
            return;
        }
        assert!(
            started.elapsed() < budget,
            "timed out after {budget:?} (load {}) waiting for a ring of {members} members covering the 64 slots; \
             last seen: {}",
            load(),
            seen.join("; ")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the test expects of the Documents: the live ones (name → published) and the deleted ones.
#[derive(Default)]
struct Expected {
    live: BTreeMap<String, bool>,
    deleted: BTreeSet<String>,
}

/// Creates, updates and deletes Documents while a move is under way (without waiting for anything).
async fn churn(admin: &Client, ns: &str, tag: &str, expected: &mut Expected) {
    let api: Api<Document> = Api::namespaced(admin.clone(), ns);
    for i in 0..10 {
        let name = format!("{tag}-{i}");
        create(admin, ns, &document(&name, tag, false, i % 2 == 0)).await;
        expected.live.insert(name, i % 2 == 0);
    }
    let old: Vec<String> = expected
        .live
        .keys()
        .filter(|n| n.starts_with("doc-"))
        .take(20)
        .cloned()
        .collect();
    for name in &old[..10] {
        patch_spec(admin, ns, name, serde_json::json!({ "title": format!("updated during {tag}"), "publish": true, "hide": false })).await;
        expected.live.insert(name.clone(), true);
    }
    for name in &old[10..] {
        api.delete(name, &DeleteParams::default())
            .await
            .unwrap_or_else(|e| panic!("deleting {name}: {e}"));
        expected.live.remove(name);
        expected.deleted.insert(name.clone());
    }
}

/// Waits until every live Document is Ready for its generation and every deleted one is gone (its finalizer
/// removed), then checks the published ConfigMaps: present with their owner's slot for published Documents, absent
/// for deleted ones.
async fn wait_converged(admin: &Client, ns: &str, expected: &Expected) -> Duration {
    let started = Instant::now();
    let api: Api<Document> = Api::namespaced(admin.clone(), ns);
    let deadline = started + Duration::from_secs(180);
    let docs = loop {
        let docs = api
            .list(&ListParams::default())
            .await
            .map(|l| l.items)
            .unwrap_or_default();
        let names: BTreeSet<String> = docs.iter().map(ResourceExt::name_any).collect();
        let pending: Vec<String> = docs
            .iter()
            .filter(|d| !d.is_ready() || expected.deleted.contains(&d.name_any()))
            .map(|d| {
                format!(
                    "{} (slot {:?}, generation {:?}, deleting: {}, status: {})",
                    d.name_any(),
                    Slot::of_object(d).map(Slot::index),
                    d.metadata.generation,
                    d.metadata.deletion_timestamp.is_some(),
                    serde_json::to_string(&d.status).unwrap_or_default()
                )
            })
            .chain(
                expected
                    .live
                    .keys()
                    .filter(|n| !names.contains(*n))
                    .map(|n| format!("{n} (missing)")),
            )
            .collect();
        if pending.is_empty() {
            break docs;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after 180s waiting for {} Documents Ready and {} deleted ones gone; {} not yet:\n{}",
            expected.live.len(),
            expected.deleted.len(),
            pending.len(),
            pending
                .iter()
                .take(20)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let took = started.elapsed();
    let cms: BTreeMap<String, ConfigMap> = Api::<ConfigMap>::namespaced(admin.clone(), ns)
        .list(&ListParams::default().labels("app.kubernetes.io/managed-by=doc-controller"))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|cm| (cm.name_any(), cm))
        .collect();
    for doc in &docs {
        let name = doc.name_any();
        let published = expected.live[&name];
        let cm = cms.get(&name);
        assert_eq!(
            cm.is_some(),
            published,
            "ConfigMap of {name} (published: {published})"
        );
        if let Some(cm) = cm {
            let slot = Slot::of_object(doc).unwrap();
            assert_eq!(
                Slot::of_label(cm),
                Some(slot),
                "the slot label of ConfigMap {name}"
            );
        }
        assert!(
            doc.metadata.deletion_timestamp.is_none(),
            "{name} is being deleted"
        );
    }
    for name in &expected.deleted {
        assert!(
            !cms.contains_key(name),
            "the ConfigMap of deleted {name} is left behind"
        );
    }
    took
}

/// The API server's own counter of watch events it filtered out by `shardSelector` for Documents.
async fn server_filtered_events(admin: &Client) -> Option<f64> {
    kubewhy_testenv::metrics::scrape(admin)
        .await
        .expect("the API server's /metrics")
        .value("apiserver_watch_filtered_events_total{group=\"kube.rs\",resource=\"documents\"}")
}

/// Lists Documents with the `shardSelector` of `slots` (a request built by hand) and checks that the API server
/// returns exactly the Documents this crate's hash places in them. Returns (returned, total, whether the server
/// echoed `shardInfo`).
async fn server_agrees_on_the_hash(
    admin: &Client,
    ns: &str,
    slots: SlotSet,
) -> (usize, usize, bool) {
    let all = Api::<Document>::namespaced(admin.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items;
    let path = format!("/apis/kube.rs/v1/namespaces/{ns}/documents");
    let uri = doc_controller::shard::select::with_param(
        &path.parse().unwrap(),
        "shardSelector",
        &slots.shard_selector().unwrap(),
    )
    .unwrap();
    let request = http::Request::get(uri).body(Vec::new()).unwrap();
    let sharded: ObjectList<Document> = admin.request(request).await.expect("a sharded list");
    let got: BTreeSet<String> = sharded.items.iter().filter_map(|d| d.uid()).collect();
    let want: BTreeSet<String> = all
        .iter()
        .filter(|d| Slot::of_object(*d).is_some_and(|s| slots.contains(s)))
        .filter_map(|d| d.uid())
        .collect();
    assert_eq!(
        got, want,
        "the API server and doc-controller place different Documents in {slots}"
    );
    (got.len(), all.len(), sharded.metadata.shard_info.is_some())
}

/// The API server answers a malformed `shardSelector` with a 500; kubewhy diagnoses the request, not the server.
async fn malformed_selectors_are_diagnosed_as_the_requests_fault(admin: &Client, ns: &str) {
    let path = format!("/apis/kube.rs/v1/namespaces/{ns}/documents");
    // The field documentation's own example: the bounds must have 16 hex digits.
    let selector = "shardRange(object.metadata.uid, '0x0', '0x8000000000000000')";
    let uri = doc_controller::shard::select::with_param(
        &path.parse().unwrap(),
        "shardSelector",
        selector,
    )
    .unwrap();
    let request = http::Request::get(uri).body(Vec::new()).unwrap();
    let err = admin
        .request::<ObjectList<Document>>(request)
        .await
        .expect_err("a malformed shardSelector is refused");
    let diagnosis = kubewhy::diagnose(&err);
    println!("malformed shardSelector: {diagnosis:#}");
    assert_eq!(diagnosis.code, Some(500), "{diagnosis:#}");
    assert_eq!(
        diagnosis.class,
        kubewhy::Class::InvalidRequest,
        "{diagnosis:#}"
    );
    assert!(!diagnosis.is_transient(), "{diagnosis:#}");
    assert!(
        format!("{diagnosis:#}").contains("`shardSelector`"),
        "{diagnosis:#}"
    );
}

async fn scale_out(cp: &ControlPlane, server_side: bool) {
    let mode = if server_side {
        "server-side"
    } else {
        "client-side"
    };
    let (admin, ns) = setup_on(
        cp,
        if server_side {
            "shard-server"
        } else {
            "shard-client"
        },
    )
    .await;
    let mut expected = Expected::default();
    let names: Vec<String> = (0..DOCUMENTS).map(|i| format!("doc-{i:04}")).collect();
    futures::stream::iter(&names)
        .for_each_concurrent(32, |name| {
            let (admin, ns) = (admin.clone(), ns.clone());
            async move {
                let n: usize = name[4..].parse().unwrap();
                create(
                    &admin,
                    &ns,
                    &document(name, name, n.is_multiple_of(5), n.is_multiple_of(3)),
                )
                .await;
            }
        })
        .await;
    for (i, name) in names.iter().enumerate() {
        expected
            .live
            .insert(name.clone(), i.is_multiple_of(3) && !i.is_multiple_of(5));
    }

    // Three replicas share the Documents.
    let started = Instant::now();
    let mut a = replica(cp, &ns, "shard-a");
    let b = replica(cp, &ns, "shard-b");
    let mut c = replica(cp, &ns, "shard-c");
    for r in [&a, &b, &c] {
        let ready = r.wait_ready().await;
        assert!(
            ready.contains(&format!("{mode} sharding")),
            "{}: {ready}",
            r.name
        );
    }
    wait_ring(&[&a, &b, &c], 3).await;
    let converged = wait_converged(&admin, &ns, &expected).await;
    println!(
        "{mode}: 3 replicas converged {DOCUMENTS} Documents {:.1}s after they started ({:.1}s after the first check; load {})",
        started.elapsed().as_secs_f64(),
        converged.as_secs_f64(),
        load()
    );
    let mut owned = 0.0;
    for r in [&a, &b, &c] {
        assert_eq!(
            r.metric("doc_controller_shard_server_side").await,
            f64::from(u8::from(server_side))
        );
        let docs = r.metric("doc_controller_shard_documents_owned").await;
        let slots = r.metric("doc_controller_shard_slots_active").await;
        println!(
            "{mode}: {} reconciles {slots} slots and caches {docs} Documents",
            r.name
        );
        assert!((21.0..=22.0).contains(&slots), "{}: {slots} slots", r.name);
        owned += docs;
    }
    assert_eq!(
        owned, DOCUMENTS as f64,
        "the caches hold each Document once"
    );
    if server_side {
        malformed_selectors_are_diagnosed_as_the_requests_fault(&admin, &ns).await;
        let slots = settled_slots(&admin, &ns, "shard-a").await;
        let (returned, total, echoed) = server_agrees_on_the_hash(&admin, &ns, slots).await;
        println!(
            "{mode}: the API server's shardSelector and doc-controller's hash agree on {returned} of {total} Documents \
             (ListMeta.shardInfo echoed for a custom resource: {echoed})"
        );
    }

    // SIGKILL: no hand-over; the others take its slots once its Lease has expired.
    let victim_slots = settled_slots(&admin, &ns, "shard-c").await;
    let victim_docs: BTreeSet<String> = Api::<Document>::namespaced(admin.clone(), &ns)
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .filter(|d| Slot::of_object(*d).is_some_and(|s| victim_slots.contains(s)))
        .filter_map(|d| d.uid())
        .collect();
    let killed_at = unix_us();
    c.sigkill();
    churn(&admin, &ns, "during-kill", &mut expected).await;
    wait_ring(&[&a, &b], 2).await;
    let d = replica(cp, &ns, "shard-d");
    churn(&admin, &ns, "during-join", &mut expected).await;
    wait_ring(&[&a, &b, &d], 3).await;

    // SIGTERM: the replica finishes its reconciles and releases its Lease; the others take over at once.
    let leaving_slots = settled_slots(&admin, &ns, "shard-a").await;
    let terminated_at = unix_us();
    a.sigterm();
    churn(&admin, &ns, "during-sigterm", &mut expected).await;
    let status = a.wait_exit(Duration::from_secs(30)).await;
    assert!(status.success(), "shard-a exited with {status}");
    wait_ring(&[&b, &d], 2).await;
    let converged = wait_converged(&admin, &ns, &expected).await;
    println!(
        "{mode}: converged after the moves ({:.1}s after the last check began)",
        converged.as_secs_f64()
    );

    // The record: every replica's log.
    let records = assert_no_overlap(
        mode,
        vec![
            ("shard-a", record(&a.logs(), None)),
            ("shard-b", record(&b.logs(), None)),
            ("shard-c", record(&c.logs(), Some(killed_at))),
            ("shard-d", record(&d.logs(), None)),
        ],
    );

    let (takeover, by) = first_reconcile_elsewhere(&records, "shard-c", victim_slots, killed_at)
        .expect("the killed replica's Documents were reconciled by the others");
    let takeover = Duration::from_micros(takeover);
    println!(
        "{mode}: SIGKILL: the killed replica's Documents were first reconciled by {by} {:.2}s after the kill (lease \
         duration {}s; load {})",
        takeover.as_secs_f64(),
        LEASE_DURATION.as_secs(),
        load()
    );
    assert!(
        takeover >= LEASE_DURATION - Duration::from_millis(600),
        "taken over before the Lease expired"
    );
    assert!(
        takeover < LEASE_DURATION + Duration::from_secs(10),
        "taken over only after {takeover:?}"
    );
    // None lost: every Document of the killed replica was reconciled by another after the kill.
    let reconciled_after: BTreeSet<&str> = records
        .iter()
        .filter(|(name, _)| name.as_str() != "shard-c")
        .flat_map(|(_, r)| r.reconciles.iter())
        .filter(|(_, _, start, _)| *start > killed_at)
        .map(|(_, uid, _, _)| uid.as_str())
        .collect();
    let missed: Vec<&String> = victim_docs
        .iter()
        .filter(|uid| !reconciled_after.contains(uid.as_str()))
        .collect();
    assert!(
        missed.is_empty(),
        "{} of the killed replica's Documents were never reconciled again: {missed:?}",
        missed.len()
    );

    let (handover, by) =
        first_reconcile_elsewhere(&records, "shard-a", leaving_slots, terminated_at)
            .expect("the SIGTERMed replica's Documents were reconciled by the others");
    let handover = Duration::from_micros(handover);
    println!(
        "{mode}: SIGTERM: the leaving replica's Documents were first reconciled by {by} {:.2}s after the signal \
         (its Lease would have expired after {}s; load {})",
        handover.as_secs_f64(),
        LEASE_DURATION.as_secs(),
        load()
    );
    assert!(
        handover < LEASE_DURATION / 2,
        "the hand-over waited {handover:?}: as long as a Lease expiry"
    );

    for r in [&b, &d] {
        assert_eq!(
            r.metric("doc_controller_shard_strays_total").await,
            0.0,
            "{}",
            r.name
        );
        assert!(
            r.metric("doc_controller_shard_slots_moved_total{direction=\"in\"}")
                .await
                > 0.0
        );
    }
    let filtered = server_filtered_events(&admin).await;
    println!("{mode}: apiserver_watch_filtered_events_total for documents: {filtered:?}");
    if server_side {
        assert!(
            filtered.unwrap_or(0.0) > 0.0,
            "the API server filtered no watch event"
        );
    }
}

/// The 1-minute load average, for the figures.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(String::from))
        .unwrap_or_else(|| "unknown".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_share_documents_and_hand_over_without_overlap_with_server_side_sharding() {
    let cp = ControlPlane::start(Options {
        apiserver_args: vec!["--feature-gates=ShardedListAndWatch=true".into()],
        ..Options::default()
    })
    .expect("a control plane with the ShardedListAndWatch feature gate on");
    scale_out(&cp, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_share_documents_and_hand_over_without_overlap_with_client_side_sharding() {
    scale_out(kubewhy_testenv::shared(), false).await;
}

#[tokio::test]
async fn a_restarted_replica_never_inherits_its_predecessors_claim() {
    let cp = kubewhy_testenv::shared();
    let (admin, ns) = setup_on(cp, "shard-restart").await;
    for i in 0..20 {
        create(&admin, &ns, &document(&format!("r-{i}"), "r", false, false)).await;
    }
    let mut a = replica(cp, &ns, "shard-a");
    let b = replica(cp, &ns, "shard-b");
    wait_ring(&[&a, &b], 2).await;
    let lease_name = "doc-controller-shard-a";
    let leases: Api<Lease> = Api::namespaced(admin.clone(), &ns);
    let holder = |lease: Lease| {
        lease
            .spec
            .and_then(|s| s.holder_identity)
            .unwrap_or_default()
    };
    let first = holder(leases.get(lease_name).await.unwrap());
    let slots = settled_slots(&admin, &ns, "shard-a").await;
    assert!(first.starts_with("shard-a_"), "{first}");

    // The same name again at once, as a container restart in the same pod would: a new identity that waits.
    let killed = Instant::now();
    let killed_us = unix_us();
    a.sigkill();
    let a2 = replica(cp, &ns, "shard-a");
    let second = eventually(
        "the restarted replica to hold its Lease",
        Duration::from_secs(30),
        || async {
            let h = holder(leases.get(lease_name).await.ok()?);
            (h != first && !h.is_empty()).then_some(h)
        },
    )
    .await;
    let waited = killed.elapsed();
    let took = a2
        .logs()
        .iter()
        .find(|l| field(l, "message").and_then(|m| m.as_str()) == Some("holds its member Lease"))
        .and_then(|l| l.json.get("timestamp").cloned());
    println!(
        "the restarted replica logged that it holds its Lease at {took:?}; its predecessor was killed at {killed_us} µs"
    );
    println!(
        "the restarted replica ({second}) took its Lease {:.2}s after its predecessor ({first}) was killed",
        waited.as_secs_f64()
    );
    assert!(second.starts_with("shard-a_"), "{second}");
    assert!(
        waited >= LEASE_DURATION - Duration::from_millis(600),
        "the restarted replica took its predecessor's Lease after {waited:?}, before it expired"
    );
    wait_ring(&[&a2, &b], 2).await;
    // Its Lease says so once its holder has written the hand-over (asynchronously, at once).
    eventually(
        "the restarted pod to get its slots back",
        Duration::from_secs(20),
        || async { (active_slots(&admin, &ns, "shard-a").await == slots).then_some(()) },
    )
    .await;
    assert_no_overlap(
        "restart",
        vec![
            ("shard-a", record(&a.logs(), Some(killed_us))),
            ("shard-a2", record(&a2.logs(), None)),
            ("shard-b", record(&b.logs(), None)),
        ],
    );
}

#[tokio::test]
async fn a_member_that_cannot_read_the_ring_is_diagnosed_and_nothing_is_reconciled_twice() {
    let cp = kubewhy_testenv::shared();
    let (admin, ns) = setup_on(cp, "shard-no-list").await;
    for i in 0..20 {
        create(&admin, &ns, &document(&format!("n-{i}"), "n", false, false)).await;
    }
    // b runs as a ServiceAccount with what leader election needs of Leases (get, create, update) but not `list`.
    let rbac = doc_controller::needs::needs_for(Some(&ns), Some(&ns))
        .rbac_yaml(&kubewhy::rbac::Subject::ServiceAccount {
            namespace: ns.clone(),
            name: "no-list".into(),
        })
        .unwrap();
    let (ok, out, err) = cp
        .kubectl_with(cp.kubeconfig(), &["apply", "-f", "-"], Some(&rbac))
        .unwrap();
    assert!(ok, "{out}{err}");
    let sa = cp.service_account(&ns, "no-list").await.unwrap();
    let kubeconfig = kubewhy_testenv::scratch_path(&format!("{ns}-no-list.kubeconfig"));
    cp.write_kubeconfig(&sa.identity, None, &kubeconfig)
        .unwrap();

    let lease = [
        "--lease-duration",
        "3s",
        "--lease-renew-deadline",
        "2s",
        "--lease-retry-period",
        "300ms",
    ];
    let args = |name: &'static str| -> Vec<String> {
        let mut a = vec![
            "--namespace",
            ns.as_str(),
            "--shards",
            "auto",
            "--lease-namespace",
            ns.as_str(),
        ];
        a.extend_from_slice(&["--identity", name]);
        a.extend_from_slice(&lease);
        a.into_iter().map(String::from).collect()
    };
    let start = |name: &'static str, kubeconfig: &std::path::Path| {
        let args = args(name);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Controller::start_logging(name, kubeconfig, &args, LOG)
    };
    let a = start("shard-a", cp.kubeconfig());
    wait_ring(&[&a], 1).await;
    // Its start-up check sees the missing `list` (with `--preflight=wait`, the default, it would stay not ready and
    // never join); `warn` starts it anyway, as a member whose RBAC lost `list` while running.
    let b = {
        let mut args = args("shard-b");
        args.extend(["--preflight".to_string(), "warn".to_string()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Controller::start_logging("shard-b", &kubeconfig, &args, LOG)
    };
    eventually(
        "b's start-up check to name the missing permission",
        Duration::from_secs(30),
        || async {
            b.logs().iter().find_map(|l| {
                let m = field(l, "message")?.as_str()?;
                (m.contains("cannot `list` `leases.coordination.k8s.io`")).then_some(())
            })
        },
    )
    .await;

    // b says why it cannot take part, with kubewhy's diagnosis of the denied list.
    let why = eventually(
        "b to say it cannot read the ring",
        Duration::from_secs(30),
        || async {
            b.logs().iter().find_map(|l| {
                let m = field(l, "message")?.as_str()?;
                m.contains("cannot read the ring").then(|| m.to_string())
            })
        },
    )
    .await;
    println!("{why}");
    assert!(
        why.contains("error[forbidden]") && why.contains("list") && why.contains("leases"),
        "{why}"
    );
    let (code, body) = b.get("/readyz").await.unwrap();
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("cannot read the ring"), "{body}");

    // a hands b's slots over (b's Lease is live) and reports that b never applies the ring.
    let stalled = eventually(
        "a to diagnose the stalled hand-over",
        Duration::from_secs(30),
        || async {
            a.logs().iter().find_map(|l| {
                let m = field(l, "message")?.as_str()?;
                m.contains("error[timeout]: a hand-over in ring")
                    .then(|| m.to_string())
            })
        },
    )
    .await;
    println!("{stalled}");
    assert!(stalled.contains("`doc-controller-shard-b`"), "{stalled}");
    let (code, body) = a.get("/readyz").await.unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("waited"), "{body}");

    // Nobody reconciles b's slots: no overlap, no progress on them until b can read the ring.
    let records = assert_no_overlap(
        "no list",
        vec![
            ("shard-a", record(&a.logs(), None)),
            ("shard-b", record(&b.logs(), None)),
        ],
    );
    assert!(
        records["shard-b"].reconciles.is_empty(),
        "b reconciled without reading the ring"
    );
}
