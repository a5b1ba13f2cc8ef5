//! Helpers for the simulator tests in `tests/`: build the nano-drives-esp firmware for a
//! given link and baud rate in a scratch project, and run it in `nanoesp-sim` with the
//! emulated ESP8266.
//!
//! Environment:
//! - `NANOESP_AVR_CARGO` (default `/usr/bin/cargo`): a cargo whose rustc can build
//!   `avr-none` with `build-std` (Debian's rustc-web with `RUSTC_BOOTSTRAP=1`).
//! - `NANOESP_AVR_TARGET_DIR` (default `target` in this checkout's scratch directory,
//!   `$TMPDIR/nanoesp-hal-sim-tests-<checkout>`): shared target directory, so `core` is
//!   built once.
//! - `NANOESP_SIM` (default `<repo>/target/debug/nanoesp-sim`, built on demand with
//!   `cargo build -p nanoesp-sim`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use nanoesp_test_support::{Captured, line_channel};

/// SSID of the emulated access point the test firmware joins.
pub const SSID: &str = "benchnet";
/// Password of that access point; a quote, a comma and a backslash exercise the AT escaping
/// (`put_quoted`, AVR assembly on the firmware).
pub const PASSWORD: &str = "s3cr\"et,p\\w";

/// Which serial port of the Nano carries the ESP link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind {
    /// Timer1 soft serial on D8 (RX) / D9 (TX); console on USART0.
    Soft,
    /// USART0 on D0 / D1; no console.
    Usart,
}

impl LinkKind {
    fn name(self) -> &'static str {
        match self {
            LinkKind::Soft => "soft",
            LinkKind::Usart => "usart",
        }
    }
}

/// This checkout's scratch directory under the system's temporary one. The scratch
/// projects link into the checkout's sources and the firmware is copied out of a shared
/// target dir, so two checkouts tested at the same time must not share it.
fn scratch_root() -> PathBuf {
    use std::hash::{Hash, Hasher};
    let mut checkout = std::collections::hash_map::DefaultHasher::new();
    repo_root().hash(&mut checkout);
    std::env::temp_dir().join(format!("nanoesp-hal-sim-tests-{:016x}", checkout.finish()))
}

/// Root of the nanoesp repository (this crate lives in `firmware/sim-tests`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

// Firmware builds share one target directory; cargo serialises them anyway, and building
// one variant at a time keeps the output of a failing build readable.
static BUILD_LOCK: Mutex<()> = Mutex::new(());

/// Builds the firmware for `link` at `baud` and returns the ELF path.
///
/// The scratch project mirrors what `nanoesp new` generates: `nanoesp.toml`,
/// `secrets.toml`, `nano/` from `templates/nano-drives-esp/nano` and `runtime/*` pointing at
/// the template's runtime crates.
pub fn build_firmware(link: LinkKind, baud: u32) -> PathBuf {
    build_firmware_with(link, baud, &[])
}

/// [`build_firmware`] with `link_settings`, extra `key = value` lines of the project's
/// `[link]` table (e.g. `save_baud = true`). Each variant has its own scratch project.
pub fn build_firmware_with(link: LinkKind, baud: u32, link_settings: &[&str]) -> PathBuf {
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let root = repo_root();
    let variant: String = link_settings
        .iter()
        .map(|line| format!("-{}", line.replace(' ', "").replace('=', "-")))
        .collect();
    let scratch = scratch_root().join(format!("{}-{baud}{variant}", link.name()));
    let nano = lay_out(
        &root,
        "nano-drives-esp",
        &scratch,
        "simtest",
        &["at", "http", "server", "hal", "buildcfg"],
    );
    let (rx, tx) = match link {
        LinkKind::Soft => ("D8", "D9"),
        LinkKind::Usart => ("D0", "D1"),
    };
    write_if_changed(
        &scratch.join("nanoesp.toml"),
        &format!(
            "[nano]\nboard = \"nano\"\n\n[esp]\nmodule = \"esp01\"\n\n\
             [link]\nkind = \"{}\"\nbaud = {baud}\nrx = \"{rx}\"\ntx = \"{tx}\"\n{}\n\
             [console]\nbaud = 115200\n\n\
             [wifi]\nssid = \"{SSID}\"\nmode = \"station\"\nhostname = \"simtest\"\n\n\
             [http]\nport = 80\nmax_clients = 3\ntitle = \"sim test\"\ntext = \"served by the simulated Nano\"\n",
            link.name(),
            link_settings
                .iter()
                .map(|line| format!("{line}\n"))
                .collect::<String>(),
        ),
    );
    write_if_changed(&scratch.join("secrets.toml"), &secrets_toml());

    let target_dir = cargo_build_avr(&nano, &scratch);
    let elf = target_dir.join("avr-none/release/simtest-nano.elf");
    // Keep a copy per variant: the next build overwrites the shared output.
    let copy = scratch.join(format!("firmware-{}-{baud}{variant}.elf", link.name()));
    std::fs::copy(&elf, &copy).unwrap_or_else(|e| panic!("{}: {e}", elf.display()));
    copy
}

