//! Checks that a parsed configuration makes sense for the chosen boards.
//!
//! Each rule reports the dotted key it is about, so the caller can point at the exact spot in
//! the file. Board facts (which pins exist, which are reserved, which carry Timer1's input
//! capture and output compare) come from `nanoesp-boards`, never from constants here.

use nanoesp_boards::{AvrBoard, Catalog};

use crate::model::{Config, LinkKind, Mode, Secrets, WifiMode};

/// Link speeds the Timer1 software UART handles reliably at 16 MHz.
pub const SOFT_BAUDS: &[u32] = &[9_600, 19_200, 38_400, 57_600];
/// Link and console speeds for the hardware USART (the ESP side accepts all of them).
pub const USART_BAUDS: &[u32] = &[9_600, 19_200, 38_400, 57_600, 115_200, 250_000, 500_000];
/// Longest AT command line the ESP8266 accepts, `\r\n` included (AT command set, "max 256 bytes").
pub const AT_LINE_MAX: usize = 256;

/// One thing wrong with a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key the problem is about (`link.rx`).
    pub key: String,
    /// What is wrong, lower-case, no trailing period.
    pub message: String,
    /// What to do instead, a full sentence listing allowed values where there are any.
    pub help: String,
}

impl Problem {
    fn new(key: &str, message: impl Into<String>, help: impl Into<String>) -> Problem {
        Problem {
            key: key.to_string(),
            message: message.into(),
            help: help.into(),
        }
    }
}

