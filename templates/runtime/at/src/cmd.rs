//! AT command encoders.
//!
//! A [`Command`] is data; [`Command::emit`] writes its full line (with `\r\n`) into a
//! [`Window`], so the driver can stream it in windows without a command buffer, and
//! [`Command::encode`] writes it into a `&mut [u8]`. Literal text lives in flash
//! ([`pstr!`]). Strings in `AT+CWJAP`/`AT+CWSAP` have `"`, `,` and `\` escaped with a
//! backslash, as the AT firmware requires.

use nanoesp_http::progmem::PStr;
use nanoesp_http::pstr;
use nanoesp_http::sink::{put_p, put_u16, put_u32, Window};

/// Wi-Fi parameters some commands need (all in flash).
#[derive(Clone, Copy)]
pub struct WifiParams {
    /// SSID to join (station) or to create (softAP), raw bytes.
    pub ssid: PStr,
    /// Password, raw bytes; empty for an open network.
    pub password: PStr,
    /// Hostname for DHCP and mDNS.
    pub hostname: PStr,
}

/// Every command the driver sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// `AT` (probe)
    At,
    /// `ATE0`
    EchoOff,
    /// `AT+GMR`
    Version,
    /// `AT+CWMODE_CUR=<mode>` (`AT+CWMODE=` with `legacy` false... see `plain`)
    WifiMode {
        /// 1 station, 2 softAP
        mode: u8,
        /// Use the 2.x spelling without `_CUR`.
        plain: bool,
    },
    /// `AT+CWJAP_CUR="ssid","pwd"`
    Join {
        /// Use the 2.x spelling without `_CUR`.
        plain: bool,
    },
    /// `AT+CWSAP_CUR="ssid","pwd",5,<ecn>`
    SoftAp {
        /// Use the 2.x spelling without `_CUR`.
        plain: bool,
    },
    /// `AT+CWHOSTNAME="host"`
    Hostname,
    /// `AT+CIPMUX=1`
    Mux,
    /// `AT+CIPRECVMODE=1`
    PassiveRecv,
    /// `AT+CIPSERVERMAXCONN=<n>`
    ServerMaxConn(u8),
    /// `AT+CIPSERVER=1,<port>`
    Server(u16),
    /// `AT+CIPSTO=<s>`
    ServerTimeout(u16),
    /// `AT+CIFSR`
    LocalIp,
    /// `AT+MDNS=1,"host","http",<port>`
    Mdns(u16),
    /// `AT+CIPSTATUS`
    LinkStatus,
    /// `AT+CIPRECVLEN?`
    RecvLen,
    /// `AT+CIPRECVDATA=<id>,<max>`
    RecvData {
        /// link id
        id: u8,
        /// most bytes wanted
        max: u16,
    },
    /// `AT+CIPSEND=<id>,<len>`
    Send {
        /// link id
        id: u8,
        /// payload bytes (1..=2048)
        len: u16,
    },
    /// `AT+CIPCLOSE=<id>`
    Close(u8),
    /// `AT+UART_CUR=<baud>,8,1,0,0` (never `_DEF`, which is persistent)
    UartCur(u32),
}

/// Puts `s` with `"`, `,` and `\` escaped by a backslash.
pub fn put_escaped(sink: &mut Window, s: PStr) {
    for i in 0..s.len() {
        let b = s.get(i);
        if b == b'"' || b == b',' || b == b'\\' {
            sink.put(b'\\');
        }
        sink.put(b);
    }
}

#[inline(never)]
fn put_quoted(sink: &mut Window, s: PStr) {
    sink.put(b'"');
    put_escaped(sink, s);
    sink.put(b'"');
}

#[inline(never)]
fn put_cur(sink: &mut Window, plain: bool) {
    if !plain {
        put_p(sink, pstr!(b"_CUR"));
    }
}

