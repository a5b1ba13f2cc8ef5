//! The ESP8266 ends of the link: the emulator (`nanoesp-espemu`), nothing, a real module on
//! a serial port, or a new pty whose other end is any program playing the ESP.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

#[cfg(feature = "espemu")]
use nanoesp_espemu::{Esp, EspConfig, Faults, Profile};

use crate::board::EspPort;
use crate::error::SimError;
use crate::pty::{Pty, open_serial};

/// Which ESP8266 end to attach (`--esp`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EspChoice {
    /// The emulator.
    Emu,
    /// Nothing on the link.
    None,
    /// A real ESP8266 behind a USB-serial adapter.
    Serial(PathBuf),
    /// A new pty linked at the path: the program that opens it is the ESP8266.
    Pty(PathBuf),
}

impl std::str::FromStr for EspChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "emu" => Ok(EspChoice::Emu),
            "none" => Ok(EspChoice::None),
            _ => match (s.strip_prefix("serial:"), s.strip_prefix("pty:")) {
                (Some(path), _) if !path.is_empty() => Ok(EspChoice::Serial(PathBuf::from(path))),
                (_, Some(path)) if !path.is_empty() => Ok(EspChoice::Pty(PathBuf::from(path))),
                _ => Err(format!(
                    "expected emu, none, serial:PATH or pty:PATH, got `{s}`"
                )),
            },
        }
    }
}

/// Fault level of the emulator (`--esp-faults`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum FaultLevel {
    /// A perfect module.
    #[default]
    None,
    /// Timing as seen on real modules: 0–50 ms gaps before output chunks, SEND OK 5–300 ms
    /// after the payload.
    Realistic,
    /// Realistic, plus dropped URCs, garbage and spontaneous resets.
    Faults,
}

#[cfg(feature = "espemu")]
impl FaultLevel {
    /// The emulator's fault settings.
    pub fn faults(self) -> Faults {
        match self {
            FaultLevel::None => Faults::none(),
            FaultLevel::Realistic => Faults::realistic_noise(),
            FaultLevel::Faults => Faults::faults(),
        }
    }
}

/// AT firmware profile (`--esp-profile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ProfileChoice {
    /// NonOS AT 1.7.x.
    #[default]
    At17,
    /// ESP-AT 2.x.
    At2,
}

#[cfg(feature = "espemu")]
impl ProfileChoice {
    /// The emulator's profile.
    pub fn profile(self) -> Profile {
        match self {
            ProfileChoice::At17 => Profile::At17,
            ProfileChoice::At2 => Profile::At2,
        }
    }
}

/// Settings of the emulated module.
#[derive(Debug, Clone)]
pub struct EmuSettings {
    /// Firmware profile.
    pub profile: ProfileChoice,
    /// Faults.
    pub faults: FaultLevel,
    /// UART baud of the module.
    pub baud: u32,
    /// SSID of the access point in range.
    pub ap_ssid: Option<String>,
    /// Its password (from a secrets file, never the command line).
    pub ap_password: Option<Vec<u8>>,
    /// Seed of the emulator's generator.
    pub seed: u64,
    /// The module holds the access point's credentials (auto-joins after boot).
    pub stored_wifi: bool,
}

#[cfg(feature = "espemu")]
/// Builds the emulator from settings.
pub fn build_emulator(s: &EmuSettings) -> Esp {
    let mut cfg = EspConfig {
        profile: s.profile.profile(),
        baud: s.baud,
        faults: s.faults.faults(),
        seed: s.seed,
        ..EspConfig::default()
    };
    if s.faults != FaultLevel::None {
        // A module on a desk takes the spec's 5–300 ms to SEND OK (the TCP ack), not the
        // perfect module's 5–50 ms; the Wi-Fi join stays the firmware's own.
        cfg.timing = EspConfig::realistic().timing;
    }
    if let Some(ssid) = &s.ap_ssid {
        cfg.ap_ssid = ssid.as_bytes().to_vec();
    }
    if let Some(password) = &s.ap_password {
        cfg.ap_password = password.clone();
    }
    if s.stored_wifi {
        cfg.stored_wifi = Some((cfg.ap_ssid.clone(), cfg.ap_password.clone()));
    }
    Esp::new(cfg)
}

/// Reads `[wifi] password` from a `secrets.toml`.
pub fn read_password(path: &Path) -> Result<Vec<u8>, SimError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SimError::io(format!("reading {}", path.display()), e))?;
    let value: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        SimError::Usage(format!("{}: {}", path.display(), e.message()))
    })?;
    value
        .get("wifi")
        .and_then(|w| w.get("password"))
        .and_then(|p| p.as_str())
        .map(|p| p.as_bytes().to_vec())
        .ok_or_else(|| SimError::Usage(format!("{}: no [wifi] password", path.display())))
}

