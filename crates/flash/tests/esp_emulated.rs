//! The real espflash 2.1 `Flasher`, driven through `nanoesp_flash::esp`, against the
//! emulated ESP8266 ROM loader (`nanoesp_espemu::rom`) on an in-memory port.

#[path = "esp/mock.rs"]
mod mock;

use std::path::Path;
use std::time::Duration;

use mock::MockPort;
use nanoesp_espemu::rom::{RomConfig, RomFault};
use nanoesp_flash::esp::{
    self, AdapterPort, EspError, EspSession, Image, NoProgress, Progress, Reset, Verification,
    at_firmware,
};

const MB: u32 = 1 << 20;

fn cfg(flash_size: u32) -> RomConfig {
    RomConfig {
        flash_size,
        mac: [0xaa, 0xbb, 0xcc, 0x01, 0x02, 0x03],
        ..RomConfig::default()
    }
}

fn connect(port: &MockPort, stub: bool) -> Result<EspSession, EspError> {
    let adapter = AdapterPort::from_boxed(Box::new(port.clone()), false);
    esp::connect_port(adapter, Path::new("/dev/mock"), Reset::Auto, stub)
}

/// A fake NonOS AT 1.7 bin folder with firmware-like (partly compressible) contents.
fn fake_at_firmware() -> (tempfile::TempDir, at_firmware::AtFirmware) {
    let dir = tempfile::tempdir().unwrap();
    let files: &[(&str, usize)] = &[
        ("bin/boot_v1.7.bin", 4080),
        ("bin/at/512+512/user1.1024.new.2.bin", 300_000),
        ("bin/at/1024+1024/user1.2048.new.5.bin", 320_000),
        ("bin/esp_init_data_default_v08.bin", 128),
        ("bin/blank.bin", 4096),
    ];
    for (i, (name, len)) in files.iter().enumerate() {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let data: Vec<u8> = if name.ends_with("blank.bin") {
            vec![0xff; *len]
        } else {
            firmware_like(*len, i as u32 + 1)
        };
        std::fs::write(path, data).unwrap();
    }
    let fw = at_firmware::load(dir.path()).unwrap();
    (dir, fw)
}

/// Code-like bytes: repeated instruction patterns with pseudo-random operands, so
/// compression helps about as much as on real firmware (not all-0xFF).
fn firmware_like(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let op = [0x06u8, 0x21, 0x31, 0x0c, 0xc0, 0x20, 0x1d, 0xf0][(x & 7) as usize];
        out.extend_from_slice(&[op, (x >> 8) as u8 & 0x3f, (x >> 16) as u8 & 0x0f]);
    }
    out.truncate(len);
    out
}

/// Incompressible bytes (xorshift), so compressed writes need many blocks too.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[derive(Default)]
struct Recorder {
    events: Vec<String>,
    bytes: u64,
}

impl Progress for Recorder {
    fn start(&mut self, total: u64, label: &str) {
        self.events.push(format!("start {label} {total}"));
    }
    fn advance(&mut self, bytes: u64) {
        self.bytes += bytes;
    }
    fn finish(&mut self) {
        self.events.push("finish".into());
    }
}

fn assert_written(port: &MockPort, images: &[Image]) {
    let flash = port.flash();
    for image in images {
        let at = image.addr as usize;
        assert!(
            flash[at..at + image.data.len()] == image.data[..],
            "{} at {:#x} differs in the emulated flash",
            image.name,
            image.addr
        );
    }
}

#[test]
fn connect_reports_chip_flash_size_mac_and_crystal() {
    for (size, stub) in [(MB, false), (2 * MB, true), (4 * MB, false)] {
        let port = MockPort::new(cfg(size));
        let session = connect(&port, stub).unwrap();
        let info = session.info();
        assert_eq!(info.chip, "ESP8266");
        assert_eq!(info.flash_size_bytes, size);
        assert_eq!(info.mac, "aa:bb:cc:01:02:03");
        assert_eq!(info.crystal_mhz, 26);
        assert_eq!(session.stub(), stub);
        assert_eq!(port.rom.lock().unwrap().is_stub(), stub);
    }
}

