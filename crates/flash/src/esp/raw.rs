//! Raw loader commands framed by us, for what espflash 2.1 has no `Command` for
//! (SPI_FLASH_MD5) and for a quick SYNC probe without espflash's reset-and-retry loop.

use std::time::{Duration, Instant};

use serialport::SerialPort;

/// SYNC.
pub(crate) const SYNC: u8 = 0x08;
/// READ_REG.
pub(crate) const READ_REG: u8 = 0x0a;
/// WRITE_REG.
pub(crate) const WRITE_REG: u8 = 0x09;
/// FLASH_BEGIN.
pub(crate) const FLASH_BEGIN: u8 = 0x02;
/// SPI_FLASH_MD5 (stub).
pub(crate) const SPI_FLASH_MD5: u8 = 0x13;

/// One response: value word, payload without status bytes, status and error code.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub value: u32,
    pub data: Vec<u8>,
    pub status: u8,
    pub error: u8,
}

/// Why a raw command got no usable answer.
#[derive(Debug)]
pub(crate) enum RawError {
    /// Nothing matching arrived in time.
    Timeout,
    /// The port failed.
    Io(std::io::Error),
}

fn slip(payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0xc0];
    for &b in payload {
        match b {
            0xc0 => out.extend_from_slice(&[0xdb, 0xdc]),
            0xdb => out.extend_from_slice(&[0xdb, 0xdd]),
            _ => out.push(b),
        }
    }
    out.push(0xc0);
    out
}

/// A request frame: `00 op len checksum payload`, SLIP-framed.
pub(crate) fn frame(op: u8, payload: &[u8], checksum: u32) -> Vec<u8> {
    let mut p = vec![0x00, op];
    p.extend_from_slice(&(payload.len() as u16).to_le_bytes());
    p.extend_from_slice(&checksum.to_le_bytes());
    p.extend_from_slice(payload);
    slip(&p)
}

/// The SYNC request.
pub(crate) fn sync_frame() -> Vec<u8> {
    let mut p = vec![0x07, 0x07, 0x12, 0x20];
    p.extend([0x55; 32]);
    frame(SYNC, &p, 0)
}

pub(crate) fn words(ws: &[u32]) -> Vec<u8> {
    ws.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// Reads SLIP frames until a response to `op` arrives or `timeout` passes.
pub(crate) fn read_reply(
    port: &mut dyn SerialPort,
    op: u8,
    timeout: Duration,
) -> Result<Reply, RawError> {
    let deadline = Instant::now() + timeout;
    let mut frame = Vec::new();
    let mut in_frame = false;
    let mut escape = false;
    let old = port.timeout();
    let _ = port.set_timeout(Duration::from_millis(20));
    let result = loop {
        if Instant::now() >= deadline {
            break Err(RawError::Timeout);
        }
        let mut buf = [0u8; 256];
        let n = match port.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => break Err(RawError::Io(e)),
        };
        let mut found = None;
        for &b in &buf[..n] {
            match b {
                0xc0 => {
                    if in_frame && frame.len() >= 10 && frame[0] == 0x01 && frame[1] == op {
                        let k = frame.len();
                        found = Some(Reply {
                            value: u32::from_le_bytes([frame[4], frame[5], frame[6], frame[7]]),
                            data: frame[8..k - 2].to_vec(),
                            status: frame[k - 2],
                            error: frame[k - 1],
                        });
                        break;
                    }
                    frame.clear();
                    in_frame = true;
                    escape = false;
                }
                0xdb if in_frame => escape = true,
                _ if in_frame => {
                    let v = if escape {
                        escape = false;
                        match b {
                            0xdc => 0xc0,
                            0xdd => 0xdb,
                            other => other,
                        }
                    } else {
                        b
                    };
                    if frame.len() < 1 << 16 {
                        frame.push(v);
                    }
                }
                _ => {}
            }
        }
        if let Some(r) = found {
            break Ok(r);
        }
    };
    let _ = port.set_timeout(old);
    result
}

/// Sends one command and waits for its response.
pub(crate) fn command(
    port: &mut dyn SerialPort,
    op: u8,
    payload: &[u8],
    checksum: u32,
    timeout: Duration,
) -> Result<Reply, RawError> {
    let _ = port.clear(serialport::ClearBuffer::Input);
    port.write_all(&frame(op, payload, checksum))
        .map_err(RawError::Io)?;
    port.flush().map_err(RawError::Io)?;
    read_reply(port, op, timeout)
}
