//! Flashing and identifying the two chips of a nanoesp project. A library: it never
//! prints; progress goes through [`Progress`], results and errors are returned.
//!
//! - [`nano`]: the Nano through ravedude/avrdude and its serial bootloader (optiboot or
//!   ATmegaBOOT), with avrdude's progress and verification parsed from its output.
//! - [`esp`]: the ESP8266 through the espflash 2.1 library (ROM loader), AT firmware
//!   flash maps, ROM boot-banner decoding, Wi-Fi provisioning through the AT firmware.
//! - [`ports`]: serial ports, identified by the protocol that answers on them.

pub mod esp;
pub mod nano;
pub mod ports;
mod progress;

pub use progress::{NoProgress, Progress};
