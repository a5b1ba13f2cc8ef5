//! A pin-level UART peer in simulated cycles: [`Encoder`] turns bytes into edges on the
//! firmware's RX pin, [`Decoder`] turns the firmware's TX-pin edges back into bytes by
//! sampling at bit centres, and reports framing errors.
//!
//! Both are pure (no simavr) so their timing maths is unit-tested on its own; `board.rs`
//! applies the edges to the core and feeds it the edges simavr reports.

use std::collections::VecDeque;

/// A line rate that the frame on the wire keeps: a change applies from the next frame on,
/// as when a UART's rate register is rewritten mid-frame.
#[derive(Debug)]
struct Rate {
    baud: u32,
    next: Option<u32>,
}

impl Rate {
    fn new(baud: u32) -> Rate {
        Rate { baud, next: None }
    }

    fn set(&mut self, baud: u32, in_frame: bool) {
        if in_frame {
            self.next = Some(baud);
        } else {
            self.baud = baud;
            self.next = None;
        }
    }

    fn frame_done(&mut self) {
        if let Some(baud) = self.next.take() {
            self.baud = baud;
        }
    }
}

/// 8N1 bit edges for a queue of bytes, with cycle times rounded from the exact baud.
#[derive(Debug)]
pub struct Encoder {
    cycles_per_second: u64,
    rate: Rate,
    queue: VecDeque<u8>,
    /// Current frame: start cycle and the 10 line levels (start, 8 data, stop).
    frame: Option<(u64, [bool; 10])>,
    /// Next bit index of the current frame to put on the line.
    next_bit: usize,
    /// Earliest cycle the next frame may start (end of the previous stop bit).
    free_at: u64,
    /// Frames started, when someone asked for them ([`Encoder::log_frames`]): (start
    /// cycle, byte, baud).
    started: Option<Vec<(u64, u8, u32)>>,
}

impl Encoder {
    /// An idle encoder at `baud` for a core clocked at `cycles_per_second`.
    pub fn new(cycles_per_second: u64, baud: u32) -> Encoder {
        Encoder {
            cycles_per_second,
            rate: Rate::new(baud),
            queue: VecDeque::new(),
            frame: None,
            next_bit: 0,
            free_at: 0,
            started: None,
        }
    }

    /// From now on, keeps a log of the frames started, for [`Encoder::take_started`].
    pub fn log_frames(&mut self) {
        self.started.get_or_insert_with(Vec::new);
    }

    /// Frames started since the last call, oldest first: (start cycle, byte, baud).
    pub fn take_started(&mut self) -> Vec<(u64, u8, u32)> {
        self.started
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Sends the frames that have not started yet at `baud` (a frame in flight keeps its rate).
    pub fn set_baud(&mut self, baud: u32) {
        self.rate.set(baud, self.frame.is_some());
    }

    /// Queues a byte to send as soon as the line is free.
    pub fn send(&mut self, byte: u8) {
        self.queue.push_back(byte);
    }

    /// Bytes queued or in flight.
    pub fn busy(&self) -> bool {
        self.frame.is_some() || !self.queue.is_empty()
    }

    /// Bytes waiting (not yet started).
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Drops everything queued (e.g. the peer was reset).
    pub fn clear(&mut self) {
        self.queue.clear();
    }

    fn bit_cycle(&self, start: u64, k: usize) -> u64 {
        // cumulative rounding keeps the frame free of drift
        let baud = u64::from(self.rate.baud);
        start + (k as u64 * self.cycles_per_second + baud / 2) / baud
    }

    /// Cycle of the next line change, if any, given the current cycle `now`.
    pub fn next_edge(&mut self, now: u64) -> Option<u64> {
        if self.frame.is_none() {
            let byte = *self.queue.front()?;
            let start = now.max(self.free_at);
            let mut levels = [true; 10];
            levels[0] = false;
            for (i, level) in levels[1..9].iter_mut().enumerate() {
                *level = byte >> i & 1 == 1;
            }
            self.frame = Some((start, levels));
            self.next_bit = 0;
            if let Some(log) = &mut self.started {
                log.push((start, byte, self.rate.baud));
            }
        }
        let (start, _) = self.frame?;
        Some(self.bit_cycle(start, self.next_bit))
    }

    /// Returns the level to apply if a bit boundary is due at `now`, advancing the frame.
    pub fn poll(&mut self, now: u64) -> Option<bool> {
        let due = self.next_edge(now)?;
        if now < due {
            return None;
        }
        let (start, levels) = self.frame?;
        let level = levels[self.next_bit];
        self.next_bit += 1;
        if self.next_bit == 10 {
            self.free_at = self.bit_cycle(start, 10);
            self.frame = None;
            self.queue.pop_front();
            self.rate.frame_done();
        }
        Some(level)
    }
}

/// What the decoder recognised on the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// A complete byte; `cycle` is the end of its stop bit.
    Byte {
        /// Cycle at the end of the frame.
        cycle: u64,
        /// The data bits.
        byte: u8,
    },
    /// The stop bit was low.
    FramingError {
        /// Cycle at the stop-bit sample.
        cycle: u64,
        /// Data bits as sampled.
        byte: u8,
    },
}

