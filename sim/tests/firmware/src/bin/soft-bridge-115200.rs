//! Bridge: USART0 console at 115200 <-> software UART at 115200 on D8 (RX, ICP1) / D9 (TX).
//! Prints `BRIDGE READY 115200` on the console first.
#![no_std]
#![no_main]
#![feature(abi_avr_interrupt)]

use nanoesp_sim_testfw::*;

type Link = Soft<115200>;
static mut RX: Ring = Ring::new();

#[avr_device::interrupt(atmega328p)]
fn TIMER1_CAPT() {
    if let Some(b) = Link::receive_after_capture() {
        // SAFETY: only this handler pushes; main pops with interrupts off.
        unsafe { (*core::ptr::addr_of_mut!(RX)).push(b) }
    }
}

#[avr_device::entry]
fn main() -> ! {
    usart_init(16);
    Link::init();
    // SAFETY: everything the handler uses is initialised.
    unsafe { avr_device::interrupt::enable() };
    usart_write_all(b"BRIDGE READY 115200\r\n");
    loop {
        if let Some(b) = usart_read() {
            Link::write(b);
        }
        // SAFETY: popping with interrupts off, the handler only pushes.
        let got = avr_device::interrupt::free(|_| unsafe { (*core::ptr::addr_of_mut!(RX)).pop() });
        if let Some(b) = got {
            usart_write(b);
        }
    }
}
