//! `devloop-host plugins test`: replays test cases through one detector plugin and compares
//! its findings with what each case expects.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use devloop_host::harness::{self, Case};
use devloop_host::patterns::{self, PatternFile, RulesEngine};
use devloop_host::runtime::Runtime;

/// Replays test cases through a plugin and compares its findings with what each case expects.
///
/// A case is a folder <pattern>/<case>/ with events.jsonl (one devloop-host event per line) and
/// expected.json (the findings as `run --format json` prints them; objects are matched as
/// subsets, `time` is ignored). CASES may be one case, a pattern folder, or a folder of pattern
/// folders (then only the plugin's own patterns run). Exits non-zero if any case fails.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  devloop-host plugins test target/wasm32-wasip2/release/slow_builds.wasm cases
  devloop-host plugins test slow_builds.wasm cases/slow_builds/starter --bless
  devloop-host plugins test .devloop-host/patterns/init-rerun.toml cases")]
pub struct Test {
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
    /// The rules detector that runs a pattern file (default: the one compiled into devloop-host).
    #[arg(long, env = "DEVLOOP_HOST_RULES")]
    rules: Option<PathBuf>,
}

impl Test {
    pub fn run(&self, runtime: &Runtime) -> anyhow::Result<ExitCode> {
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        let pattern_file = self.pattern_file(runtime)?;
        let patterns = match &pattern_file {
            Some((_, file)) => vec![file.pattern.id.clone()],
            None => source_patterns(runtime, &self.plugin)
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
                Some((engine, file)) => patterns::run_case(runtime, engine, file, &case),
                None => harness::run_case(runtime, &self.plugin, &case),
            }
            .with_context(|| format!("case {} could not run", case.name))?;
            if self.bless {
                let path = dir.join("expected.json");
                let text = serde_json::to_string_pretty(&outcome.actual)? + "\n";
                std::fs::write(&path, text).with_context(|| format!("failed to write {}", path.display()))?;
                writeln!(out, "blessed  {} ({} finding(s))", case.name, outcome.actual.len())?;
                passed += 1;
            } else if outcome.passed() {
                writeln!(
                    out,
                    "ok       {} ({} events, {} finding(s))",
                    case.name,
                    case.events.len(),
                    outcome.actual.len()
                )?;
                passed += 1;
            } else {
                writeln!(out, "FAILED   {} ({} events)", case.name, case.events.len())?;
                for difference in &outcome.differences {
                    for (index, line) in difference.to_string().lines().enumerate() {
                        writeln!(out, "{}{line}", if index == 0 { "  - " } else { "    " })?;
                    }
                }
                failed += 1;
            }
        }
        writeln!(out, "\n{passed} passed, {failed} failed")?;
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
        let engine = match &self.rules {
            Some(rules) => RulesEngine::load(runtime, rules)
                .with_context(|| format!("failed to load the rules detector {}", rules.display()))?,
            None => RulesEngine::bundled(runtime).context("failed to load the bundled rules detector")?,
        };
        Ok(Some((engine, file)))
    }
}

/// The patterns the plugin declares, which pick its cases out of a folder of pattern folders.
fn source_patterns(runtime: &Runtime, plugin: &Path) -> anyhow::Result<Vec<String>> {
    let compiled = runtime.load_file(plugin)?;
    let instance = runtime.instantiate(&compiled, &[])?;
    Ok(instance.description().patterns.clone())
}
