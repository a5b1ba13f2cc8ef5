//! The ESP8266 side: connect to the ROM loader through espflash 2.1, write images,
//! verify them; identify a port (ROM SYNC or AT); decode the ROM boot banner; AT
//! firmware flash maps; Wi-Fi provisioning through the AT firmware.
//!
//! Never prints. Progress goes through [`Progress`]; errors are [`EspError`] values whose
//! messages say what to do.
//!
//! ```no_run
//! use nanoesp_flash::esp::{self, Image, NoProgress, Reset};
//! let mut session = esp::connect("/dev/ttyUSB0".as_ref(), Reset::Auto, true)?;
//! let info = session.info().clone();
//! let images = vec![Image { name: "app".into(), addr: 0, data: vec![0xe9; 4096] }];
//! let report = session.write(&images, &mut NoProgress)?;
//! println!("{} bytes in {:.1} s, {:?} on {}", report.bytes, report.seconds, report.verified, info.mac);
//! # Ok::<(), nanoesp_flash::esp::EspError>(())
//! ```

mod at;
pub mod at_firmware;
pub mod banner;
mod error;
mod port;
mod raw;
mod session;

pub use at::{escape_at, probe_at, provision};
pub use error::EspError;
pub use port::{AdapterPort, WireStats};
pub use session::{EspSession, connect, connect_port, probe_rom, probe_rom_port};

/// How to get the chip into its ROM loader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reset {
    /// espflash's DTR/RTS sequence (NodeMCU/Wemos-style auto-reset wiring). Harmless on
    /// ports without modem-control lines.
    Auto,
    /// Touch no lines: the user put the chip into download mode by hand (GPIO0 low, RST
    /// pulsed), as on an ESP-01 behind a plain adapter.
    None,
}

/// What the loader told about the chip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EspInfo {
    /// `"ESP8266"`.
    pub chip: String,
    /// Flash size from the flash chip's JEDEC id.
    pub flash_size_bytes: u32,
    /// Station MAC, `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    /// Crystal (26 or 40), estimated from the loader's UART divider.
    pub crystal_mhz: u32,
}

/// One file to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Shown in progress and errors (e.g. `boot_v1.7.bin`).
    pub name: String,
    /// Flash address.
    pub addr: u32,
    /// Contents.
    pub data: Vec<u8>,
}

/// Progress of a write. For each image: `start(image bytes, image name)`, `advance(n)`
/// with newly written bytes (summing to the image size), `finish()`.
pub trait Progress {
    /// An image starts.
    fn start(&mut self, total_bytes: u64, label: &str);
    /// `bytes` more were written.
    fn advance(&mut self, bytes: u64);
    /// The image is done.
    fn finish(&mut self);
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&mut self, _: u64, _: &str) {}
    fn advance(&mut self, _: u64) {}
    fn finish(&mut self) {}
}

/// How the written data was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// The stub computed the MD5 of every written region and it matched.
    Md5,
    /// Every region was read back and compared.
    ReadBack,
    /// Not checked, and why.
    NotVerified(String),
}

/// What a write did.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteReport {
    /// Image bytes written (uncompressed).
    pub bytes: u64,
    /// Wall time of the write (including erase and verification).
    pub seconds: f64,
    /// How the result was checked.
    pub verified: Verification,
    /// Bytes sent on the wire (SLIP-framed, compressed when the stub is used).
    pub wire_bytes_out: u64,
    /// Bytes received on the wire.
    pub wire_bytes_in: u64,
    /// Compressed (FLASH_DEFL_*) writes were used.
    pub compressed: bool,
}
