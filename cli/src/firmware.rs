//! Flash and SRAM use of a built firmware, read from its ELF section headers.
//!
//! On AVR, initialised data (`.data`) is stored in flash and copied to SRAM at start-up, so it
//! counts against both; `.bss` and `.noinit` only take SRAM. This is what avr-size reports.

use object::{Object, ObjectSection};

/// Static memory use of a firmware image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Usage {
    /// Bytes of program memory: `.text` + `.data`.
    pub flash: u64,
    /// Bytes of static SRAM: `.data` + `.bss` + `.noinit` (the stack comes on top).
    pub sram: u64,
}

/// Reads the section sizes of an AVR ELF.
///
/// # Errors
/// The file is not an ELF object.
pub fn usage(elf: &[u8]) -> Result<Usage, object::Error> {
    let file = object::File::parse(elf)?;
    let size = |name: &str| file.section_by_name(name).map(|s| s.size()).unwrap_or(0);
    let data = size(".data");
    Ok(Usage {
        flash: size(".text") + data,
        sram: data + size(".bss") + size(".noinit"),
    })
}

/// `32256` → `32,256`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `Flash  6,210 / 32,256 B (19 %)` style figure.
pub fn figure(label: &str, used: u64, limit: u64) -> String {
    let pct = (used * 100).checked_div(limit).unwrap_or(0);
    format!(
        "{label:<5} {} / {} B ({pct} %)",
        thousands(used),
        thousands(limit)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(6210), "6,210");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn figure_formats_like_the_issue() {
        assert_eq!(
            figure("Flash", 6210, 32256),
            "Flash 6,210 / 32,256 B (19 %)"
        );
    }

    #[test]
    fn rejects_non_elf() {
        assert!(usage(b"not an elf").is_err());
    }
}
