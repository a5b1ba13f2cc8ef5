//! Full-duplex software UART on D8 (PB0 = ICP1, receive, wired to the ESP8266's TX) and D9
//! (PB1 = OC1A, transmit, wired through a 5 V → 3.3 V divider to the ESP8266's RX), timed
//! entirely by Timer1 running at clk/1.
//!
//! - Receive: the input-capture unit timestamps every edge on PB0 (the edge select is toggled
//!   after each capture). Knowing when each edge happened, the decoder fills in every bit
//!   centre that lies between the previous edge and this one with the previous line level.
//!   Compare B fires 9.5 bit times after the start edge to finish a byte whose last bits
//!   had no edge (trailing ones). Decoding runs with interrupts re-enabled; receive events
//!   that arrive meanwhile are queued for it.
//! - Transmit: compare A holds the next *level change* of the frame; the compare-output mode
//!   (set or clear OC1A on match) makes the edge exactly on time in hardware, and the
//!   handler arms the edge after it, which was planned one step ahead.
//!
//! No handler waits for bits, and interrupts are never disabled for a whole byte, so
//! receive and transmit overlap and other interrupts keep running. Bind the three vectors
//! `TIMER1_CAPT`, `TIMER1_COMPA`, `TIMER1_COMPB` to [`SoftSerial::on_capture`],
//! [`SoftSerial::on_tx_compare`] and [`SoftSerial::on_rx_timeout`].
//!
//! Limits measured in simavr 1.6 (continuous full-duplex echo of 600 bytes, pin-level peer):
//! clean at 9600, 19200 and 38400 baud. At 57600 and above the handlers' own run time
//! (~100–250 cycles each) no longer fits a bit time when both directions are busy, and
//! transmit edges come late; half of a bit is 139 cycles at 57600. Measured on the bench
//! with 10 sequential HTTP requests: 0 receive errors at 38400; 241 at 57600 (mostly
//! overflows of the queued-edge buffer: the decoder never catches up, a 16-entry queue
//! still overflows) plus 10 transmit framing errors; 76800 loses requests; 115200 does not
//! get through bring-up. A faster link needs cheaper handlers, not deeper queues.
//!
//! simavr 1.6 facts this code is shaped by (checked against its behaviour, see the comments
//! where they matter): it drives PB1 from the OC1A compare output (no software mirror is
//! needed); it re-applies the set/clear compare mode to OC1A on every OCR1x write and
//! overflow as if in PWM mode; a write to TIFR1 can drop other pending Timer1 interrupts;
//! an interrupt raised while its enable bit is clear is lost, not delivered later.
//!
//! Timer1 (and with it PWM on D9/D10) belongs to this driver; D10 is not usable for PWM.

use crate::isr_cell::IsrCell;
use crate::ring::Ring;
use crate::serial::Serial;
use crate::usart::count_error;
use crate::F_CPU;
use avr_device::atmega328p::TC1;
use core::sync::atomic::{AtomicU8, Ordering};

// Timer1 register bits (datasheet §16.11).
const TCCR1A_SET_OC1A: u8 = 0b1100_0000; // COM1A1:0 = 3: set OC1A on compare match
const TCCR1A_CLEAR_OC1A: u8 = 0b1000_0000; // COM1A1:0 = 2: clear OC1A on compare match
const TCCR1A_DISCONNECTED: u8 = 0; // COM1A1:0 = 0: PORTB1 drives D9 (idle high)
const TCCR1B_ICNC1: u8 = 1 << 7; // noise canceller: 4 equal samples, a constant 4-cycle delay
const TCCR1B_ICES1: u8 = 1 << 6; // capture on the rising (1) or falling (0) edge
const TCCR1B_CLK1: u8 = 1 << 0; // CS12:0 = 1: no prescaler
const TCCR1C_FOC1A: u8 = 1 << 7;
const TIMSK1_OCIE1A: u8 = 1 << 1;
const TIMSK1_OCIE1B: u8 = 1 << 2;
const TIMSK1_ICIE1: u8 = 1 << 5;
const TIFR1_OCF1A: u8 = 1 << 1;
const TIFR1_OCF1B: u8 = 1 << 2;
const TIFR1_ICF1: u8 = 1 << 5;
const PB0_RX: u8 = 1 << 0;
const PB1_TX: u8 = 1 << 1;

/// Cycles from "start transmitting now" to the first start-bit edge: long enough for the
/// code that programs OCR1A to finish before the timer gets there.
const TX_LEAD_TICKS: u16 = 64;

