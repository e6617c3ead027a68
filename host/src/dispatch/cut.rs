//! Checkpoints' places in the stream, as the plugins pass them.
//!
//! A cut is marked in the queues of the plugins fed together, and each saves its state when it
//! gets there. The cut is *passed* once every one of them still fed together has: a plugin
//! detached from the others since (it was slower than the feed) is not waited for, and its
//! part of the cut, when it gets there, is handed on alone ([`Passed::Behind`]) to be
//! committed with its own place in the stream. A detached plugin's own cuts, while it catches
//! up, are handed on the same way.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::Reports;
use crate::model::Fingerprint;
use crate::runtime::PluginFailure;

/// One plugin's state at a cut.
#[derive(Debug)]
pub struct CutState {
    /// The detector id.
    pub plugin: String,
    pub version: String,
    /// Its snapshot (`None` when it keeps no state), or how saving it failed.
    pub state: Result<Option<Vec<u8>>, PluginFailure>,
}

/// Everything before a place in the stream ([`super::Pipeline::cut`]), as every plugin fed
/// with the others left it there: what a checkpoint commits.
#[derive(Debug)]
pub struct Cut {
    /// Which cut it is, as [`super::Pipeline::cut`] numbered it.
    pub seq: u64,
    /// Each plugin's state right after the last batch before the cut, when it was asked for.
    pub states: Vec<CutState>,
    /// What was reported of each finding since the previous cut, in fingerprint order.
    pub reported: Vec<Reports>,
    /// The detached plugins that had not got there: their states and findings are not in it.
    pub behind: Vec<String>,
}

/// One detached plugin's part of a cut, once it got there.
#[derive(Debug)]
pub struct PluginCut {
    /// Which cut it is: a [`Cut`] handed on before, or one of its own.
    pub seq: u64,
    pub plugin: String,
    /// Its state there, when it was asked for.
    pub state: Option<CutState>,
    /// What it reported since its previous cut, in fingerprint order.
    pub reported: Vec<Reports>,
}

/// A cut passed, in the order they were passed: a plugin's part of a cut comes after the cut.
#[derive(Debug)]
pub enum Passed {
    Cut(Cut),
    Behind(PluginCut),
}

/// A cut marked for the plugins fed together that some of them have not passed yet.
struct Pending {
    seq: u64,
    /// The plugins it was marked for.
    marked_for: BTreeSet<String>,
    /// The plugins it was marked for that have not got there.
    waiting: BTreeSet<String>,
    states: Vec<CutState>,
    reported: BTreeMap<Fingerprint, Reports>,
}

/// The cuts marked and not passed, and those passed and not taken.
#[derive(Default)]
pub(super) struct Cuts {
    next_seq: u64,
    pending: VecDeque<Pending>,
    passed: VecDeque<Passed>,
}

impl Cuts {
    /// Numbers a new cut.
    pub(super) fn number(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Marks cut `seq` for `plugins`; the states and findings of plugins already there go in
    /// with [`Cuts::got_there`].
    pub(super) fn mark(&mut self, seq: u64, plugins: BTreeSet<String>) {
        let waiting = plugins.clone();
        self.pending.push_back(Pending {
            seq,
            marked_for: plugins,
            waiting,
            states: Vec::new(),
            reported: BTreeMap::new(),
        });
    }

    /// `plugin` got to cut `seq` with `state` and what it `reported` since its previous cut.
    pub(super) fn got_there(
        &mut self,
        seq: u64,
        plugin: &str,
        state: Option<CutState>,
        reported: BTreeMap<Fingerprint, Reports>,
    ) {
        let pending = self.pending.iter_mut().find(|pending| pending.seq == seq && pending.waiting.contains(plugin));
        match pending {
            Some(pending) => {
                pending.waiting.remove(plugin);
                pending.states.extend(state);
                for (fingerprint, reports) in reported {
                    Reports::merge(&mut pending.reported, fingerprint, reports);
                }
            }
            None => self.passed.push_back(Passed::Behind(PluginCut {
                seq,
                plugin: plugin.to_owned(),
                state,
                reported: reported.into_values().collect(),
            })),
        }
    }

    /// Hands on every cut, oldest first, that no plugin in `fed` still has to get to; the
    /// `detached` plugins that did not get there are behind it.
    pub(super) fn release(&mut self, fed: &BTreeSet<String>, detached: &BTreeSet<String>) {
        while let Some(front) = self.pending.front() {
            if front.waiting.iter().any(|plugin| fed.contains(plugin)) {
                return;
            }
            let Pending { seq, marked_for, waiting, states, reported } = self.pending.pop_front().expect("a front");
            let behind = detached
                .iter()
                .filter(|plugin| waiting.contains(*plugin) || !marked_for.contains(*plugin))
                .cloned()
                .collect();
            self.passed.push_back(Passed::Cut(Cut { seq, states, reported: reported.into_values().collect(), behind }));
        }
    }

    /// The plugins in `fed` the oldest unpassed cut waits for.
    pub(super) fn waiting_on<'a>(&'a self, fed: &'a BTreeSet<String>) -> impl Iterator<Item = &'a String> + 'a {
        self.pending.front().into_iter().flat_map(move |front| front.waiting.iter().filter(|id| fed.contains(*id)))
    }

    pub(super) fn take(&mut self) -> Option<Passed> {
        self.passed.pop_front()
    }
}
