//! `nanoesp flash`: build and flash the Nano through ravedude/avrdude (trying the other
//! Nano bootloader when the configured one does not answer), and the ESP8266 through the
//! espflash 2.1 library (AT firmware the user supplies, verified), optionally storing the
//! Wi-Fi credentials in the AT firmware.

use std::path::{Path, PathBuf};

use miette::{Context, IntoDiagnostic};
use nanoesp_boards::{AvrBoard, Catalog, EspBoard};
use nanoesp_flash::esp::{self, Reset, Verification};
use nanoesp_flash::nano::{self, NanoError, NanoFlash};
use nanoesp_flash::ports::Identity;
use nanoesp_project::Project;

use super::ProjectArgs;
use super::ports::{Found, extra_ports, plan_for, scan};
use crate::Outcome;
use crate::progress::Bars;
use crate::ui::Ui;

/// Which chip(s) to flash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Only {
    /// The Arduino Nano.
    Nano,
    /// The ESP8266.
    Esp,
}

/// Build and flash both chips: the Nano through ravedude/avrdude, the ESP8266 through
/// espflash 2.1.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub project: ProjectArgs,
    /// Flash only this chip.
    #[arg(long, value_enum)]
    pub only: Option<Only>,
    /// Serial port of the Nano, or `auto` (default: nano.port from nanoesp.toml).
    #[arg(long, value_name = "PATH")]
    pub nano_port: Option<PathBuf>,
    /// Serial port of the ESP8266's adapter, or `auto` (default: esp.port).
    #[arg(long, value_name = "PATH")]
    pub esp_port: Option<PathBuf>,
    /// Espressif's NonOS AT 1.7.x firmware (the directory or zip you downloaded from
    /// Espressif); nanoesp never downloads firmware itself.
    #[arg(long, value_name = "PATH")]
    pub at_firmware: Option<PathBuf>,
    /// Write this ESP8266 image at 0x0 instead (an Arduino sketch's `.bin`, e.g. the
    /// esp-master firmware or your own); it must start with the image magic 0xE9.
    #[arg(long, value_name = "FILE", conflicts_with = "at_firmware")]
    pub esp_bin: Option<PathBuf>,
    /// Store the project's Wi-Fi SSID and password in the ESP's AT firmware
    /// (AT+CWJAP_DEF), so they survive resets.
    #[arg(long)]
    pub provision: bool,
    /// Answer yes to questions (store a detected bootloader in nanoesp.toml).
    #[arg(long)]
    pub yes: bool,
    /// Flash ESP-AT 2.x even though its AT port moves to GPIO13/15 on this module.
    #[arg(long)]
    pub force: bool,
    /// ESP8266 without the flasher stub (ROM only: uncompressed and unverifiable).
    #[arg(long)]
    pub no_stub: bool,
    /// Switch the ESP8266 link to this baud once the stub runs (e.g. 460800: about four
    /// times faster on adapters that support it); the ROM itself stays at 115200.
    #[arg(long, value_name = "BAUD")]
    pub esp_baud: Option<u32>,
}

