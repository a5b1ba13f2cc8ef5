use super::*;
use proptest::prelude::*;

fn sync() -> Vec<u8> {
    let mut p = vec![0x07, 0x07, 0x12, 0x20];
    p.extend([0x55; 32]);
    request(op::SYNC, &p, 0)
}

fn words(ws: &[u32]) -> Vec<u8> {
    ws.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn data_block(seq: u32, data: &[u8]) -> (Vec<u8>, u32) {
    let mut p = words(&[data.len() as u32, seq, 0, 0]);
    p.extend_from_slice(data);
    (p, xor_checksum(data) as u32)
}

fn one(rom: &mut RomLoader, opcode: u8, payload: &[u8], checksum: u32) -> Response {
    let out = rom.feed(&request(opcode, payload, checksum));
    let mut rs = decode_responses(&out);
    assert_eq!(rs.len(), 1, "{out:02x?}");
    rs.remove(0).unwrap()
}

fn synced(cfg: RomConfig) -> RomLoader {
    let mut rom = RomLoader::new(cfg);
    let out = rom.feed(&sync());
    assert_eq!(decode_responses(&out).len(), 8);
    rom
}

#[test]
fn nothing_is_answered_before_sync_and_sync_gets_eight_replies() {
    let mut rom = RomLoader::new(RomConfig::default());
    assert!(
        rom.feed(&request(op::READ_REG, &words(&[CHIP_MAGIC_REG]), 0))
            .is_empty()
    );
    let out = rom.feed(&sync());
    let rs = decode_responses(&out);
    assert_eq!(rs.len(), 8);
    for r in rs {
        let r = r.unwrap();
        assert_eq!((r.opcode, r.status, r.error), (op::SYNC, 0, 0));
    }
}

#[test]
fn registers_give_magic_crystal_mac_and_jedec_id() {
    let cfg = RomConfig {
        mac: [0xaa, 0xbb, 0xcc, 0x11, 0x22, 0x33],
        flash_size: 1 << 20,
        ..RomConfig::default()
    };
    let mut rom = synced(cfg);
    let r = one(&mut rom, op::READ_REG, &words(&[CHIP_MAGIC_REG]), 0);
    assert_eq!(r.value, ESP8266_MAGIC);
    assert_eq!(r.data.len(), 0);
    let div = one(&mut rom, op::READ_REG, &words(&[UART_CLKDIV_REG]), 0).value;
    assert_eq!(div, 451); // 52 MHz / 115200
    let w0 = one(&mut rom, op::READ_REG, &words(&[EFUSE_BASE]), 0).value;
    let w1 = one(&mut rom, op::READ_REG, &words(&[EFUSE_BASE + 4]), 0).value;
    let w3 = one(&mut rom, op::READ_REG, &words(&[EFUSE_BASE + 12]), 0).value;
    assert_eq!((w3 >> 16, (w3 >> 8) & 0xff, w3 & 0xff), (0xaa, 0xbb, 0xcc));
    assert_eq!(((w1 >> 8) & 0xff, w1 & 0xff, w0 >> 24), (0x11, 0x22, 0x33));
    // RDID through the SPI block.
    one(
        &mut rom,
        op::WRITE_REG,
        &words(&[SPI_BASE + 0x24, 7 << 28 | 0x9f, !0, 0]),
        0,
    );
    one(
        &mut rom,
        op::WRITE_REG,
        &words(&[SPI_BASE, 1 << 18, !0, 0]),
        0,
    );
    assert_eq!(
        one(&mut rom, op::READ_REG, &words(&[SPI_BASE]), 0).value & (1 << 18),
        0
    );
    let id = one(&mut rom, op::READ_REG, &words(&[SPI_BASE + 0x40]), 0).value;
    assert_eq!(id, 0x14_40ef);
}

#[test]
fn rom_erase_quirk_matches_what_hosts_correct_for() {
    // Hosts send n - head sectors (or ceil(n/2)) so that the ROM erases n.
    assert_eq!(rom_erase_bytes(0, 16 * SECTOR), 32 * SECTOR);
    assert_eq!(rom_erase_bytes(0, 2 * SECTOR), 4 * SECTOR);
    assert_eq!(rom_erase_bytes(15 * SECTOR, 3 * SECTOR), 4 * SECTOR);
}

#[test]
fn flash_write_checks_checksum_and_sequence_and_writes() {
    let mut rom = synced(RomConfig::default());
    // Old contents are erased by FLASH_BEGIN.
    rom.flash[0x2000] = 0;
    let r = one(
        &mut rom,
        op::FLASH_BEGIN,
        &words(&[0x1000, 2, 0x400, 0x2000]),
        0,
    );
    assert_eq!(r.status, 0);
    assert_eq!(rom.flash()[0x2000], 0xff);
    let block: Vec<u8> = (0..0x400).map(|i| i as u8).collect();
    let (p, c) = data_block(0, &block);
    assert_eq!(
        one(&mut rom, op::FLASH_DATA, &p, c ^ 1).error,
        err::BAD_CHECKSUM
    );
    let (p1, c1) = data_block(1, &block);
    assert_eq!(
        one(&mut rom, op::FLASH_DATA, &p1, c1).error,
        err::BAD_MESSAGE
    );
    assert_eq!(one(&mut rom, op::FLASH_DATA, &p, c).status, 0);
    assert_eq!(one(&mut rom, op::FLASH_DATA, &p1, c1).status, 0);
    assert_eq!(one(&mut rom, op::FLASH_END, &[1], 0).status, 0);
    assert_eq!(&rom.flash()[0x2000..0x2400], &block[..]);
    assert_eq!(&rom.flash()[0x2400..0x2800], &block[..]);
    assert_eq!(
        rom.take_events(),
        vec![RomEvent::FlashEnd { reboot: false }]
    );
    assert_eq!(rom.data_blocks(), 2);
}

#[test]
fn stub_commands_are_refused_by_the_rom_and_work_after_ohai() {
    let mut rom = synced(RomConfig::default());
    assert_eq!(
        one(&mut rom, op::SPI_FLASH_MD5, &words(&[0, 16, 0, 0]), 0).error,
        err::BAD_MESSAGE
    );
    one(
        &mut rom,
        op::MEM_BEGIN,
        &words(&[4, 1, 0x1800, 0x4010_0000]),
        0,
    );
    let (p, c) = data_block(0, &[1, 2, 3, 4]);
    assert_eq!(one(&mut rom, op::MEM_DATA, &p, c).status, 0);
    let out = rom.feed(&request(op::MEM_END, &words(&[0, 0x4010_0004]), 0));
    let rs = decode_responses(&out);
    assert_eq!(rs.len(), 2);
    assert_eq!(rs[1], Err(b"OHAI".to_vec()));
    assert!(rom.is_stub());
    // Compressed write, then MD5 over it.
    let data: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut z, &data).unwrap();
    let packed = z.finish().unwrap();
    let blocks: Vec<_> = packed.chunks(0x1000).collect();
    let r = one(
        &mut rom,
        op::FLASH_DEFL_BEGIN,
        &words(&[data.len() as u32, blocks.len() as u32, 0x1000, 0x10000]),
        0,
    );
    assert_eq!(r.status, 0);
    for (i, b) in blocks.iter().enumerate() {
        let (p, c) = data_block(i as u32, b);
        assert_eq!(one(&mut rom, op::FLASH_DEFL_DATA, &p, c).status, 0);
    }
    assert_eq!(one(&mut rom, op::FLASH_DEFL_END, &[1], 0).status, 0);
    assert_eq!(&rom.flash()[0x10000..0x10000 + data.len()], &data[..]);
    let r = one(
        &mut rom,
        op::SPI_FLASH_MD5,
        &words(&[0x10000, data.len() as u32, 0, 0]),
        0,
    );
    assert_eq!(r.data, md5::compute(&data).0.to_vec());
    // Corrupt compressed data is an inflate error.
    one(
        &mut rom,
        op::FLASH_DEFL_BEGIN,
        &words(&[100, 1, 0x1000, 0]),
        0,
    );
    let (p, c) = data_block(0, b"not zlib at all");
    assert_eq!(
        one(&mut rom, op::FLASH_DEFL_DATA, &p, c).error,
        err::INFLATE
    );
}

