//! Byte sinks: how responses, commands and console lines are produced without a heap.
//!
//! Every producer writes into a `&mut Window`, which keeps only the bytes whose position
//! falls in `[start, start + buf.len())` and counts all of them, so the same render code
//! gives the total length (with an empty buffer) and any chunk of the output; nothing is
//! ever assembled whole in RAM. It is one concrete type rather than a trait object: on the
//! AVR every `put` is then a direct call and every writer takes one pointer, not two. Number writers here replace `core::fmt`, which costs kilobytes
//! of flash on the AVR.

use crate::progmem::PStr;

/// Keeps the window `[start, start + buf.len())` of a byte stream and counts its length.
///
/// Positions are 16-bit (cheaper on the AVR): every stream is a command line, a console
/// line or a response whose `Content-Length` is a `u16`.
///
/// `repr(C)`: the AVR assembly of [`Window::put`] reads the fields at fixed offsets (the
/// buffer's pointer at 0 and length at 2, as a slice reference is laid out, `pos` at 4,
/// `start` at 6, `filled` at 8).
#[repr(C)]
pub struct Window<'a> {
    buf: &'a mut [u8],
    pos: u16,
    start: u16,
    filled: usize,
}

impl<'a> Window<'a> {
    /// A window starting at stream offset `start`, filling `buf`.
    pub const fn new(start: u16, buf: &'a mut [u8]) -> Window<'a> {
        Window {
            pos: 0,
            start,
            buf,
            filled: 0,
        }
    }

    /// Starts counting again from 0 (only for a window over an empty buffer, which only
    /// measures: the AVR `put` stores at `pos - start`). Out of line: its two callers share
    /// one copy.
    #[inline(never)]
    pub fn rewind(&mut self) {
        self.pos = 0;
    }

    /// Total number of bytes put so far (the stream length once rendering is done).
    pub fn total(&self) -> u16 {
        self.pos
    }

    /// Number of bytes written into the buffer.
    pub fn filled(&self) -> usize {
        self.filled
    }
}

impl Window<'_> {
    /// Accepts one byte.
    ///
    /// `extern "C"`: the AVR assembly of [`put_nth`] calls it, so its registers are the C
    /// ABI's (the same the Rust callers use on the AVR).
    #[cfg(not(target_arch = "avr"))]
    #[inline(never)]
    pub extern "C" fn put(&mut self, b: u8) {
        // The position bumped first and the slot taken with `get_mut`: on the AVR this
        // needs no saved registers (the other order held four across the body).
        let pos = self.pos;
        self.pos = pos.wrapping_add(1);
        if pos >= self.start {
            if let Some(to) = self.buf.get_mut(self.filled) {
                *to = b;
                self.filled += 1;
            }
        }
    }

    /// [`Window::put`] in AVR assembly: the byte goes to `buf[pos - start]`, which is
    /// `filled` (LLVM copied `self` through three register pairs and read `filled`, 10 bytes
    /// more).
    #[cfg(target_arch = "avr")]
    #[inline(never)]
    #[allow(unsafe_code)]
    pub extern "C" fn put(&mut self, b: u8) {
        // SAFETY: reads and writes the fields of `self` at their `repr(C)` offsets (checked
        // below) and stores `b` only at `buf[filled]` with `filled < buf.len()`; every
        // register it changes is an operand or declared clobbered.
        unsafe {
            core::arch::asm!(
                // pos += 1, the old value kept in r24:r25.
                "ldd r24, Z+4",
                "ldd r25, Z+5",
                "movw r26, r24",
                "adiw r26, 1",
                "std Z+5, r27",
                "std Z+4, r26",
                // Its offset in the window, pos - start: before the window (a borrow),
                // nothing to keep. Positions come one by one from the window's start, so
                // in the window this is `filled` (`rewind` is for windows over no buffer).
                "ldd r20, Z+6",
                "ldd r21, Z+7",
                "sub r24, r20",
                "sbc r25, r21",
                "brlo 1f",
                // In the window while the buffer has room.
                "ldd r20, Z+2",
                "ldd r21, Z+3",
                "cp r24, r20",
                "cpc r25, r21",
                "brsh 1f",
                "ld r26, Z",
                "ldd r27, Z+1",
                "add r26, r24",
                "adc r27, r25",
                "st X, {b}",
                "adiw r24, 1",
                "std Z+9, r25",
                "std Z+8, r24",
                "1:",
                b = in(reg) b,
                inout("Z") self as *mut Window => _,
                out("r20") _, out("r21") _, out("r24") _, out("r25") _,
                out("r26") _, out("r27") _,
                options(nostack),
            );
        }
    }
}

