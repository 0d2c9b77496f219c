//! `kubewhy check` as a user runs it, against the real API server: the RBAC shipped in `deploy/` passes
//! doc-controller's declared needs, and removing any single rule from it makes the check name exactly that rule's
//! verbs and resources; a ServiceAccount with nothing gets every need reported and applying the `--fix` output
//! makes the next check pass; the shipped RBAC grants nothing beyond the needs (SelfSubjectRulesReview); exit
//! codes, usage errors, and the JSON and JUnit forms.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use k8s_openapi::api::authorization::v1::{SelfSubjectRulesReview, SelfSubjectRulesReviewSpec};
use kube::api::{Api, PostParams};
use kubewhy::rbac::Target;
use serde_json::Value;

use crate::common::{apply, deploy_dir, env, kubewhy};

fn code(out: &Output) -> i32 {
    out.status.code().expect("kubewhy exited by a signal")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn write(name: &str, text: &str) -> PathBuf {
    let path = kubewhy_testenv::scratch_path(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `kubewhy check -o json` with these arguments, parsed, with its exit code.
fn check_json(args: &[&str]) -> (i32, Value) {
    let mut all = vec!["check", "-o", "json"];
    all.extend_from_slice(args);
    let out = kubewhy(&all);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(&out), stderr(&out)));
    (code(&out), report)
}

/// Runs `check_json` until `done` holds (RBAC and CRDs reach the API server's caches within moments), failing
/// after 20 s; returns the last answer.
fn check_until(what: &str, args: &[&str], done: impl Fn(i32, &Value) -> bool) -> (i32, Value) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, report) = check_json(args);
        if done(code, &report) {
            return (code, report);
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; last report:\n{}",
            serde_json::to_string_pretty(&report).unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// (verb, group, resource) of each failed check; a failure that is not an access check is named as such.
fn failed(report: &Value) -> BTreeSet<(String, String, String)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] == "fail")
        .map(|c| {
            if c["kind"] != "access" {
                return (
                    "not an access check".into(),
                    c["kind"].to_string(),
                    c["name"].to_string(),
                );
            }
            let d = &c["diagnosis"];
            let resource = match d["subresource"].as_str() {
                Some(sub) => format!("{}/{sub}", d["resource"].as_str().unwrap()),
                None => d["resource"].as_str().unwrap().to_string(),
            };
            (
                d["verb"].as_str().unwrap().to_string(),
                d["group"].as_str().unwrap().to_string(),
                resource,
            )
        })
        .collect()
}

fn rule_permissions(rule: &Value) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for g in rule["apiGroups"].as_array().unwrap() {
        for r in rule["resources"].as_array().unwrap() {
            for v in rule["verbs"].as_array().unwrap() {
                out.insert((
                    v.as_str().unwrap().to_string(),
                    g.as_str().unwrap().to_string(),
                    r.as_str().unwrap().to_string(),
                ));
            }
        }
    }
    out
}

/// Every (verb, group, resource) the rules of `client` allow in `namespace`, per SelfSubjectRulesReview.
async fn rules(client: kube::Client, namespace: &str) -> BTreeSet<(String, String, String)> {
    let review = SelfSubjectRulesReview {
        spec: SelfSubjectRulesReviewSpec {
            namespace: Some(namespace.into()),
        },
        ..SelfSubjectRulesReview::default()
    };
    let status = Api::<SelfSubjectRulesReview>::all(client)
        .create(&PostParams::default(), &review)
        .await
        .unwrap()
        .status
        .unwrap();
    assert!(!status.incomplete, "{status:?}");
    let mut out = BTreeSet::new();
    for rule in status.resource_rules {
        assert!(rule.resource_names.unwrap_or_default().is_empty());
        for g in rule.api_groups.unwrap_or_default() {
            for r in rule.resources.clone().unwrap_or_default() {
                for v in &rule.verbs {
                    out.insert((v.clone(), g.clone(), r.clone()));
                }
            }
        }
    }
    out
}

