//! The hash space of Document uids, cut into 64 fixed slots: the uid hash the API server uses for `shardSelector`
//! (64-bit FNV-1a of the uid's bytes), the slot of a Document and of the ConfigMap it publishes, sets of slots,
//! and how a set is written on the wire — as a `shardSelector` of merged hash ranges for Documents, and as a label
//! selector for ConfigMaps.
//!
//! Why fixed slots rather than arbitrary ring points: a ConfigMap's own uid says nothing about its owner, so the
//! ConfigMaps doc-controller publishes carry their owner's slot as a label, and a label selector can only match a
//! finite list of values. 64 slots keep that list short, a `SlotSet` fits a `u64`, and the selector of a member
//! that owns a third of the space has at most about 22 ranges.

use std::fmt;

/// How many slots the hash space is cut into. Every replica must agree on it: changing it is a change of protocol.
pub const SLOTS: u32 = 64;
/// A slot is the top `SLOT_BITS` bits of the uid hash.
const SLOT_BITS: u32 = 6;
/// The label on every published ConfigMap: its owner Document's slot, two hex digits (`00`–`3f`).
pub const SLOT_LABEL: &str = "documents.kube.rs/shard-slot";
/// The field the API server hashes.
pub const SHARD_KEY: &str = "object.metadata.uid";

/// The 64-bit FNV-1a hash of `value`'s bytes: the hash the API server computes for `shardRange(object.metadata.uid,
/// …)` (`k8s.io/apimachinery/pkg/sharding.HashField`).
pub fn fnv1a64(value: &str) -> u64 {
    kubewhy::hash::fnv1a64(value.as_bytes())
}

/// One of the [`SLOTS`] equal parts of the uid hash space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot(u8);

impl Slot {
    /// The slot of an object with this uid.
    pub fn of_uid(uid: &str) -> Slot {
        Slot::of_hash(fnv1a64(uid))
    }

    /// The slot a hash falls in.
    pub fn of_hash(hash: u64) -> Slot {
        // The top 6 bits: always below 64, so the cast keeps every bit.
        Slot((hash >> (64 - SLOT_BITS)) as u8)
    }

    /// The slot with this index (`None` when not below [`SLOTS`]).
    pub fn new(index: u32) -> Option<Slot> {
        u8::try_from(index)
            .ok()
            .filter(|i| u32::from(*i) < SLOTS)
            .map(Slot)
    }

    /// Its index, `0..64`.
    pub fn index(self) -> u32 {
        u32::from(self.0)
    }

    /// The first hash in the slot (inclusive).
    pub fn start(self) -> u128 {
        u128::from(self.0) << (64 - SLOT_BITS)
    }

    /// The label value of ConfigMaps published for Documents in this slot.
    pub fn label(self) -> String {
        format!("{:02x}", self.0)
    }

    /// The slot of an object, by its uid (`None` before the API server gave it one).
    pub fn of_object<K: kube::Resource>(obj: &K) -> Option<Slot> {
        obj.meta().uid.as_deref().map(Slot::of_uid)
    }

    /// The slot an object's [`SLOT_LABEL`] names (a published ConfigMap: its owner's slot).
    pub fn of_label<K: kube::Resource>(obj: &K) -> Option<Slot> {
        obj.meta()
            .labels
            .as_ref()
            .and_then(|l| l.get(SLOT_LABEL))
            .and_then(|v| Slot::from_label(v))
    }

    /// The slot named by a label value (`None` for anything else).
    pub fn from_label(value: &str) -> Option<Slot> {
        if value.len() != 2 {
            return None;
        }
        u32::from_str_radix(value, 16).ok().and_then(Slot::new)
    }
}

/// A set of slots (bit `i` is slot `i`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SlotSet(u64);

impl SlotSet {
    /// No slot.
    pub const EMPTY: SlotSet = SlotSet(0);
    /// Every slot: the whole hash space.
    pub const ALL: SlotSet = SlotSet(u64::MAX);

