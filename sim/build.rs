//! Compiles the C shim (`csrc/shim.c`) against Debian's libsimavr 1.6 and links it.
//!
//! Flags come from `pkg-config simavr`; simavr's ELF loader also needs libelf.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=csrc/shim.c");
    let cflags = pkg_config(&["--cflags", "simavr"]);
    let libs = pkg_config(&["--libs", "simavr"]);
    let mut build = cc::Build::new();
    build.file("csrc/shim.c").warnings(true).opt_level(2);
    for flag in cflags.split_whitespace() {
        if let Some(dir) = flag.strip_prefix("-I") {
            build.include(dir);
        } else {
            build.flag(flag);
        }
    }
    build.compile("nanoesp_sim_shim");
    for flag in libs.split_whitespace() {
        if let Some(dir) = flag.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={dir}");
        } else if let Some(lib) = flag.strip_prefix("-l") {
            println!("cargo:rustc-link-lib={lib}");
        }
    }
    println!("cargo:rustc-link-lib=elf");
}

fn pkg_config(args: &[&str]) -> String {
    let output = Command::new("pkg-config").args(args).output();
    match output {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).into_owned(),
        _ => panic!(
            "`pkg-config {}` failed: install libsimavr-dev, libelf-dev and pkg-config (Debian)",
            args.join(" ")
        ),
    }
}
