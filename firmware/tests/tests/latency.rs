//! Latency of one request on the host bench (simulated time), so regressions in the
//! scheduling (extra round trips, needless waits) show up as numbers.

use nanoesp_espemu::EspConfig;
use nanoesp_firmware_tests::{Bench, Response};

#[test]
fn one_request_completes_within_300_ms_at_115200() {
    let mut b = Bench::new(EspConfig::default(), 3);
    b.run_until_ready(20_000).expect("ready");
    let mut worst = 0;
    for _ in 0..5 {
        let start = b.now_us;
        let c = b.connect_and_send(b"GET /api/status HTTP/1.1\r\nHost: x\r\n\r\n");
        let got = b.collect(&[c], 5_000);
        Response::parse(got[0].as_ref().unwrap()).unwrap();
        let ms = (b.now_us - start) / 1000;
        eprintln!("request took {ms} ms");
        worst = worst.max(ms);
        b.run_ms(50);
    }
    assert!(worst < 300, "slowest request {worst} ms");
}

#[test]
fn byte_sized_tx_polls_at_57600_still_serve_quickly() {
    let cfg = EspConfig {
        baud: 57_600,
        ..EspConfig::default()
    };
    let mut b = Bench::new(cfg, 3);
    b.tx_queue_max = 1;
    b.run_until_ready(20_000).expect("ready");
    for i in 0..5 {
        let start = b.now_us;
        let c = b.connect_and_send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        let got = b.collect(&[c], 5_000);
        let r = Response::parse(got[0].as_ref().unwrap()).unwrap();
        assert_eq!(r.status, 200);
        let ms = (b.now_us - start) / 1000;
        eprintln!("request {i} took {ms} ms");
        assert!(ms < 400, "request {i} took {ms} ms");
    }
}
