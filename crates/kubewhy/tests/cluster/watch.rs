//! Watchers that are never silent, against the real API server with faults made for real: a watch denied by
//! RBAC while the list is allowed, a resource type that is not installed, and the exit policy.

use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use kube::runtime::watcher;
use kubewhy::metrics::Metrics;
use kubewhy::trace::Inspector;
use kubewhy::watch::{BackoffConfig, Health, OnPersistent, Policy, Watch, WatchStreamDiagnoseExt};
use kubewhy::{Class, Phase};

use crate::common;
use crate::grant;
use grant::grant_configmaps;

fn log() -> &'static common::Log {
    &crate::logs().plain
}

fn lines_with(needle: &str) -> Vec<String> {
    log().lines_with(needle)
}

async fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn fast_policy(on_persistent: OnPersistent) -> Policy {
    Policy {
        on_persistent,
        grace: Duration::from_secs(2),
        log_interval: Duration::from_secs(30),
        backoff: BackoffConfig {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(1600),
            factor: 2.0,
            jitter: 0.0,
            reset_after: Duration::from_secs(60),
        },
    }
}

fn requests(metrics: &Metrics, verb: &str) -> u64 {
    let mut text = String::new();
    let mut registry = prometheus_client::registry::Registry::default();
    metrics.register(&mut registry);
    prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
    text.lines()
        .filter(|l| {
            l.starts_with(&format!(
                "kubewhy_api_requests_total{{verb=\"{verb}\",resource=\"configmaps\""
            ))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[tokio::test]
async fn a_denied_watch_is_named_backed_off_and_recovers_without_restart() {
    log();
    let env = kubewhy_testenv::shared();
    let ns = env.namespace("watchdenied").await.unwrap();
    let admin = env.admin().await.unwrap();
    let sa = env.service_account(&ns, "watcher").await.unwrap();
    grant_configmaps(&admin, &ns, "watcher", "configmaps-list", &["list"]).await;

    let metrics = Metrics::default();
    let config = env.config_for(&sa.identity).await.unwrap();
    let inspector = Inspector::new(&config).with_metrics(metrics.clone());
    let client = inspector.client(config).unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(client, &ns);
    // RBAC reaches the authorizer through an informer: wait until the list is allowed.
    let deadline = Instant::now() + Duration::from_secs(10);
    while cms.list(&ListParams::default()).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "the list grant never took effect"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let health = Health::new(fast_policy(OnPersistent::Retry)).with_metrics(metrics.clone());
    let name = format!("configmaps-{ns}");
    let watch = Watch::new(name.clone(), &health).inspector(&inspector);
    let before = requests(&metrics, "watch");
    let started = Instant::now();
    let task = tokio::spawn(
        watcher(cms, watcher::Config::default())
            .diagnosed(watch)
            .for_each(|_| async {}),
    );

    // Within the grace period: one WARN line naming the watcher, the verb, the resource and the identity.
    wait_for(
        "a WARN line for the denied watch",
        Duration::from_secs(2),
        || lines_with(&name).iter().any(|l| l.contains("WARN")),
    )
    .await;
    let warn = lines_with(&name)
        .into_iter()
        .find(|l| l.contains("WARN"))
        .unwrap();
    assert!(warn.contains("class=forbidden"), "{warn}");
    assert!(
        warn.contains("verb=\"watch\"") || warn.contains("verb=watch"),
        "{warn}"
    );
    assert!(warn.contains("configmaps"), "{warn}");
    assert!(
        warn.contains(&format!("system:serviceaccount:{ns}:watcher")),
        "{warn}"
    );
    let status = health.status(&name).unwrap();
    assert!(
        status.synced,
        "the list is allowed, so the initial list completed"
    );
    assert!(!status.healthy);
    assert_eq!(
        status.diagnosis.as_ref().map(|d| d.class),
        Some(Class::Forbidden)
    );
    // The step that failed reaches Health (kube#1132): the list works, the watch is denied.
    let d = status.diagnosis.as_ref().unwrap();
    assert_eq!(d.phase, Some(Phase::WatchStart));
    assert!(
        d.describe()
            .notes
            .iter()
            .any(|n| n.contains("the list succeeded but the watch is denied")),
        "{:#?}",
        d.describe()
    );
    // The log line is the diagnosis's one-line form: summary, cause and the one-line help.
    assert!(warn.contains(&format!("{d:#}")), "{warn}\n{d:#}");
    assert!(warn.contains("; help: grant exactly this verb"), "{warn}");

    // A persistent cause: not ready, naming the watcher and the cause.
    wait_for("readiness to turn false", Duration::from_secs(5), || {
        !health.readiness().ready
    })
    .await;
    let report = health.readiness();
    let not_ready: Vec<_> = report.failing().collect();
    assert_eq!(not_ready.len(), 1, "{}", report.text());
    assert_eq!(not_ready[0].name, format!("watcher {name}"));
    assert!(
        not_ready[0].message.starts_with("error[forbidden]"),
        "{:?}",
        not_ready[0]
    );

    // Back-off grows: in 8 s, 100 ms doubling to a 1.6 s cap allows at most 9 watch attempts (a flat 100 ms
    // retry would make ~80). The list is not repeated: the watcher retries the watch from its resourceVersion.
    tokio::time::sleep(Duration::from_secs(8).saturating_sub(started.elapsed())).await;
    let watches = requests(&metrics, "watch") - before;
    assert!(
        (4..=9).contains(&watches),
        "{watches} watch attempts in 8 s"
    );
    assert_eq!(
        requests(&metrics, "list"),
        2,
        "one list by the test, one initial list by the watcher"
    );
    // Logged once per cause per interval, never once per retry.
    let warns = lines_with(&name)
        .iter()
        .filter(|l| l.contains("WARN"))
        .count();
    assert_eq!(warns, 1, "{:#?}", lines_with(&name));

    // Restore: recovery without a restart, ready again, and a line saying so.
    grant_configmaps(
        &admin,
        &ns,
        "watcher",
        "configmaps-list",
        &["list", "watch"],
    )
    .await;
    wait_for("the watcher to recover", Duration::from_secs(15), || {
        health.readiness().ready
    })
    .await;
    assert!(health.status(&name).unwrap().healthy);
    wait_for("a recovery line", Duration::from_secs(2), || {
        lines_with(&name).iter().any(|l| l.contains("recovered"))
    })
    .await;
    task.abort();
}

#[tokio::test]
async fn a_missing_crd_is_resource_not_found_until_installed() {
    log();
    let env = kubewhy_testenv::shared();
    let admin = env.admin().await.unwrap();
    // A CRD unique to this test, so no other test installs it.
    let plural = format!("gizmos{}", std::process::id());
    let group = "watch-test.kubewhy.dev";
    let ar =
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, "v1", "Gizmo"), &plural);
    let health = Health::new(fast_policy(OnPersistent::Retry));
    let name = format!("{plural}.{group}");
    let api: Api<DynamicObject> = Api::all_with(admin.clone(), &ar);
    let task = tokio::spawn(
        watcher(api, watcher::Config::default())
            .diagnosed(Watch::new(name.clone(), &health))
            .for_each(|_| async {}),
    );
    wait_for(
        "a resource-not-found diagnosis",
        Duration::from_secs(5),
        || {
            health
                .status(&name)
                .and_then(|s| s.diagnosis)
                .is_some_and(|d| d.class == Class::ResourceNotFound)
        },
    )
    .await;
    let line = lines_with(&name)
        .into_iter()
        .find(|l| l.contains("WARN"))
        .expect("a WARN line");
    assert!(line.contains("resource-not-found"), "{line}");

    let crd = serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": name},
        "spec": {"group": group, "scope": "Namespaced",
            "names": {"kind": "Gizmo", "plural": plural, "singular": format!("gizmo{}", std::process::id())},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
    });
    let (ok, _, err) = env
        .kubectl_with(
            env.kubeconfig(),
            &["apply", "-f", "-"],
            Some(&crd.to_string()),
        )
        .unwrap();
    assert!(ok, "{err}");
    wait_for(
        "recovery after the CRD is installed",
        Duration::from_secs(30),
        || health.readiness().ready,
    )
    .await;
    assert!(health.status(&name).unwrap().synced);
    task.abort();
}

