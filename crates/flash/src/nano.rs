//! Flashing the Nano: ravedude runs avrdude against the board's serial bootloader.
//!
//! ravedude reads its settings from a `Ravedude.toml`. The generated project has one for
//! `cargo run`; for `nanoesp flash` we write our own into a scratch directory from the
//! board facts in `boards/*.toml` (programmer, part, bootloader baud), with the console
//! off, and point ravedude at it through `CARGO_MANIFEST_DIR`. That way trying the other
//! Nano bootloader needs no edit of the user's files.
//!
//! avrdude's output (which ravedude passes through) is parsed as it streams: its `#`
//! progress bars drive [`Progress`], its summary lines give the byte counts, and its
//! error lines are classified into [`NanoError`].

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nanoesp_boards::AvrBoard;

use crate::Progress;

/// What to flash, where, and with what.
#[derive(Debug, Clone)]
pub struct NanoFlash<'a> {
    /// The firmware ELF (avrdude reads ELF directly).
    pub elf: &'a Path,
    /// Serial port of the Nano's USB bridge.
    pub port: &'a Path,
    /// Board facts: bootloader baud, avrdude programmer and part.
    pub board: &'a AvrBoard,
    /// The ravedude executable.
    pub ravedude: &'a Path,
    /// Scratch directory for the generated `Ravedude.toml`.
    pub scratch: &'a Path,
}

/// A successful flash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NanoReport {
    /// Bytes written (avrdude's count).
    pub bytes_written: u64,
    /// Bytes read back and compared (avrdude's verification; always on).
    pub bytes_verified: u64,
    /// Wall time of the whole ravedude run.
    pub elapsed: Duration,
}

/// Why the Nano could not be flashed. The log tail is avrdude's own words.
#[derive(Debug, thiserror::Error)]
pub enum NanoError {
    /// ravedude is not installed.
    #[error(
        "ravedude not found ({0}); install it with `cargo install ravedude --locked` \
         (scripts/setup.sh does)"
    )]
    RavedudeMissing(String),
    /// avrdude is not installed (ravedude needs it).
    #[error("avrdude is not installed; install it with `sudo apt install avrdude`")]
    AvrdudeMissing,
    /// The port does not exist or cannot be opened.
    #[error(
        "cannot open {port}: is the Nano plugged in and the port right? \
         (`nanoesp ports` lists them)\n{log}"
    )]
    PortUnavailable {
        /// The port tried.
        port: PathBuf,
        /// Tail of avrdude's output.
        log: String,
    },
    /// The bootloader did not answer at this baud: wrong bootloader (old vs new Nano),
    /// no auto-reset, or not a Nano.
    #[error("no answer from a bootloader at {baud} baud on {port} (avrdude: not in sync)\n{log}")]
    NotInSync {
        /// The port tried.
        port: PathBuf,
        /// The bootloader baud tried.
        baud: u32,
        /// Tail of avrdude's output.
        log: String,
    },
    /// What was read back differs from what was written.
    #[error("verification failed: the Nano's flash does not hold what was written\n{log}")]
    VerifyFailed {
        /// Tail of avrdude's output.
        log: String,
    },
    /// Any other avrdude/ravedude failure.
    #[error("ravedude/avrdude failed ({status})\n{log}")]
    Failed {
        /// Exit status.
        status: String,
        /// Tail of the output.
        log: String,
    },
    /// Scratch files could not be written or the child not started.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The `Ravedude.toml` for flashing `board`: its bootloader's programmer, part and baud,
/// automatic reset (DTR), chip erase as ravedude's Nano presets do, no console.
pub fn ravedude_manifest(board: &AvrBoard) -> String {
    format!(
        "# Written by `nanoesp flash` from boards/{id}.toml; `cargo run` uses the project's own.\n\
         [general]\n\
         open-console = false\n\
         \n\
         [board]\n\
         name = \"{name}\"\n\
         \n\
         [board.reset]\n\
         automatic = true\n\
         \n\
         [board.avrdude]\n\
         programmer = \"{programmer}\"\n\
         partno = \"{partno}\"\n\
         baudrate = {baud}\n\
         do-chip-erase = true\n\
         \n\
         [board.usb-info]\n\
         error = \"nanoesp passes the port explicitly\"\n",
        id = board.id,
        name = board.name.replace('"', "'"),
        programmer = board.avrdude_programmer,
        partno = board.avrdude_partno,
        baud = board.upload_baud,
    )
}

