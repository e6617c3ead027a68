//! Events per second of a pattern file run by the rules detector, beside the compiled detector
//! for the same pattern (`metric_anomaly`'s duration check,
//! `patterns/equivalents/metric-anomaly-duration.toml`): both natively and both as sandboxed
//! components, batches of 1024. The compiled detector also runs its two other checks (failure
//! rate, same failure) on the same events; the file runs one.
//!
//! `cargo bench -p devloop-host-tests --bench pattern_throughput`; the README gives the figures.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use devloop_host::model::{Event, Outcome, Source};
use devloop_host::patterns::{PatternFile, RulesEngine};
use devloop_host::runtime::{FieldSelection, Runtime, RuntimeConfig, Supervisor, WitEvents};
use devloop_plugin_sdk::Detector;

const EVENTS: usize = 8192;

/// Agent runs as devloop's telemetry records them: three agents, a cold-start spike now and
/// then, and the linter slowing down for a while in the second half.
fn realistic_events() -> Vec<Event> {
    let agents = ["linter", "formatter", "test-runner"];
    let usual_ms = [400_u64, 150, 2_000];
    let mut time_ms = 1_795_000_000_000_i64;
    (0..EVENTS as u64)
        .map(|id| {
            time_ms += 20_000 + (id as i64 * 7919) % 90_000;
            let agent = (id % 3) as usize;
            let jitter = (id * 7919) % 100;
            let spike = if id % 89 == 0 { 4 } else { 1 };
            let slow = if agent == 0 && (EVENTS as u64 / 2..EVENTS as u64 * 3 / 4).contains(&id) { 3 } else { 1 };
            let duration_ms = (usual_ms[agent] + usual_ms[agent] * jitter / 400) * spike * slow;
            Event {
                id,
                time_ms,
                source: Source::Telemetry,
                kind: "telemetry.agent_executed".into(),
                actor: Some(agents[agent].into()),
                thread_id: None,
                subject: Some(agents[agent].into()),
                outcome: Outcome::from_exit_code(Some(if id % 31 == 0 { 1 } else { 0 })),
                duration_ms: Some(duration_ms),
                fields: Vec::new(),
            }
        })
        .collect()
}

fn throughput(criterion: &mut Criterion) {
    let events = realistic_events();
    let pattern_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../patterns/equivalents/metric-anomaly-duration.toml");
    let pattern = PatternFile::read(&pattern_path).expect("the shipped pattern reads");
    let mut group = criterion.benchmark_group("pattern-vs-compiled");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.sample_size(20);

    let native_events = devloop_host::bench::sdk_events(&events, &FieldSelection::Every);
    // Timed only when both find the same slowdowns in these events.
    let compiled_found = metric_anomaly::MetricAnomaly::default().process(&native_events).expect("native run");
    let mut pattern_found = Vec::new();
    let mut rules_engine = rules::Engine::new(pattern.pattern.clone());
    native_events.iter().for_each(|event| rules_engine.on_event(event, &mut pattern_found));
    let slowdowns = |found: &[devloop_plugin_sdk::Insight]| {
        found
            .iter()
            .filter(|insight| insight.key.ends_with("\u{1f}duration"))
            .map(|insight| insight.key.clone())
            .collect::<Vec<_>>()
    };
    assert!(!pattern_found.is_empty(), "the events hold a slowdown");
    assert_eq!(slowdowns(&compiled_found), slowdowns(&pattern_found), "the two find the same slowdowns");
    group.bench_function("compiled/native", |bencher| {
        bencher.iter(|| {
            let mut detector = metric_anomaly::MetricAnomaly::default();
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
    let compiled = runtime.load_file(devloop_host_tests::plugin("metric-anomaly")).expect("plugin builds");
    let carried =
        FieldSelection::union([Supervisor::start(&runtime, compiled.clone(), Vec::new()).expect("starts").reads()]);
    let batches: Vec<WitEvents> = events.chunks(1024).map(|batch| WitEvents::new(batch, &carried)).collect();
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
