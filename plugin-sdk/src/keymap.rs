//! A hash map for the state a detector looks up for every event.
//!
//! Detectors key their state by command lines, people and agent threads. In a `BTreeMap` a
//! lookup compares the key with a dozen others, and thread ids share their first 26 bytes
//! (`T-019c62c5-ce64-…`); in a WebAssembly guest every one of those comparisons is a call to
//! `memcmp`, and under a profile of the command-repetition component they were an eighth of its
//! time. A hash map finds a key with one hash and, nearly always, one comparison.
//!
//! The hasher is seeded at random in each instance, so that log lines cannot be chosen to
//! collide, and the order of the entries changes from run to run. A [`KeyMap`] therefore offers
//! no iteration: a detector that reads its state in order (to report, to pick the oldest) keeps
//! an ordered map, and one made of lookups, inserts and sweeps gives the same insights on every
//! replay with this one. Its snapshot lists the entries sorted by key, so the same state saves
//! the same bytes, and it reads a snapshot of the ordered map it replaces (a JSON object keyed
//! by text, or a list of pairs as [`PairMap`](crate::state::PairMap) writes), so a detector
//! moved to it keeps its saved state.

use std::borrow::Borrow;
use std::collections::hash_map::{Entry, HashMap};
use std::fmt;
use std::hash::{BuildHasher, Hash};
use std::marker::PhantomData;
use std::ops::Index;
use std::sync::OnceLock;

use foldhash::SharedSeed;
use foldhash::fast::SeedableRandomState;
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A map from keys to state with lookups in constant time and no order (see the module).
#[derive(Clone)]
pub struct KeyMap<K, V>(HashMap<K, V, Seeded>);

/// Foldhash (a few instructions per word, where std's SipHash spends dozens) with a seed drawn
/// from the operating system's random source once per instance, and one per map from it.
#[derive(Clone)]
struct Seeded(SeedableRandomState);

impl Default for Seeded {
    fn default() -> Self {
        static SHARED: OnceLock<SharedSeed> = OnceLock::new();
        let random = std::hash::RandomState::new();
        let shared = SHARED.get_or_init(|| SharedSeed::from_u64(random.hash_one(0_u8)));
        Seeded(SeedableRandomState::with_seed(random.hash_one(1_u8), shared))
    }
}

impl BuildHasher for Seeded {
    type Hasher = foldhash::fast::FoldHasher<'static>;

    fn build_hasher(&self) -> Self::Hasher {
        self.0.build_hasher()
    }
}

impl<K, V> Default for KeyMap<K, V> {
    fn default() -> Self {
        KeyMap(HashMap::with_hasher(Seeded::default()))
    }
}

impl<K: Hash + Eq, V> KeyMap<K, V> {
    pub fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.0.get(key)
    }

    pub fn get_mut<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.0.get_mut(key)
    }

    pub fn contains_key<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.0.contains_key(key)
    }

    pub fn entry(&mut self, key: K) -> Entry<'_, K, V> {
        self.0.entry(key)
    }

    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        self.0.insert(key, value)
    }

    pub fn remove<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.0.remove(key)
    }

    /// Keeps the entries `keep` accepts: for sweeps, which must not depend on order.
    pub fn retain(&mut self, keep: impl FnMut(&K, &mut V) -> bool) {
        self.0.retain(keep);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<K: Hash + Eq + Borrow<Q>, Q: Hash + Eq + ?Sized, V> Index<&Q> for KeyMap<K, V> {
    type Output = V;

    /// The value of `key`; panics if there is none, as a `HashMap` does.
    fn index(&self, key: &Q) -> &V {
        &self.0[key]
    }
}

impl<K: Hash + Eq, V> FromIterator<(K, V)> for KeyMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(entries: I) -> Self {
        let mut map = KeyMap::default();
        map.0.extend(entries);
        map
    }
}

impl<K: Ord + fmt::Debug, V: fmt::Debug> fmt::Debug for KeyMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.sorted()).finish()
    }
}

