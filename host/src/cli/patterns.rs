//! `devloop-host patterns …`: checking and listing pattern files, the detectors written as
//! data (see the README's "Pattern files").

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use devloop_host::patterns::{self, Discovered, PatternFile, PatternFileError};

use super::ListFormat;

/// Checks and lists pattern files: detectors written as TOML, run by the bundled rules detector.
///
/// `run` loads every `*.toml` in the project's pattern folder (`.devloop-host/patterns`) and in `~/.config/devloop-host/patterns`; each pattern is a detector of
/// its own in `plugins list`.
#[derive(Debug, Args)]
pub struct Patterns {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Checks pattern files; every problem is printed as FILE:LINE:COLUMN: MESSAGE (exit 2).
    ///
    /// Example: `devloop-host patterns check .devloop-host/patterns/*.toml`
    Check {
        /// Pattern files, or folders of them.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// The patterns `run` would load, in the order it loads them.
    List {
        #[command(flatten)]
        project: super::project::ProjectArgs,
        /// Pattern folders to list instead of the project's and the user's.
        #[arg(long = "patterns", env = "DEVLOOP_HOST_PATTERNS", value_delimiter = ':')]
        folders: Vec<PathBuf>,
        #[arg(long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
    },
}

impl Patterns {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        match self.action {
            Action::Check { files } => check(&files),
            Action::List { project, folders, format } => {
                let folders =
                    if folders.is_empty() { patterns::default_folders(&project.state().plugins()) } else { folders };
                list(&patterns::discover(&folders)?, format)
            }
        }
    }
}

fn check(paths: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            files.extend(patterns::pattern_files(path)?);
        } else {
            files.push(path.clone());
        }
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut ids: Vec<(String, PathBuf)> = Vec::new();
    let mut failed = 0;
    for file in &files {
        match PatternFile::read(file) {
            Ok(found) => {
                let pattern = &found.pattern;
                if let Some((_, other)) = ids.iter().find(|(id, _)| *id == pattern.id) {
                    eprintln!("{}:1:1: id `{}` is also the id of {}", file.display(), pattern.id, other.display());
                    failed += 1;
                    continue;
                }
                ids.push((pattern.id.clone(), file.clone()));
                writeln!(out, "ok  {}  {} ({} match)", file.display(), pattern.id, pattern.kind_name())?;
            }
            Err(error) => {
                eprintln!("{error}");
                failed += 1;
            }
        }
    }
    out.flush()?;
    if failed > 0 {
        eprintln!("{failed} of {} pattern file(s) have problems", files.len());
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

fn list(discovered: &[Discovered], format: ListFormat) -> anyhow::Result<ExitCode> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        ListFormat::Json => {
            for found in discovered {
                let mut object = serde_json::json!({ "file": found.path });
                match &found.found {
                    Ok(file) => {
                        let pattern = &file.pattern;
                        object["id"] = pattern.id.clone().into();
                        object["title"] = pattern.title.clone().into();
                        object["match"] = pattern.kind_name().into();
                        object["kinds"] = pattern.kinds.clone().into();
                    }
                    Err(error) => object["error"] = error.to_string().into(),
                }
                writeln!(out, "{object}")?;
            }
        }
        ListFormat::Table => {
            if discovered.is_empty() {
                writeln!(
                    out,
                    "No pattern files. Write one (see the README's \"Pattern files\") into .devloop-host/patterns/."
                )?;
            }
            for found in discovered {
                match &found.found {
                    Ok(file) => writeln!(
                        out,
                        "{:<28} {:<9} {}  ({})",
                        file.pattern.id,
                        file.pattern.kind_name(),
                        file.pattern.title,
                        found.path.display()
                    )?,
                    Err(PatternFileError::Invalid { errors }) => writeln!(
                        out,
                        "{:<28} {:<9} {} problem(s); `patterns check` lists them",
                        found.path.display(),
                        "invalid",
                        errors.len()
                    )?,
                    Err(error) => writeln!(out, "{:<28} {:<9} {error}", found.path.display(), "unreadable")?,
                }
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
