//! A Document whose reconcile keeps failing (a ConfigMap of its name exists and belongs to someone else) is retried
//! with growing delays, shows the error on itself, does not block other Documents, and starts over after a success.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use doc_controller::document::READY;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};
use serde_json::json;

use crate::harness::*;

/// The controller's "reconcile failed" log lines for Document `name`: (when logged, attempt, retry delay in ms).
fn failures(controller: &Controller, name: &str) -> Vec<(Timestamp, u64, u64)> {
    controller
        .logs()
        .into_iter()
        .filter_map(|l| {
            let f = l.json.get("fields")?;
            // kubewhy's per-object back-off: one line per attempt (DEBUG after the first of a cause).
            if !f.get("message")?.as_str()?.starts_with("reconcile of ")
                || f.get("name")?.as_str()? != name
            {
                return None;
            }
            Some((
                l.json.get("timestamp")?.as_str()?.parse().ok()?,
                f.get("attempt")?.as_u64()?,
                f.get("retry_in_ms")?.as_u64()?,
            ))
        })
        .collect()
}

async fn foreign_config_map(cms: &Api<ConfigMap>, name: &str) {
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([(
            "title".to_string(),
            "someone else's".to_string(),
        )])),
        ..ConfigMap::default()
    };
    cms.create(&PostParams::default(), &cm)
        .await
        .expect("creating a foreign ConfigMap");
}

#[tokio::test]
async fn a_failing_document_backs_off_and_does_not_block_others() {
    let (admin, ns) = setup("backoff").await;
    let env = kubewhy_testenv::shared();
    let controller = Controller::start(
        "controller",
        env.kubeconfig(),
        &[
            "--namespace",
            &ns,
            "--error-backoff-min",
            "200ms",
            "--error-backoff-max",
            "20s",
            "--resync",
            "1h",
        ],
    );
    let cms: Api<ConfigMap> = Api::namespaced(admin.clone(), &ns);
    foreign_config_map(&cms, "clash").await;
    create(&admin, &ns, &document("clash", "Clash", false, true)).await;

    // The error is on the object: a Ready=False condition and a Warning event.
    let doc = wait_doc(
        &admin,
        &ns,
        "clash",
        "Ready=False with the error",
        Duration::from_secs(20),
        |d| d.condition(READY).is_some_and(|c| c.status == "False"),
    )
    .await;
    let ready = doc.condition(READY).unwrap();
    assert_eq!(ready.reason, "Conflict");
    assert!(
        ready.message.starts_with("error[conflict]: ConfigMap")
            && ready.message.contains("not owned by this Document"),
        "{}",
        ready.message
    );
    let warning = wait_event(&admin, &ns, "clash", "Conflict").await;
    assert_eq!(warning.type_.as_deref(), Some("Warning"));
    assert!(
        warning
            .note
            .as_deref()
            .unwrap_or_default()
            .contains("not owned by this Document"),
        "{warning:?}"
    );

    // Another Document is served while this one fails.
    let started = Instant::now();
    create(&admin, &ns, &document("fine", "Fine", false, true)).await;
    wait_doc(
        &admin,
        &ns,
        "fine",
        "Ready while another Document fails",
        Duration::from_secs(10),
        |d| d.is_ready(),
    )
    .await;
    let served_in = started.elapsed();

    // Retries with growing delays.
    let seen = eventually("5 failed attempts", Duration::from_secs(30), || async {
        let f = failures(&controller, "clash");
        (f.len() >= 5).then_some(f)
    })
    .await;
    let seen = &seen[..5];
    let attempts: Vec<u64> = seen.iter().map(|f| f.1).collect();
    assert_eq!(attempts, [1, 2, 3, 4, 5], "{seen:?}");
    let delays: Vec<u64> = seen.iter().map(|f| f.2).collect();
    assert!(
        delays.windows(2).all(|w| w[1] > w[0]),
        "retry delays do not grow: {delays:?}"
    );
    assert!((200..=400).contains(&delays[0]), "first delay {delays:?}");
    let gaps: Vec<Duration> = seen
        .windows(2)
        .map(|w| Duration::try_from(w[1].0.duration_since(w[0].0)).unwrap_or_default())
        .collect();
    for (gap, delay) in gaps.iter().zip(&delays) {
        // Each retry waits at least its delay (the log's timestamps have microseconds; 5 ms for timer granularity).
        assert!(
            gap.as_millis() as u64 + 5 >= *delay,
            "retried after {gap:?}, before its delay {delay} ms: {gaps:?}"
        );
    }
    assert!(
        gaps[3] > gaps[0] * 3,
        "the gaps between attempts do not grow: {gaps:?}"
    );
    assert!(
        served_in < Duration::from_secs(5),
        "the other Document waited {served_in:?}"
    );
    assert!(
        controller
            .metric(
                "doc_controller_reconcile_failures_total{class=\"conflict\",cause=\"foreign-config-map\"}"
            )
            .await
            >= 5.0
    );
    assert_eq!(
        controller.metric("doc_controller_objects_in_backoff").await,
        1.0
    );
    // The foreign ConfigMap was never touched.
    let foreign = cms.get("clash").await.unwrap();
    assert_eq!(
        foreign.data.unwrap().get("title").map(String::as_str),
        Some("someone else's")
    );

    // Once the obstacle is gone, the next retry succeeds and the back-off is forgotten.
    cms.delete("clash", &DeleteParams::default()).await.unwrap();
    wait_doc(
        &admin,
        &ns,
        "clash",
        "Ready after the foreign ConfigMap is gone",
        Duration::from_secs(45),
        |d| d.is_ready(),
    )
    .await;
    wait_config_map(&admin, &ns, "clash", "published", |cm| cm.is_some()).await;
    eventually(
        "no Document in back-off",
        Duration::from_secs(5),
        || async {
            (controller.metric("doc_controller_objects_in_backoff").await == 0.0).then_some(())
        },
    )
    .await;

    // A new failure starts again from the first, short delay.
    patch_spec(&admin, &ns, "clash", json!({ "publish": false })).await;
    wait_config_map(&admin, &ns, "clash", "unpublished", |cm| cm.is_none()).await;
    let before = failures(&controller, "clash").len();
    foreign_config_map(&cms, "clash").await;
    patch_spec(&admin, &ns, "clash", json!({ "publish": true })).await;
    let again = eventually("a new failure", Duration::from_secs(20), || async {
        failures(&controller, "clash").get(before).copied()
    })
    .await;
    assert_eq!(
        again.1, 1,
        "the back-off was not reset by the success: {again:?}"
    );
    assert!(again.2 <= 400, "{again:?}");
}
