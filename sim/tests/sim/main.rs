//! Integration tests of `nanoesp-sim`: real AVR firmwares (built at test time from
//! `tests/firmware`) on the simulated Nano, driven through its ptys, the emulator and
//! real avrdude.

mod helpers;

mod bench; // the load benchmark and the HTTP bridge, with a tiny AT server firmware
mod bootloader; // avrdude through optiboot and ATmegaBOOT, strict baud
mod console; // USART0 on a pty: echo, reset on open, strict baud
mod esp_adapter; // nanoesp-flash through the emulated ESP8266 on a pty: flash, AT, vanish
mod esp_pty; // --esp pty:PATH on both link kinds (no reset on open, paced bursts), --watch-pin
mod soft_uart; // pin-level soft UART (ICP1 receive) and the emulated ESP8266
mod timer1; // how simavr drives OC1A: the facts the firmware relies on