/// Runs `nanoesp flash`.
pub fn run(args: Args, ui: &Ui) -> miette::Result<Outcome> {
    let mut project = args.project.open()?;
    let catalog = Catalog::load().expect("embedded board data is valid (tested)");
    let do_nano = args.only != Some(Only::Esp);
    let do_esp = args.only != Some(Only::Nano);
    let esp_master = project.config.mode == nanoesp_project::model::Mode::EspMaster;
    if esp_master && (args.at_firmware.is_some() || args.provision) {
        miette::bail!(miette::miette!(
            help = "esp-master projects flash their own sketch (built by `nanoesp build`) and compile the Wi-Fi settings into it: leave out --at-firmware and --provision.",
            "--at-firmware and --provision are for nano-drives-esp projects (the ESP's AT firmware)"
        ));
    }
    let esp_work =
        esp_master || args.at_firmware.is_some() || args.esp_bin.is_some() || args.provision;
    if args.only == Some(Only::Esp) && !esp_work {
        miette::bail!(miette::miette!(
            help = "Pass --at-firmware PATH (Espressif's NonOS AT 1.7.x directory or zip), \
                    --esp-bin FILE and/or --provision.",
            "nothing to flash on the ESP8266"
        ));
    }

    // Check what the user gave before touching either chip.
    let module = catalog
        .esp(&project.config.esp.module)
        .expect("validated module id")
        .clone();
    let esp_firmware = match (&args.at_firmware, &args.esp_bin, do_esp) {
        (Some(path), _, true) => Some(EspFirmware::At(load_at_firmware(
            path, &module, args.force,
        )?)),
        (None, Some(path), true) => Some(load_esp_bin(path, args.force)?),
        // esp-master: the project's sketch, built (incrementally) now.
        (None, None, true) if esp_master => {
            super::build::build(&project, ui)?;
            let record = super::build::build_esp(&project, ui)?;
            let image = record.esp.expect("build_esp stores the sketch").image;
            Some(load_esp_bin(&image, args.force)?)
        }
        _ => None,
    };
    let snapshot = project.clone();
    let mut ports = PortResolver::new(&snapshot, &args);
    if do_nano {
        if project.config.link.kind == nanoesp_project::model::LinkKind::Usart {
            ui.warn(
                "the ESP link is on D0/D1, which the USB bootloader also uses: disconnect the \
                 ESP's TX from D0 while flashing, or the upload may fail",
            );
        }
        let port = ports.resolve(Chip::Nano, ui)?;
        let build = super::build::build(&project, ui)?;
        flash_nano(&mut project, &catalog, &build, &port, args.yes, ui)?;
    }
    if do_esp && esp_work {
        let port = ports.resolve(Chip::Esp, ui)?;
        if let Some(fw) = &esp_firmware {
            flash_esp(&module, fw, &port, &args, ui)?;
        }
        if args.provision {
            provision(&project, &port, ui)?;
        }
    } else if do_esp && args.only.is_none() {
        ui.status(
            "Skipping",
            "ESP8266: no --at-firmware given (it keeps its current AT firmware)",
        );
    }
    Ok(Outcome::Ok)
}

/// The two chips, for port resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chip {
    Nano,
    Esp,
}

/// Turns `--nano-port`/`--esp-port`/nanoesp.toml ports into paths; `auto` scans all ports
/// once and picks by protocol.
struct PortResolver<'a> {
    project: &'a Project,
    nano: String,
    esp: String,
    extra: Vec<PathBuf>,
    scanned: Option<Vec<Found>>,
}

impl<'a> PortResolver<'a> {
    fn new(project: &'a Project, args: &Args) -> PortResolver<'a> {
        let pick = |flag: &Option<PathBuf>, configured: &str| {
            flag.as_ref()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|| configured.to_string())
        };
        PortResolver {
            project,
            nano: pick(&args.nano_port, &project.config.nano.port),
            esp: pick(&args.esp_port, &project.config.esp.port),
            extra: extra_ports(&[], Some(project.dir())),
            scanned: None,
        }
    }

