//! Shared by the emulator tests and the wire benchmark: the emulated chip's settings and
//! a fake NonOS AT 1.7 bin folder with firmware-like contents.

use nanoesp_espemu::rom::RomConfig;
use nanoesp_flash::esp::at_firmware;

pub const MB: u32 = 1 << 20;

pub fn cfg(flash_size: u32) -> RomConfig {
    RomConfig {
        flash_size,
        mac: [0xaa, 0xbb, 0xcc, 0x01, 0x02, 0x03],
        ..RomConfig::default()
    }
}

/// A fake NonOS AT 1.7 bin folder with firmware-like (partly compressible) contents.
pub fn fake_at_firmware() -> (tempfile::TempDir, at_firmware::AtFirmware) {
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
pub fn firmware_like(len: usize, seed: u32) -> Vec<u8> {
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
