//! What a finding's `occurrences` counts, defined once: `run` output, `plugins test` and the
//! insight store all count through [`Occurrences`], so one finding shows one number wherever it
//! is shown.
//!
//! A detector reports a finding again as its evidence grows, and a report names either every
//! event the finding rests on or only those new since its last report (command-correlation
//! does, so its state stays bounded): the union is the same either way. Counting reports would therefore depend on how often
//! the detector chose to speak; counting the distinct evidence events does not, and reading the
//! same logs twice adds nothing. A report that names no event has nothing to tell it apart from
//! another, so it counts as one occurrence of its own.

use std::collections::BTreeSet;

use super::Insight;

/// The evidence of some reports of one finding, counted as occurrences.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Occurrences {
    events: BTreeSet<u64>,
    reports_without_events: u64,
}

impl Occurrences {
    /// The occurrences one report gives.
    pub fn of(report: &Insight) -> Self {
        let mut occurrences = Occurrences::default();
        occurrences.add(report);
        occurrences
    }

    /// Counts one more report of the finding.
    pub fn add(&mut self, report: &Insight) {
        if report.evidence.event_ids.is_empty() {
            self.reports_without_events += 1;
        } else {
            self.events.extend(report.evidence.event_ids.iter().copied());
        }
    }

    /// Counts the reports `other` counts as well.
    pub fn merge(&mut self, other: &Occurrences) {
        self.events.extend(&other.events);
        self.reports_without_events += other.reports_without_events;
    }

    /// How many occurrences these reports make on their own.
    pub fn count(&self) -> u64 {
        self.events.len() as u64 + self.reports_without_events
    }

    /// How many occurrences these reports add to a count kept elsewhere (the store's, over every
    /// run): `record_event` records one evidence event there and says whether it was new to it.
    pub fn add_to<E>(&self, mut record_event: impl FnMut(u64) -> Result<bool, E>) -> Result<u64, E> {
        let mut added = self.reports_without_events;
        for event in &self.events {
            added += u64::from(record_event(*event)?);
        }
        Ok(added)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::convert::Infallible;

    use super::*;
    use crate::model::{Evidence, Severity};

    fn report(event_ids: &[u64]) -> Insight {
        Insight {
            detector: "d".to_owned(),
            pattern: "p".to_owned(),
            key: "k".to_owned(),
            severity: Severity::Info,
            confidence: 1.0,
            message: String::new(),
            recommendation: String::new(),
            evidence: Evidence { event_ids: event_ids.to_vec(), fields: Vec::new() },
            affected_threads: Vec::new(),
            time_ms: 0,
        }
    }

    #[test]
    fn a_report_repeating_earlier_evidence_adds_only_its_new_events() {
        let mut occurrences = Occurrences::of(&report(&[1, 2, 3]));
        occurrences.add(&report(&[1, 2, 3, 4]));
        occurrences.add(&report(&[3, 4]));
        assert_eq!(occurrences.count(), 4);
    }

    #[test]
    fn each_report_without_events_is_one_occurrence() {
        let mut occurrences = Occurrences::of(&report(&[]));
        occurrences.add(&report(&[]));
        occurrences.add(&report(&[7, 8]));
        assert_eq!(occurrences.count(), 4);
    }

    #[test]
    fn counting_in_parts_elsewhere_gives_the_count_of_the_whole() -> Result<(), Infallible> {
        let reports = [report(&[1, 2]), report(&[]), report(&[2, 3]), report(&[1, 2, 3, 4]), report(&[])];
        let mut whole = Occurrences::default();
        reports.iter().for_each(|one| whole.add(one));

        let mut recorded = BTreeSet::new();
        let mut record = |event| Ok::<_, Infallible>(recorded.insert(event));
        let mut total = 0;
        for part in reports.chunks(2) {
            let mut occurrences = Occurrences::default();
            part.iter().for_each(|one| occurrences.add(one));
            total += occurrences.add_to(&mut record)?;
        }
        assert_eq!((total, whole.count()), (6, 6));
        assert_eq!(Occurrences::of(&reports[3]).add_to(&mut record)?, 0, "its events were all counted");
        Ok(())
    }
}
