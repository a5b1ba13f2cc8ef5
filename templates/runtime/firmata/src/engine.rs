//! The Firmata engine: pin modes, report flags and the sampling interval of a Nano, with
//! StandardFirmata 2.5's semantics for each [`Command`].
//!
//! The engine touches pins only through [`Io`] and writes replies and reports only into a
//! [`Sink`]; the caller feeds it parsed commands ([`Firmata::handle`]) and time
//! ([`Firmata::poll`]). What it does, per the Firmata 2.x protocol documents:
//!
//! - Power-on and `SYSTEM_RESET` ([`Firmata::reset`]): digital pins become outputs driven
//!   low, A0–A7 analog inputs, reporting is off, the sampling interval 19 ms. Reserved pins
//!   are never touched.
//! - [`Firmata::start`]: the reset plus the unsolicited `REPORT_VERSION` and
//!   `REPORT_FIRMWARE` StandardFirmata sends when it boots, so a host sees a Nano reset.
//! - `SET_PIN_MODE` accepts input, output, pull-up (digital pins), analog (A0–A7) and PWM
//!   (pins the [`Io`] can drive with PWM) on unreserved pins and ignores anything else;
//!   leaving analog mode stops that channel's reports.
//! - Writes (`SET_DIGITAL_PIN_VALUE`, `DIGITAL_MESSAGE`) reach output pins only; a `1`
//!   written to an input pin through `DIGITAL_MESSAGE` turns its pull-up on (Firmata's
//!   legacy pull-up). `ANALOG_MESSAGE` and `EXTENDED_ANALOG` set the duty of PWM pins
//!   (values above 255 saturate).
//! - Enabling a report answers at once with the current value; then [`Firmata::poll`]
//!   sends a port when one of its input pins changed, and every sampling interval the
//!   enabled analog channels whose pin is in analog mode.

use crate::mode::{ANALOG, INPUT, OUTPUT, PULLUP, PWM, UNAVAILABLE};
use crate::parser::Command;
use crate::{
    cmd, sysex, ANALOG_CHANNELS, DIGITAL_PINS, FIRST_ANALOG_PIN, PORTS, PROTOCOL_VERSION,
    TOTAL_PINS,
};

/// Where replies and reports go (the link to the host).
pub trait Sink {
    /// Sends one byte.
    fn put(&mut self, byte: u8);
}

/// The Nano's pins as the engine sees them. Pins are Firmata numbers (0–21); the engine
/// calls the digital methods only for pins below [`DIGITAL_PINS`] that are not reserved.
pub trait Io {
    /// True for pins the firmware itself uses (the link, the console): no mode at all.
    fn reserved(&self, pin: u8) -> bool;
    /// True for pins with a PWM output.
    fn pwm_capable(&self, pin: u8) -> bool;
    /// The level on `pin`.
    fn digital_read(&mut self, pin: u8) -> bool;
    /// Makes `pin` an output driving `high`.
    fn digital_write(&mut self, pin: u8, high: bool);
    /// Makes `pin` an input, with or without the internal pull-up.
    fn set_input(&mut self, pin: u8, pull_up: bool);
    /// Makes `pin` a PWM output with duty `duty` / 255.
    fn pwm_write(&mut self, pin: u8, duty: u8);
    /// Converts analog channel 0–7 (A0–A7): 0–1023.
    fn analog_read(&mut self, channel: u8) -> u16;
}

/// What the firmware says about itself.
#[derive(Clone, Copy, Debug)]
pub struct Identity {
    /// Firmware name in `REPORT_FIRMWARE` (ASCII).
    pub name: &'static [u8],
    /// Firmware version in `REPORT_FIRMWARE` (major, minor).
    pub version: (u8, u8),
    /// Answer to the nanoesp `NANOESP_BUILD_ID` sysex (ASCII).
    pub build_id: &'static [u8],
}

