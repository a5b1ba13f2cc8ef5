//! Property tests: any bytes never panic the parser or the engine, and a valid message
//! after any garbage is always understood once a command byte has resynchronised the
//! parser.

use nanoesp_firmata::{Command, Firmata, Identity, Io, Parser, Sink};
use proptest::prelude::*;

static IDENTITY: Identity = Identity {
    name: b"nanoesp-io",
    version: (2, 5),
    build_id: b"1234abcd",
};

/// Pins that just remember; D0/D1/D8/D9 reserved, PWM on D3/D11.
struct Pins([bool; 22]);

impl Io for Pins {
    fn reserved(&self, pin: u8) -> bool {
        matches!(pin, 0 | 1 | 8 | 9)
    }
    fn pwm_capable(&self, pin: u8) -> bool {
        matches!(pin, 3 | 11)
    }
    fn digital_read(&mut self, pin: u8) -> bool {
        assert!(!self.reserved(pin) && pin < 20, "read of pin {pin}");
        self.0[usize::from(pin)]
    }
    fn digital_write(&mut self, pin: u8, high: bool) {
        assert!(!self.reserved(pin) && pin < 20, "write of pin {pin}");
        self.0[usize::from(pin)] = high;
    }
    fn set_input(&mut self, pin: u8, _pull_up: bool) {
        assert!(!self.reserved(pin) && pin < 20, "input on pin {pin}");
    }
    fn pwm_write(&mut self, pin: u8, _duty: u8) {
        assert!(self.pwm_capable(pin), "pwm on pin {pin}");
    }
    fn analog_read(&mut self, channel: u8) -> u16 {
        assert!(channel < 8);
        1023
    }
}

struct Out(Vec<u8>);

impl Sink for Out {
    fn put(&mut self, byte: u8) {
        self.0.push(byte);
    }
}

fn owned(c: Command<'_>) -> String {
    format!("{c:?}")
}

/// A few valid messages and what the parser must make of them.
fn valid_message() -> impl Strategy<Value = (Vec<u8>, String)> {
    prop_oneof![
        Just((vec![0xF9], owned(Command::ReportVersion))),
        Just((
            vec![0xF0, 0x0E, 0xF7],
            owned(Command::Sysex {
                id: 0x0E,
                data: &[]
            })
        )),
        (0u8..22, 0u8..2).prop_map(|(pin, v)| (
            vec![0xF5, pin, v],
            owned(Command::SetDigitalPinValue { pin, high: v == 1 })
        )),
        (0u8..16, 0u8..0x80, 0u8..2).prop_map(|(port, lsb, msb)| (
            vec![0x90 | port, lsb, msb],
            owned(Command::DigitalMessage {
                port,
                levels: lsb | (msb << 7)
            })
        )),
        (0u8..0x80, 0u8..0x80).prop_map(|(lsb, msb)| (
            vec![0xF0, 0x7A, lsb, msb, 0xF7],
            owned(Command::Sysex {
                id: 0x7A,
                data: &[lsb, msb]
            })
        )),
    ]
}

proptest! {
    #[test]
    fn random_bytes_never_panic_the_parser_or_the_engine(bytes in proptest::collection::vec(any::<u8>(), 0..600), times in proptest::collection::vec(any::<u32>(), 1..8)) {
        let mut parser: Parser = Parser::new();
        let mut firmata = Firmata::new(&IDENTITY);
        let mut pins = Pins([false; 22]);
        let mut out = Out(Vec::new());
        firmata.start(&mut pins, &mut out);
        for (i, &b) in bytes.iter().enumerate() {
            if let Some(c) = parser.push(b) {
                firmata.handle(c, &mut pins, &mut out);
            }
            firmata.poll(times[i % times.len()], &mut pins, &mut out);
        }
        // everything the engine says is framed: data bytes never carry the top bit except
        // as command bytes, and each sysex is closed.
        let mut in_sysex = false;
        for &b in &out.0 {
            if b == 0xF0 { prop_assert!(!in_sysex); in_sysex = true; }
            if b == 0xF7 { prop_assert!(in_sysex); in_sysex = false; }
        }
        prop_assert!(!in_sysex);
    }

    #[test]
    fn a_valid_message_after_garbage_is_understood(garbage in proptest::collection::vec(any::<u8>(), 0..400), (message, expected) in valid_message()) {
        let mut parser: Parser = Parser::new();
        for &b in &garbage {
            let _ = parser.push(b);
        }
        let mut got = Vec::new();
        for &b in &message {
            if let Some(c) = parser.push(b) {
                got.push(owned(c));
            }
        }
        prop_assert_eq!(got, vec![expected]);
    }

    #[test]
    fn any_split_of_a_stream_gives_the_same_messages(bytes in proptest::collection::vec(any::<u8>(), 0..300), cut in 0usize..300) {
        // the parser keeps no state beyond itself: feeding in two runs equals one run
        let mut whole: Parser = Parser::new();
        let a: Vec<String> = bytes.iter().filter_map(|&b| whole.push(b).map(owned)).collect();
        let mut split: Parser = Parser::new();
        let cut = cut.min(bytes.len());
        let mut b: Vec<String> = bytes[..cut].iter().filter_map(|&x| split.push(x).map(owned)).collect();
        let mut again = split.clone();
        b.extend(bytes[cut..].iter().filter_map(|&x| again.push(x).map(owned)));
        prop_assert_eq!(a, b);
    }
}
