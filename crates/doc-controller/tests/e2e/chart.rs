//! The Helm chart in `charts/doc-controller/`: its generated files are current, `helm lint` and `helm template`
//! accept it (and it refuses what it cannot do), and `helm install` into a real control plane creates objects the API
//! server accepts, whose RBAC passes `doc-controller doctor` as the chart's ServiceAccount. `helm` is built from the Go
//! module proxy once and cached (`kubewhy_testenv::tools::HELM`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kubewhy_testenv::{ControlPlane, Options, tools};
use serde::Deserialize;

fn chart_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../charts/doc-controller")
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// `helm` with its caches and configuration in `home` (nothing written to the user's home).
fn helm(home: &Path, args: &[&str]) -> Output {
    let bin = tools::HELM.ensure_built().expect("building helm");
    Command::new(bin)
        .args(args)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .output()
        .expect("running helm")
}

fn helm_ok(home: &Path, args: &[&str]) -> String {
    let out = helm(home, args);
    assert!(out.status.success(), "helm {args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `(kind, namespace, name)` of every object in a rendered manifest.
fn objects(manifest: &str) -> Vec<(String, String, String)> {
    #[derive(Deserialize)]
    struct Meta {
        name: String,
        namespace: Option<String>,
    }
    #[derive(Deserialize)]
    struct Object {
        kind: String,
        metadata: Meta,
    }
    serde_yaml::Deserializer::from_str(manifest)
        .filter_map(|doc| match serde_yaml::Value::deserialize(doc) {
            Ok(serde_yaml::Value::Null) => None,
            Ok(value) => Some(value),
            Err(e) => panic!("helm rendered invalid YAML: {e}\n{manifest}"),
        })
        .map(|value| {
            let o: Object = serde_yaml::from_value(value)
                .unwrap_or_else(|e| panic!("an object without kind or name: {e}\n{manifest}"));
            (
                o.kind,
                o.metadata.namespace.unwrap_or_default(),
                o.metadata.name,
            )
        })
        .collect()
}

fn kinds(objects: &[(String, String, String)]) -> Vec<&str> {
    objects.iter().map(|(k, _, _)| k.as_str()).collect()
}

#[test]
fn the_generated_files_of_the_chart_are_current() {
    let files = doc_controller::chart::generated().expect("generating the chart's files");
    let stale = doc_controller::deploy::stale_files(&chart_dir(), files);
    assert!(
        stale.is_empty(),
        "stale generated files: {stale:?}\n  = help: run `cargo run -p doc-controller -- gen-deploy` and commit the result"
    );
}

/// `helm template r1 <chart> --namespace ns1 [--set <set>]`.
fn render(home: &Path, chart: &str, set: Option<&str>) -> String {
    let mut args = vec!["template", "r1", chart, "--namespace", "ns1"];
    if let Some(set) = set {
        args.extend(["--set", set]);
    }
    helm_ok(home, &args)
}

#[test]
fn helm_lints_and_renders_the_chart_and_refuses_what_it_cannot_do() {
    let home = tempfile::tempdir().unwrap();
    let chart = chart_dir();
    let chart = chart.to_str().unwrap();
    let lint = helm_ok(home.path(), &["lint", "--strict", chart]);
    assert!(lint.contains("0 chart(s) failed"), "{lint}");

    // The defaults: cluster-wide, leader election, like deploy/.
    let out = render(home.path(), chart, None);
    let all = objects(&out);
    assert_eq!(
        kinds(&all),
        [
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "Deployment"
        ],
        "{out}"
    );
    assert!(
        all.iter()
            .all(|(k, ns, _)| k.starts_with("Cluster") || ns == "ns1"),
        "{all:?}"
    );
    assert!(
        all.contains(&(
            "Role".into(),
            "ns1".into(),
            "r1-doc-controller-leader-election".into()
        )),
        "{all:?}"
    );
    assert!(
        out.contains("- --leader-elect") && out.contains("replicas: 2"),
        "{out}"
    );
    assert!(
        !out.contains("RUST_LOG"),
        "the default log filter is doc-controller's own: {out}"
    );
    assert!(
        out.contains("image: \"ghcr.io/kubewhy/doc-controller:0.1.0\""),
        "{out}"
    );

    // One namespace, one replica without election: a Role there, no Lease grants, no --leader-elect.
    let out = render(
        home.path(),
        chart,
        Some("watchNamespace=w1,leaderElection.enabled=false,replicaCount=1,log.filter=debug"),
    );
    let one = objects(&out);
    assert_eq!(
        kinds(&one),
        ["ServiceAccount", "Role", "RoleBinding", "Deployment"],
        "{out}"
    );
    assert_eq!(one[1].1, "w1");
    assert!(
        !out.contains("--leader-elect") && !out.contains("leases"),
        "{out}"
    );
    assert!(
        out.contains("value: \"w1\"") && out.contains("value: \"debug\""),
        "{out}"
    );

    // Sharing replicas: a StatefulSet and its headless Service, `--shards auto`, the ring's Leases listable.
    let out = render(
        home.path(),
        chart,
        Some("sharding.enabled=true,leaderElection.enabled=false,replicaCount=3"),
    );
    let sharded = objects(&out);
    assert_eq!(
        kinds(&sharded),
        [
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "Service",
            "StatefulSet"
        ],
        "{out}"
    );
    assert!(
        sharded.contains(&("Role".into(), "ns1".into(), "r1-doc-controller-ring".into())),
        "{sharded:?}"
    );
    assert!(
        out.contains("- --shards\n            - auto") && !out.contains("--leader-elect"),
        "{out}"
    );
    assert!(
        out.contains("replicas: 3") && out.contains("podManagementPolicy: Parallel"),
        "{out}"
    );

    // What the chart must not do fails with the reason.
    for (set, reason) in [
        (
            "sharding.enabled=true",
            "sharding.enabled and leaderElection.enabled are exclusive",
        ),
        (
            "sharding.enabled=true,leaderElection.enabled=false,sharding.filter=server",
            "sharding.filter must be `auto` or `client`",
        ),
        (
            "leaderElection.enabled=false",
            "replicaCount > 1 needs leaderElection.enabled",
        ),
        ("log.format=xml", "log.format must be `json` or `human`"),
    ] {
        let out = helm(home.path(), &["template", "r1", chart, "--set", set]);
        assert!(!out.status.success(), "--set {set} was accepted");
        assert!(text(&out).contains(reason), "--set {set}: {}", text(&out));
    }
}

/// Runs `doc-controller doctor` with the admin kubeconfig as a release's ServiceAccount; returns its output.
fn doctor(kubeconfig: &Path, namespace: &str, name: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_doc-controller"))
        .arg("doctor")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args([
            "--as-service-account",
            "--service-account-namespace",
            namespace,
        ])
        .args(["--service-account-name", name])
        .args(extra)
        .output()
        .expect("running doc-controller doctor")
}

/// `helm install <release> <chart>` into `namespace` (created when missing) with `--set <set>`; returns its output,
/// checking that the release is deployed.
fn install(
    home: &Path,
    chart: &str,
    kubeconfig: &str,
    release: &str,
    namespace: &str,
    set: Option<&str>,
) -> String {
    let mut args = vec![
        "install",
        release,
        chart,
        "--namespace",
        namespace,
        "--create-namespace",
        "--kubeconfig",
        kubeconfig,
    ];
    if let Some(set) = set {
        args.extend(["--set", set]);
    }
    let out = helm_ok(home, &args);
    assert!(out.contains("STATUS: deployed"), "{out}");
    out
}

#[tokio::test]
async fn helm_installs_the_chart_and_its_service_account_passes_doctor() {
    // A control plane of its own: the chart installs the CRD (Helm skips CRDs that already exist, and the other
    // tests install theirs).
    let cp = ControlPlane::start(Options::default()).expect("starting a control plane");
    let kubeconfig = cp.kubeconfig().to_str().unwrap().to_string();
    let home = tempfile::tempdir().unwrap();
    let chart = chart_dir();
    let chart = chart.to_str().unwrap();

    let out = install(home.path(), chart, &kubeconfig, "dc", "dc-system", None);
    assert!(
        out.contains("--service-account-name dc-doc-controller"),
        "NOTES: {out}"
    );
    // Every object is there, as the API server stored it.
    let admin = cp.admin().await.unwrap();
    kubewhy_testenv::crd::wait_established(
        &admin,
        "documents.kube.rs",
        std::time::Duration::from_secs(30),
    )
    .await
    .expect("the chart's CRD to be Established");
    let (ok, listed, err) = cp
        .kubectl(&[
            "get",
            "deployment,serviceaccount,role,rolebinding",
            "-n",
            "dc-system",
            "-o",
            "name",
        ])
        .unwrap();
    assert!(ok, "{err}");
    for object in [
        "deployment.apps/dc-doc-controller",
        "serviceaccount/dc-doc-controller",
        "role.rbac.authorization.k8s.io/dc-doc-controller-leader-election",
        "rolebinding.rbac.authorization.k8s.io/dc-doc-controller-leader-election",
    ] {
        assert!(
            listed.lines().any(|l| l == object),
            "{object} missing: {listed}"
        );
    }
    let (ok, _, err) = cp
        .kubectl(&[
            "get",
            "clusterrole/dc-doc-controller",
            "clusterrolebinding/dc-doc-controller",
        ])
        .unwrap();
    assert!(ok, "{err}");

    // The chart's ServiceAccount may do everything doc-controller needs, and the Lease in the release namespace.
    let out = doctor(
        cp.kubeconfig(),
        "dc-system",
        "dc-doc-controller",
        &["--lease-namespace", "dc-system"],
    );
    assert_eq!(out.status.code(), Some(0), "doctor: {}", text(&out));
    // The check has teeth: another namespace's Lease is not granted.
    let out = doctor(
        cp.kubeconfig(),
        "dc-system",
        "dc-doc-controller",
        &["--lease-namespace", "elsewhere"],
    );
    assert_eq!(out.status.code(), Some(1), "doctor: {}", text(&out));

    // A second release watching one namespace, without leader election: a Role there, and doctor for that scope.
    install(
        home.path(),
        chart,
        &kubeconfig,
        "team-a-docs",
        "team-a",
        Some("watchNamespace=team-a,leaderElection.enabled=false,replicaCount=1"),
    );
    let out = doctor(
        cp.kubeconfig(),
        "team-a",
        "team-a-docs-doc-controller",
        &["--namespace", "team-a", "--no-leader-election"],
    );
    assert_eq!(out.status.code(), Some(0), "doctor: {}", text(&out));
    let out = doctor(
        cp.kubeconfig(),
        "team-a",
        "team-a-docs-doc-controller",
        &["--no-leader-election"],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "all namespaces must not be granted: {}",
        text(&out)
    );

    // A third release sharing the work between replicas: its ServiceAccount may also list the ring's Leases.
    let out = install(
        home.path(),
        chart,
        &kubeconfig,
        "ring",
        "ring",
        Some("sharding.enabled=true,leaderElection.enabled=false,replicaCount=3"),
    );
    assert!(
        out.contains("--shards auto --lease-namespace ring"),
        "NOTES: {out}"
    );
    let (ok, listed, err) = cp
        .kubectl(&["get", "statefulset,service", "-n", "ring", "-o", "name"])
        .unwrap();
    assert!(ok, "{err}");
    assert!(
        listed.contains("statefulset.apps/ring-doc-controller"),
        "{listed}"
    );
    let out = doctor(
        cp.kubeconfig(),
        "ring",
        "ring-doc-controller",
        &["--shards", "auto", "--lease-namespace", "ring"],
    );
    assert_eq!(out.status.code(), Some(0), "doctor: {}", text(&out));
}
