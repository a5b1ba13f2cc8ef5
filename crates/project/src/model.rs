//! The typed shape of `nanoesp.toml` and `secrets.toml`, with defaults for optional keys.
//!
//! Parsing only checks types and known keys; whether the values make sense for the chosen
//! boards is `validate`'s job.

use serde::{Deserialize, Serialize};

/// What the project builds: which chip runs the web server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// The Nano drives the ESP8266's stock AT firmware and serves HTTP through it.
    NanoDrivesEsp,
    /// The ESP8266 serves HTTP and queries the Nano for its I/O.
    EspMaster,
}

impl Mode {
    /// The name used in `nanoesp.toml` and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::NanoDrivesEsp => "nano-drives-esp",
            Mode::EspMaster => "esp-master",
        }
    }
}

/// Which serial peripheral carries the Nano ↔ ESP link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkKind {
    /// Timer1 software UART: RX on the input-capture pin, TX on the OC1A pin (D8/D9).
    Soft,
    /// The hardware USART on D0/D1, shared with the USB bridge.
    Usart,
}

impl LinkKind {
    /// The name used in `nanoesp.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkKind::Soft => "soft",
            LinkKind::Usart => "usart",
        }
    }
}

/// How the ESP8266 joins Wi-Fi.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum WifiMode {
    /// Join an existing access point.
    #[default]
    Station,
    /// Open its own access point.
    Softap,
    /// Join the network stored in the ESP by `nanoesp flash --provision`; the password is
    /// not compiled into the firmware.
    Stored,
}

fn auto() -> String {
    "auto".to_string()
}

/// `[nano]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NanoSection {
    /// Board id from `boards/` (`nano`, `nano-old`).
    pub board: String,
    /// Serial port, or `auto` to identify it by protocol.
    #[serde(default = "auto")]
    pub port: String,
}

/// `[esp]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EspSection {
    /// Module id from `boards/` (`esp12e`, `esp01`, `nodemcu`, `d1-mini`).
    pub module: String,
    /// Serial port of the ESP's own adapter, or `auto`.
    #[serde(default = "auto")]
    pub port: String,
}

/// `[link]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSection {
    /// Peripheral used for the link.
    pub kind: LinkKind,
    /// Nano pin that receives from the ESP's TX.
    pub rx: String,
    /// Nano pin that drives the ESP's RX (through the 5 V → 3.3 V divider).
    pub tx: String,
    /// Link speed.
    pub baud: u32,
    /// Negotiate `baud` with the ESP's persistent `AT+UART_DEF` instead of `AT+UART_CUR`, so
    /// it survives resets and power cycles (nano-drives-esp only).
    #[serde(default)]
    pub save_baud: bool,
}

fn default_hostname() -> String {
    "nanoesp".to_string()
}

/// `[wifi]` (the password lives in `secrets.toml`)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WifiSection {
    /// Network name.
    pub ssid: String,
    /// Host name announced by DHCP/mDNS.
    #[serde(default = "default_hostname")]
    pub hostname: String,
    /// Station or soft access point.
    #[serde(default)]
    pub mode: WifiMode,
}

fn default_http_port() -> u16 {
    80
}
fn default_max_clients() -> u8 {
    3
}
fn default_title() -> String {
    "nanoesp".to_string()
}
fn default_text() -> String {
    "Arduino Nano + ESP8266".to_string()
}

/// `[http]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSection {
    /// TCP port of the web server.
    #[serde(default = "default_http_port")]
    pub port: u16,
    /// Connections served at once; one more is answered 503.
    #[serde(default = "default_max_clients")]
    pub max_clients: u8,
    /// Page title.
    #[serde(default = "default_title")]
    pub title: String,
    /// Page text.
    #[serde(default = "default_text")]
    pub text: String,
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            port: default_http_port(),
            max_clients: default_max_clients(),
            title: default_title(),
            text: default_text(),
        }
    }
}

fn default_console_baud() -> u32 {
    115_200
}

/// `[console]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSection {
    /// USB console speed (USART0), used when the ESP link is on pins.
    #[serde(default = "default_console_baud")]
    pub baud: u32,
}

impl Default for ConsoleSection {
    fn default() -> Self {
        ConsoleSection {
            baud: default_console_baud(),
        }
    }
}

/// The whole of `nanoesp.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Project mode.
    pub mode: Mode,
    /// The Nano.
    pub nano: NanoSection,
    /// The ESP8266.
    pub esp: EspSection,
    /// The serial link between them.
    pub link: LinkSection,
    /// Wi-Fi (without the password).
    pub wifi: WifiSection,
    /// Web server.
    #[serde(default)]
    pub http: HttpSection,
    /// Nano USB console.
    #[serde(default)]
    pub console: ConsoleSection,
}

/// A secret string whose `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    /// The secret itself; call only where it must leave the program (firmware config, AT command).
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// True for an open network.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What `list` and logs show instead of a secret.
pub const REDACTED: &str = "********";

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REDACTED)
    }
}
impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(REDACTED)
    }
}

/// `[wifi]` of `secrets.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WifiSecrets {
    /// Wi-Fi password; empty for an open network.
    #[serde(default)]
    pub password: Secret,
}

/// The whole of `secrets.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secrets {
    /// Wi-Fi secrets.
    #[serde(default)]
    pub wifi: WifiSecrets,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_formats_its_value() {
        let s = Secret::new("hunter22");
        assert_eq!(format!("{s}"), REDACTED);
        assert_eq!(format!("{s:?}"), REDACTED);
        let w = WifiSecrets { password: s };
        assert!(!format!("{w:?}").contains("hunter22"));
    }
}