fn list<T: std::fmt::Display>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Escapes a value for a quoted AT command argument: `"`, `,` and `\` get a backslash.
pub fn at_escape(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 4);
    for &b in value {
        if matches!(b, b'"' | b',' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

/// The join command the firmware will send, to check it fits the AT line limit.
pub fn cwjap_line_len(ssid: &str, password: &str) -> usize {
    "AT+CWJAP_CUR=\"\",\"\"\r\n".len()
        + at_escape(ssid.as_bytes()).len()
        + at_escape(password.as_bytes()).len()
}

/// Checks `config` (and the secrets beside it) against the board catalog.
pub fn validate(config: &Config, secrets: &Secrets, catalog: &Catalog) -> Vec<Problem> {
    let mut problems = Vec::new();

    // Provisioning stores the network with AT commands, which an esp-master ESP (running
    // our sketch, not the AT firmware) does not understand.
    if config.mode == Mode::EspMaster && config.wifi.mode == WifiMode::Stored {
        problems.push(Problem::new(
            "wifi.mode",
            "wifi.mode = \"stored\" needs the ESP's AT firmware (nano-drives-esp)",
            "Use station or softap: in esp-master mode the ESP sketch is built with the network from nanoesp.toml and secrets.toml.",
        ));
    }

    // Only the AT firmware has AT+UART_DEF; the esp-master sketch opens its link at
    // `link.baud` from the start, so there is nothing to negotiate or save.
    if config.mode == Mode::EspMaster && config.link.save_baud {
        problems.push(Problem::new(
            "link.save_baud",
            "link.save_baud = true needs the ESP's AT firmware (nano-drives-esp)",
            "Remove it or set it to false: in esp-master mode the ESP sketch is built with link.baud and needs no baud negotiation.",
        ));
    }

    let nano = catalog.avr(&config.nano.board);
    if nano.is_none() {
        problems.push(Problem::new(
            "nano.board",
            format!("unknown Nano board `{}`", config.nano.board),
            format!("Allowed: {}.", list(catalog.avr_boards().map(|b| &b.id))),
        ));
    }
    if catalog.esp(&config.esp.module).is_none() {
        problems.push(Problem::new(
            "esp.module",
            format!("unknown ESP8266 module `{}`", config.esp.module),
            format!("Allowed: {}.", list(catalog.esp_boards().map(|b| &b.id))),
        ));
    }
    for (key, port) in [
        ("nano.port", &config.nano.port),
        ("esp.port", &config.esp.port),
    ] {
        if port.trim().is_empty() {
            problems.push(Problem::new(
                key,
                "port is empty",
                "Use \"auto\" or a serial device path such as /dev/ttyUSB0.",
            ));
        }
    }

    if let Some(nano) = nano {
        check_link(config, nano, &mut problems);
    }

    let console_ok = USART_BAUDS.contains(&config.console.baud);
    if !console_ok {
        problems.push(Problem::new(
            "console.baud",
            format!("console baud {} is not supported", config.console.baud),
            format!("Allowed: {}.", list(USART_BAUDS)),
        ));
    }

    check_wifi(config, secrets, &mut problems);

    if config.http.port == 0 {
        problems.push(Problem::new(
            "http.port",
            "port 0 cannot be listened on",
            "Use a TCP port from 1 to 65535 (80 is the browser default).",
        ));
    }
    if !(1..=5).contains(&config.http.max_clients) {
        problems.push(Problem::new(
            "http.max_clients",
            format!("{} clients at once is out of range", config.http.max_clients),
            "Allowed: 1 to 5 (the ESP8266 AT firmware has five link ids, and one is kept to answer 503).",
        ));
    }
    for (key, value, max) in [
        ("http.title", &config.http.title, 40usize),
        ("http.text", &config.http.text, 120usize),
    ] {
        if value.len() > max {
            problems.push(Problem::new(
                key,
                format!("{} bytes is too long", value.len()),
                format!("Use at most {max} bytes: the page is kept in the Nano's flash."),
            ));
        }
        if value.chars().any(char::is_control) {
            problems.push(Problem::new(
                key,
                "control characters are not allowed",
                "Use printable text on one line.",
            ));
        }
    }
    problems
}

fn check_link(config: &Config, nano: &AvrBoard, problems: &mut Vec<Problem>) {
    let link = &config.link;
    // The pins each link kind can use follow from the board's alternate functions.
    let (rx_function, tx_function, bauds, why) = match link.kind {
        LinkKind::Soft => (
            "ICP1",
            "OC1A",
            SOFT_BAUDS,
            "the soft link is driven by Timer1 input capture (RX) and output compare A (TX)",
        ),
        LinkKind::Usart => (
            "RXD",
            "TXD",
            USART_BAUDS,
            "the USART link uses the hardware UART pins",
        ),
    };
    let allowed_rx = list(nano.pins_with(rx_function).map(|p| &p.name));
    let allowed_tx = list(nano.pins_with(tx_function).map(|p| &p.name));
    let all_pins = list(nano.pins.iter().map(|p| &p.name));
    // Pins that suit one link kind never suit the other, so changing `link.kind` alone always
    // fails: say how to change the kind and its pins (and the baud, where needed) at once.
    let mut together = format!("nanoesp config set link.kind {}", link.kind.as_str());
    for (key, function) in [("link.rx", rx_function), ("link.tx", tx_function)] {
        if let Some(pin) = nano.pins_with(function).next() {
            together.push_str(&format!(" {key} {}", pin.name));
        }
    }
    // Suggest the fastest rate up to the AT firmware's factory 115200, the usual choice.
    let fastest = bauds.iter().filter(|&&b| b <= 115_200).max();
    if let Some(fastest) = fastest.filter(|_| !bauds.contains(&link.baud)) {
        together.push_str(&format!(" link.baud {fastest}"));
    }

    let pin_help = |allowed| {
        format!("{why}; allowed: {allowed}. To set the kind and its pins at once: `{together}`.")
    };
    for (key, value, function, allowed) in [
        ("link.rx", &link.rx, rx_function, &allowed_rx),
        ("link.tx", &link.tx, tx_function, &allowed_tx),
    ] {
        match nano.pin(value) {
            None => problems.push(Problem::new(
                key,
                format!("pin `{value}` does not exist on {}", nano.id),
                format!("Pins: {all_pins}."),
            )),
            Some(pin) if pin.analog_only => problems.push(Problem::new(
                key,
                format!("pin {} is analog-only", pin.name),
                pin_help(allowed),
            )),
            Some(pin) if pin.reserved.is_some() && !pin.has_function(function) => {
                problems.push(Problem::new(
                    key,
                    format!(
                        "pin {} is reserved for the {}",
                        pin.name,
                        pin.reserved.as_deref().unwrap_or("board")
                    ),
                    pin_help(allowed),
                ))
            }
            Some(pin) if !pin.has_function(function) => problems.push(Problem::new(
                key,
                format!(
                    "pin {} cannot carry the {} link",
                    pin.name,
                    link.kind.as_str()
                ),
                pin_help(allowed),
            )),
            Some(_) => {}
        }
    }
    if link.rx.eq_ignore_ascii_case(&link.tx) {
        problems.push(Problem::new(
            "link.tx",
            format!("rx and tx are both {}", link.tx),
            format!("Use different pins: rx = {allowed_rx}, tx = {allowed_tx}."),
        ));
    }
    if !bauds.contains(&link.baud) {
        problems.push(Problem::new(
            "link.baud",
            format!(
                "{} baud is not supported by the {} link",
                link.baud,
                link.kind.as_str()
            ),
            format!("Allowed: {}.", list(bauds)),
        ));
    }
}

fn check_wifi(config: &Config, secrets: &Secrets, problems: &mut Vec<Problem>) {
    let ssid = &config.wifi.ssid;
    if ssid.is_empty() || ssid.len() > 32 {
        problems.push(Problem::new(
            "wifi.ssid",
            format!("SSID is {} bytes long", ssid.len()),
            "An SSID has 1 to 32 bytes.",
        ));
    }
    if ssid.chars().any(char::is_control) {
        problems.push(Problem::new(
            "wifi.ssid",
            "SSID contains a control character",
            "AT commands are line based: use printable characters only.",
        ));
    }
    // In stored mode the firmware joins what `flash --provision` saved in the ESP: the
    // password is not compiled in, so it may be anything (or empty) here.
    if config.wifi.mode != WifiMode::Stored {
        check_password(ssid, secrets.wifi.password.expose(), problems);
    }
    check_hostname(config, problems);
}

fn check_password(ssid: &str, password: &str, problems: &mut Vec<Problem>) {
    let chars = password.chars().count();
    if !password.is_empty() && !(8..=63).contains(&chars) {
        problems.push(Problem::new(
            "wifi.password",
            format!("password has {chars} characters"),
            "A WPA2 password has 8 to 63 characters; leave it empty for an open network.",
        ));
    }
    if password.chars().any(char::is_control) {
        problems.push(Problem::new(
            "wifi.password",
            "password contains a control character",
            "AT commands are line based: use printable characters only.",
        ));
    }
    let line = cwjap_line_len(ssid, password);
    if line > AT_LINE_MAX {
        problems.push(Problem::new(
            "wifi.password",
            format!("the escaped join command would be {line} bytes"),
            format!("The ESP8266 accepts AT lines of at most {AT_LINE_MAX} bytes; shorten the SSID or password."),
        ));
    }
}

fn check_hostname(config: &Config, problems: &mut Vec<Problem>) {
    let host = &config.wifi.hostname;
    let host_ok = !host.is_empty()
        && host.len() <= 32
        && !host.starts_with('-')
        && host
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !host_ok {
        problems.push(Problem::new(
            "wifi.hostname",
            format!("`{host}` is not a valid host name"),
            "Use 1 to 32 characters a-z, 0-9 and '-', not starting with '-'.",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    fn good() -> (Config, Secrets) {
        let config: Config = toml::from_str(
            r#"
mode = "nano-drives-esp"
[nano]
board = "nano"
[esp]
module = "esp12e"
[link]
kind = "soft"
rx = "D8"
tx = "D9"
baud = 57600
[wifi]
ssid = "lab"
"#,
        )
        .unwrap();
        let secrets = Secrets {
            wifi: WifiSecrets {
                password: Secret::new("correct horse"),
            },
        };
        (config, secrets)
    }

    #[test]
    fn stored_mode_needs_no_password() {
        let (mut c, mut s) = good();
        c.wifi.mode = WifiMode::Stored;
        s.wifi.password = Secret::new("");
        assert!(keys(&c, &s).is_empty());
        // Not compiled in, so not checked: a short or odd one is fine too.
        s.wifi.password = Secret::new("1234567");
        assert!(keys(&c, &s).is_empty());
        // The SSID is still checked (it is shown in the banner).
        c.wifi.ssid = String::new();
        assert_eq!(keys(&c, &s), ["wifi.ssid"]);
        // Station mode still checks the password.
        c.wifi.ssid = "lab".into();
        c.wifi.mode = WifiMode::Station;
        assert_eq!(keys(&c, &s), ["wifi.password"]);
    }

    #[test]
    fn save_baud_needs_the_at_firmware() {
        let (mut c, s) = good();
        c.link.save_baud = true;
        assert!(keys(&c, &s).is_empty());
        c.mode = Mode::EspMaster;
        let p = validate(&c, &s, &Catalog::load().unwrap());
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].key, "link.save_baud");
        assert!(p[0].help.contains("false"), "{:?}", p[0]);
        c.link.save_baud = false;
        assert!(keys(&c, &s).is_empty());
    }

    #[test]
    fn save_baud_defaults_to_false() {
        assert!(!good().0.link.save_baud);
    }

    #[test]
    fn stored_mode_parses_and_round_trips() {
        let text = "[wifi]\nssid = \"lab\"\nmode = \"stored\"\n";
        #[derive(serde::Deserialize, serde::Serialize)]
        struct W {
            wifi: WifiSection,
        }
        let w: W = toml::from_str(text).unwrap();
        assert_eq!(w.wifi.mode, WifiMode::Stored);
        assert!(toml::to_string(&w).unwrap().contains("mode = \"stored\""));
    }

    fn keys(c: &Config, s: &Secrets) -> Vec<String> {
        validate(c, s, &Catalog::load().unwrap())
            .into_iter()
            .map(|p| p.key)
            .collect()
    }

    #[test]
    fn default_project_is_valid() {
        let (c, s) = good();
        assert!(keys(&c, &s).is_empty());
    }

    #[test]
    fn rejects_pin_reserved_for_the_led() {
        let (mut c, s) = good();
        c.link.tx = "D13".into();
        let p = validate(&c, &s, &Catalog::load().unwrap());
        assert_eq!(p[0].key, "link.tx");
        assert!(p[0].message.contains("reserved"), "{:?}", p[0]);
        assert!(p[0].help.contains("D9"));
    }

    #[test]
    fn soft_link_pins_must_fit_timer1() {
        let (mut c, s) = good();
        c.link.rx = "D4".into();
        let p = validate(&c, &s, &Catalog::load().unwrap());
        assert_eq!(p[0].key, "link.rx");
        assert!(p[0].help.contains("allowed: D8"), "{}", p[0].help);
    }

    #[test]
    fn rx_equal_tx_is_rejected() {
        let (mut c, s) = good();
        c.link.tx = "D8".into();
        assert!(keys(&c, &s).contains(&"link.tx".to_string()));
    }

    #[test]
    fn usart_link_uses_d0_d1_and_fast_bauds() {
        let (mut c, s) = good();
        c.link.kind = LinkKind::Usart;
        c.link.rx = "D0".into();
        c.link.tx = "D1".into();
        c.link.baud = 115_200;
        assert!(keys(&c, &s).is_empty());
        c.link.kind = LinkKind::Soft;
        assert!(keys(&c, &s).contains(&"link.baud".to_string()));
    }

    #[test]
    fn ssid_and_password_lengths() {
        let (mut c, mut s) = good();
        c.wifi.ssid = "x".repeat(33);
        assert_eq!(keys(&c, &s), ["wifi.ssid"]);
        c.wifi.ssid = "lab".into();
        s.wifi.password = Secret::new("1234567");
        assert_eq!(keys(&c, &s), ["wifi.password"]);
        s.wifi.password = Secret::new("");
        assert!(keys(&c, &s).is_empty(), "open network");
        s.wifi.password = Secret::new("pässwörd\"with,\\");
        assert!(keys(&c, &s).is_empty(), "escaping and non-ASCII are fine");
    }

    #[test]
    fn at_escape_quotes_commas_and_backslashes() {
        assert_eq!(at_escape(br#"a"b,c\d"#), br#"a\"b\,c\\d"#.to_vec());
    }

    #[test]
    fn unknown_boards_list_the_allowed_ones() {
        let (mut c, s) = good();
        c.nano.board = "uno".into();
        c.esp.module = "esp32".into();
        let p = validate(&c, &s, &Catalog::load().unwrap());
        assert!(
            p.iter()
                .any(|p| p.key == "nano.board" && p.help.contains("nano-old"))
        );
        assert!(
            p.iter()
                .any(|p| p.key == "esp.module" && p.help.contains("d1-mini"))
        );
    }
}
