//! Test helpers: building the AVR test firmwares (once per test binary, Debian toolchain,
//! one shared target dir), starting `nanoesp-sim`, and talking to ptys.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

use nanoesp_test_support::{Captured, line_channel};

/// Where test firmwares and bootloaders are built: beside the host target dir, so `core`
/// for AVR is built once and kept.
pub fn build_root() -> PathBuf {
    let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().map(|p| p.join("avr-testfw")).unwrap_or(tmp)
}

/// Environment for a nested cargo: drop what the outer `cargo test` leaks.
fn clean_cargo_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().to_string();
        if key.starts_with("CARGO_")
            || key.starts_with("RUSTC")
            || key == "RUSTFLAGS"
            || key == "RUSTDOCFLAGS"
        {
            cmd.env_remove(&key);
        }
    }
    let path = std::env::var("PATH").unwrap_or_default();
    cmd.env("PATH", format!("/usr/bin:{path}"))
        .env("RUSTC_BOOTSTRAP", "1");
}

/// Path of a test firmware ELF (`usart-echo`, `soft-bridge-9600`, ...), building all of
/// them on first use.
pub fn firmware(name: &str) -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/firmware");
        let target = build_root();
        let mut cmd = Command::new("/usr/bin/cargo");
        clean_cargo_env(&mut cmd);
        let out = cmd
            .args(["build", "--release", "--bins"])
            .env("CARGO_TARGET_DIR", &target)
            .current_dir(&src)
            .output()
            .map_err(|e| format!("running /usr/bin/cargo: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "building test firmware failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(target.join("avr-none/release"))
    });
    match dir {
        Ok(dir) => dir.join(format!("{name}.elf")),
        Err(e) => panic!("{e}"),
    }
}

/// A running `nanoesp-sim`, terminated (SIGTERM) on drop.
pub struct Sim {
    pub child: Child,
    /// stdout lines, read on a thread: a blocking read would outlast `wait_line`'s
    /// deadline, and an undrained pipe could stall the simulator once full.
    stdout: mpsc::Receiver<String>,
    /// stderr so far, collected on a thread so a test can wait for a line while it runs.
    stderr: Captured,
}

impl Sim {
    pub fn start(args: &[&str]) -> Sim {
        let mut child = Command::new(env!("CARGO_BIN_EXE_nanoesp-sim"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start nanoesp-sim");
        let stdout = line_channel(child.stdout.take().unwrap());
        let stderr = Captured::start(child.stderr.take().unwrap());
        Sim {
            child,
            stdout,
            stderr,
        }
    }

    /// Waits until `done` holds for the stderr printed so far (panics after `secs`).
    pub fn wait_stderr(&self, what: &str, secs: u64, done: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let text = self.stderr.text();
            if done(&text) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no {what}; stderr so far:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Reads stdout lines until one contains `needle` (panics after `secs`).
    pub fn wait_line(&mut self, needle: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut seen = String::new();
        while let Ok(line) = self
            .stdout
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if line.contains(needle) {
                return line;
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        panic!("no line containing {needle:?}; stdout so far:\n{seen}");
    }

    /// Sends `signal` to the simulator (SIGSTOP/SIGCONT freeze and thaw it).
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
    }

    /// SIGTERM, wait, and return the whole stderr text.
    pub fn stop(mut self) -> String {
        self.signal(libc::SIGTERM);
        let _ = self.child.wait();
        // The exit closed the pipe: once the reader is done, the last lines are in.
        self.stderr.join();
        self.stderr.text()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.signal(libc::SIGTERM);
            let _ = self.child.wait();
        }
    }
}

/// Waits until a path exists (the sim creates its pty link at start).
pub fn wait_for_path(path: &Path, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A serial port opened like a terminal program would: raw, at `baud`.
pub struct Port {
    pub fd: OwnedFd,
}

impl Port {
    pub fn open(path: &Path, baud: u32) -> Port {
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: valid C string; we own the returned fd.
        let fd =
            unsafe { libc::open(c.as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_NONBLOCK) };
        assert!(
            fd >= 0,
            "open {}: {}",
            path.display(),
            std::io::Error::last_os_error()
        );
        // SAFETY: fd is valid and ours.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        set_raw(fd.as_raw_fd(), baud);
        Port { fd }
    }

    pub fn write(&self, data: &[u8]) {
        let mut done = 0;
        while done < data.len() {
            // SAFETY: the slice is valid.
            let n = unsafe {
                libc::write(
                    self.fd.as_raw_fd(),
                    data[done..].as_ptr().cast(),
                    data.len() - done,
                )
            };
            if n > 0 {
                done += n as usize;
            } else {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }

    /// Reads until the collected bytes contain `needle` or `secs` pass; returns them all.
    pub fn read_until(&self, needle: &[u8], secs: f64) -> Vec<u8> {
        let deadline = Instant::now() + Duration::from_secs_f64(secs);
        let mut got = Vec::new();
        while Instant::now() < deadline {
            let mut buf = [0u8; 512];
            // SAFETY: buf is valid.
            let n = unsafe { libc::read(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n > 0 {
                got.extend_from_slice(&buf[..n as usize]);
                if !needle.is_empty() && got.windows(needle.len()).any(|w| w == needle) {
                    return got;
                }
            } else {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        got
    }
}

/// Raw mode at `baud`, applied without flushing (TCSANOW), so nothing the board sent
/// right after the open is thrown away.
pub fn set_raw(fd: i32, baud: u32) {
    let speed = match baud {
        9600 => libc::B9600,
        57600 => libc::B57600,
        115200 => libc::B115200,
        _ => panic!("unsupported test baud {baud}"),
    };
    // SAFETY: termios is plain data; fd is valid.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        assert_eq!(libc::tcgetattr(fd, &mut t), 0);
        libc::cfmakeraw(&mut t);
        libc::cfsetispeed(&mut t, speed);
        libc::cfsetospeed(&mut t, speed);
        assert_eq!(libc::tcsetattr(fd, libc::TCSANOW, &t), 0);
    }
}

/// A pty pair for playing the ESP8266 at the far end of `--esp serial:PATH`.
pub struct FakeEsp {
    pub master: Port,
    pub slave_path: PathBuf,
    _slave: OwnedFd,
}

impl FakeEsp {
    pub fn new() -> FakeEsp {
        let (mut m, mut s) = (-1, -1);
        // SAFETY: openpty fills two fds.
        let rc = unsafe {
            libc::openpty(
                &mut m,
                &mut s,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0);
        // SAFETY: fresh fds we own.
        let (m, s) = unsafe { (OwnedFd::from_raw_fd(m), OwnedFd::from_raw_fd(s)) };
        // ptsname_r, not ptsname: its static buffer is shared by the tests running on
        // other threads, which could hand this one another test's pty.
        let mut buf = [0 as libc::c_char; 128];
        // SAFETY: fcntl/ptsname_r on a valid fd; ptsname_r NUL-terminates buf on success.
        let name = unsafe {
            libc::fcntl(m.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK);
            assert_eq!(
                libc::ptsname_r(m.as_raw_fd(), buf.as_mut_ptr(), buf.len()),
                0
            );
            std::ffi::CStr::from_ptr(buf.as_ptr())
                .to_string_lossy()
                .into_owned()
        };
        set_raw(s.as_raw_fd(), 115200);
        FakeEsp {
            master: Port { fd: m },
            slave_path: PathBuf::from(name),
            _slave: s,
        }
    }
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
