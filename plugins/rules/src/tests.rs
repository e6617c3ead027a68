//! The language end to end: files in, findings out, through the public API.

use devloop_plugin_sdk::prelude::*;

use crate::{Engine, Pattern};

const HEADER: &str = r#"
id = "probe"
title = "A probe"
description = "What the test looks for."
severity = "info"
message = "{command} by {who}: {count} in {span}"
recommendation = "Look at it."
confidence = { base = 0.6, per_extra = 0.1, per_repeat = 0.1, max = 0.9 }
"#;

fn pattern(matcher: &str) -> Pattern {
    match Pattern::parse(&format!("{HEADER}{matcher}"), "probe.toml") {
        Ok(pattern) => pattern,
        Err(errors) => panic!("{errors:?}"),
    }
}

fn errors(text: &str) -> Vec<String> {
    match Pattern::parse(text, "probe.toml") {
        Ok(_) => Vec::new(),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

fn run(engine: &mut Engine, events: &[Event]) -> Vec<Insight> {
    let mut out = Vec::new();
    for event in events {
        engine.on_event(event, &mut out);
    }
    out
}

fn command(id: u64, seconds: i64, subject: &str, exit_code: i32) -> Event<'static> {
    Event::at(id, seconds * 1000, "cli.command").subject(subject.to_owned()).actor("dev").exit_code(exit_code)
}

#[test]
fn unknown_keys_and_bad_values_name_file_and_line() {
    let typo = format!("{HEADER}\n[match]\nkind = \"count\"\nwithin = \"1m\"\nat_least = 2\ngroup_bye = [\"who\"]\n");
    let found = errors(&typo);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("probe.toml:14:1: unknown field `group_bye`"), "{found:?}");

    let bad = format!(
        "{}\n[match]\nkind = \"count\"\nwithin = \"ten minutes\"\nat_least = 0\nwhere = {{ outcome = \"failed\", subject = {{ regex = \"(\" }} }}\nsteps = []\n",
        HEADER.replace("severity = \"info\"", "severity = \"urgent\"").replace("{count}", "{cuont.x}")
    );
    let found = errors(&bad);
    let lines: Vec<&str> = found.iter().map(|error| error.split(": ").next().unwrap_or("")).collect();
    for expected in [
        "probe.toml:5:12",
        "probe.toml:6:11",
        "probe.toml:12:10",
        "probe.toml:13:12",
        "probe.toml:14:21",
        "probe.toml:14:41",
        "probe.toml:15:9",
    ] {
        assert!(lines.contains(&expected), "{expected} missing from {found:#?}");
    }
    assert!(found.iter().any(|error| error.contains("`urgent` is not info, warning or error")), "{found:#?}");
    assert!(found.iter().any(|error| error.contains("`steps` does not apply to a count match")), "{found:#?}");
    assert!(found.iter().any(|error| error.contains("names step `cuont`")), "{found:#?}");
    assert!(found.iter().any(|error| error.contains("outcome `failed`")), "{found:#?}");
    assert!(found.iter().any(|error| error.contains("regex `(` does not compile")), "{found:#?}");

    let matcher = "\n[match]\nkind = \"count\"\nwithin = \"1m\"\nat_least = 2\n";
    let typo = format!("{}{matcher}", HEADER.replace("{command}", "{comand}"));
    let found = errors(&typo);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("probe.toml:6:11: `{comand}` is not a placeholder"), "{found:?}");
    let recorded = typo.replace("{comand}", "{fields.comand}");
    assert!(errors(&recorded).is_empty(), "a recorded field named explicitly is fine");
}

