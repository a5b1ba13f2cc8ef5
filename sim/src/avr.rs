//! Safe wrapper around the C shim (`csrc/shim.c`) that owns one simulated ATmega328P.
//!
//! The shim keeps simavr's structures out of Rust; this module turns its calls into
//! methods on [`Avr`] and converts Arduino pin names into port/bit pairs.

use std::ffi::CString;
use std::os::raw::{c_char, c_int};
use std::path::Path;

use crate::error::SimError;

/// Core clock of a Nano.
pub const F_CPU: u64 = 16_000_000;

/// ATmega328P MCUSR bits (datasheet 10.9.1).
pub const MCUSR_PORF: u8 = 0x01;
/// External reset flag: what optiboot checks before it waits for avrdude.
pub const MCUSR_EXTRF: u8 = 0x02;

/// Data-space addresses of USART0 registers (datasheet 20.11).
pub const UCSR0A: u16 = 0xC0;
/// Baud rate register, low byte.
pub const UBRR0L: u16 = 0xC4;

#[repr(C)]
struct RawSim {
    _private: [u8; 0],
}

unsafe extern "C" {
    fn nsim_new(frequency: u32) -> *mut RawSim;
    fn nsim_free(s: *mut RawSim);
    fn nsim_load_elf(s: *mut RawSim, path: *const c_char) -> c_int;
    fn nsim_flash_size(s: *mut RawSim) -> u32;
    fn nsim_flash_write(s: *mut RawSim, addr: u32, data: *const u8, len: u32);
    fn nsim_flash_read(s: *mut RawSim, out: *mut u8, len: u32);
    fn nsim_set_reset_pc(s: *mut RawSim, pc: u32);
    fn nsim_reset(s: *mut RawSim, mcusr: u8);
    fn nsim_resets(s: *mut RawSim) -> u32;
    fn nsim_cycle(s: *mut RawSim) -> u64;
    fn nsim_state(s: *mut RawSim) -> c_int;
    fn nsim_pc(s: *mut RawSim) -> u32;
    fn nsim_run(s: *mut RawSim, until: u64) -> c_int;
    fn nsim_uart_push(s: *mut RawSim, data: *const u8, len: u32) -> u32;
    fn nsim_uart_in_queued(s: *mut RawSim) -> u32;
    fn nsim_uart_inject(s: *mut RawSim, byte: u8) -> c_int;
    fn nsim_uart_rx_pending(s: *mut RawSim) -> c_int;
    fn nsim_uart_pop(s: *mut RawSim, bytes: *mut u8, cycles: *mut u64, max: u32) -> u32;
    fn nsim_uart_cycles_per_bit(s: *mut RawSim) -> u32;
    fn nsim_uart_cycles_per_byte(s: *mut RawSim) -> u32;
    fn nsim_uart_enabled(s: *mut RawSim) -> c_int;
    fn nsim_pin_watch(s: *mut RawSim, port: c_char, bit: c_int, id: c_int) -> c_int;
    fn nsim_pin_edges(
        s: *mut RawSim,
        cycles: *mut u64,
        pins: *mut u8,
        levels: *mut u8,
        max: u32,
    ) -> u32;
    fn nsim_pin_level(s: *mut RawSim, port: c_char, bit: c_int) -> c_int;
    fn nsim_pin_drive(s: *mut RawSim, port: c_char, bit: c_int, level: c_int);
    fn nsim_adc_set_mv(s: *mut RawSim, channel: c_int, millivolts: u32);
    fn nsim_data_read(s: *mut RawSim, addr: u16) -> u8;
    fn nsim_data_write(s: *mut RawSim, addr: u16, value: u8);
    fn nsim_trace_enable(s: *mut RawSim);
    fn nsim_timer1_latency_take(
        s: *mut RawSim,
        tx: *mut u32,
        rx: *mut u32,
        sample_min: *mut u32,
        sample_max: *mut u32,
        start_margin_min: *mut i32,
        starts_missed: *mut u32,
    );
    fn nsim_trace_pop(
        s: *mut RawSim,
        cycles: *mut u64,
        what: *mut u16,
        values: *mut u16,
        max: u32,
    ) -> u32;
}

/// A port pin of the ATmega328P, e.g. PB0 (Arduino D8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin {
    /// Port letter: `b'B'`, `b'C'` or `b'D'`.
    pub port: u8,
    /// Bit 0..=7 within the port.
    pub bit: u8,
}

