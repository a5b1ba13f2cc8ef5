//! Full-duplex software UART on D8 (PB0 = ICP1, receive, wired to the ESP8266's TX) and D9
//! (PB1 = OC1A, transmit, wired through a 5 V → 3.3 V divider to the ESP8266's RX), timed
//! entirely by Timer1 running at clk/1.
//!
//! - Transmit: the OC1A compare output drives D9. Compare A matches at every bit boundary
//!   and the hardware sets or clears the pin right then; the handler only loads the level of
//!   the bit after that one into COM1A1:0, adds one bit time to OCR1A and shifts the byte.
//!   A frame is 11 matches: start, 8 data bits, stop, and the end of the stop bit; between
//!   frames OC1A is disconnected and PORTB1 holds D9 high.
//! - Receive: the input-capture unit timestamps the falling edge of a start bit; compare B
//!   is set to the first data-bit centre, and its handler samples PB0 at each bit centre,
//!   moves OCR1B on by one bit time and, after the stop bit, pushes the byte. Capture is off
//!   from the start bit to the last data-bit sample, so the next falling edge after that
//!   starts the next frame, and no capture handler delays a sample.
//!
//! Each handler is a few dozen instructions with no calls and no loops, so both directions
//! at full speed leave most of the CPU to the main loop and the other interrupts, and no
//! handler disables interrupts beyond its own run. The handlers are assembly at the end of
//! this file; `bind_interrupts!` makes them the vectors `TIMER1_CAPT`, `TIMER1_COMPA` and
//! `TIMER1_COMPB`.
//!
//! Cost: SREG and four saved registers per handler, about 60–80 cycles per transmitted or
//! received bit including entry and exit (the Rust handlers before them saved 7–11 and took
//! about 100). A compare handler must reload its compare less than one bit time after the
//! match (278 cycles at 57600 baud), and the receive sample must land within half a bit of
//! the centre, while the handlers wait for each other and for the millisecond tick.
//! `nanoesp bench` measures both (`handler_latency`): with one to five clients at 57600 the
//! reloads came at most 168 cycles after their match and the samples 9–129 cycles after it,
//! i.e. −54…+66 around the centre
//! (see `RX_SAMPLE_EARLY`), and every byte the ESP sent reached the receive ring unchanged
//! (the bench's receiver check). Measured on the virtual bench (sequential and three
//! concurrent HTTP clients, padded requests): no error at 9600, 19200, 38400 and 57600
//! baud; at 76800 padded requests time out; 115200 does not get through bring-up.
//! Transmitting alone at 115200 works (the receiver is then off, see
//! [`SoftSerial::switch`]): that is all the AT driver's blind baud switch needs.
//!
//! Timer1 facts relied on (datasheet §16; the bench's simulator models them, see
//! sim/README.md "simavr 1.6 Timer1 facts"): OC1A overrides PORTB1 while COM1A1:0 ≠ 0 and
//! changes only on a match or FOC1A; a write to OCR1A/OCR1B has no immediate output effect
//! in normal mode. The simulator gets that last one right by undoing simavr's PWM-style
//! re-application of the set/clear mode within the same cycle; a "set" mode on a high line
//! still shows there as a zero-width low pulse (the bench's receiver ignores pulses that
//! short, as a UART does); OC1A is disconnected from the start of a stop bit that no frame
//! follows until the next start bit is programmed. A flag set while its interrupt is off
//! raises that interrupt as soon as it is enabled, so the transmitter and the receiver's
//! capture clear their flag (TIFR1, write one to clear) before enabling it; plain simavr
//! gets both wrong, the shim fixes them (facts 6 and 10 there). Compare B stays enabled
//! while idle, so its handler ignores flags from before the frame by comparing TCNT1 with
//! OCR1B.
//!
//! Timer1 (and with it PWM on D9/D10) belongs to this driver; D10 is not usable for PWM.

use crate::isr_cell::IsrCell;
use crate::ring::Ring;
use crate::serial::Serial;
use crate::F_CPU;
use avr_device::atmega328p::TC1;

