//! A set of names (threads, files) with when each was last seen, so a detector that counts
//! distinct places over years holds only those of its forgetting horizon and at most
//! [`RecentSet::CAP`] of them: they feed distinct counts and evidence, which must not grow with
//! history.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Names with when each was last seen, in name order.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecentSet(BTreeMap<String, i64>);

impl RecentSet {
    /// Names kept: the most recently seen this many. 1000 is far more than the threads or files
    /// one agent touches within a month in any project seen so far, so the cap only bounds a
    /// pathological stream and leaves every count people read unchanged.
    pub const CAP: usize = 1_000;

    /// Records `name` as seen at `now_ms`; at the cap, the least recently seen makes room.
    pub fn see(&mut self, name: &str, now_ms: i64) {
        if let Some(last_ms) = self.0.get_mut(name) {
            *last_ms = (*last_ms).max(now_ms);
            return;
        }
        if self.0.len() >= Self::CAP
            && let Some(oldest) = self.0.iter().min_by_key(|(_, last_ms)| **last_ms).map(|(name, _)| name.clone())
        {
            self.0.remove(&oldest);
        }
        self.0.insert(name.to_owned(), now_ms);
    }

    /// Drops the names not seen within `forget_ms` before `now_ms`.
    pub fn forget(&mut self, now_ms: i64, forget_ms: i64) {
        self.0.retain(|_, last_ms| now_ms - *last_ms <= forget_ms);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.0.keys()
    }

    /// The set of `names`, each as seen at `seen_ms` (a snapshot that kept no times).
    pub fn from_names(names: impl IntoIterator<Item = String>, seen_ms: i64) -> Self {
        RecentSet(names.into_iter().map(|name| (name, seen_ms)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_seen_name_makes_room_at_the_cap() {
        let mut set = RecentSet::default();
        for index in 0..RecentSet::CAP as i64 {
            set.see(&format!("t{index:04}"), index);
        }
        set.see("t0000", 5_000);
        set.see("new", 5_001);
        assert_eq!(set.len(), RecentSet::CAP);
        assert!(set.names().any(|name| name == "t0000") && !set.names().any(|name| name == "t0001"));
    }

    #[test]
    fn names_not_seen_within_the_horizon_are_forgotten() {
        let mut set = RecentSet::default();
        set.see("old", 0);
        set.see("new", 100);
        set.forget(150, 60);
        assert_eq!(set.names().collect::<Vec<_>>(), ["new"]);
    }
}
