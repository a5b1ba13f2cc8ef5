//! The nanoesp project model: `nanoesp.toml` (every non-secret setting, commented) and
//! `secrets.toml` (the Wi-Fi password, mode 0600, gitignored).
//!
//! This crate parses and validates both files against the board facts, reports problems with
//! file, line and column, and edits them with `toml_edit` so comments and key order survive.
//! Every write goes to a temporary file in the same directory and is renamed over the original,
//! and an edit is validated before anything is written, so a rejected edit changes nothing.
//! It never prints; the CLI renders its errors.
#![deny(missing_docs)]

pub mod error;
pub mod keys;
pub mod model;
pub mod validate;

use std::io::Write;
use std::path::{Path, PathBuf};

use nanoesp_boards::Catalog;
use toml_edit::{DocumentMut, Item, Value};

pub use error::{LocatedProblem, ProjectError};
pub use model::{Config, REDACTED, Secret, Secrets};

/// Name of the project file.
pub const CONFIG_FILE: &str = "nanoesp.toml";
/// Name of the secrets file.
pub const SECRETS_FILE: &str = "secrets.toml";

/// An opened, valid project.
#[derive(Debug, Clone)]
pub struct Project {
    dir: PathBuf,
    config_text: String,
    secrets_text: Option<String>,
    /// The parsed `nanoesp.toml`.
    pub config: Config,
    /// The parsed `secrets.toml` (empty when the file does not exist).
    pub secrets: Secrets,
}

fn read(path: &Path) -> Result<Option<String>, ProjectError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ProjectError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn syntax(file: &str, text: &str, err: &toml::de::Error) -> ProjectError {
    let span = err.span().unwrap_or(0..0);
    let (line, col) = error::line_col(text, span.start);
    let message = err.message().trim_end_matches('\n').to_string();
    let help = if message.contains("unknown field") {
        Some(format!("Known keys: {}.", keys::known()))
    } else {
        None
    };
    ProjectError::Syntax(Box::new(error::SyntaxError {
        location: format!("{file}:{line}:{col}"),
        message,
        help,
        src: miette::NamedSource::new(file, text.to_string()),
        span: (span.start, span.end.saturating_sub(span.start)).into(),
    }))
}

/// Byte range of a dotted key's value in `text`, or of the nearest enclosing table when the
/// key is absent (so "missing" problems point somewhere sensible).
fn key_span(text: &str, key: &str) -> std::ops::Range<usize> {
    let Ok(doc) = toml_edit::Document::parse(text) else {
        return 0..0;
    };
    let (table, field) = keys::split(key);
    let root = doc.as_table();
    let table_item = match table {
        Some(t) => match root.get(t) {
            Some(item) => item,
            None => return 0..0,
        },
        None => {
            return root.get(field).and_then(Item::span).unwrap_or(0..0);
        }
    };
    let value_span = table_item
        .as_table_like()
        .and_then(|t| t.get(field))
        .and_then(Item::span);
    value_span
        .or_else(|| table_item.as_table().and_then(|t| t.span()))
        .unwrap_or(0..0)
}

/// Parses and validates the two texts; the `Ok` value is the model.
fn parse_and_check(
    config_text: &str,
    secrets_text: Option<&str>,
    catalog: &Catalog,
) -> Result<(Config, Secrets), ProjectError> {
    let config: Config =
        toml::from_str(config_text).map_err(|e| syntax(CONFIG_FILE, config_text, &e))?;
    let secrets: Secrets = match secrets_text {
        Some(t) => toml::from_str(t).map_err(|e| syntax(SECRETS_FILE, t, &e))?,
        None => Secrets::default(),
    };
    let problems = validate::validate(&config, &secrets, catalog);
    if problems.is_empty() {
        return Ok((config, secrets));
    }
    let located = problems
        .into_iter()
        .map(|p| {
            let in_secrets = keys::spec(&p.key).is_some_and(|s| s.file == keys::File::Secrets);
            let (file, text) = if in_secrets {
                (SECRETS_FILE, secrets_text.unwrap_or(""))
            } else {
                (CONFIG_FILE, config_text)
            };
            // Never echo a secret's text into a report: point at it, show no source.
            let shown = if in_secrets { "" } else { text };
            let span = if in_secrets {
                0..0
            } else {
                key_span(text, &p.key)
            };
            let mut problem =
                LocatedProblem::new(file, shown, span.clone(), &p.key, p.message, p.help);
            if in_secrets {
                let (line, col) = error::line_col(text, key_span(text, &p.key).start);
                problem.location = format!("{file}:{line}:{col}");
            }
            problem
        })
        .collect();
    Err(ProjectError::Invalid { problems: located })
}

