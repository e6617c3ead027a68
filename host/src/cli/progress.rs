//! A progress line on stderr while a replay runs, so a first run over weeks of logs does not
//! look hung. Only on a terminal and never with `-q`: piped stderr stays a plain log.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The replay's progress line; it clears itself when the replay has caught up or stops.
pub struct Replay {
    bar: Option<ProgressBar>,
}

impl Replay {
    pub fn start(detectors: usize) -> Replay {
        let visible = std::io::stderr().is_terminal() && !super::quiet();
        let bar = visible.then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{spinner} replaying devloop's logs through {msg}: {human_pos} events ({per_sec}, {elapsed})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
            bar.set_style(style);
            bar.set_message(format!("{detectors} detector(s)"));
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Replay { bar }
    }

    pub fn update(&self, events: usize) {
        if let Some(bar) = &self.bar {
            bar.set_position(events as u64);
        }
    }

    /// Clears the line; later calls do nothing.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar
            && !bar.is_finished()
        {
            bar.finish_and_clear();
        }
    }
}

impl Drop for Replay {
    fn drop(&mut self) {
        self.finish();
    }
}
