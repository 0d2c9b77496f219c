//! The kubewhy CLI's own speed: `kubewhy explain` throughput on a large generated log beside `grep -c` on the same
//! file, and `kubewhy check` wall time for 50 needs beside one SelfSubjectAccessReview round trip and beside 50
//! sequential `kubectl auth can-i` calls. Each step is skipped, with the reason in the report, when the `kubewhy`
//! binary or the subcommand is not there yet.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};
use kubewhy::needs::{Needs, ResourceType};
use kubewhy::rbac::Verb;
use serde::Serialize;

use crate::stats;

/// `kubewhy explain` against `grep -c`.
#[derive(Debug, Clone, Serialize)]
pub struct Explain {
    /// Bytes in the log.
    pub bytes: u64,
    /// Lines in the log.
    pub lines: u64,
    /// Lines holding an API failure.
    pub error_lines: u64,
    /// `kubewhy explain` wall seconds (median of the runs).
    pub explain_s: Option<f64>,
    /// Its throughput, MB/s.
    pub explain_mb_per_s: Option<f64>,
    /// `grep -c` wall seconds.
    pub grep_s: f64,
    /// Its throughput, MB/s.
    pub grep_mb_per_s: f64,
    /// What grep counted.
    pub grep_count: u64,
    /// Why `kubewhy explain` was not measured.
    pub skipped: Option<String>,
}

/// `kubewhy check` against SSAR and kubectl.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Needs in the file.
    pub needs: usize,
    /// `kubewhy check` wall seconds (median of 3).
    pub check_s: Option<f64>,
    /// One SelfSubjectAccessReview round trip, ms (median of 5 on a warm connection).
    pub ssar_ms: f64,
    /// 50 sequential `kubectl auth can-i`, seconds.
    pub kubectl_s: Option<f64>,
    /// Why `kubewhy check` was not measured.
    pub skipped: Option<String>,
    /// Why kubectl was not measured.
    pub kubectl_skipped: Option<String>,
}

/// The kubewhy binary, if it has `sub` (`explain`, `check`).
fn kubewhy(root: &Path, sub: &str) -> Result<PathBuf, String> {
    let bin = root.join("target/release/kubewhy");
    if !bin.is_file() {
        return Err(format!(
            "{} does not exist (build it with `cargo build --release -p kubewhy-cli`)",
            bin.display()
        ));
    }
    match Command::new(&bin).args([sub, "--help"]).output() {
        Ok(o) if o.status.success() => Ok(bin),
        Ok(o) => Err(format!(
            "`kubewhy {sub} --help` failed ({}), so `kubewhy {sub}` is not ready: {}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .next()
                .unwrap_or("")
        )),
        Err(e) => Err(format!("could not run {}: {e}", bin.display())),
    }
}

/// Writes a realistic controller log of about `bytes` bytes: kube-rs and client-go lines, request traces, and one
/// API failure (403, 404, 409, 422, 429, TLS, connection refused) in about every 2,000 lines.
pub fn generate_log(path: &Path, bytes: u64) -> Result<(u64, u64, u64)> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = BufWriter::with_capacity(1 << 20, file);
    let (mut written, mut lines, mut errors) = (0u64, 0u64, 0u64);
    let mut i: u64 = 0;
    while written < bytes {
        i += 1;
        let (h, m, s, us) = (
            (i / 3_600_000) % 24,
            (i / 60_000) % 60,
            (i / 1000) % 60,
            (i * 7919) % 1_000_000,
        );
        let ns = format!("team-{}", i % 37);
        let doc = format!("doc-{:06}", i % 100_000);
        let line = if i.is_multiple_of(2000) {
            errors += 1;
            error_line(i, h, m, s, us, &ns, &doc)
        } else {
            match i % 5 {
                0 => format!(
                    "2026-11-25T{h:02}:{m:02}:{s:02}.{us:06}Z  INFO reconcile{{namespace=\"{ns}\" name=\"{doc}\" generation={}}}: doc_controller::reconcile: reconciled action=Requeue(300s)\n",
                    i % 9 + 1
                ),
                1 => format!(
                    "2026-11-25T{h:02}:{m:02}:{s:02}.{us:06}Z DEBUG HTTP{{http.method=PATCH http.url=https://10.96.0.1/apis/kube.rs/v1/namespaces/{ns}/documents/{doc}/status?&force=true&fieldManager=doc-controller otel.name=\"patch_status\" otel.kind=\"client\"}}: kube_client::client::builder: requesting\n"
                ),
                2 => format!(
                    "I1125 {h:02}:{m:02}:{s:02}.{us:06}       1 controller.go:{} \"Reconciling\" controller=\"document\" namespace=\"{ns}\" name=\"{doc}\" reconcileID=\"{:08x}-4f1c-9a2e-{:012x}\"\n",
                    100 + i % 300,
                    i.wrapping_mul(2654435761) & 0xffff_ffff,
                    i
                ),
                3 => format!(
                    "I1125 {h:02}:{m:02}:{s:02}.{us:06}       1 round_trippers.go:632] \"Response\" verb=\"GET\" url=\"https://10.96.0.1/api/v1/namespaces/{ns}/configmaps/{doc}\" status=\"200 OK\" milliseconds={}\n",
                    i % 40
                ),
                _ => format!(
                    "2026-11-25T{h:02}:{m:02}:{s:02}.{us:06}Z  INFO doc_controller::http: GET /metrics 200 {}us\n",
                    100 + i % 900
                ),
            }
        };
        w.write_all(line.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        written += line.len() as u64;
        lines += 1;
    }
    w.flush()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok((written, lines, errors))
}