#[test]
fn faults_silent_bad_checksum_and_stall() {
    let mut rom = RomLoader::new(RomConfig {
        fault: RomFault::Silent,
        ..RomConfig::default()
    });
    assert!(rom.feed(&sync()).is_empty());

    let block = [0x11u8; 0x400];
    let mut rom = synced(RomConfig {
        fault: RomFault::BadChecksumAt {
            block: 1,
            always: false,
        },
        ..RomConfig::default()
    });
    one(&mut rom, op::FLASH_BEGIN, &words(&[0x1000, 4, 0x400, 0]), 0);
    let (p0, c0) = data_block(0, &block);
    let (p1, c1) = data_block(1, &block);
    assert_eq!(one(&mut rom, op::FLASH_DATA, &p0, c0).status, 0);
    assert_eq!(
        one(&mut rom, op::FLASH_DATA, &p1, c1).error,
        err::BAD_CHECKSUM
    );
    assert_eq!(one(&mut rom, op::FLASH_DATA, &p1, c1).status, 0);

    let mut rom = synced(RomConfig {
        fault: RomFault::StallMidWrite { after: 1 },
        ..RomConfig::default()
    });
    one(&mut rom, op::FLASH_BEGIN, &words(&[0x1000, 4, 0x400, 0]), 0);
    assert_eq!(one(&mut rom, op::FLASH_DATA, &p0, c0).status, 0);
    assert!(rom.feed(&request(op::FLASH_DATA, &p1, c1)).is_empty());
    assert!(rom.feed(&sync()).is_empty());
}

proptest! {
    #[test]
    fn random_bytes_never_panic(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..20)) {
        let mut rom = RomLoader::new(RomConfig { flash_size: 1 << 20, ..RomConfig::default() });
        rom.feed(&sync());
        for c in &chunks {
            rom.feed(c);
            // Also as well-framed requests with random opcodes and payloads.
            if c.len() >= 2 {
                rom.feed(&request(c[0] % 0x14 + if c[1] & 1 == 1 { 0xd0 - 0x14 } else { 0 }, &c[2..], c[1] as u32));
            }
        }
    }

    #[test]
    fn random_requests_in_stub_mode_never_panic(ops in proptest::collection::vec((0u8..0x14, proptest::collection::vec(any::<u32>(), 0..6), any::<u8>()), 0..40)) {
        let mut rom = RomLoader::new(RomConfig { flash_size: 1 << 20, ..RomConfig::default() });
        rom.feed(&sync());
        rom.feed(&request(op::MEM_BEGIN, &words(&[0, 0, 0x1800, 0]), 0));
        rom.feed(&request(op::MEM_END, &words(&[0, 1]), 0));
        prop_assert!(rom.is_stub());
        for (opcode, ws, extra) in ops {
            let mut p = words(&ws);
            p.push(extra);
            rom.feed(&request(opcode, &p, extra as u32));
            rom.feed(&request(opcode | 0xd0, &words(&ws), 0));
        }
    }
}
