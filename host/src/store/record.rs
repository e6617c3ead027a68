//! Recording a run's findings: re-detecting a known finding updates its row, never adds one,
//! and the run learns which findings are worth telling someone about.

use rusqlite::params;

use super::finding::{Change, ChangeKind, Triage};
use super::{Store, StoreError, severity_rank};
use crate::model::{Insight, Occurrences};

impl Store {
    /// Records one run's findings (the one report of each the run made) at wall-clock time
    /// `now_ms`, and returns the ones that are new or changed materially, in the order given.
    pub fn record_run(&mut self, findings: &[Insight], now_ms: i64) -> Result<Vec<Change>, StoreError> {
        let transaction = self.write_transaction()?;
        let mut changes = Vec::new();
        for insight in findings {
            if let Some(change) = self.record_one(insight, &Occurrences::of(insight), true, now_ms)? {
                changes.push(change);
            }
        }
        transaction.commit()?;
        Ok(changes)
    }

    /// Records one finding (`insight` its latest report) whose reports gave `occurrences`;
    /// `new_run` counts one more run reporting it.
    ///
    /// The stored occurrences cover every run: an evidence event the store already counted for
    /// this finding adds nothing, so reading the same logs twice adds nothing.
    pub(super) fn record_one(
        &self,
        insight: &Insight,
        occurrences: &Occurrences,
        new_run: bool,
        now_ms: i64,
    ) -> Result<Option<Change>, StoreError> {
        let fingerprint = insight.fingerprint();
        let known = self.get(&fingerprint)?;
        let insight_json = serde_json::to_string(insight).expect("an insight always serializes");
        if known.is_none() {
            self.connection.execute(
                "INSERT INTO findings (fingerprint, pattern, severity, confidence, insight, first_seen_ms, last_seen_ms, \
                 recorded_ms, occurrences, runs, status, status_changed_ms, baseline_occurrences, baseline_severity) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, 0, 0, 'new', ?7, 0, ?3)",
                params![
                    fingerprint.as_str(),
                    insight.pattern,
                    severity_rank(insight.severity),
                    f64::from(insight.confidence),
                    insight_json,
                    insight.time_ms,
                    now_ms
                ],
            )?;
        }
        let occurrences =
            known.as_ref().map_or(0, |found| found.occurrences) + self.add_evidence(insight, occurrences)?;
        self.connection.execute(
            "UPDATE findings SET severity = ?2, confidence = ?3, insight = ?4, first_seen_ms = min(first_seen_ms, ?5), \
             last_seen_ms = max(last_seen_ms, ?5), recorded_ms = ?6, occurrences = ?7, runs = runs + ?8 \
             WHERE fingerprint = ?1",
            params![
                fingerprint.as_str(),
                severity_rank(insight.severity),
                f64::from(insight.confidence),
                insight_json,
                insight.time_ms,
                now_ms,
                occurrences as i64,
                i64::from(new_run)
            ],
        )?;

        let kind = match &known {
            None => Some(ChangeKind::New),
            Some(found) => {
                let grew = found.baseline.grew_materially(occurrences, insight.severity);
                match found.status {
                    Triage::Dismissed if grew => {
                        Some(ChangeKind::Reopened { was: Triage::Dismissed, from: found.baseline })
                    }
                    Triage::Snoozed if found.status_at(now_ms) == Triage::New => {
                        Some(ChangeKind::Reopened { was: Triage::Snoozed, from: found.baseline })
                    }
                    Triage::Dismissed | Triage::Snoozed => None,
                    Triage::New | Triage::Acknowledged | Triage::Filed if grew => {
                        Some(ChangeKind::Grew { from: found.baseline })
                    }
                    Triage::New | Triage::Acknowledged | Triage::Filed => None,
                }
            }
        };
        let Some(kind) = kind else {
            return Ok(None);
        };
        self.connection.execute(
            "UPDATE findings SET baseline_occurrences = ?2, baseline_severity = ?3 WHERE fingerprint = ?1",
            params![fingerprint.as_str(), occurrences as i64, severity_rank(insight.severity)],
        )?;
        let detail = match &kind {
            ChangeKind::New => format!("{occurrences} occurrence(s), {}", insight.severity),
            ChangeKind::Grew { from } | ChangeKind::Reopened { from, .. } => {
                format!("{} → {occurrences} occurrence(s), {} → {}", from.occurrences, from.severity, insight.severity)
            }
        };
        if let ChangeKind::Reopened { was, .. } = &kind {
            let reason = match was {
                Triage::Snoozed => "the snooze ended".to_owned(),
                _ => format!("its evidence grew: {detail}"),
            };
            self.set_status(&fingerprint, Triage::New, Some(&reason), None, now_ms)?;
        }
        self.add_history(&fingerprint, now_ms, kind.label(), Some(&detail))?;
        let finding = self.get(&fingerprint)?.ok_or_else(|| StoreError::UnknownFingerprint(fingerprint.to_string()))?;
        Ok(Some(Change { kind, finding }))
    }

