//! Shared helpers: a command builder for the binary and a temporary project factory.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The `nanoesp` binary with a clean, non-interactive environment.
pub fn nanoesp() -> Command {
    let mut cmd = Command::cargo_bin("nanoesp").unwrap();
    cmd.env("CI", "true")
        .env("NO_COLOR", "1")
        .env_remove("NANOESP_PROJECT");
    cmd
}

/// A scratch directory that disappears with the test.
pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("nanoesp-test-")
        .tempdir()
        .unwrap()
}

/// Creates a project with `--yes` plus `extra` flags and returns its path.
pub fn new_project(root: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let dir = root.join(name);
    nanoesp()
        .arg("new")
        .arg(&dir)
        .arg("--yes")
        .args(extra)
        .assert()
        .success();
    dir
}

/// stdout + stderr of a finished command, as text.
pub fn all_output(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Target directory shared by every AVR build in the tests, so `core` is compiled once.
pub fn avr_target_dir() -> PathBuf {
    match std::env::var_os("NANOESP_TEST_AVR_TARGET") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/avr-tests"),
    }
}
