//! What a filed issue says: a title, and a description a person can act on without opening
//! devloop-host (what was seen, the evidence, the threads, what to do, how to silence it).
//!
//! Beads renders descriptions and comments as Markdown, and `bd` takes them as arguments: text
//! from logs and plugins is escaped for Markdown (no NUL or control character survives) and
//! every part is capped, so no finding is too large to file. The store keeps the full evidence.

use crate::routing::BeadsSettings;
use crate::store::{GROWTH_FACTOR, StoredFinding};

use super::cli::external_ref;
use crate::escape::{self, markdown_code, markdown_paragraph, markdown_text};
use crate::sinks::render::{rfc3339, short_time};

/// Longest title, in characters (beads allows 500).
const TITLE_LIMIT: usize = 200;
/// Longest message, recommendation and evidence in a description, in bytes once escaped. With
/// the fixed text and [`THREAD_LIMIT`] threads, a description stays far below the kernel's
/// 128 KiB limit on one argument.
const MESSAGE_LIMIT: usize = 4_000;
const RECOMMENDATION_LIMIT: usize = 8_000;
const EVIDENCE_LIMIT: usize = 32_000;
const THREAD_LIMIT: usize = 20;
const THREAD_URL_LIMIT: usize = 300;
/// Longest pattern or detector id shown, in bytes.
const NAME_LIMIT: usize = 200;
/// Longest message quoted in a growth comment, in bytes.
const COMMENT_MESSAGE_LIMIT: usize = 2_000;

/// A `bd create` for one finding.
#[derive(Debug, Clone, PartialEq)]
pub struct NewIssue {
    pub title: String,
    pub description: String,
    pub issue_type: String,
    pub priority: u8,
    pub labels: Vec<String>,
    pub parent: Option<String>,
    pub external_ref: String,
}

impl NewIssue {
    pub fn for_finding(finding: &StoredFinding, settings: &BeadsSettings) -> NewIssue {
        let insight = &finding.insight;
        let mut labels = vec!["devloop-host".to_owned(), escape::terminal_line(&insight.pattern).replace(',', " ")];
        labels.extend(
            settings.labels.iter().filter(|label| !labels_contain(&labels, label)).cloned().collect::<Vec<_>>(),
        );
        NewIssue {
            title: crate::sinks::render::fit(&format!("{}: {}", insight.pattern, insight.message), TITLE_LIMIT),
            description: description(finding),
            issue_type: settings.issue_type.clone(),
            priority: settings.priority.of(insight.severity),
            labels,
            parent: settings.parent.clone(),
            external_ref: external_ref(&finding.fingerprint),
        }
    }

    /// `create TITLE -d DESC -t TYPE -p N -l LABELS [--deps discovered-from:PARENT] --external-ref REF --json`.
    pub fn create_args(&self) -> Vec<String> {
        let mut args = vec![
            "create".to_owned(),
            self.title.clone(),
            "-d".into(),
            self.description.clone(),
            "-t".into(),
            self.issue_type.clone(),
            "-p".into(),
            self.priority.to_string(),
            "-l".into(),
            self.labels.join(","),
        ];
        if let Some(parent) = &self.parent {
            args.extend(["--deps".to_owned(), format!("discovered-from:{parent}")]);
        }
        args.extend(["--external-ref".to_owned(), self.external_ref.clone(), "--json".to_owned()]);
        args
    }
}

fn labels_contain(labels: &[String], label: &str) -> bool {
    labels.iter().any(|known| known == label)
}

fn description(finding: &StoredFinding) -> String {
    let insight = &finding.insight;
    let fingerprint = &finding.fingerprint;
    let fingerprint_code = markdown_code(fingerprint.as_str());
    let show = format!("`devloop-host insights show {fingerprint} --format json`");
    let cut_note = format!(" (cut; {show} has all of it)");
    let message = escape::cap(&markdown_paragraph(&insight.message), MESSAGE_LIMIT, &cut_note);
    let mut text = format!("## What was seen\n\n{message}\n\n");
    text.push_str(&format!(
        "- **Pattern**: {} (detector {})\n- **Severity**: {} · **Confidence**: {:.0}%\n- **Occurrences**: {} over {} run(s), {} – {}\n- **Fingerprint**: {fingerprint_code}\n",
        markdown_code(&escape::cap(&insight.pattern, NAME_LIMIT, "")),
        markdown_code(&escape::cap(&insight.detector, NAME_LIMIT, "")),
        insight.severity,
        insight.confidence * 100.0,
        finding.occurrences,
        finding.runs,
        short_time(finding.first_seen_ms),
        short_time(finding.last_seen_ms),
    ));
    let urls = finding.thread_urls();
    if !urls.is_empty() {
        text.push_str("\n## Threads\n\n");
        for url in urls.iter().take(THREAD_LIMIT) {
            text.push_str(&format!("- {}\n", escape::cap(&markdown_text(url), THREAD_URL_LIMIT, "")));
        }
        if urls.len() > THREAD_LIMIT {
            text.push_str(&format!("- … and {} more ({show})\n", urls.len() - THREAD_LIMIT));
        }
    }
    let evidence = escape::cap(&escape::json(&insight.to_json()["evidence"], true), EVIDENCE_LIMIT, &cut_note);
    text.push_str(&format!("\n## Evidence\n\n{}\n", escape::markdown_fence(&evidence, "json")));
    let recommendation = escape::cap(&markdown_paragraph(&insight.recommendation), RECOMMENDATION_LIMIT, &cut_note);
    text.push_str(&format!("\n## Recommendation\n\n{recommendation}\n"));
    text.push_str(&format!(
        "\n## Silencing it\n\nNot a problem? `devloop-host insights dismiss {fingerprint} --reason \"…\"` keeps it quiet until its \
         evidence grows {GROWTH_FACTOR}× or its severity rises (the dismissal also reaches devloop's feedback log). \
         Later? `devloop-host insights snooze {fingerprint} --for 7d`.\n"
    ));
    text.push_str(&format!(
        "\n---\n*Filed by devloop-host at {}; external ref `{}`.*\n",
        rfc3339(finding.recorded_ms),
        external_ref(fingerprint)
    ));
    text
}

/// The comment that tells an issue its finding grew.
pub fn growth_comment(finding: &StoredFinding, reported: Option<(u64, crate::model::Severity)>) -> String {
    let insight = &finding.insight;
    let before =
        reported.map_or_else(String::new, |(occurrences, severity)| format!(" (was {occurrences}, {severity})"));
    format!(
        "devloop-host: this finding grew to {} occurrence(s), severity {}{before}, last seen {}. Latest: {}",
        finding.occurrences,
        insight.severity,
        short_time(finding.last_seen_ms),
        escape::cap(&markdown_text(&insight.message), COMMENT_MESSAGE_LIMIT, " (cut)")
    )
}