impl Pin {
    /// Parses an Arduino Nano pin name: `D0`–`D13`, `A0`–`A5` (case-insensitive).
    pub fn from_arduino(name: &str) -> Option<Pin> {
        let upper = name.trim().to_ascii_uppercase();
        let (kind, num) = upper.split_at(1.min(upper.len()));
        let n: u8 = num.parse().ok()?;
        let (port, bit) = match (kind, n) {
            ("D", 0..=7) => (b'D', n),
            ("D", 8..=13) => (b'B', n - 8),
            ("A", 0..=5) => (b'C', n),
            _ => return None,
        };
        Some(Pin { port, bit })
    }
}

impl std::fmt::Display for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "P{}{}", self.port as char, self.bit)
    }
}

/// State of the simulated core after a run slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoreState {
    /// Executing or sleeping with interrupts enabled.
    Alive,
    /// Slept with interrupts disabled: simavr stops, as the chip would hang forever.
    Done,
    /// Ran off the end of flash or hit an invalid opcode.
    Crashed,
    /// Any other simavr state (stopped, gdb step).
    Other(i32),
}

/// One level change on a watched pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edge {
    /// Cycle at which the level changed.
    pub cycle: u64,
    /// The id given to [`Avr::watch_pin`].
    pub pin: u8,
    /// New level.
    pub level: bool,
}

/// One simulated ATmega328P at 16 MHz.
pub struct Avr {
    raw: *mut RawSim,
}

impl Avr {
    /// Creates a core with erased (0xFF) flash, stopped at cycle 0.
    pub fn new() -> Result<Avr, SimError> {
        // SAFETY: nsim_new has no preconditions; null means simavr lacks the core.
        let raw = unsafe { nsim_new(F_CPU as u32) };
        if raw.is_null() {
            return Err(SimError::Simavr("libsimavr has no atmega328p core".into()));
        }
        Ok(Avr { raw })
    }

