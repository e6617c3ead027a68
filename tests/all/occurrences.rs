//! A finding's `occurrences` is one number wherever it is shown: what `run` prints, as JSON and
//! in its table, is what the store holds after the run and `insights list` and `insights show`
//! print — on a first run, and on later runs over appended logs, where it covers every run.

use std::collections::BTreeMap;

use anyhow::{Context, Result, ensure};

use super::insights_support::{Project, THREAD, burst};

/// Occurrences by fingerprint, from JSON lines as `run` and `insights list` print them.
fn occurrences_in(json_lines: &str) -> Result<BTreeMap<String, u64>> {
    let mut found = BTreeMap::new();
    for line in json_lines.lines() {
        let finding: serde_json::Value = serde_json::from_str(line).with_context(|| format!("a JSON line: {line}"))?;
        let fingerprint = finding["fingerprint"].as_str().with_context(|| format!("a fingerprint in {line}"))?;
        let occurrences = finding["occurrences"].as_u64().with_context(|| format!("occurrences in {line}"))?;
        found.insert(fingerprint.to_owned(), occurrences);
    }
    Ok(found)
}

/// Every stored finding's occurrences, as `insights list` and `insights show` print them (they
/// must agree with each other too).
fn stored(project: &Project) -> Result<BTreeMap<String, u64>> {
    let listed = occurrences_in(&project.ok(&["insights", "list", "--format", "json", "--status", "all"], &[])?)?;
    for (fingerprint, occurrences) in &listed {
        let shown: serde_json::Value =
            serde_json::from_str(&project.ok(&["insights", "show", fingerprint, "--format", "json"], &[])?)?;
        ensure!(shown["occurrences"] == *occurrences, "insights show {fingerprint}: {shown}, list: {listed:?}");
    }
    Ok(listed)
}

/// `run --format json` over what the logs gained, as occurrences by fingerprint.
fn run_json(project: &Project) -> Result<BTreeMap<String, u64>> {
    occurrences_in(&String::from_utf8(project.run_ok(&[])?.stdout)?)
}

/// `run` printing its table: the SEEN column by fingerprint.
fn run_table(project: &Project) -> Result<BTreeMap<String, u64>> {
    let table = project.ok(
        &["run", "--devloop-dir", ".devloop", "--plugins", "plugins", "--cache-dir", "cache", "--format", "table"],
        &[],
    )?;
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().context("a header")?.split_whitespace().collect();
    ensure!(header == ["SEVERITY", "CONF", "SEEN", "PATTERN", "FINGERPRINT", "MESSAGE"], "{table}");
    let mut seen = BTreeMap::new();
    for line in lines.take_while(|line| !line.is_empty()) {
        let columns: Vec<&str> = line.split_whitespace().collect();
        ensure!(columns.len() > 5, "a finding's row: {line}");
        seen.insert(columns[4].to_owned(), columns[2].parse()?);
    }
    Ok(seen)
}

/// The fingerprint of the finding about `command`, from the store.
fn fingerprint_of(project: &Project, command: &str) -> Result<String> {
    let listed = project.listed(&["--status", "all"])?;
    listed
        .iter()
        .find(|finding| finding["evidence"]["fields"]["command"] == command)
        .and_then(|finding| finding["fingerprint"].as_str())
        .map(str::to_owned)
        .with_context(|| format!("no finding for {command} in {listed:?}"))
}

#[test]
fn run_output_and_the_store_give_each_finding_the_same_occurrences_on_a_first_and_later_runs() -> Result<()> {
    let project = Project::new()?;
    // `devloop status` in two sittings: the detector reports it at the first and again, with
    // the runs of both, at the second; counting reports would say 2.
    let mut runs = burst(0, 4, "bd ready", Some(THREAD));
    runs.extend(burst(600, 4, "devloop status", None));
    runs.extend(burst(900, 4, "devloop status", None));
    project.log(&runs)?;

    let printed = run_json(&project)?;
    let stored_after_first = stored(&project)?;
    assert_eq!(printed, stored_after_first, "the first run prints what it stores");
    let ready = fingerprint_of(&project, "bd ready")?;
    let status = fingerprint_of(&project, "devloop status")?;
    assert_eq!((printed[&ready], printed[&status]), (4, 8), "one occurrence per run of the command: {printed:?}");

    // A second occasion of `bd ready`: this run reads its five runs only, and prints the count
    // over both runs, as the store holds it.
    project.log(&burst(2400, 5, "bd ready", Some(THREAD)))?;
    let printed = run_json(&project)?;
    let stored_after_second = stored(&project)?;
    assert_eq!(printed.keys().collect::<Vec<_>>(), [&ready], "only what the run reported is printed");
    assert_eq!(printed[&ready], stored_after_second[&ready]);
    assert_eq!(printed[&ready], 9, "4 runs before, 5 now");
    assert_eq!(stored_after_second[&status], stored_after_first[&status], "not reported again, unchanged");

    // A third occasion, printed as the table.
    project.log(&burst(4800, 4, "bd ready", Some(THREAD)))?;
    let seen = run_table(&project)?;
    let stored_after_third = stored(&project)?;
    assert_eq!(seen.keys().collect::<Vec<_>>(), [&ready], "{seen:?}");
    assert_eq!((seen[&ready], stored_after_third[&ready]), (13, 13));
    Ok(())
}

#[test]
fn reading_the_same_logs_again_from_the_start_prints_the_unchanged_stored_count() -> Result<()> {
    let project = Project::new()?;
    project.log(&burst(0, 4, "bd ready", Some(THREAD)))?;
    let first = run_json(&project)?;
    let reread = occurrences_in(&String::from_utf8(project.run_with(&["--from-start"], &[])?.stdout)?)?;
    assert_eq!(reread, first, "the same evidence events add nothing");
    assert_eq!(reread, stored(&project)?);
    assert_eq!(reread.values().collect::<Vec<_>>(), [&4]);
    Ok(())
}

/// A run that follows its logs takes its findings round by round ([`Pipeline::take_findings`]):
/// what it took is forgotten by the pipeline, so days of following keep no evidence of old
/// reports, and a finding reported again comes back with the occurrences of its new report.
#[test]
fn findings_taken_round_by_round_are_forgotten_and_come_back_when_reported_again() -> Result<()> {
    use devloop_host::dispatch::Pipeline;
    use devloop_host::runtime::{Runtime, RuntimeConfig};

    let runtime = Runtime::new(RuntimeConfig::default())?;
    let mut pipeline = Pipeline::new(&runtime, 1024);
    pipeline.load(devloop_host_tests::plugin("command-repetition"), &BTreeMap::new())?;
    let run = |id: u64| crate::conformance::cli_event(id, id as i64 * 20, "bd ready", "dev", 0);

    pipeline.feed(&(0..6).map(run).collect::<Vec<_>>());
    let first = pipeline.take_findings();
    ensure!(first.len() == 1 && first[0].1 == 6, "one burst of six runs: {first:?}");
    ensure!(pipeline.findings().is_empty() && pipeline.take_findings().is_empty(), "taken, so forgotten");

    pipeline.feed(&(6..8).map(run).collect::<Vec<_>>());
    let again = pipeline.take_findings();
    ensure!(again.len() == 1, "the burst goes on and is reported again: {again:?}");
    ensure!(again[0].0.fingerprint() == first[0].0.fingerprint(), "the same finding: {again:?}");
    ensure!(again[0].0.message.contains("run 8 times"), "its latest report: {}", again[0].0.message);
    Ok(())
}
