//! A private virtual bench for `doctor --sim`: `nanoesp-sim run` with the project's
//! firmware and link, the emulated access point, an HTTP bridge on a free port, and the
//! Nano's console as a pty that we open the moment it exists.
//!
//! Opening a console resets a Nano (DTR), and the simulator does the same. Opening it at
//! power-on, before the firmware has talked to the ESP, makes that reset harmless and lets
//! us read the console from the banner on: nothing has to be reset again mid-run. The
//! simulator runs with `--strict-baud`, so a console opened at the wrong speed is garbled
//! as a real one would be. With the link on the USART there is no console at all.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::console::ConsoleFacts;

/// What to start.
#[derive(Debug, Clone)]
pub struct BenchPlan {
    /// The `nanoesp-sim` binary.
    pub sim: PathBuf,
    /// `run` arguments: firmware, link, access point, ESP, HTTP (everything but the console).
    pub args: Vec<String>,
    /// Where the console pty is linked (`None`: the link uses the USART, no console).
    pub console_pty: Option<PathBuf>,
    /// Speed at which we open the console.
    pub console_baud: u32,
}

/// A running bench.
pub struct Bench {
    child: Child,
    console: Arc<Mutex<Vec<u8>>>,
    url: Arc<Mutex<Option<String>>>,
    log: Arc<Mutex<String>>,
    console_error: Arc<Mutex<Option<String>>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    has_console: bool,
}

/// What the bench showed by the time [`Bench::wait`] returned.
#[derive(Debug, Clone)]
pub struct Observed {
    /// Raw console bytes from power-on.
    pub console: Vec<u8>,
    /// `http://127.0.0.1:PORT/` once the emulated server is up.
    pub url: Option<String>,
    /// Whether a console was read at all.
    pub has_console: bool,
    /// Why the console could not be opened, if so.
    pub console_error: Option<String>,
    /// The simulator ended on its own (its exit code).
    pub exited: Option<i32>,
    /// Wall time from start to ready (or to giving up).
    pub seconds: f64,
}

