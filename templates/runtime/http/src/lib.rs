//! nanoesp-http: the firmware's HTTP codec, with no heap and no `core::fmt`.
//!
//! - [`request::Request`]: a bounded request parser fed one byte at a time (method, path up
//!   to 32 bytes, `Content-Length`, a one-byte body); malformed or oversized input ends in
//!   400/414/431/413 after a bounded number of bytes.
//! - [`response::write_head`]: status line, `Content-Type`, `Content-Length`,
//!   `Connection: close`.
//! - [`sink`]: the byte sink every producer writes into; a [`sink::Window`] both counts
//!   a rendering (for `Content-Length`) and cuts any window of it (one `AT+CIPSEND` chunk),
//!   so responses are never assembled whole in RAM; decimal/IP/JSON/HTML writers.
//! - [`index`]: indexing a slice by a byte, without LLVM's costly address arithmetic on AVR.
//! - [`progmem`]: [`progmem::PStr`] and [`pstr!`], constant text kept in flash on the AVR.
//!
//! The crate is shared by `nanoesp-at` (command encoders) and `nanoesp-server`.
#![cfg_attr(not(test), no_std)]
#![cfg_attr(target_arch = "avr", feature(asm_experimental_arch))]
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod index;
pub mod progmem;
pub mod request;
pub mod response;
pub mod sink;

pub use progmem::PStr;
pub use request::{Method, Progress, Request};
pub use response::{ContentType, Status};
pub use sink::Window;
