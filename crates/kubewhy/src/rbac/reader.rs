//! Near misses for diagnoses: with a client that may read the RBAC objects, gives each denial — and each
//! escalation refusal — its near-miss explanation and smallest fix ([`crate::cause::Denial::near_miss`]). The
//! objects are read once and again when older than [`MAX_AGE`]; when the client may not read them, the first
//! diagnosis says so ([`Note::RbacUnreadable`]), a WARN is logged (once per process), and the diagnoses keep the remedy of a
//! plain denial (a new role). Used by `kubewhy check`, `doc-controller doctor`, `kubewhy explain --live` and the
//! watchers at run time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::Client;

use super::{AccessRequest, FetchError, Identity, RbacObjects, explain, fetch, fix};
use crate::cause::Cause;
use crate::diagnosis::Diagnosis;
use crate::near_miss::NearMiss;
use crate::note::Note;
use crate::vocab::groups_of;

/// How long read RBAC objects are used before they are read again.
pub const MAX_AGE: Duration = Duration::from_secs(60);

/// Whether the failure to read was logged (once per process).
static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// After a failure to read that is not a refusal (time-out, server error), when to try again.
const RETRY_AFTER: Duration = Duration::from_secs(60);

enum State {
    Unread,
    Read {
        at: Instant,
        objects: Arc<RbacObjects>,
    },
    /// Reading failed; said once. A refusal is final, another failure is retried after [`RETRY_AFTER`].
    Failed {
        at: Instant,
        refused: bool,
    },
}

/// Explains denials with the RBAC objects a client may read. Cheap to share behind an `Arc`.
pub struct NearMisses {
    client: Option<Client>,
    state: tokio::sync::Mutex<State>,
}

impl std::fmt::Debug for NearMisses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NearMisses").finish_non_exhaustive()
    }
}

impl NearMisses {
    /// Near misses from the RBAC objects `client` reads.
    pub fn new(client: Client) -> NearMisses {
        NearMisses {
            client: Some(client),
            state: tokio::sync::Mutex::new(State::Unread),
        }
    }

    /// Near misses from objects already read (manifests, a snapshot).
    pub fn from_objects(objects: RbacObjects) -> NearMisses {
        NearMisses {
            client: None,
            state: tokio::sync::Mutex::new(State::Read {
                at: Instant::now(),
                objects: Arc::new(objects),
            }),
        }
    }

    /// Adds the near miss to `d` when it is a denial (or an escalation refusal) of a named user and the RBAC objects
    /// can be read; returns whether it did. When they cannot be, the first diagnosis gets the note saying why.
    pub async fn explain(&self, d: &mut Diagnosis) -> bool {
        let request = match &d.cause {
            Cause::Denied(denial) if !denial.wrong_core_group => {
                AccessRequest::from_request(&d.request)
            }
            Cause::Escalation { .. } => {
                AccessRequest::from_request(&d.request).and_then(|r| r.escalation())
            }
            _ => None,
        };
        let (Some(request), Some(user)) = (request, d.user.clone()) else {
            return false;
        };
        let objects = match self.objects().await {
            Ok(objects) => objects,
            Err(Some(note)) => {
                d.notes.push(note);
                return false;
            }
            Err(None) => return false,
        };
        let identity = Identity::new(user.clone(), groups_of(&user, &d.groups));
        let explanation = explain(&identity, &request, &objects);
        let fix = fix(&explanation, &objects);
        let near = Some(std::sync::Arc::new(NearMiss { explanation, fix }));
        match &mut d.cause {
            Cause::Denied(denial) => denial.near_miss = near,
            Cause::Escalation { near_miss, .. } => *near_miss = near,
            _ => return false,
        }
        true
    }

    /// The objects, read when needed; `Err(Some(note))` the first time they cannot be, `Err(None)` after.
    async fn objects(&self) -> Result<Arc<RbacObjects>, Option<Note>> {
        let mut state = self.state.lock().await;
        let stale = match &*state {
            State::Unread => true,
            State::Read { at, .. } => at.elapsed() > MAX_AGE && self.client.is_some(),
            State::Failed { at, refused } => !refused && at.elapsed() > RETRY_AFTER,
        };
        if stale && let Some(client) = &self.client {
            let first = matches!(*state, State::Unread);
            match fetch(client).await {
                Ok(objects) => {
                    *state = State::Read {
                        at: Instant::now(),
                        objects: Arc::new(objects),
                    }
                }
                Err(e) => {
                    let refused = matches!(e, FetchError::NotPermitted { .. });
                    let said = !first;
                    *state = State::Failed {
                        at: Instant::now(),
                        refused,
                    };
                    if said {
                        return Err(None);
                    }
                    // Logged once per process (a preflight and the watchers each have a reader).
                    if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
                        tracing::warn!(
                            target: "kubewhy::rbac",
                            error = %crate::chain::one_line(&e),
                            "denials are explained without their near misses: the RBAC objects cannot be read"
                        );
                    }
                    return Err(Some(unreadable(&e)));
                }
            }
        }
        match &*state {
            State::Read { objects, .. } => Ok(objects.clone()),
            State::Unread | State::Failed { .. } => Err(None),
        }
    }
}

fn unreadable(e: &FetchError) -> Note {
    match e {
        FetchError::NotPermitted { denied, user } => Note::RbacUnreadable {
            denied: denied.iter().map(|d| d.to_string()).collect(),
            user: user.clone(),
            error: None,
        },
        FetchError::List { .. } => Note::RbacUnreadable {
            denied: Vec::new(),
            user: None,
            error: Some(crate::chain::one_line(e)),
        },
    }
}
