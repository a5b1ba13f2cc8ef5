//! `nanoesp flash`, `ports` and `monitor` against the virtual bench: a simulated Nano
//! waiting in a real serial bootloader (optiboot built from Debian's sources, or the
//! packaged ATmegaBOOT) with strict baud, flashed by ravedude/avrdude; an emulated
//! ESP8266 ROM loader on its own adapter pty, flashed by the espflash 2.1 library.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::helpers::*;

fn flash(dir: &Path, args: &[&str]) -> std::process::Output {
    nanoesp()
        .arg("flash")
        .args(args)
        .arg("--project")
        .arg(dir)
        .env("CARGO_TARGET_DIR", avr_target_dir())
        .output_within(BENCH_COMMAND_LIMIT)
}

fn build_id(dir: &Path) -> String {
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(".nanoesp/build.json")).unwrap())
            .unwrap();
    record["build_id"].as_str().unwrap().to_string()
}

/// A stand-in for Espressif's NonOS AT 1.7 bin folder: the real file names and layout,
/// recognisable contents (each file filled with its own byte).
fn fake_at_firmware(root: &Path) -> PathBuf {
    let bin = root.join("ESP8266_NonOS_AT_Bin_V1.7.4/bin");
    let files: [(&str, usize, u8); 5] = [
        ("boot_v1.7.bin", 4080, 0xe9),
        ("at/512+512/user1.1024.new.2.bin", 20_000, 0x12),
        ("at/1024+1024/user1.2048.new.5.bin", 24_000, 0x15),
        ("esp_init_data_default_v08.bin", 128, 0x08),
        ("blank.bin", 4096, 0xff),
    ];
    for (name, len, fill) in files {
        let path = bin.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut data = vec![fill; len];
        data[1] = 0x5a; // not all one byte, so a shifted write would show
        std::fs::write(path, data).unwrap();
    }
    bin
}

#[test]
fn flash_programs_the_simulated_nano_and_the_new_firmware_serves() {
    let tmp = scratch();
    let dir = new_project(tmp.path(), "flashnano", &[]);
    let (_bench, serving) = bootloader_bench(&dir, "optiboot");
    let port = dir.join(".nanoesp/sim/nano");
    let out = flash(
        &dir,
        &["--only", "nano", "--nano-port", port.to_str().unwrap()],
    );
    let text = all_output(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("written and verified"), "{text}");
    assert!(text.contains("optiboot bootloader, 115200 baud"), "{text}");
    // The bootloader times out into the new firmware, which brings the ESP up and serves.
    let url = serving
        .recv_timeout(Duration::from_secs(120))
        .expect("the flashed firmware never served");
    let status = get(&url, "/api/status");
    assert!(
        status.contains(&format!("\"firmware\":\"{}\"", build_id(&dir))),
        "{status}"
    );
    // monitor: opening the console resets the Nano (as DTR does); its banner comes back
    // tagged and timestamped, and --until ends the monitor with success.
    let banner = format!("nanoesp {} board=", build_id(&dir));
    let out = nanoesp()
        .args([
            "monitor",
            "--duration",
            "60",
            "--until",
            &banner,
            "--project",
        ])
        .arg(&dir)
        .output_within(Duration::from_secs(60 + 120));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", all_output(&out));
    let line = text
        .lines()
        .find(|l| l.contains(&banner))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.starts_with('[') && line.contains(" nano] "), "{line}");
    // doctor --sim finds this running bench (published in .nanoesp/sim/bench.json) and
    // checks it instead of starting its own.
    let out = nanoesp()
        .args(["doctor", "--sim", "--json", "--project"])
        .arg(&dir)
        .env("CARGO_TARGET_DIR", avr_target_dir())
        .output_within(BENCH_COMMAND_LIMIT);
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", all_output(&out)));
    assert_eq!(report["mode"], "hardware", "{report:#}");
    assert_eq!(report["url"], url.as_str(), "{report:#}");
    let status = |id: &str| {
        report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .map(|c| c["status"].clone())
    };
    assert_eq!(status("server.status"), Some("ok".into()), "{report:#}");
    assert_eq!(status("nano.console"), Some("ok".into()), "{report:#}");
}

