//! Checks the firmware's soft-UART receiver against what the ESP put on the wire: every
//! frame the [`crate::softuart::Encoder`] sends at the receiver's rate must come out of the
//! firmware's receive ring once, with the same value, at the end of that frame.
//!
//! Pure (no simavr): `board.rs` reports each frame it starts and each byte it sees the
//! firmware push, both with their cycle. A push is matched to a frame by time alone: the
//! receiver pushes at its stop-bit sample, or (when that sample is late and the next frame
//! has begun) from the next start bit's capture, so a frame starting at `s` is pushed within
//! `s + 8.5 bits ..= s + 11 bits`. The board looks at the ring by then ([`RxCheck::next_look`])
//! and the window allows half a bit more for the cycles a run slice overshoots. Windows of
//! frames ten bits apart do not overlap.

use std::collections::VecDeque;

use object::{Object, ObjectSymbol};

/// The firmware's soft-UART receive ring in data space: `len` bytes of data from `addr`,
/// then the producer's (the receive handler's) index. The HAL's `Ring` is `repr(C)` for this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxRing {
    /// Data-space address of the first data byte.
    pub addr: u16,
    /// Number of data bytes (a power of two).
    pub len: u8,
}

impl RxRing {
    /// Data-space address of the producer index.
    pub fn head_addr(&self) -> u16 {
        self.addr + u16::from(self.len)
    }
}

/// Finds the soft serial's receive ring in a firmware ELF: the static `RX_RING` of the
/// HAL's `soft_serial` module, whose symbol reads `...11soft_serial7RX_RING...` in both
/// Rust manglings. `None` for other firmware (a USART build, a HEX file, no symbols).
pub fn find_rx_ring(elf: &[u8]) -> Option<RxRing> {
    /// AVR ELF files put data space at this offset.
    const DATA_SPACE: u64 = 0x80_0000;
    let file = object::File::parse(elf).ok()?;
    let sym = file
        .symbols()
        .find(|s| s.name().is_ok_and(|n| n.contains("11soft_serial7RX_RING")))?;
    // data bytes, then the head and tail indexes
    let len = u8::try_from(sym.size().checked_sub(2)?).ok()?;
    let addr = u16::try_from(sym.address().checked_sub(DATA_SPACE)?).ok()?;
    (len.is_power_of_two()).then_some(RxRing { addr, len })
}

/// Outcome counters, from the firmware receiver's point of view.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RxCounts {
    /// Frames at the receiver's rate whose window has closed.
    pub frames: u64,
    /// Frames pushed with another value than sent (a data bit sampled wrong).
    pub misread: u64,
    /// Frames never pushed (ring full, a low stop bit, a start bit missed).
    pub lost: u64,
    /// Pushes outside every frame's window, or a second push for one frame.
    pub spurious: u64,
}

#[derive(Debug)]
struct Frame {
    start: u64,
    byte: u8,
    /// Sent at the rate the receiver samples at; other frames (an ESP's boot noise at
    /// 74880 baud, a rate being negotiated) are expected to come out as junk.
    checked: bool,
    pushes: u8,
    matched: bool,
}

/// The receiver check of one link; see the module docs.
#[derive(Debug)]
pub struct RxCheck {
    cycles_per_second: u64,
    receiver_baud: u32,
    /// The cycle the check started at: a frame already on the wire then was never logged.
    from: u64,
    frames: VecDeque<Frame>,
    /// Running totals.
    pub counts: RxCounts,
    /// The last mismatches (cycle of the push, sent, pushed; `None` when nothing was pushed
    /// or nothing was sent), for a trace.
    pub last_faults: VecDeque<(u64, Option<u8>, Option<u8>)>,
}

const FAULTS_KEPT: usize = 16;
/// A frame's push window, in tenths of a bit from its start (see the module docs).
const WINDOW_FROM: u64 = 85;
const LOOK_AT: u64 = 110;
const WINDOW_TO: u64 = 115;

impl RxCheck {
    /// A check, from cycle `from` on, of a receiver sampling at `receiver_baud` on a core at
    /// `cycles_per_second`.
    pub fn new(cycles_per_second: u64, receiver_baud: u32, from: u64) -> RxCheck {
        RxCheck {
            cycles_per_second,
            receiver_baud,
            from,
            frames: VecDeque::new(),
            counts: RxCounts::default(),
            last_faults: VecDeque::new(),
        }
    }

    /// Cycles of `tenths_of_bits` / 10 bits at the receiver's rate (rounded down).
    fn bits(&self, tenths_of_bits: u64) -> u64 {
        tenths_of_bits * self.cycles_per_second / (10 * u64::from(self.receiver_baud))
    }

    /// A frame started on the wire at cycle `start`, sent at `baud`.
    pub fn sent(&mut self, start: u64, byte: u8, baud: u32) {
        self.frames.push_back(Frame {
            start,
            byte,
            checked: baud == self.receiver_baud,
            pushes: 0,
            matched: false,
        });
    }

    /// The firmware pushed `byte` into its receive ring at (or shortly before) `cycle`.
    pub fn pushed(&mut self, cycle: u64, byte: u8) {
        let (earliest, latest) = (self.bits(WINDOW_FROM), self.bits(WINDOW_TO));
        let frame = self
            .frames
            .iter_mut()
            .rev()
            .find(|f| f.start + earliest <= cycle && cycle <= f.start + latest);
        match frame {
            Some(f) if !f.checked => {}
            Some(f) => {
                f.pushes += 1;
                if f.pushes > 1 {
                    self.counts.spurious += 1;
                    Self::keep(&mut self.last_faults, (cycle, None, Some(byte)));
                } else if f.byte == byte {
                    f.matched = true;
                } else {
                    let sent = f.byte;
                    Self::keep(&mut self.last_faults, (cycle, Some(sent), Some(byte)));
                }
            }
            None => {
                // Junk from an unchecked frame can be pushed a little outside its window.
                let near_unchecked = self
                    .frames
                    .iter()
                    .any(|f| !f.checked && f.start <= cycle && cycle <= f.start + latest * 2);
                // The push of a frame that started before the check, which was not logged.
                let before_check = cycle <= self.from + latest;
                if !near_unchecked && !before_check {
                    self.counts.spurious += 1;
                    Self::keep(&mut self.last_faults, (cycle, None, Some(byte)));
                }
            }
        }
    }

