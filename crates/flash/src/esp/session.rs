//! Connecting through espflash 2.1 and writing images (plain ROM path, or the stub path
//! with compressed writes and MD5 verification), plus the quick ROM probe.

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use espflash::command::{Command, CommandType};
use espflash::elf::RomSegment;
use espflash::flasher::{Flasher, ProgressCallbacks};
use espflash::interface::Interface;
use espflash::targets::{Chip, Esp8266Target, FlashTarget};
use serialport::SerialPort;

use super::error::{chain, from_espflash};
use super::raw::{self, RawError};
use super::{AdapterPort, EspError, EspInfo, Image, Progress, Reset, Verification, WriteReport};

/// Block size of compressed writes: the ESP8266 stub's largest write block.
const STUB_BLOCK: usize = 0x4000;
/// Block size espflash uses for plain writes.
const ROM_BLOCK: u64 = 0x400;
const ESP8266_MAGIC: u32 = 0xfff0_c101;

/// A connected ESP8266 in its loader (ROM, or the flasher stub espflash uploaded).
pub struct EspSession {
    flasher: Flasher,
    port: AdapterPort,
    path: PathBuf,
    info: EspInfo,
    stub: bool,
    stub_note: Option<String>,
}

fn open(path: &Path, baud: u32) -> Result<serialport::TTYPort, EspError> {
    serialport::new(path.to_string_lossy(), baud)
        .timeout(Duration::from_secs(3))
        .flow_control(serialport::FlowControl::None)
        .open_native()
        .map_err(|e| EspError::Open {
            port: path.to_path_buf(),
            reason: e.to_string(),
        })
}

pub(crate) fn open_port(path: &Path, baud: u32) -> Result<AdapterPort, EspError> {
    Ok(AdapterPort::new(open(path, baud)?))
}

fn usb_info() -> serialport::UsbPortInfo {
    // Only the PID matters to espflash 2.1 (0x1001 = USB-Serial-JTAG, never an ESP8266).
    serialport::UsbPortInfo {
        vid: 0,
        pid: 0,
        serial_number: None,
        manufacturer: None,
        product: None,
    }
}

/// Opens `port` at 115200 baud and connects to the ROM loader with espflash 2.1
/// (`Flasher::connect`: reset per `reset`, SYNC, chip detect, optional stub upload,
/// flash-size detection). With `use_stub`, a stub that does not start falls back to the
/// ROM loader ([`EspSession::stub_note`] says why).
pub fn connect(port: &Path, reset: Reset, use_stub: bool) -> Result<EspSession, EspError> {
    connect_port(open_port(port, 115_200)?, port, reset, use_stub)
}

/// [`connect`] over an already opened port (tests use an in-memory one). `path` only
/// names the port in errors.
pub fn connect_port(
    port: AdapterPort,
    path: &Path,
    reset: Reset,
    use_stub: bool,
) -> Result<EspSession, EspError> {
    let port = match reset {
        Reset::Auto => port,
        Reset::None => port.without_lines(),
    };
    let attempt = |stub: bool| {
        let interface = Interface {
            serial_port: Box::new(port.clone()),
        };
        Flasher::connect(interface, usb_info(), None, stub)
    };
    let no_sync = |e: &espflash::error::Error| {
        matches!(
            e,
            espflash::error::Error::Connection(espflash::error::ConnectionError::ConnectionFailed)
                | espflash::error::Error::ChipDetectError(_)
        )
    };
    let gone = |port: &AdapterPort, e: espflash::error::Error, during: &str| {
        if port.stats().hung_up() {
            EspError::Disconnected {
                port: path.to_path_buf(),
                during: during.into(),
            }
        } else {
            from_espflash(e, path, during)
        }
    };
    let (mut flasher, stub, stub_note) = match attempt(use_stub) {
        Ok(f) => (f, use_stub, None),
        Err(e) if use_stub && !no_sync(&e) && !port.stats().hung_up() => {
            let why = chain(&e);
            match attempt(false) {
                Ok(f) => (
                    f,
                    false,
                    Some(format!(
                        "the flasher stub did not start ({why}); using the ROM loader"
                    )),
                ),
                Err(e) => return Err(gone(&port, e, "connecting")),
            }
        }
        Err(e) => return Err(gone(&port, e, "connecting")),
    };
    if flasher.chip() != Chip::Esp8266 {
        return Err(EspError::NotEsp8266 {
            port: path.to_path_buf(),
            detail: format!("found {}", flasher.chip()),
        });
    }
    let di = flasher
        .device_info()
        .map_err(|e| gone(&port, e, "reading the chip information"))?;
    let info = EspInfo {
        chip: "ESP8266".into(),
        flash_size_bytes: di.flash_size.size(),
        mac: di.mac_address,
        crystal_mhz: di.crystal_frequency,
    };
    Ok(EspSession {
        flasher,
        port,
        path: path.to_path_buf(),
        info,
        stub,
        stub_note,
    })
}

