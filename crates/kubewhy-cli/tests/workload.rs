//! `kubewhy explain <workload>` against the real control plane running its workload controllers and scheduler, with
//! KWOK playing the node: Deployments, StatefulSets, DaemonSets and Jobs get real pods, and `kubectl logs` (the API
//! server's `pods/log`, proxied to the node's kubelet endpoint KWOK serves) returns real log texts — doc-controller's
//! own log under a revoked permission, and real pasted client-go, controller-runtime and Python client logs from
//! the corpus — as their ServiceAccounts with real RBAC. Checked: the report (folded across pods, seen in N of N),
//! the live confirmation as the pods' identity, the fix that edits the existing role, that applying the printed fix
//! makes the next run report history and exit 0, what a user without `pods/log` is told, `-o json`, `--follow`.
//!
//! Its own test binary, not a module of `tests/cli/`: its control plane is another environment (the workload
//! controllers and the scheduler run in it, and KWOK beside it), which the `cli` binary's shared control plane must
//! not be; as a binary of its own it runs after `cli`'s, so the two environments never load the machine at once.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, LogParams, Patch, PatchParams};
use kubewhy_testenv::kwok::{self, LogFiles};
use kubewhy_testenv::{ControlPlane, WithKwok};
use serde_json::{Value, json};

const KUBEWHY: &str = env!("CARGO_BIN_EXE_kubewhy");
const KUBECTL_WHY: &str = env!("CARGO_BIN_EXE_kubectl-api_why");

fn env() -> &'static WithKwok {
    kubewhy_testenv::shared_with_kwok()
}

fn cp() -> &'static ControlPlane {
    &env().control_plane
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

/// Runs `kubewhy` with a kubeconfig (without colour).
fn kubewhy(kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new(KUBEWHY)
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("running kubewhy")
}

/// `kubewhy explain <target> -n <ns>` as the admin: prints the report (and standard error), checks the exit status
/// and returns the report.
fn explain(target: &str, ns: &str, code: i32) -> String {
    let out = kubewhy(cp().kubeconfig(), &["explain", target, "-n", ns]);
    let (report, stderr) = (text(&out.stdout), text(&out.stderr));
    println!("--- kubewhy explain {target} -n {ns} ---\n{report}\n{stderr}");
    assert_eq!(out.status.code(), Some(code), "{report}\n{stderr}");
    report
}

/// Applies objects (JSON) as the admin, server-side.
async fn apply(objects: &[Value]) {
    let yaml: String = objects
        .iter()
        .map(|o| format!("---\n{}\n", serde_json::to_string(o).unwrap()))
        .collect();
    let (ok, out, err) = cp()
        .kubectl_with(
            cp().kubeconfig(),
            &["apply", "--server-side", "-f", "-"],
            Some(&yaml),
        )
        .unwrap();
    assert!(ok, "kubectl apply failed: {err}\n{out}\n{yaml}");
}

/// A workload object of `kind` whose pods run `containers` as `account`, on the node KWOK plays.
fn workload(
    kind: &str,
    ns: &str,
    name: &str,
    replicas: u32,
    account: &str,
    containers: &[&str],
) -> Value {
    let template = json!({
        "metadata": {"labels": {"app": name}},
        "spec": {
            "serviceAccountName": account,
            "restartPolicy": if kind == "Job" { "Never" } else { "Always" },
            "containers": containers.iter().map(|c| json!({"name": c, "image": format!("example.com/{c}:1")})).collect::<Vec<_>>(),
        }
    });
    let (api_version, mut spec) = match kind {
        "Deployment" | "StatefulSet" => (
            "apps/v1",
            json!({"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": template}),
        ),
        "DaemonSet" => (
            "apps/v1",
            json!({"selector": {"matchLabels": {"app": name}}, "template": template}),
        ),
        "Job" => (
            "batch/v1",
            json!({"parallelism": replicas, "completions": replicas, "backoffLimit": 0, "template": template}),
        ),
        other => panic!("no workload kind {other}"),
    };
    if kind == "StatefulSet" {
        spec["serviceName"] = json!(name);
    }
    json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name, "namespace": ns}, "spec": spec})
}

