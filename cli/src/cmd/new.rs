//! `nanoesp new <dir>`: resolve every setting (flags, then prompts on a terminal, then
//! defaults), validate them against the board facts, render the embedded template and move
//! the result into place.

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::ValueEnum;
use miette::{Context, IntoDiagnostic};
use nanoesp_boards::Catalog;
use nanoesp_project::model::{
    Config, ConsoleSection, EspSection, HttpSection, LinkKind, LinkSection, Mode, NanoSection,
    Secret, Secrets, WifiMode, WifiSecrets, WifiSection,
};

use super::{LinkArg, LinkArgs};
use crate::ui::Ui;
use crate::{Outcome, template};

/// Project mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    /// The Nano serves HTTP through the ESP8266's AT firmware.
    NanoDrivesEsp,
    /// The ESP8266 serves HTTP and reads the Nano's I/O over Firmata.
    EspMaster,
}

/// Nano board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NanoArg {
    /// Optiboot bootloader, uploads at 115200.
    Nano,
    /// Old ATmegaBOOT bootloader, uploads at 57600.
    NanoOld,
}

/// ESP8266 module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EspArg {
    /// ESP-12E module, 4 MB, auto-reset wiring.
    Esp12e,
    /// ESP-01/01S, 1 MB, no auto-reset.
    Esp01,
    /// NodeMCU dev board.
    Nodemcu,
    /// WEMOS D1 mini.
    D1Mini,
}

/// Create a project from the embedded template.
///
/// Every setting has a flag. On a terminal, missing settings are asked for (the password
/// without echo); with --yes, or without a terminal (or with CI=true), defaults are used:
/// a soft link on D8 (RX) / D9 (TX) at 57600 baud (the classic wiring; 57600 is the fastest
/// rate the Timer1 soft serial sustains full duplex on the virtual bench, see the README).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory to create (must be empty or missing unless --force).
    pub dir: PathBuf,
    /// Project mode.
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Nano bootloader variant.
    #[arg(long, value_enum)]
    pub nano: Option<NanoArg>,
    /// ESP8266 module.
    #[arg(long, value_enum)]
    pub esp: Option<EspArg>,
    #[command(flatten)]
    pub link: LinkArgs,
    /// Wi-Fi network name.
    #[arg(long)]
    pub ssid: Option<String>,
    /// Wi-Fi password (visible in your shell history: prefer --password-stdin or the prompt).
    #[arg(long, conflicts_with = "password_stdin")]
    pub password: Option<String>,
    /// Read the Wi-Fi password from standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// Host name for DHCP/mDNS.
    #[arg(long)]
    pub hostname: Option<String>,
    /// Web server port.
    #[arg(long)]
    pub http_port: Option<u16>,
    /// Take defaults for everything not given; never prompt.
    #[arg(long, short)]
    pub yes: bool,
    /// Write into a non-empty directory, replacing files of the same name.
    #[arg(long)]
    pub force: bool,
}

/// Default speed of the soft link: the highest rate the Timer1 soft serial handles full duplex
/// without framing errors on the virtual bench (HTTP both ways; 76800 already times out).
pub const DEFAULT_SOFT_BAUD: u32 = 57_600;

/// Every value the template needs, resolved.
struct Values {
    config: Config,
    password: String,
}

/// The command-line spelling of a value (`nano-old`).
fn value_name<T: ValueEnum>(v: T) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}

fn ask_choice<T: Copy + ValueEnum>(prompt: &str, default: T) -> miette::Result<T> {
    let variants = T::value_variants();
    let names: Vec<String> = variants
        .iter()
        .map(|v| {
            let pv = v.to_possible_value().expect("no skipped variants");
            match pv.get_help() {
                Some(h) => format!("{} — {h}", pv.get_name()),
                None => pv.get_name().to_string(),
            }
        })
        .collect();
    let default_index = variants
        .iter()
        .position(|v| value_name(*v) == value_name(default))
        .unwrap_or(0);
    let index = dialoguer::Select::new()
        .with_prompt(prompt)
        .items(&names)
        .default(default_index)
        .interact()
        .into_diagnostic()?;
    Ok(variants[index])
}

fn ask_text(prompt: &str, default: &str) -> miette::Result<String> {
    dialoguer::Input::<String>::new()
        .with_prompt(prompt)
        .default(default.to_string())
        .interact_text()
        .into_diagnostic()
}

