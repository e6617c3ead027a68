//! The detectors' speed beside a slow plugin (`bench --beside FILE`): a slow plugin must not
//! hold the others' batches, so the detectors should take as long beside it as alone. Past the
//! cap of what may wait in its queue it is detached, as a run detaches it, and fed what it
//! missed once the detectors are through ([`crate::stream`] reads it again; here it is in
//! memory).
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
    /// Events the plugin beside them was behind when the detectors were through (detached),
    /// if it was.
    pub lagged: Option<usize>,
    /// The detectors quarantined alone or beside it (none, unless one is over its budget).
    pub detectors_quarantined: Vec<String>,
    /// Peak resident memory alone and beside it: the difference is mostly the batches that
    /// wait in its queue.
    pub peak_rss_kib: (Option<u64>, Option<u64>),
}

/// How feeding went: until each detector had run every batch, until every plugin had, and how
/// far behind the one left behind was by the first.
struct Fed {
    detectors: Duration,
    all: Duration,
    lagged: Option<usize>,
}

/// Feeds `events` to the plugins batch by batch, detaching a plugin whose queue is full as a
/// run does, and once each of `detectors` has run every batch, the detached ones what they
/// missed.
fn feed(pipeline: &mut Pipeline, events: &[Event], batch_size: usize, detectors: &[String]) -> Fed {
    let started = Instant::now();
    let mut detached_at = Vec::new();
    for (index, batch) in events.chunks(batch_size.max(1)).enumerate() {
        pipeline.submit(batch);
        for plugin in pipeline.full() {
            pipeline.detach(&plugin);
            detached_at.push((plugin, (index + 1) * batch_size));
        }
    }
    for detector in detectors {
        pipeline.wait_caught_up(detector, Duration::MAX);
    }
    let detectors_done = started.elapsed();
    let progress = pipeline.progress();
    let lagged = progress.iter().filter(|plugin| plugin.detached).map(|plugin| plugin.behind).max();
    for (plugin, given) in detached_at {
        pipeline.submit_to(&plugin, &events[given.min(events.len())..]);
        pipeline.attach(&plugin);
    }
    pipeline.settle();
    Fed { detectors: detectors_done, all: started.elapsed(), lagged }
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
        let alone_time = feed(&mut alone, &events, config.batch_size, &detectors).detectors;
        let mut detectors_quarantined = quarantined(&mut alone, &detectors);
        drop(alone);
        let alone_rss = peak_rss_kib();

        reset_peak_rss();
        let mut pipeline = Pipeline::new(runtime, config.batch_size);
        load_detectors(config, runtime, &mut pipeline)?;
        pipeline
            .load(plugin, &Default::default())
            .map_err(|source| BenchError::Beside { path: plugin.to_owned(), source })?;
        let fed = feed(&mut pipeline, &events, config.batch_size, &detectors);
        detectors_quarantined.extend(quarantined(&mut pipeline, &detectors));
        detectors_quarantined.sort();
        detectors_quarantined.dedup();
        let beside = pipeline.plugins().last().expect("the plugin beside them just loaded");
        let again = BesideFigures {
            plugin: beside.id().to_owned(),
            events: events.len() as u64,
            alone: alone_time,
            detectors_beside: fed.detectors,
            all_beside: fed.all,
            quarantined: beside.health().quarantine_reason.clone(),
            lagged: fed.lagged,
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
