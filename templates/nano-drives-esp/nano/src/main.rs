//! Firmware of a nanoesp "Nano drives ESP" project: the Arduino Nano (ATmega328P, 16 MHz)
//! serves HTTP to several browsers at once through an ESP8266 running Espressif's stock AT
//! firmware.
//!
//! Wiring (see WIRING.md of the project):
//! - `link.kind = "soft"` (default): Nano D8 (PB0, ICP1) ← ESP TX; Nano D9 (PB1, OC1A) →
//!   ESP RX through a 5 V → 3.3 V divider; the console runs on USART0 (D0/D1, the USB
//!   serial bridge) at `CONSOLE_BAUD`.
//! - `link.kind = "usart"`: Nano D0 (RXD) ← ESP TX; Nano D1 (TXD) → ESP RX through the
//!   divider; no console (USB serial shares those pins).
//! - D13: the on-board LED, lit once the ESP has an IP address.
//!
//! Everything protocol-related (AT bring-up, links, HTTP, console text) is the sans-IO
//! `nanoesp-server`; this file only moves bytes and time between it and `nanoesp-hal`.
#![no_std]
#![no_main]
#![cfg_attr(nanoesp_link = "usart", feature(abi_avr_interrupt))]
#![feature(asm_experimental_arch)]

use core::mem::MaybeUninit;
use nanoesp_at::driver::FACTORY_BAUD;
use nanoesp_hal::adc::Adc;
use nanoesp_hal::clock::Clock;
use nanoesp_hal::pins::{self, Pins};
use nanoesp_hal::Serial;
use nanoesp_http::{pstr, PStr};
use nanoesp_server::{Board, Config, PinError, Server, MAX_SLOTS};

mod config {
    include!(concat!(env!("OUT_DIR"), "/config.rs"));
}

// The ESP link and, with the soft link, the console.
nanoesp_hal::declare_link!(baud: config::LINK_BAUD, rx: config::LINK_RX, tx: config::LINK_TX);
#[cfg(nanoesp_link = "soft")]
const LINK_NAME: &[u8] = b"soft";
#[cfg(nanoesp_link = "usart")]
const LINK_NAME: &[u8] = b"usart";

/// Client slots compiled in: `MAX_CLIENTS`, at most what the server supports.
const SLOTS: usize = if (config::MAX_CLIENTS as usize) < MAX_SLOTS {
    config::MAX_CLIENTS as usize
} else {
    MAX_SLOTS
};

/// Bytes moved per step of the main loop. Small, so the receive ring (64 bytes, 5.5 ms at
/// 115200 baud) is drained between chunks even when transmitting blocks.
const CHUNK: usize = 16;

#[cfg(nanoesp_link = "soft")]
const BANNER: PStr = nanoesp_server::banner!(
    build_id: config::BUILD_ID.as_bytes(),
    board: config::NANO_BOARD.as_bytes(),
    esp: config::ESP_MODULE.as_bytes(),
    link: LINK_NAME,
    baud: config::LINK_BAUD,
    ssid: config::WIFI_SSID,
);
// No console with the USART link: the banner would only take flash.
#[cfg(nanoesp_link = "usart")]
const BANNER: PStr = pstr!(b"");
// The build id and the SSID are in the banner: slices of it, not texts of their own.
#[cfg(nanoesp_link = "soft")]
const BUILD_ID: PStr = nanoesp_server::banner_build_id(BANNER, config::BUILD_ID.len());
#[cfg(nanoesp_link = "soft")]
const SSID: PStr = nanoesp_server::banner_ssid(BANNER, config::WIFI_SSID.len());
#[cfg(nanoesp_link = "usart")]
const BUILD_ID: PStr = pstr!(config::BUILD_ID.as_bytes());
#[cfg(nanoesp_link = "usart")]
const SSID: PStr = pstr!(config::WIFI_SSID);

/// The server's configuration, all compile-time constants: options this project does not
/// use (softAP, stored Wi-Fi, `save_baud`, ...) leave their code out of the build.
struct ServerConfig;

impl Config for ServerConfig {
    const BUILD_ID: PStr = BUILD_ID;
    const BANNER: PStr = BANNER;
    const LINK_BAUD: u32 = config::LINK_BAUD;
    const LINK_SAVE_BAUD: bool = config::LINK_SAVE_BAUD;
    const SSID: PStr = SSID;
    const PASSWORD: PStr = pstr!(config::WIFI_PASSWORD);
    const SOFTAP: bool = config::WIFI_SOFTAP;
    const STORED: bool = config::WIFI_STORED;
    const HOSTNAME: PStr = pstr!(config::HOSTNAME);
    const PORT: u16 = config::HTTP_PORT;
    const MAX_CLIENTS: u8 = config::MAX_CLIENTS;
    const PAGE: PStr = nanoesp_server::page!(title: config::PAGE_TITLE, text: config::PAGE_TEXT);
}

// Interrupt vectors: only the drivers in use are bound, so unused ones are not linked.
nanoesp_hal::bind_interrupts!(Link);

/// The server's view of the Nano: A0–A7 and the digital pins not used by the firmware.
struct NanoBoard {
    adc: Adc,
    pins: Pins,
}

fn pin_error(error: pins::PinError) -> PinError {
    match error {
        pins::PinError::NoSuchPin => PinError::NoSuchPin,
        pins::PinError::Reserved(_) => PinError::Reserved,
    }
}

impl Board for NanoBoard {
    fn analog_read(&mut self, channel: u8) -> u16 {
        self.adc.read(channel)
    }

    fn digital_read(&mut self, pin: u8) -> Result<bool, PinError> {
        self.pins.read(pin).map_err(pin_error)
    }

