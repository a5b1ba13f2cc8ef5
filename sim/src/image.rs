//! Putting code into the simulated flash: an ELF or HEX firmware, a bootloader HEX (which
//! also moves the reset vector, as the BOOTRST fuse does) and a persistent flash image.

use std::path::{Path, PathBuf};

use crate::avr::{Avr, MCUSR_EXTRF, MCUSR_PORF};
use crate::error::SimError;
use crate::hex;

/// What goes into flash before power-on.
#[derive(Debug, Clone, Default)]
pub struct FlashPlan {
    /// Application (ELF or Intel HEX).
    pub firmware: Option<PathBuf>,
    /// Bootloader (Intel HEX); execution starts at its lowest address.
    pub bootloader: Option<PathBuf>,
    /// Raw 32 KiB image loaded first if it exists, and saved back by [`FlashStore`].
    pub flash_image: Option<PathBuf>,
}

/// Builds a powered-on core from the plan. Returns it and the bootloader base, if any.
pub fn power_on(plan: &FlashPlan) -> Result<(Avr, Option<u32>), SimError> {
    let mut avr = Avr::new()?;
    let mut have_code = false;
    if let Some(path) = &plan.flash_image
        && path.exists()
    {
        let image = std::fs::read(path)
            .map_err(|e| SimError::io(format!("reading {}", path.display()), e))?;
        if image.len() > avr.flash_size() {
            return Err(SimError::Firmware(
                path.clone(),
                "flash image larger than 32 KiB".into(),
            ));
        }
        avr.write_flash(0, &image);
        have_code = true;
    }
    if let Some(path) = &plan.firmware {
        load_code(&mut avr, path)?;
        have_code = true;
    }
    let mut boot_base = None;
    if let Some(path) = &plan.bootloader {
        let segments = hex::read(path)?;
        let base = segments
            .iter()
            .map(|s| s.addr)
            .min()
            .ok_or_else(|| SimError::Firmware(path.clone(), "empty bootloader".into()))?;
        for seg in &segments {
            if seg.addr as usize + seg.data.len() > avr.flash_size() {
                return Err(SimError::Firmware(
                    path.clone(),
                    format!(
                        "runs past the end of flash ({:#x} + {} bytes)",
                        seg.addr,
                        seg.data.len()
                    ),
                ));
            }
            avr.write_flash(seg.addr, &seg.data);
        }
        boot_base = Some(base);
        have_code = true;
    }
    if !have_code {
        return Err(SimError::Usage(
            "nothing to run: give a firmware, --bootloader, or an existing --flash-image".into(),
        ));
    }
    avr.set_reset_pc(boot_base.unwrap_or(0));
    // With BOOTRST the bootloader runs first; optiboot only waits for a programmer
    // after an external reset, which is what plugging in a Nano's USB amounts to.
    avr.reset(if boot_base.is_some() {
        MCUSR_PORF | MCUSR_EXTRF
    } else {
        MCUSR_PORF
    });
    Ok((avr, boot_base))
}

fn load_code(avr: &mut Avr, path: &Path) -> Result<(), SimError> {
    if !path.exists() {
        return Err(SimError::Firmware(path.into(), "no such file".into()));
    }
    if hex::is_elf(path) {
        return avr.load_elf(path);
    }
    for seg in hex::read(path)? {
        if seg.addr as usize + seg.data.len() > avr.flash_size() {
            return Err(SimError::Firmware(
                path.into(),
                "image does not fit in 32 KiB flash".into(),
            ));
        }
        avr.write_flash(seg.addr, &seg.data);
    }
    Ok(())
}

/// Saves the flash to a file whenever it changed (after a bootloader wrote it).
pub struct FlashStore {
    path: PathBuf,
    saved: Vec<u8>,
}

impl FlashStore {
    /// Remembers the current flash as saved (it was just loaded from or matches the file).
    pub fn new(path: PathBuf, avr: &Avr) -> FlashStore {
        FlashStore {
            path,
            saved: Vec::new(),
        }
        .with_current(avr)
    }

    fn with_current(mut self, avr: &Avr) -> FlashStore {
        if self.path.exists() {
            self.saved = avr.read_flash();
        }
        self
    }

    /// Writes the image if flash differs from the last save. Returns whether it wrote.
    pub fn save_if_changed(&mut self, avr: &Avr) -> Result<bool, SimError> {
        let flash = avr.read_flash();
        if flash == self.saved {
            return Ok(false);
        }
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, &flash)
            .map_err(|e| SimError::io(format!("writing {}", tmp.display()), e))?;
        std::fs::rename(&tmp, &self.path)
            .map_err(|e| SimError::io(format!("renaming to {}", self.path.display()), e))?;
        self.saved = flash;
        Ok(true)
    }
}
