//! Runs `nanoesp_http`'s `progmem::lookup`, `sink::put_u32`, `sink::put_nth` and
//! `index::byte_index`, and `nanoesp_at`'s number parsing, which are (or use) AVR assembly on this target and Rust on the
//! host, over fixed and generated inputs, and prints one line per case on USART0 (115200
//! baud), then `DONE`; `n`, `size`, `i` and `byte` below are two hex digits:
//!
//! - `L <line> <entry>`: `lookup` of every line of 0–4 bytes over `a`, `b`, `c` in
//!   [`TABLE`] (`-` for no match);
//! - `U <hex> <decimal>`: `put_u32` of a value, the value itself in hexadecimal by a
//!   nibble loop that shares no code with `put_u32`;
//! - `N <n> <bytes>`: `put_nth` of [`LIST`] for every entry number, with and without
//!   `WHOLE`, its output in hexadecimal (it may hold 0 bytes);
//! - `X <size> <i> <byte>`: the byte that every byte of element `i` of a slice of
//!   `size`-byte elements holds, found by `byte_index` (`-` past the end, `torn` when its
//!   first and last bytes differ), each element filled with its number plus one through
//!   `byte_index_mut`;
//! - `D <digits> <count>`: the length `nanoesp_at`'s parser reads from `+IPD,0,<digits>`
//!   (its number scanner is AVR assembly), in decimal, `-` for no `IpdNotice`;
//! - `R <lengths> <l0> ... <l4>`: the five lengths it reads from `+CIPRECVLEN<lengths>`
//!   (`-1`, a lone `-`, saturation), in decimal.
//!
//! The host test (`tests/runtime_check.rs`) works out every expected answer itself.
#![no_std]
#![no_main]

use core::ptr::{read_volatile, write_volatile};
use nanoesp_at::parser::{Parser, Token};
use nanoesp_http::index::{byte_index, byte_index_mut};
use nanoesp_http::progmem::lookup;
use nanoesp_http::pstr;
use nanoesp_http::sink::{put_nth, put_u32, Window, WHOLE};

const UCSR0A: *mut u8 = 0xC0 as *mut u8;
const UCSR0B: *mut u8 = 0xC1 as *mut u8;
const UCSR0C: *mut u8 = 0xC2 as *mut u8;
const UBRR0L: *mut u8 = 0xC4 as *mut u8;
const UDR0: *mut u8 = 0xC6 as *mut u8;

/// The lookup table under test, as the request parser's: `=` the whole line, `^` its
/// start, then the text and a 0 byte. Kept in step with `TABLE` in the host test.
const TABLE: &[u8] = b"=a\0^ab\0=abc\0^b\0=ca\0^cab\0=\0^c\0";

/// The `put_nth` list under test: an empty entry, CR LF inside one, and a last entry
/// without its 0 byte. Kept in step with `LIST` in the host test.
const LIST: &[u8] = b"zero\0one\0\0three\r\n\0four";

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

/// Lengths for the parser's digit scanner: around the saturation at 65535 (6553 and 6554
/// are the last values multiplied without it), leading zeros, more digits than a line
/// keeps, and no digits at all. Kept in step with `DIGITS` in the host test.
const DIGITS: [&[u8]; 17] = [
    b"0",
    b"7",
    b"10",
    b"255",
    b"6553",
    b"6554",
    b"65529",
    b"65530",
    b"65535",
    b"65536",
    b"65539",
    b"65540",
    b"70000",
    b"99999",
    b"000042",
    b"123456789012345678901234567890123456",
    b"",
];

/// What follows `+CIPRECVLEN` on the lines given to the parser: `-1` and other negative
/// lengths, a `-` without digits, two of them, saturation, and a line with no length.
/// Kept in step with `RECV_LENS` in the host test.
const RECV_LENS: [&[u8]; 7] = [
    b":236,-1,-1,0,7",
    b":-12,3",
    b":-,5",
    b":--5,1",
    b":70000,65535,6554,-65536,1",
    b":0,0,0,0,2048,9",
    b":x",
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
    for b in v.to_be_bytes() {
        write_hex_byte(b);
    }
}

fn write_hex_byte(b: u8) {
    for nibble in [b >> 4, b & 0xF] {
        write(if nibble < 10 {
            b'0' + nibble
        } else {
            b'a' + nibble - 10
        });
    }
}

fn check_nth(n: u8) {
    let mut buf = [0u8; 40];
    let mut w = Window::new(0, &mut buf);
    put_nth(&mut w, pstr!(LIST), n);
    let filled = w.filled();
    write_all(b"N ");
    write_hex_byte(n);
    write(b' ');
    for &b in &buf[..filled] {
        write_hex_byte(b);
    }
    write(b'\n');
}

/// Fills element `i` of `slice` (through `byte_index_mut`) with `i + 1`, then reads the
/// first byte of every index up to two past the end through `byte_index`.
fn check_index<const SIZE: usize>(slice: &mut [[u8; SIZE]]) {
    for i in 0..slice.len() as u8 {
        if let Some(element) = byte_index_mut(slice, i) {
            *element = [i + 1; SIZE];
        }
    }
    for i in 0..slice.len() as u8 + 2 {
        write_all(b"X ");
        write_hex_byte(SIZE as u8);
        write(b' ');
        write_hex_byte(i);
        write(b' ');
        match byte_index(slice, i) {
            // The last byte too: a wrong offset that still lands in the slice shows there.
            Some(element) if element[0] == element[SIZE - 1] => write_hex_byte(element[0]),
            Some(_) => write_all(b"torn"),
            None => write(b'-'),
        }
        write(b'\n');
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

fn check_digits(digits: &[u8]) {
    let mut parser = Parser::new();
    let mut count = None;
    for &b in b"+IPD,0,".iter().chain(digits).chain(b"\r\n") {
        if let Some(Token::IpdNotice(0)) = parser.feed(b) {
            count = Some(parser.count());
        }
    }
    write_all(b"D ");
    write_all(digits);
    write(b' ');
    match count {
        Some(n) => {
            let mut buf = [0u8; 12];
            let mut w = Window::new(0, &mut buf);
            put_u32(&mut w, n as u32);
            let filled = w.filled();
            write_all(&buf[..filled]);
        }
        None => write(b'-'),
    }
    write(b'\n');
}

fn check_recv_lens(tail: &[u8]) {
    let mut parser = Parser::new();
    let mut lens = None;
    for &b in b"+CIPRECVLEN".iter().chain(tail).chain(b"\r\n") {
        if let Some(Token::RecvLen) = parser.feed(b) {
            lens = Some(parser.recv_lens());
        }
    }
    write_all(b"R ");
    write_all(tail);
    match lens {
        Some(lens) => {
            for len in lens {
                let mut buf = [0u8; 12];
                let mut w = Window::new(0, &mut buf);
                put_u32(&mut w, len as u32);
                let filled = w.filled();
                write(b' ');
                write_all(&buf[..filled]);
            }
        }
        None => write_all(b" -"),
    }
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
    for n in 0..7u8 {
        check_nth(n);
        check_nth(n | WHOLE);
    }
    // Element sizes as the server's slots and smaller and larger ones (below 256 B each).
    check_index(&mut [[0u8; 1]; 9]);
    check_index(&mut [[0u8; 3]; 80]);
    check_index(&mut [[0u8; 50]; 5]);
    check_index(&mut [[0u8; 129]; 3]);
    for digits in DIGITS {
        check_digits(digits);
    }
    for tail in RECV_LENS {
        check_recv_lens(tail);
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
