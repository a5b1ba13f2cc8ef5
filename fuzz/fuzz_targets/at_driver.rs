//! Arbitrary ESP output, time steps and link requests into the AT driver: no panic, and
//! send payload requests never exceed the announced length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanoesp_at::driver::{Driver, Link, Request, Settings};
use nanoesp_http::{pstr, PStr};

/// The driver's settings, softAP and stored mode as parameters.
struct Fuzz<const SOFTAP: bool, const STORED: bool>;

impl<const SOFTAP: bool, const STORED: bool> Settings for Fuzz<SOFTAP, STORED> {
    const SSID: PStr = pstr!(b"s\"x");
    const PASSWORD: PStr = pstr!(b"p,\\");
    const HOSTNAME: PStr = pstr!(b"h");
    const PORT: u16 = 80;
    const MAX_CONN: u8 = 4;
    const IDLE_TIMEOUT_S: u16 = 30;
    const BAUD: u32 = 0;
    const SOFTAP: bool = SOFTAP;
    const STORED: bool = STORED;
    const SAVE_BAUD: bool = false;
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks softAP (bit 0) and stored mode (bit 1).
    match data.first().map_or(0, |b| b & 3) {
        0 => run::<Fuzz<false, false>>(data),
        1 => run::<Fuzz<true, false>>(data),
        2 => run::<Fuzz<false, true>>(data),
        _ => run::<Fuzz<true, true>>(data),
    }
});

fn run<S: Settings>(data: &[u8]) {
    let mut d = Driver::<S>::new();
    let mut now = 0u32;
    let mut out = [0u8; 24];
    for chunk in data.chunks(16) {
        let (ctl, bytes) = chunk.split_first().unwrap();
        for &b in bytes {
            let _ = d.feed(b, now);
        }
        now = now.wrapping_add((*ctl as u32) * 37);
        while d.tick(now).is_some() {}
        let link = Link { id: ctl % 6, gen: ctl / 6 };
        match ctl % 5 {
            0 => drop(d.issue(Request::Send { link, len: *ctl as u16 * 9 })),
            1 => drop(d.issue(Request::Pull { link, max: 64 })),
            2 => drop(d.issue(Request::Close(link))),
            3 => d.housekeeping(),
            _ => {}
        }
        let _ = d.poll_transmit(&mut out, &mut |_, _, buf| buf.len());
    }
}
