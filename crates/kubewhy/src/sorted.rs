//! A small ordered map kept as a sorted `Vec`: for the library's own maps of tens of entries (the permissions a
//! program used, the needs grouped from them). It orders and looks up like a `BTreeMap`, but its code per key and
//! value type is a binary search and a `Vec` insert, not a B-tree's node handling — which a program would carry
//! once for each such map. (With `trace`, for the inspector's record; `watch` reads its maps by key and value too.)
//!
//! Not `litemap` (ICU4X's sorted-`Vec` map, the same idea as a crate): measured in controller-rs's release binary it
//! added 28 KB more than this module (its store traits are generic code too: 19,054,600 against 19,026,480 bytes)
//! and one more package to an adopting program's lock, which issue 22 counts against the recipe.

use std::borrow::Borrow;

/// An ordered map as a sorted `Vec` of its entries (no two with one key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SortedMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap {
            entries: Vec::new(),
        }
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    /// Where `key` is (`Ok`) or would go (`Err`).
    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.entries.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// The number of entries.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether `key` has an entry.
    pub(crate) fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_ok()
    }

    #[cfg(feature = "watch")]
    /// The value of `key`.
    pub(crate) fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|at| &self.entries[at].1)
    }

    /// The value of `key`, made by `make` (and kept) when there is none.
    pub(crate) fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let at = match self.find(&key) {
            Ok(at) => at,
            Err(at) => {
                self.entries.insert(at, (key, make()));
                at
            }
        };
        &mut self.entries[at].1
    }

    /// Sets the value of `key`.
    pub(crate) fn insert(&mut self, key: K, value: V) {
        match self.find(&key) {
            Ok(at) => self.entries[at].1 = value,
            Err(at) => self.entries.insert(at, (key, value)),
        }
    }

    /// Takes the entry of `key` out.
    pub(crate) fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|at| self.entries.remove(at).1)
    }

    #[cfg(feature = "watch")]
    /// Keeps only the entries `keep` says yes to.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
    }

    #[cfg(feature = "watch")]
    /// The keys in order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &K> {
        self.entries.iter().map(|(k, _)| k)
    }

    #[cfg(feature = "watch")]
    /// The values in key order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }

    /// The entries in key order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &(K, V)> {
        self.entries.iter()
    }

    /// The entries from `key` on, in key order.
    pub(crate) fn from<Q: Ord + ?Sized>(&self, key: &Q) -> std::slice::Iter<'_, (K, V)>
    where
        K: Borrow<Q>,
    {
        let at = self.find(key).unwrap_or_else(|at| at);
        self.entries[at..].iter()
    }
}

impl<K, V> IntoIterator for SortedMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;

    /// The entries in key order.
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::SortedMap;

    #[test]
    fn orders_and_finds_as_a_btree_map_does() {
        let mut m = SortedMap::default();
        let mut b = std::collections::BTreeMap::new();
        for (i, k) in [5, 1, 9, 1, 3, 7, 5, 0, 9, 2].into_iter().enumerate() {
            *m.get_or_insert_with(k, || 0) += i;
            *b.entry(k).or_insert(0) += i;
        }
        m.insert(4, 40);
        b.insert(4, 40);
        m.insert(9, 90);
        b.insert(9, 90);
        assert_eq!(m.remove(&3), b.remove(&3));
        assert_eq!(m.remove(&3), None);
        assert_eq!(m.len(), b.len());
        assert!(m.contains_key(&4) && !m.contains_key(&3));
        #[cfg(feature = "watch")]
        {
            assert_eq!((m.get(&4), m.get(&3)), (b.get(&4), b.get(&3)));
            m.retain(|k, _| k % 2 == 1);
            b.retain(|k, _| k % 2 == 1);
            assert!(m.keys().eq(b.keys()) && m.values().eq(b.values()));
        }
        let from: Vec<_> = m.from(&3).map(|(k, v)| (*k, *v)).collect();
        let want: Vec<_> = b.range(3..).map(|(k, v)| (*k, *v)).collect();
        assert_eq!(from, want);
        assert_eq!(
            m.into_iter().collect::<Vec<_>>(),
            b.into_iter().collect::<Vec<_>>()
        );
    }
}
