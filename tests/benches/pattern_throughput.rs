//! Events per second of a pattern file run by the rules detector, beside the compiled detector
//! for the same pattern (`command_repetition`, `patterns/equivalents/command-repetition.toml`):
//! both natively and both as sandboxed components, batches of 1024.
//!
//! `cargo bench -p devloop-host-tests --bench pattern_throughput`; the README gives the figures.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use devloop_host::model::{Event, Outcome, Source};
use devloop_host::patterns::{PatternFile, RulesEngine};
use devloop_host::runtime::{Runtime, RuntimeConfig, Supervisor, WitEvents};
use devloop_plugin_sdk::Detector;

const EVENTS: usize = 8192;

/// The same day of CLI use as `plugin_throughput`: spread-out commands, a burst now and then.
fn realistic_events() -> Vec<Event> {
    let commands = ["status", "bd ready", "insights list", "doctor", "watch .", "bd show dl-42", "audit recent"];
    let users = ["dev", "ops", "amp"];
    let mut time_ms = 1_795_000_000_000_i64;
    (0..EVENTS as u64)
        .map(|id| {
            let burst = id % 97 < 4;
            time_ms += if burst { 8_000 } else { 45_000 + (id as i64 * 7919) % 300_000 };
            Event {
                id,
                time_ms,
                source: Source::CliActions,
                kind: "cli.command".into(),
                actor: Some(users[(id % 3) as usize].into()),
                thread_id: (id % 3 == 2).then(|| format!("T-019c62c5-ce64-720a-b597-{:012x}", id / 500)),
                subject: Some(if burst { "bd ready".into() } else { commands[(id % 7) as usize].into() }),
                outcome: Outcome::from_exit_code(Some(if id % 31 == 0 { 1 } else { 0 })),
                duration_ms: Some(120 + id % 900),
                fields: Vec::new(),
            }
        })
        .collect()
}

fn sdk_events(events: &[Event]) -> Vec<devloop_plugin_sdk::Event> {
    use devloop_plugin_sdk::{Outcome as SdkOutcome, Status};
    events
        .iter()
        .map(|event| devloop_plugin_sdk::Event {
            id: event.id,
            time_ms: event.time_ms,
            source: event.source.as_str().into(),
            kind: event.kind.clone(),
            actor: event.actor.clone(),
            thread_id: event.thread_id.clone(),
            subject: event.subject.clone(),
            outcome: SdkOutcome {
                status: match event.outcome.status {
                    devloop_host::model::Status::Success => Status::Success,
                    devloop_host::model::Status::Failure => Status::Failure,
                    devloop_host::model::Status::Unknown => Status::Unknown,
                },
                exit_code: event.outcome.exit_code,
            },
            duration_ms: event.duration_ms,
            fields: Vec::new(),
        })
        .collect()
}

fn throughput(criterion: &mut Criterion) {
    let events = realistic_events();
    let pattern_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../patterns/equivalents/command-repetition.toml");
    let pattern = PatternFile::read(&pattern_path).expect("the shipped pattern reads");
    let mut group = criterion.benchmark_group("pattern-vs-compiled");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.sample_size(20);

    let native_events = sdk_events(&events);
    group.bench_function("compiled/native", |bencher| {
        bencher.iter(|| {
            let mut detector = command_repetition::CommandRepetition::default();
            for batch in native_events.chunks(1024) {
                black_box(detector.process(batch).expect("native run"));
            }
        })
    });
    group.bench_function("pattern/native", |bencher| {
        bencher.iter(|| {
            let mut engine = rules::Engine::new(pattern.pattern.clone());
            let mut out = Vec::new();
            for event in &native_events {
                engine.on_event(event, &mut out);
            }
            black_box(out)
        })
    });

    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let batches: Vec<WitEvents> = events.chunks(1024).map(WitEvents::new).collect();
    let compiled = runtime.load_file(devloop_host_tests::plugin("command-repetition")).expect("plugin builds");
    group.bench_function("compiled/wasm", |bencher| {
        bencher.iter(|| {
            let mut supervisor = Supervisor::start(&runtime, compiled.clone(), Vec::new()).expect("starts");
            for batch in &batches {
                black_box(supervisor.process(batch));
            }
        })
    });
    let engine = RulesEngine::load(&runtime, devloop_host_tests::plugin("rules")).expect("rules builds");
    group.bench_function("pattern/wasm", |bencher| {
        bencher.iter(|| {
            let mut supervisor = engine.supervisor(&runtime, &pattern).expect("starts");
            for batch in &batches {
                black_box(supervisor.process(batch));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
