//! The Nano resets (a serial monitor opening its port, the reset button) while the ESP8266
//! keeps running with Wi-Fi joined and its server listening: the firmware must bring the
//! server back without a power cycle of the ESP.

use nanoesp_espemu::EspConfig;
use nanoesp_firmware_tests::{Bench, Response};

#[test]
fn nano_reset_with_the_esp_still_serving_comes_back_ready() {
    let mut b = Bench::new(EspConfig::default(), 3);
    assert!(b.run_until_ready(20_000).is_some(), "{}", b.console_text());
    // A fresh firmware instance against the same, still-configured ESP.
    b.server = nanoesp_firmware_tests::test_config(3).server();
    b.console.clear();
    let line = b.run_until_ready(20_000).unwrap_or_else(|| {
        panic!(
            "not ready again; console:\n{}\ntranscript tail:\n{}",
            b.console_text(),
            b.esp
                .transcript_text()
                .lines()
                .rev()
                .take(60)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    assert_eq!(line, "nanoesp: ready http://192.168.4.2:80/");
    let c = b.connect_and_send(b"GET /api/status HTTP/1.1\r\n\r\n");
    let got = b.collect(&[c], 5_000);
    let r = Response::parse(got[0].as_ref().unwrap()).unwrap();
    assert_eq!(r.status, 200);
}
