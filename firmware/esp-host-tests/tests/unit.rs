//! Compiles the C++ unit tests of the esp-master ESP8266 core with g++ and runs them.

use std::path::Path;
use std::process::Command;

#[test]
fn cpp_unit_tests_pass() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("esp-host-tests");
    run_unit_tests(&nanoesp_esp_host_tests::build_unit_tests(&out));
}

#[test]
fn cpp_unit_tests_pass_under_address_and_undefined_sanitizers() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("esp-host-tests");
    run_unit_tests(&nanoesp_esp_host_tests::build_unit_tests_sanitized(&out));
}

fn run_unit_tests(bin: &Path) {
    let o = Command::new(bin).output().expect("run the unit tests");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        o.status.success(),
        "C++ unit tests failed:\n{stdout}\n{stderr}"
    );
    let summary = stdout.lines().last().unwrap_or_default();
    assert!(summary.ends_with(", 0 failed checks"), "{stdout}");
    let count: usize = summary.split(' ').next().unwrap().parse().unwrap();
    assert!(count >= 25, "only {count} tests ran:\n{stdout}");
}

#[test]
fn host_program_builds_with_the_documented_command() {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("esp-host-tests-doc");
    let bin = nanoesp_esp_host_tests::build_host(&out);
    let o = Command::new(&bin).arg("--help").output().unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--serial PATH"));
    // Bad arguments: exit status 2 and a message.
    let o = Command::new(&bin)
        .arg("--max-clients")
        .arg("0")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let o = Command::new(&bin).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--serial PATH is required"));
    // The documented command in main.cpp is the one build_host runs.
    let main =
        std::fs::read_to_string(nanoesp_esp_host_tests::esp_dir().join("host/main.cpp")).unwrap();
    assert!(main.contains(
        "g++ -std=c++17 -O2 -Wall -Wextra -Werror -I src src/nanoesp/*.cpp host/*.cpp -o nanoesp-esp-host"
    ));
}
