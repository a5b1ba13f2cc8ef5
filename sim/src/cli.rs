//! Command-line arguments of `nanoesp-sim` (clap). Doc comments are the help text.

use std::path::PathBuf;

use crate::avr::Pin;
use crate::board::{LinkConfig, LinkKind};
use crate::error::SimError;
use crate::esp::{EmuSettings, EspChoice, FaultLevel, ProfileChoice};

/// Virtual bench: a simulated Arduino Nano (ATmega328P, 16 MHz, libsimavr) wired to an
/// emulated or real ESP8266.
#[derive(Debug, clap::Parser)]
#[command(name = "nanoesp-sim", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Run a firmware (ELF or Intel HEX) on the simulated Nano.
    Run(RunArgs),
    /// Measure HTTP throughput with K concurrent virtual clients, in simulated time.
    Bench(BenchArgs),
    /// An emulated ESP8266 module on a USB-serial adapter, as a pty: the ROM loader
    /// (--boot download) or the AT firmware (--boot flash).
    EspAdapter(crate::adapter::EspAdapterArgs),
}

/// Where the link to the ESP8266 is wired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LinkChoice {
    /// Hardware USART0 on D0/D1 (no USB console then).
    Usart,
    /// Software UART on two pins (see --rx/--tx).
    Soft,
}

/// The firmware's ESP link.
#[derive(Debug, Clone, clap::Args)]
pub struct LinkArgs {
    /// Where the firmware talks to the ESP8266.
    #[arg(long, value_enum, default_value = "soft")]
    pub link: LinkChoice,
    /// Firmware RX pin of the soft link (the ESP's TX drives it): D2–D13, A0–A5.
    #[arg(long, default_value = "D8")]
    pub rx: String,
    /// Firmware TX pin of the soft link (sampled at bit centres): D2–D13, A0–A5.
    #[arg(long, default_value = "D9")]
    pub tx: String,
    /// Baud rate of the ESP link (9600–115200 for the soft link).
    #[arg(long, default_value_t = 57600)]
    pub baud: u32,
}

impl LinkArgs {
    /// Validates pins and baud.
    pub fn resolve(&self) -> Result<LinkConfig, SimError> {
        let kind = match self.link {
            LinkChoice::Usart => LinkKind::Usart,
            LinkChoice::Soft => {
                let rx = link_pin(&self.rx, "--rx")?;
                let tx = link_pin(&self.tx, "--tx")?;
                if rx == tx {
                    return Err(SimError::Usage(
                        "--rx and --tx must be different pins".into(),
                    ));
                }
                if !(1200..=115_200).contains(&self.baud) {
                    return Err(SimError::Usage(format!(
                        "--baud {} is outside 1200–115200 for the soft link",
                        self.baud
                    )));
                }
                LinkKind::Soft { rx, tx }
            }
        };
        if self.baud == 0 {
            return Err(SimError::Usage("--baud must be positive".into()));
        }
        Ok(LinkConfig {
            kind,
            baud: self.baud,
        })
    }
}

fn link_pin(name: &str, flag: &str) -> Result<Pin, SimError> {
    let pin = Pin::from_arduino(name).ok_or_else(|| {
        SimError::Usage(format!(
            "{flag} {name}: not a Nano pin (allowed: D2–D13, A0–A5)"
        ))
    })?;
    if pin.port == b'D' && pin.bit < 2 {
        return Err(SimError::Usage(format!(
            "{flag} {name}: D0/D1 are USART0; use --link usart"
        )));
    }
    Ok(pin)
}

/// The ESP8266 end of the link.
#[derive(Debug, Clone, clap::Args)]
pub struct EspArgs {
    /// emu (the emulator), none, serial:PATH (a real ESP8266 on a USB-serial adapter), or
    /// pty:PATH (a new pty linked at PATH whose user plays the ESP, e.g. a Firmata client;
    /// opening it does not reset the Nano).
    #[arg(long, default_value = "emu")]
    pub esp: EspChoice,
    /// Options of the emulator.
    #[command(flatten)]
    pub emulator: EmulatorArgs,
}

