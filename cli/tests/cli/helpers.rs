//! Shared helpers: a command builder for the binary and a temporary project factory.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use nanoesp_test_support::Captured;

/// The `nanoesp` binary with a clean, non-interactive environment.
pub fn nanoesp() -> Command {
    let mut cmd = Command::cargo_bin("nanoesp").unwrap();
    cmd.env("CI", "true")
        .env("NO_COLOR", "1")
        .env_remove("NANOESP_PROJECT");
    cmd
}

/// A scratch directory that disappears with the test.
pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("nanoesp-test-")
        .tempdir()
        .unwrap()
}

/// Creates a project with `--yes` plus `extra` flags and returns its path.
pub fn new_project(root: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let dir = root.join(name);
    nanoesp()
        .arg("new")
        .arg(&dir)
        .arg("--yes")
        .args(extra)
        .assert()
        .success();
    dir
}

/// stdout + stderr of a finished command, as text.
pub fn all_output(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Time limit for a command that builds firmware and drives a bench (`flash`, `doctor
/// --sim`): a cold AVR build under load takes minutes and the Nano flash has its own
/// deadline (about 2.5 min); past this it is hung, and the test fails long before CI's
/// 90 minutes.
pub const BENCH_COMMAND_LIMIT: Duration = Duration::from_secs(15 * 60);

/// `.output()` with a time limit, for the commands that talk to a bench (flash, monitor,
/// doctor).
pub trait OutputWithin {
    /// Runs the command to completion like `.output()`, in a process group of its own; if
    /// it (or a process holding its output open) is still running after `limit`, kills the
    /// whole group (ravedude, avrdude, a bench it started) and panics with the output so far.
    fn output_within(&mut self, limit: Duration) -> Output;
}

impl OutputWithin for Command {
    fn output_within(&mut self, limit: Duration) -> Output {
        let mut cmd = std::process::Command::new(self.get_program());
        cmd.args(self.get_args());
        for (key, value) in self.get_envs() {
            match value {
                Some(value) => cmd.env(key, value),
                None => cmd.env_remove(key),
            };
        }
        if let Some(dir) = self.get_current_dir() {
            cmd.current_dir(dir);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap();
        let stdout = Captured::start(child.stdout.take().unwrap());
        let stderr = Captured::start(child.stderr.take().unwrap());
        let deadline = Instant::now() + limit;
        let mut exited = false;
        while !exited || !stdout.done() || !stderr.done() {
            if Instant::now() >= deadline {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .status();
                let _ = child.wait();
                // The kill closed the pipes: let the readers reach their end, so the
                // output shown is all of it (bounded: a process that left the group may
                // still hold them).
                let drained = Instant::now() + Duration::from_secs(5);
                while !(stdout.done() && stderr.done()) && Instant::now() < drained {
                    std::thread::sleep(Duration::from_millis(10));
                }
                panic!(
                    "`{} {}` did not finish within {} s and was killed; its output so far:\n{}{}",
                    self.get_program().to_string_lossy(),
                    self.get_args()
                        .map(|a| a.to_string_lossy())
                        .collect::<Vec<_>>()
                        .join(" "),
                    limit.as_secs(),
                    String::from_utf8_lossy(&stdout.take()),
                    String::from_utf8_lossy(&stderr.take()),
                );
            }
            exited = exited || child.try_wait().unwrap().is_some();
            std::thread::sleep(Duration::from_millis(50));
        }
        Output {
            status: child.wait().unwrap(),
            stdout: stdout.take(),
            stderr: stderr.take(),
        }
    }
}

/// Target directory shared by every AVR build in the tests, so `core` is compiled once.
pub fn avr_target_dir() -> PathBuf {
    match std::env::var_os("NANOESP_TEST_AVR_TARGET") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/avr-tests"),
    }
}

/// A background process (started with `process_group(0)`) stopped like Ctrl-C in a
/// terminal stops it: SIGINT to its whole process group, then a kill if it lingers.
pub struct Running {
    /// The process.
    pub child: Child,
}

impl Running {
    /// Wraps a spawned child.
    pub fn new(child: Child) -> Running {
        Running { child }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-INT", "--", &format!("-{}", self.child.id())])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // The whole group: a simulator left running would load the machine for the
        // tests after this one.
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

/// One HTTP GET with `Connection: close`; the raw response.
pub fn get(url: &str, path: &str) -> String {
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

/// Waits until `path` exists (a pty link a simulator creates).
pub fn wait_for_path(path: &Path, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `config.rs` generated for the package `<name>-nano`, from the shared AVR target dir.
pub fn generated_config(name: &str) -> String {
    let build_dir = avr_target_dir().join("avr-none/release/build");
    let mut newest: Option<(std::time::SystemTime, PathBuf)> = None;
    for entry in std::fs::read_dir(&build_dir).unwrap().flatten() {
        let fname = entry.file_name().to_string_lossy().into_owned();
        let candidate = entry.path().join("out/config.rs");
        if fname.starts_with(&format!("{name}-nano-")) && candidate.is_file() {
            let t = candidate.metadata().unwrap().modified().unwrap();
            if newest.as_ref().is_none_or(|(n, _)| t > *n) {
                newest = Some((t, candidate));
            }
        }
    }
    std::fs::read_to_string(newest.expect("config.rs generated").1).unwrap()
}

/// `nanoesp sim --bootloader NAME --esp-adapter auto` on the project, in real time (the
/// bootloaders' timeouts are wall-clock for avrdude). Returns the running bench and a
/// channel that yields the URL once the flashed firmware serves.
pub fn bootloader_bench(dir: &Path, bootloader: &str) -> (Running, mpsc::Receiver<String>) {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("nanoesp"));
    cmd.args([
        "sim",
        "--bootloader",
        bootloader,
        "--esp-adapter",
        "auto",
        "--http",
        "127.0.0.1:0",
        "--project",
    ])
    .arg(dir)
    .env("CI", "true")
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit())
    .process_group(0);
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("open ") {
                let _ = tx.send(url.to_string());
            }
        }
    });
    let running = Running::new(child);
    wait_for_path(&dir.join(".nanoesp/sim/nano"), 30);
    wait_for_path(&dir.join(".nanoesp/sim/esp"), 30);
    (running, rx)
}

