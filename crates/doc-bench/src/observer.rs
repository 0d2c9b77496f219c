//! The observer: the harness's own watch on the run's Documents. It is the ground truth for convergence (a
//! Document is converged when it carries a finalizer and `status.hidden == spec.hide`, for the current generation
//! when the contender reports `observedGeneration`), times each spec update until its status follows, and counts
//! resourceVersion changes, so writes that changed nothing can be told from writes that did.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use kube::api::DynamicObject;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use tokio::task::JoinHandle;

use crate::cluster;

/// What the observer knows of one Document.
#[derive(Debug, Clone)]
struct Seen {
    resource_version: String,
    converged: bool,
    hidden: Option<bool>,
}

/// A spec update waiting for its status.
#[derive(Debug, Clone, Copy)]
struct Pending {
    want_hidden: bool,
    sent: Instant,
    /// When the observer first saw the new spec (the API server had written it and sent it to the watchers).
    spec_seen: Option<Instant>,
}

/// How long one spec update took until its status followed, and the two parts of that time.
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    /// From just before the update was sent until the observer saw the status follow.
    pub total: Duration,
    /// From just before the update was sent until the observer saw the new spec: the harness's write and the
    /// watch delivering it (the part no controller can change).
    pub to_spec: Option<Duration>,
}

impl Latency {
    /// From the new spec seen until the status seen: the controller's share (its watch, queue, reconcile and status
    /// write) and the status write's own way back through the watch.
    pub fn spec_to_status(&self) -> Option<Duration> {
        self.to_spec.map(|s| self.total.saturating_sub(s))
    }
}

#[derive(Debug, Default)]
struct State {
    docs: HashMap<String, Seen>,
    converged: usize,
    deleted: usize,
    rv_changes: u64,
    pending: HashMap<String, Pending>,
    latencies: Vec<Latency>,
    watch_errors: Vec<String>,
}

/// A running observer; dropping it stops the watch.
pub struct Observer {
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Whether a Document (as JSON) is converged.
fn converged(obj: &DynamicObject) -> bool {
    let hide = obj
        .data
        .pointer("/spec/hide")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    let hidden = obj.data.pointer("/status/hidden").and_then(|v| v.as_bool());
    let observed = obj
        .data
        .pointer("/status/observedGeneration")
        .and_then(|v| v.as_i64());
    let generation_ok = match (observed, obj.metadata.generation) {
        (Some(o), Some(g)) => o >= g,
        _ => true, // controller-rs writes no observedGeneration: judge by `hidden` alone
    };
    hidden == Some(hide) && !obj.finalizers().is_empty() && generation_ok
}

impl Observer {
    /// A fresh namespace (`prefix`) on `cp` with Documents `0..n` created by `cluster::create_documents`, and an
    /// observer that has seen them all (within `timeout`).
    pub async fn with_documents(
        cp: &kubewhy_testenv::ControlPlane,
        client: &Client,
        prefix: &str,
        n: usize,
        content_bytes: usize,
        timeout: Duration,
    ) -> Result<(String, Observer)> {
        let ns = cp
            .namespace(prefix)
            .await
            .context("creating the run's namespace")?;
        let observer = Observer::start(client, &ns);
        cluster::create_documents(client, &ns, n, content_bytes).await?;
        observer
            .wait_for("the observer seeing every Document", timeout, |o| {
                (o.existing() == n, format!("{} of {n}", o.existing()))
            })
            .await?;
        Ok((ns, observer))
    }

