//! A run's progress and what it found, committed as one unit.
//!
//! Where every log was read up to, each detector's state, the findings reported since the last
//! checkpoint and the beads filings they are routed to are written in one SQLite transaction.
//! A process killed at any point therefore restarts from a state in which every finding of the
//! events read so far is stored, none of the events after it are, and the detectors hold what
//! they held at that point: the next run replays from there, and each event reaches each
//! detector once after the restore. Sinks that cannot be part of the transaction (the
//! terminal, a file, `bd`) run after the commit; beads filing is exactly-once because its
//! intent is committed here ([`super::filing`]).
//!
//! A detector may be behind the others: one slower than the feed is left to work through its
//! queue while the others go on (see [`crate::stream`]). Its state is then committed with the
//! cursors it corresponds to, its own, in the same transaction as the findings it reported up
//! to there ([`Checkpoint::behind`]); a detector with no cursors of its own is at the shared
//! ones. So the next run restores each detector to a state and a place that match, and feeds
//! the one behind from its own place up to the others' before it joins them.
//!
//! The store keeps cursors as opaque JSON text: what a cursor means is
//! [`crate::ingest`]'s business.

use std::collections::{BTreeMap, HashMap};

use rusqlite::params;

use super::finding::Change;
use super::{Store, StoreError};
use crate::model::{Insight, Occurrences};
use crate::routing::{RoutingConfig, SinkKind};

/// A detector's state as it last handed it over.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginSnapshot {
    pub version: String,
    pub state: Vec<u8>,
}

/// A finding as the detectors reported it since the last checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct Reported {
    /// The latest report of it.
    pub insight: Insight,
    /// The evidence of every report since the last checkpoint (the latest report's among
    /// them), so what is counted does not depend on how often checkpoints are.
    pub occurrences: Occurrences,
    /// No earlier checkpoint of this run recorded it (it counts one more run).
    pub first_in_run: bool,
}

/// What changed since the last checkpoint, written atomically.
#[derive(Debug, Default)]
pub struct Checkpoint {
    /// `(slot key, cursor as JSON)` of every source that moved.
    pub cursors: Vec<(String, String)>,
    /// `(plugin id, snapshot)` of every detector whose state changed.
    pub snapshots: Vec<(String, PluginSnapshot)>,
    /// `(event id, event time)` of the events delivered, when tracing is on.
    pub delivered: Vec<(u64, i64)>,
    /// The findings reported since the last checkpoint.
    pub findings: Vec<Reported>,
    /// `(plugin id, its own cursors)` of every detector whose stored state is not at the shared
    /// cursors, or `None` for one that is again.
    pub behind: Vec<(String, Option<Cursors>)>,
}

/// Every source's cursor as JSON, by slot key.
pub type Cursors = BTreeMap<String, String>;

impl Checkpoint {
    pub fn is_empty(&self) -> bool {
        self.cursors.is_empty()
            && self.snapshots.is_empty()
            && self.delivered.is_empty()
            && self.findings.is_empty()
            && self.behind.is_empty()
    }
}

impl Store {
    /// Writes `checkpoint` in one transaction at wall-clock time `now_ms`, queueing a beads
    /// filing for every new or materially changed finding `routing` sends to beads, and returns
    /// those changes for the sinks that run after the commit.
    pub fn commit(
        &mut self,
        checkpoint: &Checkpoint,
        routing: &RoutingConfig,
        now_ms: i64,
    ) -> Result<Vec<Change>, StoreError> {
        let transaction = self.write_transaction()?;
        {
            let mut cursor = self
                .connection
                .prepare_cached("INSERT OR REPLACE INTO cursors (slot, cursor, updated_ms) VALUES (?1, ?2, ?3)")?;
            for (slot, text) in &checkpoint.cursors {
                cursor.execute(params![slot, text, now_ms])?;
            }
            let mut snapshot = self.connection.prepare_cached(
                "INSERT OR REPLACE INTO plugin_state (plugin, version, state, updated_ms) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (plugin, state) in &checkpoint.snapshots {
                snapshot.execute(params![plugin, state.version, state.state, now_ms])?;
            }
            let mut delivered =
                self.connection.prepare_cached("INSERT INTO delivered (event_id, time_ms) VALUES (?1, ?2)")?;
            for (id, time_ms) in &checkpoint.delivered {
                delivered.execute(params![*id as i64, time_ms])?;
            }
            let mut behind = self.connection.prepare_cached(
                "INSERT OR REPLACE INTO plugin_behind (plugin, cursors, updated_ms) VALUES (?1, ?2, ?3)",
            )?;
            let mut caught_up = self.connection.prepare_cached("DELETE FROM plugin_behind WHERE plugin = ?1")?;
            for (plugin, cursors) in &checkpoint.behind {
                match cursors {
                    Some(cursors) => {
                        let text = serde_json::to_string(cursors)
                            .map_err(|source| StoreError::Position { plugin: plugin.clone(), source })?;
                        behind.execute(params![plugin, text, now_ms])?
                    }
                    None => caught_up.execute(params![plugin])?,
                };
            }
        }
        let mut changes = Vec::new();
        for reported in &checkpoint.findings {
            let Some(change) =
                self.record_one(&reported.insight, &reported.occurrences, reported.first_in_run, now_ms)?
            else {
                continue;
            };
            if routing.sinks_for(&change.finding.insight).contains(&SinkKind::Beads) {
                self.queue_filing(&change.finding.fingerprint, now_ms)?;
            }
            changes.push(change);
        }
        transaction.commit()?;
        Ok(changes)
    }

