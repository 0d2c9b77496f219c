//! The sharding metrics of one replica, beside the controller's under `doc_controller_shard_`:
//!
//! | metric | type | meaning |
//! |---|---|---|
//! | `doc_controller_shard_slots_active` | gauge | slots (of 64) this replica reconciles now |
//! | `doc_controller_shard_slots_assigned` | gauge | slots the ring assigns to it (active once handed over) |
//! | `doc_controller_shard_documents_owned` | gauge | Documents in its cache, i.e. in its assigned slots |
//! | `doc_controller_shard_ring_members` | gauge | members of the ring as this replica sees it |
//! | `doc_controller_shard_server_side` | gauge | 1 when the API server filters by `shardSelector`, 0 when the client does |
//! | `doc_controller_shard_slots_moved_total{direction}` | counter | slots taken over (`in`) and handed over (`out`) |
//! | `doc_controller_shard_handover_seconds` | histogram | from a membership change (as seen here) to the first reconcile in a slot it brought |
//! | `doc_controller_shard_ring_changes_total` | counter | ring changes this replica applied |
//! | `doc_controller_shard_strays_total` | counter | Documents outside its ranges that the API server sent although asked to filter |

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DirectionLabels {
    direction: &'static str,
}

/// The sharding metrics (cheap to clone: each is a shared handle).
#[derive(Debug, Clone)]
pub struct ShardMetrics {
    /// Slots reconciled now.
    pub slots_active: Gauge,
    /// Slots assigned by the ring.
    pub slots_assigned: Gauge,
    /// Documents cached (in the assigned slots).
    pub documents_owned: Gauge,
    /// Ring members seen.
    pub ring_members: Gauge,
    /// 1 when the server filters.
    pub server_side: Gauge,
    moved: Family<DirectionLabels, Counter>,
    /// Membership change → first reconcile of a moved slot.
    pub handover_seconds: Histogram,
    /// Ring changes applied.
    pub ring_changes: Counter,
    /// Documents the server sent outside the requested ranges.
    pub strays: Counter,
}

impl Default for ShardMetrics {
    fn default() -> Self {
        ShardMetrics {
            slots_active: Gauge::default(),
            slots_assigned: Gauge::default(),
            documents_owned: Gauge::default(),
            ring_members: Gauge::default(),
            server_side: Gauge::default(),
            moved: Family::default(),
            handover_seconds: Histogram::new([
                0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0,
            ]),
            ring_changes: Counter::default(),
            strays: Counter::default(),
        }
    }
}

impl ShardMetrics {
    /// Creates the metrics and registers them under `doc_controller_shard_`.
    pub fn register(registry: &mut Registry) -> ShardMetrics {
        let m = ShardMetrics::default();
        let r = registry.sub_registry_with_prefix("doc_controller_shard");
        r.register(
            "slots_active",
            "Slots (of 64) this replica reconciles now",
            m.slots_active.clone(),
        );
        r.register(
            "slots_assigned",
            "Slots the ring assigns to this replica (active once handed over)",
            m.slots_assigned.clone(),
        );
        r.register(
            "documents_owned",
            "Documents in this replica's cache, i.e. in its assigned slots",
            m.documents_owned.clone(),
        );
        r.register(
            "ring_members",
            "Members of the ring as this replica sees it",
            m.ring_members.clone(),
        );
        r.register(
            "server_side",
            "1 when the API server filters the Documents watch by shardSelector, 0 when the client filters",
            m.server_side.clone(),
        );
        r.register(
            "slots_moved",
            "Slots taken over (direction=in) and handed over (direction=out)",
            m.moved.clone(),
        );
        r.register_with_unit(
            "handover",
            "From a membership change, as seen by this replica, to its first reconcile in a slot it took over",
            Unit::Seconds,
            m.handover_seconds.clone(),
        );
        r.register(
            "ring_changes",
            "Ring changes this replica applied",
            m.ring_changes.clone(),
        );
        r.register(
            "strays",
            "Documents outside this replica's ranges that the API server sent although asked to filter them",
            m.strays.clone(),
        );
        m
    }

    /// Counts slots moved in (`taken = true`) or out.
    pub fn moved(&self, taken: bool, slots: u32) {
        let direction = if taken { "in" } else { "out" };
        self.moved
            .get_or_create(&DirectionLabels { direction })
            .inc_by(u64::from(slots));
    }
}

/// Sets a gauge from a count.
pub fn set(gauge: &Gauge, value: impl TryInto<i64>) {
    gauge.set(value.try_into().unwrap_or(i64::MAX));
}
