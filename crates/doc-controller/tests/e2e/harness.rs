//! Test support: the Document CRD on the shared control plane, the real `doc-controller` binary as a child process
//! (killed when the test ends, its JSON log captured and printed when the test fails), its metrics, and polling
//! with deadlines.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use doc_controller::Document;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Polls `f` every 100 ms until it returns `Some`, or panics after `timeout` naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Installs (server-side applies) the Document CRD and waits until it is Established.
pub async fn ensure_crd(admin: &Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(admin.clone());
    crds.patch(
        "documents.kube.rs",
        &PatchParams::apply("doc-controller-tests").force(),
        &Patch::Apply(Document::crd_with_labels()),
    )
    .await
    .expect("installing the Document CRD as admin");
    kubewhy_testenv::crd::wait_established(admin, "documents.kube.rs", Duration::from_secs(30))
        .await
        .expect("the Document CRD to be Established");
}

/// The admin client, a fresh namespace, and the CRD installed, on the shared control plane.
pub async fn setup(prefix: &str) -> (Client, String) {
    setup_on(kubewhy_testenv::shared(), prefix).await
}

/// [`setup`] on a given control plane.
pub async fn setup_on(cp: &kubewhy_testenv::ControlPlane, prefix: &str) -> (Client, String) {
    let admin = cp.admin().await.expect("admin client");
    ensure_crd(&admin).await;
    let ns = cp.namespace(prefix).await.expect("creating a namespace");
    (admin, ns)
}

/// The API server's own count of requests (`apiserver_request_total`) on `resources`, by `VERB resource[/sub]`,
/// leaving out LIST and WATCH.
pub async fn apiserver_requests(
    admin: &Client,
    resources: &[&str],
) -> std::collections::BTreeMap<String, u64> {
    let metrics = kubewhy_testenv::metrics::scrape(admin)
        .await
        .expect("reading the API server's /metrics as admin");
    metrics
        .sum_by("apiserver_request_total", |s| {
            let (resource, verb, sub) =
                (s.label("resource"), s.label("verb"), s.label("subresource"));
            if !resources.contains(&resource) || verb == "LIST" || verb == "WATCH" {
                return None;
            }
            Some(if sub.is_empty() {
                format!("{verb} {resource}")
            } else {
                format!("{verb} {resource}/{sub}")
            })
        })
        .into_iter()
        .map(|(k, v)| (k, v as u64))
        .collect()
}

/// A Document from its spec fields.
pub fn document(name: &str, title: &str, hide: bool, publish: bool) -> Document {
    Document::new(
        name,
        doc_controller::DocumentSpec {
            title: title.into(),
            content: format!("content of {name}"),
            hide,
            publish,
        },
    )
}

/// Creates a Document.
pub async fn create(client: &Client, ns: &str, doc: &Document) -> Document {
    Api::<Document>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), doc)
        .await
        .unwrap_or_else(|e| panic!("creating Document {ns}/{}: {e}", doc.name_any()))
}

/// Merge-patches a Document's spec.
pub async fn patch_spec(client: &Client, ns: &str, name: &str, spec: Value) {
    Api::<Document>::namespaced(client.clone(), ns)
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({ "spec": spec })),
        )
        .await
        .unwrap_or_else(|e| panic!("patching Document {ns}/{name}: {e}"));
}

/// Waits until a Document is Ready for its current generation and `check` holds; returns it.
pub async fn wait_doc(
    client: &Client,
    ns: &str,
    name: &str,
    what: &str,
    timeout: Duration,
    check: impl Fn(&Document) -> bool,
) -> Document {
    let api: Api<Document> = Api::namespaced(client.clone(), ns);
    eventually(&format!("Document {ns}/{name}: {what}"), timeout, || {
        let api = api.clone();
        let check = &check;
        async move {
            let doc = api.get_opt(name).await.ok()??;
            check(&doc).then_some(doc)
        }
    })
    .await
}

/// Waits for a ConfigMap to satisfy `check` (`None`: absent).
pub async fn wait_config_map(
    client: &Client,
    ns: &str,
    name: &str,
    what: &str,
    check: impl Fn(Option<&ConfigMap>) -> bool,
) -> Option<ConfigMap> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    eventually(
        &format!("ConfigMap {ns}/{name}: {what}"),
        Duration::from_secs(20),
        || {
            let api = api.clone();
            let check = &check;
            async move {
                let cm = api.get_opt(name).await.ok()?;
                check(cm.as_ref()).then_some(cm)
            }
        },
    )
    .await
}

/// The events.k8s.io events about object `name` in `ns` with `reason`.
pub async fn events(client: &Client, ns: &str, name: &str, reason: &str) -> Vec<Event> {
    Api::<Event>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .expect("listing events")
        .items
        .into_iter()
        .filter(|e| {
            e.reason.as_deref() == Some(reason)
                && e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name)
        })
        .collect()
}

