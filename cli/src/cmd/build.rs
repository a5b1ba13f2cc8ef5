//! `nanoesp build`: validate the project, pick a toolchain, build the Nano firmware with
//! cargo, and report flash/SRAM use against the board's limits (exit 1 above a limit).
//!
//! Configuration reaches the firmware through the firmware's `build.rs`, which reads the
//! project files itself: nothing secret is put on a command line or in the environment.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use miette::{Context, IntoDiagnostic};
use nanoesp_boards::Catalog;
use serde::Serialize;

use super::ProjectArgs;
use crate::Outcome;
use crate::firmware::{self, Usage};
use crate::toolchain::{self, Toolchain};
use crate::ui::Ui;

/// Build the Nano firmware and report its flash and SRAM use; in esp-master projects also
/// the ESP8266 sketch (with arduino-cli).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Build only one chip's firmware: nano, or esp (esp-master projects).
    #[arg(long, value_name = "CHIP", value_parser = ["nano", "esp"])]
    pub only: Option<String>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// What a build produced; also saved as `.nanoesp/build.json` for `sim`, `flash` and `doctor`.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct BuildRecord {
    /// Firmware build id (printed in the console banner and `/api/status`).
    pub build_id: String,
    /// The firmware ELF (a copy in the project's `.nanoesp/`).
    pub elf: PathBuf,
    /// Nano board id.
    pub board: String,
    /// Bytes of flash used.
    pub flash: u64,
    /// Usable flash (board minus bootloader).
    pub flash_limit: u64,
    /// Bytes of static SRAM used.
    pub sram: u64,
    /// SRAM size.
    pub sram_limit: u64,
    /// Toolchain used.
    pub toolchain: String,
    /// Wall time of the build.
    pub seconds: f64,
    /// esp-master: the last sketch build (kept across `--only nano` builds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub esp: Option<crate::esp_sketch::SketchBuild>,
}

/// Where the last build record of a project lives.
pub fn record_path(project: &Path) -> PathBuf {
    project.join(".nanoesp").join("build.json")
}

/// Builds the firmware of the project in `dir` and returns the record (also written to disk).
///
/// # Errors
/// Missing tools (with install hints), a failed cargo build, an unreadable ELF.
pub fn build(project: &nanoesp_project::Project, ui: &Ui) -> miette::Result<BuildRecord> {
    let started = Instant::now();
    let catalog = Catalog::load().expect("embedded board data is valid (tested)");
    let board = catalog
        .avr(&project.config.nano.board)
        .expect("validated board id");
    let toolchain = Toolchain::detect()?;
    toolchain::check_avr_gcc()?;
    ui.status("Toolchain", toolchain.describe());

    let nano_dir = project.dir().join("nano");
    if !nano_dir.join("Cargo.toml").is_file() {
        miette::bail!(miette::miette!(
            help =
                "Regenerate the project with `nanoesp new`, or restore nano/ from version control.",
            "{} has no firmware crate",
            nano_dir.display()
        ));
    }
    let project_dir = std::fs::canonicalize(project.dir()).into_diagnostic()?;
    ui.status(
        "Building",
        format!(
            "{} firmware for {} ({})",
            project.config.mode.as_str(),
            board.id,
            board.mcu
        ),
    );
    let mut cmd = toolchain.cargo();
    cmd.current_dir(&nano_dir)
        .args([
            "build",
            "--release",
            "--message-format=json-render-diagnostics",
        ])
        .env("NANOESP_PROJECT_DIR", &project_dir)
        .stdout(Stdio::piped())
        .stderr(if ui.interactive() {
            Stdio::inherit()
        } else {
            Stdio::piped()
        });
    let mut child = cmd
        .spawn()
        .into_diagnostic()
        .wrap_err("cannot start cargo")?;

    // stderr (compiler progress and diagnostics) is kept for the error report when not shown.
    let stderr_handle = child.stderr.take().map(|stderr| {
        std::thread::spawn(move || {
            let mut lines = Vec::new();
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                lines.push(line);
            }
            lines
        })
    });
    let nano_canonical = std::fs::canonicalize(&nano_dir).into_diagnostic()?;
    let firmware_id_prefix = format!("path+file://{}#", nano_canonical.display());
    let mut elf = None;
    let mut out_dir = None;
    let stdout = child.stdout.take().expect("piped");
    for line in std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
    {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        // Only messages about the firmware crate itself (not the runtime crates beside it).
        let is_local = msg["package_id"]
            .as_str()
            .is_some_and(|id| id.starts_with(&firmware_id_prefix));
        match msg["reason"].as_str() {
            Some("compiler-artifact") if is_local => {
                if let Some(exe) = msg["executable"].as_str() {
                    elf = Some(PathBuf::from(exe));
                }
            }
            Some("build-script-executed") if is_local => {
                out_dir = msg["out_dir"].as_str().map(PathBuf::from);
            }
            _ => {}
        }
    }
    let status = child.wait().into_diagnostic()?;
    let stderr_lines = stderr_handle
        .map(|h| h.join().unwrap_or_default())
        .unwrap_or_default();
    if !status.success() {
        let tail: Vec<&str> = stderr_lines
            .iter()
            .rev()
            .take(40)
            .map(String::as_str)
            .collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        miette::bail!(miette::miette!(
            help = "The compiler output above says what failed; `nanoesp config check` validates the settings.",
            "the firmware build failed ({status})\n{}",
            tail.join("\n")
        ));
    }
    let built = elf.ok_or_else(|| miette::miette!("cargo reported no firmware executable"))?;
    let bytes = std::fs::read(&built)
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot read {}", built.display()))?;
    // A copy inside the project is what sim/flash/doctor use: the target directory may be
    // shared with other projects (CARGO_TARGET_DIR) and rebuilt under our feet.
    let elf = project_dir.join(".nanoesp").join("firmware.elf");
    std::fs::create_dir_all(elf.parent().expect("has a parent")).into_diagnostic()?;
    nanoesp_project::write_atomic(&elf, &bytes, 0o644)?;
    let usage: Usage = firmware::usage(&bytes)
        .into_diagnostic()
        .wrap_err_with(|| format!("{} is not a valid ELF", elf.display()))?;
    let build_id = out_dir
        .and_then(|d| std::fs::read_to_string(d.join("config.rs")).ok())
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("pub const BUILD_ID: &str = \""))
                .map(|rest| rest.trim_end_matches("\";").to_string())
        })
        .unwrap_or_default();
    let record = BuildRecord {
        build_id,
        elf,
        board: board.id.clone(),
        flash: usage.flash,
        flash_limit: u64::from(board.usable_flash_bytes),
        sram: usage.sram,
        sram_limit: u64::from(board.sram_bytes),
        toolchain: toolchain.describe(),
        seconds: started.elapsed().as_secs_f64(),
        esp: last_record(project.dir()).and_then(|r| r.esp),
    };
    save_record(project.dir(), &record)?;
    Ok(record)
}

