//! `devloop-host plugins`: one command for using detector plugins (what runs, from where, and
//! how it is doing; changes to the project's folder that a running host picks up) and for
//! writing them (`new` scaffolds one, `test` checks it against cases).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use devloop_host::config::StateDir;
use devloop_host::detectors::{self, Candidate, Search};
use devloop_host::dispatch::PluginStatus;
use devloop_host::escape::{self, terminal_line};
use devloop_host::hotswap::StatusFile;
use devloop_host::hotswap::folder;
use devloop_host::runtime::{Runtime, RuntimeConfig};

use super::ListFormat;
use super::project::ProjectArgs;
use super::{plugins_new, plugins_test};

/// Which detectors run and from where; add, remove and reload them; write new ones (`new`,
/// `test`).
///
/// The detectors compiled into devloop-host run unless a plugin folder holds one with the same
/// id: the project's (.devloop-host/plugins), then the user's (~/.config/devloop-host/plugins,
/// or $XDG_CONFIG_HOME/devloop-host/plugins). `add`, `remove` and `reload` change the project's
/// folder. A running `devloop-host run --follow` picks up every change to it: it compiles the
/// new version in the background and swaps it in between two batches.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  devloop-host plugins list                          every detector and where it comes from
  devloop-host plugins new slow-builds               write a detector of your own
  devloop-host plugins add slow_builds.wasm          run it in this project")]
pub struct Plugins {
    #[command(flatten)]
    project: ProjectArgs,
    /// Use exactly the detectors in this folder instead of the bundled ones and the project's
    /// and user's plugin folders.
    #[arg(long, global = true, env = "DEVLOOP_HOST_PLUGINS")]
    plugins: Option<PathBuf>,
    /// The status file a running host keeps up to date (default: `.status.json` in the
    /// project's plugins folder).
    #[arg(long, global = true, env = "DEVLOOP_HOST_STATUS")]
    status_file: Option<PathBuf>,
    /// Where compiled plugins are cached (default: ~/.cache/devloop-host/components).
    #[arg(long, global = true, env = "DEVLOOP_HOST_CACHE")]
    cache_dir: Option<PathBuf>,
    #[command(subcommand)]
    action: Action,
}

