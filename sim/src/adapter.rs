//! `nanoesp-sim esp-adapter`: an emulated ESP8266 module on a USB-serial adapter,
//! exposed as a pty. In download mode the far end is the ROM loader emulator
//! (`nanoesp_espemu::rom`), in flash mode the AT firmware emulator if the flash holds an
//! image. DTR/RTS cannot reach a pty, so the boot mode is the `--boot` flag, and every
//! open of the port counts as a reset into that mode.

use std::path::PathBuf;

use crate::cli::EmulatorArgs;
use crate::error::SimError;

#[cfg(feature = "espemu")]
pub use imp::esp_adapter;

/// Exit status after `--rom-faults vanish-mid-write` pulled the adapter.
pub const VANISH_EXIT: u8 = 3;
/// FLASH_DATA blocks accepted before a stall or a vanish.
pub const FAULT_AFTER_BLOCKS: u32 = 8;
/// Data block answered with a bad-checksum error (every time).
pub const BAD_CHECKSUM_BLOCK: u32 = 3;

/// Strapping at reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BootChoice {
    /// GPIO0 low: the ROM serial loader.
    Download,
    /// GPIO0 high: run the firmware in flash.
    Flash,
}

/// Faults of the ROM loader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum RomFaultChoice {
    /// A healthy loader.
    #[default]
    None,
    /// Never answers (not in download mode, TX/RX swapped).
    Silent,
    /// Answers data block 3 of every write with error 0x07 (bad checksum).
    BadChecksum,
    /// Stops answering after 8 data blocks.
    StallMidWrite,
    /// After 8 data blocks the adapter disappears (pty removed), exit status 3.
    VanishMidWrite,
}

/// `nanoesp-sim esp-adapter`.
#[derive(Debug, Clone, clap::Args)]
pub struct EspAdapterArgs {
    /// Create the adapter's pty and link it at PATH.
    #[arg(long, value_name = "PATH")]
    pub pty: PathBuf,
    /// Boot mode at every reset (opening the port resets the module).
    #[arg(long, value_enum, default_value = "download")]
    pub boot: BootChoice,
    /// Flash size: 1M, 2M or 4M.
    #[arg(long, default_value = "4M")]
    pub flash_size: String,
    /// Persistent flash contents: loaded at start if present, saved after every
    /// FLASH_END and on exit.
    #[arg(long, value_name = "FILE")]
    pub flash_file: Option<PathBuf>,
    /// Fault injection of the ROM loader.
    #[arg(long, value_enum, default_value = "none")]
    pub rom_faults: RomFaultChoice,
    /// Station MAC address, e.g. 5C:CF:7F:00:00:01.
    #[arg(long, value_name = "AA:BB:CC:DD:EE:FF")]
    pub mac: Option<String>,
    /// The AT firmware emulator (flash mode).
    #[command(flatten)]
    pub emulator: EmulatorArgs,
}

fn parse_size(s: &str) -> Result<u32, SimError> {
    match s.to_ascii_uppercase().trim_end_matches('B') {
        "1M" => Ok(1 << 20),
        "2M" => Ok(2 << 20),
        "4M" => Ok(4 << 20),
        _ => Err(SimError::Usage(format!(
            "--flash-size {s}: expected 1M, 2M or 4M"
        ))),
    }
}

fn parse_mac(s: &str) -> Result<[u8; 6], SimError> {
    let bad = || {
        SimError::Usage(format!(
            "--mac {s}: expected six hex bytes like 5C:CF:7F:00:00:01"
        ))
    };
    let parts: Vec<u8> = s
        .split([':', '-'])
        .map(|p| u8::from_str_radix(p, 16).map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    parts.try_into().map_err(|_| bad())
}

/// The boot banner the ROM prints at 74880 baud after a reset.
pub fn banner(boot: BootChoice) -> &'static [u8] {
    match boot {
        BootChoice::Download => {
            b"\r\n ets Jan  8 2013,rst cause:2, boot mode:(1,7)\r\n\r\nwaiting for host\r\n"
        }
        BootChoice::Flash => b"\r\n ets Jan  8 2013,rst cause:2, boot mode:(3,7)\r\n\r\n",
    }
}

#[cfg(feature = "espemu")]
mod imp {
    use std::io::Write;
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use nanoesp_espemu::Esp;
    use nanoesp_espemu::rom::{RomConfig, RomEvent, RomFault, RomLoader};

    use super::*;
    use crate::pty::Pty;

    static STOP: AtomicBool = AtomicBool::new(false);

    extern "C" fn on_signal(_sig: libc::c_int) {
        STOP.store(true, Ordering::SeqCst);
    }

    /// What the module is doing.
    enum Mode {
        Rom(Box<RomLoader>),
        At(Box<Esp>),
        /// Flash mode without an image: the ROM finds nothing to run and the watchdog resets
        /// the chip over and over.
        BootLoop {
            next: Instant,
        },
    }

