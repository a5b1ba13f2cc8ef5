//! Load benchmark: nanoesp-esp-host against the fake Nano, `GET /api/status` from 1, 5 and
//! 20 concurrent clients (one connection per request, as browsers polling the page do),
//! a few seconds each. Prints a Markdown table.
//!
//! `cargo bench -p nanoesp-esp-host-tests --bench status_load`; `NANOESP_BENCH_SECS` sets the
//! seconds per row (default 3), `NANOESP_BENCH_MAX_CLIENTS` the server's max_clients
//! (default 5, the ESP8266 default; connections beyond it are answered 503 at once).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use nanoesp_esp_host_tests::{FakeNano, Host, build_host, http_get};

struct Row {
    clients: usize,
    ok: usize,
    busy: usize,
    failed: usize,
    secs: f64,
    lat: Vec<Duration>,
}

fn run(addr: &str, clients: usize, secs: f64) -> Row {
    let until = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let addr = addr.to_string();
            std::thread::spawn(move || {
                let (mut ok, mut busy, mut failed, mut lat) = (0, 0, 0, Vec::new());
                while Instant::now() < until {
                    let t0 = Instant::now();
                    match http_get(&addr, "/api/status") {
                        Ok(r) if r.status == 200 => {
                            ok += 1;
                            lat.push(t0.elapsed());
                        }
                        Ok(r) if r.status == 503 && r.body.contains("too many clients") => {
                            busy += 1
                        }
                        _ => failed += 1,
                    }
                }
                (ok, busy, failed, lat)
            })
        })
        .collect();
    let mut row = Row {
        clients,
        ok: 0,
        busy: 0,
        failed: 0,
        secs: 0.0,
        lat: Vec::new(),
    };
    for w in workers {
        let (ok, busy, failed, lat) = w.join().unwrap();
        row.ok += ok;
        row.busy += busy;
        row.failed += failed;
        row.lat.extend(lat);
    }
    row.secs = start.elapsed().as_secs_f64();
    row.lat.sort();
    row
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    // `cargo test --benches` runs this with --test-ish flags; only run on `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let secs: f64 = std::env::var("NANOESP_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let max_clients = std::env::var("NANOESP_BENCH_MAX_CLIENTS").unwrap_or_else(|_| "5".into());
    let bin = build_host(&PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("esp-host-bench"));
    let nano = FakeNano::start("bench0001");
    let host = Host::start(&bin, &nano, &["--max-clients", &max_clients]);
    std::thread::sleep(Duration::from_millis(200));
    println!(
        "nanoesp-esp-host, GET /api/status, fake Nano on a pty, max_clients {max_clients}, {secs} s per row\n"
    );
    println!("| clients | requests | 200 req/s | p50 ms | max ms | 503 busy | errors |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for clients in [1, 5, 20] {
        let r = run(&host.addr, clients, secs);
        let p50 = r.lat.get(r.lat.len() / 2).copied().unwrap_or_default();
        let max = r.lat.last().copied().unwrap_or_default();
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {} | {} |",
            r.clients,
            r.ok + r.busy + r.failed,
            r.ok as f64 / r.secs,
            ms(p50),
            ms(max),
            r.busy,
            r.failed
        );
    }
    let j = http_get(&host.addr, "/api/status")
        .map(|r| r.body)
        .unwrap_or_default();
    println!("\nfinal /api/status: {j}");
}
