//! The project templates and firmware runtime embedded in this binary, and their rendering
//! through cargo-generate's library.
//!
//! Rendering happens in a staging directory beside the destination: the embedded files are
//! written out as a plain cargo-generate template (with the runtime crates under `runtime/`),
//! cargo-generate expands it with every value defined (never prompting), and only a complete
//! result is moved into place. A failure leaves the destination as it was.

use std::path::{Path, PathBuf};

use miette::{Context, IntoDiagnostic};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded.rs"));
}

/// Files of the nano-drives-esp template, relative to the template root.
pub fn nano_drives_esp() -> &'static [(&'static str, &'static [u8])] {
    embedded::TEMPLATE_NANO_DRIVES_ESP
}

/// Files of the esp-master template, relative to the template root.
pub fn esp_master() -> &'static [(&'static str, &'static [u8])] {
    embedded::TEMPLATE_ESP_MASTER
}

/// Files of the firmware runtime crates, relative to `runtime/` (`at/src/lib.rs`, ...).
pub fn runtime() -> &'static [(&'static str, &'static [u8])] {
    embedded::RUNTIME
}

/// Writes the template of `files` plus the runtime crates under `dir`.
fn write_template(dir: &Path, files: &[(&str, &[u8])]) -> std::io::Result<()> {
    let runtime = runtime().iter().map(|(p, d)| (format!("runtime/{p}"), *d));
    let all = files
        .iter()
        .map(|(p, d)| (p.to_string(), *d))
        .chain(runtime);
    for (rel, data) in all {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, data)?;
    }
    Ok(())
}

/// Turns a directory name into a valid crate-name stem (`My Demo!` → `my-demo`).
pub fn project_name(dir: &Path) -> String {
    let raw = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut name = String::new();
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() {
            name.push(c.to_ascii_lowercase());
        } else if !name.ends_with('-') && !name.is_empty() {
            name.push('-');
        }
    }
    let name = name.trim_end_matches('-').to_string();
    match name.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => name,
        Some(_) => format!("p-{name}"),
        None => "nanoesp-project".to_string(),
    }
}

/// Renders the template `files` with `values` (cargo-generate placeholder → value) into a
/// fresh directory inside `staging_parent`, and returns that directory.
///
/// # Errors
/// I/O errors writing the staging files, or cargo-generate's error.
pub fn render(
    files: &[(&str, &[u8])],
    name: &str,
    values: &[(&str, String)],
    staging_parent: &Path,
) -> miette::Result<(tempfile::TempDir, PathBuf)> {
    let staging = tempfile::Builder::new()
        .prefix(".nanoesp-new-")
        .tempdir_in(staging_parent)
        .into_diagnostic()
        .wrap_err_with(|| {
            format!(
                "cannot create a staging directory in {}",
                staging_parent.display()
            )
        })?;
    let template_dir = staging.path().join("template");
    write_template(&template_dir, files)
        .into_diagnostic()
        .wrap_err("cannot write the template to the staging directory")?;
    // An empty cargo-generate config, so a user's favourites or defaults cannot change output.
    let config = staging.path().join("cargo-generate.toml");
    std::fs::write(&config, "").into_diagnostic()?;
    let out = staging.path().join("out");
    std::fs::create_dir_all(&out).into_diagnostic()?;

    let args = cargo_generate::GenerateArgs {
        template_path: cargo_generate::TemplatePath {
            path: Some(template_dir.to_string_lossy().into_owned()),
            ..Default::default()
        },
        name: Some(name.to_string()),
        force: true,
        silent: true,
        vcs: Some(cargo_generate::Vcs::None),
        define: values.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        destination: Some(out.clone()),
        config: Some(config),
        no_workspace: true,
        no_fmt: true,
        ..Default::default()
    };
    // cargo-generate insists on an author name (for `{{authors}}`, which our templates do not
    // use) and fails without one, e.g. in CI containers with no $USER.
    const AUTHOR_VARS: [&str; 6] = [
        "CARGO_NAME",
        "GIT_AUTHOR_NAME",
        "GIT_COMMITTER_NAME",
        "USER",
        "USERNAME",
        "NAME",
    ];
    if AUTHOR_VARS.iter().all(|v| std::env::var_os(v).is_none()) {
        // SAFETY: no other thread exists yet in this short-lived process (nanoesp starts
        // threads only while building or simulating, never before rendering).
        unsafe { std::env::set_var("CARGO_NAME", "nanoesp") };
    }
    // cargo-generate reports its own progress on stderr; ours replaces it.
    let generated = {
        let _quiet = gag::Gag::stderr().ok();
        cargo_generate::generate(args)
    };
    let path = generated.map_err(|e| miette::miette!("rendering the template failed: {e:#}"))?;
    Ok((staging, path))
}

/// Moves everything in `from` into `to` (created when missing). Entries already in `to` are
/// replaced only when `force` is set; the caller checked that case.
pub fn move_into(from: &Path, to: &Path) -> std::io::Result<()> {
    if !to.exists() {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        return std::fs::rename(from, to);
    }
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if target.is_dir() && entry.path().is_dir() {
            move_into(&entry.path(), &target)?;
        } else {
            if target.is_dir() {
                std::fs::remove_dir_all(&target)?;
            }
            std::fs::rename(entry.path(), &target)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_names_are_valid_crate_names() {
        assert_eq!(project_name(Path::new("/tmp/My Demo!")), "my-demo");
        assert_eq!(project_name(Path::new("demo")), "demo");
        assert_eq!(project_name(Path::new("42")), "p-42");
        assert_eq!(project_name(Path::new("/")), "nanoesp-project");
    }

    #[test]
    fn runtime_holds_the_four_crates_and_no_build_output() {
        for krate in ["at", "http", "server", "hal"] {
            assert!(
                runtime()
                    .iter()
                    .any(|(p, _)| *p == format!("{krate}/Cargo.toml")),
                "{krate} missing"
            );
        }
        assert!(runtime().iter().all(|(p, _)| !p.contains("target/")));
    }

    #[test]
    fn template_has_its_manifest_and_no_runtime_links() {
        let files = nano_drives_esp();
        assert!(files.iter().any(|(p, _)| *p == "cargo-generate.toml"));
        assert!(files.iter().any(|(p, _)| *p == "nano/build.rs"));
        assert!(files.iter().all(|(p, _)| !p.starts_with("runtime/")));
    }
}
