//! command-repetition's classic burst rule written in Python, JavaScript and C, built from source
//! and run through the real runtime next to its Rust original (the fixture
//! `tests/fixtures/classic-repetition`): same events in, same insights out.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use devloop_host::harness::Case;
use devloop_host::model::{Event, Field, Insight, Value};
use devloop_host::runtime::{BatchOutcome, Runtime, RuntimeConfig, Supervisor};
use devloop_host_tests::polyglot;

use crate::conformance::cli_event;

/// The ports of the classic rule, by folder and `describe().language`.
const PORTS: &[(&str, &str)] =
    &[("command-repetition-py", "python"), ("command-repetition-js", "js"), ("command-repetition-c", "c")];

/// A runtime whose compiled-component cache outlives the test run: compiling the 18 MiB
/// Python component takes seconds, loading it compiled takes milliseconds.
fn runtime() -> Result<Runtime> {
    let cache_dir = polyglot::cache_root().join("test-components");
    Runtime::new(RuntimeConfig { cache_dir: Some(cache_dir), ..RuntimeConfig::default() })
}

fn rust_original() -> PathBuf {
    devloop_host_tests::classic_repetition().to_owned()
}

fn port(folder: &str) -> Result<PathBuf> {
    polyglot::example(folder).map_err(|error| anyhow!(error))
}

fn on_thread(mut event: Event, thread: &str) -> Event {
    event.thread_id = Some(thread.into());
    event
}

/// Feeds `batches` in order and collects every insight, failing on anything but insights.
fn run(runtime: &Runtime, wasm: &Path, settings: &[Field], batches: &[Vec<Event>]) -> Result<Vec<Insight>> {
    let source = runtime.load_file(wasm)?;
    let mut supervisor = Supervisor::start(runtime, source, settings.to_vec())?;
    let mut insights = Vec::new();
    for batch in batches {
        insights.extend(run_batch(&mut supervisor, batch).map_err(|error| anyhow!("{}: {error}", wasm.display()))?);
    }
    Ok(insights)
}

/// Runs the Rust original and every port on the same batches; returns the original's insights
/// after checking each port returned exactly the same.
fn all_agree(settings: &[Field], batches: &[Vec<Event>]) -> Result<Vec<Insight>> {
    let runtime = runtime()?;
    let expected = run(&runtime, &rust_original(), settings, batches)?;
    for (folder, _) in PORTS {
        let found = run(&runtime, &port(folder)?, settings, batches)?;
        assert_eq!(found, expected, "{folder} disagrees with the Rust original");
    }
    Ok(expected)
}

#[test]
fn every_port_describes_itself_like_the_original_but_for_its_language() -> Result<()> {
    let runtime = runtime()?;
    let original = Supervisor::start(&runtime, runtime.load_file(&rust_original())?, Vec::new())?;
    for (folder, language) in PORTS {
        let port = Supervisor::start(&runtime, runtime.load_file(&port(folder)?)?, Vec::new())?;
        let mut description = port.description().clone();
        assert_eq!(description.language, *language);
        // The ports speak contract 0.1.0; the original, built with the SDK, 0.2.0.
        assert_eq!((description.api_version.as_str(), original.description().api_version.as_str()), ("0.1.0", "0.2.0"));
        description.language = "rust".to_owned();
        description.api_version = "0.2.0".to_owned();
        assert_eq!(&description, original.description(), "{folder}");
    }
    Ok(())
}

#[test]
fn every_port_finds_the_planted_burst_the_original_finds() -> Result<()> {
    let mut events: Vec<Event> = (0..20).map(|i| cli_event(i, i as i64 * 900, "status", "dev", 0)).collect();
    events.extend((100..104).map(|i| cli_event(i, 5000 + i as i64, "bd ready", "dev", 0)));
    events.sort_by_key(|event| event.time_ms);
    let insights = all_agree(&[], &[events])?;
    assert_eq!(insights.len(), 1, "{insights:#?}");
    assert_eq!(insights[0].evidence.event_ids, vec![100, 101, 102, 103]);
    Ok(())
}

#[test]
fn every_port_stays_quiet_on_spread_out_noise() -> Result<()> {
    let commands = ["status", "bd ready", "insights list", "doctor", "watch ."];
    let events: Vec<Event> = (0..500)
        .map(|i| cli_event(i, i as i64 * 47, commands[(i % 5) as usize], ["dev", "ops"][(i % 2) as usize], 0))
        .collect();
    assert!(all_agree(&[], &[events])?.is_empty());
    Ok(())
}

