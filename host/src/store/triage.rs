//! A maintainer's triage: acknowledge, dismiss, snooze. Each change of status is kept in the
//! finding's history.

use rusqlite::params;

use super::finding::{StoredFinding, Triage};
use super::{Store, StoreError, severity_rank};
use crate::model::Fingerprint;

/// What a triage command did.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// The status changed from `from`; `finding` is the finding afterwards.
    Changed { from: Triage, finding: StoredFinding },
    /// It already had that status; nothing was written.
    Unchanged(StoredFinding),
}

impl Store {
    pub(crate) fn set_status(
        &self,
        fingerprint: &Fingerprint,
        status: Triage,
        reason: Option<&str>,
        snoozed_until_ms: Option<i64>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.connection.execute(
            "UPDATE findings SET status = ?2, status_reason = ?3, snoozed_until_ms = ?4, status_changed_ms = ?5 \
             WHERE fingerprint = ?1",
            params![fingerprint.as_str(), status.as_str(), reason, snoozed_until_ms, now_ms],
        )?;
        Ok(())
    }

    fn transition(
        &mut self,
        fingerprint: &str,
        status: Triage,
        reason: Option<&str>,
        snoozed_until_ms: Option<i64>,
        now_ms: i64,
    ) -> Result<Transition, StoreError> {
        let found = self.resolve(fingerprint)?;
        let from = found.status_at(now_ms);
        if from == status
            && status != Triage::Snoozed
            && reason.is_none_or(|reason| found.status_reason.as_deref() == Some(reason))
        {
            return Ok(Transition::Unchanged(found));
        }
        let transaction = self.write_transaction()?;
        self.set_status(&found.fingerprint, status, reason, snoozed_until_ms, now_ms)?;
        if status == Triage::Dismissed {
            // Quiet is measured from what the maintainer saw when they dismissed it.
            self.connection.execute(
                "UPDATE findings SET baseline_occurrences = occurrences, baseline_severity = ?2 WHERE fingerprint = ?1",
                params![found.fingerprint.as_str(), severity_rank(found.insight.severity)],
            )?;
        }
        let detail = match (reason, snoozed_until_ms) {
            (_, Some(until)) => Some(format!("until {}", super::query::format_time(until))),
            (Some(reason), None) => Some(reason.to_owned()),
            (None, None) => None,
        };
        self.add_history(&found.fingerprint, now_ms, status.as_str(), detail.as_deref())?;
        transaction.commit()?;
        let finding = self.resolve(found.fingerprint.as_str())?;
        Ok(Transition::Changed { from, finding })
    }

    /// Marks a finding as seen. It is still reported when it grows materially.
    pub fn acknowledge(&mut self, fingerprint: &str, now_ms: i64) -> Result<Transition, StoreError> {
        self.transition(fingerprint, Triage::Acknowledged, None, None, now_ms)
    }

    /// Silences a finding until its evidence grows materially (see
    /// [`super::Baseline::grew_materially`]).
    pub fn dismiss(&mut self, fingerprint: &str, reason: Option<&str>, now_ms: i64) -> Result<Transition, StoreError> {
        self.transition(fingerprint, Triage::Dismissed, reason, None, now_ms)
    }

    /// Silences a finding until `until_ms`; then it is new again.
    pub fn snooze(&mut self, fingerprint: &str, until_ms: i64, now_ms: i64) -> Result<Transition, StoreError> {
        self.transition(fingerprint, Triage::Snoozed, None, Some(until_ms), now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::insight;
    use super::super::{ChangeKind, Filter};
    use super::*;
    use crate::model::Severity;

    #[test]
    fn a_dismissed_finding_stays_quiet_until_its_evidence_doubles() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = Store::open_in(dir.path())?;
        let fingerprint =
            store.record_run(&[insight("x", &[1, 2, 3], Severity::Info)], 10)?[0].finding.fingerprint.clone();
        let dismissed = store.dismiss(&fingerprint.as_str()[..6], Some("expected"), 20)?;
        assert!(matches!(dismissed, Transition::Changed { from: Triage::New, .. }));
        assert!(matches!(store.dismiss(fingerprint.as_str(), Some("expected"), 25)?, Transition::Unchanged(_)));

        assert!(store.record_run(&[insight("x", &[1, 2, 3, 4, 5], Severity::Info)], 30)?.is_empty());
        assert_eq!(store.resolve(fingerprint.as_str())?.status, Triage::Dismissed);
        let reopened = store.record_run(&[insight("x", &[6], Severity::Info)], 40)?;
        assert!(matches!(reopened[0].kind, ChangeKind::Reopened { was: Triage::Dismissed, .. }));
        assert_eq!(reopened[0].finding.status, Triage::New);
        let history: Vec<String> = store.history(&fingerprint)?.into_iter().map(|entry| entry.change).collect();
        assert_eq!(history, ["new", "dismissed", "reopened"]);
        Ok(())
    }

    #[test]
    fn a_snooze_ends_at_its_date() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = Store::open_in(dir.path())?;
        let fingerprint = store.record_run(&[insight("x", &[1], Severity::Info)], 10)?[0].finding.fingerprint.clone();
        store.acknowledge(fingerprint.as_str(), 15)?;
        store.snooze(fingerprint.as_str(), 100, 20)?;
        assert!(store.record_run(&[insight("x", &[1, 2, 3, 4], Severity::Error)], 99)?.is_empty());
        assert!(store.list(&Filter::default(), 99)?.is_empty(), "snoozed findings are hidden by default");
        let woke = store.record_run(&[insight("x", &[1], Severity::Info)], 100)?;
        assert!(matches!(woke[0].kind, ChangeKind::Reopened { was: Triage::Snoozed, .. }));
        assert_eq!(store.resolve(fingerprint.as_str())?.status, Triage::New);
        Ok(())
    }

    #[test]
    fn an_unknown_or_ambiguous_fingerprint_is_a_clear_error() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = Store::open_in(dir.path())?;
        let error = store.acknowledge("feedface", 1).expect_err("nothing stored");
        assert!(error.to_string().contains("insights list --status all"), "{error}");
        let findings: Vec<_> = (0..40).map(|index| insight(&format!("k{index}"), &[index], Severity::Info)).collect();
        store.record_run(&findings, 1)?;
        assert!(matches!(store.acknowledge("", 2), Err(StoreError::AmbiguousFingerprint { count: 40, .. })));
        Ok(())
    }
}
