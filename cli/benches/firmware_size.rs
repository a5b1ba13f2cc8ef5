//! Flash and static SRAM of the generated Nano firmware, per configuration, against the
//! budgets of the two modes. Each row scaffolds a project with `nanoesp new`, adjusts it
//! with `nanoesp config set`, builds it with `nanoesp build` (the real AVR toolchain) and
//! reads the figures `nanoesp build` records in `.nanoesp/build.json`.
//!
//! Writes a markdown table to stdout and to `target/nanoesp-bench/firmware-size.md`.
//!
//! Run: `cargo bench -p nanoesp --bench firmware_size`. The firmware builds share
//! `NANOESP_AVR_TARGET_DIR` (default `target/avr-tests`, as the tests), so `core` is
//! compiled once.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Row {
    label: &'static str,
    mode: &'static str,
    new_args: &'static [&'static str],
    settings: &'static [(&'static str, &'static str)],
}

/// Issue budgets: (flash, static SRAM) in bytes.
fn budget(mode: &str) -> (u64, u64) {
    match mode {
        "nano-drives-esp" => (8 * 1024, 700),
        _ => (6 * 1024, 500),
    }
}

const ROWS: &[Row] = &[
    Row {
        label: "default: soft link D8/D9 57600, 3 clients, station",
        mode: "nano-drives-esp",
        new_args: &[],
        settings: &[],
    },
    Row {
        label: "USART link D0/D1 115200",
        mode: "nano-drives-esp",
        new_args: &["--link", "usart"],
        settings: &[],
    },
    Row {
        label: "1 client",
        mode: "nano-drives-esp",
        new_args: &[],
        settings: &[("http.max_clients", "1")],
    },
    Row {
        label: "5 clients",
        mode: "nano-drives-esp",
        new_args: &[],
        settings: &[("http.max_clients", "5")],
    },
    Row {
        label: "stored Wi-Fi (no credentials in flash)",
        mode: "nano-drives-esp",
        new_args: &[],
        settings: &[("wifi.mode", "stored")],
    },
    Row {
        label: "link baud saved in the ESP (AT+UART_DEF)",
        mode: "nano-drives-esp",
        new_args: &[],
        settings: &[("link.save_baud", "true")],
    },
    Row {
        label: "default: Firmata on the soft link D8/D9 57600",
        mode: "esp-master",
        new_args: &[],
        settings: &[],
    },
    Row {
        label: "Firmata on the USART D0/D1",
        mode: "esp-master",
        new_args: &["--link", "usart"],
        settings: &[],
    },
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd
        .env("CI", "true")
        .env("NO_COLOR", "1")
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn main() {
    // `cargo bench` passes --bench (and maybe a filter): this table has no variants.
    let nanoesp = env!("CARGO_BIN_EXE_nanoesp");
    let avr_target = std::env::var_os("NANOESP_AVR_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/avr-tests"));
    let scratch = tempfile::tempdir().expect("scratch dir");
    let mut table = String::from(
        "| Mode | Configuration | Flash (B) | Flash budget | Static SRAM (B) | SRAM budget |\n\
         |---|---|---|---|---|---|\n",
    );
    for (i, row) in ROWS.iter().enumerate() {
        let dir = scratch.path().join(format!("size{i}"));
        run(
            Command::new(nanoesp)
                .args(["new", "--yes", "--quiet", "--mode", row.mode])
                .args(row.new_args)
                .arg(&dir),
            "nanoesp new",
        );
        for (key, value) in row.settings {
            run(
                Command::new(nanoesp)
                    .args(["config", "set", key, value, "--project"])
                    .arg(&dir),
                "nanoesp config set",
            );
        }
        let mut build = Command::new(nanoesp);
        build.args(["build", "--quiet", "--project"]).arg(&dir);
        if row.mode == "esp-master" {
            // the sketch needs arduino-cli and the esp8266 core; the Nano is what we size
            build.args(["--only", "nano"]);
        }
        run(build.env("CARGO_TARGET_DIR", &avr_target), "nanoesp build");
        let record: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.join(".nanoesp/build.json")).expect("build.json"),
        )
        .expect("build.json is JSON");
        let field = |k: &str| {
            record[k]
                .as_u64()
                .unwrap_or_else(|| panic!("{k}: {record}"))
        };
        let (flash, sram) = (field("flash"), field("sram"));
        let (flash_budget, sram_budget) = budget(row.mode);
        let verdict = |v: u64, limit: u64| if v <= limit { "met" } else { "over" };
        writeln!(
            table,
            "| {} | {} | {flash} | {flash_budget} ({}) | {sram} | {sram_budget} ({}) |",
            row.mode,
            row.label,
            verdict(flash, flash_budget),
            verdict(sram, sram_budget),
        )
        .unwrap();
        eprintln!(
            "firmware_size: {} / {}: {flash} B flash, {sram} B SRAM",
            row.mode, row.label
        );
    }
    print!("{table}");
    let out = workspace().join("target/nanoesp-bench");
    std::fs::create_dir_all(&out).expect("target/nanoesp-bench");
    std::fs::write(out.join("firmware-size.md"), &table).expect("firmware-size.md");
}
