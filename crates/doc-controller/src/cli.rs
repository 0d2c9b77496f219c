//! The command line: one clap `Subcommand` per thing doc-controller does. Every `run` flag can also be set by an
//! environment variable (shown in `--help`), which is how the Deployment in `deploy/` configures it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::needs::{DEPLOY_NAMESPACE, NAME};
use crate::telemetry::LogFormat;

/// doc-controller: keeps Document resources (documents.kube.rs) in shape.
#[derive(Debug, Parser)]
#[command(
    name = "doc-controller",
    version,
    about = "A Kubernetes controller for Document resources (documents.kube.rs): it hides them, publishes them as \
             ConfigMaps and keeps their status up to date",
    long_about = "A Kubernetes controller for Document resources (documents.kube.rs).\n\n\
                  For each Document it records a HideRequested event when `spec.hide` is set, publishes the title and \
                  content as a ConfigMap of the same name when `spec.publish` is set (and repairs or removes that \
                  ConfigMap as needed), and reports what it did in `status` (`hidden`, `observedGeneration`, the \
                  `Ready` and `Published` conditions). Failures show up on the Document itself: a Ready=False \
                  condition whose reason is the failure's class (Forbidden, AdmissionDenied, Conflict...) and whose \
                  message is kubewhy's diagnosis (what failed, why, what to do, the request), and a Warning event \
                  saying the same.\n\n\
                  Quick start against your current kubectl context:\n  \
                  doc-controller crdgen | kubectl apply -f -\n  \
                  doc-controller run\n\n\
                  Logs go to standard error; choose which with --log-filter or RUST_LOG.",
    after_help = "Examples:\n  \
                  doc-controller run --namespace default          # one namespace, no leader election\n  \
                  doc-controller run --leader-elect --lease-namespace doc-controller\n  \
                  doc-controller rbac | kubectl apply -f -        # the RBAC doc-controller needs\n  \
                  RUST_LOG=debug doc-controller --log-format json run"
)]
pub struct Cli {
    /// How log lines look: `human` for people, `json` (one object per line) for log pipelines.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "human",
        env = "DOC_CONTROLLER_LOG_FORMAT"
    )]
    pub log_format: LogFormat,
    /// Which log lines to print, as `RUST_LOG`-style directives (`info,kubewhy=debug`). Targets match by prefix:
    /// `kube=warn` alone would also silence `kubewhy`, so keep `kubewhy=info` after it, as the default does.
    #[arg(
        long,
        global = true,
        value_name = "DIRECTIVES",
        env = "RUST_LOG",
        default_value = crate::telemetry::DEFAULT_FILTER
    )]
    pub log_filter: String,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// What doc-controller can do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the controller until SIGTERM or Ctrl-C.
    Run(RunArgs),
    /// Print the Document CustomResourceDefinition as YAML (`doc-controller crdgen | kubectl apply -f -`).
    Crdgen,
    /// Print the RBAC objects doc-controller needs, generated from its declared needs.
    Rbac(ScopeArgs),
    /// Print doc-controller's declared needs (what it uses of the API) as YAML, e.g. for `kubewhy check`.
    Needs(ScopeArgs),
    /// Check that everything doc-controller needs works on the cluster (CRD installed, every verb allowed,
    /// watches open), as yourself or `--as` another identity, and print the exact fix (`--fix`). Exit status:
    /// 0 every check passed, 1 a check failed, 2 the checks could not run.
    Doctor(DoctorArgs),
    /// Regenerate the generated files in `deploy/` (CRD, ServiceAccount, RBAC) and in the Helm chart (Chart.yaml,
    /// CRD, RBAC template), or check that they are current.
    GenDeploy(GenDeployArgs),
    /// Print the shell completion script: `source <(doc-controller completion bash)`.
    Completion {
        /// The shell to complete in.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages into a directory (for packagers).
    #[command(hide = true)]
    Man {
        /// The directory to write `doc-controller.1`, `doc-controller-run.1`, ... into (created when missing).
        #[arg(long, value_name = "DIR", default_value = ".")]
        dir: PathBuf,
    },
}