    /// Forgets every cursor and detector state (`--from-start`); findings and the trace stay.
    pub fn reset_progress(&mut self) -> Result<(), StoreError> {
        self.connection.execute_batch("DELETE FROM cursors; DELETE FROM plugin_state; DELETE FROM plugin_behind;")?;
        Ok(())
    }

    /// Every stored cursor, by slot key.
    pub fn cursors(&self) -> Result<HashMap<String, String>, StoreError> {
        let mut statement = self.connection.prepare("SELECT slot, cursor FROM cursors")?;
        let rows = statement.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The own cursors of every detector behind the shared ones, by plugin id.
    pub fn behind(&self) -> Result<HashMap<String, Cursors>, StoreError> {
        let mut statement = self.connection.prepare("SELECT plugin, cursors FROM plugin_behind")?;
        let rows = statement.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))?;
        let mut behind = HashMap::new();
        for row in rows {
            let (plugin, cursors) = row?;
            let cursors = serde_json::from_str(&cursors)
                .map_err(|source| StoreError::Position { plugin: plugin.clone(), source })?;
            behind.insert(plugin, cursors);
        }
        Ok(behind)
    }

    /// Every stored detector state, by plugin id.
    pub fn snapshots(&self) -> Result<HashMap<String, PluginSnapshot>, StoreError> {
        let mut statement = self.connection.prepare("SELECT plugin, version, state FROM plugin_state")?;
        let rows = statement.query_map([], |row| {
            Ok((row.get::<_, String>(0)?, PluginSnapshot { version: row.get(1)?, state: row.get(2)? }))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The ids of every event delivered while tracing was on, in delivery order.
    pub fn delivered(&self) -> Result<Vec<u64>, StoreError> {
        let mut statement = self.connection.prepare("SELECT event_id FROM delivered ORDER BY sequence")?;
        let rows = statement.query_map([], |row| row.get::<_, i64>(0))?;
        Ok(rows.map(|row| row.map(|id| id as u64)).collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::insight;
    use super::*;
    use crate::model::Severity;

    fn beads_routing() -> RoutingConfig {
        toml::from_str("[[rule]]\nsinks = [\"beads\"]\n").expect("a valid routing config")
    }

    #[test]
    fn progress_findings_and_filing_intents_are_read_back_after_reopening() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = Store::open_in(dir.path())?;
        let found = insight("bd ready", &[1, 2, 3], Severity::Warning);
        let changes = store.commit(
            &Checkpoint {
                cursors: vec![("/p/events.jsonl".to_owned(), "{\"lines\":{}}".to_owned())],
                snapshots: vec![(
                    "command-repetition".to_owned(),
                    PluginSnapshot { version: "0.1.0".to_owned(), state: vec![1, 2] },
                )],
                delivered: vec![(u64::MAX, 5)],
                findings: vec![Reported {
                    occurrences: Occurrences::of(&found),
                    insight: found.clone(),
                    first_in_run: true,
                }],
                behind: vec![(
                    "slow".to_owned(),
                    Some(Cursors::from([("/p/events.jsonl".to_owned(), "{\"lines\":{}}".to_owned())])),
                )],
            },
            &beads_routing(),
            10,
        )?;
        assert_eq!(changes.len(), 1);
        drop(store);
        let mut store = Store::open_in(dir.path())?;
        assert_eq!(store.cursors()?.get("/p/events.jsonl").map(String::as_str), Some("{\"lines\":{}}"));
        assert_eq!(store.snapshots()?["command-repetition"].state, [1, 2]);
        assert_eq!(store.delivered()?, [u64::MAX]);
        assert_eq!(store.get(&found.fingerprint())?.map(|stored| stored.occurrences), Some(3));
        assert_eq!(store.pending_filings()?.len(), 1, "the filing intent is committed with the finding");
        assert_eq!(store.behind()?["slow"]["/p/events.jsonl"], "{\"lines\":{}}");
        let caught_up = Checkpoint { behind: vec![("slow".to_owned(), None)], ..Checkpoint::default() };
        store.commit(&caught_up, &beads_routing(), 11)?;
        assert!(store.behind()?.is_empty(), "a detector back at the shared cursors has none of its own");
        Ok(())
    }

    #[test]
    fn a_finding_reported_at_several_checkpoints_of_one_run_counts_every_reports_evidence_and_one_run()
    -> Result<(), StoreError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = Store::open_in(dir.path())?;
        let routing = RoutingConfig::default();
        // Two reports before the first checkpoint (evidence 1–3, then 3–4), one after it.
        for (reports, first_in_run) in [(&[&[1, 2, 3][..], &[3, 4]][..], true), (&[&[5]], false)] {
            let mut occurrences = Occurrences::default();
            reports.iter().for_each(|evidence| occurrences.add(&insight("x", evidence, Severity::Info)));
            let latest = insight("x", reports[reports.len() - 1], Severity::Info);
            let reported = Reported { insight: latest, occurrences, first_in_run };
            store.commit(&Checkpoint { findings: vec![reported], ..Checkpoint::default() }, &routing, 10)?;
        }
        let stored = store.resolve(insight("x", &[1], Severity::Info).fingerprint().as_str())?;
        assert_eq!((stored.occurrences, stored.runs), (5, 1), "every report's evidence, one run");
        Ok(())
    }
}