/// Sampling interval after a reset, as StandardFirmata.
pub const DEFAULT_SAMPLING_INTERVAL_MS: u16 = 19;

const PINS: usize = TOTAL_PINS as usize;

/// The engine; see the module documentation.
pub struct Firmata {
    identity: &'static Identity,
    modes: [u8; PINS],
    /// Per pin: output level, PWM duty or pull-up flag (what `PIN_STATE_RESPONSE` reports).
    states: [u8; PINS],
    /// Bit `p`: digital port `p` reports.
    report_ports: u8,
    /// Bit `c`: analog channel `c` reports.
    report_analog: u8,
    last_ports: [u8; PORTS as usize],
    interval_ms: u16,
    last_sample_ms: u32,
}

fn supports(io: &impl Io, pin: u8, mode: u8) -> bool {
    if pin >= TOTAL_PINS || io.reserved(pin) {
        return false;
    }
    match mode {
        INPUT | OUTPUT | PULLUP => pin < DIGITAL_PINS,
        ANALOG => pin >= FIRST_ANALOG_PIN,
        PWM => pin < DIGITAL_PINS && io.pwm_capable(pin),
        _ => false,
    }
}

/// Modes in the order the capability response lists them, with their resolution in bits.
/// Input then output first: some hosts (pyFirmata's layout detection) look for exactly
/// that pair to find digital pins.
const CAPABILITIES: [(u8, u8); 5] = [(INPUT, 1), (OUTPUT, 1), (PULLUP, 1), (ANALOG, 10), (PWM, 8)];

fn put_all(out: &mut impl Sink, bytes: &[u8]) {
    for &b in bytes {
        out.put(b);
    }
}

impl Firmata {
    /// An engine with every pin unconfigured; call [`Firmata::start`] (or
    /// [`Firmata::reset`]) before anything else.
    pub const fn new(identity: &'static Identity) -> Self {
        Self {
            identity,
            modes: [UNAVAILABLE; PINS],
            states: [0; PINS],
            report_ports: 0,
            report_analog: 0,
            last_ports: [0; PORTS as usize],
            interval_ms: DEFAULT_SAMPLING_INTERVAL_MS,
            last_sample_ms: 0,
        }
    }

    /// Boot: [`Firmata::reset`], then the unsolicited version and firmware reports.
    pub fn start(&mut self, io: &mut impl Io, out: &mut impl Sink) {
        self.reset(io);
        self.report_version(out);
        self.report_firmware(out);
    }

    /// Back to the power-on state (`SYSTEM_RESET`).
    pub fn reset(&mut self, io: &mut impl Io) {
        self.report_ports = 0;
        self.report_analog = 0;
        self.last_ports = [0; PORTS as usize];
        self.interval_ms = DEFAULT_SAMPLING_INTERVAL_MS;
        for pin in 0..TOTAL_PINS {
            self.modes[usize::from(pin)] = UNAVAILABLE;
            let mode = if pin >= FIRST_ANALOG_PIN {
                ANALOG
            } else {
                OUTPUT
            };
            self.set_mode(pin, mode, io);
        }
    }

    /// Mode of `pin` ([`UNAVAILABLE`] for reserved or unknown pins).
    pub fn mode(&self, pin: u8) -> u8 {
        self.modes
            .get(usize::from(pin))
            .copied()
            .unwrap_or(UNAVAILABLE)
    }

    /// The analog sampling interval in milliseconds.
    pub fn sampling_interval_ms(&self) -> u16 {
        self.interval_ms
    }