fn to_yaml(docs: &[Value]) -> String {
    docs.iter()
        .map(|d| serde_yaml::to_string(d).unwrap())
        .collect::<Vec<_>>()
        .join("---\n")
}

#[test]
fn deploy_rbac_passes_and_removing_any_single_rule_names_exactly_that_rule() {
    // doc-controller as shipped: its CRD, Namespace, ServiceAccount and generated RBAC from deploy/.
    for file in ["crd.yaml", "serviceaccount.yaml", "rbac.yaml"] {
        apply(&std::fs::read_to_string(deploy_dir().join(file)).unwrap());
    }
    let rbac_text = std::fs::read_to_string(deploy_dir().join("rbac.yaml")).unwrap();
    let docs: Vec<Value> = serde_yaml::Deserializer::from_str(&rbac_text)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (ns, name) = (
        doc_controller::needs::DEPLOY_NAMESPACE,
        doc_controller::needs::NAME,
    );
    let sa = runtime.block_on(env().service_account(ns, name)).unwrap();
    let kubeconfig = kubewhy_testenv::scratch_path("doc-controller.kubeconfig");
    env()
        .write_kubeconfig(&sa.identity, None, &kubeconfig)
        .unwrap();
    let needs = write(
        "doc-controller-needs.yaml",
        &doc_controller::needs::needs().to_yaml().unwrap(),
    );
    let args = [
        "--needs",
        needs.to_str().unwrap(),
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ];

    let (_, report) = check_until("deploy/ RBAC to pass", &args, |code, _| code == 0);
    assert_eq!(report["summary"]["failed"], 0);
    assert_eq!(report["subject"]["user"], sa.identity.user);
    let probes = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "probe")
        .count();
    assert_eq!(probes, 2, "Documents and ConfigMaps are watched and probed");

    // The shipped RBAC grants nothing beyond the declared needs: what SelfSubjectRulesReview lists for the
    // ServiceAccount, minus what a ServiceAccount without bindings gets, is exactly the needs, per namespace.
    let bare = runtime
        .block_on(env().service_account(ns, "no-bindings"))
        .unwrap();
    let perms = doc_controller::needs::needs().permissions();
    for namespace in [ns, "default"] {
        let granted: BTreeSet<_> = runtime
            .block_on(rules(sa.client.clone(), namespace))
            .difference(&runtime.block_on(rules(bare.client.clone(), namespace)))
            .cloned()
            .collect();
        let expected: BTreeSet<(String, String, String)> = perms
            .iter()
            .filter(|p| p.namespace.is_none() || p.namespace.as_deref() == Some(namespace))
            .map(|p| match &p.target {
                Target::Resource {
                    group, resource, ..
                } => (p.verb.to_string(), group.clone(), resource.clone()),
                Target::NonResource { path } => panic!("no non-resource needs: {path}"),
            })
            .collect();
        assert_eq!(granted, expected, "in namespace {namespace}");
    }

    // Remove each rule in turn (the previous one comes back with the same apply).
    let mut removed = 0;
    for (d, doc) in docs.iter().enumerate() {
        let Some(rules) = doc["rules"].as_array() else {
            continue;
        };
        for (i, rule) in rules.iter().enumerate() {
            let mut modified = docs.clone();
            modified[d]["rules"].as_array_mut().unwrap().remove(i);
            apply(&to_yaml(&modified));
            let expected = rule_permissions(rule);
            let (code, report) = check_until(
                &format!("rule {i} of {} to be missing", doc["kind"]),
                &args,
                |_, r| failed(r) == expected,
            );
            assert_eq!(code, 1);
            // Nothing else: the fix grants exactly the removed rule, and only probes that need it are skipped.
            let fixed: BTreeSet<(String, String, String)> = report["fix"]["permissions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    let t = &p["target"]["resource"];
                    (
                        p["verb"].as_str().unwrap().to_string(),
                        t["group"].as_str().unwrap().to_string(),
                        t["resource"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            assert_eq!(fixed, expected);
            for c in report["checks"].as_array().unwrap() {
                if c["outcome"] == "skipped" {
                    assert_eq!(c["kind"], "probe", "{c}");
                }
            }
            removed += 1;
        }
    }
    assert_eq!(
        removed, 6,
        "the shipped RBAC has five ClusterRole rules and one Role rule"
    );

    apply(&rbac_text);
    check_until("deploy/ RBAC restored", &args, |code, _| code == 0);
}

#[test]
fn a_service_account_with_nothing_gets_every_need_and_applying_the_fix_output_passes() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ns = runtime.block_on(env().namespace("cli-fix")).unwrap();
    let sa = runtime.block_on(env().service_account(&ns, "app")).unwrap();
    let kubeconfig = kubewhy_testenv::scratch_path(&format!("{ns}.kubeconfig"));
    env()
        .write_kubeconfig(&sa.identity, None, &kubeconfig)
        .unwrap();
    let needs = write(
        &format!("{ns}-needs.yaml"),
        &format!(
            "name: app\nneeds:\n  - {{version: v1, resource: configmaps, kind: ConfigMap, verbs: [create, delete], \
             watch: true, namespace: {ns}}}\n  - {{group: coordination.k8s.io, version: v1, resource: leases, kind: \
             Lease, verbs: [get, update], namespace: {ns}}}\n"
        ),
    );
    let needs = needs.to_str().unwrap();

    // Text report on standard output, every need missing, exit 1.
    let out = kubewhy(&[
        "check",
        "--needs",
        needs,
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ]);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{text}{}", stderr(&out));
    assert!(
        text.contains(&format!(
            "error[forbidden]: service account `{ns}/app` cannot `list`, `watch`, `create` and `delete` \
             `configmaps` in namespace `{ns}`"
        )),
        "{text}"
    );
    assert!(
        text.contains("error: 6 of 11 checks failed for `app` (4 passed, 1 skipped)"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "= help: `kubewhy check --needs {needs} --kubeconfig {} --fix | kubectl apply -f -` grants the 6 \
             missing permission(s)",
            kubeconfig.display()
        )),
        "{text}"
    );

    // The same check as the admin `--as` the ServiceAccount, with `--fix`: the fix on standard output, the
    // report on standard error.
    let user = sa.identity.user.clone();
    let admin = env().kubeconfig().to_str().unwrap().to_string();
    let out = kubewhy(&[
        "check",
        "--needs",
        needs,
        "--kubeconfig",
        &admin,
        "--as",
        &user,
        "--fix",
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let fix = stdout(&out);
    assert!(fix.starts_with("# grants ServiceAccount "), "{fix}");
    assert!(
        fix.contains("kind: Role\n") && fix.contains("kind: RoleBinding\n"),
        "{fix}"
    );
    assert!(
        stderr(&out).contains("error: 6 of 12 checks failed"),
        "{}",
        stderr(&out)
    );
    let (ok, _, err) = env()
        .kubectl_with(env().kubeconfig(), &["apply", "-f", "-"], Some(&fix))
        .unwrap();
    assert!(ok, "{err}");

    let (_, report) = check_until(
        "the fix to take effect",
        &[
            "--needs",
            needs,
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
        ],
        |code, _| code == 0,
    );
    assert_eq!(report["summary"]["skipped"], 0);
    let out = kubewhy(&[
        "check",
        "--needs",
        needs,
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0);
    assert!(
        stdout(&out).contains("ok: all 11 checks passed for `app`"),
        "{}",
        stdout(&out)
    );
    // Passes are counted per kind; `--verbose` lists each, with the binding that grants it.
    assert!(
        stdout(&out).contains("\n  pass  access  6 of 6 permissions allowed\n"),
        "{}",
        stdout(&out)
    );
    let out = kubewhy(&[
        "check",
        "--needs",
        needs,
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--verbose",
    ]);
    let verbose = stdout(&out);
    assert!(
        verbose.contains(&format!(
            "  pass  access  `delete` `configmaps` in namespace `{ns}`: allowed (RBAC: allowed by RoleBinding"
        )),
        "{verbose}"
    );
    // Nothing left to fix.
    let out = kubewhy(&[
        "check",
        "--needs",
        needs,
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--fix",
    ]);
    assert_eq!(
        (code(&out), stdout(&out).as_str()),
        (0, "# kubewhy: nothing to apply\n")
    );
}

#[test]
fn usage_and_connection_errors_exit_2_and_say_what_to_do() {
    let needs = write(
        "usage-needs.yaml",
        "name: x\nneeds:\n  - {version: v1, resource: confgmaps, kind: ConfigMap, verbs: [get], namespace: default}\n",
    );
    let needs = needs.to_str().unwrap();
    let admin = env().kubeconfig().to_str().unwrap().to_string();

    let out = kubewhy(&[
        "check",
        "--needs",
        "/nonexistent/needs.yaml",
        "--kubeconfig",
        &admin,
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).starts_with(
            "error: reading the needs file `/nonexistent/needs.yaml` failed\n\nCaused by:\n"
        ),
        "{}",
        stderr(&out)
    );

    let bad = write(
        "bad-needs.yaml",
        "name: x\nneeds:\n  - {version: v1, resource: pods, kind: Pod, verbs: [fly]}\n",
    );
    let out = kubewhy(&[
        "check",
        "--needs",
        bad.to_str().unwrap(),
        "--kubeconfig",
        &admin,
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains(r#""fly" is not a Kubernetes verb (expected one of get,"#)
            && stderr(&out).contains("= help: see the format in `kubewhy check --help`"),
        "{}",
        stderr(&out)
    );

    let out = kubewhy(&[
        "check",
        "--needs",
        needs,
        "--kubeconfig",
        "/nonexistent/kubeconfig",
    ]);
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("reading the kubeconfig `/nonexistent/kubeconfig` failed"),
        "{}",
        stderr(&out)
    );

    // A server that refuses connections: the report says so, exit 2.
    let admin_text = std::fs::read_to_string(env().kubeconfig()).unwrap();
    let unreachable = write(
        "unreachable.kubeconfig",
        &admin_text.replace(env().server(), "https://127.0.0.1:1"),
    );
    let out = kubewhy(&[
        "check",
        "--needs",
        needs,
        "--kubeconfig",
        unreachable.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 2, "{}", stdout(&out));
    assert!(
        stdout(&out).contains("error[connection]"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("error: the checks could not run"),
        "{}",
        stdout(&out)
    );
    // One line for every check that could not run, not one per check.
    let report = stdout(&out);
    let skips: Vec<&str> = report.lines().filter(|l| l.starts_with("  skip")).collect();
    assert_eq!(skips.len(), 1, "{report}");
    assert!(
        skips[0].contains("checks: the API server could not be used"),
        "{report}"
    );

    // A misspelled resource: the nearest name, in the report and as a correction in the fix.
    let out = kubewhy(&["check", "--needs", needs, "--kubeconfig", &admin]);
    assert_eq!(code(&out), 1);
    assert!(
        stdout(&out).contains(
            "= note: there is a resource with a similar name: `configmaps` (v1, kind `ConfigMap`, namespaced)"
        ),
        "{}",
        stdout(&out)
    );
    let out = kubewhy(&["check", "--needs", needs, "--kubeconfig", &admin, "--fix"]);
    assert_eq!(
        stdout(&out),
        "# correct the needs file, then check again:\n#   in the needs file, write `resource: configmaps` for need #1\n"
    );

    // JUnit for CI.
    let out = kubewhy(&[
        "check",
        "--needs",
        needs,
        "--kubeconfig",
        &admin,
        "-o",
        "junit",
    ]);
    assert_eq!(code(&out), 1);
    let xml = stdout(&out);
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains(r#"<failure message="`confgmaps` (v1) is not served by the API server" type="resource-not-found">"#), "{xml}");
}