/// Flags of `run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Use this kubeconfig file. Without it: $KUBECONFIG, then ~/.kube/config, then the in-cluster ServiceAccount.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// Watch Documents in this namespace only (default: all namespaces, which needs a ClusterRole).
    #[arg(
        long,
        short = 'n',
        value_name = "NAMESPACE",
        env = "DOC_CONTROLLER_NAMESPACE"
    )]
    pub namespace: Option<String>,

    /// Reconcile at most this many Documents at the same time (never the same Document twice at once).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..), env = "DOC_CONTROLLER_CONCURRENCY")]
    pub concurrency: u16,

    /// Reconcile every Document at least this often, even without changes (e.g. 30s, 5m, 1h).
    #[arg(long, default_value = "5m", value_parser = parse_duration, env = "DOC_CONTROLLER_RESYNC")]
    pub resync: Duration,

    /// After a failed reconcile, retry the Document after this long; each further failure doubles the delay.
    #[arg(long, default_value = "1s", value_parser = parse_duration, env = "DOC_CONTROLLER_ERROR_BACKOFF_MIN")]
    pub error_backoff_min: Duration,

    /// The longest retry delay after failures (a random jitter of up to as much again is added).
    #[arg(long, default_value = "5m", value_parser = parse_duration, env = "DOC_CONTROLLER_ERROR_BACKOFF_MAX")]
    pub error_backoff_max: Duration,

    /// Serve /metrics, /healthz and /readyz on this address.
    #[arg(long, default_value = "0.0.0.0:8080", env = "DOC_CONTROLLER_HTTP_ADDR")]
    pub http_addr: SocketAddr,

    /// Who may read /debug/rbac (the API permissions this process used, as JSON, needs YAML and RBAC YAML) on the
    /// HTTP port.
    #[arg(
        long,
        value_enum,
        default_value = "loopback",
        env = "DOC_CONTROLLER_DEBUG_ACCESS"
    )]
    pub debug_access: crate::debug::DebugAccess,

    /// On SIGTERM, wait this long for running reconciles to finish before exiting anyway.
    #[arg(long, default_value = "25s", value_parser = parse_duration, env = "DOC_CONTROLLER_SHUTDOWN_TIMEOUT")]
    pub shutdown_timeout: Duration,

    /// Elect a leader among replicas with a Lease: only the leader reconciles, the others stand by. For one active
    /// replica with fast fail-over; to share the work between replicas, use --shards auto instead.
    #[arg(long, env = "DOC_CONTROLLER_LEADER_ELECT", conflicts_with = "shards")]
    pub leader_elect: bool,

    /// Share the Documents between replicas: `auto` joins the ring of replicas (one Lease each in
    /// --lease-namespace, labelled with --ring-name); each reconciles the Documents whose uid hashes into its slots
    /// and watches only those, and moves are handed over without any Document being reconciled by two replicas at
    /// once. `off` (the default) reconciles every Document (alone, or as the leader with --leader-elect).
    #[arg(long, value_enum, default_value = "off", env = "DOC_CONTROLLER_SHARDS")]
    pub shards: Shards,

    /// The ring's name with --shards auto: replicas with the same ring name and lease namespace share the work.
    #[arg(long, default_value = NAME, env = "DOC_CONTROLLER_RING_NAME")]
    pub ring_name: String,

    /// With --shards auto, who filters the Documents watch: `auto` asks the API server (`shardSelector`, served
    /// when its ShardedListAndWatch feature gate is on; detected on every poll of the ring) and filters on the client
    /// otherwise; `client` always filters on the client (every replica then receives every Document).
    #[arg(
        long,
        value_enum,
        default_value = "auto",
        env = "DOC_CONTROLLER_SHARD_FILTER"
    )]
    pub shard_filter: crate::shard::ring::Filter,

    /// The name of the leader-election Lease.
    #[arg(long, default_value = NAME, env = "DOC_CONTROLLER_LEASE_NAME")]
    pub lease_name: String,

    /// The namespace of the leader-election Lease, or of the ring's Leases with --shards auto (default: the pod's
    /// namespace in a cluster, else the kubeconfig context's namespace).
    #[arg(long, value_name = "NAMESPACE", env = "DOC_CONTROLLER_LEASE_NAMESPACE")]
    pub lease_namespace: Option<String>,

    /// A leader (or ring member) that stops renewing loses its Lease after this long (whole seconds).
    #[arg(long, default_value = "15s", value_parser = parse_duration, env = "DOC_CONTROLLER_LEASE_DURATION")]
    pub lease_duration: Duration,

    /// The leader (or ring member) stops when it could not renew its Lease for this long (less than the duration).
    #[arg(long, default_value = "10s", value_parser = parse_duration, env = "DOC_CONTROLLER_LEASE_RENEW_DEADLINE")]
    pub lease_renew_deadline: Duration,

    /// How often the leader renews the Lease and standbys try to take it (ring members renew theirs and read the
    /// ring).
    #[arg(long, default_value = "2s", value_parser = parse_duration, env = "DOC_CONTROLLER_LEASE_RETRY_PERIOD")]
    pub lease_retry_period: Duration,

    /// This replica's name: the pod name in a cluster (default: the host name). Its identity in Leases and on events
    /// is this name and a random per-process id, so a restarted process never inherits its predecessor's claim; with
    /// --shards auto its ring Lease is named after it, so a restarted pod gets its slots back.
    #[arg(long, env = "DOC_CONTROLLER_IDENTITY")]
    pub identity: Option<String>,

    /// What to do when the start-up check of the declared needs (CRD installed, every verb allowed, watches open)
    /// fails: `wait` stays not ready and checks again with back-off until it passes, logging the report on each
    /// change; `fail` exits 1 with the report (restart back-off and CrashLoopBackOff in a cluster); `warn` logs and
    /// starts anyway.
    #[arg(
        long,
        value_enum,
        default_value = "wait",
        env = "DOC_CONTROLLER_PREFLIGHT"
    )]
    pub preflight: crate::preflight::Mode,

    /// What to do when a watcher keeps failing for a reason that will not pass by itself (RBAC denies it, the
    /// CRD is missing, the credentials are rejected, the request options are invalid) for longer than
    /// --error-grace: `retry` keeps retrying with back-off and reports not ready (/readyz names the watcher and
    /// the diagnosis) until someone fixes it, with no restart needed; `exit` prints the full diagnosis and exits
    /// with a code naming the class: 10 forbidden, 11 unauthorized, 12 resource-not-found, 13 invalid-request,
    /// 14 admission-denied, 15 tls. Transient failures (connection, timeouts, 5xx, throttling) always retry.
    #[arg(
        long,
        value_name = "retry|exit",
        default_value = "retry",
        env = "DOC_CONTROLLER_ON_PERSISTENT_ERROR"
    )]
    pub on_persistent_error: kubewhy::watch::OnPersistent,

    /// How long a watcher may keep failing before doc-controller reports not ready (and, with
    /// --on-persistent-error=exit, exits). Each distinct cause is logged at once, then at most once a minute.
    #[arg(long, default_value = "30s", value_parser = parse_duration, env = "DOC_CONTROLLER_ERROR_GRACE")]
    pub error_grace: Duration,

    /// Each watch request ends after this many seconds and is renewed (it is also when a watch first notices
    /// that RBAC no longer allows it). kube's default is 290.
    #[arg(long, default_value_t = 290, value_parser = clap::value_parser!(u32).range(1..), env = "DOC_CONTROLLER_WATCH_TIMEOUT")]
    pub watch_timeout: u32,

    /// Benchmark knob: each reconcile first waits this many milliseconds, as if it called a slow external
    /// dependency (doc-bench's scale-out scenario uses it to show what sharding buys when the work is
    /// latency-bound). 0, the default, waits nothing; not for production.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = 0,
        env = "DOC_CONTROLLER_SIMULATED_WORK_MS"
    )]
    pub simulated_work_ms: u64,
    /// How the watchers list at start: `stream` (one watch that sends every object, then a mark: no pages held in
    /// memory; needs the WatchList feature, on by default since Kubernetes 1.32), `paged` (a LIST in pages of 500,
    /// then a watch), or `auto`: stream when the API server can, else page (said once in the log and in
    /// `kubewhy_watcher_initial_list`).
    #[arg(long, default_value = "auto", env = "DOC_CONTROLLER_INITIAL_LIST")]
    pub initial_list: kubewhy::watch::InitialList,

    /// Log every Kubernetes API request as a copy-paste `curl` command, like `kubectl -v=9`, with the bearer
    /// token, client keys and Secret bodies redacted (target `kubewhy::trace`, level INFO).
    #[arg(long, env = "KUBEWHY_LOG_CURL")]
    pub log_requests: bool,
}

