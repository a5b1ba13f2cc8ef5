//! `nanoesp new`: the generated project, its settings, and every refusal.

use predicates::prelude::*;

use crate::helpers::*;

#[test]
fn defaults_produce_a_complete_project() {
    let tmp = scratch();
    let dir = new_project(
        tmp.path(),
        "demo",
        &["--ssid", "lab", "--password", "hunter2-long"],
    );
    for file in [
        "nanoesp.toml",
        "secrets.toml",
        ".gitignore",
        "README.md",
        "WIRING.md",
        "wiring.svg",
        "nano/Cargo.toml",
        "nano/build.rs",
        "nano/.cargo/config.toml",
        "nano/Ravedude.toml",
        "nano/rust-toolchain.toml",
        "nano/src/main.rs",
        "runtime/at/Cargo.toml",
        "runtime/http/src/lib.rs",
        "runtime/server/Cargo.toml",
        "runtime/hal/src/lib.rs",
    ] {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
    let config = std::fs::read_to_string(dir.join("nanoesp.toml")).unwrap();
    for key in [
        "mode = \"nano-drives-esp\"",
        "board = \"nano\"",
        "module = \"esp12e\"",
        "kind = \"soft\"",
        "rx = \"D8\"",
        "tx = \"D9\"",
        "baud = 57600",
        "save_baud = false",
        "ssid = \"lab\"",
        "hostname = \"nanoesp\"",
        "port = 80",
        "max_clients = 3",
    ] {
        assert!(config.contains(key), "nanoesp.toml lacks {key}:\n{config}");
    }
    assert!(config.contains("# "), "settings are commented");
    assert!(
        !config.contains("hunter2-long"),
        "the password stays out of nanoesp.toml"
    );
    let secrets = std::fs::read_to_string(dir.join("secrets.toml")).unwrap();
    assert!(secrets.contains("password = \"hunter2-long\""));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("secrets.toml"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let gitignore = std::fs::read_to_string(dir.join(".gitignore")).unwrap();
    assert!(gitignore.lines().any(|l| l.trim() == "secrets.toml"));
    let cargo_config = std::fs::read_to_string(dir.join("nano/.cargo/config.toml")).unwrap();
    for needle in [
        "avr-none",
        "target-cpu=atmega328p",
        "build-std = [\"core\"]",
        "runner = \"ravedude\"",
    ] {
        assert!(cargo_config.contains(needle), "{needle}");
    }
    let ravedude = std::fs::read_to_string(dir.join("nano/Ravedude.toml")).unwrap();
    assert!(ravedude.contains("board = \"nano-new\""), "{ravedude}");
    let wiring = std::fs::read_to_string(dir.join("WIRING.md")).unwrap();
    for needle in [
        "D9",
        "D8",
        "divider",
        "300 mA",
        "EN / CH_PD",
        "GPIO15",
        "GPIO0",
        "GPIO2",
        "ground",
    ] {
        assert!(wiring.contains(needle), "WIRING.md lacks {needle}");
    }
    let svg = std::fs::read_to_string(dir.join("wiring.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("D9 (TX)") && svg.contains("D8 (RX)"));
    // The project the CLI wrote passes its own check.
    nanoesp()
        .args(["config", "check", "--project"])
        .arg(&dir)
        .assert()
        .success();
}

#[test]
fn every_option_is_reflected_in_the_files() {
    let tmp = scratch();
    let dir = new_project(
        tmp.path(),
        "usart",
        &[
            "--nano",
            "nano-old",
            "--esp",
            "esp01",
            "--link",
            "usart",
            "--baud",
            "115200",
            "--hostname",
            "kitchen",
            "--http-port",
            "8080",
            "--ssid",
            "home net",
        ],
    );
    let config = std::fs::read_to_string(dir.join("nanoesp.toml")).unwrap();
    for key in [
        "board = \"nano-old\"",
        "module = \"esp01\"",
        "kind = \"usart\"",
        "rx = \"D0\"",
        "tx = \"D1\"",
        "baud = 115200",
        "hostname = \"kitchen\"",
        "port = 8080",
        "ssid = \"home net\"",
    ] {
        assert!(config.contains(key), "{key}:\n{config}");
    }
    let ravedude = std::fs::read_to_string(dir.join("nano/Ravedude.toml")).unwrap();
    assert!(
        ravedude.contains("board = \"nano\""),
        "old bootloader preset: {ravedude}"
    );
    assert!(
        std::fs::read_to_string(dir.join("WIRING.md"))
            .unwrap()
            .contains("GPIO0 low")
    );
}

#[test]
fn ssid_and_password_needing_escapes_survive_rendering() {
    let tmp = scratch();
    let password = r#"p"a,s\s wörd"#;
    let dir = new_project(
        tmp.path(),
        "esc",
        &["--ssid", r#"my "lab", \ok"#, "--password", password],
    );
    nanoesp()
        .args(["config", "get", "wifi.ssid", "--project"])
        .arg(&dir)
        .assert()
        .success()
        .stdout(r#"my "lab", \ok"#.to_string() + "\n");
    let secrets: toml::Table = std::fs::read_to_string(dir.join("secrets.toml"))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(secrets["wifi"]["password"].as_str(), Some(password));
}

#[test]
fn refuses_a_non_empty_directory_unless_forced() {
    let tmp = scratch();
    let dir = tmp.path().join("busy");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), "keep me").unwrap();
    nanoesp()
        .arg("new")
        .arg(&dir)
        .arg("--yes")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not empty").and(predicate::str::contains("--force")));
    assert!(!dir.join("nanoesp.toml").exists());
    nanoesp()
        .arg("new")
        .arg(&dir)
        .args(["--yes", "--force"])
        .assert()
        .success();
    assert!(dir.join("nanoesp.toml").is_file());
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).unwrap(),
        "keep me"
    );
}

fn refused(flags: &[&str], needle: &str) {
    let tmp = scratch();
    let dir = tmp.path().join("bad");
    let out = nanoesp()
        .arg("new")
        .arg(&dir)
        .arg("--yes")
        .args(flags)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    let text = all_output(&out);
    assert!(text.contains(needle), "expected {needle:?} in:\n{text}");
    assert!(!dir.exists(), "nothing is written for a refused project");
}

#[test]
fn refuses_a_reserved_pin() {
    refused(&["--tx", "D13"], "reserved for the on-board LED");
}

#[test]
fn refuses_rx_equal_to_tx() {
    refused(&["--rx", "D9", "--tx", "D9"], "rx and tx are both D9");
}

#[test]
fn refuses_pins_the_soft_link_cannot_use() {
    refused(&["--rx", "D4"], "allowed: D8");
}

#[test]
fn refuses_a_33_byte_ssid() {
    refused(&["--ssid", &"x".repeat(33)], "SSID is 33 bytes long");
}

#[test]
fn refuses_a_7_character_password() {
    refused(&["--password", "1234567"], "password has 7 characters");
}

#[test]
fn refuses_a_baud_the_soft_link_cannot_do() {
    refused(&["--baud", "115200"], "Allowed: 9600, 19200, 38400, 57600");
}

#[test]
fn esp_master_refuses_the_stored_wifi_mode_of_the_at_firmware() {
    let tmp = scratch();
    let dir = new_project(tmp.path(), "master", &["--mode", "esp-master"]);
    let out = nanoesp()
        .args(["config", "set", "wifi.mode", "stored", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", all_output(&out));
    assert!(
        all_output(&out).contains("needs the ESP's AT firmware"),
        "{}",
        all_output(&out)
    );
}

#[test]
fn an_unwritable_destination_is_a_clear_error() {
    // /proc refuses new directories even for root.
    let out = nanoesp()
        .args(["new", "/proc/nanoesp-test/demo", "--yes"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        all_output(&out).contains("cannot create /proc/nanoesp-test"),
        "{}",
        all_output(&out)
    );
}

#[test]
fn password_can_come_from_stdin() {
    let tmp = scratch();
    let dir = tmp.path().join("stdin");
    nanoesp()
        .arg("new")
        .arg(&dir)
        .args(["--yes", "--password-stdin"])
        .write_stdin("from stdin 123\n")
        .assert()
        .success();
    let secrets = std::fs::read_to_string(dir.join("secrets.toml")).unwrap();
    assert!(secrets.contains("password = \"from stdin 123\""));
}
