//! The rules detector: one declarative pattern file, run as a sandboxed detector.
//!
//! A pattern file (TOML, one pattern per file) says what to look for — a **count** of events
//! per key in a sliding span, a **sequence** of steps per key, the **absence** of a follow-up,
//! or a **metric** far from the key's own usual value — and what to say when it is found. This
//! crate is the whole language: [`Pattern::parse`] reads and checks a file (every error names
//! its line), and [`Engine`] runs it over events in event time.
//!
//! It builds two ways. Natively it is a library, so `devloop-host patterns check` validates
//! files without a sandbox. For `wasm32-wasip2` it is a detector component: the host loads it
//! once per pattern file, hands it the file's text as the `pattern` setting, and gives each
//! pattern its own identity (id, state, status, quarantine). The component reads nothing but
//! what the host hands it.
//!
//! ```
//! use devloop_plugin_sdk::prelude::*;
//! use rules::{Engine, Pattern};
//!
//! let pattern = Pattern::parse(r#"
//! id = "init_rerun"
//! title = "devloop init run again within a day"
//! description = "Re-running init means the first run did not leave a working setup."
//! severity = "warning"
//! message = "`{command}` was run {count} times in {span} by {who}"
//! recommendation = "Make `devloop init` say what it set up and what is left to do."
//! confidence = { base = 0.7 }
//!
//! [match]
//! kind = "count"
//! group_by = ["who"]
//! within = "1d"
//! at_least = 2
//! where = { kind = "cli.command", subject = { glob = "init*" } }
//! "#, "init_rerun.toml").expect("a valid pattern");
//!
//! let mut engine = Engine::new(pattern);
//! let mut found = Vec::new();
//! engine.on_event(&Event::at(1, 0, "cli.command").subject("init").actor("dev"), &mut found);
//! engine.on_event(&Event::at(2, 3_600_000, "cli.command").subject("init --force").actor("dev"), &mut found);
//! assert_eq!(found[0].message, "`init --force` was run 2 times in 1h by dev");
//! ```

mod compile;
mod duration;
mod engine;
mod error;
mod filter;
mod settings;
mod spec;
mod template;
#[cfg(test)]
mod tests;

use devloop_plugin_sdk::prelude::*;

pub use compile::{Confidence, Escalate, KeyPart, Matcher, Pattern};
pub use engine::Engine;
pub use error::{PatternError, line_column};
pub use filter::BUILT_IN_FIELDS;
pub use settings::{SettingsError, THRESHOLDS, overrides};

/// The id the rules component describes itself with; the host gives each pattern its own.
pub const ENGINE_ID: &str = "rules";

/// The setting that carries the pattern file's text.
pub const PATTERN_SETTING: &str = "pattern";

/// The setting that names where the text came from, for error messages.
pub const ORIGIN_SETTING: &str = "origin";

/// The setting that carries the pattern's own settings (`[detectors.ID]`, `--set`): a TOML
/// table of thresholds that replace the file's.
pub const OVERRIDES_SETTING: &str = "overrides";

/// A kind no event has: an engine given no pattern asks the host for nothing.
const NO_EVENTS: &str = "rules.no-pattern";

/// The detector: idle until configured with a pattern, then that pattern's engine.
#[derive(Default)]
pub struct RulesDetector {
    engine: Option<Engine>,
}

impl Detector for RulesDetector {
    fn info() -> DetectorInfo {
        DetectorInfo::new(ENGINE_ID, env!("CARGO_PKG_VERSION"))
            .kinds([NO_EVENTS])
            .setting(PATTERN_SETTING, "", "The pattern file's text (TOML); the host sets it from the file.")
            .setting(ORIGIN_SETTING, "pattern.toml", "Where the pattern came from, to name it in errors.")
            .setting(
                OVERRIDES_SETTING,
                "",
                "The pattern's settings as a TOML table: thresholds that replace the file's.",
            )
    }

    fn configure(&mut self, settings: &Settings) -> Result<(), String> {
        let text = settings.text(PATTERN_SETTING)?;
        if text.trim().is_empty() {
            return Err("no pattern given: the rules detector runs the pattern file passed as `pattern`".to_owned());
        }
        let origin = settings.text(ORIGIN_SETTING)?;
        let overrides = overrides(&settings.text(OVERRIDES_SETTING)?).map_err(|error| error.to_string())?;
        let pattern = Pattern::parse_with(&text, &origin, &overrides).map_err(|error| error.to_string())?;
        self.engine = Some(Engine::new(pattern));
        Ok(())
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<Insight>) -> Result<(), String> {
        if let Some(engine) = &mut self.engine {
            engine.on_event(event, out);
        }
        Ok(())
    }

    fn on_tick(&mut self, now_ms: i64, out: &mut Vec<Insight>) -> Result<(), String> {
        if let Some(engine) = &mut self.engine {
            engine.on_tick(now_ms, out);
        }
        Ok(())
    }

    fn snapshot(&self) -> Option<Vec<u8>> {
        self.engine.as_ref().and_then(Engine::snapshot)
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        match &mut self.engine {
            Some(engine) => engine.restore(state),
            None => Err("no pattern configured to restore state into".to_owned()),
        }
    }
}

export_detector!(RulesDetector);
