//! Feeding a detector that fell behind the others what it missed, once the stream has caught
//! up: the events between its own cursors and the others', read again by a second feed
//! ([`Feed::resume_until`]) and given to it alone, with a checkpoint of its own every
//! [`CheckpointPolicy::events`](super::CheckpointPolicy::events) events and one where it joins
//! the others. The main feed waits meanwhile. At the end of a run there is nothing else to
//! read; in follow mode new events may come while a slow detector catches up on a long
//! stretch, so there it is given one checkpoint's worth at a time (the policy's events or its
//! interval), its place committed, and the stream reads what is new before the next: the
//! others wait for one of its checkpoints at most, not for everything it missed.

use std::time::Instant;

use super::{Place, Progress, StreamError, moved_cursors, parse_cursors};
use crate::dispatch::Pipeline;
use crate::ingest::{DevloopDirs, Feed};
use crate::stream::Stop;

impl Progress<'_> {
    /// Runs what the detached plugins were given, committing their checkpoints as they get
    /// there, then feeds each what it missed and attaches it again; a stop requested meanwhile
    /// leaves the rest behind, with their own cursors committed, for the next run. `sliced`
    /// (follow mode): each is fed one of its checkpoints' worth and, if that was not all it
    /// missed, stays behind for the next round. Brings the plugins back, so their statuses are
    /// current.
    pub(super) fn catch_up(
        &mut self,
        dirs: &DevloopDirs,
        pipeline: &mut Pipeline,
        batch_size: usize,
        stop: &Stop,
        sliced: bool,
    ) -> Result<(), StreamError> {
        self.commit_all_passed(pipeline)?;
        for plugin in pipeline.detached() {
            if stop.requested().is_some() {
                break;
            }
            let Some(from) = self.behind.get(&plugin).cloned() else {
                // It got to every checkpoint before its queue ran out: it is where the others are.
                pipeline.attach(&plugin);
                continue;
            };
            let quarantined = pipeline.statuses().iter().any(|status| status.id == plugin && status.quarantined);
            if quarantined {
                tracing::warn!(plugin, "quarantined while behind the others; it joins them without what it missed");
                self.join(pipeline, &plugin)?;
                continue;
            }
            tracing::info!(plugin, "feeding the detector what it missed");
            let mut feed = Feed::new(dirs.readers());
            feed.resume_until(&parse_cursors(&from), &parse_cursors(&self.shared));
            let mut own = from;
            let mut since = 0;
            let started = Instant::now();
            let caught_up = loop {
                if stop.requested().is_some() {
                    break false;
                }
                let batch = feed.next_batch(batch_size).map_err(StreamError::Read)?;
                // The main feed reported these already.
                feed.take_malformed();
                if batch.is_empty() {
                    break true;
                }
                pipeline.submit_to(&plugin, &batch);
                since += batch.len() as u64;
                let due = since >= self.policy.events;
                if due {
                    since = 0;
                    own.extend(moved_cursors(&mut feed));
                    let seq = pipeline.cut_plugin(&plugin);
                    self.places.insert(seq, Place::At(own.clone()));
                }
                self.commit_passed(pipeline)?;
                if sliced && (due || started.elapsed() >= self.policy.interval) {
                    break false;
                }
            };
            if caught_up {
                self.join(pipeline, &plugin)?;
                tracing::info!(plugin, "the detector joined the others");
            } else {
                if since > 0 {
                    own.extend(moved_cursors(&mut feed));
                    let seq = pipeline.cut_plugin(&plugin);
                    self.places.insert(seq, Place::At(own));
                }
                self.commit_all_passed(pipeline)?;
                if stop.requested().is_none() {
                    tracing::debug!(plugin, "the detector goes on catching up after what is new");
                }
            }
        }
        if pipeline.detached().is_empty() {
            self.places.clear();
        }
        pipeline.settle();
        Ok(())
    }

    /// Marks where `plugin` joins the others, attaches it, and commits its state there with
    /// no cursors of its own.
    fn join(&mut self, pipeline: &mut Pipeline, plugin: &str) -> Result<(), StreamError> {
        let seq = pipeline.cut_plugin(plugin);
        self.places.insert(seq, Place::WithTheOthers);
        pipeline.attach(plugin);
        self.commit_all_passed(pipeline)
    }

    /// Commits every checkpoint passed and every part of one a detached plugin gets to,
    /// waiting for each plugin to get to the last marked for it.
    fn commit_all_passed(&mut self, pipeline: &mut Pipeline) -> Result<(), StreamError> {
        while let Some(passed) = pipeline.next_passed_by_all() {
            self.commit_one(passed, pipeline)?;
        }
        Ok(())
    }
}
