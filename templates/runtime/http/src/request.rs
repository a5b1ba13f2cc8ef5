//! Incremental, bounded HTTP/1.x request parser.
//!
//! Fed one byte at a time (bytes come straight out of `+CIPRECVDATA` payloads); keeps only
//! the method, the path (up to [`PATH_MAX`] bytes, query string dropped), the
//! `Content-Length` and the first byte of a small body. Header lines are counted, never
//! stored. Every input ends in `Done` or an error status after a bounded number of bytes,
//! so a request can never hang the parser (a client that just stops sending is the
//! server's per-connection timeout's job).

use crate::response::Status;

/// Longest path kept; longer ones are answered 414.
pub const PATH_MAX: usize = 32;
/// Longest request target including the query string.
pub const TARGET_MAX: u16 = 255;
/// Total header bytes accepted before answering 431.
pub const HEADERS_MAX: u16 = 4096;
/// Largest body accepted (bodies are `0`/`1`); larger ones are answered 413.
pub const BODY_MAX: u16 = 64;
const METHOD_MAX: u8 = 7;
// The `Content-Length` digits are checked in bytes, which needs this (see `header_byte`).
const _: () = assert!(BODY_MAX < 70);
const VERSION_MAX: u8 = 16;

/// The request method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Anything else (answered 405 where a route exists). First, so that a fresh
    /// [`Request`] is all zero bytes: the firmware then clears its client slots with a
    /// `memset` instead of copying a 54-byte template that would also occupy SRAM.
    Other,
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `POST`
    Post,
    /// `PUT`
    Put,
}

// One byte, in the niche of `Status` (numbered from 8): the eight states without data take
// 0..=7, so `Method` is 0 (see `Method::Other`) and a failure is stored and read as its
// status alone (a tag byte and a status byte were two stores each, 34 B more on the AVR).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Method,
    Target,
    Query,
    Version,
    LineStart,
    Header,
    Body,
    Done,
    Failed(Status),
}

/// What the parser knows after a byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// More bytes are needed.
    NeedMore,
    /// The request is complete; later bytes are ignored.
    Done,
    /// The request is malformed or too large; answer with this status and close.
    Error(Status),
}

/// Parser state for one connection (about 45 bytes).
///
/// `repr(C)`: the field order is the one that measured smallest in the AVR firmware (where
/// a field's offset decides whether it is one `ldd`/`std` away or needs its address
/// computed first).
#[derive(Clone, Debug)]
#[repr(C)]
pub struct Request {
    path: [u8; PATH_MAX],
    /// Bytes of the current method/version token or header line (saturating).
    token_len: u8,
    method: Method,
    path_len: u8,
    /// After the path (measured 6 B smaller than last, once the state was one byte).
    state: State,
    /// Position reached matching `content-length:` at the start of a header line; 0xFF = no match.
    cl_match: u8,
    /// Bytes of the target: a byte, as [`TARGET_MAX`] is 255.
    target_len: u8,
    header_bytes: u16,
    /// At most [`BODY_MAX`], so a byte (cheaper on the AVR), like `body_seen`.
    content_length: u8,
    body_seen: u8,
    body_first: u8,
    body_bytes: u8,
}

const CL_LEN: usize = 15;

/// Where the head's `Content-Length:` starts in [`crate::response::HEAD`]: after
/// `HTTP/1.1 \0`, `\r\nContent-Type: \0` and `\r\n`.
const CL_AT: usize = 29;

/// Byte `i` of `content-length:`, read from the head's `Content-Length:` in lower case
/// (`| 0x20`: the capitals become small letters, and `-` and `:` already have that bit):
/// one copy of the text in flash.
fn content_length_byte(i: usize) -> u8 {
    crate::response::HEAD.get(CL_AT + i) | 0x20
}

impl Default for Request {
    fn default() -> Self {
        Self::new()
    }
}

impl Request {
    /// A parser waiting for the request line.
    pub const fn new() -> Request {
        Request {
            state: State::Method,
            method: Method::Other,
            path: [0; PATH_MAX],
            path_len: 0,
            token_len: 0,
            cl_match: 0,
            target_len: 0,
            header_bytes: 0,
            content_length: 0,
            body_seen: 0,
            body_first: 0,
            body_bytes: 0,
        }
    }

