//! Start-up and shutdown of `doc-controller run`: the client, the HTTP endpoints, the preflight check of the
//! declared needs (`--preflight`), the Lease (leader election, or the replica's own Lease in the ring with
//! `--shards auto`: one code path), and the one place the controller starts ([`lead`]), in that order; then, on
//! SIGTERM, the controller drains, the Lease is released (a standby or the ring takes over at once) and the process
//! exits 0.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use prometheus_client::registry::Registry;
use tracing::{info, warn};

use kubewhy::retry::{RetryConfig, Schedule};
use kubewhy::trace::Inspector;
use kubewhy::watch::{AccessWatchdog, Health, Policy};

use crate::cli::{RunArgs, Shards};
use crate::controller;
use crate::http;
use crate::lease::{self, Elector, LeaseMeta, Role};
use crate::metrics::Metrics;
use crate::preflight;
use crate::readiness::Readiness;
use crate::shard::Ownership;
use crate::shard::metrics::ShardMetrics;
use crate::shard::ring::{self, Ring};
use crate::shard::select::ShardSelector;
use crate::shutdown::Shutdown;
use crate::telemetry::one_line;

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
    /// This replica lost its ring Lease: it stopped reconciling before the others could take its slots over.
    #[error("lost its place in the ring")]
    LostMembership(#[source] Box<lease::Lost>),
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
            Error::RenewalTask(_) => Some(
                "doc-controller exits so that a restart rejoins the election as a standby (another replica may be \
                 leading now)",
            ),
            Error::LostMembership(_) => Some(
                "doc-controller exits so that a restart rejoins the ring as a new member (the others have taken over \
                 its slots or will when its Lease expires)",
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
        ownership: Ownership,
        shard_selector: ShardSelector,
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
        let defaults = RetryConfig::default();
        Ok(controller::Settings {
            namespace: self.namespace.clone(),
            concurrency: self.concurrency,
            resync: self.resync,
            // --error-backoff-min/max bound the delays of failures that pass by themselves or are the Document's
            // own; failures someone must fix (forbidden, not served) never retry faster than kubewhy's 10 s.
            retry: RetryConfig {
                transient: Schedule {
                    initial: self.error_backoff_min,
                    max: self.error_backoff_max,
                },
                persistent: Schedule {
                    initial: defaults.persistent.initial.max(self.error_backoff_min),
                    max: self.error_backoff_max.max(defaults.persistent.initial),
                },
                ..defaults
            },
            initial_list: self.initial_list,
            shutdown_timeout: self.shutdown_timeout,
            instance: identity.to_string(),
            watch_timeout: self.watch_timeout,
            health,
            inspector,
            ownership,
            shard_selector,
            simulated_work: std::time::Duration::from_millis(self.simulated_work_ms),
        })
    }

    /// The Lease this replica holds, if any, and whether it is a ring member's: the leader-election Lease with
    /// `--leader-elect`, its own ring Lease with `--shards auto`.
    fn coordination(
        &self,
        name: &str,
        identity: &str,
        namespace: String,
    ) -> Result<Option<(lease::Settings, Option<ring::Settings>)>, Error> {
        let ring = match (self.shards, self.leader_elect) {
            (Shards::Auto, _) => Some(ring::Settings {
                ring: self.ring_name.clone(),
                namespace: namespace.clone(),
                name: name.to_string(),
                identity: identity.to_string(),
                duration: self.lease_duration,
                renew_deadline: self.lease_renew_deadline,
                retry_period: self.lease_retry_period,
                filter: self.shard_filter,
            }),
            (Shards::Off, true) => None,
            (Shards::Off, false) => return Ok(None),
        };
        let lease = match &ring {
            Some(ring) => ring.lease(),
            None => lease::Settings {
                name: self.lease_name.clone(),
                namespace,
                identity: identity.to_string(),
                duration: self.lease_duration,
                renew_deadline: self.lease_renew_deadline,
                retry_period: self.lease_retry_period,
            },
        };
        lease
            .validate()
            .map_err(|e| Error::Config(ConfigError::Lease(e)))?;
        Ok(Some((lease, ring)))
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
    let name = args.identity.clone().unwrap_or_else(lease::default_name);
    let identity = lease::process_identity(&name);
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
    let coordination = args.coordination(&name, &identity, lease_namespace(&args, &config))?;
    let sharded = coordination
        .as_ref()
        .is_some_and(|(_, ring)| ring.is_some());
    let ownership = if sharded {
        Ownership::sharded(ShardMetrics::register(&mut registry))
    } else {
        Ownership::everything()
    };
    let shard_selector = ShardSelector::default();
    // The inspector's layer records every request; with a ring, the shard layer (outermost, so the inspector
    // records the request as sent) adds `shardSelector` to the Documents watch.
    let builder = kube::client::ClientBuilder::try_from(config.clone())
        .map_err(|e| Error::Kubeconfig(ClientConfigError::Client(e)))?
        .with_layer(&inspector.layer());
    let client = if sharded {
        let group = <crate::Document as kube::Resource>::group(&());
        let plural = <crate::Document as kube::Resource>::plural(&());
        builder
            .with_layer(&shard_selector.layer(&group, &plural))
            .build()
    } else {
        builder.build()
    };
    // The recovery probes ask with the program's own client (as it, through the inspector).
    let health = Health::new(args.watch_policy())
        .with_metrics(api_metrics)
        .with_client(client.clone())
        .with_inspector(&inspector);
    // No watcher runs until this replica leads (or, without a Lease, until the preflight lets it start).
    health.declare(Vec::<String>::new());
    let settings = args.controller_settings(
        &identity,
        health.clone(),
        Some(inspector.clone()),
        ownership,
        shard_selector.clone(),
    )?;
    info!(
        server = %config.cluster_url,
        identity = %identity,
        leader_election = args.leader_elect,
        shards = ?args.shards,
        "doc-controller {} starting",
        env!("CARGO_PKG_VERSION")
    );

    let shutdown = Shutdown::new();
    shutdown.on_signals().map_err(Error::Signals)?;

    let metrics = Arc::new(Metrics::register(&mut registry));
    let readiness = health.checks();
    let leases = match &coordination {
        None => crate::needs::Leases::None,
        Some((lease, None)) => crate::needs::Leases::Election(&lease.namespace),
        Some((lease, Some(_))) => crate::needs::Leases::Ring(&lease.namespace),
    };
    let needs = crate::needs::needs_with(args.namespace.as_deref(), leases);
    let listener = http::bind(args.http_addr).await.map_err(Error::Http)?;
    let server_stop = Shutdown::new();
    let server = tokio::spawn(http::serve(
        listener,
        http::router(Arc::new(registry), health.clone()).merge(crate::debug::router(
            inspector.clone(),
            &needs,
            args.debug_access,
        )),
        server_stop.clone(),
    ));

    // Before leader election (which needs the Lease permissions it checks) and before any watcher starts.
    let preflight =
        preflight::at_start(&config, &needs, args.preflight, &readiness, &shutdown).await;
    let health_for_work = health.clone();
    let work = async move {
        // From here on, every declared permission is checked once a minute and after errors: a permission lost
        // while a watch is open shows within a minute, not at the watch's next reconnect.
        let _access = matches!(preflight, Ok(preflight::Decision::Start))
            .then(|| AccessWatchdog::start(&health_for_work, client.clone(), &needs));
        match (preflight, coordination) {
            (Err(why), _) => Err(Error::Preflight(why)),
            (Ok(preflight::Decision::ShutDown), _) => Ok(()),
            (Ok(preflight::Decision::Start), None) => {
                metrics.set_leader(true);
                finish(
                    lead(client, &settings, metrics, readiness, shutdown).await,
                    &settings,
                )
            }
            (Ok(preflight::Decision::Start), Some((lease_settings, ring))) => {
                elect_and_lead(
                    client,
                    lease_settings,
                    ring,
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

    server_stop.trigger("controller stopped");
    if let Err(e) = server.await {
        warn!(error = %e, "the HTTP server task ended abnormally");
    }
    if result.is_ok() {
        info!("doc-controller stopped cleanly");
    }
    result
}

fn finish(finished: bool, settings: &controller::Settings) -> Result<(), Error> {
    if finished {
        Ok(())
    } else {
        Err(Error::ShutdownTimeout(settings.shutdown_timeout))
    }
}

/// Holds a Lease while leading, one code path for both uses: with leader election, waits for leadership and leads
/// (every Document) until shutdown; with a ring (`ring`), holds the replica's own Lease and takes part in the ring,
/// which decides the Documents it leads. Then releases the Lease. A replica that loses its Lease abandons its running
/// reconciles a second before the Lease could expire for the others, so two replicas never act at once. A leader
/// that lost leadership (it cannot renew, say its RBAC lost `update` on Leases) says why in the log and `/readyz`
/// and stands by again: once the cause is fixed it takes part in the election without a restart. A ring member
/// that lost its Lease exits, to rejoin the ring as a new member.
async fn elect_and_lead(
    client: Client,
    lease_settings: lease::Settings,
    ring: Option<ring::Settings>,
    settings: &controller::Settings,
    metrics: Arc<Metrics>,
    readiness: Readiness,
    shutdown: Shutdown,
) -> Result<(), Error> {
    let lease_name = format!("{}/{}", lease_settings.namespace, lease_settings.name);
    let (check, role, meta) = match &ring {
        Some(ring) => (
            ring::CHECK,
            Role::Member { check: ring::CHECK },
            ring.meta(),
        ),
        None => (lease::CHECK, Role::Leader, LeaseMeta::default()),
    };
    readiness.not_ready(check, format!("trying to acquire Lease {lease_name}"));
    metrics.set_leader(false);
    let mut elector = Elector::new(client.clone(), lease_settings)
        .with_role(role)
        .with_meta(meta.clone())
        .with_health(settings.health.clone());
    loop {
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
                // The signal handler always gives a reason; a trigger without one still stops, under a plain name.
                stop.trigger(&shutdown.reason().unwrap_or_else(|| "shutting down".into()));
            })
        };
        // `lost` is pulled with `stop` when the Lease is lost (not on SIGTERM); `expires` says how long the Lease
        // stays valid for the others from then on.
        let lost = Shutdown::new();
        let (expires_tx, expires_rx) = tokio::sync::oneshot::channel::<std::time::Duration>();
        let renewal = {
            let (done, stop, lost, readiness) =
                (done.clone(), stop.clone(), lost.clone(), readiness.clone());
            tokio::spawn(async move {
                let held = elector.hold(&done, &readiness).await;
                if let Err(why) = &held {
                    // The receiver is gone only when the controller already stopped: nothing to cut short then.
                    let _stopped = expires_tx.send(why.expires_in());
                    let reason = format!("lost its Lease: {}", one_line(why));
                    lost.trigger(&reason);
                    stop.trigger(&reason);
                }
                (elector, held)
            })
        };
        let ring_task = ring.clone().map(|ring| {
            let ring = Ring::new(
                client.clone(),
                ring,
                settings.ownership.clone(),
                meta.clone(),
            );
            tokio::spawn(ring.run(readiness.clone(), stop.clone()))
        });

        let abandon = async {
            match expires_rx.await {
                // A second of margin: the others' clocks start when they see the last renewal.
                Ok(left) => {
                    tokio::time::sleep(left.saturating_sub(std::time::Duration::from_secs(1))).await
                }
                Err(_) => std::future::pending().await,
            }
        };
        let finished = tokio::select! {
            finished = lead(client.clone(), settings, metrics.clone(), readiness.clone(), stop.clone()) => finished,
            () = abandon => {
                warn!("abandoned the running reconciles: the Lease was lost and another replica may take over now");
                false
            }
        };
        // The controller is gone (drained, or dropped before the Lease could expire): no watcher runs now.
        settings.health.declare(Vec::<String>::new());
        done.trigger("controller stopped");
        forward.abort();
        metrics.set_leader(false);
        if let Some(task) = ring_task {
            // The ring stops with `stop`; it may be waiting for a reconcile that was abandoned.
            stop.trigger("controller stopped");
            task.abort();
            // Cancelled is what the abort asked for; a panic in the ring task before it is a bug worth a line.
            if let Err(e) = task.await
                && e.is_panic()
            {
                warn!(
                    "the sharding ring task panicked before it was stopped: {e}; leaving the ring anyway"
                );
            }
            let why = lost.reason().unwrap_or_else(|| "shutting down".into());
            ring::leave(&settings.ownership, &why).await;
        }
        let (returned, held) = renewal.await.map_err(Error::RenewalTask)?;
        elector = returned;
        let why = match held {
            Ok(()) => {
                match elector.release().await {
                    Ok(()) => {}
                    Err(e) => warn!(
                        error = %one_line(&e),
                        "could not release the Lease; a standby takes over when it expires instead"
                    ),
                }
                return finish(finished, settings);
            }
            Err(why) => why,
        };
        let said = match &why {
            lease::Lost::RenewFailed { source, .. } => {
                format!("{:#}", lease::diagnose(&lease_name, source))
            }
            other => one_line(other),
        };
        readiness.not_ready(check, format!("lost its Lease: {said}"));
        if !settings.ownership.is_everything() {
            return Err(Error::LostMembership(Box::new(why)));
        }
        warn!(
            lease = %lease_name,
            "lost leadership: {}: {said}; stopped reconciling before the Lease could expire; standing by",
            one_line(&why)
        );
        if shutdown.reason().is_some() {
            return finish(finished, settings);
        }
    }
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
