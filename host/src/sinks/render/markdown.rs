//! Markdown, for pasting into an issue, a pull request or a chat: nothing is cut short, and
//! nothing from a log or a plugin adds structure of its own (see [`crate::escape`]).

use std::io::Write;

use crate::model::Severity;
use crate::store::{HistoryEntry, StoredFinding, Summary};

use super::{short_time, status_line};
use crate::escape::{self, markdown_code, markdown_paragraph, markdown_text};

/// A code span inside a table cell: GFM splits cells at `|` even inside code spans.
fn code_cell(text: &str) -> String {
    markdown_code(text).replace('|', "\\|")
}

pub fn list(out: &mut impl Write, findings: &[StoredFinding], now_ms: i64) -> std::io::Result<()> {
    if findings.is_empty() {
        return writeln!(out, "_No findings match._");
    }
    writeln!(out, "| Fingerprint | Severity | Status | Seen | Last seen | Pattern | Message |")?;
    writeln!(out, "|---|---|---|---:|---|---|---|")?;
    for finding in findings {
        writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} | {} |",
            finding.fingerprint,
            finding.insight.severity,
            finding.status_at(now_ms),
            finding.occurrences,
            short_time(finding.last_seen_ms),
            code_cell(&finding.insight.pattern),
            markdown_text(&finding.insight.message)
        )?;
    }
    Ok(())
}

pub fn show(
    out: &mut impl Write,
    finding: &StoredFinding,
    history: &[HistoryEntry],
    now_ms: i64,
) -> std::io::Result<()> {
    let insight = &finding.insight;
    writeln!(out, "## {}\n", markdown_text(&insight.message))?;
    writeln!(out, "- **Fingerprint**: `{}`", finding.fingerprint)?;
    writeln!(
        out,
        "- **Pattern**: {} (detector {})",
        markdown_code(&insight.pattern),
        markdown_code(&insight.detector)
    )?;
    writeln!(out, "- **Severity**: {} · **Confidence**: {:.2}", insight.severity, insight.confidence)?;
    writeln!(out, "- **Status**: {}", finding.status_at(now_ms))?;
    writeln!(out, "- **Occurrences**: {} over {} run(s)", finding.occurrences, finding.runs)?;
    writeln!(out, "- **Seen**: {} – {}", short_time(finding.first_seen_ms), short_time(finding.last_seen_ms))?;
    if let Some(issue) = &finding.issue_id {
        writeln!(out, "- **Beads issue**: {}", markdown_code(issue))?;
    }
    let urls = finding.thread_urls();
    if !urls.is_empty() {
        writeln!(out, "\n### Threads\n")?;
        for url in urls {
            writeln!(out, "- {}", markdown_text(&url))?;
        }
    }
    writeln!(out, "\n### Recommendation\n\n{}", markdown_paragraph(&insight.recommendation))?;
    let evidence = escape::json(&insight.to_json()["evidence"], true);
    writeln!(out, "\n### Evidence\n\n{}", escape::markdown_fence(&evidence, "json"))?;
    if !history.is_empty() {
        writeln!(out, "\n### History\n")?;
        for entry in history {
            let detail =
                entry.detail.as_deref().map(|detail| format!(": {}", markdown_text(detail))).unwrap_or_default();
            writeln!(out, "- {} **{}**{}", short_time(entry.at_ms), entry.change, detail)?;
        }
    }
    Ok(())
}

pub fn summary(out: &mut impl Write, summary: &Summary, now_ms: i64) -> std::io::Result<()> {
    writeln!(out, "**{}**", status_line(summary))?;
    if !summary.by_pattern.is_empty() {
        writeln!(out, "\n| Pattern | Error | Warning | Info | Total |\n|---|---:|---:|---:|---:|")?;
        for (pattern, severities) in &summary.by_pattern {
            let count = |severity| severities.get(&severity).copied().unwrap_or(0);
            writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                code_cell(pattern),
                count(Severity::Error),
                count(Severity::Warning),
                count(Severity::Info),
                severities.values().sum::<usize>()
            )?;
        }
    }
    if !summary.top.is_empty() {
        writeln!(out, "\n### Top findings\n")?;
        list(out, &summary.top, now_ms)?;
    }
    Ok(())
}
