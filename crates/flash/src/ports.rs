//! Serial ports and what answers on them.
//!
//! Two identical CH340 adapters (one on the Nano, one on the ESP) look the same to USB,
//! so ports are told apart by protocol: an STK500 bootloader answering get-sync (a Nano,
//! and at which baud: 115200 Optiboot or 57600 ATmegaBOOT), our firmware's console banner,
//! the ESP8266 ROM loader answering SYNC, or an AT firmware answering `AT+GMR`.
//!
//! Opening a port resets what is behind it on auto-reset wiring (DTR), exactly as
//! avrdude's own open does; probes are ordered so that a Nano is found by its bootloader
//! in the second after that reset.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

/// A serial port found on the system or named by the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortInfo {
    /// Device path (`/dev/ttyUSB0`, or a simulator's pty link).
    pub path: PathBuf,
    /// USB identity when the port is a USB bridge.
    pub usb: Option<UsbInfo>,
}

/// USB identity of a serial bridge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsbInfo {
    /// Vendor id.
    pub vid: u16,
    /// Product id.
    pub pid: u16,
    /// Manufacturer string, if the device has one.
    pub manufacturer: Option<String>,
    /// Product string, if the device has one.
    pub product: Option<String>,
    /// Serial number, if the device has one.
    pub serial_number: Option<String>,
}

/// Serial ports the OS enumerates (USB, PCI), followed by `extra` paths (simulator ptys,
/// which no enumeration reports), without duplicates.
pub fn list(extra: &[PathBuf]) -> Vec<PortInfo> {
    let mut ports: Vec<PortInfo> = serialport::available_ports()
        .unwrap_or_default()
        .into_iter()
        .filter(|p| !matches!(p.port_type, serialport::SerialPortType::Unknown))
        .map(|p| PortInfo {
            path: PathBuf::from(p.port_name),
            usb: match p.port_type {
                serialport::SerialPortType::UsbPort(u) => Some(UsbInfo {
                    vid: u.vid,
                    pid: u.pid,
                    manufacturer: u.manufacturer,
                    product: u.product,
                    serial_number: u.serial_number,
                }),
                _ => None,
            },
        })
        .collect();
    for path in extra {
        if !ports.iter().any(|p| &p.path == path) {
            ports.push(PortInfo {
                path: path.clone(),
                usb: None,
            });
        }
    }
    ports
}

/// Programs other than us that have `port` open, as `(pid, command name)`. Linux only
/// (reads `/proc`); elsewhere always empty.
pub fn holders(port: &Path) -> Vec<(u32, String)> {
    let Ok(target) = std::fs::canonicalize(port) else {
        return Vec::new();
    };
    let me = std::process::id();
    let mut found = Vec::new();
    for (pid, dir) in processes() {
        if pid == me {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(dir.join("fd")) else {
            continue;
        };
        let holds = fds
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|t| t == target));
        if holds {
            let name = std::fs::read_to_string(dir.join("comm"))
                .map(|s| s.trim().to_string())
                .unwrap_or_default();
            found.push((pid, name));
        }
    }
    found
}

/// The running processes (Linux `/proc`): pid and `/proc/<pid>`. Empty where there is no
/// `/proc`.
pub(crate) fn processes() -> impl Iterator<Item = (u32, PathBuf)> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| Some((entry.file_name().to_str()?.parse().ok()?, entry.path())))
}

/// Why a port could not be probed.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// The path does not exist (unplugged, typo, simulator not running).
    #[error("{0}: no such port (unplugged? `nanoesp ports` lists what is there)")]
    Missing(PathBuf),
    /// Another program has the port open; we do not take it from them.
    #[error("{port}: in use by {holders}; close it there first")]
    Busy {
        /// The port.
        port: PathBuf,
        /// `name (pid N)` of each holder.
        holders: String,
    },
    /// Opening or configuring failed.
    #[error("{port}: {message}")]
    Open {
        /// The port.
        port: PathBuf,
        /// The OS's words.
        message: String,
    },
}