/// Nothing armed; compare A interrupt off.
const TX_IDLE: u8 = 0;
/// A level change on D9.
const TX_EDGE: u8 = 1;
/// The end of a stop bit with nothing queued behind it (D9 stays high).
const TX_END: u8 = 2;
/// `next` has not been planned yet.
const TX_UNPLANNED: u8 = 3;

/// Receive decoding state, used by one receive handler invocation at a time.
struct Decoder {
    /// Data bits still to sample in the current frame; 0 = waiting for a start bit.
    bits_left: u8,
    /// Bits shift in from the top, LSB first on the wire.
    byte: u8,
    /// Line level after the last decoded edge.
    line_high: bool,
    /// Timer1 time of the next data-bit centre.
    next_centre: u16,
    /// Timer1 time of the frame timeout (compare B).
    deadline: u16,
}

/// A receive interrupt, as handed to the decoder.
#[derive(Clone, Copy)]
enum RxEvent {
    /// An edge on D8 at Timer1 time `time`.
    Edge { time: u16, fell: bool },
    /// Compare B: 9.5 bit times after a start edge.
    Timeout,
}

/// Edges that can wait while a decode is interrupted (the transmit handler may keep it
/// away for a little more than one bit time at 57600 baud).
const QUEUED_EDGES: u8 = 4;

/// Who is decoding, and what arrived meanwhile.
struct RxGate {
    busy: bool,
    queued_timeout: bool,
    queued_count: u8,
    queued_first: u8,
    queued: [(u16, bool); QUEUED_EDGES as usize],
}

/// Transmit state. The compare unit always holds one programmed edge ("armed"); the edge
/// after it ("next") is planned ahead, so the compare handler can program it within a few
/// instructions of entry. The planner walks the frame bits after `next`.
struct Transmitter {
    armed_kind: u8,
    armed_time: u16,
    next_kind: u8,
    next_time: u16,
    next_mode: u8,
    /// Bits after the last planned one, LSB first; bit 8 is the stop bit.
    frame: u16,
    frame_bits_left: u8,
    /// Line level after the last planned edge (0 or 1).
    level: u8,
}

static RX_RING: Ring<64> = Ring::new();
static TX_RING: Ring<32> = Ring::new();
static RX_ERRORS: AtomicU8 = AtomicU8::new(0);
static RX_DECODER: IsrCell<Decoder> =
    IsrCell::new(Decoder { bits_left: 0, byte: 0, line_high: true, next_centre: 0, deadline: 0 });
static RX_GATE: IsrCell<RxGate> = IsrCell::new(RxGate {
    busy: false,
    queued_timeout: false,
    queued_count: 0,
    queued_first: 0,
    queued: [(0, false); QUEUED_EDGES as usize],
});
// TIMER1_COMPA and, inside a critical section while the transmitter is idle, `write_byte`.
static TRANSMITTER: IsrCell<Transmitter> = IsrCell::new(Transmitter {
    armed_kind: TX_IDLE,
    armed_time: 0,
    next_kind: TX_UNPLANNED,
    next_time: 0,
    next_mode: 0,
    frame: 0,
    frame_bits_left: 0,
    level: 1,
});

fn tc1() -> &'static avr_device::atmega328p::tc1::RegisterBlock {
    // SAFETY: `SoftSerial` consumed the TC1 token; its handlers and methods are the only users.
    unsafe { &*TC1::ptr() }
}

fn portb() -> &'static avr_device::atmega328p::portb::RegisterBlock {
    // SAFETY: only PB0/PB1 are touched here, with single read-modify-write instructions
    // (`sbi`/`cbi`) or inside critical sections; `pins` refuses D8/D9 while the link uses them.
    unsafe { &*avr_device::atmega328p::PORTB::ptr() }
}

/// Timer1-driven software UART, 8N1, at `BAUD` (4800..=115200).
pub struct SoftSerial<const BAUD: u32> {
    _timer: TC1,
}

impl<const BAUD: u32> SoftSerial<BAUD> {
    /// Timer1 cycles per bit, rounded (error ≤ 0.1 % up to 115200 baud).
    pub const BIT_TICKS: u16 = {
        assert!(BAUD >= 4800 && BAUD <= 115_200, "soft serial supports 4800..=115200 baud");
        ((F_CPU + BAUD / 2) / BAUD) as u16
    };
    /// Frame timeout after the start edge: the stop-bit centre (9.5 bits), after the edge
    /// into the stop bit (9 bits) and before the earliest next start bit (10 bits).
    const RX_TIMEOUT_TICKS: u16 = Self::BIT_TICKS * 9 + Self::BIT_TICKS / 2;

