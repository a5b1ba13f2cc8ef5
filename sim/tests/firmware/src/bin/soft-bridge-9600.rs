//! Bridge: USART0 console at 115200 <-> software UART at 9600 on D8 (RX, ICP1) / D9 (TX).
//! Prints `BRIDGE READY 9600` on the console first.
#![no_std]
#![no_main]
#![feature(abi_avr_interrupt)]

nanoesp_sim_testfw::soft_bridge!(9600);
