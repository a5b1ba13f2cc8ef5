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

// Field markers in the command texts below (bytes no command contains).
const CUR: u8 = 1;
const SSID: u8 = 2;
const PASSWORD: u8 = 3;
const HOSTNAME: u8 = 4;
const ARG: u8 = 5;
const ARG2: u8 = 6;
const ENCRYPTION: u8 = 7;

impl Command {
    /// Writes the whole command line including `\r\n`.
    ///
    /// Each command is a line of one flash text (what follows `AT`) with field markers,
    /// filled in by one loop: a `put` call per piece of every command cost twice the flash.
    #[inline(never)]
    pub fn emit(&self, s: &mut Window, wifi: &WifiParams) {
        // (line of the text, numbers for ARG / ARG2, the 2.x spelling without `_CUR`)
        let (line, arg, arg2, plain): (u8, u32, u16, bool) = match *self {
            Command::At => (0, 0, 0, false),
            Command::EchoOff => (1, 0, 0, false),
            Command::Version => (2, 0, 0, false),
            Command::WifiMode { mode, plain } => (3, mode as u32, 0, plain),
            Command::Join { plain } => (4, 0, 0, plain),
            Command::SoftAp { plain } => (5, 0, 0, plain),
            Command::Hostname => (6, 0, 0, false),
            Command::Mux => (7, 0, 0, false),
            Command::PassiveRecv => (8, 0, 0, false),
            Command::ServerMaxConn(n) => (9, n as u32, 0, false),
            Command::Server(port) => (10, port as u32, 0, false),
            Command::ServerTimeout(secs) => (11, secs as u32, 0, false),
            Command::LocalIp => (12, 0, 0, false),
            Command::Mdns(port) => (13, port as u32, 0, false),
            Command::LinkStatus => (14, 0, 0, false),
            Command::RecvLen => (15, 0, 0, false),
            Command::RecvData { id, max } => (16, id as u32, max, false),
            Command::Send { id, len } => (17, id as u32, len, false),
            Command::Close(id) => (18, id as u32, 0, false),
            Command::UartCur(baud) => (19, baud, 0, false),
        };
        let text = pstr!(
            b"\n\
            E0\n\
            +GMR\n\
            +CWMODE\x01=\x05\n\
            +CWJAP\x01=\x02,\x03\n\
            +CWSAP\x01=\x02,\x03,5,\x07\n\
            +CWHOSTNAME=\x04\n\
            +CIPMUX=1\n\
            +CIPRECVMODE=1\n\
            +CIPSERVERMAXCONN=\x05\n\
            +CIPSERVER=1,\x05\n\
            +CIPSTO=\x05\n\
            +CIFSR\n\
            +MDNS=1,\x04,\"http\",\x05\n\
            +CIPSTATUS\n\
            +CIPRECVLEN?\n\
            +CIPRECVDATA=\x05,\x06\n\
            +CIPSEND=\x05,\x06\n\
            +CIPCLOSE=\x05\n\
            +UART_CUR=\x05,8,1,0,0\n"
        );
        put_p(s, pstr!(b"AT"));
        let mut skip = line;
        for i in 0..text.len() {
            let b = text.get(i);
            if b == b'\n' {
                if skip == 0 {
                    break;
                }
                skip -= 1;
                continue;
            }
            if skip != 0 {
                continue;
            }
            match b {
                CUR if !plain => put_p(s, pstr!(b"_CUR")),
                CUR => {}
                SSID => put_quoted(s, wifi.ssid),
                PASSWORD => put_quoted(s, wifi.password),
                HOSTNAME => put_quoted(s, wifi.hostname),
                ARG => put_u32(s, arg),
                ARG2 => put_u16(s, arg2),
                // WPA2-PSK, or open when there is no password.
                ENCRYPTION => s.put(if wifi.password.is_empty() { b'0' } else { b'3' }),
                _ => s.put(b),
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