/// Waits until `n` pods labelled `app=<name>` run (KWOK reports them Running, or a Job's Succeeded).
async fn wait_running(ns: &str, name: &str, n: usize) -> Vec<Pod> {
    let admin = cp().admin().await.unwrap();
    let pods: Api<Pod> = Api::namespaced(admin, ns);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let list = pods
            .list(&ListParams::default().labels(&format!("app={name}")))
            .await
            .unwrap();
        let running: Vec<Pod> = list
            .items
            .into_iter()
            .filter(|p| {
                matches!(
                    p.status.as_ref().and_then(|s| s.phase.as_deref()),
                    Some("Running" | "Succeeded")
                )
            })
            .collect();
        if running.len() >= n {
            return running;
        }
        assert!(
            Instant::now() < deadline,
            "{n} pods of {ns}/{name} did not run within 120 s ({} do)",
            running.len()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// Waits until KWOK serves the log of each container of `pods`: it learns of a `Logs`/`ClusterLogs` object through a
/// watch of its own, a moment after the object is applied, and until then answers `no logs found for container`.
async fn wait_logs_served(ns: &str, pods: &[Pod]) {
    let admin = cp().admin().await.unwrap();
    let api: Api<Pod> = Api::namespaced(admin, ns);
    let started = Instant::now();
    for pod in pods {
        let name = pod
            .metadata
            .name
            .clone()
            .expect("a pod listed by the API server has a name");
        // A pod without a spec has no container whose log could be waited for.
        let containers = pod.spec.as_ref().map(|s| s.containers.clone());
        for c in containers.unwrap_or_default() {
            let lp = LogParams {
                container: Some(c.name.clone()),
                limit_bytes: Some(1),
                ..LogParams::default()
            };
            while let Err(e) = api.logs(&name, &lp).await {
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "KWOK did not serve the log of {ns}/{name}/{} within 60 s: {e}",
                    c.name
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    println!(
        "the logs of {} pods served after {:?}",
        pods.len(),
        started.elapsed()
    );
}

/// A CRI log file for KWOK to serve: `lines`, the first `ago` before now, one a millisecond.
fn cri_log(name: &str, lines: &[String], ago: Duration) -> PathBuf {
    let path = kubewhy_testenv::scratch_path(name);
    kwok::write_cri_log(
        &path,
        lines,
        SystemTime::now() - ago,
        Duration::from_millis(1),
    )
    .unwrap();
    path
}

/// A kubeconfig for a static-token user.
fn user_kubeconfig(user: &str) -> PathBuf {
    let path = kubewhy_testenv::scratch_path(&format!("{user}-workload.kubeconfig"));
    let identity = cp().user_identity(user).unwrap();
    cp().write_kubeconfig(&identity, None, &path).unwrap();
    path
}

/// doc-controller's own log, from running it for real as `account` in `ns` (its binary, built with cargo like
/// `kubewhy-dev demo` builds it) until its watchers have failed a few times.
fn doc_controller_log(ns: &str, kubeconfig: &Path) -> Vec<String> {
    let bin = kubewhy_testenv::cargo::build_bin("doc-controller", "doc-controller").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(&bin)
        .arg("run")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args([
            "--namespace",
            ns,
            "--preflight",
            "warn",
            "--error-grace",
            "1s",
        ])
        .args(["--http-addr", &format!("127.0.0.1:{port}")])
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting doc-controller");
    std::thread::sleep(Duration::from_secs(8));
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(40);
    while child.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "doc-controller did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let log = format!("{}{}", text(&out.stdout), text(&out.stderr));
    log.lines().map(str::to_string).collect()
}

/// The Role doc-controller needs in one namespace (from its declared needs), with `list` of ConfigMaps taken away.
fn doc_controller_rbac(ns: &str) -> Vec<Value> {
    vec![
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "doc-controller", "namespace": ns}}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "doc-controller", "namespace": ns},
        "rules": [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "watch", "create", "patch", "delete"]},
            {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
            {"apiGroups": ["kube.rs"], "resources": ["documents"], "verbs": ["list", "watch", "patch"]},
            {"apiGroups": ["kube.rs"], "resources": ["documents/finalizers"], "verbs": ["update"]},
            {"apiGroups": ["kube.rs"], "resources": ["documents/status"], "verbs": ["patch"]},
        ]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "doc-controller", "namespace": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "doc-controller"},
            "subjects": [{"kind": "ServiceAccount", "name": "doc-controller", "namespace": ns}]}),
    ]
}

