//! The simulated Nano on its bench: the core, the ESP link (USART0 or a pin-level soft
//! UART), the USB console (USART0 on a pty or captured lines) and the clock that moves
//! them together in simulated time.
//!
//! The ESP8266 side is anything implementing [`EspPort`]; `Board` only moves bytes and
//! never decides what they mean.

use std::collections::VecDeque;

use crate::avr::{Avr, CoreState, F_CPU, MCUSR_EXTRF, Pin, cycles_to_us, us_to_cycles};
use crate::error::SimError;
use crate::pty::Pty;
use crate::rxcheck::{RxCheck, RxCounts, RxRing};
use crate::softuart::{Decoded, Decoder, Encoder};

/// The byte stream at the far end of the Nano's ESP link.
pub trait EspPort {
    /// A byte from the Nano reached the ESP's RX at `now_us` (end of its stop bit).
    fn uart_rx(&mut self, byte: u8, now_us: u64);
    /// The next byte the ESP puts on the wire at `now_us`, if one is due.
    fn uart_tx(&mut self, now_us: u64) -> Option<u8>;
    /// When the port next has something to do without input.
    fn next_event_us(&self) -> Option<u64>;
    /// The far end's UART rate when it is modelled (the emulator), so a Nano USART at
    /// another rate exchanges garbage with it as on hardware; `None`: not modelled.
    fn baud(&self) -> Option<u32> {
        None
    }
}

/// No ESP at all: the Nano's link pins float at idle.
pub struct NoEsp;

impl EspPort for NoEsp {
    fn uart_rx(&mut self, _byte: u8, _now_us: u64) {}
    fn uart_tx(&mut self, _now_us: u64) -> Option<u8> {
        None
    }
    fn next_event_us(&self) -> Option<u64> {
        None
    }
}

/// Where the firmware's ESP link is wired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// Hardware USART0 (D0/D1); then there is no USB console.
    Usart,
    /// Software UART: `rx` is the firmware's RX pin (the peer drives it), `tx` the
    /// firmware's TX pin (the peer samples it).
    Soft {
        /// Firmware RX (default D8 = PB0 = ICP1).
        rx: Pin,
        /// Firmware TX (default D9 = PB1 = OC1A).
        tx: Pin,
    },
}

/// The ESP link: wiring and baud.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkConfig {
    /// Wiring.
    pub kind: LinkKind,
    /// Bits per second on the wire (for `Usart`, what the ESP sends at).
    pub baud: u32,
}

/// What the board does with USART0 when it is the console.
pub enum ConsoleMode {
    /// Nothing listens (USART0 output discarded).
    Discard,
    /// Complete lines are collected in [`Board::take_console_lines`].
    Lines,
    /// A pseudo-terminal; opening it resets the core.
    Pty {
        /// The port.
        pty: Pty,
        /// Garble bytes when the client's baud and the AVR's differ by ≥ 4.5 %.
        strict_baud: bool,
    },
}

/// Counters of the ESP link.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LinkStats {
    /// Bytes the Nano sent to the ESP.
    pub to_esp: u64,
    /// Bytes the ESP sent to the Nano (that reached its receiver).
    pub from_esp: u64,
    /// ESP bytes lost because the firmware had not read the USART (receiver FIFO full).
    pub overruns: u64,
    /// Soft-UART frames from the firmware whose stop bit was low.
    pub framing_errors: u64,
    /// Sub-sample low pulses on the firmware's soft-UART TX line, ignored by the receiver
    /// (simulator artefacts, see `softuart::Decoder`).
    pub tx_glitches: u64,
    /// Largest deviation of a firmware TX edge from the ideal bit grid, in cycles.
    pub max_tx_edge_deviation: u64,
    /// Soft link with [`Board::check_receiver`]: what the firmware's receiver made of the
    /// ESP's frames at its rate (all zero otherwise).
    pub rx: RxCounts,
}

/// Direction of a transcript chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// Nano → ESP.
    ToEsp,
    /// ESP → Nano.
    FromEsp,
}