    fn resolve(&mut self, chip: Chip, ui: &Ui) -> miette::Result<PathBuf> {
        let wanted = match chip {
            Chip::Nano => &self.nano,
            Chip::Esp => &self.esp,
        };
        if wanted != "auto" {
            let path = PathBuf::from(wanted);
            if !path.exists() {
                miette::bail!(miette::miette!(
                    help = "Is the board plugged in? `nanoesp ports` lists the ports and what \
                            answers on them; port = \"auto\" finds the boards by protocol.",
                    "{}: no such serial port",
                    path.display()
                ));
            }
            return Ok(path);
        }
        if self.scanned.is_none() {
            ui.status(
                "Probing",
                "serial ports to find the boards (port = \"auto\")",
            );
            self.scanned = Some(scan(&self.extra, &plan_for(Some(self.project)), true));
        }
        let found = self.scanned.as_ref().expect("just scanned");
        let matches: Vec<&Found> = found
            .iter()
            .filter(|f| {
                f.identity.as_ref().is_some_and(|id| match chip {
                    Chip::Nano => id.is_nano(),
                    Chip::Esp => id.is_esp(),
                })
            })
            .collect();
        let name = match chip {
            Chip::Nano => "Nano",
            Chip::Esp => "ESP8266",
        };
        let key = match chip {
            Chip::Nano => "nano.port",
            Chip::Esp => "esp.port",
        };
        let listing = found
            .iter()
            .map(|f| {
                format!(
                    "  {}: {}",
                    f.port.path.display(),
                    f.identity
                        .as_ref()
                        .map(Identity::describe)
                        .or(f.error.clone())
                        .unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        match matches.as_slice() {
            [one] => {
                ui.status(
                    "Found",
                    format!(
                        "{name} on {}: {}",
                        one.port.path.display(),
                        one.identity
                            .as_ref()
                            .map(Identity::describe)
                            .unwrap_or_default()
                    ),
                );
                Ok(one.port.path.clone())
            }
            [] => Err(miette::miette!(
                help = format!(
                    "Plug the {name} in; for an ESP8266 put it in download mode (GPIO0 low \
                     at reset) or make sure its AT firmware answers. Or name the port: \
                     `nanoesp config set {key} /dev/ttyUSB0`."
                ),
                "no {name} found on any serial port{}",
                if listing.is_empty() {
                    " (no ports at all)".to_string()
                } else {
                    format!(":\n{listing}")
                }
            )),
            _ => Err(miette::miette!(
                help = format!(
                    "Name the port: `nanoesp config set {key} PATH` or --{}-port PATH.",
                    key.split('.').next().unwrap_or("nano")
                ),
                "more than one {name} found:\n{listing}"
            )),
        }
    }
}

/// Where ravedude lives: $NANOESP_RAVEDUDE, PATH, or the tools dir scripts/setup.sh
/// installs into (`ravedude` to let the OS search when none is found).
fn ravedude() -> PathBuf {
    crate::doctor::tools::ravedude_path().unwrap_or_else(|| PathBuf::from("ravedude"))
}

/// The other Nano bootloader: same MCU, different bootloader baud.
fn other_bootloader<'c>(catalog: &'c Catalog, board: &AvrBoard) -> Option<&'c AvrBoard> {
    catalog
        .avr_boards()
        .find(|b| b.mcu == board.mcu && b.upload_baud != board.upload_baud)
}

fn flash_nano(
    project: &mut Project,
    catalog: &Catalog,
    build: &super::build::BuildRecord,
    port: &Path,
    yes: bool,
    ui: &Ui,
) -> miette::Result<()> {
    let board = catalog
        .avr(&project.config.nano.board)
        .expect("validated board id")
        .clone();
    let scratch = project.dir().join(".nanoesp").join("ravedude");
    let tool = ravedude();
    let attempt = |board: &AvrBoard| {
        ui.status(
            "Flashing",
            format!(
                "Nano on {} through ravedude ({} bootloader, {} baud)",
                port.display(),
                board.bootloader,
                board.upload_baud
            ),
        );
        let mut bars = Bars::new(ui, "Nano");
        nano::flash(
            &NanoFlash {
                elf: &build.elf,
                port,
                board,
                ravedude: &tool,
                scratch: &scratch,
                deadline: nano::run_deadline(build.flash, board.upload_baud),
            },
            &mut bars,
        )
    };
    // One get-sync per baud (about a second each) spares a full avrdude run at the wrong
    // baud (ten retries); if the probes are inconclusive, avrdude's own failure decides.
    let mut first = board.clone();
    if let Some(other) = other_bootloader(catalog, &board)
        && !nanoesp_flash::ports::probe_stk500(port, board.upload_baud).unwrap_or(true)
        && nanoesp_flash::ports::probe_stk500(port, other.upload_baud).unwrap_or(false)
    {
        ui.warn(format!(
            "no {} bootloader answered at {} baud, the {} bootloader did at {} baud",
            board.bootloader, board.upload_baud, other.bootloader, other.upload_baud
        ));
        first = other.clone();
    }
    let (report, used) = match attempt(&first) {
        Ok(report) => (report, first.clone()),
        Err(NanoError::NotInSync { .. }) if other_bootloader(catalog, &first).is_some() => {
            let other = other_bootloader(catalog, &first).expect("checked").clone();
            ui.warn(format!(
                "no {} bootloader answered at {} baud; trying the {} bootloader ({} baud)",
                first.bootloader, first.upload_baud, other.bootloader, other.upload_baud
            ));
            match attempt(&other) {
                Ok(report) => (report, other),
                Err(NanoError::NotInSync { log, .. }) => {
                    return Err(miette::miette!(
                        help = "Check the USB cable and port (`nanoesp ports`); press the \
                                Nano's reset button just before flashing if its auto-reset \
                                does not work; a clone without a bootloader needs an ISP \
                                programmer.",
                        "neither Nano bootloader answered on {} ({} baud nor {} baud)\n{log}",
                        port.display(),
                        first.upload_baud,
                        other.upload_baud
                    ));
                }
                Err(e) => return Err(nano_report(e)),
            }
        }
        Err(e) => return Err(nano_report(e)),
    };
    ui.out(format!(
        "Nano: {} B written and verified in {:.1} s on {} ({} bootloader, {} baud)",
        report.bytes_written,
        report.elapsed.as_secs_f64(),
        port.display(),
        used.bootloader,
        used.upload_baud
    ));
    if used.id != board.id {
        let store = yes || (ui.interactive()
            && dialoguer::Confirm::new()
                .with_prompt(format!(
                    "This Nano has the {} bootloader; store nano.board = \"{}\" in nanoesp.toml?",
                    used.bootloader, used.id
                ))
                .default(true)
                .interact()
                .unwrap_or(false));
        if store {
            project.set("nano.board", &used.id)?;
            ui.status(
                "Updated",
                format!("nano.board = \"{}\" in nanoesp.toml", used.id),
            );
        } else {
            ui.warn(format!(
                "this Nano has the {} bootloader; run `nanoesp config set nano.board {}` \
                 (or flash with --yes) so the next flash tries it first",
                used.bootloader, used.id
            ));
        }
    }
    Ok(())
}

fn nano_report(e: NanoError) -> miette::Report {
    let help = match &e {
        NanoError::PortUnavailable { .. } => {
            "`nanoesp ports` lists the ports and what answers on them."
        }
        NanoError::NotInSync { .. } => {
            "Check the port and cable; press reset just before flashing if auto-reset fails."
        }
        NanoError::VerifyFailed { .. } => {
            "Flash again; repeated mismatches mean a bad cable, a weak USB port or a worn chip."
        }
        NanoError::TimedOut { .. } => {
            "The bootloader stopped answering: press the Nano's reset button (or unplug and \
             replug it) and flash again. Check that this is the Nano's port (`nanoesp ports` \
             lists what answers where) and name it with --nano-port if it is not."
        }
        _ => "Run with the port named explicitly (--nano-port) to rule out auto-detection.",
    };
    miette::miette!(help = help, "{e}")
}

/// What goes onto the ESP8266.
enum EspFirmware {
    /// Espressif's AT firmware, laid out by its flash map.
    At(esp::at_firmware::AtFirmware),
    /// One image at 0x0.
    Bin(esp::Image),
}

impl EspFirmware {
    fn images(&self, flash_size: u32) -> miette::Result<Vec<esp::Image>> {
        match self {
            EspFirmware::At(fw) => {
                esp::at_firmware::plan(fw, flash_size).map_err(|e| miette::miette!("{e}"))
            }
            EspFirmware::Bin(image) => Ok(vec![image.clone()]),
        }
    }
}

/// ESP8266 images start with the magic byte 0xE9 (the ROM refuses to boot anything else).
const ESP_IMAGE_MAGIC: u8 = 0xe9;

/// Reads an image for 0x0 and checks it is an ESP8266 image (unless `force`).
fn load_esp_bin(path: &Path, force: bool) -> miette::Result<EspFirmware> {
    let data = std::fs::read(path)
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot read {}", path.display()))?;
    if data.first() != Some(&ESP_IMAGE_MAGIC) && !force {
        miette::bail!(miette::miette!(
            help = "Pass the sketch's .bin (Arduino: Sketch > Export compiled binary), not the \
                    .elf; --force writes it anyway.",
            "{} is not an ESP8266 image: it does not start with 0xE9",
            path.display()
        ));
    }
    Ok(EspFirmware::Bin(esp::Image {
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "image".into()),
        addr: 0,
        data,
    }))
}

