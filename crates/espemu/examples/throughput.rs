//! Measures how fast the emulator runs: a scripted host serves N HTTP requests (passive
//! mode, CIPRECVDATA, CIPSEND, CIPCLOSE) at 115200 baud, stepping simulated time event by
//! event. Prints simulated time, wall time and UART byte counts.
//!
//! `cargo run --release -p nanoesp-espemu --example throughput [requests]`

use nanoesp_espemu::{Esp, EspConfig};
use std::time::Instant;

struct Host {
    esp: Esp,
    t: u64,
    out: Vec<u8>,
}

impl Host {
    fn step_until(&mut self, suffix: &[u8]) {
        let limit = self.t + 60_000_000;
        while !self.out.ends_with(suffix) {
            assert!(
                self.t < limit,
                "stuck waiting for {:?}:\n{}",
                String::from_utf8_lossy(suffix),
                self.esp.transcript_text()
            );
            let next = self
                .esp
                .next_event_us()
                .unwrap_or(self.t + 1_000)
                .max(self.t + 1);
            self.t = next;
            while let Some(b) = self.esp.uart_tx(self.t) {
                self.out.push(b);
            }
        }
        self.out.clear();
    }

    fn send(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.t += 87;
            while let Some(x) = self.esp.uart_tx(self.t) {
                self.out.push(x);
            }
            self.esp.uart_rx(b, self.t);
        }
    }

    fn cmd(&mut self, line: &str, end: &[u8]) {
        self.send(line.as_bytes());
        self.send(b"\r\n");
        self.step_until(end);
    }
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let mut h = Host {
        esp: Esp::new(EspConfig::default()),
        t: 0,
        out: Vec::new(),
    };
    let wall = Instant::now();
    h.step_until(b"\r\nready\r\n");
    h.cmd("ATE0", b"\r\nOK\r\n");
    h.cmd(
        "AT+CWJAP_CUR=\"nanoesp-lab\",\"correct horse\"",
        b"\r\nOK\r\n",
    );
    h.cmd("AT+CIPMUX=1", b"\r\nOK\r\n");
    h.cmd("AT+CIPRECVMODE=1", b"\r\nOK\r\n");
    h.cmd("AT+CIPSERVER=1,80", b"\r\nOK\r\n");
    let sim_start = h.t;
    let body = [b'x'; 200];
    for _ in 0..n {
        let c = h.esp.net_connect(h.t);
        h.esp
            .net_send(c, b"GET / HTTP/1.1\r\nHost: nano\r\n\r\n", h.t);
        h.step_until(b"\r\n+IPD,0,30\r\n");
        h.cmd("AT+CIPRECVDATA=0,64", b"\r\nOK\r\n");
        h.cmd("AT+CIPSEND=0,200", b"> ");
        h.send(&body);
        h.step_until(b"SEND OK\r\n");
        h.cmd("AT+CIPCLOSE=0", b"\r\nOK\r\n");
        let _ = h.esp.net_poll(c);
    }
    let wall = wall.elapsed();
    let sim_s = (h.t - sim_start) as f64 / 1e6;
    println!(
        "{n} requests: {sim_s:.2} s simulated ({:.1} ms each), {:.3} s wall, {:.0}x real time, {} bytes to ESP, {} from ESP",
        sim_s * 1e3 / n as f64,
        wall.as_secs_f64(),
        sim_s / wall.as_secs_f64(),
        h.esp.uart_bytes_rx(),
        h.esp.uart_bytes_tx()
    );
}
