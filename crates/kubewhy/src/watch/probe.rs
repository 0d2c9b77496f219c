//! Recovery probes: a cheap question that tells when a failure's cause is gone, asked about once a second while
//! something waits for it — so a watcher in back-off or a reconcile waiting out an outage goes again as soon as the
//! API server answers, the CRD is served or the permission is back, not when a back-off that grew during the outage
//! runs out (issue 11, items 8 and 11).
//!
//! | cause | question | cost while it lasts |
//! |---|---|---|
//! | the server is unreachable, overloaded or restarting | `GET /readyz` answers 200 (or 401/403: it answers) | 1 request/s |
//! | the type is not served | `GET /apis/<group>/<version>` lists the resource | 1 request/s |
//! | a permission is denied | a SelfSubjectAccessReview allows it | 1 request/2 s |
//! | the credentials are not accepted | a SelfSubjectReview succeeds | 1 request/2 s |
//!
//! One probe runs per distinct question however many wait for it, and stops when nobody waits any more.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

use super::backoff::jittered;
use super::report::{Logged, Reporter};
use crate::cause::Cause;
use crate::diagnosis::{Class, Diagnosis, Request};
use crate::review::{Reviewer, review};

/// A question whose answer says a cause is gone.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Probe {
    /// The API server answers and is ready.
    ServerReady,
    /// The group version serves the resource.
    Served {
        /// `kube.rs/v1`, or `v1` for the core group.
        api_version: String,
        /// The plural.
        resource: String,
    },
    /// The caller may do this.
    Allowed {
        /// verb, group, resource, subresource, namespace.
        target: [Option<String>; 5],
    },
    /// The caller's credentials are accepted.
    Authenticated,
}

impl Probe {
    /// The probe that tells when `d`'s cause is gone, if there is one.
    pub(crate) fn for_diagnosis(d: &Diagnosis) -> Option<Probe> {
        let r = &d.request;
        match &d.cause {
            Cause::Connection { .. }
            | Cause::NoAnswer { .. }
            | Cause::ServerTimeout
            | Cause::Unavailable
            | Cause::ServerFailed
            | Cause::LeaderChanged
            | Cause::Reinitializing { .. }
            | Cause::StalledWatch { .. } => Some(Probe::ServerReady),
            Cause::NotServed(_) => {
                let resource = r.resource.clone()?;
                let version = r.version.clone()?;
                let api_version = match r.group.as_deref() {
                    None | Some("") => version,
                    Some(g) => format!("{g}/{version}"),
                };
                Some(Probe::Served {
                    api_version,
                    resource,
                })
            }
            Cause::Denied(_) if r.verb.is_some() && r.resource.is_some() => Some(Probe::Allowed {
                target: [
                    r.verb.clone(),
                    r.group.clone(),
                    r.resource.clone(),
                    r.subresource.clone(),
                    r.namespace.clone(),
                ],
            }),
            Cause::Unauthenticated { .. } => Some(Probe::Authenticated),
            _ => None,
        }
    }

    fn interval(&self) -> Duration {
        match self {
            Probe::ServerReady | Probe::Served { .. } => Duration::from_secs(1),
            Probe::Allowed { .. } | Probe::Authenticated => Duration::from_secs(2),
        }
    }

    /// Asks once: is the cause gone?
    async fn ask(&self, client: &kube::Client) -> bool {
        match self {
            Probe::ServerReady => {
                // `send`, which every request goes through anyway: the status is the answer, the body is not read
                // (`request_text` would add its own copy of the request path to a program's binary).
                let request = http::Request::get("/readyz").body(kube::client::Body::empty());
                match request {
                    Ok(request) => client.send(request).await.is_ok_and(|r| {
                        // It answers; what it allows (401, 403) is another matter.
                        r.status().is_success() || matches!(r.status().as_u16(), 401 | 403)
                    }),
                    Err(_) => false,
                }
            }
            Probe::Served {
                api_version,
                resource,
            } => {
                let list = if api_version.contains('/') {
                    client.list_api_group_resources(api_version).await
                } else {
                    client.list_core_api_resources(api_version).await
                };
                list.is_ok_and(|l| l.resources.iter().any(|r| &r.name == resource))
            }
            Probe::Allowed { target } => {
                let [verb, group, resource, subresource, namespace] = target.clone();
                let request = Request {
                    verb,
                    group,
                    resource,
                    subresource,
                    namespace,
                    ..Request::default()
                };
                review(client, &Reviewer::Caller, &request)
                    .await
                    .is_ok_and(|a| a.allowed)
            }
            Probe::Authenticated => crate::review::whoami(client).await.is_ok(),
        }
    }
}

type Running = Arc<Mutex<HashMap<Probe, watch::Sender<bool>>>>;

/// The probes of one program (one client), shared.
#[derive(Clone)]
pub(crate) struct Prober {
    /// Set once a program gives its client ([`super::Health::with_client`]); shared by every clone of the registry.
    client: Arc<Mutex<Option<kube::Client>>>,
    running: Running,
    reporter: Arc<Reporter>,
}

