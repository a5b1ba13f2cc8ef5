//! Flashing through a simulated serial bootloader with the real avrdude, as `nanoesp
//! flash` will: optiboot (rebuilt from Debian's sources at test time, 115200) and the
//! packaged ATmegaBOOT (57600), plus the wrong-baud failure under --strict-baud.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::*;

const ARDUINO_BOOT: &str = "/usr/share/arduino/hardware/arduino/avr/bootloaders";

/// Builds optiboot 115200 with LED_START_FLASHES=0 (Debian's packaged hex is 532 bytes and
/// runs past the end of flash) into the shared build dir. Never committed: it is GPL.
fn optiboot() -> PathBuf {
    let out = build_root().join("optiboot");
    let hex = out.join("optiboot_nanoesp_atmega328.hex");
    if hex.exists() {
        return hex;
    }
    std::fs::create_dir_all(&out).unwrap();
    for f in ["optiboot.c", "boot.h", "pin_defs.h", "stk500.h"] {
        std::fs::copy(
            Path::new(ARDUINO_BOOT).join("optiboot").join(f),
            out.join(f),
        )
        .unwrap();
    }
    let run = |args: &[&str]| {
        let prog = args[0];
        let o = Command::new(prog)
            .args(&args[1..])
            .current_dir(&out)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    run(&[
        "avr-gcc",
        "-g",
        "-Wall",
        "-Os",
        "-fno-inline-small-functions",
        "-fno-split-wide-types",
        "-mmcu=atmega328p",
        "-DF_CPU=16000000L",
        "-DLED_START_FLASHES=0",
        "-DBAUD_RATE=115200",
        "-c",
        "-o",
        "optiboot.o",
        "optiboot.c",
    ]);
    run(&[
        "avr-gcc",
        "-Os",
        "-mmcu=atmega328p",
        "-Wl,--section-start=.text=0x7e00",
        "-Wl,--section-start=.version=0x7ffe",
        "-Wl,--relax",
        "-Wl,--gc-sections",
        "-nostartfiles",
        "-nostdlib",
        "-o",
        "optiboot.elf",
        "optiboot.o",
    ]);
    let tmp = out.join("optiboot.tmp.hex");
    run(&[
        "avr-objcopy",
        "-j",
        ".text",
        "-j",
        ".data",
        "-j",
        ".version",
        "--set-section-flags",
        ".version=alloc,load",
        "-O",
        "ihex",
        "optiboot.elf",
        tmp.to_str().unwrap(),
    ]);
    std::fs::rename(&tmp, &hex).unwrap();
    hex
}

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
fn start(boot: &Path, dir: &Path, strict: bool) -> (Sim, PathBuf, PathBuf) {
    let link = dir.join("nano");
    let image = dir.join("flash.bin");
    let mut args = vec![
        "run".to_string(),
        "--bootloader".into(),
        boot.display().to_string(),
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

fn flash_and_boot(boot: &Path, baud: u32) {
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
    flash_and_boot(&optiboot(), 115200);
}

#[test]
fn avrdude_flashes_through_atmegaboot_at_57600() {
    flash_and_boot(
        &Path::new(ARDUINO_BOOT).join("atmega/ATmegaBOOT_168_atmega328.hex"),
        57600,
    );
}

#[test]
fn strict_baud_makes_avrdude_fail_at_the_wrong_speed() {
    let app = firmware("usart-echo");
    let dir = tempfile::tempdir().unwrap();
    let boot = Path::new(ARDUINO_BOOT).join("atmega/ATmegaBOOT_168_atmega328.hex");
    let (sim, link, _) = start(&boot, dir.path(), true);
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