/// Builds the esp-master Nano firmware (Firmata on the link) for `link` at `baud` and
/// returns the ELF path. The scratch project has `nanoesp.toml` (no `secrets.toml`: this
/// firmware never reads it), `nano/` from `templates/esp-master/nano` and the runtime
/// crates it uses.
pub fn build_esp_master_firmware(link: LinkKind, baud: u32) -> PathBuf {
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let root = repo_root();
    let scratch = scratch_root().join(format!("esp-master-{}-{baud}", link.name()));
    let nano = lay_out(
        &root,
        "esp-master",
        &scratch,
        "simtest-esp-master",
        &["hal", "firmata", "buildcfg"],
    );
    let (rx, tx) = match link {
        LinkKind::Soft => ("D8", "D9"),
        LinkKind::Usart => ("D0", "D1"),
    };
    write_if_changed(
        &scratch.join("nanoesp.toml"),
        &format!(
            "mode = \"esp-master\"\n\n[nano]\nboard = \"nano\"\n\n[esp]\nmodule = \"esp12e\"\n\n\
             [link]\nkind = \"{}\"\nbaud = {baud}\nrx = \"{rx}\"\ntx = \"{tx}\"\n\n\
             [console]\nbaud = 115200\n",
            link.name()
        ),
    );
    let target_dir = cargo_build_avr(&nano, &scratch);
    let elf = target_dir.join("avr-none/release/simtest-esp-master-nano.elf");
    let copy = scratch.join(format!("firmware-{}-{baud}.elf", link.name()));
    std::fs::copy(&elf, &copy).unwrap_or_else(|e| panic!("{}: {e}", elf.display()));
    copy
}

/// Builds `avr-check/`, the program that runs the runtime crates' AVR-only code (the
/// assembly in `nanoesp-http`) over many inputs, and returns its ELF path.
pub fn build_runtime_check() -> PathBuf {
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = repo_root().join("firmware/sim-tests/avr-check");
    let target_dir = cargo_build_avr(&dir, &dir);
    target_dir.join("avr-none/release/nanoesp-runtime-check.elf")
}

/// Lays out `scratch/nano` from `templates/<mode>/nano` (manifest rendered with
/// `project_name`, build script, the shared `.cargo/config.toml` without its ravedude
/// runner, `src` linked) and links `scratch/runtime/<crate>` for each of `runtime`.
/// Returns the firmware crate's directory.
fn lay_out(
    root: &Path,
    mode: &str,
    scratch: &Path,
    project_name: &str,
    runtime: &[&str],
) -> PathBuf {
    let nano = scratch.join("nano");
    std::fs::create_dir_all(nano.join(".cargo")).unwrap();
    let template = root.join("templates").join(mode).join("nano");
    let manifest = std::fs::read_to_string(template.join("Cargo.toml.liquid"))
        .unwrap_or_else(|e| panic!("templates/{mode}/nano/Cargo.toml.liquid: {e}"))
        .replace("{{project-name}}", project_name);
    write_if_changed(&nano.join("Cargo.toml"), &manifest);
    write_if_changed(
        &nano.join("build.rs"),
        &std::fs::read_to_string(template.join("build.rs")).unwrap(),
    );
    // The template's runner is ravedude; the tests only build.
    let cargo_config =
        std::fs::read_to_string(root.join("templates/shared/nano/.cargo/config.toml"))
            .unwrap()
            .replace("runner = \"ravedude\"", "");
    write_if_changed(&nano.join(".cargo/config.toml"), &cargo_config);
    link_dir(&template.join("src"), &nano.join("src"));
    std::fs::create_dir_all(scratch.join("runtime")).unwrap();
    for crate_dir in runtime {
        link_dir(
            &root.join("templates/runtime").join(crate_dir),
            &scratch.join("runtime").join(crate_dir),
        );
    }
    nano
}

