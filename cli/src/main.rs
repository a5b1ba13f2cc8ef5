//! `nanoesp` binary: parse arguments, run, turn the outcome into an exit code.
//! Everything else lives in the library (`nanoesp::run`).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = nanoesp::Cli::parse();
    let ui = nanoesp::ui::Ui::from_env(cli.quiet);
    match nanoesp::run(cli, &ui) {
        Ok(outcome) => outcome.exit_code(),
        Err(report) => {
            ui.error(&report);
            nanoesp::Outcome::Failed.exit_code()
        }
    }
}
