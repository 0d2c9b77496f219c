//! The watcher stream extension: names a watcher, diagnoses each of its errors (with the exact request that failed,
//! when an [`Inspector`] recorded it), logs each distinct cause once per interval with a repeat count — one line
//! per cause for all of a program's watchers and reconciles — (WARN when it is persistent, when the watch stalled,
//! or when it outlasts the grace period), backs off across relists but goes again as soon as a recovery probe
//! says the cause is gone, treats a relist after `410 Gone` as the recovery it is, and keeps the [`Health`]
//! registry and metrics current. Items pass through unchanged, errors included, so it fits in front of a reflector
//! or a `Controller::for_stream`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use kube::runtime::watcher;

use crate::cause::Cause;
use crate::diagnosis::{Class, Diagnosis};
use crate::rbac::NearMisses;

/// What explains a denial by the bindings that come closest: [`NearMisses::explain`], behind a function made where a
/// program asks for it ([`Watch::near_misses`]) — a program that does not pays nothing for reading RBAC objects,
/// not even in its binary's size.
#[derive(Clone)]
struct Explainer(
    Arc<dyn Fn(Diagnosis) -> futures::future::BoxFuture<'static, Diagnosis> + Send + Sync>,
);

impl std::fmt::Debug for Explainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NearMisses")
    }
}
use crate::trace::{Failed, Inspector, recorded};

use super::backoff::Backoff;
use super::health::Health;
use super::policy::counts_at_once;

/// After a relist that follows failures, how long the watch must stay quiet (no error) to count as recovered.
const SETTLE: Duration = Duration::from_secs(1);

/// A watcher's identity and where it reports.
#[derive(Clone, Debug)]
pub struct Watch {
    name: String,
    health: Health,
    inspector: Option<Inspector>,
    install: Option<String>,
    near_misses: Option<Explainer>,
    /// Streaming lists turned out not to work for this watcher (`InitialList::Auto` lists in pages from then on).
    paged_only: Arc<AtomicBool>,
}

impl Watch {
    /// A watcher named `name` (use the resource it watches, e.g. `documents.kube.rs`) reporting to `health`.
    pub fn new(name: impl Into<String>, health: &Health) -> Watch {
        let name = name.into();
        health.register(&name);
        Watch {
            name,
            health: health.clone(),
            inspector: None,
            install: None,
            near_misses: None,
            paged_only: Arc::default(),
        }
    }

    /// Explains denials by the bindings that come closest, when the client behind `near_misses` may read the RBAC
    /// objects (it says once when it may not).
    pub fn near_misses(mut self, near_misses: &Arc<NearMisses>) -> Watch {
        let near_misses = near_misses.clone();
        self.near_misses = Some(Explainer(Arc::new(move |mut d: Diagnosis| {
            let near_misses = near_misses.clone();
            Box::pin(async move {
                near_misses.explain(&mut d).await;
                d
            })
        })));
        self
    }

    /// How to install the watched type (e.g. `doc-controller crdgen | kubectl apply -f -`): the first fix offered
    /// when it is not served (`resource-not-found`).
    pub fn install_command(mut self, command: impl Into<String>) -> Watch {
        self.install = Some(command.into());
        self
    }

    /// Matches errors to the requests an [`Inspector`] recorded, so diagnoses carry the URL and verb.
    pub fn inspector(mut self, inspector: &Inspector) -> Watch {
        self.inspector = Some(inspector.clone());
        self
    }

    /// The watcher's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The health registry it reports to.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Whether streaming lists turned out not to work for this watcher (it lists in pages from then on).
    pub fn paged_only(&self) -> bool {
        self.paged_only.load(Ordering::Relaxed)
    }

    pub(super) fn set_paged_only(&self) {
        self.paged_only.store(true, Ordering::Relaxed);
    }

    /// Diagnoses one watcher error, with the failed request when known; the step that failed is kept (a watch
    /// denied after its list succeeded is told apart, kube#1132).
    pub fn diagnose(&self, err: &watcher::Error) -> Diagnosis {
        self.diagnose_in(err, None)
    }

    /// [`Watch::diagnose`] with the failures of the requests the failing poll made (see [`recorded`]).
    fn diagnose_in(&self, err: &watcher::Error, failed: Option<&Failed>) -> Diagnosis {
        let kube_err = match err {
            watcher::Error::InitialListFailed(e)
            | watcher::Error::WatchStartFailed(e)
            | watcher::Error::WatchFailed(e) => Some(e),
            watcher::Error::WatchError(_) | watcher::Error::NoResourceVersion => None,
        };
        let request = kube_err.and_then(|e| match failed {
            Some(failed) => failed.request_for(e),
            None => self.inspector.as_ref().and_then(|i| i.request_for(e)),
        });
        let mut diagnosis = crate::diagnose_watcher_in(err, request.as_ref());
        match &self.inspector {
            Some(inspector) => inspector.annotate(&mut diagnosis),
            None => self.health.annotate(&mut diagnosis),
        }
        if let (Cause::NotServed(not_served), Some(install)) = (&mut diagnosis.cause, &self.install)
        {
            not_served.install = Some(install.clone());
        }
        diagnosis
    }
}