/// Where `run` and `plugins` look for detectors: exactly the `--plugins` folder when given,
/// else the bundled ones, overridden by the user's folder, overridden by the project's.
pub fn search(plugins: Option<PathBuf>, state: &StateDir) -> Search {
    match plugins {
        Some(folder) => Search::only(folder),
        None => Search::layered(state.plugins(), detectors::user_plugins_dir()),
    }
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Every detector: where it comes from (bundled, user, project), version, API, language,
    /// the running host's counters, and its state.
    #[command(after_help = "Examples:
  devloop-host plugins list
  devloop-host plugins list --format json | jq -r 'select(.source == \"project\") | .id'")]
    List {
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Everything about one detector: patterns, event kinds, settings, counters, last failure.
    #[command(after_help = "Examples:
  devloop-host plugins info command-repetition     its settings, to put in config.toml")]
    Info {
        /// The detector id (or, for a file that does not load, its file name).
        id: String,
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
    /// Checks a plugin and copies it into the project's plugins folder; a detector with the id
    /// of a bundled one runs instead of that one. A file in the folder that already holds the
    /// detector is replaced only with `--replace`.
    #[command(after_help = "Examples:
  devloop-host plugins add target/wasm32-wasip2/release/slow_builds.wasm
  devloop-host plugins add --replace slow_builds.wasm     install a new version over the old one")]
    Add {
        /// A `.wasm` detector component.
        file: PathBuf,
        /// Replace the installed file that holds the same detector (a new or older version).
        #[arg(long)]
        replace: bool,
    },
    /// Deletes a plugin from the project's folder; a running host unloads it.
    #[command(after_help = "Examples:
  devloop-host plugins remove slow-builds")]
    Remove {
        /// The detector id (or, for a file that does not load, its file name).
        id: String,
    },
    /// Makes a running host load a plugin again (all of them without ID), handing its state over.
    #[command(after_help = "Examples:
  devloop-host plugins reload slow-builds")]
    Reload {
        /// The detector id; every plugin when left out.
        id: Option<String>,
    },
    New(plugins_new::New),
    Test(plugins_test::Test),
}

/// Fails when `file` holds a detector that a different file in `dir` already holds: replacing
/// it is a decision (`--replace`), not a side effect of adding a file. A file that does not
/// load is left for [`folder::install`] to report.
fn refuse_to_replace(runtime: &Runtime, dir: &Path, file: &Path) -> anyhow::Result<()> {
    let Ok(detector) = folder::describe(runtime, file) else { return Ok(()) };
    let id = &detector.description.id;
    for plugin in folder::inventory(runtime, dir)? {
        let Ok(installed) = &plugin.found else { continue };
        if installed.description.id != *id || installed.content_hash == detector.content_hash {
            continue;
        }
        anyhow::bail!(
            "{} holds detector `{}` {}, which {} already holds ({}); nothing was installed. \
             Pass --replace to replace it, or `devloop-host plugins remove {}` first",
            file.display(),
            terminal_line(id),
            terminal_line(&detector.description.version),
            plugin.file.display(),
            terminal_line(&installed.description.version),
            terminal_line(id)
        );
    }
    Ok(())
}

/// A detector as the search found it, with what the running host last said about it.
struct Row {
    candidate: Candidate,
    status: Option<PluginStatus>,
}

impl Row {
    fn state(&self) -> String {
        match (&self.candidate.found, &self.status) {
            (Ok(_), _) if self.candidate.overridden_by.is_some() => "overridden".to_owned(),
            (Err(_), Some(status)) => format!("rejected, runs {}", status.version),
            (Err(_), None) => "broken".to_owned(),
            (Ok(_), Some(status)) if status.quarantined => "quarantined".to_owned(),
            (Ok(_), Some(PluginStatus { lagging: Some(behind), .. })) => format!("lagging ({behind} events behind)"),
            (Ok(found), Some(status)) if found.compiled.content_hash != status.content_hash => {
                "file changed".to_owned()
            }
            (Ok(_), Some(_)) => "loaded".to_owned(),
            (Ok(_), None) => "not loaded".to_owned(),
        }
    }

    fn json(&self) -> serde_json::Value {
        let mut object = serde_json::json!({
            "id": self.candidate.id(),
            "file": self.candidate.location,
            "source": self.candidate.origin.as_str(),
            "state": self.state(),
        });
        if let Some(winner) = &self.candidate.overridden_by {
            object["overridden_by"] = winner.clone().into();
        }
        match &self.candidate.found {
            Ok(found) => {
                let description = &found.description;
                object["version"] = description.version.clone().into();
                object["api_version"] = found.compiled.api_version.to_string().into();
                object["language"] = description.language.clone().into();
                object["content_hash"] = found.compiled.content_hash.clone().into();
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
                    ListFormat::Json => {
                        for row in &rows {
                            writeln!(out, "{}", escape::json(&row.json(), false))?;
                        }
                    }
                    ListFormat::Table => write_table(&mut out, &rows, status.as_ref(), &self.status_file())?,
                }
            }
            Action::Info { id, format } => {
                let (rows, _) = self.rows(&runtime)?;
                let matching: Vec<&Row> = rows.iter().filter(|row| row.candidate.id() == *id).collect();
                if matching.is_empty() {
                    anyhow::bail!("no plugin `{id}`; `devloop-host plugins list` shows every detector there is");
                }
                for row in matching {
                    match format {
                        ListFormat::Json => writeln!(out, "{}", escape::json(&row.json(), false))?,
                        ListFormat::Table => write_info(&mut out, row)?,
                    }
                }
            }
            Action::Add { file, replace } => {
                let dir = self.folder();
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create plugins folder {}", dir.display()))?;
                if !replace {
                    refuse_to_replace(&runtime, &dir, file)?;
                }
                let (target, detector) = folder::install(&runtime, &dir, file)?;
                let description = &detector.description;
                writeln!(out, "installed {} {} as {}", description.id, description.version, target.display())?;
                self.tell_about_host();
            }
            Action::Remove { id } => {
                let installed = folder::find(&runtime, &self.folder(), id);
                let bundled = || detectors::bundled(&runtime).iter().any(|candidate| candidate.id() == *id);
                if installed.is_err() && self.plugins.is_none() && bundled() {
                    anyhow::bail!(
                        "`{id}` is bundled with devloop-host, not in {}; to stop it running, add it to \
                         `disabled_detectors` in {}",
                        self.folder().display(),
                        self.project.state().config_file().display()
                    );
                }
                for plugin in installed? {
                    folder::remove(&plugin.file)?;
                    writeln!(out, "removed {} ({})", plugin.id(), plugin.file.display())?;
                }
                self.tell_about_host();
            }
            Action::Reload { id } => {
                let plugins = match id {
                    Some(id) => folder::find(&runtime, &self.folder(), id)?,
                    None => folder::inventory(&runtime, &self.folder())?,
                };
                for plugin in plugins {
                    folder::touch(&plugin.file)?;
                    writeln!(out, "reload requested for {} ({})", plugin.id(), plugin.file.display())?;
                }
                self.tell_about_host();
            }
            Action::New(new) => return new.run(),
            Action::Test(test) => return test.run(&runtime),
        }
        out.flush()?;
        Ok(ExitCode::SUCCESS)
    }

    /// The folder `add`, `remove` and `reload` change.
    fn folder(&self) -> PathBuf {
        self.plugins.clone().unwrap_or_else(|| self.project.state().plugins())
    }

    fn status_file(&self) -> PathBuf {
        self.status_file.clone().unwrap_or_else(|| super::default_status_file(&self.folder()))
    }

    /// Every detector the search finds, with the running host's status of each, matched by
    /// file name.
    fn rows(&self, runtime: &Runtime) -> anyhow::Result<(Vec<Row>, Option<StatusFile>)> {
        let state = self.project.state();
        let mut candidates = detectors::discover(runtime, &search(self.plugins.clone(), &state))?;
        candidates.extend(devloop_host::patterns::candidates(
            runtime,
            &devloop_host::patterns::default_folders(self.plugins.as_deref().unwrap_or(&state.plugins())),
        ));
        let status = StatusFile::read(&self.status_file()).unwrap_or_else(|error| {
            tracing::warn!("{error:#}");
            None
        });
        let rows = candidates
            .into_iter()
            .map(|candidate| {
                let status = status.as_ref().and_then(|status| {
                    status
                        .plugins
                        .iter()
                        .find(|plugin| same_name(&plugin.file, Path::new(&candidate.location)))
                        .cloned()
                });
                Row { candidate, status }
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
        "{:<24} {:<9} {:<5} {:<8} {:>9} {:>8} {:>8} {:>8} {:<14} {:<8} FILE",
        "ID", "VERSION", "API", "LANG", "EVENTS", "INSIGHTS", "CPU", "FAILURES", "STATE", "SOURCE"
    )?;
    for row in rows {
        let (version, api, language) = match &row.candidate.found {
            Ok(found) => (
                found.description.version.clone(),
                found.compiled.api_version.to_string(),
                found.description.language.clone(),
            ),
            Err(_) => ("-".to_owned(), "-".to_owned(), "-".to_owned()),
        };
        // CPU time, what the detector cost: the wall time of its calls also counts the time the
        // machine gave the other detectors' threads (`plugins info` shows both).
        let (events, insights, cpu, failures) = match &row.status {
            Some(status) => (
                status.events_seen.to_string(),
                status.insights_emitted.to_string(),
                micros(status.cpu_time_us),
                status.failures.to_string(),
            ),
            None => ("-".to_owned(), "-".to_owned(), "-".to_owned(), "-".to_owned()),
        };
        writeln!(
            out,
            "{:<24} {:<9} {:<5} {:<8} {:>9} {:>8} {:>8} {:>8} {:<14} {:<8} {}",
            terminal_line(&row.candidate.id()),
            terminal_line(&version),
            api,
            terminal_line(&language),
            events,
            insights,
            cpu,
            failures,
            row.state(),
            row.candidate.origin,
            row.candidate.location
        )?;
    }
    for row in rows {
        if let Some(status) = row.status.as_ref().filter(|status| status.quarantined) {
            let reason = status.quarantine_reason.as_ref().or(status.last_failure.as_ref());
            writeln!(
                out,
                "\n{} is quarantined: {}",
                terminal_line(&row.candidate.id()),
                terminal_line(reason.map_or("failures in a row", String::as_str))
            )?;
        }
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
    writeln!(out, "id:             {}", terminal_line(&row.candidate.id()))?;
    writeln!(out, "file:           {}", row.candidate.location)?;
    writeln!(out, "source:         {}", row.candidate.origin)?;
    if let Some(winner) = &row.candidate.overridden_by {
        writeln!(out, "overridden by:  {winner}")?;
    }
    writeln!(out, "state:          {}", row.state())?;
    match &row.candidate.found {
        Ok(found) => {
            let description = &found.description;
            writeln!(out, "version:        {}", terminal_line(&description.version))?;
            writeln!(out, "api version:    {}", found.compiled.api_version)?;
            writeln!(out, "language:       {}", terminal_line(&description.language))?;
            writeln!(out, "content hash:   {}", found.compiled.content_hash)?;
            writeln!(out, "patterns:       {}", terminal_line(&description.patterns.join(", ")))?;
            let kinds =
                if description.kinds.is_empty() { "every event".to_owned() } else { description.kinds.join(", ") };
            writeln!(out, "event kinds:    {}", terminal_line(&kinds))?;
            for (name, default, about) in &description.config {
                let setting = format!("{}.{name} = {} ({about})", description.id, default.to_json());
                writeln!(out, "setting:        {}", terminal_line(&setting))?;
            }
        }
        Err(error) => writeln!(out, "error:          {}", terminal_line(&error.to_string()))?,
    }
    let Some(status) = &row.status else {
        writeln!(out, "running:        no counters (no running host has reported this plugin)")?;
        return Ok(());
    };
    writeln!(out, "running:        {} ({})", status.version, status.content_hash)?;
    writeln!(out, "events seen:    {}", status.events_seen)?;
    writeln!(out, "insights:       {}", status.insights_emitted)?;
    writeln!(out, "time spent:     {}", micros(status.time_spent_us))?;
    writeln!(out, "CPU time:       {}", micros(status.cpu_time_us))?;
    writeln!(out, "failures:       {} (detector errors: {})", status.failures, status.detector_errors)?;
    let quarantined = match (&status.quarantine_reason, status.quarantined) {
        (Some(reason), true) => format!("yes: {}", terminal_line(reason)),
        (None, true) => "yes".to_owned(),
        (_, false) => "no".to_owned(),
    };
    writeln!(out, "quarantined:    {quarantined}")?;
    writeln!(out, "undeclared:     {} insight(s) rejected", status.undeclared_rejected)?;
    writeln!(out, "log dropped:    {} record(s)", status.log_records_dropped)?;
    writeln!(out, "swaps:          {}", status.swaps)?;
    if let Some(handover) = &status.last_handover {
        writeln!(out, "last swap:      {handover}")?;
    }
    if let Some(failure) = &status.last_failure {
        writeln!(out, "last failure:   {}", terminal_line(failure))?;
    }
    if let Some(rejected) = &status.rejected {
        writeln!(out, "rejected:       {}", terminal_line(rejected))?;
    }
    Ok(())
}

/// Where `run` writes plugin status, read by `plugins list`.
pub fn write_status(pipeline: &devloop_host::dispatch::Pipeline<'_>, path: &Path) {
    if let Err(error) = StatusFile::of(pipeline).write(path).context("plugin status not saved") {
        tracing::warn!("{error:#}");
    }
}
