//! Builds and drives the esp-master ESP8266 firmware core on the host.
//!
//! - [`build_host`] compiles `nanoesp-esp-host` (the sketch's portable C++ plus its POSIX
//!   layer) from `templates/esp-master/esp` with g++; [`build_unit_tests`] compiles the C++
//!   unit tests.
//! - [`FakeNano`] is a pty whose other end a thread drives like the nanoesp Firmata
//!   firmware: handshake answers, analog reports every sampling interval, pin state, resets.
//! - [`Host`] runs `nanoesp-esp-host` against it and waits for its ready line;
//!   [`http_request`] is a minimal one-shot HTTP/1.1 client.

use std::ffi::CStr;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nanoesp_test_support::{Captured, line_channel};

/// The sketch folder `templates/esp-master/esp`.
pub fn esp_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../templates/esp-master/esp")
}

/// The C++ compiler: `$CXX`, else `g++`. Errors say how to install it.
pub fn cxx() -> Result<String, String> {
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "g++".to_string());
    match Command::new(&cxx).arg("--version").output() {
        Ok(o) if o.status.success() => Ok(cxx),
        _ => Err(format!(
            "{cxx} not found: the esp-master host tests need a C++17 compiler; run scripts/setup.sh \
             (or apt-get install g++)"
        )),
    }
}

fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "cpp"))
        .collect();
    v.sort();
    v
}

