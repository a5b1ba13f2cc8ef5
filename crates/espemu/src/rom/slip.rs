//! SLIP framing as the ESP8266 ROM loader uses it: frames between `0xC0` bytes, `0xC0`
//! inside a frame sent as `0xDB 0xDC` and `0xDB` as `0xDB 0xDD`.

/// Frame delimiter.
pub const END: u8 = 0xC0;
/// Escape byte.
pub const ESC: u8 = 0xDB;
/// Escaped `END`.
pub const ESC_END: u8 = 0xDC;
/// Escaped `ESC`.
pub const ESC_ESC: u8 = 0xDD;

/// Wraps `payload` in one SLIP frame.
pub fn encode(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.push(END);
    for &b in payload {
        match b {
            END => out.extend_from_slice(&[ESC, ESC_END]),
            ESC => out.extend_from_slice(&[ESC, ESC_ESC]),
            _ => out.push(b),
        }
    }
    out.push(END);
    out
}

/// Incremental SLIP decoder: bytes outside frames are skipped, frames with a bad escape
/// or longer than the limit are dropped, empty frames are ignored.
#[derive(Debug, Clone)]
pub struct Decoder {
    buf: Vec<u8>,
    in_frame: bool,
    escape: bool,
    broken: bool,
    limit: usize,
}

impl Decoder {
    /// A decoder that drops frames longer than `limit` bytes (decoded).
    pub fn new(limit: usize) -> Decoder {
        Decoder {
            buf: Vec::new(),
            in_frame: false,
            escape: false,
            broken: false,
            limit,
        }
    }

    /// Feeds one byte; returns a complete frame when this byte ended one.
    pub fn push(&mut self, b: u8) -> Option<Vec<u8>> {
        if b == END {
            let done = self.in_frame && !self.broken && !self.escape && !self.buf.is_empty();
            let frame = std::mem::take(&mut self.buf);
            // A delimiter both ends a frame and may start the next one.
            self.in_frame = true;
            self.escape = false;
            self.broken = false;
            return done.then_some(frame);
        }
        if !self.in_frame || self.broken {
            return None;
        }
        let byte = if self.escape {
            self.escape = false;
            match b {
                ESC_END => END,
                ESC_ESC => ESC,
                _ => {
                    self.broken = true;
                    self.buf.clear();
                    return None;
                }
            }
        } else if b == ESC {
            self.escape = true;
            return None;
        } else {
            b
        };
        if self.buf.len() >= self.limit {
            self.broken = true;
            self.buf.clear();
            return None;
        }
        self.buf.push(byte);
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_escapes() {
        let payload = [1, END, 2, ESC, 3, ESC_END];
        let wire = encode(&payload);
        assert_eq!(
            wire,
            [END, 1, ESC, ESC_END, 2, ESC, ESC_ESC, 3, ESC_END, END]
        );
        let mut d = Decoder::new(100);
        let frames: Vec<_> = wire.iter().filter_map(|&b| d.push(b)).collect();
        assert_eq!(frames, vec![payload.to_vec()]);
    }

    #[test]
    fn garbage_outside_and_bad_escapes_are_dropped() {
        let mut d = Decoder::new(100);
        let mut wire = b"noise".to_vec();
        wire.extend_from_slice(&[END, 1, ESC, 0x42, 2, END]);
        wire.extend(encode(&[9, 9]));
        let frames: Vec<_> = wire.iter().filter_map(|&b| d.push(b)).collect();
        assert_eq!(frames, vec![vec![9, 9]]);
    }

    #[test]
    fn oversized_frames_are_dropped() {
        let mut d = Decoder::new(4);
        let mut wire = encode(&[1, 2, 3, 4, 5]);
        wire.extend(encode(&[1, 2, 3, 4]));
        let frames: Vec<_> = wire.iter().filter_map(|&b| d.push(b)).collect();
        assert_eq!(frames, vec![vec![1, 2, 3, 4]]);
    }
}
