//! `nanoesp doctor`: a healthy simulated device passes every check; injected faults (wrong
//! console baud, silent ESP, Wi-Fi join failure, server down, stale firmware, a firmware
//! that serves one client at a time, a broken config) each fail the right check with the
//! right advice.

use std::path::Path;
use std::time::Duration;

use crate::helpers::*;

/// `nanoesp doctor --json` with `args`; returns the exit code and the parsed report.
fn doctor_json(dir: &Path, args: &[&str]) -> (i32, serde_json::Value) {
    let out = nanoesp()
        .arg("doctor")
        .arg("--json")
        .args(args)
        .arg("--project")
        .arg(dir)
        .env("CARGO_TARGET_DIR", avr_target_dir())
        .output_within(BENCH_COMMAND_LIMIT);
    let text = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("doctor --json printed no JSON ({e}):\n{}", all_output(&out)));
    (out.status.code().unwrap_or(-1), report)
}

/// The check `id` of a report.
fn check<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id} in {report:#}"))
}

/// The ids of the failing checks.
fn failing(report: &serde_json::Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect()
}

/// The diagnosis `id`, if present.
fn diagnosis<'a>(report: &'a serde_json::Value, id: &str) -> Option<&'a serde_json::Value> {
    report["diagnoses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id)
}

