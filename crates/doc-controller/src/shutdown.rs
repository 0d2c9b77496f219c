//! Shutdown: one shared trigger, pulled by SIGTERM/SIGINT (or by losing leadership), that every part of the
//! program waits on. A second signal exits at once, for when a graceful shutdown hangs.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;
use tracing::{error, info};

#[derive(Debug, Default)]
struct Inner {
    requested: AtomicBool,
    reason: Mutex<Option<String>>,
    notify: Notify,
}

/// A shutdown trigger; clones share it.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

impl Shutdown {
    /// A trigger nobody has pulled yet.
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// Pulls the trigger (the first reason is kept).
    pub fn trigger(&self, reason: &str) {
        {
            let mut r = self
                .inner
                .reason
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if r.is_none() {
                *r = Some(reason.to_string());
            }
        }
        self.inner.requested.store(true, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    /// Whether the trigger was pulled.
    pub fn is_triggered(&self) -> bool {
        self.inner.requested.load(Ordering::SeqCst)
    }

    /// Why the trigger was pulled.
    pub fn reason(&self) -> Option<String> {
        self.inner
            .reason
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Completes once the trigger is pulled.
    pub fn wait(&self) -> impl Future<Output = ()> + Send + Sync + 'static {
        let inner = self.inner.clone();
        async move {
            loop {
                // Created before the check, so a trigger between the check and the await still wakes it.
                let notified = inner.notify.notified();
                if inner.requested.load(Ordering::SeqCst) {
                    return;
                }
                notified.await;
            }
        }
    }

    /// Pulls the trigger on the first SIGTERM or SIGINT; exits the process at once (code 130) on the second.
    pub fn on_signals(&self) -> std::io::Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let this = self.clone();
        tokio::spawn(async move {
            let mut count = 0;
            loop {
                let name = tokio::select! {
                    _ = term.recv() => "SIGTERM",
                    _ = int.recv() => "SIGINT",
                };
                count += 1;
                if count == 1 {
                    info!(
                        signal = name,
                        "shutting down: no new reconciles; waiting for running ones to finish"
                    );
                    this.trigger(&format!("received {name}"));
                } else {
                    error!(
                        signal = name,
                        "second signal: exiting now without waiting for running reconciles"
                    );
                    std::process::exit(130);
                }
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_before_and_after_the_trigger_complete() {
        let s = Shutdown::new();
        let early = tokio::spawn(s.wait());
        tokio::task::yield_now().await;
        assert!(!s.is_triggered());
        s.trigger("test");
        s.trigger("ignored");
        early.await.unwrap();
        s.wait().await;
        assert_eq!(s.reason().as_deref(), Some("test"));
    }
}
