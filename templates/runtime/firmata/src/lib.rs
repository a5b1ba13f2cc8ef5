//! nanoesp-firmata: the Nano's side of Firmata 2.x (StandardFirmata semantics), sans-IO.
//!
//! - [`parser`]: turns link bytes into [`Command`]s; garbage, cut-off and oversize frames
//!   are dropped and parsing resumes at the next command byte.
//! - [`engine`]: [`Firmata`] owns pin modes, report flags and the sampling interval; it
//!   answers commands and produces periodic reports through the caller's [`Io`] (the pins)
//!   and [`Sink`] (the link).
//!
//! Pin numbering is the Arduino Nano's, as StandardFirmata numbers an ATmega328P board
//! with eight analog inputs: digital 0–13, A0–A7 = 14–21 (A6/A7 analog only). Which pins
//! are reserved (the link, the console) and which can do PWM is the [`Io`]'s decision.
//! Nothing here reads a clock, allocates or uses `core::fmt`; time comes in as `now_ms`.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod engine;
pub mod parser;

pub use engine::{Firmata, Identity, Io, Sink};
pub use parser::{Command, Parser};

/// Firmata protocol version this firmware speaks (answer to `REPORT_VERSION`).
pub const PROTOCOL_VERSION: (u8, u8) = (2, 5);

/// Command bytes (the high nibble of a channel command, or the whole byte).
pub mod cmd {
    /// `0x90 | port`, two data bytes: the 8 levels of a digital port.
    pub const DIGITAL_MESSAGE: u8 = 0x90;
    /// `0xE0 | pin`, two data bytes: an analog value (report) or PWM duty (write).
    pub const ANALOG_MESSAGE: u8 = 0xE0;
    /// `0xC0 | channel`, one data byte: analog reporting on/off.
    pub const REPORT_ANALOG: u8 = 0xC0;
    /// `0xD0 | port`, one data byte: digital port reporting on/off.
    pub const REPORT_DIGITAL: u8 = 0xD0;
    /// Starts a sysex message.
    pub const START_SYSEX: u8 = 0xF0;
    /// Pin and mode.
    pub const SET_PIN_MODE: u8 = 0xF4;
    /// Pin and level.
    pub const SET_DIGITAL_PIN_VALUE: u8 = 0xF5;
    /// Ends a sysex message.
    pub const END_SYSEX: u8 = 0xF7;
    /// Protocol version query and answer (two data bytes in the answer).
    pub const REPORT_VERSION: u8 = 0xF9;
    /// Back to the power-on state.
    pub const SYSTEM_RESET: u8 = 0xFF;
}

/// Sysex command ids (the first byte after `START_SYSEX`).
pub mod sysex {
    /// nanoesp extension: `F0 0E F7` asks for the build id, answered as `F0 0E <ASCII> F7`.
    pub const NANOESP_BUILD_ID: u8 = 0x0E;
    /// Analog mapping query.
    pub const ANALOG_MAPPING_QUERY: u8 = 0x69;
    /// Analog mapping response: one byte per pin, its channel or 127.
    pub const ANALOG_MAPPING_RESPONSE: u8 = 0x6A;
    /// Capability query.
    pub const CAPABILITY_QUERY: u8 = 0x6B;
    /// Capability response: per pin (mode, resolution) pairs ended by 127.
    pub const CAPABILITY_RESPONSE: u8 = 0x6C;
    /// Pin state query (one byte: the pin).
    pub const PIN_STATE_QUERY: u8 = 0x6D;
    /// Pin state response: pin, mode, state in 7-bit groups.
    pub const PIN_STATE_RESPONSE: u8 = 0x6E;
    /// Analog (PWM) write to any pin: pin, value in 7-bit groups.
    pub const EXTENDED_ANALOG: u8 = 0x6F;
    /// Firmware name and version query and answer.
    pub const REPORT_FIRMWARE: u8 = 0x79;
    /// Sampling interval in milliseconds (14 bits, LSB first).
    pub const SAMPLING_INTERVAL: u8 = 0x7A;
}

/// Pin modes (Firmata's numbering).
pub mod mode {
    /// Digital input.
    pub const INPUT: u8 = 0x00;
    /// Digital output.
    pub const OUTPUT: u8 = 0x01;
    /// Analog input.
    pub const ANALOG: u8 = 0x02;
    /// PWM output.
    pub const PWM: u8 = 0x03;
    /// Digital input with the internal pull-up.
    pub const PULLUP: u8 = 0x0B;
    /// Not usable through Firmata (reserved pins); also ends a pin's capability list.
    pub const UNAVAILABLE: u8 = 0x7F;
}

/// Firmata pin numbers of the Nano: 0–13 digital, A0–A7 = 14–21.
pub const TOTAL_PINS: u8 = 22;
/// Firmata number of A0.
pub const FIRST_ANALOG_PIN: u8 = 14;
/// Pins below this one can be used digitally (A6/A7 = 20/21 are analog only).
pub const DIGITAL_PINS: u8 = 20;
/// Analog channels A0–A7.
pub const ANALOG_CHANNELS: u8 = 8;
/// Digital ports of eight pins: 0 = D0–D7, 1 = D8–D13 and A0/A1, 2 = A2–A5.
pub const PORTS: u8 = 3;
