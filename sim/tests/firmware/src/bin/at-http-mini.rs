//! A deliberately small HTTP server through the ESP8266 AT firmware on USART0 (115200),
//! for testing `nanoesp-sim bench` without the project's firmware: joins the emulator's
//! default access point, starts `AT+CIPSERVER=1,80`, and answers `GET / ` with a fixed page
//! that carries its readings as the project's page does (a `<pre id="s">` holding the status
//! JSON) and every other request with that JSON, then closes the link.
//!
//! Every received byte goes through one `+IPD` scanner, so requests that arrive while a
//! command is waiting for its reply are remembered, not lost.
#![no_std]
#![no_main]

use nanoesp_sim_testfw::*;

/// The status JSON, which the page carries too.
macro_rules! status {
    () => {
        "{\"firmware\":\"at-http-mini\",\"uptime_ms\":0,\"served\":0}"
    };
}
/// A response head up to its length, for content type `$type`.
macro_rules! head {
    ($type:literal) => {
        concat!(
            "HTTP/1.1 200 OK\r\nContent-Type: ",
            $type,
            "\r\nConnection: close\r\nContent-Length: "
        )
        .as_bytes()
    };
}
const BODY: &[u8] = status!().as_bytes();
const HEAD: &[u8] = head!("application/json");
const PAGE: &[u8] = concat!("<html><pre id=\"s\">", status!(), "</pre></html>\n").as_bytes();
const PAGE_HEAD: &[u8] = head!("text/html");
/// Offset of the byte after `GET /` in a request: a space for the page.
const PATH_END: u16 = 5;

struct Esp {
    /// +IPD scanner: 0 idle, 1.. matching "+IPD,", then id, len, data states
    state: u8,
    matched: u8,
    id: u8,
    len: u16,
    /// offset in the current request
    pos: u16,
    /// link ids with a complete request waiting for an answer
    pending: u8,
    /// link ids whose request asks for the page
    pages: u8,
    /// tail of non-payload bytes, for `wait_for`
    tail: [u8; 12],
}

const IPD: &[u8] = b"+IPD,";

impl Esp {
    fn feed(&mut self, b: u8) {
        match self.state {
            0 => {
                if b == IPD[self.matched as usize] {
                    self.matched += 1;
                    if self.matched as usize == IPD.len() {
                        self.state = 1;
                        self.id = 0;
                        self.len = 0;
                        self.matched = 0;
                    }
                } else {
                    self.matched = if b == IPD[0] { 1 } else { 0 };
                }
                self.tail.rotate_left(1);
                self.tail[11] = b;
            }
            1 => {
                if b == b',' {
                    self.state = 2;
                } else {
                    self.id = b.wrapping_sub(b'0');
                }
            }
            2 => {
                if b == b':' {
                    self.state = if self.len == 0 { 0 } else { 3 };
                    self.pos = 0;
                } else {
                    self.len = self.len * 10 + (b.wrapping_sub(b'0')) as u16;
                }
            }
            _ => {
                if self.pos == PATH_END && self.id < 8 {
                    if b == b' ' {
                        self.pages |= 1 << self.id;
                    } else {
                        self.pages &= !(1 << self.id);
                    }
                }
                self.pos += 1;
                self.len -= 1;
                if self.len == 0 {
                    self.state = 0;
                    // an HTTP request without a body fits one segment: it is complete
                    if self.id < 8 {
                        self.pending |= 1 << self.id;
                    }
                }
            }
        }
    }

    fn poll(&mut self) {
        while let Some(b) = usart_read() {
            self.feed(b);
        }
    }

    fn ends_with(&self, pat: &[u8]) -> bool {
        self.tail.ends_with(pat)
    }

    /// Waits until the non-payload stream ends with `pat`; false after ~`budget` polls.
    fn wait_for(&mut self, pat: &[u8], mut budget: u32) -> bool {
        self.tail = [0; 12];
        loop {
            if let Some(b) = usart_read() {
                self.feed(b);
                if self.ends_with(pat) {
                    return true;
                }
            }
            budget -= 1;
            if budget == 0 {
                return false;
            }
        }
    }

    fn command(&mut self, cmd: &[u8], budget: u32) -> bool {
        usart_write_all(cmd);
        self.wait_for(b"OK\r\n", budget)
    }
}

fn write_decimal(mut n: u16, out: &mut [u8; 5]) -> usize {
    let mut tmp = [0u8; 5];
    let mut i = 0;
    loop {
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        i += 1;
        if n == 0 {
            break;
        }
    }
    for j in 0..i {
        out[j] = tmp[i - 1 - j];
    }
    i
}

#[avr_device::entry]
fn main() -> ! {
    usart_init(16);
    let mut esp = Esp {
        state: 0,
        matched: 0,
        id: 0,
        len: 0,
        pos: 0,
        pending: 0,
        pages: 0,
        tail: [0; 12],
    };
    const LONG: u32 = 40_000_000;
    esp.wait_for(b"ready\r\n", LONG);
    esp.command(b"ATE0\r\n", LONG);
    esp.command(b"AT+CWMODE_CUR=1\r\n", LONG);
    while !esp.command(b"AT+CWJAP_CUR=\"nanoesp-lab\",\"correct horse\"\r\n", LONG) {}
    esp.command(b"AT+CIPMUX=1\r\n", LONG);
    esp.command(b"AT+CIPSERVER=1,80\r\n", LONG);
    loop {
        esp.poll();
        if esp.pending == 0 {
            continue;
        }
        let id = esp.pending.trailing_zeros() as u8;
        esp.pending &= !(1 << id);
        let (head, body) = if esp.pages & (1 << id) != 0 {
            (PAGE_HEAD, PAGE)
        } else {
            (HEAD, BODY)
        };
        let mut body_len = [0u8; 5];
        let n = write_decimal(body.len() as u16, &mut body_len);
        let mut total_txt = [0u8; 5];
        let tn = write_decimal((head.len() + n + 4 + body.len()) as u16, &mut total_txt);
        usart_write_all(b"AT+CIPSEND=");
        usart_write(b'0' + id);
        usart_write(b',');
        usart_write_all(&total_txt[..tn]);
        usart_write_all(b"\r\n");
        if !esp.wait_for(b"> ", LONG) {
            continue;
        }
        usart_write_all(head);
        usart_write_all(&body_len[..n]);
        usart_write_all(b"\r\n\r\n");
        usart_write_all(body);
        esp.wait_for(b"SEND OK\r\n", LONG);
        usart_write_all(b"AT+CIPCLOSE=");
        usart_write(b'0' + id);
        usart_write_all(b"\r\n");
        esp.wait_for(b"OK\r\n", LONG);
    }
}
