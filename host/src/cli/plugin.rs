//! `devloop-host plugin …`: commands for plugin authors.

use std::process::ExitCode;

use clap::Subcommand;

use super::plugin_new;

/// Write and check detector plugins.
#[derive(Debug, Subcommand)]
pub enum Plugin {
    New(plugin_new::New),
}

impl Plugin {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            Plugin::New(command) => command.run(),
        }
    }
}