/// Starts `nanoesp sim --fast` on the project; returns it, the URL it printed, and the
/// console lines (still being collected by a thread).
pub fn start_sim(dir: &std::path::Path) -> (Running, String, Arc<Mutex<Vec<String>>>) {
    start_sim_with(dir, &["--fast"])
}

/// [`start_sim`] with other `nanoesp sim` flags (`extra`) instead of `--fast`.
pub fn start_sim_with(
    dir: &std::path::Path,
    extra: &[&str],
) -> (Running, String, Arc<Mutex<Vec<String>>>) {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("nanoesp"));
    cmd.arg("sim")
        .args(extra)
        .args(["--http", "127.0.0.1:0", "--timeout", "120", "--project"])
        .arg(dir)
        .env("CI", "true")
        .env("CARGO_TARGET_DIR", avr_target_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0);
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running::new(child);
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (url_tx, url_rx) = std::sync::mpsc::channel();
    let sink = lines.clone();
    // Keep draining the console so the simulator never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("open ") {
                let _ = url_tx.send(url.to_string());
            }
            sink.lock().unwrap().push(line);
        }
    });
    match url_rx.recv_timeout(Duration::from_secs(600)) {
        Ok(url) => (running, url, lines),
        Err(_) => panic!(
            "nanoesp sim ended without serving:\n{}",
            lines.lock().unwrap().join("\n")
        ),
    }
}

#[test]
fn output_within_kills_a_hung_command_with_its_children_and_shows_its_output() {
    let tmp = scratch();
    let pid_file = tmp.path().join("child.pid");
    let hung = std::panic::catch_unwind(|| {
        Command::new("sh")
            .arg("-c")
            .arg(format!(
                "echo started; sleep 30 & echo $! > '{}'; echo waiting >&2; wait",
                pid_file.display()
            ))
            // The shell must get through its first three commands before the kill, even
            // on a loaded machine.
            .output_within(Duration::from_secs(3))
    });
    let message = *hung
        .expect_err("a hung command must fail the test")
        .downcast::<String>()
        .unwrap();
    assert!(message.contains("did not finish within 3 s"), "{message}");
    assert!(
        message.contains("started") && message.contains("waiting"),
        "{message}"
    );
    let child = std::fs::read_to_string(&pid_file).unwrap();
    let gone_by = Instant::now() + Duration::from_secs(5);
    while std::fs::read_to_string(format!("/proc/{}/stat", child.trim())).is_ok_and(|stat| {
        !stat
            .rsplit_once(')')
            .unwrap()
            .1
            .trim_start()
            .starts_with('Z')
    }) {
        assert!(
            Instant::now() < gone_by,
            "the command's child outlived the kill"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // A command that finishes is returned like `.output()`.
    let out = Command::new("sh")
        .args(["-c", "echo out; echo err >&2; exit 3"])
        .output_within(Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(
        (&out.stdout[..], &out.stderr[..]),
        (&b"out\n"[..], &b"err\n"[..])
    );
}
