//! `devloop-host insights …`: the morning's triage of what `run` found.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};

use devloop_host::config::{ConfigFile, StateDir};
use devloop_host::model::Severity;
use devloop_host::routing::RoutingConfig;
use devloop_host::sinks::devloop_feedback;
use devloop_host::sinks::render::{self, Format};
use devloop_host::store::{self, Filter, GROWTH_FACTOR, Store, Transition, Triage};

use super::project::ProjectArgs;

/// Triage the findings `run` stored: list, show, summarize, acknowledge, dismiss, snooze.
///
/// Every finding is one row in .devloop-host/insights.db (the state folder beside the project's
/// .devloop), identified by its fingerprint (pattern +
/// the detector's key), with a status: new, acknowledged, dismissed, snoozed (until a date) or
/// filed (a beads issue tracks it). Commands take a fingerprint or any unique prefix of it.
///
/// Material growth: a finding speaks up again (is routed by `run` again, and a dismissed one
/// reopens as new) only when its distinct evidence events reach 2× what they were when it was
/// last announced or dismissed, or its severity rises. Confidence or wording changes never count.
///
/// Routing: the `[routing]` table of .devloop-host/config.toml (or .devloop-host/routing.toml
/// with the same keys one level up) has `[[rule]]` tables (`patterns`, `min_severity`,
/// `min_confidence`, `sinks` = terminal | jsonl | beads), a `[jsonl]` table (`path`) and a
/// `[beads]` table (`bin`, `parent`, `type`, `labels`, `[beads.priority]` error/warning/info).
/// Unknown keys are errors. Without the file, changes go to the terminal only.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  devloop-host insights list                         what needs a look, most severe first
  devloop-host insights show 3f2a                    one finding, by a fingerprint prefix
  devloop-host insights dismiss 3f2a --reason \"intended\"
  devloop-host insights list --devloop-dir ~/src/app/.devloop")]
pub struct Insights {
    #[command(flatten)]
    project: ProjectArgs,
    #[command(subcommand)]
    command: InsightsCommand,
}

#[derive(Debug, Subcommand)]
enum InsightsCommand {
    List(List),
    Show(Show),
    Summary(SummaryCommand),
    Ack(Ack),
    Dismiss(Dismiss),
    Snooze(Snooze),
}

/// `--status`: a triage status, or every one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TriageFilter {
    New,
    Acknowledged,
    Dismissed,
    Snoozed,
    Filed,
    /// Every status.
    All,
}

#[derive(Debug, Args)]
struct Filters {
    /// Only findings at least this severe.
    #[arg(long, value_parser = parse_severity)]
    severity: Option<Severity>,
    /// Only this pattern id (e.g. command_repetition).
    #[arg(long)]
    pattern: Option<String>,
    /// Only findings seen in this Amp thread (its id or URL).
    #[arg(long)]
    thread: Option<String>,
    /// Only findings at least this confident (0.0–1.0).
    #[arg(long)]
    min_confidence: Option<f32>,
    /// Only findings last seen since: a duration back from now (30m, 24h, 7d, 2w) or a date (2026-11-20).
    #[arg(long, value_parser = parse_since)]
    since: Option<Since>,
    /// Only these statuses, comma-separated [default: new,acknowledged,filed].
    #[arg(long, value_enum, value_delimiter = ',')]
    status: Vec<TriageFilter>,
    /// At most this many findings.
    #[arg(short = 'n', long)]
    limit: Option<usize>,
}

impl Filters {
    fn to_filter(&self, now_ms: i64, default_all: bool) -> Filter {
        let statuses = if self.status.contains(&TriageFilter::All) || (self.status.is_empty() && default_all) {
            Some(Triage::ALL.to_vec())
        } else if self.status.is_empty() {
            None
        } else {
            Some(
                self.status
                    .iter()
                    .filter_map(|status| match status {
                        TriageFilter::New => Some(Triage::New),
                        TriageFilter::Acknowledged => Some(Triage::Acknowledged),
                        TriageFilter::Dismissed => Some(Triage::Dismissed),
                        TriageFilter::Snoozed => Some(Triage::Snoozed),
                        TriageFilter::Filed => Some(Triage::Filed),
                        TriageFilter::All => None,
                    })
                    .collect(),
            )
        };
        Filter {
            min_severity: self.severity,
            pattern: self.pattern.clone(),
            thread: self.thread.clone(),
            min_confidence: self.min_confidence,
            since_ms: self.since.map(|since| since.at(now_ms)),
            statuses,
            limit: self.limit,
        }
    }
}

