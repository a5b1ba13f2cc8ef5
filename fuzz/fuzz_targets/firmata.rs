//! Arbitrary link bytes (what an ESP, or any Firmata client, sends the Nano) and time steps
//! into the Firmata parser and engine: no panic, no pin outside the board touched, replies
//! always framed (every sysex reply closed).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanoesp_firmata::{Firmata, Identity, Io, Parser, Sink};

static IDENTITY: Identity = Identity { name: b"nanoesp-io", version: (2, 5), build_id: b"0badf00d" };

struct Pins;

impl Io for Pins {
    fn reserved(&self, pin: u8) -> bool {
        matches!(pin, 0 | 1 | 8 | 9)
    }
    fn pwm_capable(&self, pin: u8) -> bool {
        matches!(pin, 3 | 11)
    }
    fn digital_read(&mut self, pin: u8) -> bool {
        assert!(pin < 20 && !self.reserved(pin));
        pin % 2 == 0
    }
    fn digital_write(&mut self, pin: u8, _high: bool) {
        assert!(pin < 20 && !self.reserved(pin));
    }
    fn set_input(&mut self, pin: u8, _pull_up: bool) {
        assert!(pin < 20 && !self.reserved(pin));
    }
    fn pwm_write(&mut self, pin: u8, _duty: u8) {
        assert!(self.pwm_capable(pin));
    }
    fn analog_read(&mut self, channel: u8) -> u16 {
        assert!(channel < 8);
        u16::from(channel) * 100
    }
}

struct Out {
    open_sysex: bool,
}

impl Sink for Out {
    fn put(&mut self, byte: u8) {
        match byte {
            0xF0 => {
                assert!(!self.open_sysex, "sysex inside sysex");
                self.open_sysex = true;
            }
            0xF7 => {
                assert!(self.open_sysex, "sysex end without start");
                self.open_sysex = false;
            }
            _ => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut parser: Parser = Parser::new();
    let mut firmata = Firmata::new(&IDENTITY);
    let mut out = Out { open_sysex: false };
    let mut now = 0u32;
    firmata.start(&mut Pins, &mut out);
    for chunk in data.chunks(8) {
        let (step, bytes) = chunk.split_first().expect("chunks are not empty");
        for &b in bytes {
            if let Some(command) = parser.push(b) {
                firmata.handle(command, &mut Pins, &mut out);
            }
        }
        now = now.wrapping_add(u32::from(*step));
        firmata.poll(now, &mut Pins, &mut out);
        assert!(!out.open_sysex, "a reply was left open");
    }
});
