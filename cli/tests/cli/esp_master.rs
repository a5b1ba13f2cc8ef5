//! esp-master projects: `new` lays out both firmwares, `build` builds the Nano's Firmata
//! firmware and the ESP sketch (arduino-cli, never skipped), `sim` runs the Nano in the
//! simulator with the sketch's logic built for the host on its link, and `doctor --sim`
//! checks that bench.
//!
//! arduino-cli and the esp8266 core cannot be installed on the test machines (no downloads
//! outside the package registries), so the sketch build is driven against a stand-in
//! `arduino-cli` script that checks what nanoesp hands it; the real compile is what only a
//! machine with the core proves.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::helpers::*;

/// A stand-in arduino-cli in `dir`; `core` says whether the esp8266 core is "installed".
/// `compile` checks the staged sketch holds the generated header and writes an image.
pub fn fake_arduino_cli(dir: &Path, core: bool) -> PathBuf {
    let path = dir.join(if core {
        "arduino-cli"
    } else {
        "arduino-cli-nocore"
    });
    let core_line = if core {
        "echo 'esp8266:esp8266 3.1.2     3.1.2  esp8266'"
    } else {
        "true"
    };
    let script = format!(
        "#!/bin/sh\n\
         case \"$1\" in\n\
         version) echo 'arduino-cli  Version: 1.1.1 (test stand-in)';;\n\
         core) echo 'ID              Installed Latest Name'; {core_line};;\n\
         compile)\n\
           [ \"$2\" = --fqbn ] && [ \"$4\" = --output-dir ] || exit 3\n\
           [ -f \"$6/esp.ino\" ] && [ -f \"$6/nanoesp_config.h\" ] || {{ echo 'no sketch or header' >&2; exit 4; }}\n\
           printf '\\351' > \"$5/esp.ino.bin\"; head -c 4095 /dev/zero | tr '\\000' 'N' >> \"$5/esp.ino.bin\"\n\
           echo \"$3\" > \"$5/fqbn.txt\";;\n\
         *) exit 2;;\n\
         esac\n"
    );
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn build(dir: &Path, arduino_cli: &Path, extra: &[&str]) -> std::process::Output {
    nanoesp()
        .args(["build", "--project"])
        .arg(dir)
        .args(extra)
        .env("CARGO_TARGET_DIR", avr_target_dir())
        .env("NANOESP_ARDUINO_CLI", arduino_cli)
        .output()
        .unwrap()
}

#[test]
fn new_lays_out_the_firmata_firmware_and_the_sketch() {
    let tmp = scratch();
    let dir = new_project(
        tmp.path(),
        "master",
        &["--mode", "esp-master", "--password", "sekret-pass-1"],
    );
    for file in [
        "nanoesp.toml",
        "secrets.toml",
        "WIRING.md",
        "README.md",
        "nano/Cargo.toml",
        "nano/build.rs",
        "nano/src/main.rs",
        "nano/.cargo/config.toml",
        "nano/Ravedude.toml",
        "esp/esp.ino",
        "runtime/firmata/Cargo.toml",
        "runtime/hal/src/lib.rs",
    ] {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
    assert!(dir.join("esp/src/nanoesp").is_dir());
    assert!(dir.join("esp/host").is_dir());
    assert!(
        !dir.join("esp/tests").exists(),
        "host tests stay in the repository"
    );
    let config = std::fs::read_to_string(dir.join("nanoesp.toml")).unwrap();
    assert!(config.contains("mode = \"esp-master\""), "{config}");
    let wiring = std::fs::read_to_string(dir.join("WIRING.md")).unwrap();
    assert!(wiring.contains("GPIO4"), "{wiring}");
    // The password lives in secrets.toml only.
    for entry in walk(&dir) {
        if entry.ends_with("secrets.toml") {
            continue;
        }
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains("sekret-pass-1"),
            "{} holds the password",
            entry.display()
        );
    }
    let esp01 = new_project(
        tmp.path(),
        "esp01",
        &["--mode", "esp-master", "--esp", "esp01"],
    );
    let wiring = std::fs::read_to_string(esp01.join("WIRING.md")).unwrap();
    assert!(
        wiring.contains("GPIO3") && wiring.contains("GPIO2"),
        "{wiring}"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn build_needs_arduino_cli_with_the_core_and_hands_it_the_configured_sketch() {
    let tmp = scratch();
    let password = r#"pa"ss\word,1"#;
    // A name of its own: tests building the same package name at once in the shared
    // target dir overwrite each other's uplifted ELF between a build and its copy.
    let dir = new_project(
        tmp.path(),
        "master-build",
        &["--mode", "esp-master", "--password", password],
    );

    // No arduino-cli: the Nano builds, the sketch fails with the install commands.
    let out = build(&dir, Path::new("/nonexistent/arduino-cli"), &[]);
    // miette wraps long help lines.
    let text = all_output(&out)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("arduino-cli was not found"), "{text}");
    assert!(text.contains("core install esp8266:esp8266"), "{text}");
    assert!(
        dir.join(".nanoesp/build.json").is_file(),
        "the Nano firmware was built first"
    );

    // arduino-cli without the esp8266 core.
    let nocore = fake_arduino_cli(tmp.path(), false);
    let out = build(&dir, &nocore, &["--only", "esp"]);
    let text = all_output(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("no esp8266 core"), "{text}");

    // With the core: the staged sketch carries the settings, the image is recorded.
    let cli = fake_arduino_cli(tmp.path(), true);
    let out = build(&dir, &cli, &[]);
    let text = all_output(&out);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains(password), "the password is never printed");
    let fqbn = std::fs::read_to_string(dir.join(".nanoesp/build/esp/fqbn.txt")).unwrap();
    assert_eq!(fqbn.trim(), "esp8266:esp8266:generic:eesz=4M2M");
    let header =
        std::fs::read_to_string(dir.join(".nanoesp/build/esp-sketch/esp/nanoesp_config.h"))
            .unwrap();
    assert!(
        header.contains(r#"#define NANOESP_WIFI_PASSWORD "pa\"ss\\word,1""#),
        "{header}"
    );
    assert!(
        header.contains("#define NANOESP_LINK_RX_GPIO 4"),
        "{header}"
    );
    assert!(
        header.contains("#define NANOESP_LINK_BAUD 57600"),
        "{header}"
    );
    assert!(
        !dir.join("esp/nanoesp_config.h").exists(),
        "the project's sketch stays clean"
    );
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(".nanoesp/build.json")).unwrap())
            .unwrap();
    assert!(
        record["esp"]["esp_id"]
            .as_str()
            .unwrap()
            .starts_with("esp-")
    );
    assert_eq!(record["esp"]["bytes"], 4096);
    assert!(text.contains("ESP   "), "{text}");

    // The Nano firmware's size is reported against the whole chip.
    assert!(record["flash"].as_u64().unwrap() > 0);
}

