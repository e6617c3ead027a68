//! The sandbox's cost per event: a bundled detector's component at batches of 1, 64 and 1024
//! against the same crate compiled into this binary, on the folder's own events of the kinds it
//! asks for (with every field ingest gives them; each side is given the fields the detector
//! reads, as in a run). [`crossings`] measures two: command-repetition, which reads no field and
//! does little per event (so the crossing weighs most), and failure-workaround, a run's costliest
//! detector, which reads each failure's error message.
//!
//! Both sides start from the host's events, as a run does. The component's time includes
//! converting each batch into the contract's columns; the native pass builds each batch's
//! events as the SDK's from the host's (borrowing their texts, as the SDK's glue borrows them
//! from a batch), which is what running the crate inside the host would cost, and the native
//! crate over events built beforehand is timed as well (its own work alone). Each component
//! pass runs on an instance whose memory is in use, as a run's long-lived instance's is (one
//! pass, then its state restored to fresh, before the timed one; starting it is not timed, as
//! a run starts it once), and once more at batch 1024 on a fresh instance, whose first touch of
//! each page of its memory is a page fault the native detector's reused heap does not pay.
//! Every pass ticks after each batch. The passes are taken in turn, each on the thread's CPU
//! clock, and the medians of the rounds count (of each time, and of each ratio to the native
//! pass of the same round), so that a machine whose speed drifts slows all sides alike and
//! time given to other processes counts on none.

use std::hint::black_box;
use std::marker::PhantomData;
use std::time::Duration;

use devloop_plugin_sdk::{Detector, Fields};

use super::BenchError;
use crate::detectors::{self, Found};
use crate::ingest::{DevloopDirs, Feed};
use crate::model::{Event, Status, Value};
use crate::runtime::{CompiledPlugin, FieldSelection, Runtime, Supervisor, WitEvents, thread_cpu_time};

/// An event as the SDK gives it to a detector, which the native crate is given.
type SdkEvent<'a> = devloop_plugin_sdk::Event<'a>;

/// Events taken from the folder.
const EVENTS: usize = 8192;
const BATCH_SIZES: [usize; 3] = [1, 64, 1024];
const ROUNDS: usize = 11;

/// What the crossing section prints.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossingFigures {
    /// The detector's id.
    pub detector: String,
    pub events: usize,
    /// The native crate in batches of 1024, each built from the host's events (median of the
    /// rounds): the baseline.
    pub native: Duration,
    /// The native crate over events built beforehand: its own work alone.
    pub native_prebuilt: Timing,
    /// The component at each batch size, on an instance whose memory is in use.
    pub component: Vec<(usize, Timing)>,
    /// The component at batch 1024 on a fresh instance.
    pub component_fresh: Timing,
    /// Converting the batches into the contract's columns alone (part of each component pass;
    /// a run does it once per batch for every plugin).
    pub conversion: Timing,
}

/// One pass's median time over the rounds, and the median of its ratios to the native pass of
/// the same round (steadier than the ratio of the medians when the machine's speed drifts).
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    pub time: Duration,
    pub over_native: f64,
}

/// One pass's median time over `rounds`, and the median of its ratios to the native pass of
/// the same round.
fn timing(rounds: &[Round], pass: impl Fn(&Round) -> Duration) -> Timing {
    let mut ratios: Vec<f64> =
        rounds.iter().map(|round| pass(round).as_secs_f64() / round.native.as_secs_f64().max(1e-9)).collect();
    ratios.sort_by(f64::total_cmp);
    Timing { time: median(rounds.iter().map(pass).collect()), over_native: ratios[ratios.len() / 2] }
}

/// Measures the crossing of command-repetition and of failure-workaround (each bundled, and
/// linked into this binary as a crate), in that order, skipping one whose kinds the folder has
/// no event of.
pub fn crossings(runtime: &Runtime, dirs: &DevloopDirs) -> Result<Vec<CrossingFigures>, BenchError> {
    let bundled: Vec<Found> =
        detectors::bundled(runtime).into_iter().filter_map(|candidate| candidate.found.ok()).collect();
    let figures = [
        crossing::<command_repetition::CommandRepetition>(runtime, &bundled, dirs)?,
        crossing::<failure_workaround::FailureWorkaround>(runtime, &bundled, dirs)?,
    ];
    Ok(figures.into_iter().flatten().collect())
}

