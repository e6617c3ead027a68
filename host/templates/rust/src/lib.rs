//! {{id}}: a devloop-host detector in Rust.
//!
//! It reports a command that keeps failing: `min_failures` failed runs of the same command
//! line. Replace the logic in `on_event` with the pattern you are after.
//!
//! Build: cargo build --release --target wasm32-wasip2
//! (writes target/wasm32-wasip2/release/{{crate}}.wasm)

use std::collections::BTreeMap;

use devloop_plugin_sdk::prelude::*;
use devloop_plugin_sdk::state;

const PATTERN: &str = "{{pattern}}";

pub struct Starter {
    min_failures: usize,
    /// Ids of each command's failed runs.
    failures: BTreeMap<String, Vec<u64>>,
}

impl Default for Starter {
    fn default() -> Self {
        Starter { min_failures: 2, failures: BTreeMap::new() }
    }
}

impl Detector for Starter {
    fn info() -> DetectorInfo {
        DetectorInfo::new("{{id}}", env!("CARGO_PKG_VERSION"))
            .pattern(PATTERN)
            .kinds(["cli.command"])
            .setting("min_failures", 2_i64, "Failed runs of one command that make a finding.")
    }

    fn configure(&mut self, settings: &Settings) -> Result<(), String> {
        self.min_failures = settings.integer_at_least("min_failures", 1)? as usize;
        Ok(())
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<Insight>) -> Result<(), String> {
        let command = event.subject_or_empty();
        if !event.failed() || command.is_empty() {
            return Ok(());
        }
        let ids = self.failures.entry(command.to_owned()).or_default();
        ids.push(event.id);
        if ids.len() != self.min_failures {
            return Ok(());
        }
        let mut insight = Insight::new(PATTERN, command)
            .severity(Severity::Warning)
            .confidence(0.7)
            .message(format!("`{command}` failed {} times", ids.len()))
            .recommendation(format!("Find out why `{command}` fails and make its error say what to do next."))
            .evidence("command", command)
            .at(event.time_ms);
        for id in ids.iter() {
            insight = insight.event_id(*id, event.time_ms);
        }
        if let Some(thread) = &event.thread_id {
            insight = insight.thread(thread.clone());
        }
        out.push(insight);
        Ok(())
    }

    fn snapshot(&self) -> Option<Vec<u8>> {
        state::save(&self.failures)
    }

    fn restore(&mut self, saved: &[u8]) -> Result<(), String> {
        self.failures = state::load(saved)?;
        Ok(())
    }
}

export_detector!(Starter);