// Timer1 register bits (datasheet §16.11).
const TCCR1A_SET_OC1A: u8 = 0b1100_0000; // COM1A1:0 = 3: set OC1A on compare match
const TCCR1A_CLEAR_OC1A: u8 = 0b1000_0000; // COM1A1:0 = 2: clear OC1A on compare match
const TCCR1A_DISCONNECTED: u8 = 0; // COM1A1:0 = 0: PORTB1 drives D9 (idle high)
const TCCR1A_COM1A0: u8 = TCCR1A_SET_OC1A & !TCCR1A_CLEAR_OC1A; // what "set" adds to "clear"
const TCCR1B_ICNC1: u8 = 1 << 7; // noise canceller: 4 equal samples, a constant 4-cycle delay
const TCCR1B_CLK1: u8 = 1 << 0; // CS12:0 = 1: no prescaler; ICES1 = 0: capture falling edges
const TCCR1C_FOC1A: u8 = 1 << 7;
const TIMSK1_OCIE1A: u8 = 1 << 1;
const TIMSK1_OCIE1B: u8 = 1 << 2;
const TIMSK1_ICIE1: u8 = 1 << 5;
/// The receiver's interrupts: the start-bit capture and the bit-centre samples.
const TIMSK1_RECEIVE: u8 = TIMSK1_ICIE1 | TIMSK1_OCIE1B;
const TIFR1_OCF1A: u8 = 1 << 1;
const TIFR1_OCF1B: u8 = 1 << 2;
const TIFR1_ICF1: u8 = 1 << 5;
const PB0_RX: u8 = 1 << 0;
const PB1_TX: u8 = 1 << 1;

/// Cycles from "start transmitting now" to the first start-bit edge: long enough for the
/// code that programs OCR1A to finish before the timer gets there.
const TX_LEAD_TICKS: u16 = 64;
/// The receive handler reads PB0 9 cycles after its compare match when it starts at once
/// (interrupt response, vector jump, the read first) and up to 117 when it waits behind the
/// millisecond tick and the transmit handler (`nanoesp bench`'s `handler_latency`, the
/// soft-link budget rows). The match is set this much before the bit centre so that both
/// ends of that range are equally far from it: −54…+54 cycles, within 0.2 bit at 57600
/// baud, which leaves room for a peer whose clock is a few percent off. (Chosen on those
/// rows; later rows with the page's readings saw up to 129 cycles, +66 or 0.24 bit, when
/// five clients met the default three slots and the surplus got 503s.)
const RX_SAMPLE_EARLY: u16 = 63;

/// Transmit `left`: 1..=9 bits (8 data and the stop bit) are still to be programmed.
/// The stop bit is on the line; the next match ends it.
const TX_STOP: u8 = 0;
/// The stop bit has ended (D9 high); the next match closes the frame.
const TX_ENDING: u8 = 0x80;
/// No frame; compare A interrupt off.
const TX_IDLE: u8 = 0x40;

#[repr(C)]
struct Transmitter {
    left: u8,
    /// Bits not yet programmed, LSB first; ones shift in from the top (the last one is the
    /// stop bit).
    byte: u8,
}

#[repr(C)]
struct Receiver {
    /// Bits still to sample (8 data and the stop bit); 0 = waiting for a start bit.
    left: u8,
    /// Bits shift in from the top, LSB first on the wire.
    byte: u8,
}

const RX_RING_SIZE: usize = 64;
const TX_RING_SIZE: usize = 32;
static RX_RING: Ring<RX_RING_SIZE> = Ring::new();
static TX_RING: Ring<TX_RING_SIZE> = Ring::new();
// TIMER1_CAPT and TIMER1_COMPB (which do not nest); `rx_errors` reads it with interrupts
// off. Not an atomic: its load and store each turned interrupts off and on again around
// themselves, for nothing inside a handler.
static RX_ERRORS: IsrCell<u8> = IsrCell::new(0);
// TIMER1_CAPT and TIMER1_COMPB (which do not nest).
static RECEIVER: IsrCell<Receiver> = IsrCell::new(Receiver { left: 0, byte: 0 });
// TIMER1_COMPA and, inside a critical section while the transmitter is idle, `write_byte`.
static TRANSMITTER: IsrCell<Transmitter> = IsrCell::new(Transmitter { left: TX_IDLE, byte: 0 });
// Read by all three handlers; written by `new` and `switch` with interrupts off.
// Starts at `RX_MAX_BAUD`, the default link speed: `new` then writes it only for another
// one (the four bytes in `.data`, which the firmware has anyway, cost 20 B less flash than
// the stores).
static TIMING: IsrCell<Timing> = IsrCell::new(Timing::at(RX_MAX_BAUD));

/// Bit timing of the current baud, in Timer1 cycles (rounded: error ≤ 0.1 % up to 115200).
#[derive(Clone, Copy)]
#[repr(C)]
struct Timing {
    bit: u16,
    /// From the start edge to the match that samples data bit 0.
    first_sample: u16,
}

