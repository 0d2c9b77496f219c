//! Start-up and shutdown of `doc-controller run`: the client, the HTTP endpoints, the preflight check of the
//! declared needs (`--preflight`), leader election, and the one place the controller starts ([`lead`]), in that
//! order; then, on SIGTERM, the controller drains, the Lease is released and the process exits 0.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use prometheus_client::registry::Registry;
use tracing::{info, warn};

use kubewhy::trace::Inspector;
use kubewhy::watch::{Health, Policy};

use crate::cli::RunArgs;
use crate::controller;
use crate::http;
use crate::lease::{self, Elector};
use crate::metrics::Metrics;
use crate::preflight;
use crate::readiness::Readiness;
use crate::reconcile::describe;
use crate::shutdown::Shutdown;

/// Why `run` stopped with a failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag or environment variable makes no sense.
    #[error("invalid configuration")]
    Config(#[source] ConfigError),
    /// No usable Kubernetes configuration.
    #[error("no usable Kubernetes configuration")]
    Kubeconfig(#[source] ClientConfigError),
    /// The HTTP endpoints could not start.
    #[error(transparent)]
    Http(http::BindError),
    /// Signal handlers could not be installed.
    #[error("installing the SIGTERM/SIGINT handlers failed")]
    Signals(#[source] std::io::Error),
    /// This replica lost the Lease while leading.
    #[error("lost leadership")]
    LostLeadership(#[source] lease::Lost),
    /// The task renewing the Lease ended abnormally while this replica was leading.
    #[error("lost leadership: the Lease renewal task failed")]
    RenewalTask(#[source] tokio::task::JoinError),
    /// The start-up check of the declared needs failed and `--preflight=fail` was given.
    #[error("the preflight check failed")]
    Preflight(#[source] preflight::StartError),
    /// A watcher kept failing for a persistent reason past `--error-grace` with `--on-persistent-error=exit`.
    #[error("{0}")]
    Persistent(Box<kubewhy::Diagnosis>),
    /// Running reconciles did not finish within `--shutdown-timeout`.
    #[error(
        "running reconciles did not finish within the shutdown timeout ({0:?}); they were abandoned"
    )]
    ShutdownTimeout(std::time::Duration),
}

impl Error {
    /// What to do about it, when there is more to say than the error and its causes (printed after them).
    pub fn help(&self) -> Option<&'static str> {
        match self {
            Error::Kubeconfig(_) => Some(
                "set KUBECONFIG or pass --kubeconfig, or run inside a cluster with a ServiceAccount",
            ),
            Error::Http(_) => Some("choose another address with --http-addr"),
            Error::LostLeadership(_) | Error::RenewalTask(_) => Some(
                "doc-controller exits so that a restart rejoins the election as a standby (another replica may be \
                 leading now)",
            ),
            Error::Preflight(_) => Some(
                "`doc-controller doctor --fix | kubectl apply -f -` (run as an admin, with `--as-service-account` or \
                 `--as`) grants what is missing; `--preflight=wait` waits for it instead",
            ),
            Error::Config(_)
            | Error::Signals(_)
            | Error::Persistent(_)
            | Error::ShutdownTimeout(_) => None,
        }
    }
}

/// A flag or environment variable of `run` that makes no sense.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The error back-off bounds are out of order.
    #[error(
        "--error-backoff-min ({min:?}) must be above zero and at most --error-backoff-max ({max:?})"
    )]
    ErrorBackoff {
        /// `--error-backoff-min`.
        min: std::time::Duration,
        /// `--error-backoff-max`.
        max: std::time::Duration,
    },
    /// `--resync` is zero.
    #[error("--resync must be above zero")]
    Resync,
    /// The leader-election durations do not fit together.
    #[error(transparent)]
    Lease(lease::SettingsError),
}

/// Why no client configuration could be had.
#[derive(Debug, thiserror::Error)]
pub enum ClientConfigError {
    /// The `--kubeconfig` file could not be read.
    #[error("reading {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// The `--kubeconfig` file could not be used.
    #[error("using {}", path.display())]
    Use {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: kube::config::KubeconfigError,
    },
    /// Neither `$KUBECONFIG`, `~/.kube/config` nor the in-cluster ServiceAccount gave a configuration.
    #[error(transparent)]
    Infer(kube::config::InferConfigError),
    /// The configuration could not be turned into a client (TLS material, proxy, headers).
    #[error(transparent)]
    Client(kube::Error),
}

