//! The threads an agent was seen in, each with when it was last seen, so an agent that works
//! for years holds those of the last `forget_after_days` and at most [`MAX_THREADS`] of them:
//! they feed distinct counts and evidence, which must not grow with history.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Threads kept per agent and kind: the most recently seen this many. 1000 is far more than
/// the threads an agent acts in within the horizon in any project seen so far, so the cap only
/// bounds a pathological stream and leaves every count people read unchanged.
pub const MAX_THREADS: usize = 1_000;

/// A set of threads with when each was last seen, in name order.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ThreadSet(BTreeMap<String, i64>);

impl ThreadSet {
    pub fn see(&mut self, thread: &str, now_ms: i64) {
        if let Some(last_ms) = self.0.get_mut(thread) {
            *last_ms = (*last_ms).max(now_ms);
            return;
        }
        if self.0.len() >= MAX_THREADS
            && let Some(oldest) = self.0.iter().min_by_key(|(_, last_ms)| **last_ms).map(|(thread, _)| thread.clone())
        {
            self.0.remove(&oldest);
        }
        self.0.insert(thread.to_owned(), now_ms);
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
        ThreadSet(names.into_iter().map(|name| (name, seen_ms)).collect())
    }
}

/// Threads in the order they were first seen, with when each was last seen.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ThreadList(Vec<(String, i64)>);

impl ThreadList {
    pub fn see(&mut self, thread: &str, now_ms: i64) {
        if let Some((_, last_ms)) = self.0.iter_mut().find(|(name, _)| name == thread) {
            *last_ms = (*last_ms).max(now_ms);
            return;
        }
        if self.0.len() >= MAX_THREADS
            && let Some(oldest) = (self.0.iter().enumerate())
                .min_by_key(|(index, (_, last_ms))| (*last_ms, *index))
                .map(|(index, _)| index)
        {
            self.0.remove(oldest);
        }
        self.0.push((thread.to_owned(), now_ms));
    }

    pub fn forget(&mut self, now_ms: i64, forget_ms: i64) {
        self.0.retain(|(_, last_ms)| now_ms - *last_ms <= forget_ms);
    }

    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.0.iter().map(|(name, _)| name)
    }

    pub fn from_names(names: impl IntoIterator<Item = String>, seen_ms: i64) -> Self {
        ThreadList(names.into_iter().map(|name| (name, seen_ms)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_least_recently_seen_thread_makes_room_at_the_cap() {
        let mut set = ThreadSet::default();
        let mut list = ThreadList::default();
        for index in 0..MAX_THREADS as i64 {
            set.see(&format!("t{index:04}"), index);
            list.see(&format!("t{index:04}"), index);
        }
        set.see("t0000", 5_000);
        list.see("t0000", 5_000);
        set.see("new", 5_001);
        list.see("new", 5_001);
        assert_eq!((set.len(), list.names().count()), (MAX_THREADS, MAX_THREADS));
        assert!(set.names().any(|name| name == "t0000") && !set.names().any(|name| name == "t0001"));
        assert_eq!(list.names().next().map(String::as_str), Some("t0000"), "first-seen order kept");
        assert!(!list.names().any(|name| name == "t0001"));
    }

    #[test]
    fn threads_not_seen_within_the_horizon_are_forgotten() {
        let mut set = ThreadSet::default();
        set.see("old", 0);
        set.see("new", 100);
        set.forget(150, 60);
        assert_eq!(set.names().collect::<Vec<_>>(), ["new"]);
    }
}
