//! `nanoesp doctor`: one command that checks toolchains, the project, both chips, Wi-Fi and
//! the web server under concurrent load, and names known failures with the fix.
//!
//! Three modes decide where the evidence comes from:
//! - hardware (default): serial ports (identified by protocol), the Nano's console (opening
//!   it resets the Nano, as any serial monitor does), the ESP port's 74880-baud ROM
//!   banner, and the server at the IP the firmware reports (or `--url`);
//! - `--sim`: builds the project and starts a private virtual bench, reading the console
//!   from power-on ([`crate::doctor::bench`]);
//! - `--url URL`: only the server (and, in a project, whether it runs the last build);
//!   with `--nano-port`/`--esp-port` it is hardware mode with the server at URL instead of
//!   the address the console reports (a bench's bridge, a port-forward).
//!
//! The checks and the report live in [`crate::doctor`]; this module gathers evidence,
//! judges it and renders the report (one line per check, or `--json`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use miette::IntoDiagnostic;
use nanoesp_flash::ports::{self, Identity};
use nanoesp_project::Project;
use nanoesp_project::model::{LinkKind, Mode};

use super::ProjectArgs;
use crate::doctor::console::ConsoleFacts;
use crate::doctor::http::{self, Failure, LoadPlan, Target};
use crate::doctor::tools::{self, Os};
use crate::doctor::{Check, Diagnosis, Report, Status, bench};
use crate::ui::Ui;
use crate::{Outcome, simulator};

/// Check toolchains, project, serial ports, both chips, Wi-Fi and the web server.
///
/// One line per check (ok, warn, fail, skip) with the measured value and, when something
/// is wrong, the fix; then the known failures recognised (baud mismatch, brownout resets,
/// AT 2.x, join errors, stale firmware, a server that serves one client at a time...).
/// Exit code 1 when a check fails, 2 when doctor itself could not run.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Print the report as JSON (schema 1, documented in `nanoesp::doctor`).
    #[arg(long)]
    pub json: bool,
    /// Check the project on a private virtual bench (builds it, starts nanoesp-sim).
    #[arg(long, conflicts_with_all = ["url", "nano_port", "esp_port"])]
    pub sim: bool,
    /// Check only this server (e.g. http://192.168.1.50/), plus, in a project, whether it
    /// runs the last build. With --nano-port/--esp-port: the server of that hardware.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Parallel clients of the concurrency check.
    #[arg(long, value_name = "K", default_value_t = 5,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub clients: u16,
    /// Also keep K clients busy for this long (e.g. 30s, 2m) and report the counts.
    #[arg(long, value_name = "DURATION")]
    pub soak: Option<String>,
    /// The Nano's serial port (default: found by probing).
    #[arg(long, value_name = "PATH")]
    pub nano_port: Option<PathBuf>,
    /// The ESP8266's own USB-serial port, if it has one (default: found by probing).
    #[arg(long, value_name = "PATH")]
    pub esp_port: Option<PathBuf>,
    /// Open the Nano's console at this baud instead of nanoesp.toml's console.baud.
    #[arg(long, value_name = "BAUD")]
    pub console_baud: Option<u32>,
    /// Seconds allowed for each HTTP request.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    pub request_timeout: u64,
    /// --sim: far end of the link (emu or none), for fault drills.
    #[arg(long, default_value = "emu", hide = true)]
    pub bench_esp: String,
    /// --sim: emulated AT firmware (at17 or at2).
    #[arg(long, default_value = "at17", hide = true)]
    pub bench_esp_profile: String,
    /// --sim: emulator faults (none, realistic or faults).
    #[arg(long, default_value = "none", hide = true)]
    pub bench_esp_faults: String,
    /// --sim: SSID of the emulated access point instead of the project's.
    #[arg(long, hide = true)]
    pub bench_ap_ssid: Option<String>,
    /// --sim: wall seconds allowed for the firmware to come up.
    #[arg(long, default_value_t = 30, hide = true)]
    pub bench_wait: u64,
}

/// Everything gathered before judging.
#[derive(Default)]
struct Evidence {
    /// The console, if one was read; `console_skip` says why not otherwise.
    console: Option<ConsoleFacts>,
    console_skip: String,
    console_error: Option<String>,
    console_baud: u32,
    /// The server to check.
    url: Option<String>,
    url_skip: String,
    /// The last build's id.
    expected: Option<String>,
    /// Simulator log (busy storms show there).
    sim_log: String,
    nano: Option<Identity>,
    esp: Option<Identity>,
}