impl Timing {
    const fn at(baud: u32) -> Timing {
        assert!(baud >= 4800 && baud <= 115_200, "soft serial supports 4800..=115200 baud");
        let bit = ((F_CPU + baud / 2) / baud) as u16;
        Timing { bit, first_sample: bit + bit / 2 - RX_SAMPLE_EARLY }
    }
}

/// Fastest baud the receiver runs at. Above it (the AT firmware's factory 115200, for baud
/// negotiation only) the link transmits but does not listen: with both directions busy the
/// handlers need more than one bit time, so transmitted edges would come late.
pub const RX_MAX_BAUD: u32 = 57_600;

fn tc1() -> &'static avr_device::atmega328p::tc1::RegisterBlock {
    // SAFETY: `SoftSerial` consumed the TC1 token; its handlers and methods are the only users.
    unsafe { &*TC1::ptr() }
}

fn portb() -> &'static avr_device::atmega328p::portb::RegisterBlock {
    // SAFETY: only PB0/PB1 are touched here, at init or read-only; `pins` refuses D8/D9
    // while the link uses them.
    unsafe { &*avr_device::atmega328p::PORTB::ptr() }
}

/// [`SoftSerial::switch`] without the baud parameter (one copy for every rate).
#[inline(never)]
fn switch_timing(timing: Timing, listen: bool) {
    loop {
        let idle = avr_device::interrupt::free(|_| {
            // SAFETY: interrupts are off.
            let tx = unsafe { TRANSMITTER.get() };
            if tx.left != TX_IDLE {
                return false;
            }
            // SAFETY: interrupts are off; the transmitter is idle, so no handler uses it.
            unsafe { *TIMING.get() = timing };
            let t = tc1();
            // SAFETY: interrupts are off.
            unsafe { RECEIVER.get().left = 0 };
            // One read and one write of TIMSK1 for both cases (4 B smaller on the AVR).
            let mut mask = t.timsk1().read().bits() & !TIMSK1_RECEIVE;
            if listen {
                // Drop an edge captured while not listening: its flag is still set.
                t.tifr1().write(|w| unsafe { w.bits(TIFR1_ICF1) });
                mask |= TIMSK1_RECEIVE;
            }
            t.timsk1().write(|w| unsafe { w.bits(mask) });
            true
        });
        if idle {
            return;
        }
    }
}

/// Timer1-driven software UART, 8N1, starting at `BAUD` (4800..=[`RX_MAX_BAUD`]); see
/// [`SoftSerial::switch`] for the factory rate of the AT firmware.
pub struct SoftSerial<const BAUD: u32> {
    _timer: TC1,
}

impl<const BAUD: u32> SoftSerial<BAUD> {
    /// Takes Timer1 and pins D8/D9, idles the TX line high and starts listening.
    /// Interrupts must be enabled by the caller afterwards.
    pub fn new(timer: TC1) -> Self {
        const { assert!(BAUD <= RX_MAX_BAUD, "the soft link receives at 57600 baud at most") };
        if BAUD != RX_MAX_BAUD {
            // SAFETY: interrupts are still off (the caller enables them afterwards).
            unsafe { *TIMING.get() = const { Timing::at(BAUD) } };
        }
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
        // One bit per access: `sbi`/`cbi` (6 B smaller on the AVR than two-bit masks); D9 is
        // still high before it drives.
        port.portb().modify(|r, w| unsafe { w.bits(r.bits() | PB1_TX) });
        port.portb().modify(|r, w| unsafe { w.bits(r.bits() | PB0_RX) });
        port.ddrb().modify(|r, w| unsafe { w.bits(r.bits() | PB1_TX) });
        port.ddrb().modify(|r, w| unsafe { w.bits(r.bits() & !PB0_RX) });
        t.tccr1b().write(|w| unsafe { w.bits(TCCR1B_ICNC1 | TCCR1B_CLK1) });
        t.tifr1().write(|w| unsafe { w.bits(TIFR1_ICF1 | TIFR1_OCF1A | TIFR1_OCF1B) });
        t.timsk1().write(|w| unsafe { w.bits(TIMSK1_RECEIVE) });
        Self { _timer: timer }
    }

