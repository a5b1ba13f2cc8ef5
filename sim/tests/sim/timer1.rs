//! Pins down how simavr 1.6 drives OC1A (D9) from Timer1, through the library API: the
//! facts engineer "fw-avr" relies on (sim/README.md). If simavr changes, this fails and the
//! README must be updated.

use nanoesp_sim::avr::Pin;
use nanoesp_sim::image::{FlashPlan, power_on};

use crate::helpers::firmware;

const GPIOR0: u16 = 0x3E;
const GPIOR1: u16 = 0x4A;
const GPIOR2: u16 = 0x4B;
const PORTB: u16 = 0x25;

#[test]
fn oc1a_compare_output_behaves_as_documented() {
    let plan = FlashPlan {
        firmware: Some(firmware("timer1-probe")),
        ..FlashPlan::default()
    };
    let (mut avr, _) = power_on(&plan).unwrap();
    let d9 = Pin::from_arduino("D9").unwrap();
    // level of D9 seen on the wire right after each step, and just before the next one
    let mut first: [Option<bool>; 12] = [None; 12];
    let mut last: [Option<bool>; 12] = [None; 12];
    let mut portb_at_8 = 0;
    let mut step = 0u8;
    let mut gpior1_at_9 = 0;
    let mut gpior2_at_9 = 0;
    while step < 11 && avr.cycle() < 16_000_000 {
        avr.run_until(avr.cycle() + 50);
        let now = avr.peek(GPIOR0);
        if now != step {
            step = now;
            first[step as usize] = Some(avr.pin_level(d9));
        }
        last[step as usize] = Some(avr.pin_level(d9));
        if step == 8 {
            portb_at_8 = avr.peek(PORTB);
        }
        if step == 9 {
            (gpior1_at_9, gpior2_at_9) = (avr.peek(GPIOR1), avr.peek(GPIOR2));
        }
    }
    assert_eq!(step, 11, "probe firmware finished");
    // 1: COM1A = clear set up, PORTB1 = 0: low
    assert_eq!(first[1], Some(false));
    // 2: writing OCR1A with COM1A = clear leaves D9 low (simavr 1.6 re-applies the PWM
    //    action and drives it high; the shim undoes that), and the match keeps it low
    assert_eq!(first[2], Some(false), "OCR1A write must not change OC1A");
    assert_eq!(last[2], Some(false), "the match clears it");
    // 4: COM1A = set: the match drives D9 high
    assert_eq!(last[4], Some(true));
    // 5: a PORTB write (PORTB1 = 0) leaves D9 on the OC1A latch, high (simavr 1.6 alone
    //    re-drives it from PORTB1; the shim restores the hardware behaviour)
    assert_eq!(first[5], Some(true), "PORTB write must not override OC1A");
    // 6: FOC1A with COM1A = clear drives D9 low (simavr 1.6 ignores FOC1A; the shim
    //    applies it)
    assert_eq!(first[6], Some(false), "FOC1A forces the compare action");
    // 7/8: toggle mode: no glitch on the OCR1A write, the match toggles and updates PORTB1
    assert_eq!(
        first[7],
        Some(true),
        "toggle mode: OCR1A write leaves the pin alone"
    );
    assert_eq!(last[8], Some(false), "toggle mode: the match toggles");
    assert_eq!(portb_at_8 & 0b10, 0, "toggle mode writes PORTB1");
    // 10: an overflow between OCR1A write and match leaves D9 high in set mode (simavr 1.6
    //     applies the PWM-only TOV action in normal mode; the shim undoes it)
    assert_eq!(
        first[10],
        Some(true),
        "overflow must not touch OC1A in normal mode"
    );
    // 9: TOV1 and OCF1A pending; writing OCF1A alone to TIFR1 clears OCF1A only (simavr
    //    1.6 alone clears both; the shim clears what was written as 1)
    assert_eq!(
        gpior1_at_9 & 0b11,
        0b11,
        "TOV1 and OCF1A were pending: {gpior1_at_9:#04x}"
    );
    assert_eq!(
        gpior2_at_9 & 0b11,
        0b01,
        "TIFR1 write clears the flags written as 1: {gpior2_at_9:#04x}"
    );
    // 11: enabling an interrupt whose flag is set runs it at once (simavr 1.6 alone waits
    //     for the next raise; the shim makes it pending)
    assert_eq!(
        avr.peek(GPIOR1),
        0xA5,
        "the overflow handler ran as soon as TOIE1 was set"
    );
}
