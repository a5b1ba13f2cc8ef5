//! Intel HEX reading (firmware and bootloader images) into flash-sized byte images.

use std::path::Path;

use crate::error::SimError;

/// Contiguous bytes of a HEX file placed at a flash address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Byte address in flash.
    pub addr: u32,
    /// Data.
    pub data: Vec<u8>,
}

/// Parses Intel HEX text (record types 00, 01, 02, 03, 04, 05) into segments.
pub fn parse(text: &str) -> Result<Vec<Segment>, String> {
    let mut segments: Vec<Segment> = Vec::new();
    let mut base: u32 = 0;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let lineno = index + 1;
        let body = line
            .strip_prefix(':')
            .ok_or_else(|| format!("line {lineno}: missing ':'"))?;
        if body.len() % 2 != 0 || body.len() < 10 {
            return Err(format!("line {lineno}: malformed record"));
        }
        let bytes: Vec<u8> = (0..body.len() / 2)
            .map(|i| u8::from_str_radix(&body[2 * i..2 * i + 2], 16))
            .collect::<Result<_, _>>()
            .map_err(|_| format!("line {lineno}: not hexadecimal"))?;
        let sum = bytes.iter().fold(0u8, |a, b| a.wrapping_add(*b));
        if sum != 0 {
            return Err(format!("line {lineno}: checksum mismatch"));
        }
        let len = bytes[0] as usize;
        if bytes.len() != len + 5 {
            return Err(format!("line {lineno}: length mismatch"));
        }
        let offset = u16::from_be_bytes([bytes[1], bytes[2]]) as u32;
        let data = &bytes[4..4 + len];
        match bytes[3] {
            0x00 => {
                let addr = base + offset;
                match segments.last_mut() {
                    Some(last) if last.addr + last.data.len() as u32 == addr => {
                        last.data.extend_from_slice(data)
                    }
                    _ => segments.push(Segment {
                        addr,
                        data: data.to_vec(),
                    }),
                }
            }
            0x01 => break,
            0x02 if len == 2 => base = (u16::from_be_bytes([data[0], data[1]]) as u32) << 4,
            0x04 if len == 2 => base = (u16::from_be_bytes([data[0], data[1]]) as u32) << 16,
            0x03 | 0x05 => {} // start addresses mean nothing to an AVR
            other => {
                return Err(format!(
                    "line {lineno}: unsupported record type {other:02x}"
                ));
            }
        }
    }
    Ok(segments)
}

/// Reads and parses a HEX file.
pub fn read(path: &Path) -> Result<Vec<Segment>, SimError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| SimError::io(format!("reading {}", path.display()), e))?;
    parse(&text).map_err(|msg| SimError::Firmware(path.into(), msg))
}

/// Whether a file looks like an ELF (magic) rather than Intel HEX.
pub fn is_elf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .map(|_| magic == *b"\x7fELF")
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_data_and_extended_address_records() {
        let text = ":020000040000FA\n:0400000001020304F2\n:020004000506EF\n:00000001FF\n";
        let segs = parse(text).unwrap();
        assert_eq!(
            segs,
            vec![Segment {
                addr: 0,
                data: vec![1, 2, 3, 4, 5, 6]
            }]
        );
    }

    #[test]
    fn rejects_bad_checksum() {
        assert!(
            parse(":0400000001020304F3\n")
                .unwrap_err()
                .contains("checksum")
        );
    }

    #[test]
    fn separate_segments_stay_separate() {
        let text = ":0100000011EE\n:01100000AA45\n:00000001FF\n";
        let segs = parse(text).unwrap();
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[1].addr, 0x1000);
    }
}