#[test]
fn flash_falls_back_to_the_old_bootloader_and_stores_it_with_yes() {
    let tmp = scratch();
    let dir = new_project(tmp.path(), "flashold", &["--nano", "nano"]);
    let (_bench, _) = bootloader_bench(&dir, "atmegaboot");
    // port = "auto": the bench's ptys are found in .nanoesp/sim and identified by protocol.
    let out = flash(&dir, &["--only", "nano", "--yes"]);
    let text = all_output(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Found Nano on"), "{text}");
    assert!(
        text.contains("no optiboot bootloader answered at 115200 baud"),
        "{text}"
    );
    assert!(text.contains("atmegaboot bootloader, 57600 baud"), "{text}");
    let config = std::fs::read_to_string(dir.join("nanoesp.toml")).unwrap();
    assert!(config.contains("board = \"nano-old\""), "{config}");
    // comments survive the edit
    assert!(config.contains("# "), "{config}");
}

#[test]
fn ports_identify_both_chips_and_flash_writes_the_at_firmware_verified() {
    let tmp = scratch();
    let dir = new_project(tmp.path(), "flashesp", &[]);
    let (bench, _) = bootloader_bench(&dir, "optiboot");
    let ports = nanoesp()
        .args(["ports", "--json"])
        .env("NANOESP_PROJECT", &dir)
        .output()
        .unwrap();
    assert!(ports.status.success(), "{}", all_output(&ports));
    let found: serde_json::Value = serde_json::from_slice(&ports.stdout).unwrap();
    let kind_of = |name: &str| {
        found
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["path"].as_str().unwrap().ends_with(name))
            .map(|p| p["identity"]["kind"].as_str().unwrap_or("").to_string())
    };
    assert_eq!(kind_of("sim/nano").as_deref(), Some("nano"), "{found}");
    assert_eq!(kind_of("sim/esp").as_deref(), Some("esp-rom"), "{found}");

    // monitor --esp shows the ESP's port too, with its ROM boot banner decoded. It ends
    // at the banner (printed with its decoding first) rather than after a fixed 3 s, which
    // a loaded machine could use up before the emulated module has printed it.
    let out = nanoesp()
        .args(["monitor", "--esp", "--duration", "60"])
        .args(["--until", "boot mode:(", "--port"])
        .arg(dir.join(".nanoesp/sim/nano"))
        .arg("--esp-port")
        .arg(dir.join(".nanoesp/sim/esp"))
        .arg("--project")
        .arg(&dir)
        .output_within(Duration::from_secs(60 + 120));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(
        text.lines()
            .any(|l| l.contains(" esp ] ^ ROM boot banner") && l.contains("boot mode (1,")),
        "{text}"
    );

    let at = fake_at_firmware(tmp.path());
    let out = flash(
        &dir,
        &[
            "--only",
            "esp",
            "--esp-baud",
            "460800",
            "--at-firmware",
            at.to_str().unwrap(),
        ],
    );
    let text = all_output(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("verified (MD5)"), "{text}");
    assert!(text.contains("Found ESP8266 on"), "{text}");
    assert!(text.contains("link switched to 460800"), "{text}");
    drop(bench); // the adapter saves its flash file on exit
    let flash = std::fs::read(dir.join(".nanoesp/sim/esp-flash.bin")).unwrap();
    assert_eq!(flash.len(), 4 * 1024 * 1024);
    // The 4 MB map of NonOS AT 1.7 (bin/at/README.md): boot at 0, user1 (1024+1024) at
    // 0x1000, init data at 0x3fc000, blanks at 0xfe000 and 0x3fe000.
    let read = |name: &str| std::fs::read(at.join(name)).unwrap();
    let at_addr = |addr: usize, data: &[u8]| {
        assert!(
            flash[addr..addr + data.len()] == *data,
            "flash at {addr:#x} does not hold the expected {} bytes",
            data.len()
        )
    };
    at_addr(0, &read("boot_v1.7.bin"));
    at_addr(0x1000, &read("at/1024+1024/user1.2048.new.5.bin"));
    at_addr(0x3fc000, &read("esp_init_data_default_v08.bin"));
    for blank in [0xfe000, 0x3fe000] {
        at_addr(blank, &read("blank.bin"));
    }
}

#[test]
fn flash_refuses_a_missing_port_before_building() {
    let tmp = scratch();
    let dir = new_project(tmp.path(), "noport", &[]);
    let out = flash(&dir, &["--only", "nano", "--nano-port", "/dev/ttyUSB97"]);
    let text = all_output(&out);
    assert!(!out.status.success());
    assert!(
        text.contains("/dev/ttyUSB97: no such serial port"),
        "{text}"
    );
    assert!(text.contains("nanoesp ports"), "{text}");
    assert!(!text.contains("Building"), "{text}");
}

