//! The nano-drives-esp firmware on the virtual bench: built for AVR from the template and
//! this repository's runtime crates, run in `nanoesp-sim` against the emulated ESP8266.
//!
//! Each test is a full bring-up over the AT link (`AT`, `ATE0`, `AT+GMR`, `AT+CWJAP` with
//! an escaped password, server setup), so a corrupted byte in either direction shows up as
//! a bring-up that never finishes or as framing errors counted by the simulator's
//! pin-level peer. The `http_traffic_*` tests then push HTTP traffic both ways (sequential
//! and concurrent clients) and check every response byte and the link statistics.

use nanoesp_hal_sim_tests::{
    HttpBench, LinkKind, PASSWORD, SSID, build_firmware, build_firmware_with, http_request,
    json_array, json_number, json_string, page_and_readings, run_for, sim_command, status_and_body,
};
use std::path::Path;
use std::time::Duration;

/// Simulated seconds allowed for bring-up (the emulator answers in well under 5 s).
const BRING_UP_S: u32 = 12;

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The simulator's closing statistics: `... overruns=N framing_errors=N`.
fn stat(text: &str, key: &str) -> Option<u64> {
    let line = text
        .lines()
        .rev()
        .find(|l| l.contains("nanoesp-sim: exit"))?;
    let start = line.find(&format!("{key}="))? + key.len() + 1;
    line[start..].split_whitespace().next()?.parse().ok()
}

/// Brings the server up over `link` at `baud` and checks that the AT exchange was clean.
#[track_caller]
fn assert_clean_bring_up(link: LinkKind, baud: u32) {
    let firmware = build_firmware(link, baud);
    let output = run_for(&firmware, link, baud, BRING_UP_S);
    let (out, err) = (stdout(&output), stderr(&output));
    let all = format!("{out}{err}");
    assert!(
        output.status.success(),
        "bring-up failed at {baud} baud ({link:?}):\n{all}"
    );
    assert!(
        all.contains("nanoesp-sim: server up"),
        "server never came up:\n{all}"
    );
    assert_eq!(
        stat(&all, "framing_errors"),
        Some(0),
        "framing errors on the link:\n{all}"
    );
    assert_eq!(
        stat(&all, "overruns"),
        Some(0),
        "overruns on the link:\n{all}"
    );
    if link == LinkKind::Soft {
        assert_eq!(
            out.lines()
                .filter(|l| l.starts_with("nanoesp: ready http://"))
                .count(),
            1,
            "exactly one ready line expected:\n{out}"
        );
    }
}

// --- console ---------------------------------------------------------------------------

#[test]
fn console_prints_banner_first_then_one_ready_line() {
    let firmware = build_firmware(LinkKind::Soft, 19200);
    let output = run_for(&firmware, LinkKind::Soft, 19200, BRING_UP_S);
    let out = stdout(&output);
    assert!(output.status.success(), "{out}{}", stderr(&output));
    let console: Vec<&str> = out.lines().filter(|l| l.starts_with("nanoesp")).collect();
    let banner = console.first().expect("no console output");
    let fields: Vec<&str> = banner.split(' ').collect();
    assert_eq!(fields[0], "nanoesp", "banner: {banner}");
    assert!(
        fields[1].len() == 8
            && fields[1]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "build id must be 8 lowercase hex chars: {banner}"
    );
    assert_eq!(
        &fields[2..],
        [
            "board=nano",
            "esp=esp01",
            "link=soft",
            "baud=19200",
            &format!("ssid={SSID}")
        ],
        "banner: {banner}"
    );
    assert!(
        !out.contains(PASSWORD) && !out.contains("s3cr"),
        "the password leaked to the console:\n{out}"
    );
    let ready: Vec<&&str> = console
        .iter()
        .filter(|l| l.starts_with("nanoesp: ready "))
        .collect();
    assert_eq!(ready.len(), 1, "{out}");
    assert!(
        ready[0].starts_with("nanoesp: ready http://") && ready[0].ends_with(":80/"),
        "ready line: {}",
        ready[0]
    );
}

