//! Arbitrary ESP output, time steps and link requests into the AT driver: no panic, and
//! send payload requests never exceed the announced length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanoesp_at::driver::{Config, Driver, Link, Request};
use nanoesp_at::WifiParams;
use nanoesp_http::pstr;

fuzz_target!(|data: &[u8]| {
    let mut d = Driver::new(Config {
        wifi: WifiParams { ssid: pstr!(b"s\"x"), password: pstr!(b"p,\\"), hostname: pstr!(b"h") },
        softap: data.first().is_some_and(|b| b & 1 == 1),
        stored: data.first().is_some_and(|b| b & 2 == 2),
        port: 80,
        max_conn: 4,
        idle_timeout_s: 30,
        baud: 0,
        save_baud: false,
    });
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
});
