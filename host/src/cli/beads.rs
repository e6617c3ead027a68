//! `devloop-host beads file`: file queued findings now, preview the commands, or export them
//! for `bd import` on a machine without `bd`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use devloop_host::sinks::beads::{self, Bd, Mode};
use devloop_host::store::{self, Filter, Store, Triage};

use super::project::ProjectArgs;

/// File findings as beads issues, exactly once each.
///
/// Each issue carries `--external-ref devloop-host:FINGERPRINT`; before creating one, every
/// issue in beads (closed too) is checked for that ref, and the intent to create is recorded
/// first, so a crash or a failed `bd` never leads to a second issue. The `bd` program is
/// BD_BIN, else `[routing.beads] bin` in .devloop-host/config.toml, else `bd` on PATH.
#[derive(Debug, Args)]
pub struct Beads {
    #[command(subcommand)]
    command: BeadsCommand,
}

#[derive(Debug, Subcommand)]
enum BeadsCommand {
    File(File),
}

/// Files every finding the routing rules queued for beads (and any named here), comments on
/// issues whose finding grew, and records the issue ids.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  devloop-host beads file --dry-run                  the bd commands it would run
  devloop-host beads file 3f2a                       file this finding too
  devloop-host beads file --export-jsonl issues.jsonl && bd import -i issues.jsonl")]
struct File {
    /// Findings to file besides the queued ones (fingerprints or unique prefixes).
    fingerprints: Vec<String>,
    /// Print the exact `bd` commands instead of running them; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Write the findings as beads JSONL issue lines to this file (for `bd import`) instead of
    /// running `bd`; the next run with `bd` adopts the imported issues by their external ref.
    #[arg(long, value_name = "PATH", conflicts_with = "dry_run")]
    export_jsonl: Option<PathBuf>,
    /// The id prefix of exported issues.
    #[arg(long, default_value = "devloop-host", requires = "export_jsonl")]
    id_prefix: String,
    #[command(flatten)]
    project: ProjectArgs,
    /// A routing file to use instead of the config's `[routing]` table; its `[beads]` table
    /// says how to file.
    #[arg(long, env = "DEVLOOP_HOST_ROUTING")]
    routing: Option<PathBuf>,
}

impl Beads {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let BeadsCommand::File(file) = self.command;
        file.run()
    }
}

impl File {
    fn run(self) -> anyhow::Result<ExitCode> {
        let now_ms = store::now_ms();
        let state = self.project.state();
        let config = super::load_config(&state)?;
        let routing = super::insights::routing(&state, &config, self.routing.as_deref())?;
        let store = Store::open_in(state.path())?;
        let named =
            self.fingerprints.iter().map(|fingerprint| store.resolve(fingerprint)).collect::<Result<Vec<_>, _>>()?;
        let stdout = std::io::stdout();
        let mut out = stdout.lock();

        if let Some(path) = &self.export_jsonl {
            let mut findings: Vec<_> = store.pending_filings()?.into_iter().map(|(finding, _)| finding).collect();
            for finding in named {
                if !findings.iter().any(|known| known.fingerprint == finding.fingerprint) {
                    findings.push(finding);
                }
            }
            findings.retain(|finding| finding.issue_id.is_none() && finding.status_at(now_ms) != Triage::Dismissed);
            beads::export_jsonl(path, &findings, &routing.beads, &self.id_prefix, now_ms)
                .with_context(|| format!("cannot write {}", path.display()))?;
            writeln!(
                out,
                "wrote {} issue(s) to {}; load them with `bd import -i {}`",
                findings.len(),
                path.display(),
                path.display()
            )?;
            return Ok(ExitCode::SUCCESS);
        }

        let bd = Bd::from_settings(&routing.beads);
        let report = if self.dry_run {
            let mut commands = Vec::new();
            let report =
                beads::file_with(&store, &bd, &routing.beads, &named, &mut Mode::DryRun(&mut commands), now_ms)?;
            out.write_all(&commands)?;
            report
        } else {
            beads::file_with(&store, &bd, &routing.beads, &named, &mut Mode::Run, now_ms)?
        };
        if self.dry_run {
            if report.created.is_empty() && report.commented.is_empty() {
                writeln!(out, "# nothing to file")?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        for (fingerprint, issue) in &report.created {
            writeln!(out, "{fingerprint} filed as {issue}")?;
        }
        for (fingerprint, issue) in &report.adopted {
            writeln!(out, "{fingerprint} already filed as {issue} (found by external ref)")?;
        }
        for (fingerprint, issue) in &report.commented {
            writeln!(out, "{fingerprint} grew: commented on {issue}")?;
        }
        for fingerprint in &report.cancelled {
            writeln!(out, "{fingerprint} was silenced before filing; dropped from the queue")?;
        }
        if !report.deferred.is_empty() {
            writeln!(
                out,
                "{} more left queued: at most {} issues are created at once; run `devloop-host beads file` again",
                report.deferred.len(),
                beads::MAX_CREATES_PER_PASS
            )?;
        }
        if report.created.is_empty()
            && report.adopted.is_empty()
            && report.commented.is_empty()
            && report.failed.is_empty()
        {
            let queued =
                store.list(&Filter::everything(), now_ms)?.iter().filter(|finding| finding.issue_id.is_none()).count();
            writeln!(
                out,
                "nothing to file ({queued} finding(s) without an issue are not routed to beads; name them to file them)"
            )?;
        }
        for (fingerprint, error) in &report.failed {
            eprintln!("error: {fingerprint} not filed (retried next time): {error}");
        }
        Ok(if report.failed.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
    }
}
