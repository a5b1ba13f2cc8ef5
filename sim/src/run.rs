//! `nanoesp-sim run`: one Nano on the bench until a signal, a timeout or readiness.
//!
//! Output contract (stdout, one line each, parsed by `nanoesp sim`):
//! - `nanoesp-sim: console <pty> at <PATH>` when `--console-pty` is given;
//! - `nanoesp-sim: esp link <pty> at <PATH>` with `--esp pty:PATH`;
//! - the Nano's console lines verbatim (soft link without `--console-pty`);
//! - `nanoesp-sim: serving http://127.0.0.1:PORT/` once the emulated ESP's server is up
//!   and `--http` bridges it (`nanoesp-sim: server up on esp port N` without `--http`).
//!
//! Diagnostics go to stderr, prefixed `nanoesp-sim:`, among them `nanoesp-sim: pin D13=1`
//! for each `--watch-pin` at start and at every level change.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::avr::F_CPU;
use crate::board::{Board, ConsoleMode, EspPort, LinkKind, NoEsp};
use crate::cli::{RunArgs, parse_adc, parse_watch_pin};
use crate::error::SimError;
use crate::esp::{EspChoice, PtyPort, SerialPort};
use crate::image::{FlashPlan, FlashStore, power_on};
use crate::pty::Pty;

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_sig: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Makes SIGINT/SIGTERM end the run loop cleanly (flash saved, pty link removed).
pub fn install_signal_handlers() {
    let handler = on_signal as extern "C" fn(libc::c_int);
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
        libc::signal(libc::SIGTERM, handler as libc::sighandler_t);
    }
}

/// The far end of the ESP link for `run`.
enum EspEnd {
    #[cfg(feature = "espemu")]
    Emu(Box<crate::esp::EmuPort>),
    None(NoEsp),
    Serial(SerialPort),
    Pty(PtyPort),
}

impl EspEnd {
    fn port(&mut self) -> &mut dyn EspPort {
        match self {
            #[cfg(feature = "espemu")]
            EspEnd::Emu(e) => e.as_mut(),
            EspEnd::None(n) => n,
            EspEnd::Serial(s) => s,
            EspEnd::Pty(p) => p,
        }
    }

    /// Whether a web server is expected at this end (the emulator's or a real ESP's AT
    /// server): then not coming up is an error. A pty's program is not watched for one.
    fn serves(&self) -> bool {
        !matches!(self, EspEnd::None(_) | EspEnd::Pty(_))
    }

    fn server_port(&self) -> Option<u16> {
        match self {
            #[cfg(feature = "espemu")]
            EspEnd::Emu(e) => e.0.server_port(),
            _ => None,
        }
    }

    fn transcript(&self) -> Option<String> {
        match self {
            #[cfg(feature = "espemu")]
            EspEnd::Emu(e) => Some(e.0.transcript_text()),
            _ => None,
        }
    }
}

/// Simulated time per loop iteration (1 ms): console lines, readiness, throttle.
const STEP_CYCLES: u64 = F_CPU / 1000;
/// How far simulated time may fall behind wall time (a loaded host) before the rest is
/// written off rather than caught up: catching up runs the chip several times faster than
/// real time, which shrinks its own timeouts against the host's (optiboot's 1 s window
/// closing before avrdude's first get-sync, sent 300 ms after the open).
const MAX_LAG_S: f64 = 0.02;
/// Simulated seconds after which a run that is still not ready warns once.
const NOT_READY_WARNING_S: u64 = 30;

