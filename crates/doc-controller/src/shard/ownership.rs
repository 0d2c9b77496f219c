//! What this replica may reconcile right now, and the gate every reconcile passes: the *target* slots (what the
//! ring assigns to it: the watchers follow them, so caches fill before a hand-over completes) and the *active*
//! slots (what it reconciles: a subset of the target). A reconcile holds a [`Permit`] for its Document's slot for
//! its whole duration; [`Ownership::deactivate`] stops new permits for slots and waits until the running ones are
//! dropped, which is what makes a hand-over safe: the ring acknowledges a move only after it returns.
//!
//! With leader election or a single replica, [`Ownership::everything`] makes every slot active and targeted for
//! ever: the same code path with nothing to hand over.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc, watch};

use super::metrics::ShardMetrics;
use super::slots::{SLOTS, Slot, SlotSet};

/// What the watchers should cover: the slots and whether the API server filters them (`shardSelector`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// The slots the ring assigns to this replica.
    pub slots: SlotSet,
    /// Whether the Documents watch asks the API server to filter (it honours `shardSelector`); when not, the
    /// watch receives every Document and the client keeps only these slots.
    pub server_side: bool,
    /// Counts the changes of target, so that a watcher can say which target it has synced.
    pub generation: u64,
}

/// The two caches that must be synced for a target before its new slots are reconciled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cache {
    /// The Documents reflector.
    Documents,
    /// The published-ConfigMaps reflector.
    ConfigMaps,
}

#[derive(Debug)]
struct State {
    active: SlotSet,
    in_flight: [u32; SLOTS as usize],
    /// Slots activated by the last hand-over and when the membership change that caused it was seen: the first
    /// reconcile in one of them measures the hand-over.
    first_after: Option<(SlotSet, Instant)>,
    synced: [u64; 2],
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    idle: Notify,
    target: watch::Sender<Target>,
    activations: mpsc::UnboundedSender<SlotSet>,
    activations_rx: Mutex<Option<mpsc::UnboundedReceiver<SlotSet>>>,
    /// Whether this is the static everything-ownership (leader election or a single replica).
    everything: bool,
    metrics: ShardMetrics,
}

/// Shared ownership state; clones share it.
#[derive(Debug, Clone)]
pub struct Ownership {
    inner: Arc<Inner>,
}

