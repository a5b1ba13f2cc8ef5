//! A minimal Firmata peer for measurements: frames the byte stream a Firmata server sends and
//! times request/answer round trips over a serial port (the esp-master benchmark's view of
//! the link, standing where the ESP's client stands).

use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// One message from a Firmata server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// `0xE0 | channel`, value 0..=16383.
    Analog { channel: u8, value: u16 },
    /// `0x90 | port`, 14-bit pin mask.
    Digital { port: u8, mask: u16 },
    /// `0xF9 major minor`.
    Version { major: u8, minor: u8 },
    /// `0xF0 command data... 0xF7`.
    Sysex { command: u8, data: Vec<u8> },
}

/// Byte-driven framer; drops anything it cannot place (garbage, truncated frames).
#[derive(Debug, Default)]
pub struct Framer {
    status: Option<u8>,
    data: Vec<u8>,
}

/// Longest sysex we keep; longer frames are dropped whole.
const MAX_SYSEX: usize = 512;

impl Framer {
    /// Feeds one byte; returns a message when it completes one.
    pub fn push(&mut self, byte: u8) -> Option<Message> {
        if byte == 0xF7 {
            let msg = match self.status {
                Some(0xF0) if !self.data.is_empty() => Some(Message::Sysex {
                    command: self.data[0],
                    data: self.data[1..].to_vec(),
                }),
                _ => None,
            };
            self.reset();
            return msg;
        }
        if byte & 0x80 != 0 {
            self.reset();
            self.status = Some(byte);
            return None;
        }
        let status = self.status?;
        if status == 0xF0 {
            if self.data.len() >= MAX_SYSEX {
                self.reset();
            } else {
                self.data.push(byte);
            }
            return None;
        }
        self.data.push(byte);
        if self.data.len() < 2 {
            return None;
        }
        let (a, b) = (self.data[0], self.data[1]);
        self.data.clear();
        let value = u16::from(a) | (u16::from(b) << 7);
        match status & 0xF0 {
            0xE0 => Some(Message::Analog {
                channel: status & 0x0F,
                value,
            }),
            0x90 => Some(Message::Digital {
                port: status & 0x0F,
                mask: value,
            }),
            _ if status == 0xF9 => {
                self.status = None;
                Some(Message::Version { major: a, minor: b })
            }
            _ => {
                self.status = None;
                None
            }
        }
    }

    fn reset(&mut self) {
        self.status = None;
        self.data.clear();
    }
}

/// A Firmata server behind a serial port.
pub struct Peer<P> {
    port: P,
    framer: Framer,
}

impl<P: Read + Write> Peer<P> {
    /// Wraps an open port (its read timeout should be short, e.g. 10 ms).
    pub fn new(port: P) -> Peer<P> {
        Peer {
            port,
            framer: Framer::default(),
        }
    }

    /// Sends `request` and waits for the first message `answer` accepts; returns the time
    /// from the write to that message, or `None` after `timeout`.
    ///
    /// # Errors
    /// The port failed.
    pub fn round_trip(
        &mut self,
        request: &[u8],
        timeout: Duration,
        answer: &mut dyn FnMut(&Message) -> bool,
    ) -> std::io::Result<Option<Duration>> {
        let started = Instant::now();
        self.port.write_all(request)?;
        self.port.flush()?;
        self.wait_for(started, timeout, answer)
    }

    /// Waits for the first message `answer` accepts.
    ///
    /// # Errors
    /// The port failed.
    pub fn wait_for(
        &mut self,
        started: Instant,
        timeout: Duration,
        answer: &mut dyn FnMut(&Message) -> bool,
    ) -> std::io::Result<Option<Duration>> {
        let mut buf = [0u8; 256];
        while started.elapsed() < timeout {
            let n = match self.port.read(&mut buf) {
                Ok(n) => n,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::Interrupted
                    ) =>
                {
                    0
                }
                Err(e) => return Err(e),
            };
            for &b in &buf[..n] {
                if let Some(m) = self.framer.push(b)
                    && answer(&m)
                {
                    return Ok(Some(started.elapsed()));
                }
            }
        }
        Ok(None)
    }

    /// Sends bytes without waiting.
    ///
    /// # Errors
    /// The port failed.
    pub fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.port.write_all(bytes)?;
        self.port.flush()
    }

    /// Reads and drops whatever arrives for `quiet`.
    ///
    /// # Errors
    /// The port failed.
    pub fn drain(&mut self, quiet: Duration) -> std::io::Result<()> {
        self.wait_for(Instant::now(), quiet, &mut |_| false)
            .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(bytes: &[u8]) -> Vec<Message> {
        let mut f = Framer::default();
        bytes.iter().filter_map(|&b| f.push(b)).collect()
    }

    #[test]
    fn frames_reports_versions_and_sysex_through_garbage() {
        let got = frame(&[
            0x01, 0x7F, // data without a status: dropped
            0xE0, 0x7F, 0x03, // A0 = 511
            0xF9, 0x02, 0x05, // version 2.5
            0xF0, 0x6E, 0x0E, 0x02, 0x00, 0xF7, // pin state of A0
            0xE3, 0x10, // truncated by the next status byte
            0x91, 0x00, 0x01, // port 1 = pin 15 high
        ]);
        assert_eq!(
            got,
            vec![
                Message::Analog {
                    channel: 0,
                    value: 511
                },
                Message::Version { major: 2, minor: 5 },
                Message::Sysex {
                    command: 0x6E,
                    data: vec![0x0E, 0x02, 0x00]
                },
                Message::Digital {
                    port: 1,
                    mask: 0x80
                },
            ]
        );
    }

    #[test]
    fn oversize_sysex_is_dropped_and_the_next_frame_understood() {
        let mut bytes = vec![0xF0, 0x71];
        bytes.extend(std::iter::repeat_n(0x41, MAX_SYSEX + 10));
        bytes.push(0xF7);
        bytes.extend([0xE1, 0x00, 0x01]);
        assert_eq!(
            frame(&bytes),
            vec![Message::Analog {
                channel: 1,
                value: 128
            }]
        );
    }
}
