//! `devloop-host init`: a commented config file naming every setting there is, so nobody has
//! to look a key up before changing it.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;

use devloop_host::detectors::{self, Candidate};
use devloop_host::model::Value;
use devloop_host::runtime::{Limits, Runtime, RuntimeConfig};

use super::project::ProjectArgs;

/// Writes .devloop-host/config.toml beside the project's .devloop: every detector's settings
/// with their defaults, the limits, the sources and routing, all commented out.
///
/// Uncomment a line to change a setting; the command line still overrides the file for one
/// run. Unknown keys and wrong values are errors naming the file and line, so a typo never
/// goes unnoticed. `devloop-host doctor` checks the file and the rest of the setup.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  devloop-host init                                 in the folder holding .devloop
  devloop-host init --devloop-dir ~/src/app/.devloop
  devloop-host init --force && devloop-host doctor")]
pub struct Init {
    #[command(flatten)]
    project: ProjectArgs,
    /// Replace an existing config file.
    #[arg(long)]
    force: bool,
    /// Where compiled plugins are cached (default: ~/.cache/devloop-host/components).
    #[arg(long, env = "DEVLOOP_HOST_CACHE")]
    cache_dir: Option<PathBuf>,
}

/// What `init` writes beside the state, so the shared parts can be committed and the rest not.
const GITIGNORE: &str = "# devloop-host's state for this project: config.toml and plugins/ are meant to be shared.\n\
                         *.db\n*.db-*\n*.lock\nplugins/.status.json\n";

impl Init {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let state = self.project.state();
        let path = state.config_file();
        if path.exists() && !self.force {
            bail!("{} already exists; edit it, or pass --force to write a fresh one", path.display());
        }
        let cache_dir = self.cache_dir.or_else(super::default_cache_dir);
        let runtime = Runtime::new(RuntimeConfig { cache_dir, ..RuntimeConfig::default() })?;
        let search = super::plugins::search(None, &state);
        let candidates = detectors::discover(&runtime, &search)?;
        std::fs::create_dir_all(state.path())
            .with_context(|| format!("cannot create the state folder {}", state.path().display()))?;
        std::fs::write(&path, commented_config(&candidates))
            .with_context(|| format!("cannot write {}", path.display()))?;
        let gitignore = state.path().join(".gitignore");
        if !gitignore.exists() {
            std::fs::write(&gitignore, GITIGNORE).with_context(|| format!("cannot write {}", gitignore.display()))?;
        }
        let mut out = std::io::stdout().lock();
        writeln!(out, "wrote {}", path.display())?;
        writeln!(out, "next: `devloop-host doctor` checks the setup, `devloop-host run` looks for problems")?;
        Ok(ExitCode::SUCCESS)
    }
}

/// A value as it is written in TOML.
fn toml_text(value: &Value) -> String {
    match value {
        Value::Boolean(flag) => flag.to_string(),
        Value::Integer(integer) => integer.to_string(),
        Value::Float(float) => toml::Value::Float(*float).to_string(),
        Value::Text(text) => toml::Value::String(text.clone()).to_string(),
        Value::Texts(texts) => toml::Value::Array(texts.iter().cloned().map(toml::Value::String).collect()).to_string(),
        Value::Json(json) => toml::Value::String(json.clone()).to_string(),
    }
}

fn commented_config(candidates: &[Candidate]) -> String {
    let limits = Limits::default();
    let mut text = String::from(
        "# devloop-host settings for this project. Every key is optional; the command line overrides\n\
         # them for one run (`devloop-host run --help`). Unknown keys and wrong values are errors\n\
         # naming this file and the line. `devloop-host doctor` checks the file.\n\n\
         # Detectors that do not run, by id (`devloop-host plugins list` shows the ids).\n\
         # disabled_detectors = [\"metric-anomaly\"]\n\n\
         # Detector settings, by detector id (`devloop-host plugins info ID` describes each one).\n",
    );
    for candidate in candidates.iter().filter(|candidate| candidate.runs()) {
        let Ok(found) = &candidate.found else { continue };
        let description = &found.description;
        if description.config.is_empty() {
            continue;
        }
        let _ = writeln!(
            text,
            "\n# [detectors.{}]   # {} {}, {}",
            description.id, description.language, description.version, candidate.origin
        );
        for (name, default, about) in &description.config {
            let _ = writeln!(text, "# {name} = {}   # {about}", toml_text(default));
        }
    }
    let _ = write!(
        text,
        "\n[limits]\n\
         # batch_size = {}   # events per plugin call\n\
         # deadline_ms = {}   # wall time one plugin call may take\n\
         # memory_mib = {}   # memory one plugin may use\n\
         # cpu_base_ms = {}   # CPU time one plugin may use over a run…\n\
         # cpu_per_event_us = {}   # …plus this much for every event it is given\n\n\
         [sources]\n\
         # home_devloop_dir = \"~/.devloop\"   # where devloop logs CLI actions and Amp threads\n\
         # strict = false   # a malformed log record is an error instead of skipped\n\n\
         # Where new and materially changed findings go (`devloop-host insights --help`).\n\
         # Without rules, every one goes to the terminal.\n\
         # [[routing.rule]]\n\
         # sinks = [\"terminal\"]\n\
         #\n\
         # [[routing.rule]]\n\
         # min_severity = \"warning\"\n\
         # min_confidence = 0.7\n\
         # sinks = [\"beads\", \"jsonl\"]\n\
         #\n\
         # [routing.jsonl]\n\
         # path = \".devloop-host/findings.jsonl\"\n\
         #\n\
         # [routing.beads]\n\
         # parent = \"proj-a1b2\"   # filed issues are `discovered-from` it\n\
         # labels = [\"ux\"]\n",
        devloop_host::dispatch::DEFAULT_BATCH_SIZE,
        limits.call_deadline.as_millis(),
        limits.memory_bytes >> 20,
        limits.budget.cpu_base.as_millis(),
        limits.budget.cpu_per_event.as_micros(),
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commented_config_parses_as_it_is_and_with_every_line_uncommented() -> anyhow::Result<()> {
        let written = commented_config(&[]);
        devloop_host::config::ConfigFile::parse(written.clone(), std::path::Path::new("config.toml"))?;
        let uncommented: String = written
            .lines()
            .filter(|line| !line.starts_with("# ") || line.contains(" = ") || line.starts_with("# ["))
            .map(|line| line.strip_prefix("# ").unwrap_or(line))
            .filter(|line| !line.starts_with("devloop-host") && !line.starts_with('#'))
            .map(|line| line.split("   #").next().unwrap_or(line).to_owned() + "\n")
            .collect();
        let file = devloop_host::config::ConfigFile::parse(uncommented, std::path::Path::new("config.toml"))?;
        assert_eq!(file.config.limits.batch_size, Some(devloop_host::dispatch::DEFAULT_BATCH_SIZE));
        assert!(file.config.routing.is_some());
        Ok(())
    }
}
