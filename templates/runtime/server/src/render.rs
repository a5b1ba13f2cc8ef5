//! Response bodies and console lines, rendered into byte sinks.
//!
//! Everything here is a pure function of its inputs, so the server can render a response
//! once to measure it and again for every `AT+CIPSEND` window, and get the same bytes.

use crate::{Config, Snapshot};
use nanoesp_at::Driver;
use nanoesp_http::pstr;
use nanoesp_http::sink::{
    put_html_byte, put_ip, put_json_byte, put_nth, put_p, put_u16, put_u32, Window,
};
use nanoesp_http::{ContentType, PStr, Status};

/// What a response carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Body {
    /// `GET /`
    Page,
    /// `GET /api/status`
    Status,
    /// `GET|POST|PUT /api/pin/<n>`
    Pin {
        /// Arduino digital pin number
        pin: u8,
        /// level read or written
        high: bool,
    },
    /// An error status with a one-line text body.
    Error(Status),
}

impl Body {
    /// Status code of the response.
    pub fn status(self) -> Status {
        match self {
            Body::Error(s) => s,
            _ => Status::Ok,
        }
    }

    /// Media type of the body.
    pub fn content_type(self) -> ContentType {
        // Tests rather than one `match`, which became a lookup table copied into SRAM.
        if let Body::Error(_) = self {
            ContentType::Text
        } else if self == Body::Page {
            ContentType::Html
        } else {
            ContentType::Json
        }
    }
}

#[inline(never)]
fn put_html(s: &mut Window, p: PStr) {
    for i in 0..p.len() {
        put_html_byte(s, p.get(i));
    }
}

fn put_json(s: &mut Window, bytes: &[u8]) {
    for &b in bytes {
        put_json_byte(s, b);
    }
}

fn put_json_p(s: &mut Window, p: PStr) {
    for i in 0..p.len() {
        put_json_byte(s, p.get(i));
    }
}

/// Writes the body of `body`.
#[inline(never)]
pub fn body(s: &mut Window, body: Body, cfg: &Config, snap: &Snapshot) {
    match body {
        Body::Page => {
            put_p(s, pstr!(b"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>"));
            put_html(s, cfg.title);
            put_p(s, pstr!(b"</title></head><body><h1>"));
            put_html(s, cfg.title);
            put_p(s, pstr!(b"</h1><p>"));
            put_html(s, cfg.text);
            put_p(
                s,
                pstr!(b"</p><p><a href=\"/api/status\">/api/status</a></p></body></html>\n"),
            );
        }
        Body::Status => {
            put_p(s, pstr!(b"{\"firmware\":\""));
            put_json_p(s, cfg.build_id);
            put_p(s, pstr!(b"\",\"esp\":\""));
            put_json(s, snap.esp_version());
            put_p(s, pstr!(b"\",\"uptime_ms\":"));
            put_u32(s, snap.uptime_ms);
            put_p(s, pstr!(b",\"analog\":["));
            for (i, &a) in snap.analog.iter().enumerate() {
                if i > 0 {
                    s.put(b',');
                }
                put_u16(s, a);
            }
            put_p(s, pstr!(b"],\"clients\":"));
            put_u16(s, snap.clients as u16);
            put_p(s, pstr!(b",\"served\":"));
            put_u32(s, snap.served);
            put_p(s, pstr!(b",\"errors\":"));
            put_u32(s, snap.errors);
            s.put(b'}');
        }
        Body::Pin { pin, high } => {
            put_p(s, pstr!(b"{\"pin\":"));
            put_u16(s, pin as u16);
            put_p(s, pstr!(b",\"value\":"));
            s.put(if high { b'1' } else { b'0' });
            s.put(b'}');
        }
        Body::Error(st) => nanoesp_http::response::write_error_body(s, st),
    }
}

/// Console messages (each rendered as one line ending in `\r\n`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line {
    /// `nanoesp <BUILD_ID> board=... esp=... link=... baud=... ssid=...`
    Banner,
    /// `nanoesp: probing ESP (AT)`
    Probing,
    /// `nanoesp: ESP does not answer; check wiring, power and baud`
    NoResponse,
    /// `nanoesp: ESP AT version <v>`
    Version,
    /// `nanoesp: warning: AT 2.x on ESP8266 is not reliable; use NonOS AT 1.7.4+`
    At2Warning,
    /// `nanoesp: joining <ssid>`
    Joining,
    /// `nanoesp: join failed: <reason> (code N), retry in S s`
    JoinFailed {
        /// `+CWJAP` code
        code: u8,
        /// seconds
        retry_s: u8,
    },
    /// `nanoesp: waiting for the stored network`
    WaitingStored,
    /// `nanoesp: wifi disconnected`
    WifiLost,
    /// `nanoesp: ESP reset detected, re-initialising`
    Reset,
    /// `nanoesp: ready http://<ip>:<port>/`
    Ready,
}

/// Writes one console line.
#[inline(never)]
pub fn line(s: &mut Window, line: Line, cfg: &Config, esp: &Driver) {
    if line == Line::Banner {
        put_p(s, pstr!(b"nanoesp "));
        put_p(s, cfg.build_id);
        put_p(s, pstr!(b" board="));
        put_p(s, cfg.board);
        put_p(s, pstr!(b" esp="));
        put_p(s, cfg.esp_module);
        put_p(s, pstr!(b" link="));
        put_p(s, cfg.link);
        put_p(s, pstr!(b" baud="));
        put_u32(s, cfg.link_baud);
        put_p(s, pstr!(b" ssid="));
        put_p(s, cfg.ssid);
    } else {
        put_p(s, pstr!(b"nanoesp: "));
        match line {
            Line::Banner => {}
            Line::Probing => put_p(s, pstr!(b"probing ESP (AT)")),
            Line::NoResponse => put_p(
                s,
                pstr!(b"ESP does not answer; check wiring, power and baud"),
            ),
            Line::Version => {
                put_p(s, pstr!(b"ESP AT version "));
                nanoesp_http::sink::put_bytes(s, esp.version());
            }
            Line::At2Warning => put_p(
                s,
                pstr!(b"warning: AT 2.x on ESP8266 is not reliable; use NonOS AT 1.7.4+"),
            ),
            Line::Joining => {
                put_p(s, pstr!(b"joining "));
                put_p(s, cfg.ssid);
            }
            Line::JoinFailed { code, retry_s } => {
                put_p(s, pstr!(b"join failed: "));
                let known = if (1..=4).contains(&code) { code } else { 0 };
                put_nth(
                    s,
                    pstr!(b"no answer\ntimeout\nwrong password\nAP not found\nconnect failed\n"),
                    known,
                );
                put_p(s, pstr!(b" (code "));
                put_u16(s, code as u16);
                put_p(s, pstr!(b"), retry in "));
                put_u16(s, retry_s as u16);
                put_p(s, pstr!(b" s"));
            }
            Line::WaitingStored => put_p(s, pstr!(b"waiting for the stored network")),
            Line::WifiLost => put_p(s, pstr!(b"wifi disconnected")),
            Line::Reset => put_p(s, pstr!(b"ESP reset detected, re-initialising")),
            Line::Ready => {
                put_p(s, pstr!(b"ready http://"));
                put_ip(s, esp.ip());
                s.put(b':');
                put_u16(s, cfg.port);
                s.put(b'/');
            }
        }
    }
    put_p(s, pstr!(b"\r\n"));
}