/// The whole story of issue 23: a workload whose ServiceAccount lost a permission is explained from the cluster,
/// confirmed as that identity, fixed by editing its own Role, and reported as history afterwards; a user without
/// `pods/log` is told exactly that.
#[tokio::test]
async fn a_deployment_that_lost_a_permission_is_explained_confirmed_fixed_and_then_history() {
    let ns = cp().namespace("wl-lost").await.unwrap();
    let admin = cp().admin().await.unwrap();
    let (ok, out, err) = cp()
        .kubectl_with(
            cp().kubeconfig(),
            &["apply", "-f", "-"],
            Some(&doc_controller::document::crd_yaml().unwrap()),
        )
        .unwrap();
    assert!(ok, "{out}{err}");
    apply(&doc_controller_rbac(&ns)).await;

    // doc-controller's own log, running as its ServiceAccount without `list configmaps`.
    let sa = cp().service_account(&ns, "doc-controller").await.unwrap();
    let sa_kubeconfig = kubewhy_testenv::scratch_path(&format!("{ns}-sa.kubeconfig"));
    cp().write_kubeconfig(&sa.identity, Some(&ns), &sa_kubeconfig)
        .unwrap();
    let lines = doc_controller_log(&ns, &sa_kubeconfig);
    let log_text = lines.join("\n");
    assert!(
        log_text.contains("configmaps") && log_text.contains("forbidden"),
        "doc-controller did not log the denial:\n{log_text}"
    );
    let file = cri_log(
        &format!("{ns}-doc-controller.log"),
        &lines,
        Duration::from_secs(120),
    );
    kwok::serve_namespace_logs(
        &admin,
        &ns,
        &ns,
        &[LogFiles {
            containers: vec![],
            file,
            previous: None,
        }],
    )
    .await
    .unwrap();
    apply(&[workload(
        "Deployment",
        &ns,
        "doc-controller",
        3,
        "doc-controller",
        &["doc-controller"],
    )])
    .await;
    let pods = wait_running(&ns, "doc-controller", 3).await;
    wait_logs_served(&ns, &pods).await;

    // The report: found in the logs of all 3 pods, confirmed as the pods' identity, the fix edits its Role.
    let admin_kc = cp().kubeconfig();
    let report = explain("deploy/doc-controller", &ns, 1);
    let user = format!("system:serviceaccount:{ns}:doc-controller");
    assert!(
        report.starts_with(&format!("deployment/doc-controller in namespace `{ns}`: 3 pods (3 Running), run as service account `{ns}/doc-controller`")),
        "{report}"
    );
    assert!(report.contains("read: 3 logs of 3 pods"), "{report}");
    assert!(
        report.contains(&format!("error[forbidden]: service account `{ns}/doc-controller` cannot `list` `configmaps` in namespace `{ns}`")),
        "{report}"
    );
    assert!(
        report.contains("= note: seen in 3 of 3 pods of deployment/doc-controller"),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "live: confirmed — a SubjectAccessReview for `{user}` is still denied"
        )),
        "{report}"
    );
    assert!(report.contains("Role `doc-controller`"), "{report}");

    // --fix edits the existing Role, and kubectl applies it.
    let fix = kubewhy(
        admin_kc,
        &["explain", "deploy/doc-controller", "-n", &ns, "--fix"],
    );
    let fix_yaml = text(&fix.stdout);
    println!("--- the fix ---\n{fix_yaml}");
    assert!(
        fix_yaml.contains("kind: Role"),
        "{fix_yaml}\n{}",
        text(&fix.stderr)
    );
    assert!(fix_yaml.contains("name: doc-controller"), "{fix_yaml}");
    assert!(
        !fix_yaml.contains("kind: RoleBinding"),
        "a new binding instead of an edit:\n{fix_yaml}"
    );
    let (ok, out, err) = cp()
        .kubectl_with(admin_kc, &["apply", "-f", "-"], Some(&fix_yaml))
        .unwrap();
    assert!(ok, "kubectl apply of the fix failed: {err}\n{out}");

    // The same log, read again: the denial is history, and the run is clean.
    let report = explain("deploy/doc-controller", &ns, 0);
    assert!(
        report.contains("history — seen before, no longer happening"),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "a SubjectAccessReview for `{user}` is allowed now"
        )),
        "{report}"
    );
    assert!(
        report.contains("no Kubernetes API failures found in deployment/doc-controller"),
        "{report}"
    );

    // JSON: explain's schema, each finding with its standing and where it was seen.
    let out = kubewhy(
        admin_kc,
        &["explain", "deploy/doc-controller", "-n", &ns, "-o", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let found: Value = serde_json::from_slice(&out.stdout).unwrap();
    let denial = found
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["class"] == "forbidden" && f["resource"] == "configmaps")
        .unwrap_or_else(|| panic!("{found:#}"));
    assert_eq!(denial["workload"]["standing"], "history", "{denial:#}");
    assert_eq!(denial["workload"]["seen"]["of"], 3, "{denial:#}");
    assert_eq!(
        denial["workload"]["seen"]["pods"].as_array().unwrap().len(),
        3
    );
    assert!(
        denial["file"]
            .as_str()
            .unwrap()
            .ends_with("/doc-controller"),
        "{denial:#}"
    );
    for key in [
        "schema_version",
        "summary",
        "cause",
        "notes",
        "remedy",
        "typed_cause",
        "count",
        "first_line",
    ] {
        assert!(denial.get(key).is_some(), "{key} missing: {denial:#}");
    }

    // As the kubectl plugin.
    let out = Command::new(KUBECTL_WHY)
        .args(["explain", "deploy/doc-controller", "-n", &ns])
        .env("KUBECONFIG", admin_kc)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // A user who may read the workload, its pods and events but not `pods/log` is told exactly that.
    apply(&[
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "reader", "namespace": ns},
            "rules": [
                {"apiGroups": ["apps"], "resources": ["deployments", "replicasets"], "verbs": ["get", "list"]},
                {"apiGroups": [""], "resources": ["pods", "events", "serviceaccounts"], "verbs": ["get", "list"]},
            ]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "carol-reads", "namespace": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
            "subjects": [{"kind": "User", "name": "carol", "apiGroup": "rbac.authorization.k8s.io"}]}),
    ])
    .await;
    let carol = user_kubeconfig("carol");
    let out = kubewhy(&carol, &["explain", "deploy/doc-controller", "-n", &ns]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    println!("--- as carol, without pods/log ---\n{stdout}\n--- its standard error ---\n{stderr}");
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "error[forbidden]: user `carol` cannot `get` `pods/log` in namespace `{ns}`"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("kubewhy could not read the logs of 3 containers (`doc-controller-"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "kubectl auth can-i get pods --subresource=log -n {ns}"
        )),
        "{stderr}"
    );
    assert!(
        stdout.contains("3 pods (3 Running)"),
        "it went on with what it could read:\n{stdout}"
    );
    assert!(stdout.contains("read: 0 logs of 0 pods"), "{stdout}");
    assert!(stdout.contains("incomplete:"), "{stdout}");
}

