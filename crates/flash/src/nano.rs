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
//!
//! A run is bounded by [`NanoFlash::deadline`] (see [`run_deadline`]): a bootloader that
//! stops answering mid-transfer can leave avrdude waiting on the port for good.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
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
    /// How long ravedude may run before it and avrdude are stopped ([`run_deadline`]).
    pub deadline: Duration,
}

/// Time for ravedude to start and reset the board and for avrdude to get in sync: avrdude
/// 7.1 gives up on a silent port after ten get-sync attempts, 56 s (measured), so a
/// bootloader that never answers still ends in [`NanoError::NotInSync`] well within it.
const START_AND_SYNC: Duration = Duration::from_secs(120);

/// STK500v1 bytes on the wire per 128-byte page, writing it then reading it back: load
/// address (4 + 2 answer), program page (133 + 2), load address again (4 + 2), read page
/// (5 + 130).
const WIRE_BYTES_PER_PAGE: u64 = 282;

/// Flash page of the ATmega328P, the unit avrdude writes and reads.
const PAGE_BYTES: u64 = 128;

/// Command/answer exchanges per page (the four above), each paying the USB-serial bridge's
/// latency (an FTDI latency timer is 16 ms) and, when writing, the page write (4.5 ms).
const EXCHANGES_PER_PAGE: u64 = 4;
const EXCHANGE_LATENCY: Duration = Duration::from_millis(20);

/// Factor over the expected transfer time: a loaded host, a slow bridge, avrdude's retries.
const TRANSFER_SLACK: u32 = 4;

/// How long flashing `image_bytes` of firmware at `baud` may take, start to finish, before
/// it counts as hung: [`START_AND_SYNC`] plus four times the transfer (write and verify
/// at 10 bits a byte, plus per-exchange latency). About 2.5 minutes for 10 KB at 115200
/// baud, just over 4 minutes for a full 32 KB at 57600.
pub fn run_deadline(image_bytes: u64, baud: u32) -> Duration {
    let pages = image_bytes.div_ceil(PAGE_BYTES);
    let wire_bits = pages * WIRE_BYTES_PER_PAGE * 10;
    let wire = Duration::from_secs_f64(wire_bits as f64 / f64::from(baud.max(1)));
    let latency = EXCHANGE_LATENCY * u32::try_from(pages * EXCHANGES_PER_PAGE).unwrap_or(u32::MAX);
    START_AND_SYNC + (wire + latency) * TRANSFER_SLACK
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
    /// ravedude/avrdude ran past [`NanoFlash::deadline`] and were stopped: typically a
    /// bootloader that stopped answering mid-transfer while avrdude kept waiting.
    #[error(
        "avrdude did not finish within {} s on {port} and was stopped\n{log}",
        deadline.as_secs()
    )]
    TimedOut {
        /// The port tried.
        port: PathBuf,
        /// The deadline that passed.
        deadline: Duration,
        /// Tail of avrdude's output so far.
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

    // Both pipes are read on threads, so neither fills and the deadline below holds even
    // while avrdude prints nothing; stderr comes back in chunks to drive the progress bars.
    let stdout = pipe_reader(child.stdout.take().expect("piped"));
    let stderr = pipe_reader(child.stderr.take().expect("piped"));
    let until = started + job.deadline;
    let mut log = AvrdudeLog::default();
    let stderr_closed = loop {
        match stderr.recv_timeout(until.saturating_duration_since(Instant::now())) {
            Ok(chunk) => log.feed(&chunk, progress),
            Err(RecvTimeoutError::Disconnected) => break true,
            Err(RecvTimeoutError::Timeout) => break false,
        }
    };
    let finished = if stderr_closed {
        // Closing its output means it is exiting: that may take a moment past the deadline.
        wait_until(&mut child, until.max(Instant::now() + GRACE))
    } else {
        Ok(None)
    };
    let status = match finished {
        Ok(Some(status)) => Some(status),
        Ok(None) => {
            kill_tree(&mut child);
            None
        }
        Err(source) => {
            kill_tree(&mut child);
            return Err(NanoError::Io {
                what: "waiting for ravedude".into(),
                source,
            });
        }
    };
    // What the killed processes had written still arrives; a descendant that escaped the
    // kill may hold the pipes open, so the collection itself is bounded.
    let drain_until = Instant::now() + GRACE;
    while let Ok(chunk) = stderr.recv_timeout(drain_until.saturating_duration_since(Instant::now()))
    {
        log.feed(&chunk, progress);
    }
    let mut text = Vec::new();
    while let Ok(chunk) = stdout.recv_timeout(drain_until.saturating_duration_since(Instant::now()))
    {
        text.extend_from_slice(&chunk);
    }
    text.extend_from_slice(&log.text);
    let text = String::from_utf8_lossy(&text).into_owned();
    let Some(status) = status else {
        return Err(NanoError::TimedOut {
            port: job.port.to_path_buf(),
            deadline: job.deadline,
            log: tail(&text, 12),
        });
    };
    let outcome = Outcome {
        success: status.success(),
        status: status.to_string(),
        text,
    };
    classify(&outcome, job.port, job.board.upload_baud).map(|(written, verified)| NanoReport {
        bytes_written: written,
        bytes_verified: verified,
        elapsed: started.elapsed(),
    })
}

/// How long a ravedude that closed its output may take to exit, and how long output of a
/// finished or killed one is still collected.
const GRACE: Duration = Duration::from_secs(2);

/// Reads `pipe` to its end on a thread, passing on each chunk as it arrives.
fn pipe_reader(mut pipe: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
    });
    rx
}

