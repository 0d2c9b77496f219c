//! The API server side of a run: a fresh local control plane, the Document CRD (doc-controller's generated one,
//! the single source of truth), and bulk creation and deletion of Documents.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::{StreamExt, TryStreamExt, stream};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use kubewhy_testenv::{ControlPlane, Options};
use serde_json::json;

/// Extra kube-apiserver flags every benchmark control plane gets. The in-flight limits are the kube-apiserver
/// defaults written out, so a reader sees them; the harness and the contenders run as `system:masters`, whose
/// requests APF puts in the `exempt` priority level, so these limits do not throttle them.
pub const APISERVER_ARGS: &[&str] = &[
    "--max-requests-inflight=400",
    "--max-mutating-requests-inflight=200",
];

/// How many requests the harness keeps in flight when it creates or deletes Documents.
const BULK_CONCURRENCY: usize = 32;

/// The Document resource (`documents.kube.rs/v1`).
pub fn documents_resource() -> ApiResource {
    ApiResource {
        group: "kube.rs".into(),
        version: "v1".into(),
        api_version: "kube.rs/v1".into(),
        kind: "Document".into(),
        plural: "documents".into(),
    }
}

/// Documents in one namespace.
pub fn documents(client: &Client, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), namespace, &documents_resource())
}

/// Starts a fresh control plane for one run.
pub fn start_control_plane() -> Result<ControlPlane> {
    ControlPlane::start(Options {
        apiserver_args: APISERVER_ARGS.iter().map(|s| s.to_string()).collect(),
        ..Options::default()
    })
    .context("starting a local control plane for the benchmark")
}

/// Where the CRD comes from.
#[derive(Debug, Clone)]
pub enum CrdSource {
    /// A YAML file (by default doc-controller's generated `deploy/crd.yaml`).
    File(PathBuf),
    /// The output of `doc-controller crdgen`.
    Crdgen(PathBuf),
}

impl CrdSource {
    /// `deploy/crd.yaml` when present, else `<doc-controller> crdgen`.
    pub fn find(root: &Path, explicit: Option<&Path>) -> Result<CrdSource> {
        if let Some(p) = explicit {
            return Ok(CrdSource::File(p.to_path_buf()));
        }
        let file = root.join("deploy/crd.yaml");
        if file.is_file() {
            return Ok(CrdSource::File(file));
        }
        let bin = root.join("target/release/doc-controller");
        if bin.is_file() {
            return Ok(CrdSource::Crdgen(bin));
        }
        bail!(
            "no Document CRD: neither {} nor {} exists\n  = help: run `cargo build --release -p doc-controller` \
             (its `crdgen` prints the CRD), or pass `--crd FILE`",
            file.display(),
            bin.display()
        )
    }