#[test]
fn build_only_esp_is_refused_for_nano_drives_esp() {
    let tmp = scratch();
    let dir = new_project(tmp.path(), "drives", &[]);
    let out = build(&dir, Path::new("/nonexistent"), &["--only", "esp"]);
    let text = all_output(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("--at-firmware"), "{text}");
}

fn request(url: &str, raw: &str) -> String {
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream.write_all(raw.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

fn body(response: &str) -> serde_json::Value {
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {response}"))
}

#[test]
fn sim_serves_the_nanos_readings_through_the_host_built_sketch() {
    let tmp = scratch();
    let dir = new_project(tmp.path(), "master-sim", &["--mode", "esp-master"]);
    let (_running, url, lines) = start_sim_with(&dir, &["--adc", "A0=2500", "--adc", "A3=1000"]);
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(".nanoesp/build.json")).unwrap())
            .unwrap();
    let build_id = record["build_id"].as_str().unwrap().to_string();

    // Analog reports arrive every sampling interval, one channel after the other (a status
    // taken between two of them has A0 but not yet A3): wait for both fed values.
    let near = |s: &serde_json::Value, channel: usize, want: u64| {
        s["analog"][channel]
            .as_u64()
            .is_some_and(|v| v.abs_diff(want) <= 8)
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        let response = get(&url, "/api/status");
        if response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200") {
            let s = body(&response);
            if near(&s, 0, 512) && near(&s, 3, 205) {
                break s;
            }
        }
        assert!(
            Instant::now() < deadline,
            "never read A0 and A3: {response}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(status["firmware"], build_id.as_str(), "{status}");
    assert!(
        status["esp"].as_str().unwrap().starts_with("host-"),
        "{status}"
    );
    assert_eq!(status["analog"].as_array().map(Vec::len), Some(8));

    // A digital write through Firmata, read back.
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let wrote = request(
        &url,
        &format!(
            "POST /api/pin/13 HTTP/1.1\r\nHost: {host}\r\nContent-Length: 1\r\nConnection: close\r\n\r\n1"
        ),
    );
    assert!(wrote.starts_with("HTTP/1.1 200"), "{wrote}");
    let read = get(&url, "/api/pin/13");
    assert!(read.starts_with("HTTP/1.1 200"), "{read}");
    assert_eq!(body(&read)["value"], 1, "{read}");
    // The link pins are the Nano's own.
    let refused = get(&url, "/api/pin/9");
    assert!(!refused.starts_with("HTTP/1.1 200"), "{refused}");

    let page = get(&url, "/");
    assert!(
        page.contains("<html") || page.contains("<!DOCTYPE"),
        "{page}"
    );

    let banner = |lines: &[String]| {
        lines
            .iter()
            .any(|l| l.starts_with("nano | nanoesp ") && l.contains("mode=esp-master"))
    };
    let ready = |lines: &[String]| {
        lines
            .iter()
            .any(|l| l.contains("esp  | nanoesp: ready http://"))
    };
    // `nanoesp sim` relays the Nano's lines on another thread than the ESP's (and we read
    // its output on a thread too): the banner may land after the answers above.
    let deadline = Instant::now() + Duration::from_secs(30);
    let lines = loop {
        let seen = lines.lock().unwrap().clone();
        if (banner(&seen) && ready(&seen)) || Instant::now() > deadline {
            break seen;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(banner(&lines), "{lines:?}");
    assert!(ready(&lines), "{lines:?}");
}

#[test]
fn doctor_sim_checks_the_esp_master_bench() {
    let tmp = scratch();
    let dir = new_project(tmp.path(), "master-doctor", &["--mode", "esp-master"]);
    let cli = fake_arduino_cli(tmp.path(), true);
    let started = Instant::now();
    let out = nanoesp()
        .args(["doctor", "--sim", "--json", "--project"])
        .arg(&dir)
        .env("CARGO_TARGET_DIR", avr_target_dir())
        .env("NANOESP_ARDUINO_CLI", &cli)
        .output_within(BENCH_COMMAND_LIMIT);
    let text = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("no JSON ({e}):\n{}", all_output(&out)));
    let status_of = |id: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("no {id}: {report:#}"))["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for id in [
        "toolchain.arduino-cli",
        "project.config",
        "firmware.build",
        "nano.console",
        "nano.firmware",
        "esp.at",
        "server.status",
        "server.concurrency",
    ] {
        assert_eq!(status_of(id), "ok", "{id}: {report:#}");
    }
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    eprintln!(
        "doctor --sim (esp-master) took {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
