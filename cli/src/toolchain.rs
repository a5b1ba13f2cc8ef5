//! Which Rust toolchain can build for the ATmega328P, and the other tools the build needs.
//!
//! AVR needs `-Z build-std=core`, so the compiler's library sources must be installed. Two
//! routes work: rustup's nightly with the `rust-src` component (the usual one on a user's
//! machine), or a distribution rustc whose sources are packaged (Debian's `rustc-web` +
//! `rust-web-src`, run from `/usr/bin` with `RUSTC_BOOTSTRAP=1`). The first that is complete
//! wins; `NANOESP_TOOLCHAIN=rustup|system` forces one.

use std::path::{Path, PathBuf};
use std::process::Command;

/// How the firmware will be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `rustup run <toolchain> cargo`.
    Rustup {
        /// Toolchain name (`nightly`).
        toolchain: String,
    },
    /// A cargo/rustc pair outside rustup, with `RUSTC_BOOTSTRAP=1`.
    System {
        /// cargo binary.
        cargo: PathBuf,
        /// rustc binary.
        rustc: PathBuf,
    },
}

/// A usable AVR toolchain.
#[derive(Debug, Clone)]
pub struct Toolchain {
    /// How to run it.
    pub route: Route,
    /// `rustc --version` output.
    pub rustc_version: String,
    /// Where the library sources are.
    pub library_src: PathBuf,
}

/// What is missing, with the command that installs it.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ToolchainError {
    /// No toolchain with library sources.
    #[error("no Rust toolchain that can build for AVR was found ({tried})")]
    #[diagnostic(
        code(nanoesp::toolchain::rust),
        help(
            "Install one of:\n  rustup toolchain install nightly --component rust-src\n  sudo apt-get install rustc-web cargo-web rust-web-src   (Debian 12 / Ubuntu)"
        )
    )]
    NoRust {
        /// What was looked at.
        tried: String,
    },
    /// avr-gcc (the linker) is missing.
    #[error("avr-gcc was not found on PATH (it links the firmware)")]
    #[diagnostic(
        code(nanoesp::toolchain::avr_gcc),
        help(
            "Install it: sudo apt-get install gcc-avr binutils-avr avr-libc   (macOS: brew tap osx-cross/avr && brew install avr-gcc)"
        )
    )]
    NoAvrGcc,
    /// avr-libc is missing.
    #[error("avr-libc was not found (avr-gcc cannot find libc.a for the ATmega328P)")]
    #[diagnostic(
        code(nanoesp::toolchain::avr_libc),
        help("Install it: sudo apt-get install avr-libc")
    )]
    NoAvrLibc,
}

fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn library_src(sysroot: &str) -> Option<PathBuf> {
    let src = Path::new(sysroot).join("lib/rustlib/src/rust/library");
    src.join("core/Cargo.toml").is_file().then_some(src)
}

fn rustup() -> Result<Toolchain, String> {
    let toolchain = "nightly";
    let sysroot =
        output(Command::new("rustup").args(["run", toolchain, "rustc", "--print", "sysroot"]))
            .ok_or_else(|| "rustup nightly: not installed".to_string())?;
    let library_src =
        library_src(&sysroot).ok_or_else(|| "rustup nightly: no rust-src".to_string())?;
    let rustc_version =
        output(Command::new("rustup").args(["run", toolchain, "rustc", "--version"]))
            .unwrap_or_default();
    Ok(Toolchain {
        route: Route::Rustup {
            toolchain: toolchain.into(),
        },
        rustc_version,
        library_src,
    })
}

