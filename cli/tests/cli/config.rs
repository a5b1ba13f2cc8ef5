//! `nanoesp config`: get/set/unset/list/check, comment preservation, atomicity, secrets.

use std::path::Path;

use predicates::prelude::*;

use crate::helpers::*;

fn read(dir: &Path, file: &str) -> Vec<u8> {
    std::fs::read(dir.join(file)).unwrap()
}

fn config(dir: &Path, args: &[&str]) -> assert_cmd::assert::Assert {
    nanoesp()
        .arg("config")
        .args(args)
        .arg("--project")
        .arg(dir)
        .assert()
}

#[test]
fn get_set_unset_round_trip_and_keep_comments() {
    let tmp = scratch();
    let dir = new_project(tmp.path(), "p", &[]);
    let before = String::from_utf8(read(&dir, "nanoesp.toml")).unwrap();
    set_and_read_back(&dir, "link.baud", "57600", "19200");
    let after = String::from_utf8(read(&dir, "nanoesp.toml")).unwrap();
    // Exactly one line changed; every comment and the order are kept.
    let changed: Vec<(&str, &str)> = before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(changed, [("baud = 57600", "baud = 19200")]);
    assert_eq!(before.lines().count(), after.lines().count());

    config(&dir, &["set", "http.max_clients", "5"]).success();
    config(&dir, &["unset", "http.max_clients"]).success();
    config(&dir, &["get", "http.max_clients"])
        .success()
        .stdout("3\n");
    config(&dir, &["unset", "link.rx"])
        .code(2)
        .stderr(predicate::str::contains("`link.rx` is required"));
}

#[test]
fn save_baud_is_a_commented_bool_that_defaults_to_false() {
    let tmp = scratch();
    let dir = new_project(tmp.path(), "p", &[]);
    let before = String::from_utf8(read(&dir, "nanoesp.toml")).unwrap();
    assert!(
        before.contains("AT+UART_DEF") && before.contains("\nsave_baud = false\n"),
        "{before}"
    );
    set_and_read_back(&dir, "link.save_baud", "false", "true");
    let after = String::from_utf8(read(&dir, "nanoesp.toml")).unwrap();
    assert_eq!(
        after,
        before.replace("save_baud = false", "save_baud = true")
    );
    config(&dir, &["list"])
        .success()
        .stdout(predicate::str::contains("link.save_baud   = true"));
    config(&dir, &["unset", "link.save_baud"]).success();
    config(&dir, &["get", "link.save_baud"])
        .success()
        .stdout("false\n");
}

/// Output containing `text`, wherever the report wrapped it to the terminal width.
fn wrapped(text: &'static str) -> impl predicates::Predicate<[u8]> {
    predicate::function(move |out: &[u8]| {
        let out = String::from_utf8_lossy(out);
        out.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .contains(text)
    })
}

#[test]
fn settings_only_valid_together_are_set_in_one_command() {
    let tmp = scratch();
    let dir = new_project(tmp.path(), "p", &[]);
    let before = read(&dir, "nanoesp.toml");
    // The kind alone cannot change (D8/D9 cannot carry the USART): the error says how.
    config(&dir, &["set", "link.kind", "usart"])
        .code(2)
        .stderr(wrapped(
            "`nanoesp config set link.kind usart link.rx D0 link.tx D1`",
        ));
    assert_eq!(read(&dir, "nanoesp.toml"), before);
    // A bad pair, or a key without its value, changes nothing either.
    config(&dir, &["set", "link.kind", "usart", "link.rx", "D0"]).code(2);
    config(
        &dir,
        &["set", "link.kind", "usart", "link.rx", "D0", "link.tx"],
    )
    .code(2)
    .stderr(predicate::str::contains("no value given for `link.tx`"));
    config(
        &dir,
        &["set", "link.kind", "usart", "link.rx", "D0", "--stdin"],
    )
    .code(2);
    assert_eq!(read(&dir, "nanoesp.toml"), before);

    config(
        &dir,
        &[
            "set",
            "link.kind",
            "usart",
            "link.rx",
            "d0",
            "link.tx",
            "D1",
        ],
    )
    .success()
    .stderr(predicate::str::contains("link.rx = D0"));
    config(&dir, &["get", "link.kind"])
        .success()
        .stdout("usart\n");
    config(&dir, &["get", "link.tx"]).success().stdout("D1\n");
    // Back, with the baud the soft link cannot run: the hint names it too.
    config(&dir, &["set", "link.baud", "115200"]).success();
    config(
        &dir,
        &["set", "link.kind", "soft", "link.rx", "D8", "link.tx", "D9"],
    )
    .code(2)
    .stderr(predicate::str::contains("115200 baud is not supported"));
    config(&dir, &["set", "link.kind", "soft"])
        .code(2)
        .stderr(wrapped(
            "`nanoesp config set link.kind soft link.rx D8 link.tx D9 link.baud 57600`",
        ));
    config(
        &dir,
        &[
            "set",
            "link.kind",
            "soft",
            "link.rx",
            "D8",
            "link.tx",
            "D9",
            "link.baud",
            "57600",
        ],
    )
    .success();
    assert_eq!(
        read(&dir, "nanoesp.toml"),
        before,
        "every line as generated again"
    );
}

