//! The filing loop: adopt what beads already has, comment on issues whose finding grew, create
//! the rest — intent first, so no crash can lead to a second issue. One pass creates at most
//! [`MAX_CREATES_PER_PASS`] issues; the rest stay queued for the next, so a plugin that reports
//! a flood of findings cannot flood the beads database in one run.

use std::collections::HashMap;
use std::io::Write;

use crate::model::Fingerprint;
use crate::routing::BeadsSettings;
use crate::store::{FilingState, Store, StoreError, StoredFinding, Triage};

use super::cli::{Bd, BdError, comment_args, external_ref};
use super::issue::{NewIssue, growth_comment};

/// Issues one filing pass creates at most.
pub const MAX_CREATES_PER_PASS: usize = 100;

/// Run `bd`, or only print the commands it would run.
pub enum Mode<'out> {
    Run,
    DryRun(&'out mut dyn Write),
}

/// Why filing stopped before it began; the findings stay queued.
#[derive(Debug, thiserror::Error)]
pub enum FilingError {
    #[error(transparent)]
    Bd(#[from] BdError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one filing pass did, as (fingerprint, issue id) pairs.
#[derive(Debug, Default, PartialEq)]
pub struct FilingReport {
    pub created: Vec<(Fingerprint, String)>,
    /// Already in beads under the finding's external ref (an earlier crash, or another machine).
    pub adopted: Vec<(Fingerprint, String)>,
    pub commented: Vec<(Fingerprint, String)>,
    /// Left queued for the next run, with the reason.
    pub failed: Vec<(Fingerprint, String)>,
    /// Silenced before they were filed: no longer queued.
    pub cancelled: Vec<Fingerprint>,
    /// Left queued for the next pass: this one created [`MAX_CREATES_PER_PASS`] issues.
    pub deferred: Vec<Fingerprint>,
}

/// Files every queued finding, and `also` (findings asked for by name). In [`Mode::DryRun`]
/// nothing runs and nothing is recorded: the commands are printed instead.
pub fn file_pending(
    store: &Store,
    bd: &Bd,
    settings: &BeadsSettings,
    mode: &mut Mode<'_>,
    now_ms: i64,
) -> Result<FilingReport, FilingError> {
    file_with(store, bd, settings, &[], mode, now_ms)
}

/// [`file_pending`] plus the findings in `also`.
pub fn file_with(
    store: &Store,
    bd: &Bd,
    settings: &BeadsSettings,
    also: &[StoredFinding],
    mode: &mut Mode<'_>,
    now_ms: i64,
) -> Result<FilingReport, FilingError> {
    let mut work: Vec<(StoredFinding, Option<crate::store::Filing>)> =
        store.pending_filings()?.into_iter().map(|(finding, filing)| (finding, Some(filing))).collect();
    for finding in also {
        if !work.iter().any(|(queued, _)| queued.fingerprint == finding.fingerprint) {
            let filing = store.filing(&finding.fingerprint)?;
            if filing.as_ref().is_none_or(|filing| filing.state != FilingState::Filed) {
                work.push((finding.clone(), filing));
            }
        }
    }
    let mut report = FilingReport::default();
    if work.is_empty() {
        return Ok(report);
    }

    let list_args: Vec<String> = ["list", "--all", "-n", "0", "--json"].map(String::from).to_vec();
    let existing: HashMap<String, String> = match mode {
        Mode::DryRun(out) => {
            writeln!(out, "{}", bd.command_line(&list_args)).ok();
            HashMap::new()
        }
        Mode::Run => bd
            .list_all()?
            .into_iter()
            .filter_map(|issue| issue.external_ref.map(|reference| (reference, issue.id)))
            .collect(),
    };

    for (finding, filing) in work {
        let fingerprint = finding.fingerprint.clone();
        let in_beads = existing.get(&external_ref(&fingerprint));
        let issue_id = filing.as_ref().and_then(|filing| filing.issue_id.clone()).or_else(|| in_beads.cloned());
        let silenced = matches!(finding.status_at(now_ms), Triage::Dismissed | Triage::Snoozed);

        if let Some(issue_id) = issue_id {
            let already_recorded = filing.as_ref().is_some_and(|filing| filing.state == FilingState::Filed);
            if !already_recorded {
                if let Mode::Run = mode {
                    store.mark_filed(&finding, &issue_id, "adopted by external ref", now_ms)?;
                }
                report.adopted.push((fingerprint, issue_id));
                continue;
            }
            if filing.as_ref().is_some_and(|filing| filing.update_pending) && !silenced {
                let text = growth_comment(&finding, filing.as_ref().and_then(|filing| filing.reported));
                match mode {
                    Mode::DryRun(out) => {
                        writeln!(out, "{}", bd.command_line(&comment_args(&issue_id, &text))).ok();
                    }
                    Mode::Run => match bd.comment(&issue_id, &text) {
                        Ok(()) => store.mark_reported(&finding, now_ms)?,
                        Err(error @ BdError::Missing { .. }) => return Err(error.into()),
                        Err(error) => {
                            store.mark_failed(&fingerprint, &error.to_string())?;
                            report.failed.push((fingerprint, error.to_string()));
                            continue;
                        }
                    },
                }
                report.commented.push((fingerprint, issue_id));
            }
            continue;
        }

        let intent_recorded = filing.as_ref().is_some_and(|filing| filing.state == FilingState::Creating);
        if silenced && !intent_recorded {
            if let Mode::Run = mode {
                store.cancel_filing(&fingerprint)?;
            }
            report.cancelled.push(fingerprint);
            continue;
        }
        if report.created.len() >= MAX_CREATES_PER_PASS {
            if let (Mode::Run, None) = (&mode, &filing) {
                store.queue_filing(&fingerprint, now_ms)?;
            }
            report.deferred.push(fingerprint);
            continue;
        }
        let args = NewIssue::for_finding(&finding, settings).create_args();
        match mode {
            Mode::DryRun(out) => {
                writeln!(out, "{}", bd.command_line(&args)).ok();
                report.created.push((fingerprint, String::new()));
            }
            Mode::Run => {
                if filing.is_none() {
                    store.queue_filing(&fingerprint, now_ms)?;
                }
                store.mark_creating(&fingerprint, now_ms)?;
                match bd.create(&args) {
                    Ok(issue_id) => {
                        store.mark_filed(&finding, &issue_id, "created", now_ms)?;
                        report.created.push((fingerprint, issue_id));
                    }
                    Err(error @ BdError::Missing { .. }) => return Err(error.into()),
                    Err(error) => {
                        tracing::warn!(%fingerprint, "filing failed; it is retried on the next run: {error}");
                        store.mark_failed(&fingerprint, &error.to_string())?;
                        report.failed.push((fingerprint, error.to_string()));
                    }
                }
            }
        }
    }
    if !report.deferred.is_empty() {
        tracing::warn!(
            "{} finding(s) left queued for the next run: at most {MAX_CREATES_PER_PASS} issues are created at once",
            report.deferred.len()
        );
    }
    Ok(report)
}
