//! `--esp pty:PATH`: the Nano's link on a pty whose user plays the ESP8266, on both link
//! kinds, and `--watch-pin`.

use crate::helpers::*;

/// The closing statistics' `key=N`.
fn stat(stderr: &str, key: &str) -> Option<u64> {
    let line = stderr
        .lines()
        .rev()
        .find(|l| l.contains("nanoesp-sim: exit"))?;
    let start = line.find(&format!(" {key}="))? + key.len() + 2;
    line[start..].split_whitespace().next()?.parse().ok()
}

#[test]
fn esp_pty_carries_the_soft_link_both_ways_and_opening_it_does_not_reset() {
    let fw = firmware("soft-bridge-57600");
    let dir = tempfile::tempdir().unwrap();
    let console_path = dir.path().join("nano");
    let esp_path = dir.path().join("esp");
    let esp_arg = format!("pty:{}", esp_path.display());
    let mut sim = Sim::start(&[
        "run",
        fw.to_str().unwrap(),
        "--baud",
        "57600",
        "--esp",
        &esp_arg,
        "--console-pty",
        console_path.to_str().unwrap(),
    ]);
    let announced = sim.wait_line("nanoesp-sim: esp link", 10);
    assert!(
        announced.contains(&esp_path.display().to_string()),
        "{announced}"
    );
    wait_for_path(&console_path, 5);
    let console = Port::open(&console_path, 115200);
    let banner = console.read_until(b"BRIDGE READY 57600\r\n", 10.0);
    assert!(contains(&banner, b"BRIDGE READY 57600\r\n"), "{banner:?}");
    for round in 0..2 {
        // opening the ESP end is no DTR pulse: the bridge keeps running, no new banner
        let esp = Port::open(&esp_path, 57600);
        esp.write(b"from the esp\n");
        let got = console.read_until(b"from the esp\n", 10.0);
        assert!(contains(&got, b"from the esp\n"), "round {round}: {got:?}");
        assert!(
            !contains(&got, b"BRIDGE READY"),
            "round {round}: reset on open: {got:?}"
        );
        console.write(b"to the esp\n");
        let back = esp.read_until(b"to the esp\n", 10.0);
        assert!(contains(&back, b"to the esp\n"), "round {round}: {back:?}");
        drop(esp);
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let err = sim.stop();
    assert_eq!(
        stat(&err, "resets"),
        Some(2),
        "power-on + the console open only: {err}"
    );
    assert_eq!(stat(&err, "framing_errors"), Some(0), "{err}");
}

#[test]
fn esp_pty_on_the_usart_link_paces_a_burst_without_overruns() {
    let fw = firmware("usart-echo");
    let dir = tempfile::tempdir().unwrap();
    let esp_path = dir.path().join("esp");
    let esp_arg = format!("pty:{}", esp_path.display());
    let mut sim = Sim::start(&[
        "run",
        fw.to_str().unwrap(),
        "--link",
        "usart",
        "--baud",
        "115200",
        "--esp",
        &esp_arg,
    ]);
    sim.wait_line("nanoesp-sim: esp link", 10);
    let esp = Port::open(&esp_path, 115200);
    // let the banner go by first: bytes sent while the firmware writes it are overrun, as
    // on hardware. A port opened after the banner never sees it, so this waits out the
    // time it could take; on a loaded machine the simulator may not have booted the
    // firmware within half a second.
    let _ = esp.read_until(b"ECHO READY\r\n", 2.0);
    let burst: Vec<u8> = (0..200u32).map(|i| (i * 7 % 251) as u8).collect();
    esp.write(&burst);
    let echo = esp.read_until(&burst[150..], 20.0);
    assert!(
        contains(&echo, &burst),
        "{} bytes back for 200: {echo:02x?}",
        echo.len()
    );
    drop(esp);
    let err = sim.stop();
    assert_eq!(stat(&err, "overruns"), Some(0), "{err}");
    assert_eq!(stat(&err, "resets"), Some(1), "{err}");
}

#[test]
fn watch_pin_prints_the_level_at_start_and_at_each_change() {
    // USART0 is the link here, so the bridge sends each byte from the pty out on D9.
    let fw = firmware("soft-bridge-57600");
    let dir = tempfile::tempdir().unwrap();
    let esp_path = dir.path().join("esp");
    let esp_arg = format!("pty:{}", esp_path.display());
    let mut sim = Sim::start(&[
        "run",
        fw.to_str().unwrap(),
        "--link",
        "usart",
        "--baud",
        "115200",
        "--esp",
        &esp_arg,
        "--watch-pin",
        "d9",
        "--watch-pin",
        "D13",
    ]);
    sim.wait_line("nanoesp-sim: esp link", 10);
    let esp = Port::open(&esp_path, 115200);
    // The byte must go out after the soft UART has set D9 idle high, and the test stops
    // the simulator only once its stop bit is out.
    let d9_changes = |err: &str| err.matches("nanoesp-sim: pin D9=").count();
    sim.wait_stderr("D9 idle high", 30, |err| d9_changes(err) >= 2);
    esp.write(&[0x00]);
    sim.wait_stderr("the byte on D9", 30, |err| d9_changes(err) >= 4);
    drop(esp);
    let err = sim.stop();
    let d9: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("nanoesp-sim: pin D9="))
        .collect();
    // input at power-on, idle high once the soft UART starts, then start bit, data (all
    // zero) and stop bit
    assert_eq!(
        d9,
        [
            "nanoesp-sim: pin D9=0",
            "nanoesp-sim: pin D9=1",
            "nanoesp-sim: pin D9=0",
            "nanoesp-sim: pin D9=1"
        ],
        "{err}"
    );
    let d13: Vec<&str> = err.lines().filter(|l| l.contains("pin D13=")).collect();
    assert_eq!(d13, ["nanoesp-sim: pin D13=0"], "never changes: {err}");
}

#[test]
fn watch_pin_refuses_unknown_pins_and_the_soft_link_tx() {
    for (pin, message) in [("D14", "not a Nano pin"), ("D9", "TX pin")] {
        let out = run_without_esp(["--watch-pin", pin]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{pin}: {err}");
        assert!(err.contains(message), "{pin}: {err}");
    }
}

#[test]
fn esp_transcript_needs_the_emulator() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("transcript");
    let out = run_without_esp([std::ffi::OsStr::new("--esp-transcript"), file.as_os_str()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--esp-transcript needs the emulated ESP8266"),
        "{err}"
    );
    assert!(!file.exists());
}

/// `nanoesp-sim run` of the `usart-echo` firmware with no ESP for a simulated second, with
/// `extra` arguments.
fn run_without_esp<S: AsRef<std::ffi::OsStr>>(
    extra: impl IntoIterator<Item = S>,
) -> std::process::Output {
    let fw = firmware("usart-echo");
    std::process::Command::new(env!("CARGO_BIN_EXE_nanoesp-sim"))
        .args([
            "run",
            fw.to_str().unwrap(),
            "--esp",
            "none",
            "--timeout",
            "1",
        ])
        .args(extra)
        .output()
        .unwrap()
}
