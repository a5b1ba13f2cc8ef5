//! The byte-stream interface shared by the hardware USART and the Timer1 soft serial, plus
//! small number writers (no `core::fmt`: its formatting machinery costs kilobytes of flash).

/// A full-duplex byte link whose receive side is buffered by an interrupt handler.
pub trait Serial {
    /// The oldest received byte, if any; never blocks.
    fn read_byte(&mut self) -> Option<u8>;

    /// Queues or sends one byte, waiting while the transmitter is busy.
    fn write_byte(&mut self, byte: u8);

    /// Sends all of `bytes` in order.
    fn write_all(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_byte(byte);
        }
    }

    /// Sends `value` in decimal without leading zeros.
    fn write_decimal(&mut self, value: u32) {
        let mut digits = [0u8; 10];
        self.write_all(decimal(value, &mut digits));
    }

    /// Sends `value` as exactly `width` lowercase hex digits (the low `4 * width` bits).
    fn write_hex(&mut self, value: u32, width: u8) {
        let mut shift = u32::from(width) * 4;
        while shift > 0 {
            shift -= 4;
            self.write_byte(hex_digit((value >> shift) as u8));
        }
    }
}

/// Writes `value` in decimal into the end of `buf` and returns the digits.
pub fn decimal(mut value: u32, buf: &mut [u8; 10]) -> &[u8] {
    let mut start = buf.len();
    loop {
        let (quotient, digit) = divide_by_ten(value);
        start -= 1;
        buf[start] = b'0' + digit;
        value = quotient;
        if value == 0 {
            return &buf[start..];
        }
    }
}

/// `(n / 10, n % 10)` by shift-and-subtract: the AVR has no divider, and the library's
/// 32-bit division costs about a kilobyte of flash.
fn divide_by_ten(mut n: u32) -> (u32, u8) {
    let mut remainder: u8 = 0;
    // A byte counter: an untyped range is `i32`, four registers.
    for _ in 0..32u8 {
        remainder = (remainder << 1) | (n >> 31) as u8;
        n <<= 1;
        if remainder >= 10 {
            remainder -= 10;
            n |= 1;
        }
    }
    (n, remainder)
}

/// The lowercase hex digit of the low nibble of `nibble`.
pub const fn hex_digit(nibble: u8) -> u8 {
    let n = nibble & 0x0f;
    if n < 10 { b'0' + n } else { b'a' + n - 10 }
}
