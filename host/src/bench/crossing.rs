//! The sandbox's cost per event: the bundled command-repetition component at batches of 1, 64
//! and 1024 against the same crate compiled into this binary, on the folder's own events of
//! the kinds it asks for (with every field ingest gives them; the component is sent the fields
//! it reads, as in a run).
//!
//! Each component pass starts a fresh instance (not timed, as a run starts it once) and ticks
//! after every batch, and its time includes converting each batch into the contract's columns;
//! the native pass runs the crate's `process` and `on_tick` on the same events, borrowed from
//! the host's as the SDK's glue borrows them from a batch. The passes are taken in turn, each
//! on the thread's CPU clock, and the median of the rounds counts, so that a machine whose
//! speed drifts slows both sides alike and time given to other processes counts on neither.

use std::hint::black_box;
use std::time::Duration;

use devloop_plugin_sdk::{Detector, Fields};

use super::BenchError;
use crate::detectors;
use crate::ingest::{DevloopDirs, Feed};
use crate::model::{Event, Status, Value};
use crate::runtime::{CompiledPlugin, FieldSelection, Runtime, Supervisor, WitEvents, thread_cpu_time};

/// The detector measured: bundled, and linked into this binary as a crate.
pub const DETECTOR: &str = "command-repetition";
/// Events taken from the folder.
const EVENTS: usize = 8192;
const BATCH_SIZES: [usize; 3] = [1, 64, 1024];
const ROUNDS: usize = 7;

/// What the crossing section prints.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossingFigures {
    pub events: usize,
    /// The native crate over the events in batches of 1024 (median of the rounds).
    pub native: Duration,
    /// The component at each batch size (medians of the rounds).
    pub component: Vec<(usize, Duration)>,
}

/// Measures the crossing on up to 8,192 of the folder's events that [`DETECTOR`] asks for;
/// `None` when the folder has none of them.
pub fn crossing(runtime: &Runtime, dirs: &DevloopDirs) -> Result<Option<CrossingFigures>, BenchError> {
    let compiled = detectors::bundled(runtime)
        .into_iter()
        .filter_map(|candidate| candidate.found.ok())
        .find(|found| found.description.id == DETECTOR)
        .ok_or(BenchError::NoPlugins(format!("this binary ({DETECTOR})")))?;
    let mut feed = Feed::new(dirs.readers());
    let mut events = Vec::with_capacity(EVENTS);
    while events.len() < EVENTS {
        let batch = feed.next_batch(4096)?;
        if batch.is_empty() {
            break;
        }
        events.extend(batch.into_iter().filter(|event| compiled.description.wants(&event.kind)));
    }
    events.truncate(EVENTS);
    if events.is_empty() {
        return Ok(None);
    }
    let borrowed = sdk_events(&events);
    let mut native = Vec::with_capacity(ROUNDS);
    let mut component = vec![Vec::with_capacity(ROUNDS); BATCH_SIZES.len()];
    for _ in 0..ROUNDS {
        let started = thread_cpu_time();
        run_native(&borrowed).map_err(|reason| BenchError::Native { reason })?;
        native.push(thread_cpu_time() - started);
        for (times, batch_size) in component.iter_mut().zip(BATCH_SIZES) {
            times.push(component_pass(runtime, &compiled.compiled, &events, batch_size)?);
        }
    }
    Ok(Some(CrossingFigures {
        events: events.len(),
        native: median(native),
        component: BATCH_SIZES.into_iter().zip(component.into_iter().map(median)).collect(),
    }))
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

/// [`DETECTOR`] compiled into this binary over `events`, from a fresh instance, in batches of
/// 1024 with a tick after each, as the component gets them.
pub fn run_native(events: &[devloop_plugin_sdk::Event<'_>]) -> Result<(), String> {
    let mut detector = command_repetition::CommandRepetition::default();
    for batch in events.chunks(1024) {
        let mut insights = detector.process(batch)?;
        let now_ms = batch.last().map_or(0, |event| event.time_ms);
        detector.on_tick(now_ms, &mut insights)?;
        black_box(insights);
    }
    Ok(())
}

/// Feeds `events` to `supervisor` as a run does: each batch of `batch_size` converted into the
/// contract's columns with the fields the plugin reads, then a tick to its last event.
pub fn feed_component(supervisor: &mut Supervisor, events: &[Event], batch_size: usize) {
    let carried = FieldSelection::union([supervisor.reads()]);
    for batch in events.chunks(batch_size) {
        black_box(supervisor.process(&WitEvents::new(batch, &carried)));
        black_box(supervisor.tick(batch.last().map_or(0, |event| event.time_ms)));
    }
}

fn component_pass(
    runtime: &Runtime,
    compiled: &CompiledPlugin,
    events: &[Event],
    batch_size: usize,
) -> Result<Duration, BenchError> {
    let mut supervisor = Supervisor::start(runtime, compiled.clone(), Vec::new()).map_err(BenchError::Crossing)?;
    let started = thread_cpu_time();
    feed_component(&mut supervisor, events, batch_size);
    Ok(thread_cpu_time() - started)
}

/// The host's events as the SDK's, borrowing their texts, with every field (owned): what a
/// detector compiled into the host would be given.
pub fn sdk_events(events: &[Event]) -> Vec<devloop_plugin_sdk::Event<'_>> {
    events
        .iter()
        .map(|event| devloop_plugin_sdk::Event {
            id: event.id,
            time_ms: event.time_ms,
            source: event.source.as_str().into(),
            kind: event.kind.as_str().into(),
            actor: event.actor.as_deref().map(Into::into),
            thread_id: event.thread_id.as_deref().map(Into::into),
            subject: event.subject.as_deref().map(Into::into),
            outcome: devloop_plugin_sdk::Outcome {
                status: match event.outcome.status {
                    Status::Success => devloop_plugin_sdk::Status::Success,
                    Status::Failure => devloop_plugin_sdk::Status::Failure,
                    Status::Unknown => devloop_plugin_sdk::Status::Unknown,
                },
                exit_code: event.outcome.exit_code,
            },
            duration_ms: event.duration_ms,
            fields: Fields::Built(
                event
                    .fields
                    .iter()
                    .map(|field| devloop_plugin_sdk::Field {
                        key: field.key.to_string(),
                        value: sdk_value(&field.value),
                    })
                    .collect(),
            ),
        })
        .collect()
}

fn sdk_value(value: &Value) -> devloop_plugin_sdk::Value {
    match value {
        Value::Text(text) => devloop_plugin_sdk::Value::Text(text.clone()),
        Value::Integer(integer) => devloop_plugin_sdk::Value::Integer(*integer),
        Value::Float(float) => devloop_plugin_sdk::Value::Float(*float),
        Value::Boolean(flag) => devloop_plugin_sdk::Value::Boolean(*flag),
        Value::Texts(texts) => devloop_plugin_sdk::Value::Texts(texts.clone()),
        Value::Json(json) => devloop_plugin_sdk::Value::Json(json.clone()),
    }
}