const TRANSCRIPT_KEEP: usize = 8192;
/// How often the console pty is polled, in cycles (1 ms simulated).
const CONSOLE_POLL_CYCLES: u64 = F_CPU / 1000;
/// Longest stretch run without looking at the link, in cycles (1 ms); link edges and ESP
/// events shorten it.
const SLICE_CYCLES: u64 = F_CPU / 1000;
/// Unread USART0 bytes (2-byte FIFO + shift register) beyond which an ESP byte is lost.
const USART_RX_DEPTH: usize = 3;
/// Relative baud difference at which a real UART stops decoding (strict mode).
const STRICT_BAUD_TOLERANCE: f64 = 0.045;

// One per board, never moved around: boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
enum Link {
    Usart {
        /// (cycle the byte is complete on the wire, byte), Nano → ESP
        outgoing: VecDeque<(u64, u8)>,
    },
    Soft {
        rx: Pin,
        tx: Pin,
        baud: u32,
        encoder: Encoder,
        decoder: Decoder,
        /// The firmware's receiver, checked against the encoder ([`Board::check_receiver`]).
        receiver: Option<Receiver>,
    },
}

/// Where the firmware's soft-UART receive ring is, and how far the check has read it.
struct Receiver {
    ring: RxRing,
    /// Ring index of the next byte the check has not seen.
    seen: u8,
    /// Core resets when `seen` was last synchronised (a reset empties the ring).
    resets: u32,
    check: RxCheck,
}

/// A pin printed by `--watch-pin`.
struct Watched {
    /// Id given to [`Avr::watch_pin`] (0 is the soft link's TX).
    id: u8,
    /// Arduino name, e.g. `D13`.
    name: String,
    /// Last level reported.
    level: bool,
}

/// Watch ids available to [`Board::watch_pin`]: the shim records up to 4 pins, and id 0
/// belongs to the soft link's TX.
const MAX_WATCHED: usize = 4;

/// One simulated Nano wired to an ESP port and a console.
pub struct Board {
    /// The core.
    pub avr: Avr,
    link: Link,
    console: ConsoleMode,
    console_line: Vec<u8>,
    console_lines: VecDeque<String>,
    console_out: Vec<(u64, u8)>,
    next_console_poll: u64,
    /// Client bytes that came in the same poll as the open, for the restarted program.
    sent_with_open: Vec<u8>,
    reset_mcusr: u8,
    stats: LinkStats,
    transcript: VecDeque<(Dir, u8)>,
    /// Resets caused by a client opening the console port.
    pub pty_resets: u32,
    /// `NANOESP_SIM_TRACE` is set: report link errors on stderr as they happen.
    trace: bool,
    watched: Vec<Watched>,
    /// Level changes of watched pins not yet taken, oldest first.
    pin_changes: Vec<(String, bool)>,
}

impl Board {
    /// Wires a core (already loaded with flash) to the link and console.
    pub fn new(mut avr: Avr, link: LinkConfig, console: ConsoleMode) -> Result<Board, SimError> {
        let link = match link.kind {
            LinkKind::Usart => {
                // the ESP does not wait for the Nano: no flow control on this path
                Link::Usart {
                    outgoing: VecDeque::new(),
                }
            }
            LinkKind::Soft { rx, tx } => {
                if rx == tx {
                    return Err(SimError::Usage(
                        "soft link RX and TX must be different pins".into(),
                    ));
                }
                avr.watch_pin(tx, 0)?;
                // the ESP's TX idles high
                avr.drive_pin(rx, true);
                Link::Soft {
                    rx,
                    tx,
                    baud: link.baud,
                    encoder: Encoder::new(F_CPU, link.baud),
                    decoder: Decoder::new(F_CPU, link.baud, avr.pin_level(tx)),
                    receiver: None,
                }
            }
        };
        let trace = std::env::var_os("NANOESP_SIM_TRACE").is_some();
        if trace {
            avr.trace_enable();
        }
        if matches!(link, Link::Usart { .. }) && !matches!(console, ConsoleMode::Discard) {
            return Err(SimError::Usage(
                "the console needs USART0, which the ESP link uses (--link usart)".into(),
            ));
        }
        Ok(Board {
            avr,
            link,
            console,
            console_line: Vec::new(),
            console_lines: VecDeque::new(),
            console_out: Vec::new(),
            next_console_poll: 0,
            sent_with_open: Vec::new(),
            reset_mcusr: MCUSR_EXTRF,
            stats: LinkStats::default(),
            transcript: VecDeque::new(),
            pty_resets: 0,
            trace,
            watched: Vec::new(),
            pin_changes: Vec::new(),
        })
    }