    /// Start of a SLIP-framed SYNC request: `C0 00 08 24 00`.
    const SYNC_REQUEST: &[u8] = &[0xc0, 0x00, 0x08, 0x24, 0x00];

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    fn save(path: Option<&Path>, flash: &[u8]) -> Result<(), SimError> {
        let Some(path) = path else { return Ok(()) };
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, flash)
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| SimError::io(format!("saving {}", path.display()), e))
    }

    /// Runs the adapter until SIGINT/SIGTERM (status 0) or a vanish fault (status 3).
    pub fn esp_adapter(args: EspAdapterArgs) -> Result<u8, SimError> {
        let flash_size = parse_size(&args.flash_size)?;
        let mut cfg = RomConfig {
            flash_size,
            ..RomConfig::default()
        };
        if let Some(mac) = &args.mac {
            cfg.mac = parse_mac(mac)?;
        }
        cfg.fault = match args.rom_faults {
            RomFaultChoice::None | RomFaultChoice::VanishMidWrite => RomFault::None,
            RomFaultChoice::Silent => RomFault::Silent,
            RomFaultChoice::BadChecksum => RomFault::BadChecksumAt {
                block: BAD_CHECKSUM_BLOCK,
                always: true,
            },
            RomFaultChoice::StallMidWrite => RomFault::StallMidWrite {
                after: FAULT_AFTER_BLOCKS,
            },
        };
        let flash_file = args.flash_file.as_deref();
        let mut flash = match flash_file {
            Some(path) if path.exists() => std::fs::read(path)
                .map_err(|e| SimError::io(format!("reading {}", path.display()), e))?,
            _ => Vec::new(),
        };
        flash.resize(flash_size as usize, 0xff);
        let settings = args.emulator.settings(115_200)?;

        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            let handler = on_signal as extern "C" fn(libc::c_int);
            libc::signal(libc::SIGINT, handler as libc::sighandler_t);
            libc::signal(libc::SIGTERM, handler as libc::sighandler_t);
        }
        let mut pty = Pty::create(Some(&args.pty))?;
        println!("nanoesp-sim: esp adapter at {}", args.pty.display());
        let _ = std::io::stdout().flush();

        let start = Instant::now();
        let reset = |flash: &[u8]| -> Mode {
            match args.boot {
                BootChoice::Download => {
                    Mode::Rom(Box::new(RomLoader::with_flash(cfg.clone(), flash.to_vec())))
                }
                BootChoice::Flash if flash.first() == Some(&0xe9) => {
                    Mode::At(Box::new(crate::esp::build_emulator(&settings)))
                }
                BootChoice::Flash => Mode::BootLoop {
                    next: Instant::now() + Duration::from_millis(300),
                },
            }
        };
        if args.boot == BootChoice::Flash && flash.first() != Some(&0xe9) {
            eprintln!(
                "nanoesp-sim: the flash holds no firmware image (first byte is not 0xE9): the module boot-loops"
            );
        }
        let mut mode = reset(&flash);
        let mut out = Vec::new();
        while !STOP.load(Ordering::SeqCst) {
            let now_us = start.elapsed().as_micros() as u64;
            let polled = pty.poll();
            if polled.opened {
                // Opening the port resets the module (auto-reset wiring), into --boot mode.
                if let Mode::Rom(rom) = &mode {
                    flash = rom.flash().to_vec();
                }
                mode = reset(&flash);
                pty.write(banner(args.boot));
            }
            match &mut mode {
                Mode::Rom(rom) => {
                    // A host syncing with a running stub has just reset the chip through
                    // DTR/RTS on real wiring (espflash always does before SYNC); a pty
                    // cannot carry that, and a quick close/reopen can slip between polls.
                    if rom.is_stub() && contains(&polled.data, SYNC_REQUEST) {
                        **rom = RomLoader::with_flash(cfg.clone(), rom.flash().to_vec());
                    }
                    if !polled.data.is_empty() {
                        let reply = rom.feed(&polled.data);
                        pty.write(&reply);
                    }
                    for event in rom.take_events() {
                        if let RomEvent::FlashEnd { .. } = event {
                            save(flash_file, rom.flash())?;
                        }
                    }
                    if args.rom_faults == RomFaultChoice::VanishMidWrite
                        && rom.data_blocks() >= FAULT_AFTER_BLOCKS
                    {
                        save(flash_file, rom.flash())?;
                        eprintln!("nanoesp-sim: the adapter vanished in the middle of a write");
                        drop(pty);
                        return Ok(VANISH_EXIT);
                    }
                }
                Mode::At(esp) => {
                    for &b in &polled.data {
                        esp.uart_rx(b, now_us);
                    }
                    out.clear();
                    while let Some(b) = esp.uart_tx(now_us) {
                        out.push(b);
                    }
                    pty.write(&out);
                }
                Mode::BootLoop { next } => {
                    if Instant::now() >= *next {
                        pty.write(b"\r\n ets Jan  8 2013,rst cause:4, boot mode:(3,7)\r\n\r\nwdt reset\r\n");
                        *next = Instant::now() + Duration::from_secs(1);
                    }
                }
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        if let Mode::Rom(rom) = &mode {
            save(flash_file, rom.flash())?;
        }
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_macs_parse() {
        assert_eq!(parse_size("1M").unwrap(), 1 << 20);
        assert_eq!(parse_size("4mb").unwrap(), 4 << 20);
        assert!(parse_size("8M").is_err());
        assert_eq!(
            parse_mac("5C:CF:7F:00:00:01").unwrap(),
            [0x5c, 0xcf, 0x7f, 0, 0, 1]
        );
        assert!(parse_mac("5C:CF:7F").is_err());
        assert!(parse_mac("zz:cf:7f:00:00:01").is_err());
    }

    #[test]
    fn banners_decode_as_the_real_ones() {
        assert!(
            banner(BootChoice::Download)
                .windows(13)
                .any(|w| w == b"boot mode:(1,")
        );
        assert!(
            banner(BootChoice::Flash)
                .windows(13)
                .any(|w| w == b"boot mode:(3,")
        );
    }
}
