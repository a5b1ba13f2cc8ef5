//! `nanoesp monitor`: the Nano's console (and with `--esp` the ESP8266's adapter port at
//! the same time), each line tagged with its source and the seconds since start; what
//! you type is sent to the Nano line by line. The ESP's 74880-baud ROM boot banner is
//! decoded (reset cause, boot mode) when it comes through readable.
//!
//! The terminal is left in its normal (line) mode, so Ctrl-C ends the monitor and there
//! is nothing to restore.

use std::io::{BufRead, Read, Write};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nanoesp_flash::esp::banner;
use nanoesp_flash::ports;

use super::ProjectArgs;
use super::ports::{extra_ports, plan_for, scan};
use crate::Outcome;
use crate::ui::Ui;

/// Show the Nano's console (and the ESP8266's), timestamped; send typed lines to the Nano.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// The Nano's port (default: nano.port from nanoesp.toml; `auto` finds it).
    #[arg(long, value_name = "PATH")]
    pub port: Option<PathBuf>,
    /// Console baud (default: console.baud from nanoesp.toml, else 115200).
    #[arg(long)]
    pub baud: Option<u32>,
    /// Also show the ESP8266's own adapter port.
    #[arg(long)]
    pub esp: bool,
    /// The ESP8266's adapter port (default: esp.port from nanoesp.toml).
    #[arg(long, value_name = "PATH")]
    pub esp_port: Option<PathBuf>,
    /// Baud of the ESP8266's port.
    #[arg(long, default_value_t = 115_200)]
    pub esp_baud: u32,
    /// Stop after this many seconds (for scripts).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Exit with success as soon as a line contains TEXT (for scripts).
    #[arg(long, value_name = "TEXT")]
    pub until: Option<String>,
}

/// A line from one source.
enum Event {
    Line(&'static str, String),
    Gone(&'static str, String),
}

/// Runs `nanoesp monitor`.
pub fn run(args: Args, ui: &Ui) -> miette::Result<Outcome> {
    let project = nanoesp_project::Project::open(&args.project.project).ok();
    let configured = |flag: &Option<PathBuf>, key: fn(&nanoesp_project::Project) -> &str| {
        flag.clone()
            .or_else(|| project.as_ref().map(|p| PathBuf::from(key(p))))
    };
    let mut nano_port = configured(&args.port, |p| &p.config.nano.port).ok_or_else(|| {
        miette::miette!(
            help = "Pass --port PATH, or run inside a project whose nanoesp.toml names it.",
            "no port to monitor"
        )
    })?;
    if nano_port.as_os_str() == "auto" {
        let found = scan(
            &extra_ports(&[], project.as_ref().map(|p| p.dir())),
            &plan_for(project.as_ref()),
            true,
        );
        nano_port = found
            .into_iter()
            .find(|f| f.identity.as_ref().is_some_and(|i| i.is_nano()))
            .map(|f| f.port.path)
            .ok_or_else(|| {
                miette::miette!(
                    help = "`nanoesp ports` shows what answers where; or pass --port PATH.",
                    "no Nano found on any serial port"
                )
            })?;
    }
    let baud = args
        .baud
        .or_else(|| project.as_ref().map(|p| p.config.console.baud))
        .unwrap_or(115_200);

    let (tx, rx) = mpsc::channel::<Event>();
    let nano = ports::open(&nano_port, baud).map_err(|e| miette::miette!("{e}"))?;
    let writer = nano
        .try_clone_native()
        .map_err(|e| miette::miette!("{}: {e}", nano_port.display()))?;
    spawn_reader("nano", nano, tx.clone());
    ui.status(
        "Monitoring",
        format!(
            "Nano on {} at {baud} baud (Ctrl-C to quit)",
            nano_port.display()
        ),
    );
    if args.esp {
        let esp_port = configured(&args.esp_port, |p| &p.config.esp.port)
            .filter(|p| p.as_os_str() != "auto")
            .ok_or_else(|| {
                miette::miette!(
                    help = "Pass --esp-port PATH or set esp.port in nanoesp.toml.",
                    "no ESP8266 port to monitor"
                )
            })?;
        let esp = ports::open(&esp_port, args.esp_baud).map_err(|e| miette::miette!("{e}"))?;
        spawn_reader("esp", esp, tx.clone());
        ui.status(
            "Monitoring",
            format!(
                "ESP8266 on {} at {} baud",
                esp_port.display(),
                args.esp_baud
            ),
        );
    }
    spawn_stdin_forwarder(writer);
    drop(tx);

    let started = Instant::now();
    let deadline = args.duration.map(|s| started + Duration::from_secs_f64(s));
    loop {
        let wait = match deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) => left,
                None => return Ok(Outcome::Ok),
            },
            None => Duration::from_secs(3600),
        };
        match rx.recv_timeout(wait) {
            Ok(Event::Line(source, line)) => {
                let t = started.elapsed().as_secs_f64();
                ui.out(format!("[{t:9.3} {source:<4}] {line}"));
                if source == "esp"
                    && let Some(b) = banner::decode(line.as_bytes())
                {
                    ui.out(format!(
                            "[{t:9.3} {source:<4}] ^ ROM boot banner: reset cause {} ({}), boot mode ({},{}): {}",
                            b.rst_cause, b.rst_meaning, b.boot_mode.0, b.boot_mode.1, b.boot_meaning
                        ));
                }
                if args.until.as_deref().is_some_and(|u| line.contains(u)) {
                    return Ok(Outcome::Ok);
                }
            }
            Ok(Event::Gone(source, why)) => {
                return Err(miette::miette!(
                    help = "The adapter was unplugged or the simulator stopped; reconnect and run monitor again.",
                    "the {source} port went away: {why}"
                ));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(Outcome::Ok),
        }
    }
}

/// Reads `port` on a thread and sends complete lines (lossy UTF-8, CR/LF stripped).
fn spawn_reader(source: &'static str, mut port: serialport::TTYPort, tx: mpsc::Sender<Event>) {
    std::thread::spawn(move || {
        let mut partial = Vec::new();
        let mut buf = [0u8; 256];
        loop {
            match port.read(&mut buf) {
                Ok(0) => {
                    let _ = tx.send(Event::Gone(source, "end of file".into()));
                    return;
                }
                Ok(n) => {
                    for &b in &buf[..n] {
                        if b == b'\n' {
                            let line = String::from_utf8_lossy(&partial)
                                .trim_end_matches('\r')
                                .to_string();
                            partial.clear();
                            if tx.send(Event::Line(source, line)).is_err() {
                                return;
                            }
                        } else {
                            partial.push(b);
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.send(Event::Gone(source, e.to_string()));
                    return;
                }
            }
        }
    });
}

/// Sends each line typed on stdin to the Nano, ending it with CR LF.
fn spawn_stdin_forwarder(mut port: serialport::TTYPort) {
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines().map_while(Result::ok) {
            if port.write_all(line.as_bytes()).is_err() || port.write_all(b"\r\n").is_err() {
                return;
            }
        }
    });
}