#[test]
fn password_goes_to_secrets_and_is_never_printed() {
    let tmp = scratch();
    let dir = new_project(tmp.path(), "p", &[]);
    let config_before = read(&dir, "nanoesp.toml");
    let out = nanoesp()
        .args([
            "config",
            "set",
            "wifi.password",
            "s3cret-Password",
            "--project",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!all_output(&out).contains("s3cret-Password"));
    assert_eq!(
        read(&dir, "nanoesp.toml"),
        config_before,
        "nanoesp.toml untouched"
    );
    assert!(
        String::from_utf8(read(&dir, "secrets.toml"))
            .unwrap()
            .contains("s3cret-Password")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("secrets.toml"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "atomic rewrite keeps 0600");
    }
    let list = nanoesp()
        .args(["config", "list", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    let text = all_output(&list);
    assert!(
        text.contains("wifi.password") && text.contains("********"),
        "{text}"
    );
    assert!(!text.contains("s3cret-Password"));
    config(&dir, &["get", "wifi.password"])
        .success()
        .stdout("********\n");
    let json = nanoesp()
        .args(["config", "list", "--json", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["wifi.password"], "********");
    assert_eq!(v["link.rx"], "D8");
}

#[test]
fn rejected_edits_leave_both_files_byte_for_byte_unchanged() {
    let tmp = scratch();
    let dir = new_project(tmp.path(), "p", &["--password", "goodpassword"]);
    let (c0, s0) = (read(&dir, "nanoesp.toml"), read(&dir, "secrets.toml"));
    for (args, needle) in [
        (&["set", "link.tx", "D13"][..], "reserved"),
        (&["set", "link.rx", "D9"][..], "rx and tx are both D9"),
        (&["set", "link.baud", "fast"][..], "expects a whole number"),
        (&["set", "link.baud", "1234"][..], "Allowed:"),
        (
            &["set", "link.save_baud", "yes"][..],
            "expects true or false",
        ),
        (&["set", "wifi.ssid", &"s".repeat(33)][..], "33 bytes"),
        (
            &["set", "wifi.password", "short"][..],
            "password has 5 characters",
        ),
        (&["set", "nope.key", "1"][..], "unknown key `nope.key`"),
        (&["set", "http.max_clients", "9"][..], "out of range"),
    ] {
        let out = nanoesp()
            .arg("config")
            .args(args)
            .arg("--project")
            .arg(&dir)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", all_output(&out));
        assert!(
            all_output(&out).contains(needle),
            "{args:?}: expected {needle}: {}",
            all_output(&out)
        );
        assert_eq!(
            read(&dir, "nanoesp.toml"),
            c0,
            "{args:?} changed nanoesp.toml"
        );
        assert_eq!(
            read(&dir, "secrets.toml"),
            s0,
            "{args:?} changed secrets.toml"
        );
    }
    // No temporary files are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".nanoesp-"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn errors_point_at_file_line_and_column() {
    let tmp = scratch();
    let dir = new_project(tmp.path(), "p", &[]);
    let path = dir.join("nanoesp.toml");
    let good = std::fs::read_to_string(&path).unwrap();
    let line_of =
        |text: &str, needle: &str| text.lines().position(|l| l.starts_with(needle)).unwrap() + 1;

    // malformed TOML
    let broken = good.replace("baud = 57600", "baud = = 57600");
    std::fs::write(&path, &broken).unwrap();
    let line = line_of(&broken, "baud = = 57600");
    config(&dir, &["check"])
        .code(1)
        .stderr(predicate::str::contains(format!("nanoesp.toml:{line}:")));

    // unknown key, with the list of known ones
    let unknown = good.replace("baud = 57600", "baud = 57600\nspeed = 1");
    std::fs::write(&path, &unknown).unwrap();
    let line = line_of(&unknown, "speed = 1");
    config(&dir, &["check"]).code(1).stderr(
        predicate::str::contains(format!("nanoesp.toml:{line}:1"))
            .and(predicate::str::contains("unknown field")),
    );

    // wrong type
    let wrong = good.replace("baud = 57600", "baud = \"fast\"");
    std::fs::write(&path, &wrong).unwrap();
    let line = line_of(&wrong, "baud = \"fast\"");
    config(&dir, &["check"])
        .code(1)
        .stderr(predicate::str::contains(format!("nanoesp.toml:{line}:8")));

    // a reserved pin: located at the value, with the allowed pins
    let reserved = good.replace("tx = \"D9\"", "tx = \"D13\"");
    std::fs::write(&path, &reserved).unwrap();
    let line = line_of(&reserved, "tx = \"D13\"");
    config(&dir, &["check"]).code(1).stderr(
        predicate::str::contains(format!("nanoesp.toml:{line}:6"))
            .and(predicate::str::contains("reserved for the on-board LED"))
            .and(predicate::str::contains("allowed: D9")),
    );
    // every other command refuses the broken project the same way
    config(&dir, &["get", "link.tx"])
        .code(2)
        .stderr(predicate::str::contains(format!("nanoesp.toml:{line}:6")));
}

#[test]
fn missing_project_says_how_to_make_one() {
    let tmp = scratch();
    config(tmp.path(), &["list"]).code(2).stderr(
        predicate::str::contains("no nanoesp.toml").and(predicate::str::contains("nanoesp new")),
    );
}

/// Mounts a tmpfs at `dir` (root only); returns false where mounting is not permitted.
fn mount_tmpfs(dir: &Path) -> bool {
    std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn a_read_only_directory_is_reported_and_nothing_changes() {
    let tmp = scratch();
    let mnt = tmp.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    // Root ignores permission bits, so as root the project lives on a tmpfs remounted read-only.
    let is_root = running_as_root();
    let mounted = is_root && mount_tmpfs(&mnt);
    let dir = new_project(&mnt, "p", &[]);
    let before = read(&dir, "nanoesp.toml");
    if mounted {
        assert!(
            std::process::Command::new("mount")
                .args(["-o", "remount,ro"])
                .arg(&mnt)
                .status()
                .unwrap()
                .success()
        );
    } else {
        assert!(
            !is_root,
            "as root this test needs mount(8) to make a read-only directory"
        );
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    }
    let out = nanoesp()
        .args(["config", "set", "link.baud", "19200", "--project"])
        .arg(&dir)
        .output()
        .unwrap();
    let after = read(&dir, "nanoesp.toml");
    if mounted {
        let _ = std::process::Command::new("umount").arg(&mnt).status();
    } else {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    assert_eq!(out.status.code(), Some(2), "{}", all_output(&out));
    assert!(
        all_output(&out).contains("cannot write"),
        "{}",
        all_output(&out)
    );
    assert_eq!(after, before);
}

fn running_as_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `config get KEY` gives `from`; after `config set KEY to`, it gives `to`.
fn set_and_read_back(dir: &Path, key: &str, from: &str, to: &str) {
    config(dir, &["get", key])
        .success()
        .stdout(format!("{from}\n"));
    config(dir, &["set", key, to]).success();
    config(dir, &["get", key])
        .success()
        .stdout(format!("{to}\n"));
}