/// Repeated bursts (severity rises to warning), threads, odd whitespace, a failure that ends a
/// burst, a burst that grows (updated), a rounding tie (2.5 s prints as 2 s, as Rust's `{:.0}`
/// does), file changes that explain re-runs, and bursts split across batches.
#[test]
fn every_port_matches_the_original_on_mixed_traffic_across_batches() -> Result<()> {
    let mut events = Vec::new();
    for burst in 0..4_i64 {
        let start = burst * 3600;
        let id = burst as u64 * 10;
        events.push(cli_event(id, start, "bd ready", "dev", 0));
        events.push(cli_event(id + 1, start + 1, "bd\u{a0} ready ", "dev", 0));
        events.push(cli_event(id + 2, start + 2, "bd ready", "dev", 0));
        let mut tie = cli_event(id + 3, start + 2, "bd ready", "dev", 0);
        tie.time_ms += 500;
        events.push(tie);
        events.push(cli_event(id + 4, start + 4, "bd ready", "dev", 1));
        events.push(on_thread(cli_event(id + 5, start + 5, "make test", "amp", 0), "T-1"));
    }
    events.extend((500..506).map(|i| on_thread(cli_event(i, 20_000 + i as i64, "make test", "amp", 0), "T-2")));
    events.push(cli_event(600, 30_000, "   ", "dev", 0));
    for i in 0..6 {
        events.push(cli_event(700 + 2 * i, 35_000 + 10 * i as i64, "pytest -q", "dev", 0));
        let mut edit = cli_event(701 + 2 * i, 35_000 + 10 * i as i64 + 5, "src/app.py", "filesystem", 0);
        edit.kind = "file.modified".into();
        events.push(edit);
    }
    // Real ids are 64-bit hashes: a language that rounds them through doubles would mangle these.
    events.extend((0..4).map(|i| cli_event(u64::MAX - 2 * i, 40_000 + i as i64, "bd sync", "ops", 0)));
    events.sort_by_key(|event| event.time_ms);
    let batches: Vec<Vec<Event>> = events.chunks(3).map(<[Event]>::to_vec).collect();

    let insights = all_agree(&[], &batches)?;
    let severities: Vec<&str> = insights.iter().map(|insight| insight.severity.as_str()).collect();
    assert_eq!(severities, ["info", "info", "warning", "warning", "info", "info", "info"], "{insights:#?}");
    assert!(insights[0].message.ends_with("was run 4 times in 2s by dev"), "{}", insights[0].message);
    assert_eq!(insights[4].affected_threads, ["T-2"]);
    assert_eq!(insights[5].evidence.event_ids, [500, 501, 502, 503, 504, 505], "grown by half: updated");
    assert_eq!(insights[6].evidence.event_ids, [u64::MAX, u64::MAX - 2, u64::MAX - 4, u64::MAX - 6]);
    Ok(())
}

#[test]
fn every_port_applies_settings_like_the_original() -> Result<()> {
    let burst: Vec<Event> = (0..6).map(|i| cli_event(i, i as i64 * 20, "bd ready", "dev", 0)).collect();
    let strict = [Field::new("min_repeats", Value::Float(5.0)), Field::new("burst_seconds", Value::Integer(90))];
    let insights = all_agree(&strict, std::slice::from_ref(&burst))?;
    assert_eq!(insights.len(), 1, "{insights:#?}");
    assert_eq!(insights[0].evidence.event_ids, vec![0, 1, 2, 3, 4]);
    let narrow = [Field::new("burst_seconds", Value::Integer(30))];
    assert!(all_agree(&narrow, &[burst])?.is_empty(), "runs 20 s apart never make 4 within 30 s");
    Ok(())
}

#[test]
fn every_port_rejects_bad_settings_with_the_original_message() -> Result<()> {
    let runtime = runtime()?;
    let bad_settings = [
        vec![Field::new("min_repeat", Value::Integer(5))],
        vec![Field::new("min_repeats", Value::Integer(1))],
        vec![Field::new("window_seconds", Value::Float(1.5))],
    ];
    for settings in bad_settings {
        let original = Supervisor::start(&runtime, runtime.load_file(&rust_original())?, settings.clone())
            .err()
            .expect("the original rejects it");
        for (folder, _) in PORTS {
            let wasm = port(folder)?;
            let error = Supervisor::start(&runtime, runtime.load_file(&wasm)?, settings.clone())
                .err()
                .ok_or_else(|| anyhow!("{folder} accepted {settings:?}"))?;
            let reason = |error: &dyn std::fmt::Display| {
                error
                    .to_string()
                    .split_once("the detector rejected its settings: ")
                    .map(|(_, reason)| reason.to_owned())
            };
            let original_reason = reason(&original).expect("a configure error");
            let port_reason = reason(&error).ok_or_else(|| anyhow!("{folder}: {error}"))?;
            // The value's spelling in a type error is each language's own; the rest is shared.
            let shared = |reason: &str| reason.split(", not").next().unwrap_or_default().to_owned();
            assert_eq!(shared(&port_reason), shared(&original_reason), "{folder}");
        }
    }
    Ok(())
}