/// Flashes the Nano. avrdude verifies by reading the flash back; a success means it did.
pub fn flash(job: &NanoFlash<'_>, progress: &mut dyn Progress) -> Result<NanoReport, NanoError> {
    std::fs::create_dir_all(job.scratch).map_err(|source| NanoError::Io {
        what: format!("creating {}", job.scratch.display()),
        source,
    })?;
    let manifest = job.scratch.join("Ravedude.toml");
    std::fs::write(&manifest, ravedude_manifest(job.board)).map_err(|source| NanoError::Io {
        what: format!("writing {}", manifest.display()),
        source,
    })?;

    let started = Instant::now();
    let mut child = Command::new(job.ravedude)
        .arg("-P")
        .arg(job.port)
        .arg(job.elf)
        .env("CARGO_MANIFEST_DIR", job.scratch)
        .env_remove("RAVEDUDE_PORT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                NanoError::RavedudeMissing(job.ravedude.display().to_string())
            } else {
                NanoError::Io {
                    what: format!("starting {}", job.ravedude.display()),
                    source: e,
                }
            }
        })?;

    // stdout carries ravedude's few task lines; read it on a thread so neither pipe fills.
    let mut stdout = child.stdout.take().expect("piped");
    let stdout_reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stdout.read_to_end(&mut text);
        text
    });
    let mut stderr = child.stderr.take().expect("piped");
    let mut log = AvrdudeLog::default();
    let mut buf = [0u8; 256];
    loop {
        match stderr.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => log.feed(&buf[..n], progress),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    let status = child.wait().map_err(|source| NanoError::Io {
        what: "waiting for ravedude".into(),
        source,
    })?;
    let mut text = stdout_reader.join().unwrap_or_default();
    text.extend_from_slice(&log.text);
    let outcome = Outcome {
        success: status.success(),
        status: status.to_string(),
        text: String::from_utf8_lossy(&text).into_owned(),
    };
    classify(&outcome, job.port, job.board.upload_baud).map(|(written, verified)| NanoReport {
        bytes_written: written,
        bytes_verified: verified,
        elapsed: started.elapsed(),
    })
}

/// The finished child, as [`classify`] sees it.
struct Outcome {
    success: bool,
    status: String,
    text: String,
}

/// Turns ravedude's exit and output into bytes written/verified or a typed error.
fn classify(out: &Outcome, port: &Path, baud: u32) -> Result<(u64, u64), NanoError> {
    let text = &out.text;
    let log = tail(text, 12);
    let written = bytes_of(text, "bytes of flash written");
    let verified = bytes_of(text, "bytes of flash verified");
    if out.success {
        return match (written, verified) {
            (Some(w), Some(v)) if v == w => Ok((w, v)),
            // avrdude exits 0 only after verifying; a missing line means the output
            // changed, and we do not claim what we have not seen.
            _ => Err(NanoError::Failed {
                status: "avrdude's write/verify summary not found".into(),
                log,
            }),
        };
    }
    if text.contains("couldn't find Ravedude.toml") || text.contains("avrdude is not installed") {
        return Err(NanoError::Failed {
            status: out.status.clone(),
            log,
        });
    }
    if text.contains("Avrdude") && text.contains("is not installed") {
        return Err(NanoError::AvrdudeMissing);
    }
    if text.contains("verification mismatch") || text.contains("verification error") {
        return Err(NanoError::VerifyFailed { log });
    }
    if text.contains("can't open device")
        || text.contains("cannot open port")
        || text.contains("No such file or directory")
    {
        return Err(NanoError::PortUnavailable {
            port: port.to_path_buf(),
            log,
        });
    }
    if text.contains("not in sync")
        || text.contains("not responding")
        || text.contains("initialization failed")
    {
        return Err(NanoError::NotInSync {
            port: port.to_path_buf(),
            baud,
            log,
        });
    }
    Err(NanoError::Failed {
        status: out.status.clone(),
        log,
    })
}

/// `N` from avrdude's "avrdude: N bytes of flash written" style lines (the last one).
fn bytes_of(text: &str, what: &str) -> Option<u64> {
    text.lines().rev().find_map(|line| {
        line.split_once(what)?
            .0
            .trim()
            .rsplit(' ')
            .next()?
            .parse()
            .ok()
    })
}

/// The last `n` non-empty lines, without the harmless pty ioctl noise.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty() && !l.contains("TIOCMGET") && !l.contains("TIOCMSET"))
        .collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Accumulates avrdude's stderr and turns its progress bars into [`Progress`] calls.
///
/// Without a terminal avrdude prints `Writing | ` (or `Reading | `), then one `#` per 2 %
/// as the work proceeds, then ` | 100% 1.23s`.
#[derive(Debug, Default)]
pub struct AvrdudeLog {
    text: Vec<u8>,
    /// Hashes seen in the bar being drawn, if one is open.
    bar: Option<u64>,
    /// Index in `text` where scanning for the next bar start resumes.
    scanned: usize,
}

/// Width of avrdude's progress bar: 50 hashes for 100 %.
const BAR_HASHES: u64 = 50;