    /// The CRD's YAML.
    pub fn yaml(&self) -> Result<String> {
        match self {
            CrdSource::File(p) => std::fs::read_to_string(p)
                .with_context(|| format!("reading the CRD {}", p.display())),
            CrdSource::Crdgen(bin) => {
                let out = Command::new(bin)
                    .arg("crdgen")
                    .output()
                    .with_context(|| format!("running `{} crdgen`", bin.display()))?;
                if !out.status.success() {
                    bail!(
                        "`{} crdgen` failed: {}",
                        bin.display(),
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
                String::from_utf8(out.stdout)
                    .context("`doc-controller crdgen` printed something other than UTF-8")
            }
        }
    }

    /// A short description for the results.
    pub fn describe(&self) -> String {
        match self {
            CrdSource::File(p) => p.display().to_string(),
            CrdSource::Crdgen(bin) => format!("{} crdgen", bin.display()),
        }
    }
}

/// Installs the CRD and waits until the API server serves it.
pub async fn install_crd(client: &Client, source: &CrdSource) -> Result<()> {
    let yaml = source.yaml()?;
    let crd: CustomResourceDefinition = serde_yaml::from_str(&yaml)
        .with_context(|| format!("{} is not a CustomResourceDefinition", source.describe()))?;
    let name = crd.name_any();
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    api.patch(
        &name,
        &PatchParams::apply("doc-bench").force(),
        &Patch::Apply(&crd),
    )
    .await
    .with_context(|| format!("applying the CRD {name}"))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let crd = api
            .get(&name)
            .await
            .with_context(|| format!("reading the CRD {name}"))?;
        let established = crd
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            });
        if established {
            break;
        }
        if Instant::now() > deadline {
            bail!("the CRD {name} was not Established within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Established can come a moment before the REST endpoint answers: wait for a list to work.
    let docs: Api<DynamicObject> = Api::all_with(client.clone(), &documents_resource());
    loop {
        match docs.list(&kube::api::ListParams::default().limit(1)).await {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() > deadline => {
                return Err(e).context("listing Documents after installing the CRD");
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// The name of the `i`-th Document of a run.
pub fn doc_name(i: usize) -> String {
    format!("doc-{i:06}")
}

/// Creates Documents `0..n` in `namespace` with `hide: true, publish: false` and `content_bytes` of content.
pub async fn create_documents(
    client: &Client,
    namespace: &str,
    n: usize,
    content_bytes: usize,
) -> Result<()> {
    create_named(
        client,
        namespace,
        (0..n).map(doc_name).collect(),
        content_bytes,
        None,
    )
    .await
    .map(|_| ())
}

/// Creates Documents of these names (`hide: true, publish: false`, `content_bytes` of content, the finalizer
/// given already in place); returns each one's name and uid, in the order given.
pub async fn create_named(
    client: &Client,
    namespace: &str,
    names: Vec<String>,
    content_bytes: usize,
    finalizer: Option<&str>,
) -> Result<Vec<(String, String)>> {
    let api = documents(client, namespace);
    let content: String = "lorem ipsum dolor sit amet "
        .chars()
        .cycle()
        .take(content_bytes)
        .collect();
    stream::iter(names.into_iter().enumerate())
        .map(|(i, name)| {
            let api = api.clone();
            let content = content.clone();
            let mut metadata = json!({"name": name});
            if let Some(f) = finalizer {
                metadata["finalizers"] = json!([f]);
            }
            async move {
                let doc: DynamicObject = serde_json::from_value(json!({
                    "apiVersion": "kube.rs/v1",
                    "kind": "Document",
                    "metadata": metadata,
                    "spec": {"title": format!("Document {i}"), "content": content, "hide": true, "publish": false},
                }))
                .context("building a Document")?;
                let created = api
                    .create(&PostParams::default(), &doc)
                    .await
                    .with_context(|| format!("creating Document {namespace}/{name}"))?;
                anyhow::Ok((name, created.uid().unwrap_or_default()))
            }
        })
        .buffered(BULK_CONCURRENCY)
        .try_collect()
        .await
}

/// The size of one Document as the API server serves it (JSON), whole and without `metadata.managedFields`.
pub async fn document_size(client: &Client, namespace: &str, name: &str) -> Result<(usize, usize)> {
    let req = http::Request::get(format!(
        "/apis/kube.rs/v1/namespaces/{namespace}/documents/{name}"
    ))
    .body(Vec::new())
    .context("building a GET request")?;
    let text = client
        .request_text(req)
        .await
        .with_context(|| format!("reading Document {namespace}/{name}"))?;
    let mut doc: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("Document {name} is not JSON"))?;
    if let Some(meta) = doc.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        meta.remove("managedFields");
    }
    Ok((text.len(), serde_json::to_string(&doc)?.len()))
}

/// Deletes Documents `0..n` (each keeps existing until the controller removes its finalizer).
pub async fn delete_documents(client: &Client, namespace: &str, n: usize) -> Result<()> {
    let api = documents(client, namespace);
    stream::iter(0..n)
        .map(|i| {
            let api = api.clone();
            async move {
                let name = doc_name(i);
                match api.delete(&name, &DeleteParams::default()).await {
                    Ok(_) => Ok(()),
                    // Already gone: what deletion wanted.
                    Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
                    Err(e) => {
                        Err(e).with_context(|| format!("deleting Document {namespace}/{name}"))
                    }
                }
            }
        })
        .buffer_unordered(BULK_CONCURRENCY)
        .try_for_each(|_| async { Ok(()) })
        .await
}
