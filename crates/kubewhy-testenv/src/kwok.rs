//! KWOK (`sigs.k8s.io/kwok`, the Kubernetes SIG project that plays nodes and kubelets): with it, the local control
//! plane's workloads get pods that run, and `kubectl logs` — the API server's `pods/log`, which it proxies to the
//! node's kubelet endpoint — answers from files of a test's choosing, through KWOK's `Logs` and `ClusterLogs`
//! resources (each file in the kubelet's own CRI log format: [`write_cri_log`]).
//!
//! KWOK is built from the Go module proxy at a pinned version, like helm ([`crate::tools`]); its CRDs and its
//! default stages (how a node and a pod go through their lives) come from the same module's sources. [`Kwok::start`]
//! applies the CRDs, starts `kwok` against a control plane started with its workload controllers
//! ([`crate::Options::workloads`]), creates the one node it plays ([`NODE`]) and waits until that node is Ready.
//! The `kwok` process is tied to this one: it ends when this process ends, however it ends.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use k8s_openapi::api::core::v1::Node;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, ObjectMeta, Patch, PatchParams};
use kube::core::GroupVersionKind;
use serde::{Deserialize, Serialize};

use crate::tools::{GoTool, tools_dir};
use crate::{ControlPlane, Error};

/// KWOK's controller, which plays the nodes and serves their kubelet endpoints.
pub const KWOK: GoTool = GoTool {
    name: "kwok",
    package: "sigs.k8s.io/kwok/cmd/kwok",
    version: "v0.8.0",
};

/// The module KWOK is built from: its CRDs and stages are read from its sources.
const MODULE: &str = "sigs.k8s.io/kwok";

/// The node KWOK plays.
pub const NODE: &str = "kwok-node-0";

/// The annotation that hands a node to KWOK.
const NODE_ANNOTATION: (&str, &str) = ("kwok.x-k8s.io/node", "fake");

/// KWOK's default stages, from its module: a node is initialised and keeps its lease; a pod becomes Ready, completes
/// (a Job's), and is deleted.
const STAGES: &[&str] = &[
    "kustomize/stage/node/fast/node-initialize.yaml",
    "kustomize/stage/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
    "kustomize/stage/pod/fast/pod-ready.yaml",
    "kustomize/stage/pod/fast/pod-complete.yaml",
    "kustomize/stage/pod/fast/pod-delete.yaml",
];

/// The CRDs of the resources that serve logs.
const CRDS: &[&str] = &[
    "kustomize/crd/bases/kwok.x-k8s.io_logs.yaml",
    "kustomize/crd/bases/kwok.x-k8s.io_clusterlogs.yaml",
];

/// How long the node may take to become Ready.
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// What a running KWOK is (written to `<dir>/kwok.json` by `kubewhy-dev up --kwok`, so tests can reuse it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KwokState {
    /// The node it plays.
    pub node: String,
    /// The port of its kubelet endpoint on 127.0.0.1.
    pub port: u16,
    /// Its log.
    pub log: PathBuf,
}

/// A running KWOK (or one reused from a state directory).
#[derive(Debug)]
pub struct Kwok {
    state: KwokState,
    /// Held for its `Drop`, which stops kwok (none when reused).
    _process: Option<Process>,
}

#[derive(Debug)]
struct Process {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Drop for Process {
    fn drop(&mut self) {
        // Closing standard input makes the wrapper stop kwok (see `spawn`).
        self.stdin.take();
        match self.child.wait() {
            Ok(_) => {}
            Err(e) => eprintln!("kubewhy-testenv: waiting for kwok to stop: {e}"),
        }
    }
}

impl Kwok {
    /// Builds KWOK when needed, applies its CRDs, starts it against `cp` and waits until its node is Ready.
    /// `log_dir` receives its log.
    ///
    /// `cp` must run its workload controllers ([`crate::Options::workloads`]) for workloads to get pods.
    pub fn start(cp: &ControlPlane, log_dir: &Path) -> Result<Kwok, Error> {
        let bin = KWOK.ensure_built()?;
        let source = module_dir()?;
        fs::create_dir_all(log_dir)
            .map_err(|e| Error::io(format!("creating {}", log_dir.display()), e))?;

        // The stages, as KWOK's configuration.
        let mut config = String::new();
        for stage in STAGES {
            let path = source.join(stage);
            let text = fs::read_to_string(&path)
                .map_err(|e| Error::io(format!("reading KWOK's stage {}", path.display()), e))?;
            config.push_str("---\n");
            config.push_str(&text);
            config.push('\n');
        }
        let crds = CRDS
            .iter()
            .map(|c| {
                let path = source.join(c);
                fs::read_to_string(&path)
                    .map_err(|e| Error::io(format!("reading KWOK's CRD {}", path.display()), e))
            })
            .collect::<Result<Vec<_>, _>>()?;

        let port = free_port()?;
        let log = log_dir.join(format!(
            "kwok-{}-{}.log",
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            std::process::id()
        ));
        // Beside its log, where whoever reads the log finds what it ran with.
        let config_path = log.with_extension("yaml");
        fs::write(&config_path, config)
            .map_err(|e| Error::io(format!("writing {}", config_path.display()), e))?;
        let state = KwokState {
            node: NODE.into(),
            port,
            log: log.clone(),
        };
        on_own_runtime(|| async {
            let admin = cp.admin().await?;
            apply_crds(&admin, &crds).await
        })?;
        let mut process = spawn(&bin, cp, &config_path, port, &log)?;
        on_own_runtime(|| async {
            let admin = cp.admin().await?;
            create_node(&admin).await?;
            wait_ready(&admin, &mut process, &log).await
        })?;
        Ok(Kwok {
            state,
            _process: Some(process),
        })
    }