/// Whether replicas share the Documents (`--shards`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shards {
    /// Every Document is reconciled by this replica (or by the leader, with --leader-elect).
    Off,
    /// Join the ring of replicas and reconcile a share of the Documents.
    Auto,
}

/// Which configuration `rbac` and `needs` describe.
#[derive(Debug, Clone, Args)]
pub struct ScopeArgs {
    /// The namespace of doc-controller's ServiceAccount (the subject of the bindings).
    #[arg(long, default_value = DEPLOY_NAMESPACE)]
    pub service_account_namespace: String,
    /// The name of doc-controller's ServiceAccount.
    #[arg(long, default_value = NAME)]
    pub service_account_name: String,
    /// Describe a controller that watches only this namespace (`run --namespace`).
    #[arg(long, short = 'n')]
    pub namespace: Option<String>,
    /// The namespace of the leader-election Lease.
    #[arg(long, default_value = DEPLOY_NAMESPACE)]
    pub lease_namespace: String,
    /// Describe a controller running without `--leader-elect` (no Lease permissions).
    #[arg(long, conflicts_with = "shards")]
    pub no_leader_election: bool,
    /// Describe a controller running with `--shards auto` (its ring's Leases are listed too).
    #[arg(long, value_enum, default_value = "off")]
    pub shards: Shards,
}

