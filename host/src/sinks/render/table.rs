//! Plain-text tables sized to the terminal: the message column takes what the others leave,
//! and the last-seen column goes first when the terminal is narrow.

use std::io::Write;

use crate::model::{Severity, Value};
use crate::store::{GROWTH_FACTOR, HistoryEntry, StoredFinding, Summary, Triage};

use super::{Style, fit, short_time, status_line};
use crate::escape;

const GAP: &str = "  ";
const MIN_MESSAGE: usize = 20;
const STATUS_WIDTH: usize = 12;

pub fn list(out: &mut impl Write, findings: &[StoredFinding], style: &Style, now_ms: i64) -> std::io::Result<()> {
    if findings.is_empty() {
        return writeln!(out, "No findings match. `--status all` includes dismissed and snoozed ones.");
    }
    let pattern_width =
        findings.iter().map(|finding| finding.insight.pattern.chars().count()).max().unwrap_or(7).clamp(7, 24);
    // The message takes what is left; narrow terminals lose the last-seen, then the pattern column.
    let base = 16 + 8 + STATUS_WIDTH + 5 + 4 * GAP.len();
    let last_seen_width = 16 + GAP.len();
    let pattern_column = pattern_width + GAP.len();
    let show_pattern = style.width >= base + pattern_column + MIN_MESSAGE;
    let show_last_seen = show_pattern && style.width >= base + pattern_column + last_seen_width + MIN_MESSAGE;
    let used = base + if show_pattern { pattern_column } else { 0 } + if show_last_seen { last_seen_width } else { 0 };
    let message_width = style.width.saturating_sub(used).max(MIN_MESSAGE);

    let mut header =
        format!("{:<16}{GAP}{:<8}{GAP}{:<STATUS_WIDTH$}{GAP}{:>5}{GAP}", "FINGERPRINT", "SEVERITY", "STATUS", "SEEN");
    if show_last_seen {
        header.push_str(&format!("{:<16}{GAP}", "LAST SEEN"));
    }
    if show_pattern {
        header.push_str(&format!("{:<pattern_width$}{GAP}", "PATTERN"));
    }
    header.push_str("MESSAGE");
    writeln!(out, "{}", style.bold(&header))?;
    for finding in findings {
        let insight = &finding.insight;
        let mut line = format!(
            "{:<16}{GAP}{}{GAP}{}{GAP}{:>5}{GAP}",
            finding.fingerprint,
            style.severity(insight.severity),
            style.status(finding.status_at(now_ms), STATUS_WIDTH),
            finding.occurrences
        );
        if show_last_seen {
            line.push_str(&format!("{:<16}{GAP}", short_time(finding.last_seen_ms)));
        }
        if show_pattern {
            line.push_str(&format!("{:<pattern_width$}{GAP}", fit(&insight.pattern, pattern_width)));
        }
        line.push_str(&fit(&insight.message, message_width));
        writeln!(out, "{}", line.trim_end())?;
    }
    writeln!(
        out,
        "\n{} finding(s). `devloop-host insights show FINGERPRINT` for evidence and what to do.",
        findings.len()
    )
}

