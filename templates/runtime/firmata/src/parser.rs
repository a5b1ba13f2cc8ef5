//! Byte-driven Firmata 2.x parser.
//!
//! [`Parser::push`] takes one byte and returns at most one [`Command`]. The grammar, as
//! the MIDI framing Firmata inherits: a byte with the top bit set starts a message and
//! decides how many data bytes (top bit clear) follow; `F0 <id> <data…> F7` is a sysex
//! message. Robustness rules:
//!
//! - A command byte always starts over, so a message cut short (a reset of the other end,
//!   a lost byte) is dropped and the next one is understood.
//! - Data bytes outside a message, and command bytes Firmata does not use (`0x80`–`0x8F`,
//!   `0xA0`–`0xBF`, `0xF1`–`0xF3`, `0xF6`, `0xF8`, `0xFA`–`0xFE`), are ignored.
//! - A sysex message longer than the buffer (`N` bytes, id included) is dropped whole at
//!   its `F7`; nothing the parser holds grows with the input.
//! - Channel messages need their data bytes again after each command byte (no MIDI
//!   running status: Firmata hosts never rely on it).

use crate::cmd;

/// One message from the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command<'a> {
    /// `F9`: asks for the protocol version.
    ReportVersion,
    /// `FF`: back to the power-on state.
    SystemReset,
    /// `F4 pin mode`.
    SetPinMode {
        /// Firmata pin number.
        pin: u8,
        /// Requested mode ([`crate::mode`]).
        mode: u8,
    },
    /// `F5 pin value`.
    SetDigitalPinValue {
        /// Firmata pin number.
        pin: u8,
        /// Level to drive.
        high: bool,
    },
    /// `9p lsb msb`: levels of the eight pins of port `p`.
    DigitalMessage {
        /// Port 0–15 (pins `8 * port` …).
        port: u8,
        /// One bit per pin, bit 0 = lowest pin.
        levels: u8,
    },
    /// `Ep lsb msb`: analog write (PWM duty) to pin `p`.
    AnalogMessage {
        /// Pin 0–15.
        pin: u8,
        /// 14-bit value.
        value: u16,
    },
    /// `Cc on`: analog reporting of channel `c` on or off.
    ReportAnalog {
        /// Analog channel 0–15.
        channel: u8,
        /// Reporting wanted.
        enable: bool,
    },
    /// `Dp on`: digital reporting of port `p` on or off.
    ReportDigital {
        /// Port 0–15.
        port: u8,
        /// Reporting wanted.
        enable: bool,
    },
    /// `F0 id data… F7`: a complete sysex message.
    Sysex {
        /// Sysex command id ([`crate::sysex`]).
        id: u8,
        /// The 7-bit data bytes between the id and `F7`.
        data: &'a [u8],
    },
}

/// Nothing in progress.
const IDLE: u8 = 0;

/// The parser; `N` bounds a sysex message (id included).
#[derive(Clone, Debug)]
pub struct Parser<const N: usize = 16> {
    /// Command byte waiting for data, or `START_SYSEX`, or [`IDLE`].
    command: u8,
    /// Data bytes received for `command`.
    len: u8,
    /// The sysex message did not fit: drop it at `F7`.
    overflow: bool,
    /// Data bytes of a channel or system message.
    data: [u8; 2],
    /// Sysex id and data.
    buf: [u8; N],
}

impl<const N: usize> Default for Parser<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// Data bytes a channel or system command takes, or `None` when the byte is not a Firmata
/// command (ignored).
fn data_len(command: u8) -> Option<u8> {
    match command & 0xF0 {
        cmd::DIGITAL_MESSAGE | cmd::ANALOG_MESSAGE => Some(2),
        cmd::REPORT_ANALOG | cmd::REPORT_DIGITAL => Some(1),
        0xF0 => match command {
            cmd::SET_PIN_MODE | cmd::SET_DIGITAL_PIN_VALUE => Some(2),
            _ => None,
        },
        _ => None,
    }
}

impl<const N: usize> Parser<N> {
    /// An idle parser.
    pub const fn new() -> Self {
        const { assert!(N >= 1 && N <= 255, "a sysex buffer holds 1..=255 bytes") };
        Self {
            command: IDLE,
            len: 0,
            overflow: false,
            data: [0; 2],
            buf: [0; N],
        }
    }

