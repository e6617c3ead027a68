//! The beads filing state of each finding, written so that a crash at any point never leads to
//! a second issue: intent is committed before `bd create` runs, and an intent without an issue
//! id is reconciled by looking the finding's external ref up in beads before anything else.

use rusqlite::{OptionalExtension, params};

use super::finding::{StoredFinding, Triage};
use super::{Store, StoreError, severity_from_rank, severity_rank};
use crate::model::{Fingerprint, Severity};

/// Where a finding's beads issue stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilingState {
    /// Routed to beads, not created yet (or the last attempt failed).
    Pending,
    /// `bd create` was about to run or ran; its issue id was never recorded.
    Creating,
    /// The issue exists and its id is recorded.
    Filed,
}

impl FilingState {
    fn parse(text: &str) -> FilingState {
        match text {
            "creating" => FilingState::Creating,
            "filed" => FilingState::Filed,
            _ => FilingState::Pending,
        }
    }
}

/// A finding's beads filing.
#[derive(Debug, Clone, PartialEq)]
pub struct Filing {
    pub state: FilingState,
    pub issue_id: Option<String>,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// What the issue last told its readers (at filing or the last comment).
    pub reported: Option<(u64, Severity)>,
    /// The finding grew materially since; the issue should hear of it.
    pub update_pending: bool,
}

impl Store {
    /// Asks for the finding to be filed, or its issue to hear that it grew.
    pub fn queue_filing(&self, fingerprint: &Fingerprint, now_ms: i64) -> Result<(), StoreError> {
        self.connection.execute(
            "INSERT INTO filings (fingerprint, state, queued_ms) VALUES (?1, 'pending', ?2) \
             ON CONFLICT (fingerprint) DO UPDATE SET update_pending = (state = 'filed')",
            params![fingerprint.as_str(), now_ms],
        )?;
        Ok(())
    }

    pub fn filing(&self, fingerprint: &Fingerprint) -> Result<Option<Filing>, StoreError> {
        Ok(self
            .connection
            .query_row(
                "SELECT state, issue_id, attempts, last_error, reported_occurrences, reported_severity, update_pending \
                 FROM filings WHERE fingerprint = ?1",
                [fingerprint.as_str()],
                |row| {
                    let reported_occurrences: Option<i64> = row.get(4)?;
                    let reported_severity: Option<i64> = row.get(5)?;
                    Ok(Filing {
                        state: FilingState::parse(&row.get::<_, String>(0)?),
                        issue_id: row.get(1)?,
                        attempts: row.get::<_, i64>(2)? as u32,
                        last_error: row.get(3)?,
                        reported: reported_occurrences
                            .zip(reported_severity)
                            .map(|(occurrences, severity)| (occurrences as u64, severity_from_rank(severity))),
                        update_pending: row.get(6)?,
                    })
                },
            )
            .optional()?)
    }

    /// Findings with filing work to do: not filed yet, or filed and grown since.
    pub fn pending_filings(&self) -> Result<Vec<(StoredFinding, Filing)>, StoreError> {
        let mut statement = self.connection.prepare(
            "SELECT fingerprint FROM filings WHERE state != 'filed' OR update_pending = 1 ORDER BY queued_ms, fingerprint",
        )?;
        let fingerprints = statement.query_map([], |row| row.get::<_, String>(0))?.collect::<Result<Vec<_>, _>>()?;
        let mut pending = Vec::new();
        for fingerprint in fingerprints {
            let fingerprint = Fingerprint::from_string(fingerprint);
            if let (Some(finding), Some(filing)) = (self.get(&fingerprint)?, self.filing(&fingerprint)?) {
                pending.push((finding, filing));
            }
        }
        Ok(pending)
    }

    /// Commits the intent to create an issue; call before running `bd create`.
    pub fn mark_creating(&self, fingerprint: &Fingerprint, now_ms: i64) -> Result<(), StoreError> {
        self.connection.execute(
            "UPDATE filings SET state = 'creating', attempted_ms = ?2, attempts = attempts + 1 WHERE fingerprint = ?1",
            params![fingerprint.as_str(), now_ms],
        )?;
        Ok(())
    }

    /// Records the issue that tracks the finding, and marks the finding filed unless a
    /// maintainer already silenced it.
    pub fn mark_filed(
        &self,
        finding: &StoredFinding,
        issue_id: &str,
        how: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let transaction = self.write_transaction()?;
        self.connection.execute(
            "INSERT INTO filings (fingerprint, state, issue_id, queued_ms, filed_ms, reported_occurrences, reported_severity) \
             VALUES (?1, 'filed', ?2, ?3, ?3, ?4, ?5) \
             ON CONFLICT (fingerprint) DO UPDATE SET state = 'filed', issue_id = ?2, filed_ms = ?3, last_error = NULL, \
             reported_occurrences = ?4, reported_severity = ?5, update_pending = 0",
            params![
                finding.fingerprint.as_str(),
                issue_id,
                now_ms,
                finding.occurrences as i64,
                severity_rank(finding.insight.severity)
            ],
        )?;
        if matches!(finding.status, Triage::New | Triage::Acknowledged) {
            self.set_status(&finding.fingerprint, Triage::Filed, Some(issue_id), None, now_ms)?;
        }
        self.add_history(&finding.fingerprint, now_ms, "filed", Some(&format!("{issue_id} ({how})")))?;
        transaction.commit()?;
        Ok(())
    }

    /// Records that the issue heard of the finding's growth.
    pub fn mark_reported(&self, finding: &StoredFinding, now_ms: i64) -> Result<(), StoreError> {
        self.connection.execute(
            "UPDATE filings SET update_pending = 0, last_error = NULL, reported_occurrences = ?2, reported_severity = ?3 \
             WHERE fingerprint = ?1",
            params![finding.fingerprint.as_str(), finding.occurrences as i64, severity_rank(finding.insight.severity)],
        )?;
        self.add_history(&finding.fingerprint, now_ms, "commented", finding.issue_id.as_deref())?;
        Ok(())
    }

    /// Keeps the filing for the next run and says why it failed. An intent stays an intent:
    /// the issue may exist even though `bd` reported failure.
    pub fn mark_failed(&self, fingerprint: &Fingerprint, error: &str) -> Result<(), StoreError> {
        self.connection.execute(
            "UPDATE filings SET last_error = ?2 WHERE fingerprint = ?1",
            params![fingerprint.as_str(), error],
        )?;
        Ok(())
    }

    /// Drops a filing nobody needs any more (the finding was silenced before it was filed).
    /// An intent is kept: only reconciliation may resolve it.
    pub fn cancel_filing(&self, fingerprint: &Fingerprint) -> Result<(), StoreError> {
        self.connection
            .execute("DELETE FROM filings WHERE fingerprint = ?1 AND state = 'pending'", [fingerprint.as_str()])?;
        Ok(())
    }
}