impl Probe {
    /// Whether a logged cause (and its target) is one this probe found gone.
    fn covers(&self, logged: Logged<'_>, target: &[Option<String>; 6]) -> bool {
        match (self, logged) {
            (Probe::ServerReady, Logged::ServerWide(class)) => matches!(
                class,
                Class::Connection | Class::Timeout | Class::ServerError | Class::Throttled
            ),
            (Probe::Served { resource, .. }, Logged::Cause(cause)) => {
                matches!(cause, Cause::NotServed(_)) && target[2].as_ref() == Some(resource)
            }
            (Probe::Allowed { target: t }, Logged::Cause(cause)) => {
                matches!(cause, Cause::Denied(_)) && target[..5] == t[..]
            }
            (Probe::Authenticated, Logged::ServerWide(class)) => class == Class::Unauthorized,
            _ => false,
        }
    }

    /// What the probe found, for the log.
    fn found(&self) -> String {
        match self {
            Probe::ServerReady => "the API server answers again (`GET /readyz`)".into(),
            Probe::Served {
                api_version,
                resource,
            } => format!("`{resource}` is served again in `{api_version}`"),
            Probe::Allowed { target } => format!(
                "`{}` on `{}` is allowed again",
                target[0].as_deref().unwrap_or("?"),
                match (&target[2], &target[3]) {
                    (Some(r), Some(s)) => format!("{r}/{s}"),
                    (Some(r), None) => r.clone(),
                    _ => "?".into(),
                }
            ),
            Probe::Authenticated => "the API server accepts the client's credentials again".into(),
        }
    }
}

impl std::fmt::Debug for Prober {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prober")
            .field("client", &self.client().is_some())
            .finish_non_exhaustive()
    }
}

impl Prober {
    pub(crate) fn new(client: Option<kube::Client>, reporter: Arc<Reporter>) -> Prober {
        Prober {
            client: Arc::new(Mutex::new(client)),
            running: Running::default(),
            reporter,
        }
    }

    pub(crate) fn client(&self) -> Option<kube::Client> {
        self.client
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Probes with `client` from now on.
    pub(crate) fn set_client(&self, client: kube::Client) {
        *self.client.lock().unwrap_or_else(PoisonError::into_inner) = Some(client);
    }

    /// Probes with `client` when it has none.
    pub(crate) fn set_client_if_none(&self, client: &kube::Client) {
        self.client
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_with(|| client.clone());
    }

    /// Resolves once `probe` says its cause is gone; never without a client.
    pub(crate) fn fixed(&self, probe: Probe) -> impl Future<Output = ()> + Send + 'static {
        let rx = self.client().map(|client| {
            let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
            match running.get(&probe) {
                Some(tx) => tx.subscribe(),
                None => {
                    let (tx, rx) = watch::channel(false);
                    running.insert(probe.clone(), tx.clone());
                    tokio::spawn(ask_until_fixed(
                        probe,
                        client,
                        tx,
                        self.running.clone(),
                        self.reporter.clone(),
                    ));
                    rx
                }
            }
        });
        async move {
            match rx {
                Some(mut rx) => {
                    if rx.wait_for(|fixed| *fixed).await.is_err() {
                        // The probe ended without an answer (nobody else waited): keep waiting for the back-off.
                        std::future::pending::<()>().await;
                    }
                }
                None => std::future::pending::<()>().await,
            }
        }
    }
}

async fn ask_until_fixed(
    probe: Probe,
    client: kube::Client,
    tx: watch::Sender<bool>,
    running: Running,
    reporter: Arc<Reporter>,
) {
    let started = std::time::Instant::now();
    loop {
        tokio::time::sleep(jittered(probe.interval(), 0.2)).await;
        {
            let mut map = running.lock().unwrap_or_else(PoisonError::into_inner);
            if tx.receiver_count() == 0 {
                map.remove(&probe);
                return;
            }
        }
        if probe.ask(&client).await {
            let mut map = running.lock().unwrap_or_else(PoisonError::into_inner);
            map.remove(&probe);
            drop(map);
            tx.send_replace(true);
            let held = reporter.forget(|cause, target| probe.covers(cause, target));
            tracing::info!(
                target: "kubewhy::watch",
                held_back = held, waited_s = started.elapsed().as_secs(),
                "{} after {:.0?}{}; what waited for it goes again now",
                probe.found(),
                started.elapsed(),
                if held > 0 { format!(" ({held} more failure(s) of that cause were not logged one by one)") } else { String::new() }
            );
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cause::{ConnectionFailure, Denial, NotServed};

    #[test]
    fn each_fixable_cause_has_its_question() {
        let mut d = Diagnosis::new(
            Cause::Connection {
                failure: ConnectionFailure::Refused,
                os_code: None,
            },
            "m",
        );
        assert_eq!(Probe::for_diagnosis(&d), Some(Probe::ServerReady));
        d.set_cause(Cause::NotServed(NotServed::default()));
        d.request = crate::url::parse_request("GET", "/apis/kube.rs/v1/documents");
        assert_eq!(
            Probe::for_diagnosis(&d),
            Some(Probe::Served {
                api_version: "kube.rs/v1".into(),
                resource: "documents".into()
            })
        );
        d.set_cause(Cause::Denied(Denial::default()));
        assert!(matches!(
            Probe::for_diagnosis(&d),
            Some(Probe::Allowed { .. })
        ));
        d.set_cause(Cause::Modified);
        assert_eq!(Probe::for_diagnosis(&d), None);
    }

    #[tokio::test]
    async fn without_a_client_nothing_is_ever_fixed() {
        let prober = Prober::new(None, Arc::new(Reporter::new(Duration::from_secs(60))));
        let waited =
            tokio::time::timeout(Duration::from_millis(50), prober.fixed(Probe::ServerReady)).await;
        assert!(waited.is_err());
    }
}
