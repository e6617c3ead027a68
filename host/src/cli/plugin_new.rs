//! `devloop-host plugin new`: a detector project that builds and passes its starter case as
//! created.

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
pub struct New {
    /// The detector's id, in kebab-case (`slow-builds`); its pattern id is the snake_case form.
    name: String,
    /// The language to write it in.
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    lang: Lang,
    /// The folder to create [default: ./NAME].
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The plugin-sdk folder a Rust detector depends on [default: found above the new folder].
    #[arg(long, env = "DEVLOOP_PLUGIN_SDK")]
    sdk: Option<PathBuf>,
}

impl New {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let language = match self.lang {
            Lang::Rust => Language::Rust,
            Lang::Python => Language::Python,
            Lang::Js => Language::Js,
        };
        let dir = self.dir.unwrap_or_else(|| PathBuf::from(&self.name));
        let scaffold = Scaffold { id: self.name.clone(), language, dir: dir.clone(), sdk: self.sdk };
        let written =
            scaffold.write().with_context(|| format!("failed to create the {language} detector {}", self.name))?;
        println!("created {} ({language} detector `{}`, {} files)", dir.display(), self.name, written.len());
        println!("build it:  cd {} && {}", dir.display(), language.build_command(&self.name));
        println!("component: {}", dir.join(language.output(&self.name)).display());
        Ok(ExitCode::SUCCESS)
    }
}
