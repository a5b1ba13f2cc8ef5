//! nanoesp-buildcfg: what a nanoesp firmware's `build.rs` needs to turn the project's
//! `nanoesp.toml` (and, for firmware that joins Wi-Fi itself, `secrets.toml`) into
//! `$OUT_DIR/config.rs`.
//!
//! Configuration reaches the firmware at build time, so a secret never passes through a
//! command line, an environment variable or a log: it goes from `secrets.toml` into a byte
//! array in the build directory, and only when a build script asks for it
//! ([`Project::secret`]). Strings the firmware sends on are emitted as byte arrays, so
//! quotes, commas, backslashes and non-ASCII arrive intact. `nanoesp build` validates the
//! configuration first; this crate only reads it, with the defaults of a fresh project.
//!
//! A build script: [`Project::load`], [`Project::common_constants`] (build id, board, ESP
//! module, link pins and baud, console baud), its own constants on the returned
//! [`Constants`], then [`Project::write`], which also sets `cfg(nanoesp_link = "soft" |
//! "usart")`.
#![deny(missing_docs)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The project a firmware crate is built for.
pub struct Project {
    dir: PathBuf,
    config_path: PathBuf,
    config: toml::Table,
    manifest_dir: PathBuf,
}

/// `NANOESP_PROJECT_DIR`, or the parent of the firmware crate.
pub fn project_dir() -> PathBuf {
    match std::env::var_os("NANOESP_PROJECT_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => manifest_dir().join(".."),
    }
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR (run from build.rs)"),
    )
}

/// Reads a TOML file, telling cargo to rerun when it changes. A missing optional file is
/// an empty table.
///
/// # Panics
/// When a required file cannot be read or any file does not parse (the build stops with
/// the message).
pub fn read_table(path: &Path, required: bool) -> toml::Table {
    println!("cargo::rerun-if-changed={}", path.display());
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|e| panic!("{}: {e}\nRun `nanoesp config check` for details.", path.display())),
        Err(_) if !required => toml::Table::new(),
        Err(e) => panic!(
            "cannot read {}: {e}\nBuild from a nanoesp project (nanoesp build), or set NANOESP_PROJECT_DIR.",
            path.display()
        ),
    }
}

fn get<'a>(table: &'a toml::Table, dotted: &str) -> Option<&'a toml::Value> {
    let mut parts = dotted.split('.');
    let mut value = table.get(parts.next()?)?;
    for part in parts {
        value = value.get(part)?;
    }
    Some(value)
}

fn string_in(table: &toml::Table, key: &str, default: &str) -> String {
    get(table, key)
        .and_then(|v| v.as_str())
        .unwrap_or(default)
        .to_string()
}

impl Project {
    /// Reads `nanoesp.toml` of [`project_dir`] for the crate being built.
    pub fn load() -> Project {
        println!("cargo::rerun-if-env-changed=NANOESP_PROJECT_DIR");
        let dir = project_dir();
        let config_path = dir.join("nanoesp.toml");
        let config = read_table(&config_path, true);
        Project {
            dir,
            config_path,
            config,
            manifest_dir: manifest_dir(),
        }
    }

    /// A project from an already-parsed configuration (tests).
    pub fn from_table(dir: PathBuf, manifest_dir: PathBuf, config: toml::Table) -> Project {
        Project {
            config_path: dir.join("nanoesp.toml"),
            dir,
            config,
            manifest_dir,
        }
    }

    /// String setting `key` (dotted, e.g. `wifi.ssid`), or `default`.
    pub fn string(&self, key: &str, default: &str) -> String {
        string_in(&self.config, key, default)
    }

    /// Integer setting `key`, or `default`.
    pub fn int(&self, key: &str, default: i64) -> i64 {
        get(&self.config, key)
            .and_then(|v| v.as_integer())
            .unwrap_or(default)
    }

    /// Boolean setting `key`, or `default`.
    pub fn bool(&self, key: &str, default: bool) -> bool {
        get(&self.config, key)
            .and_then(|v| v.as_bool())
            .unwrap_or(default)
    }

