//! Millisecond clock on Timer0 (Timer1 belongs to the soft serial).
//!
//! CTC mode, clk/64, OCR0A = 249: 16 MHz / 64 / 250 = exactly 1 kHz (datasheet §15.7.2).
//! Bind `TIMER0_COMPA` to [`Clock::on_tick`].

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

    /// `TIMER0_COMPA` handler.
    #[inline(always)]
    pub fn on_tick() {
        // SAFETY: the only writer, inside its handler.
        let ms = unsafe { MILLIS.get() };
        *ms = ms.wrapping_add(1);
    }

    /// Milliseconds since the clock started.
    pub fn millis(&self) -> u32 {
        // SAFETY: interrupts are off, so the handler cannot update the value mid-read.
        avr_device::interrupt::free(|_| unsafe { *MILLIS.get() })
    }
}
