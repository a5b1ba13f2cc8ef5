//! Board facts for nanoesp: the Nano variants and ESP8266 modules a project can target.
//!
//! The data lives in the repository's `boards/*.toml` (one file per board, the single source
//! of truth) and is compiled into the binary. This crate only parses and answers questions
//! about it (pins, reserved pins, timer functions); validation of a user's choices is left to
//! `nanoesp-project`.
#![deny(missing_docs)]

use serde::Deserialize;

/// Every board file, embedded at compile time. `tests::every_board_file_is_embedded` checks
/// that this list matches the `boards/` directory.
const BOARD_FILES: &[(&str, &str)] = &[
    ("nano", include_str!("../../../boards/nano.toml")),
    ("nano-old", include_str!("../../../boards/nano-old.toml")),
    ("esp12e", include_str!("../../../boards/esp12e.toml")),
    ("esp01", include_str!("../../../boards/esp01.toml")),
    ("nodemcu", include_str!("../../../boards/nodemcu.toml")),
    ("d1-mini", include_str!("../../../boards/d1-mini.toml")),
];

/// Why the embedded board data could not be used (a packaging bug, caught by tests).
#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    /// A board file is not valid TOML for the schema.
    #[error("board file boards/{file}.toml is invalid: {message}")]
    Invalid {
        /// File stem.
        file: String,
        /// Parser message.
        message: String,
    },
    /// `inherit` names a board that does not exist.
    #[error("board {board} inherits unknown board {parent}")]
    UnknownParent {
        /// The inheriting board.
        board: String,
        /// The missing parent.
        parent: String,
    },
}

/// A USB-serial bridge id seen on a board (a hint only: these ids are generic).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct UsbId {
    /// USB vendor id.
    pub vid: u16,
    /// USB product id.
    pub pid: u16,
    /// Bridge chip name.
    pub chip: String,
}

/// One header pin of an AVR board.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Pin {
    /// Arduino name: `D0`..`D13`, `A0`..`A7`.
    pub name: String,
    /// AVR port bit (`PB0`), absent for analog-only pins.
    #[serde(default)]
    pub port: Option<String>,
    /// ADC channel, for analog pins.
    #[serde(default)]
    pub adc: Option<u8>,
    /// True for pins that are ADC inputs only (A6/A7 on the Nano).
    #[serde(default)]
    pub analog_only: bool,
    /// Alternate functions (`ICP1`, `OC1A`, `PWM`, `RXD`, ...).
    #[serde(default)]
    pub functions: Vec<String>,
    /// Why the pin is reserved, when it is.
    #[serde(default)]
    pub reserved: Option<String>,
}

impl Pin {
    /// Whether the pin has the named alternate function.
    pub fn has_function(&self, function: &str) -> bool {
        self.functions.iter().any(|f| f == function)
    }

    /// The Arduino digital pin number (`D8` → 8, `A0` → 14), if the pin is digital.
    pub fn digital_number(&self) -> Option<u8> {
        if self.analog_only {
            return None;
        }
        if let Some(n) = self.name.strip_prefix('D') {
            return n.parse().ok();
        }
        self.name
            .strip_prefix('A')
            .and_then(|n| n.parse::<u8>().ok())
            .map(|n| 14 + n)
    }
}

/// An AVR board (the Nano variants).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvrBoard {
    /// Board id, as used in `nanoesp.toml` (`nano`).
    pub id: String,
    /// Human name.
    pub name: String,
    /// avr-gcc/avrdude MCU name.
    pub mcu: String,
    /// Core clock.
    pub clock_hz: u32,
    /// Total flash.
    pub flash_bytes: u32,
    /// Bootloader family (`optiboot`, `atmegaboot`).
    pub bootloader: String,
    /// Flash taken by the bootloader.
    pub bootloader_bytes: u32,
    /// Flash left for the application.
    pub usable_flash_bytes: u32,
    /// SRAM size.
    pub sram_bytes: u32,
    /// Baud rate of the serial bootloader.
    pub upload_baud: u32,
    /// ravedude preset name.
    pub ravedude_board: String,
    /// avrdude `-c` value.
    pub avrdude_programmer: String,
    /// avrdude `-p` value.
    pub avrdude_partno: String,
    /// USB bridge ids seen on this board.
    pub usb_ids: Vec<UsbId>,
    /// Header pins.
    pub pins: Vec<Pin>,
}

