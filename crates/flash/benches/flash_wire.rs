//! Flashing cost of an ESP8266 AT 1.7 plan on the wire: espflash 2.1's ROM path versus our
//! stub path (deflate + MD5), through the real espflash `Flasher` and the emulated ROM
//! loader. Writes a markdown table (stdout, and `target/bench-flash-wire.md`).
//!
//! The emulator has no baud clock, so time is derived from bytes on the wire at the
//! 115200 baud espflash 2.1 keeps for the ESP8266 (10 bits per byte).
//!
//! Run: `cargo bench -p nanoesp-flash --bench flash_wire`.

#[path = "../tests/esp/fixtures.rs"]
mod fixtures;
#[path = "../tests/esp/mock.rs"]
#[allow(dead_code)] // the bench uses the port, not the flash inspection the tests use
mod mock;

use std::fmt::Write as _;
use std::path::Path;

use fixtures::{MB, cfg, fake_at_firmware};
use mock::MockPort;
use nanoesp_flash::esp::{self, AdapterPort, NoProgress, Reset, at_firmware};

const BAUD: f64 = 115_200.0;

fn main() {
    let (_dir, fw) = fake_at_firmware();
    let mut table = String::from(
        "| Flash | Path | Image bytes | Connect bytes out | Write bytes out | Bytes in | Time at 115200 baud | Verified |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for flash in [MB, 4 * MB] {
        let images = at_firmware::plan(&fw, flash).expect("plan");
        let total: u64 = images.iter().map(|i| i.data.len() as u64).sum();
        for stub in [false, true] {
            let port = MockPort::new(cfg(flash));
            let adapter = AdapterPort::from_boxed(Box::new(port.clone()), false);
            let mut session =
                esp::connect_port(adapter, Path::new("/dev/bench"), Reset::Auto, stub)
                    .expect("connect");
            let (connect_out, connect_in) = session.wire();
            let report = session.write(&images, &mut NoProgress).expect("write");
            let seconds = (connect_out + connect_in + report.wire_bytes_out + report.wire_bytes_in)
                as f64
                * 10.0
                / BAUD;
            let _ = writeln!(
                table,
                "| {} MB | {} | {total} | {connect_out} | {} | {} | {seconds:.1} s | {} |",
                flash / MB,
                if stub {
                    "stub + deflate + MD5"
                } else {
                    "ROM, plain (espflash 2.1)"
                },
                report.wire_bytes_out,
                connect_in + report.wire_bytes_in,
                match report.verified {
                    esp::Verification::Md5 => "MD5",
                    esp::Verification::ReadBack => "read back",
                    esp::Verification::NotVerified(_) => "no (ROM cannot)",
                }
            );
        }
    }
    print!("{table}");
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-flash-wire.md");
    if std::fs::write(&out, &table).is_ok() {
        eprintln!("written to {}", out.display());
    }
}