#[test]
fn count_reports_once_per_burst_and_again_after_the_window_empties() {
    let mut engine = Engine::new(pattern(
        "[match]\nkind = \"count\"\ngroup_by = [\"subject\", \"who\"]\nwithin = \"2m\"\nat_least = 3\nwhere = { kind = \"cli.command\", outcome = \"success\" }\n",
    ));
    let burst = [
        command(1, 0, "bd ready", 0),
        command(2, 30, "bd ready", 0),
        command(3, 40, "bd ready", 1),
        command(4, 60, "bd ready", 0),
        command(5, 70, "bd ready", 0),
        command(6, 90, "other", 0),
    ];
    let found = run(&mut engine, &burst);
    assert_eq!(found.len(), 1, "one finding per burst: {found:?}");
    assert_eq!(found[0].message, "bd ready by dev: 3 in 1m");
    assert_eq!(found[0].key, insight_key(&["bd ready", "dev"]));
    assert_eq!(found[0].evidence.event_ids, vec![1, 2, 4], "the failed run is filtered out");
    assert!((found[0].confidence - 0.6).abs() < 1e-6);

    let later = [
        command(7, 1_000, "bd ready", 0),
        command(8, 1_010, "bd ready", 0),
        command(9, 1_020, "bd ready", 0),
        command(10, 1_030, "bd ready", 0),
    ];
    let again = run(&mut engine, &later);
    assert_eq!(again.len(), 1, "a new burst after the window emptied");
    assert!((again[0].confidence - 0.7).abs() < 1e-6, "per_repeat raises the second report");
}

#[test]
fn distinct_counts_values_and_above_usual_compares_with_the_keys_own_rate() {
    let mut distinct = Engine::new(pattern(
        "[match]\nkind = \"count\"\ngroup_by = [\"subject\"]\nwithin = \"1h\"\nat_least = 3\ndistinct = \"thread\"\nwhere = { kind = \"thread.prompt\" }\n",
    ));
    let prompt = |id, thread: &str| {
        Event::at(id, id as i64 * 1000, "thread.prompt").subject("vendor?").thread(thread.to_owned())
    };
    let found = run(&mut distinct, &[prompt(1, "T-1"), prompt(2, "T-1"), prompt(3, "T-2"), prompt(4, "T-2")]);
    assert!(found.is_empty(), "two threads, four prompts: {found:?}");
    let found = run(&mut distinct, &[prompt(5, "T-3")]);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].affected_threads.len(), 3);

    let mut usual = Engine::new(pattern(
        "[match]\nkind = \"count\"\ngroup_by = [\"actor\"]\nwithin = \"1h\"\nat_least = 3\nabove_usual = 3.0\nusual_after = \"1d\"\nwhere = { kind = \"cli.command\", outcome = \"failure\" }\n",
    ));
    // A steady four failures an hour for two days is this person's normal.
    let mut events = Vec::new();
    for hour in 0..48 {
        for minute in [0, 15, 30, 45] {
            events.push(command(events.len() as u64 + 1, hour * 3600 + minute * 60, "make", 1));
        }
    }
    assert!(run(&mut usual, &events).is_empty(), "four an hour is the usual rate");
    let spike: Vec<Event> = (0..14).map(|i| command(1_000 + i, 48 * 3600 + i as i64 * 200, "make", 1)).collect();
    assert_eq!(run(&mut usual, &spike).len(), 1, "fourteen in an hour is over three times the usual");
}

const RETRY_WITH_FLAG: &str = r#"
[match]
kind = "sequence"
group_by = ["who"]
within = "2m"
until = { kind = "cli.command", subject = { glob = "git *" } }

[[match.steps]]
name = "failed"
where = { kind = "cli.command", outcome = "failure" }

[[match.steps]]
name = "other_command"
absent = true
where = { kind = "cli.command" }
differs = ["subject"]

[[match.steps]]
name = "retried"
where = { kind = "cli.command", outcome = "success" }
extends = ["subject"]
"#;