impl AvrBoard {
    /// Looks a pin up by its Arduino name, case-insensitively (`d8` finds `D8`).
    pub fn pin(&self, name: &str) -> Option<&Pin> {
        self.pins.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// Pins that have the given alternate function, in header order.
    pub fn pins_with(&self, function: &str) -> impl Iterator<Item = &Pin> {
        self.pins.iter().filter(move |p| p.has_function(function))
    }
}

/// An ESP8266 module or dev board.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EspBoard {
    /// Board id (`esp12e`).
    pub id: String,
    /// Human name.
    pub name: String,
    /// SPI flash size.
    pub flash_bytes: u32,
    /// SPI flash mode (`dio`, `qio`).
    pub flash_mode: String,
    /// Whether DTR/RTS can put the chip in download mode.
    pub auto_reset: bool,
    /// Reset wiring (`nodemcu`, `manual`).
    pub reset_method: String,
    /// Pins carrying the AT command UART.
    pub at_uart: String,
    /// arduino-cli board (FQBN) for esp-master sketches.
    pub arduino_fqbn: String,
    /// esp-master: GPIO receiving from the Nano's link TX (software serial), or -1 for the
    /// hardware UART0 (GPIO3), the only choice where no other pins are broken out.
    pub master_link_rx_gpio: i8,
    /// esp-master: GPIO driving the Nano's link RX, or -1 for UART0 (GPIO1).
    pub master_link_tx_gpio: i8,
    /// USB bridge ids seen on this board.
    #[serde(default)]
    pub usb_ids: Vec<UsbId>,
}

/// Any board nanoesp knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Board {
    /// A Nano variant.
    Avr(AvrBoard),
    /// An ESP8266 module.
    Esp(EspBoard),
}

/// The raw shape of a board file; AVR files may `inherit` another and override fields.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAvr {
    id: String,
    inherit: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    mcu: Option<String>,
    clock_hz: Option<u32>,
    flash_bytes: Option<u32>,
    bootloader: Option<String>,
    bootloader_bytes: Option<u32>,
    usable_flash_bytes: Option<u32>,
    sram_bytes: Option<u32>,
    upload_baud: Option<u32>,
    ravedude_board: Option<String>,
    avrdude_programmer: Option<String>,
    avrdude_partno: Option<String>,
    usb_ids: Option<Vec<UsbId>>,
    pins: Option<Vec<Pin>>,
}

#[derive(Deserialize)]
struct KindProbe {
    kind: Option<String>,
    inherit: Option<String>,
}

/// All boards nanoesp knows, parsed from the embedded files.
#[derive(Debug, Clone)]
pub struct Catalog {
    boards: Vec<Board>,
}

fn invalid(file: &str, message: impl Into<String>) -> BoardError {
    BoardError::Invalid {
        file: file.to_string(),
        message: message.into(),
    }
}

