//! `nanoesp sim`: run the project's firmware (or any ELF) on the virtual bench — a simulated
//! Nano wired to an emulated ESP8266 — and serve its pages on 127.0.0.1.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use miette::{Context, IntoDiagnostic};

use nanoesp_project::model::LinkKind;

use super::{Link, LinkArg, LinkArgs, ProjectArgs};
use crate::ui::Ui;
use crate::{Outcome, simulator};

/// Run the firmware on a simulated Nano with an emulated ESP8266.
///
/// In a project, the firmware is built first (incrementally) and the emulated access point
/// takes the project's SSID and password. Prints the Nano's console, then the URL to open
/// once the firmware's server is up. Ctrl-C stops everything.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Run this firmware (ELF or HEX) instead of building the project's.
    #[arg(long, value_name = "FILE")]
    pub elf: Option<PathBuf>,
    /// The link (default: the project's; without a project, soft on D8/D9 at 57600).
    #[command(flatten)]
    pub link: LinkArgs,
    /// Far end of the link: emu (emulated ESP8266), none, or serial:PATH (a real ESP8266
    /// on a USB-serial adapter: hardware in the loop).
    #[arg(long, default_value = "emu")]
    pub esp: String,
    /// Emulated AT firmware: at17 or at2.
    #[arg(long, default_value = "at17")]
    pub esp_profile: String,
    /// Emulator faults: none, realistic or faults.
    #[arg(long, default_value = "none")]
    pub esp_faults: String,
    /// Address of the real TCP listener bridged to the emulated ESP.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub http: String,
    /// Expose the Nano's USB console as a pty at this path (opening it resets the chip).
    #[arg(long, value_name = "PATH")]
    pub console_pty: Option<PathBuf>,
    /// Run as fast as possible instead of in real time (for scripts; browsers prefer real time).
    #[arg(long)]
    pub fast: bool,
    /// Exit once the server is up (after printing the URL).
    #[arg(long)]
    pub exit_after_ready: bool,
    /// Give up after this many simulated seconds without a server.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u32>,
    /// Emulator random seed.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Start the Nano from this serial bootloader instead of loading the firmware, so
    /// `nanoesp flash` can program it: `optiboot` (115200, the "new" Nano) or
    /// `atmegaboot` (57600, the "old" one). The flash persists in
    /// .nanoesp/sim/nano-flash.bin; the console pty defaults to .nanoesp/sim/nano; the
    /// bootloader sees the port's baud as a real one would (strict baud).
    #[arg(long, value_name = "NAME")]
    pub bootloader: Option<String>,
    /// Also emulate the ESP8266's own USB adapter as a pty at PATH (in a project, `auto`
    /// means .nanoesp/sim/esp), in download mode, for `nanoesp flash --only esp`.
    #[arg(long, value_name = "PATH")]
    pub esp_adapter: Option<PathBuf>,
    /// Voltage on a Nano analog pin, e.g. A0=2500 (millivolts, AVcc = 5000). Repeatable.
    #[arg(long, value_name = "PIN=MV")]
    pub adc: Vec<String>,
}

/// Where a project's virtual bench keeps its ptys and flash images.
pub fn bench_dir(project: &std::path::Path) -> PathBuf {
    project.join(".nanoesp").join("sim")
}

