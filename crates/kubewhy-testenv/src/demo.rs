//! `kubewhy-dev demo`: the README's main command. Starts the local control plane, installs doc-controller from
//! `deploy/` (CRD, ServiceAccount, RBAC), runs the doc-controller binary as that ServiceAccount with a real
//! TokenRequest token and leader election, applies `deploy/samples/`, and prints each sample's status as it changes,
//! until Ctrl-C stops everything (doc-controller first, so it releases its Lease, then the control plane).
//!
//! Only the `kubewhy-dev` binary uses this module; it is not part of the test-support library.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::discovery::{Scope, pinned_kind};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use serde::Deserialize;

use kubewhy_testenv::{ControlPlane, Options, binary, scratch_path};

/// The namespace and name doc-controller runs as (`deploy/serviceaccount.yaml`).
const NAMESPACE: &str = "doc-controller";
const SERVICE_ACCOUNT: &str = "doc-controller";
/// Where the samples go.
const SAMPLES_NAMESPACE: &str = "default";
const FIELD_MANAGER: &str = "kubewhy-dev";

/// Options of `kubewhy-dev demo`.
pub struct DemoOptions {
    /// A prebuilt doc-controller binary; without it the demo runs `cargo build -p doc-controller`.
    pub controller: Option<PathBuf>,
    /// Build doc-controller in release mode (default: the same profile as this binary).
    pub release: Option<bool>,
}

/// Runs the demo until Ctrl-C.
pub fn run(opts: DemoOptions) -> anyhow::Result<()> {
    let deploy = binary::workspace_root().join("deploy");
    if !deploy.join("crd.yaml").is_file() {
        bail!(
            "{} has no crd.yaml: run the demo from a kubewhy checkout (`cargo run -p kubewhy-testenv -- demo`)",
            deploy.display()
        );
    }
    let controller_bin = match opts.controller {
        Some(path) if path.is_file() => path,
        Some(path) => bail!("--controller {} is not a file", path.display()),
        None => build_doc_controller(opts.release)?,
    };

    println!(
        "starting the local control plane (etcd + kube-apiserver {})...",
        binary::KUBERNETES_VERSION
    );
    let mut cp =
        ControlPlane::start(Options::default()).context("starting the local control plane")?;
    println!(
        "control plane ready in {:.1}s at {}\n  admin kubeconfig: {}",
        cp.ready_after().as_secs_f64(),
        cp.server(),
        cp.kubeconfig().display()
    );

    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let result = runtime.block_on(demo(&cp, &deploy, &controller_bin));
    println!("stopping the control plane...");
    cp.stop();
    println!("stopped.");
    result
}