#[test]
fn sequence_with_back_reference_absent_step_and_until() {
    let with_flag = pattern(RETRY_WITH_FLAG);
    let mut engine = Engine::new(with_flag.clone());
    let found = run(&mut engine, &[command(1, 0, "bd sync", 1), command(2, 40, "bd sync --no-daemon", 0)]);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].message, "bd sync --no-daemon by dev: 2 in 40s");
    assert_eq!(found[0].evidence.event_ids, vec![1, 2]);

    let negatives: [&[Event]; 4] = [
        &[command(1, 0, "bd sync", 1), command(2, 40, "bd sync", 0)],
        &[command(1, 0, "bd sync", 1), command(2, 200, "bd sync --no-daemon", 0)],
        &[command(1, 0, "bd sync", 1), command(2, 10, "git pull", 0), command(3, 40, "bd sync --no-daemon", 0)],
        &[command(1, 0, "bd sync", 1), command(2, 10, "bd doctor", 0), command(3, 40, "bd sync --no-daemon", 0)],
    ];
    for (index, events) in negatives.iter().enumerate() {
        let mut engine = Engine::new(with_flag.clone());
        assert!(run(&mut engine, events).is_empty(), "negative {index}");
    }
}

#[test]
fn absence_fires_in_event_time_on_a_later_event_or_a_tick() {
    let absence = pattern(
        "[match]\nkind = \"absence\"\ngroup_by = [\"thread\"]\nwithin = \"10m\"\n\n[[match.steps]]\nwhere = { kind = \"thread.agent_action\" }\n\n[[match.steps]]\nwhere = { kind = [\"thread.user_*\", \"thread.prompt\"] }\n",
    );
    assert_eq!(absence.kinds, vec!["thread.agent_action", "thread.user_*", "thread.prompt"]);
    let action = |id, seconds: i64, thread: &str| {
        Event::at(id, seconds * 1000, "thread.agent_action").thread(thread.to_owned()).subject("fixer")
    };
    let prompt =
        |id, seconds: i64, thread: &str| Event::at(id, seconds * 1000, "thread.prompt").thread(thread.to_owned());
    let mut engine = Engine::new(absence);
    let found =
        run(&mut engine, &[action(1, 0, "T-1"), action(2, 10, "T-2"), prompt(3, 300, "T-1"), prompt(4, 900, "T-9")]);
    assert_eq!(found.len(), 1, "T-2 went unanswered: {found:?}");
    assert_eq!(found[0].affected_threads, vec!["T-2".to_owned()]);
    assert_eq!(found[0].time_ms, 610_000, "fired at its deadline in event time");

    run(&mut engine, &[action(5, 1_000, "T-3")]);
    let mut ticked = Vec::new();
    engine.on_tick(1_600, &mut ticked);
    assert!(ticked.is_empty(), "the deadline has not passed");
    engine.on_tick(1_601_000, &mut ticked);
    assert_eq!(ticked.len(), 1);
}

#[test]
fn metric_compares_each_key_with_its_own_baseline_once_per_excursion() {
    let mut engine = Engine::new(pattern(
        "[match]\nkind = \"metric\"\ngroup_by = [\"subject\"]\nvalue = \"duration_ms\"\nabove = 3.0\nwarmup = 5\nwhere = { kind = \"telemetry.agent_executed\" }\n",
    ));
    let run_of = |id, agent: &str, ms| {
        Event::at(id, id as i64 * 1000, "telemetry.agent_executed").subject(agent.to_owned()).duration(ms)
    };
    let mut events: Vec<Event> = (0..6).map(|i| run_of(i, "linter", 400)).collect();
    events.extend((10..16).map(|i| run_of(i, "tests", 5_000)));
    events.push(run_of(20, "tests", 6_000));
    assert!(run(&mut engine, &events).is_empty(), "slow but usual for tests");
    let found =
        run(&mut engine, &[run_of(21, "linter", 2_000), run_of(22, "linter", 2_100), run_of(23, "linter", 400)]);
    assert_eq!(found.len(), 1, "one finding per excursion: {found:?}");
    assert_eq!(found[0].key, "linter");
}

