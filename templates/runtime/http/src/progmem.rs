//! Constant text that lives in flash on the AVR.
//!
//! On the ATmega328P every ordinary `static`/literal is copied into the 2 KB of SRAM at
//! start-up, so all constant text of the firmware (AT commands, HTTP headers, the HTML page,
//! console lines) is declared with [`pstr!`], which places it in `.progmem.data` on AVR and
//! reads it back with `lpm`. On every other target a [`PStr`] is a plain byte slice, so host
//! tests see the same API.
//!
//! Besides `sink`'s AVR assembly (the division, `put_nth`) and `index`'s element address,
//! this is the only module of the runtime crates with `unsafe` (the `lpm` read, `lookup` in
//! AVR assembly); it never dereferences the slice directly on AVR, because there its address
//! is a flash address.

/// A string constant stored in program memory (AVR) or ordinary memory (host).
///
/// Only read it through its methods: on AVR the slice pointer is a flash address.
#[derive(Clone, Copy)]
pub struct PStr(&'static [u8]);

impl PStr {
    /// Used by [`pstr!`]; the slice must be a `static` placed in `.progmem.data` on AVR.
    #[doc(hidden)]
    pub const fn from_static(s: &'static [u8]) -> PStr {
        PStr(s)
    }

    /// Number of bytes.
    pub const fn len(&self) -> usize {
        self.0.len()
    }

    /// The address (a flash address on the AVR: read it only with `lpm`) and the length.
    pub fn raw(&self) -> (*const u8, usize) {
        (self.0.as_ptr(), self.0.len())
    }

    /// Bytes `from..to` of this string, a string of its own in the same flash.
    pub const fn slice(self, from: usize, to: usize) -> PStr {
        PStr(self.0.split_at(to).0.split_at(from).1)
    }

    /// True for the empty string.
    pub const fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The byte at `i`, or 0 past the end.
    #[inline]
    pub fn get(&self, i: usize) -> u8 {
        if i >= self.0.len() {
            return 0;
        }
        read_byte(self.0, i)
    }

    /// True when the bytes equal `other`.
    #[inline(never)]
    pub fn eq_bytes(&self, other: &[u8]) -> bool {
        other.len() == self.len() && other.iter().enumerate().all(|(i, &b)| self.get(i) == b)
    }
}

/// The entry of `table` that `line` matches. Entries are `=` (the whole line) or `^` (its
/// start), the text, and a 0 byte: one loop over flash text instead of a compare call per
/// text.
#[cfg(not(target_arch = "avr"))]
#[inline(never)]
pub fn lookup(line: &[u8], table: PStr) -> Option<u8> {
    let mut n = 0;
    // The entry's kind (0 before it is read) and the part of `line` not yet matched by its
    // text (`None` once a byte differed): one pass over the table.
    let mut kind = 0;
    let mut rest = Some(line);
    for i in 0..table.len() {
        let t = table.get(i);
        if kind == 0 {
            kind = t;
            rest = Some(line);
        } else if t == 0 {
            if rest.is_some_and(|r| kind != b'=' || r.is_empty()) {
                return Some(n);
            }
            n += 1;
            kind = 0;
        } else {
            rest = rest.and_then(|r| match r {
                [b, tail @ ..] if *b == t => Some(tail),
                _ => None,
            });
        }
    }
    None
}

/// The entry of `table` that `line` matches, as the host's version (for kind bytes `=` and
/// `^`, the only ones: told apart by bit 0), in AVR assembly: an entry's text is read with
/// `lpm Z+` and compared with the line through `ld X+`, where LLVM's loop kept the `Option`
/// of the rest and a table index (92 bytes more). Only call-clobbered registers: the line's
/// start waits in r25:r24, where the result goes.
#[cfg(target_arch = "avr")]
#[inline(never)]
#[allow(unsafe_code)]
pub fn lookup(line: &[u8], table: PStr) -> Option<u8> {
    let line_end = line.as_ptr().wrapping_add(line.len());
    let table_end = table.0.as_ptr().wrapping_add(table.len());
    let (found, n): (u8, u8);
    // SAFETY: reads only: `Z` the flash string `table` (`lpm`, as `read_byte`), `X` the RAM
    // slice `line`, each up to its end; every register it writes is an operand, but r0, the
    // scratch register LLVM never allocates.
    unsafe {
        core::arch::asm!(
            "clr {k}",
            // An entry: its kind (T: bit 0, set for `=` and clear for `^`), then its text
            // from the start of the line (r25:r24).
            "1:",
            "cp r30, {te:l}",
            "cpc r31, {te:h}",
            "breq 7f",
            "lpm {t}, Z+",
            "bst {t}, 0",
            "movw r26, r24",
            // Its text, while it matches.
            "2:",
            "cp r30, {te:l}",
            "cpc r31, {te:h}",
            "breq 7f",
            "lpm {t}, Z+",
            "tst {t}",
            "breq 4f",
            "cp r26, {le:l}",
            "cpc r27, {le:h}",
            "breq 3f",
            "ld r0, X+",
            "cp r0, {t}",
            "breq 2b",
            // A byte differed: the rest of its text.
            "3:",
            "cp r30, {te:l}",
            "cpc r31, {te:h}",
            "breq 7f",
            "lpm {t}, Z+",
            "tst {t}",
            "brne 3b",
            "rjmp 5f",
            // Its text matched: a start, or the whole line.
            "4:",
            "brtc 6f",
            "cp r26, {le:l}",
            "cpc r27, {le:h}",
            "breq 6f",
            "5:",
            "inc {k}",
            "rjmp 1b",
            // r24: whether an entry matched; r25: its number.
            "6:",
            "ldi r24, 1",
            "rjmp 8f",
            "7:",
            "clr r24",
            "8:",
            "mov r25, {k}",
            t = out(reg) _,
            k = out(reg) _,
            le = in(reg_pair) line_end,
            te = in(reg_pair) table_end,
            inout("Z") table.0.as_ptr() => _,
            out("X") _,
            in("r25r24") line.as_ptr(),
            lateout("r24") found,
            lateout("r25") n,
            options(pure, readonly, nostack),
        );
    }
    // SAFETY: `found` is 0 or 1.
    let found = unsafe { core::mem::transmute::<u8, bool>(found) };
    if found {
        Some(n)
    } else {
        None
    }
}

#[cfg(not(target_arch = "avr"))]
#[inline]
fn read_byte(s: &'static [u8], i: usize) -> u8 {
    s[i]
}

#[cfg(target_arch = "avr")]
#[inline]
#[allow(unsafe_code)]
fn read_byte(s: &'static [u8], i: usize) -> u8 {
    let addr = s.as_ptr().wrapping_add(i);
    let byte: u8;
    // SAFETY: `addr` lies inside a `static` that `pstr!` placed in `.progmem.data`, i.e. in the
    // first 64 KB of flash, which `lpm` reads; `lpm` has no side effects.
    unsafe {
        core::arch::asm!("lpm {0}, Z", out(reg) byte, in("Z") addr, options(pure, readonly, nostack, preserves_flags));
    }
    byte
}

/// Copies a byte slice into an array in a `const` context (used by [`pstr!`]).
#[doc(hidden)]
pub const fn to_array<const N: usize>(s: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    let mut i = 0;
    while i < N {
        a[i] = s[i];
        i += 1;
    }
    a
}

/// The entity for an HTML special character, or `None` for a byte that stands for itself.
const fn html_entity(b: u8) -> Option<&'static [u8]> {
    match b {
        b'<' => Some(b"&lt;"),
        b'>' => Some(b"&gt;"),
        b'&' => Some(b"&amp;"),
        b'"' => Some(b"&quot;"),
        _ => None,
    }
}

