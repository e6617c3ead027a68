//! `devloop-host plugins new`: a detector project that builds and passes its starter case as
//! created.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};

use devloop_host::scaffold::{Language, Scaffold};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Lang {
    /// Rust with devloop-plugin-sdk (cargo, wasm32-wasip2).
    Rust,
    /// Python (componentize-py).
    Python,
    /// JavaScript (componentize-js).
    Js,
}

/// Creates a detector project: source, starter case, README with the build command.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  devloop-host plugins new slow-builds                  a Rust detector in ./slow-builds
  devloop-host plugins new slow-builds --lang python --dir detectors/slow-builds")]
pub struct New {
    /// The detector's id, in kebab-case (`slow-builds`); its pattern id is the snake_case form.
    name: String,
    /// The language to write it in.
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    lang: Lang,
    /// The folder to create [default: ./NAME].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// A devloop-host checkout's plugin-sdk folder for a Rust detector to depend on [default:
    /// a copy of the SDK in the new project's sdk/ folder].
    #[arg(long, env = "DEVLOOP_PLUGIN_SDK")]
    sdk: Option<PathBuf>,
}

impl New {
    pub fn run(&self) -> anyhow::Result<ExitCode> {
        let language = match self.lang {
            Lang::Rust => Language::Rust,
            Lang::Python => Language::Python,
            Lang::Js => Language::Js,
        };
        let dir = self.dir.clone().unwrap_or_else(|| PathBuf::from(&self.name));
        let scaffold = Scaffold { id: self.name.clone(), language, dir: dir.clone(), sdk: self.sdk.clone() };
        let written =
            scaffold.write().with_context(|| format!("failed to create the {language} detector {}", self.name))?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "created {} ({language} detector `{}`, {} files)", dir.display(), self.name, written.len())?;
        writeln!(out, "build it:  cd {} && {}", dir.display(), language.build_command(&self.name))?;
        writeln!(out, "component: {}", dir.join(language.output(&self.name)).display())?;
        Ok(ExitCode::SUCCESS)
    }
}
