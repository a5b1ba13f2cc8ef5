//! The runtime crates' AVR-only code on the simulated ATmega328P: `avr-check/` runs
//! `progmem::lookup` and `sink::put_u32` (AVR assembly there, Rust on the host, so the
//! host tests never see the assembly) over every short line and hundreds of values, and
//! this test works out each expected answer itself.

use nanoesp_hal_sim_tests::{build_runtime_check, sim_binary};
use std::process::Command;

/// `TABLE` of `avr-check/src/main.rs`: `=` the whole line, `^` its start, text, 0 byte.
const TABLE: &[u8] = b"=a\0^ab\0=abc\0^b\0=ca\0^cab\0=\0^c\0";

/// The first entry of [`TABLE`] that `line` matches.
fn expected_entry(line: &[u8]) -> Option<u8> {
    TABLE
        .split(|&b| b == 0)
        .filter(|entry| !entry.is_empty())
        .position(|entry| match entry[0] {
            b'=' => line == &entry[1..],
            b'^' => line.starts_with(&entry[1..]),
            kind => panic!("entry kind {kind:#x}"),
        })
        .map(|n| n as u8)
}

#[test]
fn assembly_lookup_and_decimal_match_the_host_on_the_avr() {
    let elf = build_runtime_check();
    let output = Command::new(sim_binary())
        .arg("run")
        .arg(&elf)
        .args(["--esp", "none", "--timeout", "5"])
        .output()
        .expect("nanoesp-sim run");
    let console = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        console.contains("CHECK\n") && console.contains("DONE\n"),
        "the check program did not run to its end:\n{console}\n--- stderr\n{stderr}"
    );

    let (mut lines, mut values) = (0, 0);
    for row in console.lines() {
        if let Some(rest) = row.strip_prefix("L ") {
            let (text, got) = rest.rsplit_once(' ').expect(row);
            let want = match expected_entry(text.as_bytes()) {
                Some(n) => n.to_string(),
                None => "-".to_string(),
            };
            assert_eq!(got, want, "lookup of {text:?}");
            lines += 1;
        } else if let Some(rest) = row.strip_prefix("U ") {
            let (hex, got) = rest.split_once(' ').expect(row);
            let v = u32::from_str_radix(hex, 16).expect(row);
            assert_eq!(got, v.to_string(), "put_u32({v})");
            values += 1;
        }
    }
    // Every line of 0-4 bytes over three letters, then 16 edge values and 400 random ones.
    assert_eq!(lines, 1 + 3 + 9 + 27 + 81, "{console}");
    assert_eq!(values, 16 + 400, "{console}");
}
