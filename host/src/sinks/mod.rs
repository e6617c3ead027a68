//! Where findings go after a run: the terminal, a JSON Lines file, beads issues, and (for
//! dismissals) devloop's own feedback log. [`deliver`] sends a run's new and materially changed
//! findings to the sinks the routing rules name.
//!
//! Only changes are delivered, so a finding detected on every run is announced once, and again
//! only when it grows materially (see [`crate::store::Baseline::grew_materially`]).

pub mod beads;
pub mod devloop_feedback;
pub mod jsonl;
pub mod render;
pub mod terminal;

use std::path::PathBuf;

use crate::routing::{RoutingConfig, SinkKind};
use crate::store::{Change, Store, StoreError};

/// A sink that could not take a finding.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("cannot append findings to {path}; check the `[jsonl] path` in the routing config")]
    Append {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What [`deliver`] did.
#[derive(Debug, Default)]
pub struct DeliveryReport {
    pub announced: usize,
    pub appended: usize,
    /// What beads filing did, when anything was waiting to be filed.
    pub filing: Option<beads::FilingReport>,
    /// Why beads filing could not run at all (the findings stay queued for the next run).
    pub filing_error: Option<beads::BdError>,
}

/// Sends `changes` to the sinks `config` routes them to, then files every finding waiting for
/// a beads issue (including those a previous run could not file).
pub fn deliver(
    store: &Store,
    config: &RoutingConfig,
    changes: &[Change],
    now_ms: i64,
) -> Result<DeliveryReport, SinkError> {
    let mut report = DeliveryReport::default();
    let mut announce = Vec::new();
    let mut append = Vec::new();
    for change in changes {
        for sink in config.sinks_for(&change.finding.insight) {
            match sink {
                SinkKind::Terminal => announce.push(change),
                SinkKind::Jsonl => append.push(change),
                SinkKind::Beads => store.queue_filing(&change.finding.fingerprint, now_ms)?,
            }
        }
    }
    if !announce.is_empty() {
        let mut stderr = std::io::stderr().lock();
        let style = render::Style::for_stderr();
        // A notice that cannot be shown is not worth failing a run for.
        let _ = terminal::announce(&mut stderr, &announce, &style, &terminal::triage_command(store.path()));
        report.announced = announce.len();
    }
    if let Some(settings) = &config.jsonl
        && !append.is_empty()
    {
        jsonl::append(&settings.path, &append, now_ms)
            .map_err(|source| SinkError::Append { path: settings.path.clone(), source })?;
        report.appended = append.len();
    }
    if !store.pending_filings()?.is_empty() {
        let bd = beads::Bd::from_settings(&config.beads);
        match beads::file_pending(store, &bd, &config.beads, &mut beads::Mode::Run, now_ms) {
            Ok(filing) => report.filing = Some(filing),
            Err(beads::FilingError::Bd(error)) => report.filing_error = Some(error),
            Err(beads::FilingError::Store(error)) => return Err(error.into()),
        }
    }
    Ok(report)
}