#[cfg(feature = "espemu")]
/// The emulator as the far end of the link.
pub struct EmuPort(pub Esp);

#[cfg(feature = "espemu")]
impl EspPort for EmuPort {
    fn uart_rx(&mut self, byte: u8, now_us: u64) {
        self.0.uart_rx(byte, now_us);
    }
    fn uart_tx(&mut self, now_us: u64) -> Option<u8> {
        self.0.uart_tx(now_us)
    }
    fn next_event_us(&self) -> Option<u64> {
        self.0.next_event_us()
    }
    fn baud(&self) -> Option<u32> {
        Some(self.0.baud())
    }
}

/// A real ESP8266 on a serial port. Only meaningful in real time: the module does not
/// know about simulated time.
pub struct SerialPort {
    file: std::fs::File,
    rx: std::collections::VecDeque<u8>,
}

impl SerialPort {
    /// Opens `path` raw at `baud`.
    pub fn open(path: &Path, baud: u32) -> Result<SerialPort, SimError> {
        Ok(SerialPort {
            file: open_serial(path, baud)?,
            rx: Default::default(),
        })
    }
}

impl EspPort for SerialPort {
    fn uart_rx(&mut self, byte: u8, _now_us: u64) {
        // a lost byte to a real module shows up as an AT error, like on hardware
        let _ = self.file.write_all(&[byte]);
    }
    fn uart_tx(&mut self, _now_us: u64) -> Option<u8> {
        if self.rx.is_empty() {
            let mut buf = [0u8; 256];
            if let Ok(n) = self.file.read(&mut buf) {
                self.rx.extend(&buf[..n]);
            }
        }
        self.rx.pop_front()
    }
    fn next_event_us(&self) -> Option<u64> {
        None
    }
}

/// The far end of the link as a pty whose slave is linked at a path: the program that
/// opens it (the host build of the ESP sketch, a Firmata client) plays the ESP8266.
///
/// Unlike the console pty, opening it does not reset the Nano: an ESP's serial line has
/// no DTR. Bytes from the program enter the link no faster than one per 10 bit times at
/// the link baud, as an ESP's UART sends them (a burst would otherwise overrun USART0);
/// bytes from the Nano are dropped while nobody has the port open, as on a bare wire.
pub struct PtyPort {
    pty: Pty,
    rx: VecDeque<u8>,
    byte_us: u64,
    next_us: u64,
}

impl PtyPort {
    /// Creates the pty and links `path` to its slave.
    pub fn create(path: &Path, baud: u32) -> Result<PtyPort, SimError> {
        if baud == 0 {
            return Err(SimError::Usage("--baud must be positive".into()));
        }
        Ok(PtyPort {
            pty: Pty::create(Some(path))?,
            rx: VecDeque::new(),
            byte_us: (10_000_000 / u64::from(baud)).max(1),
            next_us: 0,
        })
    }

    /// The slave device, e.g. `/dev/pts/4`.
    pub fn slave_name(&self) -> &str {
        self.pty.slave_name()
    }
}

impl EspPort for PtyPort {
    fn uart_rx(&mut self, byte: u8, _now_us: u64) {
        self.pty.write(&[byte]);
    }
    fn uart_tx(&mut self, now_us: u64) -> Option<u8> {
        if self.rx.is_empty() {
            // also notices the program opening and closing the port (no reset either way)
            self.rx.extend(self.pty.poll().data);
        }
        if now_us < self.next_us {
            return None;
        }
        let byte = self.rx.pop_front()?;
        self.next_us = now_us + self.byte_us;
        Some(byte)
    }
    fn next_event_us(&self) -> Option<u64> {
        (!self.rx.is_empty()).then_some(self.next_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esp_choice_parses() {
        assert_eq!("emu".parse::<EspChoice>(), Ok(EspChoice::Emu));
        assert_eq!(
            "serial:/dev/ttyUSB0".parse::<EspChoice>(),
            Ok(EspChoice::Serial("/dev/ttyUSB0".into()))
        );
        assert!("serial:".parse::<EspChoice>().is_err());
        assert_eq!(
            "pty:/tmp/x/link".parse::<EspChoice>(),
            Ok(EspChoice::Pty("/tmp/x/link".into()))
        );
        assert!("pty:".parse::<EspChoice>().is_err());
        assert!("wifi".parse::<EspChoice>().is_err());
    }

    #[test]
    fn password_comes_from_wifi_table() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.toml");
        std::fs::write(&path, "[wifi]\npassword = \"hunter2\"\n").unwrap();
        assert_eq!(read_password(&path).unwrap(), b"hunter2");
        std::fs::write(&path, "[other]\n").unwrap();
        assert!(read_password(&path).is_err());
    }
}