    /// String `key` of the project's `secrets.toml` (read only now, so firmware that needs
    /// no secret never reads the file), or `default`.
    pub fn secret(&self, key: &str, default: &str) -> String {
        string_in(
            &read_table(&self.dir.join("secrets.toml"), false),
            key,
            default,
        )
    }

    /// `link.kind`: `soft` or `usart`.
    pub fn link_kind(&self) -> String {
        self.string("link.kind", "soft")
    }

    /// FNV-1a over `nanoesp.toml`, the firmware crate's `src/` and the project's `runtime/`,
    /// so a changed source or setting changes the build id.
    pub fn build_id(&self) -> u32 {
        let runtime = self.dir.join("runtime");
        println!("cargo::rerun-if-changed={}", runtime.display());
        let mut hash = 0x811c_9dc5u32;
        fnv1a(
            &mut hash,
            &std::fs::read(&self.config_path).unwrap_or_default(),
        );
        hash_tree(&mut hash, &self.manifest_dir.join("src"));
        hash_tree(&mut hash, &runtime);
        hash
    }

    /// The constants every nanoesp firmware has: `BUILD_ID`, `NANO_BOARD`, `ESP_MODULE`,
    /// `LINK_BAUD`, `LINK_RX`, `LINK_TX` (Arduino numbers) and `CONSOLE_BAUD`, after a
    /// header naming `sources`.
    pub fn common_constants(&self, sources: &str) -> Constants {
        let mut out = Constants::new(sources);
        out.text("BUILD_ID", &format!("{:08x}", self.build_id()));
        out.text("NANO_BOARD", &self.string("nano.board", "nano"));
        out.text("ESP_MODULE", &self.string("esp.module", "esp12e"));
        out.value("LINK_BAUD", "u32", self.int("link.baud", 57_600));
        out.value("LINK_RX", "u8", pin_number(&self.string("link.rx", "D8")));
        out.value("LINK_TX", "u8", pin_number(&self.string("link.tx", "D9")));
        out.value("CONSOLE_BAUD", "u32", self.int("console.baud", 115_200));
        out
    }

    /// Writes `constants` to `$OUT_DIR/config.rs` and sets `cfg(nanoesp_link = ...)`.
    pub fn write(&self, constants: Constants) {
        let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR (run from build.rs)"));
        std::fs::write(out_dir.join("config.rs"), constants.0).expect("writing config.rs");
        println!("cargo::rustc-check-cfg=cfg(nanoesp_link, values(\"soft\", \"usart\"))");
        println!("cargo::rustc-cfg=nanoesp_link=\"{}\"", self.link_kind());
    }
}

/// The text of `config.rs`, one `pub const` per line.
pub struct Constants(String);

impl Constants {
    /// An empty file with its "generated" header naming `sources`.
    pub fn new(sources: &str) -> Constants {
        Constants(format!(
            "// Generated by build.rs from {sources}. Do not edit.\n"
        ))
    }

    /// `pub const NAME: &str = "...";` (Rust string escaping).
    pub fn text(&mut self, name: &str, value: &str) {
        writeln!(self.0, "pub const {name}: &str = {value:?};").unwrap();
    }

    /// `pub const NAME: TY = value;` for numbers and booleans.
    pub fn value(&mut self, name: &str, ty: &str, value: impl std::fmt::Display) {
        writeln!(self.0, "pub const {name}: {ty} = {value};").unwrap();
    }

    /// `pub const NAME: &[u8] = &[...];`
    pub fn bytes(&mut self, name: &str, value: &[u8]) {
        write!(self.0, "pub const {name}: &[u8] = &[").unwrap();
        for b in value {
            write!(self.0, "{b},").unwrap();
        }
        self.0.push_str("];\n");
    }

