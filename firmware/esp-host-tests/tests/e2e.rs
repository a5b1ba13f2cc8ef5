//! nanoesp-esp-host against the fake Nano: ready line, /api/status under concurrent load,
//! pins, the max_clients limit, a Nano reset, SIGTERM.

use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nanoesp_esp_host_tests::{FakeNano, Host, NanoState, build_host, http_get, http_request};

fn host_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| build_host(&PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("esp-host-e2e")))
        .clone()
}

/// The fake's state once `settled` holds, or after 10 s. The host goes ready (and answers)
/// right after writing the last handshake messages (sampling interval, report enables),
/// which the fake's thread may not have read yet.
fn settled_state(nano: &FakeNano, settled: impl Fn(&NanoState) -> bool) -> NanoState {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let state = nano.state();
        if settled(&state) || Instant::now() > deadline {
            return state;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn status_json(addr: &str) -> serde_json::Value {
    let r = http_get(addr, "/api/status").unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("Connection"), Some("close"));
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.body))
}

#[test]
fn ready_line_then_status_with_the_nano_build_id() {
    let nano = FakeNano::start("0badc0de");
    let host = Host::start(
        &host_bin(),
        &nano,
        &["--esp-id", "esp-e2e", "--title", "Lab <1>"],
    );
    assert!(
        host.ready_line
            .starts_with("nanoesp: ready http://127.0.0.1:"),
        "{}",
        host.ready_line
    );
    assert!(host.ready_line.ends_with('/'));
    // Analog reports come every sampling interval once the handshake has enabled them;
    // on a loaded machine the first may take a while.
    let deadline = Instant::now() + Duration::from_secs(10);
    let j = loop {
        let j = status_json(&host.addr);
        let reported = j["analog"]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v.as_u64().is_some_and(|v| v > 0)));
        if reported || Instant::now() > deadline {
            break j;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(j["firmware"], "0badc0de");
    assert_eq!(j["esp"], "esp-e2e");
    let keys: Vec<&str> = j.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 7, "{j}");
    let analog = j["analog"].as_array().unwrap();
    assert_eq!(analog.len(), 8);
    assert!(analog.iter().all(|v| v.as_u64().unwrap() <= 1023), "{j}");
    assert!(
        analog.iter().any(|v| v.as_u64().unwrap() > 0),
        "no reports reached: {j}"
    );
    assert!(j["uptime_ms"].as_u64().unwrap() > 0);
    assert_eq!(j["clients"], 1);
    assert_eq!(j["errors"], 0);
    // The page.
    let page = http_get(&host.addr, "/").unwrap();
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("<title>Lab &lt;1&gt;</title>"),
        "{}",
        page.body
    );
    let state = settled_state(&nano, |s| s.sampling_ms == 100 && s.analog_on == 0xFF);
    assert_eq!(state.sampling_ms, 100);
    assert_eq!(state.analog_on, 0xFF);
    let stderr = host.stderr_with(&["nanoesp: Nano nanoesp-io 2.5 build 0badc0de, 22 pins"]);
    assert!(
        stderr.contains("nanoesp: Nano nanoesp-io 2.5 build 0badc0de, 22 pins"),
        "{stderr}"
    );
}

#[test]
fn concurrent_status_requests_all_answered() {
    let nano = FakeNano::start("c0ffee01");
    let host = Host::start(&host_bin(), &nano, &["--max-clients", "5"]);
    let addr = host.addr.clone();
    let threads: Vec<_> = (0..5)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut codes = Vec::new();
                for _ in 0..40 {
                    let r = http_get(&addr, "/api/status").unwrap();
                    if r.status == 200 {
                        let j: serde_json::Value = serde_json::from_str(&r.body).unwrap();
                        assert_eq!(j["firmware"], "c0ffee01");
                    }
                    codes.push(r.status);
                }
                codes
            })
        })
        .collect();
    let codes: Vec<u16> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(codes.len(), 200);
    assert!(codes.iter().all(|&c| c == 200), "{codes:?}");
    let j = status_json(&addr);
    assert_eq!(j["served"], 200);
    assert_eq!(j["errors"], 0);
}

#[test]
fn beyond_max_clients_gets_503_at_once() {
    let nano = FakeNano::start("0badc0de");
    let host = Host::start(&host_bin(), &nano, &["--max-clients", "2"]);
    // Two idle connections take both slots.
    let a = TcpStream::connect(&host.addr).unwrap();
    let b = TcpStream::connect(&host.addr).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let t0 = Instant::now();
    let r = http_get(&host.addr, "/api/status").unwrap();
    assert_eq!(r.status, 503);
    assert_eq!(r.body, "{\"error\":\"too many clients\"}");
    // At once: a host that waited for a slot would answer only when the idle ones time out
    // (10 s).
    assert!(t0.elapsed() < Duration::from_secs(3));
    drop(a);
    drop(b);
    // The slots are free once the host has seen both connections close; a request before
    // that is turned away like the one above, and counted.
    let mut turned_away = 0u64;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let r = http_get(&host.addr, "/api/status").unwrap();
        if r.status == 200 || Instant::now() > deadline {
            break;
        }
        assert_eq!(r.body, "{\"error\":\"too many clients\"}");
        turned_away += 1;
    }
    let j = status_json(&host.addr);
    assert_eq!(j["clients"], 1);
    assert_eq!(j["errors"], 1 + turned_away);
}

