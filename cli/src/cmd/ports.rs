//! `nanoesp ports`: list serial ports with their USB ids and what answers on each —
//! a Nano's bootloader (and at which baud), our firmware's banner, the ESP8266 ROM loader
//! or an AT firmware — so two identical USB adapters can be told apart.

use std::path::PathBuf;
use std::time::Duration;

use miette::IntoDiagnostic;
use nanoesp_flash::ports::{self, Identity, PortInfo, ProbePlan};
use serde::Serialize;

use crate::Outcome;
use crate::ui::Ui;

/// List serial ports and identify the chip behind each by protocol.
///
/// Probing opens each port, which resets a board with auto-reset wiring.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A project, if any, gives the bootloader and console bauds to try first and its
    /// virtual bench's ptys.
    #[command(flatten)]
    pub project: super::ProjectArgs,
    /// Also probe this port (a simulator's pty, a port the OS does not enumerate).
    /// Repeatable; NANOESP_PORTS (colon-separated) adds more.
    #[arg(long = "port", value_name = "PATH")]
    pub extra: Vec<PathBuf>,
    /// Only list, do not open the ports.
    #[arg(long)]
    pub no_probe: bool,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// A port and what answered on it.
#[derive(Debug, Clone, Serialize)]
pub struct Found {
    /// The port.
    #[serde(flatten)]
    pub port: PortInfo,
    /// What answered (absent with `--no-probe`).
    pub identity: Option<Identity>,
    /// Why probing failed, if it did.
    pub error: Option<String>,
}

/// Ports no OS enumeration reports: `--port` flags, NANOESP_PORTS, and the ptys of the
/// project's running virtual bench (`.nanoesp/sim/nano`, `.nanoesp/sim/esp`).
pub fn extra_ports(flags: &[PathBuf], project: Option<&std::path::Path>) -> Vec<PathBuf> {
    let mut all = flags.to_vec();
    if let Some(env) = std::env::var_os("NANOESP_PORTS") {
        all.extend(std::env::split_paths(&env).filter(|p| !p.as_os_str().is_empty()));
    }
    if let Some(dir) = project {
        let bench = super::sim::bench_dir(dir);
        all.extend(
            ["nano", "esp"]
                .iter()
                .map(|n| bench.join(n))
                .filter(|p| p.exists()),
        );
    }
    all
}

/// Lists and (unless `probe` is false) identifies every port, probing them in parallel.
pub fn scan(extra: &[PathBuf], plan: &ProbePlan, probe: bool) -> Vec<Found> {
    let listed = ports::list(extra);
    if !probe {
        return listed
            .into_iter()
            .map(|port| Found {
                port,
                identity: None,
                error: None,
            })
            .collect();
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = listed
            .into_iter()
            .map(|port| {
                scope.spawn(move || {
                    let (identity, error) = match ports::identify(&port.path, plan) {
                        Ok(id) => (Some(id), None),
                        Err(e) => (None, Some(e.to_string())),
                    };
                    Found {
                        port,
                        identity,
                        error,
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("probe threads do not panic"))
            .collect()
    })
}

/// The probe plan for a project (its board's bootloader baud first, its console baud).
pub fn plan_for(project: Option<&nanoesp_project::Project>) -> ProbePlan {
    let mut plan = ProbePlan::default();
    if let Some(p) = project {
        let catalog = nanoesp_boards::Catalog::load().expect("embedded board data is valid");
        if let Some(board) = catalog.avr(&p.config.nano.board) {
            plan.bootloader_bauds.retain(|&b| b != board.upload_baud);
            plan.bootloader_bauds.insert(0, board.upload_baud);
        }
        plan.console_baud = p.config.console.baud;
        if !plan.at_bauds.contains(&p.config.link.baud) {
            plan.at_bauds.push(p.config.link.baud);
        }
    }
    plan.banner_wait = Duration::from_secs(4);
    plan
}

/// Runs `nanoesp ports`.
pub fn run(args: Args, ui: &Ui) -> miette::Result<Outcome> {
    // Outside a project (or in a broken one) ports still works, with generic bauds.
    let project = nanoesp_project::Project::open(&args.project.project).ok();
    let project = project.as_ref();
    let plan = plan_for(project);
    if !args.no_probe {
        ui.status(
            "Probing",
            "serial ports (this resets boards with auto-reset)",
        );
    }
    let found = scan(
        &extra_ports(&args.extra, project.map(|p| p.dir())),
        &plan,
        !args.no_probe,
    );
    if args.json {
        ui.out(serde_json::to_string_pretty(&found).into_diagnostic()?);
        return Ok(Outcome::Ok);
    }
    if found.is_empty() {
        ui.out("no serial ports found (is a board plugged in? simulator ptys need --port PATH)");
        return Ok(Outcome::Ok);
    }
    for f in &found {
        let usb = f
            .port
            .usb
            .as_ref()
            .map(|u| {
                format!(
                    "{:04x}:{:04x} {}",
                    u.vid,
                    u.pid,
                    u.product.clone().unwrap_or_default()
                )
            })
            .unwrap_or_else(|| "-".into());
        let what = match (&f.identity, &f.error) {
            (Some(id), _) => id.describe(),
            (None, Some(e)) => format!("error: {e}"),
            (None, None) => "not probed".into(),
        };
        ui.out(format!(
            "{:<28} {:<24} {what}",
            f.port.path.display(),
            usb.trim()
        ));
    }
    Ok(Outcome::Ok)
}