#[tokio::test]
async fn the_exit_policy_hands_over_the_diagnosis_after_the_grace_period() {
    log();
    let env = kubewhy_testenv::shared();
    let ns = env.namespace("watchexit").await.unwrap();
    let sa = env.service_account(&ns, "nobody").await.unwrap();
    let health = Health::new(fast_policy(OnPersistent::Exit));
    let cms: Api<ConfigMap> = Api::namespaced(sa.client.clone(), &ns);
    let started = Instant::now();
    let task = tokio::spawn(
        watcher(cms, watcher::Config::default())
            .diagnosed(Watch::new("configmaps-exit", &health))
            .for_each(|_| async {}),
    );
    let diagnosis = tokio::time::timeout(Duration::from_secs(15), health.fatal())
        .await
        .expect("fatal within 15 s");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "not before the grace period"
    );
    assert_eq!(diagnosis.class, Class::Forbidden);
    assert_eq!(kubewhy::watch::exit_code(diagnosis.class), 10);
    task.abort();
}

#[tokio::test]
async fn a_denied_permission_is_asked_again_until_fixed_and_readiness_follows_within_5_s() {
    log();
    let env = kubewhy_testenv::shared();
    let ns = env.namespace("watchfix").await.unwrap();
    let admin = env.admin().await.unwrap();
    let sa = env.service_account(&ns, "fixed").await.unwrap();
    grant_configmaps(&admin, &ns, "fixed", "configmaps-fixed", &["list"]).await;

    // A hand-written declaration (still possible, never required): list and watch configmaps in the namespace.
    let health = Health::new(fast_policy(OnPersistent::Retry));
    let client = health
        .client_for(env.config_for(&sa.identity).await.unwrap())
        .unwrap();
    let needs = kubewhy::needs::Needs::new("watch-test").watch_with(
        kubewhy::needs::ResourceType::of::<ConfigMap>(),
        Some(&ns),
        [],
    );
    let _watchdog = kubewhy::watch::AccessWatchdog::start(&health, client.clone(), &needs);
    let name = format!("configmaps-{ns}");
    let cms: Api<ConfigMap> = Api::namespaced(client, &ns);
    let task = tokio::spawn(
        watcher(cms, watcher::Config::default())
            .diagnosed(Watch::new(name.clone(), &health))
            .for_each(|_| async {}),
    );
    wait_for(
        "the watchdog finds `watch` denied",
        Duration::from_secs(20),
        || {
            health
                .readiness()
                .failing()
                .any(|i| i.name == "access" && i.message.contains("`watch`"))
        },
    )
    .await;
    assert_eq!(
        health.access_needs().as_ref(),
        Some(&needs),
        "what it checks is what was declared"
    );

    // Fixed: the denied permission is asked again every 2 s and the watcher's recovery asks at once.
    grant_configmaps(&admin, &ns, "fixed", "configmaps-fixed", &["list", "watch"]).await;
    let fixed = Instant::now();
    wait_for("readiness after the fix", Duration::from_secs(5), || {
        health.readiness().ready
    })
    .await;
    println!("ready {:?} after the fix (bound 5 s)", fixed.elapsed());
    assert!(
        health.access().unwrap().iter().all(|a| a.allowed),
        "{:?}",
        health.access()
    );
    task.abort();
}
