//! `kubewhy explain` as a user runs it: the built binary on files and standard input — exit codes, text and
//! JSON output, folding of repeats, `--fix` applied with kubectl to the real API server, `--live`, and input
//! that is not a log at all (binary, invalid UTF-8, empty, a 100 MB line).

use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams};

const KUBEWHY: &str = env!("CARGO_BIN_EXE_kubewhy");
const KUBECTL_WHY: &str = env!("CARGO_BIN_EXE_kubectl-api_why");

const DENIED_LIST: &str = r#"WARN kube_runtime::watcher: watch list error with 403: Api(Status { status: Some(Failure), code: 403, message: "configmaps is forbidden: User \"system:serviceaccount:NS:ctl\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"NS\"", metadata: None, reason: "Forbidden", details: None })"#;
const DENIED_WATCH: &str = r#"E0101 00:00:00.000000       1 reflector.go:166] "Failed to watch" err="configmaps is forbidden: User \"system:serviceaccount:NS:ctl\" cannot watch resource \"configmaps\" in API group \"\" in the namespace \"NS\"" type="*v1.ConfigMap""#;
const NOT_FOUND: &str = r#"Error from server (NotFound): namespaces "staging" not found"#;

/// Runs a binary with `args` and `stdin`, returning its output.
fn run(bin: &str, args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(bin)
        .args(args)
        .envs(env.iter().copied())
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting kubewhy");
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    // Write from a thread so a large input cannot deadlock against a full stdout pipe.
    let writer = std::thread::spawn(move || {
        // The child may stop reading early (e.g. on a usage error): a broken pipe here is expected.
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().expect("waiting for kubewhy");
    writer.join().unwrap();
    out
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

fn log(ns: &str, lines: &[&str]) -> String {
    let mut s = String::new();
    for l in lines {
        s.push_str(&l.replace("NS", ns));
        s.push('\n');
    }
    s
}

#[test]
fn nothing_found_exits_0_and_findings_exit_1() {
    let out = run(
        KUBEWHY,
        &["explain"],
        b"INFO all good\nDEBUG requesting\n",
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("no Kubernetes API failures found in <stdin>"));

    let out = run(
        KUBEWHY,
        &["explain"],
        log("app", &[NOT_FOUND]).as_bytes(),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("error[object-not-found]: namespace `staging` does not exist\n"),
        "{stdout}"
    );
    assert!(stdout.contains(" --> <stdin>:1\n"), "{stdout}");
    assert!(
        !stdout.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
}

#[test]
fn usage_and_input_errors_exit_2() {
    let out = run(KUBEWHY, &["explain", "--no-such-flag"], b"", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--no-such-flag"),
        "{}",
        text(&out.stderr)
    );

    let out = run(KUBEWHY, &["explain", "/nonexistent/kubewhy.log"], b"", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("cannot read /nonexistent/kubewhy.log"),
        "{}",
        text(&out.stderr)
    );

    let out = run(KUBEWHY, &["explain", "/tmp"], b"", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("directory"),
        "{}",
        text(&out.stderr)
    );

    // A readable file beside an unreadable one is still explained.
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.log");
    std::fs::write(&good, log("x", &[NOT_FOUND])).unwrap();
    let out = run(
        KUBEWHY,
        &["explain", good.to_str().unwrap(), "/nonexistent/x.log"],
        b"",
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stdout).contains("error[object-not-found]"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn json_output_has_one_object_per_distinct_failure_with_counts() {
    let input = log(
        "ns1",
        &[
            DENIED_LIST,
            "noise",
            DENIED_LIST,
            DENIED_WATCH,
            DENIED_LIST,
            NOT_FOUND,
        ],
    );
    let out = run(
        KUBEWHY,
        &["explain", "--output", "json"],
        input.as_bytes(),
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    let items = v.as_array().expect("an array");
    assert_eq!(items.len(), 3, "{v:#}");
    let list = &items[0];
    assert_eq!(list["class"], "forbidden");
    assert_eq!(
        (
            list["count"].as_u64(),
            list["first_line"].as_u64(),
            list["last_line"].as_u64()
        ),
        (Some(3), Some(1), Some(5))
    );
    assert_eq!(list["verb"], "list");
    assert_eq!(list["resource"], "configmaps");
    assert_eq!(list["group"], "");
    assert_eq!(list["namespace"], "ns1");
    assert_eq!(list["user"], "system:serviceaccount:ns1:ctl");
    assert_eq!(list["code"], 403);
    assert!(list["name"].is_null() && list["path"].is_null() && list["subresource"].is_null());
    assert!(list["summary"].as_str().unwrap().contains("cannot `list`"));
    assert!(list["remedy"]["text"].is_string());
    assert!(
        list["remedy"]["yaml"]
            .as_str()
            .unwrap()
            .contains("kind: RoleBinding")
    );
    for key in [
        "reason", "groups", "version", "kind", "message", "cause", "file",
    ] {
        assert!(list.get(key).is_some(), "missing {key}");
    }
    assert_eq!(items[1]["verb"], "watch");
    assert_eq!(items[2]["class"], "object-not-found");
    assert!(
        items[2]["remedy"].get("yaml").is_none(),
        "no yaml when there is nothing to apply"
    );
}

/// A reflector's watch of `KIND` at `PATH` refused by the one API server.
const REFUSED: &str = r#"E0922 01:30:03.632236       7 reflector.go:138] k8s.io/client-go@v0.23.6/tools/cache/reflector.go:167: Failed to watch *v1.KIND: Get "https://10.43.0.1:443PATH?allowWatchBookmarks=true&resourceVersion=8143&watch=true": dial tcp 10.43.0.1:443: connect: connection refused"#;

fn refused(kind: &str, path: &str) -> String {
    REFUSED.replace("KIND", kind).replace("PATH", path)
}

#[test]
fn one_refused_server_is_one_finding_listing_the_requests_it_hit() {
    // Issue 19 item 3: three reflectors against one refused server are one cause, not three.
    let input = [
        refused("Service", "/api/v1/services"),
        refused("Ingress", "/apis/networking.k8s.io/v1/ingresses"),
        "INFO noise".to_string(),
        refused("ConfigMap", "/api/v1/configmaps"),
        refused("Service", "/api/v1/services"),
    ]
    .join("\n");
    let out = run(KUBEWHY, &["explain"], input.as_bytes(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(report.contains("1 distinct problem found"), "{report}");
    assert!(
        report.contains("error[connection]: could not connect to `https://10.43.0.1:443`"),
        "{report}"
    );
    assert!(
        report.contains("(seen 4 times, last at line 5)"),
        "{report}"
    );
    assert!(
        report.contains("= note: the same cause failed 3 requests:"),
        "{report}"
    );
    for listed in [
        "watch services (2 times, lines 1–5)",
        "watch ingresses.networking.k8s.io (line 2)",
        "watch configmaps (line 4)",
    ] {
        assert!(report.contains(listed), "{listed:?} not in {report}");
    }

    let out = run(KUBEWHY, &["explain", "-o", "json"], input.as_bytes(), &[]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    let items = v.as_array().expect("an array");
    assert_eq!(items.len(), 1, "{v:#}");
    let f = &items[0];
    assert_eq!(
        (f["class"].as_str(), f["count"].as_u64()),
        (Some("connection"), Some(4))
    );
    // The finding's own request is what the three share; each request is in `requests`.
    assert!(f["resource"].is_null(), "{f:#}");
    assert_eq!(f["url"], "https://10.43.0.1:443");
    let requests: Vec<_> = f["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|r| {
            (
                r["resource"].as_str().unwrap_or_default().to_string(),
                r["verb"].as_str().unwrap_or_default().to_string(),
                r["count"].as_u64(),
                r["first_line"].as_u64(),
                r["last_line"].as_u64(),
            )
        })
        .collect();
    let expected = [
        ("services", 2, 1, 5),
        ("ingresses", 1, 2, 2),
        ("configmaps", 1, 4, 4),
    ];
    assert_eq!(requests.len(), expected.len(), "{f:#}");
    for (got, (resource, count, first, last)) in requests.iter().zip(expected) {
        assert_eq!(
            got,
            &(
                resource.to_string(),
                "watch".to_string(),
                Some(count),
                Some(first),
                Some(last)
            )
        );
    }
}

#[test]
fn one_rejected_credential_is_one_finding_whatever_it_was_used_for() {
    // Issue 19 item 3: `Unauthorized` for three types is one bad token, not three problems; denials stay one per
    // missing permission.
    let line = |kind: &str| {
        format!(
            "E0105 14:31:49.596625       1 reflector.go:126] pkg/mod/k8s.io/client-go@v0.16.8/tools/cache/reflector.go:94: Failed to list *v1.{kind}: Unauthorized"
        )
    };
    let input = log(
        "ns1",
        &[
            &line("Pod"),
            &line("Deployment"),
            &line("Node"),
            DENIED_LIST,
            DENIED_WATCH,
        ],
    );
    let out = run(KUBEWHY, &["explain", "-o", "json"], input.as_bytes(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    let classes: Vec<(&str, u64, usize)> = v
        .as_array()
        .expect("an array")
        .iter()
        .map(|f| {
            (
                f["class"].as_str().unwrap_or_default(),
                f["count"].as_u64().unwrap_or_default(),
                f["requests"].as_array().map_or(0, Vec::len),
            )
        })
        .collect();
    assert_eq!(
        classes,
        vec![
            ("unauthorized", 3, 3),
            ("forbidden", 1, 1),
            ("forbidden", 1, 1)
        ],
        "{v:#}"
    );
}

#[test]
fn garbage_input_never_panics() {
    // Binary, invalid UTF-8 around a real failure, and an empty input.
    let mut input: Vec<u8> = (0..=255u8).cycle().take(64 * 1024).collect();
    input.extend_from_slice(b"\n\xff\xfe ");
    input.extend_from_slice(NOT_FOUND.as_bytes());
    input.extend_from_slice(b" \xc3\x28\n");
    let out = run(KUBEWHY, &["explain", "-o", "json"], &input, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .any(|f| f["class"] == "object-not-found"),
        "{v:#}"
    );

    let out = run(KUBEWHY, &["explain"], b"", &[]);
    assert_eq!(out.status.code(), Some(0));

    // A 100 MB line with a failure near its end, then a normal line with the same failure: found in both, one
    // occurrence (two framings of one failure a line apart are two layers' reports of it).
    let mut long = vec![b'a'; 100 << 20];
    let tail = format!(" {NOT_FOUND} ");
    let at = long.len() - tail.len() - 10;
    long[at..at + tail.len()].copy_from_slice(tail.as_bytes());
    long.extend_from_slice(b"\n");
    long.extend_from_slice(NOT_FOUND.as_bytes());
    long.extend_from_slice(b"\n");
    let out = run(KUBEWHY, &["explain", "-o", "json"], &long, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = &v.as_array().unwrap()[0];
    assert_eq!(
        (
            f["count"].as_u64(),
            f["first_line"].as_u64(),
            f["last_line"].as_u64()
        ),
        (Some(1), Some(1), Some(2)),
        "{v:#}"
    );
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    // Many distinct findings, so the report is larger than a pipe buffer; the reader stops after a few bytes.
    let mut input = String::new();
    for i in 0..3000 {
        input.push_str(&format!(
            "Error from server (NotFound): configmaps \"c{i}\" not found\n"
        ));
    }
    let mut child = Command::new(KUBEWHY)
        .args(["explain"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let mut first = [0u8; 16];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "EPIPE should exit 0");
}

#[test]
fn kubectl_why_is_the_same_cli() {
    let out = run(
        KUBECTL_WHY,
        &["explain"],
        log("x", &[NOT_FOUND]).as_bytes(),
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("error[object-not-found]"));
    let out = run(KUBECTL_WHY, &["--help"], b"", &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("kubectl api-why"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn color_is_used_only_when_asked_or_on_a_terminal() {
    let input = log("x", &[NOT_FOUND]);
    let out = run(
        KUBEWHY,
        &["explain", "--color", "always"],
        input.as_bytes(),
        &[],
    );
    assert!(
        text(&out.stdout).contains("\x1b[1;31merror[object-not-found]"),
        "{}",
        text(&out.stdout)
    );
    let out = run(
        KUBEWHY,
        &["explain", "--color", "auto"],
        input.as_bytes(),
        &[],
    );
    assert!(!text(&out.stdout).contains('\x1b'));
}

/// The whole loop: a controller's log with real denials → `kubewhy explain --fix` → `kubectl apply -f -` as
/// admin → the service account's requests succeed. Both denials of the subject land in one Role.
#[tokio::test]
async fn fix_merges_a_subjects_denials_into_one_role_that_kubectl_applies() {
    let env = kubewhy_testenv::shared();
    let ns = env.namespace("cli-fix").await.unwrap();
    let sa = env.service_account(&ns, "ctl").await.unwrap();
    let cms: Api<ConfigMap> = Api::namespaced(sa.client.clone(), &ns);
    // Real errors, logged as kube-rs and client-go would log them.
    let list_err = cms.list(&ListParams::default()).await.unwrap_err();
    let get_err = cms.get("settings").await.unwrap_err();
    let input = format!(
        "INFO starting\nWARN kube_runtime::watcher: watch list error with 403: {list_err:?}\n{}\nERROR reconcile failed: {get_err}\n",
        log(&ns, &[DENIED_WATCH]).trim_end()
    );
    let out = run(KUBEWHY, &["explain", "--fix"], input.as_bytes(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let yaml = text(&out.stdout);
    assert_eq!(
        yaml.lines().filter(|l| *l == "kind: Role").count(),
        1,
        "one role for the subject:\n{yaml}"
    );
    assert!(yaml.contains("name: kubewhy-ctl\n"), "{yaml}");
    for verb in ["get", "list", "watch"] {
        assert!(
            yaml.contains(&format!("  - {verb}\n")),
            "{verb} missing:\n{yaml}"
        );
    }
    let (ok, _, err) = env
        .kubectl_with(env.kubeconfig(), &["apply", "-f", "-"], Some(&yaml))
        .unwrap();
    assert!(ok, "kubectl apply: {err}\n{yaml}");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let listed = cms.list(&ListParams::default()).await;
        let got = cms.get_opt("settings").await;
        if listed.is_ok() && got.is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still denied after --fix was applied: {listed:?} {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `--live` asks the cluster of the current kubeconfig; without one it says what it could not confirm.
#[tokio::test]
async fn live_confirms_against_the_cluster_and_says_what_it_could_not() {
    let env = kubewhy_testenv::shared();
    let ns = env.namespace("cli-live").await.unwrap();
    let input = log(
        &ns,
        &[
            DENIED_LIST,
            r#"failed to list kube.rs/v1, Kind=Document: the server could not find the requested resource (get documnets.kube.rs)"#,
        ],
    );
    let kubeconfig = env.kubeconfig().to_str().unwrap().to_string();
    let out = run(
        KUBEWHY,
        &["explain", "--live", "-o", "json"],
        input.as_bytes(),
        &[("KUBECONFIG", &kubeconfig)],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let notes = |i: usize| {
        v[i]["notes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert!(
        notes(0)
            .iter()
            .any(|n| n.contains("live: confirmed — a SubjectAccessReview")),
        "{:#?}",
        notes(0)
    );
    assert!(
        notes(1).iter().any(|n| n.starts_with("live:")),
        "{:#?}",
        notes(1)
    );

    let out = run(
        KUBEWHY,
        &["explain", "--live"],
        input.as_bytes(),
        &[("KUBECONFIG", "/nonexistent/kubeconfig")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("nothing was confirmed"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("not confirmed without a cluster"),
        "{}",
        text(&out.stdout)
    );
}

/// The README's example of kubewhy's own WARN line (a program that adopted the library logs it).
const KUBEWHY_LINE: &str = r#"2026-11-25T09:03:44.268175Z  WARN watcher documents.kube.rs failing: error[forbidden]: service account `doc-controller/doc-controller` cannot `watch` `documents.kube.rs` at cluster scope; cause: denied by authorization: no Role or ClusterRole bound to the subject grants this verb on this resource here; help: grant exactly this verb with a ClusterRole and ClusterRoleBinding bound to the service account (apply with `kubectl apply -f -`); failing for 0s, retrying in 0.4s watcher=documents.kube.rs class=forbidden code=403 verb="watch" resource="documents" namespace="" user="system:serviceaccount:doc-controller:doc-controller" url="/apis/kube.rs/v1/documents?&watch=true&timeoutSeconds=5&allowWatchBookmarks=true&resourceVersion=244" repeated=0"#;

/// kubewhy reads its own output: the structured fields of a watcher line are evidence, and `--fix` recovers the
/// RBAC from them — in tracing's text format and in its JSON format.
#[test]
fn kubewhy_s_own_watcher_lines_are_explained_and_fixed() {
    let json_line = r#"{"timestamp":"2026-11-25T09:03:44Z","level":"WARN","fields":{"message":"watcher configmaps failing: error[forbidden]: x","watcher":"configmaps","class":"forbidden","code":403,"verb":"list","resource":"configmaps","namespace":"ns1","user":"system:serviceaccount:ns1:ctl","url":"/api/v1/namespaces/ns1/configmaps?limit=500","repeated":0},"target":"kubewhy::watch"}"#;
    let input = format!("{KUBEWHY_LINE}\n{json_line}\n");
    let out = run(KUBEWHY, &["explain"], input.as_bytes(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with(
            "error[forbidden]: service account `doc-controller/doc-controller` cannot `watch` \
             `documents.kube.rs` at cluster scope\n --> <stdin>:1\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "error[forbidden]: service account `ns1/ctl` cannot `list` `configmaps` in namespace `ns1`\n --> <stdin>:2\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 distinct problems found in <stdin>"),
        "{stdout}"
    );

    let out = run(KUBEWHY, &["explain", "--fix"], input.as_bytes(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let yaml = text(&out.stdout);
    for expected in [
        "kind: ClusterRole\n",
        "  - kube.rs\n",
        "  - documents\n",
        "  - watch\n",
        "  name: doc-controller\n  namespace: doc-controller\n",
        "kind: Role\n",
        "  namespace: ns1\n",
        "  - configmaps\n",
        "  - list\n",
    ] {
        assert!(yaml.contains(expected), "{expected:?} missing:\n{yaml}");
    }
}
