//! An emulated ESP8266 ROM serial loader (UART download mode), sans-IO: feed it the
//! bytes a host sends with [`RomLoader::feed`], send back what it returns.
//!
//! Modelled (facts from esptool's serial-protocol documentation and what espflash 2.1
//! sends, see `/work/shared/docs/tooling-notes.md` §7):
//!
//! - SLIP framing; requests `00 op len:u16 checksum:u32 payload`, responses
//!   `01 op len:u16 value:u32 payload`, whose last two bytes are status (0 ok, 1 failed)
//!   and error code (0x05 bad message, 0x07 bad checksum, 0x0b inflate error, ...).
//! - Nothing is answered until the first SYNC (the real ROM detects the baud rate from
//!   it); one SYNC is answered [`RomConfig::sync_replies`] times.
//! - READ_REG/WRITE_REG on a small register map: chip magic at `0x40001000`,
//!   `UART_CLKDIV` for the configured crystal, efuse words at `0x3ff00050..` encoding the
//!   MAC, and the SPI block at `0x60000200` executing RDID (`0x9f`) with a JEDEC id that
//!   matches the flash size.
//! - FLASH_BEGIN/DATA/END with the ROM's erase-size bug (the ROM erases
//!   `size + min(sectors left in the 64 KiB block, size)` sectors, which is why hosts
//!   send a corrected, smaller size), data checksums (XOR, seed `0xEF`) and sequence
//!   numbers checked. Flash is NOR: writes AND into the array, erase sets `0xFF`.
//! - MEM_BEGIN/DATA/END: a fake stub. MEM_END with an entry point answers, then sends
//!   the unsolicited `OHAI` frame and switches to stub mode, where CHANGE_BAUD,
//!   FLASH_DEFL_BEGIN/DATA/END (zlib), SPI_FLASH_MD5 (16 raw bytes, as the stub sends
//!   them), ERASE_FLASH and ERASE_REGION also work and FLASH_BEGIN erases exactly the
//!   size it is given (as the stub does).
//! - Faults ([`RomFault`]): silent, a bad checksum on one data block, a stall in the
//!   middle of a write.

mod slip;

pub use slip::{Decoder as SlipDecoder, encode as slip_encode};

/// Address of the chip-detect magic word.
pub const CHIP_MAGIC_REG: u32 = 0x4000_1000;
/// The ESP8266's magic value.
pub const ESP8266_MAGIC: u32 = 0xfff0_c101;
/// `UART_CLKDIV` of UART0.
pub const UART_CLKDIV_REG: u32 = 0x6000_0014;
/// First efuse word (the MAC is spread over words 0, 1 and 3).
pub const EFUSE_BASE: u32 = 0x3ff0_0050;
/// SPI0 controller base (the CMD register).
pub const SPI_BASE: u32 = 0x6000_0200;
const SPI_USR2: u32 = SPI_BASE + 0x24;
const SPI_W0: u32 = SPI_BASE + 0x40;
const SPI_CMD_USR: u32 = 1 << 18;

/// Flash sector (erase unit).
pub const SECTOR: u32 = 0x1000;
const SECTORS_PER_BLOCK: u32 = 16;
/// Largest frame accepted (a 16 KiB stub block plus headers, escaped data decoded).
const MAX_FRAME: usize = 0x4000 + 64;

/// Opcodes.
pub mod op {
    /// FLASH_BEGIN.
    pub const FLASH_BEGIN: u8 = 0x02;
    /// FLASH_DATA.
    pub const FLASH_DATA: u8 = 0x03;
    /// FLASH_END.
    pub const FLASH_END: u8 = 0x04;
    /// MEM_BEGIN.
    pub const MEM_BEGIN: u8 = 0x05;
    /// MEM_END.
    pub const MEM_END: u8 = 0x06;
    /// MEM_DATA.
    pub const MEM_DATA: u8 = 0x07;
    /// SYNC.
    pub const SYNC: u8 = 0x08;
    /// WRITE_REG.
    pub const WRITE_REG: u8 = 0x09;
    /// READ_REG.
    pub const READ_REG: u8 = 0x0a;
    /// CHANGE_BAUDRATE (stub only on the ESP8266).
    pub const CHANGE_BAUD: u8 = 0x0f;
    /// FLASH_DEFL_BEGIN (stub).
    pub const FLASH_DEFL_BEGIN: u8 = 0x10;
    /// FLASH_DEFL_DATA (stub).
    pub const FLASH_DEFL_DATA: u8 = 0x11;
    /// FLASH_DEFL_END (stub).
    pub const FLASH_DEFL_END: u8 = 0x12;
    /// SPI_FLASH_MD5 (stub).
    pub const SPI_FLASH_MD5: u8 = 0x13;
    /// ERASE_FLASH (stub).
    pub const ERASE_FLASH: u8 = 0xd0;
    /// ERASE_REGION (stub).
    pub const ERASE_REGION: u8 = 0xd1;
}

