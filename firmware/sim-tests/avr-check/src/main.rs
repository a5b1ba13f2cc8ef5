//! Runs `nanoesp_http::progmem::lookup` and `nanoesp_http::sink::put_u32`, which are AVR
//! assembly on this target and Rust on the host, over fixed and generated inputs, and
//! prints one line per case on USART0 (115200 baud):
//!
//! - `L <line> <entry>`: `lookup` of every line of 0–4 bytes over `a`, `b`, `c` in
//!   [`TABLE`] (`-` for no match);
//! - `U <hex> <decimal>`: `put_u32` of a value, the value itself in hexadecimal by a
//!   nibble loop that shares no code with `put_u32`;
//!
//! then `DONE`. The host test works out every expected answer itself.
#![no_std]
#![no_main]

use core::ptr::{read_volatile, write_volatile};
use nanoesp_http::progmem::lookup;
use nanoesp_http::pstr;
use nanoesp_http::sink::{put_u32, Window};

const UCSR0A: *mut u8 = 0xC0 as *mut u8;
const UCSR0B: *mut u8 = 0xC1 as *mut u8;
const UCSR0C: *mut u8 = 0xC2 as *mut u8;
const UBRR0L: *mut u8 = 0xC4 as *mut u8;
const UDR0: *mut u8 = 0xC6 as *mut u8;

/// The lookup table under test, as the request parser's: `=` the whole line, `^` its
/// start, then the text and a 0 byte. Kept in step with `TABLE` in the host test.
const TABLE: &[u8] = b"=a\0^ab\0=abc\0^b\0=ca\0^cab\0=\0^c\0";

/// Values every division must get right: the ends of each byte width and of the decimal
/// digit counts.
const EDGES: [u32; 16] = [
    0,
    1,
    9,
    10,
    99,
    100,
    255,
    256,
    65_535,
    65_536,
    999_999_999,
    1_000_000_000,
    2_147_483_647,
    2_147_483_648,
    4_294_967_294,
    u32::MAX,
];

/// How many pseudo-random values follow the edges (xorshift32 from seed 1, as the host).
const RANDOM_VALUES: u16 = 400;

fn write(byte: u8) {
    // SAFETY: USART0's data-space registers (ATmega328P datasheet, register summary).
    unsafe {
        while read_volatile(UCSR0A) & (1 << 5) == 0 {}
        write_volatile(UDR0, byte);
    }
}

fn write_all(bytes: &[u8]) {
    for &b in bytes {
        write(b);
    }
}

fn write_hex(v: u32) {
    for shift in (0..8u8).rev() {
        let nibble = (v >> (shift * 4)) as u8 & 0xF;
        write(if nibble < 10 {
            b'0' + nibble
        } else {
            b'a' + nibble - 10
        });
    }
}

fn check_u32(v: u32) {
    let mut buf = [0u8; 12];
    let mut w = Window::new(0, &mut buf);
    put_u32(&mut w, v);
    let n = w.filled();
    write_all(b"U ");
    write_hex(v);
    write(b' ');
    write_all(&buf[..n]);
    write(b'\n');
}

#[avr_device::entry]
fn main() -> ! {
    // SAFETY: USART0 set up as the simulator's console expects: U2X, 8N1, UBRR 16 = 115200.
    unsafe {
        write_volatile(UCSR0A, 1 << 1);
        write_volatile(UCSR0C, 0x06);
        write_volatile(UBRR0L, 16);
        write_volatile(UCSR0B, 1 << 3);
    }
    write_all(b"CHECK\n");
    let table = pstr!(TABLE);
    let mut line = [0u8; 4];
    for len in 0..=4u8 {
        // Every line of `len` bytes over a, b, c: `index` counted in base 3.
        let count: u16 = 3u16.pow(len as u32);
        for index in 0..count {
            let mut rest = index;
            for slot in line.iter_mut().take(len as usize) {
                *slot = b'a' + (rest % 3) as u8;
                rest /= 3;
            }
            let text = &line[..len as usize];
            write_all(b"L ");
            write_all(text);
            write(b' ');
            match lookup(text, table) {
                Some(n) => write(b'0' + n),
                None => write(b'-'),
            }
            write(b'\n');
        }
    }
    for v in EDGES {
        check_u32(v);
    }
    let mut x: u32 = 1;
    for _ in 0..RANDOM_VALUES {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        // Shifted right by a varying amount, so short numbers come up as often as long ones.
        check_u32(x >> (x & 31));
    }
    write_all(b"DONE\n");
    loop {}
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    abort()
}

/// Where every panic ends (`panic=immediate-abort`, as the firmware): the test then sees
/// `PANIC` and no `DONE`.
#[no_mangle]
pub extern "C" fn abort() -> ! {
    write_all(b"PANIC\n");
    loop {}
}