pub fn show(
    out: &mut impl Write,
    finding: &StoredFinding,
    history: &[HistoryEntry],
    style: &Style,
    now_ms: i64,
) -> std::io::Result<()> {
    let insight = &finding.insight;
    let status = finding.status_at(now_ms);
    let value_width = style.width.saturating_sub(18).max(MIN_MESSAGE);
    writeln!(
        out,
        "{}  {}  {}",
        style.bold(finding.fingerprint.as_str()),
        style.severity(insight.severity).trim_end(),
        style.status(status, 0)
    )?;
    writeln!(out, "{}\n", escape::terminal(&insight.message))?;
    let mut row = |label: &str, value: &str| writeln!(out, "{label:<16}  {}", fit(value, value_width));
    row("pattern", &format!("{} (detector {})", insight.pattern, insight.detector))?;
    row("confidence", &format!("{:.2}", insight.confidence))?;
    row("occurrences", &format!("{} over {} run(s)", finding.occurrences, finding.runs))?;
    row("first seen", &short_time(finding.first_seen_ms))?;
    row("last seen", &short_time(finding.last_seen_ms))?;
    let mut status_text = format!("{status} since {}", short_time(finding.status_changed_ms));
    if let (Triage::Snoozed, Some(until)) = (status, finding.snoozed_until_ms) {
        status_text.push_str(&format!(", until {}", short_time(until)));
    }
    if let Some(reason) = &finding.status_reason {
        status_text.push_str(&format!(" ({reason})"));
    }
    row("status", &status_text)?;
    if status == Triage::Dismissed {
        row(
            "speaks up again",
            &format!(
                "at {} occurrences or a severity above {}",
                (finding.baseline.occurrences * GROWTH_FACTOR).max(finding.baseline.occurrences + 1),
                finding.baseline.severity
            ),
        )?;
    }
    let issue = match (&finding.issue_id, finding.filing_queued, &finding.filing_error) {
        (Some(issue), _, _) => issue.clone(),
        (None, true, Some(error)) => format!("queued for filing; last attempt failed: {error}"),
        (None, true, None) => "queued for filing".to_owned(),
        (None, false, _) => "-".to_owned(),
    };
    row("beads issue", &issue)?;
    for (index, url) in finding.thread_urls().iter().enumerate() {
        row(if index == 0 { "threads" } else { "" }, url)?;
    }
    row("recommendation", &insight.recommendation)?;
    writeln!(out, "\nevidence")?;
    for field in &insight.evidence.fields {
        writeln!(out, "  {:<14}  {}", fit(&field.key, 40), fit(&display_value(&field.value), value_width))?;
    }
    if !insight.evidence.event_ids.is_empty() {
        let ids: Vec<String> = insight.evidence.event_ids.iter().take(5).map(u64::to_string).collect();
        let more = insight.evidence.event_ids.len().saturating_sub(5);
        let suffix = if more > 0 { format!(" and {more} more") } else { String::new() };
        writeln!(out, "  {:<14}  {}{suffix}", "events", ids.join(" "))?;
    }
    writeln!(out, "\nhistory")?;
    for entry in history {
        writeln!(
            out,
            "  {}  {:<12}  {}",
            short_time(entry.at_ms),
            entry.change,
            fit(entry.detail.as_deref().unwrap_or(""), value_width)
        )?;
    }
    Ok(())
}

pub fn summary(out: &mut impl Write, summary: &Summary, style: &Style, now_ms: i64) -> std::io::Result<()> {
    writeln!(out, "{}", style.bold(&status_line(summary)))?;
    if summary.by_pattern.is_empty() {
        return Ok(());
    }
    let pattern_width =
        summary.by_pattern.keys().map(|pattern| pattern.chars().count()).max().unwrap_or(7).clamp(7, 40);
    writeln!(out, "\n{:<pattern_width$}  {:>5}  {:>7}  {:>5}  {:>5}", "PATTERN", "ERROR", "WARNING", "INFO", "TOTAL")?;
    for (pattern, severities) in &summary.by_pattern {
        let count = |severity| severities.get(&severity).copied().unwrap_or(0);
        writeln!(
            out,
            "{:<pattern_width$}  {:>5}  {:>7}  {:>5}  {:>5}",
            fit(pattern, pattern_width),
            count(Severity::Error),
            count(Severity::Warning),
            count(Severity::Info),
            severities.values().sum::<usize>()
        )?;
    }
    if !summary.top.is_empty() {
        writeln!(out, "\nTop findings")?;
        list(out, &summary.top, style, now_ms)?;
    }
    Ok(())
}

fn display_value(value: &Value) -> String {
    match value {
        Value::Text(text) => text.clone(),
        other => other.to_json().to_string(),
    }
}
