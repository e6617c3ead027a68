//! A finding as the store keeps it, its triage status, and the rule that decides when a finding
//! changed enough to speak up again.

use std::fmt;

use crate::model::{Fingerprint, Insight, Severity};

/// Where a maintainer's triage of a finding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Triage {
    /// Detected and not looked at yet (also: reopened after dismissal or a snooze).
    New,
    /// Seen by a maintainer; still reported when it grows materially.
    Acknowledged,
    /// Not a problem: quiet until its evidence grows materially.
    Dismissed,
    /// Quiet until a date, then new again.
    Snoozed,
    /// A beads issue tracks it.
    Filed,
}

impl Triage {
    pub const ALL: [Triage; 5] = [Triage::New, Triage::Acknowledged, Triage::Dismissed, Triage::Snoozed, Triage::Filed];

    pub fn as_str(self) -> &'static str {
        match self {
            Triage::New => "new",
            Triage::Acknowledged => "acknowledged",
            Triage::Dismissed => "dismissed",
            Triage::Snoozed => "snoozed",
            Triage::Filed => "filed",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Triage> {
        Triage::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

impl fmt::Display for Triage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Evidence must reach this multiple of what a maintainer last saw before a finding they
/// dismissed (or were already told about) speaks up again.
pub const GROWTH_FACTOR: u64 = 2;

/// What a finding looked like when a maintainer last heard of it or dismissed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Baseline {
    pub occurrences: u64,
    pub severity: Severity,
}

impl Baseline {
    /// Material growth: the distinct evidence events reached [`GROWTH_FACTOR`] times the
    /// baseline (at least one more), or the severity rose. Confidence and message changes alone
    /// never count: detectors refine those on every run.
    pub fn grew_materially(&self, occurrences: u64, severity: Severity) -> bool {
        let threshold = self.occurrences.saturating_mul(GROWTH_FACTOR).max(self.occurrences + 1);
        severity > self.severity || occurrences >= threshold
    }
}

/// One finding: the latest insight for its fingerprint and what triage made of it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFinding {
    pub fingerprint: Fingerprint,
    /// The latest report of the finding.
    pub insight: Insight,
    /// Event time of the earliest and latest report, ms since the epoch.
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    /// Wall-clock time of the last run that detected it.
    pub recorded_ms: i64,
    /// Distinct events offered as evidence over every run (reports, for detectors that name no
    /// events).
    pub occurrences: u64,
    /// Runs that detected it.
    pub runs: u64,
    pub status: Triage,
    pub status_changed_ms: i64,
    pub status_reason: Option<String>,
    pub snoozed_until_ms: Option<i64>,
    pub baseline: Baseline,
    /// The beads issue tracking it, once filed.
    pub issue_id: Option<String>,
    /// Routed to beads and not filed yet, with why the last attempt failed.
    pub filing_queued: bool,
    pub filing_error: Option<String>,
}

impl StoredFinding {
    /// The status as it reads at `now_ms`: a snooze that ran out reads as new.
    pub fn status_at(&self, now_ms: i64) -> Triage {
        match (self.status, self.snoozed_until_ms) {
            (Triage::Snoozed, Some(until)) if until <= now_ms => Triage::New,
            (status, _) => status,
        }
    }

    /// The thread ids (and Amp URLs) of the threads it was seen in.
    pub fn thread_urls(&self) -> Vec<String> {
        self.insight.affected_threads.iter().map(|thread| thread_url(thread)).collect()
    }
}

/// An Amp thread id as a link; anything that already is a URL stays as it is.
pub fn thread_url(thread: &str) -> String {
    if thread.starts_with("T-") { format!("https://ampcode.com/threads/{thread}") } else { thread.to_owned() }
}

/// Why a run's result is worth telling someone about.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeKind {
    /// Never seen before.
    New,
    /// Known and not silenced, and grew materially since a maintainer last heard of it.
    Grew { from: Baseline },
    /// Dismissed or snoozed before, back because it grew materially or the snooze ran out.
    Reopened { was: Triage, from: Baseline },
}

impl ChangeKind {
    pub fn label(&self) -> &'static str {
        match self {
            ChangeKind::New => "new",
            ChangeKind::Grew { .. } => "grew",
            ChangeKind::Reopened { .. } => "reopened",
        }
    }
}

/// A finding that a run found new or materially changed: what the sinks are given.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub kind: ChangeKind,
    pub finding: StoredFinding,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_needs_double_the_evidence_or_a_higher_severity() {
        let baseline = Baseline { occurrences: 5, severity: Severity::Warning };
        assert!(!baseline.grew_materially(9, Severity::Warning));
        assert!(baseline.grew_materially(10, Severity::Warning));
        assert!(baseline.grew_materially(5, Severity::Error));
        assert!(!baseline.grew_materially(9, Severity::Info));
        let empty = Baseline { occurrences: 0, severity: Severity::Info };
        assert!(!empty.grew_materially(0, Severity::Info));
        assert!(empty.grew_materially(1, Severity::Info));
    }
}
