//! What the Nano's console said, reduced to facts doctor can judge.
//!
//! The firmware's console lines are documented in the template's server crate
//! (`runtime/server/src/render.rs`): the banner
//! `nanoesp <build id> board=<b> esp=<m> link=<soft|usart> baud=<n> ssid=<s>`, then
//! `nanoesp: probing ESP (AT)`, `nanoesp: ESP AT version <v>`, the AT 2.x warning,
//! `nanoesp: ESP does not answer; ...`, `nanoesp: joining <ssid>`,
//! `nanoesp: join failed: <reason> (code N), retry in S s`, `nanoesp: ESP reset detected,
//! re-initialising`, `nanoesp: wifi disconnected` and `nanoesp: ready http://<ip>:<port>/`.
//! A console opened at the wrong speed shows none of them, only noise bytes.

/// The banner's fields.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BannerFields {
    /// Firmware build id.
    pub build_id: String,
    /// `board=`.
    pub board: String,
    /// `esp=`.
    pub esp: String,
    /// `link=`.
    pub link: String,
    /// `baud=` (the Nano ↔ ESP link).
    pub baud: Option<u32>,
    /// `ssid=`.
    pub ssid: String,
}

impl BannerFields {
    /// Parses a banner line (`None` for any other line).
    pub fn parse(line: &str) -> Option<BannerFields> {
        let banner = nanoesp_flash::ports::Banner::parse(line)?;
        let mut fields = BannerFields {
            build_id: banner.build_id,
            ..BannerFields::default()
        };
        let rest = line.trim().split_once(" board=").map(|(_, r)| r)?;
        let rest = format!("board={rest}");
        // ssid= is last and may contain spaces.
        let (head, ssid) = rest.split_once(" ssid=").unwrap_or((rest.as_str(), ""));
        fields.ssid = ssid.to_string();
        for pair in head.split(' ') {
            match pair.split_once('=') {
                Some(("board", v)) => fields.board = v.into(),
                Some(("esp", v)) => fields.esp = v.into(),
                Some(("link", v)) => fields.link = v.into(),
                Some(("baud", v)) => fields.baud = v.parse().ok(),
                _ => {}
            }
        }
        Some(fields)
    }
}

/// A failed Wi-Fi join as the firmware reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinFailure {
    /// `+CWJAP` code: 1 timeout, 2 wrong password, 3 AP not found, 4 connect failed.
    pub code: u8,
    /// The firmware's words for it.
    pub reason: String,
}

/// Facts read from a console capture.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsoleFacts {
    /// Bytes received.
    pub bytes: usize,
    /// Bytes that are neither printable text nor line ends (invalid UTF-8, control codes).
    pub noise_bytes: usize,
    /// Lines (complete or not) in the capture.
    pub lines: usize,
    /// Lines the firmware is known to print.
    pub known_lines: usize,
    /// The first banner.
    pub banner: Option<BannerFields>,
    /// Banners seen (each one is a Nano reset).
    pub banners: usize,
    /// `probing ESP (AT)` lines.
    pub probing: usize,
    /// `ESP AT version <v>`.
    pub at_version: Option<String>,
    /// The AT 2.x warning was printed.
    pub at2_warning: bool,
    /// `ESP does not answer` lines.
    pub no_answer: usize,
    /// `joining` lines.
    pub joining: usize,
    /// Join failures, in order.
    pub join_failures: Vec<JoinFailure>,
    /// `ESP reset detected` lines.
    pub esp_resets: usize,
    /// `wifi disconnected` lines.
    pub wifi_lost: usize,
    /// The URL of the last `ready` line.
    pub ready: Option<String>,
    /// `busy p...`/`busy s...` sightings (ESP answers that leak into a log).
    pub busy: usize,
}

impl ConsoleFacts {
    /// Reads a raw capture.
    pub fn from_bytes(bytes: &[u8]) -> ConsoleFacts {
        let mut facts = ConsoleFacts {
            bytes: bytes.len(),
            noise_bytes: noise_bytes(bytes),
            ..ConsoleFacts::default()
        };
        for raw in bytes.split(|&b| b == b'\n') {
            if raw.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            let line = String::from_utf8_lossy(raw);
            facts.line(line.trim());
        }
        facts
    }

