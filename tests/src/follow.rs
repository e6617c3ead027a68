//! A long-running `devloop-host` (`run --follow`) whose stderr a test reads line by line: it
//! waits for the line it expects, with a deadline, instead of sleeping.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// A running process with its stderr read on a thread; killed when dropped.
pub struct Follower {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Follower {
    /// Spawns `command` with stderr piped (stdout as the command says).
    pub fn spawn(command: &mut Command) -> Result<Follower> {
        let mut child = command.stderr(Stdio::piped()).spawn().with_context(|| format!("cannot start {command:?}"))?;
        let stderr = child.stderr.take().context("stderr is piped")?;
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Follower { child, lines, seen: Vec::new() })
    }

    /// The process, to signal it or wait for it.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Every stderr line read so far.
    pub fn seen(&self) -> &[String] {
        &self.seen
    }

    /// Every stderr line read so far and those that came since, after waiting up to `within`
    /// for the next one.
    pub fn seen_within(&mut self, within: Duration) -> &[String] {
        if let Ok(line) = self.lines.recv_timeout(within) {
            self.seen.push(line);
            while let Ok(line) = self.lines.try_recv() {
                self.seen.push(line);
            }
        }
        &self.seen
    }

    /// Reads lines until `done` says one is the awaited one, for at most `within`; `done` may
    /// also fail the wait.
    pub fn wait_until(
        &mut self,
        what: &str,
        within: Duration,
        mut done: impl FnMut(&str) -> Result<bool>,
    ) -> Result<String> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(line) = self.lines.recv_timeout(left) else {
                bail!("waited {within:?} for {what}; stderr so far:\n{}", self.seen.join("\n"));
            };
            self.seen.push(line.clone());
            match done(&line) {
                Ok(true) => return Ok(line),
                Ok(false) => {}
                Err(error) => bail!("{error:#}; stderr so far:\n{}", self.seen.join("\n")),
            }
        }
    }

    /// Waits for a line containing every one of `parts`.
    pub fn wait_for_line(&mut self, parts: &[&str], within: Duration) -> Result<String> {
        self.wait_until(&format!("a line with {parts:?}"), within, |line| {
            Ok(parts.iter().all(|part| line.contains(part)))
        })
    }

    /// Every stderr line of a process that has exited: those read so far and the rest, up to
    /// the end of its stderr (for at most `within`).
    pub fn all_stderr(&mut self, within: Duration) -> String {
        let deadline = Instant::now() + within;
        while let Ok(line) = self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }

    /// Waits for the run's debug report of having caught up with `total` events delivered in
    /// all (its stderr needs `RUST_LOG=devloop_host=debug`); more than `total` fails.
    pub fn wait_for_events(&mut self, total: usize, within: Duration) -> Result<()> {
        self.wait_until(&format!("a report of {total} events"), within, |line| {
            let Some(count) = line.contains("caught up").then(|| events_in(line)).flatten() else { return Ok(false) };
            if count > total {
                bail!("{count} events delivered, {total} expected");
            }
            Ok(count == total)
        })
        .map(drop)
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn events_in(line: &str) -> Option<usize> {
    let digits: String = line.split("events=").nth(1)?.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}