/// `cargo build --release` of the firmware crate `nano` of the project `project` for AVR;
/// returns the target directory.
fn cargo_build_avr(nano: &Path, project: &Path) -> PathBuf {
    let target_dir = std::env::var_os("NANOESP_AVR_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| scratch_root().join("target"));
    let cargo = std::env::var("NANOESP_AVR_CARGO").unwrap_or_else(|_| "/usr/bin/cargo".into());
    let path = format!("/usr/bin:{}", std::env::var("PATH").unwrap_or_default());
    let output = Command::new(&cargo)
        .args(["build", "--release", "--quiet"])
        .current_dir(nano)
        .env("PATH", path)
        .env("RUSTC_BOOTSTRAP", "1")
        .env("CARGO_TARGET_DIR", &target_dir)
        .env("NANOESP_PROJECT_DIR", project)
        // A host toolchain's variables must not leak into the AVR build.
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTC")
        .env_remove("RUSTDOC")
        .env_remove("CARGO")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cargo}: {e}"));
    assert_success("firmware build", &output);
    target_dir
}

fn secrets_toml() -> String {
    let escaped = PASSWORD.replace('\\', "\\\\").replace('"', "\\\"");
    format!("[wifi]\npassword = \"{escaped}\"\n")
}

fn write_if_changed(path: &Path, text: &str) {
    if std::fs::read_to_string(path).ok().as_deref() != Some(text) {
        std::fs::write(path, text).unwrap();
    }
}

fn link_dir(target: &Path, link: &Path) {
    if std::fs::read_link(link).ok().as_deref() == Some(target) {
        return;
    }
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(target, link).unwrap();
}

fn assert_success(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The `nanoesp-sim` binary, built from the workspace if needed.
pub fn sim_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("NANOESP_SIM") {
        return PathBuf::from(path);
    }
    static BUILT: Mutex<bool> = Mutex::new(false);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let root = repo_root();
    if !*built {
        let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--quiet", "-p", "nanoesp-sim"])
            .current_dir(&root)
            .output()
            .expect("cargo build -p nanoesp-sim");
        assert_success("cargo build -p nanoesp-sim", &output);
        *built = true;
    }
    root.join("target/debug/nanoesp-sim")
}

/// A scratch file holding the emulated access point's `secrets.toml`. Written once per
/// test binary: rewriting it while another test's simulator reads it could hand that
/// simulator an empty file.
fn ap_secrets() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = scratch_root();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ap-secrets.toml");
        write_if_changed(&path, &secrets_toml());
        path
    })
    .clone()
}

/// The common `nanoesp-sim run` arguments for `firmware` on `link` at `baud`.
pub fn sim_command(firmware: &Path, link: LinkKind, baud: u32) -> Command {
    let mut cmd = Command::new(sim_binary());
    cmd.arg("run")
        .arg(firmware)
        .args(["--link", link.name(), "--baud", &baud.to_string()])
        .args(["--esp", "emu", "--ap-ssid", SSID])
        .arg("--ap-password-file")
        .arg(ap_secrets());
    if link == LinkKind::Soft {
        cmd.args(["--rx", "D8", "--tx", "D9"]);
    }
    cmd
}

/// Runs the simulation until `seconds` of simulated time have passed; returns its output.
pub fn run_for(firmware: &Path, link: LinkKind, baud: u32, seconds: u32) -> Output {
    sim_command(firmware, link, baud)
        .args(["--timeout", &seconds.to_string()])
        .output()
        .expect("nanoesp-sim run")
}

/// A simulation running in the background with its HTTP bridge on a local port.
pub struct HttpBench {
    child: Child,
    /// `127.0.0.1:<port>` of the bridge.
    pub addr: String,
    /// Console lines seen so far.
    pub console: Vec<String>,
    lines: std::sync::mpsc::Receiver<String>,
    /// The simulator's stderr so far (also passed on to the test's stderr).
    stderr: Captured,
}