    /// Reports the level of `pin` (called `name`) now and at every change, through
    /// [`Board::take_pin_changes`].
    pub fn watch_pin(&mut self, name: &str, pin: Pin) -> Result<(), SimError> {
        let taken = match self.link {
            Link::Soft { tx, .. } => {
                if tx == pin {
                    return Err(SimError::Usage(format!(
                        "--watch-pin {name}: the soft link's TX pin is watched by the link already"
                    )));
                }
                1
            }
            Link::Usart { .. } => 0,
        };
        if taken + self.watched.len() >= MAX_WATCHED {
            return Err(SimError::Usage(format!(
                "--watch-pin {name}: at most {} pins with this link",
                MAX_WATCHED - taken
            )));
        }
        let id = (1 + self.watched.len()) as u8;
        self.avr.watch_pin(pin, id)?;
        let level = self.avr.pin_level(pin);
        self.watched.push(Watched {
            id,
            name: name.to_string(),
            level,
        });
        self.pin_changes.push((name.to_string(), level));
        Ok(())
    }

    /// Watched pins' levels since the last call: (name, level), oldest first.
    pub fn take_pin_changes(&mut self) -> Vec<(String, bool)> {
        std::mem::take(&mut self.pin_changes)
    }

    /// MCUSR value for resets caused by the console port opening (default EXTRF).
    pub fn set_reset_mcusr(&mut self, mcusr: u8) {
        self.reset_mcusr = mcusr;
    }

    /// Current simulated time in microseconds.
    pub fn now_us(&self) -> u64 {
        cycles_to_us(self.avr.cycle())
    }

    /// SRAM bytes the firmware has used (static data and the deepest stack), when the
    /// core was painted at power-on ([`Avr::paint_sram`]).
    pub fn sram_touched(&self) -> u16 {
        self.avr.sram_touched()
    }

    /// ESP link counters.
    pub fn stats(&self) -> LinkStats {
        let mut s = self.stats;
        if let Link::Soft { decoder, .. } = &self.link {
            s.framing_errors = decoder.framing_errors;
            s.tx_glitches = decoder.glitches;
            s.max_tx_edge_deviation = decoder.max_edge_deviation;
        }
        if let Link::Soft {
            receiver: Some(r), ..
        } = &self.link
        {
            s.rx = r.check.counts;
        }
        s
    }

    /// Soft link: from now on, checks every byte the firmware's receiver pushes into its
    /// `ring` against the frame the ESP sent ([`crate::rxcheck`]); see [`LinkStats::rx`].
    /// Returns false on the USART, whose receiver is simavr's.
    pub fn check_receiver(&mut self, ring: RxRing) -> bool {
        let resets = self.avr.resets();
        let now = self.avr.cycle();
        let seen = self.avr.peek(ring.head_addr()) & (ring.len - 1);
        let Link::Soft {
            encoder,
            receiver,
            baud,
            ..
        } = &mut self.link
        else {
            return false;
        };
        encoder.log_frames();
        // the rate both ends run at once the link is up
        *receiver = Some(Receiver {
            ring,
            seen,
            resets,
            check: RxCheck::new(F_CPU, *baud, now),
        });
        true
    }

    /// Console lines completed since the last call (without the line ending).
    pub fn take_console_lines(&mut self) -> Vec<String> {
        self.console_lines.drain(..).collect()
    }

    /// The console pty, if any.
    pub fn console_pty(&self) -> Option<&Pty> {
        match &self.console {
            ConsoleMode::Pty { pty, .. } => Some(pty),
            _ => None,
        }
    }

    /// The last few KiB of the ESP link exchange, rendered for humans.
    pub fn transcript_tail(&self, max_lines: usize) -> String {
        let mut text = String::new();
        let mut current: Option<Dir> = None;
        for &(dir, byte) in &self.transcript {
            if current != Some(dir) {
                text.push_str(match dir {
                    Dir::ToEsp => "\n--> ",
                    Dir::FromEsp => "\n<-- ",
                });
                current = Some(dir);
            }
            match byte {
                b'\r' => text.push_str("\\r"),
                b'\n' => {
                    text.push_str("\\n");
                }
                0x20..=0x7e => text.push(byte as char),
                _ => text.push_str(&format!("\\x{byte:02x}")),
            }
        }
        let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
        let start = lines.len().saturating_sub(max_lines);
        lines[start..].join("\n")
    }

