//! `wifi.mode = "stored"`: the firmware never sends `AT+CWJAP` (no password is compiled
//! in) and only announces itself once the ESP joined the network it saved.

use nanoesp_espemu::EspConfig;
use nanoesp_firmware_tests::{Bench, Response, test_config_stored};

const GET_STATUS: &[u8] = b"GET /api/status HTTP/1.1\r\nHost: nano\r\n\r\n";

/// What the firmware sent to the ESP (the to-ESP runs of the emulator's transcript), so
/// echoed bytes interleaved with the command lines do not hide them.
fn transcript(b: &Bench) -> String {
    let raw = String::from_utf8_lossy(b.esp.transcript()).into_owned();
    let mut sent = String::new();
    for run in raw.split("\n--> ").skip(1) {
        sent.push_str(run.split("\n<-- ").next().unwrap_or(""));
    }
    // The bring-up (where a CWJAP would be) is still in the transcript.
    assert!(sent.contains("AT+CWMODE_CUR=1\r\n"), "{sent}");
    sent
}

#[test]
fn stored_credentials_reach_ready_without_cwjap_and_serve() {
    let mut b = Bench::with_config(EspConfig::provisioned(), test_config_stored(3));
    let line = b.run_until_ready(20_000).unwrap_or_else(|| {
        panic!(
            "not ready; console:\n{}\ntranscript:\n{}",
            b.console_text(),
            b.esp.transcript_text()
        )
    });
    assert_eq!(line, "nanoesp: ready http://192.168.4.2:80/");
    let t = transcript(&b);
    assert!(t.contains("AT+CIPSERVER=1,80"), "{t}");
    assert!(!t.contains("CWJAP"), "joined explicitly:\n{t}");
    assert!(!t.contains("correct horse"), "{t}");
    let console = b.console_text();
    assert!(!console.contains("nanoesp: joining"), "{console}");
    assert!(!console.contains("0.0.0.0"), "{console}");
    assert_eq!(console.matches("nanoesp: ready").count(), 1, "{console}");

    let c = b.connect_and_send(GET_STATUS);
    let got = b.collect(&[c], 5_000);
    let r = Response::parse(got[0].as_ref().unwrap()).unwrap();
    assert_eq!(r.status, 200);
    assert!(
        r.text().starts_with("{\"firmware\":\"0badc0de\""),
        "{}",
        r.text()
    );
    assert!(!transcript(&b).contains("CWJAP"));
}

#[test]
fn nothing_stored_means_waiting_not_ready_and_no_cwjap() {
    let mut b = Bench::with_config(EspConfig::default(), test_config_stored(3));
    assert_eq!(b.run_until_ready(15_000), None, "{}", b.console_text());
    let console = b.console_text();
    assert_eq!(
        console
            .matches("nanoesp: waiting for the stored network\r\n")
            .count(),
        1,
        "{console}"
    );
    assert!(!console.contains("nanoesp: ready"), "{console}");
    let t = transcript(&b);
    assert!(!t.contains("CWJAP"), "joined explicitly:\n{t}");
    // It keeps asking the ESP for its station address.
    assert!(t.matches("AT+CIFSR").count() >= 3, "{t}");
    assert!(!b.esp.wifi_joined());
}

#[test]
fn stored_network_joined_late_then_ready() {
    // Saved credentials, but the module only gets its address ~8 s after boot: the firmware
    // waits (one console line) and then announces the real address.
    let mut cfg = EspConfig::provisioned();
    cfg.timing.auto_join_us = (8_000_000, 8_000_000);
    let mut b = Bench::with_config(cfg, test_config_stored(3));
    let line = b
        .run_until_ready(20_000)
        .expect("ready after the late join");
    assert_eq!(line, "nanoesp: ready http://192.168.4.2:80/");
    let console = b.console_text();
    assert_eq!(
        console
            .matches("nanoesp: waiting for the stored network")
            .count(),
        1,
        "{console}"
    );
    assert!(!transcript(&b).contains("CWJAP"));
}
