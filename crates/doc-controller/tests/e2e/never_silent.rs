//! Never silent at run time, with faults made for real while doc-controller runs: RBAC revoked and restored,
//! partial RBAC, the CRD deleted and reinstalled, the API server stopped and restarted, the exit policy, and the
//! back-off of a list that keeps failing.

use std::time::{Duration, Instant};

use doc_controller::needs::needs_for;
use kube::Client;
use kube::api::{Api, DeleteParams};
use kubewhy::rbac::{Permission, Subject, Target, Verb, generate, to_yaml};
use kubewhy_testenv::{ControlPlane, Options};
use serde_json::Value;

use crate::harness::*;

/// Grants the namespace-scoped needs of doc-controller in `ns` to the ServiceAccount `ns/sa`, except the
/// permissions `deny` picks; applying it again replaces the rules (so it also revokes).
pub fn grant(cp: &ControlPlane, ns: &str, sa: &str, deny: impl Fn(&Permission) -> bool) {
    grant_with_leases(cp, ns, sa, None, deny)
}

/// [`grant`], with the leader-election Lease's permissions in `lease_ns` when given.
pub fn grant_with_leases(
    cp: &ControlPlane,
    ns: &str,
    sa: &str,
    lease_ns: Option<&str>,
    deny: impl Fn(&Permission) -> bool,
) {
    let perms: Vec<Permission> = needs_for(Some(ns), lease_ns)
        .permissions()
        .into_iter()
        .filter(|p| !deny(p))
        .collect();
    let subject = Subject::ServiceAccount {
        namespace: ns.into(),
        name: sa.into(),
    };
    let yaml = to_yaml(&generate("doc-controller-test", &subject, &perms)).expect("RBAC as YAML");
    let (ok, out, err) = cp
        .kubectl_with(cp.kubeconfig(), &["apply", "-f", "-"], Some(&yaml))
        .expect("running kubectl");
    assert!(ok, "kubectl apply of the RBAC failed: {out}{err}");
}

pub fn on(resource: &str, verb: Verb) -> impl Fn(&Permission) -> bool {
    let resource = resource.to_string();
    move |p: &Permission| {
        p.verb == verb
            && matches!(&p.target, Target::Resource { resource: r, .. } if *r == resource)
    }
}

/// A kubeconfig for a fresh ServiceAccount `ns/sa` on `cp`.
pub async fn service_account_kubeconfig(
    cp: &ControlPlane,
    ns: &str,
    sa: &str,
) -> (std::path::PathBuf, String) {
    let account = cp
        .service_account(ns, sa)
        .await
        .expect("a ServiceAccount token");
    let path = kubewhy_testenv::scratch_path(&format!("{ns}-{sa}.kubeconfig"));
    cp.write_kubeconfig(&account.identity, None, &path)
        .expect("writing a kubeconfig");
    (path, account.identity.user)
}

pub fn fields(line: &LogLine) -> &Value {
    line.json.get("fields").unwrap_or(&line.json)
}

/// The controller's log lines from kubewhy's watcher layer at `level` naming `watcher`.
pub fn watcher_lines(controller: &Controller, level: &str, watcher: &str) -> Vec<LogLine> {
    controller
        .logs()
        .into_iter()
        .filter(|l| {
            l.json["level"] == level
                && l.json["target"] == "kubewhy::watch"
                && fields(l)["watcher"].as_str() == Some(watcher)
        })
        .collect()
}

/// Waits until `/readyz` answers 200 (`ready`) or not, with a body containing `text`.
pub async fn wait_readyz(
    controller: &Controller,
    ready: bool,
    text: &str,
    timeout: Duration,
) -> String {
    let what = format!(
        "/readyz to be {} with {text:?}",
        if ready { "200" } else { "503" }
    );
    eventually(&what, timeout, || async {
        match controller.get("/readyz").await {
            Some((code, body)) if (code == 200) == ready && body.contains(text) => Some(body),
            _ => None,
        }
    })
    .await
}

const FAST: &[&str] = &[
    "--error-grace",
    "3s",
    "--watch-timeout",
    "3",
    "--preflight",
    "warn",
];

/// doc-controller for one namespace, with short grace, watch renewal and a non-blocking preflight.
fn start_fast(name: &str, kubeconfig: &std::path::Path, ns: &str) -> Controller {
    let mut args = vec!["--namespace", ns];
    args.extend_from_slice(FAST);
    Controller::start(name, kubeconfig, &args)
}