/// Error codes of the status bytes.
pub mod err {
    /// Received message is invalid (parameters or length).
    pub const BAD_MESSAGE: u8 = 0x05;
    /// Failed to act on the message.
    pub const FAILED: u8 = 0x06;
    /// Invalid data checksum.
    pub const BAD_CHECKSUM: u8 = 0x07;
    /// Malformed compressed data.
    pub const INFLATE: u8 = 0x0b;
}

/// Injected misbehaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RomFault {
    /// A healthy loader.
    #[default]
    None,
    /// Never answers anything: not in download mode, or TX/RX swapped.
    Silent,
    /// Answers data block `block` (sequence number, in FLASH_DATA or FLASH_DEFL_DATA)
    /// with status error 0x07; the first time only unless `always`.
    BadChecksumAt {
        /// Sequence number of the block.
        block: u32,
        /// Every time, not just once.
        always: bool,
    },
    /// Stops answering anything once `after` data blocks have been accepted.
    StallMidWrite {
        /// Data blocks accepted before the stall.
        after: u32,
    },
    /// A worn flash cell: the byte at `addr` reads `0x00` whatever is erased or written
    /// (only a verification can notice).
    StuckByte {
        /// Flash address.
        addr: u32,
    },
}

/// Settings of the emulated module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RomConfig {
    /// Flash size in bytes: 1, 2 or 4 MiB (others are accepted; the JEDEC size byte is
    /// log2 of the size).
    pub flash_size: u32,
    /// JEDEC manufacturer and memory type (default Winbond `0xEF 0x40`).
    pub jedec_vendor: [u8; 2],
    /// Station MAC address.
    pub mac: [u8; 6],
    /// Crystal frequency in MHz (26 or 40).
    pub crystal_mhz: u32,
    /// Baud rate the host talks at (sets `UART_CLKDIV`, as the ROM's baud detection does).
    pub baud: u32,
    /// How many responses one SYNC gets.
    pub sync_replies: usize,
    /// Fault injection.
    pub fault: RomFault,
    /// Whether a RAM stub uploaded with MEM_* starts (sends `OHAI`). `false` models a
    /// stub that crashes or a ROM that rejects the upload silently.
    pub stub_starts: bool,
}

impl Default for RomConfig {
    fn default() -> RomConfig {
        RomConfig {
            flash_size: 4 << 20,
            jedec_vendor: [0xef, 0x40],
            mac: [0x5c, 0xcf, 0x7f, 0x00, 0x00, 0x01],
            crystal_mhz: 26,
            baud: 115_200,
            sync_replies: 8,
            fault: RomFault::None,
            stub_starts: true,
        }
    }
}

/// Something the host made the loader do, for the caller (e.g. to save the flash file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RomEvent {
    /// FLASH_END or FLASH_DEFL_END: a write session ended. `reboot`: the host asked the
    /// chip to run the firmware.
    FlashEnd {
        /// Run user code (flag 0) rather than stay in the loader.
        reboot: bool,
    },
    /// The fake stub started (after MEM_END with an entry point).
    StubStarted,
    /// CHANGE_BAUD: the host switches to this rate after the response.
    BaudChange(u32),
}

#[derive(Debug)]
struct WriteSession {
    offset: u32,
    /// Bytes (uncompressed) the host announced.
    size: u32,
    block_size: u32,
    next_seq: u32,
    /// Bytes written so far (uncompressed).
    written: u32,
    inflate: Option<flate2::Decompress>,
}

#[derive(Debug)]
struct MemSession {
    next_seq: u32,
}

/// The emulated ROM loader. See the module documentation.
#[derive(Debug)]
pub struct RomLoader {
    cfg: RomConfig,
    flash: Vec<u8>,
    decoder: SlipDecoder,
    synced: bool,
    stub: bool,
    stalled: bool,
    bad_checksum_done: bool,
    write: Option<WriteSession>,
    mem: Option<MemSession>,
    regs: std::collections::BTreeMap<u32, u32>,
    data_blocks: u32,
    events: Vec<RomEvent>,
    bytes_in: u64,
    bytes_out: u64,
}