/// Runs the bench per `args`. Returns the process exit code.
pub fn run(args: RunArgs) -> Result<u8, SimError> {
    let link = args.link.resolve()?;
    let adc: Vec<(u8, u32)> = args
        .adc
        .iter()
        .map(|s| parse_adc(s))
        .collect::<Result<_, _>>()?;
    let watch: Vec<(String, crate::avr::Pin)> = args
        .watch_pin
        .iter()
        .map(|s| parse_watch_pin(s))
        .collect::<Result<_, _>>()?;
    let plan = FlashPlan {
        firmware: args.firmware.clone(),
        bootloader: match &args.bootloader {
            Some(spec) => Some(crate::bootloader::resolve(
                spec,
                &args
                    .bootloader_cache
                    .clone()
                    .unwrap_or_else(crate::bootloader::default_cache),
            )?),
            None => None,
        },
        flash_image: args.flash_image.clone(),
    };
    let (mut avr, _boot) = power_on(&plan)?;
    for (channel, mv) in adc {
        avr.set_adc_mv(channel, mv);
    }
    let mut store = args.flash_image.clone().map(|p| FlashStore::new(p, &avr));
    let console = match (&link.kind, &args.console_pty) {
        (LinkKind::Usart, Some(_)) => {
            return Err(SimError::Usage(
                "--console-pty needs USART0, which --link usart gives to the ESP".into(),
            ));
        }
        (LinkKind::Usart, None) => ConsoleMode::Discard,
        (LinkKind::Soft { .. }, Some(path)) => {
            let pty = Pty::create(Some(path))?;
            println!(
                "nanoesp-sim: console {} at {}",
                pty.slave_name(),
                path.display()
            );
            ConsoleMode::Pty {
                pty,
                strict_baud: args.strict_baud,
            }
        }
        (LinkKind::Soft { .. }, None) => ConsoleMode::Lines,
    };
    let settings = args.esp.emulator.settings(link.baud)?;
    // Also needed without the emulator: it is masked in every serial log we print.
    let password = settings.ap_password.clone();
    let realtime = args.realtime || matches!(args.esp.esp, EspChoice::Serial(_));
    let mut esp = match &args.esp.esp {
        #[cfg(feature = "espemu")]
        EspChoice::Emu => EspEnd::Emu(Box::new(crate::esp::EmuPort(crate::esp::build_emulator(
            &settings,
        )))),
        #[cfg(not(feature = "espemu"))]
        EspChoice::Emu => {
            return Err(SimError::Usage(
                "built without the ESP8266 emulator (feature espemu)".into(),
            ));
        }
        EspChoice::None => EspEnd::None(NoEsp),
        EspChoice::Serial(path) => EspEnd::Serial(SerialPort::open(path, link.baud)?),
        EspChoice::Pty(path) => {
            let port = PtyPort::create(path, link.baud)?;
            println!(
                "nanoesp-sim: esp link {} at {}",
                port.slave_name(),
                path.display()
            );
            EspEnd::Pty(port)
        }
    };
    #[cfg(feature = "espemu")]
    let mut http = match (&args.http, &esp) {
        (Some(addr), EspEnd::Emu(_)) => {
            let addr: std::net::SocketAddr = addr.parse().map_err(|_| {
                SimError::Usage(format!(
                    "--http {addr}: expected IP:PORT, e.g. 127.0.0.1:8080"
                ))
            })?;
            Some(nanoesp_espemu::tcp::TcpBridge::new(addr))
        }
        (Some(_), _) => {
            eprintln!("nanoesp-sim: --http ignored: only the emulated ESP8266 can be bridged");
            None
        }
        (None, _) => None,
    };
    #[cfg(not(feature = "espemu"))]
    if args.http.is_some() {
        return Err(SimError::Usage(
            "built without the ESP8266 emulator (feature espemu)".into(),
        ));
    }
    if args.esp_transcript.is_some() && esp.transcript().is_none() {
        return Err(SimError::Usage(
            "--esp-transcript needs the emulated ESP8266 (--esp emu)".into(),
        ));
    }
    let mut board = Board::new(avr, link, console)?;
    for (name, pin) in &watch {
        board.watch_pin(name, *pin)?;
    }
    install_signal_handlers();

    let wall_start = Instant::now();
    // Where wall time is measured from for pacing: moved on by the lag written off.
    let mut pace_start = wall_start;
    let sim_start = board.avr.cycle();
    let timeout_cycles = args.timeout.map(|s| (s.max(0.0) * F_CPU as f64) as u64);
    let mut ready = false;
    let mut warned = false;
    let mut last_resets = board.avr.resets();
    let mut last_save = Instant::now();
    let stdout = std::io::stdout();
    let result: Result<u8, SimError> = loop {
        if STOP.load(Ordering::SeqCst) {
            break Ok(0);
        }
        let target = board.avr.cycle() + STEP_CYCLES;
        if let Err(e) = board.advance_to(target, esp.port()) {
            break Err(e);
        }
        #[cfg(feature = "espemu")]
        if let (Some(bridge), EspEnd::Emu(e)) = (&mut http, &mut esp)
            && let Err(err) = bridge.poll(&mut e.0, board.now_us())
        {
            break Err(SimError::Usage(err.to_string()));
        }
        for (name, level) in board.take_pin_changes() {
            eprintln!("nanoesp-sim: pin {name}={}", u8::from(level));
        }
        let lines = board.take_console_lines();
        let console_ready = lines.iter().any(|l| l.starts_with("nanoesp: ready "));
        if !lines.is_empty() {
            let mut out = stdout.lock();
            for line in &lines {
                let _ = writeln!(out, "{line}");
            }
            let _ = out.flush();
        }
        if !ready {
            let server = esp.server_port();
            #[cfg(feature = "espemu")]
            let bridge_waiting = http.as_ref().is_some_and(|b| !b.is_listening());
            #[cfg(not(feature = "espemu"))]
            let bridge_waiting = false;
            if !bridge_waiting && (server.is_some() || (console_ready && esp.serves())) {
                ready = true;
                let mut out = stdout.lock();
                #[cfg(feature = "espemu")]
                if let Some(addr) = http.as_ref().and_then(|b| b.local_addr()) {
                    let _ = writeln!(out, "nanoesp-sim: serving http://{addr}/");
                } else if let Some(port) = server {
                    let _ = writeln!(out, "nanoesp-sim: server up on esp port {port}");
                }
                #[cfg(not(feature = "espemu"))]
                if let Some(port) = server {
                    let _ = writeln!(out, "nanoesp-sim: server up on esp port {port}");
                }
                let _ = out.flush();
                if args.exit_after_ready {
                    break Ok(0);
                }
            }
        }
        let elapsed = board.avr.cycle() - sim_start;
        if !ready && !warned && elapsed >= NOT_READY_WARNING_S * F_CPU && esp.serves() {
            warned = true;
            eprintln!(
                "nanoesp-sim: warning: no server after {NOT_READY_WARNING_S} s simulated; last serial exchange:\n{}",
                crate::redact::redact(&board.transcript_tail(12), password.as_deref())
            );
        }
        if let Some(limit) = timeout_cycles
            && elapsed >= limit
        {
            if ready || !esp.serves() {
                break Ok(0);
            }
            break Err(SimError::NotReady {
                seconds: limit as f64 / F_CPU as f64,
                tail: format!(
                    "last serial exchange (--> Nano to ESP, <-- ESP to Nano):\n{}",
                    tail_of(&board, &esp, password.as_deref())
                ),
            });
        }
        if let Some(store) = &mut store {
            let resets = board.avr.resets();
            if resets != last_resets || last_save.elapsed() > Duration::from_millis(500) {
                last_resets = resets;
                last_save = Instant::now();
                if let Err(e) = store.save_if_changed(&board.avr) {
                    break Err(e);
                }
            }
        }
        if realtime {
            let sim_s = (board.avr.cycle() - sim_start) as f64 / F_CPU as f64;
            let ahead = sim_s - pace_start.elapsed().as_secs_f64();
            if ahead > 0.002 {
                std::thread::sleep(Duration::from_secs_f64(ahead));
            } else if ahead < -MAX_LAG_S {
                pace_start += Duration::from_secs_f64(-ahead - MAX_LAG_S);
            }
        }
    };
    if let Some(store) = &mut store {
        store.save_if_changed(&board.avr)?;
    }
    if let Some(path) = &args.esp_transcript {
        let text = esp.transcript().unwrap_or_default();
        let text = crate::redact::redact(&text, password.as_deref());
        std::fs::write(path, text + "\n").map_err(|source| SimError::Io {
            what: format!("writing the ESP transcript {}", path.display()),
            source,
        })?;
    }
    let sim_s = (board.avr.cycle() - sim_start) as f64 / F_CPU as f64;
    let wall_s = wall_start.elapsed().as_secs_f64();
    let stats = board.stats();
    eprintln!(
        "nanoesp-sim: exit sim={:.3}s wall={:.3}s ratio={:.2} resets={} to_esp={} from_esp={} overruns={} framing_errors={} tx_glitches={}",
        sim_s,
        wall_s,
        if wall_s > 0.0 { sim_s / wall_s } else { 0.0 },
        board.avr.resets(),
        stats.to_esp,
        stats.from_esp,
        stats.overruns,
        stats.framing_errors,
        stats.tx_glitches,
    );
    result
}

fn tail_of(board: &Board, esp: &EspEnd, password: Option<&[u8]>) -> String {
    let text = match esp.transcript() {
        Some(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(20)..].join("\n")
        }
        None => board.transcript_tail(20),
    };
    crate::redact::redact(&text, password)
}