/// Measures the crossing of `D`, whose component is among `bundled`, on up to 8,192 of the
/// folder's events that it asks for; `None` when the folder has none of them.
pub fn crossing<D: Detector>(
    runtime: &Runtime,
    bundled: &[Found],
    dirs: &DevloopDirs,
) -> Result<Option<CrossingFigures>, BenchError> {
    let detector = D::info().id;
    let compiled = bundled
        .iter()
        .find(|found| found.description.id == detector)
        .ok_or_else(|| BenchError::NoPlugins(format!("this binary ({detector})")))?;
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
    let passes = Passes::<D>::new(runtime, &compiled.compiled, &events)?;
    let rounds = (0..ROUNDS).map(|_| passes.round(&BATCH_SIZES)).collect::<Result<Vec<_>, _>>()?;
    let component = BATCH_SIZES.iter().enumerate();
    Ok(Some(CrossingFigures {
        detector,
        events: events.len(),
        native: median(rounds.iter().map(|round| round.native).collect()),
        native_prebuilt: timing(&rounds, |round| round.native_prebuilt),
        component: component.map(|(pass, &size)| (size, timing(&rounds, |round| round.component[pass]))).collect(),
        component_fresh: timing(&rounds, |round| round.component_fresh),
        conversion: timing(&rounds, |round| round.conversion),
    }))
}

/// The CPU time of each pass of one round.
pub struct Round {
    /// The native crate from the host's events, in batches of 1024: the baseline.
    pub native: Duration,
    /// The native crate over events built beforehand.
    pub native_prebuilt: Duration,
    /// The component at each batch size asked for, in that order, on an instance whose memory
    /// is in use.
    pub component: Vec<Duration>,
    /// The component at batch 1024 on a fresh instance.
    pub component_fresh: Duration,
    /// Converting the batches of 1024 into the contract's columns alone.
    pub conversion: Duration,
}

/// The passes of `D` over one set of events, taken in turn in each round (see the module), so
/// that a machine whose speed drifts slows them all alike. `compiled` is `D`'s component.
pub struct Passes<'e, D> {
    runtime: &'e Runtime,
    compiled: &'e CompiledPlugin,
    events: &'e [Event],
    /// The fields the detector reads, which both sides are given.
    carried: FieldSelection,
    prebuilt: Vec<SdkEvent<'e>>,
    native: PhantomData<fn() -> D>,
}

impl<'e, D: Detector> Passes<'e, D> {
    pub fn new(runtime: &'e Runtime, compiled: &'e CompiledPlugin, events: &'e [Event]) -> Result<Self, BenchError> {
        let carried = FieldSelection::union([start(runtime, compiled)?.reads()]);
        let prebuilt = sdk_events(events, &carried);
        Ok(Passes { runtime, compiled, events, carried, prebuilt, native: PhantomData })
    }

    /// One round: the native crate from the host's events and from events built beforehand,
    /// the component at each of `batch_sizes` on an instance in use and at 1024 on a fresh
    /// one, then converting the batches alone.
    pub fn round(&self, batch_sizes: &[usize]) -> Result<Round, BenchError> {
        let native_failed = |reason| BenchError::Native { detector: D::info().id, reason };
        let detector = configured::<D>().map_err(native_failed)?;
        let (ran, native) = cpu_time(|| run_native(detector, self.events, &self.carried));
        ran.map_err(native_failed)?;
        let detector = configured::<D>().map_err(native_failed)?;
        let (ran, native_prebuilt) = cpu_time(|| run_native_prebuilt(detector, &self.prebuilt));
        ran.map_err(native_failed)?;
        let mut component = Vec::with_capacity(batch_sizes.len());
        for &batch_size in batch_sizes {
            let mut supervisor = warm_instance(self.runtime, self.compiled, self.events, batch_size)?;
            component.push(cpu_time(|| feed_component(&mut supervisor, self.events, batch_size)).1);
        }
        let mut supervisor = start(self.runtime, self.compiled)?;
        let component_fresh = cpu_time(|| feed_component(&mut supervisor, self.events, 1024)).1;
        let ((), conversion) = cpu_time(|| {
            for batch in self.events.chunks(1024) {
                black_box(WitEvents::new(batch, &self.carried));
            }
        });
        Ok(Round { native, native_prebuilt, component, component_fresh, conversion })
    }
}