fn error_line(i: u64, h: u64, m: u64, s: u64, us: u64, ns: &str, doc: &str) -> String {
    let sa = format!("system:serviceaccount:{ns}:doc-controller");
    match (i / 2000) % 7 {
        0 => format!(
            "2026-11-25T{h:02}:{m:02}:{s:02}.{us:06}Z  WARN kube_runtime::watcher: watcher error: Api(Status {{ status: Some(Failure), code: 403, message: \"documents.kube.rs is forbidden: User \\\"{sa}\\\" cannot watch resource \\\"documents\\\" in API group \\\"kube.rs\\\" at the cluster scope\", reason: \"Forbidden\", details: Some(StatusDetails {{ name: \"\", group: \"kube.rs\", kind: \"documents\", uid: \"\", causes: [], retry_after_seconds: 0 }}), metadata: ListMeta {{ .. }} }})\n"
        ),
        1 => format!(
            "E1125 {h:02}:{m:02}:{s:02}.{us:06}       1 reflector.go:205] \"Failed to watch\" err=\"failed to list *v1.ConfigMap: configmaps is forbidden: User \\\"{sa}\\\" cannot list resource \\\"configmaps\\\" in API group \\\"\\\" in the namespace \\\"{ns}\\\"\" logger=\"UnhandledError\" reflector=\"pkg/mod/k8s.io/client-go@v0.36.3/tools/cache/reflector.go:205\" type=\"*v1.ConfigMap\"\n"
        ),
        2 => format!(
            "2026-11-25T{h:02}:{m:02}:{s:02}.{us:06}Z ERROR reconcile{{namespace=\"{ns}\" name=\"{doc}\"}}: doc_controller: reconcile failed: ApiError: documents.kube.rs \"{doc}\" not found: NotFound (ErrorResponse {{ status: \"Failure\", message: \"documents.kube.rs \\\"{doc}\\\" not found\", reason: \"NotFound\", code: 404 }})\n"
        ),
        3 => format!(
            "E1125 {h:02}:{m:02}:{s:02}.{us:06}       1 controller.go:316] \"Reconciler error\" err=\"Operation cannot be fulfilled on documents.kube.rs \\\"{doc}\\\": the object has been modified; please apply your changes to the latest version and try again\" controller=\"document\" namespace=\"{ns}\" name=\"{doc}\"\n"
        ),
        4 => format!(
            "2026-11-25T{h:02}:{m:02}:{s:02}.{us:06}Z  WARN doc_controller::reconcile: reconcile failed; retrying with back-off namespace=\"{ns}\" name=\"{doc}\" class=\"invalid-object\" error=\"writing the Document's status failed: Document.kube.rs \\\"{doc}\\\" is invalid: spec.title: Invalid value: \\\"\\\": spec.title in body should be at least 1 chars long (422 Invalid)\"\n"
        ),
        5 => format!(
            "E1125 {h:02}:{m:02}:{s:02}.{us:06}       1 reflector.go:205] \"Failed to watch\" err=\"failed to list *v1.Document: Get \\\"https://10.96.0.1:443/apis/kube.rs/v1/documents?limit=500&resourceVersion=0\\\": dial tcp 10.96.0.1:443: connect: connection refused\"\n"
        ),
        _ => format!(
            "2026-11-25T{h:02}:{m:02}:{s:02}.{us:06}Z  WARN kube_client::client: Unsuccessful data error parse: Too many requests, please try again later. (429 TooManyRequests) url=https://10.96.0.1/apis/kube.rs/v1/namespaces/{ns}/documents/{doc}\n"
        ),
    }
}

