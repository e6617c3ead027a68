//! `devloop-host plugins`: what is installed and how it is doing, and changes to the folder
//! that a running host picks up.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use devloop_host::hotswap::folder::{self, InstalledPlugin};
use devloop_host::hotswap::{PluginStatus, StatusFile};
use devloop_host::runtime::{Runtime, RuntimeConfig};

use super::run::Format;

/// Lists, inspects, adds, removes and reloads detector plugins.
///
/// A running `devloop-host run` picks up every change to the plugins folder: it compiles the
/// new version in the background and swaps it in between two batches.
#[derive(Debug, Args)]
pub struct Plugins {
    /// Folder of detector plugins (`*.wasm` components).
    #[arg(long, global = true, env = "DEVLOOP_HOST_PLUGINS", default_value = super::DEFAULT_PLUGINS_DIR)]
    plugins: PathBuf,
    /// The status file a running host keeps up to date (default: `.status.json` in the plugins folder).
    #[arg(long, global = true, env = "DEVLOOP_HOST_STATUS")]
    status_file: Option<PathBuf>,
    /// Where compiled plugins are cached (default: ~/.cache/devloop-host/components).
    #[arg(long, global = true, env = "DEVLOOP_HOST_CACHE")]
    cache_dir: Option<PathBuf>,
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Every plugin in the folder: version, API, language, counters and state.
    List {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Everything about one plugin: patterns, event kinds, settings, counters, last failure.
    Info {
        /// The detector id (or, for a file that does not load, its file name).
        id: String,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Checks a plugin and copies it into the folder, replacing an older version of it.
    Add {
        /// A `.wasm` detector component.
        file: PathBuf,
    },
    /// Deletes a plugin from the folder; a running host unloads it.
    Remove {
        /// The detector id (or, for a file that does not load, its file name).
        id: String,
    },
    /// Makes a running host load a plugin again (all of them without ID), handing its state over.
    Reload {
        /// The detector id; every plugin when left out.
        id: Option<String>,
    },
}

/// A plugin as the folder holds it, with what the running host last said about it.
struct Row {
    installed: InstalledPlugin,
    status: Option<PluginStatus>,
}

impl Row {
    fn state(&self) -> String {
        match (&self.installed.found, &self.status) {
            (Err(_), Some(status)) => format!("rejected, runs {}", status.version),
            (Err(_), None) => "broken".to_owned(),
            (Ok(_), Some(status)) if status.quarantined => "quarantined".to_owned(),
            (Ok(found), Some(status)) if found.content_hash != status.content_hash => "file changed".to_owned(),
            (Ok(_), Some(_)) => "loaded".to_owned(),
            (Ok(_), None) => "not loaded".to_owned(),
        }
    }

    fn json(&self) -> serde_json::Value {
        let mut object = serde_json::json!({
            "id": self.installed.id(),
            "file": self.installed.file,
            "state": self.state(),
        });
        match &self.installed.found {
            Ok(found) => {
                let description = &found.description;
                object["version"] = description.version.clone().into();
                object["api_version"] = found.api_version.to_string().into();
                object["language"] = description.language.clone().into();
                object["content_hash"] = found.content_hash.clone().into();
                object["patterns"] = description.patterns.clone().into();
                object["kinds"] = description.kinds.clone().into();
                object["settings"] = description
                    .config
                    .iter()
                    .map(|(name, default, about)| {
                        serde_json::json!({"name": name, "default": default.to_json(), "description": about})
                    })
                    .collect();
            }
            Err(error) => object["error"] = error.to_string().into(),
        }
        if let Some(status) = &self.status {
            object["running"] = serde_json::to_value(status).unwrap_or_default();
        }
        object
    }
}

impl Plugins {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let cache_dir = self.cache_dir.clone().or_else(super::default_cache_dir);
        let runtime = Runtime::new(RuntimeConfig { cache_dir, ..RuntimeConfig::default() })?;
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        match &self.action {
            Action::List { format } => {
                let (rows, status) = self.rows(&runtime)?;
                match format {
                    Format::Json => {
                        for row in &rows {
                            writeln!(out, "{}", row.json())?;
                        }
                    }
                    Format::Table => write_table(&mut out, &rows, status.as_ref(), &self.status_file())?,
                }
            }
            Action::Info { id, format } => {
                let (rows, _) = self.rows(&runtime)?;
                let matching: Vec<&Row> = rows.iter().filter(|row| row.installed.id() == *id).collect();
                if matching.is_empty() {
                    anyhow::bail!(
                        "no plugin `{id}` in {}; `devloop-host plugins list` shows what is installed",
                        self.plugins.display()
                    );
                }
                for row in matching {
                    match format {
                        Format::Json => writeln!(out, "{}", row.json())?,
                        Format::Table => write_info(&mut out, row)?,
                    }
                }
            }
            Action::Add { file } => {
                let (target, detector) = folder::install(&runtime, &self.plugins, file)?;
                let description = &detector.description;
                writeln!(out, "installed {} {} as {}", description.id, description.version, target.display())?;
                self.tell_about_host();
            }
            Action::Remove { id } => {
                for plugin in folder::find(&runtime, &self.plugins, id)? {
                    folder::remove(&plugin.file)?;
                    writeln!(out, "removed {} ({})", plugin.id(), plugin.file.display())?;
                }
                self.tell_about_host();
            }
            Action::Reload { id } => {
                let plugins = match id {
                    Some(id) => folder::find(&runtime, &self.plugins, id)?,
                    None => folder::inventory(&runtime, &self.plugins)?,
                };
                for plugin in plugins {
                    folder::touch(&plugin.file)?;
                    writeln!(out, "reload requested for {} ({})", plugin.id(), plugin.file.display())?;
                }
                self.tell_about_host();
            }
        }
        out.flush()?;
        Ok(ExitCode::SUCCESS)
    }

    fn status_file(&self) -> PathBuf {
        self.status_file.clone().unwrap_or_else(|| super::default_status_file(&self.plugins))
    }

    /// The folder's plugins with the running host's status of each, matched by file name.
    fn rows(&self, runtime: &Runtime) -> anyhow::Result<(Vec<Row>, Option<StatusFile>)> {
        let installed = folder::inventory(runtime, &self.plugins)?;
        let installed = devloop_host::patterns::with_patterns(runtime, &self.plugins, installed);
        let status = StatusFile::read(&self.status_file()).unwrap_or_else(|error| {
            tracing::warn!("{error:#}");
            None
        });
        let rows = installed
            .into_iter()
            .map(|installed| {
                let status = status.as_ref().and_then(|status| {
                    status.plugins.iter().find(|plugin| same_name(&plugin.file, &installed.file)).cloned()
                });
                Row { installed, status }
            })
            .collect();
        Ok((rows, status))
    }

    fn tell_about_host(&self) {
        match StatusFile::read(&self.status_file()) {
            Ok(Some(status)) if host_alive(status.pid) == Some(true) => tracing::info!(
                "the host running with this folder (pid {}) applies the change between two batches",
                status.pid
            ),
            _ => tracing::info!("no host is running with this folder; the next run uses the change"),
        }
    }
}

/// Whether the process that wrote a status file still runs; `None` where this cannot be told.
fn host_alive(pid: u32) -> Option<bool> {
    let processes = Path::new("/proc");
    processes.is_dir().then(|| processes.join(pid.to_string()).exists())
}

fn same_name(a: &Path, b: &Path) -> bool {
    a.file_name().is_some() && a.file_name() == b.file_name()
}

fn micros(us: u64) -> String {
    match us {
        0..1_000 => format!("{us}µs"),
        1_000..1_000_000 => format!("{:.1}ms", us as f64 / 1e3),
        _ => format!("{:.1}s", us as f64 / 1e6),
    }
}

fn write_table(
    out: &mut impl Write,
    rows: &[Row],
    status: Option<&StatusFile>,
    status_file: &Path,
) -> anyhow::Result<()> {
    if rows.is_empty() {
        writeln!(out, "No plugins. `devloop-host plugins add FILE` installs one.")?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<24} {:<9} {:<5} {:<8} {:>9} {:>8} {:>8} {:>8} {:<14} FILE",
        "ID", "VERSION", "API", "LANG", "EVENTS", "INSIGHTS", "TIME", "FAILURES", "STATE"
    )?;
    for row in rows {
        let (version, api, language) = match &row.installed.found {
            Ok(found) => {
                (found.description.version.clone(), found.api_version.to_string(), found.description.language.clone())
            }
            Err(_) => ("-".to_owned(), "-".to_owned(), "-".to_owned()),
        };
        let (events, insights, time, failures) = match &row.status {
            Some(status) => (
                status.events_seen.to_string(),
                status.insights_emitted.to_string(),
                micros(status.time_spent_us),
                status.failures.to_string(),
            ),
            None => ("-".to_owned(), "-".to_owned(), "-".to_owned(), "-".to_owned()),
        };
        writeln!(
            out,
            "{:<24} {:<9} {:<5} {:<8} {:>9} {:>8} {:>8} {:>8} {:<14} {}",
            row.installed.id(),
            version,
            api,
            language,
            events,
            insights,
            time,
            failures,
            row.state(),
            row.installed.file.display()
        )?;
    }
    match status {
        Some(status) => {
            let when = chrono::DateTime::from_timestamp_millis(status.updated_ms)
                .map(|time| time.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_default();
            let alive = match host_alive(status.pid) {
                Some(true) => ", still running",
                Some(false) => ", since exited",
                None => "",
            };
            writeln!(
                out,
                "\nCounters from the host (pid {}{alive}) that wrote {} at {when}.",
                status.pid,
                status_file.display()
            )?;
        }
        None => writeln!(out, "\nNo host has run with a status file at {} yet: no counters.", status_file.display())?,
    }
    Ok(())
}

fn write_info(out: &mut impl Write, row: &Row) -> anyhow::Result<()> {
    writeln!(out, "id:             {}", row.installed.id())?;
    writeln!(out, "file:           {}", row.installed.file.display())?;
    writeln!(out, "state:          {}", row.state())?;
    match &row.installed.found {
        Ok(found) => {
            let description = &found.description;
            writeln!(out, "version:        {}", description.version)?;
            writeln!(out, "api version:    {}", found.api_version)?;
            writeln!(out, "language:       {}", description.language)?;
            writeln!(out, "content hash:   {}", found.content_hash)?;
            writeln!(out, "patterns:       {}", description.patterns.join(", "))?;
            let kinds =
                if description.kinds.is_empty() { "every event".to_owned() } else { description.kinds.join(", ") };
            writeln!(out, "event kinds:    {kinds}")?;
            for (name, default, about) in &description.config {
                writeln!(out, "setting:        {}.{name} = {} ({about})", description.id, default.to_json())?;
            }
        }
        Err(error) => writeln!(out, "error:          {error}")?,
    }
    let Some(status) = &row.status else {
        writeln!(out, "running:        no counters (no running host has reported this plugin)")?;
        return Ok(());
    };
    writeln!(out, "running:        {} ({})", status.version, status.content_hash)?;
    writeln!(out, "events seen:    {}", status.events_seen)?;
    writeln!(out, "insights:       {}", status.insights_emitted)?;
    writeln!(out, "time spent:     {}", micros(status.time_spent_us))?;
    writeln!(out, "failures:       {} (detector errors: {})", status.failures, status.detector_errors)?;
    writeln!(out, "quarantined:    {}", if status.quarantined { "yes" } else { "no" })?;
    writeln!(out, "swaps:          {}", status.swaps)?;
    if let Some(handover) = &status.last_handover {
        writeln!(out, "last swap:      {handover}")?;
    }
    if let Some(failure) = &status.last_failure {
        writeln!(out, "last failure:   {failure}")?;
    }
    if let Some(rejected) = &status.rejected {
        writeln!(out, "rejected:       {rejected}")?;
    }
    Ok(())
}

/// Where `run` writes plugin status, read by `plugins list`.
pub fn write_status(pipeline: &devloop_host::dispatch::Pipeline<'_>, path: &Path) {
    if let Err(error) = StatusFile::of(pipeline).write(path).context("plugin status not saved") {
        tracing::warn!("{error:#}");
    }
}