/// Every port writes and reads the Rust version's snapshot format, so a hot swap between any
/// two languages keeps the runs seen so far, and each refuses a snapshot from a newer version
/// with the reason.
#[test]
fn state_hands_over_between_every_language() -> Result<()> {
    let runtime = runtime()?;
    // The command as first logged goes through the snapshot too: quotes, a tab, a non-ASCII letter.
    let first_three: Vec<Event> =
        (0..3).map(|i| cli_event(i, i as i64, "bd  create \"café\"\t-p 1", "dev", 0)).collect();
    let fourth = vec![cli_event(3, 3, "bd create \"café\" -p 1", "dev", 0)];
    let mut languages = vec![rust_original()];
    for (folder, _) in PORTS {
        languages.push(port(folder)?);
    }
    for from in &languages {
        for to in &languages {
            let mut before = Supervisor::start(&runtime, runtime.load_file(from)?, Vec::new())?;
            assert!(run_batch(&mut before, &first_three)?.is_empty());
            let saved = before.instance_mut().expect("healthy").snapshot()?.expect("this port snapshots");
            let mut after = Supervisor::start(&runtime, runtime.load_file(to)?, Vec::new())?;
            after
                .instance_mut()
                .expect("healthy")
                .restore(&saved)?
                .map_err(|reason| anyhow!("{} -> {}: {reason}", from.display(), to.display()))?;
            let insights = run_batch(&mut after, &fourth)?;
            assert_eq!(
                insights.len(),
                1,
                "{} -> {}: the restored state remembers three runs",
                from.display(),
                to.display()
            );
            assert_eq!(insights[0].evidence.event_ids, [0, 1, 2, 3]);
            assert_eq!(
                insights[0].message,
                "`bd  create \"café\"\t-p 1` was run 4 times in 3s by dev",
                "{} -> {}",
                from.display(),
                to.display()
            );
        }
    }

    for language in &languages {
        let mut supervisor = Supervisor::start(&runtime, runtime.load_file(language)?, Vec::new())?;
        let instance = supervisor.instance_mut().expect("healthy");
        let newer = instance.restore(br#"{"format": 2, "state": {}}"#)?.expect_err("a newer format is refused");
        assert!(newer.contains("newer version") && newer.contains("starting fresh"), "{}: {newer}", language.display());
        let broken = instance.restore(b"{\"format\": 1, \"state\": {\"habits\": [[[\"bd\"")?;
        assert!(broken.is_err_and(|reason| reason.contains("cannot read")), "{}", language.display());
        // A refused snapshot leaves the detector as it was.
        assert!(run_batch(&mut supervisor, &first_three)?.is_empty());
        assert_eq!(run_batch(&mut supervisor, &fourth)?.len(), 1, "{}", language.display());
    }
    Ok(())
}

fn run_batch(supervisor: &mut Supervisor, events: &[Event]) -> Result<Vec<Insight>> {
    match supervisor.process(&devloop_host_tests::batch_for(supervisor, events)) {
        BatchOutcome::Insights(insights) => Ok(insights),
        other => Err(anyhow!("expected insights, got {other:?}")),
    }
}

/// The command_repetition case folders' events, in each case's batches and with its settings:
/// every port reports what the classic original reports (the folders' `expected.json` describe
/// the bundled detector, which has moved on from the classic rule).
#[test]
fn every_port_matches_the_original_on_the_command_repetition_cases() -> Result<()> {
    let cases = polyglot::workspace().join("tests").join("cases").join("command_repetition");
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&cases)?.map(|entry| Ok(entry?.path())).collect::<Result<_>>()?;
    folders.sort();
    let mut reported = 0;
    for folder in folders.iter().filter(|folder| folder.join("events.jsonl").exists()) {
        let case = Case::read(folder)?;
        let batches: Vec<Vec<Event>> =
            case.events.chunks(case.config.batch_size.unwrap_or(1024)).map(<[Event]>::to_vec).collect();
        reported += all_agree(&case.config.settings, &batches)?.len();
    }
    assert!(reported > 0, "the classic rule reports nothing on any case, so agreeing proves little");
    Ok(())
}