// --- soft serial on D8/D9 -----------------------------------------------------------------

#[test]
fn soft_serial_at_9600_exchanges_at_traffic_cleanly() {
    assert_clean_bring_up(LinkKind::Soft, 9600);
}

#[test]
fn soft_serial_at_19200_exchanges_at_traffic_cleanly() {
    assert_clean_bring_up(LinkKind::Soft, 19200);
}

#[test]
fn soft_serial_at_38400_exchanges_at_traffic_cleanly() {
    assert_clean_bring_up(LinkKind::Soft, 38400);
}

#[test]
fn soft_serial_at_57600_exchanges_at_traffic_cleanly() {
    assert_clean_bring_up(LinkKind::Soft, 57600);
}

/// HTTP traffic both ways over the soft link at `baud`, every byte checked: the page (some
/// 400 bytes to the ESP per request) must come back identical each time, pin requests carry
/// a padded header (some 300 bytes to the Nano) and must read back, and in the end
/// the server must have counted every response and no error, with no framing error or
/// overrun on the link. A bring-up alone does not catch a link that corrupts bulk traffic.
#[track_caller]
fn assert_clean_http_traffic(baud: u32) {
    let firmware = build_firmware(LinkKind::Soft, baud);
    let bench = HttpBench::start(
        &firmware,
        LinkKind::Soft,
        baud,
        &[],
        Duration::from_secs(120),
    );
    let (page, readings) = page_and_readings(&bench.request("GET", "/", ""));
    assert!(
        page.contains("served by the simulated Nano") && page.trim_end().ends_with("</html>"),
        "{page:?}"
    );
    // The readings are the status JSON at the time of the request.
    assert_eq!(json_number(&readings, "served"), Some(0), "{readings}");
    assert_eq!(
        json_array(&readings, "analog").map(|a| a.len()),
        Some(8),
        "{readings}"
    );
    let mut uptime = json_number(&readings, "uptime_ms").expect("uptime in the page");
    let padding = format!("X-Padding: {}\r\n", "0123456789abcdef".repeat(16));
    let mut served = 1;
    for round in 0..4u64 {
        // Ends with D7 high (round 3), which the concurrent clients read back below.
        let (again, readings) = page_and_readings(&bench.request("GET", "/", ""));
        assert_eq!(again, page, "round {round}: the page changed");
        assert_eq!(json_number(&readings, "served"), Some(served), "{readings}");
        let now = json_number(&readings, "uptime_ms").expect("uptime in the page");
        assert!(now > uptime, "round {round}: uptime {now} after {uptime}");
        uptime = now;
        let level = round % 2;
        let put = bench.request_with_headers("PUT", "/api/pin/7", &padding, &level.to_string());
        let (status, body) = status_and_body(&put);
        assert_eq!(status, "HTTP/1.1 200 OK", "round {round}: {put}");
        assert_eq!(
            json_number(body, "value"),
            Some(level),
            "round {round}: {put}"
        );
        let read_back = bench.request_with_headers("GET", "/api/pin/7", &padding, "");
        let (status, body) = status_and_body(&read_back);
        assert_eq!(status, "HTTP/1.1 200 OK", "round {round}: {read_back}");
        assert_eq!(
            json_number(body, "value"),
            Some(level),
            "round {round}: {read_back}"
        );
        served += 3;
    }
    // Three clients at once (max_clients = 3): requests arrive while responses go out.
    std::thread::scope(|scope| {
        for client in 0..3 {
            let (addr, page, padding) = (bench.addr.as_str(), &page, &padding);
            scope.spawn(move || {
                for round in 0..3 {
                    if (client + round) % 2 == 0 {
                        let response = http_request(addr, "GET", "/", "", "");
                        let (again, _) = page_and_readings(&response);
                        assert_eq!(&again, page, "client {client} round {round}");
                    } else {
                        let pin = http_request(addr, "GET", "/api/pin/7", padding, "");
                        let (status, body) = status_and_body(&pin);
                        assert_eq!(status, "HTTP/1.1 200 OK", "client {client}: {pin}");
                        assert_eq!(
                            json_number(body, "value"),
                            Some(1),
                            "client {client}: {pin}"
                        );
                    }
                }
            });
        }
    });
    served += 9;
    let response = bench.request("GET", "/api/status", "");
    let (status, body) = status_and_body(&response);
    assert_eq!(status, "HTTP/1.1 200 OK", "{response}");
    assert_eq!(json_number(body, "served"), Some(served), "{body}");
    assert_eq!(json_number(body, "errors"), Some(0), "{body}");
    let err = bench.stop();
    assert_eq!(
        stat(&err, "framing_errors"),
        Some(0),
        "framing errors on the link:\n{err}"
    );
    assert_eq!(
        stat(&err, "overruns"),
        Some(0),
        "overruns on the link:\n{err}"
    );
}