#[test]
fn pins_read_write_and_refuse() {
    let nano = FakeNano::start("0badc0de");
    let host = Host::start(&host_bin(), &nano, &[]);
    let post = |pin: u8, body: &str| {
        let req = format!(
            "POST /api/pin/{pin} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        http_request(&host.addr, req.as_bytes(), Duration::from_secs(5)).unwrap()
    };
    let r = post(13, "1");
    assert_eq!(
        (r.status, r.body.as_str()),
        (200, "{\"pin\":13,\"value\":1}")
    );
    assert_eq!(nano.state().values[13], 1);
    assert_eq!(nano.state().modes[13], 1);
    let r = http_get(&host.addr, "/api/pin/13").unwrap();
    assert_eq!(r.body, "{\"pin\":13,\"value\":1}");
    let r = post(13, "value=0");
    assert_eq!(r.body, "{\"pin\":13,\"value\":0}");
    assert_eq!(nano.state().values[13], 0);
    let r = post(9, "1");
    assert_eq!(
        (r.status, r.body.as_str()),
        (403, "{\"error\":\"reserved pin\"}")
    );
    assert_eq!(http_get(&host.addr, "/api/pin/8").unwrap().status, 403);
    assert_eq!(http_get(&host.addr, "/api/pin/22").unwrap().status, 404);
    assert_eq!(post(20, "1").status, 403);
    assert_eq!(post(13, "x").status, 400);
    assert_eq!(http_get(&host.addr, "/nope").unwrap().status, 404);
    let long = format!("/{}", "a".repeat(300));
    assert_eq!(http_get(&host.addr, &long).unwrap().status, 414);
}

#[test]
fn nano_reset_is_followed_by_a_new_handshake() {
    let nano = FakeNano::start("build-one");
    let host = Host::start(&host_bin(), &nano, &[]);
    assert_eq!(status_json(&host.addr)["firmware"], "build-one");
    assert_eq!(nano.state().capability_queries, 1);
    nano.with(|s| s.build_id = "build-two".to_string());
    nano.reset();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = http_get(&host.addr, "/api/status").unwrap();
        if r.status == 200 && r.body.contains("\"firmware\":\"build-two\"") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no re-sync: {r:?}\n{}",
            host.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(nano.state().capability_queries, 2);
    let state = settled_state(&nano, |s| s.analog_on == 0xFF);
    assert_eq!(state.analog_on, 0xFF, "reports not enabled again");
    let stderr = host.stderr_with(&["Nano reset", "(re-synced)"]);
    assert!(stderr.contains("Nano reset"), "{stderr}");
    assert!(stderr.contains("(re-synced)"), "{stderr}");
    assert_eq!(
        stderr.matches("nanoesp: ready").count(),
        0,
        "ready goes to stdout only"
    );
}

#[test]
fn silent_nano_gives_503_then_recovers() {
    let nano = FakeNano::start("0badc0de");
    let host = Host::start(&host_bin(), &nano, &["--sampling-ms", "50"]);
    let t0 = Instant::now();
    while nano.state().sampling_ms != 50 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "SAMPLING_INTERVAL not sent"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    nano.with(|s| s.silent = true);
    // The host gives the Nano up 2 s after the last report it read, and a report already
    // on its way when the fake fell silent may be read late on a loaded machine.
    std::thread::sleep(Duration::from_millis(2000));
    let deadline = Instant::now() + Duration::from_secs(10);
    let r = loop {
        let r = http_get(&host.addr, "/api/status").unwrap();
        if r.status != 200 || Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(r.status, 503);
    assert_eq!(r.body, "{\"error\":\"nano not answering\"}");
    nano.with(|s| s.silent = false);
    let deadline = Instant::now() + Duration::from_secs(15);
    while http_get(&host.addr, "/api/status").unwrap().status != 200 {
        assert!(Instant::now() < deadline, "{}", host.stderr());
        std::thread::sleep(Duration::from_millis(50));
    }
    let j = status_json(&host.addr);
    assert!(j["errors"].as_u64().unwrap() >= 2, "{j}");
}

#[test]
fn sigterm_exits_cleanly() {
    let nano = FakeNano::start("0badc0de");
    let mut host = Host::start(&host_bin(), &nano, &[]);
    // An idle client must not keep it alive.
    let _idle = TcpStream::connect(&host.addr).unwrap();
    assert_eq!(host.terminate(), Some(0), "{}", host.stderr());
    assert!(host.stderr().contains("nanoesp: stopping"));
}

#[test]
fn connection_flood_beyond_max_clients_does_not_starve_the_link() {
    let nano = FakeNano::start("0badc0de");
    let host = Host::start(&host_bin(), &nano, &["--max-clients", "2"]);
    let until = Instant::now() + Duration::from_millis(2500);
    let threads: Vec<_> = (0..20)
        .map(|_| {
            let addr = host.addr.clone();
            std::thread::spawn(move || {
                let (mut ok, mut busy) = (0u32, 0u32);
                while Instant::now() < until {
                    let r = http_get(&addr, "/api/status").unwrap();
                    match (r.status, r.body.contains("too many clients")) {
                        (200, _) => ok += 1,
                        (503, true) => busy += 1,
                        _ => panic!("unexpected answer {r:?}"),
                    }
                }
                (ok, busy)
            })
        })
        .collect();
    let (mut ok, mut busy) = (0, 0);
    for t in threads {
        let (o, b) = t.join().unwrap();
        ok += o;
        busy += b;
    }
    // Accepted clients keep being served while the others are turned away (an unbounded
    // accept loop served about 15 requests/s here; the bounded one thousands).
    assert!(ok >= 300 && busy > 0, "ok {ok} busy {busy}");
    std::thread::sleep(Duration::from_millis(100));
    let j = status_json(&host.addr);
    assert_eq!(
        j["errors"].as_u64().unwrap(),
        busy as u64,
        "{j}\n{}",
        host.stderr()
    );
    assert!(
        !host.stderr().contains("not answering"),
        "{}",
        host.stderr()
    );
}
