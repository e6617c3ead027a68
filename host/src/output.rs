//! Printing `run`'s findings: JSON lines for programs, a table for people.
//!
//! Each finding is printed with its occurrences as the store holds them after the run (see
//! [`crate::model::Occurrences`]): over every run so far, the number `insights` shows for it.

use std::io::Write;

use crate::escape;
use crate::model::Insight;
use crate::sinks::render::fit;

/// One JSON object per finding per line, with its `occurrences`.
pub fn write_json_lines(out: &mut impl Write, findings: &[(Insight, u64)]) -> std::io::Result<()> {
    for (insight, occurrences) in findings {
        let mut object = insight.to_json();
        object["occurrences"] = (*occurrences).into();
        writeln!(out, "{}", escape::json(&object, false))?;
    }
    Ok(())
}

/// What a run whose events produced no finding says instead of a table: after an incremental
/// run "no findings" alone reads as an empty store, so it counts the stored findings that
/// still want `attention` and names the `triage` command that lists them.
pub fn write_none(out: &mut impl Write, attention: usize, triage: &str) -> std::io::Result<()> {
    match attention {
        0 => writeln!(out, "No findings."),
        stored => {
            writeln!(out, "No finding in this run's events; {stored} stored finding(s) want attention (`{triage}`).")
        }
    }
}

/// A readable table, widest column last so it wraps least.
pub fn write_table(out: &mut impl Write, findings: &[(Insight, u64)]) -> std::io::Result<()> {
    writeln!(out, "{:<8} {:>4} {:>5} {:<22} {:<16} MESSAGE", "SEVERITY", "CONF", "SEEN", "PATTERN", "FINGERPRINT")?;
    for (insight, occurrences) in findings {
        writeln!(
            out,
            "{:<8} {:>4.2} {:>5} {:<22} {:<16} {}",
            insight.severity.as_str(),
            insight.confidence,
            occurrences,
            fit(&insight.pattern, 22),
            insight.fingerprint().as_str(),
            fit(&insight.message, 100),
        )?;
    }
    writeln!(out, "\n{} finding(s). `--format json` prints evidence and recommendations.", findings.len())
}
