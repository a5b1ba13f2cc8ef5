//! `nanoesp build`: the generated firmware compiles for avr-none with every supported option
//! set, the size report, secrets handling, and missing-tool errors.

use std::path::Path;

use predicates::prelude::*;

use crate::helpers::*;

fn build(dir: &Path) -> std::process::Output {
    nanoesp()
        .args(["build", "--project"])
        .arg(dir)
        .env("CARGO_TARGET_DIR", avr_target_dir())
        .output()
        .unwrap()
}

fn byte_array(config: &str, name: &str) -> Vec<u8> {
    let line = config
        .lines()
        .find(|l| l.starts_with(&format!("pub const {name}: &[u8] = &[")))
        .unwrap_or_else(|| panic!("{name} missing from config.rs"));
    let inner = line.rsplit_once("&[").unwrap().1.trim_end_matches("];");
    inner
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect()
}

#[test]
fn generated_firmware_compiles_for_every_option_set_and_reports_sizes() {
    let tmp = scratch();
    let sets: [(&str, &[&str]); 3] = [
        ("soft", &[]),
        (
            "usart",
            &["--link", "usart", "--nano", "nano-old", "--esp", "esp01"],
        ),
        ("slow", &["--baud", "9600", "--esp", "nodemcu"]),
    ];
    for (name, flags) in sets {
        let dir = new_project(tmp.path(), name, flags);
        let out = build(&dir);
        let text = all_output(&out);
        assert!(out.status.success(), "{name}: {text}");
        let limit = if name == "usart" { "30,720" } else { "32,256" };
        let line = String::from_utf8_lossy(&out.stdout);
        let re = format!("/ {limit} B (");
        assert!(
            line.starts_with("Flash ")
                && line.contains(&re)
                && line.contains("SRAM ")
                && line.contains("/ 2,048 B ("),
            "{name}: {line}"
        );
        assert!(text.contains("Toolchain"), "the toolchain is named: {text}");
        let record: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join(".nanoesp/build.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(record["build_id"].as_str().unwrap().len(), 8);
        assert!(record["flash"].as_u64().unwrap() > 100);
        assert!(Path::new(record["elf"].as_str().unwrap()).is_file());
        let cfg = generated_config(name);
        let expected = if name == "usart" { "usart" } else { "soft" };
        assert!(cfg.contains(&format!(
            "pub const LINK_RX: u8 = {};",
            if expected == "usart" { 0 } else { 8 }
        )));
    }
}

#[test]
fn password_reaches_the_firmware_intact_and_is_never_shown() {
    let tmp = scratch();
    let password = "q\"u,o\\te ünï €";
    let dir = tmp.path().join("secretive");
    nanoesp()
        .arg("new")
        .arg(&dir)
        .args(["--yes", "--ssid", "lab,\"x\"", "--password-stdin"])
        .write_stdin(password)
        .assert()
        .success();
    let out = build(&dir);
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(!all_output(&out).contains(password));
    let record = std::fs::read_to_string(dir.join(".nanoesp/build.json")).unwrap();
    assert!(!record.contains("ünï"));
    let cfg = generated_config("secretive");
    assert_eq!(byte_array(&cfg, "WIFI_PASSWORD"), password.as_bytes());
    assert_eq!(byte_array(&cfg, "WIFI_SSID"), b"lab,\"x\"");

    let json = nanoesp()
        .args(["build", "--json", "--project"])
        .arg(&dir)
        .env("CARGO_TARGET_DIR", avr_target_dir())
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["sram_limit"], 2048);
}

#[test]
fn missing_tools_name_the_package_to_install() {
    let tmp = scratch();
    let dir = new_project(tmp.path(), "tools", &[]);
    nanoesp()
        .args(["build", "--project"])
        .arg(&dir)
        .env("PATH", "/nonexistent")
        .env("NANOESP_TOOLCHAIN", "system")
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("avr-gcc was not found")
                .and(predicate::str::contains("gcc-avr")),
        );
    nanoesp()
        .args(["build", "--project"])
        .arg(&dir)
        .env("PATH", "/nonexistent")
        .env("NANOESP_TOOLCHAIN", "rustup")
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("no Rust toolchain").and(predicate::str::contains("rust-src")),
        );
}
