//! Byte-driven parser for everything the ESP8266 AT firmware prints (1.7.x and 2.x).
//!
//! [`Parser::feed`] takes one byte and returns at most one [`Token`]. It never depends on
//! what command is in flight, so unsolicited lines (`0,CONNECT`, `+IPD`, `WIFI ...`,
//! `ready`) are recognised in every state. Length-counted payloads (`+IPD,<id>,<len>:` and
//! `+CIPRECVDATA`) are handed out byte by byte as [`Token::Data`] and never scanned for
//! markers. Lines are cut at `\r` or `\n` (so `\r\r\n` echo terminators are harmless), only
//! the first [`LINE_MAX`] bytes of a line are kept, and unknown lines become
//! [`Token::Other`]. The `> ` prompt has no line end and is recognised by a `>` at the start
//! of a line.

use nanoesp_http::progmem::lookup;
use nanoesp_http::pstr;

/// Bytes of a line kept for classification (the rest of a longer line is dropped).
pub const LINE_MAX: usize = 40;

/// `AT`, the start of an echoed command, read as a little-endian 16-bit value.
const AT: u16 = u16::from_le_bytes(*b"AT");

/// Most bytes of noise before a line that still let it be recognised.
const NOISE_MAX: usize = 8;

/// One recognised piece of ESP output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token {
    // The driver treats neighbours alike (`Ok`..`Fail`, `SendOk`/`SendFail`, the busy
    // pair, `LinkInvalid`/`Unlink`, `WifiConnected`..`Other`, all ignored): kept adjacent,
    // its `match` checks one range per group.
    /// `OK`
    Ok,
    /// `ERROR` (also `ERR CODE:...` is reported as `Other`)
    Error,
    /// `FAIL` (1.x end of a failed join)
    Fail,
    /// `SEND OK`
    SendOk,
    /// `SEND FAIL`
    SendFail,
    /// `busy p...`: the command line was dropped
    BusyP,
    /// `busy s...`: a send is still in progress, the command was dropped
    BusyS,
    /// `link is not valid`
    LinkInvalid,
    /// `UNLINK`
    Unlink,
    /// `ready`: the ESP (re)booted
    Ready,
    /// `+CIPRECVLEN:<l0>,...,<l4>`; the lengths are read with [`Parser::recv_lens`] (kept out
    /// of the token so every token stays small to copy)
    RecvLen,
    /// `AT version:...`; the line is available from [`Parser::line`]
    AtVersion,
    /// `WIFI DISCONNECT`
    WifiDisconnect,
    /// `WIFI CONNECTED`
    WifiConnected,
    /// `WIFI GOT IP`
    WifiGotIp,
    /// `no change`
    NoChange,
    /// `ALREADY CONNECTED`
    AlreadyConnected,
    /// Any other non-empty line (boot noise, `SDK version:`, `Recv <n> bytes`, `STATUS:<n>`,
    /// ...)
    Other,
    /// An echoed command line (`AT...`); after `ATE0` this means the ESP was reset
    Echo,
    /// The `> ` / `>` data prompt
    Prompt,
    /// `<id>,CONNECT`
    Connect(u8),
    /// `<id>,CLOSED`
    Closed(u8),
    /// `<id>,CONNECT FAIL`
    ConnectFail(u8),
    /// Passive-mode `+IPD,<id>,<len>`: `len` ([`Parser::count`]) bytes are buffered on
    /// the ESP
    IpdNotice(u8),
    /// Active-mode `+IPD,<id>,<len>:`; `len` ([`Parser::count`]) [`Token::Data`] tokens
    /// follow
    IpdData(u8),
    /// `+CIPRECVDATA,<n>:` (1.7) or `+CIPRECVDATA:<n>,` (2.x); `n` ([`Parser::count`]) data
    /// tokens follow
    RecvData,
    /// One payload byte
    Data(u8),
    /// `+CIPSTATUS:<id>,...`: link `id` is open
    CipStatus(u8),
    /// `+CWJAP:<code>`: join failure code
    Cwjap(u8),
    /// `+CIFSR:STAIP,"a.b.c.d"` (`ap` false) or `+CIFSR:APIP,...` (`ap` true); the address
    /// is read with [`Parser::ip`]
    Ip {
        /// softAP interface
        ap: bool,
    },
}

/// The parser state: a 40-byte line buffer, a payload counter and the last `+CIFSR` address
/// (about 49 bytes).
#[derive(Clone, Debug)]
pub struct Parser {
    line: [u8; LINE_MAX],
    len: u8,
    /// Payload bytes still to hand out as `Data`.
    remaining: u16,
    /// The address `classify` read from the last `+CIFSR` line (kept: testing the address
    /// into a scratch array on the stack and reading it again for the driver cost more).
    ip: [u8; 4],
    /// Where the value of the last `+CIPRECVLEN:` or `AT version:` line starts: past its
    /// text, and past any noise `classify` looked over before it.
    value_at: u8,
    /// The length of the last `+IPD` or `+CIPRECVDATA` header ([`Parser::count`]): kept out
    /// of the token, which stays two bytes and comes back in registers on the AVR.
    count: u16,
}

