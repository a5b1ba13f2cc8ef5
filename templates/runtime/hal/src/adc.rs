//! 10-bit ADC on A0–A7, referenced to AVcc (the Nano's 5 V rail).
//!
//! Conversions are polled: 13 ADC clocks at 16 MHz / 128 = 125 kHz (inside the 50–200 kHz
//! band for full resolution, datasheet §24.4) take 104 µs, short enough that waiting beats
//! another interrupt. Interrupt handlers keep running meanwhile.

use avr_device::atmega328p::ADC;

const ADMUX_REFS_AVCC: u8 = 1 << 6; // REFS1:0 = 1, AREF pin gets the external capacitor
const ADCSRA_ADEN: u8 = 1 << 7;
const ADCSRA_ADSC: u8 = 1 << 6;
const ADCSRA_CLK_DIV128: u8 = 0b111;

/// Analog channels, A0 = 0 … A7 = 7 (A6/A7 exist only as analog inputs on the Nano).
pub const CHANNELS: u8 = 8;

/// The analog-to-digital converter.
pub struct Adc {
    _adc: ADC,
}

impl Adc {
    /// Powers the ADC up with AVcc as reference.
    pub fn new(adc: ADC) -> Self {
        // SAFETY: `Adc` consumed the ADC token.
        let r = unsafe { &*ADC::ptr() };
        r.adcsra().write(|w| unsafe { w.bits(ADCSRA_ADEN | ADCSRA_CLK_DIV128) });
        Self { _adc: adc }
    }

    /// Converts channel `channel` (0–7; higher values wrap) and returns 0–1023.
    pub fn read(&mut self, channel: u8) -> u16 {
        // SAFETY: `Adc` owns the ADC.
        let r = unsafe { &*ADC::ptr() };
        r.admux().write(|w| unsafe { w.bits(ADMUX_REFS_AVCC | (channel & (CHANNELS - 1))) });
        r.adcsra().write(|w| unsafe { w.bits(ADCSRA_ADEN | ADCSRA_ADSC | ADCSRA_CLK_DIV128) });
        while r.adcsra().read().bits() & ADCSRA_ADSC != 0 {}
        // The 16-bit read takes ADCL first, which locks ADCH until it is read (§24.9.3).
        r.adc().read().bits()
    }
}
