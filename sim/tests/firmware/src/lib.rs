//! Shared pieces of the test firmwares: raw register access (datasheet addresses, so the
//! tests do not depend on a PAC's API details), USART0 in the order simavr needs, and a
//! software UART on PB0/PB1 timed by Timer1 (busy-wait TX, input-capture RX).
#![no_std]

use core::ptr::{read_volatile, write_volatile};

/// Core clock.
pub const F_CPU: u32 = 16_000_000;

// Data-space addresses (ATmega328P datasheet, register summary).
pub const PINB: u8 = 0x23;
pub const DDRB: u8 = 0x24;
pub const PORTB: u8 = 0x25;
pub const TIFR1: u8 = 0x36;
pub const TIMSK1: u8 = 0x6F;
pub const TCCR1A: u8 = 0x80;
pub const TCCR1B: u8 = 0x81;
pub const TCNT1L: u8 = 0x84;
pub const ICR1L: u8 = 0x86;
pub const UCSR0A: u8 = 0xC0;
pub const UCSR0B: u8 = 0xC1;
pub const UCSR0C: u8 = 0xC2;
pub const UBRR0L: u8 = 0xC4;
pub const UBRR0H: u8 = 0xC5;
pub const UDR0: u8 = 0xC6;

#[inline(always)]
pub fn read(addr: u8) -> u8 {
    // SAFETY: a valid I/O register address of the ATmega328P.
    unsafe { read_volatile(addr as usize as *const u8) }
}

#[inline(always)]
pub fn write(addr: u8, value: u8) {
    // SAFETY: a valid I/O register address of the ATmega328P.
    unsafe { write_volatile(addr as usize as *mut u8, value) }
}

/// Reads a 16-bit timer register: low byte first latches the high byte (datasheet 16.3).
#[inline(always)]
pub fn read16(addr_low: u8) -> u16 {
    let lo = read(addr_low) as u16;
    let hi = read(addr_low + 1) as u16;
    lo | hi << 8
}

/// USART0, 8N1, U2X; registers in the order simavr 1.6 needs (U2X0, UCSR0C, UBRR0, UCSR0B).
pub fn usart_init(ubrr: u16) {
    write(UCSR0A, 1 << 1); // U2X0
    write(UCSR0C, 0x06); // 8N1
    write(UBRR0H, (ubrr >> 8) as u8);
    write(UBRR0L, ubrr as u8);
    write(UCSR0B, (1 << 4) | (1 << 3)); // RXEN0 | TXEN0
}

pub fn usart_write(byte: u8) {
    while read(UCSR0A) & (1 << 5) == 0 {} // UDRE0
    write(UDR0, byte);
}

pub fn usart_write_all(bytes: &[u8]) {
    for &b in bytes {
        usart_write(b);
    }
}

pub fn usart_read() -> Option<u8> {
    if read(UCSR0A) & (1 << 7) != 0 {
        Some(read(UDR0))
    } else {
        None
    }
}

/// Software UART at `BAUD` on PB0 (RX, ICP1) and PB1 (TX).
pub struct Soft<const BAUD: u32>;

impl<const BAUD: u32> Soft<BAUD> {
    /// Bit k's start, in Timer1 ticks from the frame start (cumulative rounding).
    const fn edge(k: u32) -> u16 {
        ((k * F_CPU + BAUD / 2) / BAUD) as u16
    }
    /// Sample point of data bit i (and i = 8: the stop bit), 1.5 + i bits after the start edge.
    const fn centre(i: u32) -> u16 {
        (((2 * i + 3) * F_CPU + BAUD) / (2 * BAUD)) as u16
    }
    const EDGES: [u16; 11] = {
        let mut t = [0u16; 11];
        let mut k = 0;
        while k < 11 {
            t[k] = Self::edge(k as u32);
            k += 1;
        }
        t
    };
    const CENTRES: [u16; 9] = {
        let mut t = [0u16; 9];
        let mut i = 0;
        while i < 9 {
            t[i] = Self::centre(i as u32);
            i += 1;
        }
        t
    };

