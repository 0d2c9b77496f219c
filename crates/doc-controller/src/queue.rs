//! The queue-depth tracker: which Documents have a change waiting for a worker (the `doc_controller_queue_depth`
//! gauge), fed by the watchers and drained as reconciles start.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use kube::runtime::reflector::ObjectRef;

use crate::document::Document;
use crate::metrics::Metrics;

/// Tracks which Documents have a change waiting for a worker (the `doc_controller_queue_depth` gauge). A Document
/// enters when a watch event concerning it reaches the controller and leaves when its reconcile starts; repeated
/// events for a waiting Document count once, as the controller's scheduler merges them too.
#[derive(Debug)]
pub struct Queue {
    pending: Mutex<HashSet<ObjectRef<Document>>>,
    metrics: Arc<Metrics>,
}

impl Queue {
    /// An empty queue reporting to `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Queue {
        Queue {
            pending: Mutex::new(HashSet::new()),
            metrics,
        }
    }

    fn pending(&self) -> MutexGuard<'_, HashSet<ObjectRef<Document>>> {
        // Every update is a single insert or remove: a poisoned set is still consistent.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A change for `key` arrived.
    pub fn triggered(&self, key: ObjectRef<Document>) {
        let mut pending = self.pending();
        pending.insert(key);
        self.metrics.set_queue_depth(pending.len());
    }

    /// The reconcile of `key` started (or the object is gone).
    pub fn started(&self, key: &ObjectRef<Document>) {
        let mut pending = self.pending();
        pending.remove(key);
        self.metrics.set_queue_depth(pending.len());
    }

    /// How many Documents wait.
    pub fn depth(&self) -> usize {
        self.pending().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::registry::Registry;

    #[test]
    fn queue_depth_counts_each_waiting_document_once() {
        let mut registry = Registry::default();
        let queue = Queue::new(Arc::new(Metrics::register(&mut registry)));
        let a = ObjectRef::<Document>::new("a").within("ns");
        queue.triggered(a.clone());
        queue.triggered(a.clone());
        queue.triggered(ObjectRef::new("b").within("ns"));
        assert_eq!(queue.depth(), 2);
        queue.started(&a);
        assert_eq!(queue.depth(), 1);
    }
}