/// Runs `nanoesp sim`.
pub fn run(args: Args, ui: &Ui) -> miette::Result<Outcome> {
    let mut sim_args: Vec<String> = vec!["run".into()];
    if args.bootloader.is_some() {
        return run_with_bootloader(args, ui);
    }
    if args.elf.is_none() {
        let project = args.project.open()?;
        if project.config.mode == nanoesp_project::model::Mode::EspMaster {
            return run_esp_master(&args, &project, ui);
        }
    }
    let (elf, link, ap, project_dir) = match &args.elf {
        Some(elf) => {
            if !elf.is_file() {
                miette::bail!(miette::miette!(
                    help = "Pass the path of an ATmega328P ELF or Intel HEX file.",
                    "{} does not exist",
                    elf.display()
                ));
            }
            let link = args
                .link
                .resolve(args.link.link.unwrap_or(LinkArg::Soft), None);
            let link = simulator::link_args(link.kind.as_str(), &link.rx, &link.tx, link.baud);
            (elf.clone(), link, Vec::new(), None)
        }
        None => {
            let project = args.project.open()?;
            let record = super::build::build(&project, ui)?;
            let link = project_link_args(&args, &project);
            let ap = simulator::ap_args(&project);
            (record.elf, link, ap, Some(project.dir().to_path_buf()))
        }
    };
    let sim = simulator::locate()?;
    sim_args.push(elf.to_string_lossy().into_owned());
    sim_args.extend(link);
    sim_args.extend(ap);
    sim_args.extend(emulator_args(&args));
    if let Some(pty) = &args.console_pty {
        sim_args.push("--console-pty".into());
        sim_args.push(pty.to_string_lossy().into_owned());
    }
    if args.exit_after_ready {
        sim_args.push("--exit-after-ready".into());
    }
    sim_args.extend(adc_args(&args));
    if let Some(t) = args.timeout {
        sim_args.push("--timeout".into());
        sim_args.push(t.to_string());
    }
    ui.status(
        "Simulating",
        format!(
            "{} on a simulated ATmega328P ({} ESP8266)",
            elf.display(),
            args.esp
        ),
    );
    let publish = project_dir
        .as_deref()
        .map(|dir| Publish::for_project(dir, args.console_pty.clone()));
    let status = relay(&sim, &sim_args, publish, ui)?;
    match status.code() {
        Some(0) => Ok(Outcome::Ok),
        Some(1) => Err(miette::miette!(
            help = "The serial exchange above shows where bring-up stopped; check the Wi-Fi settings with `nanoesp config list`.",
            "the firmware never brought its web server up"
        )),
        // Interrupted by Ctrl-C (the simulator shuts down cleanly on SIGINT).
        None => Ok(Outcome::Ok),
        Some(code) => Err(miette::miette!("the simulator failed (exit code {code})")),
    }
}

/// The link flags for the simulator: `--link/--rx/--tx/--baud` over the project's link.
fn project_link_args(args: &Args, project: &nanoesp_project::Project) -> Vec<String> {
    let c = &project.config;
    let own = Link {
        kind: match c.link.kind {
            LinkKind::Soft => LinkArg::Soft,
            LinkKind::Usart => LinkArg::Usart,
        },
        rx: c.link.rx.clone(),
        tx: c.link.tx.clone(),
        baud: c.link.baud,
    };
    let link = args
        .link
        .resolve(args.link.link.unwrap_or(own.kind), Some(&own));
    simulator::link_args(link.kind.as_str(), &link.rx, &link.tx, link.baud)
}

/// `--adc` values for the simulator.
fn adc_args(args: &Args) -> Vec<String> {
    args.adc
        .iter()
        .flat_map(|a| ["--adc".to_string(), a.clone()])
        .collect()
}