#[test]
fn http_traffic_at_38400_is_clean_both_ways() {
    assert_clean_http_traffic(38400);
}

#[test]
fn http_traffic_at_57600_is_clean_both_ways() {
    assert_clean_http_traffic(57600);
}

#[test]
fn soft_link_negotiates_with_an_esp_still_at_its_factory_baud() {
    // The simulator samples and drives D8/D9 at the emulated ESP's rate: the server comes up
    // only if the firmware transmits AT+UART_CUR=57600 blind at 115200 (its receiver is off
    // at that rate) and then goes back to 57600 with the receiver on.
    assert_negotiates_from_the_factory_baud(LinkKind::Soft);
}

#[test]
fn soft_link_with_save_baud_negotiates_with_the_persistent_command() {
    // `link.save_baud = true` reaches the driver only through the firmware's main.rs.
    let firmware = build_firmware_with(LinkKind::Soft, 57600, &["save_baud = true"]);
    let sent = negotiate_from_the_factory_baud(&firmware, LinkKind::Soft);
    assert!(sent.contains("AT+UART_DEF=57600,8,1,0,0\\r\\n"), "{sent}");
    assert!(!sent.contains("AT+UART_CUR"), "{sent}");
}

/// The firmware is built for 57600; the module answers only at 115200 (its factory rate).
/// Bytes at the wrong rate arrive garbled both ways, so the server comes up only if the
/// firmware moves to 115200, sends AT+UART_CUR=57600 and switches its link back.
#[track_caller]
fn assert_negotiates_from_the_factory_baud(link: LinkKind) {
    let firmware = build_firmware(link, 57600);
    let sent = negotiate_from_the_factory_baud(&firmware, link);
    // Not the persistent `_DEF` unless the project asks for it.
    assert!(sent.contains("AT+UART_CUR=57600,8,1,0,0\\r\\n"), "{sent}");
    assert!(!sent.contains("AT+UART_DEF"), "{sent}");
}

/// Runs `firmware` (built for 57600) against a module at 115200 until its server is up;
/// returns what the Nano sent, from the emulated ESP's transcript (`\r` written `\\r`).
#[track_caller]
fn negotiate_from_the_factory_baud(firmware: &Path, link: LinkKind) -> String {
    let transcript = firmware.with_extension("esp-transcript");
    let _ = std::fs::remove_file(&transcript);
    let output = sim_command(firmware, link, 57600)
        .args([
            "--esp-start-baud",
            "115200",
            "--exit-after-ready",
            "--timeout",
            "40",
        ])
        .arg("--esp-transcript")
        .arg(&transcript)
        .output()
        .expect("nanoesp-sim run");
    let all = format!("{}{}", stdout(&output), stderr(&output));
    assert!(output.status.success(), "{all}");
    assert!(all.contains("nanoesp-sim: server up"), "{all}");
    let transcript = std::fs::read_to_string(&transcript)
        .unwrap_or_else(|e| panic!("{}: {e}\n{all}", transcript.display()));
    assert!(transcript.contains("AT+CWJAP"), "{transcript}");
    assert!(
        !transcript.contains(PASSWORD),
        "the password is masked: {transcript}"
    );
    // The module echoes each byte as it comes, so the Nano's bytes are in many pieces.
    transcript
        .lines()
        .filter_map(|line| line.strip_prefix("--> "))
        .collect()
}