/// Loads the AT firmware the user supplied and refuses ESP-AT 2.x without `--force`.
fn load_at_firmware(
    path: &Path,
    module: &EspBoard,
    force: bool,
) -> miette::Result<esp::at_firmware::AtFirmware> {
    let fw = esp::at_firmware::load(path).map_err(|e| {
        miette::miette!(
            help = "Pass the directory or zip of Espressif's NonOS AT 1.7.x release.",
            "{e}"
        )
    })?;
    if matches!(fw.version, esp::at_firmware::AtVersion::EspAt2 { .. }) && !force {
        miette::bail!(miette::miette!(
            help = "Use Espressif's NonOS AT 1.7.x (ESP8266_NONOS_SDK releases), or pass \
                    --force if your wiring uses GPIO13/GPIO15 for the AT port.",
            "{} is ESP-AT 2.x: on the {} its AT port moves to GPIO13/GPIO15, so the Nano \
             would no longer reach it on TX/RX",
            path.display(),
            module.name
        ));
    }
    Ok(fw)
}

fn flash_esp(
    module: &EspBoard,
    fw: &EspFirmware,
    port: &Path,
    args: &Args,
    ui: &Ui,
) -> miette::Result<()> {
    let reset = if module.auto_reset {
        Reset::Auto
    } else {
        Reset::None
    };
    let mut session = loop {
        if reset == Reset::None {
            ui.status(
                "Reset",
                format!(
                    "the {} has no auto-reset: hold GPIO0 to GND, pulse RST (or power) \
                     while holding it, then release GPIO0",
                    module.name
                ),
            );
            if ui.interactive() {
                let _: String = dialoguer::Input::new()
                    .with_prompt("Press Enter when the ESP8266 is in download mode")
                    .allow_empty(true)
                    .interact_text()
                    .unwrap_or_default();
            }
        }
        ui.status(
            "Connecting",
            format!("ESP8266 ROM loader on {}", port.display()),
        );
        match esp::connect(port, reset, !args.no_stub) {
            Ok(session) => break session,
            Err(e @ esp::EspError::NotInDownloadMode { .. }) if ui.interactive() => {
                ui.warn(format!("{e}"));
                let again = dialoguer::Confirm::new()
                    .with_prompt("Try again?")
                    .default(true)
                    .interact()
                    .unwrap_or(false);
                if !again {
                    return Err(miette::miette!(
                        help = esp_help(module),
                        "{e}{}",
                        rom_banner_note(port)
                    ));
                }
            }
            Err(e @ esp::EspError::NotInDownloadMode { .. }) => {
                return Err(miette::miette!(
                    help = esp_help(module),
                    "{e}{}",
                    rom_banner_note(port)
                ));
            }
            Err(e) => {
                return Err(miette::miette!(help = esp_help(module), "{e}"));
            }
        }
    };
    if let Some(baud) = args.esp_baud.filter(|&b| b != 115_200) {
        if session.stub() {
            session.change_baud(baud).map_err(|e| {
                miette::miette!(
                    help = "Flash again without --esp-baud (115200 always works), or try 230400.",
                    "{e}"
                )
            })?;
            ui.status("Baud", format!("ESP8266 link switched to {baud}"));
        } else {
            ui.warn(format!(
                "--esp-baud {baud} needs the flasher stub, which is not running; staying at 115200"
            ));
        }
    }
    let info = session.info().clone();
    ui.status(
        "Connected",
        format!(
            "{} ({} MB flash, {} MHz crystal, MAC {}){}",
            info.chip,
            info.flash_size_bytes / (1024 * 1024),
            info.crystal_mhz,
            info.mac,
            if session.stub() {
                ", flasher stub running"
            } else {
                ""
            }
        ),
    );
    let images = fw.images(info.flash_size_bytes)?;
    let mut bars = Bars::new(ui, "ESP8266");
    let report = session
        .write(&images, &mut bars)
        .map_err(|e| miette::miette!(help = esp_help(module), "{e}"))?;
    drop(bars);
    let verified = match &report.verified {
        Verification::Md5 => "verified (MD5)".to_string(),
        Verification::ReadBack => "verified (read back)".to_string(),
        Verification::NotVerified(why) => format!("NOT verified: {why}"),
    };
    ui.out(format!(
        "ESP8266: {} B in {} image(s) written in {:.1} s{}, {verified}, on {}",
        report.bytes,
        images.len(),
        report.seconds,
        if report.compressed {
            " (compressed)"
        } else {
            ""
        },
        port.display()
    ));
    Ok(())
}

