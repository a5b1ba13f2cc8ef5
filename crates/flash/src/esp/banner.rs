//! The ESP8266 ROM's boot banner, printed at 74880 baud after every reset:
//! `ets Jan  8 2013,rst cause:2, boot mode:(3,6)`. Read at 115200 it is garbage, so the
//! caller has to listen at 74880 (or hand over bytes from a capture).

/// A decoded banner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RomBanner {
    /// The reset cause number.
    pub rst_cause: u8,
    /// What it means.
    pub rst_meaning: &'static str,
    /// `boot mode:(a,b)`.
    pub boot_mode: (u8, u8),
    /// What `a` (the GPIO15/GPIO0/GPIO2 strapping) means and what to do.
    pub boot_meaning: &'static str,
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

fn number(bytes: &[u8], at: usize) -> Option<(u8, usize)> {
    let digits = bytes
        .get(at..)?
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 || digits > 3 {
        return None;
    }
    let n: u16 = std::str::from_utf8(&bytes[at..at + digits])
        .ok()?
        .parse()
        .ok()?;
    Some((u8::try_from(n).ok()?, at + digits))
}

/// What a reset cause means (ESP8266 NonOS documentation: 1 power-on, 2 external, 4
/// hardware watchdog).
pub fn rst_meaning(cause: u8) -> &'static str {
    match cause {
        1 => "power-on reset",
        2 => "external reset: the RST pin was pulsed (or a wake from deep sleep)",
        4 => "hardware watchdog reset: the firmware hung",
        _ => "an undocumented reset cause",
    }
}

/// What the first boot-mode number means: bits GPIO15, GPIO0, GPIO2 sampled at reset.
pub fn boot_meaning(mode: u8) -> &'static str {
    match mode {
        1 => "UART download mode (GPIO0 low): ready to be flashed",
        3 => {
            "boot from flash (GPIO0 high): running the firmware; to flash, hold GPIO0 low while pulsing RST"
        }
        0 | 2 => "GPIO2 is low at reset: it must be high (pull it up with 10 kΩ)",
        4..=7 => "GPIO15 is high at reset (SDIO boot): pull GPIO15 low with 10 kΩ",
        _ => "an unknown boot mode",
    }
}

/// Finds and decodes the banner in `bytes` (garbage around it is fine). `None` when no
/// complete `rst cause:N, boot mode:(A,B)` is present.
pub fn decode(bytes: &[u8]) -> Option<RomBanner> {
    let mut from = 0;
    while let Some(i) = find(bytes, b"rst cause:", from) {
        from = i + 1;
        let Some((cause, mut at)) = number(bytes, i + 10) else {
            continue;
        };
        let Some(j) = find(bytes, b"boot mode:(", at) else {
            continue;
        };
        // The two fields are on one line.
        if j - at > 8 {
            continue;
        }
        at = j + 11;
        let Some((a, next)) = number(bytes, at) else {
            continue;
        };
        if bytes.get(next) != Some(&b',') {
            continue;
        }
        let Some((b, end)) = number(bytes, next + 1) else {
            continue;
        };
        if bytes.get(end) != Some(&b')') {
            continue;
        }
        return Some(RomBanner {
            rst_cause: cause,
            rst_meaning: rst_meaning(cause),
            boot_mode: (a, b),
            boot_meaning: boot_meaning(a),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_download_and_flash_banners() {
        let b = decode(b"\r\n ets Jan  8 2013,rst cause:2, boot mode:(1,7)\r\n\r\n").unwrap();
        assert_eq!((b.rst_cause, b.boot_mode), (2, (1, 7)));
        assert!(b.boot_meaning.contains("download"));
        assert!(b.rst_meaning.contains("RST"));
        let b = decode(b"ets Jan  8 2013,rst cause:4, boot mode:(3,6)").unwrap();
        assert_eq!((b.rst_cause, b.boot_mode), (4, (3, 6)));
        assert!(b.rst_meaning.contains("watchdog"));
        assert!(b.boot_meaning.contains("flash"));
    }

    #[test]
    fn tolerates_garbage_and_rejects_incomplete_lines() {
        let mut noisy = vec![0xff, 0x00, 0x8a, b'r', b's', b't'];
        noisy.extend_from_slice(b"rst cause:9x rst cause:1, boot mode:(7,0)\x00\xfe");
        let b = decode(&noisy).unwrap();
        assert_eq!((b.rst_cause, b.boot_mode), (1, (7, 0)));
        assert!(b.boot_meaning.contains("GPIO15"));
        assert!(decode(b"ets Jan  8 2013,rst cause:2, boot mode:(3").is_none());
        assert!(decode(b"rst cause:2").is_none());
        assert!(decode(&[0xc0; 100]).is_none());
        assert!(decode(b"").is_none());
    }
}
