//! One module per subcommand.

pub mod bench;
pub mod build;
pub mod config;
pub mod doctor;
pub mod flash;
pub mod monitor;
pub mod new;
pub mod ports;
pub mod sim;

use std::path::PathBuf;

use clap::ValueEnum;

/// `--project DIR`, shared by every command that works on an existing project.
#[derive(Debug, Clone, clap::Args)]
pub struct ProjectArgs {
    /// Project directory (the one holding nanoesp.toml).
    #[arg(
        long,
        value_name = "DIR",
        default_value = ".",
        env = "NANOESP_PROJECT",
        global = true
    )]
    pub project: PathBuf,
}

impl ProjectArgs {
    /// Opens and validates the project.
    pub fn open(&self) -> miette::Result<nanoesp_project::Project> {
        Ok(nanoesp_project::Project::open(&self.project)?)
    }
}

/// Serial link kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LinkArg {
    /// Timer1 software serial on D8 (RX) / D9 (TX).
    Soft,
    /// Hardware USART on D0/D1 (no console).
    Usart,
}

impl LinkArg {
    /// The name used in `nanoesp.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkArg::Soft => "soft",
            LinkArg::Usart => "usart",
        }
    }

    /// Default RX pin, TX pin and baud of this kind of link.
    pub fn defaults(self) -> (&'static str, &'static str, u32) {
        match self {
            LinkArg::Soft => ("D8", "D9", new::DEFAULT_SOFT_BAUD),
            LinkArg::Usart => ("D0", "D1", 115_200),
        }
    }
}

/// `--link --rx --tx --baud`: the Nano ↔ ESP serial link, shared by `new` and `sim`.
#[derive(Debug, Clone, clap::Args)]
pub struct LinkArgs {
    /// Serial link between the Nano and the ESP.
    #[arg(long, value_enum)]
    pub link: Option<LinkArg>,
    /// Nano pin receiving from the ESP (default D8 for soft, D0 for usart).
    #[arg(long)]
    pub rx: Option<String>,
    /// Nano pin sending to the ESP (default D9 for soft, D1 for usart).
    #[arg(long)]
    pub tx: Option<String>,
    /// Link baud rate (default 57600 for soft, 115200 for usart).
    #[arg(long)]
    pub baud: Option<u32>,
}

/// A fully specified link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Kind.
    pub kind: LinkArg,
    /// Firmware RX pin.
    pub rx: String,
    /// Firmware TX pin.
    pub tx: String,
    /// Baud rate.
    pub baud: u32,
}

impl LinkArgs {
    /// Completes the link of `kind`: flags first, then `base` (a project's own link, used
    /// only when it is of the same kind), then the kind's defaults.
    pub fn resolve(&self, kind: LinkArg, base: Option<&Link>) -> Link {
        let base = base.filter(|b| b.kind == kind);
        let (rx, tx, baud) = kind.defaults();
        Link {
            kind,
            rx: self
                .rx
                .clone()
                .or_else(|| base.map(|b| b.rx.clone()))
                .unwrap_or_else(|| rx.into()),
            tx: self
                .tx
                .clone()
                .or_else(|| base.map(|b| b.tx.clone()))
                .unwrap_or_else(|| tx.into()),
            baud: self.baud.or_else(|| base.map(|b| b.baud)).unwrap_or(baud),
        }
    }
}