    /// Reads lines already decoded (e.g. from the simulator's stdout).
    pub fn from_lines<'a>(lines: impl IntoIterator<Item = &'a str>) -> ConsoleFacts {
        let mut text = Vec::new();
        for l in lines {
            text.extend_from_slice(l.as_bytes());
            text.push(b'\n');
        }
        ConsoleFacts::from_bytes(&text)
    }

    fn line(&mut self, line: &str) {
        self.lines += 1;
        // Opening the console resets the Nano, possibly in the middle of a line: the tail
        // of that line then runs into the new banner ("rmata readynanoesp 1b95…").
        let line = match line.find("nanoesp") {
            Some(at) if at > 0 => &line[at..],
            _ => line,
        };
        if line.contains("busy p") || line.contains("busy s") {
            self.busy += 1;
        }
        if let Some(b) = BannerFields::parse(line) {
            self.known_lines += 1;
            self.banners += 1;
            if self.banner.is_none() {
                self.banner = Some(b);
            }
            return;
        }
        let Some(msg) = line.strip_prefix("nanoesp: ") else {
            return;
        };
        self.known_lines += 1;
        if let Some(v) = msg.strip_prefix("ESP AT version ") {
            self.at_version = Some(v.trim().to_string());
        } else if msg.starts_with("warning: AT 2.x") {
            self.at2_warning = true;
        } else if msg.starts_with("ESP does not answer") {
            self.no_answer += 1;
        } else if msg.starts_with("joining ") {
            self.joining += 1;
        } else if let Some(rest) = msg.strip_prefix("join failed: ") {
            let reason = rest.split(" (code").next().unwrap_or(rest).to_string();
            let code = rest
                .split_once("(code ")
                .and_then(|(_, r)| r.split(')').next())
                .and_then(|n| n.trim().parse().ok())
                .unwrap_or(0);
            self.join_failures.push(JoinFailure { code, reason });
        } else if msg.starts_with("ESP reset detected") {
            self.esp_resets += 1;
        } else if msg.starts_with("probing ESP") {
            self.probing += 1;
        } else if msg.starts_with("wifi disconnected") {
            self.wifi_lost += 1;
        } else if let Some(url) = msg.strip_prefix("ready ") {
            self.ready = Some(url.trim().to_string());
        } else {
            self.known_lines -= 1;
        }
    }

    /// The console is noise rather than text: the reader's baud differs from the Nano's.
    pub fn garbled(&self) -> bool {
        if self.bytes < 8 {
            return false;
        }
        // A healthy console is all text; a baud mismatch turns most bytes into framing
        // garbage and leaves no line we recognise.
        self.noise_bytes * 10 > self.bytes
            || (self.known_lines == 0 && self.noise_bytes > 0 && self.bytes >= 32)
    }

    /// The IP address in the ready line.
    pub fn ip(&self) -> Option<&str> {
        let url = self.ready.as_deref()?;
        let host = url.strip_prefix("http://")?.split('/').next()?;
        Some(host.rsplit_once(':').map_or(host, |(h, _)| h))
    }
}

/// A character no console line contains: a control code other than tab, CR and LF, or
/// the replacement character of an earlier lossy decode.
fn is_noise(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\r' | '\n')) || c == char::REPLACEMENT_CHARACTER
}

