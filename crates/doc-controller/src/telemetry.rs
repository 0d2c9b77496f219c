//! Logs: `tracing` with `RUST_LOG`-style filters, printed to standard error for people (`human`) or as one JSON
//! object per line for log pipelines (`json`). Each reconcile is a span carrying the Document's namespace and name,
//! so every line it logs says which Document it is about. Colours only on a terminal, and never with `NO_COLOR`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Readable lines with the span's fields (`reconcile{namespace=default name=lorem}: ...`).
    Human,
    /// One JSON object per line, with the current span's fields under `span`.
    Json,
}

/// The filter used when neither `--log-filter` nor `RUST_LOG` is given: doc-controller and kubewhy at info, kube's
/// own warnings. (`kube=warn` alone would also silence `kubewhy`: filter targets match by prefix.) `--help`,
/// `deploy/`, the Helm chart and the README all defer to this one value.
///
/// Whatever the filter, kube-rs's own lines about failures kubewhy reports are left out
/// ([`kubewhy::watch::KUBE_LOG_FILTER`]: kube-runtime's watcher warnings on every retry, kube-client's ERROR line
/// per failed request, its `eof in poll`), unless the filter names their targets itself: kubewhy reports every
/// one of those failures, diagnosed and once per cause.
pub const DEFAULT_FILTER: &str = "info,kube=warn,kube_runtime::watcher=error,kubewhy=info";

/// Installs the global subscriber with `filter` (`--log-filter` / `RUST_LOG`; empty means [`DEFAULT_FILTER`]) and
/// kubewhy's filter of kube-rs's own failure lines. Fails on an invalid filter, saying which directive is wrong.
pub fn init(format: LogFormat, filter: &str) -> Result<(), String> {
    let filter = match filter.trim() {
        "" => EnvFilter::new(kubewhy::watch::with_kube_log_filter(DEFAULT_FILTER)),
        spec => EnvFilter::try_new(kubewhy::watch::with_kube_log_filter(spec)).map_err(|e| {
            format!(
                "--log-filter / RUST_LOG {spec:?} is not a valid log filter: {e} (example: info,kubewhy=debug)"
            )
        })?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_span_events(FmtSpan::NONE);
    let result = match format {
        LogFormat::Human => {
            let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            builder.with_target(false).with_ansi(color).try_init()
        }
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    result.map_err(|e| format!("installing the log subscriber failed: {e}"))
}

/// An error on one line, for a log field or a readiness answer: when a failed API request (or a failure kubewhy
/// diagnosed already) is in its chain, the error's own message and kubewhy's one-line diagnosis of that failure —
/// never kube's raw `ApiError: … (ErrorResponse { … })`; otherwise kubewhy's chain on one line (repeats left out).
pub fn one_line(err: &(dyn std::error::Error + 'static)) -> String {
    let diagnosable = kubewhy::chain::find::<kube::Error>(err).is_some()
        || kubewhy::chain::find::<kubewhy::Diagnosed>(err).is_some();
    if !diagnosable {
        return kubewhy::chain::one_line(err);
    }
    let d = kubewhy::diagnose_error(err);
    if err.is::<kube::Error>() || err.is::<kubewhy::Diagnosed>() {
        format!("{d:#}")
    } else {
        format!("{err}: {d:#}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[derive(Debug, thiserror::Error)]
    #[error("updating Lease ns/l failed")]
    struct Update(#[source] kube::Error);

    #[test]
    fn an_api_failure_in_a_chain_is_its_diagnosis_not_kube_s_raw_text() {
        let status = kube::core::Status::failure(
            "leases.coordination.k8s.io \"l\" is forbidden: User \"u\" cannot update resource \"leases\" in API group \
             \"coordination.k8s.io\" in the namespace \"ns\"",
            "Forbidden",
        )
        .with_code(403);
        let line = one_line(&Update(kube::Error::Api(status.boxed())));
        assert!(
            line.starts_with(
                "updating Lease ns/l failed: error[forbidden]: user `u` cannot `update`"
            ),
            "{line}"
        );
        assert!(!line.contains("ErrorResponse"), "{line}");
        assert_eq!(
            one_line(&std::io::Error::other("disk on fire")),
            "disk on fire"
        );
    }

    /// One default log filter for every way of deploying: no manifest under `deploy/` sets `RUST_LOG` (a
    /// `kube=warn` there silenced kubewhy's own lines in `deploy/sharded/`, targets matching by prefix), and the
    /// chart sets it only from `log.filter`, empty by default.
    #[test]
    fn every_deployment_leaves_the_log_filter_to_the_default() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut manifests = Vec::new();
        let mut dirs = vec![root.join("deploy")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("reading deploy/") {
                let path = entry.expect("a directory entry of deploy/").path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "yaml") {
                    manifests.push(path);
                }
            }
        }
        assert!(
            manifests
                .iter()
                .any(|p| p.ends_with("sharded/statefulset.yaml")),
            "deploy/sharded/statefulset.yaml is among {manifests:?}"
        );
        for path in &manifests {
            let text = std::fs::read_to_string(path).expect("reading a manifest");
            assert!(
                !text.contains("name: RUST_LOG"),
                "{} sets RUST_LOG: leave it to doc-controller's default filter ({})",
                path.display(),
                super::DEFAULT_FILTER
            );
        }
        let values = std::fs::read_to_string(root.join("charts/doc-controller/values.yaml"))
            .expect("reading the chart's values");
        let filter = values
            .lines()
            .skip_while(|l| *l != "log:")
            .map(str::trim)
            .find_map(|l| l.strip_prefix("filter:"))
            .expect("the chart's values have log.filter");
        assert!(
            matches!(filter.trim(), "" | "\"\"" | "''"),
            "the chart's default log.filter is {filter:?}: leave it empty for doc-controller's default"
        );
    }
}