fn compile(out: &Path, dirs: &[&str], extra: &[&str]) -> Result<PathBuf, String> {
    let cxx = cxx()?;
    let esp = esp_dir();
    std::fs::create_dir_all(out.parent().unwrap_or(Path::new(".")))
        .map_err(|e| format!("{}: {e}", out.display()))?;
    let tmp = out.with_extension(format!("tmp{}", std::process::id()));
    let mut cmd = Command::new(&cxx);
    cmd.current_dir(&esp)
        .args([
            "-std=c++17",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-I",
            "src",
        ])
        .args(extra);
    for d in dirs {
        cmd.args(sources(&esp.join(d)));
    }
    cmd.arg("-o").arg(&tmp);
    let o = cmd
        .output()
        .map_err(|e| format!("{cxx}: {e}; run scripts/setup.sh"))?;
    if !o.status.success() {
        return Err(format!(
            "{cxx} failed building {}:\n{}",
            out.display(),
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    std::fs::rename(&tmp, out).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(out.to_path_buf())
}

/// Compiles `nanoesp-esp-host` into `out_dir`, as
/// `g++ -std=c++17 -O2 -Wall -Wextra -Werror -I src src/nanoesp/*.cpp host/*.cpp`.
pub fn try_build_host(out_dir: &Path) -> Result<PathBuf, String> {
    compile(
        &out_dir.join("nanoesp-esp-host"),
        &["src/nanoesp", "host"],
        &[],
    )
}

/// [`try_build_host`], panicking with the compiler's message (or "run scripts/setup.sh").
pub fn build_host(out_dir: &Path) -> PathBuf {
    try_build_host(out_dir).unwrap_or_else(|e| panic!("{e}"))
}

/// Compiles the C++ unit tests (`tests/*.cpp` with the portable sources) into `out_dir`.
pub fn build_unit_tests(out_dir: &Path) -> PathBuf {
    compile(
        &out_dir.join("nanoesp-esp-unit-tests"),
        &["src/nanoesp", "tests"],
        &["-I", "tests"],
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The unit tests again, with AddressSanitizer and UBSan (any finding aborts the run).
pub fn build_unit_tests_sanitized(out_dir: &Path) -> PathBuf {
    compile(
        &out_dir.join("nanoesp-esp-unit-tests-asan"),
        &["src/nanoesp", "tests"],
        &[
            "-I",
            "tests",
            "-g",
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=all",
            "-fno-omit-frame-pointer",
        ],
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

// ---- fake Nano --------------------------------------------------------------------------

/// What the fake Nano has seen and will answer.
#[derive(Debug, Clone)]
pub struct NanoState {
    /// Build id answered to the 0x0E sysex.
    pub build_id: String,
    /// Answers nothing (and sends no reports) while set.
    pub silent: bool,
    /// CAPABILITY_QUERY messages received (one per handshake).
    pub capability_queries: u32,
    /// SAMPLING_INTERVAL last set.
    pub sampling_ms: u16,
    /// Enabled analog channels (bit per channel).
    pub analog_on: u8,
    /// Pin modes and output values (22 pins).
    pub modes: [u8; 22],
    /// Output values written.
    pub values: [u8; 22],
    /// Analog reports sent.
    pub reports: u64,
}

/// Pins the fake Nano reserves: D0/D1 (console), D8/D9 (link).
pub const RESERVED: [u8; 4] = [0, 1, 8, 9];

/// A pty driven like the nanoesp Firmata firmware by a background thread.
pub struct FakeNano {
    path: PathBuf,
    state: Arc<Mutex<NanoState>>,
    reset_req: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    _slave: OwnedFd,
}

fn raw_tty(fd: i32) {
    // SAFETY: fd is an open tty; termios is plain data filled by tcgetattr.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut t) == 0 {
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(fd, libc::TCSANOW, &t);
        }
    }
}

impl FakeNano {
    /// Creates the pty and starts answering. The Nano "boots" at once: REPORT_VERSION and
    /// REPORT_FIRMWARE go out unsolicited.
    pub fn start(build_id: &str) -> FakeNano {
        // SAFETY: plain libc pty calls; every fd is checked and owned below.
        let (master, slave, path) = unsafe {
            let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
            assert!(m >= 0, "posix_openpt: {}", std::io::Error::last_os_error());
            assert_eq!(libc::grantpt(m), 0);
            assert_eq!(libc::unlockpt(m), 0);
            let mut buf = [0 as libc::c_char; 128];
            assert_eq!(libc::ptsname_r(m, buf.as_mut_ptr(), buf.len()), 0);
            let path = CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned();
            let cpath = std::ffi::CString::new(path.clone()).unwrap();
            // Keep the slave open: the line stays raw and the master never sees a hang-up.
            let s = libc::open(
                cpath.as_ptr(),
                libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
            );
            assert!(s >= 0, "open {path}: {}", std::io::Error::last_os_error());
            raw_tty(s);
            (
                OwnedFd::from_raw_fd(m),
                OwnedFd::from_raw_fd(s),
                PathBuf::from(path),
            )
        };
        let mut modes = [1u8; 22];
        for m in modes.iter_mut().skip(14) {
            *m = 2;
        }
        let state = Arc::new(Mutex::new(NanoState {
            build_id: build_id.to_string(),
            silent: false,
            capability_queries: 0,
            sampling_ms: 19,
            analog_on: 0,
            modes,
            values: [0; 22],
            reports: 0,
        }));
        let reset_req = Arc::new(AtomicBool::new(true));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, reset_req, stop) = (state.clone(), reset_req.clone(), stop.clone());
            std::thread::spawn(move || nano_loop(master, state, reset_req, stop))
        };
        FakeNano {
            path,
            state,
            reset_req,
            stop,
            thread: Some(thread),
            _slave: slave,
        }
    }

    /// The pty to give nanoesp-esp-host as `--serial`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A copy of the fake's state.
    pub fn state(&self) -> NanoState {
        self.state.lock().unwrap().clone()
    }

    /// Changes the fake's state.
    pub fn with<R>(&self, f: impl FnOnce(&mut NanoState) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    /// Reboots: reports stop, REPORT_VERSION and REPORT_FIRMWARE go out unsolicited.
    pub fn reset(&self) {
        self.reset_req.store(true, Ordering::SeqCst);
    }
}

impl Drop for FakeNano {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn firmware_reply() -> Vec<u8> {
    let mut b = vec![0xF0, 0x79, 2, 5];
    for c in b"nanoesp-io" {
        b.push(c & 0x7F);
        b.push(c >> 7);
    }
    b.push(0xF7);
    b
}

fn capability_reply() -> Vec<u8> {
    let mut b = vec![0xF0, 0x6C];
    for pin in 0u8..22 {
        if !RESERVED.contains(&pin) {
            if pin < 20 {
                b.extend_from_slice(&[0x00, 1, 0x01, 1, 0x0B, 1]);
            }
            if [3, 5, 6, 9, 10, 11].contains(&pin) {
                b.extend_from_slice(&[0x03, 8]);
            }
            if pin >= 14 {
                b.extend_from_slice(&[0x02, 10]);
            }
        }
        b.push(0x7F);
    }
    b.push(0xF7);
    b
}

/// Length of the complete message at the start of `b`, or None when more bytes are needed.
fn message_len(b: &[u8]) -> Option<usize> {
    let first = *b.first()?;
    let need = match first {
        0xF0 => b.iter().position(|&x| x == 0xF7)? + 1,
        0xF4 | 0xF5 => 3,
        x if x & 0xF0 == 0x90 => 3,
        x if x & 0xF0 == 0xC0 || x & 0xF0 == 0xD0 => 2,
        _ => 1,
    };
    (b.len() >= need).then_some(need)
}

fn handle(m: &[u8], s: &mut NanoState, out: &mut Vec<u8>) {
    match m[0] {
        0xF9 => out.extend_from_slice(&[0xF9, 2, 5]),
        0xF4 if m[1] < 22 && !RESERVED.contains(&m[1]) => s.modes[m[1] as usize] = m[2],
        0xF5 if m[1] < 22 && !RESERVED.contains(&m[1]) => s.values[m[1] as usize] = m[2] & 1,
        x if x & 0xF0 == 0xC0 => {
            let bit = 1u8 << (x & 0x07);
            if m[1] != 0 {
                s.analog_on |= bit
            } else {
                s.analog_on &= !bit
            }
        }
        x if x & 0xF0 == 0xD0 && m[1] != 0 => {
            // Input pins read low on the fake; send the port value at once.
            out.extend_from_slice(&[0x90 | (x & 0x0F), 0, 0]);
        }
        0xF0 if m.len() >= 3 => match m[1] {
            0x79 => out.extend_from_slice(&firmware_reply()),
            0x0E => {
                out.extend_from_slice(&[0xF0, 0x0E]);
                out.extend(s.build_id.bytes().map(|c| c & 0x7F));
                out.push(0xF7);
            }
            0x6B => {
                s.capability_queries += 1;
                out.extend_from_slice(&capability_reply());
            }
            0x7A if m.len() >= 5 => s.sampling_ms = (m[2] as u16) | ((m[3] as u16) << 7),
            0x6D if m[2] < 22 => {
                let pin = m[2] as usize;
                let state = if s.modes[pin] == 1 { s.values[pin] } else { 0 };
                out.extend_from_slice(&[0xF0, 0x6E, m[2], s.modes[pin], state, 0xF7]);
            }
            _ => {}
        },
        _ => {}
    }
}

fn nano_loop(
    master: OwnedFd,
    state: Arc<Mutex<NanoState>>,
    reset_req: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) {
    let fd = master.as_raw_fd();
    let mut file = std::fs::File::from(master);
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 512];
    let mut next_report = Instant::now();
    let mut tick: u32 = 0;
    while !stop.load(Ordering::SeqCst) {
        let mut out = Vec::new();
        if reset_req.swap(false, Ordering::SeqCst) {
            let mut s = state.lock().unwrap();
            s.analog_on = 0;
            pending.clear();
            out.extend_from_slice(&[0xF9, 2, 5]);
            out.extend_from_slice(&firmware_reply());
        }
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let rc = unsafe { libc::poll(&mut pfd, 1, 2) };
        if rc > 0 && pfd.revents & libc::POLLIN != 0 {
            match file.read(&mut buf) {
                Ok(n) if n > 0 => pending.extend_from_slice(&buf[..n]),
                _ => std::thread::sleep(Duration::from_millis(2)),
            }
        }
        {
            let mut s = state.lock().unwrap();
            while let Some(n) = message_len(&pending) {
                let m: Vec<u8> = pending.drain(..n).collect();
                if !s.silent {
                    handle(&m, &mut s, &mut out);
                }
            }
            let now = Instant::now();
            if now >= next_report {
                next_report = now + Duration::from_millis(s.sampling_ms.max(1) as u64);
                if !s.silent {
                    tick = tick.wrapping_add(1);
                    for ch in 0..8u8 {
                        if s.analog_on & (1 << ch) != 0 {
                            let v = ((ch as u32 * 128 + tick) % 1024) as u16;
                            out.extend_from_slice(&[0xE0 | ch, (v & 0x7F) as u8, (v >> 7) as u8]);
                            s.reports += 1;
                        }
                    }
                }
            }
        }
        if !out.is_empty() && file.write_all(&out).is_err() {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

// ---- the host program -------------------------------------------------------------------

/// A running `nanoesp-esp-host`; SIGTERM and wait on drop.
pub struct Host {
    child: Child,
    /// `http://127.0.0.1:PORT/` from the ready line.
    pub url: String,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// The ready line as printed.
    pub ready_line: String,
    /// Drained on a thread; joined once the program has exited, so its last lines are in.
    stderr: Captured,
}

impl Host {
    /// Starts `bin --serial <nano> --listen 127.0.0.1:0 <extra>` and waits (up to 15 s) for
    /// its ready line.
    pub fn start(bin: &Path, nano: &FakeNano, extra: &[&str]) -> Host {
        let mut child = Command::new(bin)
            .arg("--serial")
            .arg(nano.path())
            .args(["--baud", "57600", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
        let mut stderr = Captured::start(child.stderr.take().unwrap());
        let rx = line_channel(child.stdout.take().unwrap());
        let line = match rx.recv_timeout(Duration::from_secs(15)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                stderr.join();
                panic!("nanoesp-esp-host not ready; stderr:\n{}", stderr.text());
            }
        };
        let url = line
            .strip_prefix("nanoesp: ready ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        let addr = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        Host {
            child,
            url,
            addr,
            ready_line: line,
            stderr,
        }
    }

    /// What the program printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// [`Host::stderr`] once it contains every one of `needles`, or after 10 s: a line the
    /// program printed just before an answer the test saw may still be in the reader thread.
    pub fn stderr_with(&self, needles: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = self.stderr();
            if needles.iter().all(|n| text.contains(n)) || Instant::now() > deadline {
                return text;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends SIGTERM and waits up to 5 s; returns the exit code (None if killed). On return
    /// everything the program wrote to stderr is in [`Host::stderr`].
    pub fn terminate(&mut self) -> Option<i32> {
        // SAFETY: signalling our own child by its pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let code = loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                break st.code();
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // The exit closed the pipe; without this join the last lines could still be in
        // flight in the reader thread when the caller looks at them.
        self.stderr.join();
        code
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.terminate();
        }
    }
}

// ---- HTTP -------------------------------------------------------------------------------

/// One HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header block (status line included).
    pub head: String,
    /// Body.
    pub body: String,
}

impl Response {
    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then_some(v.trim())
        })
    }
}

/// Sends `raw` on a new connection to `addr` and reads the response until the server
/// closes. Checks `Content-Length` against the body.
pub fn http_request(addr: &str, raw: &[u8], timeout: Duration) -> Result<Response, String> {
    let mut s = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(timeout)).ok();
    s.set_write_timeout(Some(timeout)).ok();
    s.set_nodelay(true).ok();
    s.write_all(raw).map_err(|e| format!("send: {e}"))?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no header end in {text:?}"))?;
    let status = head
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("bad status line in {text:?}"))?;
    let r = Response {
        status,
        head: head.to_string(),
        body: body.to_string(),
    };
    match r.header("Content-Length").map(str::parse::<usize>) {
        Some(Ok(n)) if n == r.body.len() => Ok(r),
        _ => Err(format!("Content-Length does not match the body: {text:?}")),
    }
}

/// `GET path` on a new connection.
pub fn http_get(addr: &str, path: &str) -> Result<Response, String> {
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: esp-host-tests\r\n\r\n");
    http_request(addr, req.as_bytes(), Duration::from_secs(5))
}
