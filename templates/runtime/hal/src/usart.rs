//! USART0 on D0 (PD0 = RXD, from the peer's TX) and D1 (PD1 = TXD, to the peer's RX), which
//! also carry the Nano's USB-serial bridge.
//!
//! Receive is interrupt driven into a 64-byte ring (`on_rx_complete` must be bound to the
//! `USART_RX` vector by the firmware). Transmit is blocking on UDRE0: receive keeps running
//! in its interrupt while we wait, so nothing is lost, and the firmware's main loop produces
//! output in small chunks and drains the receive ring between them. A transmit ring would
//! cost 32–64 bytes of SRAM and a second interrupt for no gain in that loop.

use crate::ring::Ring;
use crate::serial::Serial;
use crate::F_CPU;
use avr_device::atmega328p::USART0;
use core::sync::atomic::{AtomicU8, Ordering};

/// UBRR0 value and U2X0 (double speed) bit for one baud rate.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct BaudSetting {
    /// Value for UBRR0 (12 bits).
    pub ubrr: u16,
    /// U2X0: divide by 8 instead of 16.
    pub double_speed: bool,
    /// Deviation of the real rate from the requested one, in tenths of a percent (rounded down).
    pub error_permille: u32,
}

const fn setting_for_divisor(baud: u32, divisor: u32) -> (u16, u32) {
    let scaled = baud * divisor;
    let ubrr = (F_CPU + scaled / 2) / scaled; // UBRR + 1, rounded to nearest
    let ubrr = if ubrr == 0 { 1 } else if ubrr > 4096 { 4096 } else { ubrr };
    let actual = F_CPU / (divisor * ubrr);
    let error = if actual > baud { actual - baud } else { baud - actual };
    ((ubrr - 1) as u16, error * 1000 / baud)
}

/// The UBRR0/U2X0 pair closest to `baud` at 16 MHz (datasheet §20.3.1, table 20-1). Normal
/// speed wins ties: its receiver samples each bit three times and tolerates more error.
pub const fn baud_setting(baud: u32) -> BaudSetting {
    let (normal, normal_error) = setting_for_divisor(baud, 16);
    let (double, double_error) = setting_for_divisor(baud, 8);
    if normal_error <= double_error {
        BaudSetting { ubrr: normal, double_speed: false, error_permille: normal_error }
    } else {
        BaudSetting { ubrr: double, double_speed: true, error_permille: double_error }
    }
}

static RX_RING: Ring<64> = Ring::new();
static RX_ERRORS: AtomicU8 = AtomicU8::new(0);

const UCSR0A_U2X0: u8 = 1 << 1;
const UCSR0A_DOR0: u8 = 1 << 3;
const UCSR0A_FE0: u8 = 1 << 4;
const UCSR0A_UDRE0: u8 = 1 << 5;
const UCSR0B_TXEN0: u8 = 1 << 3;
const UCSR0B_RXEN0: u8 = 1 << 4;
const UCSR0B_RXCIE0: u8 = 1 << 7;
const UCSR0C_8N1: u8 = 0b0000_0110; // UCSZ01:0 = 3 → 8 data bits, no parity, 1 stop (§20.11.4)

/// The hardware USART0, 8N1.
pub struct Usart0 {
    _regs: USART0,
}

fn regs() -> &'static avr_device::atmega328p::usart0::RegisterBlock {
    // SAFETY: `Usart0` owns USART0 (it consumed the peripheral token); the interrupt handler
    // only touches UCSR0A/UDR0 receive state, which the main-loop side never reads.
    unsafe { &*USART0::ptr() }
}

impl Usart0 {
    /// Configures USART0 for `BAUD` 8N1. With `rx_interrupt` the receive-complete interrupt
    /// fills the ring read by [`Serial::read_byte`]; bind `USART_RX` to [`Usart0::on_rx_complete`].
    ///
    /// Register order matters in simavr (virtual-bench.md §3.4): it derives the byte time
    /// from U2X0 and the frame format at the moment UBRR0L is written, so those go first.
    pub fn new<const BAUD: u32>(usart: USART0, rx_interrupt: bool) -> Self {
        let setting = const {
            let s = baud_setting(BAUD);
            assert!(s.error_permille <= 25, "baud rate is more than 2.5 % off at 16 MHz: pick another");
            s
        };
        let r = regs();
        r.ucsr0a().write(|w| unsafe { w.bits(if setting.double_speed { UCSR0A_U2X0 } else { 0 }) });
        r.ucsr0c().write(|w| unsafe { w.bits(UCSR0C_8N1) });
        // UBRR0 has no field API in avr-device 0.9; the 16-bit store writes UBRR0H before UBRR0L.
        r.ubrr0().write(|w| unsafe { w.bits(setting.ubrr) });
        let rx_enable = if rx_interrupt { UCSR0B_RXEN0 | UCSR0B_RXCIE0 } else { UCSR0B_RXEN0 };
        r.ucsr0b().write(|w| unsafe { w.bits(rx_enable | UCSR0B_TXEN0) });
        Self { _regs: usart }
    }

    /// Switches to `BAUD` at run time (the AT driver's baud negotiation), once the bytes
    /// already written have left: the last one may still be in the shift register, so this
    /// waits one frame at the slowest rate (9600 baud: about 1 ms) first.
    pub fn switch<const BAUD: u32>(&mut self) {
        let setting = const {
            let s = baud_setting(BAUD);
            assert!(s.error_permille <= 25, "baud rate is more than 2.5 % off at 16 MHz: pick another");
            s
        };
        let r = regs();
        while r.ucsr0a().read().bits() & UCSR0A_UDRE0 == 0 {}
        avr_device::asm::delay_cycles(F_CPU / 960);
        r.ucsr0a().write(|w| unsafe { w.bits(if setting.double_speed { UCSR0A_U2X0 } else { 0 }) });
        r.ubrr0().write(|w| unsafe { w.bits(setting.ubrr) });
    }

    /// Receive-complete interrupt body: moves UDR0 into the ring, counting framing errors,
    /// hardware overruns and ring overflows.
    #[inline(always)]
    pub fn on_rx_complete() {
        let r = regs();
        let status = r.ucsr0a().read().bits();
        let byte = r.udr0().read().bits();
        if status & (UCSR0A_FE0 | UCSR0A_DOR0) != 0 || !RX_RING.push(byte) {
            count_error(&RX_ERRORS);
        }
    }

    /// Receive errors (framing, overrun, ring full) since reset, saturating at 255.
    pub fn rx_errors(&self) -> u8 {
        RX_ERRORS.load(Ordering::Relaxed)
    }
}

/// Counts one receive error, saturating (no `saturating_add`: it compiles to a longer
/// select).
pub(crate) fn count_error(counter: &AtomicU8) {
    let n = counter.load(Ordering::Relaxed);
    if n != u8::MAX {
        counter.store(n + 1, Ordering::Relaxed);
    }
}

impl Serial for Usart0 {
    fn read_byte(&mut self) -> Option<u8> {
        RX_RING.pop()
    }

    fn write_byte(&mut self, byte: u8) {
        let r = regs();
        while r.ucsr0a().read().bits() & UCSR0A_UDRE0 == 0 {}
        r.udr0().write(|w| unsafe { w.bits(byte) });
    }
}