    /// Switches to `NEW` at run time (the AT driver's baud negotiation), once the bytes
    /// already written have left. Above [`RX_MAX_BAUD`] the receiver is off until the next
    /// switch: the driver sends its `AT+UART_CUR` blind at the factory rate.
    pub fn switch<const NEW: u32>(&mut self) {
        switch_timing(const { Timing::at(NEW) }, NEW <= RX_MAX_BAUD);
    }

    /// Receive errors (framing, ring full) since reset, saturating at 255.
    pub fn rx_errors(&self) -> u8 {
        // SAFETY: interrupts are off, so no handler holds the counter.
        avr_device::interrupt::free(|_| unsafe { *RX_ERRORS.get() })
    }
}

impl<const BAUD: u32> Serial for SoftSerial<BAUD> {
    fn read_byte(&mut self) -> Option<u8> {
        RX_RING.pop()
    }

    fn write_byte(&mut self, byte: u8) {
        // The compare-A handler drains the ring at line rate; wait with interrupts on.
        while TX_RING.is_full() {}
        // The ring is empty while the transmitter is idle (it goes idle only on an empty
        // ring, and this is the only producer), so an idle transmitter takes `byte` itself;
        // a busy one gets it queued in the same critical section, so it cannot go idle
        // meanwhile. The push succeeds: only this side fills the ring.
        avr_device::interrupt::free(|_| {
            // SAFETY: interrupts are off, and an idle transmitter has its interrupt off.
            let tx = unsafe { TRANSMITTER.get() };
            if tx.left != TX_IDLE {
                TX_RING.push_with_room(byte);
                return;
            }
            let t = tc1();
            tx.byte = byte;
            tx.left = 9;
            // OC1A is high since the last stop bit; the start bit clears it.
            t.tccr1a().write(|w| unsafe { w.bits(TCCR1A_CLEAR_OC1A) });
            let now = t.tcnt1().read().bits();
            t.ocr1a().write(|w| unsafe { w.bits(now.wrapping_add(TX_LEAD_TICKS)) });
            // Matches while idle set the flag: clear it, or the handler would run now.
            t.tifr1().write(|w| unsafe { w.bits(TIFR1_OCF1A) });
            t.timsk1().modify(|r, w| unsafe { w.bits(r.bits() | TIMSK1_OCIE1A) });
        });
    }
}

// `lds`, `sts`, `push` and `pop` by their opcode words (and `ld`/`st` through Z below) (register number `$r`, data address
// `$k`): global assembly is assembled for the baseline AVR, which has none of them.
macro_rules! lds {
    ($r:literal, $k:literal) => {
        concat!(".word 0x9000 | (", $r, " << 4), ", $k)
    };
}
macro_rules! sts {
    ($k:literal, $r:literal) => {
        concat!(".word 0x9200 | (", $r, " << 4), ", $k)
    };
}
macro_rules! push {
    ($r:literal) => {
        concat!(".word 0x920f | (", $r, " << 4)")
    };
}
macro_rules! pop {
    ($r:literal) => {
        concat!(".word 0x900f | (", $r, " << 4)")
    };
}