fn system() -> Result<Toolchain, String> {
    let rustc = PathBuf::from("/usr/bin/rustc");
    let cargo = PathBuf::from("/usr/bin/cargo");
    if !rustc.is_file() || !cargo.is_file() {
        return Err("/usr/bin/rustc: not installed".into());
    }
    let sysroot = output(Command::new(&rustc).args(["--print", "sysroot"]))
        .ok_or_else(|| "/usr/bin/rustc: does not run".to_string())?;
    let library_src =
        library_src(&sysroot).ok_or_else(|| "/usr/bin/rustc: no library sources".to_string())?;
    let rustc_version = output(Command::new(&rustc).arg("--version")).unwrap_or_default();
    Ok(Toolchain {
        route: Route::System { cargo, rustc },
        rustc_version,
        library_src,
    })
}

impl Toolchain {
    /// Finds a toolchain (see the module docs for the order).
    ///
    /// # Errors
    /// [`ToolchainError::NoRust`] naming what was tried.
    pub fn detect() -> Result<Toolchain, ToolchainError> {
        let forced = std::env::var("NANOESP_TOOLCHAIN").ok();
        let mut tried = Vec::new();
        if forced.as_deref() != Some("system") {
            match rustup() {
                Ok(t) => return Ok(t),
                Err(e) => tried.push(e),
            }
        }
        if forced.as_deref() != Some("rustup") {
            match system() {
                Ok(t) => return Ok(t),
                Err(e) => tried.push(e),
            }
        }
        Err(ToolchainError::NoRust {
            tried: tried.join("; "),
        })
    }

    /// One line for humans: which route, which compiler.
    pub fn describe(&self) -> String {
        match &self.route {
            Route::Rustup { toolchain } => {
                format!("rustup {toolchain} + rust-src ({})", self.rustc_version)
            }
            Route::System { rustc, .. } => format!(
                "{} with packaged library sources, RUSTC_BOOTSTRAP=1 ({})",
                rustc.display(),
                self.rustc_version
            ),
        }
    }

    /// A `cargo` command for this toolchain, with a clean environment: variables an outer
    /// cargo or rustup sets (when nanoesp itself runs under cargo) would change the build.
    pub fn cargo(&self) -> Command {
        let mut cmd = match &self.route {
            Route::Rustup { toolchain } => {
                let mut c = Command::new("rustup");
                c.args(["run", toolchain, "cargo"]);
                c
            }
            Route::System { cargo, rustc } => {
                let mut c = Command::new(cargo);
                c.env("RUSTC", rustc).env("RUSTC_BOOTSTRAP", "1");
                let path = std::env::var_os("PATH").unwrap_or_default();
                let mut dirs = vec![
                    rustc
                        .parent()
                        .unwrap_or(Path::new("/usr/bin"))
                        .to_path_buf(),
                ];
                dirs.extend(std::env::split_paths(&path));
                c.env("PATH", std::env::join_paths(dirs).unwrap_or(path));
                c
            }
        };
        for var in [
            "RUSTUP_TOOLCHAIN",
            "CARGO",
            "CARGO_BUILD_TARGET",
            "CARGO_ENCODED_RUSTFLAGS",
            "RUSTFLAGS",
            "RUSTC_WRAPPER",
            "RUSTC_WORKSPACE_WRAPPER",
            "CARGO_MAKEFLAGS",
            "CARGO_MANIFEST_DIR",
        ] {
            cmd.env_remove(var);
        }
        if matches!(self.route, Route::Rustup { .. }) {
            cmd.env_remove("RUSTC");
        }
        cmd
    }
}

/// Checks that avr-gcc and avr-libc are installed; returns avr-gcc's version line.
///
/// # Errors
/// Which one is missing, with the install command.
pub fn check_avr_gcc() -> Result<String, ToolchainError> {
    let version =
        output(Command::new("avr-gcc").arg("--version")).ok_or(ToolchainError::NoAvrGcc)?;
    let libc =
        output(Command::new("avr-gcc").args(["-mmcu=atmega328p", "-print-file-name=libc.a"]))
            .ok_or(ToolchainError::NoAvrGcc)?;
    if !Path::new(&libc).is_absolute() || !Path::new(&libc).is_file() {
        return Err(ToolchainError::NoAvrLibc);
    }
    Ok(version.lines().next().unwrap_or_default().to_string())
}