    /// Feeds one byte; returns the message it completes, if any.
    pub fn push(&mut self, byte: u8) -> Option<Command<'_>> {
        if byte & 0x80 != 0 {
            return self.command_byte(byte);
        }
        match self.command {
            IDLE => None,
            cmd::START_SYSEX => {
                match self.buf.get_mut(usize::from(self.len)) {
                    Some(slot) => {
                        *slot = byte;
                        self.len += 1;
                    }
                    None => self.overflow = true,
                }
                None
            }
            command => {
                // `len` is 0 or 1 here: a message ends at its last data byte.
                self.data[usize::from(self.len & 1)] = byte;
                self.len += 1;
                if Some(self.len) != data_len(command) {
                    return None;
                }
                self.command = IDLE;
                Some(channel_message(
                    command,
                    self.data[0],
                    self.data[usize::from(self.len - 1) & 1],
                ))
            }
        }
    }

    fn command_byte(&mut self, byte: u8) -> Option<Command<'_>> {
        let previous = self.command;
        let (len, overflow) = (self.len, self.overflow);
        self.command = IDLE;
        self.len = 0;
        self.overflow = false;
        match byte {
            cmd::END_SYSEX if previous == cmd::START_SYSEX && !overflow && len > 0 => {
                let len = usize::from(len);
                Some(Command::Sysex {
                    id: self.buf[0],
                    data: &self.buf[1..len],
                })
            }
            cmd::REPORT_VERSION => Some(Command::ReportVersion),
            cmd::SYSTEM_RESET => Some(Command::SystemReset),
            cmd::START_SYSEX => {
                self.command = byte;
                None
            }
            _ => {
                if data_len(byte).is_some() {
                    self.command = byte;
                }
                None
            }
        }
    }
}