impl AvrdudeLog {
    /// Feeds output bytes as they arrive.
    pub fn feed(&mut self, bytes: &[u8], progress: &mut dyn Progress) {
        for &b in bytes {
            self.text.push(b);
            match self.bar {
                Some(ref mut hashes) => match b {
                    b'#' => {
                        *hashes += 1;
                        progress.update(*hashes * 100 / BAR_HASHES);
                    }
                    b'|' => {
                        self.bar = None;
                        self.scanned = self.text.len();
                        progress.finish();
                    }
                    _ => {}
                },
                None => {
                    let recent = &self.text[self.scanned..];
                    for (marker, label) in [
                        (&b"Writing | "[..], "Writing"),
                        (b"Reading | ", "Verifying"),
                    ] {
                        if recent.ends_with(marker) {
                            // A read before any write is avrdude checking the chip, not a
                            // verification; label it honestly.
                            let label = if label == "Verifying" && !self.wrote() {
                                "Reading"
                            } else {
                                label
                            };
                            progress.start(label, 100);
                            self.bar = Some(0);
                            self.scanned = self.text.len();
                        }
                    }
                }
            }
        }
    }

    fn wrote(&self) -> bool {
        self.text.windows(9).any(|w| w == b"Writing |")
    }

    /// Everything fed so far.
    pub fn text(&self) -> &[u8] {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Recorder(Vec<String>);

    impl Progress for Recorder {
        fn start(&mut self, label: &str, total: u64) {
            self.0.push(format!("start {label} {total}"));
        }
        fn update(&mut self, done: u64) {
            if done.is_multiple_of(50) {
                self.0.push(format!("at {done}"));
            }
        }
        fn finish(&mut self) {
            self.0.push("finish".into());
        }
    }

    const SUCCESS: &str = "avrdude: AVR device initialized and ready to accept instructions\n\
        avrdude: device signature = 0x1e950f (probably m328p)\n\
        avrdude: erasing chip\n\
        avrdude: writing 276 bytes flash ...\n\n\
        Writing | ################################################## | 100% 0.05s\n\n\
        avrdude: 276 bytes of flash written\n\
        avrdude: verifying flash memory against fw.elf\n\n\
        Reading | ################################################## | 100% 0.04s\n\n\
        avrdude: 276 bytes of flash verified\n\navrdude done.  Thank you.\n";

    #[test]
    fn progress_bars_become_phases_even_when_split_across_reads() {
        let mut log = AvrdudeLog::default();
        let mut rec = Recorder::default();
        for chunk in SUCCESS.as_bytes().chunks(3) {
            log.feed(chunk, &mut rec);
        }
        assert_eq!(
            rec.0,
            [
                "start Writing 100",
                "at 50",
                "at 100",
                "finish",
                "start Verifying 100",
                "at 50",
                "at 100",
                "finish"
            ]
        );
        assert_eq!(log.text(), SUCCESS.as_bytes());
    }

    fn outcome(success: bool, text: &str) -> Outcome {
        Outcome {
            success,
            status: if success {
                "exit status: 0"
            } else {
                "exit status: 1"
            }
            .into(),
            text: text.into(),
        }
    }

    #[test]
    fn success_needs_written_and_verified_counts_that_agree() {
        let port = Path::new("/dev/ttyUSB0");
        assert_eq!(
            classify(&outcome(true, SUCCESS), port, 115200).unwrap(),
            (276, 276)
        );
        let no_verify = SUCCESS.replace("276 bytes of flash verified", "");
        assert!(classify(&outcome(true, &no_verify), port, 115200).is_err());
    }

    #[test]
    fn failures_are_classified() {
        let port = Path::new("/dev/ttyUSB0");
        let sync = "avrdude: stk500_recv(): programmer is not responding\n\
                    avrdude: stk500_getsync() attempt 1 of 10: not in sync: resp=0x00\n";
        assert!(matches!(
            classify(&outcome(false, sync), port, 57600),
            Err(NanoError::NotInSync { baud: 57600, .. })
        ));
        let open = "avrdude OS error: cannot open port /dev/ttyUSB0: No such file or directory\n";
        assert!(matches!(
            classify(&outcome(false, open), port, 115200),
            Err(NanoError::PortUnavailable { .. })
        ));
        let verify = "avrdude: verification error, first mismatch at byte 0x0000\n";
        assert!(matches!(
            classify(&outcome(false, verify), port, 115200),
            Err(NanoError::VerifyFailed { .. })
        ));
        assert!(matches!(
            classify(&outcome(false, "something else"), port, 115200),
            Err(NanoError::Failed { .. })
        ));
    }

    #[test]
    fn manifest_carries_the_board_facts() {
        let catalog = nanoesp_boards::Catalog::load().unwrap();
        let old = catalog.avr("nano-old").unwrap();
        let text = ravedude_manifest(old);
        let parsed: toml::Value = toml::from_str(&text).unwrap();
        assert_eq!(
            parsed["board"]["avrdude"]["baudrate"].as_integer(),
            Some(57600)
        );
        assert_eq!(parsed["general"]["open-console"].as_bool(), Some(false));
    }
}