    /// Adds the evidence events and returns how many occurrences they add.
    fn add_evidence(&self, insight: &Insight, occurrences: &Occurrences) -> Result<u64, StoreError> {
        let fingerprint = insight.fingerprint();
        let mut insert = self
            .connection
            .prepare_cached("INSERT OR IGNORE INTO evidence_events (fingerprint, event_id) VALUES (?1, ?2)")?;
        occurrences.add_to(|event_id| Ok(insert.execute(params![fingerprint.as_str(), event_id as i64])? == 1))
    }
}

#[cfg(test)]
mod tests {
    use super::super::Baseline;
    use super::super::test_support::insight;
    use super::*;
    use crate::model::Severity;

    #[test]
    fn a_finding_seen_again_is_one_row_and_reading_the_same_logs_twice_adds_nothing() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = Store::open_in(dir.path())?;
        let first = store.record_run(&[insight("bd ready", &[1, 2, 3], Severity::Info)], 10)?;
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].kind, ChangeKind::New);
        let again = store.record_run(&[insight("bd ready", &[1, 2, 3], Severity::Info)], 20)?;
        assert!(again.is_empty());
        let found = store.resolve(first[0].finding.fingerprint.as_str())?;
        assert_eq!((found.occurrences, found.runs, found.recorded_ms), (3, 2, 20));
        assert_eq!(store.list(&super::super::Filter::everything(), 30)?.len(), 1);
        Ok(())
    }

    #[test]
    fn a_report_naming_no_event_counts_once_beside_the_events_others_named() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = Store::open_in(dir.path())?;
        store.record_run(&[insight("x", &[], Severity::Info)], 10)?;
        store.record_run(&[insight("x", &[], Severity::Info)], 20)?;
        store.record_run(&[insight("x", &[1, 2], Severity::Info)], 30)?;
        store.record_run(&[insight("x", &[1, 2, 3], Severity::Info)], 40)?;
        let found = store.resolve(insight("x", &[], Severity::Info).fingerprint().as_str())?;
        assert_eq!(found.occurrences, 5, "two reports without events, then events 1, 2 and 3");
        Ok(())
    }

    #[test]
    fn growth_is_reported_once_per_doubling() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = Store::open_in(dir.path())?;
        store.record_run(&[insight("x", &[1, 2, 3], Severity::Info)], 10)?;
        assert!(store.record_run(&[insight("x", &[4, 5], Severity::Info)], 20)?.is_empty());
        let grew = store.record_run(&[insight("x", &[6], Severity::Info)], 30)?;
        assert_eq!(grew.len(), 1);
        assert_eq!(grew[0].kind, ChangeKind::Grew { from: Baseline { occurrences: 3, severity: Severity::Info } });
        assert!(store.record_run(&[insight("x", &[7], Severity::Info)], 40)?.is_empty());
        let rose = store.record_run(&[insight("x", &[8], Severity::Warning)], 50)?;
        assert_eq!(rose.len(), 1, "a higher severity is material");
        Ok(())
    }
}