impl ScopeArgs {
    /// The needs of this configuration.
    pub fn needs(&self) -> kubewhy::needs::Needs {
        let leases = match (self.shards, self.no_leader_election) {
            (Shards::Auto, _) => crate::needs::Leases::Ring(&self.lease_namespace),
            (Shards::Off, false) => crate::needs::Leases::Election(&self.lease_namespace),
            (Shards::Off, true) => crate::needs::Leases::None,
        };
        crate::needs::needs_with(self.namespace.as_deref(), leases)
    }

    /// The subject the RBAC binds.
    pub fn subject(&self) -> kubewhy::rbac::Subject {
        kubewhy::rbac::Subject::ServiceAccount {
            namespace: self.service_account_namespace.clone(),
            name: self.service_account_name.clone(),
        }
    }
}

/// Flags of `doctor`.
#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    /// Which configuration to check (its needs differ with `--namespace` and leader election).
    #[command(flatten)]
    pub scope: ScopeArgs,
    /// Use this kubeconfig file. Without it: $KUBECONFIG, then ~/.kube/config, then the in-cluster ServiceAccount.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Check this user's access instead of yours (needs `create` on SubjectAccessReviews or `impersonate`).
    #[arg(
        long = "as",
        value_name = "USER",
        conflicts_with = "as_service_account"
    )]
    pub as_user: Option<String>,
    /// Check as doc-controller's ServiceAccount (`--service-account-namespace`, `--service-account-name`).
    #[arg(long)]
    pub as_service_account: bool,
    /// A group of the `--as` user (repeatable).
    #[arg(long = "as-group", value_name = "GROUP")]
    pub as_groups: Vec<String>,
    /// Print the fix (the RBAC that grants exactly what is missing, the CRD install command) on standard output,
    /// ready for `kubectl apply -f -`; the report then goes to standard error.
    #[arg(long)]
    pub fix: bool,
    /// The report format.
    #[arg(long, short = 'o', value_enum, default_value = "text")]
    pub output: kubewhy::render::Format,
    /// List every passing check in the text report (default: passes are counted per kind).
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Instead of the checks, compare what the identity is granted with what doc-controller needs: missing, in
    /// excess, and the score used ÷ granted (exit 1 when something is missing).
    #[arg(long, conflicts_with = "fix")]
    pub rbac_diff: bool,
    /// With `--rbac-diff`, also exit 1 when something is granted beyond the needs.
    #[arg(long, requires = "rbac_diff")]
    pub fail_on_excess: bool,
}

/// Flags of `gen-deploy`.
#[derive(Debug, Clone, Args)]
pub struct GenDeployArgs {
    /// The `deploy/` directory of the repository.
    #[arg(long, default_value = "deploy")]
    pub dir: PathBuf,
    /// The Helm chart's directory.
    #[arg(long, default_value = "charts/doc-controller")]
    pub chart_dir: PathBuf,
    /// Only check: exit 1 and name the stale files when they differ from what the code generates.
    #[arg(long)]
    pub check: bool,
}

/// Reads a duration: a number and a unit, `ms`, `s`, `m` or `h` (`500ms`, `10s`, `1.5m`, `2h`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let help = "write a number and a unit: 500ms, 10s, 5m or 1h";
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration ({help})"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        "" => return Err(format!("{text:?} has no unit ({help})")),
        other => return Err(format!("{other:?} in {text:?} is not a unit ({help})")),
    };
    Duration::try_from_secs_f64(seconds)
        .map_err(|e| format!("{text:?} is not a usable duration: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("1.5m").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert!(parse_duration("10").unwrap_err().contains("no unit"));
        assert!(parse_duration("10d").unwrap_err().contains("not a unit"));
        assert!(
            parse_duration("fast")
                .unwrap_err()
                .contains("not a duration")
        );
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from([
            "doc-controller",
            "run",
            "--namespace",
            "a",
            "--resync",
            "1s",
        ])
        .unwrap();
        let Command::Run(run) = cli.command else {
            panic!("{cli:?}")
        };
        assert_eq!(run.namespace.as_deref(), Some("a"));
        assert_eq!(run.resync, Duration::from_secs(1));
        assert!(!run.leader_elect);
        assert_eq!(run.shards, Shards::Off);
        assert!(
            Cli::try_parse_from([
                "doc-controller",
                "run",
                "--leader-elect",
                "--shards",
                "auto"
            ])
            .is_err(),
            "leader election and sharding are exclusive"
        );
    }
}
