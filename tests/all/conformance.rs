//! Detectors built from source, run through the real runtime: each finds what it is for and
//! stays quiet on noise.

use anyhow::Result;
use devloop_host::model::{Event, Outcome, Source};
use devloop_host::runtime::{BatchOutcome, Runtime, RuntimeConfig, Supervisor};

pub fn cli_event(id: u64, seconds: i64, command: &str, user: &str, exit_code: i32) -> Event {
    Event {
        id,
        time_ms: 1_795_000_000_000 + seconds * 1000,
        source: Source::CliActions,
        kind: "cli.command".into(),
        actor: Some(user.into()),
        thread_id: None,
        subject: Some(command.into()),
        outcome: Outcome::from_exit_code(Some(exit_code)),
        duration_ms: Some(250),
        fields: Vec::new(),
    }
}

fn insights_of(supervisor: &mut Supervisor, events: &[Event]) -> Vec<devloop_host::model::Insight> {
    match supervisor.process(&devloop_host_tests::batch_for(supervisor, events)) {
        BatchOutcome::Insights(insights) => insights,
        other => panic!("expected insights, got {other:?}"),
    }
}

#[test]
fn command_repetition_finds_a_planted_burst() -> Result<()> {
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let source = runtime.load_file(devloop_host_tests::plugin("command-repetition"))?;
    let mut supervisor = Supervisor::start(&runtime, source, Vec::new())?;
    assert_eq!(supervisor.description().patterns, vec!["command_repetition"]);

    let mut events: Vec<Event> = (0..20).map(|i| cli_event(i, i as i64 * 900, "status", "dev", 0)).collect();
    events.extend((100..104).map(|i| cli_event(i, 5000 + i as i64, "bd ready", "dev", 0)));
    events.sort_by_key(|event| event.time_ms);
    let insights = insights_of(&mut supervisor, &events);

    assert_eq!(insights.len(), 1, "{insights:#?}");
    let insight = &insights[0];
    assert_eq!(insight.pattern, "command_repetition");
    assert_eq!(insight.detector, "command-repetition");
    assert!(insight.message.contains("bd ready"), "{}", insight.message);
    assert_eq!(insight.evidence.event_ids, vec![100, 101, 102, 103]);
    assert!(insight.confidence > 0.5 && insight.confidence <= 1.0);
    Ok(())
}

#[test]
fn command_repetition_stays_quiet_on_spread_out_noise() -> Result<()> {
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let source = runtime.load_file(devloop_host_tests::plugin("command-repetition"))?;
    let mut supervisor = Supervisor::start(&runtime, source, Vec::new())?;
    let commands = ["status", "bd ready", "insights list", "doctor", "watch ."];
    let events: Vec<Event> = (0..500)
        .map(|i| cli_event(i, i as i64 * 47, commands[(i % 5) as usize], ["dev", "ops"][(i % 2) as usize], 0))
        .collect();
    assert!(insights_of(&mut supervisor, &events).is_empty());
    Ok(())
}

#[test]
fn settings_change_the_threshold_and_typos_are_rejected() -> Result<()> {
    use devloop_host::model::{Field, Value};
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let source = runtime.load_file(devloop_host_tests::plugin("command-repetition"))?;
    let strict = vec![Field::new("min_repeats", Value::Integer(5))];
    let mut supervisor = Supervisor::start(&runtime, source.clone(), strict)?;
    let burst: Vec<Event> = (0..4).map(|i| cli_event(i, i as i64, "bd ready", "dev", 0)).collect();
    assert!(insights_of(&mut supervisor, &burst).is_empty(), "4 runs are below min_repeats=5");

    let typo = vec![Field::new("min_repeat", Value::Integer(5))];
    let error = Supervisor::start(&runtime, source, typo).err().expect("a typo must fail");
    assert!(error.to_string().contains("unknown setting `min_repeat`"), "{error}");
    Ok(())
}

#[test]
fn state_handed_over_through_snapshot_and_restore_completes_a_burst() -> Result<()> {
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let source = runtime.load_file(devloop_host_tests::plugin("command-repetition"))?;
    let mut before = Supervisor::start(&runtime, source.clone(), Vec::new())?;
    let first_three: Vec<Event> = (0..3).map(|i| cli_event(i, i as i64, "bd ready", "dev", 0)).collect();
    assert!(insights_of(&mut before, &first_three).is_empty());
    let saved = before.instance_mut().expect("healthy").snapshot()?.expect("command-repetition snapshots");

    let mut after = Supervisor::start(&runtime, source, Vec::new())?;
    after.instance_mut().expect("healthy").restore(&saved)?.map_err(anyhow::Error::msg)?;
    let fourth = [cli_event(3, 3, "bd ready", "dev", 0)];
    assert_eq!(insights_of(&mut after, &fourth).len(), 1, "the restored state remembers three runs");
    Ok(())
}