#[test]
fn state_carries_over_only_to_the_same_match() {
    let matcher = "[match]\nkind = \"count\"\ngroup_by = [\"who\"]\nwithin = \"1h\"\nat_least = 2\n";
    let mut engine = Engine::new(pattern(matcher));
    run(&mut engine, &[command(1, 0, "a", 0)]);
    let saved = engine.snapshot().expect("count state serializes");

    let reworded = Pattern::parse(&format!("{}{matcher}", HEADER.replace("Look at it.", "Look again.")), "probe.toml");
    let mut same = Engine::new(reworded.expect("valid"));
    same.restore(&saved).expect("a reworded message keeps the state");
    assert_eq!(run(&mut same, &[command(2, 60, "b", 0)]).len(), 1, "the restored event counts");

    let mut changed = Engine::new(pattern(&matcher.replace("at_least = 2", "at_least = 3")));
    let refused = changed.restore(&saved).expect_err("a changed match starts fresh");
    assert!(refused.contains("different `[match]`"), "{refused}");
}

const MEDIAN_DURATION: &str = "key = [\"subject\", \"'duration'\"]\n[match]\nkind = \"metric\"\ngroup_by = [\"subject\"]\n\
     value = \"duration_ms\"\nbaseline = \"median\"\nrecent = 3\nwarmup = 5\nabove = 1.5\nz_above = 3.5\n";

fn linter_run(id: u64, ms: u64) -> Event<'static> {
    Event::at(id, id as i64 * 1000, "telemetry.agent_executed").subject("linter").duration(ms)
}

/// An engine for [`MEDIAN_DURATION`] (with `escalate`, if given) that has seen ten usual runs
/// and one cold start (id 10), and no finding.
fn linter_after_usual_runs(escalate: &str) -> Engine {
    let mut engine = Engine::new(pattern(&format!("{escalate}{MEDIAN_DURATION}")));
    let usual: Vec<Event> = (0..10).map(|id| linter_run(id, 400 + id % 3 * 10)).collect();
    assert!(run(&mut engine, &usual).is_empty());
    let spike = [linter_run(10, 4_000), linter_run(11, 410), linter_run(12, 400)];
    assert!(run(&mut engine, &spike).is_empty(), "one cold start among three runs leaves the median usual");
    engine
}

fn named(found: &[Insight]) -> Vec<u64> {
    found.iter().flat_map(|insight| insight.evidence.event_ids.iter().copied()).collect()
}

#[test]
fn a_median_metric_judges_the_recent_median_so_one_spike_is_not_a_slowdown() {
    let mut engine = linter_after_usual_runs("");
    let found = run(&mut engine, &(13..20).map(|id| linter_run(id, 1_500)).collect::<Vec<_>>());
    assert!(found.iter().all(|insight| insight.key == "linter\u{1f}duration"), "a fixed text is part of the key");
    assert_eq!(found[0].evidence.event_ids, vec![13, 14], "the recent runs slow on their own, not the usual one");
    assert_eq!(found.len(), 6, "then one report per slow run: {found:?}");
    assert_eq!(named(&found), (13..20).collect::<Vec<_>>(), "each slow run named once");
    assert!(found[5].message.contains(": 7 in"), "{{count}} is the slow runs so far: {}", found[5].message);
}

#[test]
fn a_median_metric_sends_nothing_for_a_usual_value_during_an_excursion() {
    let mut engine = linter_after_usual_runs("");
    let found = run(&mut engine, &[linter_run(13, 1_500), linter_run(14, 1_500)]);
    assert_eq!(found.len(), 1);
    let found = run(&mut engine, &[linter_run(15, 400), linter_run(16, 1_500), linter_run(17, 420)]);
    assert_eq!(named(&found), vec![16], "the runs at the usual speed are neither reported nor evidence: {found:?}");
}

#[test]
fn a_metric_escalates_by_ratio_while_its_value_is_that_far_out() {
    let mut engine = linter_after_usual_runs("escalate = { ratio = 3.0, severity = \"error\" }\n");
    let found = run(&mut engine, &[linter_run(13, 1_000), linter_run(14, 1_000), linter_run(15, 1_600)]);
    let severities: Vec<Severity> = found.iter().map(|insight| insight.severity).collect();
    assert_eq!(severities, vec![Severity::Info, Severity::Info], "a median of 1000 ms is 2.5×: {found:?}");
    let found = run(&mut engine, &[linter_run(16, 1_600)]);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].severity, Severity::Error, "a median of 1600 ms is 4×");
}