struct Adapter<'a> {
    progress: &'a mut dyn Progress,
    len: u64,
    done: u64,
}

impl ProgressCallbacks for Adapter<'_> {
    fn init(&mut self, _addr: u32, _total: usize) {}
    fn update(&mut self, current: usize) {
        let now = (current as u64 * ROM_BLOCK).min(self.len);
        if now > self.done {
            self.progress.advance(now - self.done);
            self.done = now;
        }
    }
    fn finish(&mut self) {}
}

impl EspSession {
    /// What the loader reported at connect.
    pub fn info(&self) -> &EspInfo {
        &self.info
    }

    /// Whether the flasher stub is running (compressed writes, MD5 verification).
    pub fn stub(&self) -> bool {
        self.stub
    }

    /// Why the stub is not running although it was asked for.
    pub fn stub_note(&self) -> Option<&str> {
        self.stub_note.as_deref()
    }

    /// Wire counters of the port.
    pub fn wire(&self) -> (u64, u64) {
        (self.port.stats().written(), self.port.stats().read())
    }

    fn err(&self, e: espflash::error::Error, during: &str) -> EspError {
        if self.port.stats().hung_up() {
            EspError::Disconnected {
                port: self.path.clone(),
                during: during.into(),
            }
        } else {
            from_espflash(e, &self.path, during)
        }
    }

    /// Writes `images`, then resets the chip (RTS) so it runs them.
    ///
    /// With the stub: zlib-compressed writes (FLASH_DEFL_*) and an MD5 check of every
    /// region ([`Verification::Md5`]; a mismatch is [`EspError::VerifyFailed`]). With the
    /// ROM loader: espflash's own ESP8266 path (1 KiB FLASH_DATA blocks, uncompressed,
    /// with the ROM erase-size workaround), which the ROM cannot check:
    /// [`Verification::NotVerified`].
    pub fn write(
        &mut self,
        images: &[Image],
        progress: &mut dyn Progress,
    ) -> Result<WriteReport, EspError> {
        check_images(images, self.info.flash_size_bytes)?;
        let start = Instant::now();
        let (out0, in0) = self.wire();
        let verified = if self.stub {
            self.write_stub(images, progress)?;
            for image in images {
                self.verify_md5(image)?;
            }
            let conn = self.flasher.connection();
            let r = conn.command(Command::FlashDeflateEnd { reboot: false });
            r.map_err(|e| self.err(e, "FLASH_DEFL_END"))?;
            Verification::Md5
        } else {
            self.write_rom(images, progress)?;
            Verification::NotVerified(
                "the ESP8266 ROM loader can neither compute MD5 nor read flash back; connect with the stub (the default) to verify"
                    .into(),
            )
        };
        // Run the new firmware (an RTS pulse; nothing on a pty).
        let r = self.flasher.connection().reset();
        r.map_err(|e| self.err(e, "the reset after writing"))?;
        let (out1, in1) = self.wire();
        Ok(WriteReport {
            bytes: images.iter().map(|i| i.data.len() as u64).sum(),
            seconds: start.elapsed().as_secs_f64(),
            verified,
            wire_bytes_out: out1 - out0,
            wire_bytes_in: in1 - in0,
            compressed: self.stub,
        })
    }