/// esp-master on the bench: the Nano's Firmata firmware in the simulator, its link exposed
/// as a pty (`.nanoesp/sim/link`), and the sketch's logic built for the host
/// (`nanoesp-esp-host`) on the far end of that pty, serving on `--http`.
fn run_esp_master(
    args: &Args,
    project: &nanoesp_project::Project,
    ui: &Ui,
) -> miette::Result<Outcome> {
    if args.esp != "emu" {
        miette::bail!(miette::miette!(
            help = "In esp-master mode the ESP side is the sketch's logic built for this computer; leave --esp out.",
            "--esp {} is for nano-drives-esp projects",
            args.esp
        ));
    }
    let record = super::build::build(project, ui)?;
    let (host, esp_id) = crate::esp_sketch::build_host(project)?;
    let bench = bench_dir(project.dir());
    std::fs::create_dir_all(&bench).into_diagnostic()?;
    let link_pty = bench.join("link");
    let _ = std::fs::remove_file(&link_pty);
    let sim = simulator::locate()?;
    let mut sim_args: Vec<String> = vec!["run".into(), record.elf.to_string_lossy().into_owned()];
    sim_args.extend(project_link_args(args, project));
    sim_args.push("--esp".into());
    sim_args.push(format!("pty:{}", link_pty.display()));
    if let Some(pty) = &args.console_pty {
        sim_args.push("--console-pty".into());
        sim_args.push(pty.to_string_lossy().into_owned());
    }
    if !args.fast {
        sim_args.push("--realtime".into());
    }
    sim_args.extend(adc_args(args));
    ui.status(
        "Simulating",
        format!(
            "{} (Firmata) on a simulated ATmega328P, link on {}",
            record.elf.display(),
            link_pty.display()
        ),
    );
    let mut nano = KillOnDrop(
        Command::new(&sim)
            .args(&sim_args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot start {}", sim.display()))?,
    );
    leave_interrupts_to_children();
    let nano_out = nano.0.stdout.take().expect("piped");
    let nano_lines = {
        let ui = ui.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(nano_out)
                .lines()
                .map_while(Result::ok)
            {
                match line.strip_prefix("nanoesp-sim: ") {
                    Some(rest) => ui.status("Bench", rest),
                    None => ui.out(format!("nano | {line}")),
                }
            }
        })
    };
    if !wait_for_link_pty(&link_pty, 10, Some(&mut nano.0)) {
        miette::bail!(
            "the simulator did not open the link pty {}",
            link_pty.display()
        );
    }
    let listen = resolve_listen(&args.http)?;
    let mut esp = KillOnDrop(
        esp_host_command(&host, project, &link_pty, &listen, &esp_id)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot start {}", host.display()))?,
    );
    ui.status(
        "ESP",
        format!("{} ({esp_id}) on {}", host.display(), link_pty.display()),
    );
    let publish = Publish::for_project(project.dir(), args.console_pty.clone());
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<String>();
    let esp_out = esp.0.stdout.take().expect("piped");
    let esp_lines = {
        let ui = ui.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(esp_out)
                .lines()
                .map_while(Result::ok)
            {
                // The line goes out before the URL is handed over, so it always comes
                // before the `open URL` line that scripts (and the tests) wait for.
                ui.out(format!("esp  | {line}"));
                if let Some(url) = line.strip_prefix("nanoesp: ready ") {
                    let _ = ready_tx.send(url.trim().to_string());
                }
            }
        })
    };
    let timeout = std::time::Duration::from_secs(u64::from(args.timeout.unwrap_or(30)));
    match ready_rx.recv_timeout(timeout) {
        Ok(url) => {
            ui.status("Serving", &url);
            ui.out(format!("open {url}"));
            publish.write(&url);
        }
        Err(_) => {
            drop(esp);
            drop(nano);
            let _ = std::fs::remove_file(&publish.path);
            miette::bail!(miette::miette!(
                help = "The lines above show where it stopped: the Nano's banner (nano |) and the ESP logic's progress (esp |).",
                "the ESP logic never reported ready (the Nano did not answer Firmata, or the port {} is taken)",
                listen
            ));
        }
    }
    if args.exit_after_ready {
        drop(esp);
        drop(nano);
        let _ = std::fs::remove_file(&publish.path);
        let _ = esp_lines.join();
        let _ = nano_lines.join();
        return Ok(Outcome::Ok);
    }
    // Until Ctrl-C (which both children get) or until either side ends.
    let status = loop {
        if let Some(status) = esp.0.try_wait().into_diagnostic()? {
            break Some(status);
        }
        if nano.0.try_wait().into_diagnostic()?.is_some() {
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    drop(esp);
    drop(nano);
    let _ = std::fs::remove_file(&publish.path);
    let _ = esp_lines.join();
    let _ = nano_lines.join();
    match status {
        Some(s) if s.success() || s.code().is_none() => Ok(Outcome::Ok),
        Some(s) => Err(miette::miette!("the ESP logic ended ({s})")),
        None => Ok(Outcome::Ok),
    }
}

/// Waits up to `secs` for the simulator's link pty to appear; false on time-out or when
/// `sim` (the simulator, if given) has ended.
pub fn wait_for_link_pty(
    path: &std::path::Path,
    secs: u64,
    mut sim: Option<&mut std::process::Child>,
) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !path.exists() {
        let ended = sim
            .as_deref_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_some());
        if ended || std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    true
}

/// `HOST:0` ("any free port") resolved to a free port now: the host program binds what it
/// is given, and the address must be known before it starts.
pub fn resolve_listen(http: &str) -> miette::Result<String> {
    match http.strip_suffix(":0") {
        Some(host_part) => {
            let port = std::net::TcpListener::bind((host_part, 0))
                .and_then(|l| l.local_addr())
                .into_diagnostic()
                .wrap_err_with(|| format!("cannot find a free port on {host_part}"))?
                .port();
            Ok(format!("{host_part}:{port}"))
        }
        None => Ok(http.to_string()),
    }
}

/// The sketch's host program for `project`, on the link pty, serving on `listen`.
pub fn esp_host_command(
    host: &std::path::Path,
    project: &nanoesp_project::Project,
    link_pty: &std::path::Path,
    listen: &str,
    esp_id: &str,
) -> Command {
    let c = &project.config;
    let mut cmd = Command::new(host);
    cmd.arg("--serial")
        .arg(link_pty)
        .args(["--baud", &c.link.baud.to_string()])
        .args(["--listen", listen])
        .args(["--max-clients", &c.http.max_clients.to_string()])
        .args(["--title", &c.http.title, "--text", &c.http.text])
        .args(["--esp-id", esp_id]);
    cmd
}