/// Decodes a channel or system message from its command byte and two data bytes (`first`
/// and `last` are the same byte for one-byte messages).
fn channel_message(command: u8, first: u8, last: u8) -> Command<'static> {
    let low = command & 0x0F;
    match command {
        cmd::SET_PIN_MODE => Command::SetPinMode {
            pin: first,
            mode: last,
        },
        cmd::SET_DIGITAL_PIN_VALUE => Command::SetDigitalPinValue {
            pin: first,
            high: last != 0,
        },
        _ => match command & 0xF0 {
            cmd::DIGITAL_MESSAGE => Command::DigitalMessage {
                port: low,
                levels: first | (last << 7),
            },
            cmd::ANALOG_MESSAGE => Command::AnalogMessage {
                pin: low,
                value: u16::from(first) | (u16::from(last) << 7),
            },
            cmd::REPORT_ANALOG => Command::ReportAnalog {
                channel: low,
                enable: first != 0,
            },
            _ => Command::ReportDigital {
                port: low,
                enable: first != 0,
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every message `bytes` completes, as owned values (sysex data copied).
    fn parse(p: &mut Parser<8>, bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        for &b in bytes {
            if let Some(c) = p.push(b) {
                out.push(format!("{c:?}"));
            }
        }
        out
    }

    #[track_caller]
    fn one(bytes: &[u8], expected: Command<'_>) {
        let mut p = Parser::<8>::new();
        assert_eq!(
            parse(&mut p, bytes),
            vec![format!("{expected:?}")],
            "{bytes:02x?}"
        );
    }

    // --- every command ---------------------------------------------------------------

    #[test]
    fn single_byte_commands() {
        one(&[0xF9], Command::ReportVersion);
        one(&[0xFF], Command::SystemReset);
    }

    #[test]
    fn pin_mode_and_pin_value() {
        one(&[0xF4, 13, 1], Command::SetPinMode { pin: 13, mode: 1 });
        one(
            &[0xF5, 13, 1],
            Command::SetDigitalPinValue {
                pin: 13,
                high: true,
            },
        );
        one(
            &[0xF5, 2, 0],
            Command::SetDigitalPinValue {
                pin: 2,
                high: false,
            },
        );
    }

    #[test]
    fn digital_message_joins_bit_7_from_the_second_byte() {
        one(
            &[0x91, 0x20, 0x01],
            Command::DigitalMessage {
                port: 1,
                levels: 0xA0,
            },
        );
        one(
            &[0x90, 0x7F, 0x00],
            Command::DigitalMessage {
                port: 0,
                levels: 0x7F,
            },
        );
    }

    #[test]
    fn analog_message_is_fourteen_bits() {
        one(
            &[0xE3, 0x7F, 0x01],
            Command::AnalogMessage { pin: 3, value: 255 },
        );
        one(
            &[0xEB, 0x7F, 0x7F],
            Command::AnalogMessage {
                pin: 11,
                value: 0x3FFF,
            },
        );
    }

    #[test]
    fn report_toggles() {
        one(
            &[0xC3, 1],
            Command::ReportAnalog {
                channel: 3,
                enable: true,
            },
        );
        one(
            &[0xC0, 0],
            Command::ReportAnalog {
                channel: 0,
                enable: false,
            },
        );
        one(
            &[0xD1, 1],
            Command::ReportDigital {
                port: 1,
                enable: true,
            },
        );
    }

    #[test]
    fn sysex_messages() {
        one(
            &[0xF0, 0x79, 0xF7],
            Command::Sysex {
                id: 0x79,
                data: &[],
            },
        );
        one(
            &[0xF0, 0x6B, 0xF7],
            Command::Sysex {
                id: 0x6B,
                data: &[],
            },
        );
        one(
            &[0xF0, 0x7A, 0x13, 0x00, 0xF7],
            Command::Sysex {
                id: 0x7A,
                data: &[0x13, 0],
            },
        );
        one(
            &[0xF0, 0x0E, 0xF7],
            Command::Sysex {
                id: 0x0E,
                data: &[],
            },
        );
        // exactly N bytes including the id still fits
        one(
            &[0xF0, 1, 2, 3, 4, 5, 6, 7, 8, 0xF7],
            Command::Sysex {
                id: 1,
                data: &[2, 3, 4, 5, 6, 7, 8],
            },
        );
    }

    #[test]
    fn messages_back_to_back() {
        let mut p = Parser::<8>::new();
        let got = parse(&mut p, &[0xF9, 0xC0, 1, 0xF0, 0x79, 0xF7, 0xF5, 13, 0]);
        assert_eq!(got.len(), 4, "{got:?}");
    }

    // --- garbage, partial and oversize frames ----------------------------------------

    #[test]
    fn empty_sysex_and_stray_end_are_ignored() {
        let mut p = Parser::<8>::new();
        assert!(parse(&mut p, &[0xF0, 0xF7, 0xF7, 0x00, 0x55]).is_empty());
        one(&[0xF0, 0xF7, 0xF9], Command::ReportVersion);
    }

    #[test]
    fn data_bytes_outside_a_message_are_ignored() {
        one(&[0x01, 0x7F, 0x33, 0xF9], Command::ReportVersion);
    }

    #[test]
    fn unused_command_bytes_are_ignored_with_their_data() {
        one(
            &[
                0x80, 1, 2, 0xA5, 3, 0xB0, 0xF1, 4, 0xF6, 0xFE, 5, 0xF5, 4, 1,
            ],
            Command::SetDigitalPinValue { pin: 4, high: true },
        );
    }

    #[test]
    fn a_cut_off_message_is_dropped_at_the_next_command_byte() {
        one(
            &[0xF4, 13, 0xF5, 13, 1],
            Command::SetDigitalPinValue {
                pin: 13,
                high: true,
            },
        );
        one(
            &[0x91, 0x20, 0xC0, 1],
            Command::ReportAnalog {
                channel: 0,
                enable: true,
            },
        );
        one(&[0xF0, 0x79, 0x01, 0xF9], Command::ReportVersion);
        one(
            &[0xF0, 0x6B, 0xF0, 0x79, 0xF7],
            Command::Sysex {
                id: 0x79,
                data: &[],
            },
        );
    }

    #[test]
    fn oversize_sysex_is_dropped_whole_and_the_next_one_understood() {
        let mut p = Parser::<8>::new();
        let mut bytes = vec![0xF0, 0x71];
        bytes.extend(std::iter::repeat_n(0x41, 300));
        bytes.push(0xF7);
        assert!(parse(&mut p, &bytes).is_empty());
        assert_eq!(
            parse(&mut p, &[0xF0, 0x0E, 0xF7]),
            vec![format!(
                "{:?}",
                Command::Sysex {
                    id: 0x0E,
                    data: &[]
                }
            )]
        );
    }

    #[test]
    fn no_running_status() {
        let mut p = Parser::<8>::new();
        assert_eq!(parse(&mut p, &[0xC0, 1, 0, 1]).len(), 1);
    }
}