impl HttpBench {
    /// Starts `firmware` with `--http` and waits (up to `wait`) for the console's ready line
    /// and the bridge's address.
    pub fn start(
        firmware: &Path,
        link: LinkKind,
        baud: u32,
        extra: &[&str],
        wait: Duration,
    ) -> Self {
        // The simulator picks the port when it binds and prints it: a port found free here
        // and bound later could be taken by then.
        let mut child = sim_command(firmware, link, baud)
            .args(["--http", "127.0.0.1:0", "--timeout", "600"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nanoesp-sim run --http");
        let lines = line_channel(child.stdout.take().unwrap());
        let stderr = Captured::echoing(child.stderr.take().unwrap());
        let mut bench = HttpBench {
            child,
            addr: String::new(),
            console: Vec::new(),
            lines,
            stderr,
        };
        let deadline = Instant::now() + wait;
        while bench.addr.is_empty()
            || !bench
                .console
                .iter()
                .any(|l| l.starts_with("nanoesp: ready "))
        {
            let left = deadline.saturating_duration_since(Instant::now());
            match bench.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix("nanoesp-sim: serving http://") {
                        bench.addr = url.trim_end_matches('/').to_string();
                    }
                    bench.console.push(line)
                }
                Err(_) => panic!(
                    "no ready line or bridge address within {wait:?}; console so far:\n{}",
                    bench.console.join("\n")
                ),
            }
        }
        bench
    }

    /// Sends one HTTP/1.1 request and returns the whole response (the firmware closes).
    pub fn request(&self, method: &str, path: &str, body: &str) -> String {
        self.request_with_headers(method, path, "", body)
    }

    /// Like [`HttpBench::request`], with `headers` (each ending in CRLF) added.
    pub fn request_with_headers(
        &self,
        method: &str,
        path: &str,
        headers: &str,
        body: &str,
    ) -> String {
        http_request(&self.addr, method, path, headers, body)
    }
}

/// Sends one HTTP/1.1 request with `headers` (each ending in CRLF) to the bridge at `addr`
/// and returns the whole response (the firmware closes).
pub fn http_request(addr: &str, method: &str, path: &str, headers: &str, body: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect to the HTTP bridge");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: nanoesp\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .expect("read the response");
    String::from_utf8_lossy(&response).into_owned()
}

impl HttpBench {
    /// Ends the simulation with SIGTERM (a clean exit) and returns its whole stderr, which
    /// ends with the `nanoesp-sim: exit ...` statistics line.
    pub fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        // The exit closed the pipe: once the reader is done, the last lines are in.
        self.stderr.join();
        self.stderr.text()
    }
}

impl Drop for HttpBench {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `200` response carrying the page at `/`, split into the page with its live readings
/// cut out (the same for every request) and the readings (the status JSON of the moment).
pub fn page_and_readings(response: &str) -> (String, String) {
    let (status, body) = status_and_body(response);
    assert_eq!(status, "HTTP/1.1 200 OK", "{response}");
    let readings = nanoesp_test_support::page_readings(body)
        .unwrap_or_else(|| panic!("no readings in the page: {body}"));
    (body.replacen(readings, "", 1), readings.to_string())
}

/// Splits an HTTP response into status line and body.
pub fn status_and_body(response: &str) -> (&str, &str) {
    let status = response.lines().next().unwrap_or("");
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or("");
    (status, body)
}

/// The integer after `"key":` in a flat JSON object.
pub fn json_number(json: &str, key: &str) -> Option<u64> {
    let start = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let digits: String = json[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// The string after `"key":` in a flat JSON object.
pub fn json_string<'a>(json: &'a str, key: &str) -> Option<&'a str> {
    let start = json.find(&format!("\"{key}\":\""))? + key.len() + 4;
    json[start..].split('"').next()
}

/// The numbers of the array after `"key":` in a flat JSON object.
pub fn json_array(json: &str, key: &str) -> Option<Vec<u64>> {
    let start = json.find(&format!("\"{key}\":["))? + key.len() + 4;
    let inner = json[start..].split(']').next()?;
    inner.split(',').map(|n| n.trim().parse().ok()).collect()
}