    /// Takes Timer1 and pins D8/D9, idles the TX line high and starts listening.
    /// Interrupts must be enabled by the caller afterwards.
    pub fn new(timer: TC1) -> Self {
        let t = tc1();
        let port = portb();
        // OC1A's output latch starts at 0 (§16.7.3): force a "set" match while D9 is still an
        // input, so the first start bit is not early. The compare output is then disconnected
        // until a frame is sent; PORTB1 holds the idle level meanwhile.
        t.tccr1a().write(|w| unsafe { w.bits(TCCR1A_SET_OC1A) });
        t.tccr1c().write(|w| unsafe { w.bits(TCCR1C_FOC1A) });
        t.tccr1a().write(|w| unsafe { w.bits(TCCR1A_DISCONNECTED) });
        // Idle (high) level on D9 before it becomes an output, so the ESP never sees a false
        // start bit; pull-up on D8 so an unplugged ESP reads as an idle line.
        port.portb().modify(|r, w| unsafe { w.bits(r.bits() | PB1_TX | PB0_RX) });
        port.ddrb().modify(|r, w| unsafe { w.bits((r.bits() | PB1_TX) & !PB0_RX) });
        t.tccr1b().write(|w| unsafe { w.bits(TCCR1B_ICNC1 | TCCR1B_CLK1) });
        t.tifr1().write(|w| unsafe { w.bits(TIFR1_ICF1 | TIFR1_OCF1A | TIFR1_OCF1B) });
        t.timsk1().write(|w| unsafe { w.bits(TIMSK1_ICIE1 | TIMSK1_OCIE1B) });
        let _ = Self::BIT_TICKS;
        Self { _timer: timer }
    }

    /// Receive errors (framing, ring full) since reset, saturating at 255.
    pub fn rx_errors(&self) -> u8 {
        RX_ERRORS.load(Ordering::Relaxed)
    }

    /// `TIMER1_CAPT` handler: an edge on D8.
    #[inline(always)]
    pub fn on_capture() {
        let t = tc1();
        let time = t.icr1().read().bits();
        let control = t.tccr1b().read().bits();
        // §16.6.3 suggests clearing ICF1 after changing the edge; we do not write TIFR1
        // because in simavr 1.6 that also drops other pending Timer1 interrupts. Real
        // hardware does not raise ICF1 on the toggle alone (AltSoftSerial relies on the same).
        t.tccr1b().write(|w| unsafe { w.bits(control ^ TCCR1B_ICES1) });
        Self::receive(RxEvent::Edge { time, fell: control & TCCR1B_ICES1 == 0 });
    }

    /// `TIMER1_COMPB` handler: the frame timeout.
    #[inline(always)]
    pub fn on_rx_timeout() {
        Self::receive(RxEvent::Timeout);
    }

    /// Decodes `event` with interrupts re-enabled, so the transmit compare handler (whose
    /// next edge may be one bit away) and the millisecond tick are not held up by it.
    /// A receive event that arrives while the decoder is busy is queued for it: vectors are
    /// never masked, because simavr 1.6 forgets interrupts raised while their enable bit is
    /// clear. Called with interrupts off; returns with them off.
    #[inline(always)]
    fn receive(event: RxEvent) {
        // SAFETY: the gate is only touched with interrupts off, by short-lived references.
        let gate = unsafe { RX_GATE.get() };
        if gate.busy {
            match event {
                RxEvent::Edge { .. } if gate.queued_count == QUEUED_EDGES => count_error(&RX_ERRORS),
                RxEvent::Edge { time, fell } => {
                    let slot = (gate.queued_first + gate.queued_count) & (QUEUED_EDGES - 1);
                    gate.queued[slot as usize] = (time, fell);
                    gate.queued_count += 1;
                }
                RxEvent::Timeout => gate.queued_timeout = true,
            }
            return;
        }
        gate.busy = true;
        Self::decode_and_drain(Some(event));
    }

