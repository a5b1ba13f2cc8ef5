//! Espressif's AT firmware as downloaded by the user (nanoesp never downloads it): a
//! directory or `.zip`. Recognises the NonOS AT 1.7.x bin layout and ESP-AT 2.x, and
//! turns the former into images at the addresses of Espressif's `bin/at/README.md`:
//!
//! | Flash | Map | Images |
//! |---|---|---|
//! | 1 MB (8 Mbit) | 512+512 | boot `0x0`, `at/512+512/user1.1024.new.2.bin` `0x1000`, init data `0xfc000`, blank `0x7e000` and `0xfe000` |
//! | 2 MB (16 Mbit-C1) | 1024+1024 | boot `0x0`, `at/1024+1024/user1.2048.new.5.bin` `0x1000`, init data `0x1fc000`, blank `0xfe000` and `0x1fe000` |
//! | 4 MB (32 Mbit-C1) | 1024+1024 | boot `0x0`, `at/1024+1024/user1.2048.new.5.bin` `0x1000`, init data `0x3fc000`, blank `0xfe000` and `0x3fe000` |
//!
//! ESP-AT 2.x ([`AtVersion::EspAt2`]) moves the AT port to GPIO13/GPIO15 in its stock
//! WROOM-02 build, so a CLI should refuse it unless forced; [`plan`] writes its merged
//! `factory_*.bin` at `0x0` (2 MB or more only).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::Image;

/// Which AT firmware family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AtVersion {
    /// NonOS AT 1.7.x (ESP8266_NONOS_SDK `bin/`).
    NonOs17 {
        /// Version from the file or directory name (e.g. `1.7.4`), if present.
        version: Option<String>,
    },
    /// ESP-AT 2.x (ESP8266_RTOS_SDK based).
    EspAt2 {
        /// Version from the file or directory name (e.g. `2.2.1.0`), if present.
        version: Option<String>,
    },
}

/// A loaded AT firmware: its family and its files (path inside the directory or zip,
/// with `/` separators, → contents).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtFirmware {
    /// Family and version.
    pub version: AtVersion,
    /// All `.bin` files (and `download.config`), by relative path.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Where it was loaded from.
    pub source: PathBuf,
}

/// Why an AT firmware cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AtFirmwareError {
    /// Reading failed.
    #[error("reading {path}: {source}")]
    Io {
        /// File or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Not a readable zip.
    #[error("{path} is not a readable zip: {reason}")]
    Zip {
        /// The file.
        path: PathBuf,
        /// What the zip reader said.
        reason: String,
    },
    /// Neither layout matched.
    #[error(
        "{path} does not look like Espressif's ESP8266 AT firmware: expected the NonOS AT 1.7.x bin folder (boot_v1.7.bin, at/512+512/user1.1024.new.2.bin, esp_init_data_default_v08.bin, blank.bin) or an ESP-AT 2.x release (factory/factory_*.bin); download it from Espressif and pass the folder or the .zip"
    )]
    Unrecognised {
        /// The directory or zip.
        path: PathBuf,
    },
    /// A file of the flash map is missing.
    #[error("the AT firmware in {path} has no {file}, needed for a {flash_mb} MB flash")]
    MissingFile {
        /// The directory or zip.
        path: PathBuf,
        /// The missing file.
        file: String,
        /// Flash size in MB.
        flash_mb: u32,
    },
    /// No flash map for this size.
    #[error(
        "no AT flash map for a {bytes}-byte flash: NonOS AT 1.7 supports 1, 2 and 4 MB (512 KB modules cannot run AT 1.7; ESP-AT 2.x needs 2 MB)"
    )]
    UnsupportedSize {
        /// Flash size in bytes.
        bytes: u32,
    },
    /// A file is larger than its slot in the map.
    #[error("{file} ({len} bytes) does not fit its {slot}-byte slot at {addr:#x}")]
    TooLarge {
        /// The file.
        file: String,
        /// Its size.
        len: usize,
        /// Where it goes.
        addr: u32,
        /// Room there.
        slot: u32,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AtFirmwareError + '_ {
    move |source| AtFirmwareError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn walk(
    root: &Path,
    dir: &Path,
    files: &mut BTreeMap<String, Vec<u8>>,
) -> Result<(), AtFirmwareError> {
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        if path.is_dir() {
            walk(root, &path, files)?;
        } else if wanted(&path.to_string_lossy()) {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            files.insert(rel, std::fs::read(&path).map_err(io(&path))?);
        }
    }
    Ok(())
}