// The offsets the assembly of `Window::put` uses.
#[cfg(target_arch = "avr")]
#[allow(unsafe_code)]
const _: () = {
    assert!(core::mem::offset_of!(Window<'static>, buf) == 0);
    assert!(core::mem::offset_of!(Window<'static>, pos) == 4);
    assert!(core::mem::offset_of!(Window<'static>, start) == 6);
    assert!(core::mem::offset_of!(Window<'static>, filled) == 8);
    // A slice reference's layout is not specified: check that it is the pointer, then the
    // length, as the assembly reads it (the length is an integer, so a const can read it).
    #[repr(C)]
    struct SliceParts {
        ptr: *const u8,
        len: usize,
    }
    let three: &[u8] = &[0; 3];
    // SAFETY: both types are two words; only the integer half is read.
    let parts: SliceParts = unsafe { core::mem::transmute(three) };
    assert!(
        parts.len == 3,
        "a slice reference is not laid out (pointer, length)"
    );
};

// The firmware renders into a `Window` directly (a closure per call site costs flash on
// the AVR); these two closure forms keep the tests short.

/// Counts the length of a rendering.
#[cfg(test)]
pub(crate) fn measure(render: &mut dyn FnMut(&mut Window)) -> u16 {
    let mut w = Window::new(0, &mut []);
    render(&mut w);
    w.total()
}

/// Renders the window starting at `start` into `out`; returns the number of bytes written.
#[cfg(test)]
pub(crate) fn render_window(
    start: u16,
    out: &mut [u8],
    render: &mut dyn FnMut(&mut Window),
) -> usize {
    let mut w = Window::new(start, out);
    render(&mut w);
    w.filled()
}

/// Puts every byte of a RAM slice.
pub fn put_bytes(s: &mut Window, bytes: &[u8]) {
    for &b in bytes {
        s.put(b);
    }
}

/// Puts every byte of a flash string.
#[inline(never)]
pub fn put_p(s: &mut Window, p: PStr) {
    put_nth(s, p, WHOLE);
}

/// Puts `v` in decimal.
#[inline(never)]
pub fn put_u32(s: &mut Window, v: u32) {
    // One digit per call, the higher digits by recursion (at most 10 frames of 5 bytes)
    // before this one: 32-bit division costs over a kilobyte of flash on the AVR, and a
    // flash table of powers of ten with repeated subtraction 140 bytes more than this.
    let (v, r, more) = div10(v);
    if more {
        put_u32(s, v);
    }
    s.put(b'0' + r);
}

/// `(v / 10, v % 10, v >= 10)` by bit-serial long division: the quotient bits shift into
/// `v` as the dividend bits shift out into the remainder.
#[cfg(not(target_arch = "avr"))]
fn div10(v: u32) -> (u32, u8, bool) {
    let mut v = v;
    let mut r = 0u8;
    for _ in 0..32u8 {
        r = r << 1 | (v >> 31) as u8;
        v <<= 1;
        if r >= 10 {
            r -= 10;
            v += 1;
        }
    }
    (v, r, v != 0)
}

/// The same division as the host's, instruction for instruction, in AVR assembly: LLVM made
/// each step of the loop a select of 16-bit values and tested the 32-bit quotient for zero
/// through a flag byte (44 bytes more).
#[cfg(target_arch = "avr")]
#[inline(always)]
#[allow(unsafe_code)]
fn div10(v: u32) -> (u32, u8, bool) {
    let (mut lo, mut hi) = (v as u16, (v >> 16) as u16);
    let (r, more): (u8, u8);
    // SAFETY: register arithmetic only: no memory, no stack, every register it writes is an
    // operand.
    unsafe {
        core::arch::asm!(
            "ldi {n}, 32",
            "clr {r}",
            "2:",
            // r:v <<= 1 (r < 10 before, so below 20 after: no carry out).
            "lsl {lo:l}",
            "rol {lo:h}",
            "rol {hi:l}",
            "rol {hi:h}",
            "rol {r}",
            "cpi {r}, 10",
            "brcs 3f",
            "subi {r}, 10",
            // Bit 0 is 0 after the shift: `inc` sets it (and works on any register).
            "inc {lo:l}",
            "3:",
            "dec {n}",
            "brne 2b",
            // Nonzero quotient: the OR of its bytes.
            "mov {n}, {lo:l}",
            "or {n}, {lo:h}",
            "or {n}, {hi:l}",
            "or {n}, {hi:h}",
            n = out(reg_upper) more,
            r = out(reg_upper) r,
            lo = inout(reg_pair) lo,
            hi = inout(reg_pair) hi,
            options(pure, nomem, nostack),
        );
    }
    ((hi as u32) << 16 | lo as u32, r, more != 0)
}

/// Puts entry `n` (below 128) of `list`, a flash string of entries each ended by a 0 byte
/// (one loop instead of a `match` of pointers for each set of phrases; entries may hold
/// `\r\n`). With [`WHOLE`] added to `n`, the whole of `list` from entry `n` on, 0 bytes
/// included: one loop for [`put_p`] too, the flag in `n`'s top bit (a register the call
/// does not have to save, where a `bool` parameter had one pushed and popped around it).
#[cfg(not(target_arch = "avr"))]
#[inline(never)]
pub fn put_nth(s: &mut Window, list: PStr, n: u8) {
    let (mut skip, whole) = (n & !WHOLE, n & WHOLE != 0);
    // Tested on `skip` first: the path that calls `put` then keeps fewer values (8 B less).
    for i in 0..list.len() {
        let b = list.get(i);
        if skip != 0 {
            if b == 0 {
                skip -= 1;
            }
        } else if b == 0 && !whole {
            return;
        } else {
            s.put(b);
        }
    }
}

/// [`put_nth`] in AVR assembly, the same loop with `lpm Z+` over the list: LLVM kept the list
/// position twice (pointer and index), in saved registers across each `put` (14 bytes more).
/// The entry number is skipped down in a copy of its low bits; `n`'s top bit ([`WHOLE`])
/// is its sign.
#[cfg(target_arch = "avr")]
#[inline(never)]
#[allow(unsafe_code)]
pub fn put_nth(s: &mut Window, list: PStr, n: u8) {
    let (ptr, len) = list.raw();
    let end = ptr.wrapping_add(len);
    // SAFETY: reads the flash string `list` up to its end (`lpm`, as `read_byte`); calls
    // `Window::put` (C ABI) with `s` and each byte put, `Z` saved on the stack around it;
    // every register the call or the loop may change is an operand or declared clobbered.
    unsafe {
        core::arch::asm!(
            "mov {skip}, {n}",
            "andi {skip}, 0x7f",
            // A byte of the list, while any is left.
            "1:",
            "cp r30, {end:l}",
            "cpc r31, {end:h}",
            "breq 9f",
            "lpm r22, Z+",
            "tst {skip}",
            "breq 2f",
            // Skipping: a 0 byte ends an entry.
            "tst r22",
            "brne 1b",
            "dec {skip}",
            "rjmp 1b",
            // In the entry: a 0 byte ends it unless the whole list is put.
            "2:",
            "tst r22",
            "brne 3f",
            "tst {n}",
            "brpl 9f",
            "3:",
            "push r30",
            "push r31",
            "movw r24, {s}",
            "call {put}",
            "pop r31",
            "pop r30",
            "rjmp 1b",
            "9:",
            put = sym Window::put,
            s = in(reg_pair) s as *mut Window,
            end = in(reg_pair) end,
            n = in(reg) n,
            skip = out(reg_upper) _,
            inout("Z") ptr => _,
            out("r18") _, out("r19") _, out("r20") _, out("r21") _,
            out("r22") _, out("r23") _, out("r24") _, out("r25") _,
            out("r26") _, out("r27") _,
        );
    }
}

/// Added to [`put_nth`]'s entry number: the whole list from that entry on.
pub const WHOLE: u8 = 0x80;

/// Puts `v` in decimal (one number writer for every width keeps the firmware small).
#[inline(never)]
pub fn put_u16(s: &mut Window, v: u16) {
    put_u32(s, v as u32);
}

/// Puts a dotted IPv4 address.
pub fn put_ip(s: &mut Window, ip: [u8; 4]) {
    for (i, &o) in ip.iter().enumerate() {
        if i > 0 {
            s.put(b'.');
        }
        put_u16(s, o as u16);
    }
}

/// Puts one byte as it must appear inside a JSON string that is also HTML text (the page
/// at `/` carries the status JSON): control bytes and `<`, `>`, `&` become `?`, as the
/// only such string, the ESP's version, never holds them unless the line is garbled.
#[inline]
pub fn put_json_byte(s: &mut Window, b: u8) {
    match b {
        b'"' | b'\\' => {
            s.put(b'\\');
            s.put(b);
        }
        0..=0x1f | 0x7f | b'<' | b'>' | b'&' => s.put(b'?'),
        _ => s.put(b),
    }
}

/// Puts one byte as it must appear in HTML text.
pub fn put_html_byte(s: &mut Window, b: u8) {
    // One list of entities rather than a string per character.
    let n = match b {
        b'<' => 0,
        b'>' => 1,
        b'&' => 2,
        b'"' => 3,
        _ => {
            s.put(b);
            return;
        }
    };
    put_nth(s, crate::pstr!(b"&lt;\0&gt;\0&amp;\0&quot;\0"), n);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(s: &mut Window) {
        put_bytes(s, b"n=");
        put_u32(s, 4_294_967_295);
        s.put(b' ');
        put_u16(s, 0);
        s.put(b' ');
        put_ip(s, [192, 168, 4, 1]);
    }

    #[test]
    fn measure_and_windows_agree_with_full_render() {
        let full = b"n=4294967295 0 192.168.4.1";
        assert_eq!(measure(&mut sample) as usize, full.len());
        for start in 0..full.len() {
            for n in 0..6 {
                let mut out = [0u8; 6];
                let got = render_window(start as u16, &mut out[..n], &mut sample);
                let end = (start + n).min(full.len());
                assert_eq!(&out[..got], &full[start..end]);
            }
        }
    }

    #[test]
    fn flash_strings_whole_and_by_entry() {
        let mut out = [0u8; 16];
        let n = render_window(0, &mut out, &mut |s| put_p(s, crate::pstr!(b"a\0bc\0")));
        assert_eq!(&out[..n], b"a\0bc\0");
        let list = crate::pstr!(b"one\0\0three\0");
        for (i, want) in [&b"one"[..], b"", b"three", b""].into_iter().enumerate() {
            let n = render_window(0, &mut out, &mut |s| put_nth(s, list, i as u8));
            assert_eq!(&out[..n], want);
        }
    }

    #[test]
    fn decimal_numbers() {
        for v in [
            0,
            1,
            9,
            10,
            99,
            100,
            1023,
            65_535,
            999_999_999,
            1_000_000_000,
            u32::MAX,
        ] {
            let mut out = [0u8; 10];
            let n = render_window(0, &mut out, &mut |s| put_u32(s, v));
            assert_eq!(&out[..n], v.to_string().as_bytes());
        }
    }

    #[test]
    fn json_and_html_escapes() {
        let mut out = [0u8; 32];
        let n = render_window(0, &mut out, &mut |s| {
            for &b in b"a\"b\\c\n<&>" {
                put_json_byte(s, b);
            }
        });
        assert_eq!(&out[..n], b"a\\\"b\\\\c????");
        let n = render_window(0, &mut out, &mut |s| {
            for &b in b"<a&b>" {
                put_html_byte(s, b);
            }
        });
        assert_eq!(&out[..n], b"&lt;a&amp;b&gt;");
    }
}
