//! `nanoesp config get|set|unset|list|check`: read and change `nanoesp.toml` and
//! `secrets.toml`. Edits keep comments and order, are validated before anything is written,
//! and are atomic; the password is never printed.

use std::io::Read;

use miette::{Context, IntoDiagnostic};
use nanoesp_project::{REDACTED, keys};

use super::ProjectArgs;
use crate::Outcome;
use crate::ui::Ui;

/// Read or change the project's settings.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub project: ProjectArgs,
    #[command(subcommand)]
    pub action: Action,
}

/// What to do.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Print the value of a key (defaults applied; secrets shown as ********).
    Get {
        /// Dotted key, e.g. link.baud.
        key: String,
    },
    /// Set a key, or several at once. wifi.password goes to secrets.toml.
    ///
    /// More `KEY VALUE` pairs after the first are checked and written as one change, for
    /// settings only valid together: `nanoesp config set link.kind usart link.rx D0 link.tx D1`.
    Set {
        /// Dotted key, e.g. link.baud.
        key: String,
        /// New value. For wifi.password, omit it to be asked (terminal) or pass --stdin.
        value: Option<String>,
        /// Further keys and their values, set together with the first.
        #[arg(value_name = "KEY VALUE")]
        more: Vec<String>,
        /// Read the value from standard input (for secrets).
        #[arg(long)]
        stdin: bool,
    },
    /// Remove an optional key so its default applies.
    Unset {
        /// Dotted key.
        key: String,
    },
    /// List every key with its value (secrets shown as ********).
    List {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Validate the configuration; exit 1 with located errors when it is invalid.
    Check,
}

/// Runs `nanoesp config`.
pub fn run(args: Args, ui: &Ui) -> miette::Result<Outcome> {
    match args.action {
        Action::Get { key } => {
            let project = args.project.open()?;
            ui.out(project.get(&key)?);
        }
        Action::Set {
            key,
            value,
            more,
            stdin,
        } if !more.is_empty() => {
            let Some(value) = value.filter(|_| !stdin) else {
                miette::bail!(miette::miette!(
                    help = "Set the secret alone: `nanoesp config set wifi.password --stdin`.",
                    "--stdin reads one value, but several keys were given"
                ));
            };
            if more.len() % 2 == 1 {
                let last = &more[more.len() - 1];
                miette::bail!(miette::miette!(
                    help = "Give every key its value: `KEY VALUE [KEY VALUE]...`.",
                    "no value given for `{last}`"
                ));
            }
            let mut pairs = vec![(key.as_str(), value.as_str())];
            pairs.extend(more.chunks(2).map(|kv| (kv[0].as_str(), kv[1].as_str())));
            let mut project = args.project.open()?;
            project.set_all(&pairs)?;
            for (key, _) in pairs {
                report_set(ui, &project, key)?;
            }
        }
        Action::Set {
            key, value, stdin, ..
        } => {
            let mut project = args.project.open()?;
            let secret = is_secret(&key);
            let value = match (value, stdin) {
                (Some(v), false) => v,
                (None, true) | (Some(_), true) => {
                    let mut s = String::new();
                    std::io::stdin()
                        .read_to_string(&mut s)
                        .into_diagnostic()
                        .wrap_err("cannot read the value from standard input")?;
                    s.trim_end_matches(['\r', '\n']).to_string()
                }
                (None, false) if secret && ui.interactive() => dialoguer::Password::new()
                    .with_prompt(key.clone())
                    .allow_empty_password(true)
                    .interact()
                    .into_diagnostic()?,
                (None, false) => miette::bail!(miette::miette!(
                    help = "Pass the value, or --stdin to read it from standard input.",
                    "no value given for `{key}`"
                )),
            };
            project.set(&key, &value)?;
            report_set(ui, &project, &key)?;
        }
        Action::Unset { key } => {
            let mut project = args.project.open()?;
            project.unset(&key)?;
            ui.status("Unset", format!("{key} (now {})", project.get(&key)?));
        }
        Action::List { json } => {
            let project = args.project.open()?;
            let items = project.list();
            if json {
                let map: serde_json::Map<String, serde_json::Value> = items
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), serde_json::Value::String(v)))
                    .collect();
                ui.out(serde_json::to_string_pretty(&map).into_diagnostic()?);
            } else {
                let width = items.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
                for (k, v) in items {
                    ui.out(format!("{k:width$} = {v}"));
                }
            }
        }
        Action::Check => match nanoesp_project::Project::open(&args.project.project) {
            Ok(_) => ui.status(
                "Valid",
                format!(
                    "{}",
                    args.project
                        .project
                        .join(nanoesp_project::CONFIG_FILE)
                        .display()
                ),
            ),
            Err(e @ nanoesp_project::ProjectError::Invalid { .. })
            | Err(e @ nanoesp_project::ProjectError::Syntax(_)) => {
                ui.error(&miette::Report::new(e));
                return Ok(Outcome::CheckFailed);
            }
            Err(e) => return Err(e.into()),
        },
    }
    Ok(Outcome::Ok)
}

/// Whether `key` lives in secrets.toml (its value is never shown).
fn is_secret(key: &str) -> bool {
    keys::spec(key).is_some_and(|s| s.file == keys::File::Secrets)
}

/// The "Set key = value in file" line; a secret's value is never shown.
fn report_set(ui: &Ui, project: &nanoesp_project::Project, key: &str) -> miette::Result<()> {
    let (file, shown) = if is_secret(key) {
        (nanoesp_project::SECRETS_FILE, REDACTED.to_string())
    } else {
        (nanoesp_project::CONFIG_FILE, project.get(key)?)
    };
    ui.status("Set", format!("{key} = {shown} in {file}"));
    Ok(())
}