impl<K: Hash + Eq, V: PartialEq> PartialEq for KeyMap<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<K: Ord, V> KeyMap<K, V> {
    fn sorted(&self) -> Vec<(&K, &V)> {
        let mut entries: Vec<(&K, &V)> = self.0.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        entries
    }
}

impl<K: Serialize + Ord, V: Serialize> Serialize for KeyMap<K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.sorted())
    }
}

impl<'de, K: Deserialize<'de> + Hash + Eq, V: Deserialize<'de>> Deserialize<'de> for KeyMap<K, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Entries(PhantomData))
    }
}

/// Reads a list of `[key, value]` pairs, or an object (an ordered map of text keys as saved).
struct Entries<K, V>(PhantomData<(K, V)>);

impl<'de, K: Deserialize<'de> + Hash + Eq, V: Deserialize<'de>> Visitor<'de> for Entries<K, V> {
    type Value = KeyMap<K, V>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of [key, value] pairs or an object")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut pairs: A) -> Result<Self::Value, A::Error> {
        let mut map = KeyMap::default();
        while let Some((key, value)) = pairs.next_element::<(K, V)>()? {
            map.insert(key, value);
        }
        Ok(map)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Self::Value, A::Error> {
        let mut map = KeyMap::default();
        while let Some((key, value)) = entries.next_entry::<K, V>()? {
            map.insert(key, value);
        }
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::state::{PairMap, load, save};

    #[test]
    fn lookups_inserts_and_sweeps_work_as_in_any_map() {
        let mut map: KeyMap<(String, String), u64> = KeyMap::default();
        let key = |command: &str, who: &str| (command.to_owned(), who.to_owned());
        for (index, who) in ["dev", "T-019c62c5-ce64-720a-b597-000000000001", "T-019c62c5-ce64-720a-b597-000000000002"]
            .into_iter()
            .enumerate()
        {
            *map.entry(key("bd ready", who)).or_default() += index as u64 + 1;
        }
        assert_eq!(map.len(), 3);
        assert_eq!(map.get(&key("bd ready", "T-019c62c5-ce64-720a-b597-000000000002")), Some(&3));
        assert_eq!(map.get(&key("bd ready", "T-019c62c5-ce64-720a-b597-000000000003")), None);
        map.retain(|_, count| *count != 2);
        assert!(!map.contains_key(&key("bd ready", "T-019c62c5-ce64-720a-b597-000000000001")));
        assert_eq!(map.remove(&key("bd ready", "dev")), Some(1));
        assert_eq!(map.len(), 1);
    }

    #[test]
    fn the_same_entries_save_the_same_bytes_whatever_the_order_of_insertion() -> Result<(), String> {
        let commands = ["git status", "bd ready", "cargo test", "devloop status", "bd sync"];
        let forwards: KeyMap<String, usize> = commands.iter().enumerate().map(|(i, c)| (c.to_string(), i)).collect();
        let backwards: KeyMap<String, usize> =
            commands.iter().enumerate().rev().map(|(i, c)| (c.to_string(), i)).collect();
        let bytes = save(&forwards).ok_or("serializable")?;
        assert_eq!(Some(&bytes), save(&backwards).as_ref());
        assert_eq!(String::from_utf8_lossy(&bytes).find("bd ready"), Some(3), "sorted: {bytes:?}");
        assert_eq!(load::<KeyMap<String, usize>>(&bytes)?, forwards);
        Ok(())
    }

    #[test]
    fn it_reads_the_snapshots_of_the_ordered_maps_it_replaces() -> Result<(), String> {
        let people: BTreeMap<String, u64> = [("dev".to_owned(), 4), ("ops".to_owned(), 2)].into();
        let read: KeyMap<String, u64> = load(&save(&people).ok_or("serializable")?)?;
        assert_eq!((read.len(), read.get("dev"), read.get("ops")), (2, Some(&4), Some(&2)));
        let mut pairs = PairMap::default();
        pairs.insert(("bd ready".to_owned(), "dev".to_owned()), 7_u64);
        let read: KeyMap<(String, String), u64> = load(&save(&pairs).ok_or("serializable")?)?;
        assert_eq!(read.get(&("bd ready".to_owned(), "dev".to_owned())), Some(&7));
        Ok(())
    }
}