impl RunArgs {
    /// The controller's settings.
    pub fn controller_settings(
        &self,
        identity: &str,
        health: Health,
        inspector: Option<Inspector>,
    ) -> Result<controller::Settings, Error> {
        if self.error_backoff_min.is_zero() || self.error_backoff_max < self.error_backoff_min {
            return Err(Error::Config(ConfigError::ErrorBackoff {
                min: self.error_backoff_min,
                max: self.error_backoff_max,
            }));
        }
        if self.resync.is_zero() {
            return Err(Error::Config(ConfigError::Resync));
        }
        Ok(controller::Settings {
            namespace: self.namespace.clone(),
            concurrency: self.concurrency,
            resync: self.resync,
            error_backoff_min: self.error_backoff_min,
            error_backoff_max: self.error_backoff_max,
            shutdown_timeout: self.shutdown_timeout,
            instance: identity.to_string(),
            watch_timeout: self.watch_timeout,
            health,
            inspector,
        })
    }

    /// kubewhy's error policy for the watchers: back-off and log interval as in a cluster, the grace period and
    /// what happens after it from the flags.
    pub fn watch_policy(&self) -> Policy {
        Policy {
            on_persistent: self.on_persistent_error,
            grace: self.error_grace,
            ..Policy::in_cluster()
        }
    }
}

/// Loads the client configuration: `--kubeconfig`, else kube's usual inference.
async fn kube_config(path: Option<&Path>) -> Result<Config, ClientConfigError> {
    match path {
        Some(path) => {
            let kubeconfig =
                Kubeconfig::read_from(path).map_err(|source| ClientConfigError::Read {
                    path: path.to_path_buf(),
                    source,
                })?;
            Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(|source| ClientConfigError::Use {
                    path: path.to_path_buf(),
                    source,
                })
        }
        None => Config::infer().await.map_err(ClientConfigError::Infer),
    }
}

/// The Lease's namespace: `--lease-namespace`, else the pod's namespace, else the kubeconfig's.
fn lease_namespace(args: &RunArgs, config: &Config) -> String {
    const IN_CLUSTER: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
    if let Some(ns) = &args.lease_namespace {
        return ns.clone();
    }
    match std::fs::read_to_string(IN_CLUSTER) {
        Ok(ns) if !ns.trim().is_empty() => ns.trim().to_string(),
        _ => config.default_namespace.clone(),
    }
}

/// Runs the controller until SIGTERM/SIGINT (graceful: exit 0) or a failure.
pub async fn run(args: RunArgs) -> Result<(), Error> {
    let identity = args
        .identity
        .clone()
        .unwrap_or_else(lease::default_identity);
    let config = kube_config(args.kubeconfig.as_deref())
        .await
        .map_err(Error::Kubeconfig)?;
    let mut registry = Registry::default();
    // kubewhy's metrics (API requests by verb/resource/code, watcher errors/up/synced/last event) beside ours.
    let api_metrics = kubewhy::metrics::Metrics::default();
    api_metrics.register(&mut registry);
    let inspector = Inspector::new(&config).with_metrics(api_metrics.clone());
    if args.log_requests {
        inspector.set_curl(true);
    }
    let health = Health::new(args.watch_policy()).with_metrics(api_metrics);
    let settings = args.controller_settings(&identity, health.clone(), Some(inspector.clone()))?;
    let lease_settings = if args.leader_elect {
        let s = lease::Settings {
            name: args.lease_name.clone(),
            namespace: lease_namespace(&args, &config),
            identity: identity.clone(),
            duration: args.lease_duration,
            renew_deadline: args.lease_renew_deadline,
            retry_period: args.lease_retry_period,
        };
        s.validate()
            .map_err(|e| Error::Config(ConfigError::Lease(e)))?;
        Some(s)
    } else {
        None
    };
    info!(
        server = %config.cluster_url,
        identity = %identity,
        leader_election = args.leader_elect,
        "doc-controller {} starting",
        env!("CARGO_PKG_VERSION")
    );
    let client = inspector
        .client(config.clone())
        .map_err(|e| Error::Kubeconfig(ClientConfigError::Client(e)))?;

    let shutdown = Shutdown::new();
    shutdown.on_signals().map_err(Error::Signals)?;

    let metrics = Arc::new(Metrics::register(&mut registry));
    let readiness = Readiness::default();
    let watchers_readiness = tokio::spawn(report_watchers(health.clone(), readiness.clone()));
    let needs = crate::needs::needs_for(
        args.namespace.as_deref(),
        lease_settings.as_ref().map(|l| l.namespace.as_str()),
    );
    let listener = http::bind(args.http_addr).await.map_err(Error::Http)?;
    let server_stop = Shutdown::new();
    let server = tokio::spawn(http::serve(
        listener,
        http::router(Arc::new(registry), readiness.clone()).merge(crate::debug::router(
            inspector.clone(),
            &needs,
            args.debug_access,
        )),
        server_stop.clone(),
    ));

    // Before leader election (which needs the Lease permissions it checks) and before any watcher starts.
    let preflight =
        preflight::at_start(&config, &needs, args.preflight, &readiness, &shutdown).await;
    let work = async move {
        match (preflight, lease_settings) {
            (Err(why), _) => Err(Error::Preflight(why)),
            (Ok(preflight::Decision::ShutDown), _) => Ok(()),
            (Ok(preflight::Decision::Start), None) => {
                metrics.set_leader(true);
                finish(
                    lead(client, &settings, metrics, readiness, shutdown).await,
                    &settings,
                )
            }
            (Ok(preflight::Decision::Start), Some(lease_settings)) => {
                elect_and_lead(
                    client,
                    lease_settings,
                    &settings,
                    metrics,
                    readiness,
                    shutdown,
                )
                .await
            }
        }
    };
    let result = tokio::select! {
        result = work => result,
        diagnosis = health.fatal() => Err(Error::Persistent(Box::new(diagnosis))),
    };
    watchers_readiness.abort();

    server_stop.trigger("controller stopped");
    if let Err(e) = server.await {
        warn!(error = %e, "the HTTP server task ended abnormally");
    }
    if result.is_ok() {
        info!("doc-controller stopped cleanly");
    }
    result
}