    /// The method (valid once the request line was read).
    pub fn method(&self) -> Method {
        self.method
    }

    /// The path without the query string.
    pub fn path(&self) -> &[u8] {
        // Clamped, not checked: `feed` never stores more than `PATH_MAX` bytes, and a clamp
        // is shorter on the AVR than the slice check's panic path.
        &self.path[..(self.path_len as usize).min(PATH_MAX)]
    }

    /// The first up to 4 non-blank body bytes: `Some(b'1')` for a body `1\n`.
    pub fn body_byte(&self) -> Option<u8> {
        if self.body_bytes == 1 {
            Some(self.body_first)
        } else {
            None
        }
    }

    /// The current outcome without feeding anything.
    pub fn progress(&self) -> Progress {
        match self.state {
            State::Done => Progress::Done,
            State::Failed(s) => Progress::Error(s),
            _ => Progress::NeedMore,
        }
    }

    /// True until the first byte arrived.
    pub fn is_untouched(&self) -> bool {
        self.state == State::Method && self.token_len == 0
    }

    /// Ends the request with an error status (e.g. 408 when the client went silent).
    pub fn fail_with(&mut self, s: Status) {
        self.state = State::Failed(s);
    }

    fn fail(&mut self, s: Status) -> Progress {
        self.state = State::Failed(s);
        Progress::Error(s)
    }

    /// Feeds one byte.
    pub fn feed(&mut self, b: u8) -> Progress {
        // Header bytes, and empty lines before the request line (RFC 9112 2.2: ignored,
        // bounded), are counted against `HEADERS_MAX` in one place.
        let blank_before =
            self.state == State::Method && self.token_len == 0 && (b == b'\r' || b == b'\n');
        if blank_before || matches!(self.state, State::LineStart | State::Header) {
            self.header_bytes += 1;
            if self.header_bytes > HEADERS_MAX {
                return self.fail(Status::HeadersTooLarge);
            }
            if blank_before {
                return Progress::NeedMore;
            }
        }
        match self.state {
            State::Done => return Progress::Done,
            State::Failed(s) => return Progress::Error(s),
            State::Method => {
                if b == b' ' {
                    if self.token_len == 0 {
                        return self.fail(Status::BadRequest);
                    }
                    // At most `METHOD_MAX` (7) here: the mask tells the compiler, which
                    // then drops the slice's bounds check.
                    let token = &self.path[..(self.token_len & 7) as usize];
                    // Entry 0 (the empty token, refused above) never matches: an entry's
                    // number is then its method's (`Some(n)` maps to `n`, two table bytes
                    // for a smaller mapping).
                    self.method = match crate::progmem::lookup(
                        token,
                        crate::pstr!(b"=\0=GET\0=HEAD\0=POST\0=PUT\0"),
                    ) {
                        Some(1) => Method::Get,
                        Some(2) => Method::Head,
                        Some(3) => Method::Post,
                        Some(4) => Method::Put,
                        _ => Method::Other,
                    };
                    self.token_len = 0;
                    self.state = State::Target;
                } else if b.is_ascii_uppercase() && self.token_len < METHOD_MAX {
                    self.path[self.token_len as usize] = b;
                    self.token_len += 1;
                } else {
                    return self.fail(Status::BadRequest);
                }
            }
            State::Target | State::Query => {
                if b == b' ' {
                    if self.path_len == 0 {
                        return self.fail(Status::BadRequest);
                    }
                    self.state = State::Version;
                    return Progress::NeedMore;
                }
                if b <= b' ' || b == 0x7f {
                    return self.fail(Status::BadRequest);
                }
                match self.target_len.checked_add(1) {
                    Some(n) if n as u16 <= TARGET_MAX => self.target_len = n,
                    _ => return self.fail(Status::UriTooLong),
                }
                if self.state == State::Query {
                    return Progress::NeedMore;
                }
                if self.path_len == 0 && b != b'/' {
                    return self.fail(Status::BadRequest);
                }
                if b == b'?' || b == b'#' {
                    self.state = State::Query;
                } else if (self.path_len as usize) < PATH_MAX {
                    self.path[self.path_len as usize] = b;
                    self.path_len += 1;
                } else {
                    return self.fail(Status::UriTooLong);
                }
            }
            State::Version => {
                if b == b'\n' {
                    if self.token_len < 8 {
                        return self.fail(Status::BadRequest);
                    }
                    self.token_len = 0;
                    self.cl_match = 0;
                    self.state = State::LineStart;
                } else if b != b'\r' {
                    let i = self.token_len as usize;
                    if self.token_len >= VERSION_MAX || (i < 5 && b != crate::response::HEAD.get(i))
                    {
                        return self.fail(Status::BadRequest);
                    }
                    self.token_len += 1;
                }
            }
            State::LineStart | State::Header => return self.header_byte(b),
            State::Body => {
                self.body_seen += 1;
                if self.body_bytes < 4 && !b.is_ascii_whitespace() {
                    if self.body_bytes == 0 {
                        self.body_first = b;
                    }
                    self.body_bytes += 1;
                }
                if self.body_seen >= self.content_length {
                    self.state = State::Done;
                    return Progress::Done;
                }
            }
        }
        Progress::NeedMore
    }