    /// Carries out one command, writing any answer into `out`.
    pub fn handle(&mut self, command: Command<'_>, io: &mut impl Io, out: &mut impl Sink) {
        match command {
            Command::ReportVersion => self.report_version(out),
            Command::SystemReset => self.reset(io),
            Command::SetPinMode { pin, mode } => self.set_mode(pin, mode, io),
            Command::SetDigitalPinValue { pin, high } => {
                if self.mode(pin) == OUTPUT {
                    io.digital_write(pin, high);
                    self.states[usize::from(pin)] = u8::from(high);
                }
            }
            Command::DigitalMessage { port, levels } => self.write_port(port, levels, io),
            Command::AnalogMessage { pin, value } => self.analog_write(pin, value, io),
            Command::ReportAnalog { channel, enable } => {
                if channel < ANALOG_CHANNELS {
                    let bit = 1 << channel;
                    if enable {
                        self.report_analog |= bit;
                        send_analog(out, channel, io.analog_read(channel));
                    } else {
                        self.report_analog &= !bit;
                    }
                }
            }
            Command::ReportDigital { port, enable } => {
                if port < PORTS {
                    let bit = 1 << port;
                    if enable {
                        self.report_ports |= bit;
                        let levels = self.read_port(port, io);
                        self.last_ports[usize::from(port)] = levels;
                        send_port(out, port, levels);
                    } else {
                        self.report_ports &= !bit;
                    }
                }
            }
            Command::Sysex { id, data } => self.sysex(id, data, io, out),
        }
    }

    /// Periodic work at `now_ms`: digital ports whose inputs changed, and analog channels
    /// once per sampling interval. Call it every main-loop pass.
    pub fn poll(&mut self, now_ms: u32, io: &mut impl Io, out: &mut impl Sink) {
        for port in 0..PORTS {
            if self.report_ports & (1 << port) != 0 {
                let levels = self.read_port(port, io);
                let last = &mut self.last_ports[usize::from(port)];
                if levels != *last {
                    *last = levels;
                    send_port(out, port, levels);
                }
            }
        }
        if now_ms.wrapping_sub(self.last_sample_ms) < u32::from(self.interval_ms) {
            return;
        }
        self.last_sample_ms = now_ms;
        for channel in 0..ANALOG_CHANNELS {
            if self.report_analog & (1 << channel) != 0
                && self.mode(FIRST_ANALOG_PIN + channel) == ANALOG
            {
                send_analog(out, channel, io.analog_read(channel));
            }
        }
    }

    fn set_mode(&mut self, pin: u8, mode: u8, io: &mut impl Io) {
        if !supports(io, pin, mode) {
            return;
        }
        let i = usize::from(pin);
        if self.modes[i] == ANALOG && mode != ANALOG {
            self.report_analog &= !(1 << (pin - FIRST_ANALOG_PIN));
        }
        self.modes[i] = mode;
        self.states[i] = 0;
        match mode {
            OUTPUT => io.digital_write(pin, false),
            PWM => io.pwm_write(pin, 0),
            PULLUP => {
                io.set_input(pin, true);
                self.states[i] = 1;
            }
            // input, and analog on a pin that is also digital (A0–A5)
            _ if pin < DIGITAL_PINS => io.set_input(pin, false),
            _ => {}
        }
    }

    fn write_port(&mut self, port: u8, levels: u8, io: &mut impl Io) {
        if port >= PORTS {
            return;
        }
        for bit in 0..8 {
            let pin = port * 8 + bit;
            let high = levels & (1 << bit) != 0;
            match self.mode(pin) {
                OUTPUT => {
                    io.digital_write(pin, high);
                    self.states[usize::from(pin)] = u8::from(high);
                }
                INPUT if high => {
                    io.set_input(pin, true);
                    self.states[usize::from(pin)] = 1;
                }
                _ => {}
            }
        }
    }

    fn analog_write(&mut self, pin: u8, value: u16, io: &mut impl Io) {
        if self.mode(pin) == PWM {
            let duty = if value > 255 { 255 } else { value as u8 };
            io.pwm_write(pin, duty);
            self.states[usize::from(pin)] = duty;
        }
    }