/// The child's exit status, or `None` if it is still running at `until`.
fn wait_until(child: &mut Child, until: Instant) -> std::io::Result<Option<ExitStatus>> {
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= until {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Kills `child` and every process below it (ravedude's avrdude), then reaps `child`.
///
/// ravedude stays in our process group so that Ctrl-C at the terminal still reaches it
/// and avrdude; a group of its own would make a kill simpler but leave avrdude holding
/// the port after the user interrupts `nanoesp flash`. So the tree is found in /proc:
/// each process is stopped first, so that none can start another while the tree is read.
fn kill_tree(child: &mut Child) {
    let root = child.id() as libc::pid_t;
    let mut tree = vec![root];
    let mut next = 0;
    while next < tree.len() {
        // SAFETY: kill(2) on a process we started or one of its descendants.
        unsafe { libc::kill(tree[next], libc::SIGSTOP) };
        for pid in children_of(tree[next]) {
            if !tree.contains(&pid) {
                tree.push(pid);
            }
        }
        next += 1;
    }
    for &pid in &tree {
        // SAFETY: as above; SIGKILL also ends a stopped process.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let _ = child.wait();
}

/// Processes whose parent is `parent` (from /proc/PID/stat, field 4).
fn children_of(parent: libc::pid_t) -> Vec<libc::pid_t> {
    crate::ports::processes()
        .filter_map(|(pid, dir)| {
            let pid = libc::pid_t::try_from(pid).ok()?;
            let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
            // The command name (field 2) is in parentheses and may contain spaces.
            let ppid: libc::pid_t = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            (ppid == parent).then_some(pid)
        })
        .collect()
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
    fn run_deadline_outlasts_a_failed_sync_and_four_transfers() {
        // Nothing to write still leaves room for avrdude's ten get-syncs (56 s).
        assert_eq!(run_deadline(0, 115_200), START_AND_SYNC);
        // 10 KB at 115200: 80 pages, 80 * 282 * 10 bits = 1.96 s on the wire, 320
        // exchanges * 20 ms = 6.4 s; 120 s + 4 * 8.36 s.
        assert_eq!(run_deadline(10 * 1024, 115_200).as_secs(), 153);
        // A full ATmega328P through the old bootloader: 256 pages, 12.53 s + 20.48 s.
        assert_eq!(run_deadline(32 * 1024, 57_600).as_secs(), 252);
        // A started page counts whole; a slower baud takes longer.
        assert!(run_deadline(129, 115_200) > run_deadline(128, 115_200));
        assert!(run_deadline(20_000, 57_600) > run_deadline(20_000, 115_200));
    }

    /// An executable `ravedude` in `dir` running `script` (POSIX sh).
    fn fake_ravedude(dir: &Path, script: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("ravedude");
        std::fs::write(&path, format!("#!/bin/sh\n{script}")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn fake_flash(
        ravedude: &Path,
        scratch: &Path,
        deadline: Duration,
    ) -> Result<NanoReport, NanoError> {
        let catalog = nanoesp_boards::Catalog::load().unwrap();
        flash(
            &NanoFlash {
                elf: Path::new("fw.elf"),
                port: Path::new("/dev/ttyUSB0"),
                board: catalog.avr("nano").unwrap(),
                ravedude,
                scratch,
                deadline,
            },
            &mut crate::NoProgress,
        )
    }

    /// Whether `pid` has ended (gone, or a zombie nobody reaped yet).
    fn ended(pid: &str) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => stat
                .rsplit_once(')')
                .unwrap()
                .1
                .trim_start()
                .starts_with('Z'),
            Err(_) => true,
        }
    }

    #[test]
    fn an_avrdude_that_never_finishes_is_stopped_at_the_deadline_with_its_children() {
        let tmp = tempfile::tempdir().unwrap();
        // avrdude stuck mid-write on a bootloader that went quiet; its own child is there
        // to show the whole tree goes, not only ravedude.
        let ravedude = fake_ravedude(
            tmp.path(),
            "printf 'avrdude: writing 276 bytes flash ...\\nWriting | ###' >&2\n\
             sleep 30 &\n\
             echo $! > \"$CARGO_MANIFEST_DIR/child.pid\"\n\
             wait\n",
        );
        let scratch = tmp.path().join("scratch");
        let started = Instant::now();
        // The fake must have printed and written its child's pid before the kill, even on
        // a loaded machine.
        let err = fake_flash(&ravedude, &scratch, Duration::from_secs(3)).unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(3) + GRACE * 2,
            "took {:?}",
            started.elapsed()
        );
        let NanoError::TimedOut {
            ref port,
            deadline,
            ref log,
        } = err
        else {
            panic!("{err:?}");
        };
        assert_eq!(port, Path::new("/dev/ttyUSB0"));
        assert_eq!(deadline, Duration::from_secs(3));
        assert!(log.contains("Writing | ###"), "{log}");
        assert!(
            err.to_string()
                .starts_with("avrdude did not finish within 3 s on /dev/ttyUSB0"),
            "{err}"
        );
        let child = std::fs::read_to_string(scratch.join("child.pid")).unwrap();
        let child = child.trim();
        let reaped_by = Instant::now() + Duration::from_secs(5);
        while !ended(child) {
            assert!(
                Instant::now() < reaped_by,
                "avrdude's child {child} outlived the kill"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    #[test]
    fn a_ravedude_that_finishes_in_time_is_classified_as_before() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("avrdude.log"), SUCCESS).unwrap();
        let ravedude = fake_ravedude(
            tmp.path(),
            &format!(
                "echo '  Programming fw.elf => /dev/ttyUSB0'\ncat '{}' >&2\n",
                tmp.path().join("avrdude.log").display()
            ),
        );
        let report = fake_flash(
            &ravedude,
            &tmp.path().join("scratch"),
            Duration::from_secs(30),
        )
        .unwrap();
        assert_eq!((report.bytes_written, report.bytes_verified), (276, 276));
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