/// Builds doc-controller with cargo (a no-op when it is up to date) and returns the binary next to this one.
fn build_doc_controller(release: Option<bool>) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the kubewhy-dev binary")?;
    let dir = exe
        .parent()
        .ok_or_else(|| anyhow!("{} has no parent directory", exe.display()))?;
    let release = release.unwrap_or_else(|| dir.file_name().is_some_and(|n| n == "release"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut args = vec!["build", "-p", "doc-controller", "--bin", "doc-controller"];
    if release {
        args.push("--release");
    }
    println!("building doc-controller: cargo {}", args.join(" "));
    let status = Command::new(&cargo)
        .args(&args)
        .current_dir(binary::workspace_root())
        .status()
        .with_context(|| format!("running {}", Path::new(&cargo).display()))?;
    if !status.success() {
        bail!(
            "`cargo {}` failed ({status}); see cargo's output above",
            args.join(" ")
        );
    }
    let profile_dir = dir
        .parent()
        .map(|target| target.join(if release { "release" } else { "debug" }));
    let bin = profile_dir
        .map(|d| d.join("doc-controller"))
        .filter(|b| b.is_file())
        .ok_or_else(|| {
            anyhow!(
                "built doc-controller but did not find it next to {}",
                exe.display()
            )
        })?;
    Ok(bin)
}

/// How often the demo renews doc-controller's one-hour token.
const TOKEN_RENEWAL: Duration = Duration::from_secs(45 * 60);

async fn demo(cp: &ControlPlane, deploy: &Path, controller_bin: &Path) -> anyhow::Result<()> {
    let admin = cp.admin().await?;

    println!("installing doc-controller from {}:", deploy.display());
    for file in ["crd.yaml", "serviceaccount.yaml", "rbac.yaml"] {
        for applied in apply_file(&admin, &deploy.join(file), None).await? {
            println!("  applied {applied}");
        }
    }
    wait_crd_established(&admin, "documents.kube.rs").await?;

    // The token lives in a file the kubeconfig names (`tokenFile`, which kube-rs re-reads about once a minute) and
    // is renewed every 45 minutes, well before its hour is up: a demo left running for a day keeps working, as a
    // pod does with the projected token the kubelet rotates.
    let sa = cp.service_account(NAMESPACE, SERVICE_ACCOUNT).await?;
    let token_file = scratch_path("doc-controller-demo.token");
    let _renewal = cp
        .renew_token_file(NAMESPACE, SERVICE_ACCOUNT, &token_file, TOKEN_RENEWAL)
        .await?;
    let kubeconfig = scratch_path("doc-controller-demo.kubeconfig");
    cp.write_kubeconfig_with(
        &sa.identity,
        Some(NAMESPACE),
        &kubewhy_testenv::KubeconfigOptions {
            token_file: Some(token_file.clone()),
            ..Default::default()
        },
        &kubeconfig,
    )?;
    println!(
        "  token for {} (TokenRequest, 1 h, renewed every {} min) in {}, named by {}",
        sa.identity.user,
        TOKEN_RENEWAL.as_secs() / 60,
        token_file.display(),
        kubeconfig.display()
    );

    let mut controller = Controller::start(controller_bin, &kubeconfig)?;
    println!(
        "doc-controller running as {} (pid {}), leader election on Lease {NAMESPACE}/doc-controller\n  log: {}\n  \
         metrics: http://127.0.0.1:{}/metrics   readiness: http://127.0.0.1:{}/readyz",
        sa.identity.user,
        controller.child.id(),
        controller.log.display(),
        controller.port,
        controller.port
    );

    let mut samples = Vec::new();
    let samples_dir = deploy.join("samples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&samples_dir)
        .with_context(|| format!("reading {}", samples_dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("reading {}", samples_dir.display()))?;
    files.sort();
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "yaml"))
    {
        samples.extend(apply_file(&admin, file, Some(SAMPLES_NAMESPACE)).await?);
    }
    println!(
        "applied {} samples in namespace {SAMPLES_NAMESPACE}: {}\n",
        samples.len(),
        samples.join(", ")
    );
    println!("Document status (Ctrl-C stops everything):");

    let result = watch_samples(&admin, &mut controller, cp.kubeconfig()).await;
    println!(
        "\nstopping doc-controller (SIGTERM: it finishes running reconciles and releases its Lease)..."
    );
    match controller.stop() {
        Ok(status) => println!("doc-controller exited ({status})"),
        Err(e) => eprintln!("error: {e:#}"),
    }
    result
}

/// Prints each Document's status line when it changes, until Ctrl-C or until doc-controller exits.
async fn watch_samples(
    admin: &Client,
    controller: &mut Controller,
    kubeconfig: &Path,
) -> anyhow::Result<()> {
    let gvk = GroupVersionKind::gvk("kube.rs", "v1", "Document");
    let (resource, _) = pinned_kind(admin, &gvk)
        .await
        .context("discovering documents.kube.rs")?;
    let docs: Api<DynamicObject> =
        Api::namespaced_with(admin.clone(), SAMPLES_NAMESPACE, &resource);
    let mut events = watcher(docs, watcher::Config::default())
        .default_backoff()
        .applied_objects()
        .boxed();
    let mut last: BTreeMap<String, String> = BTreeMap::new();
    let mut hinted = false;
    let mut check = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = check.tick() => {
                if let Some(status) = controller.exited()? {
                    bail!(
                        "doc-controller exited unexpectedly ({status}); last lines of {}:\n{}",
                        controller.log.display(),
                        kubewhy_testenv::controlplane::tail(&controller.log, 20)
                    );
                }
            }
            event = events.next() => match event {
                Some(Ok(doc)) => {
                    let line = status_line(&doc);
                    if last.get(&doc.name_any()) != Some(&line) {
                        println!("  {line}");
                        last.insert(doc.name_any(), line);
                    }
                    let all_ready = !last.is_empty() && last.values().all(|l| l.contains("Ready=True"));
                    if all_ready && !hinted {
                        hinted = true;
                        println!(
                            "\nall samples are Ready. In another terminal, try:\n  export KUBECONFIG={}\n  \
                             kubectl get documents\n  kubectl patch document lorem --type merge -p '{{\"spec\":{{\"publish\":true}}}}'\n  \
                             kubectl delete configmap kubewhy      # doc-controller recreates it\n  \
                             kubectl get events --field-selector reason=HideRequested\n",
                            kubeconfig.display()
                        );
                    }
                }
                Some(Err(e)) => eprintln!("  (watching Documents failed, retrying: {e})"),
                None => bail!("the watch on Documents ended"),
            },
        }
    }
}