impl Default for Parser {
    fn default() -> Self {
        Self::new()
    }
}

/// Where the quote before the address is in `+CIFSR:STAIP,"a.b.c.d"` and
/// `+CIFSR:APIP,"a.b.c.d"`.
const STA_IP_AT: u8 = 13;
const AP_IP_AT: u8 = 12;
const _: () = assert!(
    AP_IP_AT == STA_IP_AT - 1,
    "classify finds the quote by subtraction"
);

/// The decimal number at `line[i..]`, if there is one. `-1` gives 0.
// Always inlined: left out of line, its calls measured 16 B larger on the AVR.
#[inline(always)]
fn number(line: &[u8], i: u8) -> Option<u16> {
    let (v, end) = scan_number(line, i);
    (end != i).then_some(v)
}

/// Scans a decimal number at `line[i..]`: (value, index after it), the index staying `i`
/// when there is none (a plain pair is cheaper to return than an `Option` of one on the AVR).
/// `-1` gives 0. Indices here are bytes (a line holds at most [`LINE_MAX`]): cheaper to
/// pass and return on the AVR than `usize`.
#[cfg(not(target_arch = "avr"))]
fn scan_number(line: &[u8], i: u8) -> (u16, u8) {
    if line.get(i as usize) == Some(&b'-') {
        return (0, scan_digits(line, i + 1).1);
    }
    scan_digits(line, i)
}

/// The digits at `line[i..]`: (value, index after them). Out of line: `scan_number` reads
/// the digits after a `-` with it too, not with a second loop.
#[cfg(not(target_arch = "avr"))]
#[inline(never)]
fn scan_digits(line: &[u8], mut i: u8) -> (u16, u8) {
    // Saturates at u16::MAX. Plain 16-bit arithmetic: on the AVR, 32-bit multiplication (and
    // `checked_mul`, which widens) calls a library routine.
    let mut v: u16 = 0;
    while let Some(&b) = line.get(i as usize) {
        if !b.is_ascii_digit() {
            break;
        }
        v = if v > u16::MAX / 10 {
            u16::MAX
        } else {
            (v * 10).saturating_add((b - b'0') as u16)
        };
        i += 1;
    }
    (v, i)
}

/// [`scan_number`] and [`scan_digits`] in AVR assembly, one routine: the same steps over
/// `ld X+`, `v * 10` as `8v + 2v`, a `-` remembered in T and the value cleared at the end.
/// LLVM multiplied with `mul`/`muls` and merged the bytes back through a select of 16-bit
/// values (154 B for the two).
#[cfg(target_arch = "avr")]
#[inline(never)]
#[allow(unsafe_code)]
fn scan_number(line: &[u8], mut i: u8) -> (u16, u8) {
    let v: u16;
    // SAFETY: reads `line` from `i` up to its end through X (`ld X+`, only while `i` is
    // below its length); every register it writes is an operand or SREG (T); r1 is the
    // zero register.
    unsafe {
        core::arch::asm!(
            "add r26, {i}",
            "adc r27, r1",
            "clr {v:l}",
            "clr {v:h}",
            // A `-` first: skipped, and T set.
            "clt",
            "cp {i}, {len:l}",
            "cpc r1, {len:h}",
            "brsh 3f",
            "ld {d}, X+",
            "cpi {d}, 0x2d",
            "brne 6f",
            "set",
            "inc {i}",
            // A digit, while any byte is left.
            "1:",
            "cp {i}, {len:l}",
            "cpc r1, {len:h}",
            "brsh 3f",
            "ld {d}, X+",
            "6:",
            "subi {d}, 0x30",
            "cpi {d}, 10",
            "brsh 3f",
            // Above u16::MAX / 10 (6553 = 0x1999): saturated.
            "cpi {v:l}, 0x9a",
            "ldi {t}, 0x19",
            "cpc {v:h}, {t}",
            "brsh 4f",
            "lsl {v:l}",
            "rol {v:h}",
            "movw {w}, {v}",
            "lsl {v:l}",
            "rol {v:h}",
            "lsl {v:l}",
            "rol {v:h}",
            "add {v:l}, {w:l}",
            "adc {v:h}, {w:h}",
            "add {v:l}, {d}",
            "adc {v:h}, r1",
            "brcc 2f",
            "4:",
            "ldi {v:l}, 0xff",
            "ldi {v:h}, 0xff",
            "2:",
            "inc {i}",
            "rjmp 1b",
            // After a `-` the value is 0.
            "3:",
            "brtc 5f",
            "clr {v:l}",
            "clr {v:h}",
            "5:",
            i = inout(reg) i,
            len = in(reg_pair) line.len(),
            v = out(reg_iw) v,
            w = out(reg_pair) _,
            d = out(reg_upper) _,
            t = out(reg_upper) _,
            inout("X") line.as_ptr() => _,
            options(pure, readonly, nostack),
        );
    }
    (v, i)
}

