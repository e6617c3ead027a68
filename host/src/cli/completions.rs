//! `devloop-host completions SHELL` and `devloop-host man`: the shell completion script and the
//! manual page, generated from the same definitions as `--help` so they never drift from it.

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, CommandFactory};

/// Prints a completion script for SHELL on stdout.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  devloop-host completions bash > ~/.local/share/bash-completion/completions/devloop-host
  devloop-host completions zsh > ~/.zfunc/_devloop-host        (with fpath+=~/.zfunc in .zshrc)
  devloop-host completions fish > ~/.config/fish/completions/devloop-host.fish")]
pub struct Completions {
    /// The shell to complete in.
    shell: clap_complete::Shell,
}

impl Completions {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let mut command = super::Cli::command();
        let mut script = Vec::new();
        clap_complete::generate(self.shell, &mut command, "devloop-host", &mut script);
        std::io::stdout().lock().write_all(&script)?;
        Ok(ExitCode::SUCCESS)
    }
}

/// Prints the manual page (roff) on stdout.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  devloop-host man | man -l -
  devloop-host man > ~/.local/share/man/man1/devloop-host.1")]
pub struct Man {}

impl Man {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let mut page = Vec::new();
        clap_mangen::Man::new(super::Cli::command()).render(&mut page)?;
        std::io::stdout().lock().write_all(&page)?;
        Ok(ExitCode::SUCCESS)
    }
}