// The three handlers, in assembly: `nanoesp_soft_capture` (`TIMER1_CAPT`: a falling edge on
// D8), `nanoesp_soft_rx_sample` (`TIMER1_COMPB`: a bit centre of the frame being received)
// and `nanoesp_soft_tx_bit` (`TIMER1_COMPA`: a bit boundary on D9 just happened, in
// hardware); `bind_interrupts!` makes them the vectors. Each saves SREG and the same four
// registers (r24, r25, Z) and leaves through one shared exit; both receive handlers push a
// byte through one shared tail. In Rust they took 7–10 saved registers each (550 B).
//
// Receive (see the module docs): capture is on only between frames (left 0) and from the
// last data-bit sample on (left 1). The capture handler sets the first sample before
// anything else (compare B cannot run before it ends, so the order changes nothing else);
// with left 1 the stop-bit sample is late and this edge is already the next start bit: the
// stop bit was high (a low one has no falling edge after it), and the byte is pushed. No
// captures inside the frame: its edges carry no news, and a capture handler run there would
// delay the samples. The sample handler reads PB0 first (into T); compare B stays enabled
// while idle (left 0: OCR1B matches once per timer period), and a flag from before this
// frame's OCR1B was written (flags are not cleared) shows as TCNT1 before OCR1B. At the last
// data bit the frame's own edges have set the capture flag: it is cleared before capture is
// enabled. A low stop bit (a break or a baud mismatch) or a full ring counts an error
// (saturating at 255).
//
// Transmit: with 1..=9 bits left a start or data bit began: the next data bit or the stop
// bit is programmed (bit 0 of the byte, moved to COM1A0, makes "clear" a "set" for a one;
// ones shift in from the top). Else the stop bit began or has ended: the next byte queued
// starts its frame right after it; with none, `TX_STOP` waits for the end of the stop bit
// with OC1A disconnected (PORTB1 holds D9 high: a "set" mode on a high line is what the
// simulator's PWM-style re-application would briefly pull low), so that a byte queued
// meanwhile cannot cut it short, and after that the transmitter goes idle, its interrupt
// off. The match time is read only after TCCR1A is written. 16-bit registers: the low byte
// is read first and written last (datasheet §16.3).
// The field offsets the handlers use: `{rx}`/`{tx}` is `left`, `+1` is `byte`; `{timing}`
// is `bit`, `+2` is `first_sample` (the cells are `repr(transparent)`).
const _: () = {
    use core::mem::offset_of;
    assert!(offset_of!(Receiver, left) == 0 && offset_of!(Receiver, byte) == 1);
    assert!(offset_of!(Transmitter, left) == 0 && offset_of!(Transmitter, byte) == 1);
    assert!(offset_of!(Timing, bit) == 0 && offset_of!(Timing, first_sample) == 2);
};
const _: () = assert!(
    TX_STOP == 0 && TCCR1A_DISCONNECTED == 0 && TCCR1A_COM1A0 == 1 << 6,
    "the transmit handler tests TX_STOP with `tst`, writes its left as the mode and sets COM1A0 with `bld r24, 6`"
);
core::arch::global_asm!(
    ".section .text.nanoesp_soft_serial,\"ax\",@progbits",
    ".global nanoesp_soft_tx_bit",
    "nanoesp_soft_tx_bit:",
    push!(24),
    "in r24, 0x3f",
    push!(24),
    push!(25),
    push!(30),
    push!(31),
    // r24: left - 1, below 9 with a bit to program.
    lds!(24, "{tx}"),
    "subi r24, 1",
    "cpi r24, 9",
    "brsh 2f",
    sts!("{tx}", 24),
    lds!(25, "{tx}+1"),
    "bst r25, 0",
    "sec",
    "ror r25",
    sts!("{tx}+1", 25),
    "ldi r24, {clear_oc1a}",
    "bld r24, 6",
    "rjmp 8f",
    // No bit left to program: the next queued byte, if any.
    "2:",
    lds!(30, "{tx_ring}+{tx_head}+1"),
    lds!(25, "{tx_ring}+{tx_head}"),
    "cp r30, r25",
    "breq 3f",
    "mov r25, r30",
    "ldi r31, 0",
    "subi r30, lo8(-({tx_ring}))",
    "sbci r31, hi8(-({tx_ring}))",
    ".word 0x8180", // ld r24, Z
    sts!("{tx}+1", 24),
    "inc r25",
    "andi r25, {tx_mask}",
    sts!("{tx_ring}+{tx_head}+1", 25),
    "ldi r24, 9",
    sts!("{tx}", 24),
    "ldi r24, {clear_oc1a}",
    "rjmp 8f",
    "3:",
    "inc r24",
    "brne 7f",
    // TX_STOP (0): r24 is back to it, and TCCR1A_DISCONNECTED (0) too.
    "ldi r25, {tx_ending}",
    sts!("{tx}", 25),
    "rjmp 8f",
    "7:",
    "ldi r24, {tx_idle}",
    sts!("{tx}", 24),
    lds!(24, "{timsk1}"),
    "andi r24, {not_ocie1a}",
    sts!("{timsk1}", 24),
    "rjmp 9f",
    "8:",
    sts!("{tccr1a}", 24),
    lds!(30, "{ocr1a}"),
    lds!(31, "{ocr1a}+1"),
    lds!(24, "{timing}"),
    lds!(25, "{timing}+1"),
    "add r30, r24",
    "adc r31, r25",
    sts!("{ocr1a}+1", 31),
    sts!("{ocr1a}", 30),
    // The shared exit.
    "9:",
    pop!(31),
    pop!(30),
    pop!(25),
    pop!(24),
    "out 0x3f, r24",
    pop!(24),
    "reti",
    //
    ".global nanoesp_soft_rx_sample",
    "nanoesp_soft_rx_sample:",
    push!(24),
    "in r24, 0x3f",
    push!(24),
    push!(25),
    "in r25, {pinb}",
    "bst r25, 0",
    push!(30),
    push!(31),
    lds!(24, "{rx}"),
    "tst r24",
    "breq 9b",
    lds!(30, "{ocr1b}"),
    lds!(31, "{ocr1b}+1"),
    // TCNT1 - OCR1B in one register: `lds` leaves the carry alone.
    lds!(25, "{tcnt1}"),
    "sub r25, r30",
    lds!(25, "{tcnt1}+1"),
    "sbc r25, r31",
    "brmi 9b",
    "dec r24",
    sts!("{rx}", 24),
    "breq 4f",
    lds!(25, "{rx}+1"),
    "lsr r25",
    "bld r25, 7",
    sts!("{rx}+1", 25),
    lds!(25, "{timing}"),
    "add r30, r25",
    lds!(25, "{timing}+1"),
    "adc r31, r25",
    sts!("{ocr1b}+1", 31),
    sts!("{ocr1b}", 30),
    "cpi r24, 1",
    "brne 9b",
    "ldi r24, {icf1}",
    "out {tifr1}, r24",
    lds!(24, "{timsk1}"),
    "ori r24, {icie1}",
    sts!("{timsk1}", 24),
    "rjmp 9b",
    // The stop bit: high, the byte is pushed.
    "4:",
    "brtc 6f",
    lds!(24, "{rx}+1"),
    // Push r24 onto the receive ring, or count an error if it is full.
    "5:",
    lds!(25, "{rx_ring}+{rx_head}"),
    "mov r30, r25",
    "inc r30",
    "andi r30, {rx_mask}",
    lds!(31, "{rx_ring}+{rx_head}+1"),
    "cp r30, r31",
    "breq 6f",
    "mov r30, r25",
    "ldi r31, 0",
    "subi r30, lo8(-({rx_ring}))",
    "sbci r31, hi8(-({rx_ring}))",
    ".word 0x8380", // st Z, r24
    "inc r25",
    "andi r25, {rx_mask}",
    sts!("{rx_ring}+{rx_head}", 25),
    "rjmp 9b",
    "6:",
    lds!(24, "{rx_errors}"),
    "inc r24",
    "breq 10f",
    sts!("{rx_errors}", 24),
    // Within branch reach of the capture handler, which comes next.
    "10:",
    "rjmp 9b",
    //
    //
    ".global nanoesp_soft_capture",
    "nanoesp_soft_capture:",
    push!(24),
    "in r24, 0x3f",
    push!(24),
    push!(25),
    push!(30),
    push!(31),
    lds!(24, "{icr1}"),
    lds!(25, "{icr1}+1"),
    lds!(30, "{timing}+2"),
    lds!(31, "{timing}+3"),
    "add r30, r24",
    "adc r31, r25",
    sts!("{ocr1b}+1", 31),
    sts!("{ocr1b}", 30),
    lds!(24, "{timsk1}"),
    "andi r24, {not_icie1}",
    sts!("{timsk1}", 24),
    lds!(24, "{rx}"),
    "ldi r25, 9",
    sts!("{rx}", 25),
    "cpi r24, 1",
    "brne 10b",
    lds!(24, "{rx}+1"),
    "rjmp 5b",
    rx = sym RECEIVER,
    tx = sym TRANSMITTER,
    timing = sym TIMING,
    rx_ring = sym RX_RING,
    tx_ring = sym TX_RING,
    rx_errors = sym RX_ERRORS,
    rx_head = const Ring::<RX_RING_SIZE>::HEAD_OFFSET,
    rx_mask = const Ring::<RX_RING_SIZE>::INDEX_MASK,
    tx_head = const Ring::<TX_RING_SIZE>::HEAD_OFFSET,
    tx_mask = const Ring::<TX_RING_SIZE>::INDEX_MASK,
    pinb = const 0x03,
    tifr1 = const 0x16,
    timsk1 = const 0x6f,
    tccr1a = const 0x80,
    tcnt1 = const 0x84,
    icr1 = const 0x86,
    ocr1a = const 0x88,
    ocr1b = const 0x8a,
    icf1 = const TIFR1_ICF1,
    icie1 = const TIMSK1_ICIE1,
    not_icie1 = const !TIMSK1_ICIE1,
    not_ocie1a = const !TIMSK1_OCIE1A,
    clear_oc1a = const TCCR1A_CLEAR_OC1A,
    tx_ending = const TX_ENDING,
    tx_idle = const TX_IDLE,
);
