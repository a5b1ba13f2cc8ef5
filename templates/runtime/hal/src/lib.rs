//! nanoesp-hal: the ATmega328P glue of the nanoesp firmware (Arduino Nano, 16 MHz).
//!
//! Owns the registers and interrupts; everything above it (AT driver, HTTP, server) is
//! sans-IO and host-tested. Pieces:
//! - [`usart::Usart0`]: hardware serial on D0/D1, interrupt-driven receive ring.
//! - [`soft_serial::SoftSerial`]: full-duplex Timer1 input-capture/output-compare serial on
//!   D8 (RX) / D9 (TX).
//! - [`clock::Clock`]: millisecond counter on Timer0.
//! - [`adc::Adc`]: A0–A7 against AVcc.
//! - [`pins::Pins`]: digital pins by Arduino number, refusing reserved ones.
//!
//! The hal defines one interrupt vector itself, the millisecond tick
//! ([`clock::on_tick`], in assembly; every firmware has the clock); the firmware binds the
//! other handlers it uses with [`bind_interrupts!`] (the soft serial's are assembly in the
//! hal, aliased to their vectors there), so an unused driver's buffers are dropped by the
//! linker. No `core::fmt` anywhere: [`serial::Serial`] has its own decimal and hex writers.
#![no_std]
#![feature(asm_experimental_arch)]

#[cfg(not(target_arch = "avr"))]
compile_error!("nanoesp-hal drives ATmega328P registers: build it for target avr-none with -C target-cpu=atmega328p");

pub mod adc;
pub mod clock;
mod isr_cell;
pub mod pins;
pub mod ring;
pub mod serial;
pub mod soft_serial;
pub mod usart;

pub use avr_device;
pub use serial::Serial;

/// CPU clock of the Nano's crystal. Every Nano (old and new bootloader) runs at 16 MHz.
pub const F_CPU: u32 = 16_000_000;

/// Binds the interrupt vectors of the drivers a firmware uses, so only those are linked:
/// for the ESP link either Timer1's three vectors
/// ([`soft_serial::SoftSerial`], with `cfg(nanoesp_link = "soft")`) or `USART_RX`
/// ([`usart::Usart0`], with `cfg(nanoesp_link = "usart")`). `$link` is the firmware's
/// soft-serial type; the `cfg`s are the firmware crate's own (set by its build script).
#[macro_export]
macro_rules! bind_interrupts {
    ($link:ty) => {
        // The soft serial's handlers are assembly in the hal (see `soft_serial`): the
        // vectors are aliases of them, so a USART firmware links none of them. (Global
        // assembly: the firmware crate needs `feature(asm_experimental_arch)`.)
        #[cfg(nanoesp_link = "soft")]
        core::arch::global_asm!(
            ".global __vector_10",
            ".set __vector_10, nanoesp_soft_capture",
            ".global __vector_11",
            ".set __vector_11, nanoesp_soft_tx_bit",
            ".global __vector_12",
            ".set __vector_12, nanoesp_soft_rx_sample",
        );

        #[cfg(nanoesp_link = "usart")]
        #[$crate::avr_device::interrupt(atmega328p)]
        fn USART_RX() {
            $crate::usart::Usart0::on_rx_complete();
        }

    };
}

/// Declares the firmware's ESP link from its build-time configuration: `type Link` (the
/// driver), `const LINK` (the pins it reserves) and compile-time checks that the configured
/// pins are the ones that driver uses. The choice is the firmware crate's
/// `cfg(nanoesp_link = "soft" | "usart")`, set by its build script.
#[macro_export]
macro_rules! declare_link {
    (baud: $baud:expr, rx: $rx:expr, tx: $tx:expr) => {
        #[cfg(not(any(nanoesp_link = "soft", nanoesp_link = "usart")))]
        compile_error!("no ESP link chosen: build.rs must emit cfg nanoesp_link = \"soft\" or \"usart\"");

        #[cfg(nanoesp_link = "soft")]
        type Link = $crate::soft_serial::SoftSerial<{ $baud }>;
        #[cfg(nanoesp_link = "soft")]
        const LINK: $crate::pins::Link = $crate::pins::Link::Soft;
        #[cfg(nanoesp_link = "soft")]
        const _: () = assert!(
            $rx == 8 && $tx == 9,
            "the soft-serial link runs on D8 (RX, ICP1) and D9 (TX, OC1A) only"
        );

        #[cfg(nanoesp_link = "usart")]
        type Link = $crate::usart::Usart0;
        #[cfg(nanoesp_link = "usart")]
        const LINK: $crate::pins::Link = $crate::pins::Link::Usart;
        #[cfg(nanoesp_link = "usart")]
        const _: () = assert!(
            $rx == 0 && $tx == 1,
            "the USART link runs on D0 (RX) and D1 (TX) only"
        );
    };
}