    /// Attaches to a KWOK started by `kubewhy-dev up --kwok` in the state directory `dir`.
    pub fn reuse(dir: &Path) -> Result<Kwok, Error> {
        let path = dir.join("kwok.json");
        let data = fs::read(&path).map_err(|e| {
            Error::io(
                format!(
                    "reading {} (was the control plane started with `kubewhy-dev up --kwok`?)",
                    path.display()
                ),
                e,
            )
        })?;
        let state = serde_json::from_slice(&data).map_err(|e| {
            Error::io(
                format!("reading {}", path.display()),
                std::io::Error::other(e),
            )
        })?;
        Ok(Kwok {
            state,
            _process: None,
        })
    }

    /// Writes what it is to `<dir>/kwok.json`, for [`Kwok::reuse`].
    pub fn save(&self, dir: &Path) -> Result<(), Error> {
        let path = dir.join("kwok.json");
        let data = serde_json::to_vec_pretty(&self.state)
            .map_err(|e| Error::io("encoding kwok.json", std::io::Error::other(e)))?;
        fs::write(&path, data).map_err(|e| Error::io(format!("writing {}", path.display()), e))
    }

    /// What it is.
    pub fn state(&self) -> &KwokState {
        &self.state
    }

    /// The node it plays.
    pub fn node(&self) -> &str {
        &self.state.node
    }
}

/// Logs served for some containers: what `kubectl logs` returns for them, and with `--previous`.
#[derive(Debug, Clone)]
pub struct LogFiles {
    /// The containers (none: every container).
    pub containers: Vec<String>,
    /// Their log (CRI format: [`write_cri_log`]).
    pub file: PathBuf,
    /// The log of the container before its last restart.
    pub previous: Option<PathBuf>,
}

fn kwok_resource(kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("kwok.x-k8s.io", "v1alpha1", kind),
        plural,
    )
}

fn logs_spec(logs: &[LogFiles]) -> serde_json::Value {
    serde_json::Value::Array(
        logs.iter()
            .map(|l| {
                let mut log = serde_json::json!({
                    "containers": l.containers,
                    "logsFile": l.file,
                    "follow": true,
                });
                if let Some(previous) = &l.previous {
                    log["previousLogsFile"] = serde_json::json!(previous);
                }
                log
            })
            .collect(),
    )
}

/// Serves the logs of every pod in `namespace` (a `ClusterLogs` named `name`): pods a workload creates have names
/// no test knows in advance.
pub async fn serve_namespace_logs(
    admin: &kube::Client,
    name: &str,
    namespace: &str,
    logs: &[LogFiles],
) -> Result<(), Error> {
    let resource = kwok_resource("ClusterLogs", "clusterlogs");
    let mut object = DynamicObject::new(name, &resource);
    object.data = serde_json::json!({
        "spec": {
            "selector": { "matchNamespaces": [namespace] },
            "logs": logs_spec(logs),
        }
    });
    let api: Api<DynamicObject> = Api::all_with(admin.clone(), &resource);
    apply(
        &api,
        &object,
        format!("serving the logs of namespace {namespace}"),
    )
    .await
}

