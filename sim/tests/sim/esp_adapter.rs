//! `nanoesp-sim esp-adapter`: the ESP flashing library (`nanoesp_flash::esp`, real
//! espflash 2.1 code) through the adapter's pty, then the AT firmware in flash mode.

use std::path::Path;
use std::time::Duration;

use nanoesp_flash::esp::{self, EspError, Image, NoProgress, Reset, Verification, at_firmware};

use crate::helpers::{Sim, wait_for_path};

const MB: u32 = 1 << 20;

/// A fake NonOS AT 1.7 bin folder; the boot image starts with the 0xE9 image magic.
fn fake_at_firmware(dir: &Path) -> Vec<Image> {
    let files: &[(&str, usize)] = &[
        ("bin/boot_v1.7.bin", 4080),
        ("bin/at/512+512/user1.1024.new.2.bin", 120_000),
        ("bin/esp_init_data_default_v08.bin", 128),
        ("bin/blank.bin", 4096),
    ];
    let mut x: u32 = 0x1234_5678;
    for (name, len) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut data: Vec<u8> = (0..*len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                if i % 4 == 0 {
                    (x >> 8) as u8
                } else {
                    (i % 61) as u8
                }
            })
            .collect();
        if name.ends_with("blank.bin") {
            data.fill(0xff);
        }
        if name.ends_with("boot_v1.7.bin") {
            data[0] = 0xe9;
        }
        std::fs::write(path, data).unwrap();
    }
    let fw = at_firmware::load(dir).unwrap();
    at_firmware::plan(&fw, MB).unwrap()
}

fn adapter(link: &Path, flash: &Path, extra: &[&str]) -> Sim {
    let mut args = vec![
        "esp-adapter",
        "--pty",
        link.to_str().unwrap(),
        "--flash-size",
        "1M",
        "--flash-file",
        flash.to_str().unwrap(),
        "--mac",
        "5C:CF:7F:AA:BB:CC",
    ];
    args.extend_from_slice(extra);
    let mut sim = Sim::start(&args);
    let line = sim.wait_line("nanoesp-sim: esp adapter at", 20);
    assert!(line.contains(link.to_str().unwrap()), "{line}");
    wait_for_path(link, 5);
    sim
}

#[test]
fn esp_adapter_flashes_at_firmware_then_answers_at_in_flash_mode() {
    let dir = tempfile::tempdir().unwrap();
    let images = fake_at_firmware(&dir.path().join("at"));
    let link = dir.path().join("esp");
    let flash = dir.path().join("flash.bin");

    let sim = adapter(&link, &flash, &["--boot", "download"]);
    let info = esp::probe_rom(&link, Duration::from_secs(2))
        .unwrap()
        .expect("the ROM loader answers SYNC");
    assert_eq!(info.flash_size_bytes, MB);
    assert_eq!(info.mac, "5c:cf:7f:aa:bb:cc");
    // Stub and ROM paths, each right after the other: reconnecting after a stub
    // session must reset the module out of the stub. Every run writes the same images.
    for stub in [true, false, true, false] {
        let mut session = esp::connect(&link, Reset::Auto, stub).unwrap();
        assert_eq!(session.info().flash_size_bytes, MB);
        assert_eq!(session.info().mac, "5c:cf:7f:aa:bb:cc");
        assert_eq!(session.stub(), stub);
        let report = session.write(&images, &mut NoProgress).unwrap();
        println!(
            "pty, {}: {} bytes, {} out / {} in on the wire, {:.3} s wall, {:?}",
            if stub { "stub+deflate" } else { "ROM plain" },
            report.bytes,
            report.wire_bytes_out,
            report.wire_bytes_in,
            report.seconds,
            report.verified
        );
        if stub {
            assert_eq!(report.verified, Verification::Md5);
        } else {
            assert!(matches!(report.verified, Verification::NotVerified(_)));
        }
    }
    let err = sim.stop();
    assert!(!err.contains("error"), "{err}");
    let saved = std::fs::read(&flash).unwrap();
    assert_eq!(saved.len(), MB as usize);
    for image in &images {
        let at = image.addr as usize;
        assert!(
            saved[at..at + image.data.len()] == image.data[..],
            "{} differs in the saved flash",
            image.name
        );
    }

    // Flash boot: the AT firmware answers.
    let secrets = dir.path().join("secrets.toml");
    std::fs::write(&secrets, "[wifi]\npassword = \"pa\\\"ss,word\"\n").unwrap();
    let sim = adapter(
        &link,
        &flash,
        &[
            "--boot",
            "flash",
            "--ap-ssid",
            "lab,net",
            "--ap-password-file",
            secrets.to_str().unwrap(),
        ],
    );
    let gmr = esp::probe_at(&link, 115_200, Duration::from_secs(5))
        .unwrap()
        .expect("AT+GMR answers");
    assert!(gmr.contains("AT version:1.7"), "{gmr}");
    // Escaped SSID and password, then a wrong password.
    esp::provision(&link, 115_200, "lab,net", "pa\"ss,word").unwrap();
    match esp::provision(&link, 115_200, "lab,net", "not-the-password") {
        Err(e @ EspError::JoinFailed { code: 2, .. }) => {
            let text = format!("{e} {e:?}");
            assert!(text.contains("wrong password"), "{text}");
            assert!(!text.contains("not-the-password"), "{text}");
        }
        other => panic!("expected a join failure, got {other:?}"),
    }
    drop(sim);
}

#[test]
fn esp_adapter_without_firmware_does_not_answer_at_and_vanishing_mid_write_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let images = fake_at_firmware(&dir.path().join("at"));
    let link = dir.path().join("esp");
    let flash = dir.path().join("flash.bin");

    // Blank flash in flash mode: a boot loop, no AT.
    let sim = adapter(&link, &flash, &["--boot", "flash"]);
    assert_eq!(
        esp::probe_at(&link, 115_200, Duration::from_millis(1500)).unwrap(),
        None
    );
    drop(sim);

    let mut sim = adapter(
        &link,
        &flash,
        &["--boot", "download", "--rom-faults", "vanish-mid-write"],
    );
    let mut session = esp::connect(&link, Reset::Auto, false).unwrap();
    let err = session
        .write(&images, &mut NoProgress)
        .expect_err("the adapter vanished");
    assert!(
        matches!(
            err,
            EspError::Disconnected { .. } | EspError::Timeout { .. }
        ),
        "{err:?}"
    );
    let status = sim.child.wait().unwrap();
    assert_eq!(status.code(), Some(3));
    assert!(!link.exists());
}
