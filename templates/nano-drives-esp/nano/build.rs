//! Turns the project's `nanoesp.toml` and `secrets.toml` into `$OUT_DIR/config.rs`, the
//! constants the firmware is built with (reading and emitting: `runtime/buildcfg`).
//!
//! The Wi-Fi password goes from `secrets.toml` into a byte array in the build directory,
//! never through a command line, an environment variable or a log; with `wifi.mode =
//! "stored"` it is not read at all. Strings are byte arrays, so quotes, commas, backslashes
//! and non-ASCII reach the firmware intact (the AT driver escapes them).

use nanoesp_buildcfg::{html, Project};

fn main() {
    let project = Project::load();
    let mut out = project.common_constants("nanoesp.toml and secrets.toml");
    // Baud negotiation with the persistent AT+UART_DEF (the AT firmware only, so not common).
    out.value(
        "LINK_SAVE_BAUD",
        "bool",
        project.bool("link.save_baud", false),
    );
    out.bytes("WIFI_SSID", project.string("wifi.ssid", "").as_bytes());
    let wifi_mode = project.string("wifi.mode", "station");
    // Stored mode: the ESP joins what `nanoesp flash --provision` saved; the password never
    // enters the firmware.
    let stored = wifi_mode == "stored";
    let password = if stored {
        String::new()
    } else {
        project.secret("wifi.password", "")
    };
    out.bytes("WIFI_PASSWORD", password.as_bytes());
    out.value("WIFI_SOFTAP", "bool", wifi_mode == "softap");
    out.value("WIFI_STORED", "bool", stored);
    out.bytes(
        "HOSTNAME",
        project.string("wifi.hostname", "nanoesp").as_bytes(),
    );
    out.value("HTTP_PORT", "u16", project.int("http.port", 80));
    out.value("MAX_CLIENTS", "u8", project.int("http.max_clients", 3));
    out.bytes(
        "PAGE_TITLE",
        html(&project.string("http.title", "nanoesp")).as_bytes(),
    );
    out.bytes(
        "PAGE_TEXT",
        html(&project.string("http.text", "")).as_bytes(),
    );
    project.write(out);
}