    /// Timer1 free-running at clk/1, PB1 idle high, PB0 input with pull-up, capture on the
    /// falling edge with its interrupt enabled.
    pub fn init() {
        write(PORTB, read(PORTB) | 0b11);
        write(DDRB, (read(DDRB) | 0b10) & !0b01);
        write(TCCR1A, 0);
        write(TCCR1B, 1); // CS10, ICES1 = 0: falling edge
        write(TIFR1, 1 << 5);
        write(TIMSK1, 1 << 5); // ICIE1
    }

    /// Sends one frame with interrupts off; each level is computed before its wait so every
    /// edge sits on the grid.
    pub fn write(byte: u8) {
        avr_device::interrupt::free(|_| {
            let frame: u16 = ((byte as u16) << 1) | 0x200;
            let start = read16(TCNT1L).wrapping_add(32);
            let mut k = 0;
            while k < 10 {
                let high = frame >> k & 1 != 0;
                let at = start.wrapping_add(Self::EDGES[k]);
                while (read16(TCNT1L).wrapping_sub(at) as i16) < 0 {}
                if high {
                    write(PORTB, read(PORTB) | 0b10);
                } else {
                    write(PORTB, read(PORTB) & !0b10);
                }
                k += 1;
            }
            let end = start.wrapping_add(Self::EDGES[10]);
            while (read16(TCNT1L).wrapping_sub(end) as i16) < 0 {}
        });
    }

    /// Called from TIMER1_CAPT: ICR1 holds the start edge; samples the frame at bit centres
    /// by polling Timer1. Returns the byte, or None on a framing error.
    pub fn receive_after_capture() -> Option<u8> {
        let start = read16(ICR1L);
        let mut byte = 0u8;
        let mut i = 0;
        while i < 9 {
            let at = start.wrapping_add(Self::CENTRES[i]);
            while (read16(TCNT1L).wrapping_sub(at) as i16) < 0 {}
            let bit = read(PINB) & 1;
            if i < 8 {
                byte |= bit << i;
            } else if bit == 0 {
                write(TIFR1, 1 << 5);
                return None;
            }
            i += 1;
        }
        // data bits' falling edges captured meanwhile: not start bits
        write(TIFR1, 1 << 5);
        Some(byte)
    }
}

/// A tiny single-producer single-consumer byte ring for ISR → main loop.
pub struct Ring {
    buf: [u8; 64],
    head: u8,
    tail: u8,
}

impl Ring {
    pub const fn new() -> Ring {
        Ring { buf: [0; 64], head: 0, tail: 0 }
    }
    pub fn push(&mut self, b: u8) {
        let next = (self.head + 1) & 63;
        if next != self.tail {
            self.buf[self.head as usize] = b;
            self.head = next;
        }
    }
    pub fn pop(&mut self) -> Option<u8> {
        if self.head == self.tail {
            return None;
        }
        let b = self.buf[self.tail as usize];
        self.tail = (self.tail + 1) & 63;
        Some(b)
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}

/// A USART0 (115200 baud) <-> software UART bridge at `$baud` on D8 (RX, ICP1) / D9 (TX) that
/// first prints `BRIDGE READY <baud>` on the console. Each `soft-bridge-*` test firmware is one
/// invocation, so the three rates share one program.
#[macro_export]
macro_rules! soft_bridge {
    ($baud:literal) => {
        type Link = $crate::Soft<$baud>;
        static mut RX: $crate::Ring = $crate::Ring::new();

        #[avr_device::interrupt(atmega328p)]
        fn TIMER1_CAPT() {
            if let Some(b) = Link::receive_after_capture() {
                // SAFETY: only this handler pushes; main pops with interrupts off.
                unsafe { (*core::ptr::addr_of_mut!(RX)).push(b) }
            }
        }

        #[avr_device::entry]
        fn main() -> ! {
            $crate::usart_init(16);
            Link::init();
            // SAFETY: everything the handler uses is initialised.
            unsafe { avr_device::interrupt::enable() };
            $crate::usart_write_all(concat!("BRIDGE READY ", stringify!($baud), "\r\n").as_bytes());
            loop {
                if let Some(b) = $crate::usart_read() {
                    Link::write(b);
                }
                // SAFETY: popping with interrupts off, the handler only pushes.
                let got =
                    avr_device::interrupt::free(|_| unsafe { (*core::ptr::addr_of_mut!(RX)).pop() });
                if let Some(b) = got {
                    $crate::usart_write(b);
                }
            }
        }
    };
}
