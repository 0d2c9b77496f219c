//! doc-controller's own preflight against the real API server: `doctor` reports a missing CRD with
//! `doc-controller crdgen` and every missing permission of its ServiceAccount, and its `--fix` output makes the
//! next `doctor` pass; `run --preflight` waits (not ready) until the RBAC appears, fails, or warns and goes on.
//!
//! On a control plane of its own: the Document CRD starts out not installed here.

use std::time::{Duration, Instant};

use clap::Parser;
use doc_controller::cli::{Cli, Command, DoctorArgs};
use doc_controller::preflight::{self, Decision, Mode};
use doc_controller::readiness::{Check, Readiness};
use doc_controller::shutdown::Shutdown;
use kubewhy::rbac::Subject;
use kubewhy_testenv::ControlPlane;

fn env() -> &'static ControlPlane {
    static CP: std::sync::OnceLock<ControlPlane> = std::sync::OnceLock::new();
    crate::common::private(&CP)
}

fn doctor_args(args: &[&str]) -> DoctorArgs {
    let mut all = vec!["doc-controller", "doctor"];
    all.extend_from_slice(args);
    match Cli::try_parse_from(all).unwrap().command {
        Command::Doctor(args) => args,
        other => panic!("{other:?}"),
    }
}

/// Runs `doctor` in-process: (exit status, standard output, standard error).
async fn doctor(args: &[&str]) -> (u8, String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = doc_controller::doctor::doctor(&doctor_args(args), &mut out, &mut err)
        .await
        .unwrap();
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

fn apply(yaml: &str) {
    let (ok, out, err) = env()
        .kubectl_with(env().kubeconfig(), &["apply", "-f", "-"], Some(yaml))
        .unwrap();
    assert!(ok, "kubectl apply failed: {err}\n{out}\n{yaml}");
}

#[tokio::test]
async fn doctor_names_the_missing_crd_and_permissions_and_its_fix_makes_it_pass() {
    let ns = env().namespace("doctor").await.unwrap();
    let sa = env().service_account(&ns, "doc-controller").await.unwrap();
    let admin = env().kubeconfig().to_str().unwrap().to_string();
    let flags = [
        "--kubeconfig",
        admin.as_str(),
        "--as-service-account",
        "--service-account-namespace",
        ns.as_str(),
        "--namespace",
        ns.as_str(),
        "--lease-namespace",
        ns.as_str(),
    ];

    let (code, out, _) = doctor(&flags).await;
    assert_eq!(code, 1, "{out}");
    // The whole report: the namespace and the kubeconfig differ by run, the server's port too.
    let server = env().server().trim_end_matches('/').to_string();
    let shown = out
        .replace(&admin, "<admin kubeconfig>")
        .replace(&ns, "<ns>")
        .replace(&server, "https://127.0.0.1:<port>");
    assert!(out.contains(&format!("as `{}`", sa.identity.user)), "{out}");
    insta::assert_snapshot!("doctor_report_nothing_granted_crd_missing", shown);

    // --fix: the fix on standard output (the CRD command as a comment, then the RBAC), the report on standard
    // error; applying the CRD and the fix makes doctor pass.
    let mut with_fix = flags.to_vec();
    with_fix.push("--fix");
    let (code, fix, report) = doctor(&with_fix).await;
    assert_eq!(code, 1);
    assert!(
        fix.starts_with(
            "# first, install what is missing:\n#   doc-controller crdgen | kubectl apply -f -\n"
        ),
        "{fix}"
    );
    assert!(report.contains("error: "), "{report}");
    apply(&doc_controller::document::crd_yaml().unwrap());
    apply(&fix);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, out, _) = doctor(&flags).await;
        if code == 0 {
            assert!(
                out.contains("ok: all ") && out.contains("checks passed for `doc-controller`"),
                "{out}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "doctor did not pass:\n{out}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // JSON for scripts.
    let mut json = flags.to_vec();
    json.extend(["-o", "json"]);
    let (code, out, _) = doctor(&json).await;
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["summary"]["failed"], 0);
}

#[tokio::test]
async fn run_waits_not_ready_until_the_rbac_appears_fails_or_warns() {
    let ns = env().namespace("startup").await.unwrap();
    let sa = env().service_account(&ns, "ctl").await.unwrap();
    let config = env().config_for(&sa.identity).await.unwrap();
    // ConfigMaps and events only: the Document CRD may or may not be installed by the other test here.
    let needs = kubewhy::needs::Needs::new("ctl").watch(
        kubewhy::needs::ResourceType::new("", "v1", "configmaps", "ConfigMap", true),
        Some(&ns),
    );

    // fail: exit at once, not ready.
    let readiness = Readiness::default();
    let why = preflight::at_start(&config, &needs, Mode::Fail, &readiness, &Shutdown::new())
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        why,
        "3 of 7 checks failed (see the log, or run `doc-controller doctor`)"
    );
    assert_eq!(
        readiness.get(preflight::CHECK),
        Some(Check::NotReady(why.clone()))
    );

    // warn: go on, saying so.
    let readiness = Readiness::default();
    let decision = preflight::at_start(&config, &needs, Mode::Warn, &readiness, &Shutdown::new())
        .await
        .unwrap();
    assert_eq!(decision, Decision::Start);
    assert_eq!(
        readiness.get(preflight::CHECK),
        Some(Check::Ready(format!(
            "started anyway (--preflight=warn): {why}"
        )))
    );

    // wait: stop waiting on shutdown.
    let shutdown = Shutdown::new();
    shutdown.trigger("test");
    let decision = preflight::at_start(
        &config,
        &needs,
        Mode::Wait,
        &Readiness::default(),
        &shutdown,
    )
    .await
    .unwrap();
    assert_eq!(decision, Decision::ShutDown);

    // wait: not ready while the RBAC is missing; starts within moments of it being applied.
    let health = kubewhy::watch::Health::new(kubewhy::watch::Policy::in_cluster());
    health.declare(Vec::<String>::new());
    let readiness = health.checks();
    let waiting = {
        let (config, needs, readiness) = (config.clone(), needs.clone(), readiness.clone());
        tokio::spawn(async move {
            preflight::at_start(&config, &needs, Mode::Wait, &readiness, &Shutdown::new()).await
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while readiness.get(preflight::CHECK).is_none() {
        assert!(Instant::now() < deadline, "no readiness reported");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(readiness.get(preflight::CHECK), Some(Check::NotReady(why)));
    assert!(!health.readiness().ready, "{}", health.readiness().text());
    apply(
        &needs
            .rbac_yaml(&Subject::from_username(&sa.identity.user))
            .unwrap(),
    );
    let started = Instant::now();
    let decision = tokio::time::timeout(Duration::from_secs(40), waiting)
        .await
        .expect("the wait ends once the RBAC is there")
        .unwrap()
        .unwrap();
    assert_eq!(decision, Decision::Start);
    assert_eq!(
        readiness.get(preflight::CHECK),
        Some(Check::Ready("7 checks passed".into()))
    );
    // Back-off is 1 s doubling to 30 s: the first retries come within seconds.
    assert!(started.elapsed() < Duration::from_secs(35));
}