/// Token `i` of the table in `Parser::classify`: the first 17 variants of [`Token`], in
/// declaration order, so this is no lookup table (which would be copied into SRAM) but a
/// clamp, left to the compiler to inline.
fn simple_token(i: u8) -> Token {
    match i {
        0 => Token::Ok,
        1 => Token::Error,
        2 => Token::Fail,
        3 => Token::SendOk,
        4 => Token::SendFail,
        5 => Token::BusyP,
        6 => Token::BusyS,
        7 => Token::LinkInvalid,
        8 => Token::Unlink,
        9 => Token::Ready,
        10 => Token::RecvLen,
        11 => Token::AtVersion,
        12 => Token::WifiDisconnect,
        13 => Token::WifiConnected,
        14 => Token::WifiGotIp,
        15 => Token::NoChange,
        _ => Token::AlreadyConnected,
    }
}

// Plain comparisons here and in `feed`: `RangeInclusive::contains` stays an out-of-line
// call on the AVR (46 B, and its bounds as 3-byte constants in SRAM).
#[allow(clippy::manual_range_contains)]
fn link_id(b: u8) -> Option<u8> {
    if b >= b'0' && b <= b'4' {
        Some(b - b'0')
    } else {
        None
    }
}

/// The link id of a `+IPD,<id>,<len>` line (`line` starts at the `+`), with `<len>` stored
/// in `count`; `None` (and `count` untouched) if they are not there. Out of line: the
/// active and the passive header share it.
#[inline(never)]
fn ipd_fields(line: &[u8], count: &mut u16) -> Option<u8> {
    // One length test for both bytes.
    let [_, _, _, _, _, id, b',', ..] = *line else {
        return None;
    };
    let id = link_id(id)?;
    *count = number(line, 7)?;
    Some(id)
}

/// Reads `"a.b.c.d` at `line[i..]` into `ip`; false (and `ip` partly written) if there is
/// none. Written in place: returning the address made a copy through the stack on the AVR.
fn parse_ip(line: &[u8], mut i: u8, ip: &mut [u8; 4]) -> bool {
    // Every octet follows a separator, the first one the opening quote: no first-octet test.
    let mut sep = b'"';
    for octet in ip.iter_mut() {
        if line.get(i as usize) != Some(&sep) {
            return false;
        }
        sep = b'.';
        i += 1;
        let (v, next) = scan_number(line, i);
        if next == i || v > 255 {
            return false;
        }
        *octet = v as u8;
        i = next;
    }
    true
}

impl Parser {
    /// A parser at the start of a line.
    pub const fn new() -> Parser {
        Parser {
            line: [0; LINE_MAX],
            len: 0,
            remaining: 0,
            ip: [0; 4],
            value_at: 0,
            count: 0,
        }
    }

    /// The last completed line (valid right after a line token such as `AtVersion`).
    pub fn line(&self) -> &[u8] {
        // Clamped to `LINE_MAX`, which the length never exceeds: on the AVR the clamp is
        // smaller than the slice's bounds check and its panic call (also in `classify` and
        // `payload_header`).
        &self.line[..((self.len & 0x7f) as usize).min(LINE_MAX)]
    }

    /// The value of the last line, a `+CIPRECVLEN:...` or `AT version:...` (valid right
    /// after their tokens), wherever noise before the line put it: what follows
    /// `AT version:`, or the lengths with the `:` before them.
    pub fn value(&self) -> &[u8] {
        let line = self.line();
        &line[(self.value_at as usize).min(line.len())..]
    }

    /// The five lengths of the last line, a `+CIPRECVLEN:<l0>,...,<l4>` (valid right after
    /// [`Token::RecvLen`]); `-1` and missing entries read as 0.
    pub fn recv_lens(&self) -> [u16; 5] {
        let mut lens = [0u16; 5];
        self.each_recv_len(|k, len| lens[k] = len);
        lens
    }