/// Length of `s` once escaped for HTML text.
pub const fn html_escaped_len(s: &[u8]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < s.len() {
        n += match html_entity(s[i]) {
            Some(e) => e.len(),
            None => 1,
        };
        i += 1;
    }
    n
}

/// `s` escaped for HTML text, `N` = [`html_escaped_len`]`(s)` bytes: constant text for a
/// page, escaped at compile time.
pub const fn html_escape<const N: usize>(s: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    let mut n = 0;
    let mut i = 0;
    while i < s.len() {
        match html_entity(s[i]) {
            Some(e) => {
                let mut k = 0;
                while k < e.len() {
                    a[n] = e[k];
                    n += 1;
                    k += 1;
                }
            }
            None => {
                a[n] = s[i];
                n += 1;
            }
        }
        i += 1;
    }
    a
}

/// Declares a flash-resident string constant: `pstr!(b"GET")` or `pstr!(config::WIFI_SSID)`.
///
/// The argument must be a constant expression of type `&[u8]` or `&[u8; N]`.
#[macro_export]
macro_rules! pstr {
    ($s:expr) => {{
        const __PSTR_LEN: usize = {
            let s: &[u8] = $s;
            s.len()
        };
        #[allow(unsafe_code)]
        #[cfg_attr(target_arch = "avr", link_section = ".progmem.data")]
        static __PSTR: [u8; __PSTR_LEN] = $crate::progmem::to_array::<__PSTR_LEN>($s);
        $crate::progmem::PStr::from_static(&__PSTR)
    }};
}