fn wanted(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".bin") || lower.ends_with("download.config")
}

/// Loads an AT firmware from a directory or a `.zip` and recognises its family.
pub fn load(path: &Path) -> Result<AtFirmware, AtFirmwareError> {
    let mut files = BTreeMap::new();
    if path.is_dir() {
        walk(path, path, &mut files)?;
    } else {
        let file = std::fs::File::open(path).map_err(io(path))?;
        let zip_err = |e: zip::result::ZipError| AtFirmwareError::Zip {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        let mut archive = zip::ZipArchive::new(file).map_err(zip_err)?;
        for i in 0..archive.len() {
            let mut entry = archive.by_index(i).map_err(zip_err)?;
            if entry.is_dir() || !wanted(entry.name()) {
                continue;
            }
            let name = entry.name().replace('\\', "/");
            let mut data = Vec::new();
            entry.read_to_end(&mut data).map_err(io(path))?;
            files.insert(name, data);
        }
    }
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    let source_name = path.to_string_lossy().to_string();
    let version = if names.iter().any(|n| file_name(n).starts_with("factory_"))
        || names.iter().any(|n| n.ends_with("download.config"))
        || names.iter().any(|n| file_name(n) == "esp-at.bin")
    {
        AtVersion::EspAt2 {
            version: version_in(&source_name, "2."),
        }
    } else if find(&files, "at/512+512/user1.1024.new.2.bin").is_some()
        || find(&files, "at/1024+1024/user1.2048.new.5.bin").is_some()
    {
        AtVersion::NonOs17 {
            version: version_in(&source_name, "1.7."),
        }
    } else {
        return Err(AtFirmwareError::Unrecognised {
            path: path.to_path_buf(),
        });
    };
    Ok(AtFirmware {
        version,
        files,
        source: path.to_path_buf(),
    })
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `1.7.4` from `ESP8266_NonOS_AT_Bin_V1.7.4.zip`.
fn version_in(name: &str, prefix: &str) -> Option<String> {
    let i = name.rfind(prefix)?;
    let v: String = name[i..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    Some(v.trim_end_matches('.').to_string())
}

/// The file whose path ends with `suffix` (at a `/` boundary); the shortest path wins.
fn find<'a>(files: &'a BTreeMap<String, Vec<u8>>, suffix: &str) -> Option<(&'a str, &'a [u8])> {
    files
        .iter()
        .filter(|(k, _)| *k == suffix || k.ends_with(&format!("/{suffix}")))
        .min_by_key(|(k, _)| k.len())
        .map(|(k, v)| (k.as_str(), v.as_slice()))
}

/// The images for a flash of `flash_size_bytes` (see the module table).
pub fn plan(fw: &AtFirmware, flash_size_bytes: u32) -> Result<Vec<Image>, AtFirmwareError> {
    const MB: u32 = 1 << 20;
    let flash_mb = flash_size_bytes / MB;
    let missing = |file: &str| AtFirmwareError::MissingFile {
        path: fw.source.clone(),
        file: file.into(),
        flash_mb,
    };
    let pick = |names: &[&str]| -> Result<Image, AtFirmwareError> {
        names
            .iter()
            .find_map(|n| find(&fw.files, n))
            .map(|(path, data)| Image {
                name: file_name(path).to_string(),
                addr: 0,
                data: data.to_vec(),
            })
            .ok_or_else(|| missing(names[0]))
    };
    let at = |image: Image, addr: u32| Image { addr, ..image };
    let fits = |image: &Image, slot: u32| -> Result<(), AtFirmwareError> {
        if image.data.len() as u64 > slot as u64 {
            return Err(AtFirmwareError::TooLarge {
                file: image.name.clone(),
                len: image.data.len(),
                addr: image.addr,
                slot,
            });
        }
        Ok(())
    };
    if let AtVersion::EspAt2 { .. } = fw.version {
        if flash_size_bytes < 2 * MB || !flash_size_bytes.is_power_of_two() {
            return Err(AtFirmwareError::UnsupportedSize {
                bytes: flash_size_bytes,
            });
        }
        let factory = fw
            .files
            .iter()
            .filter(|(k, _)| file_name(k).starts_with("factory_"))
            .min_by_key(|(k, _)| k.len())
            .map(|(k, v)| Image {
                name: file_name(k).to_string(),
                addr: 0,
                data: v.clone(),
            })
            .ok_or_else(|| missing("factory/factory_WROOM-02.bin"))?;
        fits(&factory, flash_size_bytes)?;
        return Ok(vec![factory]);
    }
    let (user_file, init_addr, blanks, user_slot): (&str, u32, [u32; 2], u32) =
        match flash_size_bytes {
            s if s == MB => (
                "at/512+512/user1.1024.new.2.bin",
                0xfc000,
                [0x7e000, 0xfe000],
                0x7b000,
            ),
            s if s == 2 * MB => (
                "at/1024+1024/user1.2048.new.5.bin",
                0x1fc000,
                [0xfe000, 0x1fe000],
                0xfb000,
            ),
            s if s == 4 * MB => (
                "at/1024+1024/user1.2048.new.5.bin",
                0x3fc000,
                [0xfe000, 0x3fe000],
                0xfb000,
            ),
            _ => {
                return Err(AtFirmwareError::UnsupportedSize {
                    bytes: flash_size_bytes,
                });
            }
        };
    let boot = at(
        pick(&["boot_v1.7.bin", "boot_v1.6.bin", "boot_v1.2.bin"])?,
        0,
    );
    fits(&boot, 0x1000)?;
    let user = at(pick(&[user_file])?, 0x1000);
    fits(&user, user_slot)?;
    let init = at(
        pick(&["esp_init_data_default_v08.bin", "esp_init_data_default.bin"])?,
        init_addr,
    );
    fits(&init, 0x1000)?;
    let blank = pick(&["blank.bin"])?;
    fits(&blank, 0x1000)?;
    let mut images = vec![boot, user, init];
    for addr in blanks {
        images.push(at(blank.clone(), addr));
    }
    images.sort_by_key(|i| i.addr);
    Ok(images)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const NONOS: &[(&str, usize, u8)] = &[
        ("bin/boot_v1.7.bin", 4080, 0xb0),
        ("bin/at/512+512/user1.1024.new.2.bin", 400_000, 0x12),
        ("bin/at/1024+1024/user1.2048.new.5.bin", 420_000, 0x15),
        ("bin/esp_init_data_default_v08.bin", 128, 0x1d),
        ("bin/blank.bin", 4096, 0xff),
        ("bin/at/readme.md", 10, b'#'),
    ];

    fn fake_dir(files: &[(&str, usize, u8)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, len, fill) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, vec![*fill; *len]).unwrap();
        }
        dir
    }

    fn fake_zip(dir: &Path, name: &str, files: &[(&str, usize, u8)]) -> PathBuf {
        let path = dir.join(name);
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, len, fill) in files {
            zip.start_file(format!("ESP8266_NonOS_AT_Bin_V1.7.4/{name}"), opts)
                .unwrap();
            zip.write_all(&vec![*fill; *len]).unwrap();
        }
        zip.finish().unwrap();
        path
    }

    fn addrs(images: &[Image]) -> Vec<(u32, &str)> {
        images.iter().map(|i| (i.addr, i.name.as_str())).collect()
    }

    #[test]
    fn nonos_dir_plans_for_1_2_4_mb() {
        let dir = fake_dir(NONOS);
        let fw = load(dir.path()).unwrap();
        assert!(matches!(fw.version, AtVersion::NonOs17 { .. }));
        let p = plan(&fw, 1 << 20).unwrap();
        assert_eq!(
            addrs(&p),
            vec![
                (0, "boot_v1.7.bin"),
                (0x1000, "user1.1024.new.2.bin"),
                (0x7e000, "blank.bin"),
                (0xfc000, "esp_init_data_default_v08.bin"),
                (0xfe000, "blank.bin"),
            ]
        );
        assert_eq!(p[1].data, vec![0x12; 400_000]);
        let p = plan(&fw, 2 << 20).unwrap();
        assert_eq!(
            addrs(&p),
            vec![
                (0, "boot_v1.7.bin"),
                (0x1000, "user1.2048.new.5.bin"),
                (0xfe000, "blank.bin"),
                (0x1fc000, "esp_init_data_default_v08.bin"),
                (0x1fe000, "blank.bin"),
            ]
        );
        let p = plan(&fw, 4 << 20).unwrap();
        assert_eq!(p[3].addr, 0x3fc000);
        assert_eq!(p[4].addr, 0x3fe000);
        assert!(matches!(
            plan(&fw, 512 << 10),
            Err(AtFirmwareError::UnsupportedSize { .. })
        ));
    }

    #[test]
    fn nonos_zip_with_version_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let zip = fake_zip(dir.path(), "ESP8266_NonOS_AT_Bin_V1.7.4.zip", NONOS);
        let fw = load(&zip).unwrap();
        assert_eq!(
            fw.version,
            AtVersion::NonOs17 {
                version: Some("1.7.4".into())
            }
        );
        assert_eq!(plan(&fw, 1 << 20).unwrap().len(), 5);
        let partial = fake_zip(dir.path(), "p.zip", &NONOS[..2]);
        let fw = load(&partial).unwrap();
        let e = plan(&fw, 1 << 20).unwrap_err();
        assert!(
            e.to_string().contains("esp_init_data_default_v08.bin"),
            "{e}"
        );
        assert!(matches!(
            plan(&fw, 2 << 20),
            Err(AtFirmwareError::MissingFile { .. })
        ));
    }

    #[test]
    fn esp_at_2_is_recognised_and_needs_2_mb() {
        let dir = fake_dir(&[
            (
                "ESP8266-IDF-AT_V2.2.1.0/factory/factory_WROOM-02.bin",
                5000,
                0x22,
            ),
            ("ESP8266-IDF-AT_V2.2.1.0/download.config", 40, b'-'),
            ("ESP8266-IDF-AT_V2.2.1.0/esp-at.bin", 3000, 0x21),
        ]);
        let fw = load(dir.path()).unwrap();
        assert!(matches!(fw.version, AtVersion::EspAt2 { .. }));
        assert!(plan(&fw, 1 << 20).is_err());
        let p = plan(&fw, 2 << 20).unwrap();
        assert_eq!(addrs(&p), vec![(0, "factory_WROOM-02.bin")]);
    }

    #[test]
    fn unrelated_folders_and_files_are_refused() {
        let dir = fake_dir(&[("firmware.bin", 10, 0)]);
        assert!(matches!(
            load(dir.path()),
            Err(AtFirmwareError::Unrecognised { .. })
        ));
        let not_zip = dir.path().join("x.zip");
        std::fs::write(&not_zip, b"hello").unwrap();
        assert!(matches!(load(&not_zip), Err(AtFirmwareError::Zip { .. })));
        let oversized = fake_dir(&[
            ("boot_v1.7.bin", 4080, 0),
            ("at/512+512/user1.1024.new.2.bin", 0x7b001, 0),
            ("esp_init_data_default_v08.bin", 128, 0),
            ("blank.bin", 4096, 0xff),
        ]);
        let fw = load(oversized.path()).unwrap();
        assert!(matches!(
            plan(&fw, 1 << 20),
            Err(AtFirmwareError::TooLarge { .. })
        ));
    }
}