    fn digital_write(&mut self, pin: u8, high: bool) -> Result<(), PinError> {
        self.pins.write(pin, high).map_err(pin_error)
    }
}

#[avr_device::entry]
fn main() -> ! {
    // SAFETY: main runs once and takes each peripheral here, once. One by one: `take`
    // added a flag check in a critical section that cannot fail here, and
    // `Peripherals::steal` still stores the flag.
    let dp = unsafe {
        use avr_device::atmega328p::{ADC, PORTB, PORTC, PORTD, TC0, TC1, USART0};
        (
            TC0::steal(),
            TC1::steal(),
            USART0::steal(),
            ADC::steal(),
            (PORTB::steal(), PORTC::steal(), PORTD::steal()),
        )
    };
    let (tc0, _tc1, usart0, adc, (portb, portc, portd)) = dp;
    let clock = Clock::new(tc0);
    #[cfg(nanoesp_link = "soft")]
    let (mut link, mut console) = (
        Link::new(_tc1),
        nanoesp_hal::usart::Usart0::new::<{ config::CONSOLE_BAUD }>(usart0, false),
    );
    #[cfg(nanoesp_link = "usart")]
    let mut link = Link::new::<{ config::LINK_BAUD }>(usart0, true);
    // A static too: in main's frame, this byte alone made main set up a frame pointer.
    static mut BOARD: MaybeUninit<NanoBoard> = MaybeUninit::uninit();
    // SAFETY: main runs once and never returns: this is the only reference to BOARD.
    let board = unsafe { &mut *core::ptr::addr_of_mut!(BOARD) }.write(NanoBoard {
        adc: Adc::new(adc),
        pins: Pins::new(portb, portc, portd, LINK),
    });
    // SAFETY: all shared state is set up; the handlers bound above are the only ones.
    unsafe { avr_device::interrupt::enable() };

    // A static, built in place: in main's frame (over 400 bytes), every field past its 64th
    // byte took an address computed from the frame pointer (and built inline, a
    // frame-pointer move with interrupts off per store); a static's fields are plain
    // absolute addresses. Static SRAM grows by what main's frame shrinks.
    static mut SERVER: MaybeUninit<Server<ServerConfig, SLOTS>> = MaybeUninit::uninit();
    // SAFETY: main runs once and never returns: this is the only reference to SERVER, and
    // no interrupt handler touches it.
    let server = unsafe { &mut *core::ptr::addr_of_mut!(SERVER) }.write(Server::new());
    // In .bss, cleared by the start-up code: no memset in main.
    static mut BUF: [u8; CHUNK] = [0; CHUNK];
    // SAFETY: main never returns and is the only user of BUF.
    let buf = unsafe { &mut *core::ptr::addr_of_mut!(BUF) };
    loop {
        server.set_now(clock.millis());
        while let Some(byte) = link.read_byte() {
            server.on_uart_byte(byte);
        }
        server.tick(board);
        let n = server.poll_uart_tx(buf);
        link.write_all(&buf[..n]);
        // Baud negotiation with an ESP still at its factory rate (bring-up only). The soft
        // link only transmits at 115200, which is all the driver's blind switch needs.
        if let Some(factory) = server.poll_baud_is_factory() {
            switch_link(&mut link, factory);
        }
        #[cfg(nanoesp_link = "soft")]
        {
            let n = server.poll_console(buf);
            console.write_all(&buf[..n]);
        }
        // Set on every pass: cheaper than remembering the last state, and no handler
        // writes PORTB. The first octet alone tells: no address the ESP assigns starts
        // with 0 (`0.0.0.0` is its "none"), the driver's stored-mode wait tests it so too,
        // and comparing all four bytes cost 20 B more.
        board.pins.set_led_nonzero(server.driver().ip()[0]);
    }
}

/// Switches the ESP link to the factory baud or to `LINK_BAUD`. Out of line: inlined, main
/// held both rates' timing constants in saved registers across its loop.
#[inline(never)]
fn switch_link(link: &mut Link, factory: bool) {
    if factory {
        link.switch::<FACTORY_BAUD>()
    } else {
        link.switch::<{ config::LINK_BAUD }>()
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    abort()
}

/// Where every panic ends: the firmware is built with `panic=immediate-abort` (see
/// `.cargo/config.toml`), so panics call this directly. No console text here: core::fmt
/// would cost kilobytes. The watchdog is not used, so the board stays put until reset.
#[no_mangle]
pub extern "C" fn abort() -> ! {
    avr_device::interrupt::disable();
    loop {}
}

// Byte-at-a-time `memcpy`/`memset` (16 bytes of flash each). Without them the linker takes
// compiler_builtins' word-wise versions (about 500 bytes), which buy nothing on an 8-bit
// CPU. Strong symbols here win over those weak ones. avr-gcc calling convention: dest in
// r25:r24, src (or fill byte) in r23:r22, count in r21:r20, dest returned in r25:r24;
// r0, X (r27:r26) and Z (r31:r30) are call-clobbered.
core::arch::global_asm!(
    ".section .text.memcpy,\"ax\",@progbits",
    ".global memcpy",
    "memcpy:",
    "    movw r30, r22",
    "    movw r26, r24",
    "    rjmp 2f",
    "1:  ld r0, Z+",
    "    st X+, r0",
    "2:  subi r20, 1",
    "    sbci r21, 0",
    "    brcc 1b",
    "    ret",
    ".section .text.memset,\"ax\",@progbits",
    ".global memset",
    "memset:",
    "    movw r26, r24",
    "    rjmp 2f",
    "1:  st X+, r22",
    "2:  subi r20, 1",
    "    sbci r21, 0",
    "    brcc 1b",
    "    ret",
);
