//! Firmware of a nanoesp "ESP master" project: the Arduino Nano (ATmega328P, 16 MHz) is the
//! I/O coprocessor of an ESP8266 that runs the web server, and answers it in Firmata 2.x
//! (StandardFirmata semantics), so any Firmata client can drive the pins.
//!
//! Wiring (see WIRING.md of the project):
//! - `link.kind = "soft"` (default): Nano D8 (PB0, ICP1) ← ESP TX; Nano D9 (PB1, OC1A) →
//!   ESP RX through a 5 V → 3.3 V divider; the console runs on USART0 (D0/D1, the USB
//!   serial bridge) at `CONSOLE_BAUD` and prints two lines at reset.
//! - `link.kind = "usart"`: Nano D0 (RXD) ← ESP TX; Nano D1 (TXD) → ESP RX through the
//!   divider; no console.
//! - Firmata pins: D2–D13 except the link's, A0–A5 (digital or analog), A6/A7 (analog);
//!   PWM on D3 and D11 (Timer2: Timer0 is the millisecond clock and Timer1 the soft
//!   serial). The link and console pins have no mode.
//!
//! Everything protocol-related is the sans-IO `nanoesp-firmata`; this file only moves bytes
//! and time between it and `nanoesp-hal`. At reset it announces the protocol version and
//! firmware name unsolicited, as StandardFirmata does, so the ESP notices a Nano reset.
#![no_std]
#![no_main]
#![cfg_attr(nanoesp_link = "usart", feature(abi_avr_interrupt))]
#![feature(asm_experimental_arch)]

use avr_device::atmega328p::{PORTB, TC2};
use nanoesp_firmata::{Firmata, Identity, Io, Parser, Sink};
use nanoesp_hal::adc::Adc;
use nanoesp_hal::clock::Clock;
use nanoesp_hal::pins::{self, Pins};
use nanoesp_hal::Serial;

// Not every common constant is used here (ESP_MODULE).
#[allow(dead_code)]
mod config {
    include!(concat!(env!("OUT_DIR"), "/config.rs"));
}

// The ESP link and, with the soft link, the console.
nanoesp_hal::declare_link!(baud: config::LINK_BAUD, rx: config::LINK_RX, tx: config::LINK_TX);

static IDENTITY: Identity = Identity {
    name: b"nanoesp-io",
    version: nanoesp_firmata::PROTOCOL_VERSION,
    build_id: config::BUILD_ID.as_bytes(),
};

// Interrupt vectors: only the drivers in use are bound, so unused ones are not linked.
nanoesp_hal::bind_interrupts!(Link);

/// Firmata's replies go straight onto the link.
struct Out(Link);

impl Sink for Out {
    fn put(&mut self, byte: u8) {
        self.0.write_byte(byte);
    }
}

// Timer2 fast PWM, clk/64 (976 Hz, as Arduino's analogWrite), datasheet §18.11.
const TCCR2A_FAST_PWM: u8 = 0b11; // WGM21:0 = 3
const TCCR2A_COM2A1: u8 = 1 << 7; // OC2A (D11) non-inverting
const TCCR2A_COM2B1: u8 = 1 << 5; // OC2B (D3) non-inverting
const TCCR2B_CLK_DIV64: u8 = 0b100;
/// D13 = PB5.
const PB5: u8 = 1 << 5;

/// The Nano's pins for Firmata: `Pins` for D2–D12 and A0–A5, Timer2 for PWM, and D13
/// directly (`Pins` keeps it as the nano-drives-esp status light; here it is a plain pin).
struct NanoIo {
    adc: Adc,
    pins: Pins,
    tc2: TC2,
}

impl NanoIo {
    /// Disconnects the PWM output of `pin` (if it has one) so PORTx drives it again.
    fn pwm_off(&mut self, pin: u8) {
        let com = match pin {
            3 => TCCR2A_COM2B1,
            11 => TCCR2A_COM2A1,
            _ => return,
        };
        self.tc2
            .tccr2a()
            .modify(|r, w| unsafe { w.bits(r.bits() & !com) });
    }
}

fn portb() -> &'static avr_device::atmega328p::portb::RegisterBlock {
    // SAFETY: only PB5 (D13) is touched through this, and `Pins` is never asked for D13.
    unsafe { &*PORTB::ptr() }
}

impl Io for NanoIo {
    fn reserved(&self, pin: u8) -> bool {
        // the link's pins and, with the soft link, the console's (USART0 on D0/D1)
        !matches!(
            pins::reservation(pin, LINK),
            None | Some(pins::Reserved::Led)
        )
    }

    fn pwm_capable(&self, pin: u8) -> bool {
        matches!(pin, 3 | 11)
    }

