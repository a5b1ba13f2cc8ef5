//! USART0 as the Nano's USB console on a pty.

use crate::helpers::*;

#[test]
fn console_pty_echoes_and_resets_on_open() {
    let fw = firmware("usart-echo");
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("nano");
    let mut sim = Sim::start(&[
        "run",
        fw.to_str().unwrap(),
        "--esp",
        "none",
        "--console-pty",
        link.to_str().unwrap(),
    ]);
    sim.wait_line("nanoesp-sim: console", 10);
    wait_for_path(&link, 5);
    for round in 0..2 {
        // every open resets the chip, so the banner comes again, like DTR on a real Nano
        let port = Port::open(&link, 115200);
        let banner = port.read_until(b"ECHO READY\r\n", 5.0);
        assert!(
            contains(&banner, b"ECHO READY\r\n"),
            "round {round}: {banner:?}"
        );
        port.write(b"hello, bench \x00\xff");
        let echo = port.read_until(b"\x00\xff", 5.0);
        assert!(
            contains(&echo, b"hello, bench \x00\xff"),
            "round {round}: {echo:?}"
        );
        drop(port);
        // The next open resets only if the simulator saw this close first (it polls the
        // port; nothing shows when it has), so give it time even on a loaded machine.
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let err = sim.stop();
    assert!(err.contains("resets=3"), "power-on + two opens: {err}");
}

#[test]
fn strict_baud_garbles_a_mismatched_console_both_ways() {
    let fw = firmware("usart-echo");
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("nano");
    let mut sim = Sim::start(&[
        "run",
        fw.to_str().unwrap(),
        "--esp",
        "none",
        "--strict-baud",
        "--console-pty",
        link.to_str().unwrap(),
    ]);
    sim.wait_line("nanoesp-sim: console", 10);
    let port = Port::open(&link, 57600);
    // The garbled banner never matches, so collect until it is all in (one byte comes
    // for each sent) rather than for a fixed time a loaded machine may overrun.
    let mut banner = Vec::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while banner.len() < b"ECHO READY\r\n".len() && std::time::Instant::now() < deadline {
        banner.extend(port.read_until(b"ECHO READY", 0.1));
    }
    assert!(!banner.is_empty(), "the AVR still sends something");
    assert!(
        !contains(&banner, b"ECHO READY"),
        "57600 against a 115200 AVR must not decode: {banner:?}"
    );
    port.write(b"abc");
    let echo = port.read_until(b"abc", 1.0);
    assert!(!contains(&echo, b"abc"), "{echo:?}");
    drop(port);
    // As above: the reopen must come after the simulator has seen the close.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let port = Port::open(&link, 115200);
    let banner = port.read_until(b"ECHO READY\r\n", 5.0);
    assert!(contains(&banner, b"ECHO READY\r\n"), "{banner:?}");
    drop(sim);
}
