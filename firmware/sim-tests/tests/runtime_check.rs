//! The runtime crates' AVR-only code on the simulated ATmega328P: `avr-check/` runs
//! `progmem::lookup`, `sink::put_u32`, `sink::put_nth`, `index::byte_index` and the AT
//! parser's digit scanner (AVR assembly there, Rust on the host, so the host tests never
//! see the assembly) over every short line, hundreds of values, every entry of a list,
//! every index of four slices and lengths around saturation, and this test works out each
//! expected answer itself.

use nanoesp_hal_sim_tests::{build_runtime_check, sim_binary};
use std::process::Command;

/// `DIGITS` of `avr-check/src/main.rs`: the lengths given to the parser.
const DIGITS: [&str; 17] = [
    "0",
    "7",
    "10",
    "255",
    "6553",
    "6554",
    "65529",
    "65530",
    "65535",
    "65536",
    "65539",
    "65540",
    "70000",
    "99999",
    "000042",
    "123456789012345678901234567890123456",
    "",
];

/// `RECV_LENS` of `avr-check/src/main.rs`: what follows `+CIPRECVLEN`.
const RECV_LENS: [&str; 7] = [
    ":236,-1,-1,0,7",
    ":-12,3",
    ":-,5",
    ":--5,1",
    ":70000,65535,6554,-65536,1",
    ":0,0,0,0,2048,9",
    ":x",
];

/// The lengths the host's parser reads from `+CIPRECVLEN<tail>`, as `avr-check` prints
/// them.
fn expected_recv_lens(tail: &str) -> String {
    use nanoesp_at::parser::{Parser, Token};
    let mut parser = Parser::new();
    let mut lens = None;
    for &b in b"+CIPRECVLEN".iter().chain(tail.as_bytes()).chain(b"\r\n") {
        if let Some(Token::RecvLen) = parser.feed(b) {
            lens = Some(parser.recv_lens());
        }
    }
    match lens {
        Some(lens) => lens.map(|l| l.to_string()).join(" "),
        None => "-".to_string(),
    }
}

/// `TABLE` of `avr-check/src/main.rs`: `=` the whole line, `^` its start, text, 0 byte.
const TABLE: &[u8] = b"=a\0^ab\0=abc\0^b\0=ca\0^cab\0=\0^c\0";

/// `LIST` of `avr-check/src/main.rs`: entries ended by 0 bytes, the last one unended.
const LIST: &[u8] = b"zero\0one\0\0three\r\n\0four";

/// Element sizes and counts of the slices `avr-check` indexes, in its order.
const SLICES: [(usize, usize); 4] = [(1, 9), (3, 80), (50, 5), (129, 3)];

/// What `put_nth(list, n)` puts: entry `n`, or with `whole` everything after the first `n`
/// 0 bytes, 0 bytes included.
fn expected_nth(n: usize, whole: bool) -> Vec<u8> {
    let mut rest = LIST;
    for _ in 0..n {
        match rest.iter().position(|&b| b == 0) {
            Some(end) => rest = &rest[end + 1..],
            None => return Vec::new(),
        }
    }
    if whole {
        rest.to_vec()
    } else {
        rest.split(|&b| b == 0).next().unwrap_or_default().to_vec()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

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
fn assembly_routines_give_the_hosts_answers_on_the_avr() {
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

    let (mut lines, mut values, mut entries, mut indices) = (0, 0, 0, 0);
    let mut lengths = Vec::new();
    let mut recv_lens = Vec::new();
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
        } else if let Some(rest) = row.strip_prefix("N ") {
            let (n, got) = rest.split_once(' ').expect(row);
            let n = u8::from_str_radix(n, 16).expect(row);
            let want = hex(&expected_nth((n & 0x7f) as usize, n & 0x80 != 0));
            assert_eq!(got, want, "put_nth({n:#04x})");
            entries += 1;
        } else if let Some(rest) = row.strip_prefix("X ") {
            let fields: Vec<&str> = rest.split(' ').collect();
            let [size, i, got] = fields[..] else {
                panic!("{row}")
            };
            let size = usize::from_str_radix(size, 16).expect(row);
            let i = usize::from_str_radix(i, 16).expect(row);
            let (_, count) = SLICES.iter().find(|(s, _)| *s == size).expect(row);
            let want = if i < *count {
                format!("{:02x}", i + 1)
            } else {
                "-".to_string()
            };
            assert_eq!(got, want, "byte_index of element {i} of {size} bytes");
            indices += 1;
        } else if let Some(rest) = row.strip_prefix("D ") {
            let (digits, got) = rest.split_once(' ').expect(row);
            // The value, saturating at u16::MAX; no digits, no header.
            let want = if digits.is_empty() {
                "-".to_string()
            } else {
                let v = digits
                    .bytes()
                    .fold(0u64, |v, d| (v * 10 + u64::from(d - b'0')).min(1 << 20));
                v.min(u64::from(u16::MAX)).to_string()
            };
            assert_eq!(got, want, "+IPD,0,{digits}");
            lengths.push(digits.to_string());
        } else if let Some(rest) = row.strip_prefix("R ") {
            let (tail, got) = rest.split_once(' ').expect(row);
            assert_eq!(got, expected_recv_lens(tail), "+CIPRECVLEN{tail}");
            recv_lens.push(tail.to_string());
        }
    }
    // Every line of 0-4 bytes over three letters, then 16 edge values and 400 random ones.
    assert_eq!(lines, 1 + 3 + 9 + 27 + 81, "{console}");
    assert_eq!(values, 16 + 400, "{console}");
    // Entries 0-6 (the list has five) with and without WHOLE.
    assert_eq!(entries, 14, "{console}");
    // Each slice's indices up to two past its end.
    let want_indices: usize = SLICES.iter().map(|(_, count)| count + 2).sum();
    assert_eq!(indices, want_indices, "{console}");
    assert_eq!(lengths, DIGITS, "{console}");
    assert_eq!(recv_lens, RECV_LENS, "{console}");
}