/// Options of the emulated ESP8266, shared by `run` and `bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct EmulatorArgs {
    /// AT firmware the emulator imitates.
    #[arg(long, value_enum, default_value = "at17")]
    pub esp_profile: ProfileChoice,
    /// Fault injection of the emulator.
    #[arg(long, value_enum, default_value = "none")]
    pub esp_faults: FaultLevel,
    /// SSID of the emulated access point.
    #[arg(long)]
    pub ap_ssid: Option<String>,
    /// secrets.toml holding `[wifi] password` for the emulated access point.
    #[arg(long)]
    pub ap_password_file: Option<PathBuf>,
    /// Seed of the emulator's random generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The emulated ESP already holds the access point's credentials (as after
    /// `nanoesp flash --provision`) and joins by itself after boot: for `wifi.mode = "stored"`.
    #[arg(long)]
    pub esp_stored_wifi: bool,
    /// UART rate the emulated ESP starts at, when it differs from the link's (e.g. 115200,
    /// the AT firmware's factory rate): the firmware must negotiate. On either link the
    /// ESP's end samples and drives the wire at the ESP's current rate.
    #[arg(long, value_name = "BAUD")]
    pub esp_start_baud: Option<u32>,
}

impl EmulatorArgs {
    /// The emulator's settings at `baud`, with the access point's password read from its
    /// secrets file (never taken from the command line).
    pub fn settings(&self, baud: u32) -> Result<EmuSettings, SimError> {
        let ap_password = match &self.ap_password_file {
            Some(path) => Some(crate::esp::read_password(path)?),
            None => None,
        };
        Ok(EmuSettings {
            profile: self.esp_profile,
            faults: self.esp_faults,
            baud: self.esp_start_baud.unwrap_or(baud),
            ap_ssid: self.ap_ssid.clone(),
            ap_password,
            seed: self.seed,
            stored_wifi: self.esp_stored_wifi,
        })
    }
}

/// `nanoesp-sim run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Application firmware: ELF or Intel HEX (optional with --flash-image/--bootloader).
    pub firmware: Option<PathBuf>,
    /// Throttle simulated time to wall time (bootloader timeouts, browsers).
    #[arg(long)]
    pub realtime: bool,
    #[command(flatten)]
    pub link: LinkArgs,
    /// USART0 (the Nano's USB port) as a pty linked at PATH; opening it resets the chip.
    #[arg(long, value_name = "PATH")]
    pub console_pty: Option<PathBuf>,
    /// Garble console bytes when the pty's speed and the AVR's USART0 rate differ by ≥ 4.5 %.
    #[arg(long)]
    pub strict_baud: bool,
    /// Persistent flash: loaded at start if it exists, saved on exit and after writes.
    #[arg(long, value_name = "FILE")]
    pub flash_image: Option<PathBuf>,
    /// Bootloader: `optiboot` (115200, built from Debian's sources on first use),
    /// `atmegaboot` (57600) or an Intel HEX file. The chip starts there with EXTRF set, as
    /// the BOOTRST fuse does.
    #[arg(long, value_name = "NAME|HEX")]
    pub bootloader: Option<PathBuf>,
    /// Where named bootloaders are built [default: ~/.cache/nanoesp/bootloaders].
    #[arg(long, value_name = "DIR")]
    pub bootloader_cache: Option<PathBuf>,
    #[command(flatten)]
    pub esp: EspArgs,
    /// Bridge a real TCP listener (e.g. 127.0.0.1:8080) to the emulated ESP's server.
    #[arg(long, value_name = "ADDR")]
    pub http: Option<String>,
    /// Exit (status 0) once the firmware's server is up.
    #[arg(long)]
    pub exit_after_ready: bool,
    /// Stop after SECS of simulated time; an error if the server never came up.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// When the run ends, write the emulated ESP's recent serial exchange (its last 4–8 KB,
    /// `-->` Nano to ESP, `<--` ESP to Nano, the access point's password masked) to FILE.
    #[arg(long, value_name = "FILE")]
    pub esp_transcript: Option<PathBuf>,
    /// Voltage on an analog pin, e.g. A0=2500 (millivolts, AVcc = 5000). Repeatable.
    #[arg(long, value_name = "PIN=MV")]
    pub adc: Vec<String>,
    /// Print `nanoesp-sim: pin D13=1` on stderr at start and at each level change of a pin
    /// (D0–D13, A0–A5). Repeatable: up to 3 pins with the soft link, 4 with the USART.
    #[arg(long, value_name = "PIN")]
    pub watch_pin: Vec<String>,
}

