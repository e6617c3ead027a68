//! Events per second through the command-repetition detector: as a sandboxed component at
//! batch sizes 1, 64 and 1024, and the same detector compiled natively, in one run. Events
//! carry the fields devloop-host's ingest gives a real `cli.command` (six of them). Both sides
//! start from the host's events and are given the fields the detector reads, as in a run: the
//! component's time includes converting each batch into the contract's shape, the native
//! detector's building each batch's events as the SDK's (`native`; `native-prebuilt` is its
//! own work alone, on events built beforehand). The component runs on an instance whose memory
//! is in use, as a run's long-lived instance's is (`wasm/…`), and on a fresh one
//! (`wasm-fresh/1024`). A detector that does nothing and reads every field (`crossing-only`)
//! shows what the sandbox crossing itself costs. Starting an instance, which a run does once
//! per plugin, is timed on its own (`start`), not in each pass over the events, and so is
//! converting the batches alone, with the fields the detector reads and with every field
//! (`convert/…`).
//!
//! `cargo bench -p devloop-host-tests --bench plugin_throughput`; criterion prints each
//! throughput, and the README gives the ratio of each against `native`. The contract version
//! is whichever the SDK builds the detector against (the README keeps the figures of each).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use command_repetition::CommandRepetition;
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use devloop_host::bench::crossing::{self, Round};
use devloop_host::model::{Event, Field, Outcome, Source, Value};
use devloop_host::runtime::{CompiledPlugin, FieldSelection, Runtime, RuntimeConfig, Supervisor, WitEvents};

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
    // One copy of each person and thread, shared by the events that name it, as the feed
    // hands them out.
    let users: [Arc<str>; 3] = ["dev", "ops", "amp"].map(Arc::from);
    let threads: Vec<Arc<str>> =
        (0..=EVENTS as u64 / 500).map(|thread| format!("T-019c62c5-ce64-720a-b597-{thread:012x}").into()).collect();
    let mut time_ms = 1_795_000_000_000_i64;
    (0..EVENTS as u64)
        .map(|id| {
            let burst = id % 97 < 4;
            time_ms += if burst { 8_000 } else { 45_000 + (id as i64 * 7919) % 300_000 };
            let thread_id = (id % 3 == 2).then(|| Arc::clone(&threads[(id / 500) as usize]));
            let failed = id % 31 == 0;
            Event {
                id,
                time_ms,
                source: Source::CliActions,
                kind: "cli.command".into(),
                actor: Some(Arc::clone(&users[(id % 3) as usize])),
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
/// `supervisor`'s instance ([`crossing::feed_component`]).
fn run_component(mut supervisor: Supervisor, events: &[Event], batch_size: usize) -> Supervisor {
    crossing::feed_component(&mut supervisor, events, batch_size);
    supervisor
}

fn throughput(criterion: &mut Criterion) {
    let events = realistic_events();
    let mut group = criterion.benchmark_group("command-repetition");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.sample_size(20);

    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let compiled = runtime.load_file(devloop_host_tests::plugin("command-repetition")).expect("plugin builds");
    let start = |compiled: &CompiledPlugin| Supervisor::start(&runtime, compiled.clone(), Vec::new()).expect("starts");
    let reads = FieldSelection::union([start(&compiled).reads()]);
    let prebuilt = devloop_host::bench::sdk_events(&events, &reads);
    let configured = || crossing::configured::<CommandRepetition>().expect("default settings");
    group.bench_function("native", |bencher| {
        bencher.iter_batched(
            configured,
            |detector| crossing::run_native(detector, &events, &reads).expect("native run"),
            BatchSize::LargeInput,
        )
    });
    group.bench_function("native-prebuilt", |bencher| {
        bencher.iter_batched(
            configured,
            |detector| crossing::run_native_prebuilt(detector, &prebuilt).expect("native run"),
            BatchSize::LargeInput,
        )
    });
    let warm = |batch_size| crossing::warm_instance(&runtime, &compiled, &events, batch_size).expect("warms");
    for batch_size in [1_usize, 64, 1024] {
        group.bench_with_input(BenchmarkId::new("wasm", batch_size), &batch_size, |bencher, &batch_size| {
            bencher.iter_batched(
                || warm(batch_size),
                |supervisor| run_component(supervisor, &events, batch_size),
                BatchSize::PerIteration,
            )
        });
    }
    group.bench_with_input(BenchmarkId::new("wasm-fresh", 1024), &1024, |bencher, &batch_size| {
        bencher.iter_batched(
            || start(&compiled),
            |supervisor| run_component(supervisor, &events, batch_size),
            BatchSize::PerIteration,
        )
    });
    let idle = runtime.load_file(devloop_host_tests::hostile("well-behaved")).expect("fixture builds");
    group.bench_with_input(BenchmarkId::new("crossing-only", 1024), &1024, |bencher, &batch_size| {
        bencher.iter_batched(
            || start(&idle),
            |supervisor| run_component(supervisor, &events, batch_size),
            BatchSize::PerIteration,
        )
    });
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

/// The component at batch 1024 against the native detector, from passes taken in turn, so
/// that a machine whose speed drifts between criterion's groups (as shared VMs do, by half)
/// slows every side alike. Each pass is timed on the thread's CPU clock (the component runs on
/// the calling thread), so time the VM gives to its neighbours counts on none.
///
/// Both sides start from the host's events, as a run does: the component's pass converts each
/// batch into the contract's columns, the native one builds each batch's events as the SDK's.
/// The native detector over events built beforehand is its own work alone, and the component
/// on a fresh instance pays the first touch of every page of its memory, which a run's
/// long-lived instance, like the native detector's reused heap, does not. Each side's pass
/// follows the others', so each starts with caches the others have filled (as a run's plugins
/// take turns on a batch). The rounds are those of `devloop-host bench`'s crossing section
/// ([`crossing::Passes`]), on this benchmark's events; the medians of each pass and the median
/// ratios round by round are printed.
fn interleaved_ratio(_: &mut Criterion) {
    const ROUNDS: usize = 41;
    let events = realistic_events();
    let runtime = Runtime::new(RuntimeConfig::default()).expect("runtime");
    let compiled = runtime.load_file(devloop_host_tests::plugin("command-repetition")).expect("plugin builds");
    let passes = crossing::Passes::<CommandRepetition>::new(&runtime, &compiled, &events).expect("starts");
    let mut rounds: Vec<Round> = (0..ROUNDS).map(|_| passes.round(&[1024]).expect("a round")).collect();
    let mut median = |of: &dyn Fn(&Round) -> f64| {
        rounds.sort_by(|a, b| of(a).total_cmp(&of(b)));
        (of(&rounds[ROUNDS / 4]), of(&rounds[ROUNDS / 2]), of(&rounds[3 * ROUNDS / 4]))
    };
    let ms = |(_, seconds, _): (f64, f64, f64)| seconds * 1e3;
    println!(
        "command-repetition, in turn, CPU time, median of {ROUNDS} rounds: native {:.2} ms (on events built \
         beforehand {:.2} ms), wasm/1024 {:.2} ms (fresh instance {:.2} ms; converting the batches {:.2} ms)",
        ms(median(&|round| round.native.as_secs_f64())),
        ms(median(&|round| round.native_prebuilt.as_secs_f64())),
        ms(median(&|round| round.component[0].as_secs_f64())),
        ms(median(&|round| round.component_fresh.as_secs_f64())),
        ms(median(&|round| round.conversion.as_secs_f64())),
    );
    fn over(pass: Duration, native: Duration) -> f64 {
        pass.as_secs_f64() / native.as_secs_f64()
    }
    let ratios = [
        ("wasm/1024 over native", (|round| over(round.component[0], round.native)) as fn(&Round) -> f64),
        ("wasm/1024 over native on events built beforehand", |round| over(round.component[0], round.native_prebuilt)),
        ("wasm/1024 on a fresh instance over native", |round| over(round.component_fresh, round.native)),
    ];
    for (label, ratio) in ratios {
        let (low, ratio, high) = median(&ratio);
        println!("command-repetition {label}, round by round: median {ratio:.2}x (quartiles {low:.2}x to {high:.2}x)");
    }
}

criterion_group!(benches, throughput, interleaved_ratio);
criterion_main!(benches);
