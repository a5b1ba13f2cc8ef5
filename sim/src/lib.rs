//! nanoesp-sim: the virtual bench. A simulated ATmega328P (Debian's libsimavr 1.6 through
//! a small C shim) wired to an emulated ESP8266 (`nanoesp-espemu`), a real one, or
//! nothing; its USB console on a pty; and an HTTP load benchmark in simulated time.
//!
//! GPL-3.0-or-later because it links libsimavr. nanoesp only starts it as a subprocess.

pub mod adapter;
pub mod avr;
#[cfg(feature = "espemu")]
pub mod bench;
pub mod board;
pub mod bootloader;
pub mod cli;
pub mod error;
pub mod esp;
pub mod hex;
pub mod image;
pub mod pty;
pub mod redact;
pub mod run;
pub mod rxcheck;
pub mod softuart;