impl Catalog {
    /// Parses the embedded board files.
    ///
    /// # Errors
    /// Only if the embedded data is broken, which the crate's tests rule out.
    pub fn load() -> Result<Catalog, BoardError> {
        let mut raw_avr: Vec<(String, RawAvr)> = Vec::new();
        let mut boards = Vec::new();
        for (file, text) in BOARD_FILES {
            let probe: KindProbe = toml::from_str(text).map_err(|e| invalid(file, e.message()))?;
            let is_esp = probe.kind.as_deref() == Some("esp8266");
            if is_esp {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct RawEsp {
                    #[allow(dead_code)]
                    kind: String,
                    #[serde(flatten)]
                    board: EspBoard,
                }
                let raw: RawEsp = toml::from_str(text).map_err(|e| invalid(file, e.message()))?;
                boards.push((file.to_string(), Board::Esp(raw.board)));
            } else if probe.kind.as_deref() == Some("avr") || probe.inherit.is_some() {
                let raw: RawAvr = toml::from_str(text).map_err(|e| invalid(file, e.message()))?;
                raw_avr.push((file.to_string(), raw));
            } else {
                return Err(invalid(
                    file,
                    "missing `kind` (avr or esp8266) or `inherit`",
                ));
            }
        }
        for (file, raw) in &raw_avr {
            let resolved = resolve_avr(raw, &raw_avr)?;
            boards.push((file.clone(), Board::Avr(finish_avr(file, resolved)?)));
        }
        // Keep the declaration order of BOARD_FILES so listings are stable.
        boards.sort_by_key(|(file, _)| BOARD_FILES.iter().position(|(f, _)| f == file));
        Ok(Catalog {
            boards: boards.into_iter().map(|(_, b)| b).collect(),
        })
    }

    /// Every board, in a stable order.
    pub fn boards(&self) -> &[Board] {
        &self.boards
    }

    /// The AVR board with this id.
    pub fn avr(&self, id: &str) -> Option<&AvrBoard> {
        self.avr_boards().find(|b| b.id == id)
    }

    /// The ESP board with this id.
    pub fn esp(&self, id: &str) -> Option<&EspBoard> {
        self.esp_boards().find(|b| b.id == id)
    }

    /// All AVR boards.
    pub fn avr_boards(&self) -> impl Iterator<Item = &AvrBoard> {
        self.boards.iter().filter_map(|b| match b {
            Board::Avr(a) => Some(a),
            Board::Esp(_) => None,
        })
    }

    /// All ESP boards.
    pub fn esp_boards(&self) -> impl Iterator<Item = &EspBoard> {
        self.boards.iter().filter_map(|b| match b {
            Board::Esp(e) => Some(e),
            Board::Avr(_) => None,
        })
    }
}

fn resolve_avr(raw: &RawAvr, all: &[(String, RawAvr)]) -> Result<RawAvr, BoardError> {
    let Some(parent_id) = &raw.inherit else {
        return Ok(raw.clone());
    };
    let parent = all
        .iter()
        .find(|(_, r)| &r.id == parent_id)
        .ok_or_else(|| BoardError::UnknownParent {
            board: raw.id.clone(),
            parent: parent_id.clone(),
        })?;
    let base = resolve_avr(&parent.1, all)?;
    macro_rules! pick {
        ($($f:ident),*) => { RawAvr { id: raw.id.clone(), inherit: None, $($f: raw.$f.clone().or(base.$f.clone())),* } };
    }
    Ok(pick!(
        kind,
        name,
        mcu,
        clock_hz,
        flash_bytes,
        bootloader,
        bootloader_bytes,
        usable_flash_bytes,
        sram_bytes,
        upload_baud,
        ravedude_board,
        avrdude_programmer,
        avrdude_partno,
        usb_ids,
        pins
    ))
}