/// What `pass` returns, and the CPU time it took on this thread.
fn cpu_time<T>(pass: impl FnOnce() -> T) -> (T, Duration) {
    let started = thread_cpu_time();
    let result = pass();
    (result, thread_cpu_time() - started)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

/// `detector`, a crate compiled into this binary, over the host's `events`, in batches of 1024
/// with a tick after each, as the component gets them: each batch's events built as the SDK's
/// ([`sdk_events`]) with the fields `carried`, as a host running the crate would build them.
/// The detector is handed back, for the caller to drop outside the time it takes: a run's
/// detector lives on, as the component's instance does after its pass.
pub fn run_native<D: Detector>(mut detector: D, events: &[Event], carried: &FieldSelection) -> Result<D, String> {
    events.chunks(1024).try_for_each(|batch| native_batch(&mut detector, &sdk_events(batch, carried)))?;
    Ok(detector)
}

/// [`run_native`] over events built beforehand: the detector's own work alone.
pub fn run_native_prebuilt<D: Detector>(mut detector: D, events: &[SdkEvent<'_>]) -> Result<D, String> {
    events.chunks(1024).try_for_each(|batch| native_batch(&mut detector, batch))?;
    Ok(detector)
}

/// A fresh `D` with the defaults it declares, as the SDK's glue configures a component that is
/// given no setting (as a component is started, before any pass is timed).
pub fn configured<D: Detector>() -> Result<D, String> {
    let mut detector = D::default();
    detector.configure(&D::info().settings(Vec::new())?)?;
    Ok(detector)
}

fn native_batch<D: Detector>(detector: &mut D, batch: &[SdkEvent<'_>]) -> Result<(), String> {
    let mut insights = detector.process(batch)?;
    detector.on_tick(batch.last().map_or(0, |event| event.time_ms), &mut insights)?;
    black_box(insights);
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

fn start(runtime: &Runtime, compiled: &CompiledPlugin) -> Result<Supervisor, BenchError> {
    Supervisor::start(runtime, compiled.clone(), Vec::new())
        .map_err(|source| BenchError::Crossing { origin: compiled.origin.clone(), source })
}

/// A new instance of `compiled` whose memory is in use, as a run's long-lived instance's is:
/// fed `events` in batches of `batch_size` from its fresh state, then that state restored.
pub fn warm_instance(
    runtime: &Runtime,
    compiled: &CompiledPlugin,
    events: &[Event],
    batch_size: usize,
) -> Result<Supervisor, BenchError> {
    let mut supervisor = start(runtime, compiled)?;
    let warming = |failure: String| BenchError::Warming { origin: compiled.origin.clone(), reason: failure };
    let fresh = supervisor.snapshot().map_err(|failure| warming(failure.to_string()))?;
    feed_component(&mut supervisor, events, batch_size);
    if let Some(fresh) = fresh {
        supervisor.restore(&fresh).map_err(|failure| warming(failure.to_string()))?.map_err(warming)?;
    }
    Ok(supervisor)
}

/// The host's events as the SDK's, borrowing their texts, with the fields `carried` (owned):
/// what a detector compiled into the host would be given.
pub fn sdk_events<'a>(events: &'a [Event], carried: &FieldSelection) -> Vec<SdkEvent<'a>> {
    events
        .iter()
        .map(|event| devloop_plugin_sdk::Event {
            id: event.id,
            time_ms: event.time_ms,
            source: event.source.as_str().into(),
            kind: (*event.kind).into(),
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
                    .filter(|field| carried.carries(&field.key))
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