    fn header_byte(&mut self, b: u8) -> Progress {
        if b == b'\n' {
            if self.state == State::LineStart {
                return self.end_of_headers();
            }
            self.state = State::LineStart;
            self.cl_match = 0;
            return Progress::NeedMore;
        }
        if b == b'\r' {
            return Progress::NeedMore;
        }
        self.state = State::Header;
        let m = self.cl_match as usize;
        if m < CL_LEN {
            if b.to_ascii_lowercase() == content_length_byte(m) {
                self.cl_match += 1;
                if self.cl_match as usize == CL_LEN {
                    // A repeated Content-Length header restarts the value.
                    self.content_length = 0;
                }
            } else {
                self.cl_match = 0xFF;
            }
        } else if m == CL_LEN {
            if b.is_ascii_digit() {
                // Past 6 the next value is over `BODY_MAX` (64); up to 6 it is at most 69:
                // no overflow checks.
                let v = self.content_length;
                if v > 6 || v * 10 + (b - b'0') > BODY_MAX as u8 {
                    return self.fail(Status::PayloadTooLarge);
                }
                self.content_length = v * 10 + (b - b'0');
            } else if b != b' ' && b != b'\t' {
                return self.fail(Status::BadRequest);
            }
        }
        Progress::NeedMore
    }

