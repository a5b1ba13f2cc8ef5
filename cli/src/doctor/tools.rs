//! Toolchain checks: host Rust, the AVR route, avr-gcc + avr-libc, avrdude (≥ 6.3, what
//! ravedude needs), ravedude, and arduino-cli for esp-master projects. Each failing check
//! carries the install command for the user's system.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::Check;
use crate::toolchain::{self, Toolchain};

/// The package manager family whose install commands we print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    /// Debian, Ubuntu and derivatives (apt).
    Debian,
    /// macOS (Homebrew).
    MacOs,
    /// Anything else: name the upstream projects.
    Other,
}

impl Os {
    /// The system we run on.
    pub fn detect() -> Os {
        if cfg!(target_os = "macos") {
            return Os::MacOs;
        }
        let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
        let like = release
            .lines()
            .filter(|l| l.starts_with("ID=") || l.starts_with("ID_LIKE="))
            .any(|l| l.contains("debian") || l.contains("ubuntu"));
        if like || Path::new("/etc/debian_version").is_file() {
            Os::Debian
        } else {
            Os::Other
        }
    }
}

/// The install command of a tool on `os`.
pub fn install_hint(tool: &str, os: Os) -> String {
    match (tool, os) {
        ("rust", _) => "install Rust with rustup: curl https://sh.rustup.rs -sSf | sh".into(),
        ("avr-rust", Os::Debian) => "rustup toolchain install nightly --component rust-src   (or: sudo apt-get install rustc-web cargo-web rust-web-src)".into(),
        ("avr-rust", _) => "rustup toolchain install nightly --component rust-src".into(),
        ("avr-gcc", Os::Debian) => "sudo apt-get install gcc-avr binutils-avr avr-libc".into(),
        ("avr-gcc", Os::MacOs) => "brew tap osx-cross/avr && brew install avr-gcc".into(),
        ("avr-gcc", Os::Other) => "install avr-gcc, binutils-avr and avr-libc from your distribution (or Microchip's AVR 8-bit toolchain)".into(),
        ("avrdude", Os::Debian) => "sudo apt-get install avrdude".into(),
        ("avrdude", Os::MacOs) => "brew install avrdude".into(),
        ("avrdude", Os::Other) => "install avrdude 6.3 or newer from your distribution or https://github.com/avrdudes/avrdude/releases".into(),
        ("ravedude", Os::Debian) => "sudo apt-get install libudev-dev pkg-config && cargo install --locked ravedude   (or run scripts/setup.sh)".into(),
        ("ravedude", _) => "cargo install --locked ravedude".into(),
        ("arduino-cli", Os::MacOs) => "brew install arduino-cli && arduino-cli core install esp8266:esp8266 --additional-urls https://arduino.esp8266.com/stable/package_esp8266com_index.json".into(),
        ("arduino-cli", _) => "curl -fsSL https://raw.githubusercontent.com/arduino/arduino-cli/master/install.sh | sh, then: arduino-cli core install esp8266:esp8266 --additional-urls https://arduino.esp8266.com/stable/package_esp8266com_index.json".into(),
        (other, _) => format!("install {other}"),
    }
}

fn first_line(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    String::from_utf8_lossy(&text)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_string)
}

/// `rustc --version` of the host (the one that builds nanoesp and ravedude).
pub fn host_rust(os: Os) -> Check {
    match first_line(Command::new("rustc").arg("--version")) {
        Some(v) => Check::ok("toolchain.host", v),
        None => Check::warn(
            "toolchain.host",
            "no rustc on PATH",
            install_hint("rust", os),
        ),
    }
}

/// The AVR route [`Toolchain::detect`] picks, and avr-gcc/avr-libc.
pub fn avr(os: Os) -> [Check; 2] {
    let route = match Toolchain::detect() {
        Ok(t) => Check::ok("toolchain.avr", t.describe()),
        Err(e) => Check::fail("toolchain.avr", e.to_string(), install_hint("avr-rust", os)),
    };
    let gcc = match toolchain::check_avr_gcc() {
        Ok(v) => Check::ok("toolchain.avr-gcc", format!("{v}, avr-libc found")),
        Err(e) => Check::fail(
            "toolchain.avr-gcc",
            e.to_string(),
            install_hint("avr-gcc", os),
        ),
    };
    [route, gcc]
}