/// Real pasted client-go, controller-runtime and Python client logs from the corpus, as the logs of a StatefulSet,
/// a DaemonSet and a Job: each workload reports what `kubewhy explain` finds in the same text, folded across its
/// pods, and confirms what the cluster can confirm.
#[tokio::test]
async fn corpus_logs_of_statefulsets_daemonsets_and_jobs_are_explained_like_the_files() {
    let ns = cp().namespace("wl-corpus").await.unwrap();
    let admin = cp().admin().await.unwrap();
    let corpus_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../kubewhy/tests/data/corpus.yaml");
    let corpus: Vec<serde_yaml::Value> =
        serde_yaml::from_str(&std::fs::read_to_string(&corpus_path).unwrap()).unwrap();
    let pastes = |format: &str| -> Vec<String> {
        corpus
            .iter()
            .filter(|c| c["format"].as_str() == Some(format))
            .filter_map(|c| c["text"].as_str().map(str::to_string))
            .collect()
    };
    let cases = [
        ("StatefulSet", "client-go", 2u32, pastes("client-go")),
        (
            "DaemonSet",
            "controller-runtime",
            1,
            pastes("controller-runtime"),
        ),
        ("Job", "python-client", 2, pastes("python-client")),
    ];
    let mut logs = Vec::new();
    for (kind, format, _, texts) in &cases {
        assert!(
            texts.len() >= 3,
            "the corpus has {} {format} pastes",
            texts.len()
        );
        // Each paste, then a line of noise: as a program logs between failures.
        let mut lines = Vec::new();
        for t in texts {
            lines.push(t.clone());
            lines.push(format!(
                "I0101 00:00:00.000000       1 main.go:42] {kind} still working"
            ));
        }
        let file = cri_log(
            &format!("{ns}-{format}.log"),
            &lines,
            Duration::from_secs(300),
        );
        logs.push(LogFiles {
            containers: vec![format.to_string()],
            file,
            previous: None,
        });
    }
    kwok::serve_namespace_logs(&admin, &ns, &ns, &logs)
        .await
        .unwrap();
    let mut objects = vec![
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "app", "namespace": ns}}),
    ];
    for (kind, format, replicas, _) in &cases {
        objects.push(workload(kind, &ns, format, *replicas, "app", &[format]));
    }
    apply(&objects).await;

    for ((kind, format, replicas, _), log) in cases.iter().zip(&logs) {
        let n = *replicas as usize;
        let pods = wait_running(&ns, format, n).await;
        wait_logs_served(&ns, &pods).await;
        let short = match *kind {
            "StatefulSet" => "sts",
            "DaemonSet" => "ds",
            _ => "job",
        };
        let target = format!("{short}/{format}");
        let out = kubewhy(
            cp().kubeconfig(),
            &["explain", &target, "-n", &ns, "-o", "json"],
        );
        assert!(
            out.status.code() == Some(1),
            "{target}: {}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        let found: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        // The same text as a file: the same failures (the workload folds them across its pods).
        let file_text: String = std::fs::read_to_string(&log.file)
            .unwrap()
            .lines()
            .map(|l| l.splitn(4, ' ').nth(3).unwrap_or("").to_string() + "\n")
            .collect();
        let plain = kubewhy_stdin(&["explain", "-o", "json"], &file_text);
        let plain: Vec<Value> = serde_json::from_slice(&plain.stdout).unwrap();
        let summaries = |v: &[Value]| {
            let mut s: Vec<String> = v
                .iter()
                .map(|f| format!("{} {}", f["class"], f["summary"]))
                .collect();
            s.sort();
            s
        };
        let mut workload_summaries = summaries(&found);
        // A denial whose text names no user is the pods' ServiceAccount's in the workload report.
        let pod_user = format!("service account `{ns}/app`");
        for s in &mut workload_summaries {
            *s = s.replace(&pod_user, "the client");
        }
        workload_summaries.sort();
        assert_eq!(workload_summaries, summaries(&plain), "{target}");
        for f in &found {
            let seen = &f["workload"]["seen"];
            assert_eq!(seen["of"], n, "{target}: {f:#}");
            assert_eq!(seen["pods"].as_array().unwrap().len(), n, "{target}: {f:#}");
            let standing = f["workload"]["standing"].as_str().unwrap();
            match f["class"].as_str().unwrap() {
                // Denials are re-checked as the denied user: current, unless this cluster grants that user the
                // verb now (a paste of a built-in controller's identity, which the real API server binds): then
                // history. The cluster's own SubjectAccessReview says which.
                "forbidden" if f["typed_cause"]["kind"] == "denied" => {
                    let allowed = allowed_now(f).await;
                    let expected = if allowed { "history" } else { "current" };
                    assert_eq!(
                        standing, expected,
                        "{target} (allowed now: {allowed}): {f:#}"
                    );
                    if allowed {
                        assert!(
                            f["notes"]
                                .to_string()
                                .contains("live: the denial no longer holds"),
                            "{target}: {f:#}"
                        );
                    }
                }
                // A type not served that the text does not name (a dynamic informer's
                // `*unstructured.Unstructured`) cannot be looked up: unconfirmed.
                "resource-not-found"
                    if f["typed_cause"]["kind"] == "not-served"
                        && f["resource"].is_null()
                        && f["kind"].is_null() =>
                {
                    assert_eq!(standing, "unconfirmed", "{target}: {f:#}");
                }
                // Types not served are looked up in discovery: current, unless another test installed the type
                // since (then it is served now, and history).
                "resource-not-found" if f["typed_cause"]["kind"] == "not-served" => {
                    let notes = f["notes"].to_string();
                    match standing {
                        "current" => assert!(notes.contains("live: confirmed"), "{target}: {f:#}"),
                        "history" => assert!(notes.contains("is served now"), "{target}: {f:#}"),
                        other => panic!("{target}: {other}: {f:#}"),
                    }
                }
                _ => assert_eq!(standing, "unconfirmed", "{target}: {f:#}"),
            }
        }
        println!(
            "{target}: {} findings, each seen in {n} of {n} pods",
            found.len()
        );
        // Bounded: a log longer than --limit-bytes is read to the limit, and the report says so.
        let out = kubewhy(
            cp().kubeconfig(),
            &["explain", &target, "-n", &ns, "--limit-bytes", "1Ki"],
        );
        let report = text(&out.stdout);
        assert!(
            report.contains(&format!(
                "{} reached the limit of 1 KiB a log; what followed was not read",
                if n == 1 {
                    "1 log".to_string()
                } else {
                    format!("{n} logs")
                }
            )),
            "{target}:\n{report}"
        );
        assert!(
            report.contains("at most 1 KiB a log"),
            "{target}:\n{report}"
        );
        // JUnit: one failed case per finding.
        let out = kubewhy(
            cp().kubeconfig(),
            &["explain", &target, "-n", &ns, "-o", "junit"],
        );
        let xml = text(&out.stdout);
        assert_eq!(
            xml.matches("<testcase").count(),
            found.len(),
            "{target}:\n{xml}"
        );
        assert_eq!(
            xml.matches("<failure").count(),
            found
                .iter()
                .filter(|f| f["workload"]["standing"] != "history")
                .count(),
            "{target}:\n{xml}"
        );
    }
}