/// Runs `nanoesp doctor`.
pub fn run(mut args: Args, ui: &Ui) -> miette::Result<Outcome> {
    let started = Instant::now();
    // `--sim` with the project's bench already running (`nanoesp sim` published it):
    // check that one, like hardware, through its server and console.
    if args.sim
        && let Some(bench) = super::sim::running_bench(&args.project.project)
    {
        ui.status(
            "Found",
            format!("the project's running virtual bench, serving {}", bench.url),
        );
        args.sim = false;
        args.url = Some(bench.url);
        args.nano_port = bench.console;
    }
    let os = Os::detect();
    // --url alone checks a server; with a port it names the server of the hardware checked.
    let mode = if args.sim {
        "sim"
    } else if args.url.is_some() && args.nano_port.is_none() && args.esp_port.is_none() {
        "url"
    } else {
        "hardware"
    };
    let soak = args
        .soak
        .as_deref()
        .map(http::parse_duration)
        .transpose()
        .map_err(|e| miette::miette!(help = "Pass e.g. --soak 30s or --soak 2m.", "{e}"))?;
    let target =
        match &args.url {
            Some(u) => Some(Target::parse(u).map_err(|e| {
                miette::miette!(help = "Pass e.g. --url http://192.168.1.50/.", "{e}")
            })?),
            None => None,
        };
    let mut checks = Vec::new();
    let mut diagnoses = Vec::new();

    // Toolchains (not for --url: that checks a server, wherever it runs).
    let opened = Project::open(&args.project.project);
    if mode == "url" {
        for id in [
            "toolchain.host",
            "toolchain.avr",
            "toolchain.avr-gcc",
            "toolchain.avrdude",
            "toolchain.ravedude",
            "toolchain.arduino-cli",
        ] {
            checks.push(Check::skip(id, "--url checks only the server"));
        }
    } else {
        ui.status("Checking", "toolchains");
        checks.push(tools::host_rust(os));
        checks.extend(tools::avr(os));
        checks.push(tools::avrdude(os));
        checks.push(tools::ravedude(os));
        let esp_master = opened
            .as_ref()
            .is_ok_and(|p| p.config.mode == Mode::EspMaster);
        checks.push(tools::arduino_cli(esp_master, os));
    }

    // The project.
    let project = match opened {
        Ok(p) => {
            checks.push(Check::ok(
                "project.config",
                format!(
                    "{} valid ({} {} + {}, {} link at {} baud)",
                    p.config_path().display(),
                    p.config.mode.as_str(),
                    p.config.nano.board,
                    p.config.esp.module,
                    p.config.link.kind.as_str(),
                    p.config.link.baud
                ),
            ));
            Some(p)
        }
        Err(nanoesp_project::ProjectError::NotFound { dir }) if mode == "url" => {
            checks.push(Check::skip(
                "project.config",
                format!(
                    "no nanoesp.toml in {} (checking the URL only)",
                    dir.display()
                ),
            ));
            None
        }
        Err(e) => {
            let fix = match &e {
                nanoesp_project::ProjectError::NotFound { .. } => {
                    "Create one with `nanoesp new <dir>`, or pass --project <dir>.".to_string()
                }
                _ => "Fix the settings at the place named (`nanoesp config check` shows each problem with its context; `nanoesp config set KEY VALUE` edits safely).".to_string(),
            };
            checks.push(Check::fail(
                "project.config",
                e.to_string().replace('\n', "; "),
                fix,
            ));
            None
        }
    };

    let mut ev = Evidence {
        console_baud: args
            .console_baud
            .or(project.as_ref().map(|p| p.config.console.baud))
            .unwrap_or(115_200),
        expected: project.as_ref().and_then(|p| last_build_id(p.dir())),
        ..Evidence::default()
    };

    let mut bench_guard = None;
    match mode {
        "sim" => match &project {
            Some(p) => {
                ui.status("Building", "the firmware for the virtual bench");
                match super::build::build(p, ui) {
                    Ok(record) => {
                        checks.push(Check::ok(
                            "firmware.build",
                            format!(
                                "build {}: flash {} / {} B, SRAM {} / {} B",
                                record.build_id,
                                record.flash,
                                record.flash_limit,
                                record.sram,
                                record.sram_limit
                            ),
                        ));
                        ev.expected = Some(record.build_id.clone());
                        bench_guard = Some(if p.config.mode == Mode::EspMaster {
                            bench::AnyBench::EspMaster(start_esp_master_bench(
                                &args, p, &mut ev, ui,
                            )?)
                        } else {
                            bench::AnyBench::Nano(start_bench(&args, p, &record.elf, &mut ev, ui)?)
                        });
                    }
                    Err(e) => {
                        checks.push(Check::fail(
                            "firmware.build",
                            first_line(&e.to_string()),
                            "Run `nanoesp build` to see the whole compiler output.",
                        ));
                        ev.console_skip = "the firmware did not build".into();
                        ev.url_skip = "the firmware did not build".into();
                    }
                }
            }
            None => {
                ev.console_skip = "no valid project to run".into();
                ev.url_skip = "no valid project to run".into();
            }
        },
        "url" => {
            checks.push(Check::skip("firmware.build", "--url: nothing to build"));
            ev.console_skip = "--url checks only the server".into();
            ev.url = args.url.clone();
        }
        _ => {
            checks.push(Check::skip(
                "firmware.build",
                "hardware: `nanoesp build` and `nanoesp flash` build and flash",
            ));
            hardware(
                &args,
                project.as_ref(),
                &mut ev,
                &mut checks,
                &mut diagnoses,
                ui,
            );
        }
    }
    if mode != "hardware" {
        let why = if mode == "sim" {
            "--sim: the virtual bench has no USB ports to probe"
        } else {
            "--url checks only the server"
        };
        checks.push(Check::skip("ports.nano", why));
        checks.push(Check::skip("ports.esp", why));
    }

    judge_console(&ev, project.as_ref(), &mut checks, &mut diagnoses);

    // The server.
    let mut report_url = None;
    let mut load = None;
    let mut soak_load = None;
    let status = match ev.url.as_deref() {
        None => {
            checks.push(Check::skip(
                "server.status",
                if ev.url_skip.is_empty() {
                    "no server URL (pass --url)".to_string()
                } else {
                    ev.url_skip.clone()
                },
            ));
            None
        }
        Some(url) => {
            report_url = Some(url.to_string());
            let target = match &target {
                Some(t) if args.url.as_deref() == Some(url) => Ok(t.clone()),
                _ => Target::parse(url),
            };
            match target {
                Err(e) => {
                    checks.push(Check::fail(
                        "server.status",
                        e,
                        "The firmware reported an address doctor cannot reach; pass --url.",
                    ));
                    None
                }
                Ok(target) => {
                    ui.status("Checking", format!("{url}api/status"));
                    let timeout = Duration::from_secs(args.request_timeout.max(1));
                    let s = server_status(&target, url, timeout, &ev, &mut checks, &mut diagnoses);
                    if let Some(status) = &s {
                        let plan = LoadPlan {
                            clients: usize::from(args.clients),
                            timeout,
                            expected: Some(status.firmware.clone()),
                            busy_pause: Duration::from_millis(250),
                        };
                        ui.status("Loading", format!("{} parallel clients", args.clients));
                        let l = http::round(&target, &plan);
                        judge_load(&l, project.as_ref(), &mut checks, &mut diagnoses);
                        load = Some(l);
                        if let Some(d) = soak {
                            ui.status(
                                "Soaking",
                                format!("{} clients for {:.0} s", args.clients, d.as_secs_f64()),
                            );
                            let l = http::soak(&target, &plan, d);
                            checks.push(judge_soak(&l));
                            soak_load = Some(l);
                        }
                    }
                    s
                }
            }
        }
    };
    if load.is_none() {
        checks.push(Check::skip(
            "server.concurrency",
            "not run: no correct single answer first",
        ));
    }
    if soak_load.is_none() {
        checks.push(Check::skip(
            "server.soak",
            if soak.is_some() {
                "not run: no correct single answer first"
            } else {
                "not asked (--soak DURATION)"
            },
        ));
    }
    judge_firmware_and_esp(
        &ev,
        status.as_ref(),
        project.as_ref(),
        &mut checks,
        &mut diagnoses,
    );

    if let Some(b) = bench_guard {
        ev.sim_log = b.stop();
    }
    judge_logs(&ev, &mut diagnoses);

    let mut report = Report::new(mode, checks);
    report.url = report_url;
    report.diagnoses = diagnoses;
    report.load = load;
    report.soak = soak_load;
    report.seconds = started.elapsed().as_secs_f64();
    render(&report, args.json, ui)?;
    Ok(if report.ok {
        Outcome::Ok
    } else {
        Outcome::CheckFailed
    })
}

