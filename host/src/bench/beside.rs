//! The detectors' speed beside a slow plugin (`bench --beside FILE`): a slow plugin must not
//! hold the others' batches, so the detectors should take as long beside it as alone, as long
//! as it stays within the memory cap of what may wait in its queue.
//!
//! Measured on dispatch alone, with every event read into memory first: reading and the
//! store are the same with or without the slow plugin, and would only blur the ratio.

use std::path::Path;
use std::time::{Duration, Instant};

use super::{BenchConfig, BenchError, load_detectors, peak_rss_kib, reset_peak_rss};
use crate::dispatch::Pipeline;
use crate::model::Event;
use crate::runtime::Runtime;

/// The detectors alone, and beside one more plugin.
#[derive(Debug, Clone, PartialEq)]
pub struct BesideFigures {
    /// The plugin beside them (its detector id).
    pub plugin: String,
    pub events: u64,
    /// Every detector through every event, alone.
    pub alone: Duration,
    /// Every detector through every event, beside the plugin.
    pub detectors_beside: Duration,
    /// Until the plugin beside them is through too (or quarantined).
    pub all_beside: Duration,
    /// Why the plugin beside them stopped taking part, if it did.
    pub quarantined: Option<String>,
    /// The detectors quarantined alone or beside it (none, unless one is over its budget).
    pub detectors_quarantined: Vec<String>,
    /// Peak resident memory alone and beside it: the difference is mostly the batches that
    /// wait in its queue.
    pub peak_rss_kib: (Option<u64>, Option<u64>),
}

/// Feeds `events` to the detectors; how long until each of `detectors` has run every batch,
/// then until every plugin has.
fn feed(pipeline: &mut Pipeline, events: &[Event], detectors: &[String]) -> (Duration, Duration) {
    let started = Instant::now();
    pipeline.submit(events);
    for detector in detectors {
        pipeline.wait_caught_up(detector, Duration::MAX);
    }
    let detectors_done = started.elapsed();
    pipeline.settle();
    (detectors_done, started.elapsed())
}

/// Which of `detectors` are quarantined.
fn quarantined(pipeline: &mut Pipeline, detectors: &[String]) -> Vec<String> {
    let plugins = pipeline.plugins().iter();
    let quarantined =
        plugins.filter(|plugin| plugin.health().quarantined && detectors.iter().any(|id| id == plugin.id()));
    quarantined.map(|plugin| plugin.id().to_owned()).collect()
}

/// Measures the detectors of `config` over its folder alone and beside `plugin`, best of
/// [`BenchConfig::repeat`] each.
pub fn beside(config: &BenchConfig, runtime: &Runtime, plugin: &Path) -> Result<BesideFigures, BenchError> {
    let events = crate::ingest::read_all(&config.dirs)?.events;
    let mut figures: Option<BesideFigures> = None;
    for _ in 0..config.repeat.max(1) {
        reset_peak_rss();
        let mut alone = Pipeline::new(runtime, config.batch_size);
        load_detectors(config, runtime, &mut alone)?;
        let detectors: Vec<String> = alone.plugins().iter().map(|detector| detector.id().to_owned()).collect();
        let (alone_time, _) = feed(&mut alone, &events, &detectors);
        let mut detectors_quarantined = quarantined(&mut alone, &detectors);
        drop(alone);
        let alone_rss = peak_rss_kib();

        reset_peak_rss();
        let mut pipeline = Pipeline::new(runtime, config.batch_size);
        load_detectors(config, runtime, &mut pipeline)?;
        pipeline
            .load(plugin, &Default::default())
            .map_err(|source| BenchError::Beside { path: plugin.to_owned(), source })?;
        let (detectors_beside, all_beside) = feed(&mut pipeline, &events, &detectors);
        detectors_quarantined.extend(quarantined(&mut pipeline, &detectors));
        detectors_quarantined.sort();
        detectors_quarantined.dedup();
        let beside = pipeline.plugins().last().expect("the plugin beside them just loaded");
        let again = BesideFigures {
            plugin: beside.id().to_owned(),
            events: events.len() as u64,
            alone: alone_time,
            detectors_beside,
            all_beside,
            quarantined: beside.health().quarantine_reason.clone(),
            detectors_quarantined,
            peak_rss_kib: (alone_rss, peak_rss_kib()),
        };
        figures = Some(match figures {
            Some(best) => BesideFigures {
                alone: best.alone.min(again.alone),
                detectors_beside: best.detectors_beside.min(again.detectors_beside),
                all_beside: best.all_beside.min(again.all_beside),
                ..again
            },
            None => again,
        });
    }
    Ok(figures.expect("measured at least once"))
}
