//! Events per second through the command-repetition detector: as a sandboxed component at
//! batch sizes 1, 64 and 1024, and the same detector compiled natively, in one run. Events
//! carry the fields devloop-host's ingest gives a real `cli.command` (six of them), and the
//! component's time includes converting each batch from the host's events into the contract's
//! shape, as a run does, with the fields it reads. A detector that does nothing and reads every
//! field (`crossing-only`) shows what the sandbox crossing itself costs. Starting an instance,
//! which a run does once per plugin, is timed on its own (`start`), not in each pass over the
//! events, and so is converting the batches alone, with the fields the detector reads and with
//! every field (`convert/…`).
//!
//! `cargo bench -p devloop-host-tests --bench plugin_throughput`; criterion prints each
//! throughput, and the README gives the ratio of each against `native`. The contract version
//! is whichever the SDK builds the detector against (the README keeps the figures of each).

use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use devloop_host::bench::crossing;
use devloop_host::model::{Event, Field, Outcome, Source, Value};
use devloop_host::runtime::{
    CompiledPlugin, FieldSelection, Runtime, RuntimeConfig, Supervisor, WitEvents, thread_cpu_time,
};

const EVENTS: usize = 8192;

/// The fields `host/src/ingest/cli_actions.rs` keeps of a cli-actions record, as it writes
/// them: text, integer and JSON values of realistic length.
fn cli_fields(id: u64, thread: Option<&str>, failed: bool) -> Vec<Field> {
    let text = |key: &'static str, value: String| Field { key: key.into(), value: Value::Text(value) };
    vec![
        text("thread_url", format!("https://ampcode.com/threads/{}", thread.unwrap_or("T-none"))),
        text("working_dir", format!("/home/dev/projects/service-{}", id % 4)),
        Field { key: "output_size_bytes".into(), value: Value::Integer((id as i64 * 7919) % 65_536) },
        if failed {
            text("error_message", "exit status 1: could not reach the daemon socket".to_owned())
        } else {
            text("error_message", String::new())
        },
        text("notes", if id.is_multiple_of(5) { "ran from the dashboard".to_owned() } else { String::new() }),
        Field { key: "environment".into(), value: Value::Json(r#"{"CI":"false","TERM":"xterm-256color"}"#.into()) },
    ]
}

/// A day of a team's CLI use: mostly spread-out commands, with a burst now and then.
fn realistic_events() -> Vec<Event> {
    let commands = ["status", "bd ready", "insights list", "doctor", "watch .", "bd show dl-42", "audit recent"];
    let users = ["dev", "ops", "amp"];
    let mut time_ms = 1_795_000_000_000_i64;
    (0..EVENTS as u64)
        .map(|id| {
            let burst = id % 97 < 4;
            time_ms += if burst { 8_000 } else { 45_000 + (id as i64 * 7919) % 300_000 };
            let thread_id = (id % 3 == 2).then(|| format!("T-019c62c5-ce64-720a-b597-{:012x}", id / 500));
            let failed = id % 31 == 0;
            Event {
                id,
                time_ms,
                source: Source::CliActions,
                kind: "cli.command".into(),
                actor: Some(users[(id % 3) as usize].into()),
                fields: cli_fields(id, thread_id.as_deref(), failed),
                thread_id,
                subject: Some(if burst { "bd ready".into() } else { commands[(id % 7) as usize].into() }),
                outcome: Outcome::from_exit_code(Some(if failed { 1 } else { 0 })),
                duration_ms: Some(120 + id % 900),
            }
        })
        .collect()
}

/// Feeds every batch (converted inside the timed loop, as a run converts each batch) to
/// `supervisor`'s fresh instance ([`crossing::feed_component`]).
fn run_component(mut supervisor: Supervisor, events: &[Event], batch_size: usize) -> Supervisor {
    crossing::feed_component(&mut supervisor, events, batch_size);
    supervisor
}

/// The native detector over every event, in batches of 1024 as the component gets them.
fn run_native(events: &[devloop_plugin_sdk::Event]) {
    crossing::run_native(events).expect("native run");
}

fn throughput(criterion: &mut Criterion) {
    let events = realistic_events();
    let mut group = criterion.benchmark_group("command-repetition");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.sample_size(20);

    let native_events = devloop_host::bench::sdk_events(&events);
    group.bench_function("native", |bencher| bencher.iter(|| run_native(&native_events)));

    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let compiled = runtime.load_file(devloop_host_tests::plugin("command-repetition")).expect("plugin builds");
    let start = |compiled: &CompiledPlugin| Supervisor::start(&runtime, compiled.clone(), Vec::new()).expect("starts");
    for batch_size in [1_usize, 64, 1024] {
        group.bench_with_input(BenchmarkId::new("wasm", batch_size), &batch_size, |bencher, &batch_size| {
            bencher.iter_batched(
                || start(&compiled),
                |supervisor| run_component(supervisor, &events, batch_size),
                BatchSize::PerIteration,
            )
        });
    }
    let idle = runtime.load_file(devloop_host_tests::hostile("well-behaved")).expect("fixture builds");
    group.bench_with_input(BenchmarkId::new("crossing-only", 1024), &1024, |bencher, &batch_size| {
        bencher.iter_batched(
            || start(&idle),
            |supervisor| run_component(supervisor, &events, batch_size),
            BatchSize::PerIteration,
        )
    });
    let reads = FieldSelection::union([start(&compiled).reads()]);
    for (name, carried) in [("fields-read", reads), ("every-field", FieldSelection::Every)] {
        group.bench_function(BenchmarkId::new("convert", name), |bencher| {
            bencher.iter(|| {
                for batch in events.chunks(1024) {
                    black_box(WitEvents::new(batch, &carried));
                }
            })
        });
    }
    group.throughput(Throughput::Elements(1));
    group.bench_function("start", |bencher| bencher.iter(|| black_box(start(&compiled))));
    group.finish();
}

/// What `pass` returns, and the CPU time it took on this thread.
fn timed<T>(pass: impl FnOnce() -> T) -> (T, f64) {
    let started = thread_cpu_time();
    let result = pass();
    (result, (thread_cpu_time() - started).as_secs_f64())
}

/// One round of [`interleaved_ratio`]: CPU seconds of each pass.
struct Round {
    /// The native detector right after the component's passes, and again at once.
    native_cold: f64,
    native_warm: f64,
    /// The component right after the native passes, and again at once.
    wasm_cold: f64,
    wasm_warm: f64,
    /// Converting the batches alone, right after the component.
    conversion: f64,
}

/// The component at batch 1024 against the native detector, from passes taken in turn, so
/// that a machine whose speed drifts between criterion's groups (as shared VMs do, by half)
/// slows both sides alike. Each pass is timed on the thread's CPU clock (the component runs on
/// the calling thread), so time the VM gives to its neighbours counts on neither side.
///
/// Each side runs twice in a row, because the two regimes can differ by more than the sandbox
/// does: events built as separate allocations per string (the SDK's events before they
/// borrowed their texts) took the native detector twice as long once the component's passes
/// had pushed them out of the caches. The first pass of each side is the cold regime (a run
/// whose batches were ingested a while ago), the second the warm one (a batch read as it is
/// ingested); both ratios are printed, round by round, with the conversion alone.
fn interleaved_ratio(_: &mut Criterion) {
    const ROUNDS: usize = 41;
    let events = realistic_events();
    let native_events = devloop_host::bench::sdk_events(&events);
    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let compiled = runtime.load_file(devloop_host_tests::plugin("command-repetition")).expect("plugin builds");
    let component = |compiled: &CompiledPlugin| {
        let supervisor = Supervisor::start(&runtime, compiled.clone(), Vec::new()).expect("starts");
        timed(|| run_component(supervisor, &events, 1024))
    };
    let mut rounds: Vec<Round> = (0..ROUNDS)
        .map(|_| {
            let ((), native_cold) = timed(|| run_native(&native_events));
            let ((), native_warm) = timed(|| run_native(&native_events));
            let (_, wasm_cold) = component(&compiled);
            let (supervisor, wasm_warm) = component(&compiled);
            let carried = FieldSelection::union([supervisor.reads()]);
            let ((), conversion) = timed(|| {
                for batch in events.chunks(1024) {
                    black_box(WitEvents::new(batch, &carried));
                }
            });
            Round { native_cold, native_warm, wasm_cold, wasm_warm, conversion }
        })
        .collect();
    let mut median = |of: &dyn Fn(&Round) -> f64| {
        rounds.sort_by(|a, b| of(a).total_cmp(&of(b)));
        (of(&rounds[ROUNDS / 4]), of(&rounds[ROUNDS / 2]), of(&rounds[3 * ROUNDS / 4]))
    };
    let ms = |(_, seconds, _): (f64, f64, f64)| seconds * 1e3;
    println!(
        "command-repetition, in turn, CPU time, median of {ROUNDS} rounds: native {:.2} ms cold / {:.2} ms warm, \
         wasm/1024 {:.2} ms cold / {:.2} ms warm (converting the batches {:.2} ms)",
        ms(median(&|round| round.native_cold)),
        ms(median(&|round| round.native_warm)),
        ms(median(&|round| round.wasm_cold)),
        ms(median(&|round| round.wasm_warm)),
        ms(median(&|round| round.conversion)),
    );
    for (regime, ratio) in [
        ("cold", &(|round: &Round| round.wasm_cold / round.native_cold) as &dyn Fn(&Round) -> f64),
        ("warm", &|round: &Round| round.wasm_warm / round.native_warm),
    ] {
        let (low, ratio, high) = median(ratio);
        println!(
            "command-repetition wasm/1024 over native, {regime}, round by round: median {ratio:.2}x (quartiles {low:.2}x to {high:.2}x)"
        );
    }
}

criterion_group!(benches, throughput, interleaved_ratio);
criterion_main!(benches);
