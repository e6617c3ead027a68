//! Every bundled detector hands its state over: each case of `tests/cases`, cut at several
//! points, with the first part fed to one instance and the rest to a fresh instance restored
//! from the first one's snapshot, reports exactly what one uninterrupted instance reports.

use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, ensure};
use devloop_host::harness::Case;
use devloop_host::model::{Event, Insight};
use devloop_host::runtime::{BatchOutcome, Runtime, RuntimeConfig, Supervisor};

fn cases() -> Result<Vec<PathBuf>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/cases");
    let mut cases = Vec::new();
    for pattern in std::fs::read_dir(root)? {
        for case in std::fs::read_dir(pattern?.path())? {
            cases.push(case?.path());
        }
    }
    cases.sort();
    Ok(cases)
}

fn plugin_of(case: &Path) -> Result<&'static Path> {
    let pattern = case.parent().and_then(Path::file_name).ok_or_else(|| anyhow!("{}", case.display()))?;
    Ok(devloop_host_tests::plugin(&pattern.to_string_lossy().replace('_', "-")))
}

fn outcome(result: BatchOutcome) -> Result<Vec<Insight>> {
    match result {
        BatchOutcome::Insights(insights) => Ok(insights),
        other => Err(anyhow!("expected insights, got {other:?}")),
    }
}

/// Feeds `events` (those the detector wants) in batches of 16 and returns its insights.
fn feed(supervisor: &mut Supervisor, events: &[Event]) -> Result<Vec<Insight>> {
    let wanted: Vec<Event> =
        events.iter().filter(|event| supervisor.description().wants(&event.kind)).cloned().collect();
    let mut insights = Vec::new();
    for batch in wanted.chunks(16) {
        insights.extend(outcome(supervisor.process(&devloop_host_tests::batch_for(supervisor, batch)))?);
    }
    Ok(insights)
}

fn finish(supervisor: &mut Supervisor, case: &Case) -> Result<Vec<Insight>> {
    match case.config.final_tick_ms {
        Some(now_ms) => outcome(supervisor.tick(now_ms)),
        None => Ok(Vec::new()),
    }
}

#[test]
fn every_detector_reports_the_same_when_its_state_is_handed_over_mid_stream() -> Result<()> {
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let cases = cases()?;
    ensure!(cases.len() >= 18, "two cases per detector at least: {cases:?}");
    for dir in cases {
        let case = Case::read(&dir)?;
        let source = runtime.load_file(plugin_of(&dir)?)?;
        let settings = case.config.settings.clone();

        let mut whole = Supervisor::start(&runtime, source.clone(), settings.clone())?;
        let mut expected = feed(&mut whole, &case.events)?;
        expected.extend(finish(&mut whole, &case)?);

        let length = case.events.len();
        for cut in [length / 4, length / 2, length * 3 / 4] {
            let mut before = Supervisor::start(&runtime, source.clone(), settings.clone())?;
            let mut found = feed(&mut before, &case.events[..cut])?;
            let saved = before
                .instance_mut()
                .ok_or_else(|| anyhow!("healthy"))?
                .snapshot()?
                .ok_or_else(|| anyhow!("{}: the detector keeps no state", case.name))?;
            let mut after = Supervisor::start(&runtime, source.clone(), settings.clone())?;
            after
                .instance_mut()
                .ok_or_else(|| anyhow!("healthy"))?
                .restore(&saved)?
                .map_err(|reason| anyhow!("{}: restore refused: {reason}", case.name))?;
            found.extend(feed(&mut after, &case.events[cut..])?);
            found.extend(finish(&mut after, &case)?);
            assert_eq!(found, expected, "{} cut after {cut} of {length} events", case.name);
        }
    }
    Ok(())
}

#[test]
fn a_snapshot_in_a_newer_format_is_refused_with_the_reason() -> Result<()> {
    let runtime = Runtime::new(RuntimeConfig::default())?;
    for plugin in ["command-rerun", "silent-completion", "cross-thread-pattern"] {
        let source = runtime.load_file(devloop_host_tests::plugin(plugin))?;
        let mut supervisor = Supervisor::start(&runtime, source, Vec::new())?;
        let instance = supervisor.instance_mut().ok_or_else(|| anyhow!("healthy"))?;
        let reason =
            instance.restore(br#"{"format": 999, "state": {}}"#)?.expect_err("a format from the future cannot be read");
        assert!(reason.contains("newer version") && reason.contains("starting fresh"), "{plugin}: {reason}");
    }
    Ok(())
}