    /// Starts watching the Documents of `namespace`.
    pub fn start(client: &Client, namespace: &str) -> Observer {
        let state = Arc::new(Mutex::new(State::default()));
        let api = cluster::documents(client, namespace);
        let st = state.clone();
        let task = tokio::spawn(async move {
            let mut events = watcher(api, watcher::Config::default())
                .default_backoff()
                .boxed();
            while let Some(event) = events.next().await {
                let mut s = st.lock().unwrap_or_else(PoisonError::into_inner);
                match event {
                    Ok(watcher::Event::Apply(obj) | watcher::Event::InitApply(obj)) => {
                        s.apply(&obj)
                    }
                    Ok(watcher::Event::Delete(obj)) => s.delete(&obj),
                    Ok(watcher::Event::Init | watcher::Event::InitDone) => {}
                    // The watcher retries by itself; keep the error so the run's report shows it.
                    Err(e) => s.watch_errors.push(e.to_string()),
                }
            }
        });
        Observer { state, task }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Each update is a few field writes; a panic half-way cannot leave it unusable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many Documents exist.
    pub fn existing(&self) -> usize {
        self.state().docs.len()
    }

    /// How many Documents are converged.
    pub fn converged(&self) -> usize {
        self.state().converged
    }

    /// resourceVersion changes seen so far (each is a write that changed the object).
    pub fn rv_changes(&self) -> u64 {
        self.state().rv_changes
    }

    /// Errors the watch reported (it retried after each).
    pub fn watch_errors(&self) -> Vec<String> {
        self.state().watch_errors.clone()
    }

    /// Records that `name`'s spec is being changed so that `status.hidden` should become `want_hidden`.
    pub fn expect(&self, name: &str, want_hidden: bool) {
        self.state().pending.insert(
            name.to_string(),
            Pending {
                want_hidden,
                sent: Instant::now(),
                spec_seen: None,
            },
        );
    }

    /// Updates still waiting for their status.
    pub fn pending(&self) -> usize {
        self.state().pending.len()
    }

    /// Takes the update→status latencies measured so far.
    pub fn take_latencies(&self) -> Vec<Latency> {
        std::mem::take(&mut self.state().latencies)
    }

    /// What `status.hidden` says now for a Document.
    pub fn hidden(&self, name: &str) -> Option<bool> {
        self.state().docs.get(name).and_then(|s| s.hidden)
    }

    /// Waits until `check` holds, polling every 20 ms; fails after `timeout` with `what` and the last value.
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        check: impl Fn(&Observer) -> (bool, String),
    ) -> Result<Duration> {
        let start = Instant::now();
        loop {
            let (done, detail) = check(self);
            if done {
                return Ok(start.elapsed());
            }
            if start.elapsed() > timeout {
                bail!(
                    "{what} did not happen within {:.0} s ({detail})",
                    timeout.as_secs_f64()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl State {
    fn apply(&mut self, obj: &DynamicObject) {
        let name = obj.name_any();
        let rv = obj.resource_version().unwrap_or_default();
        let now_converged = converged(obj);
        let hidden = obj.data.pointer("/status/hidden").and_then(|v| v.as_bool());
        let was_converged = match self.docs.get(&name) {
            Some(prev) => {
                if prev.resource_version != rv {
                    self.rv_changes += 1;
                }
                prev.converged
            }
            None => false,
        };
        match (was_converged, now_converged) {
            (false, true) => self.converged += 1,
            (true, false) => self.converged -= 1,
            _ => {}
        }
        let hide = obj.data.pointer("/spec/hide").and_then(|v| v.as_bool());
        if let Some(p) = self.pending.get_mut(&name) {
            if p.spec_seen.is_none() && hide == Some(p.want_hidden) {
                p.spec_seen = Some(Instant::now());
            }
            if hidden == Some(p.want_hidden) && now_converged {
                self.latencies.push(Latency {
                    total: p.sent.elapsed(),
                    to_spec: p.spec_seen.map(|s| s.duration_since(p.sent)),
                });
                self.pending.remove(&name);
            }
        }
        self.docs.insert(
            name,
            Seen {
                resource_version: rv,
                converged: now_converged,
                hidden,
            },
        );
    }

    fn delete(&mut self, obj: &DynamicObject) {
        if let Some(prev) = self.docs.remove(&obj.name_any()) {
            if prev.converged {
                self.converged -= 1;
            }
            self.deleted += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc(rv: &str, hide: bool, hidden: Option<bool>) -> DynamicObject {
        let mut status = json!({});
        if let Some(h) = hidden {
            status = json!({"hidden": h});
        }
        serde_json::from_value(json!({
            "apiVersion": "kube.rs/v1", "kind": "Document",
            "metadata": {"name": "d", "resourceVersion": rv, "generation": 2, "finalizers": ["f"]},
            "spec": {"hide": hide},
            "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn an_update_is_timed_in_two_parts_and_writes_are_counted() {
        let mut s = State::default();
        s.apply(&doc("1", true, Some(true)));
        assert_eq!(s.converged, 1);
        s.pending.insert(
            "d".into(),
            Pending {
                want_hidden: false,
                sent: Instant::now(),
                spec_seen: None,
            },
        );
        s.apply(&doc("2", false, Some(true)));
        assert!(s.pending["d"].spec_seen.is_some(), "the new spec was seen");
        assert_eq!(s.converged, 0);
        s.apply(&doc("3", false, Some(false)));
        assert!(s.pending.is_empty());
        assert_eq!(s.converged, 1);
        assert_eq!(s.rv_changes, 2);
        let l = s.latencies[0];
        assert!(l.to_spec.unwrap() <= l.total);
        assert_eq!(l.spec_to_status().unwrap(), l.total - l.to_spec.unwrap());
    }
}