#[test]
fn flash_refuses_esp_at_2_without_force() {
    let tmp = scratch();
    let dir = new_project(tmp.path(), "at2", &[]);
    let fw = tmp.path().join("ESP8266-IDF-AT_V2.2.1.0");
    std::fs::create_dir_all(fw.join("factory")).unwrap();
    std::fs::write(fw.join("factory/factory_WROOM-02.bin"), vec![0xe9; 4096]).unwrap();
    let out = flash(
        &dir,
        &[
            "--only",
            "esp",
            "--esp-port",
            "/dev/null",
            "--at-firmware",
            fw.to_str().unwrap(),
        ],
    );
    let text = all_output(&out);
    assert!(!out.status.success());
    assert!(text.contains("ESP-AT 2.x"), "{text}");
    assert!(text.contains("GPIO13/GPIO15"), "{text}");
}

#[test]
fn an_esp_that_is_not_in_download_mode_is_a_clear_error() {
    let tmp = scratch();
    let dir = new_project(tmp.path(), "silent", &[]);
    let (_adapter, pty) = esp_adapter(tmp.path(), &["--rom-faults", "silent"]);
    let at = fake_at_firmware(tmp.path());
    let out = flash_esp(&dir, &pty, &at);
    let text = all_output(&out);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("not in download mode"), "{text}");
    assert!(!text.contains("verified"), "{text}");
    // The silent loader still printed its boot banner: in download mode, so the wires.
    let flat = flatten(&text);
    assert!(flat.contains("boot mode (1,"), "{text}");
    assert!(flat.contains("it IS in download mode"), "{text}");
}

#[test]
fn an_esp_booting_from_flash_gets_the_gpio0_advice_from_its_rom_banner() {
    let tmp = scratch();
    let dir = new_project(tmp.path(), "bootflash", &["--esp", "esp01"]);
    let (_adapter, pty) = esp_adapter(tmp.path(), &["--boot", "flash", "--flash-size", "1M"]);
    let at = fake_at_firmware(tmp.path());
    let out = flash_esp(&dir, &pty, &at);
    let text = all_output(&out);
    assert!(!out.status.success(), "{text}");
    // ESP-01: no auto-reset, so the steps are shown before connecting
    assert!(text.contains("hold GPIO0 to GND"), "{text}");
    let flat = flatten(&text);
    assert!(flat.contains("boot mode (3,"), "{text}");
    assert!(flat.contains("hold GPIO0 low while pulsing RST"), "{text}");
}

#[test]
fn provision_stores_the_wifi_credentials_without_printing_the_password() {
    let tmp = scratch();
    let dir = new_project(
        tmp.path(),
        "provision",
        &["--ssid", "lab \"5\",x", "--password", "p,w\"d\\secret"],
    );
    // An ESP8266 running AT firmware: an image in flash, booted from flash.
    let flash_file = tmp.path().join("esp-flash.bin");
    let mut image = vec![0xff; 4 * 1024 * 1024];
    image[0] = 0xe9;
    std::fs::write(&flash_file, image).unwrap();
    let secrets = dir.join("secrets.toml");
    let (_adapter, pty) = esp_adapter(
        tmp.path(),
        &[
            "--boot",
            "flash",
            "--ap-ssid",
            "lab \"5\",x",
            "--ap-password-file",
            secrets.to_str().unwrap(),
            "--flash-file",
            flash_file.to_str().unwrap(),
        ],
    );
    let out = flash(
        &dir,
        &[
            "--only",
            "esp",
            "--provision",
            "--esp-port",
            pty.to_str().unwrap(),
        ],
    );
    let text = all_output(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("stored (AT+CWJAP_DEF)"), "{text}");
    assert!(!text.contains("secret"), "password printed: {text}");
}

/// `nanoesp-sim esp-adapter` with `args` on a pty in `dir`; the running adapter and the pty.
fn esp_adapter(dir: &Path, args: &[&str]) -> (Running, PathBuf) {
    let pty = dir.join("esp");
    let mut cmd = std::process::Command::new(sim_binary());
    cmd.arg("esp-adapter")
        .args(args)
        .arg("--pty")
        .arg(&pty)
        .stdout(Stdio::null())
        .process_group(0);
    let running = Running::new(cmd.spawn().unwrap());
    wait_for_path(&pty, 20);
    (running, pty)
}

/// `nanoesp flash --only esp` of the AT firmware `at` through `port`.
fn flash_esp(dir: &Path, port: &Path, at: &Path) -> std::process::Output {
    flash(
        dir,
        &[
            "--only",
            "esp",
            "--esp-port",
            port.to_str().unwrap(),
            "--at-firmware",
            at.to_str().unwrap(),
        ],
    )
}

/// The report's text without miette's line wrapping and gutter.
fn flatten(text: &str) -> String {
    text.split_whitespace()
        .filter(|w| *w != "│")
        .collect::<Vec<_>>()
        .join(" ")
}