    fn read_port(&self, port: u8, io: &mut impl Io) -> u8 {
        let mut levels = 0;
        for bit in 0..8 {
            let pin = port * 8 + bit;
            if pin < DIGITAL_PINS
                && matches!(self.mode(pin), INPUT | PULLUP)
                && io.digital_read(pin)
            {
                levels |= 1 << bit;
            }
        }
        levels
    }

    fn report_version(&self, out: &mut impl Sink) {
        put_all(
            out,
            &[cmd::REPORT_VERSION, PROTOCOL_VERSION.0, PROTOCOL_VERSION.1],
        );
    }

    fn report_firmware(&self, out: &mut impl Sink) {
        let (major, minor) = self.identity.version;
        put_all(
            out,
            &[
                cmd::START_SYSEX,
                sysex::REPORT_FIRMWARE,
                major & 0x7F,
                minor & 0x7F,
            ],
        );
        // The name travels as two 7-bit bytes per character.
        for &c in self.identity.name {
            put_all(out, &[c & 0x7F, c >> 7]);
        }
        out.put(cmd::END_SYSEX);
    }

    fn sysex(&mut self, id: u8, data: &[u8], io: &mut impl Io, out: &mut impl Sink) {
        match id {
            sysex::REPORT_FIRMWARE => self.report_firmware(out),
            sysex::NANOESP_BUILD_ID => {
                put_all(out, &[cmd::START_SYSEX, sysex::NANOESP_BUILD_ID]);
                for &b in self.identity.build_id {
                    out.put(b & 0x7F);
                }
                out.put(cmd::END_SYSEX);
            }
            sysex::CAPABILITY_QUERY => {
                put_all(out, &[cmd::START_SYSEX, sysex::CAPABILITY_RESPONSE]);
                for pin in 0..TOTAL_PINS {
                    for (mode, resolution) in CAPABILITIES {
                        if supports(io, pin, mode) {
                            put_all(out, &[mode, resolution]);
                        }
                    }
                    out.put(UNAVAILABLE);
                }
                out.put(cmd::END_SYSEX);
            }
            sysex::ANALOG_MAPPING_QUERY => {
                put_all(out, &[cmd::START_SYSEX, sysex::ANALOG_MAPPING_RESPONSE]);
                for pin in 0..TOTAL_PINS {
                    out.put(if pin >= FIRST_ANALOG_PIN {
                        pin - FIRST_ANALOG_PIN
                    } else {
                        0x7F
                    });
                }
                out.put(cmd::END_SYSEX);
            }
            sysex::PIN_STATE_QUERY => {
                if let Some(&pin) = data.first() {
                    if pin < TOTAL_PINS {
                        let state = self.states[usize::from(pin)];
                        put_all(
                            out,
                            &[
                                cmd::START_SYSEX,
                                sysex::PIN_STATE_RESPONSE,
                                pin,
                                self.mode(pin),
                                state & 0x7F,
                            ],
                        );
                        if state > 0x7F {
                            out.put(state >> 7);
                        }
                        out.put(cmd::END_SYSEX);
                    }
                }
            }
            sysex::SAMPLING_INTERVAL => {
                if let [low, high, ..] = *data {
                    let ms = u16::from(low) | (u16::from(high) << 7);
                    self.interval_ms = if ms == 0 { 1 } else { ms };
                }
            }
            sysex::EXTENDED_ANALOG => {
                if let [pin, ref groups @ ..] = *data {
                    if !groups.is_empty() {
                        // 7 bits per byte, least significant first; beyond 255 it saturates anyway.
                        let mut value: u16 = 0;
                        for (i, &g) in groups.iter().enumerate().take(3) {
                            value |= u16::from(g) << (7 * i);
                        }
                        if groups.len() > 2 && groups[2] != 0 {
                            value = u16::MAX;
                        }
                        self.analog_write(pin, value, io);
                    }
                }
            }
            _ => {}
        }
    }
}