/// The emulated ESP, the HTTP bridge, the seed and the pace.
fn emulator_args(args: &Args) -> Vec<String> {
    let mut out: Vec<String> = vec![
        "--esp".into(),
        args.esp.clone(),
        "--esp-profile".into(),
        args.esp_profile.clone(),
        "--esp-faults".into(),
        args.esp_faults.clone(),
        "--http".into(),
        args.http.clone(),
        "--seed".into(),
        args.seed.to_string(),
    ];
    if !args.fast {
        out.push("--realtime".into());
    }
    out
}

/// `nanoesp sim --bootloader`: a blank (or previously flashed) Nano waiting in its
/// bootloader on a console pty, wired to the emulated ESP8266, optionally with the ESP's
/// adapter pty; `nanoesp flash` then programs it like a real board.
fn run_with_bootloader(args: Args, ui: &Ui) -> miette::Result<Outcome> {
    let project = args.project.open()?;
    let bench = bench_dir(project.dir());
    std::fs::create_dir_all(&bench)
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot create {}", bench.display()))?;
    let console = args
        .console_pty
        .clone()
        .unwrap_or_else(|| bench.join("nano"));
    let sim = simulator::locate()?;
    let mut sim_args: Vec<String> = vec![
        "run".into(),
        "--bootloader".into(),
        args.bootloader.clone().expect("checked by the caller"),
        "--flash-image".into(),
        bench.join("nano-flash.bin").to_string_lossy().into_owned(),
        "--console-pty".into(),
        console.to_string_lossy().into_owned(),
        "--strict-baud".into(),
    ];
    sim_args.extend(project_link_args(&args, &project));
    let esp_master = project.config.mode == nanoesp_project::model::Mode::EspMaster;
    let link_pty = bench.join("link");
    if esp_master {
        // The far end of the link is the sketch's host program, started below; it waits
        // for the Firmata firmware that `nanoesp flash` is about to write.
        let _ = std::fs::remove_file(&link_pty);
        sim_args.push("--esp".into());
        sim_args.push(format!("pty:{}", link_pty.display()));
        if !args.fast {
            sim_args.push("--realtime".into());
        }
        sim_args.extend(adc_args(&args));
    } else {
        sim_args.extend(simulator::ap_args(&project));
        sim_args.extend(emulator_args(&args));
    }
    let adapter = match &args.esp_adapter {
        Some(path) => {
            let path = if path.as_os_str() == "auto" {
                bench.join("esp")
            } else {
                path.clone()
            };
            let child = Command::new(&sim)
                .args(["esp-adapter", "--pty"])
                .arg(&path)
                .arg("--flash-file")
                .arg(bench.join("esp-flash.bin"))
                .args(["--boot", "download"])
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .into_diagnostic()
                .wrap_err_with(|| format!("cannot start {}", sim.display()))?;
            ui.status(
                "Adapter",
                format!("emulated ESP8266 in download mode on {}", path.display()),
            );
            Some(KillOnDrop(child))
        }
        None => None,
    };
    ui.status(
        "Simulating",
        format!(
            "a Nano waiting in its {} bootloader on {} (flash it with `nanoesp flash --nano-port {}`)",
            args.bootloader.as_deref().unwrap_or_default(),
            console.display(),
            console.display()
        ),
    );
    let publish = Publish::for_project(project.dir(), Some(console.clone()));
    let status = if esp_master {
        let (host, esp_id) = crate::esp_sketch::build_host(&project)?;
        let listen = resolve_listen(&args.http)?;
        let mut cmd = esp_host_command(&host, &project, &link_pty, &listen, &esp_id);
        relay_with_esp_host(&sim, &sim_args, &link_pty, &mut cmd, publish, ui)?
    } else {
        relay(&sim, &sim_args, Some(publish), ui)?
    };
    drop(adapter);
    match status.code() {
        Some(0) | None => Ok(Outcome::Ok),
        Some(code) => Err(miette::miette!("the simulator failed (exit code {code})")),
    }
}

