//! `share`: a key whose share of `part` events among its own events stands out — enough of
//! them, a high enough share, and several times the share of all other keys together (an
//! agent whose results are dismissed far more often than the others').
//!
//! Totals over all keys are kept as they grow, so judging a key is O(log n). Every event can
//! move the other keys' share, so the keys already reported are judged again too; a finding is
//! sent again only when what a person reads in it changed (the engine checks that).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::Found;
use crate::compile::ShareMatch;
use crate::filter::Captured;
use crate::template::Shares;

/// Part events kept as evidence per key; the counts go on.
const MAX_EVIDENCE: usize = 20;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    keys: BTreeMap<String, Tally>,
    total: u64,
    part: u64,
    /// The keys found so far, judged again on every event.
    found: BTreeSet<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Tally {
    total: u64,
    part: u64,
    events: Vec<Captured>,
}

impl State {
    /// Counts an event of `group` (in `part` or not) and judges the key and the keys found
    /// before.
    pub fn on_event(&mut self, rule: &ShareMatch, group: String, part: bool, event: Captured) -> Vec<Found> {
        let tally = self.keys.entry(group.clone()).or_default();
        tally.total += 1;
        self.total += 1;
        if part {
            tally.part += 1;
            self.part += 1;
            if tally.events.len() < MAX_EVIDENCE {
                tally.events.push(event);
            }
        }
        let own = self.judge(rule, &group);
        if own.is_some() {
            self.found.insert(group.clone());
        }
        let others = self.found.iter().filter(|key| **key != group).filter_map(|key| self.judge(rule, key));
        own.into_iter().chain(others).collect()
    }

    fn judge(&self, rule: &ShareMatch, group: &str) -> Option<Found> {
        let tally = self.keys.get(group)?;
        let shares = Shares {
            part: tally.part,
            total: tally.total,
            others_part: self.part - tally.part,
            others_total: self.total - tally.total,
        };
        let stands_out = rule
            .above_others
            .is_none_or(|factor| shares.others_total > 0 && shares.share() >= factor * shares.others_share());
        if tally.part < rule.at_least || shares.share() < rule.min_share || !stands_out {
            return None;
        }
        Some(Found {
            events: tally.events.clone(),
            steps: Vec::new(),
            count: tally.part as usize,
            extra: (tally.part - rule.at_least) as usize,
            distinct: Vec::new(),
            metric: None,
            shares: Some(shares),
            time_ms: None,
        })
    }
}