/// Measures `kubewhy explain` and `grep -c` on a log of about `bytes` bytes (generated once and kept in `dir`).
pub fn explain(root: &Path, dir: &Path, bytes: u64, runs: usize) -> Result<Explain> {
    let path = dir.join(format!("explain-{}.log", bytes));
    let (written, lines, error_lines) =
        if path.is_file() && std::fs::metadata(&path)?.len() >= bytes {
            count_log(&path)?
        } else {
            eprintln!(
                "doc-bench: generating a {} MB log at {}",
                bytes / 1_000_000,
                path.display()
            );
            generate_log(&path, bytes)?
        };
    let mb = written as f64 / 1e6;
    // grep first: it also warms the page cache for kubewhy.
    let mut grep_times = Vec::new();
    let mut grep_count = 0;
    for _ in 0..runs.max(1) + 1 {
        let t = Instant::now();
        let out = Command::new("grep")
            .args([
                "-c",
                "-E",
                "forbidden|not found|cannot be fulfilled|Too many|refused|Invalid value",
            ])
            .arg(&path)
            .output()
            .context("running grep")?;
        grep_times.push(t.elapsed().as_secs_f64());
        grep_count = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0);
    }
    grep_times.remove(0); // the first read fills the page cache
    let grep_s = stats::spread(grep_times.iter().map(|t| Some(*t)))
        .map(|s| s.median)
        .unwrap_or(0.0);
    let mut result = Explain {
        bytes: written,
        lines,
        error_lines,
        explain_s: None,
        explain_mb_per_s: None,
        grep_s,
        grep_mb_per_s: mb / grep_s,
        grep_count,
        skipped: None,
    };
    let bin = match kubewhy(root, "explain") {
        Ok(bin) => bin,
        Err(why) => {
            eprintln!("doc-bench: skipping `kubewhy explain`: {why}");
            result.skipped = Some(why);
            return Ok(result);
        }
    };
    let mut times = Vec::new();
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let out = Command::new(&bin)
            .args(["explain", "--color", "never"])
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .context("running `kubewhy explain`")?;
        let elapsed = t.elapsed().as_secs_f64();
        // Exit 0: nothing found; 1: diagnoses printed; 2: it could not run.
        if !matches!(out.status.code(), Some(0 | 1)) {
            bail!(
                "`kubewhy explain {}` failed ({}): {}",
                path.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        times.push(elapsed);
    }
    let s = stats::spread(times.iter().map(|t| Some(*t))).map(|s| s.median);
    result.explain_s = s;
    result.explain_mb_per_s = s.map(|s| mb / s);
    Ok(result)
}

fn count_log(path: &Path) -> Result<(u64, u64, u64)> {
    use std::io::BufRead;
    let f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let (mut bytes, mut lines, mut errors) = (0, 0, 0);
    for line in std::io::BufReader::with_capacity(1 << 20, f).lines() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        bytes += line.len() as u64 + 1;
        lines += 1;
        if line.contains("WARN kube_runtime::watcher: watcher error")
            || line.starts_with('E')
            || line.contains("ERROR")
            || line.contains("retrying with back-off")
            || line.contains("Unsuccessful data error")
        {
            errors += 1;
        }
    }
    Ok((bytes, lines, errors))
}