/// Total length of `pieces` (used by [`pstr_concat!`]).
#[doc(hidden)]
pub const fn concat_len(pieces: &[&[u8]]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < pieces.len() {
        n += pieces[i].len();
        i += 1;
    }
    n
}

/// `pieces` one after the other, `N` bytes (used by [`pstr_concat!`]).
#[doc(hidden)]
pub const fn concat<const N: usize>(pieces: &[&[u8]]) -> [u8; N] {
    let mut a = [0u8; N];
    let mut n = 0;
    let mut i = 0;
    while i < pieces.len() {
        let mut k = 0;
        while k < pieces[i].len() {
            a[n] = pieces[i][k];
            n += 1;
            k += 1;
        }
        i += 1;
    }
    a
}

/// Number of decimal digits of `v`.
pub const fn decimal_len(v: u32) -> usize {
    let mut n = 1;
    let mut v = v;
    while v >= 10 {
        v /= 10;
        n += 1;
    }
    n
}

/// `v` in decimal, `N` = [`decimal_len`]`(v)` digits: a number as constant text.
pub const fn decimal<const N: usize>(v: u32) -> [u8; N] {
    let mut a = [0u8; N];
    let mut v = v;
    let mut i = N;
    while i > 0 {
        i -= 1;
        a[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    a
}

/// A flash string joining constant pieces at compile time:
/// `pstr_concat!(b"baud=", config::BAUD_TEXT)`.
#[macro_export]
macro_rules! pstr_concat {
    ($($s:expr),+ $(,)?) => {{
        const __PIECES: &[&[u8]] = &[$($s),+];
        const __CONCAT_LEN: usize = $crate::progmem::concat_len(__PIECES);
        $crate::pstr!(&$crate::progmem::concat::<__CONCAT_LEN>(__PIECES))
    }};
}

#[cfg(test)]
mod tests {
    const NAME: &[u8] = b"lab";

    #[test]
    fn pstr_reads_back_literals_and_consts() {
        let p = crate::pstr!(b"hello");
        assert_eq!(p.len(), 5);
        assert_eq!(p.get(1), b'e');
        assert_eq!(p.get(9), 0);
        assert!(p.eq_bytes(b"hello"));
        assert!(!p.eq_bytes(b"hell"));
        let q = crate::pstr!(NAME);
        assert!(q.eq_bytes(b"lab"));
        assert!(crate::pstr!(b"").is_empty());
    }

    #[test]
    fn html_text_is_escaped_at_compile_time() {
        const TEXT: &[u8] = b"a<b>&\"c'";
        const LEN: usize = super::html_escaped_len(TEXT);
        let p = crate::pstr!(&super::html_escape::<LEN>(TEXT));
        assert!(p.eq_bytes(b"a&lt;b&gt;&amp;&quot;c'"));
        assert_eq!(super::html_escaped_len(b""), 0);
    }

    #[test]
    fn constant_text_is_joined_at_compile_time() {
        const BAUD: u32 = 115_200;
        let p = crate::pstr_concat!(
            b"baud=",
            &super::decimal::<{ super::decimal_len(BAUD) }>(BAUD),
            NAME,
            b"",
        );
        assert!(p.eq_bytes(b"baud=115200lab"));
        for v in [0, 9, 10, 4_294_967_295] {
            let mut a = [0u8; 10];
            let n = super::decimal_len(v);
            a[..n].copy_from_slice(&super::decimal::<10>(v)[10 - n..]);
            assert_eq!(&a[..n], v.to_string().as_bytes());
        }
    }

    #[test]
    fn lookup_matches_whole_lines_and_starts() {
        let table = crate::pstr!(b"=/\0=/api/status\0^/api/pin/\0^OK\0");
        let find = |line: &[u8]| super::lookup(line, table);
        assert_eq!(find(b"/"), Some(0));
        assert_eq!(find(b"/api/status"), Some(1));
        assert_eq!(find(b"/api/pin/"), Some(2));
        assert_eq!(find(b"/api/pin/13"), Some(2));
        assert_eq!(find(b"OK"), Some(3));
        assert_eq!(find(b"OKAY"), Some(3));
        assert_eq!(find(b""), None);
        assert_eq!(find(b"/x"), None);
        assert_eq!(find(b"/api/statu"), None);
        assert_eq!(find(b"/api/status/"), None);
        assert_eq!(find(b"/api/pin"), None);
        assert_eq!(find(b"O"), None);
        assert_eq!(super::lookup(b"", crate::pstr!(b"=\0")), Some(0));
        assert_eq!(super::lookup(b"a", crate::pstr!(b"")), None);
    }
}