    /// Decodes `first` (if any) and then every queued event, then releases the decoder.
    /// The caller has set `busy`; interrupts are off on entry and on return.
    fn decode_and_drain(first: Option<RxEvent>) {
        // SAFETY: only the holder of `busy` uses the decoder.
        let decoder = unsafe { RX_DECODER.get() };
        let mut next = first;
        loop {
            if let Some(event) = next {
                // SAFETY: nested receive events only queue themselves (see `receive`).
                unsafe { avr_device::interrupt::enable() };
                Self::decode(decoder, event);
                avr_device::interrupt::disable();
            }
            // SAFETY: interrupts are off again.
            let gate = unsafe { RX_GATE.get() };
            // Edges first: a queued edge may complete the frame the timeout is about.
            next = if gate.queued_count != 0 {
                let (time, fell) = gate.queued[gate.queued_first as usize];
                gate.queued_first = (gate.queued_first + 1) & (QUEUED_EDGES - 1);
                gate.queued_count -= 1;
                Some(RxEvent::Edge { time, fell })
            } else if core::mem::take(&mut gate.queued_timeout) {
                Some(RxEvent::Timeout)
            } else {
                gate.busy = false;
                return;
            };
        }
    }

    #[inline(always)]
    fn decode(rx: &mut Decoder, event: RxEvent) {
        let t = tc1();
        match event {
            RxEvent::Edge { time, fell } => {
                rx.line_high = !fell;
                if rx.bits_left != 0 {
                    // Every bit centre before this edge saw the level from before it.
                    let before = if fell { 0x80 } else { 0 };
                    while time.wrapping_sub(rx.next_centre) as i16 >= 0 {
                        rx.byte = (rx.byte >> 1) | before;
                        rx.next_centre = rx.next_centre.wrapping_add(Self::BIT_TICKS);
                        rx.bits_left -= 1;
                        if rx.bits_left == 0 {
                            Self::finish_byte(rx.byte);
                            break;
                        }
                    }
                    if rx.bits_left != 0 {
                        return;
                    }
                    // A rising edge after the last data bit is the stop bit; a falling one
                    // is the next start bit, arriving before the timeout was handled.
                }
                if fell {
                    rx.bits_left = 8;
                    rx.next_centre = time.wrapping_add(Self::BIT_TICKS + Self::BIT_TICKS / 2);
                    // OCF1B may still be set from an earlier frame; rather than clearing it
                    // (see `on_capture`), the timeout ignores calls before the deadline.
                    rx.deadline = time.wrapping_add(Self::RX_TIMEOUT_TICKS);
                    // 16-bit Timer1 registers share one TEMP byte (§16.3): no nesting here.
                    avr_device::interrupt::free(|_| t.ocr1b().write(|w| unsafe { w.bits(rx.deadline) }));
                }
            }
            RxEvent::Timeout => {
                let now = avr_device::interrupt::free(|_| t.tcnt1().read().bits());
                if rx.bits_left == 0 || (now.wrapping_sub(rx.deadline) as i16) < 0 {
                    return; // a stale flag from an earlier frame
                }
                // No edge since the last one: the remaining bits have the current level.
                let level = if rx.line_high { 0x80 } else { 0 };
                while rx.bits_left != 0 {
                    rx.byte = (rx.byte >> 1) | level;
                    rx.bits_left -= 1;
                }
                if rx.line_high {
                    Self::finish_byte(rx.byte);
                } else {
                    // Low through the stop bit: a break or a baud mismatch. The next falling
                    // edge starts a frame again.
                    count_error(&RX_ERRORS);
                }
            }
        }
    }

    #[inline(always)]
    fn finish_byte(byte: u8) {
        if !RX_RING.push(byte) {
            count_error(&RX_ERRORS);
        }
    }

    /// `TIMER1_COMPA` handler: the armed edge on D9 just happened.
    #[inline(always)]
    pub fn on_tx_compare() {
        let t = tc1();
        // SAFETY: see TRANSMITTER; interrupts are off inside a handler.
        let tx = unsafe { TRANSMITTER.get() };
        if (t.tcnt1().read().bits().wrapping_sub(tx.armed_time) as i16) < 0 {
            return; // a stale OCF1A from before this edge was armed (flags are not cleared)
        }
        Self::arm_following(tx);
    }

