//! Locating and starting `nanoesp-sim`, the virtual bench.
//!
//! The simulator links GPL-licensed simavr, so it is a separate program that nanoesp starts
//! as a subprocess and talks to through its documented stdout lines (`sim/README.md`).

use std::path::PathBuf;

/// The simulator binary is missing.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("the virtual bench (nanoesp-sim) was not found")]
#[diagnostic(
    code(nanoesp::sim::not_found),
    help(
        "Build it next to nanoesp: cargo build --release -p nanoesp-sim (needs: sudo apt-get install libsimavr-dev libelf-dev pkg-config), or point NANOESP_SIM at it."
    )
)]
pub struct SimNotFound;

/// Finds `nanoesp-sim`: `$NANOESP_SIM`, then beside this executable, then on `PATH`.
///
/// # Errors
/// [`SimNotFound`] with the build command.
pub fn locate() -> Result<PathBuf, SimNotFound> {
    if let Some(path) = std::env::var_os("NANOESP_SIM") {
        return Ok(PathBuf::from(path));
    }
    let name = format!("nanoesp-sim{}", std::env::consts::EXE_SUFFIX);
    if let Ok(exe) = std::env::current_exe() {
        // Beside us, or one level up when we are a test binary in target/<profile>/deps.
        for dir in exe.ancestors().skip(1).take(2) {
            let candidate = dir.join(&name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(&name))
        .find(|p| p.is_file())
        .ok_or(SimNotFound)
}

/// Arguments describing the ESP link, shared by `run` and `bench`.
pub fn link_args(kind: &str, rx: &str, tx: &str, baud: u32) -> Vec<String> {
    vec![
        "--link".into(),
        kind.into(),
        "--rx".into(),
        rx.into(),
        "--tx".into(),
        tx.into(),
        "--baud".into(),
        baud.to_string(),
    ]
}

/// Access-point arguments for the emulator from a project: its SSID, its secrets file
/// (the password is read by the simulator from the file, never passed on the command
/// line), and with `wifi.mode = "stored"` an emulated ESP already provisioned with them
/// (as `nanoesp flash --provision` leaves a real one).
/// The SSID is always the second element (`--ap-ssid`, SSID, ...).
pub fn ap_args(project: &nanoesp_project::Project) -> Vec<String> {
    let secrets = project.secrets_path();
    let mut args = vec!["--ap-ssid".to_string(), project.config.wifi.ssid.clone()];
    if secrets.is_file() {
        args.push("--ap-password-file".into());
        args.push(secrets.to_string_lossy().into_owned());
    }
    if project.config.wifi.mode == nanoesp_project::model::WifiMode::Stored {
        args.push("--esp-stored-wifi".into());
    }
    args
}