/// The last `n` lines of `text`, in order.
fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_string()
}

/// The build id of `.nanoesp/build.json`, if there is one.
fn last_build_id(project: &Path) -> Option<String> {
    let text = std::fs::read_to_string(super::build::record_path(project)).ok()?;
    let record: super::build::BuildRecord = serde_json::from_str(&text).ok()?;
    Some(record.build_id).filter(|id| !id.is_empty())
}

/// Starts the private bench, waits for bring-up, and records what it showed.
fn start_bench(
    args: &Args,
    project: &Project,
    elf: &Path,
    ev: &mut Evidence,
    ui: &Ui,
) -> miette::Result<bench::Bench> {
    let c = &project.config;
    let sim = simulator::locate()?;
    let mut run_args = vec!["run".to_string(), elf.to_string_lossy().into_owned()];
    run_args.extend(simulator::link_args(
        c.link.kind.as_str(),
        &c.link.rx,
        &c.link.tx,
        c.link.baud,
    ));
    let mut ap = simulator::ap_args(project);
    if let Some(ssid) = &args.bench_ap_ssid {
        // A drill: the emulated access point under another name than the project's.
        ap[1] = ssid.clone();
    }
    run_args.extend(ap);
    run_args.extend([
        "--esp".into(),
        args.bench_esp.clone(),
        "--esp-profile".into(),
        args.bench_esp_profile.clone(),
        "--esp-faults".into(),
        args.bench_esp_faults.clone(),
        "--http".into(),
        "127.0.0.1:0".into(),
        "--seed".into(),
        "1".into(),
    ]);
    let console_pty = (c.link.kind == LinkKind::Soft)
        .then(|| super::sim::bench_dir(project.dir()).join("doctor-console"));
    let plan = bench::BenchPlan {
        sim,
        args: run_args,
        console_pty,
        console_baud: ev.console_baud,
    };
    ui.status(
        "Starting",
        format!(
            "the virtual bench ({} ESP8266, console at {} baud)",
            args.bench_esp, ev.console_baud
        ),
    );
    let mut b = bench::Bench::start(&plan).map_err(|e| miette::miette!("{e}"))?;
    let seen = b.wait(
        Duration::from_secs(args.bench_wait.max(1)),
        Duration::from_millis(1500),
    );
    if let Some(code) = seen.exited
        && code != 0
    {
        let log = b.stop();
        miette::bail!(miette::miette!(
            help = "The simulator's own messages above say why; `nanoesp sim` runs the same bench in the foreground.",
            "the virtual bench stopped (exit code {code})\n{}",
            last_lines(&log, 15)
        ));
    }
    ui.status(
        "Bench",
        format!(
            "{} after {:.1} s",
            if seen.url.is_some() {
                "serving"
            } else {
                "not serving"
            },
            seen.seconds
        ),
    );
    if seen.has_console {
        ev.console = Some(ConsoleFacts::from_bytes(&seen.console));
        ev.console_error = seen.console_error;
    } else {
        ev.console_skip =
            "the link uses the USART (D0/D1), which is also the console: no console".into();
    }
    ev.url = seen.url;
    if ev.url.is_none() {
        ev.url_skip = "the firmware never brought its server up".into();
    }
    Ok(b)
}

/// esp.at, esp.baud and wifi.join for esp-master, where the ESP runs our sketch (no AT
/// firmware) and its `/api/status` answer is the evidence: it only answers with the Nano's
/// build id once its Firmata exchange over the link works.
fn judge_esp_master(status: Option<&http::Status>, project: &Project, checks: &mut Vec<Check>) {
    let Some(s) = status else {
        for id in ["esp.at", "esp.baud", "wifi.join"] {
            checks.push(Check::skip(
                id,
                "esp-master: no status answer from the ESP's sketch",
            ));
        }
        return;
    };
    let built = super::build::last_record(project.dir())
        .and_then(|r| r.esp)
        .map(|e| e.esp_id);
    match built {
        Some(b) if s.esp.starts_with("esp-") && s.esp != b => checks.push(Check::fail(
            "esp.at",
            format!("the ESP runs sketch {}, the last build is {b}", s.esp),
            "Flash the last build: `nanoesp flash --only esp` (after `nanoesp build` if the sources changed).",
        )),
        _ => checks.push(Check::ok(
            "esp.at",
            format!("esp-master: the ESP runs the nanoesp sketch {} (no AT firmware)", s.esp),
        )),
    }
    checks.push(Check::ok(
        "esp.baud",
        format!(
            "{} baud: the sketch reads the Nano (build {}) over Firmata",
            project.config.link.baud, s.firmware
        ),
    ));
    checks.push(Check::ok(
        "wifi.join",
        "joined (the sketch's server answers)",
    ));
}

/// The esp-master bench: `nanoesp sim` on a free port, its Nano console lines as evidence.
fn start_esp_master_bench(
    args: &Args,
    project: &Project,
    ev: &mut Evidence,
    ui: &Ui,
) -> miette::Result<bench::EspMasterBench> {
    ui.status(
        "Starting",
        "the virtual bench (simulated Nano with Firmata, the sketch's logic built for this computer)",
    );
    // `nanoesp sim` picks the free port itself, just before its host program binds it: a
    // port picked here would stay unbound while the firmware and the sketch build, long
    // enough for another program to take it.
    let mut b = bench::EspMasterBench::start(project.dir(), "127.0.0.1:0")
        .map_err(|e| miette::miette!("{e}"))?;
    let seen = b.wait(Duration::from_secs(args.bench_wait.max(1) + 30));
    if seen.url.is_none() {
        let log = b.stop();
        miette::bail!(miette::miette!(
            help = "`nanoesp sim` runs the same bench in the foreground.",
            "the virtual bench did not come up\n{}",
            last_lines(&log, 15)
        ));
    }
    ui.status("Bench", format!("serving after {:.1} s", seen.seconds));
    ev.console = Some(ConsoleFacts::from_bytes(&seen.console));
    ev.url = seen.url;
    Ok(b)
}