/// Opens `port` raw at `baud`, refusing ports other programs hold.
pub fn open(port: &Path, baud: u32) -> Result<serialport::TTYPort, PortError> {
    if !port.exists() {
        return Err(PortError::Missing(port.to_path_buf()));
    }
    let held = holders(port);
    if !held.is_empty() {
        return Err(PortError::Busy {
            port: port.to_path_buf(),
            holders: held
                .iter()
                .map(|(pid, name)| format!("{name} (pid {pid})"))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let path = port.to_string_lossy();
    serialport::new(path.as_ref(), baud)
        .timeout(Duration::from_millis(50))
        .open_native()
        .map_err(|e| PortError::Open {
            port: port.to_path_buf(),
            message: e.to_string(),
        })
}

/// Idle time between closing a port and opening it again for the next probe: a close
/// followed at once by an open may make no reset edge (see [`probe_stk500`]).
pub const REOPEN_GAP: Duration = Duration::from_millis(150);

/// STK500v1 get-sync (`0x30 0x20`) and its answer (`0x14 0x10`).
const STK_GET_SYNC: [u8; 2] = [0x30, 0x20];
const STK_INSYNC_OK: [u8; 2] = [0x14, 0x10];

/// Whether an STK500 bootloader (Optiboot, ATmegaBOOT) answers get-sync at `baud` within
/// the bootloader's window after the reset that opening the port causes.
pub fn probe_stk500(port: &Path, baud: u32) -> Result<bool, PortError> {
    // A close followed at once by an open may not make a new reset edge (the auto-reset
    // capacitor, a simulator polling for the open): leave the line idle a moment.
    std::thread::sleep(REOPEN_GAP);
    let mut serial = open(port, baud)?;
    // The reset pulse: harmless (and refused) on a pty, where the open itself resets.
    let _ = serialport::SerialPort::write_data_terminal_ready(&mut serial, false);
    std::thread::sleep(Duration::from_millis(20));
    let _ = serialport::SerialPort::write_data_terminal_ready(&mut serial, true);
    // Give the bootloader time to start, as avrdude does, then drop what the old
    // application printed before the reset.
    std::thread::sleep(Duration::from_millis(250));
    let _ = serialport::SerialPort::clear(&serial, serialport::ClearBuffer::Input);
    // Bootloaders wait about 1 s after an external reset; ask a few times within that.
    // Keep asking a little past the window: a loaded host (or simulator) may start the
    // bootloader late, and extra get-syncs sent to an application are harmless.
    let deadline = Instant::now() + Duration::from_millis(1500);
    let mut got = Vec::new();
    while Instant::now() < deadline {
        let _ = serial.write_all(&STK_GET_SYNC);
        let until = Instant::now() + Duration::from_millis(120);
        while Instant::now() < until {
            let mut buf = [0u8; 32];
            match serial.read(&mut buf) {
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return Ok(false),
            }
            if got.windows(2).any(|w| w == STK_INSYNC_OK) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// The first console line of a nanoesp firmware, as it prints it after a reset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Banner {
    /// The whole line.
    pub line: String,
    /// The build id (compare with `.nanoesp/build.json` to spot stale firmware).
    pub build_id: String,
}

impl Banner {
    /// Parses `nanoesp <build id> board=... esp=...`.
    pub fn parse(line: &str) -> Option<Banner> {
        let rest = line.trim().strip_prefix("nanoesp ")?;
        let (id, fields) = rest.split_once(' ')?;
        if id.is_empty() || id.ends_with(':') || !fields.contains("board=") {
            return None;
        }
        Some(Banner {
            line: line.trim().to_string(),
            build_id: id.to_string(),
        })
    }
}

/// Opens `port` (resetting the board) and collects console lines for up to `wait`,
/// returning early once `until` accepts one. Lines are decoded lossily.
pub fn read_lines(
    port: &Path,
    baud: u32,
    wait: Duration,
    until: &mut dyn FnMut(&str) -> bool,
) -> Result<Vec<String>, PortError> {
    std::thread::sleep(REOPEN_GAP);
    let mut serial = open(port, baud)?;
    let deadline = Instant::now() + wait;
    let mut lines = Vec::new();
    let mut partial = Vec::new();
    while Instant::now() < deadline {
        let mut buf = [0u8; 256];
        match serial.read(&mut buf) {
            Ok(n) => {
                for &b in &buf[..n] {
                    if b == b'\n' {
                        let line = String::from_utf8_lossy(&partial).trim_end().to_string();
                        partial.clear();
                        let done = until(&line);
                        lines.push(line);
                        if done {
                            return Ok(lines);
                        }
                    } else {
                        partial.push(b);
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => {
                return Err(PortError::Open {
                    port: port.to_path_buf(),
                    message: e.to_string(),
                });
            }
        }
    }
    if !partial.is_empty() {
        lines.push(String::from_utf8_lossy(&partial).trim_end().to_string());
    }
    Ok(lines)
}

/// Opens `port` at `baud` (resetting what is behind it on auto-reset wiring) and returns
/// the raw bytes received within `wait`, e.g. the ESP8266 ROM's 74880-baud boot banner.
pub fn capture(port: &Path, baud: u32, wait: Duration) -> Result<Vec<u8>, PortError> {
    std::thread::sleep(REOPEN_GAP);
    let mut serial = open(port, baud)?;
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    while Instant::now() < deadline {
        let mut buf = [0u8; 256];
        match serial.read(&mut buf) {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break,
        }
    }
    Ok(got)
}

/// Resets the board behind `port` and waits up to `wait` for our firmware's banner.
pub fn probe_banner(port: &Path, baud: u32, wait: Duration) -> Result<Option<Banner>, PortError> {
    let lines = read_lines(port, baud, wait, &mut |l| Banner::parse(l).is_some())?;
    Ok(lines.iter().find_map(|l| Banner::parse(l)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_parses_only_the_banner_line() {
        let b =
            Banner::parse("nanoesp 1a2b3c4d board=nano esp=esp12e link=soft baud=38400 ssid=x\r")
                .unwrap();
        assert_eq!(b.build_id, "1a2b3c4d");
        assert!(Banner::parse("nanoesp: ready http://10.0.0.2:80/").is_none());
        assert!(Banner::parse("nanoesp  board=").is_none());
        assert!(Banner::parse("garbage").is_none());
    }

    #[test]
    fn a_missing_port_is_named() {
        let err = open(Path::new("/nonexistent/ttyUSB9"), 115200).unwrap_err();
        assert!(matches!(err, PortError::Missing(_)));
        assert!(err.to_string().contains("/nonexistent/ttyUSB9"));
    }

    #[test]
    fn extra_paths_are_listed_once() {
        let extra = vec![
            PathBuf::from("/tmp/sim-nano"),
            PathBuf::from("/tmp/sim-nano"),
        ];
        let ports = list(&extra);
        assert_eq!(ports.iter().filter(|p| p.path == extra[0]).count(), 1);
    }
}

/// What answered on a port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Identity {
    /// A Nano's serial bootloader answered STK500 get-sync at this baud (115200 Optiboot,
    /// 57600 ATmegaBOOT); `banner` is our firmware's first line after the bootloader.
    Nano {
        /// Bootloader baud.
        bootloader_baud: u32,
        /// Our firmware's banner, if it printed one.
        banner: Option<Banner>,
    },
    /// No bootloader answered, but our firmware printed its banner (a Nano whose
    /// bootloader did not answer at the bauds tried).
    NanoFirmware {
        /// The banner.
        banner: Banner,
    },
    /// An ESP8266 in download mode (ROM loader answered SYNC).
    EspRom {
        /// Flash size from the flash chip's JEDEC id.
        flash_size_bytes: u32,
        /// Station MAC.
        mac: String,
    },
    /// An ESP running AT firmware (answered `AT+GMR`).
    EspAt {
        /// The `AT+GMR` answer, first line (e.g. `AT version:1.7.4.0(...)`).
        version: String,
    },
    /// Another program has the port open.
    Busy {
        /// `name (pid N)` of each holder.
        holders: String,
    },
    /// Nothing we know answered.
    Unknown {
        /// Why not, when a probe failed outright.
        note: Option<String>,
    },
}

impl Identity {
    /// One-line description for humans.
    pub fn describe(&self) -> String {
        match self {
            Identity::Nano {
                bootloader_baud,
                banner,
            } => {
                let boot = match bootloader_baud {
                    115_200 => "Optiboot, 115200",
                    57_600 => "ATmegaBOOT, 57600",
                    _ => "STK500",
                };
                match banner {
                    Some(b) => format!("Nano ({boot}) running nanoesp build {}", b.build_id),
                    None => format!("Nano ({boot})"),
                }
            }
            Identity::NanoFirmware { banner } => {
                format!("Nano running nanoesp build {}", banner.build_id)
            }
            Identity::EspRom {
                flash_size_bytes,
                mac,
            } => format!(
                "ESP8266 in download mode ({} MB flash, MAC {mac})",
                flash_size_bytes / (1024 * 1024)
            ),
            Identity::EspAt { version } => format!("ESP8266 AT firmware ({version})"),
            Identity::Busy { holders } => format!("in use by {holders}"),
            Identity::Unknown { note: Some(n) } => format!("unknown ({n})"),
            Identity::Unknown { note: None } => "no known protocol answered".into(),
        }
    }

    /// True for a Nano (bootloader or firmware).
    pub fn is_nano(&self) -> bool {
        matches!(self, Identity::Nano { .. } | Identity::NanoFirmware { .. })
    }

    /// True for an ESP8266 (ROM loader or AT firmware).
    pub fn is_esp(&self) -> bool {
        matches!(self, Identity::EspRom { .. } | Identity::EspAt { .. })
    }
}

/// Settings of [`identify`].
#[derive(Debug, Clone)]
pub struct ProbePlan {
    /// Bootloader bauds to try, in order (the configured board's first).
    pub bootloader_bauds: Vec<u32>,
    /// Nano console baud (for the banner).
    pub console_baud: u32,
    /// How long to wait for the banner after a reset.
    pub banner_wait: Duration,
    /// Bauds at which to try `AT+GMR`.
    pub at_bauds: Vec<u32>,
}

impl Default for ProbePlan {
    fn default() -> Self {
        ProbePlan {
            bootloader_bauds: vec![115_200, 57_600],
            console_baud: 115_200,
            banner_wait: Duration::from_secs(4),
            at_bauds: vec![115_200],
        }
    }
}

/// Finds out what is behind `port`: a Nano bootloader (and our banner after it), the
/// ESP8266 ROM loader, an AT firmware, or our banner alone. Ports held by other programs
/// are reported as [`Identity::Busy`] without being opened.
pub fn identify(port: &Path, plan: &ProbePlan) -> Result<Identity, PortError> {
    if !port.exists() {
        return Err(PortError::Missing(port.to_path_buf()));
    }
    let held = holders(port);
    if !held.is_empty() {
        return Ok(Identity::Busy {
            holders: held
                .iter()
                .map(|(pid, name)| format!("{name} (pid {pid})"))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    for &baud in &plan.bootloader_bauds {
        if probe_stk500(port, baud)? {
            let banner = probe_banner(port, plan.console_baud, plan.banner_wait)?;
            return Ok(Identity::Nano {
                bootloader_baud: baud,
                banner,
            });
        }
    }
    if let Ok(Some(info)) = crate::esp::probe_rom(port, Duration::from_millis(600)) {
        return Ok(Identity::EspRom {
            flash_size_bytes: info.flash_size_bytes,
            mac: info.mac,
        });
    }
    for &baud in &plan.at_bauds {
        if let Ok(Some(version)) = crate::esp::probe_at(port, baud, Duration::from_millis(800)) {
            return Ok(Identity::EspAt { version });
        }
    }
    if let Some(banner) = probe_banner(port, plan.console_baud, plan.banner_wait)? {
        return Ok(Identity::NanoFirmware { banner });
    }
    Ok(Identity::Unknown { note: None })
}