/// Counts bytes that no text console line contains: invalid UTF-8, control codes other
/// than tab, CR and LF, and replacement characters.
pub fn noise_bytes(bytes: &[u8]) -> usize {
    let mut noise = 0;
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                noise += s.chars().filter(|&c| is_noise(c)).count();
                return noise;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                noise += std::str::from_utf8(good)
                    .map(|s| s.chars().filter(|&c| is_noise(c)).count())
                    .unwrap_or(0);
                let skip = e.error_len().unwrap_or(bad.len());
                noise += skip;
                rest = &bad[skip..];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEALTHY: &str = "nanoesp bb799b8f board=nano esp=esp12e link=soft baud=38400 ssid=my lab\r\n\
        nanoesp: probing ESP (AT)\r\n\
        nanoesp: ESP AT version 1.7.4.0\r\n\
        nanoesp: joining my lab\r\n\
        nanoesp: ready http://192.168.4.2:80/\r\n";

    #[test]
    fn healthy_bring_up() {
        let f = ConsoleFacts::from_bytes(HEALTHY.as_bytes());
        let b = f.banner.clone().unwrap();
        assert_eq!(b.build_id, "bb799b8f");
        assert_eq!((b.board.as_str(), b.esp.as_str()), ("nano", "esp12e"));
        assert_eq!((b.link.as_str(), b.baud), ("soft", Some(38400)));
        assert_eq!(b.ssid, "my lab");
        assert_eq!(f.at_version.as_deref(), Some("1.7.4.0"));
        assert_eq!(f.ready.as_deref(), Some("http://192.168.4.2:80/"));
        assert_eq!(f.ip(), Some("192.168.4.2"));
        assert_eq!(f.known_lines, 5);
        assert!(!f.garbled());
        assert_eq!(f.noise_bytes, 0);
    }

    #[test]
    fn a_line_cut_by_the_reset_does_not_hide_the_banner_after_it() {
        let text = "rmata readynanoesp 1b95973e board=nano esp=esp12e link=soft baud=57600 ssid=lab\r\n\
            nanoesp: ready http://192.168.4.2:80/\r\n";
        let f = ConsoleFacts::from_bytes(text.as_bytes());
        assert_eq!(f.banner.map(|b| b.build_id).as_deref(), Some("1b95973e"));
        assert_eq!((f.lines, f.known_lines), (2, 2));
    }

    #[test]
    fn failures_are_counted() {
        let text = "nanoesp: ESP does not answer; check wiring, power and baud\r\n\
            nanoesp: join failed: AP not found (code 3), retry in 5 s\r\n\
            nanoesp: join failed: wrong password (code 2), retry in 10 s\r\n\
            nanoesp: ESP reset detected, re-initialising\r\n\
            nanoesp: warning: AT 2.x on ESP8266 is not reliable; use NonOS AT 1.7.4+\r\n\
            <-- busy p...\r\n";
        let f = ConsoleFacts::from_bytes(text.as_bytes());
        assert_eq!(f.no_answer, 1);
        assert_eq!(
            f.join_failures,
            vec![
                JoinFailure {
                    code: 3,
                    reason: "AP not found".into()
                },
                JoinFailure {
                    code: 2,
                    reason: "wrong password".into()
                }
            ]
        );
        assert_eq!(f.esp_resets, 1);
        assert!(f.at2_warning);
        assert_eq!(f.busy, 1);
    }

    #[test]
    fn noise_is_garbled() {
        let noise: Vec<u8> = (0..200u32).map(|i| (i * 37 % 256) as u8 | 0x80).collect();
        let f = ConsoleFacts::from_bytes(&noise);
        assert!(f.garbled(), "{f:?}");
        // Plain text that is not ours is not noise.
        let f = ConsoleFacts::from_bytes(b"hello hello hello hello hello hello\r\n");
        assert!(!f.garbled());
        assert!(!ConsoleFacts::from_bytes(b"").garbled());
        // Non-ASCII SSIDs are text, not noise.
        assert_eq!(noise_bytes("ssid=café\r\n".as_bytes()), 0);
    }

    proptest::proptest! {
        /// Whatever a console sends (noise at the wrong baud, cut lines, binary), the
        /// doctor's reading of it never panics.
        #[test]
        fn any_console_bytes_are_read_without_panicking(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)
        ) {
            let facts = ConsoleFacts::from_bytes(&bytes);
            let _ = facts.garbled();
            let _ = facts.ip();
            proptest::prop_assert!(noise_bytes(&bytes) <= bytes.len());
        }
    }
}