    /// Calls `f(k, len)` for the lengths of the last line, a `+CIPRECVLEN:<l0>,...,<l4>`,
    /// in order until one is missing (`-1` reads as 0); `k` < 5. No array of them is built:
    /// the driver's use of them, inlined, measured smaller so on the AVR.
    #[inline(always)]
    pub(crate) fn each_recv_len(&self, mut f: impl FnMut(usize, u16)) {
        let line = self.value();
        let mut i = 0;
        // Every length follows a separator, the first one the `:`: no first-length test.
        let mut sep = b':';
        for k in 0..5 {
            if line.get(i as usize) != Some(&sep) {
                break;
            }
            sep = b',';
            i += 1;
            let (v, next) = scan_number(line, i);
            if next == i {
                break;
            }
            f(k, v);
            i = next;
        }
    }

    /// The address on the last line, a `+CIFSR:STAIP` or `+CIFSR:APIP` (valid right after
    /// [`Token::Ip`]).
    pub fn ip(&self) -> [u8; 4] {
        self.ip
    }

    /// The length of the last `+IPD` or `+CIPRECVDATA` header (valid right after
    /// [`Token::IpdNotice`], [`Token::IpdData`] and [`Token::RecvData`]).
    pub fn count(&self) -> u16 {
        self.count
    }

    /// True while a length-counted payload is being handed out.
    pub fn in_payload(&self) -> bool {
        self.remaining > 0
    }

    /// Forgets any partial line or payload (after a reset of the ESP).
    pub fn clear(&mut self) {
        self.len = 0;
        self.remaining = 0;
    }

    /// Feeds one byte from the ESP.
    // Left to the compiler, which inlines it into the driver's caller: with `classify` and
    // `simple_token` inlined too, 52 B smaller on the AVR than out of line.
    #[allow(clippy::manual_range_contains)] // see `link_id`
    pub fn feed(&mut self, b: u8) -> Option<Token> {
        if self.remaining > 0 {
            self.remaining -= 1;
            return Some(Token::Data(b));
        }
        if b == b'\r' || b == b'\n' {
            if self.len == 0 || self.len & 0x80 != 0 {
                self.len = 0;
                return None;
            }
            // Keep the line readable (for AtVersion) until the next byte arrives. Marked
            // before `classify` (which reads the length without the mark): after it, the
            // store was repeated on each of its return paths (44 B more on the AVR).
            self.len |= 0x80;
            return Some(self.classify());
        }
        if self.len & 0x80 != 0 {
            self.len = 0;
        }
        // Line noise (a byte no AT line contains) restarts the line, so a response that
        // follows garbage on the wire is still recognised.
        if b < b' ' || b > b'~' {
            self.len = 0;
            return None;
        }
        // `>` appears in no line we parse: it is the prompt even after noise (`\x96\xbf> `);
        // the driver only takes it once the CIPSEND's `OK` has come.
        if b == b'>' {
            self.len = 0;
            return Some(Token::Prompt);
        }
        // A `+` starts a line (`+IPD`, `+CIPRECVDATA`, ...) unless it follows an echoed `AT`:
        // noise before such a header is dropped instead of hiding it. Noise that happens to
        // read `AT` stays, and `payload_header` looks past it.
        // The two bytes compared as one 16-bit value: 4 B smaller on the AVR than two tests.
        if b == b'+' && (self.len != 2 || u16::from_le_bytes([self.line[0], self.line[1]]) != AT) {
            self.len = 0;
        }
        if self.len == 0 && b == b' ' {
            return None;
        }
        // The length from a register: read again after the byte's store, it was loaded
        // twice (6 B more on the AVR).
        let len = self.len;
        if (len as usize) < LINE_MAX {
            self.line[len as usize] = b;
            self.len = len + 1;
        }
        if b == b':' || b == b',' {
            return self.payload_header(b);
        }
        None
    }

    /// Recognises `+IPD,<id>,<len>:` and `+CIPRECVDATA` headers as soon as their last byte arrives.
    // Always inlined into `feed`, its one caller: 2 B smaller on the AVR than left to the
    // compiler.
    #[inline(always)]
    fn payload_header(&mut self, b: u8) -> Option<Token> {
        let mut line = &self.line[..(self.len as usize).min(LINE_MAX)];
        // A `+` at 2 followed an `AT` (the only `+` `feed` keeps there): an echo of one of
        // our commands, which never reads as a header, or noise before a real header.
        // The rest past two bytes by a pattern: the test and the slice share one length
        // check (6 B smaller on the AVR than `get(2)` and `&line[2..]`).
        if let [_, _, rest @ ..] = line {
            if rest.first() == Some(&b'+') {
                line = rest;
            }
        }
        // 1.7 sends `+CIPRECVDATA,<n>:`, 2.x `+CIPRECVDATA:<n>,`: the byte after the text is
        // the other one of `,` and `:` than `b` (`b` is one of them, and their XOR swaps
        // them), one table entry and one test for both.
        match (lookup(line, pstr!(b"^+IPD,\0^+CIPRECVDATA\0")), b) {
            (Some(0), b':') => {
                let id = ipd_fields(line, &mut self.count)?;
                self.len = 0;
                self.remaining = self.count;
                return Some(Token::IpdData(id));
            }
            (Some(1), _) if line.get(12) == Some(&(b ^ (b',' ^ b':'))) => {}
            _ => return None,
        }
        let (n, end) = scan_number(line, 13);
        // There must be a number, ending right at the separator just received.
        if end == 13 || end != line.len() as u8 - 1 {
            return None;
        }
        self.len = 0;
        self.remaining = n;
        self.count = n;
        Some(Token::RecvData)
    }

