//! The whole server fed arbitrary ESP output and time never panics, and keeps its limits.

use nanoesp_http::{pstr, PStr};
use nanoesp_server::{Board, Config, PinError, Server};
use proptest::prelude::*;

struct B;
impl Board for B {
    fn analog_read(&mut self, ch: u8) -> u16 {
        ch as u16 * 100
    }
    fn digital_read(&mut self, pin: u8) -> Result<bool, PinError> {
        if pin > 13 {
            Err(PinError::NoSuchPin)
        } else {
            Ok(pin.is_multiple_of(2))
        }
    }
    fn digital_write(&mut self, pin: u8, _high: bool) -> Result<(), PinError> {
        if pin < 2 {
            Err(PinError::Reserved)
        } else {
            Ok(())
        }
    }
}

struct Cfg;

impl Config for Cfg {
    const BUILD_ID: PStr = pstr!(b"12345678");
    const BANNER: PStr = pstr!(b"nanoesp 12345678 board=nano esp=esp01 link=soft baud=9600 ssid=s");
    const LINK_BAUD: u32 = 9600;
    const LINK_SAVE_BAUD: bool = false;
    const SSID: PStr = pstr!(b"s");
    const PASSWORD: PStr = pstr!(b"p");
    const SOFTAP: bool = false;
    const STORED: bool = false;
    const HOSTNAME: PStr = pstr!(b"h");
    const PORT: u16 = 8080;
    const MAX_CLIENTS: u8 = 2;
    const PAGE: PStr = nanoesp_server::page!(title: b"t", text: b"x");
}

/// Pieces of plausible ESP output, glued at random.
const PIECES: &[&[u8]] = &[
    b"\r\nready\r\n",
    b"\r\nOK\r\n",
    b"\r\nERROR\r\n",
    b"> ",
    b"0,CONNECT\r\n",
    b"1,CONNECT\r\n",
    b"0,CLOSED\r\n",
    b"+IPD,0,18\r\n",
    b"+IPD,1,5:GET /",
    b"+CIPRECVDATA,18:GET / HTTP/1.1\r\n\r\n",
    b"\r\nSEND OK\r\n",
    b"\r\nSEND FAIL\r\n",
    b"busy p...\r\n",
    b"+CIFSR:STAIP,\"1.2.3.4\"\r\n",
    b"AT version:1.7.4.0(x)\r\n",
    b"+CIPRECVLEN:3,0,0,0,9\r\n",
    b"STATUS:3\r\n+CIPSTATUS:2,\"TCP\"\r\n",
    b"\xff\x00\x80",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn server_survives_any_esp_output(
        script in proptest::collection::vec((0usize..PIECES.len(), any::<u8>(), 0u32..3000), 0..200),
        raw in proptest::collection::vec(any::<u8>(), 0..500),
    ) {
        let mut s: Server<Cfg, 2> = Server::new();
        let mut now = 0u32;
        let mut out = [0u8; 48];
        for (piece, junk, dt) in script {
            s.set_now(now);
            for &b in PIECES[piece] {
                s.on_uart_byte(b);
            }
            if junk % 7 == 0 {
                s.on_uart_byte(junk);
            }
            now = now.wrapping_add(dt);
            s.set_now(now);
            s.tick(&mut B);
            let _ = s.poll_uart_tx(&mut out);
            let _ = s.poll_console(&mut out);
            prop_assert!(s.clients() <= 2);
        }
        s.set_now(now);
        for &b in &raw {
            s.on_uart_byte(b);
        }
        s.tick(&mut B);
    }
}