impl Bench {
    /// Starts the simulator and the console reader.
    ///
    /// # Errors
    /// The simulator could not be started.
    pub fn start(plan: &BenchPlan) -> Result<Bench, String> {
        let mut args = plan.args.clone();
        if let Some(pty) = &plan.console_pty {
            // A link left by an earlier run must not be mistaken for ours.
            let _ = std::fs::remove_file(pty);
            if let Some(dir) = pty.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            args.push("--console-pty".into());
            args.push(pty.to_string_lossy().into_owned());
            args.push("--strict-baud".into());
        }
        let mut child = Command::new(&plan.sim)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", plan.sim.display()))?;
        let console = Arc::new(Mutex::new(Vec::new()));
        let url = Arc::new(Mutex::new(None));
        let log = Arc::new(Mutex::new(String::new()));
        let console_error = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();

        let stdout = child.stdout.take().expect("piped");
        let baud = plan.console_baud;
        {
            let (console, url, console_error, stop) = (
                console.clone(),
                url.clone(),
                console_error.clone(),
                stop.clone(),
            );
            threads.push(std::thread::spawn(move || {
                let mut reader = None;
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if let Some(rest) = line.strip_prefix("nanoesp-sim: console ") {
                        // `nanoesp-sim: console /dev/pts/N at PATH`: open the device
                        // itself at once (the reset this causes is the power-on one).
                        let device = rest.split(" at ").next().unwrap_or(rest).to_string();
                        let (console, console_error, stop) =
                            (console.clone(), console_error.clone(), stop.clone());
                        reader = Some(std::thread::spawn(move || {
                            read_console(&device, baud, &console, &console_error, &stop);
                        }));
                    } else if let Some(u) = line.strip_prefix("nanoesp-sim: serving ") {
                        *url.lock().expect("not poisoned") = Some(u.trim().to_string());
                    } else if line.starts_with("nanoesp-sim: ") {
                    } else {
                        // Without a pty the simulator prints the console verbatim.
                        let mut c = console.lock().expect("not poisoned");
                        c.extend_from_slice(line.as_bytes());
                        c.push(b'\n');
                    }
                }
                if let Some(r) = reader {
                    let _ = r.join();
                }
            }));
        }
        let stderr = child.stderr.take().expect("piped");
        {
            let log = log.clone();
            threads.push(std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let mut l = log.lock().expect("not poisoned");
                    l.push_str(&line);
                    l.push('\n');
                }
            }));
        }
        Ok(Bench {
            child,
            console,
            url,
            log,
            console_error,
            stop,
            threads,
            has_console: plan.console_pty.is_some(),
        })
    }

    /// Waits until the firmware is serving (the bridge's URL and, with a console, the
    /// `ready` line), a failure has shown for `settle`, the simulator ended, or `limit`.
    pub fn wait(&mut self, limit: Duration, settle: Duration) -> Observed {
        let started = Instant::now();
        let mut trouble_since: Option<Instant> = None;
        let mut url_since: Option<Instant> = None;
        let mut exited = None;
        loop {
            let console = self.console.lock().expect("not poisoned").clone();
            let url = self.url.lock().expect("not poisoned").clone();
            let facts = ConsoleFacts::from_bytes(&console);
            if url.is_some() && url_since.is_none() {
                url_since = Some(Instant::now());
            }
            let ready = url.is_some() && (!self.has_console || facts.ready.is_some());
            let trouble = facts.no_answer > 0 || !facts.join_failures.is_empty();
            if trouble && trouble_since.is_none() {
                trouble_since = Some(Instant::now());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                exited = Some(status.code().unwrap_or(-1));
            }
            let done = ready
                || exited.is_some()
                || trouble_since.is_some_and(|t| t.elapsed() >= settle)
                // Serving, but the console never says so (garbled, or silent).
                || url_since.is_some_and(|t| t.elapsed() >= settle)
                || started.elapsed() >= limit;
            if done {
                if exited.is_some() {
                    // It has ended: once the readers are at the end of its output (and of
                    // the console pty it removed), its last console lines are in `console`.
                    wait_finished(&self.threads, READER_GRACE);
                } else {
                    // Let the reader catch up with what the simulator already wrote.
                    std::thread::sleep(Duration::from_millis(30));
                }
                return Observed {
                    console: self.console.lock().expect("not poisoned").clone(),
                    url,
                    has_console: self.has_console,
                    console_error: self.console_error.lock().expect("not poisoned").clone(),
                    exited,
                    seconds: started.elapsed().as_secs_f64(),
                };
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The console so far.
    pub fn console(&self) -> Vec<u8> {
        self.console.lock().expect("not poisoned").clone()
    }

    /// Stops the simulator like Ctrl-C does (it removes its pty and exits) and returns its
    /// log (stderr; the Wi-Fi password is masked there by the simulator).
    pub fn stop(mut self) -> String {
        self.stop.store(true, Ordering::SeqCst);
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGINT);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        self.log.lock().expect("not poisoned").clone()
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn read_console(
    device: &str,
    baud: u32,
    console: &Mutex<Vec<u8>>,
    error: &Mutex<Option<String>>,
    stop: &AtomicBool,
) {
    let mut port = match serialport::new(device, baud)
        .timeout(Duration::from_millis(20))
        .open_native()
    {
        Ok(p) => p,
        Err(e) => {
            *error.lock().expect("not poisoned") = Some(format!("{device}: {e}"));
            return;
        }
    };
    let mut buf = [0u8; 1024];
    while !stop.load(Ordering::SeqCst) {
        match port.read(&mut buf) {
            Ok(0) => std::thread::sleep(Duration::from_millis(5)),
            Ok(n) => console
                .lock()
                .expect("not poisoned")
                .extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // The simulator closed the pty (it is stopping).
            Err(_) => return,
        }
    }
}

/// The esp-master bench for `doctor --sim`: our own `nanoesp sim` (the simulated Nano's
/// Firmata firmware plus the sketch's logic built for the host) in a process group of its
/// own, whose relayed Nano console lines (`nano | ...`) are the console evidence.
pub struct EspMasterBench {
    child: Child,
    console: Arc<Mutex<Vec<u8>>>,
    url: Arc<Mutex<Option<String>>>,
    log: Arc<Mutex<String>>,
    /// The stdout and stderr readers: joined once the bench has ended, so the log it
    /// returns ends with the last lines (the error of a bench that failed to start).
    readers: Vec<JoinHandle<()>>,
}

impl EspMasterBench {
    /// Starts `nanoesp sim` for `project` serving on `http`.
    ///
    /// # Errors
    /// Our own executable could not be started.
    pub fn start(project: &std::path::Path, http: &str) -> Result<EspMasterBench, String> {
        use std::os::unix::process::CommandExt;
        let exe =
            std::env::current_exe().map_err(|e| format!("cannot find nanoesp itself: {e}"))?;
        let mut child = Command::new(&exe)
            .arg("sim")
            .arg("--project")
            .arg(project)
            .args(["--http", http])
            .env("CI", "true")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start {} sim: {e}", exe.display()))?;
        let console = Arc::new(Mutex::new(Vec::new()));
        let url = Arc::new(Mutex::new(None));
        let log = Arc::new(Mutex::new(String::new()));
        let stdout = child.stdout.take().expect("piped");
        let stderr = child.stderr.take().expect("piped");
        let stderr_reader = {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
                    l.push_str(&line);
                    l.push('\n');
                }
            })
        };
        let stdout_reader = {
            let (console, url, log) = (console.clone(), url.clone(), log.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if let Some(text) = line.strip_prefix("nano | ") {
                        let mut c = console.lock().unwrap_or_else(|e| e.into_inner());
                        c.extend_from_slice(text.as_bytes());
                        c.extend_from_slice(b"\r\n");
                    } else if let Some(u) = line.strip_prefix("open ") {
                        *url.lock().unwrap_or_else(|e| e.into_inner()) = Some(u.trim().to_string());
                    }
                    let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
                    l.push_str(&line);
                    l.push('\n');
                }
            })
        };
        Ok(EspMasterBench {
            child,
            console,
            url,
            log,
            readers: vec![stdout_reader, stderr_reader],
        })
    }

    /// Waits until the server is up, the bench ended, or `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> Observed {
        let started = Instant::now();
        let mut exited = None;
        while started.elapsed() < timeout {
            if self.url.lock().unwrap_or_else(|e| e.into_inner()).is_some() {
                break;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                exited = Some(status.code().unwrap_or(-1));
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if exited.is_some() {
            // Its last console lines may still be on their way through the reader.
            wait_finished(&self.readers, READER_GRACE);
        }
        Observed {
            console: self
                .console
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            url: self.url.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            has_console: true,
            console_error: None,
            exited,
            seconds: started.elapsed().as_secs_f64(),
        }
    }

    /// Stops the bench (Ctrl-C to its process group, so the simulator and the host program
    /// clean up) and returns everything it printed.
    pub fn stop(mut self) -> String {
        let pgid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on the process group we created for this child.
        unsafe { libc::kill(-pgid, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // SAFETY: as above; harmless when the group is gone.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        let _ = self.child.wait();
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// How long reader threads of a process that has exited may take to reach the end of its
/// pipes; only a process that inherited them (and escaped a kill) holds them open longer.
const READER_GRACE: Duration = Duration::from_secs(5);

/// Waits until every one of `threads` has finished, or `limit`.
fn wait_finished(threads: &[JoinHandle<()>], limit: Duration) {
    let deadline = Instant::now() + limit;
    while !threads.iter().all(JoinHandle::is_finished) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Either kind of private bench.
pub enum AnyBench {
    /// nano-drives-esp: the simulator with the emulated ESP.
    Nano(Bench),
    /// esp-master: `nanoesp sim` with the host-built sketch.
    EspMaster(EspMasterBench),
}

impl AnyBench {
    /// Stops it and returns its log.
    pub fn stop(self) -> String {
        match self {
            AnyBench::Nano(b) => b.stop(),
            AnyBench::EspMaster(b) => b.stop(),
        }
    }
}
