//! The real espflash 2.1 `Flasher`, driven through `nanoesp_flash::esp`, against the
//! emulated ESP8266 ROM loader (`nanoesp_espemu::rom`) on an in-memory port.

#[path = "esp/fixtures.rs"]
mod fixtures;
#[path = "esp/mock.rs"]
mod mock;

use std::path::Path;
use std::time::Duration;

use fixtures::{MB, cfg, fake_at_firmware, firmware_like};
use mock::MockPort;
use nanoesp_espemu::rom::{RomConfig, RomFault};
use nanoesp_flash::esp::{
    self, AdapterPort, EspError, EspSession, Image, NoProgress, Progress, Reset, Verification,
    at_firmware,
};

fn connect(port: &MockPort, stub: bool) -> Result<EspSession, EspError> {
    let adapter = AdapterPort::from_boxed(Box::new(port.clone()), false);
    esp::connect_port(adapter, Path::new("/dev/mock"), Reset::Auto, stub)
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

/// Writes 200 KB of incompressible bytes (several blocks on either path) to a chip with
/// `fault`, through the ROM path and the stub path; the error of each.
fn write_error_with(fault: RomFault) -> [(bool, EspError); 2] {
    [false, true].map(|stub| {
        let port = MockPort::new(RomConfig { fault, ..cfg(MB) });
        let mut session = connect(&port, stub).unwrap();
        let image = Image {
            name: "app.bin".into(),
            addr: 0,
            data: noise(200_000),
        };
        (stub, session.write(&[image], &mut NoProgress).unwrap_err())
    })
}

#[test]
fn bad_checksum_answer_is_an_error() {
    for (stub, err) in write_error_with(RomFault::BadChecksumAt {
        block: 2,
        always: true,
    }) {
        assert!(
            matches!(err, EspError::Rejected { .. }),
            "stub {stub}: {err:?}"
        );
    }
}

#[test]
fn stall_mid_write_is_a_timeout() {
    for (stub, err) in write_error_with(RomFault::StallMidWrite { after: 3 }) {
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

/// The stub path (deflate) puts fewer bytes on the wire than the ROM path for the same
/// plan. The figures themselves come from `cargo bench -p nanoesp-flash`.
#[test]
fn stub_path_sends_fewer_bytes_than_the_rom_path() {
    let (_dir, fw) = fake_at_firmware();
    let images = at_firmware::plan(&fw, MB).unwrap();
    let mut wire = Vec::new();
    for stub in [false, true] {
        let port = MockPort::new(cfg(MB));
        let mut session = connect(&port, stub).unwrap();
        let report = session.write(&images, &mut NoProgress).unwrap();
        wire.push(report.wire_bytes_out);
    }
    assert!(wire[1] < wire[0], "{wire:?}");
}
