//! The threads (or files) an agent's silent results were in, each with when it was last seen,
//! so an agent that works for years holds those of the last `forget_after_days` and at most
//! [`MAX_PLACES`] of them: they feed distinct counts and evidence, which must not grow with
//! history.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Threads (or files) kept per agent: the most recently seen this many. 1000 is far more than
/// the threads an agent goes unanswered in within the horizon in any project seen so far, so
/// the cap only bounds a pathological stream and leaves every count people read unchanged.
pub const MAX_PLACES: usize = 1_000;

/// A set of places with when each was last seen, in name order.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Places(BTreeMap<String, i64>);

impl Places {
    pub fn see(&mut self, place: &str, now_ms: i64) {
        if let Some(last_ms) = self.0.get_mut(place) {
            *last_ms = (*last_ms).max(now_ms);
            return;
        }
        if self.0.len() >= MAX_PLACES
            && let Some(oldest) = self.0.iter().min_by_key(|(_, last_ms)| **last_ms).map(|(place, _)| place.clone())
        {
            self.0.remove(&oldest);
        }
        self.0.insert(place.to_owned(), now_ms);
    }

    pub fn forget(&mut self, now_ms: i64, forget_ms: i64) {
        self.0.retain(|_, last_ms| now_ms - *last_ms <= forget_ms);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.0.keys()
    }

    pub fn from_names(names: impl IntoIterator<Item = String>, seen_ms: i64) -> Self {
        Places(names.into_iter().map(|name| (name, seen_ms)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_seen_place_makes_room_at_the_cap() {
        let mut set = Places::default();
        for index in 0..MAX_PLACES as i64 {
            set.see(&format!("t{index:04}"), index);
        }
        set.see("t0000", 5_000);
        set.see("new", 5_001);
        assert_eq!(set.len(), MAX_PLACES);
        assert!(set.names().any(|name| name == "t0000") && !set.names().any(|name| name == "t0001"));
    }

    #[test]
    fn threads_not_seen_within_the_horizon_are_forgotten() {
        let mut set = Places::default();
        set.see("old", 0);
        set.see("new", 100);
        set.forget(150, 60);
        assert_eq!(set.names().collect::<Vec<_>>(), ["new"]);
    }
}
