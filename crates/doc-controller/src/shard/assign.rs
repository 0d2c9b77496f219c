//! Which member owns which slots: consistent hashing with bounded loads over the 64 slots. Each slot ranks the
//! members by a hash of (member, slot) — rendezvous hashing — and goes to the highest-ranked member that is not
//! full; a member is full at ⌊64/N⌋ slots, and the first 64 mod N members to reach it may take one more. Slots are
//! placed in a fixed pseudo-random order.
//!
//! Properties (tested below): every replica computes the same assignment from the same member names; loads differ
//! by at most one slot (21/21/22 for three members); a member joining or leaving moves about 1/N of the slots
//! (≈1.2× the minimum on average), not half of them as `hash mod N` would; each member gets several ranges spread
//! over the space.

use std::collections::BTreeMap;

use super::slots::{SLOTS, Slot, SlotSet, fnv1a64};

/// A 64-bit finaliser (splitmix64): FNV-1a alone barely changes between names that differ in one character
/// (`doc-controller-0`, `doc-controller-1`), which would give similar names similar rankings.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn weight(member: u64, slot: Slot) -> u64 {
    mix(member ^ mix(u64::from(slot.index())))
}

/// The slots of each member (keyed by member name). Members are names (doc-controller uses the member Lease's
/// name, stable across restarts of a pod); duplicates count once. An empty list assigns nothing.
pub fn assign<'a>(members: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, SlotSet> {
    let mut names: Vec<&str> = members.into_iter().collect();
    names.sort_unstable();
    names.dedup();
    let mut out: BTreeMap<String, SlotSet> = names
        .iter()
        .map(|n| (n.to_string(), SlotSet::EMPTY))
        .collect();
    if names.is_empty() {
        return out;
    }
    let n = u32::try_from(names.len()).unwrap_or(u32::MAX);
    let (floor, mut extra) = (SLOTS / n, SLOTS % n);
    let hashed: Vec<(u64, &str)> = names.iter().map(|n| (mix(fnv1a64(n)), *n)).collect();
    let mut order: Vec<Slot> = (0..SLOTS).filter_map(Slot::new).collect();
    order.sort_by_key(|s| mix(u64::from(s.index()) ^ 0x5eed_5107));
    let mut load: BTreeMap<&str, u32> = BTreeMap::new();
    for slot in order {
        let mut ranked: Vec<(u64, &str)> = hashed
            .iter()
            .map(|(h, name)| (weight(*h, slot), *name))
            .collect();
        // Highest weight first; the name breaks (improbable) ties the same way everywhere.
        ranked.sort_unstable_by(|a, b| b.cmp(a));
        let fits = |name: &&str, extra: u32| {
            let l = load.get(name).copied().unwrap_or(0);
            l < floor || (l == floor && extra > 0)
        };
        let owner = ranked
            .iter()
            .map(|(_, name)| *name)
            .find(|name| fits(name, extra))
            .unwrap_or(ranked[0].1);
        let l = load.entry(owner).or_insert(0);
        if *l == floor {
            extra = extra.saturating_sub(1);
        }
        *l += 1;
        if let Some(set) = out.get_mut(owner) {
            *set = set.with(slot);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(prefix: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}-{i}")).collect()
    }

    fn of(names: &[String]) -> BTreeMap<String, SlotSet> {
        assign(names.iter().map(String::as_str))
    }

    #[test]
    fn every_slot_has_exactly_one_owner_and_loads_are_balanced() {
        for n in 1..=12 {
            let members = names("doc-controller", n);
            let a = of(&members);
            let mut all = SlotSet::EMPTY;
            let mut total = 0;
            for set in a.values() {
                assert!(all.intersection(*set).is_empty(), "a slot owned twice");
                all = all.union(*set);
                total += set.len();
                assert!(set.len() <= SLOTS.div_ceil(n as u32), "{n}: {set}");
                assert!(set.len() >= SLOTS / n as u32, "{n}: {set}");
            }
            assert!(all.is_all());
            assert_eq!(total, SLOTS);
        }
        assert!(assign([]).is_empty());
    }

    #[test]
    fn the_assignment_depends_only_on_the_set_of_names() {
        let a = assign(["c", "a", "b"]);
        let b = assign(["b", "c", "a", "a"]);
        assert_eq!(a, b);
    }

    fn moved(a: &BTreeMap<String, SlotSet>, b: &BTreeMap<String, SlotSet>) -> u32 {
        // Slots whose owner changed.
        (0..SLOTS)
            .filter_map(Slot::new)
            .filter(|s| {
                let owner = |m: &BTreeMap<String, SlotSet>| {
                    m.iter()
                        .find(|(_, set)| set.contains(*s))
                        .map(|(n, _)| n.clone())
                };
                owner(a) != owner(b)
            })
            .count() as u32
    }

    #[test]
    fn a_membership_change_moves_about_one_nth_of_the_slots() {
        // Averaged over many rings of StatefulSet-like names: the minimum is 64/(N+1) slots for a join and 64/N
        // for a departure; `hash mod N` would move about half.
        let (mut joins, mut joins_min, mut leaves, mut leaves_min) = (0.0, 0.0, 0.0, 0.0);
        for trial in 0..100 {
            for n in 2..=5usize {
                let members = names(&format!("ring{trial}"), n);
                let before = of(&members);
                let mut grown = members.clone();
                grown.push(format!("ring{trial}-new"));
                let after = of(&grown);
                joins += f64::from(moved(&before, &after));
                joins_min += f64::from(SLOTS) / (n as f64 + 1.0);
                let shrunk = of(&members[1..]);
                leaves += f64::from(moved(&before, &shrunk));
                leaves_min += f64::from(SLOTS) / n as f64;
            }
        }
        assert!(
            joins / joins_min < 1.35,
            "joins moved {:.2}× the minimum",
            joins / joins_min
        );
        assert!(
            leaves / leaves_min < 1.35,
            "departures moved {:.2}× the minimum",
            leaves / leaves_min
        );
    }

    #[test]
    fn members_get_several_ranges() {
        let a = of(&names("doc-controller", 3));
        for set in a.values() {
            assert!(set.ranges().len() >= 4, "{set}");
        }
    }
}