/// Serves the logs of one pod (a `Logs` object of the pod's name): it wins over any `ClusterLogs`.
pub async fn serve_pod_logs(
    admin: &kube::Client,
    namespace: &str,
    pod: &str,
    logs: &[LogFiles],
) -> Result<(), Error> {
    let resource = kwok_resource("Logs", "logs");
    let mut object = DynamicObject::new(pod, &resource).within(namespace);
    object.data = serde_json::json!({ "spec": { "logs": logs_spec(logs) } });
    let api: Api<DynamicObject> = Api::namespaced_with(admin.clone(), namespace, &resource);
    apply(
        &api,
        &object,
        format!("serving the logs of pod {namespace}/{pod}"),
    )
    .await
}

/// Applies `object` server-side as the test environment; `what` says what for, when it fails.
async fn apply<K>(api: &Api<K>, object: &K, what: String) -> Result<(), Error>
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let name = object.meta().name.clone().unwrap_or_default();
    api.patch(
        &name,
        &PatchParams::apply("kubewhy-testenv").force(),
        &Patch::Apply(object),
    )
    .await
    .map_err(|e| Error::kube(what, e))?;
    Ok(())
}

/// Writes `lines` to `path` as the kubelet writes a container's log (`<RFC 3339 time> stdout F <line>`, one
/// record a line), the first at `first`, each next one `step` later; a line holding newlines is several records.
/// Returns the bytes of log text written (without the CRI framing).
pub fn write_cri_log<S: AsRef<str>>(
    path: &Path,
    lines: impl IntoIterator<Item = S>,
    first: SystemTime,
    step: Duration,
) -> Result<u64, Error> {
    let file =
        File::create(path).map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    append(&mut out, path, lines, first, step)
}

/// Appends `lines` to a CRI log (as [`write_cri_log`]): what a running container prints next.
pub fn append_cri_log<S: AsRef<str>>(
    path: &Path,
    lines: impl IntoIterator<Item = S>,
    first: SystemTime,
    step: Duration,
) -> Result<u64, Error> {
    let file = fs::OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    let mut out = std::io::BufWriter::new(file);
    append(&mut out, path, lines, first, step)
}

fn append<S: AsRef<str>>(
    out: &mut std::io::BufWriter<File>,
    path: &Path,
    lines: impl IntoIterator<Item = S>,
    first: SystemTime,
    step: Duration,
) -> Result<u64, Error> {
    let mut at = first;
    let mut written = 0u64;
    let write_err = |e| Error::io(format!("writing {}", path.display()), e);
    for line in lines {
        let stamp = k8s_openapi::jiff::Timestamp::try_from(at).map_err(|e| {
            Error::io(
                format!("a time stamp for {}", path.display()),
                std::io::Error::other(e),
            )
        })?;
        for record in line.as_ref().split('\n') {
            writeln!(out, "{stamp:.9} stdout F {record}").map_err(write_err)?;
            written += record.len() as u64 + 1;
        }
        at += step;
    }
    out.flush().map_err(write_err)?;
    Ok(written)
}

/// Where the Go toolchain keeps KWOK's module sources (downloading them when needed).
fn module_dir() -> Result<PathBuf, Error> {
    let output = Command::new("go")
        .args(["mod", "download", "-json"])
        .arg(format!("{MODULE}@{}", KWOK.version))
        .current_dir(tools_dir())
        .output()
        .map_err(|e| Error::io("running `go mod download`", e))?;
    #[derive(Deserialize)]
    struct Download {
        #[serde(rename = "Dir")]
        dir: Option<PathBuf>,
        #[serde(rename = "Error")]
        error: Option<String>,
    }
    let download: Download = serde_json::from_slice(&output.stdout).map_err(|e| {
        Error::io(
            format!(
                "reading what `go mod download -json {MODULE}@{}` printed ({}): {}",
                KWOK.version,
                output.status,
                String::from_utf8_lossy(&output.stderr)
            ),
            std::io::Error::other(e),
        )
    })?;
    match (download.dir, download.error) {
        (Some(dir), None) => Ok(dir),
        (_, error) => Err(Error::io(
            format!("`go mod download {MODULE}@{}` failed", KWOK.version),
            std::io::Error::other(error.unwrap_or_else(|| "it named no directory".into())),
        )),
    }
}

/// A free port on 127.0.0.1 (it may be taken again before KWOK binds it; then KWOK exits and says so).
fn free_port() -> Result<u16, Error> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| Error::io("finding a free port for KWOK", e))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| Error::io("finding a free port for KWOK", e))
}

/// Runs `f` to completion on a runtime of its own, on a thread of its own (the caller may be inside a runtime).
fn on_own_runtime<'a, F, Fut>(f: F) -> Result<(), Error>
where
    F: FnOnce() -> Fut + Send + 'a,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| Error::io("starting a runtime to set KWOK up", e))?;
                runtime.block_on(f())
            })
            .join()
            .unwrap_or_else(|_| {
                Err(Error::io(
                    "setting KWOK up",
                    std::io::Error::other("the thread doing it panicked"),
                ))
            })
    })
}