    fn write_rom(&mut self, images: &[Image], progress: &mut dyn Progress) -> Result<(), EspError> {
        let mut target = Esp8266Target::new();
        let r = target.begin(self.flasher.connection());
        r.map_err(|e| self.err(e, "FLASH_BEGIN"))?;
        for image in images {
            progress.start(image.data.len() as u64, &image.name);
            let mut cb = Adapter {
                progress: &mut *progress,
                len: image.data.len() as u64,
                done: 0,
            };
            let mut cb_ref: Option<&mut dyn ProgressCallbacks> = Some(&mut cb);
            let segment = RomSegment {
                addr: image.addr,
                data: Cow::Borrowed(&image.data),
            };
            let r = target.write_segment(self.flasher.connection(), segment, &mut cb_ref);
            r.map_err(|e| self.err(e, &format!("writing {}", image.name)))?;
            progress.finish();
        }
        // FLASH_END (stay in the loader); the reset comes after.
        let r = target.finish(self.flasher.connection(), false);
        r.map_err(|e| self.err(e, "FLASH_END"))?;
        Ok(())
    }

    fn write_stub(
        &mut self,
        images: &[Image],
        progress: &mut dyn Progress,
    ) -> Result<(), EspError> {
        for image in images {
            let len = image.data.len() as u64;
            progress.start(len, &image.name);
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
            z.write_all(&image.data).expect("writing to a Vec");
            let packed = z.finish().expect("writing to a Vec");
            let blocks: Vec<&[u8]> = packed.chunks(STUB_BLOCK).collect();
            let during = format!("writing {}", image.name);
            let conn = self.flasher.connection();
            let r = conn.with_timeout(
                CommandType::FlashDeflateBegin.timeout_for_size(len as u32),
                |c| {
                    c.command(Command::FlashDeflateBegin {
                        size: len as u32,
                        blocks: blocks.len() as u32,
                        block_size: STUB_BLOCK as u32,
                        offset: image.addr,
                        supports_encryption: false,
                    })
                },
            );
            r.map_err(|e| self.err(e, &during))?;
            let mut sent = 0u64;
            let mut reported = 0u64;
            for (i, block) in blocks.iter().enumerate() {
                // A compressed block may expand to far more than its size.
                let expands_to = (len / blocks.len() as u64).max(STUB_BLOCK as u64) as u32;
                let conn = self.flasher.connection();
                let r = conn.with_timeout(
                    CommandType::FlashDeflateData.timeout_for_size(expands_to),
                    |c| {
                        c.command(Command::FlashDeflateData {
                            data: block,
                            pad_to: 0,
                            pad_byte: 0xff,
                            sequence: i as u32,
                        })
                    },
                );
                r.map_err(|e| self.err(e, &during))?;
                sent += block.len() as u64;
                let now = len * sent / packed.len() as u64;
                progress.advance(now - reported);
                reported = now;
            }
            progress.finish();
        }
        Ok(())
    }

    fn verify_md5(&mut self, image: &Image) -> Result<(), EspError> {
        let len = image.data.len() as u32;
        let timeout = Duration::from_secs(3).max(Duration::from_millis(8 * len as u64 / 1000));
        let payload = raw::words(&[image.addr, len, 0, 0]);
        let during = format!("verifying {}", image.name);
        let reply = match raw::command(&mut self.port, raw::SPI_FLASH_MD5, &payload, 0, timeout) {
            Ok(r) => r,
            Err(RawError::Timeout) => return Err(EspError::Timeout { during }),
            Err(RawError::Io(e)) => {
                return Err(if self.port.stats().hung_up() {
                    EspError::Disconnected {
                        port: self.path.clone(),
                        during,
                    }
                } else {
                    EspError::Io {
                        port: self.path.clone(),
                        source: e,
                    }
                });
            }
        };
        if reply.status != 0 {
            return Err(EspError::Rejected {
                command: "SPI_FLASH_MD5".into(),
                detail: format!("status {} error {:#04x}", reply.status, reply.error),
            });
        }
        let actual = match reply.data.len() {
            16 => hex(&reply.data),
            32 => String::from_utf8_lossy(&reply.data).to_ascii_lowercase(),
            n => {
                return Err(EspError::Rejected {
                    command: "SPI_FLASH_MD5".into(),
                    detail: format!("an MD5 answer of {n} bytes"),
                });
            }
        };
        let expected = hex(&md5::compute(&image.data).0);
        if actual != expected {
            return Err(EspError::VerifyFailed {
                name: image.name.clone(),
                addr: image.addr,
                expected,
                actual,
            });
        }
        Ok(())
    }

