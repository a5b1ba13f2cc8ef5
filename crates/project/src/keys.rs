//! The dotted keys `nanoesp config` knows: which file holds each, its type, and whether it
//! has a default. Values and defaults themselves come from the serde model, so this table
//! cannot drift from what the parser accepts (a test walks both).

/// Which file a key lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum File {
    /// `nanoesp.toml`.
    Config,
    /// `secrets.toml` (never printed).
    Secrets,
}

/// The TOML type of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    Str,
    /// A non-negative integer.
    Int,
    /// An Arduino pin name, normalised to upper case (`d8` → `D8`).
    Pin,
    /// `true` or `false`.
    Bool,
}

/// One configurable key.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    /// Dotted name.
    pub key: &'static str,
    /// File it lives in.
    pub file: File,
    /// Value type.
    pub kind: Kind,
    /// Whether `unset` may remove it (a default applies).
    pub optional: bool,
    /// One-line description, used by `config list --describe` and the generated file.
    pub about: &'static str,
}

const fn k(key: &'static str, kind: Kind, optional: bool, about: &'static str) -> KeySpec {
    KeySpec {
        key,
        file: File::Config,
        kind,
        optional,
        about,
    }
}

/// Every key, in file order.
pub const KEYS: &[KeySpec] = &[
    k("mode", Kind::Str, false, "nano-drives-esp or esp-master"),
    k(
        "nano.board",
        Kind::Str,
        false,
        "nano (Optiboot, 115200) or nano-old (ATmegaBOOT, 57600)",
    ),
    k(
        "nano.port",
        Kind::Str,
        true,
        "serial port of the Nano, or auto",
    ),
    k(
        "esp.module",
        Kind::Str,
        false,
        "esp12e, esp01, nodemcu or d1-mini",
    ),
    k(
        "esp.port",
        Kind::Str,
        true,
        "serial port of the ESP's own adapter, or auto",
    ),
    k(
        "link.kind",
        Kind::Str,
        false,
        "soft (Timer1 on D8/D9) or usart (D0/D1)",
    ),
    k(
        "link.rx",
        Kind::Pin,
        false,
        "Nano pin receiving from the ESP's TX",
    ),
    k(
        "link.tx",
        Kind::Pin,
        false,
        "Nano pin driving the ESP's RX (through the divider)",
    ),
    k("link.baud", Kind::Int, false, "link speed"),
    k(
        "link.save_baud",
        Kind::Bool,
        true,
        "negotiate link.baud with AT+UART_DEF (kept by the ESP) instead of AT+UART_CUR",
    ),
    k("wifi.ssid", Kind::Str, false, "network name (1-32 bytes)"),
    KeySpec {
        key: "wifi.password",
        file: File::Secrets,
        kind: Kind::Str,
        optional: true,
        about: "Wi-Fi password, kept in secrets.toml (empty = open network)",
    },
    k("wifi.hostname", Kind::Str, true, "DHCP/mDNS host name"),
    k(
        "wifi.mode",
        Kind::Str,
        true,
        "station, softap or stored (join the network saved by flash --provision)",
    ),
    k("http.port", Kind::Int, true, "web server TCP port"),
    k(
        "http.max_clients",
        Kind::Int,
        true,
        "connections served at once (1-5)",
    ),
    k("http.title", Kind::Str, true, "page title"),
    k("http.text", Kind::Str, true, "page text"),
    k("console.baud", Kind::Int, true, "Nano USB console speed"),
];

/// Looks a key up.
pub fn spec(key: &str) -> Option<&'static KeySpec> {
    KEYS.iter().find(|s| s.key == key)
}

/// All key names, comma separated (for error messages).
pub fn known() -> String {
    KEYS.iter().map(|s| s.key).collect::<Vec<_>>().join(", ")
}

/// Splits `a.b` into table and field; top-level keys have no table.
pub fn split(key: &str) -> (Option<&str>, &str) {
    match key.split_once('.') {
        Some((t, f)) => (Some(t), f),
        None => (None, key),
    }
}
