//! The ESP link as a pin-level software UART on D8/D9: bit timing both ways, Timer1 input
//! capture on D8, and the emulated ESP8266 on the far end.

use crate::helpers::*;

fn bridge_round_trip(baud: u32) {
    let fw = firmware(&format!("soft-bridge-{baud}"));
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("nano");
    let esp = FakeEsp::new();
    let esp_arg = format!("serial:{}", esp.slave_path.display());
    let baud_arg = baud.to_string();
    let mut sim = Sim::start(&[
        "run",
        fw.to_str().unwrap(),
        "--baud",
        &baud_arg,
        "--esp",
        &esp_arg,
        "--console-pty",
        link.to_str().unwrap(),
    ]);
    sim.wait_line("nanoesp-sim: console", 10);
    let console = Port::open(&link, 115200);
    // wait for the whole line: stopping at "READY" raced the baud digits still in flight
    let expected = format!("BRIDGE READY {baud}\r\n");
    let banner = console.read_until(expected.as_bytes(), 5.0);
    assert!(contains(&banner, expected.as_bytes()), "{banner:?}");
    // console -> firmware -> bit-banged D9 -> sampled by the bench -> "ESP"
    let line = b"hello soft serial 0123456789 \x01\x7f\x80\xfe\r\n";
    console.write(line);
    let at_esp = esp.master.read_until(b"\xfe\r\n", 5.0);
    assert_eq!(at_esp, line, "bytes on the wire to the ESP at {baud}");
    // "ESP" -> bench drives D8 (PCINT/ICP1) -> firmware -> console
    let reply = b"AT\r\nOK\r\n\x00\xaa\x55 welcome\r\n";
    esp.master.write(reply);
    let at_console = console.read_until(b"welcome\r\n", 5.0);
    assert_eq!(at_console, reply, "bytes from the ESP at {baud}");
    let err = sim.stop();
    assert!(err.contains("framing_errors=0"), "{err}");
}

#[test]
fn soft_uart_bridge_at_9600() {
    bridge_round_trip(9600);
}

#[test]
fn soft_uart_bridge_at_57600() {
    bridge_round_trip(57600);
}

#[test]
fn soft_uart_bridge_at_115200() {
    bridge_round_trip(115200);
}

#[test]
fn firmware_exchanges_at_commands_with_the_emulator() {
    let fw = firmware("soft-bridge-57600");
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("nano");
    let mut sim = Sim::start(&[
        "run",
        fw.to_str().unwrap(),
        "--baud",
        "57600",
        "--esp",
        "emu",
        "--console-pty",
        link.to_str().unwrap(),
    ]);
    sim.wait_line("nanoesp-sim: console", 10);
    let console = Port::open(&link, 115200);
    console.read_until(b"BRIDGE READY 57600\r\n", 5.0);
    // the emulated module boots in ~0.3 s simulated; ask until it answers
    let mut got = Vec::new();
    for _ in 0..20 {
        console.write(b"AT\r\n");
        got = console.read_until(b"OK\r\n", 0.5);
        if contains(&got, b"OK\r\n") {
            break;
        }
    }
    assert!(contains(&got, b"OK\r\n"), "{got:?}");
    // echo off, then a multi-line answer with the firmware version
    // An AT above answered late (the simulator held up past 0.5 s) leaves the OK of the
    // one sent after it still to come: read each answer through to its own OK.
    console.write(b"ATE0\r\n");
    read_answer(&console, b"ATE0", b"OK\r\n");
    console.write(b"AT+GMR\r\n");
    let gmr = read_answer(&console, b"AT version", b"\r\nOK\r\n");
    assert!(
        contains(&gmr, b"AT version:1.7"),
        "{}",
        String::from_utf8_lossy(&gmr)
    );
    drop(sim);
}

/// What arrives until `end` has come after `start` (up to 10 s): the answer that begins
/// with `start`, after whatever earlier commands still had to say.
fn read_answer(port: &Port, start: &[u8], end: &[u8]) -> Vec<u8> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut got = Vec::new();
    while std::time::Instant::now() < deadline {
        let begun = got.windows(start.len()).position(|w| w == start);
        if begun.is_some_and(|at| contains(&got[at..], end)) {
            break;
        }
        got.extend(port.read_until(end, 0.1));
    }
    got
}
