//! One copy of each actor and agent thread the feed hands out.
//!
//! A log names a handful of people, agents and agent threads, event after event, and every
//! record read makes its own copy of the name. Converting a batch for the sandbox stores each
//! of them once in the batch's string table, and to know an event's thread from the last one
//! it had to read the event's copy: mostly a cache miss of its own, and a third of the
//! conversion. With one copy shared by every event that names it, a repeated name is known by
//! its address, and a run holds each name once.

use std::sync::Arc;

use crate::model::Event;

/// Names remembered before the set starts again, so that a log naming a new thread on every
/// line holds no more than this many.
const KEPT: usize = 4096;

#[derive(Default)]
pub(super) struct SharedNames {
    known: foldhash::HashSet<Arc<str>>,
}

impl SharedNames {
    /// Gives `event`'s actor and thread the copy shared by the events before it that name them.
    pub(super) fn share(&mut self, event: &mut Event) {
        for name in [&mut event.actor, &mut event.thread_id].into_iter().flatten() {
            if let Some(known) = self.known.get(&**name) {
                *name = Arc::clone(known);
                continue;
            }
            if self.known.len() >= KEPT {
                self.known.clear();
            }
            self.known.insert(Arc::clone(name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Outcome, Source};

    fn event(actor: &str, thread: &str) -> Event {
        Event {
            id: 1,
            time_ms: 0,
            source: Source::CliActions,
            kind: "cli.command".into(),
            actor: Some(actor.into()),
            thread_id: Some(thread.into()),
            subject: None,
            outcome: Outcome::from_exit_code(Some(0)),
            duration_ms: None,
            fields: Vec::new(),
        }
    }

    #[test]
    fn events_naming_the_same_actor_or_thread_share_one_copy() {
        let mut names = SharedNames::default();
        let mut events = [event("dev", "T-1"), event("dev", "T-2"), event("amp", "T-1")];
        for event in &mut events {
            names.share(event);
        }
        let [first, second, third] = &events;
        let same = |one: &Option<Arc<str>>, other: &Option<Arc<str>>| {
            Arc::ptr_eq(one.as_ref().expect("named"), other.as_ref().expect("named"))
        };
        assert!(same(&first.actor, &second.actor));
        assert!(same(&first.thread_id, &third.thread_id));
        assert!(!same(&first.actor, &third.actor));
        assert!(!same(&first.thread_id, &second.thread_id));
        assert_eq!(
            events.iter().map(|event| (event.actor.as_deref(), event.thread_id.as_deref())).collect::<Vec<_>>(),
            [(Some("dev"), Some("T-1")), (Some("dev"), Some("T-2")), (Some("amp"), Some("T-1"))],
            "the names as logged"
        );
    }

    #[test]
    fn a_log_naming_a_new_thread_on_every_line_is_held_to_a_bounded_set() {
        let mut names = SharedNames::default();
        for line in 0..3 * KEPT {
            names.share(&mut event("dev", &format!("T-{line}")));
            assert!(names.known.len() <= KEPT);
        }
    }
}