    fn record(&mut self, dir: Dir, byte: u8) {
        if self.transcript.len() == TRANSCRIPT_KEEP {
            self.transcript.pop_front();
        }
        self.transcript.push_back((dir, byte));
    }

    /// Runs the bench until simulated cycle `target`, moving link and console bytes.
    pub fn advance_to(&mut self, target: u64, esp: &mut dyn EspPort) -> Result<(), SimError> {
        loop {
            let now = self.avr.cycle();
            if now >= target {
                return Ok(());
            }
            let mut next = target.min(now + SLICE_CYCLES);
            match &mut self.link {
                Link::Usart { outgoing } => {
                    if let Some(&(due, _)) = outgoing.front() {
                        next = next.min(due.max(now + 1));
                    }
                }
                Link::Soft {
                    encoder,
                    decoder,
                    receiver,
                    ..
                } => {
                    if let Some(edge) = encoder.next_edge(now) {
                        next = next.min(edge.max(now + 1));
                    }
                    if let Some(look) = receiver.as_ref().and_then(|r| r.check.next_look(now)) {
                        next = next.min(look);
                    }
                    if let Some(done) = decoder.frame_done_at() {
                        next = next.min(done.max(now + 1));
                    }
                }
            }
            if let Some(us) = esp.next_event_us() {
                next = next.min(us_to_cycles(us).max(now + 1));
            }
            if matches!(self.console, ConsoleMode::Pty { .. }) {
                next = next.min(self.next_console_poll.max(now + 1));
            }
            match self.avr.run_until(next) {
                CoreState::Alive => {}
                CoreState::Done => {
                    return Err(SimError::CoreStopped(format!(
                        "slept with interrupts disabled at pc {:#06x}",
                        self.avr.pc()
                    )));
                }
                CoreState::Crashed => {
                    return Err(SimError::CoreStopped(format!(
                        "crashed at pc {:#06x}",
                        self.avr.pc()
                    )));
                }
                CoreState::Other(s) => {
                    return Err(SimError::CoreStopped(format!("simavr state {s}")));
                }
            }
            self.service(esp);
        }
    }