/// `lorem    Ready=True   hidden=false published=-        the Document is visible`.
fn status_line(doc: &DynamicObject) -> String {
    let status = &doc.data["status"];
    let ready = status["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"));
    let (ready_status, message) = match ready {
        Some(c) => (
            c["status"].as_str().unwrap_or("?").to_string(),
            c["message"].as_str().unwrap_or_default().to_string(),
        ),
        None => ("-".to_string(), "waiting for doc-controller".to_string()),
    };
    let hidden = status["hidden"]
        .as_bool()
        .map_or("-".to_string(), |h| h.to_string());
    let published = status["publishedConfigMap"]
        .as_str()
        .unwrap_or("-")
        .to_string();
    format!(
        "{:<10} Ready={:<6} hidden={:<6} published={:<10} {message}",
        doc.name_any(),
        ready_status,
        hidden,
        published
    )
}

/// Server-side applies every object of a YAML file (namespaced ones into `namespace` when they name none).
/// Returns `kind/name` of each.
async fn apply_file(
    client: &Client,
    path: &Path,
    namespace: Option<&str>,
) -> anyhow::Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut applied = Vec::new();
    for document in serde_yaml::Deserializer::from_str(&text) {
        let value = serde_json::Value::deserialize(document)
            .with_context(|| format!("parsing {}", path.display()))?;
        if value.is_null() {
            continue;
        }
        let obj: DynamicObject = serde_json::from_value(value)
            .with_context(|| format!("reading an object in {}", path.display()))?;
        let types = obj
            .types
            .as_ref()
            .ok_or_else(|| anyhow!("an object in {} has no apiVersion/kind", path.display()))?;
        let gvk = GroupVersionKind::try_from(types)
            .with_context(|| format!("reading apiVersion in {}", path.display()))?;
        let (resource, caps) = pinned_kind(client, &gvk)
            .await
            .with_context(|| format!("discovering {} (from {})", types.kind, path.display()))?;
        let name = obj.name_any();
        let api: Api<DynamicObject> = match caps.scope {
            Scope::Namespaced => {
                let ns = obj
                    .namespace()
                    .or(namespace.map(str::to_string))
                    .unwrap_or_else(|| "default".into());
                Api::namespaced_with(client.clone(), &ns, &resource)
            }
            Scope::Cluster => Api::all_with(client.clone(), &resource),
        };
        api.patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&obj),
        )
        .await
        .with_context(|| format!("applying {} {name} from {}", types.kind, path.display()))?;
        applied.push(format!("{}/{name}", resource_name(&resource)));
    }
    Ok(applied)
}

fn resource_name(resource: &ApiResource) -> String {
    if resource.group.is_empty() {
        resource.plural.clone()
    } else {
        format!("{}.{}", resource.plural, resource.group)
    }
}

async fn wait_crd_established(client: &Client, name: &str) -> anyhow::Result<()> {
    Ok(kubewhy_testenv::crd::wait_established(client, name, Duration::from_secs(30)).await?)
}

/// The doc-controller child process (in its own process group, so that Ctrl-C reaches only the demo, which then
/// stops it in order).
struct Controller {
    child: Child,
    log: PathBuf,
    port: u16,
}

impl Controller {
    fn start(bin: &Path, kubeconfig: &Path) -> anyhow::Result<Controller> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .context("finding a free port for doc-controller's HTTP endpoints")?
            .port();
        let log = binary::output_dir()
            .join("logs")
            .join(format!("doc-controller-demo-{}.log", std::process::id()));
        let log_file = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let child = Command::new(bin)
            .args([
                "run",
                "--leader-elect",
                "--lease-namespace",
                NAMESPACE,
                "--kubeconfig",
            ])
            .arg(kubeconfig)
            .args(["--http-addr", &format!("127.0.0.1:{port}")])
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info,kube=warn,kubewhy=info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        Ok(Controller { child, log, port })
    }

    fn exited(&mut self) -> anyhow::Result<Option<std::process::ExitStatus>> {
        self.child.try_wait().context("checking on doc-controller")
    }

    /// SIGTERM, then up to 30 s for a graceful exit, then SIGKILL.
    fn stop(&mut self) -> anyhow::Result<std::process::ExitStatus> {
        if let Some(status) = self.exited()? {
            return Ok(status);
        }
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .context("running kill")?;
        if !status.success() {
            bail!("`kill -TERM {}` failed ({status})", self.child.id());
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self.exited()? {
                return Ok(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child.kill().context("killing doc-controller")?;
        let status = self.child.wait().context("waiting for doc-controller")?;
        bail!("doc-controller did not stop within 30s of SIGTERM and was killed ({status})")
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        // On an early error the child may still run: never leave it behind. Errors mean it already exited.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