/// Extension for watcher streams.
///
/// ```no_run
/// # async fn demo(client: kube::Client) {
/// use futures::StreamExt;
/// use kube::runtime::{watcher, WatchStreamExt};
/// use kubewhy::watch::{Health, Policy, Watch, WatchStreamDiagnoseExt};
/// let health = Health::new(Policy::in_cluster()).with_client(client.clone()); // probes cut back-off waits
/// let pods: kube::Api<k8s_openapi::api::core::v1::Pod> = kube::Api::all(client);
/// let mut events = watcher(pods, watcher::Config::default())
///     .diagnosed(Watch::new("pods", &health))   // diagnosed, logged once per cause, backed off
///     .applied_objects()
///     .boxed();
/// while let Some(pod) = events.next().await { /* errors still arrive here, already reported */ }
/// # }
/// ```
pub trait WatchStreamDiagnoseExt<K>:
    Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Sized
{
    /// Diagnoses, reports and backs off this watcher's errors (see the module docs).
    fn diagnosed(
        self,
        watch: Watch,
    ) -> BoxStream<'static, Result<watcher::Event<K>, watcher::Error>>
    where
        Self: Send + 'static,
        K: Send + 'static,
    {
        let state = State {
            inner: self.boxed(),
            backoff: Backoff::new(watch.health.policy().backoff),
            watch,
            wait: None,
            last_failure: None,
        };
        futures::stream::unfold(state, |mut state| async move {
            if let Some((delay, fixed)) = state.wait.take() {
                match fixed {
                    Some(fixed) => {
                        tokio::select! {
                            () = tokio::time::sleep(delay) => {}
                            () = fixed => {}
                        }
                    }
                    None => tokio::time::sleep(delay).await,
                }
            }
            loop {
                if state.last_failure.is_none() {
                    let (item, failed) = recorded(state.inner.next()).await;
                    let item = item?;
                    let diagnosis = state.diagnosis(&item, &failed).await;
                    state.handle(&item, diagnosis);
                    return Some((item, state));
                }
                // Failing: a retried watch that succeeds may stay quiet for minutes, so look for quiet too.
                match tokio::time::timeout(SETTLE, recorded(state.inner.next())).await {
                    Ok((item, failed)) => {
                        let item = item?;
                        let diagnosis = state.diagnosis(&item, &failed).await;
                        state.handle(&item, diagnosis);
                        return Some((item, state));
                    }
                    Err(_quiet) => {
                        if state.quiet_means_recovered() {
                            state.recovered(false);
                        }
                    }
                }
            }
        })
        .boxed()
    }
}

impl<K, S> WatchStreamDiagnoseExt<K> for S where
    S: Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Sized
{
}

type Fixed = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

struct State<K> {
    inner: BoxStream<'static, Result<watcher::Event<K>, watcher::Error>>,
    watch: Watch,
    backoff: Backoff,
    /// Before the next poll: the back-off, cut short when a probe finds the cause gone.
    wait: Option<(Duration, Option<Fixed>)>,
    /// While failing: when the last error came and the path of the request that failed.
    last_failure: Option<(Instant, Option<String>)>,
}