/// Lists findings, most severe first. Dismissed and snoozed ones are hidden unless asked for.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  devloop-host insights list --severity warning --since 7d
  devloop-host insights list --status all --format json | jq .fingerprint")]
struct List {
    #[command(flatten)]
    filters: Filters,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Shows one finding: evidence, threads, recommendation, status and history.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  devloop-host insights show 3f2a
  devloop-host insights show 3f2a --format markdown     to paste into an issue")]
struct Show {
    /// The fingerprint (or a unique prefix).
    fingerprint: String,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Counts by status and by pattern and severity, and the top findings.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  devloop-host insights summary --since 7d --top 10")]
struct SummaryCommand {
    #[command(flatten)]
    filters: Filters,
    /// How many top findings to show.
    #[arg(long, default_value_t = 5)]
    top: usize,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Marks a finding as seen; it is announced again only when it grows materially.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  devloop-host insights ack 3f2a")]
struct Ack {
    /// The fingerprint (or a unique prefix).
    fingerprint: String,
}

/// Dismisses a finding: quiet until its evidence grows materially, then new again.
///
/// Material growth: 2× the distinct evidence events it has now, or a higher severity. The
/// dismissal is also appended to devloop's feedback/feedback.jsonl as a `dismiss` record in
/// devloop's own format, so devloop learns from it.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  devloop-host insights dismiss 3f2a --reason \"the rerun is intended\"")]
struct Dismiss {
    /// The fingerprint (or a unique prefix).
    fingerprint: String,
    /// Why it is not a problem (kept in the store and sent to devloop as the comment).
    #[arg(long)]
    reason: Option<String>,
}

/// Silences a finding for a while; afterwards it is new again and announced on the next run.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  devloop-host insights snooze 3f2a --for 2w")]
struct Snooze {
    /// The fingerprint (or a unique prefix).
    fingerprint: String,
    /// How long: 30m, 24h, 7d, 2w.
    #[arg(long = "for", value_parser = parse_duration_ms)]
    duration_ms: i64,
}

impl Insights {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let now_ms = store::now_ms();
        let state = self.project.state();
        let database = state.insights_db();
        if !database.exists() {
            bail!(
                "no insight store at {}; `devloop-host run` creates it, or pass --devloop-dir (or --state-dir) to \
                 where the project's is",
                database.display()
            );
        }
        let mut store = open_store(state.path())?;
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        let style = render::Style::for_stdout();
        match self.command {
            InsightsCommand::List(list) => {
                let findings = store.list(&list.filters.to_filter(now_ms, false), now_ms)?;
                render::list(&mut out, &findings, list.format, &style, now_ms)?;
            }
            InsightsCommand::Show(show) => {
                let finding = store.resolve(&show.fingerprint)?;
                let history = store.history(&finding.fingerprint)?;
                render::show(&mut out, &finding, &history, show.format, &style, now_ms)?;
            }
            InsightsCommand::Summary(summary) => {
                let counts = store.summary(&summary.filters.to_filter(now_ms, true), summary.top, now_ms)?;
                render::summary(&mut out, &counts, summary.format, &style, now_ms)?;
            }
            InsightsCommand::Ack(ack) => {
                let transition = store.acknowledge(&ack.fingerprint, now_ms)?;
                report(&mut out, &transition, "acknowledged; it is announced again only when it grows materially")?;
            }
            InsightsCommand::Dismiss(dismiss) => {
                let transition = store.dismiss(&dismiss.fingerprint, dismiss.reason.as_deref(), now_ms)?;
                if let Transition::Changed { finding, .. } = &transition {
                    let quiet_until =
                        (finding.baseline.occurrences * GROWTH_FACTOR).max(finding.baseline.occurrences + 1);
                    report(
                        &mut out,
                        &transition,
                        &format!(
                            "dismissed; quiet until {quiet_until} occurrences or a severity above {}",
                            finding.baseline.severity
                        ),
                    )?;
                    send_dismissal_to_devloop(&self.project.devloop_dir, finding, dismiss.reason.as_deref(), now_ms)?;
                } else {
                    report(&mut out, &transition, "dismissed")?;
                }
            }
            InsightsCommand::Snooze(snooze) => {
                let until = now_ms.saturating_add(snooze.duration_ms);
                let transition = store.snooze(&snooze.fingerprint, until, now_ms)?;
                report(&mut out, &transition, &format!("snoozed until {}", render::rfc3339(until)))?;
            }
        }
        out.flush()?;
        Ok(ExitCode::SUCCESS)
    }
}

fn open_store(state_dir: &Path) -> anyhow::Result<Store> {
    Ok(Store::open_in(state_dir)?)
}

fn report(out: &mut impl Write, transition: &Transition, what: &str) -> std::io::Result<()> {
    match transition {
        Transition::Changed { from, finding } => writeln!(out, "{} {what} (was {from})", finding.fingerprint),
        Transition::Unchanged(finding) => {
            writeln!(out, "{} is already {}; nothing changed", finding.fingerprint, finding.status)
        }
    }
}

fn send_dismissal_to_devloop(
    devloop_dir: &Path,
    finding: &store::StoredFinding,
    reason: Option<&str>,
    now_ms: i64,
) -> anyhow::Result<()> {
    if !devloop_dir.is_dir() {
        tracing::warn!(
            "no devloop folder at {}; the dismissal is kept in the store only (pass --devloop-dir to tell devloop)",
            devloop_dir.display()
        );
        return Ok(());
    }
    let path = devloop_feedback::feedback_file(devloop_dir);
    devloop_feedback::append_dismissal(devloop_dir, finding, reason, now_ms)
        .with_context(|| format!("the dismissal is stored, but appending it to {} failed", path.display()))?;
    tracing::info!("told devloop: dismiss record appended to {}", path.display());
    Ok(())
}

/// The routing rules: `path` when given, else the config file's `[routing]`, else the state
/// folder's routing.toml, else everything to the terminal.
pub fn routing(state: &StateDir, config: &ConfigFile, path: Option<&Path>) -> anyhow::Result<RoutingConfig> {
    if let Some(path) = path {
        return Ok(RoutingConfig::load_or_default(path)?);
    }
    if let Some(routing) = &config.config.routing {
        if state.routing_file().exists() {
            tracing::warn!(
                "{} is ignored: the config file has a [routing] table; move its rules there and delete it",
                state.routing_file().display()
            );
        }
        return Ok(routing.clone());
    }
    Ok(RoutingConfig::load_or_default(&state.routing_file())?)
}

fn parse_severity(text: &str) -> Result<Severity, String> {
    text.parse()
}

/// `30m`, `24h`, `7d`, `2w`, `90s` in milliseconds.
pub fn parse_duration_ms(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let split = text.find(|character: char| !character.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: i64 =
        number.parse().map_err(|_| format!("`{text}` is not a duration; write e.g. 30m, 24h, 7d or 2w"))?;
    let unit_ms = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return Err(format!("`{text}` has no unit; write e.g. 30m, 24h, 7d or 2w")),
    };
    Ok(number.saturating_mul(unit_ms))
}

/// A point in time given as a duration back from now or as a date.
#[derive(Debug, Clone, Copy)]
enum Since {
    Ago(i64),
    At(i64),
}

impl Since {
    fn at(self, now_ms: i64) -> i64 {
        match self {
            Since::Ago(duration) => now_ms - duration,
            Since::At(time) => time,
        }
    }
}

fn parse_since(text: &str) -> Result<Since, String> {
    if let Ok(duration) = parse_duration_ms(text) {
        return Ok(Since::Ago(duration));
    }
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(Since::At(time.timestamp_millis()));
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|time| Since::At(time.and_utc().timestamp_millis()))
        .ok_or_else(|| format!("`{text}` is neither a duration (24h, 7d) nor a date (2026-11-20)"))
}