    /// Moves bytes after a run slice.
    fn service(&mut self, esp: &mut dyn EspPort) {
        let now = self.avr.cycle();
        // The ESP's UART samples and drives the soft link at its own rate: after an
        // `AT+UART_CUR` it follows the ESP, and a firmware at another rate is heard as junk.
        if let Link::Soft {
            baud,
            encoder,
            decoder,
            ..
        } = &mut self.link
            && let Some(esp_baud) = esp.baud()
            && esp_baud != *baud
        {
            *baud = esp_baud;
            encoder.set_baud(esp_baud);
            decoder.set_baud(esp_baud);
        }
        let now_us = cycles_to_us(now);
        let mut to_esp: Vec<(u64, u8)> = Vec::new();
        let mut console_bytes: Vec<(u64, u8)> = Vec::new();
        let mut edges = Vec::new();
        self.avr.take_edges(&mut edges);
        for e in edges.iter().filter(|e| e.pin != 0) {
            if let Some(w) = self.watched.iter_mut().find(|w| w.id == e.pin)
                && w.level != e.level
            {
                w.level = e.level;
                self.pin_changes.push((w.name.clone(), e.level));
            }
        }
        match &mut self.link {
            Link::Usart { outgoing } => {
                let mut written = Vec::new();
                self.avr.uart_take(&mut written);
                let frame = self.avr.uart_cycles_per_byte() as u64;
                outgoing.extend(written.into_iter().map(|(c, b)| (c + frame, b)));
                while let Some(&(due, byte)) = outgoing.front() {
                    if due > now {
                        break;
                    }
                    outgoing.pop_front();
                    to_esp.push((due, byte));
                }
            }
            Link::Soft { decoder, baud, .. } => {
                let decoder_baud = *baud;
                for e in edges.iter().filter(|e| e.pin == 0) {
                    decoder.edge(e.cycle, e.level);
                }
                let mut decoded = Vec::new();
                decoder.poll(now, &mut decoded);
                for d in decoded {
                    match d {
                        Decoded::Byte { cycle, byte } => to_esp.push((cycle, byte)),
                        Decoded::FramingError { cycle, byte } if self.trace => {
                            let bit = F_CPU as f64 / decoder_baud as f64;
                            let edges: Vec<String> = decoder
                                .recent_edges()
                                .map(|&(c, l)| {
                                    format!("{:+.2}:{}", (c as f64 - cycle as f64) / bit, l as u8)
                                })
                                .collect();
                            eprintln!(
                                "nanoesp-sim: trace: edges (bits before the stop sample:level) {}",
                                edges.join(" ")
                            );
                            let events: Vec<String> = self
                                .avr
                                .take_trace()
                                .into_iter()
                                .filter(|&(c, _, _)| c + (12.0 * bit) as u64 >= cycle)
                                .map(|(c, w, v)| {
                                    format!(
                                        "{:+.2}:{}={v:#x}",
                                        (c as f64 - cycle as f64) / bit,
                                        crate::avr::trace_name(w)
                                    )
                                })
                                .collect();
                            eprintln!(
                                "nanoesp-sim: trace: Timer1/PORTB writes {}",
                                events.join(" ")
                            );
                            eprintln!(
                                "nanoesp-sim: trace: framing error from the firmware at {} us (data {byte:#04x})",
                                cycles_to_us(cycle),
                            );
                        }
                        Decoded::FramingError { .. } => {}
                    }
                }
                self.avr.uart_take(&mut console_bytes);
            }
        }
        // On the USART both ends have a rate: if the Nano's differs from the ESP's (baud
        // negotiation, a misconfigured module) each byte arrives garbled both ways.
        let mismatch = matches!(self.link, Link::Usart { .. })
            && esp
                .baud()
                .is_some_and(|b| baud_mismatch(Some(b), self.avr.uart_cycles_per_bit()));
        for (cycle, byte) in to_esp {
            self.stats.to_esp += 1;
            self.record(Dir::ToEsp, byte);
            let byte = if mismatch { garble(byte) } else { byte };
            esp.uart_rx(byte, cycles_to_us(cycle));
        }
        // ESP → Nano
        while let Some(byte) = esp.uart_tx(now_us) {
            let byte = if mismatch { garble(byte) } else { byte };
            match &mut self.link {
                Link::Usart { .. } => {
                    if !self.avr.uart_enabled() {
                        // receiver off (before init, during reset): lost, as on hardware
                        continue;
                    }
                    if self.avr.uart_rx_pending() >= USART_RX_DEPTH || !self.avr.uart_inject(byte) {
                        if self.trace {
                            eprintln!(
                                "nanoesp-sim: trace: USART overrun at {now_us} us, lost {byte:#04x}"
                            );
                        }
                        self.stats.overruns += 1;
                        continue;
                    }
                }
                Link::Soft { encoder, .. } => encoder.send(byte),
            }
            self.stats.from_esp += 1;
            self.record(Dir::FromEsp, byte);
        }
        if let Link::Soft { rx, encoder, .. } = &mut self.link {
            while let Some(level) = encoder.poll(now) {
                self.avr.drive_pin(*rx, level);
            }
        }
        self.check_pushes(now);
        if !console_bytes.is_empty() {
            self.console_out.extend(console_bytes);
        }
        self.service_console(now);
    }

    /// Hands the frames started and the bytes the firmware pushed since the last look to
    /// the receiver check.
    fn check_pushes(&mut self, now: u64) {
        let Link::Soft {
            encoder,
            receiver: Some(r),
            ..
        } = &mut self.link
        else {
            return;
        };
        for (start, byte, baud) in encoder.take_started() {
            r.check.sent(start, byte, baud);
        }
        let mask = r.ring.len - 1;
        let head = self.avr.peek(r.ring.head_addr()) & mask;
        if self.avr.resets() != r.resets {
            // the firmware starts over with an empty ring
            r.resets = self.avr.resets();
            r.seen = head;
        }
        let faults_before = r.check.last_faults.back().copied();
        while r.seen != head {
            let byte = self.avr.peek(r.ring.addr + u16::from(r.seen));
            r.check.pushed(now, byte);
            r.seen = (r.seen + 1) & mask;
        }
        r.check.settle(now);
        if self.trace
            && r.check.last_faults.back().copied() != faults_before
            && let Some((cycle, sent, pushed)) = r.check.last_faults.back()
        {
            eprintln!(
                "nanoesp-sim: trace: soft receiver at {} us: sent {sent:02x?}, pushed {pushed:02x?}",
                cycles_to_us(*cycle)
            );
        }
    }

