//! Hot-swap costs: how long a new version takes from landing in the plugins folder to
//! processing events, and how long event processing pauses while it takes over.
//!
//! Each figure comes with a baseline measured in the same run: feeding one batch to the same
//! plugins without any swap.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use devloop_host::dispatch::{Pipeline, SwapOutcome};
use devloop_host::hotswap::{PluginWatcher, WatchOptions};
use devloop_host::model::{Event, Outcome, Source};
use devloop_host::runtime::{Runtime, RuntimeConfig, Supervisor};

const BATCH: usize = 1024;

fn event(id: u64) -> Event {
    Event {
        id,
        time_ms: 1_795_000_000_000 + id as i64 * 9_000,
        source: Source::CliActions,
        kind: "cli.command".into(),
        actor: Some(["ana", "bo", "cy"][(id % 3) as usize].into()),
        thread_id: None,
        // Far apart repeats: a steady stream with few findings, so the baseline is event traffic.
        subject: Some(format!("bd show {}", id % 5_000)),
        outcome: Outcome::from_exit_code(Some(0)),
        duration_ms: Some(250),
        fields: Vec::new(),
    }
}

fn batch(first: u64) -> Vec<Event> {
    (first..first + BATCH as u64).map(event).collect()
}

fn install(dir: &Path, name: &str, built: &Path) {
    let temporary = dir.join(format!(".{name}.partial"));
    std::fs::copy(built, &temporary).expect("copy the build");
    std::fs::rename(&temporary, dir.join(name)).expect("rename into place");
}

/// Files land in a watched folder; each iteration times landing → first batch by the new version.
fn landing_to_processing(c: &mut Criterion) {
    let scratch = tempfile::tempdir().expect("scratch folder");
    let dir = scratch.path().join("plugins");
    std::fs::create_dir(&dir).expect("plugins folder");
    let runtime = Arc::new(
        Runtime::new(RuntimeConfig { cache_dir: Some(scratch.path().join("cache")), ..RuntimeConfig::default() })
            .expect("runtime"),
    );
    let builds = [devloop_host_tests::ledger("v1"), devloop_host_tests::ledger("v2")];
    for built in builds {
        runtime.load_file(built).expect("warm the compiled-component cache");
    }
    install(&dir, "ledger.wasm", builds[0]);
    install(&dir, "command_repetition.wasm", devloop_host_tests::plugin("command-repetition"));
    let mut pipeline = Pipeline::new(&runtime, BATCH);
    pipeline.load_dir(&dir, &BTreeMap::new()).expect("load the plugins");

    let mut group = c.benchmark_group("hotswap");
    group.sample_size(10).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    let mut next_id = 0_u64;
    group.bench_function("feed one 1024-event batch (baseline)", |bench| {
        bench.iter_custom(|iterations| {
            let events: Vec<Vec<Event>> = (0..iterations).map(|i| batch(next_id + i * BATCH as u64)).collect();
            next_id += iterations * BATCH as u64;
            let started = Instant::now();
            for events in &events {
                pipeline.feed(events);
            }
            started.elapsed()
        })
    });

    for (label, settle) in
        [("settle 50ms (default)", Duration::from_millis(50)), ("settle 5ms", Duration::from_millis(5))]
    {
        let name = format!("file lands -> new version processes a batch, cached, {label}");
        landing(&mut group, &name, &runtime, &mut pipeline, &dir, settle, &mut next_id);
    }
    let uncached_dir = scratch.path().join("uncached");
    std::fs::create_dir(&uncached_dir).expect("plugins folder");
    install(&uncached_dir, "ledger.wasm", builds[0]);
    let uncached = Arc::new(Runtime::new(RuntimeConfig::default()).expect("runtime without a cache"));
    let mut uncached_pipeline = Pipeline::new(&uncached, BATCH);
    uncached_pipeline.load_dir(&uncached_dir, &BTreeMap::new()).expect("load the plugin");
    let name = "file lands -> new version processes a batch, compiled anew, settle 50ms (default)";
    landing(
        &mut group,
        name,
        &uncached,
        &mut uncached_pipeline,
        &uncached_dir,
        Duration::from_millis(50),
        &mut next_id,
    );

    let watcher = PluginWatcher::spawn(
        runtime.clone(),
        &dir,
        BTreeMap::new(),
        WatchOptions { settle: Duration::from_millis(5), ..WatchOptions::default() },
    )
    .expect("watch the folder");
    group.bench_function("pause: apply a ready new version between two batches", |bench| {
        bench.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for iteration in 0..iterations {
                install(&dir, "ledger.wasm", builds[(iteration % 2) as usize]);
                let change = watcher.next_timeout(Duration::from_secs(60)).expect("the watcher delivers the change");
                let started = Instant::now();
                let outcome = pipeline.apply(change);
                total += started.elapsed();
                assert!(matches!(outcome, SwapOutcome::Swapped { .. }), "{outcome}");
                pipeline.feed(&batch(next_id));
                next_id += BATCH as u64;
            }
            total
        })
    });
    drop(watcher);

    group.bench_function("moved off the event path: dropping a retired version", |bench| {
        bench.iter_custom(|iterations| {
            let source = runtime.load_file(builds[0]).expect("loads");
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                let mut retired = Supervisor::start(&runtime, source.clone(), Vec::new()).expect("starts");
                let _ = retired.process(&devloop_host_tests::batch_for(&retired, &batch(0)));
                let started = Instant::now();
                drop(retired);
                total += started.elapsed();
            }
            total
        })
    });
    group.finish();
}

/// Lands ledger v1 and v2 in turn in `dir`, feeding single events until the swap is ready.
fn landing(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    runtime: &Arc<Runtime>,
    pipeline: &mut Pipeline<'_>,
    dir: &Path,
    settle: Duration,
    next_id: &mut u64,
) {
    let builds = [devloop_host_tests::ledger("v1"), devloop_host_tests::ledger("v2")];
    let options = WatchOptions { settle, ..WatchOptions::default() };
    let watcher = PluginWatcher::spawn(runtime.clone(), dir, BTreeMap::new(), options).expect("watch the folder");
    let mut version = 0;
    group.bench_function(name, |bench| {
        bench.iter_custom(|iterations| {
            let mut total = Duration::ZERO;
            for _ in 0..iterations {
                version = 1 - version;
                let events = batch(*next_id);
                *next_id += BATCH as u64;
                let landed = Instant::now();
                install(dir, "ledger.wasm", builds[version]);
                let change = loop {
                    if let Some(change) = watcher.try_next() {
                        break change;
                    }
                    pipeline.feed(&[event(*next_id)]);
                    *next_id += 1;
                };
                let outcome = pipeline.apply(change);
                assert!(matches!(outcome, SwapOutcome::Swapped { .. }), "{outcome}");
                pipeline.feed(&events);
                total += landed.elapsed();
            }
            total
        })
    });
}

criterion_group!(benches, landing_to_processing);
criterion_main!(benches);
