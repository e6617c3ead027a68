//! `devloop-host sources`: which of devloop's logs were found, what each gave, and what could
//! not be read.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;

use devloop_host::ingest::Feed;

use super::project::ProjectArgs;
pub use super::project::default_home_devloop_dir;

/// Shows which of devloop's logs were found, how many events each gave, their time span, and
/// malformed records (reads everything; stores nothing).
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  devloop-host sources
  devloop-host sources --devloop-dir ~/src/app/.devloop --show-malformed 50")]
pub struct Sources {
    #[command(flatten)]
    project: ProjectArgs,
    /// Malformed records to list (by file and line).
    #[arg(long, default_value_t = 10)]
    show_malformed: usize,
}

fn time_text(time_ms: Option<i64>) -> String {
    time_ms
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map_or_else(|| "-".to_owned(), |time| time.format("%Y-%m-%d %H:%M:%S").to_string())
}

impl Sources {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let state = self.project.state();
        let config = super::load_config(&state)?;
        let dirs = self.project.devloop_dirs(config.config.sources.home_devloop_dir_in(state.project()))?;
        let mut feed = Feed::new(dirs.readers());
        while !feed.next_batch(4096)?.is_empty() {}
        let malformed = feed.take_malformed();

        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        writeln!(out, "{:<15} {:>8} {:>9} {:<19} {:<19} FILE", "SOURCE", "EVENTS", "MALFORMED", "FIRST", "LAST")?;
        let mut total = 0;
        for (slot, stats, partial) in feed.sources() {
            let exists = slot.path.exists();
            if !exists && stats.events == 0 {
                continue;
            }
            total += stats.events;
            let note = if partial { "  (a record is still being written)" } else { "" };
            writeln!(
                out,
                "{:<15} {:>8} {:>9} {:<19} {:<19} {}{note}",
                slot.source.as_str(),
                stats.events,
                stats.malformed,
                time_text(stats.first_time_ms),
                time_text(stats.last_time_ms),
                slot.path.display()
            )?;
        }
        writeln!(out, "\n{total} event(s), {} late, {} malformed record(s).", feed.late_events(), malformed.len())?;
        for record in malformed.iter().take(self.show_malformed) {
            writeln!(out, "  {record}")?;
        }
        if malformed.len() > self.show_malformed {
            writeln!(out, "  … and {} more (--show-malformed N lists more)", malformed.len() - self.show_malformed)?;
        }
        let missing: Vec<String> = feed
            .sources()
            .filter(|(slot, _, _)| !slot.path.exists())
            .map(|(slot, _, _)| slot.path.display().to_string())
            .collect();
        if !missing.is_empty() {
            writeln!(out, "Not found (devloop has not written them): {}", missing.join(", "))?;
        }
        Ok(ExitCode::SUCCESS)
    }
}
