//! The recipe (`examples/controller.rs`, compiled in here as it is) against the real API server: a controller on
//! `kubewhy::controller::Controller` (kube's stable `applier`, no unstable kube feature) reconciles what it may, the
//! access watchdog runs by default with needs nobody wrote — a `watch` revoked while it stays open is known within
//! 75 s and readiness is back within 5 s of the fix —, a graceful shutdown lets a running reconcile finish, and
//! `kubewhy explain` reads the lines the recipe makes a program log, in text and JSON, back to the same class and
//! fields.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::events::v1::Event;
use kube::ResourceExt;
use kube::api::{Api, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::watcher;
use kubewhy::controller::Controller;
use kubewhy::scan::Scanner;
use kubewhy::watch::Health;
use kubewhy::{Class, Diagnosis};

#[path = "../../examples/controller.rs"]
#[allow(dead_code)] // its `main` and HTTP handlers are the example's, not the test's
mod example;

use crate::common::Log;
use crate::grant::{grant, grant_configmaps};

const ANNOTATION: &str = "example.kubewhy.dev/reconciled";

/// The process's log twice, as the recipe's `tracing_subscriber::fmt()` writes it (colours included) and in
/// tracing's JSON format, filtered as the recipe filters it (the binary's one subscriber: [`crate::logs`]).
fn logs() -> (&'static Log, &'static Log) {
    let logs = crate::logs();
    (&logs.recipe_text, &logs.recipe_json)
}

async fn wait_for<F: std::future::Future<Output = bool>>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> F,
) -> Duration {
    let started = Instant::now();
    while !check().await {
        assert!(
            started.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = started.elapsed();
    println!("{what}: after {took:?}");
    took
}

fn sample(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        ..ConfigMap::default()
    }
}

async fn annotated(cms: &Api<ConfigMap>, name: &str) -> bool {
    cms.get(name)
        .await
        .ok()
        .is_some_and(|cm| cm.annotations().contains_key(ANNOTATION))
}

/// The recipe's state and an inspected client for `sa` (what the example's `main` does, for another identity).
async fn recipe(
    env: &kubewhy_testenv::ControlPlane,
    sa: &kubewhy_testenv::ServiceAccount,
) -> (example::State, kube::Client) {
    let state = example::State::new();
    let config = env.config_for(&sa.identity).await.unwrap();
    let client = state.health.client_for(config).unwrap();
    (state, client)
}

/// The recipe's controller for `namespace`, in a task.
fn spawn_recipe(
    state: &example::State,
    client: kube::Client,
    namespace: &str,
) -> tokio::task::JoinHandle<()> {
    let (state, namespace) = (state.clone(), namespace.to_string());
    tokio::spawn(async move { example::run(state, client, &namespace).await })
}

#[tokio::test]
async fn the_recipe_reconciles_serves_its_metrics_and_derives_its_needs() {
    logs();
    let env = kubewhy_testenv::shared();
    let admin = env.admin().await.unwrap();
    let ns = env.namespace("adoption").await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(admin.clone(), &ns);
    cms.create(&PostParams::default(), &sample("sample"))
        .await
        .unwrap();

    // Allowed: the example reconciles the sample and is ready; its metrics and kubewhy's are served together.
    let sa = env.service_account(&ns, "allowed").await.unwrap();
    grant_configmaps(
        &admin,
        &ns,
        "allowed",
        "allowed",
        &["list", "watch", "patch"],
    )
    .await;
    let (state, client) = recipe(env, &sa).await;
    let task = spawn_recipe(&state, client, &ns);
    wait_for("the sample reconciled", Duration::from_secs(60), || {
        annotated(&cms, "sample")
    })
    .await;
    wait_for("readiness", Duration::from_secs(30), || {
        let ready = state.health.readiness().ready;
        async move { ready }
    })
    .await;
    let mut text = String::new();
    kubewhy::prometheus_client::encoding::text::encode(&mut text, &state.registry).unwrap();
    state.health.append_metrics(&mut text);
    // The program's own counter (the annotation it writes triggers another reconcile: one or more).
    let runs: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("example_reconciles_total "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert!(runs >= 1, "{text}");
    assert!(
        text.contains(
            "kubewhy_api_requests_total{verb=\"list\",resource=\"configmaps\",code=\"200\"}"
        ),
        "{text}"
    );
    assert!(
        text.ends_with("\n# EOF\n") && text.matches("# EOF").count() == 1,
        "{text}"
    );
    // The watchdog's needs, derived: list and watch on the watched type, and the write the inspector saw.
    wait_for("the patch learned", Duration::from_secs(10), || {
        let learned = state
            .health
            .access_needs()
            .is_some_and(|n| n.to_yaml().unwrap().contains("- patch"));
        async move { learned }
    })
    .await;
    let yaml = state.health.access_needs().unwrap().to_yaml().unwrap();
    println!("what the access watchdog checks:\n{yaml}");
    assert!(yaml.contains("resource: configmaps"), "{yaml}");
    assert!(
        yaml.contains("- list") && yaml.contains("- watch"),
        "{yaml}"
    );
    assert!(yaml.contains(&format!("namespace: {ns}")), "{yaml}");
    task.abort();
}

#[tokio::test]
async fn kubewhy_explain_reads_the_recipes_own_lines_back() {
    let (text_log, json_log) = logs();
    let env = kubewhy_testenv::shared();
    let admin = env.admin().await.unwrap();
    let ns = env.namespace("explain").await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(admin.clone(), &ns);
    cms.create(&PostParams::default(), &sample("sample"))
        .await
        .unwrap();

    // Denied: the patch is forbidden. The recipe's error policy logs one line per failure: the diagnosis in its
    // one-line form, which `kubewhy explain` reads back.
    let sa = env.service_account(&ns, "readonly").await.unwrap();
    grant_configmaps(&admin, &ns, "readonly", "readonly", &["list", "watch"]).await;
    let events = ("events.k8s.io", "events");
    grant(
        &admin,
        &ns,
        "readonly",
        "events",
        events,
        &["create", "patch"],
    )
    .await;
    let (state, client) = recipe(env, &sa).await;
    let task = spawn_recipe(&state, client, &ns);
    let user = format!("system:serviceaccount:{ns}:readonly");
    let named = format!("service account `{ns}/readonly`");
    wait_for("a reconcile failed line", Duration::from_secs(60), || {
        let seen = text_log
            .text()
            .lines()
            .any(|l| l.contains("reconcile failed: error[forbidden]") && l.contains(&named));
        async move { seen }
    })
    .await;
    task.abort();

    let line = text_log
        .text()
        .lines()
        .find(|l| l.contains("reconcile failed: error[forbidden]") && l.contains(&named))
        .unwrap()
        .to_string();
    println!("the recipe's line: {line}");
    assert!(
        line.contains("; help: "),
        "the one-line form carries the fix: {line}"
    );
    // The same diagnosis on the object: the Warning event `kubectl describe configmap` shows.
    let events: Api<Event> = Api::namespaced(admin.clone(), &ns);
    let mut note = String::new();
    wait_for("the Warning event", Duration::from_secs(30), || {
        let events = events.clone();
        async move {
            let list = events.list(&Default::default()).await.unwrap();
            list.items.into_iter().any(|e| {
                e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some("sample")
                    && e.reason.as_deref() == Some("Forbidden")
                    && e.type_.as_deref() == Some("Warning")
            })
        }
    })
    .await;
    for e in events.list(&Default::default()).await.unwrap().items {
        if e.reason.as_deref() == Some("Forbidden") {
            note = e.note.unwrap_or_default();
        }
    }
    println!("the event's note: {note}");
    assert!(
        note.starts_with("error[forbidden]: ") && note.contains("; help: "),
        "{note}"
    );
    let texts = [
        ("text", text_log.text()),
        ("json", json_log.text()),
        (
            "event",
            format!("  Warning  Forbidden  5s  kubewhy-example  {note}\n"),
        ),
    ];
    for (format, text) in texts {
        let found = read_back(&text, &user);
        let d = found.unwrap_or_else(|| panic!("{format}: explain found nothing for {user}"));
        assert_eq!(d.class, Class::Forbidden, "{format}: {d:#?}");
        assert_eq!(d.request.verb.as_deref(), Some("patch"), "{format}: {d:#?}");
        assert_eq!(
            d.request.resource.as_deref(),
            Some("configmaps"),
            "{format}: {d:#?}"
        );
        assert_eq!(
            d.request.namespace.as_deref(),
            Some(ns.as_str()),
            "{format}: {d:#?}"
        );
        assert_eq!(d.user.as_deref(), Some(user.as_str()), "{format}: {d:#?}");
    }
}

/// What `kubewhy explain` reads from `log` about `user`'s denied patch.
fn read_back(log: &str, user: &str) -> Option<Diagnosis> {
    let mut scanner = Scanner::new();
    scanner.read("controller.log", log.as_bytes()).unwrap();
    let findings = scanner.into_findings();
    for f in &findings {
        println!(
            "finding: {} {:?} {:?} {:?} user={:?} line {}",
            f.diagnosis.class,
            f.diagnosis.request.verb,
            f.diagnosis.request.resource,
            f.diagnosis.request.namespace,
            f.diagnosis.user,
            f.first_line
        );
    }
    findings
        .into_iter()
        .map(|f| f.diagnosis)
        .find(|d| d.user.as_deref() == Some(user) && d.request.verb.as_deref() == Some("patch"))
}

#[tokio::test]
async fn a_revoked_watch_is_known_within_75_s_and_readiness_follows_the_fix_within_5_s() {
    let (text_log, _) = logs();
    let env = kubewhy_testenv::shared();
    let admin = env.admin().await.unwrap();
    let ns = env.namespace("watchdog").await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(admin.clone(), &ns);
    cms.create(&PostParams::default(), &sample("sample"))
        .await
        .unwrap();
    let sa = env.service_account(&ns, "watched").await.unwrap();
    let all = ["list", "watch", "patch"];
    grant_configmaps(&admin, &ns, "watched", "watched", &all).await;
    let (state, client) = recipe(env, &sa).await;
    let task = spawn_recipe(&state, client, &ns);
    wait_for("ready", Duration::from_secs(60), || {
        let ready = state.health.readiness().ready;
        async move { ready }
    })
    .await;
    wait_for("the sample reconciled", Duration::from_secs(30), || {
        annotated(&cms, "sample")
    })
    .await;

    // Revoked while the watch stays open (the API server does not close it): the default recipe knows.
    grant_configmaps(&admin, &ns, "watched", "watched", &["list", "patch"]).await;
    let known = wait_for(
        "the revoked watch known (readiness false)",
        Duration::from_secs(75),
        || {
            let r = state.health.readiness();
            let denied = r
                .failing()
                .any(|i| i.name == "access" && i.message.contains("`watch`"));
            async move { denied }
        },
    )
    .await;
    let named = format!("service account `{ns}/watched`");
    let lost: Vec<String> = text_log
        .text()
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("access lost") && l.contains(&named))
        .map(str::to_string)
        .collect();
    assert_eq!(lost.len(), 1, "one WARN for the lost permission: {lost:#?}");
    assert!(lost[0].contains("`watch`"), "{}", lost[0]);
    assert!(lost[0].contains("; help: "), "{}", lost[0]);

    // Fixed: readiness follows within seconds, no restart.
    grant_configmaps(&admin, &ns, "watched", "watched", &all).await;
    let recovered = wait_for("ready again after the fix", Duration::from_secs(5), || {
        let ready = state.health.readiness().ready;
        async move { ready }
    })
    .await;
    println!(
        "revoked watch known after {:.1} s (bound 75 s), ready {:.1} s after the fix (bound 5 s)",
        known.as_secs_f64(),
        recovered.as_secs_f64()
    );
    task.abort();
}

#[derive(Debug, thiserror::Error)]
#[error("annotating the ConfigMap failed")]
struct Error(#[source] kube::Error);

/// A reconciler that says when it starts, takes `took`, then annotates.
struct Slow {
    client: kube::Client,
    took: Duration,
    started: tokio::sync::Notify,
}

async fn slow_reconcile(cm: Arc<ConfigMap>, ctx: Arc<Slow>) -> Result<Action, Error> {
    ctx.started.notify_one();
    tokio::time::sleep(ctx.took).await;
    let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &cm.namespace().unwrap());
    let patch = serde_json::json!({"metadata": {"annotations": {ANNOTATION: "true"}}});
    api.patch(
        &cm.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .map_err(Error)?;
    Ok(Action::await_change())
}

fn no_retry(_: Arc<ConfigMap>, _: &Error, _: Arc<Slow>) -> Action {
    Action::await_change()
}

/// Runs a controller of `ns` whose reconciles take `took`, shuts it down gracefully once the first reconcile has
/// started, and returns how long the shutdown took and the registry.
async fn shut_down_while_reconciling(
    admin: &kube::Client,
    ns: &str,
    took: Duration,
    deadline: Duration,
) -> (Duration, Health) {
    let health = Health::default();
    let ctx = Arc::new(Slow {
        client: admin.clone(),
        took,
        started: tokio::sync::Notify::new(),
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = Controller::new(
        Api::<ConfigMap>::namespaced(admin.clone(), ns),
        watcher::Config::default(),
        &health,
    )
    .access_watchdog(None)
    .graceful_shutdown_on(async move {
        // The sender is dropped only if the test failed first: shutting down is right then too.
        let _stopped_or_dropped = stopped.await;
    })
    .shutdown_deadline(deadline)
    .run(slow_reconcile, no_retry, ctx.clone())
    .for_each(|_| futures::future::ready(()));
    let task = tokio::spawn(run);
    tokio::time::timeout(Duration::from_secs(60), ctx.started.notified())
        .await
        .expect("a reconcile started");
    let asked = Instant::now();
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(60), task)
        .await
        .expect("the controller returned after the shutdown")
        .unwrap();
    (asked.elapsed(), health)
}

#[tokio::test]
async fn a_graceful_shutdown_lets_a_running_reconcile_finish_within_the_deadline() {
    logs();
    let env = kubewhy_testenv::shared();
    let admin = env.admin().await.unwrap();

    // Within the deadline: the running reconcile finishes, then the controller returns.
    let ns = env.namespace("shutdown").await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(admin.clone(), &ns);
    cms.create(&PostParams::default(), &sample("running"))
        .await
        .unwrap();
    let (took, health) =
        shut_down_while_reconciling(&admin, &ns, Duration::from_secs(2), Duration::from_secs(20))
            .await;
    println!("graceful shutdown with a 2 s reconcile running took {took:?}");
    assert!(
        annotated(&cms, "running").await,
        "the running reconcile finished"
    );
    assert!(
        took < Duration::from_secs(20),
        "returned when it finished, not at the deadline: {took:?}"
    );
    let r = health.readiness();
    assert!(
        r.failing().any(|i| i.name == "shutdown"),
        "not ready while shutting down: {}",
        r.text()
    );
    // No new work after the shutdown: an object created now is not reconciled (nothing runs any more).
    cms.create(&PostParams::default(), &sample("after"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!annotated(&cms, "after").await);

    // Past the deadline: the reconcile still running is cancelled and the controller returns.
    let ns = env.namespace("deadline").await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(admin.clone(), &ns);
    cms.create(&PostParams::default(), &sample("stuck"))
        .await
        .unwrap();
    let (took, _) = shut_down_while_reconciling(
        &admin,
        &ns,
        Duration::from_secs(600),
        Duration::from_secs(1),
    )
    .await;
    println!("graceful shutdown with a stuck reconcile took {took:?} (deadline 1 s)");
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(30),
        "{took:?}"
    );
    assert!(
        !annotated(&cms, "stuck").await,
        "the stuck reconcile was cancelled"
    );
}
