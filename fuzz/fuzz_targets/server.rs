//! Arbitrary ESP output and time into the whole server: no panic, limits kept.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanoesp_http::{pstr, PStr};
use nanoesp_server::{Board, Config, PinError, Server};

struct B;
impl Board for B {
    fn analog_read(&mut self, ch: u8) -> u16 {
        ch as u16
    }
    fn digital_read(&mut self, pin: u8) -> Result<bool, PinError> {
        if pin > 13 { Err(PinError::NoSuchPin) } else { Ok(true) }
    }
    fn digital_write(&mut self, pin: u8, _: bool) -> Result<(), PinError> {
        if pin < 2 { Err(PinError::Reserved) } else { Ok(()) }
    }
}

struct Cfg;

impl Config for Cfg {
    const BUILD_ID: PStr = pstr!(b"deadbeef");
    const BANNER: PStr = pstr!(b"nanoesp deadbeef board=nano esp=esp12e link=usart baud=115200 ssid=lab");
    const LINK_BAUD: u32 = 115200;
    const LINK_SAVE_BAUD: bool = false;
    const SSID: PStr = pstr!(b"lab");
    const PASSWORD: PStr = pstr!(b"pw");
    const SOFTAP: bool = false;
    const STORED: bool = false;
    const HOSTNAME: PStr = pstr!(b"nano");
    const PORT: u16 = 80;
    const MAX_CLIENTS: u8 = 3;
    const PAGE: PStr = nanoesp_server::page!(title: b"<t>", text: b"&");
}

fuzz_target!(|data: &[u8]| {
    let mut s: Server<Cfg, 3> = Server::new();
    let mut now = 0u32;
    let mut out = [0u8; 40];
    for chunk in data.chunks(12) {
        let (dt, bytes) = chunk.split_first().unwrap();
        s.set_now(now);
        for &b in bytes {
            s.on_uart_byte(b);
        }
        now = now.wrapping_add(*dt as u32 * 20);
        s.set_now(now);
        s.tick(&mut B);
        let _ = s.poll_uart_tx(&mut out);
        let _ = s.poll_console(&mut out);
        assert!(s.clients() <= 3);
    }
});
