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

fn avrdude(port: &Path, baud: u32, elf: &Path) -> std::process::Output {
    Command::new("avrdude")
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
        .args(["-D", "-U", &format!("flash:w:{}:e", elf.display())])
        .output()
        .unwrap()
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
    // reopening the port resets into the bootloader, which times out into the new app
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