// --- hardware USART on D0/D1 --------------------------------------------------------------

#[test]
fn usart_at_115200_exchanges_at_traffic_cleanly() {
    assert_clean_bring_up(LinkKind::Usart, 115200);
}

#[test]
fn usart_link_negotiates_with_an_esp_still_at_its_factory_baud() {
    assert_negotiates_from_the_factory_baud(LinkKind::Usart);
}

// --- HTTP through the bridge --------------------------------------------------------------

#[test]
fn http_get_api_status_returns_live_json() {
    let firmware = build_firmware(LinkKind::Soft, 19200);
    // A0 at 2.5 V of 5 V reads as mid-scale (512) if the ADC path works.
    let bench = HttpBench::start(
        &firmware,
        LinkKind::Soft,
        19200,
        &["--adc", "A0=2500"],
        Duration::from_secs(120),
    );
    let banner_id = bench.console[0].split(' ').nth(1).unwrap().to_string();

    let response = bench.request("GET", "/api/status", "");
    let (status, body) = status_and_body(&response);
    assert_eq!(status, "HTTP/1.1 200 OK", "{response}");
    assert!(
        response.contains("Content-Type: application/json"),
        "{response}"
    );
    assert_eq!(
        json_string(body, "firmware"),
        Some(banner_id.as_str()),
        "{body}"
    );
    assert_eq!(json_string(body, "esp"), Some("1.7.4.0"), "{body}");
    assert!(json_number(body, "uptime_ms").unwrap_or(0) > 1000, "{body}");
    let analog = json_array(body, "analog").expect("analog array");
    assert_eq!(analog.len(), 8, "{body}");
    assert!(
        (500..=524).contains(&analog[0]),
        "A0 at 2.5 V should read ~512: {body}"
    );
    assert_eq!(json_number(body, "clients"), Some(1), "{body}");
    assert_eq!(json_number(body, "errors"), Some(0), "{body}");

    // A second request sees the first one counted and time moving on.
    let again = bench.request("GET", "/api/status", "");
    let (_, body2) = status_and_body(&again);
    assert_eq!(
        json_number(body2, "served"),
        Some(json_number(body, "served").unwrap() + 1),
        "{body2}"
    );
    assert!(
        json_number(body2, "uptime_ms") > json_number(body, "uptime_ms"),
        "{body2}"
    );
}

#[test]
fn http_pin_api_drives_a_free_pin_and_refuses_reserved_ones() {
    let firmware = build_firmware(LinkKind::Soft, 19200);
    let bench = HttpBench::start(
        &firmware,
        LinkKind::Soft,
        19200,
        &[],
        Duration::from_secs(120),
    );

    let response = bench.request("PUT", "/api/pin/7", "1");
    let (status, body) = status_and_body(&response);
    assert_eq!(status, "HTTP/1.1 200 OK", "{response}");
    assert_eq!(json_number(body, "value"), Some(1), "{body}");
    let read_back = bench.request("GET", "/api/pin/7", "");
    let (_, body) = status_and_body(&read_back);
    assert_eq!(
        json_number(body, "value"),
        Some(1),
        "D7 must read back high: {body}"
    );

    // D9 carries the soft-serial link, D13 the status LED, D1 the USART.
    for pin in [9, 13, 1] {
        let response = bench.request("PUT", &format!("/api/pin/{pin}"), "1");
        assert!(
            response.starts_with("HTTP/1.1 403"),
            "D{pin} must be refused: {response}"
        );
    }
    let response = bench.request("GET", "/api/pin/42", "");
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
}