/// The `watchers` readiness check: not ready while any watcher has been failing past the grace period (or has
/// not completed its first list), naming the watcher and the diagnosis.
async fn report_watchers(health: Health, readiness: Readiness) {
    let mut interval = tokio::time::interval(std::time::Duration::from_millis(500));
    loop {
        interval.tick().await;
        match health.readiness() {
            // No watcher yet (starting, or a standby that never starts one): other checks say why not ready,
            // and a check of ours reported now would make an empty start-up look ready.
            Ok(()) if health.snapshot().is_empty() => {}
            Ok(()) => readiness.ready(WATCHERS_CHECK, "every watcher is healthy"),
            Err(problems) => {
                let why = problems
                    .iter()
                    .map(|p| format!("{}: {}", p.watcher, p.reason))
                    .collect::<Vec<_>>()
                    .join("; ");
                readiness.not_ready(WATCHERS_CHECK, why);
            }
        }
    }
}

/// The readiness check the watchers report.
pub const WATCHERS_CHECK: &str = "watchers";

fn finish(finished: bool, settings: &controller::Settings) -> Result<(), Error> {
    if finished {
        Ok(())
    } else {
        Err(Error::ShutdownTimeout(settings.shutdown_timeout))
    }
}

/// Waits for leadership, leads until shutdown or until leadership is lost, then releases the Lease.
async fn elect_and_lead(
    client: Client,
    lease_settings: lease::Settings,
    settings: &controller::Settings,
    metrics: Arc<Metrics>,
    readiness: Readiness,
    shutdown: Shutdown,
) -> Result<(), Error> {
    let lease_name = format!("{}/{}", lease_settings.namespace, lease_settings.name);
    readiness.not_ready(
        lease::CHECK,
        format!("trying to acquire Lease {lease_name}"),
    );
    metrics.set_leader(false);
    let mut elector = Elector::new(client.clone(), lease_settings);
    if !elector.acquire(&readiness, &shutdown).await {
        info!("shut down while standing by");
        return Ok(());
    }
    metrics.set_leader(true);

    // `stop` stops the controller: on SIGTERM, or when leadership is lost.
    let stop = Shutdown::new();
    // `done` tells the renewal loop the controller has stopped (the leader keeps renewing while it drains).
    let done = Shutdown::new();
    let forward = {
        let (shutdown, stop) = (shutdown.clone(), stop.clone());
        tokio::spawn(async move {
            shutdown.wait().await;
            stop.trigger(&shutdown.reason().unwrap_or_default());
        })
    };
    let renewal = {
        let (done, stop) = (done.clone(), stop.clone());
        tokio::spawn(async move {
            let held = elector.hold(&done).await;
            if let Err(why) = &held {
                stop.trigger(&format!("lost leadership: {}", describe(why)));
            }
            (elector, held)
        })
    };

    let finished = lead(client, settings, metrics.clone(), readiness.clone(), stop).await;
    done.trigger("controller stopped");
    forward.abort();
    metrics.set_leader(false);
    let (mut elector, held) = renewal.await.map_err(Error::RenewalTask)?;
    if let Err(why) = held {
        readiness.not_ready(lease::CHECK, format!("lost leadership: {}", describe(&why)));
        return Err(Error::LostLeadership(why));
    }
    match elector.release().await {
        Ok(()) => {}
        Err(e) => warn!(
            error = %describe(&e),
            "could not release the Lease; a standby takes over when it expires instead"
        ),
    }
    finish(finished, settings)
}

/// The one place the controller starts (this replica leads, or runs alone). Returns whether running reconciles
/// finished in time after `stop`.
pub async fn lead(
    client: Client,
    settings: &controller::Settings,
    metrics: Arc<Metrics>,
    readiness: Readiness,
    stop: Shutdown,
) -> bool {
    controller::run(client, settings, metrics, readiness, stop).await
}
