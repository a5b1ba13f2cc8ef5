//! Response heads: status line, `Content-Type`, `Content-Length`, `Connection: close`.
//!
//! Bodies are written by the caller's render function into the same [`Window`]; the caller
//! measures the body first (rendering it into a [`Window`] over an empty buffer counts its
//! bytes) so `Content-Length` is exact.

use crate::pstr;
use crate::sink::{put_nth, put_u16, Window};

/// The statuses the firmware sends.
///
/// Numbered from `STATUSES`, their first piece in the head's list, so a status is its
/// own piece number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    /// 200
    Ok = STATUSES,
    /// 400
    BadRequest,
    /// 403
    Forbidden,
    /// 404
    NotFound,
    /// 405
    MethodNotAllowed,
    /// 408
    RequestTimeout,
    /// 413
    PayloadTooLarge,
    /// 414
    UriTooLong,
    /// 431
    HeadersTooLarge,
    /// 503
    Unavailable,
}

impl Status {
    /// The numeric code.
    pub fn code(self) -> u16 {
        // Last two digits per variant (declaration order) in flash: a `match` here becomes a
        // lookup table in SRAM.
        let rest = pstr!(&[0u8, 0, 3, 4, 5, 8, 13, 14, 31, 3]);
        let hundreds = match self {
            Status::Ok => 200,
            Status::Unavailable => 500,
            _ => 400,
        };
        hundreds + rest.get((self as u8 - STATUSES) as usize) as u16
    }

    /// True for 4xx/5xx: every status but 200 (no code to compute).
    pub fn is_error(self) -> bool {
        self != Status::Ok
    }
}

/// Body media types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ContentType {
    /// `text/html; charset=utf-8` (numbered from `TYPES`, its piece in the head list)
    Html = TYPES,
    /// `application/json`
    Json,
    /// `text/plain; charset=utf-8`
    Text,
}

impl ContentType {
    fn put(self, s: &mut Window) {
        // In the head's list, one type per variant in declaration order; the text types'
        // common `; charset=utf-8` once, after them.
        put_piece(s, self as u8);
        if self != ContentType::Json {
            put_piece(s, CHARSET);
        }
    }
}

/// Writes the status line and headers, ending with the blank line.
#[inline]
pub fn write_head(s: &mut Window, status: Status, ctype: ContentType, content_length: u16) {
    put_piece(s, 0);
    put_status(s, status);
    put_piece(s, 1);
    ctype.put(s);
    put_piece(s, 2);
    put_u16(s, content_length);
    put_piece(s, 3);
}

/// Writes the body of an error response: `<code> <reason>\n`.
pub fn write_error_body(s: &mut Window, status: Status) {
    put_status(s, status);
    s.put(b'\n');
}

/// `<code> <reason>`, as in the status line and error bodies.
fn put_status(s: &mut Window, status: Status) {
    put_piece(s, status as u8);
}

/// The first [`put_piece`] of a content type and of a status. Statuses from 8 (after
/// [`CHARSET`]): the request parser's state then keeps its eight other states in 0..=7 of
/// the `Status` niche, one byte with `Method` at 0.
const TYPES: u8 = 4;
const STATUSES: u8 = 8;
/// `; charset=utf-8`, after the types.
const CHARSET: u8 = 7;

/// Piece `n` of the head: the fixed text in order, each content type, then `<code> <reason>`
/// for each status, in declaration order (the pieces every head needs first: each call
/// scans the list from its start). One list behind one short call: a flash string passed at
/// each call cost more. The code as text costs less flash than computing and writing the
/// number.
#[inline(never)]
fn put_piece(s: &mut Window, n: u8) {
    put_nth(s, HEAD, n);
}

/// The list of [`put_piece`]. It starts with `HTTP/`, which the request parser checks a
/// request line's version against too: one copy of the text in flash.
// `\x00` rather than `\0`: a status code after it would read as an octal escape.
pub(crate) const HEAD: crate::PStr = pstr!(
    b"HTTP/1.1 \x00\
      \r\nContent-Type: \x00\
      \r\nContent-Length: \x00\
      \r\nConnection: close\r\nCache-Control: no-store\r\n\r\n\x00\
      text/html\x00application/json\x00text/plain\x00; charset=utf-8\x00\
      200 OK\x00400 Bad Request\x00403 Forbidden\x00404 Not Found\x00\
      405 Method Not Allowed\x00408 Request Timeout\x00413 Content Too Large\x00\
      414 URI Too Long\x00431 Request Header Fields Too Large\x00\
      503 Service Unavailable\x00"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sink::{measure, render_window};

    #[test]
    fn codes() {
        let all = [
            (Status::Ok, 200),
            (Status::BadRequest, 400),
            (Status::Forbidden, 403),
            (Status::NotFound, 404),
            (Status::MethodNotAllowed, 405),
            (Status::RequestTimeout, 408),
            (Status::PayloadTooLarge, 413),
            (Status::UriTooLong, 414),
            (Status::HeadersTooLarge, 431),
            (Status::Unavailable, 503),
        ];
        for (s, c) in all {
            assert_eq!(s.code(), c);
            assert_eq!(s.is_error(), c >= 400);
            let mut out = [0u8; 40];
            let n = render_window(0, &mut out, &mut |w| put_status(w, s));
            assert!(out[..n].starts_with(format!("{c} ").as_bytes()));
        }
    }

    #[test]
    fn head_is_exact() {
        let mut out = [0u8; 200];
        let n = render_window(0, &mut out, &mut |s| {
            write_head(s, Status::NotFound, ContentType::Text, 14)
        });
        assert_eq!(
            std::str::from_utf8(&out[..n]).unwrap(),
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 14\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n"
        );
        assert_eq!(measure(&mut |s| write_error_body(s, Status::NotFound)), 14);
    }
}
