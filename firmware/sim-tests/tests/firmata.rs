//! The esp-master Nano firmware (Firmata on the link) on the virtual bench: built for AVR
//! from `templates/esp-master/nano`, run in `nanoesp-sim` with the link on a pty
//! (`--esp pty:PATH`) whose far end is either this test or pyFirmata2, a Firmata client
//! from PyPI (installed by `scripts/setup.sh`, found through `NANOESP_PYTHON`).

use nanoesp_hal_sim_tests::{LinkKind, build_esp_master_firmware, repo_root, sim_binary};
use nanoesp_test_support::{Captured, line_channel};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

const BAUD: u32 = 57600;

/// `nanoesp-sim run` of the esp-master firmware with its link on a pty.
struct FirmataBench {
    child: Child,
    link: PathBuf,
    console: Vec<String>,
    stdout: Receiver<String>,
    stderr: Captured,
    _dir: TempDir,
}

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl FirmataBench {
    fn start(name: &str) -> FirmataBench {
        let firmware = build_esp_master_firmware(LinkKind::Soft, BAUD);
        let dir =
            std::env::temp_dir().join(format!("nanoesp-firmata-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let link = dir.join("link");
        let mut child = Command::new(sim_binary())
            .arg("run")
            .arg(&firmware)
            .args(["--link", "soft", "--baud", &BAUD.to_string()])
            .arg("--esp")
            .arg(format!("pty:{}", link.display()))
            .args(["--adc", "A0=2500", "--adc", "A3=1000", "--watch-pin", "D13"])
            .args(["--timeout", "600"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nanoesp-sim run");
        let stdout = line_channel(child.stdout.take().unwrap());
        let stderr = Captured::echoing(child.stderr.take().unwrap());
        let mut bench = FirmataBench {
            child,
            link,
            console: Vec::new(),
            stdout,
            stderr,
            _dir: TempDir(dir),
        };
        bench.wait_console("nanoesp: firmata ready", Duration::from_secs(30));
        bench
    }

    /// Waits for a stdout line starting with `prefix` (the sim's or the Nano console's).
    fn wait_console(&mut self, prefix: &str, wait: Duration) -> String {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(line) = self.console.iter().find(|l| l.starts_with(prefix)) {
                return line.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) => self.console.push(line),
                Err(_) => panic!(
                    "no line {prefix:?} within {wait:?}; stdout so far:\n{}",
                    self.console.join("\n")
                ),
            }
        }
    }

    /// Waits until `done` holds for the stderr printed so far, or `wait` passes.
    fn wait_stderr(&self, wait: Duration, done: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if done(&self.stderr.text()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Ends the simulation (SIGTERM) and returns its stderr.
    fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        // The exit closed the pipe: once the reader is done, its last lines are in `stderr`.
        self.stderr.join();
        self.stderr.text()
    }
}

impl Drop for FirmataBench {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The link's far end, opened like the ESP's UART: bytes in, bytes out with a timeout.
struct Link {
    file: std::fs::File,
    rx: Receiver<u8>,
}

impl Link {
    fn open(path: &Path) -> Link {
        // the simulator created the pty raw; nothing else to configure
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut reader = file.try_clone().unwrap();
        let (send, rx) = channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 256];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || buf[..n].iter().any(|&b| send.send(b).is_err()) {
                    break;
                }
            }
        });
        Link { file, rx }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.file.write_all(bytes).unwrap();
    }

    /// Collects bytes until `done` accepts them or `wait` passes.
    fn read_until(&self, wait: Duration, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let deadline = Instant::now() + wait;
        let mut got = Vec::new();
        while !done(&got) {
            match self
                .rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(b) => got.push(b),
                Err(_) => break,
            }
        }
        got
    }

    /// The first complete `F0 <id> ... F7` message with sysex id `id` within `wait`.
    fn sysex(&self, id: u8, wait: Duration) -> Option<Vec<u8>> {
        let got = self.read_until(wait, |b| find_sysex(b, id).is_some());
        find_sysex(&got, id)
    }
}

fn find_sysex(bytes: &[u8], id: u8) -> Option<Vec<u8>> {
    let start = bytes.windows(2).position(|w| w == [0xF0, id])?;
    let end = start + bytes[start..].iter().position(|&b| b == 0xF7)?;
    Some(bytes[start + 2..end].to_vec())
}

/// The build id the firmware prints in its console banner.
fn banner_build_id(bench: &mut FirmataBench) -> String {
    let banner = bench.wait_console("nanoesp ", Duration::from_secs(5));
    banner.split(' ').nth(1).unwrap().to_string()
}