/// Parses avrdude's version (`avrdude version 7.1, ...` or `Version 6.3-20171130`).
pub fn avrdude_version(text: &str) -> Option<(u32, u32)> {
    let lower = text.to_ascii_lowercase();
    let at = lower.find("version")? + "version".len();
    let rest = lower[at..].trim_start();
    let digits: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let mut parts = digits.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().and_then(|m| m.parse().ok()).unwrap_or(0);
    Some((major, minor))
}

/// avrdude ≥ 6.3 (ravedude's floor).
pub fn avrdude(os: Os) -> Check {
    // `avrdude -?` prints the version on its last line in 7.x; `-v` works everywhere but
    // exits 1 without a programmer, so read its output whatever the status.
    let out = Command::new("avrdude").arg("-v").output();
    let Ok(out) = out else {
        return Check::fail(
            "toolchain.avrdude",
            "avrdude not found on PATH",
            install_hint("avrdude", os),
        );
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    match avrdude_version(&text) {
        Some((maj, min)) if (maj, min) >= (6, 3) => {
            Check::ok("toolchain.avrdude", format!("avrdude {maj}.{min}"))
        }
        Some((maj, min)) => Check::fail(
            "toolchain.avrdude",
            format!("avrdude {maj}.{min} (6.3 or newer needed)"),
            install_hint("avrdude", os),
        ),
        None => Check::warn(
            "toolchain.avrdude",
            "avrdude runs but its version could not be read",
            install_hint("avrdude", os),
        ),
    }
}

/// Where `nanoesp flash` finds ravedude: `$NANOESP_RAVEDUDE`, `PATH`, then the tools
/// directory `scripts/setup.sh` installs into.
pub fn ravedude_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NANOESP_RAVEDUDE") {
        return Some(PathBuf::from(p));
    }
    let on_path = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("ravedude"))
        .find(|p| p.is_file());
    if on_path.is_some() {
        return on_path;
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(data.join("nanoesp/tools/bin/ravedude")).filter(|p| p.is_file())
}

/// ravedude (flashes the Nano).
pub fn ravedude(os: Os) -> Check {
    match ravedude_path() {
        Some(p) => match first_line(Command::new(&p).arg("--version")) {
            Some(v) => Check::ok("toolchain.ravedude", format!("{v} ({})", p.display())),
            None => Check::fail(
                "toolchain.ravedude",
                format!("{} does not run", p.display()),
                install_hint("ravedude", os),
            ),
        },
        None => Check::fail(
            "toolchain.ravedude",
            "ravedude not found",
            install_hint("ravedude", os),
        ),
    }
}

/// arduino-cli with the esp8266 core, needed only by esp-master projects.
pub fn arduino_cli(esp_master: bool, os: Os) -> Check {
    if !esp_master {
        return Check::skip(
            "toolchain.arduino-cli",
            "not needed: the Nano drives the ESP's stock AT firmware (nano-drives-esp)",
        );
    }
    let program = crate::esp_sketch::arduino_cli_program();
    match first_line(Command::new(&program).arg("version")) {
        None => Check::fail(
            "toolchain.arduino-cli",
            "arduino-cli not found",
            install_hint("arduino-cli", os),
        ),
        Some(v) => {
            let cores = Command::new(&program)
                .args(["core", "list"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            if cores.contains("esp8266:esp8266") {
                Check::ok(
                    "toolchain.arduino-cli",
                    format!("{v}, esp8266 core installed"),
                )
            } else {
                Check::fail(
                    "toolchain.arduino-cli",
                    format!("{v}, no esp8266 core"),
                    install_hint("arduino-cli", os),
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avrdude_versions() {
        assert_eq!(
            avrdude_version("avrdude version 7.1, URL: <https://github.com/avrdudes/avrdude>"),
            Some((7, 1))
        );
        assert_eq!(
            avrdude_version("avrdude: Version 6.3-20171130\n  Copyright"),
            Some((6, 3))
        );
        assert_eq!(avrdude_version("avrdude: Version 5.11"), Some((5, 11)));
        assert!((5, 11) < (6, 3));
        assert_eq!(avrdude_version("nothing"), None);
    }

    #[test]
    fn hints_name_the_package_manager() {
        assert!(install_hint("avr-gcc", Os::Debian).contains("apt-get install gcc-avr"));
        assert!(install_hint("avr-gcc", Os::MacOs).contains("brew"));
        assert!(install_hint("avrdude", Os::Other).contains("6.3"));
    }
}