#[test]
fn healthy_simulated_device_passes_every_check() {
    let tmp = scratch();
    let dir = new_project(
        tmp.path(),
        "healthy",
        &["--ssid", "lab net", "--password", "s3cret-Pass,\"x\""],
    );
    let (code, report) = doctor_json(&dir, &["--sim"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["schema"], 1);
    assert_eq!(report["ok"], true);
    assert_eq!(report["mode"], "sim");
    assert!(
        report["url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
    for c in report["checks"].as_array().unwrap() {
        assert!(
            c["status"] == "ok" || c["status"] == "skip",
            "{c:#} in {report:#}"
        );
        assert!(c["value"].is_string() && c.get("fix").is_some());
    }
    // The checks that prove the device end to end all ran and passed.
    for id in [
        "project.config",
        "firmware.build",
        "nano.console",
        "nano.firmware",
        "esp.at",
        "esp.baud",
        "wifi.join",
        "server.status",
        "server.concurrency",
    ] {
        assert_eq!(check(&report, id)["status"], "ok", "{id}: {report:#}");
    }
    let build: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(".nanoesp/build.json")).unwrap())
            .unwrap();
    let id = build["build_id"].as_str().unwrap();
    assert!(
        check(&report, "nano.firmware")["value"]
            .as_str()
            .unwrap()
            .contains(id)
    );
    assert!(
        check(&report, "wifi.join")["value"]
            .as_str()
            .unwrap()
            .contains("lab net")
    );
    let load = &report["load"];
    assert_eq!(load["clients"], 5);
    assert_eq!(load["ok"], 5);
    assert_eq!(load["failed"], 0);
    assert!(load["p50_ms"].as_f64().unwrap() > 0.0);
    assert!(load["max_ms"].as_f64().unwrap() >= load["p50_ms"].as_f64().unwrap());
    assert!(report["soak"].is_null());
    assert_eq!(
        report["diagnoses"].as_array().unwrap().len(),
        0,
        "{report:#}"
    );
    assert!(
        !report.to_string().contains("s3cret"),
        "the password leaked"
    );

    // Human output: one line per check, a soak, and no secret either.
    let out = nanoesp()
        .args([
            "doctor",
            "--sim",
            "--clients",
            "3",
            "--soak",
            "2s",
            "--project",
        ])
        .arg(&dir)
        .env("CARGO_TARGET_DIR", avr_target_dir())
        .output_within(BENCH_COMMAND_LIMIT);
    let text = all_output(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for id in [
        "toolchain.avr",
        "nano.console",
        "server.concurrency",
        "server.soak",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(id))
            .unwrap_or_else(|| panic!("no line for {id}:\n{stdout}"));
        assert!(line.starts_with("ok "), "{line}");
    }
    assert!(stdout.contains("3/3 clients correct"), "{stdout}");
    assert!(stdout.contains("doctor: "), "{stdout}");
    assert!(!text.contains("s3cret"), "the password leaked:\n{text}");
}

#[test]
fn console_opened_at_the_wrong_baud_is_diagnosed_as_garbled() {
    let tmp = scratch();
    let dir = new_project(tmp.path(), "baud", &[]);
    let (code, report) = doctor_json(&dir, &["--sim", "--console-baud", "57600"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(failing(&report), ["nano.console"], "{report:#}");
    let console = check(&report, "nano.console");
    assert!(
        console["value"]
            .as_str()
            .unwrap()
            .contains("garbled at 57600")
    );
    assert!(console["fix"].as_str().unwrap().contains("115200"));
    let d = diagnosis(&report, "console-baud").expect("console-baud diagnosis");
    assert!(d["advice"].as_str().unwrap().contains("115200"));
    // The rest still works through the server.
    assert_eq!(check(&report, "server.status")["status"], "ok");
}

#[test]
fn silent_esp_fails_the_at_check_with_wiring_advice() {
    let tmp = scratch();
    let dir = new_project(tmp.path(), "silent", &[]);
    let (code, report) = doctor_json(&dir, &["--sim", "--bench-esp", "none"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(failing(&report), ["esp.at"], "{report:#}");
    assert!(
        check(&report, "esp.at")["value"]
            .as_str()
            .unwrap()
            .contains("does not answer")
    );
    let d = diagnosis(&report, "esp-silent").expect("esp-silent diagnosis");
    let advice = d["advice"].as_str().unwrap();
    assert!(advice.contains("divider") && advice.contains("D8") && advice.contains("3.3 V"));
    assert_eq!(check(&report, "server.status")["status"], "skip");
}

#[test]
fn wifi_join_failure_names_the_missing_access_point() {
    let tmp = scratch();
    let dir = new_project(tmp.path(), "join", &["--ssid", "my-home"]);
    let (code, report) = doctor_json(&dir, &["--sim", "--bench-ap-ssid", "someone-else"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(failing(&report), ["wifi.join"], "{report:#}");
    let join = check(&report, "wifi.join");
    assert!(
        join["value"]
            .as_str()
            .unwrap()
            .contains("AP not found (code 3)")
    );
    assert!(join["fix"].as_str().unwrap().contains("wifi.ssid"));
    let d = diagnosis(&report, "join-failed").expect("join-failed diagnosis");
    assert!(d["summary"].as_str().unwrap().contains("my-home"));
}

#[test]
fn at_2_on_the_esp_is_a_warning_with_the_gpio_advice() {
    let tmp = scratch();
    let dir = new_project(tmp.path(), "at2", &[]);
    let (code, report) = doctor_json(&dir, &["--sim", "--bench-esp-profile", "at2"]);
    // It still serves: a warning, not a failure.
    assert_eq!(code, 0, "{report:#}");
    let at = check(&report, "esp.at");
    assert_eq!(at["status"], "warn", "{report:#}");
    assert!(at["value"].as_str().unwrap().contains("AT 2."));
    let d = diagnosis(&report, "at2-gpio").expect("at2-gpio diagnosis");
    assert!(d["advice"].as_str().unwrap().contains("GPIO13"));
}

#[test]
fn server_down_fails_the_status_check() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    let tmp = scratch();
    let (code, report) = doctor_json(tmp.path(), &["--url", &url]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["mode"], "url");
    assert_eq!(failing(&report), ["server.status"], "{report:#}");
    let status = check(&report, "server.status");
    assert!(
        status["value"]
            .as_str()
            .unwrap()
            .contains("connection refused")
    );
    assert!(status["fix"].as_str().unwrap().contains("Nothing listens"));
    assert!(diagnosis(&report, "server-down").is_some());
    assert_eq!(check(&report, "server.concurrency")["status"], "skip");
    assert!(report["load"].is_null());
}

#[test]
fn stale_firmware_is_detected_against_the_last_build() {
    let tmp = scratch();
    let dir = new_project(tmp.path(), "stale", &[]);
    // The firmware of today runs on the bench...
    let (_running, url, _console) = start_sim(&dir);
    let (code, report) = doctor_json(&dir, &["--url", &url]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(check(&report, "nano.firmware")["status"], "ok");
    // ...but the project was rebuilt since: the board runs an older build.
    let record_path = dir.join(".nanoesp/build.json");
    let mut record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record_path).unwrap()).unwrap();
    let running = record["build_id"].as_str().unwrap().to_string();
    record["build_id"] = "0badc0de".into();
    std::fs::write(&record_path, record.to_string()).unwrap();
    let (code, report) = doctor_json(&dir, &["--url", &url]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(failing(&report), ["nano.firmware"], "{report:#}");
    let value = check(&report, "nano.firmware")["value"].as_str().unwrap();
    assert!(
        value.contains(&running) && value.contains("0badc0de"),
        "{value}"
    );
    let d = diagnosis(&report, "stale-firmware").expect("stale-firmware diagnosis");
    assert!(d["advice"].as_str().unwrap().contains("nanoesp flash"));
}

#[test]
fn firmware_serving_one_client_at_a_time_fails_the_concurrency_check() {
    let tmp = scratch();
    let dir = new_project(tmp.path(), "one", &[]);
    nanoesp()
        .args(["config", "set", "http.max_clients", "1", "--project"])
        .arg(&dir)
        .assert()
        .success();
    let (code, report) = doctor_json(&dir, &["--sim"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(failing(&report), ["server.concurrency"], "{report:#}");
    // One client at a time works...
    assert_eq!(check(&report, "server.status")["status"], "ok");
    // ...five at once do not, and the advice names the setting.
    let load = &report["load"];
    assert!(load["failed"].as_u64().unwrap() >= 1, "{load:#}");
    assert!(load["statuses"]["503"].as_u64().unwrap() >= 1, "{load:#}");
    assert!(
        check(&report, "server.concurrency")["fix"]
            .as_str()
            .unwrap()
            .contains("http.max_clients")
    );
    let d = diagnosis(&report, "one-client-server").expect("one-client-server diagnosis");
    assert!(d["summary"].as_str().unwrap().contains("classic"));
}

#[test]
fn invalid_config_fails_with_its_location() {
    let tmp = scratch();
    let dir = new_project(tmp.path(), "bad", &[]);
    let path = dir.join("nanoesp.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("rx = \"D8\"", "rx = \"D13\"")).unwrap();
    let (code, report) = doctor_json(&dir, &["--sim"]);
    assert_eq!(code, 1, "{report:#}");
    let config = check(&report, "project.config");
    assert_eq!(config["status"], "fail");
    assert!(
        config["value"].as_str().unwrap().contains("nanoesp.toml:"),
        "{config:#}"
    );
    assert_eq!(check(&report, "server.status")["status"], "skip");
}

#[test]
fn hardware_mode_identifies_both_ports_reads_the_console_and_spots_the_old_bootloader() {
    let tmp = scratch();
    let dir = new_project(tmp.path(), "hw", &["--nano", "nano"]);
    // An old Nano (ATmegaBOOT, 57600) and an ESP8266 adapter in download mode.
    let (_bench, serving) = bootloader_bench(&dir, "atmegaboot");
    let out = nanoesp()
        .args(["flash", "--only", "nano", "--yes", "--project"])
        .arg(&dir)
        .env("CARGO_TARGET_DIR", avr_target_dir())
        .output_within(BENCH_COMMAND_LIMIT);
    assert!(out.status.success(), "{}", all_output(&out));
    let url = serving
        .recv_timeout(Duration::from_secs(120))
        .expect("the flashed firmware never served");
    // The project claims a new Nano again.
    nanoesp()
        .args(["config", "set", "nano.board", "nano", "--project"])
        .arg(&dir)
        .assert()
        .success();
    let nano = dir.join(".nanoesp/sim/nano");
    let esp = dir.join(".nanoesp/sim/esp");
    let (code, report) = doctor_json(
        &dir,
        &[
            "--nano-port",
            nano.to_str().unwrap(),
            "--esp-port",
            esp.to_str().unwrap(),
            "--url",
            &url,
        ],
    );
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["mode"], "hardware");
    let nano_check = check(&report, "ports.nano");
    assert_eq!(nano_check["status"], "warn", "{report:#}");
    assert!(
        nano_check["value"]
            .as_str()
            .unwrap()
            .contains("ATmegaBOOT, 57600")
    );
    let d = diagnosis(&report, "bootloader").expect("bootloader diagnosis");
    assert!(
        d["advice"]
            .as_str()
            .unwrap()
            .contains("nano.board nano-old")
    );
    let esp_check = check(&report, "ports.esp");
    assert_eq!(esp_check["status"], "warn", "{report:#}");
    assert!(
        esp_check["value"]
            .as_str()
            .unwrap()
            .contains("download mode")
    );
    let d = diagnosis(&report, "rom-banner").expect("rom-banner diagnosis");
    assert!(
        d["summary"].as_str().unwrap().contains("boot mode (1,7)"),
        "{d:#}"
    );
    assert!(d["advice"].as_str().unwrap().contains("download"));
    // The console was read after the reset that opening it causes.
    for id in [
        "nano.console",
        "nano.firmware",
        "esp.at",
        "wifi.join",
        "server.status",
        "server.concurrency",
    ] {
        assert_eq!(check(&report, id)["status"], "ok", "{id}: {report:#}");
    }
}