    /// The set with these bits.
    pub fn from_bits(bits: u64) -> SlotSet {
        SlotSet(bits)
    }

    /// Its bits.
    pub fn bits(self) -> u64 {
        self.0
    }

    /// Whether `slot` is in the set.
    pub fn contains(self, slot: Slot) -> bool {
        self.0 & (1 << slot.0) != 0
    }

    /// The set with `slot` added.
    pub fn with(self, slot: Slot) -> SlotSet {
        SlotSet(self.0 | (1 << slot.0))
    }

    /// How many slots are in it.
    pub fn len(self) -> u32 {
        self.0.count_ones()
    }

    /// Whether it has no slot.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether it has every slot.
    pub fn is_all(self) -> bool {
        self.0 == u64::MAX
    }

    /// The slots in either.
    pub fn union(self, other: SlotSet) -> SlotSet {
        SlotSet(self.0 | other.0)
    }

    /// The slots in both.
    pub fn intersection(self, other: SlotSet) -> SlotSet {
        SlotSet(self.0 & other.0)
    }

    /// The slots in `self` and not in `other`.
    pub fn minus(self, other: SlotSet) -> SlotSet {
        SlotSet(self.0 & !other.0)
    }

    /// The slots, in order.
    pub fn iter(self) -> impl Iterator<Item = Slot> {
        (0..SLOTS)
            .filter_map(Slot::new)
            .filter(move |s| self.contains(*s))
    }

    /// The share of the hash space, 0.0 to 1.0.
    pub fn fraction(self) -> f64 {
        f64::from(self.len()) / f64::from(SLOTS)
    }

    /// The set as contiguous hash ranges `[start, end)`, adjacent slots merged (`end` may be 2^64).
    pub fn ranges(self) -> Vec<(u128, u128)> {
        let mut out: Vec<(u128, u128)> = Vec::new();
        for slot in self.iter() {
            let (start, end) = (slot.start(), slot.start() + (1 << (64 - SLOT_BITS)));
            match out.last_mut() {
                Some(last) if last.1 == start => last.1 = end,
                _ => out.push((start, end)),
            }
        }
        out
    }

    /// The `shardSelector` that selects exactly the objects whose uid hash is in the set, as the API server parses
    /// it: `shardRange(object.metadata.uid, '0x…', '0x…') || …`, each bound 16 lowercase hex digits (the exclusive
    /// end of the space is `0x10000000000000000`). `None` for the empty set, which no selector can express.
    pub fn shard_selector(self) -> Option<String> {
        let ranges = self.ranges();
        if ranges.is_empty() {
            return None;
        }
        Some(
            ranges
                .iter()
                .map(|(start, end)| {
                    format!(
                        "shardRange({SHARD_KEY}, '{}', '{}')",
                        hex(*start),
                        hex(*end)
                    )
                })
                .collect::<Vec<_>>()
                .join(" || "),
        )
    }

    /// The label selector clause on [`SLOT_LABEL`] that selects the ConfigMaps of Documents in the set: `None` when
    /// the set is every slot (no clause needed) or empty (nothing to select).
    pub fn label_selector(self) -> Option<String> {
        if self.is_all() || self.is_empty() {
            return None;
        }
        let values: Vec<String> = self.iter().map(Slot::label).collect();
        Some(format!("{SLOT_LABEL} in ({})", values.join(",")))
    }

    /// 16 hex digits, for annotations and logs (bit `i` is slot `i`).
    pub fn to_hex(self) -> String {
        format!("{:016x}", self.0)
    }

    /// The set written by [`SlotSet::to_hex`].
    pub fn from_hex(text: &str) -> Option<SlotSet> {
        u64::from_str_radix(text.trim(), 16).ok().map(SlotSet)
    }
}

/// A hash bound as the API server writes it: `0x` and 16 lowercase hex digits, or `0x10000000000000000` for 2^64.
fn hex(bound: u128) -> String {
    if bound >= 1 << 64 {
        "0x10000000000000000".into()
    } else {
        format!("0x{bound:016x}")
    }
}