    /// Loads the flash contents of an ELF file with simavr's loader.
    pub fn load_elf(&mut self, path: &Path) -> Result<(), SimError> {
        let c = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| SimError::Firmware(path.into(), "path contains NUL".into()))?;
        // SAFETY: raw is valid for our lifetime; c is a NUL-terminated path.
        let rc = unsafe { nsim_load_elf(self.raw, c.as_ptr()) };
        match rc {
            0 => Ok(()),
            -3 => Err(SimError::Firmware(
                path.into(),
                "image does not fit in 32 KiB flash".into(),
            )),
            _ => Err(SimError::Firmware(
                path.into(),
                "not a readable AVR ELF file".into(),
            )),
        }
    }

    /// Flash size in bytes (32768).
    pub fn flash_size(&self) -> usize {
        // SAFETY: raw is valid.
        unsafe { nsim_flash_size(self.raw) as usize }
    }

    /// Writes bytes into flash at a byte address (clipped at the end of flash).
    pub fn write_flash(&mut self, addr: u32, data: &[u8]) {
        // SAFETY: pointer/len describe `data`; the shim clips to the flash size.
        unsafe { nsim_flash_write(self.raw, addr, data.as_ptr(), data.len() as u32) }
    }

    /// Copies the whole flash.
    pub fn read_flash(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.flash_size()];
        // SAFETY: out holds flash_size bytes.
        unsafe { nsim_flash_read(self.raw, out.as_mut_ptr(), out.len() as u32) };
        out
    }

    /// Where execution starts after any reset (the BOOTRST fuse: bootloader base or 0).
    pub fn set_reset_pc(&mut self, byte_addr: u32) {
        // SAFETY: raw is valid.
        unsafe { nsim_set_reset_pc(self.raw, byte_addr) }
    }

    /// Resets the core like the RESET pin, leaving `mcusr` in MCUSR.
    pub fn reset(&mut self, mcusr: u8) {
        // SAFETY: raw is valid.
        unsafe { nsim_reset(self.raw, mcusr) }
    }

    /// Number of core resets so far (external and watchdog).
    pub fn resets(&self) -> u32 {
        // SAFETY: raw is valid.
        unsafe { nsim_resets(self.raw) }
    }

    /// Current cycle count.
    pub fn cycle(&self) -> u64 {
        // SAFETY: raw is valid.
        unsafe { nsim_cycle(self.raw) }
    }

    /// Program counter (byte address).
    pub fn pc(&self) -> u32 {
        // SAFETY: raw is valid.
        unsafe { nsim_pc(self.raw) }
    }

    /// State of the core without running it.
    pub fn state(&self) -> CoreState {
        // SAFETY: raw is valid.
        Self::decode_state(unsafe { nsim_state(self.raw) })
    }

    /// Runs until the cycle counter reaches `until` (or the core stops).
    pub fn run_until(&mut self, until: u64) -> CoreState {
        // SAFETY: raw is valid.
        Self::decode_state(unsafe { nsim_run(self.raw, until) })
    }

    fn decode_state(raw: c_int) -> CoreState {
        // simavr's enum: Limbo, Stopped, Running, Sleeping, Step, StepDone, Done, Crashed
        match raw {
            2 | 3 => CoreState::Alive,
            6 => CoreState::Done,
            7 => CoreState::Crashed,
            other => CoreState::Other(other),
        }
    }

    /// Queues bytes for USART0 RX with flow control (simavr's XON/XOFF); returns how many
    /// fitted in the shim's queue.
    pub fn uart_push(&mut self, data: &[u8]) -> usize {
        // SAFETY: pointer/len describe `data`.
        unsafe { nsim_uart_push(self.raw, data.as_ptr(), data.len() as u32) as usize }
    }

    /// Bytes still waiting in the shim's RX queue.
    pub fn uart_queued(&self) -> usize {
        // SAFETY: raw is valid.
        unsafe { nsim_uart_in_queued(self.raw) as usize }
    }

    /// Hands one byte to the USART0 receiver now, without flow control. Returns false if
    /// the receiver is disabled or its FIFO is full.
    pub fn uart_inject(&mut self, byte: u8) -> bool {
        // SAFETY: raw is valid.
        unsafe { nsim_uart_inject(self.raw, byte) != 0 }
    }

    /// Bytes received by USART0 that the firmware has not read yet.
    pub fn uart_rx_pending(&self) -> usize {
        // SAFETY: raw is valid.
        unsafe { nsim_uart_rx_pending(self.raw).max(0) as usize }
    }

    /// Bytes the firmware wrote to UDR0 since the last call, with the cycle of each write.
    pub fn uart_take(&mut self, out: &mut Vec<(u64, u8)>) {
        let mut bytes = [0u8; 256];
        let mut cycles = [0u64; 256];
        loop {
            // SAFETY: both buffers hold 256 entries.
            let n = unsafe {
                nsim_uart_pop(self.raw, bytes.as_mut_ptr(), cycles.as_mut_ptr(), 256) as usize
            };
            out.extend(cycles[..n].iter().copied().zip(bytes[..n].iter().copied()));
            if n < 256 {
                break;
            }
        }
    }

    /// USART0 bit period in cycles as configured by UBRR0/U2X0.
    pub fn uart_cycles_per_bit(&self) -> u32 {
        // SAFETY: raw is valid.
        unsafe { nsim_uart_cycles_per_bit(self.raw) }
    }

    /// USART0 frame period in cycles (after the shim's 10-bit correction for 8N1).
    pub fn uart_cycles_per_byte(&self) -> u32 {
        // SAFETY: raw is valid.
        unsafe { nsim_uart_cycles_per_byte(self.raw) }
    }

    /// Whether the firmware has enabled the USART0 receiver.
    pub fn uart_enabled(&self) -> bool {
        // SAFETY: raw is valid.
        unsafe { nsim_uart_enabled(self.raw) != 0 }
    }

    /// Records every level change of `pin` under `id` (at most 4 pins).
    pub fn watch_pin(&mut self, pin: Pin, id: u8) -> Result<(), SimError> {
        // SAFETY: raw is valid.
        let rc =
            unsafe { nsim_pin_watch(self.raw, pin.port as c_char, pin.bit as c_int, id as c_int) };
        if rc == 0 {
            Ok(())
        } else {
            Err(SimError::Simavr(format!("cannot watch pin {pin}")))
        }
    }

    /// Level changes of watched pins since the last call, oldest first.
    pub fn take_edges(&mut self, out: &mut Vec<Edge>) {
        let mut cycles = [0u64; 256];
        let mut pins = [0u8; 256];
        let mut levels = [0u8; 256];
        loop {
            // SAFETY: all buffers hold 256 entries.
            let n = unsafe {
                nsim_pin_edges(
                    self.raw,
                    cycles.as_mut_ptr(),
                    pins.as_mut_ptr(),
                    levels.as_mut_ptr(),
                    256,
                ) as usize
            };
            out.extend((0..n).map(|i| Edge {
                cycle: cycles[i],
                pin: pins[i],
                level: levels[i] != 0,
            }));
            if n < 256 {
                break;
            }
        }
    }

    /// Electrical level of a pin as simavr currently sees it.
    pub fn pin_level(&self, pin: Pin) -> bool {
        // SAFETY: raw is valid.
        unsafe { nsim_pin_level(self.raw, pin.port as c_char, pin.bit as c_int) > 0 }
    }

    /// Drives an input pin from outside (PCINT and, on PB0, Timer1 input capture see it).
    pub fn drive_pin(&mut self, pin: Pin, level: bool) {
        // SAFETY: raw is valid.
        unsafe {
            nsim_pin_drive(
                self.raw,
                pin.port as c_char,
                pin.bit as c_int,
                level as c_int,
            )
        }
    }

    /// Sets the voltage on ADC channel 0..=7 in millivolts (AVcc = AREF = 5000 mV).
    pub fn set_adc_mv(&mut self, channel: u8, millivolts: u32) {
        // SAFETY: raw is valid; the shim ignores channels > 7.
        unsafe { nsim_adc_set_mv(self.raw, channel as c_int, millivolts) }
    }

    /// Reads a byte of data space (registers, I/O, SRAM) without side effects.
    pub fn peek(&self, addr: u16) -> u8 {
        // SAFETY: raw is valid; the shim bounds-checks.
        unsafe { nsim_data_read(self.raw, addr) }
    }

    /// Fills the whole SRAM with [`RAM_PAINT`] before the firmware starts, so
    /// [`Avr::sram_touched`] can later tell how much of it the firmware ever used.
    pub fn paint_sram(&mut self) {
        for addr in SRAM_START..=SRAM_END {
            // SAFETY: raw is valid; the shim bounds-checks.
            unsafe { nsim_data_write(self.raw, addr, RAM_PAINT) }
        }
    }

    /// SRAM bytes the firmware has written since [`Avr::paint_sram`]: static data plus the
    /// deepest the stack went, i.e. everything but the longest stretch of paint left (the
    /// gap between the end of `.bss` and the stack's low-water mark). A used byte that
    /// happens to hold the paint value next to the gap is missed, so this can be a few
    /// bytes low.
    pub fn sram_touched(&self) -> u16 {
        let sram: Vec<u8> = (SRAM_START..=SRAM_END).map(|a| self.peek(a)).collect();
        touched(&sram) as u16
    }
}