/// Waits until `/readyz` is 200 and both watchers synced and healthy.
pub async fn wait_healthy(controller: &Controller, timeout: Duration) {
    let body = wait_readyz(
        controller,
        true,
        "ok   watcher documents.kube.rs: synced",
        timeout,
    )
    .await;
    assert!(body.contains("ok   watcher configmaps: synced"), "{body}");
}

/// Waits until the Document has been reconciled (its status observed a generation).
pub async fn wait_reconciled(admin: &Client, ns: &str, name: &str) {
    wait_doc(
        admin,
        ns,
        name,
        "reconciled",
        Duration::from_secs(30),
        |d: &doc_controller::Document| {
            d.status
                .as_ref()
                .is_some_and(|s| s.observed_generation.is_some())
        },
    )
    .await;
}

#[tokio::test]
async fn a_revoked_watch_is_named_not_ready_and_recovers_without_restart() {
    let (admin, ns) = setup("revoke").await;
    let cp = kubewhy_testenv::shared();
    let (kubeconfig, user) = service_account_kubeconfig(cp, &ns, "ctl").await;
    grant(cp, &ns, "ctl", |_| false);
    let controller = start_fast("revoke", &kubeconfig, &ns);
    wait_healthy(&controller, Duration::from_secs(30)).await;
    create(&admin, &ns, &document("before", "Before", false, false)).await;
    wait_reconciled(&admin, &ns, "before").await;

    grant(cp, &ns, "ctl", on("documents", Verb::Watch));
    let revoked = Instant::now();
    let warn = eventually(
        "a WARN line for the Documents watcher",
        Duration::from_secs(20),
        || async {
            watcher_lines(&controller, "WARN", "documents.kube.rs")
                .into_iter()
                .next()
        },
    )
    .await;
    let warned_after = revoked.elapsed();
    let f = fields(&warn);
    assert_eq!(f["class"], "forbidden", "{}", warn.json);
    assert_eq!(f["verb"], "watch", "{}", warn.json);
    assert_eq!(f["resource"], "documents", "{}", warn.json);
    assert_eq!(f["user"], user.as_str(), "{}", warn.json);
    assert!(
        f["url"]
            .as_str()
            .unwrap_or("")
            .contains("/apis/kube.rs/v1/namespaces/"),
        "{}",
        warn.json
    );
    // Within the grace period after the failure surfaced (the watch renews every 3 s).
    assert!(
        warned_after < Duration::from_secs(3 + 3 + 2),
        "WARN came {warned_after:?} after the revocation"
    );
    assert!(
        controller.metric(r#"kubewhy_watcher_errors_total{watcher="documents.kube.rs",class="forbidden",code="403"}"#).await
            >= 1.0
    );
    let body = wait_readyz(
        &controller,
        false,
        "documents.kube.rs: error[forbidden]",
        Duration::from_secs(10),
    )
    .await;
    assert!(
        !body.contains("FAIL watcher configmaps"),
        "only the failing watcher is named: {body}"
    );
    // Once per cause, not once per retry.
    assert_eq!(
        watcher_lines(&controller, "WARN", "documents.kube.rs").len(),
        1
    );

    grant(cp, &ns, "ctl", |_| false);
    wait_healthy(&controller, Duration::from_secs(40)).await;
    assert_eq!(
        controller
            .metric(r#"kubewhy_watcher_up{watcher="documents.kube.rs"}"#)
            .await,
        1.0
    );
    // And it really works again: a new Document is reconciled.
    create(&admin, &ns, &document("after", "After", false, false)).await;
    wait_reconciled(&admin, &ns, "after").await;
    assert!(
        !watcher_lines(&controller, "INFO", "documents.kube.rs").is_empty(),
        "a recovery line"
    );
}

#[tokio::test]
async fn partial_rbac_names_only_the_failing_watcher() {
    let (_admin, ns) = setup("partial").await;
    let cp = kubewhy_testenv::shared();
    let (kubeconfig, _) = service_account_kubeconfig(cp, &ns, "ctl").await;
    // ConfigMaps may not be listed or watched; Documents are fine.
    grant(cp, &ns, "ctl", |p| {
        on("configmaps", Verb::List)(p) || on("configmaps", Verb::Watch)(p)
    });
    let controller = start_fast("partial", &kubeconfig, &ns);
    let warn = eventually(
        "a WARN line for the ConfigMaps watcher",
        Duration::from_secs(20),
        || async {
            watcher_lines(&controller, "WARN", "configmaps")
                .into_iter()
                .next()
        },
    )
    .await;
    // The initial list is streamed (`--initial-list auto` on a server with WatchList): one watch request.
    assert_eq!(fields(&warn)["verb"], "watch", "{}", warn.json);
    assert_eq!(fields(&warn)["resource"], "configmaps", "{}", warn.json);
    let body = wait_readyz(
        &controller,
        false,
        "configmaps: error[forbidden]",
        Duration::from_secs(10),
    )
    .await;
    assert!(!body.contains("FAIL watcher documents.kube.rs"), "{body}");
    assert!(watcher_lines(&controller, "WARN", "documents.kube.rs").is_empty());
    assert_eq!(
        controller
            .metric(r#"kubewhy_watcher_synced{watcher="documents.kube.rs"}"#)
            .await,
        1.0
    );
}

/// On a control plane of its own (the CRD is deleted).
#[tokio::test]
async fn a_deleted_crd_is_diagnosed_with_the_install_command_and_recovers_on_reinstall() {
    let cp = ControlPlane::start(Options::default()).expect("a separate control plane");
    let (admin, ns) = setup_on(&cp, "crd").await;
    let controller = start_fast("crd", cp.kubeconfig(), &ns);
    wait_healthy(&controller, Duration::from_secs(30)).await;

    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(admin.clone());
    crds.delete("documents.kube.rs", &DeleteParams::default())
        .await
        .expect("deleting the CRD");
    let warn = eventually(
        "a resource-not-found WARN line",
        Duration::from_secs(30),
        || async {
            watcher_lines(&controller, "WARN", "documents.kube.rs")
                .into_iter()
                .find(|l| fields(l)["class"] == "resource-not-found")
        },
    )
    .await;
    let message = fields(&warn)["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("doc-controller crdgen | kubectl apply -f -"),
        "{message}"
    );
    wait_readyz(
        &controller,
        false,
        "documents.kube.rs: error[resource-not-found]",
        Duration::from_secs(10),
    )
    .await;

    ensure_crd(&admin).await;
    wait_healthy(&controller, Duration::from_secs(40)).await;
    create(&admin, &ns, &document("back", "Back", false, false)).await;
    wait_reconciled(&admin, &ns, "back").await;
}

/// On a control plane of its own (it is stopped and restarted on the same data and port).
#[tokio::test]
async fn the_api_server_restarting_loses_nothing() {
    let dir = kubewhy_testenv::scratch_path("restart-controller");
    std::fs::create_dir_all(&dir).unwrap();
    let opts = Options {
        dir: Some(dir.clone()),
        ..Options::default()
    };
    let mut cp = ControlPlane::start(opts.clone()).expect("a separate control plane");
    let port: u16 = cp.server().rsplit(':').next().unwrap().parse().unwrap();
    let (admin, ns) = setup_on(&cp, "restart").await;
    let controller = start_fast("restart", cp.kubeconfig(), &ns);
    wait_healthy(&controller, Duration::from_secs(30)).await;
    create(&admin, &ns, &document("first", "First", false, true)).await;
    wait_reconciled(&admin, &ns, "first").await;

    assert!(cp.stop().expect("running").success());
    // The controller notices (connection errors are transient: logged, retried with back-off).
    eventually(
        "the controller to notice the API server is gone",
        Duration::from_secs(20),
        || async {
            controller.logs().into_iter().find(|l| {
                l.json["target"] == "kubewhy::watch" && fields(l)["class"] == "connection"
            })
        },
    )
    .await;
    drop(cp);
    let cp = ControlPlane::start(Options { port, ..opts }).expect("restarting on the same data");
    let admin: Client = cp.admin().await.unwrap();
    for i in 0..5 {
        create(
            &admin,
            &ns,
            &document(&format!("meanwhile-{i}"), "Meanwhile", false, i % 2 == 0),
        )
        .await;
    }
    for i in 0..5 {
        wait_reconciled(&admin, &ns, &format!("meanwhile-{i}")).await;
    }
    wait_healthy(&controller, Duration::from_secs(40)).await;
    drop(controller);
    drop(cp);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_exit_policy_exits_with_the_code_of_the_class_after_the_diagnosis() {
    let (_admin, ns) = setup("exitpolicy").await;
    let cp = kubewhy_testenv::shared();
    let (kubeconfig, _) = service_account_kubeconfig(cp, &ns, "nobody").await;
    let started = Instant::now();
    let mut controller = Controller::start(
        "exit",
        &kubeconfig,
        &[
            "--namespace",
            &ns,
            "--preflight",
            "warn",
            "--error-grace",
            "2s",
            "--on-persistent-error",
            "exit",
        ],
    );
    let status = controller.wait_exit(Duration::from_secs(30)).await;
    assert_eq!(status.code(), Some(10), "forbidden exits with 10");
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "not before the grace period"
    );
    let raw: Vec<String> = controller
        .logs()
        .iter()
        .filter_map(|l| l.json["raw"].as_str().map(str::to_string))
        .collect();
    assert!(
        raw.iter().any(|l| l.starts_with("error[forbidden]:")),
        "the full diagnosis on stderr: {raw:#?}"
    );
    assert!(raw.iter().any(|l| l.contains("= help:")), "{raw:#?}");
    assert!(
        raw.iter().any(|l| l.contains("exiting with code 10")),
        "{raw:#?}"
    );
}

/// The back-off cap bounds the requests of a list that fails for a minute: 800 ms doubling to 30 s with up to
/// 50 % jitter allows at most 9 attempts in 60 s (a flat 1 s retry would make 60).
#[tokio::test]
async fn a_list_failing_for_a_minute_stays_within_the_back_off_cap() {
    let (_admin, ns) = setup("backoffcap").await;
    let cp = kubewhy_testenv::shared();
    let (kubeconfig, _) = service_account_kubeconfig(cp, &ns, "ctl").await;
    grant(cp, &ns, "ctl", on("documents", Verb::List));
    // Paged: a streamed initial list is one watch request and needs no `list` at all.
    let controller = Controller::start(
        "backoff-cap",
        &kubeconfig,
        &[
            "--namespace",
            &ns,
            "--preflight",
            "warn",
            "--initial-list",
            "paged",
        ],
    );
    tokio::time::sleep(Duration::from_secs(60)).await;
    let lists = controller
        .metric(r#"kubewhy_api_requests_total{verb="list",resource="documents",code="403"}"#)
        .await;
    assert!((5.0..=9.0).contains(&lists), "{lists} failed lists in 60 s");
    let warns = watcher_lines(&controller, "WARN", "documents.kube.rs");
    assert!(
        (1..=2).contains(&warns.len()),
        "logged once per minute at most: {}",
        warns.len()
    );
}

/// A reconcile that fails on an API call logs the request that failed (from the client's request recorder) and
/// the fix, not only the error text.
#[tokio::test]
async fn a_failed_reconcile_names_the_request_that_failed() {
    let (admin, ns) = setup("reconcilerequest").await;
    let cp = kubewhy_testenv::shared();
    let (kubeconfig, _) = service_account_kubeconfig(cp, &ns, "ctl").await;
    grant(cp, &ns, "ctl", |p| {
        on("configmaps", Verb::Create)(p) || on("configmaps", Verb::Patch)(p)
    });
    let controller = start_fast("reconcile-request", &kubeconfig, &ns);
    create(
        &admin,
        &ns,
        &document("published", "Published", false, true),
    )
    .await;
    let line = eventually(
        "a failed reconcile's log line",
        Duration::from_secs(30),
        || async {
            controller.logs().into_iter().find(|l| {
                fields(l)["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("reconcile of "))
            })
        },
    )
    .await;
    let f = fields(&line);
    assert_eq!(f["class"], "forbidden", "{}", line.json);
    assert_eq!(f["verb"], "patch", "{}", line.json);
    let url = f["url"].as_str().unwrap_or_default();
    assert!(
        url.starts_with(&format!("/api/v1/namespaces/{ns}/configmaps/published?")),
        "{}",
        line.json
    );
    assert!(
        f["help"].as_str().unwrap_or_default().contains("Role"),
        "{}",
        line.json
    );
}