#[test]
fn rom_path_writes_an_at_plan_byte_for_byte_over_old_contents_and_says_not_verified() {
    let (_dir, fw) = fake_at_firmware();
    // Old firmware everywhere: every byte must come from erase + write.
    let port = MockPort::with_flash(cfg(MB), Some(vec![0x00; MB as usize]));
    let mut session = connect(&port, false).unwrap();
    let images = at_firmware::plan(&fw, session.info().flash_size_bytes).unwrap();
    assert_eq!(images.len(), 5);
    let mut rec = Recorder::default();
    let report = session.write(&images, &mut rec).unwrap();
    assert_written(&port, &images);
    assert!(matches!(report.verified, Verification::NotVerified(_)));
    assert!(!report.compressed);
    let total: u64 = images.iter().map(|i| i.data.len() as u64).sum();
    assert_eq!(report.bytes, total);
    assert_eq!(rec.bytes, total);
    assert_eq!(rec.events.len(), 10);
    assert!(rec.events[0].starts_with("start boot_v1.7.bin 4080"));
    // Uncompressed: at least every byte once on the wire.
    assert!(report.wire_bytes_out > total);
}

#[test]
fn stub_path_writes_compressed_and_verifies_by_md5() {
    let (_dir, fw) = fake_at_firmware();
    let port = MockPort::with_flash(cfg(4 * MB), Some(vec![0x5a; 4 * MB as usize]));
    let mut session = connect(&port, true).unwrap();
    assert!(session.stub());
    let images = at_firmware::plan(&fw, 4 * MB).unwrap();
    let mut rec = Recorder::default();
    let report = session.write(&images, &mut rec).unwrap();
    assert_eq!(report.verified, Verification::Md5);
    assert!(report.compressed);
    assert_written(&port, &images);
    let total: u64 = images.iter().map(|i| i.data.len() as u64).sum();
    assert_eq!(rec.bytes, total);
    assert!(report.wire_bytes_out < total, "{report:?}");
}

#[test]
fn a_stub_that_does_not_start_falls_back_to_the_rom_and_says_not_verified() {
    let port = MockPort::new(RomConfig {
        stub_starts: false,
        ..cfg(MB)
    });
    let mut session = connect(&port, true).unwrap();
    assert!(!session.stub());
    assert!(session.stub_note().unwrap().contains("stub"));
    let image = Image {
        name: "app.bin".into(),
        addr: 0x1000,
        data: firmware_like(5000, 3),
    };
    let report = session
        .write(std::slice::from_ref(&image), &mut NoProgress)
        .unwrap();
    assert!(matches!(report.verified, Verification::NotVerified(_)));
    assert!(!report.compressed);
    assert_written(&port, &[image]);
}

#[test]
fn change_baud_needs_the_stub_and_switches_both_ends() {
    let port = MockPort::new(cfg(MB));
    let mut session = connect(&port, false).unwrap();
    assert!(matches!(
        session.change_baud(460_800),
        Err(EspError::NeedsStub { .. })
    ));
    let port = MockPort::new(cfg(MB));
    let mut session = connect(&port, true).unwrap();
    session.change_baud(460_800).unwrap();
    assert_eq!(port.rom.lock().unwrap().config().baud, 460_800);
    let image = Image {
        name: "app.bin".into(),
        addr: 0,
        data: firmware_like(20_000, 5),
    };
    let report = session
        .write(std::slice::from_ref(&image), &mut NoProgress)
        .unwrap();
    assert_eq!(report.verified, Verification::Md5);
    assert_written(&port, &[image]);
}

#[test]
fn md5_catches_a_worn_flash_byte() {
    let port = MockPort::new(RomConfig {
        fault: RomFault::StuckByte { addr: 0x10123 },
        ..cfg(MB)
    });
    let mut session = connect(&port, true).unwrap();
    let image = Image {
        name: "app.bin".into(),
        addr: 0x10000,
        data: firmware_like(8192, 7),
    };
    match session.write(&[image], &mut NoProgress) {
        Err(EspError::VerifyFailed { name, addr, .. }) => {
            assert_eq!((name.as_str(), addr), ("app.bin", 0x10000))
        }
        other => panic!("expected a verification failure, got {other:?}"),
    }
}

