//! `devloop-host doctor`: checks a project's setup the way a run would meet it, and says what
//! to fix, so a problem shows up before a run that finds nothing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use clap::Args;

use devloop_host::config::{ConfigFile, StateDir, settings};
use devloop_host::detectors::{self, Candidate, Origin};
use devloop_host::routing::{RoutingConfig, SinkKind};
use devloop_host::runtime::{LoadError, Runtime, RuntimeConfig};

use super::project::ProjectArgs;

/// Checks the sources, the plugins, the state folder, the config file and `bd`, and says what
/// to fix. Exits 1 when something must be fixed before `run` can do its job.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  devloop-host doctor                               the project in this folder
  devloop-host doctor --devloop-dir ~/src/app/.devloop")]
pub struct Doctor {
    #[command(flatten)]
    project: ProjectArgs,
    /// Check exactly the detectors in this folder instead of the bundled ones and the
    /// project's and user's plugin folders.
    #[arg(long, env = "DEVLOOP_HOST_PLUGINS")]
    plugins: Option<PathBuf>,
    /// Where compiled plugins are cached (default: ~/.cache/devloop-host/components).
    #[arg(long, env = "DEVLOOP_HOST_CACHE")]
    cache_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Ok,
    /// Worth knowing; nothing to fix.
    Note,
    /// Must be fixed.
    Problem,
}

struct Report {
    lines: Vec<(Verdict, &'static str, String)>,
}

impl Report {
    fn add(&mut self, verdict: Verdict, area: &'static str, message: impl Into<String>) {
        self.lines.push((verdict, area, message.into()));
    }

    fn problems(&self) -> usize {
        self.lines.iter().filter(|(verdict, _, _)| *verdict == Verdict::Problem).count()
    }
}

impl Doctor {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let mut report = Report { lines: Vec::new() };
        let state = self.project.state();

        let config = match ConfigFile::load_or_default(&state.config_file()) {
            Ok(config) if config.path.is_none() => {
                report.add(
                    Verdict::Note,
                    "config",
                    format!(
                        "no {}; every setting is at its default (`devloop-host init` writes one)",
                        path(&state.config_file())
                    ),
                );
                Some(config)
            }
            Ok(config) => {
                report.add(Verdict::Ok, "config", format!("{} reads", path(&state.config_file())));
                Some(config)
            }
            Err(error) => {
                report.add(Verdict::Problem, "config", format!("{error:#}"));
                None
            }
        };

        let home = config.as_ref().and_then(|config| config.config.sources.home_devloop_dir_in(state.project()));
        check_sources(&mut report, &self.project, home);

        let cache_dir = self.cache_dir.clone().or_else(super::default_cache_dir);
        let runtime = Runtime::new(RuntimeConfig { cache_dir, ..RuntimeConfig::default() })?;
        let search = super::plugins::search(self.plugins.clone(), &state);
        match detectors::discover(&runtime, &search) {
            Ok(candidates) => {
                check_plugins(&mut report, &candidates);
                if let Some(config) = &config {
                    let folders =
                        devloop_host::patterns::default_folders(self.plugins.as_deref().unwrap_or(&state.plugins()));
                    let patterns = devloop_host::patterns::discover(&folders).unwrap_or_default();
                    check_settings(&mut report, &runtime, config, &candidates, &patterns);
                }
            }
            Err(error) => report.add(Verdict::Problem, "plugins", format!("{error:#}")),
        }

        check_state(&mut report, &state);
        if let Some(config) = &config {
            match super::insights::routing(&state, config, None) {
                Ok(routing) => check_bd(&mut report, &routing),
                Err(error) => report.add(Verdict::Problem, "routing", format!("{error:#}")),
            }
        }

        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        for (verdict, area, message) in &report.lines {
            let mark = match verdict {
                Verdict::Ok => "ok",
                Verdict::Note => "note",
                Verdict::Problem => "PROBLEM",
            };
            writeln!(out, "{mark:<8} {area:<8} {message}")?;
        }
        let problems = report.problems();
        if problems == 0 {
            writeln!(out, "\nNo problems: `devloop-host run` is ready.")?;
            Ok(ExitCode::SUCCESS)
        } else {
            writeln!(out, "\n{problems} problem(s) to fix (see PROBLEM above).")?;
            Ok(ExitCode::FAILURE)
        }
    }
}

fn path(path: &Path) -> String {
    path.display().to_string()
}

fn check_sources(report: &mut Report, project: &ProjectArgs, home: Option<PathBuf>) {
    let dirs = match project.devloop_dirs(home) {
        Ok(dirs) => dirs,
        Err(error) => {
            report.add(Verdict::Problem, "sources", format!("{error:#}"));
            return;
        }
    };
    let found: Vec<String> = dirs
        .readers()
        .iter()
        .map(|reader| reader.slot().path.clone())
        .filter(|path| path.exists())
        .map(|found| found.display().to_string())
        .collect();
    if found.is_empty() {
        report.add(
            Verdict::Note,
            "sources",
            format!("devloop has written no logs under {} yet; a run finds nothing", dirs.project.display()),
        );
    } else {
        report.add(Verdict::Ok, "sources", format!("{} log(s): {}", found.len(), found.join(", ")));
    }
}

