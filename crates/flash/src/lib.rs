//! Flashing and identifying the two chips of a nanoesp project. A library: it never
//! prints; progress goes through callbacks, results and errors are returned.
//!
//! - [`esp`]: the ESP8266 through the espflash 2.1 library (ROM loader), AT firmware
//!   flash maps, ROM boot-banner decoding, Wi-Fi provisioning through the AT firmware.

pub mod esp;