#[test]
fn silent_chip_is_not_in_download_mode() {
    let port = MockPort::new(RomConfig {
        fault: RomFault::Silent,
        ..cfg(MB)
    });
    let err = connect(&port, true).err().expect("must fail");
    assert!(matches!(err, EspError::NotInDownloadMode { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("GPIO0") && text.contains("TX/RX"), "{text}");
}

#[test]
fn bad_checksum_answer_is_an_error() {
    for stub in [false, true] {
        let port = MockPort::new(RomConfig {
            fault: RomFault::BadChecksumAt {
                block: 2,
                always: true,
            },
            ..cfg(MB)
        });
        let mut session = connect(&port, stub).unwrap();
        let image = Image {
            name: "app.bin".into(),
            addr: 0,
            // Incompressible enough for several compressed blocks.
            data: noise(200_000),
        };
        let err = session.write(&[image], &mut NoProgress).unwrap_err();
        assert!(
            matches!(err, EspError::Rejected { .. }),
            "stub {stub}: {err:?}"
        );
    }
}

#[test]
fn stall_mid_write_is_a_timeout() {
    for stub in [false, true] {
        let port = MockPort::new(RomConfig {
            fault: RomFault::StallMidWrite { after: 3 },
            ..cfg(MB)
        });
        let mut session = connect(&port, stub).unwrap();
        let image = Image {
            name: "app.bin".into(),
            addr: 0,
            data: noise(200_000),
        };
        let err = session.write(&[image], &mut NoProgress).unwrap_err();
        assert!(
            matches!(err, EspError::Timeout { .. }),
            "stub {stub}: {err:?}"
        );
        assert!(err.to_string().contains("app.bin"), "{err}");
    }
}

#[test]
fn images_past_the_end_or_overlapping_are_refused_before_writing() {
    let port = MockPort::new(cfg(MB));
    let mut session = connect(&port, false).unwrap();
    let big = Image {
        name: "big.bin".into(),
        addr: 0xff000,
        data: vec![1; 0x2000],
    };
    assert!(matches!(
        session.write(&[big], &mut NoProgress),
        Err(EspError::BadImages(_))
    ));
    let a = Image {
        name: "a".into(),
        addr: 0,
        data: vec![1; 0x2000],
    };
    let b = Image {
        name: "b".into(),
        addr: 0x1000,
        data: vec![1; 10],
    };
    assert!(matches!(
        session.write(&[a, b], &mut NoProgress),
        Err(EspError::BadImages(_))
    ));
    assert_eq!(port.rom.lock().unwrap().data_blocks(), 0);
}

#[test]
fn probe_rom_identifies_the_loader_or_reports_nothing() {
    let port = MockPort::new(cfg(2 * MB));
    let adapter = AdapterPort::from_boxed(Box::new(port.clone()), false);
    let info = esp::probe_rom_port(adapter, Path::new("/dev/mock"), Duration::from_secs(1))
        .unwrap()
        .unwrap();
    assert_eq!(info.flash_size_bytes, 2 * MB);
    assert_eq!(info.mac, "aa:bb:cc:01:02:03");
    assert_eq!(info.crystal_mhz, 26);
    let silent = MockPort::new(RomConfig {
        fault: RomFault::Silent,
        ..cfg(MB)
    });
    let adapter = AdapterPort::from_boxed(Box::new(silent), false);
    let none =
        esp::probe_rom_port(adapter, Path::new("/dev/mock"), Duration::from_millis(300)).unwrap();
    assert_eq!(none, None);
}

/// Wire cost of the same AT plan through the ROM path and the stub path. Prints the
/// figures (`--nocapture`); asserts the stub path sends less.
#[test]
fn measure_plain_versus_stub_on_the_wire() {
    let (_dir, fw) = fake_at_firmware();
    let images = at_firmware::plan(&fw, MB).unwrap();
    let total: u64 = images.iter().map(|i| i.data.len() as u64).sum();
    let mut wire = Vec::new();
    for stub in [false, true] {
        let port = MockPort::new(cfg(MB));
        let mut session = connect(&port, stub).unwrap();
        let (connect_out, connect_in) = session.wire();
        println!("connect (stub {stub}): {connect_out} bytes out, {connect_in} bytes in");
        let report = session.write(&images, &mut NoProgress).unwrap();
        // 10 bits per byte at the 115200 baud espflash keeps for the ESP8266.
        let secs_at_115200 =
            (report.wire_bytes_out + report.wire_bytes_in) as f64 * 10.0 / 115_200.0;
        println!(
            "{}: {} image bytes, {} bytes out, {} bytes in, {:.2} s at 115200 baud, {:.3} s wall in memory, {:?}",
            if stub {
                "stub+deflate+md5"
            } else {
                "ROM plain"
            },
            total,
            report.wire_bytes_out,
            report.wire_bytes_in,
            secs_at_115200,
            report.seconds,
            report.verified
        );
        wire.push(report.wire_bytes_out);
    }
    assert!(wire[1] < wire[0]);
}