/// [`relay`] for an esp-master bench: once the simulator has made the link pty, the sketch's
/// host program is started on it; its lines are shown as `esp  | ...` and its ready line
/// publishes the URL. It is stopped when the simulator ends.
fn relay_with_esp_host(
    sim: &std::path::Path,
    sim_args: &[String],
    link_pty: &std::path::Path,
    host: &mut Command,
    publish: Publish,
    ui: &Ui,
) -> miette::Result<std::process::ExitStatus> {
    let published = publish.path.clone();
    let starter = {
        let link_pty = link_pty.to_path_buf();
        let ui = ui.clone();
        let mut host = std::mem::replace(host, Command::new("true"));
        std::thread::spawn(move || -> Option<KillOnDrop> {
            if !wait_for_link_pty(&link_pty, 20, None) {
                ui.warn(format!(
                    "the simulator never made the link pty {}",
                    link_pty.display()
                ));
                return None;
            }
            let mut child = match host.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn() {
                Ok(c) => c,
                Err(e) => {
                    ui.warn(format!("cannot start the sketch's host program: {e}"));
                    return None;
                }
            };
            let out = child.stdout.take().expect("piped");
            std::thread::spawn(move || {
                for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                    if let Some(url) = line.strip_prefix("nanoesp: ready ") {
                        let url = url.trim();
                        ui.status("Serving", url);
                        ui.out(format!("open {url}"));
                        publish.write(url);
                    }
                    ui.out(format!("esp  | {line}"));
                }
            });
            Some(KillOnDrop(child))
        })
    };
    let status = relay(sim, sim_args, None, ui);
    if let Ok(Some(host)) = starter.join() {
        drop(host);
    }
    let _ = std::fs::remove_file(&published);
    status
}

/// Runs `nanoesp-sim` with `sim_args` until it ends, turning its stdout into our output:
/// the serving URL (`open URL` on stdout, what scripts wait for), bench notes as status
/// lines, the Nano's console as `nano | ...`.
fn relay(
    sim: &std::path::Path,
    sim_args: &[String],
    publish: Option<Publish>,
    ui: &Ui,
) -> miette::Result<std::process::ExitStatus> {
    let mut child = Command::new(sim)
        .args(sim_args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot start {}", sim.display()))?;
    leave_interrupts_to_children();
    let stdout = child.stdout.take().expect("piped");
    for line in std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
    {
        if let Some(url) = line.strip_prefix("nanoesp-sim: serving ") {
            ui.status("Serving", url);
            ui.out(format!("open {url}"));
            if let Some(p) = &publish {
                p.write(url);
            }
        } else if let Some(rest) = line.strip_prefix("nanoesp-sim: ") {
            ui.status("Bench", rest);
        } else {
            ui.out(format!("nano | {line}"));
        }
    }
    let status = child.wait().into_diagnostic();
    if let Some(p) = &publish {
        let _ = std::fs::remove_file(&p.path);
    }
    status
}

/// What a running `nanoesp sim` publishes in `.nanoesp/sim/bench.json`, so `nanoesp doctor
/// --sim` checks that bench instead of starting another.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct RunningBench {
    /// The `nanoesp sim` process.
    pub pid: u32,
    /// Where the firmware's server is bridged.
    pub url: String,
    /// The Nano's console pty, if the bench has one.
    pub console: Option<PathBuf>,
}

/// Where and what to publish once the bench serves.
struct Publish {
    path: PathBuf,
    console: Option<PathBuf>,
}

impl Publish {
    fn for_project(project: &std::path::Path, console: Option<PathBuf>) -> Publish {
        Publish {
            path: bench_dir(project).join("bench.json"),
            console,
        }
    }

    fn write(&self, url: &str) {
        let record = RunningBench {
            pid: std::process::id(),
            url: url.to_string(),
            console: self.console.clone(),
        };
        if let Ok(text) = serde_json::to_string(&record) {
            let _ = std::fs::create_dir_all(self.path.parent().expect("in the bench dir"));
            let _ = nanoesp_project::write_atomic(&self.path, text.as_bytes(), 0o644);
        }
    }
}

/// The project's running bench, if `nanoesp sim` published one and is still alive.
pub fn running_bench(project: &std::path::Path) -> Option<RunningBench> {
    let text = std::fs::read_to_string(bench_dir(project).join("bench.json")).ok()?;
    let bench: RunningBench = serde_json::from_str(&text).ok()?;
    // SAFETY: kill(pid, 0) only asks whether the process exists.
    let alive = unsafe { libc::kill(bench.pid as libc::pid_t, 0) } == 0;
    alive.then_some(bench)
}

/// Ctrl-C reaches the whole process group: the simulator (and adapter) save their flash
/// files and remove their ptys on it. We ignore it ourselves and wait for them, so
/// `nanoesp sim` ends only once they have cleaned up.
fn leave_interrupts_to_children() {
    // SAFETY: setting a signal disposition to SIG_IGN has no preconditions.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
    }
}

/// A helper process that must not outlive `nanoesp sim`.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // SIGTERM lets the adapter save its flash file and remove its pty link.
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM);
        }
        let _ = self.0.wait();
    }
}