impl Command {
    /// Writes the whole command line including `\r\n`.
    #[inline(never)]
    pub fn emit(&self, s: &mut Window, wifi: &WifiParams) {
        put_p(s, pstr!(b"AT"));
        match *self {
            Command::At => {}
            Command::EchoOff => put_p(s, pstr!(b"E0")),
            Command::Version => put_p(s, pstr!(b"+GMR")),
            Command::WifiMode { mode, plain } => {
                put_p(s, pstr!(b"+CWMODE"));
                put_cur(s, plain);
                s.put(b'=');
                put_u16(s, mode as u16);
            }
            Command::Join { plain } => {
                put_p(s, pstr!(b"+CWJAP"));
                put_cur(s, plain);
                s.put(b'=');
                put_quoted(s, wifi.ssid);
                s.put(b',');
                put_quoted(s, wifi.password);
            }
            Command::SoftAp { plain } => {
                put_p(s, pstr!(b"+CWSAP"));
                put_cur(s, plain);
                s.put(b'=');
                put_quoted(s, wifi.ssid);
                s.put(b',');
                put_quoted(s, wifi.password);
                // Channel 5; WPA2-PSK, or open when there is no password.
                put_p(s, pstr!(b",5,"));
                s.put(if wifi.password.is_empty() { b'0' } else { b'3' });
            }
            Command::Hostname => {
                put_p(s, pstr!(b"+CWHOSTNAME="));
                put_quoted(s, wifi.hostname);
            }
            Command::Mux => put_p(s, pstr!(b"+CIPMUX=1")),
            Command::PassiveRecv => put_p(s, pstr!(b"+CIPRECVMODE=1")),
            Command::ServerMaxConn(n) => {
                put_p(s, pstr!(b"+CIPSERVERMAXCONN="));
                put_u16(s, n as u16);
            }
            Command::Server(port) => {
                put_p(s, pstr!(b"+CIPSERVER=1,"));
                put_u16(s, port);
            }
            Command::ServerTimeout(secs) => {
                put_p(s, pstr!(b"+CIPSTO="));
                put_u16(s, secs);
            }
            Command::LocalIp => put_p(s, pstr!(b"+CIFSR")),
            Command::Mdns(port) => {
                put_p(s, pstr!(b"+MDNS=1,"));
                put_quoted(s, wifi.hostname);
                put_p(s, pstr!(b",\"http\","));
                put_u16(s, port);
            }
            Command::LinkStatus => put_p(s, pstr!(b"+CIPSTATUS")),
            Command::RecvLen => put_p(s, pstr!(b"+CIPRECVLEN?")),
            Command::RecvData { id, max } => {
                put_p(s, pstr!(b"+CIPRECVDATA="));
                put_u16(s, id as u16);
                s.put(b',');
                put_u16(s, max);
            }
            Command::Send { id, len } => {
                put_p(s, pstr!(b"+CIPSEND="));
                put_u16(s, id as u16);
                s.put(b',');
                put_u16(s, len);
            }
            Command::Close(id) => {
                put_p(s, pstr!(b"+CIPCLOSE="));
                put_u16(s, id as u16);
            }
            Command::UartCur(baud) => {
                put_p(s, pstr!(b"+UART_CUR="));
                put_u32(s, baud);
                put_p(s, pstr!(b",8,1,0,0"));
            }
        }
        put_p(s, pstr!(b"\r\n"));
    }

    /// Writes the command line into `out`; `None` if it does not fit.
    pub fn encode(&self, out: &mut [u8], wifi: &WifiParams) -> Option<usize> {
        let room = out.len();
        let mut w = Window::new(0, out);
        self.emit(&mut w, wifi);
        (w.total() as usize <= room).then_some(w.filled())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(c: Command) -> String {
        let wifi = WifiParams {
            ssid: pstr!(b"my \"lab\",x\\y"),
            password: pstr!(b"p,w"),
            hostname: pstr!(b"nano"),
        };
        let mut out = [0u8; 96];
        let n = c.encode(&mut out, &wifi).unwrap();
        String::from_utf8(out[..n].to_vec()).unwrap()
    }

    #[test]
    fn encodes_every_command() {
        assert_eq!(line(Command::At), "AT\r\n");
        assert_eq!(line(Command::EchoOff), "ATE0\r\n");
        assert_eq!(line(Command::Version), "AT+GMR\r\n");
        assert_eq!(
            line(Command::WifiMode {
                mode: 1,
                plain: false
            }),
            "AT+CWMODE_CUR=1\r\n"
        );
        assert_eq!(
            line(Command::WifiMode {
                mode: 2,
                plain: true
            }),
            "AT+CWMODE=2\r\n"
        );
        assert_eq!(
            line(Command::Join { plain: false }),
            "AT+CWJAP_CUR=\"my \\\"lab\\\"\\,x\\\\y\",\"p\\,w\"\r\n"
        );
        assert_eq!(
            line(Command::Join { plain: true }).get(..10),
            Some("AT+CWJAP=\"")
        );
        assert!(line(Command::SoftAp { plain: false }).ends_with("\"p\\,w\",5,3\r\n"));
        assert_eq!(line(Command::Hostname), "AT+CWHOSTNAME=\"nano\"\r\n");
        assert_eq!(line(Command::Mux), "AT+CIPMUX=1\r\n");
        assert_eq!(line(Command::PassiveRecv), "AT+CIPRECVMODE=1\r\n");
        assert_eq!(line(Command::ServerMaxConn(4)), "AT+CIPSERVERMAXCONN=4\r\n");
        assert_eq!(line(Command::Server(80)), "AT+CIPSERVER=1,80\r\n");
        assert_eq!(line(Command::ServerTimeout(30)), "AT+CIPSTO=30\r\n");
        assert_eq!(line(Command::LocalIp), "AT+CIFSR\r\n");
        assert_eq!(
            line(Command::Mdns(80)),
            "AT+MDNS=1,\"nano\",\"http\",80\r\n"
        );
        assert_eq!(line(Command::LinkStatus), "AT+CIPSTATUS\r\n");
        assert_eq!(line(Command::RecvLen), "AT+CIPRECVLEN?\r\n");
        assert_eq!(
            line(Command::RecvData { id: 3, max: 256 }),
            "AT+CIPRECVDATA=3,256\r\n"
        );
        assert_eq!(
            line(Command::Send { id: 0, len: 19 }),
            "AT+CIPSEND=0,19\r\n"
        );
        assert_eq!(line(Command::Close(2)), "AT+CIPCLOSE=2\r\n");
        assert_eq!(
            line(Command::UartCur(115200)),
            "AT+UART_CUR=115200,8,1,0,0\r\n"
        );
    }

    #[test]
    fn encode_reports_a_too_small_buffer() {
        let wifi = WifiParams {
            ssid: pstr!(b"a"),
            password: pstr!(b""),
            hostname: pstr!(b""),
        };
        assert_eq!(
            Command::Join { plain: false }.encode(&mut [0u8; 8], &wifi),
            None
        );
    }
}
