//! The Nano's serial bootloaders for the simulated chip, named instead of given as a file:
//! `optiboot` (the "new" Nano bootloader, 115200) is compiled from Debian's
//! arduino-core-avr sources on first use, because the packaged hex is 532 bytes and runs
//! past the end of flash; `atmegaboot` (the "old" one, 57600) is the packaged hex as is.
//! Both are GPL: built or read on the user's machine, never shipped by nanoesp.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::SimError;

/// Where Debian's arduino-core-avr keeps the bootloaders and their sources.
pub const ARDUINO_BOOTLOADERS: &str = "/usr/share/arduino/hardware/arduino/avr/bootloaders";

/// Optiboot sources needed for the ATmega328P build.
const OPTIBOOT_SOURCES: [&str; 4] = ["optiboot.c", "boot.h", "pin_defs.h", "stk500.h"];

/// Resolves `--bootloader`: `optiboot`, `atmegaboot`, or a path to an Intel HEX file.
/// Named bootloaders are built or found with `cache` as the build directory.
pub fn resolve(spec: &Path, cache: &Path) -> Result<PathBuf, SimError> {
    match spec.to_str() {
        Some("optiboot") => optiboot(cache),
        Some("atmegaboot") => {
            let hex = Path::new(ARDUINO_BOOTLOADERS).join("atmega/ATmegaBOOT_168_atmega328.hex");
            if hex.exists() {
                Ok(hex)
            } else {
                Err(missing_package(&hex))
            }
        }
        _ => Ok(spec.to_path_buf()),
    }
}

/// The default build directory: `$XDG_CACHE_HOME/nanoesp/bootloaders` or
/// `~/.cache/nanoesp/bootloaders`.
pub fn default_cache() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("nanoesp/bootloaders")
}

fn missing_package(path: &Path) -> SimError {
    SimError::Firmware(
        path.to_path_buf(),
        "not found; install Debian's arduino-core-avr (scripts/setup.sh does)".into(),
    )
}

/// Optiboot for a 16 MHz ATmega328P at 115200 baud without LED flashes (they only cost
/// simulated time), built once into `cache`.
pub fn optiboot(cache: &Path) -> Result<PathBuf, SimError> {
    let hex = cache.join("optiboot_nanoesp_atmega328.hex");
    if hex.exists() {
        return Ok(hex);
    }
    let src_dir = Path::new(ARDUINO_BOOTLOADERS).join("optiboot");
    // A per-process build dir, renamed into place at the end, so concurrent first uses
    // never see half a hex file.
    let work = cache.join(format!("optiboot-build-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| SimError::io(format!("{}", work.display()), e))?;
    for file in OPTIBOOT_SOURCES {
        let from = src_dir.join(file);
        if !from.exists() {
            return Err(missing_package(&from));
        }
        std::fs::copy(&from, work.join(file))
            .map_err(|e| SimError::io(format!("copying {}", from.display()), e))?;
    }
    let compile: &[&str] = &[
        "avr-gcc",
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
    ];
    let link: &[&str] = &[
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
    ];
    let objcopy: &[&str] = &[
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
        "optiboot.hex",
    ];
    for step in [compile, link, objcopy] {
        run_tool(step, &work)?;
    }
    std::fs::rename(work.join("optiboot.hex"), &hex)
        .map_err(|e| SimError::io(format!("{}", hex.display()), e))?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(hex)
}

fn run_tool(argv: &[&str], dir: &Path) -> Result<(), SimError> {
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .current_dir(dir)
        .output()
        .map_err(|e| {
            SimError::io(
                format!("running {} (install gcc-avr and avr-libc)", argv[0]),
                e,
            )
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(SimError::Firmware(
            dir.join("optiboot.c"),
            format!(
                "{} failed:\n{}",
                argv[0],
                String::from_utf8_lossy(&out.stderr).trim_end()
            ),
        ))
    }
}