/// Listens for the ROM's 74880-baud boot banner (printed after the reset our open causes
/// on auto-reset wiring) and says what it reveals about the strapping pins.
fn rom_banner_note(port: &Path) -> String {
    let Ok(bytes) =
        nanoesp_flash::ports::capture(port, 74_880, std::time::Duration::from_millis(1500))
    else {
        return String::new();
    };
    match esp::banner::decode(&bytes) {
        Some(b) if b.boot_mode.0 == 1 => format!(
            "\nIts ROM boot banner (74880 baud) says boot mode ({},{}): it IS in download mode \
             but does not answer, so check the wires: adapter TX to ESP RX, adapter RX to ESP \
             TX, a common GND.",
            b.boot_mode.0, b.boot_mode.1
        ),
        Some(b) => format!(
            "\nIts ROM boot banner (74880 baud): reset cause {} ({}), boot mode ({},{}): {}.",
            b.rst_cause, b.rst_meaning, b.boot_mode.0, b.boot_mode.1, b.boot_meaning
        ),
        None => String::new(),
    }
}

fn esp_help(module: &EspBoard) -> String {
    if module.auto_reset {
        "Check the USB cable and port (`nanoesp ports`); if the board's auto-reset does not \
         work, hold FLASH/GPIO0 while pressing RST, then flash again."
            .into()
    } else {
        format!(
            "The {} needs GPIO0 held low while RST is pulsed to enter download mode; its \
             adapter must give 3.3 V with at least 300 mA.",
            module.name
        )
    }
}