/// Hardware mode: ports, the ESP's ROM banner, the Nano's console.
fn hardware(
    args: &Args,
    project: Option<&Project>,
    ev: &mut Evidence,
    checks: &mut Vec<Check>,
    diagnoses: &mut Vec<Diagnosis>,
    ui: &Ui,
) {
    let plan = super::ports::plan_for(project);
    let identify = |path: &Path| ports::identify(path, &plan).map_err(|e| e.to_string());
    let (mut nano_port, mut esp_port) = (args.nano_port.clone(), args.esp_port.clone());
    let mut nano: Option<Result<Identity, String>> = nano_port.as_deref().map(identify);
    let mut esp: Option<Result<Identity, String>> = esp_port.as_deref().map(identify);
    if nano_port.is_none() || esp_port.is_none() {
        ui.status(
            "Probing",
            "serial ports (this resets boards with auto-reset)",
        );
        // Every other port, probed in parallel (the ones named on the command line are
        // not probed twice: each probe resets the board).
        let known: Vec<PathBuf> = nano_port.iter().chain(esp_port.iter()).cloned().collect();
        let candidates: Vec<PathBuf> =
            ports::list(&super::ports::extra_ports(&[], project.map(Project::dir)))
                .into_iter()
                .map(|p| p.path)
                .filter(|p| !known.contains(p))
                .collect();
        let found: Vec<(PathBuf, Option<Identity>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = candidates
                .into_iter()
                .map(|path| {
                    let identify = &identify;
                    scope.spawn(move || {
                        let id = identify(&path).ok();
                        (path, id)
                    })
                })
                .collect();
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        for (path, id) in found {
            let Some(id) = id else { continue };
            if nano_port.is_none() && id.is_nano() {
                nano_port = Some(path);
                nano = Some(Ok(id));
            } else if esp_port.is_none() && id.is_esp() {
                esp_port = Some(path);
                esp = Some(Ok(id));
            }
        }
    }
    let board = project.and_then(|p| {
        nanoesp_boards::Catalog::load()
            .ok()?
            .avr(&p.config.nano.board)
            .map(|b| (b.id.clone(), b.upload_baud))
    });
    match (&nano_port, nano) {
        (Some(path), Some(Ok(id))) => {
            let value = format!("{}: {}", path.display(), id.describe());
            match (&id, &board) {
                (
                    Identity::Nano {
                        bootloader_baud, ..
                    },
                    Some((board_id, upload)),
                ) if bootloader_baud != upload => {
                    let other = if *bootloader_baud == 57_600 {
                        "nano-old"
                    } else {
                        "nano"
                    };
                    diagnoses.push(Diagnosis {
                        id: "bootloader",
                        summary: format!(
                            "the Nano's bootloader answers at {bootloader_baud} baud, but nano.board = {board_id} expects {upload}"
                        ),
                        advice: format!(
                            "This is the {} bootloader: `nanoesp config set nano.board {other}` so flashing uses {bootloader_baud} baud (or burn Optiboot with an ISP programmer).",
                            if *bootloader_baud == 57_600 { "old ATmegaBOOT" } else { "new Optiboot" }
                        ),
                    });
                    checks.push(Check::warn(
                        "ports.nano",
                        value,
                        format!("`nanoesp config set nano.board {other}`"),
                    ));
                }
                (i, _) if i.is_nano() => checks.push(Check::ok("ports.nano", value)),
                _ => checks.push(Check::fail(
                    "ports.nano",
                    value,
                    "That port is not a Nano: pass the Nano's port with --nano-port (`nanoesp ports` lists them).",
                )),
            }
            ev.nano = Some(id);
        }
        (Some(path), Some(Err(e))) => checks.push(Check::fail(
            "ports.nano",
            format!("{}: {e}", path.display()),
            "Plug the Nano in, close other serial monitors, or pass --nano-port.",
        )),
        // Checking hardware with no Nano attached proves nothing: that is a failure.
        _ => checks.push(Check::fail(
            "ports.nano",
            "no Nano found on any serial port",
            "Plug the Nano in (a data USB cable), check `nanoesp ports`, or pass --nano-port \
             PATH; `nanoesp doctor --sim` checks the project on the virtual bench instead.",
        )),
    }
    match (&esp_port, esp) {
        (Some(path), Some(Ok(id))) => {
            let value = format!("{}: {}", path.display(), id.describe());
            match &id {
                Identity::EspRom { .. } => checks.push(Check::warn(
                    "ports.esp",
                    value,
                    "The ESP is in download mode (GPIO0 low at reset): release GPIO0 and reset it to run its AT firmware.",
                )),
                i if i.is_esp() => checks.push(Check::ok("ports.esp", value)),
                _ => checks.push(Check::fail(
                    "ports.esp",
                    value,
                    "No ESP8266 protocol answered there: pass the ESP adapter's port with --esp-port.",
                )),
            }
            if let (Identity::EspAt { .. }, Some(p)) = (&id, project)
                && p.config.esp.module == "esp01"
            {
                diagnoses.push(Diagnosis {
                    id: "esp01-no-auto-reset",
                    summary: "an ESP-01 answers AT on its adapter: it has no auto-reset wiring".into(),
                    advice: "To flash it, hold GPIO0 low (to GND) while powering it up or pulsing RST, then run `nanoesp flash --only esp`; release GPIO0 afterwards.".into(),
                });
            }
            // The ROM prints its boot banner at 74880 baud after every reset (the open).
            if let Some(b) = rom_banner(path) {
                diagnoses.push(Diagnosis {
                    id: "rom-banner",
                    summary: format!(
                        "ESP boot banner: rst cause {} ({}), boot mode ({},{})",
                        b.rst_cause, b.rst_meaning, b.boot_mode.0, b.boot_mode.1
                    ),
                    advice: format!("Boot mode {}: {}.", b.boot_mode.0, b.boot_meaning),
                });
            }
            ev.esp = Some(id);
        }
        (Some(path), Some(Err(e))) => checks.push(Check::fail(
            "ports.esp",
            format!("{}: {e}", path.display()),
            "Plug the ESP's adapter in, close other serial monitors, or pass --esp-port.",
        )),
        _ => checks.push(Check::skip(
            "ports.esp",
            "no ESP8266 adapter found (normal when the ESP is only wired to the Nano)",
        )),
    }

    // The console (soft link only: with the USART link it carries the ESP).
    let soft = project.is_none_or(|p| p.config.link.kind == LinkKind::Soft);
    match (&nano_port, soft) {
        (_, false) => {
            ev.console_skip =
                "the link uses the USART (D0/D1), which is also the console: no console".into();
        }
        (None, _) => ev.console_skip = "no Nano port".into(),
        (Some(port), true) => {
            ui.status(
                "Reading",
                format!(
                    "the Nano's console on {} at {} baud (this resets the Nano)",
                    port.display(),
                    ev.console_baud
                ),
            );
            match ports::read_lines(port, ev.console_baud, Duration::from_secs(15), &mut |l| {
                l.starts_with("nanoesp: ready ")
            }) {
                Ok(lines) => {
                    let facts = ConsoleFacts::from_lines(lines.iter().map(String::as_str));
                    if args.url.is_none()
                        && let Some(u) = &facts.ready
                    {
                        ev.url = Some(u.clone());
                    }
                    ev.console = Some(facts);
                }
                Err(e) => ev.console_error = Some(e.to_string()),
            }
        }
    }
    if ev.url.is_none() {
        ev.url = args.url.clone();
    }
    if ev.url.is_none() {
        ev.url_skip = "the firmware reported no address (pass --url)".into();
    }
}

/// Reads the ESP port at 74880 baud for a moment and decodes the ROM banner.
fn rom_banner(port: &Path) -> Option<nanoesp_flash::esp::banner::RomBanner> {
    use std::io::Read;
    // The probes before us just closed the port: without a gap the open may not count as
    // a reset, and no banner comes.
    std::thread::sleep(ports::REOPEN_GAP);
    let mut serial = ports::open(port, 74_880).ok()?;
    let deadline = Instant::now() + Duration::from_millis(1200);
    let mut bytes = Vec::new();
    let mut buf = [0u8; 256];
    while Instant::now() < deadline {
        match serial.read(&mut buf) {
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
        if let Some(b) = nanoesp_flash::esp::banner::decode(&bytes) {
            return Some(b);
        }
    }
    nanoesp_flash::esp::banner::decode(&bytes)
}

/// nano.console.
fn judge_console(
    ev: &Evidence,
    project: Option<&Project>,
    checks: &mut Vec<Check>,
    diagnoses: &mut Vec<Diagnosis>,
) {
    if let Some(e) = &ev.console_error {
        checks.push(Check::fail(
            "nano.console",
            format!("cannot read the console: {e}"),
            "Close other serial monitors on the Nano's port and check the USB cable.",
        ));
        return;
    }
    let Some(f) = &ev.console else {
        checks.push(Check::skip("nano.console", ev.console_skip.clone()));
        return;
    };
    let firmware_baud = project.map_or(115_200, |p| p.config.console.baud);
    if f.garbled() {
        checks.push(Check::fail(
            "nano.console",
            format!(
                "garbled at {} baud: {} of {} bytes are noise, no line readable",
                ev.console_baud, f.noise_bytes, f.bytes
            ),
            format!(
                "Open the console at the firmware's speed, {firmware_baud} baud (console.baud in nanoesp.toml): `nanoesp monitor` does."
            ),
        ));
        diagnoses.push(Diagnosis {
            id: "console-baud",
            summary: format!(
                "the Nano's console is noise at {} baud: the reader's speed differs from the firmware's",
                ev.console_baud
            ),
            advice: format!(
                "Set the serial monitor to {firmware_baud} baud (8N1). If that is garbled too, the firmware was built with another console.baud: rebuild and flash (`nanoesp build && nanoesp flash --only nano`)."
            ),
        });
        return;
    }
    if f.bytes == 0 {
        checks.push(Check::fail(
            "nano.console",
            "silent: the Nano printed nothing after its reset",
            "Flash the firmware (`nanoesp flash --only nano`); check the USB cable and that nothing holds D0/D1.",
        ));
        return;
    }
    match &f.banner {
        Some(b) => checks.push(Check::ok(
            "nano.console",
            format!(
                "banner: build {} board={} esp={} link={} baud={} ({} lines at {} baud)",
                b.build_id,
                b.board,
                b.esp,
                b.link,
                b.baud.map_or("?".to_string(), |n| n.to_string()),
                f.lines,
                ev.console_baud
            ),
        )),
        None => checks.push(Check::warn(
            "nano.console",
            format!("{} lines but no nanoesp banner", f.lines),
            "The board runs another firmware, or the console was opened after the banner: flash it with `nanoesp flash --only nano`.",
        )),
    }
}

/// server.status: one GET; returns the parsed status when it is correct.
fn server_status(
    target: &Target,
    url: &str,
    timeout: Duration,
    ev: &Evidence,
    checks: &mut Vec<Check>,
    diagnoses: &mut Vec<Diagnosis>,
) -> Option<http::Status> {
    let started = Instant::now();
    let banner_id = ev
        .console
        .as_ref()
        .and_then(|f| f.banner.as_ref())
        .map(|b| b.build_id.clone());
    match http::get(target, "/api/status", timeout) {
        Ok(a) if a.status == 200 => {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            match http::Status::parse(&a.body)
                .and_then(|s| s.judge(banner_id.as_deref()).map(|()| s))
            {
                Ok(s) => {
                    checks.push(Check::ok(
                        "server.status",
                        format!(
                            "200 in {ms:.0} ms: firmware {}, esp {}, analog {:?}, uptime {:.1} s, served {}, errors {}",
                            s.firmware,
                            s.esp,
                            s.analog,
                            s.uptime_ms as f64 / 1000.0,
                            s.served,
                            s.errors
                        ),
                    ));
                    Some(s)
                }
                Err(e) => {
                    checks.push(Check::fail(
                        "server.status",
                        format!("200 but {e}"),
                        "The server is not a nanoesp firmware of this project, or it is damaged: flash the last build (`nanoesp flash --only nano`).",
                    ));
                    None
                }
            }
        }
        Ok(a) => {
            checks.push(Check::fail(
                "server.status",
                format!("HTTP {} for /api/status", a.status),
                if a.status == 503 {
                    "The server was busy with other clients; run doctor again when they are done."
                } else {
                    "This is not a nanoesp firmware (no /api/status): flash it with `nanoesp flash`."
                },
            ));
            None
        }
        Err(f) => {
            let refused = matches!(f, Failure::Refused(_));
            checks.push(Check::fail(
                "server.status",
                format!("{url}: {f}"),
                if refused {
                    "Nothing listens there: check that the device is powered and joined (console `nanoesp: ready`), the IP and port (http.port), or start the bench (`nanoesp sim`)."
                } else {
                    "The server accepted but did not answer in time: check the ESP link (`nanoesp monitor`) and power."
                },
            ));
            diagnoses.push(Diagnosis {
                id: "server-down",
                summary: format!("no answer from {url} ({f})"),
                advice: "Power, Wi-Fi and address first: the console's `nanoesp: ready http://IP:PORT/` line gives the URL; a firewall or another network (guest Wi-Fi, VLAN) also blocks it.".into(),
            });
            None
        }
    }
}

/// server.concurrency, and the classic one-client diagnosis.
fn judge_load(
    l: &crate::doctor::Load,
    project: Option<&Project>,
    checks: &mut Vec<Check>,
    diagnoses: &mut Vec<Diagnosis>,
) {
    let latency = match (l.p50_ms, l.max_ms) {
        (Some(p), Some(m)) => format!("p50 {p:.0} ms, max {m:.0} ms"),
        _ => "no latency (nothing answered)".into(),
    };
    let retried = if l.retried > 0 {
        format!(", {} answered 503 (busy) first and were retried", l.retried)
    } else {
        String::new()
    };
    if l.failed == 0 {
        checks.push(Check::ok(
            "server.concurrency",
            format!("{}/{} clients correct{retried}; {latency}", l.ok, l.clients),
        ));
        return;
    }
    let max_clients = project.map(|p| p.config.http.max_clients);
    let busy = l.statuses.get("503").copied().unwrap_or(0);
    let fix = match max_clients {
        Some(m) if usize::from(m) < l.clients && busy > 0 => format!(
            "The firmware serves {m} client(s) at a time (http.max_clients): `nanoesp config set http.max_clients 4`, then `nanoesp build` and `nanoesp flash --only nano`."
        ),
        _ => "The firmware cannot serve several clients at once: use nanoesp's non-blocking firmware (`nanoesp flash`); check the ESP link for `busy p...` (`nanoesp monitor`).".into(),
    };
    checks.push(Check::fail(
        "server.concurrency",
        format!(
            "{}/{} clients correct, {} failed ({}); {latency}",
            l.ok,
            l.clients,
            l.failed,
            l.errors.join(", ")
        ),
        fix,
    ));
    if l.clients > 1 {
        diagnoses.push(Diagnosis {
            id: "one-client-server",
            summary: format!(
                "one client is served, {} parallel clients are not ({} x 503, {} failed for good): the classic blocking-firmware symptom",
                l.clients, busy, l.failed
            ),
            advice: match max_clients {
                Some(m) if usize::from(m) < 2 => format!(
                    "http.max_clients is {m}: the firmware turns every further client away. Raise it (`nanoesp config set http.max_clients 4`), rebuild and flash."
                ),
                _ => "A sketch that sends AT+CIPSEND and then waits for OK swallows the second browser's +IPD and desyncs (`busy s...`): nanoesp's firmware does not block; flash it, and keep http.max_clients at 3–4.".into(),
            },
        });
    }
}

/// server.soak.
fn judge_soak(l: &crate::doctor::Load) -> Check {
    let value = format!(
        "{:.0} s x {} clients: {} requests, {} correct, {} failed, {} busy (503); p50 {} ms, max {} ms",
        l.seconds,
        l.clients,
        l.requests,
        l.ok,
        l.failed,
        l.retried,
        l.p50_ms.map_or("-".into(), |v| format!("{v:.0}")),
        l.max_ms.map_or("-".into(), |v| format!("{v:.0}")),
    );
    if l.failed == 0 && l.ok > 0 {
        Check::ok("server.soak", value)
    } else {
        Check::fail(
            "server.soak",
            format!("{value} ({})", l.errors.join(", ")),
            "Failures under sustained load: watch the link with `nanoesp monitor` for resets or `busy`, and check the ESP's 3.3 V supply.",
        )
    }
}

/// nano.firmware, esp.at, esp.baud, wifi.join.
fn judge_firmware_and_esp(
    ev: &Evidence,
    status: Option<&http::Status>,
    project: Option<&Project>,
    checks: &mut Vec<Check>,
    diagnoses: &mut Vec<Diagnosis>,
) {
    let facts = ev.console.as_ref().filter(|f| !f.garbled());
    let banner = facts.and_then(|f| f.banner.as_ref());
    // nano.firmware: what runs vs the last build.
    let running = banner
        .map(|b| (b.build_id.clone(), "console banner"))
        .or_else(|| status.map(|s| (s.firmware.clone(), "/api/status")));
    match (&running, &ev.expected) {
        (Some((id, from)), Some(expected)) if id == expected => checks.push(Check::ok(
            "nano.firmware",
            format!("build {id} ({from}) is the last build"),
        )),
        (Some((id, from)), Some(expected)) => {
            checks.push(Check::fail(
                "nano.firmware",
                format!("running build {id} ({from}), last build is {expected}"),
                "Flash the last build: `nanoesp flash --only nano` (or `nanoesp build` first if the sources changed).",
            ));
            diagnoses.push(Diagnosis {
                id: "stale-firmware",
                summary: format!(
                    "the Nano runs build {id}, not the project's last build {expected}"
                ),
                advice: "Settings (Wi-Fi, pins, baud) reach the firmware at build time: after `nanoesp config set` or a code change, `nanoesp build` and `nanoesp flash --only nano`.".into(),
            });
        }
        (Some((id, from)), None) if project.is_some() => checks.push(Check::warn(
            "nano.firmware",
            format!("running build {id} ({from}); the project has no .nanoesp/build.json"),
            "Run `nanoesp build` so doctor can tell whether the board runs the current build.",
        )),
        (Some((id, from)), None) => checks.push(Check::ok(
            "nano.firmware",
            format!("running build {id} ({from})"),
        )),
        (None, _) => checks.push(Check::skip(
            "nano.firmware",
            "no banner and no status answer to read the build id from",
        )),
    }

    if let Some(p) = project.filter(|p| p.config.mode == Mode::EspMaster) {
        judge_esp_master(status, p, checks);
        return;
    }

    // esp.at.
    let at_from_port = match &ev.esp {
        Some(Identity::EspAt { version }) => Some(version.clone()),
        _ => None,
    };
    let version = facts
        .and_then(|f| f.at_version.clone())
        .or_else(|| status.map(|s| s.esp.clone()).filter(|v| !v.is_empty()))
        .or(at_from_port);
    let silent = facts.is_some_and(|f| f.no_answer > 0) && version.is_none();
    let link = project.map(|p| &p.config.link);
    let pins = link.map_or("D8/D9".to_string(), |l| format!("{}/{}", l.rx, l.tx));
    let baud = link.map(|l| l.baud);
    let at2 = facts.is_some_and(|f| f.at2_warning)
        || version
            .as_deref()
            .is_some_and(|v| v.trim_start_matches("AT version:").starts_with('2'));
    match (&version, silent) {
        (Some(v), _) if at2 => {
            checks.push(Check::warn(
                "esp.at",
                format!("AT {v}: AT 2.x on an ESP8266"),
                "Flash NonOS AT 1.7.4+ (`nanoesp flash --only esp`).",
            ));
            diagnoses.push(Diagnosis {
                id: "at2-gpio",
                summary: format!("the ESP runs AT {v}, which is not reliable on an ESP8266"),
                advice: "ESP-AT 2.x for ESP8266 (no longer maintained) puts the AT port on GPIO13 (RX) / GPIO15 (TX) in its default builds, so a Nano wired to TX/RX gets no answer, and builds that do answer there handle several links poorly. Flash NonOS AT 1.7.4 or newer (`nanoesp flash --only esp`).".into(),
            });
        }
        (Some(v), _) => checks.push(Check::ok("esp.at", format!("AT {v}"))),
        (None, true) => {
            checks.push(Check::fail(
                "esp.at",
                format!(
                    "the ESP does not answer AT on {pins} at {} baud",
                    baud.map_or("?".into(), |b| b.to_string())
                ),
                "Check wiring (ESP TX → Nano RX pin, Nano TX pin → divider → ESP RX, common GND), a separate 3.3 V supply with EN/CH_PD high, and the ESP's baud.",
            ));
            diagnoses.push(Diagnosis {
                id: "esp-silent",
                summary: "the firmware's AT probe got no answer from the ESP".into(),
                advice: format!(
                    "ESP TX → Nano {rx}, Nano {tx} → 5 V→3.3 V divider (e.g. 1 kΩ/2 kΩ) → ESP RX, GND common; EN/CH_PD and RST high, GPIO15 low, GPIO0/GPIO2 high; a 3.3 V regulator of ≥ 300 mA (not the Nano's 3.3 V pin). The firmware tries {b} baud and the factory 115200 (then switches the ESP with AT+UART_CUR, or AT+UART_DEF with link.save_baud); an ESP saved at another speed needs `AT+UART_DEF={b},8,1,0,0` once from a USB adapter.",
                    rx = link.map_or("D8", |l| l.rx.as_str()),
                    tx = link.map_or("D9", |l| l.tx.as_str()),
                    b = baud.unwrap_or(57_600)
                ),
            });
        }
        (None, false) => checks.push(Check::skip(
            "esp.at",
            "no console line and no status answer about the ESP",
        )),
    }

    // esp.baud: the running firmware's link speed vs the project, and the ESP answering.
    match (banner.and_then(|b| b.baud), baud) {
        (Some(fw), Some(cfg)) if fw != cfg => checks.push(Check::fail(
            "esp.baud",
            format!("the firmware drives the link at {fw} baud, nanoesp.toml says {cfg}"),
            "Rebuild and flash so both agree: `nanoesp build && nanoesp flash --only nano`.",
        )),
        (fw, cfg) => {
            let b = fw.or(cfg);
            let soft = link.is_some_and(|l| l.kind == LinkKind::Soft);
            match (b, &version, silent) {
                (Some(b), Some(_), _) if soft && b > 57_600 => checks.push(Check::warn(
                    "esp.baud",
                    format!("{b} baud, the ESP answers"),
                    "The soft serial link loses bytes above 57600 baud while receiving: `nanoesp config set link.baud 57600` (and AT+UART_DEF on the ESP).",
                )),
                (Some(b), Some(_), _) => checks.push(Check::ok(
                    "esp.baud",
                    format!("{b} baud on both ends (the ESP answers)"),
                )),
                (b, None, true) => checks.push(Check::warn(
                    "esp.baud",
                    format!(
                        "unknown: no answer at {} baud",
                        b.map_or("?".into(), |b| b.to_string())
                    ),
                    format!(
                        "If the wiring is right, the ESP runs at a speed that is neither the link's nor the factory 115200 (both are tried): set it once with `AT+UART_DEF={},8,1,0,0` from a USB adapter.",
                        b.unwrap_or(57_600)
                    ),
                )),
                (Some(b), None, false) if status.is_some() => checks.push(Check::ok(
                    "esp.baud",
                    format!("{b} baud (the server answers through the ESP)"),
                )),
                _ => checks.push(Check::skip("esp.baud", "no evidence about the link")),
            }
        }
    }

    // wifi.join.
    let ssid = banner
        .map(|b| b.ssid.clone())
        .or_else(|| project.map(|p| p.config.wifi.ssid.clone()))
        .unwrap_or_default();
    match facts {
        Some(f) if f.ready.is_some() => checks.push(Check::ok(
            "wifi.join",
            format!("joined \"{ssid}\", IP {}", f.ip().unwrap_or("?")),
        )),
        Some(f) if !f.join_failures.is_empty() => {
            let last = f.join_failures.last().expect("not empty");
            let fix = join_advice(last.code, &ssid);
            checks.push(Check::fail(
                "wifi.join",
                format!(
                    "join \"{ssid}\" failed: {} (code {}), {} attempt(s)",
                    last.reason,
                    last.code,
                    f.join_failures.len()
                ),
                fix.clone(),
            ));
            diagnoses.push(Diagnosis {
                id: "join-failed",
                summary: format!(
                    "the ESP could not join \"{ssid}\": {} (code {})",
                    last.reason, last.code
                ),
                advice: fix,
            });
        }
        _ if status.is_some() => checks.push(Check::ok(
            "wifi.join",
            "joined (the server answers over Wi-Fi)",
        )),
        Some(_) if silent => checks.push(Check::skip(
            "wifi.join",
            "not reached: the ESP does not answer",
        )),
        Some(f) if f.joining > 0 => checks.push(Check::fail(
            "wifi.join",
            format!("joining \"{ssid}\" without a result"),
            "Check the access point is up and in range (2.4 GHz only), and the SSID and password.",
        )),
        _ => checks.push(Check::skip(
            "wifi.join",
            "no console line and no status answer",
        )),
    }
}

/// What a `+CWJAP` error code means for the user.
fn join_advice(code: u8, ssid: &str) -> String {
    match code {
        1 => "Timeout: the access point did not answer in time; move the ESP closer, check it is a 2.4 GHz network, and give the ESP a solid 3.3 V supply.".into(),
        2 => "Wrong password: set it with `nanoesp config set wifi.password` (asked without echo), then `nanoesp build` and `nanoesp flash --only nano`.".into(),
        3 => format!("AP not found: no network named \"{ssid}\" is in range. Check wifi.ssid (`nanoesp config set wifi.ssid NAME`, case matters; 2.4 GHz only), then build and flash."),
        4 => "Connect failed: the access point refused the ESP (MAC filter, client limit, WPA3-only); check the router's settings.".into(),
        _ => "The ESP gave no reason: check the SSID, password and signal.".into(),
    }
}

/// Diagnoses from the logs: busy storms, repeated ESP resets.
fn judge_logs(ev: &Evidence, diagnoses: &mut Vec<Diagnosis>) {
    let facts = ev.console.as_ref();
    let busy = facts.map_or(0, |f| f.busy)
        + ev.sim_log
            .lines()
            .filter(|l| l.contains("busy p") || l.contains("busy s"))
            .count();
    if busy >= 3 {
        diagnoses.push(Diagnosis {
            id: "busy-storm",
            summary: format!("the ESP answered `busy` {busy} times"),
            advice: "The ESP is still processing when the next command arrives. With nanoesp's firmware this means a link too fast or noisy for the wiring: lower link.baud (38400 or 19200), keep the RX/TX wires short with a common ground, and check the ESP's 3.3 V rail under load.".into(),
        });
    }
    if let Some(f) = facts
        && f.esp_resets >= 2
    {
        diagnoses.push(Diagnosis {
            id: "esp-resets",
            summary: format!("the ESP reset {} times while running", f.esp_resets),
            advice: "Repeated resets are a brownout: the ESP8266 draws 300+ mA peaks when transmitting. Power it from its own 3.3 V regulator (≥ 300 mA, e.g. AMS1117-3.3 from 5 V) with 100–470 µF across it, never from the Nano's 3.3 V pin; common ground.".into(),
        });
    }
}

/// Human output: one line per check, then the diagnoses and a summary.
fn render(report: &Report, json: bool, ui: &Ui) -> miette::Result<()> {
    if json {
        ui.out(serde_json::to_string_pretty(report).into_diagnostic()?);
        return Ok(());
    }
    for c in &report.checks {
        let mut line = format!("{:<4}  {:<22} {}", c.status.as_str(), c.id, c.value);
        if let Some(fix) = &c.fix {
            line.push_str(" -- fix: ");
            line.push_str(fix);
        }
        ui.out(line);
    }
    for d in &report.diagnoses {
        ui.out(format!("diagnosis [{}]: {}. {}", d.id, d.summary, d.advice));
    }
    let count = |s: Status| report.checks.iter().filter(|c| c.status == s).count();
    ui.out(format!(
        "doctor: {} ok, {} warn, {} fail, {} skipped in {:.1} s{}",
        count(Status::Ok),
        count(Status::Warn),
        count(Status::Fail),
        count(Status::Skip),
        report.seconds,
        report
            .url
            .as_deref()
            .map(|u| format!(" -- server {u}"))
            .unwrap_or_default()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resets_and_busy_storms_are_diagnosed_from_the_logs() {
        let console = b"nanoesp 1a2b3c4d board=nano esp=esp12e link=soft baud=38400 ssid=x\r\n\
            nanoesp: ESP reset detected, re-initialising\r\n\
            nanoesp: ESP reset detected, re-initialising\r\n";
        let ev = Evidence {
            console: Some(ConsoleFacts::from_bytes(console)),
            sim_log: "<-- busy p...\n<-- busy p...\n<-- busy s...\n".into(),
            ..Evidence::default()
        };
        let mut diagnoses = Vec::new();
        judge_logs(&ev, &mut diagnoses);
        let ids: Vec<&str> = diagnoses.iter().map(|d| d.id).collect();
        assert_eq!(ids, ["busy-storm", "esp-resets"]);
        assert!(diagnoses[1].advice.contains("3.3 V regulator"));
        // One reset and two busy lines are not a pattern yet.
        let ev = Evidence {
            console: Some(ConsoleFacts::from_bytes(
                b"nanoesp: ESP reset detected, re-initialising\r\nbusy p...\r\nbusy p...\r\n",
            )),
            ..Evidence::default()
        };
        let mut diagnoses = Vec::new();
        judge_logs(&ev, &mut diagnoses);
        assert!(diagnoses.is_empty(), "{diagnoses:?}");
    }

    #[test]
    fn join_codes_get_their_own_advice() {
        assert!(join_advice(2, "x").contains("wifi.password"));
        assert!(join_advice(3, "lab").contains("\"lab\""));
        assert!(join_advice(1, "x").contains("2.4 GHz"));
        assert!(join_advice(4, "x").contains("refused"));
    }
}
