//! One module per subcommand.

pub mod bench;
pub mod build;
pub mod config;
pub mod new;
pub mod sim;

use std::path::PathBuf;

/// `--project DIR`, shared by every command that works on an existing project.
#[derive(Debug, Clone, clap::Args)]
pub struct ProjectArgs {
    /// Project directory (the one holding nanoesp.toml).
    #[arg(
        long,
        value_name = "DIR",
        default_value = ".",
        env = "NANOESP_PROJECT",
        global = true
    )]
    pub project: PathBuf,
}

impl ProjectArgs {
    /// Opens and validates the project.
    pub fn open(&self) -> miette::Result<nanoesp_project::Project> {
        Ok(nanoesp_project::Project::open(&self.project)?)
    }
}
