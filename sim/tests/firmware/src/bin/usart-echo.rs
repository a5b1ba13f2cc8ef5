//! USART0 at 115200 (U2X, UBRR0 = 16): prints `ECHO READY`, then echoes every byte.
#![no_std]
#![no_main]

use nanoesp_sim_testfw::*;

#[avr_device::entry]
fn main() -> ! {
    usart_init(16);
    usart_write_all(b"ECHO READY\r\n");
    loop {
        if let Some(b) = usart_read() {
            usart_write(b);
        }
    }
}
