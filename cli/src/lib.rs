//! nanoesp: scaffold, configure, build, flash and simulate an Arduino Nano + ESP8266 web
//! server project.
//!
//! One module per subcommand under [`cmd`]; each has a clap `Args` struct (its doc comments
//! are the help text) and a `run` function. Shared machinery: [`template`] (embedded
//! templates rendered through cargo-generate), [`toolchain`] (which Rust can build for AVR),
//! [`firmware`] (ELF size report). All terminal output goes through [`ui::Ui`].

pub mod cmd;
pub mod doctor;
pub mod esp_sketch;
pub mod firmata_probe;
pub mod firmware;
pub mod progress;
pub mod simulator;
pub mod template;
pub mod toolchain;
pub mod ui;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Scaffold, configure and build an Arduino Nano + ESP8266 web server.
#[derive(Debug, Parser)]
#[command(name = "nanoesp", version, about, long_about = None)]
pub struct Cli {
    /// Print only errors and results.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a project (Nano firmware, config, wiring diagram) from the embedded template.
    New(cmd::new::Args),
    /// Read or change the project's settings (nanoesp.toml, secrets.toml).
    Config(cmd::config::Args),
    /// Build the Nano firmware and report its flash and SRAM use.
    Build(cmd::build::Args),
    /// Run the firmware on the virtual bench (simulated Nano + emulated ESP8266).
    Sim(cmd::sim::Args),
    /// Concurrency benchmark of the firmware on the virtual bench.
    Bench(cmd::bench::Args),
    /// Build and flash both chips (Nano via ravedude/avrdude, ESP8266 via espflash 2.1).
    Flash(cmd::flash::Args),
    /// List serial ports and identify the chip behind each by protocol.
    Ports(cmd::ports::Args),
    /// Show the Nano's console (and the ESP8266's), timestamped.
    Monitor(cmd::monitor::Args),
    /// Check toolchains, project, ports, both chips, Wi-Fi and the server under load.
    Doctor(cmd::doctor::Args),
}

/// How a command ended, beyond success: decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything worked (exit 0).
    Ok,
    /// The command ran but a check failed, e.g. firmware over a limit (exit 1).
    CheckFailed,
    /// The command could not do its job (exit 2).
    Failed,
}

impl Outcome {
    /// The process exit code.
    pub fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Ok => ExitCode::SUCCESS,
            Outcome::CheckFailed => ExitCode::from(1),
            Outcome::Failed => ExitCode::from(2),
        }
    }
}

/// Runs one command.
///
/// # Errors
/// A report for the user: what went wrong, on which file/port, and what to try next.
pub fn run(cli: Cli, ui: &ui::Ui) -> miette::Result<Outcome> {
    match cli.command {
        Command::New(args) => cmd::new::run(args, ui),
        Command::Config(args) => cmd::config::run(args, ui),
        Command::Build(args) => cmd::build::run(args, ui),
        Command::Sim(args) => cmd::sim::run(args, ui),
        Command::Bench(args) => cmd::bench::run(args, ui),
        Command::Flash(args) => cmd::flash::run(args, ui),
        Command::Ports(args) => cmd::ports::run(args, ui),
        Command::Monitor(args) => cmd::monitor::run(args, ui),
        Command::Doctor(args) => cmd::doctor::run(args, ui),
    }
}