impl<K> State<K> {
    /// The diagnosis of an error item, with its near miss when there is one. The item is not held across the
    /// wait (its objects need not be `Sync`).
    fn diagnosis(
        &self,
        item: &Result<watcher::Event<K>, watcher::Error>,
        failed: &Failed,
    ) -> impl Future<Output = Option<Diagnosis>> + Send + 'static {
        let diagnosis = item
            .as_ref()
            .err()
            .map(|err| self.watch.diagnose_in(err, Some(failed)));
        let near = self.watch.near_misses.clone();
        async move {
            let diagnosis = diagnosis?;
            Some(match near {
                Some(near) => (near.0)(diagnosis).await,
                None => diagnosis,
            })
        }
    }

    fn handle(
        &mut self,
        item: &Result<watcher::Event<K>, watcher::Error>,
        diagnosis: Option<Diagnosis>,
    ) {
        match (item, diagnosis) {
            (Ok(event), _) => self.event(event),
            (Err(_), Some(diagnosis)) => self.error(diagnosis),
            (Err(err), None) => self.error(self.watch.diagnose(err)),
        }
    }

    fn event(&mut self, event: &watcher::Event<K>) {
        let synced_now = matches!(event, watcher::Event::InitDone);
        let live = matches!(event, watcher::Event::Apply(_) | watcher::Event::Delete(_));
        if self.last_failure.is_some() && !live {
            // A relist after failures proves little (a denied watch fails right after it): wait for quiet.
            self.watch.health.progress(&self.watch.name, synced_now);
            return;
        }
        self.recovered(synced_now);
    }

    /// After a failure, the stream has been quiet for [`SETTLE`]: with an inspector, recovered only if the
    /// failed request has since succeeded (the retried watch got its 200); without one, quiet is the evidence.
    fn quiet_means_recovered(&self) -> bool {
        match (&self.last_failure, &self.watch.inspector) {
            (Some((at, Some(path))), Some(inspector)) => inspector.succeeded_since(path, *at),
            _ => true,
        }
    }

    fn recovered(&mut self, synced_now: bool) {
        self.last_failure = None;
        if let Some((errors, failed_for)) = self.watch.health.success(&self.watch.name, synced_now)
        {
            // A permission the access watchdog found denied may be back: readiness follows at once.
            self.watch.health.recheck_access_now();
            tracing::info!(
                target: "kubewhy::watch",
                watcher = %self.watch.name, errors, failed_for_s = failed_for.as_secs(),
                "watcher {} recovered after {errors} error(s) over {:.0?}", self.watch.name, failed_for
            );
        }
    }

    fn error(&mut self, diagnosis: Diagnosis) {
        let now = Instant::now();
        if diagnosis.class == Class::Expired {
            // `410 Gone`: the watch's resourceVersion is too old (after a restart of the API server, a CRD
            // reinstalled, a long disconnection); the watcher lists again now. That is recovery, not a failure:
            // no back-off, and the diagnosis of what went before (if anything) stays.
            tracing::debug!(
                target: "kubewhy::watch", watcher = %self.watch.name,
                "{diagnosis:#}; the watcher lists again"
            );
            return;
        }
        if !super::report::is_server_wide(&diagnosis.cause) {
            // A denial, a missing type: has the program lost a permission? (A connection failure says nothing.)
            self.watch.health.recheck_access();
        }
        let path = diagnosis
            .request
            .url
            .as_deref()
            .map(|u| u.split('?').next().unwrap_or(u).to_string());
        self.last_failure = Some((now, path));
        let failing_for = self.watch.health.failure(&self.watch.name, &diagnosis);
        let delay = self.backoff.failure(now);
        let fixed = self
            .watch
            .health
            .fixed(&diagnosis)
            .map(|f| Box::pin(f) as Fixed);
        let probed = fixed.is_some();
        self.wait = Some((delay, fixed));

        let Some(repeated) = self.watch.health.due(&diagnosis) else {
            tracing::debug!(target: "kubewhy::watch", watcher = %self.watch.name, "{diagnosis:#} (reported already)");
            return;
        };
        let policy = self.watch.health.policy();
        let text = report(
            &self.watch.name,
            &diagnosis,
            repeated,
            failing_for,
            delay,
            probed,
        );
        let r = &diagnosis.request;
        macro_rules! emit {
            ($level:expr) => {
                tracing::event!(
                    target: "kubewhy::watch", $level,
                    watcher = %self.watch.name,
                    class = %diagnosis.class,
                    cause = diagnosis.cause.kind(),
                    code = diagnosis.code.unwrap_or(0),
                    verb = r.verb.as_deref().unwrap_or(""),
                    resource = r.resource.as_deref().unwrap_or(""),
                    namespace = r.namespace.as_deref().unwrap_or(""),
                    user = diagnosis.user.as_deref().unwrap_or(""),
                    url = r.url.as_deref().unwrap_or(""),
                    audit_id = r.audit_id.as_deref().unwrap_or(""),
                    repeated,
                    "{text}"
                )
            };
        }
        if counts_at_once(&diagnosis.cause) || failing_for >= policy.grace {
            emit!(tracing::Level::WARN);
        } else {
            emit!(tracing::Level::INFO);
        }
    }
}

/// The log line's text: what failed, why, what to do (the diagnosis's one-line form), how often, and when the
/// watcher goes again.
fn report(
    name: &str,
    d: &Diagnosis,
    repeated: u64,
    failing_for: Duration,
    delay: Duration,
    probed: bool,
) -> String {
    let mut text = format!("watcher {name} failing: {d:#}");
    if repeated > 0 {
        text.push_str(&format!(
            "; {repeated} more failure(s) of this cause since the last report"
        ));
    }
    text.push_str(&format!(
        "; failing for {}s, retrying in {:.1}s",
        failing_for.as_secs(),
        delay.as_secs_f64()
    ));
    if probed {
        text.push_str(" or as soon as a probe finds the cause gone");
    }
    text
}