impl RomLoader {
    /// A loader with erased flash (all `0xFF`).
    pub fn new(cfg: RomConfig) -> RomLoader {
        let flash = vec![0xff; cfg.flash_size as usize];
        RomLoader::with_flash(cfg, flash)
    }

    /// A loader whose flash starts with `flash` (resized to the configured size, new
    /// bytes erased).
    pub fn with_flash(cfg: RomConfig, mut flash: Vec<u8>) -> RomLoader {
        flash.resize(cfg.flash_size as usize, 0xff);
        RomLoader {
            cfg,
            flash,
            decoder: SlipDecoder::new(MAX_FRAME),
            synced: false,
            stub: false,
            stalled: false,
            bad_checksum_done: false,
            write: None,
            mem: None,
            regs: Default::default(),
            data_blocks: 0,
            events: Vec::new(),
            bytes_in: 0,
            bytes_out: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &RomConfig {
        &self.cfg
    }

    /// The flash contents.
    pub fn flash(&self) -> &[u8] {
        &self.flash
    }

    /// Whether the fake stub is running.
    pub fn is_stub(&self) -> bool {
        self.stub
    }

    /// Whether a SYNC has been received.
    pub fn is_synced(&self) -> bool {
        self.synced
    }

    /// Data blocks (FLASH_DATA and FLASH_DEFL_DATA) accepted so far.
    pub fn data_blocks(&self) -> u32 {
        self.data_blocks
    }

    /// Bytes received from and sent to the host so far (SLIP-framed, as on the wire).
    pub fn wire_bytes(&self) -> (u64, u64) {
        (self.bytes_in, self.bytes_out)
    }

    /// Events since the last call.
    pub fn take_events(&mut self) -> Vec<RomEvent> {
        std::mem::take(&mut self.events)
    }

    /// Changes the fault injection.
    pub fn set_fault(&mut self, fault: RomFault) {
        self.cfg.fault = fault;
    }

    /// Bytes from the host; returns the bytes to send back. Never panics.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<u8> {
        self.bytes_in += bytes.len() as u64;
        let mut out = Vec::new();
        for &b in bytes {
            if let Some(frame) = self.decoder.push(b) {
                self.handle(&frame, &mut out);
            }
        }
        self.bytes_out += out.len() as u64;
        out
    }

    fn silent(&self) -> bool {
        self.stalled || self.cfg.fault == RomFault::Silent
    }

    fn handle(&mut self, frame: &[u8], out: &mut Vec<u8>) {
        if self.silent() || frame.len() < 8 || frame[0] != 0x00 {
            return;
        }
        let opcode = frame[1];
        let len = u16::from_le_bytes([frame[2], frame[3]]) as usize;
        let checksum = u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]);
        let payload = &frame[8..];
        if opcode == op::SYNC {
            if payload.len() == 36 && payload[..4] == [0x07, 0x07, 0x12, 0x20] {
                let replies = if self.stub { 1 } else { self.cfg.sync_replies };
                self.synced = true;
                for _ in 0..replies {
                    respond(out, opcode, 0, &[]);
                }
            }
            return;
        }
        if !self.synced {
            // Before SYNC the ROM has not found the baud rate: everything is noise.
            return;
        }
        if len != payload.len() {
            return fail(out, opcode, err::BAD_MESSAGE);
        }
        let word = |i: usize| -> Option<u32> {
            payload
                .get(i * 4..i * 4 + 4)
                .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        };
        match opcode {
            op::READ_REG => match word(0) {
                Some(addr) => {
                    let value = self.read_reg(addr);
                    respond(out, opcode, value, &[]);
                }
                None => fail(out, opcode, err::BAD_MESSAGE),
            },
            op::WRITE_REG => match (word(0), word(1), word(2)) {
                (Some(addr), Some(value), Some(mask)) => {
                    self.write_reg(addr, value, mask);
                    respond(out, opcode, 0, &[]);
                }
                _ => fail(out, opcode, err::BAD_MESSAGE),
            },
            op::FLASH_BEGIN | op::FLASH_DEFL_BEGIN => {
                let deflate = opcode == op::FLASH_DEFL_BEGIN;
                if deflate && !self.stub {
                    return fail(out, opcode, err::BAD_MESSAGE);
                }
                let (Some(size), Some(_blocks), Some(block_size), Some(offset)) =
                    (word(0), word(1), word(2), word(3))
                else {
                    return fail(out, opcode, err::BAD_MESSAGE);
                };
                if block_size == 0 || block_size > 0x4000 || offset >= self.cfg.flash_size {
                    return fail(out, opcode, err::BAD_MESSAGE);
                }
                let erase = if self.stub {
                    size.div_ceil(SECTOR).saturating_mul(SECTOR)
                } else {
                    rom_erase_bytes(offset, size)
                };
                self.erase(offset, erase);
                self.write = Some(WriteSession {
                    offset,
                    size,
                    block_size,
                    next_seq: 0,
                    written: 0,
                    inflate: deflate.then(|| flate2::Decompress::new(true)),
                });
                respond(out, opcode, 0, &[]);
            }
            op::FLASH_DATA | op::FLASH_DEFL_DATA => self.flash_data(opcode, checksum, payload, out),
            op::FLASH_END | op::FLASH_DEFL_END => {
                if opcode == op::FLASH_DEFL_END && !self.stub {
                    return fail(out, opcode, err::BAD_MESSAGE);
                }
                let flag = payload.first().copied().unwrap_or(0);
                self.write = None;
                self.events.push(RomEvent::FlashEnd { reboot: flag == 0 });
                respond(out, opcode, 0, &[]);
            }
            op::MEM_BEGIN => {
                if word(3).is_none() {
                    return fail(out, opcode, err::BAD_MESSAGE);
                }
                self.mem = Some(MemSession { next_seq: 0 });
                respond(out, opcode, 0, &[]);
            }
            op::MEM_DATA => {
                let Some(mem) = self.mem.as_mut() else {
                    return fail(out, opcode, err::FAILED);
                };
                let (Some(size), Some(seq)) = (word(0), word(1)) else {
                    return fail(out, opcode, err::BAD_MESSAGE);
                };
                let data = &payload[16.min(payload.len())..];
                if data.len() != size as usize || seq != mem.next_seq {
                    return fail(out, opcode, err::BAD_MESSAGE);
                }
                if xor_checksum(data) != checksum as u8 {
                    return fail(out, opcode, err::BAD_CHECKSUM);
                }
                mem.next_seq += 1;
                respond(out, opcode, 0, &[]);
            }
            op::MEM_END => {
                let (Some(no_entry), Some(entry)) = (word(0), word(1)) else {
                    return fail(out, opcode, err::BAD_MESSAGE);
                };
                if self.mem.take().is_none() {
                    return fail(out, opcode, err::FAILED);
                }
                respond(out, opcode, 0, &[]);
                if no_entry == 0 && entry != 0 && !self.stub && self.cfg.stub_starts {
                    // The ROM jumps to the entry point; the stub says hello.
                    out.extend(slip::encode(b"OHAI"));
                    self.stub = true;
                    self.write = None;
                    self.events.push(RomEvent::StubStarted);
                }
            }
            op::CHANGE_BAUD if self.stub => match word(0) {
                Some(baud) if baud > 0 => {
                    respond(out, opcode, 0, &[]);
                    self.cfg.baud = baud;
                    self.events.push(RomEvent::BaudChange(baud));
                }
                _ => fail(out, opcode, err::BAD_MESSAGE),
            },
            op::SPI_FLASH_MD5 if self.stub => match (word(0), word(1)) {
                (Some(addr), Some(size))
                    if addr as u64 + size as u64 <= self.flash.len() as u64 =>
                {
                    let digest = md5::compute(&self.flash[addr as usize..(addr + size) as usize]);
                    respond(out, opcode, 0, &digest.0);
                }
                _ => fail(out, opcode, err::BAD_MESSAGE),
            },
            op::ERASE_FLASH if self.stub => {
                self.flash.fill(0xff);
                self.apply_stuck();
                respond(out, opcode, 0, &[]);
            }
            op::ERASE_REGION if self.stub => match (word(0), word(1)) {
                (Some(offset), Some(size))
                    if offset % SECTOR == 0
                        && size % SECTOR == 0
                        && offset as u64 + size as u64 <= self.flash.len() as u64 =>
                {
                    self.erase(offset, size);
                    respond(out, opcode, 0, &[]);
                }
                _ => fail(out, opcode, err::BAD_MESSAGE),
            },
            _ => fail(out, opcode, err::BAD_MESSAGE),
        }
    }

    fn flash_data(&mut self, opcode: u8, checksum: u32, payload: &[u8], out: &mut Vec<u8>) {
        let Some(mut session) = self.write.take() else {
            return fail(out, opcode, err::FAILED);
        };
        let result = self.write_block(&mut session, opcode, checksum, payload);
        self.write = Some(session);
        match result {
            Ok(()) => {
                self.data_blocks += 1;
                respond(out, opcode, 0, &[]);
                if let RomFault::StallMidWrite { after } = self.cfg.fault
                    && self.data_blocks >= after
                {
                    self.stalled = true;
                }
            }
            Err(code) => fail(out, opcode, code),
        }
    }

    fn write_block(
        &mut self,
        session: &mut WriteSession,
        opcode: u8,
        checksum: u32,
        payload: &[u8],
    ) -> Result<(), u8> {
        let deflate = opcode == op::FLASH_DEFL_DATA;
        if deflate != session.inflate.is_some() || payload.len() < 16 {
            return Err(err::BAD_MESSAGE);
        }
        let size = u32::from_le_bytes([payload[0], payload[1], payload[2], payload[3]]);
        let seq = u32::from_le_bytes([payload[4], payload[5], payload[6], payload[7]]);
        let data = &payload[16..];
        if data.len() != size as usize || (!deflate && size != session.block_size) {
            return Err(err::BAD_MESSAGE);
        }
        if let RomFault::BadChecksumAt { block, always } = self.cfg.fault
            && block == seq
            && (always || !self.bad_checksum_done)
        {
            self.bad_checksum_done = true;
            return Err(err::BAD_CHECKSUM);
        }
        if xor_checksum(data) != checksum as u8 {
            return Err(err::BAD_CHECKSUM);
        }
        if seq != session.next_seq {
            return Err(err::BAD_MESSAGE);
        }
        let plain = match session.inflate.as_mut() {
            None => data.to_vec(),
            Some(z) => inflate_chunk(z, data).ok_or(err::INFLATE)?,
        };
        let start = session.offset as u64 + session.written as u64;
        // Plain writes are whole blocks (the last one padded with 0xFF, which programs
        // nothing); compressed writes stop at the announced size.
        let keep = if deflate {
            plain
                .len()
                .min(session.size.saturating_sub(session.written) as usize)
        } else {
            plain.len()
        };
        if start + keep as u64 > self.flash.len() as u64 {
            return Err(err::FAILED);
        }
        for (i, b) in plain[..keep].iter().enumerate() {
            // NOR flash: programming can only clear bits.
            self.flash[start as usize + i] &= *b;
        }
        session.written = session.written.saturating_add(plain.len() as u32);
        session.next_seq += 1;
        Ok(())
    }

    fn erase(&mut self, offset: u32, size: u32) {
        let start = (offset / SECTOR * SECTOR) as usize;
        let end = (offset as u64 + size as u64).min(self.flash.len() as u64) as usize;
        if start < end {
            self.flash[start..end].fill(0xff);
        }
        self.apply_stuck();
    }

    fn apply_stuck(&mut self) {
        if let RomFault::StuckByte { addr } = self.cfg.fault
            && let Some(b) = self.flash.get_mut(addr as usize)
        {
            *b = 0;
        }
    }

    fn read_reg(&self, addr: u32) -> u32 {
        match addr {
            CHIP_MAGIC_REG => ESP8266_MAGIC,
            UART_CLKDIV_REG => {
                // The ROM runs UART0 from the crystal doubled (52 MHz for 26 MHz).
                (self.cfg.crystal_mhz as u64 * 2_000_000 / self.cfg.baud.max(1) as u64) as u32
                    & 0xfffff
            }
            a if (EFUSE_BASE..EFUSE_BASE + 16).contains(&a) => {
                let m = self.cfg.mac;
                match (a - EFUSE_BASE) / 4 {
                    0 => (m[5] as u32) << 24,
                    1 => (m[3] as u32) << 8 | m[4] as u32,
                    3 => (m[0] as u32) << 16 | (m[1] as u32) << 8 | m[2] as u32,
                    _ => 0,
                }
            }
            _ => self.regs.get(&addr).copied().unwrap_or(0),
        }
    }

    fn write_reg(&mut self, addr: u32, value: u32, mask: u32) {
        let old = self.regs.get(&addr).copied().unwrap_or(0);
        let new = (value & mask) | (old & !mask);
        if addr == SPI_BASE && new & SPI_CMD_USR != 0 {
            // Run the SPI user command; the hardware clears USR when done.
            let command = self.regs.get(&SPI_USR2).copied().unwrap_or(0) & 0xff;
            if command == 0x9f {
                let size_id = self.cfg.flash_size.max(1).ilog2() as u8;
                let [vendor, kind] = self.cfg.jedec_vendor;
                self.regs
                    .insert(SPI_W0, u32::from_le_bytes([vendor, kind, size_id, 0]));
            }
            self.regs.insert(addr, new & !SPI_CMD_USR);
            return;
        }
        self.regs.insert(addr, new);
    }
}

