//! Scaling out: replicas share the Documents by the hash of their uid. Each replica joins a ring through its own
//! Lease, the ring assigns it slots of the uid hash space, its watches cover only those (filtered by the API server
//! with `shardSelector` when it honours it, else on the client), and moves between replicas are handed over so
//! that no Document is ever reconciled by two replicas at once. `docs/sharding.md` describes the protocol and its
//! failure cases.
//!
//! Modules, one concept each: [`slots`] (the hash space, slot sets and their selectors), [`assign`] (which member
//! owns which slots), [`ownership`] (what this replica may reconcile now, and the hand-over wait), [`gate`] (the
//! reconcile wrapper that enforces it), [`watch`] (watches that follow the share), [`select`] (the client layer that
//! sends `shardSelector`), [`ring`] (membership and the hand-over protocol) and [`metrics`].

pub mod assign;
pub mod gate;
pub mod metrics;
pub mod ownership;
pub mod ring;
pub mod select;
pub mod slots;
pub mod watch;

pub use ownership::{Cache, Ownership, Target};
pub use slots::{Slot, SlotSet};