/// Writes `contents` to `path` atomically: a temporary file in the same directory, flushed to
/// disk, given `mode`, then renamed over the target.
///
/// # Errors
/// [`ProjectError::Write`] naming `path`; the original file is untouched.
pub fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), ProjectError> {
    let wrap = |source| ProjectError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".nanoesp-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(wrap)?;
    tmp.write_all(contents).map_err(wrap)?;
    tmp.as_file().sync_all().map_err(wrap)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(mode))
            .map_err(wrap)?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    tmp.persist(path).map_err(|e| wrap(e.error))?;
    Ok(())
}

/// The value of `key` in `value` (a serialised model), rendered for humans.
fn render(value: &toml::Value) -> String {
    match value {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Project {
    /// Opens and validates the project in `dir`.
    ///
    /// # Errors
    /// Missing or unreadable files, syntax errors and invalid values, each located.
    pub fn open(dir: &Path) -> Result<Project, ProjectError> {
        let catalog = Catalog::load().expect("embedded board data is valid (tested)");
        let config_path = dir.join(CONFIG_FILE);
        let config_text = read(&config_path)?.ok_or_else(|| ProjectError::NotFound {
            dir: dir.to_path_buf(),
        })?;
        let secrets_text = read(&dir.join(SECRETS_FILE))?;
        let (config, secrets) = parse_and_check(&config_text, secrets_text.as_deref(), &catalog)?;
        Ok(Project {
            dir: dir.to_path_buf(),
            config_text,
            secrets_text,
            config,
            secrets,
        })
    }

    /// Project directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of `nanoesp.toml`.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join(CONFIG_FILE)
    }

    /// Path of `secrets.toml`.
    pub fn secrets_path(&self) -> PathBuf {
        self.dir.join(SECRETS_FILE)
    }

    /// The raw text of `nanoesp.toml` (no secrets in it).
    pub fn config_text(&self) -> &str {
        &self.config_text
    }

    /// The effective value of `key` (defaults applied); secrets are shown as [`REDACTED`].
    ///
    /// # Errors
    /// [`ProjectError::UnknownKey`].
    pub fn get(&self, key: &str) -> Result<String, ProjectError> {
        let spec = keys::spec(key).ok_or_else(|| ProjectError::UnknownKey {
            key: key.to_string(),
            known: keys::known(),
        })?;
        if spec.file == keys::File::Secrets {
            return Ok(if self.secrets.wifi.password.is_empty() {
                String::new()
            } else {
                REDACTED.to_string()
            });
        }
        let tree = toml::Value::try_from(&self.config).expect("the model serialises");
        let (table, field) = keys::split(key);
        let value = match table {
            Some(t) => tree.get(t).and_then(|t| t.get(field)),
            None => tree.get(field),
        };
        Ok(value.map(render).unwrap_or_default())
    }

    /// Every key with its effective value, secrets redacted.
    pub fn list(&self) -> Vec<(&'static str, String)> {
        keys::KEYS
            .iter()
            .map(|s| (s.key, self.get(s.key).unwrap_or_default()))
            .collect()
    }

    /// Sets `key` to `raw` after checking the whole resulting configuration; writes atomically,
    /// keeping comments and order. Nothing is written when the result would be invalid.
    ///
    /// # Errors
    /// Unknown key, wrong type, invalid result (located in the would-be file), write failure.
    pub fn set(&mut self, key: &str, raw: &str) -> Result<(), ProjectError> {
        self.set_all(&[(key, raw)])
    }

    /// Sets several keys, checked as one change: for settings only valid together (a new
    /// `link.kind` with its pins). Each file is written atomically, and nothing is written
    /// when the result would be invalid.
    ///
    /// # Errors
    /// As [`Project::set`], for the first key that fails.
    pub fn set_all(&mut self, pairs: &[(&str, &str)]) -> Result<(), ProjectError> {
        let mut edits = Vec::with_capacity(pairs.len());
        for &(key, raw) in pairs {
            let spec = keys::spec(key).ok_or_else(|| ProjectError::UnknownKey {
                key: key.to_string(),
                known: keys::known(),
            })?;
            edits.push((spec, Some(parse_value(spec, raw)?)));
        }
        self.edit(&edits)
    }

    /// Removes an optional `key` so its default applies again.
    ///
    /// # Errors
    /// Unknown or required key, write failure.
    pub fn unset(&mut self, key: &str) -> Result<(), ProjectError> {
        let spec = keys::spec(key).ok_or_else(|| ProjectError::UnknownKey {
            key: key.to_string(),
            known: keys::known(),
        })?;
        if !spec.optional {
            return Err(ProjectError::Required {
                key: key.to_string(),
            });
        }
        self.edit(&[(spec, None)])
    }

    fn edit(&mut self, edits: &[(&keys::KeySpec, Option<Value>)]) -> Result<(), ProjectError> {
        let in_file = |file: keys::File| edits.iter().filter(move |(s, _)| s.file == file);
        let mut config_text = self.config_text.clone();
        let mut secrets_text = self.secrets_text.clone();
        let config_edited = in_file(keys::File::Config).next().is_some();
        let secrets_edited = in_file(keys::File::Secrets).next().is_some();
        if config_edited {
            config_text = apply(CONFIG_FILE, &config_text, in_file(keys::File::Config))?;
        }
        if secrets_edited {
            let original = secrets_text.unwrap_or_default();
            secrets_text = Some(apply(
                SECRETS_FILE,
                &original,
                in_file(keys::File::Secrets),
            )?);
        }

        let catalog = Catalog::load().expect("embedded board data is valid (tested)");
        let (config, secrets) = parse_and_check(&config_text, secrets_text.as_deref(), &catalog)?;

        if secrets_edited {
            let text = secrets_text.as_deref().unwrap_or_default();
            write_atomic(&self.secrets_path(), text.as_bytes(), 0o600)?;
        }
        if config_edited {
            let path = self.config_path();
            let mode = existing_mode(&path).unwrap_or(0o644);
            write_atomic(&path, config_text.as_bytes(), mode)?;
        }
        self.config_text = config_text;
        self.secrets_text = secrets_text;
        self.config = config;
        self.secrets = secrets;
        Ok(())
    }
}

/// The TOML value `raw` stands for, as `spec`'s type.
fn parse_value(spec: &keys::KeySpec, raw: &str) -> Result<Value, ProjectError> {
    let bad = |expected: &str| ProjectError::BadValue {
        key: spec.key.to_string(),
        expected: expected.to_string(),
        value: raw.to_string(),
    };
    Ok(match spec.kind {
        keys::Kind::Str => raw.into(),
        keys::Kind::Pin => raw.trim().to_ascii_uppercase().into(),
        keys::Kind::Int => {
            let n: i64 = raw.trim().parse().map_err(|_| bad("a whole number"))?;
            if n < 0 {
                return Err(bad("a non-negative number"));
            }
            n.into()
        }
        keys::Kind::Bool => match raw.trim() {
            "true" => true.into(),
            "false" => false.into(),
            _ => return Err(bad("true or false")),
        },
    })
}

/// `original` (the text of `file`) with `edits` applied, comments and order kept.
fn apply<'a>(
    file: &str,
    original: &str,
    edits: impl Iterator<Item = &'a (&'a keys::KeySpec, Option<Value>)>,
) -> Result<String, ProjectError> {
    let mut doc: DocumentMut = original.parse().map_err(|e: toml_edit::TomlError| {
        let span = e.span().unwrap_or(0..0);
        let (line, col) = error::line_col(original, span.start);
        ProjectError::Syntax(Box::new(error::SyntaxError {
            location: format!("{file}:{line}:{col}"),
            message: e.message().to_string(),
            help: None,
            src: miette::NamedSource::new(file, original.to_string()),
            span: (span.start, span.end.saturating_sub(span.start)).into(),
        }))
    })?;
    for (spec, value) in edits {
        set_in_doc(&mut doc, spec.key, value.clone());
    }
    Ok(doc.to_string())
}