#[test]
fn escalate_names_reports_or_a_metric_ratio_not_both() {
    let both = format!("{HEADER}escalate = {{ after = 2, ratio = 3.0, severity = \"error\" }}\n{MEDIAN_DURATION}");
    let found = errors(&both);
    assert!(found.iter().any(|error| error.contains("exactly one of `after`")), "{found:?}");
    let count = format!(
        "{HEADER}escalate = {{ ratio = 3.0, severity = \"error\" }}\n[match]\nkind = \"count\"\nwithin = \"1h\"\nat_least = 2\n"
    );
    let found = errors(&count);
    assert!(found.iter().any(|error| error.contains("`ratio` only applies to a `metric` match")), "{found:?}");
}

#[test]
fn recent_and_z_above_need_a_median_baseline() {
    let text = format!(
        "{HEADER}[match]\nkind = \"metric\"\nvalue = \"duration_ms\"\nabove = 2.0\nrecent = 3\nz_above = 3.5\n"
    );
    let found = errors(&text);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.iter().all(|error| error.contains("only applies with `baseline = \"median\"`")), "{found:?}");
}

#[test]
fn share_finds_the_key_that_stands_out_against_the_others_and_repeats_only_what_changed() {
    let text = format!(
        "{}[match]\nkind = \"share\"\ngroup_by = [\"subject\"]\nat_least = 3\nmin_share = 0.4\nabove_others = 2.0\n\
         where = {{ kind = \"feedback.*\", not = {{ fields.event_type = {{ glob = \"devloop-host:*\" }} }} }}\n\
         part = {{ any = [{{ kind = \"feedback.dismiss\" }}, {{ kind = \"feedback.rating\", fields.value = {{ at_most = 2 }} }}] }}\n",
        HEADER
            .replace(
                "{command} by {who}: {count} in {span}",
                "{subject}: {count} of {total} ({share}) against {others_share}"
            )
            .replace(
                "confidence = { base = 0.6, per_extra = 0.1, per_repeat = 0.1, max = 0.9 }",
                "confidence = { test = \"two_proportion\", max = 0.99 }"
            )
    );
    let mut engine = Engine::new(Pattern::parse(&text, "probe.toml").unwrap_or_else(|errors| panic!("{errors:?}")));
    let feedback =
        |id: u64, kind: &'static str, agent: &str| Event::at(id, id as i64 * 1000, kind).subject(agent.to_owned());
    let mut events: Vec<Event> =
        (0..20).map(|id| feedback(id, "feedback.thumbs_up", ["linter", "formatter"][id as usize % 2])).collect();
    events.push(feedback(20, "feedback.dismiss", "linter"));
    events.extend(
        (21..26).map(|id| feedback(id, "feedback.dismiss", "own").with("event_type", "devloop-host:x:dismissed")),
    );
    events.push(feedback(26, "feedback.rating", "scanner").with("value", 5_i64));
    assert!(run(&mut engine, &events).is_empty(), "one dismissal; devloop-host's own records are left out");
    let found = run(
        &mut engine,
        &[
            feedback(27, "feedback.dismiss", "scanner"),
            feedback(28, "feedback.rating", "scanner").with("value", 1_i64),
            feedback(29, "feedback.dismiss", "scanner"),
            feedback(30, "feedback.comment", "scanner"),
        ],
    );
    let messages: Vec<&str> = found.iter().map(|insight| insight.message.as_str()).collect();
    assert_eq!(messages, ["scanner: 3 of 4 (75%) against 5%", "scanner: 3 of 5 (60%) against 5%"], "{found:?}");
    assert!(found[0].confidence > 0.9, "{}", found[0].confidence);
    assert_eq!(found[0].evidence.event_ids.len(), 3, "the part events are the evidence");
}
