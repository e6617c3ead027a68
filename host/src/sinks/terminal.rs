//! The terminal sink: a short notice on stderr for each new or changed finding, so that stdout
//! keeps only the run's results. A run with many changes shows the first [`MAX_NOTICES`] and
//! a count of the rest, so no plugin can flood the terminal.

use std::io::Write;
use std::path::Path;

use crate::config::STATE_DIR_NAME;
use crate::store::{Change, ChangeKind};

use super::render::{Style, fit};
use crate::escape;

/// Notices shown for one run; `insights list` has them all.
pub const MAX_NOTICES: usize = 50;

/// The command that lists the findings of the store at `database`, from the folder this runs
/// in: a store outside `./.devloop-host` needs its folder named, or the hint would look in the
/// wrong place.
pub fn triage_command(database: &Path) -> String {
    let folder = database.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let here = std::env::current_dir().ok().map(|dir| dir.join(STATE_DIR_NAME));
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    };
    if here.as_deref().is_some_and(|here| same(folder, here)) {
        "devloop-host insights list".to_owned()
    } else {
        format!("devloop-host insights list --state-dir {}", escape::terminal_line(&folder.display().to_string()))
    }
}

/// Writes one line per change, e.g. `grew  warning  3f2a…  command_repetition  message`.
pub fn announce(out: &mut impl Write, changes: &[&Change], style: &Style, triage: &str) -> std::io::Result<()> {
    writeln!(out, "{} finding(s) to look at (`{triage}`):", changes.len())?;
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
