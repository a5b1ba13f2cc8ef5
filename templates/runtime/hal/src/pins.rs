//! Digital pins by Arduino Nano number: D0–D13 on PORTD/PORTB, A0–A5 as 14–19 on PORTC
//! (A6/A7 are analog only). Pins used by the board or the ESP link are refused.

use avr_device::atmega328p::{PORTB, PORTC, PORTD};
use core::ptr::{read_volatile, write_volatile};

/// Arduino number of the first analog pin used digitally (A0 = 14).
pub const A0: u8 = 14;
/// Arduino number of the on-board LED (D13 = PB5, through a resistor to GND).
pub const LED: u8 = 13;

/// Why a pin cannot be used by the application.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Reserved {
    // Values spelled out: `Pins::usable` decodes them from `usable_packed`'s byte.
    /// D0/D1: USART0, wired to the USB-serial bridge (and to the ESP when the link is USART).
    Usart = 0,
    /// D13: the on-board LED, used as the firmware's status light.
    Led = 1,
    /// D8/D9: the soft-serial link to the ESP8266.
    SoftLink = 2,
}

/// What a pin request can fail with.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PinError {
    /// Not a digital pin of the Nano (only D0–D13 and A0–A5 = 14–19 are).
    NoSuchPin,
    /// The firmware itself uses this pin.
    Reserved(Reserved),
}

/// Which ESP link the firmware uses, deciding whether D8/D9 are taken.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Link {
    /// ESP on D8 (RX) / D9 (TX), soft serial.
    Soft,
    /// ESP on D0 (RX) / D1 (TX), USART0.
    Usart,
}

/// Why `pin` is unavailable with `link`, or `None` when the application may use it.
pub const fn reservation(pin: u8, link: Link) -> Option<Reserved> {
    match pin {
        0 | 1 => Some(Reserved::Usart),
        8 | 9 if matches!(link, Link::Soft) => Some(Reserved::SoftLink),
        LED => Some(Reserved::Led),
        _ => None,
    }
}

/// PIN register address and bit mask of a digital pin; DDR and PORT follow at +1 and +2.
/// The address is a byte (the ports sit below 0x100): a smaller result than with a pointer.
fn locate(pin: u8) -> Option<(u8, u8)> {
    let (base, bit) = match pin {
        0..=7 => (PORTD::ptr() as usize, pin),
        8..=13 => (PORTB::ptr() as usize, pin - 8),
        14..=19 => (PORTC::ptr() as usize, pin - A0),
        _ => return None,
    };
    Some((base as u8, 1 << bit))
}

/// The register at data address `addr`.
fn reg(addr: u8) -> *mut u8 {
    usize::from(addr) as *mut u8
}

/// The GPIO ports, minus the pins reserved for the link and the board.
pub struct Pins {
    link: Link,
    _ports: (PORTB, PORTC, PORTD),
}

impl Pins {
    /// Takes the three ports; `link` decides whether D8/D9 are reserved.
    pub fn new(portb: PORTB, portc: PORTC, portd: PORTD, link: Link) -> Self {
        Self { link, _ports: (portb, portc, portd) }
    }

    /// The PINx register address and bit mask of `pin`, if the firmware may use it.
    #[inline(always)]
    fn usable(&self, pin: u8) -> Result<(u8, u8), PinError> {
        match self.usable_packed(pin) {
            // Masked: the four values are all there are (see `usable_packed`), and the mask
            // makes the decoding the identity, with no clamp.
            (0, why) => Err(match why & 3 {
                0 => PinError::Reserved(Reserved::Usart),
                1 => PinError::Reserved(Reserved::Led),
                2 => PinError::Reserved(Reserved::SoftLink),
                _ => PinError::NoSuchPin,
            }),
            found => Ok(found),
        }
    }

    /// [`Pins::usable`] as two bytes, which come back in registers (a `Result` of three
    /// went through the caller's stack frame on the AVR): an error is address 0 (no port is
    /// there) with the [`Reserved`] reason, or 3 for no such pin, as the mask (the values
    /// `PinError` has in memory, so the decoding above needs no lookup table).
    #[inline(never)]
    fn usable_packed(&self, pin: u8) -> (u8, u8) {
        match reservation(pin, self.link) {
            Some(why) => (0, why as u8),
            None => locate(pin).unwrap_or((0, 3)),
        }
    }

    /// Reads the level of `pin` whatever its direction.
    pub fn read(&self, pin: u8) -> Result<bool, PinError> {
        let (pin_reg, mask) = self.usable(pin)?;
        let pin_reg = reg(pin_reg);
        // SAFETY: `pin_reg` is a PINx register of a port this struct owns.
        Ok(unsafe { read_volatile(pin_reg) } & mask != 0)
    }

    /// Makes `pin` an output driving `high`.
    pub fn write(&mut self, pin: u8, high: bool) -> Result<(), PinError> {
        let (pin_reg, mask) = self.usable(pin)?;
        let pin_reg = reg(pin_reg);
        // Level first, then direction, so the pin never glitches to the other level.
        set_bits(pin_reg.wrapping_add(2), mask, high);
        set_bits(pin_reg.wrapping_add(1), mask, true);
        Ok(())
    }

    /// Makes `pin` an input, with or without the internal ~40 kΩ pull-up.
    pub fn set_input(&mut self, pin: u8, pull_up: bool) -> Result<(), PinError> {
        let (pin_reg, mask) = self.usable(pin)?;
        let pin_reg = reg(pin_reg);
        set_bits(pin_reg.wrapping_add(1), mask, false);
        set_bits(pin_reg.wrapping_add(2), mask, pull_up);
        Ok(())
    }

    /// True when `pin` is configured as an output.
    pub fn is_output(&self, pin: u8) -> Result<bool, PinError> {
        let (pin_reg, mask) = self.usable(pin)?;
        let pin_reg = reg(pin_reg);
        // SAFETY: DDRx of a port this struct owns.
        Ok(unsafe { read_volatile(pin_reg.wrapping_add(1)) } & mask != 0)
    }

    /// Drives the on-board LED on D13 (the status light; not available through `write`).
    pub fn set_led(&mut self, on: bool) {
        self.set_led_nonzero(on as u8);
    }

    /// Lights the on-board LED when `level` is not 0, else turns it off: [`Pins::set_led`]
    /// for a byte the caller has, with no bool made of it. A branch around `sbi`/`cbi`
    /// (LLVM made a read-modify-write select of the port, 6 B more on the AVR); the level
    /// is set before the direction, so the pin never glitches.
    #[inline(always)]
    pub fn set_led_nonzero(&mut self, level: u8) {
        const { assert!(LED == 13, "D13 is PB5") };
        // SAFETY: only PORTB5 and DDRB5 (D13, of a port this struct owns) change.
        unsafe {
            core::arch::asm!(
                "tst {level}",
                "breq 1f",
                "sbi 0x05, 5",
                "rjmp 2f",
                "1: cbi 0x05, 5",
                "2: sbi 0x04, 5",
                level = in(reg) level,
                options(nostack),
            );
        }
    }
}

/// Read-modify-write of a DDRx/PORTx register. No interrupt handler writes the ports (the
/// soft serial drives D9 through OC1A, not PORTB1), so no critical section is needed.
fn set_bits(reg: *mut u8, mask: u8, on: bool) {
    // SAFETY: `reg` is a DDRx/PORTx register of a port owned by `Pins`.
    unsafe {
        let old = read_volatile(reg);
        write_volatile(reg, if on { old | mask } else { old & !mask });
    }
}