    fn end_of_headers(&mut self) -> Progress {
        if self.content_length == 0 {
            self.state = State::Done;
            Progress::Done
        } else {
            self.state = State::Body;
            Progress::NeedMore
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &[u8]) -> (Progress, Request) {
        let mut r = Request::new();
        let mut p = Progress::NeedMore;
        for &b in input {
            p = r.feed(b);
        }
        (p, r)
    }

    #[test]
    fn simple_get_with_headers() {
        let (p, r) = parse(b"GET /api/status?x=1 HTTP/1.1\r\nHost: nano\r\nAccept: */*\r\n\r\n");
        assert_eq!(p, Progress::Done);
        assert_eq!(r.method(), Method::Get);
        assert_eq!(r.path(), b"/api/status");
    }

    #[test]
    fn post_with_small_body() {
        let (p, r) = parse(b"POST /api/pin/13 HTTP/1.1\r\nContent-Length: 2\r\n\r\n1\n");
        assert_eq!(p, Progress::Done);
        assert_eq!(r.method(), Method::Post);
        assert_eq!(r.body_byte(), Some(b'1'));
        // Body not complete yet.
        let (p, _) = parse(b"PUT /api/pin/3 HTTP/1.1\r\ncontent-length:1\r\n\r\n");
        assert_eq!(p, Progress::NeedMore);
    }

    #[test]
    fn bare_lf_line_endings_and_leading_blank_lines() {
        let (p, r) = parse(b"\r\nHEAD / HTTP/1.0\nX: y\n\n");
        assert_eq!(p, Progress::Done);
        assert_eq!(r.method(), Method::Head);
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse(b"garbage\r\n\r\n").0,
            Progress::Error(Status::BadRequest)
        );
        assert_eq!(
            parse(b"GET nopath HTTP/1.1\r\n").0,
            Progress::Error(Status::BadRequest)
        );
        assert_eq!(
            parse(b"GET / FTP/1.1\r\n").0,
            Progress::Error(Status::BadRequest)
        );
        let long = [b"GET /".as_slice(), &[b'a'; 40], b" HTTP/1.1\r\n\r\n"].concat();
        assert_eq!(parse(&long).0, Progress::Error(Status::UriTooLong));
        let long_q = [b"GET /?".as_slice(), &[b'a'; 300], b" HTTP/1.1\r\n\r\n"].concat();
        assert_eq!(parse(&long_q).0, Progress::Error(Status::UriTooLong));
        let mut big = b"GET / HTTP/1.1\r\n".to_vec();
        for _ in 0..200 {
            big.extend_from_slice(b"Cookie: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        assert_eq!(parse(&big).0, Progress::Error(Status::HeadersTooLarge));
        assert_eq!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: 99999\r\n\r\n").0,
            Progress::Error(Status::PayloadTooLarge)
        );
        assert_eq!(
            parse(b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n").0,
            Progress::Error(Status::BadRequest)
        );
    }

    #[test]
    fn content_length_limit() {
        // Up to BODY_MAX (64) is accepted, with leading zeros; 65 and over, however
        // reached, is 413.
        for (len, ok) in [
            ("0", true),
            ("7", true),
            ("60", true),
            ("64", true),
            ("0064", true),
            ("65", false),
            ("69", false),
            ("70", false),
            ("255", false),
            ("256", false),
            ("640", false),
        ] {
            let head = format!("POST / HTTP/1.1\r\nContent-Length: {len}\r\n\r\n");
            let (p, r) = parse(head.as_bytes());
            if ok {
                assert_eq!(r.content_length, len.parse::<u8>().unwrap(), "{len}");
                let want = if len.parse::<u8>().unwrap() == 0 {
                    Progress::Done
                } else {
                    Progress::NeedMore
                };
                assert_eq!(p, want, "{len}");
            } else {
                assert_eq!(p, Progress::Error(Status::PayloadTooLarge), "{len}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn any_input_ends_within_a_bounded_number_of_bytes(
            prefix in proptest::collection::vec(proptest::sample::select(b"GET /a?b HTTP/1.1\r\nContent-Length: 3\r\n\r\nx".to_vec()), 0..200),
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..5000),
        ) {
            let mut r = Request::new();
            let mut n = 0usize;
            for &b in prefix.iter().chain(bytes.iter()) {
                n += 1;
                if r.feed(b) != Progress::NeedMore {
                    break;
                }
            }
            proptest::prop_assert!(r.progress() != Progress::NeedMore || n < 4500);
            proptest::prop_assert!(r.path().len() <= PATH_MAX);
        }
    }

    #[test]
    fn endless_blank_lines_or_headers_end_in_431() {
        let (p, _) = parse(&b"\r\n".repeat(3000));
        assert_eq!(p, Progress::Error(Status::HeadersTooLarge));
        let mut endless = b"GET / HTTP/1.1\r\n".to_vec();
        endless.extend(std::iter::repeat_n(b'a', 5000));
        assert_eq!(parse(&endless).0, Progress::Error(Status::HeadersTooLarge));
    }

    #[test]
    fn content_length_text_comes_from_the_head() {
        let text: Vec<u8> = (0..CL_LEN).map(content_length_byte).collect();
        assert_eq!(text, b"content-length:");
    }

    #[test]
    fn state_is_one_byte() {
        assert_eq!(core::mem::size_of::<State>(), 1);
    }

    #[test]
    fn unknown_method_is_parsed_as_other() {
        let (p, r) = parse(b"DELETE /api/pin/2 HTTP/1.1\r\n\r\n");
        assert_eq!(p, Progress::Done);
        assert_eq!(r.method(), Method::Other);
    }
}