    /// Switches the link to `baud` with the stub's CHANGE_BAUD (the ESP8266 ROM has none,
    /// and espflash 2.1 never does it for the ESP8266), then checks the loader still
    /// answers at the new rate. Optional: writes work at 115200.
    pub fn change_baud(&mut self, baud: u32) -> Result<(), EspError> {
        if !self.stub {
            return Err(EspError::NeedsStub {
                what: "changing the baud rate".into(),
            });
        }
        let r = self.flasher.change_baud(baud);
        r.map_err(|e| self.err(e, "CHANGE_BAUD"))?;
        let r = self.flasher.connection().read_reg(0x4000_1000);
        match r {
            Ok(ESP8266_MAGIC) => Ok(()),
            Ok(other) => Err(EspError::Espflash(format!(
                "after CHANGE_BAUD to {baud} the chip magic reads {other:#010x}"
            ))),
            Err(e) => Err(self.err(e, &format!("the first command at {baud} baud"))),
        }
    }

    /// Gives the port back (e.g. to open a monitor on it).
    pub fn into_port(self) -> AdapterPort {
        self.port
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn check_images(images: &[Image], flash_size: u32) -> Result<(), EspError> {
    let mut spans: Vec<(u64, u64, &str)> = Vec::new();
    for image in images {
        if image.data.is_empty() {
            return Err(EspError::BadImages(format!("{} is empty", image.name)));
        }
        let end = image.addr as u64 + image.data.len() as u64;
        if end > flash_size as u64 {
            return Err(EspError::BadImages(format!(
                "{} ({} bytes at {:#x}) ends at {end:#x}, past the end of the {} KiB flash",
                image.name,
                image.data.len(),
                image.addr,
                flash_size / 1024
            )));
        }
        spans.push((image.addr as u64, end, &image.name));
    }
    spans.sort();
    for w in spans.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(EspError::BadImages(format!(
                "{} and {} overlap at {:#x}",
                w[0].2, w[1].2, w[1].0
            )));
        }
    }
    Ok(())
}

/// Opens `port` at 115200 baud without touching DTR/RTS and sends SYNC until the ROM
/// loader answers or `timeout` passes. `Ok(None)`: nothing answered (not in download
/// mode, or not an ESP8266 at all). On an answer, reads chip, MAC, crystal and flash id.
pub fn probe_rom(port: &Path, timeout: Duration) -> Result<Option<EspInfo>, EspError> {
    let p = open_port(port, 115_200)?.without_lines();
    probe_rom_port(p, port, timeout)
}