#[test]
fn console_prints_the_banner_and_the_firmata_ready_line() {
    let mut bench = FirmataBench::start("console");
    let banner = bench.wait_console("nanoesp ", Duration::from_secs(5));
    let fields: Vec<&str> = banner.split(' ').collect();
    assert!(fields[1].len() == 8, "{banner}");
    assert_eq!(
        &fields[2..],
        ["board=nano", "mode=esp-master", "link=soft@57600"],
        "{banner}"
    );
    let ready = bench.wait_console("nanoesp: firmata ready", Duration::from_secs(5));
    assert_eq!(ready, "nanoesp: firmata ready link=soft@57600");
    let first_two: Vec<&String> = bench
        .console
        .iter()
        .filter(|l| !l.starts_with("nanoesp-sim:"))
        .take(2)
        .collect();
    assert_eq!(first_two, [&banner, &ready]);
}

#[test]
fn build_id_sysex_answers_after_garbage_partial_and_oversize_frames() {
    let mut bench = FirmataBench::start("build-id");
    let id = banner_build_id(&mut bench);
    let mut link = Link::open(&bench.link);
    link.send(&[0xF0, 0x0E, 0xF7]);
    let reply = link.sysex(0x0E, Duration::from_secs(10));
    assert_eq!(reply.as_deref(), Some(id.as_bytes()), "build id sysex");

    // line noise, a cut-off pin mode, an unterminated sysex and one far over the parser's
    // buffer: the next request is still understood, and so is a version query
    let mut garbage = vec![0x00, 0x7F, 0x13, 0xF4, 13, 0xF0, 0x79, 0x41, 0x42];
    garbage.extend([0xF0, 0x71]);
    garbage.extend(std::iter::repeat_n(0x55, 200));
    garbage.extend([0xF7, 0x80, 0xA5, 0x12]);
    link.send(&garbage);
    link.send(&[0xF0, 0x0E, 0xF7, 0xF9]);
    let got = link.read_until(Duration::from_secs(10), |b| {
        b.windows(3).any(|w| w == [0xF9, 2, 5]) && find_sysex(b, 0x0E).is_some()
    });
    assert_eq!(
        find_sysex(&got, 0x0E).as_deref(),
        Some(id.as_bytes()),
        "{got:02x?}"
    );
    assert!(got.windows(3).any(|w| w == [0xF9, 2, 5]), "{got:02x?}");
    let err = bench.stop();
    assert!(
        err.contains("resets=1 "),
        "opening the link must not reset: {err}"
    );
    assert!(err.contains("framing_errors=0"), "{err}");
}

/// The Python with pyFirmata2, from `scripts/setup.sh`.
fn python() -> PathBuf {
    let python = std::env::var_os("NANOESP_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
        panic!(
            "NANOESP_PYTHON is not set: run scripts/setup.sh (it installs pyFirmata2 into a venv and exports it)"
        )
    });
    assert!(
        python.exists(),
        "NANOESP_PYTHON={} does not exist: run scripts/setup.sh",
        python.display()
    );
    python
}

#[test]
fn pyfirmata2_reads_the_capabilities_and_analog_inputs_and_drives_d13() {
    let python = python();
    let bench = FirmataBench::start("pyfirmata2");
    let script = repo_root().join("firmware/sim-tests/tests/firmata_client.py");
    let mut client = Command::new(&python)
        .arg(&script)
        .arg(&bench.link)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", python.display()));
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = client.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = client.kill();
            break client.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    let mut err = String::new();
    client
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    client
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        status.success(),
        "firmata_client.py failed ({status}):\n{out}\n{err}"
    );
    for check in [
        "firmware name 'nanoesp-io'",
        "A0 = ",
        "A3 = ",
        "D13 written",
    ] {
        assert!(out.contains(check), "{check} missing:\n{out}");
    }
    // The client's last write may still be on its way through the simulator when the
    // client exits: stopping the simulator at once could cut D13's last change off.
    bench.wait_stderr(Duration::from_secs(30), d13_went_high_then_low);
    let sim = bench.stop();
    let d13: Vec<&str> = sim
        .lines()
        .filter(|l| l.starts_with("nanoesp-sim: pin D13="))
        .collect();
    assert!(
        d13_went_high_then_low(&sim),
        "D13 must go high then low: {d13:?}\n{sim}"
    );
}

/// Whether the simulator's `--watch-pin D13` lines show D13 high and then low.
fn d13_went_high_then_low(sim: &str) -> bool {
    let d13: Vec<&str> = sim
        .lines()
        .filter(|l| l.starts_with("nanoesp-sim: pin D13="))
        .collect();
    let high = d13.iter().position(|l| l.ends_with("=1"));
    let low_after = high.and_then(|h| d13[h..].iter().position(|l| l.ends_with("=0")));
    high.is_some() && low_after.is_some()
}
