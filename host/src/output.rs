//! Printing findings: JSON lines for programs, a table for people.

use std::io::Write;

use crate::model::Insight;
use crate::sinks::escape;
use crate::sinks::render::fit;

/// One JSON object per finding per line, with `occurrences` (how often it was reported).
pub fn write_json_lines(out: &mut impl Write, findings: &[(Insight, u32)]) -> std::io::Result<()> {
    for (insight, occurrences) in findings {
        let mut object = insight.to_json();
        object["occurrences"] = (*occurrences).into();
        writeln!(out, "{}", escape::json(&object, false))?;
    }
    Ok(())
}

/// A readable table, widest column last so it wraps least.
pub fn write_table(out: &mut impl Write, findings: &[(Insight, u32)]) -> std::io::Result<()> {
    if findings.is_empty() {
        return writeln!(out, "No findings.");
    }
    writeln!(out, "{:<8} {:>4} {:<22} {:<16} MESSAGE", "SEVERITY", "CONF", "PATTERN", "FINGERPRINT")?;
    for (insight, _) in findings {
        writeln!(
            out,
            "{:<8} {:>4.2} {:<22} {:<16} {}",
            insight.severity.as_str(),
            insight.confidence,
            fit(&insight.pattern, 22),
            insight.fingerprint().as_str(),
            fit(&insight.message, 100),
        )?;
    }
    writeln!(out, "\n{} finding(s). `--format json` prints evidence and recommendations.", findings.len())
}
