//! Probes simavr's Timer1 output-compare behaviour on OC1A (PB1 = D9) step by step. After
//! each step it writes the step number to GPIOR0; the test then reads PB1's level (what a
//! peer on the wire sees) and GPIOR1. See sim/README.md "simavr 1.6 Timer1 facts".
#![no_std]
#![no_main]
#![feature(abi_avr_interrupt)]

use nanoesp_sim_testfw::*;

const GPIOR0: u8 = 0x3E;
const GPIOR1: u8 = 0x4A;
const GPIOR2: u8 = 0x4B;
const TCCR1C: u8 = 0x82;
const OCR1AL: u8 = 0x88;
const OCR1AH: u8 = 0x89;

fn set_ocr1a(v: u16) {
    write(OCR1AH, (v >> 8) as u8);
    write(OCR1AL, v as u8);
}

fn pause(ticks: u16) {
    let start = read16(TCNT1L);
    while read16(TCNT1L).wrapping_sub(start) < ticks {}
}

fn step(n: u8) {
    write(GPIOR0, n);
    pause(3000);
}

#[avr_device::entry]
fn main() -> ! {
    write(DDRB, 0b10_0010); // PB1 (OC1A) and PB5 outputs
    write(PORTB, 0);
    write(TCCR1B, 1); // normal mode, clk/1
    write(TCCR1A, 0b1000_0000); // COM1A = clear on match
    step(1);
    // 2: program a match 1000 ticks ahead while COM1A = clear
    set_ocr1a(read16(TCNT1L).wrapping_add(1000));
    write(GPIOR0, 2);
    pause(3000); // the match happens meanwhile
    step(3);
    // 4: COM1A = set, match ahead, wait past it
    write(TCCR1A, 0b1100_0000);
    set_ocr1a(read16(TCNT1L).wrapping_add(1000));
    pause(3000);
    step(4);
    // 5: write PORTB (toggle the LED on PB5) with PORTB1 = 0
    write(PORTB, read(PORTB) ^ 0b10_0000);
    step(5);
    // 6: FOC1A with COM1A = clear (the line is high from step 4)
    write(TCCR1A, 0b1000_0000);
    write(TCCR1C, 0b1000_0000);
    step(6);
    // 7: toggle mode from a high line (PORTB1 = 1 and the latch forced high), match ahead
    write(PORTB, read(PORTB) | 0b10);
    write(TCCR1A, 0b1100_0000);
    write(TCCR1C, 0b1000_0000);
    write(TCCR1A, 0b0100_0000);
    set_ocr1a(read16(TCNT1L).wrapping_add(1000));
    write(GPIOR0, 7);
    pause(3000);
    step(8);
    // 9: with OCF1A and TOV1 both pending, clear only OCF1A
    write(TCCR1A, 0);
    pause(0xfff0); // at least one overflow: TOV1 set; OCF1A set by the earlier matches
    write(GPIOR1, read(TIFR1));
    write(TIFR1, 0b10); // OCF1A only
    write(GPIOR2, read(TIFR1));
    step(9);
    // 10: COM1A = set with the line high, OCR1A behind TCNT1 (next match after the
    //     overflow): the overflow must leave D9 alone (simavr re-applies the PWM action)
    write(TCCR1A, 0b1100_0000);
    write(TCCR1C, 0b1000_0000);
    while !(0x8000..0x8100).contains(&read16(TCNT1L)) {}
    set_ocr1a(0x7000);
    while read16(TCNT1L) >= 0x8000 {}
    while read16(TCNT1L) < 0x0200 {}
    write(GPIOR0, 10);
    pause(3000);
    // 11: TOV1 is set (overflows keep setting it) while its interrupt is off; enabling it
    //     runs the handler at once, as on the chip, not only at the next overflow
    write(GPIOR2, 0);
    unsafe { avr_device::interrupt::enable() };
    write(TIMSK1, 1); // TOIE1
    for _ in 0..4 {
        avr_device::asm::nop(); // interrupt response time
    }
    write(GPIOR1, read(GPIOR2));
    write(GPIOR0, 11);
    loop {}
}

#[avr_device::interrupt(atmega328p)]
fn TIMER1_OVF() {
    write(TIMSK1, 0);
    write(GPIOR2, 0xA5);
}