/// Runs `kubewhy` on standard input.
/// Whether the cluster allows a finding's denied request now, by its own SubjectAccessReview (as the admin).
async fn allowed_now(finding: &Value) -> bool {
    use k8s_openapi::api::authorization::v1::{
        ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
    };
    let field = |k: &str| finding[k].as_str().map(str::to_string);
    // A ServiceAccount's token also carries its groups, as the API server's authenticator adds them.
    let groups = field("user").and_then(|u| {
        let ns = u
            .strip_prefix("system:serviceaccount:")?
            .split(':')
            .next()?
            .to_string();
        Some(vec![
            "system:serviceaccounts".to_string(),
            format!("system:serviceaccounts:{ns}"),
            "system:authenticated".to_string(),
        ])
    });
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: field("user"),
            groups,
            resource_attributes: Some(ResourceAttributes {
                verb: field("verb"),
                resource: field("resource"),
                group: field("group"),
                namespace: field("namespace"),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let admin = cp().admin().await.unwrap();
    let reviews: Api<SubjectAccessReview> = Api::all(admin);
    let answer = reviews
        .create(&Default::default(), &review)
        .await
        .expect("the admin may create a SubjectAccessReview");
    answer.status.is_some_and(|s| s.allowed)
}

fn kubewhy_stdin(args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(KUBEWHY)
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let input = input.to_string();
    let writer = std::thread::spawn(move || pipe.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    out
}

/// A pod restarted after a failure: the previous container's log is read too, and what is only there is said to
/// be from before the restart; `--follow` prints a new failure as the running container logs it, once.
#[tokio::test]
async fn previous_logs_are_read_and_follow_prints_each_new_failure_once() {
    let ns = cp().namespace("wl-follow").await.unwrap();
    let admin = cp().admin().await.unwrap();
    let denied = |verb: &str| {
        format!(
            r#"E0101 00:00:00.000000       1 reflector.go:166] "Unhandled Error" err="failed to list *v1.Secret: secrets is forbidden: User \"system:serviceaccount:{ns}:app\" cannot {verb} resource \"secrets\" in API group \"\" in the namespace \"{ns}\"""#
        )
    };
    let current = cri_log(
        &format!("{ns}-current.log"),
        &["I0101 started".to_string()],
        Duration::from_secs(30),
    );
    let previous = cri_log(
        &format!("{ns}-previous.log"),
        &[denied("list"), "F0101 exiting".into()],
        Duration::from_secs(90),
    );
    apply(&[
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "app", "namespace": ns}}),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app-0", "namespace": ns, "labels": {"app": "app"}},
            "spec": {"serviceAccountName": "app", "containers": [{"name": "app", "image": "example.com/app:1"}]}}),
    ])
    .await;
    let pods = wait_running(&ns, "app", 1).await;
    kwok::serve_pod_logs(
        &admin,
        &ns,
        "app-0",
        &[LogFiles {
            containers: vec!["app".into()],
            file: current.clone(),
            previous: Some(previous),
        }],
    )
    .await
    .unwrap();
    wait_logs_served(&ns, &pods).await;
    // The kubelet's record of a restart: the container ran before and was terminated.
    let pods: Api<Pod> = Api::namespaced(admin.clone(), &ns);
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    pods.patch_status(
        "app-0",
        &PatchParams::default(),
        &Patch::Strategic(json!({"status": {"containerStatuses": [{
            "name": "app", "image": "example.com/app:1", "ready": true, "restartCount": 1,
            "state": {"running": {"startedAt": now}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": now, "finishedAt": now}},
        }]}})),
    )
    .await
    .unwrap();

    let report = explain("pod/app-0", &ns, 1);
    assert!(report.contains("1 restart"), "{report}");
    assert!(report.contains("read: 2 logs of 1 pod"), "{report}");
    assert!(report.contains("--> app-0/app (previous):1"), "{report}");
    assert!(
        report.contains("only in the logs of containers that have restarted since"),
        "{report}"
    );

    // --follow: the running container logs a new failure, and an old one again.
    let mut child = Command::new(KUBEWHY)
        .args(["explain", "pod/app-0", "-n", &ns, "--follow", "-o", "json"])
        .env("KUBECONFIG", cp().kubeconfig())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // The report (a pretty JSON array) comes first.
    let started = Instant::now();
    let mut report = String::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the report");
        report.push_str(&line);
        report.push('\n');
        if line == "]" {
            break;
        }
    }
    let reported: Vec<Value> = serde_json::from_str(&report).unwrap();
    assert_eq!(reported.len(), 1, "{report}");
    std::thread::sleep(Duration::from_secs(2));
    kwok::append_cri_log(
        &current,
        [denied("list"), denied("watch")],
        SystemTime::now(),
        Duration::from_millis(1),
    )
    .unwrap();
    let line = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("no new failure printed ({e}) after {:?}", started.elapsed()));
    let new: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(new["verb"], "watch", "{new:#}");
    assert_eq!(new["workload"]["standing"], "current", "{new:#}");
    // The list denial was in the report already: it is not printed again.
    assert!(rx.recv_timeout(Duration::from_secs(3)).is_err());
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    println!("--follow ended with {status} after {:?}", started.elapsed());
}

