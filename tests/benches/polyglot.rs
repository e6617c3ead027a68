//! Per-event cost of the command-repetition detector in Rust, Python, JavaScript and C, run in
//! one process through the real runtime, with the ratio to Rust printed at the end.
//!
//! Each iteration feeds one batch of 100 events (the pipeline's unit of work) to a warm
//! instance; event time keeps moving forward, so the detector's state stays at its steady size.
//! Run with `cargo bench -p devloop-host-tests --bench polyglot`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use devloop_host::model::{Event, Outcome, Source};
use devloop_host::runtime::{BatchOutcome, Runtime, RuntimeConfig, Supervisor};
use devloop_host_tests::polyglot;

const BATCH: u64 = 100;
const GROUP: &str = "command_repetition_per_event";

fn detectors() -> Vec<(&'static str, PathBuf)> {
    let port = |folder: &str| polyglot::example(folder).unwrap_or_else(|error| panic!("{error}"));
    vec![
        ("rust", devloop_host_tests::classic_repetition().to_owned()),
        ("c", port("command-repetition-c")),
        ("python", port("command-repetition-py")),
        ("js", port("command-repetition-js")),
    ]
}

/// Batch number `batch`: everyday traffic by a few people, with a burst now and then.
fn batch(batch: u64) -> Vec<Event> {
    let commands = ["status", "bd ready", "insights list", "doctor", "make test", "git status"];
    (0..BATCH)
        .map(|i| {
            let n = batch * BATCH + i;
            Event {
                id: n,
                time_ms: 1_795_000_000_000 + n as i64 * 7_000,
                source: Source::CliActions,
                kind: "cli.command".into(),
                actor: Some(["dev", "ops", "ci"][(n % 3) as usize].into()),
                thread_id: n.is_multiple_of(4).then(|| format!("T-{}", n % 16).into()),
                subject: Some(commands[(n % 6) as usize].into()),
                outcome: Outcome::from_exit_code(Some(i32::from(n.is_multiple_of(11)))),
                duration_ms: Some(300),
                fields: Vec::new(),
            }
        })
        .collect()
}

fn per_event(criterion: &mut Criterion) {
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(polyglot::cache_root().join("test-components")),
        ..RuntimeConfig::default()
    })
    .expect("a runtime");
    let mut group = criterion.benchmark_group(GROUP);
    group.throughput(Throughput::Elements(BATCH));
    group.measurement_time(Duration::from_secs(4));
    let languages = detectors();
    for (language, wasm) in &languages {
        let source = runtime.load_file(wasm).expect("the detector loads");
        let mut supervisor = Supervisor::start(&runtime, source, Vec::new()).expect("the detector starts");
        let mut next_batch = 0;
        group.bench_function(*language, |bencher| {
            bencher.iter_custom(|iterations| {
                let mut spent = Duration::ZERO;
                for _ in 0..iterations {
                    let events = batch(next_batch);
                    let events = devloop_host_tests::batch_for(&supervisor, &events);
                    next_batch += 1;
                    let started = Instant::now();
                    let outcome = supervisor.process(&events);
                    spent += started.elapsed();
                    assert!(matches!(outcome, BatchOutcome::Insights(_)), "{language}: {outcome:?}");
                }
                spent
            });
        });
    }
    group.finish();
    print_ratios(&languages);
}

/// Reads criterion's estimates back and prints each language's cost per event next to Rust's.
fn print_ratios(languages: &[(&str, PathBuf)]) {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| polyglot::workspace().join("target"));
    let per_event_ns = |language: &str| -> Option<f64> {
        let path = target.join("criterion").join(GROUP).join(language).join("new").join("estimates.json");
        let estimates: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        Some(estimates["median"]["point_estimate"].as_f64()? / BATCH as f64)
    };
    let Some(rust) = per_event_ns("rust") else {
        eprintln!("no criterion estimates under {}; ratios not printed", target.display());
        return;
    };
    println!("\n{:<8} {:>14} {:>10}", "language", "ns per event", "vs rust");
    for (language, _) in languages {
        if let Some(cost) = per_event_ns(language) {
            println!("{language:<8} {cost:>14.0} {:>9.1}x", cost / rust);
        }
    }
}

criterion_group!(benches, per_event);
criterion_main!(benches);