/// Samples a line at bit centres from its timestamped edges.
#[derive(Debug)]
pub struct Decoder {
    cycles_per_second: u64,
    rate: Rate,
    /// Edges not yet consumed, oldest first: (cycle, level).
    edges: VecDeque<(u64, bool)>,
    /// Level before the first queued edge.
    level: bool,
    /// The line has been seen high: before the firmware configures its TX pin it floats
    /// low, and that is not a start bit.
    armed: bool,
    /// Start-bit cycle of the frame being received.
    start: Option<u64>,
    /// Largest deviation of an edge from the ideal bit grid, in cycles.
    pub max_edge_deviation: u64,
    /// Framing errors so far.
    pub framing_errors: u64,
    /// Low pulses on an idle line too short for a receiver to see, ignored so far.
    pub glitches: u64,
    recent: VecDeque<(u64, bool)>,
}

impl Decoder {
    /// A decoder for a line currently at `level`.
    pub fn new(cycles_per_second: u64, baud: u32, level: bool) -> Decoder {
        Decoder {
            cycles_per_second,
            rate: Rate::new(baud),
            edges: VecDeque::new(),
            level,
            armed: level,
            start: None,
            max_edge_deviation: 0,
            framing_errors: 0,
            glitches: 0,
            recent: VecDeque::new(),
        }
    }

    /// Samples the frames that have not started yet at `baud` (a frame being received
    /// keeps its rate).
    pub fn set_baud(&mut self, baud: u32) {
        self.rate.set(baud, self.start.is_some());
    }

    /// Bit period in cycles (fractional).
    fn bit(&self) -> f64 {
        self.cycles_per_second as f64 / self.rate.baud as f64
    }

    /// Records a level change.
    pub fn edge(&mut self, cycle: u64, level: bool) {
        self.edges.push_back((cycle, level));
        if self.recent.len() == 48 {
            self.recent.pop_front();
        }
        self.recent.push_back((cycle, level));
    }

    /// The last edges seen, as (cycle, level), for diagnostics.
    pub fn recent_edges(&self) -> impl Iterator<Item = &(u64, bool)> {
        self.recent.iter()
    }

    /// Level of the line at `cycle` from the recorded edges (consumes edges before it).
    fn level_at(&mut self, cycle: u64) -> bool {
        while let Some(&(at, level)) = self.edges.front() {
            if at > cycle {
                break;
            }
            if let Some(start) = self.start {
                // distance of this edge from the nearest bit boundary
                let pos = (at - start) as f64 / self.bit();
                let dev = ((pos - pos.round()).abs() * self.bit()) as u64;
                self.max_edge_deviation = self.max_edge_deviation.max(dev);
            }
            self.level = level;
            self.edges.pop_front();
        }
        self.level
    }

    /// When the frame being received can be decoded (its stop-bit sample), if one is.
    pub fn frame_done_at(&self) -> Option<u64> {
        self.start
            .map(|start| start + (9.5 * self.bit()) as u64 + 1)
    }