/// `nanoesp-sim bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Firmware to measure (ELF or Intel HEX).
    #[arg(long)]
    pub firmware: PathBuf,
    #[command(flatten)]
    pub link: LinkArgs,
    /// Numbers of concurrent clients; each K runs against a fresh reset.
    #[arg(long, value_delimiter = ',', default_value = "1,2,5,8")]
    pub clients: Vec<u32>,
    /// Simulated seconds of load per K (after the server is up).
    #[arg(long, default_value_t = 60.0)]
    pub duration: f64,
    /// Simulated seconds allowed for the server to come up after reset.
    #[arg(long, default_value_t = 60.0)]
    pub ready_timeout: f64,
    /// Simulated seconds a request may take before it counts as a timeout.
    #[arg(long, default_value_t = 10.0)]
    pub request_timeout: f64,
    /// Options of the emulator.
    #[command(flatten)]
    pub emulator: EmulatorArgs,
    /// Write the results as JSON to this file.
    #[arg(long, value_name = "OUT")]
    pub json: Option<PathBuf>,
}

/// Parses a `--watch-pin` name into its canonical spelling (`D13`) and pin.
pub fn parse_watch_pin(name: &str) -> Result<(String, Pin), SimError> {
    let pin = Pin::from_arduino(name).ok_or_else(|| {
        SimError::Usage(format!(
            "--watch-pin {name}: not a Nano pin (allowed: D0–D13, A0–A5)"
        ))
    })?;
    Ok((name.trim().to_ascii_uppercase(), pin))
}

/// Parses `A0=2500` into (channel, millivolts).
pub fn parse_adc(spec: &str) -> Result<(u8, u32), SimError> {
    let bad = || SimError::Usage(format!("--adc {spec}: expected A0..A7=MILLIVOLTS"));
    let (pin, mv) = spec.split_once('=').ok_or_else(bad)?;
    let pin = pin.trim().to_ascii_uppercase();
    let channel: u8 = pin
        .strip_prefix('A')
        .and_then(|n| n.parse().ok())
        .ok_or_else(bad)?;
    let mv: u32 = mv.trim().parse().map_err(|_| bad())?;
    if channel > 7 || mv > 5000 {
        return Err(bad());
    }
    Ok((channel, mv))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adc_specs_parse() {
        assert_eq!(parse_adc("A0=2500").unwrap(), (0, 2500));
        assert_eq!(parse_adc("a7=0").unwrap(), (7, 0));
        assert!(parse_adc("A8=1").is_err());
        assert!(parse_adc("A0=9000").is_err());
        assert!(parse_adc("D3=1").is_err());
    }

    #[test]
    fn watch_pin_names_parse() {
        let (name, pin) = parse_watch_pin("d13").unwrap();
        assert_eq!((name.as_str(), pin), ("D13", Pin { port: b'B', bit: 5 }));
        assert_eq!(parse_watch_pin("A5").unwrap().1, Pin { port: b'C', bit: 5 });
        assert!(parse_watch_pin("D14").is_err());
        assert!(parse_watch_pin("A6").is_err());
    }

    #[test]
    fn soft_link_rejects_usart_pins_and_bad_names() {
        let mut args = LinkArgs {
            link: LinkChoice::Soft,
            rx: "D0".into(),
            tx: "D9".into(),
            baud: 57600,
        };
        assert!(args.resolve().is_err());
        args.rx = "D13".into();
        assert!(args.resolve().is_ok());
        args.tx = "D13".into();
        assert!(args.resolve().is_err());
        args.tx = "X1".into();
        assert!(args.resolve().is_err());
    }
}