/// [`probe_rom`] over an opened port.
pub fn probe_rom_port(
    mut port: AdapterPort,
    path: &Path,
    timeout: Duration,
) -> Result<Option<EspInfo>, EspError> {
    let io = |e: std::io::Error| EspError::Io {
        port: path.to_path_buf(),
        source: e,
    };
    let deadline = Instant::now() + timeout;
    let mut synced = false;
    while Instant::now() < deadline {
        let _ = port.clear(serialport::ClearBuffer::Input);
        port.write_all(&raw::sync_frame()).map_err(io)?;
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(150));
        match raw::read_reply(&mut port, raw::SYNC, wait) {
            Ok(r) if r.status == 0 => {
                synced = true;
                break;
            }
            Ok(_) | Err(RawError::Timeout) => {}
            Err(RawError::Io(e)) => return Err(io(e)),
        }
    }
    if !synced {
        return Ok(None);
    }
    // Let the other SYNC replies arrive, then drop them.
    std::thread::sleep(Duration::from_millis(30));
    let _ = port.clear(serialport::ClearBuffer::Input);
    let mut cmd = |op: u8, words: &[u32]| -> Result<u32, EspError> {
        match raw::command(
            &mut port,
            op,
            &raw::words(words),
            0,
            Duration::from_millis(500),
        ) {
            Ok(r) if r.status == 0 => Ok(r.value),
            Ok(r) => Err(EspError::Rejected {
                command: format!("command {op:#04x}"),
                detail: format!("status {} error {:#04x}", r.status, r.error),
            }),
            Err(RawError::Timeout) => Err(EspError::Timeout {
                during: "the ROM probe".into(),
            }),
            Err(RawError::Io(e)) => Err(io(e)),
        }
    };
    let magic = cmd(raw::READ_REG, &[0x4000_1000])?;
    if magic != ESP8266_MAGIC {
        return Err(EspError::NotEsp8266 {
            port: path.to_path_buf(),
            detail: format!("chip magic {magic:#010x}"),
        });
    }
    let w0 = cmd(raw::READ_REG, &[0x3ff0_0050])?;
    let w1 = cmd(raw::READ_REG, &[0x3ff0_0054])?;
    let w3 = cmd(raw::READ_REG, &[0x3ff0_005c])?;
    let oui = if w3 != 0 {
        [(w3 >> 16) as u8, (w3 >> 8) as u8, w3 as u8]
    } else if (w1 >> 16) & 0xff == 0 {
        [0x18, 0xfe, 0x34]
    } else {
        [0xac, 0xd0, 0x74]
    };
    let mac = [
        oui[0],
        oui[1],
        oui[2],
        (w1 >> 8) as u8,
        w1 as u8,
        (w0 >> 24) as u8,
    ];
    let mac = mac
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    let div = cmd(raw::READ_REG, &[0x6000_0014])? & 0xfffff;
    let est = 115_200u64 * div as u64 / 1_000_000 / 2;
    let crystal_mhz = if est > 33 { 40 } else { 26 };
    // RDID through the SPI controller, as espflash does (FLASH_BEGIN 0 attaches flash).
    cmd(raw::FLASH_BEGIN, &[0, 0, 0x400, 0])?;
    const SPI: u32 = 0x6000_0200;
    let usr = cmd(raw::READ_REG, &[SPI + 0x1c])?;
    let usr2 = cmd(raw::READ_REG, &[SPI + 0x24])?;
    cmd(raw::WRITE_REG, &[SPI + 0x1c, 1 << 31 | 1 << 28, !0, 0])?;
    cmd(raw::WRITE_REG, &[SPI + 0x24, 7 << 28 | 0x9f, !0, 0])?;
    cmd(raw::WRITE_REG, &[SPI + 0x20, 23 << 8, !0, 0])?;
    cmd(raw::WRITE_REG, &[SPI + 0x40, 0, !0, 0])?;
    cmd(raw::WRITE_REG, &[SPI, 1 << 18, !0, 0])?;
    let mut tries = 0;
    while cmd(raw::READ_REG, &[SPI])? & (1 << 18) != 0 && tries < 10 {
        tries += 1;
    }
    let id = cmd(raw::READ_REG, &[SPI + 0x40])?;
    cmd(raw::WRITE_REG, &[SPI + 0x1c, usr, !0, 0])?;
    cmd(raw::WRITE_REG, &[SPI + 0x24, usr2, !0, 0])?;
    let size_id = (id >> 16) as u8 & 0x1f;
    let flash_size_bytes = if (0x12..=0x19).contains(&size_id) {
        1u32 << size_id
    } else {
        0
    };
    Ok(Some(EspInfo {
        chip: "ESP8266".into(),
        flash_size_bytes,
        mac,
        crystal_mhz,
    }))
}