fn provision(project: &Project, port: &Path, ui: &Ui) -> miette::Result<()> {
    let password = project.secrets.wifi.password.expose().to_string();
    let ssid = &project.config.wifi.ssid;
    ui.status(
        "Provisioning",
        format!(
            "Wi-Fi \"{ssid}\" into the ESP8266's AT firmware on {}",
            port.display()
        ),
    );
    esp::provision(port, 115_200, ssid, &password)
        .into_diagnostic()
        .wrap_err("storing the Wi-Fi credentials in the ESP8266 failed")?;
    ui.out(format!(
        "ESP8266: Wi-Fi \"{ssid}\" stored (AT+CWJAP_DEF); the password is not printed"
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hung_avrdude_is_reported_with_the_port_the_deadline_and_what_to_try() {
        let report = nano_report(NanoError::TimedOut {
            port: PathBuf::from("/dev/ttyUSB0"),
            deadline: std::time::Duration::from_secs(153),
            log: "Writing | ###".into(),
        });
        let message = report.to_string();
        assert!(
            message.starts_with("avrdude did not finish within 153 s on /dev/ttyUSB0"),
            "{message}"
        );
        assert!(message.contains("Writing | ###"), "{message}");
        let help = report.help().map(|h| h.to_string()).unwrap_or_default();
        for hint in ["reset button", "replug", "nanoesp ports", "--nano-port"] {
            assert!(help.contains(hint), "{hint} missing from: {help}");
        }
    }
}