impl fmt::Display for SlotSet {
    /// `21/64 slots (32.8%): 0x0400000000000000-0x0c00000000000000, …`, or `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("no slot (0% of the uid hash space)");
        }
        write!(
            f,
            "{}/{SLOTS} slots ({:.1}% of the uid hash space):",
            self.len(),
            self.fraction() * 100.0
        )?;
        for (i, (start, end)) in self.ranges().iter().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            write!(f, "{sep}[{}, {})", hex(*start), hex(*end))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_the_api_servers_fnv1a_of_the_uid() {
        // Computed by k8s.io/apimachinery/pkg/sharding.HashField (Go's hash/fnv New64a) for these uids.
        assert_eq!(
            fnv1a64("12ab51b6-9330-436b-85fa-d5c0369b1674"),
            0x66ec_7232_1bb1_fab3
        );
        assert_eq!(
            fnv1a64("9add6ba2-6929-49f2-aa26-3d63b7adc58b"),
            0x89f8_c42b_d66d_8e59
        );
        assert_eq!(fnv1a64(""), 0xcbf2_9ce4_8422_2325);
    }

    #[test]
    fn slots_are_the_top_six_bits() {
        assert_eq!(Slot::of_hash(0).index(), 0);
        assert_eq!(Slot::of_hash(u64::MAX).index(), 63);
        assert_eq!(Slot::of_hash(0x0400_0000_0000_0000).index(), 1);
        assert_eq!(Slot::of_hash(0x03ff_ffff_ffff_ffff).index(), 0);
        assert!(Slot::new(64).is_none());
        for i in 0..SLOTS {
            let slot = Slot::new(i).unwrap();
            assert_eq!(Slot::from_label(&slot.label()), Some(slot));
            assert_eq!(Slot::of_hash(slot.start() as u64), slot);
        }
        assert_eq!(Slot::from_label("40"), None);
        assert_eq!(Slot::from_label("1"), None);
    }

    #[test]
    fn selectors_merge_adjacent_slots_and_use_the_servers_bounds() {
        assert_eq!(SlotSet::EMPTY.shard_selector(), None);
        assert_eq!(
            SlotSet::ALL.shard_selector().unwrap(),
            "shardRange(object.metadata.uid, '0x0000000000000000', '0x10000000000000000')"
        );
        let set = SlotSet::EMPTY
            .with(Slot::new(0).unwrap())
            .with(Slot::new(1).unwrap())
            .with(Slot::new(63).unwrap());
        assert_eq!(
            set.shard_selector().unwrap(),
            "shardRange(object.metadata.uid, '0x0000000000000000', '0x0800000000000000') || \
             shardRange(object.metadata.uid, '0xfc00000000000000', '0x10000000000000000')"
        );
        assert_eq!(
            set.label_selector().unwrap(),
            "documents.kube.rs/shard-slot in (00,01,3f)"
        );
        assert_eq!(SlotSet::ALL.label_selector(), None);
        assert_eq!(set.len(), 3);
        assert_eq!(SlotSet::from_hex(&set.to_hex()), Some(set));
        assert!(set.to_string().starts_with("3/64 slots (4.7% of the uid hash space): [0x0000000000000000, 0x0800000000000000), [0xfc00000000000000, 0x10000000000000000)"), "{set}");
    }

    #[test]
    fn set_algebra() {
        let a = SlotSet::from_bits(0b1100);
        let b = SlotSet::from_bits(0b0110);
        assert_eq!(a.union(b).bits(), 0b1110);
        assert_eq!(a.intersection(b).bits(), 0b0100);
        assert_eq!(a.minus(b).bits(), 0b1000);
        assert_eq!(a.iter().map(Slot::index).collect::<Vec<_>>(), [2, 3]);
        assert!(SlotSet::ALL.is_all() && SlotSet::EMPTY.is_empty());
        assert!((SlotSet::ALL.fraction() - 1.0).abs() < f64::EPSILON);
    }
}