    fn digital_read(&mut self, pin: u8) -> bool {
        if pin == pins::LED {
            return portb().pinb().read().bits() & PB5 != 0;
        }
        self.pins.read(pin).unwrap_or(false)
    }

    fn digital_write(&mut self, pin: u8, high: bool) {
        self.pwm_off(pin);
        if pin == pins::LED {
            self.pins.set_led(high);
        } else {
            let _ = self.pins.write(pin, high);
        }
    }

    fn set_input(&mut self, pin: u8, pull_up: bool) {
        self.pwm_off(pin);
        if pin == pins::LED {
            let p = portb();
            p.ddrb().modify(|r, w| unsafe { w.bits(r.bits() & !PB5) });
            p.portb().modify(|r, w| unsafe {
                w.bits(if pull_up {
                    r.bits() | PB5
                } else {
                    r.bits() & !PB5
                })
            });
        } else {
            let _ = self.pins.set_input(pin, pull_up);
        }
    }

    fn pwm_write(&mut self, pin: u8, duty: u8) {
        // Duty 0 is a low pin: fast PWM would still give a one-tick pulse per period.
        let _ = self.pins.write(pin, false);
        self.pwm_off(pin);
        if duty == 0 {
            return;
        }
        let com = if pin == 3 {
            self.tc2.ocr2b().write(|w| unsafe { w.bits(duty) });
            TCCR2A_COM2B1
        } else {
            self.tc2.ocr2a().write(|w| unsafe { w.bits(duty) });
            TCCR2A_COM2A1
        };
        self.tc2
            .tccr2a()
            .modify(|r, w| unsafe { w.bits(r.bits() | com) });
    }

    fn analog_read(&mut self, channel: u8) -> u16 {
        self.adc.read(channel)
    }
}

#[avr_device::entry]
fn main() -> ! {
    let Some(dp) = avr_device::atmega328p::Peripherals::take() else {
        loop {}
    };
    let clock = Clock::new(dp.TC0);
    #[cfg(nanoesp_link = "soft")]
    let link = Link::new(dp.TC1);
    #[cfg(nanoesp_link = "usart")]
    let link = Link::new::<{ config::LINK_BAUD }>(dp.USART0, true);
    dp.TC2
        .tccr2a()
        .write(|w| unsafe { w.bits(TCCR2A_FAST_PWM) });
    dp.TC2
        .tccr2b()
        .write(|w| unsafe { w.bits(TCCR2B_CLK_DIV64) });
    let mut io = NanoIo {
        adc: Adc::new(dp.ADC),
        pins: Pins::new(dp.PORTB, dp.PORTC, dp.PORTD, LINK),
        tc2: dp.TC2,
    };
    let mut out = Out(link);
    // SAFETY: all shared state is set up; the handlers bound above are the only ones.
    unsafe { avr_device::interrupt::enable() };

    #[cfg(nanoesp_link = "soft")]
    let mut console = {
        let mut console =
            nanoesp_hal::usart::Usart0::new::<{ config::CONSOLE_BAUD }>(dp.USART0, false);
        // `nanoesp <id> board=...` is the banner `nanoesp ports`/`doctor` look for.
        console.write_all(b"nanoesp ");
        console.write_all(config::BUILD_ID.as_bytes());
        console.write_all(b" board=");
        console.write_all(config::NANO_BOARD.as_bytes());
        console.write_all(b" mode=esp-master link=");
        write_link(&mut console);
        console
    };

    let mut firmata = Firmata::new(&IDENTITY);
    firmata.start(&mut io, &mut out);
    #[cfg(nanoesp_link = "soft")]
    {
        console.write_all(b"nanoesp: firmata ready link=");
        write_link(&mut console);
    }

    let mut parser: Parser = Parser::new();
    loop {
        while let Some(byte) = out.0.read_byte() {
            if let Some(command) = parser.push(byte) {
                firmata.handle(command, &mut io, &mut out);
            }
        }
        firmata.poll(clock.millis(), &mut io, &mut out);
    }
}

/// `soft@57600` and the end of the line.
#[cfg(nanoesp_link = "soft")]
fn write_link(console: &mut impl Serial) {
    console.write_all(b"soft@");
    console.write_decimal(config::LINK_BAUD);
    console.write_all(b"\r\n");
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    abort()
}

/// Where every panic ends: the firmware is built with `panic=immediate-abort` (see
/// `.cargo/config.toml`). No console text (core::fmt would cost kilobytes); the board stays
/// put until reset.
#[no_mangle]
pub extern "C" fn abort() -> ! {
    avr_device::interrupt::disable();
    loop {}
}