fn resolve(args: &Args, ui: &Ui) -> miette::Result<Values> {
    let ask = ui.interactive() && !args.yes;
    macro_rules! choose {
        ($field:expr, $prompt:expr, $default:expr) => {
            match $field {
                Some(v) => v,
                None if ask => ask_choice($prompt, $default)?,
                None => $default,
            }
        };
    }
    let mode = choose!(args.mode, "Project mode", ModeArg::NanoDrivesEsp);
    let nano = choose!(args.nano, "Nano bootloader", NanoArg::Nano);
    let esp = choose!(args.esp, "ESP8266 module", EspArg::Esp12e);
    let kind = choose!(args.link.link, "Link between Nano and ESP", LinkArg::Soft);
    let link = args.link.resolve(kind, None);
    let ssid = match &args.ssid {
        Some(s) => s.clone(),
        None if ask => ask_text("Wi-Fi network (SSID)", "nanoesp-lab")?,
        None => "nanoesp-lab".to_string(),
    };
    let password = if args.password_stdin {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .into_diagnostic()
            .wrap_err("cannot read the password from standard input")?;
        s.trim_end_matches(['\r', '\n']).to_string()
    } else {
        match &args.password {
            Some(p) => p.clone(),
            None if ask => dialoguer::Password::new()
                .with_prompt("Wi-Fi password (empty for an open network)")
                .allow_empty_password(true)
                .interact()
                .into_diagnostic()?,
            None => String::new(),
        }
    };
    let hostname = match &args.hostname {
        Some(h) => h.clone(),
        None if ask => ask_text("Host name", "nanoesp")?,
        None => "nanoesp".to_string(),
    };
    let http_port = args.http_port.unwrap_or(80);
    let config = Config {
        mode: match mode {
            ModeArg::NanoDrivesEsp => Mode::NanoDrivesEsp,
            ModeArg::EspMaster => Mode::EspMaster,
        },
        nano: NanoSection {
            board: value_name(nano),
            port: "auto".into(),
        },
        esp: EspSection {
            module: value_name(esp),
            port: "auto".into(),
        },
        link: LinkSection {
            kind: match link.kind {
                LinkArg::Soft => LinkKind::Soft,
                LinkArg::Usart => LinkKind::Usart,
            },
            rx: link.rx.trim().to_ascii_uppercase(),
            tx: link.tx.trim().to_ascii_uppercase(),
            baud: link.baud,
            // Off in a new project: `nanoesp config set link.save_baud true` turns it on.
            save_baud: false,
        },
        wifi: WifiSection {
            ssid,
            hostname,
            mode: WifiMode::Station,
        },
        http: HttpSection {
            port: http_port,
            ..HttpSection::default()
        },
        console: ConsoleSection::default(),
    };
    Ok(Values { config, password })
}

/// The flag that sets a config key, for error messages about flags.
fn flag_for(key: &str) -> &'static str {
    match key {
        "nano.board" => "--nano",
        "esp.module" => "--esp",
        "link.kind" => "--link",
        "link.rx" => "--rx",
        "link.tx" => "--tx",
        "link.baud" => "--baud",
        "wifi.ssid" => "--ssid",
        "wifi.password" => "--password",
        "wifi.hostname" => "--hostname",
        "http.port" => "--http-port",
        _ => "a setting",
    }
}

fn check_destination(dir: &Path, force: bool) -> miette::Result<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() && !force {
                miette::bail!(miette::miette!(
                    help = "Choose a new directory, or pass --force to write into this one (files of the same name are replaced).",
                    "{} is not empty",
                    dir.display()
                ));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            miette::bail!("{} is a file, not a directory", dir.display())
        }
        Err(e) => Err(e)
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot read {}", dir.display())),
    }
}

/// Runs `nanoesp new`.
pub fn run(args: Args, ui: &Ui) -> miette::Result<Outcome> {
    let values = resolve(&args, ui)?;
    // Timed from here: prompts are the user's time, not ours.
    let started = std::time::Instant::now();
    let catalog = Catalog::load().expect("embedded board data is valid (tested)");
    let secrets = Secrets {
        wifi: WifiSecrets {
            password: Secret::new(values.password.clone()),
        },
    };
    let problems = nanoesp_project::validate::validate(&values.config, &secrets, &catalog);
    if let Some(first) = problems.first() {
        let rest: Vec<String> = problems[1..]
            .iter()
            .map(|p| format!("{} ({}): {}", flag_for(&p.key), p.key, p.message))
            .collect();
        let mut message = format!(
            "{} ({}): {}",
            flag_for(&first.key),
            first.key,
            first.message
        );
        for r in rest {
            message.push('\n');
            message.push_str(&r);
        }
        miette::bail!(miette::miette!(help = first.help.clone(), "{message}"));
    }

    check_destination(&args.dir, args.force)?;
    let name = template::project_name(&args.dir);
    let c = &values.config;
    let defines: Vec<(&str, String)> = vec![
        ("nano_board", c.nano.board.clone()),
        ("esp_module", c.esp.module.clone()),
        ("link_kind", c.link.kind.as_str().to_string()),
        ("link_rx", c.link.rx.clone()),
        ("link_tx", c.link.tx.clone()),
        ("link_baud", c.link.baud.to_string()),
        ("wifi_ssid", c.wifi.ssid.clone()),
        ("wifi_password", values.password.clone()),
        ("hostname", c.wifi.hostname.clone()),
        ("http_port", c.http.port.to_string()),
        ("max_clients", c.http.max_clients.to_string()),
    ];
    let parent = match args.dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent)
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot create {}", parent.display()))?;
    let files = match c.mode {
        Mode::NanoDrivesEsp => template::nano_drives_esp(),
        Mode::EspMaster => template::esp_master(),
    };
    let (staging, rendered) = template::render(files, &name, &defines, &parent)?;
    set_secret_mode(&rendered.join(nanoesp_project::SECRETS_FILE))?;

    // The rendered project must open cleanly: the same checks `config check` runs.
    nanoesp_project::Project::open(&rendered)
        .wrap_err("the generated project does not validate (a nanoesp bug)")?;

    template::move_into(&rendered, &args.dir)
        .into_diagnostic()
        .wrap_err_with(|| format!("cannot move the new project into {}", args.dir.display()))?;
    drop(staging);

    ui.status(
        "Created",
        format!(
            "{} ({}, {} + {}, {} link {}/{} at {} baud) in {} ms",
            args.dir.display(),
            c.mode.as_str(),
            c.nano.board,
            c.esp.module,
            c.link.kind.as_str(),
            c.link.rx,
            c.link.tx,
            c.link.baud,
            started.elapsed().as_millis()
        ),
    );
    ui.status(
        "Next",
        format!(
            "cd {} && nanoesp build   (wiring: WIRING.md)",
            args.dir.display()
        ),
    );
    Ok(Outcome::Ok)
}

fn set_secret_mode(path: &Path) -> miette::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .into_diagnostic()
            .wrap_err_with(|| format!("cannot restrict {}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