fn existing_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path)
            .ok()
            .map(|m| m.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Sets or removes a dotted key, keeping the decoration (comments) of an existing value.
fn set_in_doc(doc: &mut DocumentMut, key: &str, value: Option<Value>) {
    let (table, field) = keys::split(key);
    let target = match table {
        Some(t) => {
            if !doc.contains_key(t) {
                if value.is_none() {
                    return;
                }
                doc[t] = toml_edit::table();
            }
            match doc[t].as_table_like_mut() {
                Some(t) => t,
                None => return,
            }
        }
        None => doc.as_table_mut() as &mut dyn toml_edit::TableLike,
    };
    match value {
        None => {
            target.remove(field);
        }
        Some(mut new) => match target.get_mut(field).and_then(Item::as_value_mut) {
            Some(old) => {
                *new.decor_mut() = old.decor().clone();
                *old = new;
            }
            None => {
                target.insert(field, Item::Value(new));
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_round_trips_through_the_model() {
        // Each key in the table must exist in the serialised model (or be the secret).
        let config: Config = toml::from_str(
            "mode='nano-drives-esp'\n[nano]\nboard='nano'\n[esp]\nmodule='esp12e'\n[link]\nkind='soft'\nrx='D8'\ntx='D9'\nbaud=57600\n[wifi]\nssid='x'\n",
        )
        .unwrap();
        let tree = toml::Value::try_from(&config).unwrap();
        for spec in keys::KEYS {
            if spec.file == keys::File::Secrets {
                continue;
            }
            let (t, f) = keys::split(spec.key);
            let v = match t {
                Some(t) => tree.get(t).and_then(|t| t.get(f)),
                None => tree.get(f),
            };
            assert!(v.is_some(), "{} missing from the model", spec.key);
        }
    }

    const PROJECT: &str = "mode = 'nano-drives-esp'\n[nano]\nboard = 'nano'\n[esp]\nmodule = 'esp12e'\n[link]\nkind = 'soft'\nrx = 'D8'\ntx = 'D9'\n# speed\nbaud = 57600\n[wifi]\nssid = 'lab'\n";

    fn project(text: &str) -> (tempfile::TempDir, Project) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), text).unwrap();
        let project = Project::open(dir.path()).unwrap();
        (dir, project)
    }

    fn config_text(dir: &tempfile::TempDir) -> String {
        std::fs::read_to_string(dir.path().join(CONFIG_FILE)).unwrap()
    }

    #[test]
    fn save_baud_defaults_to_false_and_is_set_get_and_unset_as_a_bool() {
        let (dir, mut p) = project(PROJECT);
        assert!(!p.config.link.save_baud);
        assert_eq!(p.get("link.save_baud").unwrap(), "false");
        assert!(p.list().contains(&("link.save_baud", "false".to_string())));
        p.set("link.save_baud", "true").unwrap();
        assert!(p.config.link.save_baud);
        assert!(
            config_text(&dir)
                .ends_with("# speed\nbaud = 57600\nsave_baud = true\n[wifi]\nssid = 'lab'\n"),
            "{}",
            config_text(&dir)
        );
        let reopened = Project::open(dir.path()).unwrap();
        assert_eq!(reopened.get("link.save_baud").unwrap(), "true");
        p.set("link.save_baud", " false ").unwrap();
        assert_eq!(p.get("link.save_baud").unwrap(), "false");
        assert!(config_text(&dir).contains("save_baud = false\n"));
        p.unset("link.save_baud").unwrap();
        assert_eq!(config_text(&dir), PROJECT);
    }

    #[test]
    fn save_baud_takes_only_true_or_false() {
        let (dir, mut p) = project(PROJECT);
        for raw in ["yes", "1", "True", ""] {
            match p.set("link.save_baud", raw) {
                Err(ProjectError::BadValue {
                    key,
                    expected,
                    value,
                }) => {
                    assert_eq!(
                        (key.as_str(), expected.as_str(), value.as_str()),
                        ("link.save_baud", "true or false", raw)
                    );
                }
                other => panic!("{raw:?}: {other:?}"),
            }
        }
        assert_eq!(config_text(&dir), PROJECT);
        // In the file, another type is a syntax error at the value.
        let text = PROJECT.replace("baud = 57600\n", "baud = 57600\nsave_baud = \"yes\"\n");
        std::fs::write(dir.path().join(CONFIG_FILE), text).unwrap();
        match Project::open(dir.path()) {
            Err(ProjectError::Syntax(e)) => {
                assert!(e.location.starts_with("nanoesp.toml:12:"), "{e:?}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn save_baud_is_refused_in_esp_master_mode() {
        let esp_master = PROJECT.replace("nano-drives-esp", "esp-master");
        let (dir, mut p) = project(&esp_master);
        match p.set("link.save_baud", "true") {
            Err(ProjectError::Invalid { problems }) => {
                assert_eq!(problems.len(), 1, "{problems:?}");
                assert_eq!(problems[0].key, "link.save_baud");
                assert!(
                    problems[0].message.contains("nano-drives-esp"),
                    "{problems:?}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(config_text(&dir), esp_master);
        p.set("link.save_baud", "false").unwrap();
    }

    #[test]
    fn set_in_doc_keeps_comments() {
        let mut doc: DocumentMut = "# top\n[link]\n# the pin\nrx = \"D8\" # trailing\n"
            .parse()
            .unwrap();
        set_in_doc(&mut doc, "link.rx", Some("D4".into()));
        assert_eq!(
            doc.to_string(),
            "# top\n[link]\n# the pin\nrx = \"D4\" # trailing\n"
        );
    }
}
