//! The terminal sink: a short notice on stderr for each new or changed finding, so that stdout
//! keeps only the run's results. A run with many changes shows the first [`MAX_NOTICES`] and
//! a count of the rest, so no plugin can flood the terminal.

use std::io::Write;

use crate::store::{Change, ChangeKind};

use super::escape;
use super::render::{Style, fit};

/// Notices shown for one run; `insights list` has them all.
pub const MAX_NOTICES: usize = 50;

/// Writes one line per change, e.g. `grew  warning  3f2a…  command_repetition  message`.
pub fn announce(out: &mut impl Write, changes: &[&Change], style: &Style) -> std::io::Result<()> {
    writeln!(out, "{} finding(s) to look at (`devloop-host insights list`):", changes.len())?;
    for change in changes.iter().take(MAX_NOTICES) {
        let insight = &change.finding.insight;
        let note = match &change.kind {
            ChangeKind::New => String::new(),
            ChangeKind::Grew { from } | ChangeKind::Reopened { from, .. } => {
                format!(" (was {} occurrence(s), {})", from.occurrences, from.severity)
            }
        };
        let pattern = escape::terminal_line(&insight.pattern);
        let used = 9 + 8 + 17 + pattern.chars().count() + 2;
        let message = fit(&format!("{}{note}", insight.message), style.width.saturating_sub(used).max(20));
        writeln!(
            out,
            "  {:<8} {} {} {}  {}",
            change.kind.label(),
            style.severity(insight.severity),
            change.finding.fingerprint,
            pattern,
            message
        )?;
    }
    if changes.len() > MAX_NOTICES {
        writeln!(out, "  … and {} more", changes.len() - MAX_NOTICES)?;
    }
    Ok(())
}