/// Inflates one chunk of a zlib stream; `None` on corrupt data.
fn inflate_chunk(z: &mut flate2::Decompress, mut input: &[u8]) -> Option<Vec<u8>> {
    let mut result = Vec::new();
    let mut buf = vec![0u8; 0x8000];
    loop {
        let (before_in, before_out) = (z.total_in(), z.total_out());
        let status = z
            .decompress(input, &mut buf, flate2::FlushDecompress::None)
            .ok()?;
        let used = (z.total_in() - before_in) as usize;
        let made = (z.total_out() - before_out) as usize;
        result.extend_from_slice(&buf[..made]);
        input = &input[used..];
        if status == flate2::Status::StreamEnd || (used == 0 && made == 0) {
            return Some(result);
        }
        if input.is_empty() && made < buf.len() {
            return Some(result);
        }
        if result.len() > 1 << 24 {
            return None;
        }
    }
}

/// Bytes the ROM really erases when FLASH_BEGIN asks for `size` at `offset`: it counts
/// the sectors up to the end of the first 64 KiB block twice.
pub fn rom_erase_bytes(offset: u32, size: u32) -> u32 {
    let sectors = size.div_ceil(SECTOR);
    let head_room = SECTORS_PER_BLOCK - (offset / SECTOR) % SECTORS_PER_BLOCK;
    (sectors + sectors.min(head_room)).saturating_mul(SECTOR)
}