fn finish_avr(file: &str, r: RawAvr) -> Result<AvrBoard, BoardError> {
    let missing = |field: &str| invalid(file, format!("missing field `{field}`"));
    Ok(AvrBoard {
        id: r.id,
        name: r.name.ok_or_else(|| missing("name"))?,
        mcu: r.mcu.ok_or_else(|| missing("mcu"))?,
        clock_hz: r.clock_hz.ok_or_else(|| missing("clock_hz"))?,
        flash_bytes: r.flash_bytes.ok_or_else(|| missing("flash_bytes"))?,
        bootloader: r.bootloader.ok_or_else(|| missing("bootloader"))?,
        bootloader_bytes: r
            .bootloader_bytes
            .ok_or_else(|| missing("bootloader_bytes"))?,
        usable_flash_bytes: r
            .usable_flash_bytes
            .ok_or_else(|| missing("usable_flash_bytes"))?,
        sram_bytes: r.sram_bytes.ok_or_else(|| missing("sram_bytes"))?,
        upload_baud: r.upload_baud.ok_or_else(|| missing("upload_baud"))?,
        ravedude_board: r.ravedude_board.ok_or_else(|| missing("ravedude_board"))?,
        avrdude_programmer: r
            .avrdude_programmer
            .ok_or_else(|| missing("avrdude_programmer"))?,
        avrdude_partno: r.avrdude_partno.ok_or_else(|| missing("avrdude_partno"))?,
        usb_ids: r.usb_ids.unwrap_or_default(),
        pins: r.pins.ok_or_else(|| missing("pins"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::load().expect("embedded boards parse")
    }

    #[test]
    fn every_board_file_is_embedded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../boards");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut embedded: Vec<String> = BOARD_FILES.iter().map(|(f, _)| f.to_string()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }

    #[test]
    fn file_name_matches_board_id() {
        let c = catalog();
        for (file, b) in BOARD_FILES.iter().zip(c.boards()) {
            let id = match b {
                Board::Avr(a) => &a.id,
                Board::Esp(e) => &e.id,
            };
            assert_eq!(file.0, id);
        }
    }

    #[test]
    fn avr_invariants_hold() {
        for b in catalog().avr_boards() {
            assert_eq!(
                b.usable_flash_bytes,
                b.flash_bytes - b.bootloader_bytes,
                "{}: usable flash must be flash minus bootloader",
                b.id
            );
            assert!(b.sram_bytes > 0 && b.clock_hz > 0);
            // exactly one input-capture and one OC1A pin, for the Timer1 soft serial
            assert_eq!(b.pins_with("ICP1").count(), 1, "{}", b.id);
            assert_eq!(b.pins_with("OC1A").count(), 1, "{}", b.id);
            assert_eq!(b.pins_with("RXD").count(), 1);
            assert_eq!(b.pins_with("TXD").count(), 1);
            let mut names: Vec<&str> = b.pins.iter().map(|p| p.name.as_str()).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), b.pins.len(), "{}: duplicate pin names", b.id);
            for p in &b.pins {
                assert!(p.analog_only == p.port.is_none(), "{}: {}", b.id, p.name);
            }
        }
    }

    #[test]
    fn nano_facts_match_the_datasheet() {
        let c = catalog();
        let nano = c.avr("nano").unwrap();
        assert_eq!(nano.usable_flash_bytes, 32_256);
        assert_eq!(nano.upload_baud, 115_200);
        assert_eq!(nano.pin("d8").unwrap().port.as_deref(), Some("PB0"));
        assert!(nano.pin("D8").unwrap().has_function("ICP1"));
        assert!(nano.pin("D9").unwrap().has_function("OC1A"));
        assert!(nano.pin("D13").unwrap().reserved.is_some());
        assert!(nano.pin("A6").unwrap().analog_only);
        assert_eq!(nano.pin("A0").unwrap().digital_number(), Some(14));
        assert_eq!(nano.pin("A6").unwrap().digital_number(), None);
        let old = c.avr("nano-old").unwrap();
        assert_eq!(old.upload_baud, 57_600);
        assert_eq!(old.usable_flash_bytes, 30_720);
        assert_eq!(old.pins, nano.pins, "nano-old inherits the pins");
        assert_eq!(old.ravedude_board, "nano");
    }

    #[test]
    fn esp_boards_are_complete() {
        let c = catalog();
        let ids: Vec<&str> = c.esp_boards().map(|b| b.id.as_str()).collect();
        assert_eq!(ids, ["esp12e", "esp01", "nodemcu", "d1-mini"]);
        assert!(!c.esp("esp01").unwrap().auto_reset);
        assert_eq!(c.esp("esp01").unwrap().flash_bytes, 1 << 20);
        assert!(c.esp("nodemcu").unwrap().auto_reset);
    }
}
