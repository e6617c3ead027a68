//! The threads an agent was seen in, in the order first seen, each with when it was last seen,
//! capped and forgotten like a [`RecentSet`], which keeps name order instead: the threads of a
//! finding are listed in the order the agent worked in them.

use devloop_plugin_sdk::RecentSet;
use serde::{Deserialize, Serialize};

/// Threads in the order they were first seen, with when each was last seen.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ThreadList(Vec<(String, i64)>);

impl ThreadList {
    pub fn see(&mut self, thread: &str, now_ms: i64) {
        if let Some((_, last_ms)) = self.0.iter_mut().find(|(name, _)| name == thread) {
            *last_ms = (*last_ms).max(now_ms);
            return;
        }
        if self.0.len() >= RecentSet::CAP
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
    fn the_least_recently_seen_thread_makes_room_at_the_cap_and_first_seen_order_is_kept() {
        let mut list = ThreadList::default();
        for index in 0..RecentSet::CAP as i64 {
            list.see(&format!("t{index:04}"), index);
        }
        list.see("t0000", 5_000);
        list.see("new", 5_001);
        assert_eq!(list.names().count(), RecentSet::CAP);
        assert_eq!(list.names().next().map(String::as_str), Some("t0000"), "first-seen order kept");
        assert!(!list.names().any(|name| name == "t0001"));
    }
}