    // Inlined into `feed`, its one caller: 10 B smaller on the AVR than out of line.
    #[inline(always)]
    fn classify(&mut self) -> Token {
        let mut full = &self.line[..((self.len & 0x7f) as usize).min(LINE_MAX)];
        while let [rest @ .., b' '] = full {
            full = rest;
        }
        // A link URC, whole or spliced onto junk (e.g. inside an echo): `...}0,CLOSED` ends
        // 8 bytes long, `...,1,CONNECT` 9. Every tail up to 9 bytes is tried (shorter ones
        // match nothing): a loop over the line, where an array of the three starts was built
        // on the stack. No line of the table below ends like these, so they go first. The
        // whole line, then the tails from `first` on: byte indices, and the next start by
        // `max` (18 B smaller on the AVR than skipping the long tails one by one); the
        // `[id, ',', rest @ ..]` pattern leaves `lookup` an empty rest, which it matches
        // with no entry.
        let first = (full.len() as u8).saturating_sub(9);
        let mut start = 0u8;
        while let Some(tail) = full.get(start as usize..) {
            start = (start + 1).max(first);
            if let [id, b',', rest @ ..] = tail {
                if let Some(id) = link_id(*id) {
                    match lookup(rest, pstr!(b"=CONNECT\0=CLOSED\0=CONNECT FAIL\0")) {
                        Some(0) => return Token::Connect(id),
                        Some(1) => return Token::Closed(id),
                        Some(2) => return Token::ConnectFail(id),
                        _ => {}
                    }
                }
            }
        }
        // Noise glued before a line (a glitch on the ESP's UART; the emulator's fault profile
        // sends 1-8 bytes) is peeled off a byte at a time, up to `NOISE_MAX` bytes, until the
        // rest is a known line. Safe because no line the ESP prints, and no echo of our
        // commands, has the start of one of these texts 1..=8 bytes in (see the tests).
        let mut skip = 0;
        while let Some(line) = full.get(skip..) {
            // The first 17 are whole tokens, the others start lines that carry numbers. No
            // two share a start (`AT version:` is tried before the echo check below).
            match lookup(
                line,
                pstr!(
                    b"=OK\0=ERROR\0=FAIL\0=SEND OK\0=SEND FAIL\0^busy p\0^busy s\0\
                    =link is not valid\0=UNLINK\0=ready\0^+CIPRECVLEN:\0^AT version:\0\
                    ^WIFI DISCONNECT\0^WIFI CONNECTED\0^WIFI GOT IP\0=no change\0\
                    ^ALREADY CONNECT\0^+IPD,\0^Recv \0^+CIPSTATUS:\0^STATUS:\0^+CWJAP:\0\
                    ^+CIFSR:STAIP,\"\0^+CIFSR:APIP,\"\0"
                ),
            ) {
                Some(i @ 0..=16) => {
                    // Set for all 17 (one store): read only after the two value lines,
                    // `AT version:` (11 bytes) and `+CIPRECVLEN:`, whose `:` is the 12th.
                    self.value_at = (skip + 11) as u8;
                    return simple_token(i);
                }
                Some(17) => {
                    return match ipd_fields(line, &mut self.count) {
                        Some(id) => Token::IpdNotice(id),
                        None => Token::Other,
                    };
                }
                Some(19) => {
                    if let Some(id) = line.get(11).and_then(|&b| link_id(b)) {
                        return Token::CipStatus(id);
                    }
                }
                // `Recv <n> bytes`, `STATUS:<n>` and `+CWJAP:<code>`: one number test. The
                // first two need nothing done, but are told apart so that no noise is looked
                // for in them.
                Some(i @ (18 | 20 | 21)) => {
                    // The number's start by arithmetic (5 after `Recv `, 18, and 7 after the
                    // others, 20 and 21): with a select, each start got a call of its own
                    // (10 B more on the AVR).
                    if let Some(n) = number(line, 7 - (i & 2)) {
                        return if i == 21 {
                            Token::Cwjap(n as u8)
                        } else {
                            Token::Other
                        };
                    }
                }
                // `+CIFSR:STAIP,"` and `+CIFSR:APIP,"`: one call reads either address.
                Some(i @ (22 | 23)) => {
                    let ap = i == 23;
                    // Where the quote is, by arithmetic (no select): one byte earlier in the
                    // `APIP` line, the table's next entry.
                    if parse_ip(line, STA_IP_AT - (i - 22), &mut self.ip) {
                        return Token::Ip { ap };
                    }
                }
                _ => {}
            }
            if skip == NOISE_MAX {
                break;
            }
            skip += 1;
        }
        // Last: an echo may end in `,CLOSED`, and noise may precede a known line.
        // (`ALREADY CONNECT` used to be looked up here too, so only without noise: it is in
        // the table now, which is 14 B smaller on the AVR. The driver ignores it as it
        // ignores `Other`, and the ESP prints it only to the joins and connects of
        // bring-up, when an echo is ignored too.)
        // `full` starts at the line's start: its first two bytes compared as one 16-bit value.
        if full.len() >= 2 && u16::from_le_bytes([self.line[0], self.line[1]]) == AT {
            Token::Echo
        } else {
            Token::Other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn tokens(input: &[u8]) -> Vec<Token> {
        let mut p = Parser::new();
        input.iter().filter_map(|&b| p.feed(b)).collect()
    }

    /// The lengths the parser reports ([`Parser::count`]) with each `+IPD` and
    /// `+CIPRECVDATA` token of `input`, in order.
    fn counts(input: &[u8]) -> Vec<u16> {
        let mut p = Parser::new();
        let mut out = vec![];
        for &b in input {
            if let Some(Token::IpdNotice(_) | Token::IpdData(_) | Token::RecvData) = p.feed(b) {
                out.push(p.count());
            }
        }
        out
    }

    fn data(bytes: &[u8]) -> Vec<Token> {
        bytes.iter().map(|&b| Token::Data(b)).collect()
    }

    #[test]
    fn final_results_and_busy() {
        use Token::*;
        assert_eq!(
            tokens(b"\r\nOK\r\n\r\nERROR\r\nbusy p...\r\nbusy s...\r\n\r\nSEND OK\r\n\r\nSEND FAIL\r\n\r\nFAIL\r\n"),
            [Ok, Error, BusyP, BusyS, SendOk, SendFail, Fail]
        );
    }

    #[test]
    fn echo_with_double_cr_is_one_echo_line() {
        assert_eq!(tokens(b"ATE0\r\r\n\r\nOK\r\n"), [Token::Echo, Token::Ok]);
    }

    #[test]
    fn link_urcs() {
        use Token::*;
        assert_eq!(
            tokens(b"0,CONNECT\r\n4,CLOSED\r\n2,CONNECT FAIL\r\n5,CONNECT\r\n"),
            [Connect(0), Closed(4), ConnectFail(2), Other]
        );
    }

    #[test]
    fn active_ipd_payload_is_counted_not_scanned() {
        let mut expect = vec![Token::IpdData(1)];
        expect.extend(data(b"OK\r\n0,CLOSED"));
        expect.push(Token::Closed(0));
        let input = b"\r\n+IPD,1,12:OK\r\n0,CLOSED0,CLOSED\r\n";
        assert_eq!(tokens(input), expect);
        assert_eq!(counts(input), [12]);
        // 2.x CIPDINFO form.
        let mut expect = vec![Token::IpdData(0)];
        expect.extend(data(b"hi"));
        let input = b"+IPD,0,2,\"1.2.3.4\",5000:hi";
        assert_eq!(tokens(input), expect);
        assert_eq!(counts(input), [2]);
    }

    #[test]
    fn passive_ipd_and_recvdata_both_versions() {
        assert_eq!(tokens(b"\r\n+IPD,0,300\r\n"), [Token::IpdNotice(0)]);
        assert_eq!(counts(b"\r\n+IPD,0,300\r\n"), [300]);
        let payload = b"\r\n+IPD,0,5\r\nOK\r\n";
        let mut v17 = b"+CIPRECVDATA,16:".to_vec();
        v17.extend_from_slice(payload);
        v17.extend_from_slice(b"\r\nOK\r\n");
        let mut expect = vec![Token::RecvData];
        expect.extend(data(payload));
        expect.push(Token::Ok);
        assert_eq!(tokens(&v17), expect);
        assert_eq!(counts(&v17), [16]);
        let mut v2 = b"+CIPRECVDATA:16,".to_vec();
        v2.extend_from_slice(payload);
        v2.extend_from_slice(b"\r\nOK\r\n");
        assert_eq!(tokens(&v2), expect);
        assert_eq!(counts(&v2), [16]);
    }

    #[test]
    fn prompts_both_versions() {
        assert_eq!(tokens(b"\r\nOK\r\n> "), [Token::Ok, Token::Prompt]);
        assert_eq!(tokens(b"\r\nOK\r\n\r\n>"), [Token::Ok, Token::Prompt]);
        // A URC right after the prompt's space is still a line.
        assert_eq!(
            tokens(b"> 1,CONNECT\r\n"),
            [Token::Prompt, Token::Connect(1)]
        );
    }

    #[test]
    fn info_lines() {
        use Token::*;
        assert_eq!(
            tokens(b"Recv 19 bytes\r\nSTATUS:3\r\n+CIPSTATUS:1,\"TCP\",\"192.168.100.200\",51234,80,1\r\n+CWJAP:2\r\n"),
            [Other, Other, CipStatus(1), Cwjap(2)]
        );
        let mut p = Parser::new();
        let mut lens = None;
        for &b in b"+CIPRECVLEN:236,-1,-1,0,7\r\n" {
            if p.feed(b) == Some(RecvLen) {
                lens = Some(p.recv_lens());
            }
        }
        assert_eq!(lens, Some([236, 0, 0, 0, 7]));
        let mut p = Parser::new();
        let mut ips = vec![];
        for &b in b"+CIFSR:STAIP,\"192.168.1.20\"\r\n+CIFSR:APIP,\"192.168.4.1\"\r\n" {
            if let Some(Ip { ap }) = p.feed(b) {
                ips.push((p.ip(), ap));
            }
        }
        assert_eq!(ips, [([192, 168, 1, 20], false), ([192, 168, 4, 1], true)]);
        assert_eq!(
            tokens(b"WIFI CONNECTED\r\nWIFI GOT IP\r\nWIFI DISCONNECT\r\nready\r\n"),
            [WifiConnected, WifiGotIp, WifiDisconnect, Ready]
        );
        assert_eq!(
            tokens(b"link is not valid\r\nUNLINK\r\nALREADY CONNECTED\r\nno change\r\nSDK version:3\r\n"),
            [LinkInvalid, Unlink, AlreadyConnected, NoChange, Other]
        );
    }

    #[test]
    fn at_version_line_is_readable() {
        let mut p = Parser::new();
        let mut got = None;
        for &b in b"AT version:1.7.4.0(May 11 2020 19:13:04)\r\n" {
            if p.feed(b) == Some(Token::AtVersion) {
                got = Some(p.line().to_vec());
            }
        }
        assert_eq!(&got.unwrap()[..18], b"AT version:1.7.4.0");
    }

    #[test]
    fn urc_spliced_into_echo() {
        assert_eq!(tokens(b"AT+CIPSEND=0,1,CONNECT\r\n"), [Token::Connect(1)]);
        assert_eq!(
            tokens(b"}4,CLOSED\r\n1,CONNECTED\r\n5,CLOSED\r\nAT+CIPCLOSE=2,CONNECT FAIL\r\n"),
            [Token::Closed(4), Token::Other, Token::Other, Token::Echo]
        );
    }

    #[test]
    fn numbers_minus_and_saturation() {
        assert_eq!(scan_number(b"x236,", 1), (236, 4));
        assert_eq!(scan_number(b"-12,", 0), (0, 3));
        assert_eq!(scan_number(b"-,", 0), (0, 1));
        assert_eq!(scan_number(b"--5", 0), (0, 1));
        assert_eq!(scan_number(b"70000", 0), (u16::MAX, 5));
        assert_eq!(scan_number(b"65535", 0), (65535, 5));
        assert_eq!(scan_number(b"ab", 1), (0, 1));
        assert_eq!(scan_number(b"ab", 2), (0, 2));
    }

    #[test]
    fn a_payload_header_after_any_two_bytes_of_noise_is_still_recognised() {
        // The emulator's fault profile once put `A6` before a `+CIPRECVDATA,87:` header:
        // the parser took `A6+` for an echoed `AT+`, and the request it carried was lost.
        let hello = || {
            let mut t = data(b"hello");
            t.push(Token::Ok);
            t
        };
        let with = |first: Token, rest: Vec<Token>| [vec![first], rest].concat();
        // (Other lines: `a_known_line_after_any_two_bytes_of_noise_reads_the_same`.)
        let cases: [(&[u8], Vec<Token>); 3] = [
            (
                b"+CIPRECVDATA,5:hello\r\nOK\r\n",
                with(Token::RecvData, hello()),
            ),
            (
                b"+CIPRECVDATA:5,hello\r\nOK\r\n",
                with(Token::RecvData, hello()),
            ),
            (b"+IPD,2,5:hello", with(Token::IpdData(2), data(b"hello"))),
        ];
        for (line, want) in &cases {
            for first in 0..=255u8 {
                for second in b' '..=b'~' {
                    let input = [&[first, second][..], line].concat();
                    let got = tokens(&input);
                    assert!(got.ends_with(want), "{input:?}: {got:?}");
                    assert_eq!(counts(&input).last(), Some(&5), "{input:?}");
                }
            }
        }
        // An echo of our own command is not a header.
        assert_eq!(tokens(b"AT+CIPRECVDATA=2,256\r\n"), [Token::Echo]);
    }

    /// Every line the driver acts on, with the token it gives.
    fn known_lines() -> Vec<(&'static [u8], Token)> {
        use Token::*;
        vec![
            (b"OK", Ok),
            (b"ERROR", Error),
            (b"FAIL", Fail),
            (b"SEND OK", SendOk),
            (b"SEND FAIL", SendFail),
            (b"busy p...", BusyP),
            (b"busy s...", BusyS),
            (b"link is not valid", LinkInvalid),
            (b"UNLINK", Unlink),
            (b"ready", Ready),
            (b"+CIPRECVLEN:236,-1,0,0,7", RecvLen),
            (b"AT version:1.7.4.0(May 11 2020 19:13:04)", AtVersion),
            (b"WIFI DISCONNECT", WifiDisconnect),
            (b"WIFI CONNECTED", WifiConnected),
            (b"WIFI GOT IP", WifiGotIp),
            (b"no change", NoChange),
            (b"+IPD,2,5", IpdNotice(2)),
            (b"+CIPSTATUS:3,\"TCP\",\"1.2.3.4\",5000,80,1", CipStatus(3)),
            (b"+CWJAP:3", Cwjap(3)),
            (b"+CIFSR:STAIP,\"192.168.1.20\"", Ip { ap: false }),
            (b"+CIFSR:APIP,\"192.168.4.1\"", Ip { ap: true }),
            (b"0,CONNECT", Connect(0)),
            (b"4,CLOSED", Closed(4)),
            // `<id>,CONNECT FAIL` (of an outgoing connection, which a server never opens)
            // is only read whole: a longer tail would take echoes for it.
        ]
    }

    /// A line's token, and what the driver reads back after it: lengths, value, address,
    /// count.
    type ReadBack = (Token, [u16; 5], Vec<u8>, [u8; 4], u16);

    /// What the last line of `input` reads as.
    fn last_line(input: &[u8]) -> Option<ReadBack> {
        let mut p = Parser::new();
        let mut last = None;
        for &b in input {
            if let Some(t) = p.feed(b) {
                // Each read-back is defined only after its own tokens.
                let (mut lens, mut value, mut ip, mut count) = ([0; 5], Vec::new(), [0; 4], 0);
                match t {
                    // Noise pushes the end of a long line past `LINE_MAX`: its start is
                    // compared.
                    Token::AtVersion => value = p.value().iter().take(20).copied().collect(),
                    Token::RecvLen => lens = p.recv_lens(),
                    Token::Ip { .. } => ip = p.ip(),
                    Token::IpdNotice(_) => count = p.count(),
                    _ => {}
                }
                last = Some((t, lens, value, ip, count));
            }
        }
        last
    }

    #[test]
    fn a_known_line_after_any_two_bytes_of_noise_reads_the_same() {
        // The fault profile glues 1-8 random bytes before a line; a lost `busy s...` or
        // `SEND OK` used to cost a response, a lost `+CIPSTATUS` or `AT`-glued line a reset.
        for (line, want) in known_lines() {
            let clean = last_line(&[line, b"\r\n"].concat()).unwrap();
            assert_eq!(clean.0, want, "{}", String::from_utf8_lossy(line));
            if let Token::IpdNotice(_) = want {
                // `+IPD,2,5`: the length comes with the token.
                assert_eq!(clean.4, 5);
            }
            for first in 0..=255u8 {
                for second in b' '..=b'~' {
                    let input = [&[first, second][..], line, b"\r\n"].concat();
                    let got = last_line(&input).unwrap();
                    assert_eq!(got, clean, "{input:?}");
                }
            }
        }
    }

    #[test]
    fn noise_is_peeled_off_up_to_eight_bytes_and_no_further() {
        assert_eq!(tokens(b"12345678busy s...\r\n"), [Token::BusyS]);
        assert_eq!(tokens(b"123456789busy s...\r\n"), [Token::Other]);
        assert_eq!(tokens(b"ATSEND OK\r\n"), [Token::SendOk]);
        // Only whole texts count after noise, as without it.
        assert_eq!(tokens(b"xyOKAY\r\n"), [Token::Other]);
        assert_eq!(tokens(b"xyRecv 19 bytes\r\n"), [Token::Other]);
    }

    #[test]
    fn long_and_garbage_lines_do_not_break_the_next_line() {
        let mut input = vec![0xffu8; 300];
        input.extend_from_slice(b"\x00\x13junk\r\nready\r\n");
        assert_eq!(tokens(&input), [Token::Other, Token::Ready]);
    }
}
