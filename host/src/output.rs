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

/// A readable table, widest column last so it wraps least.
pub fn write_table(out: &mut impl Write, findings: &[(Insight, u64)]) -> std::io::Result<()> {
    if findings.is_empty() {
        return writeln!(out, "No findings.");
    }
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
