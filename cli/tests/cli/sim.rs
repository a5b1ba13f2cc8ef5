//! `nanoesp sim`: the project's real firmware on the virtual bench, reached by a real HTTP
//! client on 127.0.0.1 (client → TCP bridge → emulated ESP8266 → simulated Nano → back).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::*;

struct Running {
    child: Child,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
    }
}

/// Starts `nanoesp sim` on the project and returns it with the URL it printed.
fn start(dir: &std::path::Path) -> (Running, String, Vec<String>) {
    let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("nanoesp"));
    cmd.args(["sim", "--fast", "--http", "127.0.0.1:0", "--timeout", "120", "--project"])
        .arg(dir)
        .env("CI", "true")
        .env("CARGO_TARGET_DIR", avr_target_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let running = Running { child };
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        lines.push(line.clone());
        if let Some(url) = line.strip_prefix("open ") {
            // keep draining the console in the background so the simulator never blocks
            return (running, url.to_string(), lines);
        }
    }
    panic!("nanoesp sim ended without serving:\n{}", lines.join("\n"));
}

fn get(url: &str, path: &str) -> String {
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

fn serves_status(flags: &[&str]) {
    let tmp = scratch();
    let dir = new_project(tmp.path(), "simmed", flags);
    let (_running, url, console) = start(&dir);
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(".nanoesp/build.json")).unwrap()).unwrap();
    let build_id = record["build_id"].as_str().unwrap().to_string();
    let response = get(&url, "/api/status");
    assert!(response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200"), "{response}");
    let lower = response.to_ascii_lowercase();
    assert!(lower.contains("connection: close") && lower.contains("content-length:"), "{response}");
    let body = response.split("\r\n\r\n").nth(1).unwrap();
    let status: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(status["firmware"], build_id.as_str());
    assert_eq!(status["analog"].as_array().map(Vec::len), Some(8));
    if !flags.contains(&"usart") {
        let banner = console.iter().find(|l| l.contains("nanoesp ") && l.contains("board=")).cloned();
        let banner = banner.unwrap_or_else(|| panic!("no banner in {console:?}"));
        assert!(banner.contains(&build_id), "{banner}");
        assert!(console.iter().any(|l| l.contains("nanoesp: ready http://")), "{console:?}");
    }
    let page = get(&url, "/");
    assert!(page.contains("200") && page.contains("<html"), "{page}");
    let missing = get(&url, "/nope");
    assert!(missing.starts_with("HTTP/1.1 404") || missing.starts_with("HTTP/1.0 404"), "{missing}");
}

#[test]
fn soft_link_firmware_answers_http_through_the_bench() {
    serves_status(&[]);
}

#[test]
fn usart_link_firmware_answers_http_through_the_bench() {
    serves_status(&["--link", "usart"]);
}

#[test]
fn a_missing_firmware_file_is_a_clear_error() {
    nanoesp()
        .args(["sim", "--elf", "/nonexistent/fw.elf"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("/nonexistent/fw.elf does not exist"));
}