fn check_plugins(report: &mut Report, candidates: &[Candidate]) {
    let count =
        |origin: Origin| candidates.iter().filter(|candidate| candidate.runs() && candidate.origin == origin).count();
    let running = candidates.iter().filter(|candidate| candidate.runs()).count();
    if running == 0 {
        report.add(Verdict::Problem, "plugins", "no detector loads; `devloop-host plugins list` shows why");
    } else {
        report.add(
            Verdict::Ok,
            "plugins",
            format!(
                "{running} detector(s) run: {} bundled, {} from the user's folder, {} from the project's",
                count(Origin::Bundled),
                count(Origin::User),
                count(Origin::Project)
            ),
        );
    }
    for candidate in candidates {
        match (&candidate.found, &candidate.overridden_by) {
            (Err(error), _) => report.add(
                Verdict::Problem,
                "plugins",
                format!("{error}; rebuild it, or remove it with `devloop-host plugins remove {}`", candidate.id()),
            ),
            (Ok(_), Some(winner)) => report.add(
                Verdict::Note,
                "plugins",
                format!("{} ({}) is overridden by {winner}", candidate.id(), candidate.location),
            ),
            (Ok(_), None) => {}
        }
    }
}

/// The config file's detector settings, for the detectors and the pattern files `run` loads.
fn check_settings(
    report: &mut Report,
    runtime: &Runtime,
    config: &ConfigFile,
    candidates: &[Candidate],
    patterns: &[devloop_host::patterns::Discovered],
) {
    let running: Vec<_> = candidates
        .iter()
        .filter(|candidate| candidate.runs())
        .filter_map(|candidate| candidate.found.as_ref().ok())
        .collect();
    let known: Vec<&str> = running
        .iter()
        .map(|found| found.description.id.as_str())
        .chain(patterns.iter().filter_map(|pattern| pattern.found.as_ref().ok()).map(|file| file.pattern.id.as_str()))
        .collect();
    match config.disabled_detectors(&known) {
        Ok(disabled) if !disabled.is_empty() => {
            report.add(Verdict::Note, "settings", format!("disabled in the config file: {}", disabled.join(", ")));
        }
        Ok(_) => {}
        Err(error) => report.add(Verdict::Problem, "settings", error.to_string()),
    }
    let pattern_files: Vec<_> = patterns.iter().filter_map(|pattern| pattern.found.as_ref().ok()).collect();
    let pattern_descriptions: Vec<_> = pattern_files.iter().map(|file| file.description()).collect();
    let descriptions: Vec<_> = running.iter().map(|found| &found.description).chain(&pattern_descriptions).collect();
    let given = config.detector_settings();
    let settings = match settings::resolve(&given, &descriptions) {
        Ok(settings) => settings,
        Err(error) => {
            report.add(Verdict::Problem, "settings", error.to_string());
            return;
        }
    };
    for found in running {
        let Some(fields) = settings.get(&found.description.id) else { continue };
        if let Err(LoadError::Configure { reason, .. }) = runtime.instantiate(&found.compiled, fields) {
            report.add(
                Verdict::Problem,
                "settings",
                format!("detector `{}` refused its settings: {reason}", found.description.id),
            );
        }
    }
    for file in pattern_files {
        let Some(fields) = settings.get(&file.pattern.id) else { continue };
        if let Err(error) = file.settings(fields) {
            report.add(
                Verdict::Problem,
                "settings",
                format!("pattern `{}` refused its settings: {error}", file.pattern.id),
            );
        }
    }
    if !given.is_empty() && report.lines.last().is_none_or(|(_, area, _)| *area != "settings") {
        report.add(Verdict::Ok, "settings", format!("{} detector setting(s) accepted", given.len()));
    }
}

fn check_state(report: &mut Report, state: &StateDir) {
    let folder = state.path();
    if !folder.exists() {
        report.add(
            Verdict::Note,
            "state",
            format!("{} does not exist yet; the first `devloop-host run` creates it", folder.display()),
        );
        return;
    }
    let probe = folder.join(format!(".doctor-{}", std::process::id()));
    match std::fs::write(&probe, b"") {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
            let runs = if state.insights_db().exists() { "a run has stored its state" } else { "no run yet" };
            report.add(Verdict::Ok, "state", format!("{} is writable; {runs}", folder.display()));
        }
        Err(error) => report.add(
            Verdict::Problem,
            "state",
            format!("cannot write in {} ({error}); fix its permissions or pass --state-dir", folder.display()),
        ),
    }
}

fn check_bd(report: &mut Report, routing: &RoutingConfig) {
    let routed = routing.rules.iter().any(|rule| rule.sinks.contains(&SinkKind::Beads));
    let program = std::env::var_os("BD_BIN")
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
        .or_else(|| routing.beads.bin.clone())
        .unwrap_or_else(|| PathBuf::from("bd"));
    let answer = Command::new(&program).arg("version").stdin(Stdio::null()).stderr(Stdio::null()).output();
    match answer {
        Ok(output) if output.status.success() => {
            let version = String::from_utf8_lossy(&output.stdout).lines().next().unwrap_or_default().trim().to_owned();
            report.add(Verdict::Ok, "bd", format!("`{}` answers: {version}", program.display()));
        }
        _ if routed => report.add(
            Verdict::Problem,
            "bd",
            format!(
                "a routing rule files findings in beads, but `{} version` does not run; install beads, or point \
                 BD_BIN or `[routing.beads] bin` at it",
                program.display()
            ),
        ),
        _ => report.add(
            Verdict::Note,
            "bd",
            format!("`{}` not found; only needed when a routing rule sends findings to beads", program.display()),
        ),
    }
}
