//! How stored findings read: tables that fit the terminal, Markdown for pasting into an issue or
//! a chat, JSON for programs. Colour only on a terminal, and never when `NO_COLOR` is set.

mod markdown;
mod table;

use std::io::IsTerminal;

use crate::escape;
use crate::model::Severity;
use crate::store::{HistoryEntry, StoredFinding, Summary, Triage};

/// An output format of the `insights` commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table sized to the terminal.
    Table,
    /// JSON (one object per line for `list`).
    Json,
    /// Markdown, for issues and chats.
    Markdown,
}

/// Width used when the output is not a terminal and `COLUMNS` is not set.
pub const DEFAULT_WIDTH: usize = 120;

/// Width and colour of the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub width: usize,
    pub colour: bool,
}

/// Colour only when writing to a terminal and `NO_COLOR` is unset or empty (no-color.org).
pub fn colour_enabled(is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    is_terminal && no_color.is_none_or(|value| value.is_empty())
}

impl Style {
    pub fn plain(width: usize) -> Style {
        Style { width, colour: false }
    }

    /// For stdout: the terminal's width, else `COLUMNS`, else [`DEFAULT_WIDTH`].
    pub fn for_stdout() -> Style {
        let stdout = std::io::stdout();
        Style::detect(stdout.is_terminal(), terminal_size::terminal_size_of(&stdout))
    }

    /// For notices on stderr.
    pub fn for_stderr() -> Style {
        let stderr = std::io::stderr();
        Style::detect(stderr.is_terminal(), terminal_size::terminal_size_of(&stderr))
    }

    fn detect(is_terminal: bool, size: Option<(terminal_size::Width, terminal_size::Height)>) -> Style {
        let columns = std::env::var("COLUMNS").ok().and_then(|columns| columns.parse::<usize>().ok());
        let width = size.map(|(width, _)| usize::from(width.0)).or(columns).unwrap_or(DEFAULT_WIDTH).max(40);
        Style { width, colour: colour_enabled(is_terminal, std::env::var_os("NO_COLOR").as_deref()) }
    }

    fn paint(&self, text: &str, code: &str) -> String {
        if self.colour { format!("\u{1b}[{code}m{text}\u{1b}[0m") } else { text.to_owned() }
    }

    /// The severity padded to its column and coloured by urgency.
    pub fn severity(&self, severity: Severity) -> String {
        let padded = format!("{:<8}", severity.as_str());
        match severity {
            Severity::Error => self.paint(&padded, "1;31"),
            Severity::Warning => self.paint(&padded, "33"),
            Severity::Info => self.paint(&padded, "2"),
        }
    }

    /// The status padded to `width`, new findings in bold.
    pub fn status(&self, status: Triage, width: usize) -> String {
        let padded = format!("{:<width$}", status.as_str());
        if status == Triage::New { self.paint(&padded, "1") } else { padded }
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint(text, "1")
    }
}