    fn service_console(&mut self, now: u64) {
        let out = std::mem::take(&mut self.console_out);
        match &mut self.console {
            ConsoleMode::Discard => {}
            ConsoleMode::Lines => {
                for (_, byte) in out {
                    match byte {
                        b'\n' => {
                            let line = String::from_utf8_lossy(&self.console_line)
                                .trim_end_matches('\r')
                                .to_string();
                            self.console_line.clear();
                            self.console_lines.push_back(line);
                        }
                        _ if self.console_line.len() < 4096 => self.console_line.push(byte),
                        _ => {}
                    }
                }
            }
            ConsoleMode::Pty { pty, strict_baud } => {
                let cpb = self.avr.uart_cycles_per_bit();
                if !out.is_empty() {
                    let mismatch = *strict_baud && baud_mismatch(pty.client_baud(), cpb);
                    let bytes: Vec<u8> = out
                        .iter()
                        .map(|&(_, b)| if mismatch { garble(b) } else { b })
                        .collect();
                    pty.write(&bytes);
                }
                if now >= self.next_console_poll {
                    self.next_console_poll = now + CONSOLE_POLL_CYCLES;
                    let polled = pty.poll();
                    let mut data = std::mem::take(&mut self.sent_with_open);
                    if polled.opened {
                        self.avr.reset(self.reset_mcusr);
                        self.pty_resets += 1;
                        // The client wrote these after opening, so after the reset the open
                        // causes (avrdude waits 300 ms before its first get-sync): they only
                        // arrive together when the simulator was held up. A real chip gets
                        // them once its program runs, so hand them over at the next poll,
                        // when the restarted program has set up its USART (and its rate).
                        self.sent_with_open = polled.data;
                    } else {
                        data.extend(polled.data);
                    }
                    if !data.is_empty() {
                        let mismatch = *strict_baud && baud_mismatch(pty.client_baud(), cpb);
                        let bytes: Vec<u8> = data
                            .iter()
                            .map(|&b| if mismatch { garble(b) } else { b })
                            .collect();
                        self.avr.uart_push(&bytes);
                    }
                }
            }
        }
    }
}

/// Whether the client's port speed and the AVR's USART0 rate (`F_CPU / cycles_per_bit`)
/// differ enough that a real UART would receive garbage. An unknown client speed counts
/// as a mismatch; a USART not yet configured does not (its bytes go nowhere anyway).
pub fn baud_mismatch(client: Option<u32>, avr_cycles_per_bit: u32) -> bool {
    if avr_cycles_per_bit == 0 {
        return false;
    }
    let Some(client) = client else { return true };
    let avr = F_CPU as f64 / avr_cycles_per_bit as f64;
    ((client as f64 - avr) / avr).abs() >= STRICT_BAUD_TOLERANCE
}

/// What a byte sent at the wrong speed turns into: deterministic junk that never equals
/// the byte (so a protocol such as STK500 cannot sync by luck).
pub fn garble(byte: u8) -> u8 {
    let g = byte.rotate_left(3) ^ 0xA5;
    if g == byte { !byte } else { g }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_baud_tolerates_the_nano_115200_error_but_not_57600_vs_115200() {
        // UBRR=16, U2X: 117647 baud, 2.1 % off 115200 — works on hardware
        assert!(!baud_mismatch(Some(115200), 136));
        // ATmegaBOOT at 57600 (UBRR=16 without U2X) against avrdude at 115200
        assert!(baud_mismatch(Some(115200), 272));
        assert!(!baud_mismatch(Some(57600), 272));
        assert!(baud_mismatch(None, 272));
        assert!(!baud_mismatch(Some(9600), 0));
    }

    #[test]
    fn garbled_bytes_never_survive() {
        for b in 0..=255u8 {
            assert_ne!(garble(b), b);
        }
    }
}
