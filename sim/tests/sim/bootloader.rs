//! Flashing through a simulated serial bootloader with the real avrdude, as `nanoesp
//! flash` does: optiboot (built from Debian's sources by `--bootloader optiboot`, 115200)
//! and the packaged ATmegaBOOT (57600), plus the wrong-baud failure under --strict-baud.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::*;

/// The bootloaders by the names `nanoesp-sim run --bootloader` takes; optiboot is built
/// from Debian's sources into the shared test build dir on first use.
const OPTIBOOT: &str = "optiboot";
const ATMEGABOOT: &str = "atmegaboot";

/// avrdude writing `elf` to the Nano behind `port` at `baud`, not started yet.
fn avrdude_command(port: &Path, baud: u32, elf: &Path) -> Command {
    let mut command = Command::new("avrdude");
    command
        .args([
            "-c",
            "arduino",
            "-p",
            "m328p",
            "-b",
            &baud.to_string(),
            "-P",
            port.to_str().unwrap(),
        ])
        .args(["-D", "-U", &format!("flash:w:{}:e", elf.display())]);
    command
}

fn avrdude(port: &Path, baud: u32, elf: &Path) -> std::process::Output {
    avrdude_command(port, baud, elf).output().unwrap()
}

/// Starts the bench with a bootloader and an empty flash image, in real time.
fn start(boot: &str, dir: &Path, strict: bool) -> (Sim, PathBuf, PathBuf) {
    let link = dir.join("nano");
    let image = dir.join("flash.bin");
    let mut args = vec![
        "run".to_string(),
        "--bootloader".into(),
        boot.to_string(),
        "--bootloader-cache".into(),
        build_root().join("bootloaders").display().to_string(),
        "--flash-image".into(),
        image.display().to_string(),
        "--console-pty".into(),
        link.display().to_string(),
        "--esp".into(),
        "none".into(),
        "--realtime".into(),
    ];
    if strict {
        args.push("--strict-baud".into());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut sim = Sim::start(&refs);
    sim.wait_line("nanoesp-sim: console", 10);
    (sim, link, image)
}

fn flash_and_boot(boot: &str, baud: u32) {
    let app = firmware("usart-echo");
    let dir = tempfile::tempdir().unwrap();
    let (sim, link, image) = start(boot, dir.path(), true);
    let out = avrdude(&link, baud, &app);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "avrdude failed:\n{log}");
    assert!(log.contains("bytes of flash verified"), "{log}");
    // reopening the port resets into the bootloader, which times out into the new app;
    // only if the simulator saw avrdude's close first (it polls the port, and nothing
    // shows when it has), so give it time even on a loaded machine
    std::thread::sleep(std::time::Duration::from_millis(500));
    let console = Port::open(&link, 115200);
    let banner = console.read_until(b"ECHO READY\r\n", 8.0);
    assert!(contains(&banner, b"ECHO READY\r\n"), "{banner:?}");
    console.write(b"ping");
    assert!(contains(&console.read_until(b"ping", 3.0), b"ping"));
    drop(console);
    let err = sim.stop();
    assert!(!err.contains("nanoesp-sim: error"), "{err}");
    // the programmed application persisted in the flash image
    let flash = std::fs::read(&image).unwrap();
    assert_eq!(flash.len(), 32768);
    assert_ne!(&flash[..4], &[0xff; 4], "vector table written");
}

#[test]
fn avrdude_flashes_through_optiboot_at_115200() {
    flash_and_boot(OPTIBOOT, 115200);
}

#[test]
fn avrdude_flashes_through_atmegaboot_at_57600() {
    flash_and_boot(ATMEGABOOT, 57600);
}

#[test]
fn strict_baud_makes_avrdude_fail_at_the_wrong_speed() {
    let app = firmware("usart-echo");
    let dir = tempfile::tempdir().unwrap();
    let (sim, link, _) = start(ATMEGABOOT, dir.path(), true);
    // 115200 against the 57600 bootloader: a real Nano with the old bootloader fails so
    let out = avrdude(&link, 115200, &app);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "must fail:\n{log}");
    assert!(
        log.contains("not in sync") || log.contains("not responding"),
        "{log}"
    );
    drop(sim);
}

/// A loaded host can hold the simulator up (here: SIGSTOP) while avrdude opens the port
/// and sends its first get-syncs; the bench then sees the open and those bytes in one
/// poll. They were written after the open, so after the reset it causes: dropping them
/// with the reset left optiboot to time out into the empty flash, whose sweep back into
/// the bootloader pushes two bytes a lap until the stack leaves RAM (simavr: crashed at
/// 0x7e08, SP 0xffff), and the simulator's exit left avrdude reading a dead port forever.
#[test]
fn a_bench_held_up_while_avrdude_opens_the_port_keeps_its_chip_alive() {
    let app = firmware("usart-echo");
    let dir = tempfile::tempdir().unwrap();
    let (sim, link, _) = start(OPTIBOOT, dir.path(), true);
    sim.signal(libc::SIGSTOP);
    let mut held_up = avrdude_command(&link, 115200, &app)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    sim.signal(libc::SIGCONT);
    // Answers to get-syncs sent while the chip was frozen come after avrdude stopped
    // draining, so this run may fail on a stray byte; it must end, and the chip survive.
    assert!(
        ends_within(&mut held_up, 60),
        "avrdude still waiting on the port after 60 s:\n{}",
        sim.stop()
    );
    let out = avrdude(&link, 115200, &app);
    let log = String::from_utf8_lossy(&out.stderr);
    let err = sim.stop();
    assert!(!err.contains("nanoesp-sim: error"), "{err}");
    assert!(
        out.status.success(),
        "avrdude failed after the hold-up:\n{log}"
    );
}

/// Held up before avrdude opens the port, the simulator falls seconds behind wall time.
/// Catching that up ran the chip about four times faster than real time, so optiboot's
/// 1 s window closed before avrdude's first get-sync (300 ms after the open, wall time)
/// and the chip crashed as above; the lag is now written off instead.
#[test]
fn a_bench_that_fell_behind_wall_time_keeps_the_bootloader_window_for_avrdude() {
    let app = firmware("usart-echo");
    let dir = tempfile::tempdir().unwrap();
    let (sim, link, _) = start(OPTIBOOT, dir.path(), true);
    // into its paced loop first (the console line comes before the pacing starts)
    std::thread::sleep(std::time::Duration::from_millis(500));
    sim.signal(libc::SIGSTOP);
    std::thread::sleep(std::time::Duration::from_secs(3));
    sim.signal(libc::SIGCONT);
    let mut flashing = avrdude_command(&link, 115200, &app)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        ends_within(&mut flashing, 60),
        "avrdude still waiting on the port after 60 s:\n{}",
        sim.stop()
    );
    let out = flashing.wait_with_output().unwrap();
    let err = sim.stop();
    assert!(!err.contains("nanoesp-sim: error"), "{err}");
    assert!(
        out.status.success(),
        "avrdude failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether `child` exits within `secs`; kills it if not.
fn ends_within(child: &mut std::process::Child, secs: u64) -> bool {
    let limit = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    true
}
