//! Reading findings back: filters, a summary for the morning's triage, and a finding's history.

use std::collections::BTreeMap;

use rusqlite::params;

use super::finding::{StoredFinding, Triage};
use super::{RawFinding, SELECT_FINDING, Store, StoreError, read_row};
use crate::model::{Fingerprint, Severity};

/// Which findings to list. The default shows what needs attention: new, acknowledged and
/// filed findings (dismissed and snoozed ones are hidden until they speak up again).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// At least this severe.
    pub min_severity: Option<Severity>,
    /// Exactly this pattern id.
    pub pattern: Option<String>,
    /// Seen in this thread (its id, or any part of its URL).
    pub thread: Option<String>,
    pub min_confidence: Option<f32>,
    /// Last seen at or after this time (ms since the epoch).
    pub since_ms: Option<i64>,
    /// Only these statuses (as they read now: an ended snooze reads as new).
    pub statuses: Option<Vec<Triage>>,
    pub limit: Option<usize>,
}

impl Filter {
    /// Every finding, whatever its status.
    pub fn everything() -> Filter {
        Filter { statuses: Some(Triage::ALL.to_vec()), ..Filter::default() }
    }

    fn matches(&self, finding: &StoredFinding, now_ms: i64) -> bool {
        let status = finding.status_at(now_ms);
        let statuses_ok = match &self.statuses {
            Some(statuses) => statuses.contains(&status),
            None => matches!(status, Triage::New | Triage::Acknowledged | Triage::Filed),
        };
        let insight = &finding.insight;
        statuses_ok
            && self.min_severity.is_none_or(|severity| insight.severity >= severity)
            && self.pattern.as_ref().is_none_or(|pattern| &insight.pattern == pattern)
            && self.min_confidence.is_none_or(|confidence| insight.confidence >= confidence)
            && self.since_ms.is_none_or(|since| finding.last_seen_ms >= since)
            && self.thread.as_ref().is_none_or(|thread| {
                insight
                    .affected_threads
                    .iter()
                    .any(|seen| seen.contains(thread.as_str()) || thread.contains(seen.as_str()))
            })
    }
}

/// One step in a finding's life.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    pub at_ms: i64,
    pub change: String,
    pub detail: Option<String>,
}

/// Counts for a morning's triage.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub total: usize,
    pub by_status: BTreeMap<Triage, usize>,
    /// Pattern → severity → findings.
    pub by_pattern: BTreeMap<String, BTreeMap<Severity, usize>>,
    /// The most pressing findings not silenced: most severe, then most evidence.
    pub top: Vec<StoredFinding>,
}

impl Store {
    /// The findings matching `filter` at `now_ms`, most severe first, then most recently seen.
    pub fn list(&self, filter: &Filter, now_ms: i64) -> Result<Vec<StoredFinding>, StoreError> {
        let mut statement = self.connection.prepare(&format!("{SELECT_FINDING} ORDER BY f.fingerprint"))?;
        let raw = statement.query_map([], read_row)?.collect::<Result<Vec<_>, _>>()?;
        let mut findings = raw
            .into_iter()
            .map(RawFinding::decode)
            .filter(|finding| finding.as_ref().map_or(true, |finding| filter.matches(finding, now_ms)))
            .collect::<Result<Vec<_>, _>>()?;
        findings.sort_by(|a, b| {
            b.insight
                .severity
                .cmp(&a.insight.severity)
                .then(b.last_seen_ms.cmp(&a.last_seen_ms))
                .then(b.insight.confidence.total_cmp(&a.insight.confidence))
                .then(a.fingerprint.cmp(&b.fingerprint))
        });
        if let Some(limit) = filter.limit {
            findings.truncate(limit);
        }
        Ok(findings)
    }

    /// Counts by status and by pattern and severity over the findings matching `filter`, and
    /// the `top` most pressing of them.
    pub fn summary(&self, filter: &Filter, top: usize, now_ms: i64) -> Result<Summary, StoreError> {
        let findings = self.list(&Filter { limit: None, ..filter.clone() }, now_ms)?;
        let mut by_status = BTreeMap::new();
        let mut by_pattern: BTreeMap<String, BTreeMap<Severity, usize>> = BTreeMap::new();
        for finding in &findings {
            *by_status.entry(finding.status_at(now_ms)).or_default() += 1;
            *by_pattern
                .entry(finding.insight.pattern.clone())
                .or_default()
                .entry(finding.insight.severity)
                .or_default() += 1;
        }
        let mut ranked: Vec<StoredFinding> = findings
            .iter()
            .filter(|finding| !matches!(finding.status_at(now_ms), Triage::Dismissed | Triage::Snoozed))
            .cloned()
            .collect();
        ranked.sort_by(|a, b| {
            b.insight
                .severity
                .cmp(&a.insight.severity)
                .then(b.occurrences.cmp(&a.occurrences))
                .then(a.fingerprint.cmp(&b.fingerprint))
        });
        ranked.truncate(top);
        Ok(Summary { total: findings.len(), by_status, by_pattern, top: ranked })
    }

    /// Everything that happened to a finding, oldest first.
    pub fn history(&self, fingerprint: &Fingerprint) -> Result<Vec<HistoryEntry>, StoreError> {
        let mut statement = self
            .connection
            .prepare("SELECT at_ms, change, detail FROM history WHERE fingerprint = ?1 ORDER BY at_ms, id")?;
        let entries = statement
            .query_map(params![fingerprint.as_str()], |row| {
                Ok(HistoryEntry { at_ms: row.get(0)?, change: row.get(1)?, detail: row.get(2)? })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(entries)
    }
}

/// A time as people read it in the store's output: UTC, to the second.
pub fn format_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map_or_else(|| ms.to_string(), |time| time.format("%Y-%m-%d %H:%M:%SZ").to_string())
}

#[cfg(test)]
mod tests {
    use super::super::test_support::insight;
    use super::*;

    #[test]
    fn filters_combine() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = Store::open_in(dir.path())?;
        let mut warning = insight("w", &[1], Severity::Warning);
        warning.affected_threads = vec!["T-abc".into()];
        warning.confidence = 0.9;
        let info = insight("i", &[2], Severity::Info);
        store.record_run(&[warning.clone(), info], 1)?;
        let keys = |filter: &Filter| -> Result<Vec<String>, StoreError> {
            Ok(store.list(filter, 2)?.into_iter().map(|finding| finding.insight.key).collect())
        };
        assert_eq!(keys(&Filter::default())?, ["w", "i"]);
        assert_eq!(keys(&Filter { min_severity: Some(Severity::Warning), ..Filter::default() })?, ["w"]);
        assert_eq!(
            keys(&Filter { thread: Some("https://ampcode.com/threads/T-abc".into()), ..Filter::default() })?,
            ["w"]
        );
        assert_eq!(keys(&Filter { min_confidence: Some(0.8), ..Filter::default() })?, ["w"]);
        assert_eq!(keys(&Filter { since_ms: Some(warning.time_ms + 1), ..Filter::default() })?, ["i"]);
        assert_eq!(keys(&Filter { pattern: Some("other".into()), ..Filter::default() })?, Vec::<String>::new());
        assert_eq!(
            keys(&Filter { statuses: Some(vec![Triage::Dismissed]), ..Filter::default() })?,
            Vec::<String>::new()
        );
        assert_eq!(keys(&Filter { limit: Some(1), ..Filter::default() })?, ["w"]);
        Ok(())
    }
}
