//! `bench` and `run --http` against a tiny AT HTTP server firmware on the USART link.

use std::io::{Read, Write};
use std::process::Command;

use crate::helpers::*;

#[test]
fn bench_counts_correct_responses_and_wire_bytes() {
    let fw = firmware("at-http-mini");
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let out = Command::new(env!("CARGO_BIN_EXE_nanoesp-sim"))
        .args([
            "bench",
            "--firmware",
            fw.to_str().unwrap(),
            "--link",
            "usart",
            "--baud",
            "115200",
        ])
        .args([
            "--clients",
            "1,2",
            "--duration",
            "3",
            "--json",
            json.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("req/s"), "table printed: {stdout}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let runs = report["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    let one = &runs[0];
    assert_eq!(one["clients"], 1);
    let ready = one["ready_ms"].as_f64().unwrap();
    assert!(
        ready > 100.0 && ready < 20_000.0,
        "join + CIPSERVER takes simulated seconds: {ready}"
    );
    let ok = one["ok"].as_u64().unwrap();
    assert!(ok >= 10, "a 3 s run serves tens of requests: {one}");
    assert!(
        one["failures"]
            .as_object()
            .unwrap()
            .values()
            .all(|v| v == 0),
        "{one}"
    );
    // Requests in flight when the load window ends are finished, never cut off.
    let measured = one["measured_s"].as_f64().unwrap();
    assert!((3.0..13.0).contains(&measured), "{one}");
    let rps = one["requests_per_s"].as_f64().unwrap();
    assert!((rps - ok as f64 / measured).abs() < 1e-6);
    assert_eq!(
        one["attempts"].as_u64().unwrap(),
        ok + one["busy_503"].as_u64().unwrap(),
        "every attempt is answered: {one}"
    );
    // the request (~97 B) and response (~142 B) plus AT framing cross the wire each time
    let to_esp = one["uart_bytes_to_esp_per_request"].as_f64().unwrap();
    let from_esp = one["uart_bytes_from_esp_per_request"].as_f64().unwrap();
    assert!(to_esp > 142.0 && to_esp < 260.0, "{to_esp}");
    assert!(from_esp > 97.0 && from_esp < 260.0, "{from_esp}");
    let ratio = one["wire_bound_ratio"].as_f64().unwrap();
    assert!(ratio > 0.0 && ratio <= 1.0, "{ratio}");
    let p50 = one["latency_ms"]["p50"].as_f64().unwrap();
    assert!(p50 > 10.0 && p50 <= one["latency_ms"]["max"].as_f64().unwrap());
    // this firmware writes with blocking calls and no RX interrupt: a second client's
    // +IPD arriving meanwhile overruns the USART, which the bench must report
    assert!(runs[1]["overruns"].as_u64().unwrap() > 0, "{}", runs[1]);
    assert_eq!(one["overruns"], 0, "{one}");
    for run in runs {
        check_esp_bound_and_start_up(run, 115_200, 50.0);
    }
    assert!(
        stdout.contains("esp_r") && stdout.contains("up_ms"),
        "{stdout}"
    );
}

/// The send-wait accounting, the ESP bound and the start-up split of one run.
#[track_caller]
fn check_esp_bound_and_start_up(run: &serde_json::Value, baud: u32, max_wait_ms: f64) {
    let f = |key: &str| {
        run[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} missing: {run}"))
    };
    // one CIPSEND per response (this firmware answers in one piece), each followed by a
    // wait for SEND OK of 5 ms to `max_wait_ms` (50 by default, 300 with realistic timing)
    let sends = f("sends_per_request");
    assert!((0.9..=1.0).contains(&sends), "{run}");
    let wait = f("send_wait_ms_per_request");
    assert!((5.0 * sends..=max_wait_ms * sends).contains(&wait), "{run}");
    assert_eq!(
        f("uart_bytes_to_esp_in_send_wait_per_request"),
        0.0,
        "{run}"
    );
    // the bound is the formula of the module doc, and no run beats it
    let to_esp = f("uart_bytes_to_esp_per_request");
    let bound = f("esp_bound_requests_per_s");
    let want = 1.0 / (to_esp * 10.0 / f64::from(baud) + wait / 1000.0);
    assert!(
        (bound - want).abs() < 1e-9 * want,
        "{bound} vs {want}: {run}"
    );
    let rps = f("requests_per_s");
    assert!(bound >= rps * 0.999, "{run}");
    // the waits cost more than the wire here: the ESP bound is the tighter one
    assert!(bound < f("wire_max_requests_per_s"), "{run}");
    let ratio = f("esp_bound_ratio");
    assert!(ratio > 0.0 && ratio <= 1.05, "{run}");
    assert!((ratio - rps / bound).abs() < 1e-9, "{run}");
    // the ESP's turns contain its send waits; the turn bound is its formula and holds
    let turn = f("esp_turn_ms_per_request");
    assert!(turn >= wait, "{run}");
    let outside = to_esp - f("uart_bytes_to_esp_in_turn_per_request");
    assert!(outside > 0.0 && outside <= to_esp, "{run}");
    let turn_bound = f("turn_bound_requests_per_s");
    let want = 1.0 / (outside * 10.0 / f64::from(baud) + turn / 1000.0);
    assert!(
        (turn_bound - want).abs() < 1e-9 * want,
        "{turn_bound} vs {want}: {run}"
    );
    assert!(
        turn_bound >= rps * 0.999 && turn_bound <= bound * 1.001,
        "{run}"
    );
    assert!(
        (f("turn_bound_ratio") - rps / turn_bound).abs() < 1e-9,
        "{run}"
    );
    // SRAM painted at power-on: the firmware used some, and not all, of its 2 KiB
    let ram = run["sram_peak_bytes"].as_u64().unwrap();
    assert!((32..2048).contains(&ram), "{run}");
    // start-up: the join (boot 0.3 s + CWJAP 3 s + 1 s) then the firmware's own setup
    let ready = f("ready_ms");
    let joined = f("wifi_joined_ms");
    let up = f("up_after_join_ms");
    assert!(joined > 4_000.0 && joined < ready, "{run}");
    assert!(up > 0.0 && up < 3_000.0, "{run}");
    assert!((ready - joined - up).abs() < 1e-6, "{run}");
}

#[test]
fn bench_measures_send_waits_and_start_up_with_output_gaps() {
    let fw = firmware("at-http-mini");
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let out = Command::new(env!("CARGO_BIN_EXE_nanoesp-sim"))
        .args(["bench", "--firmware", fw.to_str().unwrap()])
        .args([
            "--link",
            "usart",
            "--baud",
            "115200",
            "--esp-faults",
            "realistic",
        ])
        .args(["--clients", "1", "--duration", "3", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let run = &report["runs"][0];
    assert!(run["ok"].as_u64().unwrap() >= 5, "{run}");
    // 0–50 ms gaps before each output chunk slow the firmware, not the ESP's own waits:
    // the ratio drops below the gap-free run's while the bound stays put
    check_esp_bound_and_start_up(run, 115_200, 300.0);
    // the spec's 5–300 ms SEND OK, not the perfect module's 5–50 ms
    assert!(
        run["send_wait_ms_per_request"].as_f64().unwrap() > 50.0,
        "{run}"
    );
    assert!(run["esp_bound_ratio"].as_f64().unwrap() < 0.6, "{run}");
    // the gaps are the ESP's, too: each command's reply waits for them inside its turn
    let turn = run["esp_turn_ms_per_request"].as_f64().unwrap();
    let wait = run["send_wait_ms_per_request"].as_f64().unwrap();
    assert!(turn > wait + 20.0, "{run}");
    assert!(run["turn_bound_ratio"].as_f64().unwrap() > 0.6, "{run}");
}

#[test]
fn run_bridges_a_real_socket_once_the_server_is_up() {
    let fw = firmware("at-http-mini");
    let mut sim = Sim::start(&[
        "run",
        fw.to_str().unwrap(),
        "--link",
        "usart",
        "--baud",
        "115200",
        "--http",
        "127.0.0.1:0",
    ]);
    let line = sim.wait_line("nanoesp-sim: serving http://", 60);
    let addr = line
        .trim()
        .trim_start_matches("nanoesp-sim: serving http://")
        .trim_end_matches('/')
        .to_string();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    stream
        .write_all(b"GET /api/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with("\"served\":0}"), "{response}");
    drop(sim);
}

#[test]
fn run_fails_with_the_serial_tail_when_the_server_never_comes_up() {
    // the bridge firmware greets on USART0 (here: the ESP link) and never starts a server
    let fw = firmware("soft-bridge-57600");
    let out = Command::new(env!("CARGO_BIN_EXE_nanoesp-sim"))
        .args([
            "run",
            fw.to_str().unwrap(),
            "--link",
            "usart",
            "--baud",
            "115200",
            "--timeout",
            "2",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("did not bring the HTTP server up within 2 s"),
        "{err}"
    );
    // the tail shows both directions, ending with the module's boot message
    assert!(
        err.contains("last serial exchange") && err.contains("ready\\r\\n"),
        "{err}"
    );
    assert!(err.contains("-->") && err.contains("<--"), "{err}");
}