/// Bytes of `sram` outside its longest run of [`RAM_PAINT`].
fn touched(sram: &[u8]) -> usize {
    let (mut longest, mut run) = (0, 0);
    for &byte in sram {
        if byte == RAM_PAINT {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    sram.len() - longest
}

/// Lateness of the Timer1 compare handlers (see [`Avr::timer1_latency_take`]), in cycles
/// after their match. A handler that moves its compare on by one bit must do so within a
/// bit time; the receive handler's pin read is its sample of the bit.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct HandlerLatency {
    /// Longest until compare A's handler wrote OCR1A (the next transmit edge).
    pub tx_reload_max: u32,
    /// Longest until compare B's handler wrote OCR1B (the next receive sample).
    pub rx_reload_max: u32,
    /// Earliest and latest PINB read by compare B's handler (0 if it never sampled).
    pub rx_sample_min: u32,
    pub rx_sample_max: u32,
    /// Least time the capture handler (a start bit) left between setting the frame's
    /// first sample and that sample's match (0 if no frame started). At zero or below
    /// the match has passed, and the frame's samples come a timer period late.
    pub rx_start_margin_min: i32,
    /// Frames whose first sample the capture handler set too late.
    pub rx_starts_missed: u32,
}

/// ATmega328P internal SRAM (data space 0x100..=0x8FF, 2 KiB).
const SRAM_START: u16 = 0x100;
const SRAM_END: u16 = 0x8FF;
/// Fill byte of untouched SRAM: not 0 (`.bss` and cleared locals) nor 0xFF.
pub const RAM_PAINT: u8 = 0xA5;

impl Avr {
    /// How late the soft UART's Timer1 compare handlers ran since the last call, in
    /// cycles after the match that raised them; starts over.
    pub fn timer1_latency_take(&mut self) -> HandlerLatency {
        let mut l = HandlerLatency::default();
        // SAFETY: raw is valid; the pointers are to fields of a local.
        unsafe {
            nsim_timer1_latency_take(
                self.raw,
                &mut l.tx_reload_max,
                &mut l.rx_reload_max,
                &mut l.rx_sample_min,
                &mut l.rx_sample_max,
                &mut l.rx_start_margin_min,
                &mut l.rx_starts_missed,
            )
        };
        l
    }

    /// Starts recording Timer1/PORTB register writes and OC1x output events (diagnostics).
    pub fn trace_enable(&mut self) {
        // SAFETY: raw is valid.
        unsafe { nsim_trace_enable(self.raw) }
    }

    /// The recorded events (at most the last 256): (cycle, register address or 0x100 + n
    /// for an OC1x output event, value).
    pub fn take_trace(&mut self) -> Vec<(u64, u16, u16)> {
        let mut cycles = [0u64; 256];
        let mut what = [0u16; 256];
        let mut values = [0u16; 256];
        // SAFETY: all buffers hold 256 entries.
        let n = unsafe {
            nsim_trace_pop(
                self.raw,
                cycles.as_mut_ptr(),
                what.as_mut_ptr(),
                values.as_mut_ptr(),
                256,
            ) as usize
        };
        (0..n).map(|i| (cycles[i], what[i], values[i])).collect()
    }
}

/// Name of a register or event recorded by [`Avr::take_trace`].
pub fn trace_name(what: u16) -> String {
    match what {
        0x24 => "DDRB".into(),
        0x25 => "PORTB".into(),
        0x36 => "TIFR1".into(),
        0x6F => "TIMSK1".into(),
        0x80 => "TCCR1A".into(),
        0x81 => "TCCR1B".into(),
        0x82 => "TCCR1C".into(),
        0x88 => "OCR1A".into(),
        0x8A => "OCR1B".into(),
        0x100 => "OC1A-out".into(),
        0x101 => "OC1B-out".into(),
        0x110 => "skipped-COMPA-fired".into(),
        0x111 => "skipped-COMPB-fired".into(),
        0x120 => "TOV-OC1A-undone".into(),
        0x121 => "TOV-OC1B-undone".into(),
        0x130 => "OCR-write-OC1A-undone".into(),
        0x131 => "OCR-write-OC1B-undone".into(),
        other => format!("{other:#x}"),
    }
}

impl Drop for Avr {
    fn drop(&mut self) {
        // SAFETY: raw came from nsim_new and is freed once.
        unsafe { nsim_free(self.raw) }
    }
}

/// Converts cycles to simulated microseconds.
pub fn cycles_to_us(cycles: u64) -> u64 {
    cycles / (F_CPU / 1_000_000)
}

/// Converts simulated microseconds to cycles.
pub fn us_to_cycles(us: u64) -> u64 {
    us * (F_CPU / 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sram_use_is_everything_but_the_untouched_gap() {
        // static data, an unused gap, a stray paint byte in the stack, the stack
        let mut sram = vec![0u8; 100];
        sram.extend([RAM_PAINT; 1000]);
        sram.extend([1, RAM_PAINT, 2]);
        sram.extend([3u8; 945]);
        assert_eq!(touched(&sram), 2048 - 1000);
        assert_eq!(touched(&[RAM_PAINT; 2048]), 0);
        assert_eq!(touched(&[0; 2048]), 2048);
    }

    #[test]
    fn arduino_pin_names_map_to_ports() {
        assert_eq!(Pin::from_arduino("D8"), Some(Pin { port: b'B', bit: 0 }));
        assert_eq!(Pin::from_arduino("d9"), Some(Pin { port: b'B', bit: 1 }));
        assert_eq!(Pin::from_arduino("D2"), Some(Pin { port: b'D', bit: 2 }));
        assert_eq!(Pin::from_arduino("A5"), Some(Pin { port: b'C', bit: 5 }));
        assert_eq!(Pin::from_arduino("A6"), None);
        assert_eq!(Pin::from_arduino("D14"), None);
        assert_eq!(Pin::from_arduino(""), None);
    }
}