/// The last build record of a project, if any.
pub fn last_record(project: &Path) -> Option<BuildRecord> {
    let text = std::fs::read_to_string(record_path(project)).ok()?;
    serde_json::from_str(&text).ok()
}

fn save_record(project: &Path, record: &BuildRecord) -> miette::Result<()> {
    let path = record_path(project);
    std::fs::create_dir_all(path.parent().expect("has a parent")).into_diagnostic()?;
    nanoesp_project::write_atomic(
        &path,
        serde_json::to_string_pretty(record)
            .into_diagnostic()?
            .as_bytes(),
        0o644,
    )?;
    Ok(())
}

/// Builds an esp-master project's sketch and stores it in the build record (which needs a
/// Nano build first).
///
/// # Errors
/// Missing arduino-cli or core (with install commands), a failed compile, no Nano build yet.
pub fn build_esp(project: &nanoesp_project::Project, ui: &Ui) -> miette::Result<BuildRecord> {
    let Some(mut record) = last_record(project.dir()) else {
        miette::bail!(miette::miette!(
            help = "Run `nanoesp build` (both chips) first.",
            "no Nano build yet"
        ));
    };
    let board = &project.config.esp.module;
    ui.status(
        "Building",
        format!("ESP8266 sketch for {board} with arduino-cli"),
    );
    let sketch = crate::esp_sketch::build_image(project)?;
    record.esp = Some(sketch);
    save_record(project.dir(), &record)?;
    Ok(record)
}

/// Runs `nanoesp build`.
pub fn run(args: Args, ui: &Ui) -> miette::Result<Outcome> {
    let project = args.project.open()?;
    let esp_master = project.config.mode == nanoesp_project::model::Mode::EspMaster;
    if args.only.as_deref() == Some("esp") && !esp_master {
        miette::bail!(miette::miette!(
            help = "In nano-drives-esp projects the ESP runs Espressif's AT firmware: flash it with `nanoesp flash --only esp --at-firmware DIR`.",
            "--only esp builds the sketch of esp-master projects; this project is nano-drives-esp"
        ));
    }
    let mut record = match args.only.as_deref() {
        Some("esp") => build_esp(&project, ui)?,
        _ => build(&project, ui)?,
    };
    if esp_master && args.only.is_none() {
        record = build_esp(&project, ui)?;
    }
    let over_flash = record.flash > record.flash_limit;
    let over_sram = record.sram > record.sram_limit;
    if args.json {
        let mut value = serde_json::to_value(&record).into_diagnostic()?;
        value["ok"] = serde_json::Value::Bool(!over_flash && !over_sram);
        ui.out(serde_json::to_string_pretty(&value).into_diagnostic()?);
    } else {
        ui.status(
            "Finished",
            format!(
                "{} (build {}) in {:.1} s",
                record.elf.display(),
                record.build_id,
                record.seconds
            ),
        );
        ui.out(format!(
            "{}   {}",
            firmware::figure("Flash", record.flash, record.flash_limit),
            firmware::figure("SRAM", record.sram, record.sram_limit)
        ));
        if let Some(esp) = record
            .esp
            .as_ref()
            .filter(|_| args.only.as_deref() != Some("nano"))
        {
            ui.out(format!(
                "ESP   {} ({} {}, {} B) in {:.1} s",
                esp.image.display(),
                esp.fqbn,
                esp.esp_id,
                firmware::thousands(esp.bytes),
                esp.seconds
            ));
        }
    }
    if over_flash || over_sram {
        let what = match (over_flash, over_sram) {
            (true, true) => "flash and SRAM",
            (true, false) => "flash",
            _ => "SRAM",
        };
        ui.warn(format!(
            "the firmware does not fit the {}: {what} over the limit",
            record.board
        ));
        return Ok(Outcome::CheckFailed);
    }
    Ok(Outcome::Ok)
}