/// Waits for an event.
pub async fn wait_event(client: &Client, ns: &str, name: &str, reason: &str) -> Event {
    eventually(
        &format!("a {reason} event for {ns}/{name}"),
        Duration::from_secs(20),
        || async { events(client, ns, name, reason).await.into_iter().next() },
    )
    .await
}

/// One log line of the controller, as received.
#[derive(Debug, Clone)]
pub struct LogLine {
    /// The parsed JSON (or `{"raw": line}` when it is not JSON).
    pub json: Value,
}

/// A running `doc-controller run` process; killed (SIGKILL) when dropped, its log printed if the test failed.
pub struct Controller {
    /// A name for messages.
    pub name: String,
    child: Child,
    /// Its HTTP port (127.0.0.1).
    pub port: u16,
    logs: Arc<Mutex<Vec<LogLine>>>,
    exited: Option<ExitStatus>,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binding a free port");
    listener.local_addr().expect("local address").port()
}

impl Controller {
    /// Starts `doc-controller --log-format json run --kubeconfig <kubeconfig> --http-addr 127.0.0.1:<free> <args>`.
    pub fn start(name: &str, kubeconfig: &Path, args: &[&str]) -> Controller {
        // kubewhy::retry at DEBUG: each failed reconcile's attempt and delay (one line per cause above DEBUG).
        Controller::start_logging(
            name,
            kubeconfig,
            args,
            "info,kube=warn,kubewhy=info,kubewhy::retry=debug",
        )
    }

    /// [`Controller::start`] with this `RUST_LOG` filter.
    pub fn start_logging(name: &str, kubeconfig: &Path, args: &[&str], filter: &str) -> Controller {
        let port = free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_doc-controller"))
            .args(["--log-format", "json", "run", "--kubeconfig"])
            .arg(kubeconfig)
            .args(["--http-addr", &format!("127.0.0.1:{port}")])
            .args(args)
            .env("RUST_LOG", filter)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting doc-controller");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let json = serde_json::from_str(&line)
                    .unwrap_or_else(|_| serde_json::json!({ "raw": line }));
                sink.lock().unwrap().push(LogLine { json });
            }
        });
        Controller {
            name: name.into(),
            child,
            port,
            logs,
            exited: None,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The log so far.
    pub fn logs(&self) -> Vec<LogLine> {
        self.logs.lock().unwrap().clone()
    }

    /// Sends SIGTERM.
    pub fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
    }

    /// Sends SIGKILL and reaps the process.
    pub fn sigkill(&mut self) {
        self.child.kill().expect("killing doc-controller");
        self.exited = Some(self.child.wait().expect("reaping doc-controller"));
    }

    /// Waits for the process to exit.
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("checking doc-controller") {
                self.exited = Some(status);
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {timeout:?}",
                self.name
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `GET path` on the controller's HTTP port: (status code, body), or `None` when it does not answer.
    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .ok()?;
        stream
            .write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
            .await
            .ok()?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await.ok()?;
        let code = response.split_whitespace().nth(1)?.parse().ok()?;
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Some((code, body))
    }

    /// The value of one sample (`name{labels}` exactly as exposed, or a bare name), 0 when absent.
    pub async fn metric(&self, sample: &str) -> f64 {
        let (_, body) = self
            .get("/metrics")
            .await
            .unwrap_or_else(|| panic!("{}: /metrics did not answer", self.name));
        kubewhy_testenv::metrics::Exposition::parse(&body)
            .value(sample)
            .unwrap_or(0.0)
    }

    /// Waits until `/readyz` answers 200; returns its body.
    pub async fn wait_ready(&self) -> String {
        eventually(
            &format!("{} to be ready", self.name),
            Duration::from_secs(30),
            || async {
                match self.get("/readyz").await {
                    Some((200, body)) => Some(body),
                    _ => None,
                }
            },
        )
        .await
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        if self.exited.is_none() {
            // The process may already be gone; killing a reaped child is reported as an error we can ignore.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // `KUBEWHY_TEST_LOG_DIR=<dir>` keeps every controller's whole log, for failures 80 lines do not explain.
        if let Some(dir) = std::env::var_os("KUBEWHY_TEST_LOG_DIR") {
            let logs = self.logs.lock().map(|l| l.clone()).unwrap_or_default();
            let path =
                std::path::Path::new(&dir).join(format!("{}-{}.log", self.name, self.child.id()));
            let text: String = logs.iter().map(|l| format!("{}\n", l.json)).collect();
            if let Err(e) = std::fs::write(&path, text) {
                eprintln!("writing {}: {e}", path.display());
            }
        }
        if std::thread::panicking() {
            let logs = self.logs.lock().map(|l| l.clone()).unwrap_or_default();
            eprintln!(
                "---- log of {} (pid {}), last 80 lines ----",
                self.name,
                self.child.id()
            );
            for line in logs.iter().rev().take(80).rev() {
                eprintln!("{}", line.json);
            }
        }
    }
}
