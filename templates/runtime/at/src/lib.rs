//! nanoesp-at: a byte-driven, sans-IO driver for the ESP8266 AT firmware (1.7.x and 2.x).
//!
//! - [`parser`]: turns UART bytes into [`parser::Token`]s; accepts every unsolicited line in
//!   every state and hands length-counted payloads out byte by byte.
//! - [`cmd`]: command encoders writing into a byte sink or `&mut [u8]`.
//! - [`driver`]: bring-up, one command in flight, link table with generations, passive
//!   receive, sends, polling, reset detection and timeouts; see [`driver::Driver`].
//!
//! Time comes in as `now_ms: u32` from the caller; nothing here reads a clock, allocates,
//! or uses `core::fmt`. Constant text is kept in flash through `nanoesp_http::pstr!`.
#![cfg_attr(not(test), no_std)]
#![cfg_attr(target_arch = "avr", feature(asm_experimental_arch))]
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod cmd;
pub mod driver;
pub mod parser;

pub use cmd::Command;
pub use driver::{Driver, Event, Link, Request, Settings};
pub use parser::{Parser, Token};