/// 50 needs: ten resource types times five verbs, each need one verb (so one `kubectl auth can-i` each).
pub fn fifty_needs() -> Needs {
    let types = [
        ("", "v1", "configmaps", "ConfigMap"),
        ("", "v1", "secrets", "Secret"),
        ("", "v1", "pods", "Pod"),
        ("", "v1", "services", "Service"),
        ("", "v1", "serviceaccounts", "ServiceAccount"),
        ("apps", "v1", "deployments", "Deployment"),
        ("apps", "v1", "statefulsets", "StatefulSet"),
        ("batch", "v1", "jobs", "Job"),
        ("kube.rs", "v1", "documents", "Document"),
        ("coordination.k8s.io", "v1", "leases", "Lease"),
    ];
    let verbs = [
        Verb::Get,
        Verb::List,
        Verb::Watch,
        Verb::Create,
        Verb::Patch,
    ];
    let mut needs = Needs::new("doc-bench-fifty");
    for (group, version, resource, kind) in types {
        for verb in verbs {
            needs = needs.verbs(
                ResourceType::new(group, version, resource, kind, true),
                Some("default"),
                [verb],
            );
        }
    }
    needs
}

/// Measures `kubewhy check`, one SSAR and 50 `kubectl auth can-i` against a running control plane.
pub async fn check(root: &Path, dir: &Path, cp: &kubewhy_testenv::ControlPlane) -> Result<Check> {
    let needs = fifty_needs();
    let file = dir.join("fifty-needs.yaml");
    std::fs::write(&file, needs.to_yaml().context("writing the needs as YAML")?)
        .with_context(|| format!("writing {}", file.display()))?;
    let client = cp.admin().await.context("an admin client")?;
    let api: Api<SelfSubjectAccessReview> = Api::all(client);
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some("list".into()),
                resource: Some("configmaps".into()),
                namespace: Some("default".into()),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    let mut ssar = Vec::new();
    for _ in 0..6 {
        let t = Instant::now();
        api.create(&PostParams::default(), &review)
            .await
            .context("a SelfSubjectAccessReview")?;
        ssar.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ssar.remove(0); // the first opens the connection
    let mut result = Check {
        needs: needs.needs.len(),
        check_s: None,
        ssar_ms: stats::spread(ssar.iter().map(|t| Some(*t)))
            .map(|s| s.median)
            .unwrap_or(0.0),
        kubectl_s: None,
        skipped: None,
        kubectl_skipped: None,
    };

    let kubeconfig = cp.kubeconfig();
    let t = Instant::now();
    let mut kubectl_ok = true;
    for need in &needs.needs {
        let verb = need
            .verbs
            .iter()
            .next()
            .map(|v| v.to_string())
            .unwrap_or_default();
        let what = if need.resource.group.is_empty() {
            need.resource.resource.clone()
        } else {
            format!("{}.{}", need.resource.resource, need.resource.group)
        };
        match Command::new("kubectl")
            .args([
                "auth",
                "can-i",
                &verb,
                &what,
                "-n",
                "default",
                "--kubeconfig",
            ])
            .arg(kubeconfig)
            .output()
        {
            // 0: yes, 1: no; both are answers.
            Ok(o) if matches!(o.status.code(), Some(0 | 1)) => {}
            Ok(o) => {
                result.kubectl_skipped = Some(format!(
                    "`kubectl auth can-i {verb} {what}` failed ({}): {}",
                    o.status,
                    String::from_utf8_lossy(&o.stderr).trim()
                ));
                kubectl_ok = false;
                break;
            }
            Err(e) => {
                result.kubectl_skipped = Some(format!("could not run kubectl: {e}"));
                kubectl_ok = false;
                break;
            }
        }
    }
    if kubectl_ok {
        result.kubectl_s = Some(t.elapsed().as_secs_f64());
    }

    let bin = match kubewhy(root, "check") {
        Ok(bin) => bin,
        Err(why) => {
            eprintln!("doc-bench: skipping `kubewhy check`: {why}");
            result.skipped = Some(why);
            return Ok(result);
        }
    };
    let mut times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let out = Command::new(&bin)
            .args(["check", "--needs"])
            .arg(&file)
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .context("running `kubewhy check`")?;
        if !matches!(out.status.code(), Some(0 | 1)) {
            bail!(
                "`kubewhy check --needs {}` failed ({}): {}",
                file.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        times.push(t.elapsed().as_secs_f64());
    }
    result.check_s = stats::spread(times.iter().map(|t| Some(*t))).map(|s| s.median);
    Ok(result)
}