/// The simulator binary the CLI itself would start.
fn sim_binary() -> PathBuf {
    match std::env::var_os("NANOESP_SIM") {
        Some(p) => PathBuf::from(p),
        None => assert_cmd::cargo::cargo_bin("nanoesp-sim"),
    }
}

#[test]
fn a_port_another_program_holds_is_reported_not_taken() {
    let tmp = scratch();
    let (_adapter, pty) = esp_adapter(tmp.path(), &[]);
    // a serial monitor left open elsewhere
    let mut holder = std::process::Command::new("sleep")
        .arg("30")
        .stdin(std::fs::File::open(&pty).unwrap())
        .spawn()
        .unwrap();
    let out = nanoesp()
        .args(["ports", "--json", "--port"])
        .arg(&pty)
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(out.status.success(), "{}", all_output(&out));
    let found: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let entry = found
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["path"].as_str() == pty.to_str())
        .unwrap_or_else(|| panic!("{found}"));
    assert_eq!(entry["identity"]["kind"], "busy", "{found}");
    assert!(
        entry["identity"]["holders"]
            .as_str()
            .unwrap()
            .contains("sleep"),
        "{found}"
    );
}

#[test]
fn esp_bin_is_written_at_zero_and_anything_else_is_refused() {
    let tmp = scratch();
    let dir = new_project(tmp.path(), "espbin", &[]);
    let flash_file = tmp.path().join("esp-flash.bin");
    let (adapter, pty) = esp_adapter(tmp.path(), &["--flash-file", flash_file.to_str().unwrap()]);
    let elf = tmp.path().join("sketch.ino.elf");
    std::fs::write(&elf, b"\x7fELF not an image").unwrap();
    let port = pty.to_str().unwrap();
    let refused = flash(
        &dir,
        &[
            "--only",
            "esp",
            "--esp-port",
            port,
            "--esp-bin",
            elf.to_str().unwrap(),
        ],
    );
    assert!(!refused.status.success());
    assert!(
        flatten(&all_output(&refused)).contains("does not start with 0xE9"),
        "{}",
        all_output(&refused)
    );

    let sketch = tmp.path().join("sketch.ino.bin");
    let mut image = vec![0u8; 50_000];
    image[0] = 0xe9;
    for (i, b) in image.iter_mut().enumerate().skip(1) {
        *b = (i * 7 % 251) as u8;
    }
    std::fs::write(&sketch, &image).unwrap();
    let out = flash(
        &dir,
        &[
            "--only",
            "esp",
            "--esp-port",
            port,
            "--esp-bin",
            sketch.to_str().unwrap(),
        ],
    );
    let text = all_output(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("verified (MD5)"), "{text}");
    drop(adapter); // saves the flash file
    let flash = std::fs::read(&flash_file).unwrap();
    assert!(flash[..image.len()] == image[..], "image not at 0x0");
}

#[test]
fn esp_master_flashes_its_built_sketch_at_zero_and_refuses_at_firmware() {
    let tmp = scratch();
    let dir = new_project(tmp.path(), "master-flash", &["--mode", "esp-master"]);
    let cli = crate::esp_master::fake_arduino_cli(tmp.path(), true);
    let flash_file = tmp.path().join("esp-flash.bin");
    let (adapter, pty) = esp_adapter(tmp.path(), &["--flash-file", flash_file.to_str().unwrap()]);
    let refused = flash(
        &dir,
        &[
            "--only",
            "esp",
            "--esp-port",
            pty.to_str().unwrap(),
            "--provision",
        ],
    );
    assert!(!refused.status.success());
    assert!(
        flatten(&all_output(&refused)).contains("are for nano-drives-esp projects"),
        "{}",
        all_output(&refused)
    );
    let out = nanoesp()
        .args(["flash", "--only", "esp", "--esp-port"])
        .arg(&pty)
        .arg("--project")
        .arg(&dir)
        .env("CARGO_TARGET_DIR", avr_target_dir())
        .env("NANOESP_ARDUINO_CLI", &cli)
        .output_within(BENCH_COMMAND_LIMIT);
    let text = all_output(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("verified (MD5)"), "{text}");
    drop(adapter); // saves the flash file
    let image = std::fs::read(dir.join(".nanoesp/build/esp/esp.ino.bin")).unwrap();
    assert_eq!(image.len(), 4096);
    assert_eq!(image[0], 0xe9);
    let flash = std::fs::read(&flash_file).unwrap();
    assert!(
        flash[..image.len()] == image[..],
        "the sketch is not at 0x0"
    );
}
