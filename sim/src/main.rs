//! `nanoesp-sim` entry point: parse, dispatch, turn errors into one message and an exit
//! code (0 ok, 1 the firmware never became ready, 2 could not do the job).

use std::process::ExitCode;

use clap::Parser;
use nanoesp_sim::cli::{Cli, Command};
use nanoesp_sim::error::SimError;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => nanoesp_sim::run::run(args),
        #[cfg(feature = "espemu")]
        Command::Bench(args) => nanoesp_sim::bench::bench(args),
        #[cfg(not(feature = "espemu"))]
        Command::Bench(_) => Err(SimError::Usage(
            "built without the ESP8266 emulator (feature espemu)".into(),
        )),
        #[cfg(feature = "espemu")]
        Command::EspAdapter(args) => nanoesp_sim::adapter::esp_adapter(args),
        #[cfg(not(feature = "espemu"))]
        Command::EspAdapter(_) => Err(SimError::Usage(
            "built without the ESP8266 emulator (feature espemu)".into(),
        )),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e @ SimError::NotReady { .. }) => {
            eprintln!("nanoesp-sim: error: {e}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("nanoesp-sim: error: {e}");
            ExitCode::from(2)
        }
    }
}