    /// Decodes every frame that is complete by cycle `now`.
    pub fn poll(&mut self, now: u64, out: &mut Vec<Decoded>) {
        loop {
            if self.start.is_none() {
                // find the next falling edge from an armed (idle-high) line
                let mut found = None;
                while let Some(&(at, level)) = self.edges.front() {
                    self.edges.pop_front();
                    if level && !self.level {
                        self.armed = true;
                    }
                    if !level && self.level && self.armed {
                        found = Some(at);
                        self.level = level;
                        break;
                    }
                    self.level = level;
                }
                match found {
                    Some(at) => self.start = Some(at),
                    None => return,
                }
            }
            let start = self.start.unwrap_or(0);
            let bit = self.bit();
            let stop_sample = start + (9.5 * bit) as u64;
            if now < stop_sample {
                return;
            }
            // A receiver looks at the line on a clock of its own (16 samples per bit in the
            // usual UART): a low pulse shorter than one of its ticks is not seen, so it was
            // no start bit. Such pulses come from the simulator undoing simavr's output
            // re-application (sim/README "simavr 1.6 Timer1 facts", item 3), not from a pin.
            if let Some(&(end, true)) = self.edges.front()
                && end < start + (bit / 16.0) as u64
            {
                self.edges.pop_front();
                self.level = true;
                self.start = None;
                self.rate.frame_done();
                self.glitches += 1;
                continue;
            }
            let mut byte = 0u8;
            for i in 0..8 {
                let at = start + ((1.5 + i as f64) * bit) as u64;
                if self.level_at(at) {
                    byte |= 1 << i;
                }
            }
            let stop = self.level_at(stop_sample);
            self.start = None;
            self.rate.frame_done();
            if stop {
                out.push(Decoded::Byte {
                    cycle: start + (10.0 * bit) as u64,
                    byte,
                });
            } else {
                self.framing_errors += 1;
                out.push(Decoded::FramingError {
                    cycle: stop_sample,
                    byte,
                });
                // a low stop bit: wait for the line to go high again before the next start
                self.armed = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: u64 = 16_000_000;

    fn loop_bytes(baud: u32, bytes: &[u8]) -> Vec<Decoded> {
        loop_bytes_at(baud, baud, bytes)
    }

    /// Sends `bytes` at `tx_baud` into a decoder sampling at `rx_baud`.
    fn loop_bytes_at(tx_baud: u32, rx_baud: u32, bytes: &[u8]) -> Vec<Decoded> {
        let mut enc = Encoder::new(F, tx_baud);
        let mut dec = Decoder::new(F, rx_baud, true);
        for &b in bytes {
            enc.send(b);
        }
        let mut now = 100;
        let mut out = Vec::new();
        while let Some(at) = enc.next_edge(now) {
            now = at;
            let level = enc.poll(now).unwrap();
            dec.edge(now, level);
        }
        dec.poll(now + F, &mut out);
        out
    }

    #[test]
    fn encoder_and_decoder_agree_at_common_bauds() {
        for baud in [9600, 19200, 57600, 115200] {
            let data: Vec<u8> = (0..=255).collect();
            let out = loop_bytes(baud, &data);
            let bytes: Vec<u8> = out
                .iter()
                .map(|d| match d {
                    Decoded::Byte { byte, .. } => *byte,
                    Decoded::FramingError { .. } => panic!("framing error at {baud}"),
                })
                .collect();
            assert_eq!(bytes, data, "baud {baud}");
        }
    }

    #[test]
    fn a_rate_change_applies_from_the_next_frame_on() {
        let mut enc = Encoder::new(F, 57600);
        let mut dec = Decoder::new(F, 57600, true);
        enc.send(0x41);
        enc.send(0x54);
        let mut now = 100;
        let mut out = Vec::new();
        let mut switched = false;
        while let Some(at) = enc.next_edge(now) {
            now = at;
            let level = enc.poll(now).unwrap();
            dec.edge(now, level);
            dec.poll(now, &mut out);
            if !switched {
                // mid-way through the first frame, both ends move to 115200
                enc.set_baud(115_200);
                dec.set_baud(115_200);
                switched = true;
            }
            dec.poll(now, &mut out);
        }
        dec.poll(now + F, &mut out);
        let bytes: Vec<u8> = out
            .iter()
            .map(|d| match d {
                Decoded::Byte { byte, .. } => *byte,
                Decoded::FramingError { .. } => panic!("framing error: {out:?}"),
            })
            .collect();
        assert_eq!(bytes, b"AT");
        assert_eq!((enc.rate.baud, dec.rate.baud), (115_200, 115_200));
    }

    #[test]
    fn the_frame_log_has_each_frames_start_byte_and_rate() {
        let mut enc = Encoder::new(F, 57600);
        enc.log_frames();
        enc.send(0x41);
        enc.send(0x54);
        let mut now = 100;
        let mut switched = false;
        while let Some(at) = enc.next_edge(now) {
            now = at;
            enc.poll(now);
            if !switched {
                enc.set_baud(115_200);
                switched = true;
            }
        }
        // the second frame starts when the first one's ten bits (rounded) have passed
        let frame = (10 * F + 57600 / 2) / 57600;
        let log = enc.take_started();
        assert_eq!(log, [(100, 0x41, 57600), (100 + frame, 0x54, 115_200)]);
        assert!(enc.take_started().is_empty());
    }

    #[test]
    fn a_receiver_at_the_wrong_rate_sees_garbage() {
        let out = loop_bytes_at(57600, 115_200, b"AT\r\n");
        let bytes: Vec<u8> = out
            .iter()
            .filter_map(|d| match d {
                Decoded::Byte { byte, .. } => Some(*byte),
                Decoded::FramingError { .. } => None,
            })
            .collect();
        assert_ne!(bytes, b"AT\r\n");
    }

    #[test]
    fn frame_takes_ten_bit_times() {
        let mut enc = Encoder::new(F, 9600);
        enc.send(0x55);
        let first = enc.next_edge(0).unwrap();
        let mut last = first;
        while let Some(at) = enc.next_edge(last) {
            enc.poll(at);
            last = at;
        }
        // the stop bit starts at bit 9
        assert_eq!(last - first, (9 * F + 4800) / 9600);
    }

    #[test]
    fn low_stop_bit_is_a_framing_error() {
        let bit = F / 9600;
        let mut dec = Decoder::new(F, 9600, true);
        dec.edge(1000, false); // start bit, then the line stays low
        let mut out = Vec::new();
        dec.poll(1000 + 12 * bit, &mut out);
        assert!(matches!(out[0], Decoded::FramingError { byte: 0, .. }));
        assert_eq!(dec.framing_errors, 1);
    }

    #[test]
    fn a_pulse_too_short_to_sample_is_no_start_bit() {
        let bit = F / 57600;
        let mut dec = Decoder::new(F, 57600, true);
        let mut out = Vec::new();
        // zero-width and 10-cycle low pulses on the idle line, then 'A' (0x41) a bit later;
        // the poll between them sees only the first half of the second pulse
        dec.edge(1000, false);
        dec.edge(1000, true);
        dec.edge(1500, false);
        dec.poll(1501, &mut out);
        dec.edge(1510, true);
        let start = 3000;
        let frame = [
            (0, false),
            (1, true),
            (2, false),
            (7, true),
            (8, false),
            (9, true),
        ];
        for (n, level) in frame {
            dec.edge(start + n * bit, level);
        }
        dec.poll(start + 12 * bit, &mut out);
        assert!(
            matches!(out[..], [Decoded::Byte { byte: 0x41, .. }]),
            "{out:?}"
        );
        assert_eq!((dec.glitches, dec.framing_errors), (2, 0));
    }

    #[test]
    fn floating_low_line_is_not_a_start_bit() {
        let mut dec = Decoder::new(F, 9600, false);
        let mut out = Vec::new();
        dec.poll(F, &mut out);
        assert!(out.is_empty());
    }
}