async fn apply_crds(admin: &kube::Client, crds: &[String]) -> Result<(), Error> {
    let api: Api<CustomResourceDefinition> = Api::all(admin.clone());
    for text in crds {
        let crd: CustomResourceDefinition = serde_yaml::from_str(text)
            .map_err(|e| Error::io("reading a KWOK CRD", std::io::Error::other(e)))?;
        let name = crd.metadata.name.clone().unwrap_or_default();
        apply(&api, &crd, format!("applying KWOK's CRD {name}")).await?;
        crate::crd::wait_established(admin, &name, Duration::from_secs(30)).await?;
    }
    Ok(())
}

/// Starts kwok under a shell that stops it when its standard input closes (when this process ends).
fn spawn(
    bin: &Path,
    cp: &ControlPlane,
    config: &Path,
    port: u16,
    log: &Path,
) -> Result<Process, Error> {
    let log_file =
        File::create(log).map_err(|e| Error::io(format!("creating {}", log.display()), e))?;
    let log_err = log_file
        .try_clone()
        .map_err(|e| Error::io(format!("opening {}", log.display()), e))?;
    let mut child = Command::new("sh")
        .arg("-c")
        // kwok runs in the background; the shell waits for its own standard input to close, then stops kwok.
        .arg(r#""$@" </dev/null & kwok=$!; while read -r _; do :; done; kill "$kwok" 2>/dev/null; wait "$kwok""#)
        .arg("kubewhy-kwok")
        .arg(bin)
        .arg(format!("--kubeconfig={}", cp.kubeconfig().display()))
        .arg(format!("--config={}", config.display()))
        .arg(format!(
            "--manage-nodes-with-annotation-selector={}={}",
            NODE_ANNOTATION.0, NODE_ANNOTATION.1
        ))
        .arg("--node-ip=127.0.0.1")
        .arg(format!("--node-port={port}"))
        .arg(format!("--server-address=127.0.0.1:{port}"))
        .arg("--enable-crds=Logs,ClusterLogs")
        .stdin(Stdio::piped())
        .stdout(log_file)
        .stderr(log_err)
        .spawn()
        .map_err(|e| Error::io(format!("starting {}", bin.display()), e))?;
    let stdin = child.stdin.take();
    Ok(Process { child, stdin })
}

async fn create_node(admin: &kube::Client) -> Result<(), Error> {
    let node = Node {
        metadata: ObjectMeta {
            name: Some(NODE.into()),
            annotations: Some(
                [(NODE_ANNOTATION.0.to_string(), NODE_ANNOTATION.1.to_string())].into(),
            ),
            labels: Some(
                [
                    ("kubernetes.io/hostname".to_string(), NODE.to_string()),
                    ("kubernetes.io/os".to_string(), "linux".to_string()),
                    ("type".to_string(), "kwok".to_string()),
                ]
                .into(),
            ),
            ..ObjectMeta::default()
        },
        ..Node::default()
    };
    apply(
        &Api::<Node>::all(admin.clone()),
        &node,
        format!("creating node {NODE}"),
    )
    .await
}

/// Waits until KWOK reports its node Ready (and its kubelet endpoint), or fails with the tail of its log.
async fn wait_ready(admin: &kube::Client, process: &mut Process, log: &Path) -> Result<(), Error> {
    let api: Api<Node> = Api::all(admin.clone());
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Ok(Some(status)) = process.child.try_wait() {
            return Err(Error::io(
                format!(
                    "kwok exited ({status}) before node {NODE} was Ready; last lines of {}:\n{}",
                    log.display(),
                    crate::controlplane::tail(log, 30)
                ),
                std::io::Error::other("kwok exited"),
            ));
        }
        let node = api
            .get(NODE)
            .await
            .map_err(|e| Error::kube(format!("reading node {NODE}"), e))?;
        let status = node.status.as_ref();
        let ready = status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        let endpoint = status
            .and_then(|s| s.daemon_endpoints.as_ref())
            .and_then(|d| d.kubelet_endpoint.as_ref())
            .is_some_and(|e| e.port > 0);
        if ready && endpoint {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(Error::io(
                format!(
                    "node {NODE} was not Ready within {}s; last lines of {}:\n{}",
                    READY_TIMEOUT.as_secs(),
                    log.display(),
                    crate::controlplane::tail(log, 30)
                ),
                std::io::Error::other("timed out"),
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
