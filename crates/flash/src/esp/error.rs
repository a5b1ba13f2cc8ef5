//! Errors of the ESP8266 side. Every message says what to do next; none contains a
//! Wi-Fi password.

use std::path::PathBuf;

/// Everything that can go wrong talking to an ESP8266.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EspError {
    /// The serial port could not be opened.
    #[error(
        "cannot open {port}: {reason}; check the port name (`nanoesp ports`) and that no serial monitor has it open"
    )]
    Open {
        /// The port.
        port: PathBuf,
        /// What the OS said.
        reason: String,
    },
    /// No answer to SYNC: the ROM loader is not listening.
    #[error(
        "no answer from the ESP8266 ROM loader on {port}: the ESP8266 is not in download mode: hold GPIO0 low and pulse RST (ESP-01) or check TX/RX wiring (adapter TX to ESP RX, RX to TX, common GND, 3.3 V)"
    )]
    NotInDownloadMode {
        /// The port.
        port: PathBuf,
    },
    /// Another chip answered.
    #[error(
        "the chip on {port} is not an ESP8266 ({detail}); nanoesp flashes ESP8266 modules only"
    )]
    NotEsp8266 {
        /// The port.
        port: PathBuf,
        /// What was found.
        detail: String,
    },
    /// The loader answered a command with an error status.
    #[error(
        "the ESP8266 loader rejected {command} ({detail}); this is usually noise on the wires or a weak 3.3 V supply: use short wires, a supply that gives 300 mA, and flash again"
    )]
    Rejected {
        /// The command (e.g. `FLASH_DATA`).
        command: String,
        /// The loader's answer.
        detail: String,
    },
    /// The loader stopped answering.
    #[error(
        "the ESP8266 stopped answering during {during}; it probably browned out or reset: check the 3.3 V supply (flash writes draw current peaks), put it back into download mode and flash again"
    )]
    Timeout {
        /// What was going on.
        during: String,
    },
    /// The port went away (adapter unplugged, pty closed).
    #[error(
        "the serial port {port} went away during {during}: the USB adapter was unplugged or reset; plug it back in and flash again"
    )]
    Disconnected {
        /// The port.
        port: PathBuf,
        /// What was going on.
        during: String,
    },
    /// An image does not fit, overlaps another, or is empty.
    #[error("{0}")]
    BadImages(String),
    /// The flash holds something else than what was written.
    #[error(
        "verification failed for {name} at {addr:#x}: the flash has MD5 {actual}, the image {expected}; flash again, and if it repeats the flash chip may be worn out or write-protected"
    )]
    VerifyFailed {
        /// Image name.
        name: String,
        /// Flash address.
        addr: u32,
        /// MD5 of the image (hex).
        expected: String,
        /// MD5 the chip computed (hex).
        actual: String,
    },
    /// The AT firmware did not answer.
    #[error(
        "no answer to AT on {port} at {baud} baud: the ESP8266 is not running the AT firmware at that speed (still in download mode? release GPIO0 and reset it; try 115200 and 9600)"
    )]
    AtNoAnswer {
        /// The port.
        port: PathBuf,
        /// Baud rate tried.
        baud: u32,
    },
    /// An AT command failed.
    #[error("the AT firmware answered {answer} to {command}")]
    AtCommand {
        /// The command, without secrets.
        command: String,
        /// ERROR, FAIL, busy, ...
        answer: String,
    },
    /// `AT+CWJAP` failed.
    #[error("the ESP8266 could not join \"{ssid}\": {reason} (+CWJAP:{code})")]
    JoinFailed {
        /// SSID.
        ssid: String,
        /// The `+CWJAP:<code>` number (0 when none was given).
        code: u8,
        /// What it means and what to do.
        reason: String,
    },
    /// Only the flasher stub can do this.
    #[error(
        "{what} needs the flasher stub, which is not running (the ESP8266 ROM loader cannot do it); connect with the stub enabled"
    )]
    NeedsStub {
        /// What was asked.
        what: String,
    },
    /// Anything else espflash reported.
    #[error("espflash: {0}")]
    Espflash(String),
    /// An I/O error on the port.
    #[error("serial I/O on {port}: {source}")]
    Io {
        /// The port.
        port: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The full chain of an error's messages, `a: b: c`.
pub(crate) fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// Maps an espflash error to ours. `during` names the step, `port` the port.
pub(crate) fn from_espflash(
    e: espflash::error::Error,
    port: &std::path::Path,
    during: &str,
) -> EspError {
    use espflash::error::{ConnectionError, Error};
    let detail = chain(&e);
    match &e {
        Error::Connection(c) | Error::Flashing(c) => match c {
            ConnectionError::ConnectionFailed => EspError::NotInDownloadMode {
                port: port.to_path_buf(),
            },
            ConnectionError::Timeout(_) => EspError::Timeout {
                during: during.to_string(),
            },
            ConnectionError::DeviceNotFound => EspError::Disconnected {
                port: port.to_path_buf(),
                during: during.to_string(),
            },
            ConnectionError::Serial(s) if is_gone(s) => EspError::Disconnected {
                port: port.to_path_buf(),
                during: during.to_string(),
            },
            _ => EspError::Espflash(format!("{during}: {detail}")),
        },
        Error::RomError(_) => EspError::Rejected {
            command: during.to_string(),
            detail,
        },
        Error::ChipDetectError(magic) => EspError::NotEsp8266 {
            port: port.to_path_buf(),
            detail: format!("chip magic {magic:#010x}"),
        },
        _ => EspError::Espflash(format!("{during}: {detail}")),
    }
}

fn is_gone(e: &serialport::Error) -> bool {
    matches!(e.kind(), serialport::ErrorKind::NoDevice)
        || matches!(
            e.kind(),
            serialport::ErrorKind::Io(
                std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::NotConnected
                    | std::io::ErrorKind::UnexpectedEof
            )
        )
}