    /// When the board must look at the ring next (after `now`), so that each frame's push
    /// is seen inside its window.
    pub fn next_look(&self, now: u64) -> Option<u64> {
        let look = self.bits(LOOK_AT);
        self.frames
            .iter()
            .map(|f| f.start + look)
            .find(|&at| at > now)
    }

    /// Closes the windows that ended before cycle `now` and counts their frames.
    pub fn settle(&mut self, now: u64) {
        let latest = self.bits(WINDOW_TO);
        // Unchecked frames stay a while longer: late junk pushes are matched against them.
        while let Some(f) = self.frames.front() {
            let keep_until = f.start + if f.checked { latest } else { latest * 2 };
            if keep_until >= now {
                break;
            }
            let f = self.frames.pop_front().expect("front exists");
            if !f.checked {
                continue;
            }
            self.counts.frames += 1;
            match f.pushes {
                0 => {
                    self.counts.lost += 1;
                    Self::keep(
                        &mut self.last_faults,
                        (f.start + latest, Some(f.byte), None),
                    );
                }
                _ if !f.matched => self.counts.misread += 1,
                _ => {}
            }
        }
    }

    fn keep(
        faults: &mut VecDeque<(u64, Option<u8>, Option<u8>)>,
        fault: (u64, Option<u8>, Option<u8>),
    ) {
        if faults.len() == FAULTS_KEPT {
            faults.pop_front();
        }
        faults.push_back(fault);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: u64 = 16_000_000;
    const BAUD: u32 = 57_600;
    const BIT: u64 = F / BAUD as u64; // 277

    fn check() -> RxCheck {
        RxCheck::new(F, BAUD, 0)
    }

    /// Counts of `frames` frames, all received correctly.
    fn all_correct(frames: u64) -> RxCounts {
        RxCounts {
            frames,
            ..RxCounts::default()
        }
    }

    #[test]
    fn a_byte_pushed_at_its_stop_bit_is_correct() {
        let mut c = check();
        c.sent(1000, b'A', BAUD);
        c.pushed(1000 + 9 * BIT + BIT / 2, b'A');
        c.settle(1000 + 20 * BIT);
        assert_eq!(c.counts, all_correct(1));
    }

    #[test]
    fn a_push_at_the_next_start_bit_still_belongs_to_its_frame() {
        let mut c = check();
        c.sent(1000, b'A', BAUD);
        c.sent(1000 + 10 * BIT, b'B', BAUD);
        c.pushed(1000 + 10 * BIT + 40, b'A');
        c.pushed(1000 + 19 * BIT + BIT / 2, b'B');
        c.settle(1000 + 40 * BIT);
        assert_eq!(c.counts, all_correct(2));
    }

    #[test]
    fn wrong_missing_and_extra_bytes_are_counted() {
        let mut c = check();
        c.sent(0, b'A', BAUD);
        c.sent(10 * BIT, b'B', BAUD);
        c.sent(20 * BIT, b'C', BAUD);
        c.pushed(9 * BIT + BIT / 2, b'a'); // misread
        // B never pushed (lost); C pushed twice
        c.pushed(29 * BIT + BIT / 2, b'C');
        c.pushed(30 * BIT, b'C');
        c.pushed(100 * BIT, b'?'); // no frame at all
        c.settle(200 * BIT);
        assert_eq!(
            c.counts,
            RxCounts {
                frames: 3,
                misread: 1,
                lost: 1,
                spurious: 2
            }
        );
        assert_eq!(
            c.last_faults[0],
            (9 * BIT + BIT / 2, Some(b'A'), Some(b'a'))
        );
        assert_eq!(c.last_faults.len(), 4);
    }

    #[test]
    fn frames_at_another_rate_are_not_judged() {
        let mut c = check();
        // boot noise at 74880: whatever the receiver makes of it is not an error
        c.sent(0, 0x55, 74_880);
        c.pushed(7 * BIT, 0x13);
        c.pushed(12 * BIT, 0x99);
        c.settle(100 * BIT);
        assert_eq!(c.counts, RxCounts::default());
    }

    #[test]
    fn a_frame_on_the_wire_when_the_check_starts_is_not_judged() {
        // The bench starts checking when the load starts, which may fall inside a frame.
        let start = 100 * BIT;
        let mut c = RxCheck::new(F, BAUD, start);
        c.pushed(start + 5 * BIT, b'K');
        c.sent(start + 6 * BIT, b'A', BAUD);
        c.pushed(start + 15 * BIT + BIT / 2, b'A');
        c.pushed(start + 40 * BIT, b'?'); // long after: made up
        c.settle(start + 100 * BIT);
        assert_eq!(
            c.counts,
            RxCounts {
                frames: 1,
                spurious: 1,
                ..RxCounts::default()
            }
        );
    }

    #[test]
    fn a_window_stays_open_until_its_latest_push() {
        let mut c = check();
        c.sent(0, b'A', BAUD);
        c.settle(10 * BIT);
        assert_eq!(c.counts.frames, 0);
        c.pushed(10 * BIT + 100, b'A');
        c.settle(12 * BIT);
        assert_eq!(c.counts, all_correct(1));
    }
}