/// A failure no log shows: the ReplicaSet controller cannot create the Deployment's pods (the namespace enforces
/// Pod Security `restricted`, which the pod template does not meet). It is read from the ReplicaSet's
/// `FailedCreate` events and the Deployment's `ReplicaFailure` condition: one finding, however many generated pod
/// names were tried.
#[tokio::test]
async fn failures_in_events_and_conditions_are_explained_once() {
    let ns = cp().namespace("wl-psa").await.unwrap();
    let (ok, out, err) = cp()
        .kubectl(&[
            "label",
            "namespace",
            &ns,
            "pod-security.kubernetes.io/enforce=restricted",
        ])
        .unwrap();
    assert!(ok, "{out}{err}");
    apply(&[workload("Deployment", &ns, "web", 2, "default", &["app"])]).await;
    // The Deployment controller copies the ReplicaSet's failure into its own condition.
    let admin = cp().admin().await.unwrap();
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> = Api::namespaced(admin, &ns);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let d = deployments.get("web").await.unwrap();
        let failed = d.status.and_then(|s| s.conditions).is_some_and(|cs| {
            cs.iter()
                .any(|c| c.type_.as_deref() == Some("ReplicaFailure"))
        });
        if failed {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no ReplicaFailure condition within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let report = explain("deploy/web", &ns, 1);
    assert!(report.contains(": no pods read"), "{report}");
    assert_eq!(
        report.matches("error[admission-denied]").count(),
        1,
        "one failure, however many pods were tried:\n{report}"
    );
    assert!(
        report.contains("error[admission-denied]: Pod Security admission (`restricted:latest`) denied `create` of `pods`\n"),
        "{report}"
    );
    assert!(report.contains("(FailedCreate)"), "{report}");
    assert!(
        report.contains("the `ReplicaFailure` condition of `deployment/web`"),
        "{report}"
    );
}

/// A workload that does not exist is a usage error naming it; a server that cannot be reached explains itself.
#[test]
fn a_missing_workload_or_an_unreachable_server_exits_2() {
    let out = kubewhy(
        cp().kubeconfig(),
        &["explain", "deploy/nope", "-n", "default"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("deployment/nope was not found in namespace `default`"),
        "{}",
        text(&out.stderr)
    );
    let kubeconfig = kubewhy_testenv::scratch_path("unreachable-workload.kubeconfig");
    let mut config = cp().kubeconfig_for(&cp().admin_identity(), None);
    config.clusters[0].cluster.as_mut().unwrap().server = Some("https://127.0.0.1:1".into());
    std::fs::write(&kubeconfig, serde_json::to_string(&config).unwrap()).unwrap();
    let out = kubewhy(&kubeconfig, &["explain", "deploy/web", "-n", "default"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("error[connection]"),
        "{}",
        text(&out.stderr)
    );
}