/// The right to reconcile one Document now; dropping it ends the reconcile as far as a hand-over is concerned.
#[derive(Debug)]
pub struct Permit {
    inner: Arc<Inner>,
    slot: Slot,
    /// When this is the first reconcile after a hand-over: how long after the membership change it started.
    pub first_after_handover: Option<Duration>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut state = lock(&self.inner.state);
        let n = &mut state.in_flight[self.slot.index() as usize];
        *n = n.saturating_sub(1);
        if *n == 0 {
            self.inner.idle.notify_waiters();
        }
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // Each update is a few assignments under the lock: a poisoned state is still consistent.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Ownership {
    fn new(active: SlotSet, target: SlotSet, everything: bool, metrics: ShardMetrics) -> Ownership {
        let (tx, rx) = mpsc::unbounded_channel();
        let (target, _) = watch::channel(Target {
            slots: target,
            server_side: false,
            generation: 0,
        });
        Ownership {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    active,
                    in_flight: [0; SLOTS as usize],
                    first_after: None,
                    synced: [0; 2],
                }),
                idle: Notify::new(),
                target,
                activations: tx,
                activations_rx: Mutex::new(Some(rx)),
                everything,
                metrics,
            }),
        }
    }

    /// Every slot, for ever (leader election, or one replica without a ring).
    pub fn everything() -> Ownership {
        Ownership::new(SlotSet::ALL, SlotSet::ALL, true, ShardMetrics::default())
    }

    /// Nothing yet: a ring member before the ring assigns it slots, reporting to `metrics`.
    pub fn sharded(metrics: ShardMetrics) -> Ownership {
        Ownership::new(SlotSet::EMPTY, SlotSet::EMPTY, false, metrics)
    }

    /// The sharding metrics (unregistered ones for [`Ownership::everything`]).
    pub fn metrics(&self) -> &ShardMetrics {
        &self.inner.metrics
    }

    /// Whether this is [`Ownership::everything`].
    pub fn is_everything(&self) -> bool {
        self.inner.everything
    }

    /// A permit to reconcile a Document in `slot`, or `None` when the slot is not active here.
    pub fn permit(&self, slot: Slot) -> Option<Permit> {
        let mut state = lock(&self.inner.state);
        if !state.active.contains(slot) {
            return None;
        }
        state.in_flight[slot.index() as usize] += 1;
        let first_after_handover = match state.first_after {
            Some((slots, since)) if slots.contains(slot) => {
                state.first_after = None;
                Some(since.elapsed())
            }
            _ => None,
        };
        Some(Permit {
            inner: self.inner.clone(),
            slot,
            first_after_handover,
        })
    }

    /// The slots reconciled here now.
    pub fn active(&self) -> SlotSet {
        lock(&self.inner.state).active
    }

    /// How many reconciles are running in `slots`.
    pub fn in_flight(&self, slots: SlotSet) -> u32 {
        let state = lock(&self.inner.state);
        slots
            .iter()
            .map(|s| state.in_flight[s.index() as usize])
            .sum()
    }

    /// The current target.
    pub fn target(&self) -> Target {
        *self.inner.target.borrow()
    }

    /// A receiver that sees every change of target (the watchers restart on each).
    pub fn watch_target(&self) -> watch::Receiver<Target> {
        self.inner.target.subscribe()
    }

    /// Sets the target; a change bumps its generation (and restarts the watchers). Returns the target now.
    pub fn set_target(&self, slots: SlotSet, server_side: bool) -> Target {
        self.inner.target.send_if_modified(|t| {
            if t.slots == slots && t.server_side == server_side {
                return false;
            }
            *t = Target {
                slots,
                server_side,
                generation: t.generation + 1,
            };
            true
        });
        self.target()
    }

    /// A watcher finished its list for `generation`.
    pub fn report_synced(&self, cache: Cache, generation: u64) {
        let mut state = lock(&self.inner.state);
        let i = cache as usize;
        state.synced[i] = state.synced[i].max(generation);
    }

    /// Whether both caches have synced the current target.
    pub fn synced(&self) -> bool {
        let generation = self.target().generation;
        let state = lock(&self.inner.state);
        state.synced.iter().all(|g| *g >= generation)
    }

    /// Stops new reconciles in `slots` and waits until the running ones there have finished.
    pub async fn deactivate(&self, slots: SlotSet) {
        {
            let mut state = lock(&self.inner.state);
            state.active = state.active.minus(slots);
            if let Some((pending, _)) = &mut state.first_after {
                *pending = pending.minus(slots);
            }
        }
        loop {
            // Registered before the check, so a permit dropped in between still wakes us.
            let idle = self.inner.idle.notified();
            if self.in_flight(slots) == 0 {
                return;
            }
            idle.await;
        }
    }

    /// Starts reconciling `slots` (after a hand-over that started when the membership change was seen at `since`);
    /// the controller reconciles every cached Document in them.
    pub fn activate(&self, slots: SlotSet, since: Instant) {
        {
            let mut state = lock(&self.inner.state);
            state.active = state.active.union(slots);
            state.first_after = Some((slots, since));
        }
        // The receiver lives as long as the controller; after it stopped, nothing needs the trigger.
        if self.inner.activations.send(slots).is_err() {
            tracing::debug!("slots activated after the controller stopped");
        }
    }

    /// The stream of activated slot sets, for the controller (once: later calls get `None`).
    pub fn take_activations(&self) -> Option<mpsc::UnboundedReceiver<SlotSet>> {
        self.inner
            .activations_rx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(i: u32) -> Slot {
        Slot::new(i).unwrap()
    }

    #[test]
    fn everything_permits_every_slot_and_a_new_member_nothing() {
        let all = Ownership::everything();
        assert!(all.permit(slot(0)).is_some() && all.permit(slot(63)).is_some());
        let member = Ownership::sharded(ShardMetrics::default());
        assert!(member.permit(slot(5)).is_none());
        member.activate(SlotSet::EMPTY.with(slot(5)), Instant::now());
        let permit = member.permit(slot(5)).unwrap();
        assert!(permit.first_after_handover.is_some());
        assert!(
            member
                .permit(slot(5))
                .unwrap()
                .first_after_handover
                .is_none()
        );
        drop(permit);
    }

    #[tokio::test]
    async fn deactivation_waits_for_running_reconciles_and_refuses_new_ones() {
        let o = Ownership::sharded(ShardMetrics::default());
        let slots = SlotSet::EMPTY.with(slot(1)).with(slot(2));
        o.activate(slots, Instant::now());
        let running = o.permit(slot(1)).unwrap();
        let other = o.permit(slot(2)).unwrap();
        drop(other);
        let o2 = o.clone();
        let waiting = tokio::spawn(async move { o2.deactivate(slots).await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !waiting.is_finished(),
            "returned while a reconcile was running"
        );
        assert!(
            o.permit(slot(1)).is_none(),
            "a new reconcile started in a slot being handed over"
        );
        drop(running);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("deactivate returned after the last permit was dropped")
            .unwrap();
        assert!(o.active().is_empty());
    }

    #[test]
    fn targets_count_their_changes_and_caches_report_per_generation() {
        let o = Ownership::sharded(ShardMetrics::default());
        let t = o.set_target(SlotSet::from_bits(0b11), false);
        assert_eq!(t.generation, 1);
        assert_eq!(o.set_target(SlotSet::from_bits(0b11), false).generation, 1);
        assert!(!o.synced());
        o.report_synced(Cache::Documents, 1);
        assert!(!o.synced());
        o.report_synced(Cache::ConfigMaps, 1);
        assert!(o.synced());
        assert_eq!(o.set_target(SlotSet::from_bits(0b11), true).generation, 2);
        assert!(!o.synced());
    }
}