    /// The text so far.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Arduino pin name to digital number: `D8` → 8, `A0` → 14.
///
/// # Panics
/// On anything else (the build stops: `nanoesp config check` explains).
pub fn pin_number(name: &str) -> u8 {
    let n = |s: &str| {
        s.parse::<u8>()
            .unwrap_or_else(|_| panic!("bad pin name {name}"))
    };
    match name.as_bytes().first() {
        Some(b'D' | b'd') => n(&name[1..]),
        Some(b'A' | b'a') => 14 + n(&name[1..]),
        _ => panic!("bad pin name {name}"),
    }
}

/// Escapes text for an HTML page (titles and texts are user input).
pub fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn fnv1a(hash: &mut u32, data: &[u8]) {
    for &b in data {
        *hash ^= u32::from(b);
        *hash = hash.wrapping_mul(0x0100_0193);
    }
}

fn hash_tree(hash: &mut u32, dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name == "target" || name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            hash_tree(hash, &path);
        } else if let Ok(data) = std::fs::read(&path) {
            fnv1a(hash, name.as_bytes());
            fnv1a(hash, &data);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_names() {
        assert_eq!(pin_number("D8"), 8);
        assert_eq!(pin_number("d0"), 0);
        assert_eq!(pin_number("A0"), 14);
        assert_eq!(pin_number("A7"), 21);
    }

    #[test]
    fn html_escapes_markup() {
        assert_eq!(
            html(r#"<b>"R&D"</b>"#),
            "&lt;b&gt;&quot;R&amp;D&quot;&lt;/b&gt;"
        );
    }

    #[test]
    fn constants_text() {
        let mut c = Constants::new("nanoesp.toml");
        c.text("NAME", "a\"b");
        c.value("BAUD", "u32", 57600);
        c.bytes("RAW", b"\x00,");
        c.bytes("EMPTY", b"");
        assert_eq!(
            c.as_str(),
            "// Generated by build.rs from nanoesp.toml. Do not edit.\n\
             pub const NAME: &str = \"a\\\"b\";\n\
             pub const BAUD: u32 = 57600;\n\
             pub const RAW: &[u8] = &[0,44,];\n\
             pub const EMPTY: &[u8] = &[];\n"
        );
    }

    #[test]
    fn common_constants_take_settings_and_defaults() {
        let dir =
            std::env::temp_dir().join(format!("nanoesp-buildcfg-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("nano/src")).unwrap();
        let table: toml::Table = "[nano]\nboard = \"nano-old\"\n[link]\nkind = \"usart\"\nrx = \"D0\"\ntx = \"D1\"\nbaud = 115200\n"
            .parse()
            .unwrap();
        let project = Project::from_table(dir.clone(), dir.join("nano"), table);
        assert_eq!(project.link_kind(), "usart");
        let text = project.common_constants("x").as_str().to_string();
        let id = format!(
            "pub const BUILD_ID: &str = \"{:08x}\";\n",
            project.build_id()
        );
        assert!(text.contains(&id), "{text}");
        for line in [
            "pub const NANO_BOARD: &str = \"nano-old\";",
            "pub const ESP_MODULE: &str = \"esp12e\";",
            "pub const LINK_BAUD: u32 = 115200;",
            "pub const LINK_RX: u8 = 0;",
            "pub const LINK_TX: u8 = 1;",
            "pub const CONSOLE_BAUD: u32 = 115200;",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert_eq!(project.secret("wifi.password", "none"), "none");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The constant the nano-drives-esp build script makes of `link.save_baud`.
    fn save_baud_constant(config: &str) -> String {
        let dir = PathBuf::from("unused");
        let project = Project::from_table(dir.clone(), dir, config.parse().unwrap());
        let mut c = Constants::new("x");
        c.value(
            "LINK_SAVE_BAUD",
            "bool",
            project.bool("link.save_baud", false),
        );
        c.as_str().lines().nth(1).unwrap().to_string()
    }

    #[test]
    fn save_baud_is_false_unless_set() {
        let on = "pub const LINK_SAVE_BAUD: bool = true;";
        let off = "pub const LINK_SAVE_BAUD: bool = false;";
        assert_eq!(save_baud_constant("[link]\nsave_baud = true\n"), on);
        assert_eq!(save_baud_constant("[link]\nsave_baud = false\n"), off);
        assert_eq!(save_baud_constant("[link]\nbaud = 57600\n"), off);
        assert_eq!(save_baud_constant(""), off);
    }
}
