//! Millisecond clock on Timer0 (Timer1 belongs to the soft serial).
//!
//! CTC mode, clk/64, OCR0A = 249: 16 MHz / 64 / 250 = exactly 1 kHz (datasheet §15.7.2).
//! The `TIMER0_COMPA` handler is [`on_tick`], bound by its symbol name (`__vector_14`).

use crate::isr_cell::IsrCell;
use avr_device::atmega328p::TC0;

const TCCR0A_CTC: u8 = 1 << 1; // WGM01
const TCCR0B_CLK_DIV64: u8 = 0b011; // CS02:0
const TIMSK0_OCIE0A: u8 = 1 << 1;
const TICKS_PER_MS: u8 = 250;

// Written by the TIMER0_COMPA handler; read with interrupts off (four bytes are not atomic).
static MILLIS: IsrCell<u32> = IsrCell::new(0);

/// Milliseconds since [`Clock::new`], wrapping after ~49.7 days.
pub struct Clock {
    _timer: TC0,
}

impl Clock {
    /// Starts the 1 ms tick. Interrupts must be enabled by the caller afterwards.
    pub fn new(timer: TC0) -> Self {
        // SAFETY: `Clock` consumed the TC0 token.
        let t = unsafe { &*TC0::ptr() };
        // OCR0A after the mode is complete: simavr 1.6 only accepts an OCR0A write once
        // TCCR0B has selected CTC ("avr_timer_write_ocr ... UNSUPPORTED" otherwise). The
        // first timer tick is 64 cycles away, so the order changes nothing on silicon.
        t.tccr0a().write(|w| unsafe { w.bits(TCCR0A_CTC) });
        t.tccr0b().write(|w| unsafe { w.bits(TCCR0B_CLK_DIV64) });
        t.ocr0a().write(|w| unsafe { w.bits(TICKS_PER_MS - 1) });
        t.timsk0().write(|w| unsafe { w.bits(TIMSK0_OCIE0A) });
        Self { _timer: timer }
    }

    /// Milliseconds since the clock started.
    pub fn millis(&self) -> u32 {
        // SAFETY: interrupts are off, so the handler cannot update the value mid-read.
        avr_device::interrupt::free(|_| unsafe { *MILLIS.get() })
    }
}

/// The `TIMER0_COMPA` handler (`__vector_14`), in assembly: adds 1 to [`MILLIS`] a byte at
/// a time, up to the first byte that does not wrap, in one saved register. LLVM added all
/// four bytes in four (70 B and 45 cycles with entry and exit; this is 60 B, 22 cycles on
/// 255 ticks of 256), and inline assembly in a handler also saves and clears r1.
///
/// `push`, `pop`, `lds` and `sts` are spelled as their opcode words (`lds r24, k` is 0x9180
/// and the address, `sts k, r24` 0x9380 and the address): a naked function's text is
/// assembled for the baseline AVR, which has none of them.
#[unsafe(naked)]
#[unsafe(export_name = "__vector_14")]
pub unsafe extern "C" fn on_tick() {
    core::arch::naked_asm!(
        ".word 0x938f", // push r24
        "in r24, 0x3f",
        ".word 0x938f", // push r24
        ".word 0x9180, {ms}",
        "inc r24",
        ".word 0x9380, {ms}",
        "brne 1f",
        ".word 0x9180, {ms}+1",
        "inc r24",
        ".word 0x9380, {ms}+1",
        "brne 1f",
        ".word 0x9180, {ms}+2",
        "inc r24",
        ".word 0x9380, {ms}+2",
        "brne 1f",
        ".word 0x9180, {ms}+3",
        "inc r24",
        ".word 0x9380, {ms}+3",
        "1:",
        ".word 0x918f", // pop r24
        "out 0x3f, r24",
        ".word 0x918f", // pop r24
        "reti",
        ms = sym MILLIS,
    )
}
