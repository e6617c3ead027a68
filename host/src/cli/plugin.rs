//! `devloop-host plugin …`: working on one detector plugin (testing it against cases, or
//! scaffolding a new one with `plugin new`, in plugin_new.rs).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use devloop_host::harness::{self, Case};
use devloop_host::patterns::{self, PatternFile, RulesEngine};
use devloop_host::runtime::{Runtime, RuntimeConfig};

use super::plugin_new;

/// Work on one detector plugin.
#[derive(Debug, Args)]
pub struct Plugin {
    #[command(subcommand)]
    command: PluginCommand,
}

#[derive(Debug, Subcommand)]
enum PluginCommand {
    Test(Test),
    New(plugin_new::New),
}

impl Plugin {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        match self.command {
            PluginCommand::Test(command) => command.run(),
            PluginCommand::New(command) => command.run(),
        }
    }
}

/// Replays test cases through a plugin and compares its findings with what each case expects.
///
/// A case is a folder <pattern>/<case>/ with events.jsonl (one devloop-host event per line) and
/// expected.json (the findings as `run --format json` prints them; objects are matched as
/// subsets, `time` is ignored). CASES may be one case, a pattern folder, or a folder of pattern
/// folders (then only the plugin's own patterns run). Exits non-zero if any case fails.
#[derive(Debug, Args)]
struct Test {
    /// The plugin component (`.wasm`), or a pattern file (`.toml`).
    plugin: PathBuf,
    /// A case folder, a pattern folder of cases, or a folder of pattern folders.
    cases: PathBuf,
    /// Write each case's current findings as its expected.json (review the diff before committing).
    #[arg(long)]
    bless: bool,
    /// Run only cases whose name (`pattern/case`) contains this text.
    #[arg(long)]
    filter: Option<String>,
    /// Where compiled plugins are cached (default: ~/.cache/devloop-host/components).
    #[arg(long, env = "DEVLOOP_HOST_CACHE")]
    cache_dir: Option<PathBuf>,
    /// The rules detector that runs a pattern file (default: rules.wasm in the plugins folder).
    #[arg(long, env = "DEVLOOP_HOST_RULES")]
    rules: Option<PathBuf>,
}

impl Test {
    fn run(self) -> anyhow::Result<ExitCode> {
        let cache_dir = self.cache_dir.clone().or_else(super::default_cache_dir);
        let runtime = Runtime::new(RuntimeConfig { cache_dir, ..RuntimeConfig::default() })?;
        let pattern_file = self.pattern_file(&runtime)?;
        let patterns = match &pattern_file {
            Some((_, file)) => vec![file.pattern.id.clone()],
            None => source_patterns(&runtime, &self.plugin)
                .with_context(|| format!("failed to load detector plugin {}", self.plugin.display()))?,
        };
        let mut case_dirs = harness::discover(&self.cases, &patterns)?;
        if let Some(filter) = &self.filter {
            case_dirs.retain(|dir| dir.to_string_lossy().contains(filter.as_str()));
        }

        let (mut passed, mut failed) = (0, 0);
        for dir in case_dirs {
            let case = Case::read(&dir)?;
            let outcome = match &pattern_file {
                Some((engine, file)) => patterns::run_case(&runtime, engine, file, &case),
                None => harness::run_case(&runtime, &self.plugin, &case),
            }
            .with_context(|| format!("case {} could not run", case.name))?;
            if self.bless {
                let path = dir.join("expected.json");
                let text = serde_json::to_string_pretty(&outcome.actual)? + "\n";
                std::fs::write(&path, text).with_context(|| format!("failed to write {}", path.display()))?;
                println!("blessed  {} ({} finding(s))", case.name, outcome.actual.len());
                passed += 1;
            } else if outcome.passed() {
                println!("ok       {} ({} events, {} finding(s))", case.name, case.events.len(), outcome.actual.len());
                passed += 1;
            } else {
                println!("FAILED   {} ({} events)", case.name, case.events.len());
                for difference in &outcome.differences {
                    for (index, line) in difference.to_string().lines().enumerate() {
                        println!("{}{line}", if index == 0 { "  - " } else { "    " });
                    }
                }
                failed += 1;
            }
        }
        println!("\n{passed} passed, {failed} failed");
        Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
    }
}

impl Test {
    /// For a `.toml` plugin: the rules detector and the pattern it runs.
    fn pattern_file(&self, runtime: &Runtime) -> anyhow::Result<Option<(RulesEngine, PatternFile)>> {
        if self.plugin.extension().is_none_or(|extension| extension != "toml") {
            return Ok(None);
        }
        let file = PatternFile::read(&self.plugin)?;
        let rules = self
            .rules
            .clone()
            .unwrap_or_else(|| std::path::Path::new(super::DEFAULT_PLUGINS_DIR).join(patterns::ENGINE_FILE));
        let engine = RulesEngine::load(runtime, &rules).with_context(|| {
            format!("failed to load the rules detector {}; pass --rules or run `scripts/setup`", rules.display())
        })?;
        Ok(Some((engine, file)))
    }
}

/// The patterns the plugin declares, which pick its cases out of a folder of pattern folders.
fn source_patterns(runtime: &Runtime, plugin: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let source = runtime.load_file(plugin)?;
    let instance = runtime.instantiate(&source, &[])?;
    Ok(instance.description().patterns.clone())
}
