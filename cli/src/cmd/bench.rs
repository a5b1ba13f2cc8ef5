//! `nanoesp bench`: the concurrency benchmark on the virtual bench — K virtual HTTP clients
//! against the project's real firmware, in simulated time (deterministic), with the
//! emulator's realistic timing and once more with its fault profile.

use std::path::PathBuf;
use std::process::Command;

use miette::{Context, IntoDiagnostic};

use super::ProjectArgs;
use crate::ui::Ui;
use crate::{Outcome, simulator};

/// Measure how many concurrent clients the firmware serves, and how fast.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Concurrent clients per run.
    #[arg(long, default_value = "1,2,5,8")]
    pub clients: String,
    /// Simulated seconds of load per run.
    #[arg(long, default_value_t = 60)]
    pub duration: u32,
    /// Emulator profiles to run: realistic, faults (comma separated).
    #[arg(long, default_value = "realistic,faults")]
    pub profiles: String,
    /// Directory for the JSON reports (one per profile).
    #[arg(long, default_value = "target/nanoesp-bench")]
    pub out: PathBuf,
}

/// Runs `nanoesp bench`.
pub fn run(args: Args, ui: &Ui) -> miette::Result<Outcome> {
    let sim = simulator::locate()?;
    let project = args.project.open()?;
    let record = super::build::build(&project, ui)?;
    let c = &project.config;
    let out_dir = if args.out.is_absolute() {
        args.out.clone()
    } else {
        project.dir().join(&args.out)
    };
    std::fs::create_dir_all(&out_dir).into_diagnostic()?;
    let mut worst = Outcome::Ok;
    for profile in args
        .profiles
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let json = out_dir.join(format!("bench-{profile}.json"));
        ui.status(
            "Benchmark",
            format!(
                "{} clients, {} s simulated, {profile} ESP",
                args.clients, args.duration
            ),
        );
        let status = Command::new(&sim)
            .arg("bench")
            .arg("--firmware")
            .arg(&record.elf)
            .args(simulator::link_args(
                c.link.kind.as_str(),
                &c.link.rx,
                &c.link.tx,
                c.link.baud,
            ))
            .args(simulator::ap_args(&project))
            .args([
                "--clients",
                &args.clients,
                "--duration",
                &args.duration.to_string(),
                "--esp-faults",
                profile,
            ])
            .arg("--json")
            .arg(&json)
            .status()
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot start {}", sim.display()))?;
        match status.code() {
            Some(0) => ui.status("Wrote", json.display()),
            Some(1) => worst = Outcome::CheckFailed,
            _ => miette::bail!("the benchmark failed ({status})"),
        }
    }
    Ok(worst)
}