/// `text` on one line, safe for a terminal ([`escape::terminal_line`]), cut to `width`
/// characters with `…` where it was cut.
pub fn fit(text: &str, width: usize) -> String {
    let flat = escape::terminal_line(text);
    if flat.chars().count() <= width {
        return flat;
    }
    let mut cut: String = flat.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// A time as RFC 3339, UTC, to the second.
pub fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map_or_else(|| ms.to_string(), |time| time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// A time as a table shows it.
pub fn short_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map_or_else(|| ms.to_string(), |time| time.format("%Y-%m-%d %H:%M").to_string())
}

/// A stored finding as JSON: the insight as `run --format json` prints it, plus what the store
/// knows of it.
pub fn finding_json(finding: &StoredFinding, now_ms: i64) -> serde_json::Value {
    let mut object = finding.insight.to_json();
    object["status"] = finding.status_at(now_ms).as_str().into();
    object["status_reason"] = finding.status_reason.clone().into();
    object["snoozed_until"] =
        finding.snoozed_until_ms.filter(|_| finding.status_at(now_ms) == Triage::Snoozed).map(rfc3339).into();
    object["first_seen"] = rfc3339(finding.first_seen_ms).into();
    object["last_seen"] = rfc3339(finding.last_seen_ms).into();
    object["occurrences"] = finding.occurrences.into();
    object["runs"] = finding.runs.into();
    object["issue_id"] = finding.issue_id.clone().into();
    object["filing"] = if finding.filing_queued {
        serde_json::json!({"queued": true, "last_error": finding.filing_error})
    } else {
        serde_json::Value::Null
    };
    object["thread_urls"] = finding.thread_urls().into();
    object
}

/// Renders findings for `insights list`.
pub fn list(
    out: &mut impl std::io::Write,
    findings: &[StoredFinding],
    format: Format,
    style: &Style,
    now_ms: i64,
) -> std::io::Result<()> {
    match format {
        Format::Table => table::list(out, findings, style, now_ms),
        Format::Markdown => markdown::list(out, findings, now_ms),
        Format::Json => {
            for finding in findings {
                writeln!(out, "{}", escape::json(&finding_json(finding, now_ms), false))?;
            }
            Ok(())
        }
    }
}

/// Renders one finding with its history for `insights show`.
pub fn show(
    out: &mut impl std::io::Write,
    finding: &StoredFinding,
    history: &[HistoryEntry],
    format: Format,
    style: &Style,
    now_ms: i64,
) -> std::io::Result<()> {
    match format {
        Format::Table => table::show(out, finding, history, style, now_ms),
        Format::Markdown => markdown::show(out, finding, history, now_ms),
        Format::Json => {
            let mut object = finding_json(finding, now_ms);
            object["history"] = history
                .iter()
                .map(|entry| serde_json::json!({"at": rfc3339(entry.at_ms), "change": entry.change, "detail": entry.detail}))
                .collect::<Vec<_>>()
                .into();
            writeln!(out, "{}", escape::json(&object, true))
        }
    }
}

/// Renders `insights summary`.
pub fn summary(
    out: &mut impl std::io::Write,
    summary: &Summary,
    format: Format,
    style: &Style,
    now_ms: i64,
) -> std::io::Result<()> {
    match format {
        Format::Table => table::summary(out, summary, style, now_ms),
        Format::Markdown => markdown::summary(out, summary, now_ms),
        Format::Json => {
            let by_status: serde_json::Map<String, serde_json::Value> =
                summary.by_status.iter().map(|(status, count)| (status.as_str().to_owned(), (*count).into())).collect();
            let by_pattern: serde_json::Map<String, serde_json::Value> = summary
                .by_pattern
                .iter()
                .map(|(pattern, severities)| {
                    let counts: serde_json::Map<String, serde_json::Value> = severities
                        .iter()
                        .map(|(severity, count)| (severity.as_str().to_owned(), (*count).into()))
                        .collect();
                    (pattern.clone(), counts.into())
                })
                .collect();
            let top: Vec<serde_json::Value> = summary.top.iter().map(|finding| finding_json(finding, now_ms)).collect();
            let object = serde_json::json!({"total": summary.total, "by_status": by_status, "by_pattern": by_pattern, "top": top});
            writeln!(out, "{}", escape::json(&object, true))
        }
    }
}

/// `… counts` as one line: `12 finding(s): 7 new, 2 acknowledged, …`.
fn status_line(summary: &Summary) -> String {
    let counts: Vec<String> = Triage::ALL
        .iter()
        .filter_map(|status| summary.by_status.get(status).map(|count| format!("{count} {status}")))
        .collect();
    if counts.is_empty() {
        format!("{} finding(s)", summary.total)
    } else {
        format!("{} finding(s): {}", summary.total, counts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_needs_a_terminal_and_no_no_color() {
        assert!(colour_enabled(true, None));
        assert!(colour_enabled(true, Some(std::ffi::OsStr::new(""))));
        assert!(!colour_enabled(true, Some(std::ffi::OsStr::new("1"))));
        assert!(!colour_enabled(false, None));
    }

    #[test]
    fn fit_cuts_long_text_and_flattens_newlines() {
        assert_eq!(fit("short", 10), "short");
        assert_eq!(fit("a longer line", 8), "a longe…");
        assert_eq!(fit("two\nlines", 20), "two lines");
        assert_eq!(fit("red\u{1b}[31m", 20), "red\\u{1b}[31m");
    }
}