    /// Arms the compare after the one that just fired and plans the one after that, with
    /// interrupts off throughout (measured 200–290 cycles with the prologue; letting the
    /// capture handler in would let this handler nest into itself when the armed edge is
    /// close).
    #[inline(always)]
    fn arm_following(tx: &mut Transmitter) {
        let t = tc1();
        loop {
            if tx.armed_kind == TX_END {
                // The last stop bit is over.
                if let Some(byte) = TX_RING.pop() {
                    let now = t.tcnt1().read().bits();
                    Self::arm_start(tx, byte, now.wrapping_add(TX_LEAD_TICKS));
                } else {
                    tx.armed_kind = TX_IDLE;
                    t.timsk1().modify(|r, w| unsafe { w.bits(r.bits() & !TIMSK1_OCIE1A) });
                }
                return;
            }
            if tx.next_kind == TX_UNPLANNED {
                // Only right after a start from idle: the first data edge is ≥ 1 bit away.
                Self::plan_next(tx);
            }
            tx.armed_kind = tx.next_kind;
            tx.armed_time = tx.next_time;
            tx.next_kind = TX_UNPLANNED;
            t.tccr1a().write(|w| unsafe { w.bits(tx.next_mode) });
            t.ocr1a().write(|w| unsafe { w.bits(tx.armed_time) });
            if (t.tcnt1().read().bits().wrapping_sub(tx.armed_time) as i16) < 0 {
                Self::plan_next(tx);
                return;
            }
            // Other interrupts held this handler past the edge time: force the edge now
            // (FOC1A sets no flag, §16.11.3; it does nothing while disconnected) and go on.
            t.tccr1c().write(|w| unsafe { w.bits(TCCR1C_FOC1A) });
        }
    }

    /// Plans the compare after the last planned one: the next level change in the frame,
    /// the next frame's start bit right after the stop bit, or the end of the stop bit.
    #[inline(always)]
    fn plan_next(tx: &mut Transmitter) {
        if tx.armed_kind == TX_END {
            // The end-of-stop-bit handler starts whatever is queued then; popping a byte
            // here would lose it.
            return;
        }
        // Locals, so the scan loop stays in registers.
        let mut time = tx.armed_time;
        let mut frame = tx.frame;
        let mut bits_left = tx.frame_bits_left;
        let (kind, mode) = loop {
            time = time.wrapping_add(Self::BIT_TICKS);
            if bits_left == 0 {
                if let Some(byte) = TX_RING.pop() {
                    frame = u16::from(byte) | 0x100;
                    bits_left = 9;
                    tx.level = 0;
                    break (TX_EDGE, TCCR1A_CLEAR_OC1A);
                }
                // Hand D9 back to PORTB1 (high) and wake up when the stop bit ends, so a
                // byte queued meanwhile cannot cut it short. Elsewhere the compare mode is
                // always the opposite of the line level: simavr 1.6 re-drives OC1A from
                // the mode on OCR1x writes and overflows as if in PWM mode.
                break (TX_END, TCCR1A_DISCONNECTED);
            }
            let bit = (frame as u8) & 1;
            frame >>= 1;
            bits_left -= 1;
            if bit != tx.level {
                tx.level = bit;
                break (TX_EDGE, if bit != 0 { TCCR1A_SET_OC1A } else { TCCR1A_CLEAR_OC1A });
            }
        };
        tx.frame = frame;
        tx.frame_bits_left = bits_left;
        tx.next_time = time;
        tx.next_mode = mode;
        tx.next_kind = kind;
    }

    /// Arms the start bit of `byte` at `time`, from idle or after a finished stop bit.
    #[inline(always)]
    fn arm_start(tx: &mut Transmitter, byte: u8, time: u16) {
        let t = tc1();
        tx.frame = u16::from(byte) | 0x100;
        tx.frame_bits_left = 9;
        tx.level = 0;
        tx.armed_kind = TX_EDGE;
        tx.armed_time = time;
        tx.next_kind = TX_UNPLANNED;
        t.tccr1a().write(|w| unsafe { w.bits(TCCR1A_CLEAR_OC1A) });
        t.ocr1a().write(|w| unsafe { w.bits(time) });
    }
}

impl<const BAUD: u32> Serial for SoftSerial<BAUD> {
    fn read_byte(&mut self) -> Option<u8> {
        RX_RING.pop()
    }

    fn write_byte(&mut self, byte: u8) {
        // The compare-A handler drains the ring at line rate.
        while !TX_RING.push(byte) {}
        avr_device::interrupt::free(|_| {
            // SAFETY: interrupts are off, and an idle transmitter has no pending compare.
            let tx = unsafe { TRANSMITTER.get() };
            if tx.armed_kind == TX_IDLE {
                if let Some(byte) = TX_RING.pop() {
                    let t = tc1();
                    let now = t.tcnt1().read().bits();
                    Self::arm_start(tx, byte, now.wrapping_add(TX_LEAD_TICKS));
                    t.timsk1().modify(|r, w| unsafe { w.bits(r.bits() | TIMSK1_OCIE1A) });
                }
            }
        });
    }
}