/// XOR of `data` with seed `0xEF`, the checksum of `*_DATA` commands.
pub fn xor_checksum(data: &[u8]) -> u8 {
    data.iter().fold(0xef, |c, b| c ^ b)
}

fn respond(out: &mut Vec<u8>, opcode: u8, value: u32, data: &[u8]) {
    response(out, opcode, value, data, 0, 0)
}

fn fail(out: &mut Vec<u8>, opcode: u8, code: u8) {
    response(out, opcode, 0, &[], 1, code)
}

fn response(out: &mut Vec<u8>, opcode: u8, value: u32, data: &[u8], status: u8, code: u8) {
    let mut p = Vec::with_capacity(10 + data.len());
    p.push(0x01);
    p.push(opcode);
    p.extend_from_slice(&((data.len() + 2) as u16).to_le_bytes());
    p.extend_from_slice(&value.to_le_bytes());
    p.extend_from_slice(data);
    p.extend_from_slice(&[status, code]);
    out.extend(slip::encode(&p));
}

/// Builds a request frame as a host would (SLIP-framed), for tests and tools.
pub fn request(opcode: u8, payload: &[u8], checksum: u32) -> Vec<u8> {
    let mut p = vec![0x00, opcode];
    p.extend_from_slice(&(payload.len() as u16).to_le_bytes());
    p.extend_from_slice(&checksum.to_le_bytes());
    p.extend_from_slice(payload);
    slip::encode(&p)
}

/// One decoded response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Echoed opcode.
    pub opcode: u8,
    /// The value word (READ_REG result).
    pub value: u32,
    /// Payload without the two status bytes.
    pub data: Vec<u8>,
    /// Status byte (0 ok, 1 failed).
    pub status: u8,
    /// Error code.
    pub error: u8,
}

/// Decodes the responses (and bare frames such as `OHAI`, as `Err(frame)`) in `bytes`.
pub fn decode_responses(bytes: &[u8]) -> Vec<Result<Response, Vec<u8>>> {
    let mut d = SlipDecoder::new(1 << 20);
    bytes
        .iter()
        .filter_map(|&b| d.push(b))
        .map(|f| {
            if f.len() >= 10 && f[0] == 0x01 {
                let n = f.len();
                Ok(Response {
                    opcode: f[1],
                    value: u32::from_le_bytes([f[4], f[5], f[6], f[7]]),
                    data: f[8..n - 2].to_vec(),
                    status: f[n - 2],
                    error: f[n - 1],
                })
            } else {
                Err(f)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