fn send_analog(out: &mut impl Sink, channel: u8, value: u16) {
    put_all(
        out,
        &[
            cmd::ANALOG_MESSAGE | channel,
            (value & 0x7F) as u8,
            ((value >> 7) & 0x7F) as u8,
        ],
    );
}

fn send_port(out: &mut impl Sink, port: u8, levels: u8) {
    put_all(
        out,
        &[cmd::DIGITAL_MESSAGE | port, levels & 0x7F, levels >> 7],
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::Parser;

    static IDENTITY: Identity = Identity {
        name: b"nanoesp-io",
        version: (2, 5),
        build_id: b"0badc0de",
    };

    /// A Nano with the soft link: D0/D1 (console) and D8/D9 (link) reserved, Timer2 PWM on
    /// D3/D11.
    #[derive(Default)]
    struct FakeIo {
        levels: [bool; 20],
        outputs: [bool; 20],
        pull_ups: [bool; 20],
        pwm: [Option<u8>; 20],
        analog: [u16; 8],
        touched_reserved: bool,
    }

    impl Io for FakeIo {
        fn reserved(&self, pin: u8) -> bool {
            matches!(pin, 0 | 1 | 8 | 9)
        }
        fn pwm_capable(&self, pin: u8) -> bool {
            matches!(pin, 3 | 11)
        }
        fn digital_read(&mut self, pin: u8) -> bool {
            self.touched_reserved |= self.reserved(pin);
            self.levels[usize::from(pin)]
        }
        fn digital_write(&mut self, pin: u8, high: bool) {
            self.touched_reserved |= self.reserved(pin);
            let i = usize::from(pin);
            self.outputs[i] = true;
            self.levels[i] = high;
            self.pwm[i] = None;
        }
        fn set_input(&mut self, pin: u8, pull_up: bool) {
            self.touched_reserved |= self.reserved(pin);
            let i = usize::from(pin);
            self.outputs[i] = false;
            self.pull_ups[i] = pull_up;
        }
        fn pwm_write(&mut self, pin: u8, duty: u8) {
            self.touched_reserved |= self.reserved(pin);
            self.pwm[usize::from(pin)] = Some(duty);
        }
        fn analog_read(&mut self, channel: u8) -> u16 {
            self.analog[usize::from(channel)]
        }
    }

    impl Sink for Vec<u8> {
        fn put(&mut self, byte: u8) {
            self.push(byte);
        }
    }

    struct Bench {
        parser: Parser,
        firmata: Firmata,
        io: FakeIo,
        out: Vec<u8>,
    }

    fn bench() -> Bench {
        let mut b = Bench {
            parser: Parser::new(),
            firmata: Firmata::new(&IDENTITY),
            io: FakeIo::default(),
            out: Vec::new(),
        };
        b.firmata.start(&mut b.io, &mut b.out);
        b.out.clear();
        b
    }

    impl Bench {
        /// Feeds host bytes; returns what the engine answered.
        fn rx(&mut self, bytes: &[u8]) -> Vec<u8> {
            for &byte in bytes {
                if let Some(c) = self.parser.push(byte) {
                    self.firmata.handle(c, &mut self.io, &mut self.out);
                }
            }
            std::mem::take(&mut self.out)
        }

        fn poll(&mut self, now_ms: u32) -> Vec<u8> {
            self.firmata.poll(now_ms, &mut self.io, &mut self.out);
            std::mem::take(&mut self.out)
        }
    }

    fn firmware_report() -> Vec<u8> {
        let mut v = vec![0xF0, 0x79, 2, 5];
        for c in b"nanoesp-io" {
            v.extend([*c, 0]);
        }
        v.push(0xF7);
        v
    }

    // --- start and reset --------------------------------------------------------------

    #[test]
    fn start_announces_version_and_firmware() {
        let mut io = FakeIo::default();
        let mut out = Vec::new();
        Firmata::new(&IDENTITY).start(&mut io, &mut out);
        let mut expected = vec![0xF9, 2, 5];
        expected.extend(firmware_report());
        assert_eq!(out, expected);
    }

    #[test]
    fn reset_makes_digital_pins_low_outputs_and_analog_pins_analog() {
        let b = bench();
        for pin in [2, 3, 7, 10, 13] {
            assert_eq!(b.firmata.mode(pin), OUTPUT, "D{pin}");
            assert!(b.io.outputs[usize::from(pin)] && !b.io.levels[usize::from(pin)]);
        }
        for pin in 14..22 {
            assert_eq!(b.firmata.mode(pin), ANALOG);
        }
        for pin in [0, 1, 8, 9, 22, 200] {
            assert_eq!(b.firmata.mode(pin), UNAVAILABLE);
        }
        assert!(!b.io.touched_reserved);
    }

    #[test]
    fn system_reset_stops_reports_and_restores_modes() {
        let mut b = bench();
        b.rx(&[0xF4, 13, 0, 0xD1, 1, 0xC0, 1, 0xF0, 0x7A, 100, 0, 0xF7]);
        assert!(b.rx(&[0xFF]).is_empty());
        assert_eq!(b.firmata.mode(13), OUTPUT);
        assert_eq!(b.firmata.sampling_interval_ms(), 19);
        b.io.levels[13] = true;
        assert!(b.poll(1000).is_empty());
    }

    // --- queries ----------------------------------------------------------------------

    #[test]
    fn report_version_and_firmware_on_request() {
        let mut b = bench();
        assert_eq!(b.rx(&[0xF9]), [0xF9, 2, 5]);
        assert_eq!(b.rx(&[0xF0, 0x79, 0xF7]), firmware_report());
    }

    #[test]
    fn build_id_sysex() {
        let mut b = bench();
        assert_eq!(b.rx(&[0xF0, 0x0E, 0xF7]), b"\xF0\x0E0badc0de\xF7");
    }

    #[test]
    fn capability_response_lists_modes_and_leaves_reserved_pins_empty() {
        let mut b = bench();
        let reply = b.rx(&[0xF0, 0x6B, 0xF7]);
        assert_eq!(&reply[..2], [0xF0, 0x6C]);
        assert_eq!(reply.last(), Some(&0xF7));
        let pins: Vec<&[u8]> = reply[2..reply.len() - 1].split(|&b| b == 0x7F).collect();
        assert_eq!(
            pins.len(),
            23,
            "22 pins, then the empty tail after the last 0x7F"
        );
        for reserved in [0, 1, 8, 9] {
            assert!(pins[reserved].is_empty(), "pin {reserved}");
        }
        assert_eq!(pins[2], [0, 1, 1, 1, 0x0B, 1]);
        assert_eq!(pins[3], [0, 1, 1, 1, 0x0B, 1, 3, 8]);
        assert_eq!(pins[13], [0, 1, 1, 1, 0x0B, 1]);
        assert_eq!(pins[14], [0, 1, 1, 1, 0x0B, 1, 2, 10]);
        assert_eq!(pins[21], [2, 10]);
    }

    #[test]
    fn analog_mapping() {
        let mut b = bench();
        let reply = b.rx(&[0xF0, 0x69, 0xF7]);
        let mut expected = vec![0xF0, 0x6A];
        expected.extend([0x7F; 14]);
        expected.extend(0..8);
        expected.push(0xF7);
        assert_eq!(reply, expected);
    }

    #[test]
    fn pin_state_query_reports_mode_and_state() {
        let mut b = bench();
        b.rx(&[0xF5, 13, 1]);
        assert_eq!(
            b.rx(&[0xF0, 0x6D, 13, 0xF7]),
            [0xF0, 0x6E, 13, OUTPUT, 1, 0xF7]
        );
        b.rx(&[0xF4, 3, PWM, 0xE3, 0x7F, 0x01]);
        assert_eq!(
            b.rx(&[0xF0, 0x6D, 3, 0xF7]),
            [0xF0, 0x6E, 3, PWM, 0x7F, 0x01, 0xF7]
        );
        assert_eq!(
            b.rx(&[0xF0, 0x6D, 8, 0xF7]),
            [0xF0, 0x6E, 8, UNAVAILABLE, 0, 0xF7]
        );
        assert!(b.rx(&[0xF0, 0x6D, 22, 0xF7]).is_empty());
        assert!(b.rx(&[0xF0, 0x6D, 0xF7]).is_empty());
    }

    #[test]
    fn unknown_sysex_is_ignored() {
        let mut b = bench();
        assert!(b
            .rx(&[0xF0, 0x71, 0x41, 0x00, 0xF7, 0xF0, 0x00, 0xF7])
            .is_empty());
        assert_eq!(b.rx(&[0xF9]), [0xF9, 2, 5]);
    }

    // --- pin modes and writes ---------------------------------------------------------

    #[test]
    fn set_pin_mode_refuses_reserved_pins_and_impossible_modes() {
        let mut b = bench();
        b.rx(&[
            0xF4, 8, INPUT, 0xF4, 0, OUTPUT, 0xF4, 20, INPUT, 0xF4, 2, ANALOG, 0xF4, 5, PWM, 0xF4,
            2, 4, 0xF4, 30, OUTPUT,
        ]);
        assert_eq!(b.firmata.mode(8), UNAVAILABLE);
        assert_eq!(b.firmata.mode(0), UNAVAILABLE);
        assert_eq!(b.firmata.mode(20), ANALOG);
        assert_eq!(b.firmata.mode(2), OUTPUT);
        assert_eq!(b.firmata.mode(5), OUTPUT);
        assert!(!b.io.touched_reserved);
    }

    #[test]
    fn set_pin_mode_input_pull_up_and_pwm() {
        let mut b = bench();
        b.rx(&[
            0xF4, 2, INPUT, 0xF4, 4, PULLUP, 0xF4, 11, PWM, 0xF4, 15, INPUT,
        ]);
        assert!(!b.io.outputs[2] && !b.io.pull_ups[2]);
        assert!(!b.io.outputs[4] && b.io.pull_ups[4]);
        assert_eq!(b.io.pwm[11], Some(0));
        assert_eq!(b.firmata.mode(15), INPUT);
    }

    #[test]
    fn set_digital_pin_value_drives_outputs_only() {
        let mut b = bench();
        b.rx(&[0xF5, 13, 1]);
        assert!(b.io.levels[13]);
        b.rx(&[0xF4, 2, INPUT, 0xF5, 2, 1, 0xF5, 9, 1]);
        assert!(!b.io.outputs[2] && !b.io.levels[2]);
        assert!(!b.io.touched_reserved);
    }

    #[test]
    fn digital_message_writes_the_port_and_skips_reserved_pins() {
        let mut b = bench();
        b.rx(&[0x91, 0x20, 0x00]); // D13 high
        assert!(b.io.levels[13]);
        b.rx(&[0x91, 0x7F, 0x01]); // all of port 1 high
        assert!(b.io.levels[10] && b.io.levels[13]);
        b.rx(&[0x91, 0x00, 0x00]);
        assert!(!b.io.levels[13]);
        assert!(!b.io.touched_reserved);
        b.rx(&[0x9F, 0x7F, 0x01]); // no port 15: nothing
    }

    #[test]
    fn digital_message_one_on_an_input_turns_its_pull_up_on() {
        let mut b = bench();
        b.rx(&[0xF4, 4, INPUT, 0x90, 0x10, 0x00]);
        assert!(b.io.pull_ups[4] && !b.io.outputs[4]);
    }

    #[test]
    fn analog_message_and_extended_analog_set_pwm_duty() {
        let mut b = bench();
        b.rx(&[0xF4, 3, PWM, 0xE3, 0x40, 0x00]);
        assert_eq!(b.io.pwm[3], Some(0x40));
        b.rx(&[0xE3, 0x7F, 0x7F]);
        assert_eq!(b.io.pwm[3], Some(255), "saturates");
        b.rx(&[0xF0, 0x6F, 3, 0x10, 0x01, 0xF7]);
        assert_eq!(b.io.pwm[3], Some(0x90));
        b.rx(&[0xF0, 0x6F, 3, 0x00, 0x00, 0x01, 0xF7]);
        assert_eq!(b.io.pwm[3], Some(255));
        b.rx(&[0xE5, 0x10, 0x00]); // D5 is not in PWM mode
        assert_eq!(b.io.pwm[5], None);
    }

    // --- reporting --------------------------------------------------------------------

    #[test]
    fn report_analog_answers_at_once_then_every_interval() {
        let mut b = bench();
        b.io.analog[0] = 512;
        b.io.analog[3] = 205;
        assert_eq!(b.rx(&[0xC0, 1]), [0xE0, 0x00, 0x04]);
        assert_eq!(b.rx(&[0xC3, 1]), [0xE3, 205 & 0x7F, 1]);
        assert!(b.poll(10).is_empty(), "inside the first interval");
        assert_eq!(b.poll(19), [0xE0, 0x00, 0x04, 0xE3, 205 & 0x7F, 1]);
        assert!(b.poll(37).is_empty());
        assert_eq!(b.poll(38).len(), 6);
        b.rx(&[0xC3, 0]);
        assert_eq!(b.poll(100), [0xE0, 0x00, 0x04]);
    }

    #[test]
    fn sampling_interval_changes_the_analog_period() {
        let mut b = bench();
        b.rx(&[0xC0, 1, 0xF0, 0x7A, 0x64, 0x00, 0xF7]);
        assert_eq!(b.firmata.sampling_interval_ms(), 100);
        assert_eq!(b.poll(100).len(), 3);
        assert!(b.poll(199).is_empty());
        assert_eq!(b.poll(200).len(), 3);
        b.rx(&[0xF0, 0x7A, 0, 0, 0xF7]);
        assert_eq!(b.firmata.sampling_interval_ms(), 1);
    }

    #[test]
    fn leaving_analog_mode_stops_the_channel() {
        let mut b = bench();
        b.rx(&[0xC1, 1, 0xF4, 15, INPUT]);
        assert!(b.poll(1000).is_empty());
    }

    #[test]
    fn report_digital_answers_at_once_then_on_change() {
        let mut b = bench();
        b.rx(&[0xF4, 2, INPUT, 0xF4, 7, PULLUP]);
        b.io.levels[7] = true;
        assert_eq!(b.rx(&[0xD0, 1]), [0x90, 0x00, 0x01]);
        assert!(b.poll(1).is_empty());
        b.io.levels[2] = true;
        assert_eq!(b.poll(2), [0x90, 0x04, 0x01]);
        b.io.levels[3] = true; // an output: not reported
        assert!(b.poll(3).is_empty());
        b.rx(&[0xD0, 0]);
        b.io.levels[2] = false;
        assert!(b.poll(4).is_empty());
        assert!(
            b.rx(&[0xD5, 1, 0xC9, 1]).is_empty(),
            "no port 5, no channel 9"
        );
    }

    #[test]
    fn analog_pins_as_digital_inputs_report_in_ports_1_and_2() {
        let mut b = bench();
        b.rx(&[0xF4, 14, INPUT, 0xF4, 16, INPUT]);
        b.io.levels[14] = true;
        b.io.levels[16] = true;
        assert_eq!(b.rx(&[0xD1, 1]), [0x91, 0x40, 0x00]);
        assert_eq!(b.rx(&[0xD2, 1]), [0x92, 0x01, 0x00]);
    }
}
