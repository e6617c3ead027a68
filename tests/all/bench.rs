//! `devloop-host bench` end to end on a tiny folder it writes itself: every section is printed
//! and the full run sees every event the ingest reads. Structure only, never timing.

use std::process::Command;

use anyhow::Result;

fn number_before(line: &str, word: &str) -> Option<u64> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let index = words.iter().position(|candidate| *candidate == word)?;
    words.get(index.checked_sub(1)?)?.parse().ok()
}

#[test]
fn bench_writes_a_folder_and_prints_every_section() -> Result<()> {
    let work = tempfile::tempdir()?;
    let plugins = work.path().join("plugins");
    std::fs::create_dir_all(&plugins)?;
    for name in ["command-repetition", "metric-anomaly"] {
        std::fs::copy(devloop_host_tests::plugin(name), plugins.join(format!("{}.wasm", name.replace('-', "_"))))?;
    }
    let output = Command::new(crate::binary())
        .args(["bench", "--events", "3000", "--seed", "11", "--repeat", "1"])
        .arg("--plugins")
        .arg(&plugins)
        .arg("--work-dir")
        .arg(work.path().join("scratch"))
        .arg("--cache-dir")
        .arg(work.path().join("cache"))
        .env_remove("RUST_LOG")
        .output()?;
    let stdout = String::from_utf8(output.stdout)?;
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));

    // Each crossing's heading says how many of the folder's events it took: checked below.
    let crossings =
        ["command-repetition", "failure-workaround"].map(|detector| format!("== the sandbox's crossing ({detector}, "));
    let sections: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("== "))
        .map(|line| crossings.iter().find(|heading| line.starts_with(heading.as_str())).map_or(line, String::as_str))
        .collect();
    assert_eq!(
        sections,
        [
            "== folder (best of 1 for every time below)",
            "== ingest alone vs jq",
            "== full run (every detector, normal checkpoints) vs jq",
            "== per detector",
            "== checkpoint overhead",
            &crossings[0],
            &crossings[1],
            "== peak RSS"
        ],
        "{stdout}"
    );
    assert!(stdout.contains("generated 3000 records"), "{stdout}");
    assert!(
        stdout.contains("jq -c . >/dev/null, JSON files:") || stdout.contains("jq -c . >/dev/null: not measured:"),
        "{stdout}"
    );
    let line = |prefix: &str| stdout.lines().find(|line| line.starts_with(prefix)).unwrap_or_default();
    assert_eq!(number_before(line("ingest, every log:"), "events"), Some(3000), "{stdout}");
    assert_eq!(number_before(line("run --from-start:"), "events"), Some(3000), "{stdout}");
    // The same run as its own process finds what the run inside this one found.
    let findings = |line: &str| -> Option<u64> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let index = words.iter().position(|word| word.starts_with("findings"))?;
        words.get(index.checked_sub(1)?)?.trim_start_matches('(').parse().ok()
    };
    let in_process = findings(line("run --from-start:"));
    assert!(in_process.is_some_and(|found| found > 0), "{stdout}");
    assert_eq!(findings(line("the same, own process:")), in_process, "{stdout}");
    assert!(line("the same, own process:").contains("x jq's time") || stdout.contains("not measured"), "{stdout}");
    // And its peak memory, which the kernel kept for this process when it reaped it.
    let own_memory: Option<f64> = line("full run, own process:")
        .strip_prefix("full run, own process:")
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok());
    assert!(own_memory.is_some_and(|mib| mib > 10.0), "{stdout}");
    for detector in ["command-repetition", "metric-anomaly"] {
        assert!(stdout.lines().any(|line| line.starts_with(detector)), "{detector} missing:\n{stdout}");
    }
    let header = line("DETECTOR");
    assert!(
        header.contains("CPU s") && header.contains("IN CALLS s"),
        "each detector's cost and its calls' length:\n{stdout}"
    );
    for prefix in ["ratio (normal / end only):", "stored state, every detector:", "full run:", "full run, end only:"] {
        assert!(!line(prefix).is_empty(), "{prefix} missing:\n{stdout}");
    }
    // Each crossing: on some of the folder's events, a time for the native crate (from the
    // host's events, and on events built beforehand), the component at each batch size (and
    // fresh) and converting the batches alone, each a positive number of milliseconds and a
    // ratio to native, native's own being 1.
    for heading in &crossings {
        let section: Vec<&str> = stdout
            .lines()
            .skip_while(|line| !line.starts_with(heading.as_str()))
            .take_while(|line| !line.is_empty())
            .collect();
        let taken = section.first().and_then(|first| number_before(first.strip_prefix(heading.as_str())?, "of"));
        assert!(taken.is_some_and(|events| events > 0 && events <= 3000), "{heading}\n{stdout}");
        let line = |prefix: &str| section.iter().find(|line| line.starts_with(prefix)).copied().unwrap_or_default();
        let milliseconds = |prefix: &str| -> Option<f64> {
            let after = line(prefix).strip_prefix(prefix)?;
            after.split_whitespace().next()?.parse().ok()
        };
        assert!(line("native (this binary), batch 1024:").ends_with(" = 1.00x native"), "{heading}\n{stdout}");
        let prefixes = ["native (this binary), batch 1024:", "native, on events built beforehand:"]
            .map(str::to_owned)
            .into_iter()
            .chain([1, 64, 1024].map(|batch| format!("component, batch {batch}:")))
            .chain(
                ["component, batch 1024, fresh instance:", "converting the batches alone (host):"].map(str::to_owned),
            );
        for prefix in prefixes {
            assert!(milliseconds(&prefix).is_some_and(|ms| ms > 0.0), "{heading} {prefix}\n{stdout}");
            assert!(line(&prefix).ends_with("x native"), "{heading} {prefix}\n{stdout}");
        }
    }
    Ok(())
}
