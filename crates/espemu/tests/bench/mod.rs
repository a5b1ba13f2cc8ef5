//! Test bench: drives an [`Esp`] like the Nano would (host bytes paced at the baud, simulated
//! time advanced event by event) and collects everything the ESP sends.

#![allow(dead_code)]

use nanoesp_espemu::{ConnId, Esp, EspConfig, NetEvent};

/// Renders bytes with C escapes for assertion messages.
pub fn show(bytes: &[u8]) -> String {
    let mut s = String::new();
    for &b in bytes {
        match b {
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s
}

pub struct Bench {
    pub esp: Esp,
    /// Simulated now, µs.
    pub t: u64,
    /// ESP output not yet taken by the test.
    pub out: Vec<u8>,
    /// Every ESP output byte with its completion time.
    pub log: Vec<(u64, u8)>,
    /// Host transmit rate (defaults to the ESP's).
    pub host_baud: u32,
}

impl Bench {
    pub fn new(cfg: EspConfig) -> Bench {
        let host_baud = cfg.baud;
        Bench {
            esp: Esp::new(cfg),
            t: 0,
            out: Vec::new(),
            log: Vec::new(),
            host_baud,
        }
    }

    fn drain(&mut self) {
        while let Some(b) = self.esp.uart_tx(self.t) {
            self.out.push(b);
            self.log.push((self.t, b));
        }
    }

    /// Advances to `t_end`, stepping through every internal event.
    pub fn run_until(&mut self, t_end: u64) {
        loop {
            self.drain();
            match self.esp.next_event_us() {
                Some(n) if n <= t_end => {
                    assert!(n >= self.t, "time went backwards");
                    if n == self.t {
                        // Nothing popped at this instant; move on by one µs to avoid a spin.
                        self.t += 1;
                    } else {
                        self.t = n;
                    }
                }
                _ => {
                    self.t = t_end.max(self.t);
                    self.drain();
                    return;
                }
            }
        }
    }

    pub fn run_for(&mut self, dt_us: u64) {
        self.run_until(self.t + dt_us);
    }

    /// Host writes `bytes` back to back at `host_baud` (one byte every 10 bit times).
    pub fn send(&mut self, bytes: &[u8]) {
        let byte_ns = 10_000_000_000u64 / u64::from(self.host_baud);
        let start_ns = self.t * 1000;
        for (i, &b) in bytes.iter().enumerate() {
            let at = (start_ns + (i as u64 + 1) * byte_ns).div_ceil(1000);
            self.run_until(at);
            self.esp.uart_rx(b, self.t);
        }
        self.drain();
    }

    /// Takes everything received so far.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// Runs until the output ends with `suffix` (or `limit_us` passes) and takes it.
    #[track_caller]
    pub fn until(&mut self, suffix: &[u8], limit_us: u64) -> Vec<u8> {
        let end = self.t + limit_us;
        while !self.out.ends_with(suffix) {
            if self.t >= end {
                panic!(
                    "waited {limit_us} µs for {:?}; got {:?}\ntranscript:\n{}",
                    show(suffix),
                    show(&self.out),
                    self.esp.transcript_text()
                );
            }
            let next = self
                .esp
                .next_event_us()
                .unwrap_or(end)
                .min(end)
                .max(self.t + 1);
            self.run_until(next);
        }
        self.take()
    }

    /// Runs until the output contains `needle` and takes everything.
    #[track_caller]
    pub fn until_contains(&mut self, needle: &[u8], limit_us: u64) -> Vec<u8> {
        let end = self.t + limit_us;
        while !self.out.windows(needle.len()).any(|w| w == needle) {
            if self.t >= end {
                panic!(
                    "waited {limit_us} µs for {:?}; got {:?}",
                    show(needle),
                    show(&self.out)
                );
            }
            let next = self
                .esp
                .next_event_us()
                .unwrap_or(end)
                .min(end)
                .max(self.t + 1);
            self.run_until(next);
        }
        self.take()
    }

    /// Asserts the exact bytes received since the last take, after letting `settle_us` pass.
    #[track_caller]
    pub fn expect(&mut self, want: &[u8], settle_us: u64) {
        self.run_for(settle_us);
        let got = self.take();
        assert_eq!(show(&got), show(want));
    }

    /// Sends a command line and returns the reply up to its final result code.
    #[track_caller]
    pub fn cmd(&mut self, line: &str) -> Vec<u8> {
        self.send(line.as_bytes());
        self.send(b"\r\n");
        let end = self.t + 30_000_000;
        loop {
            let o = &self.out;
            if o.ends_with(b"\r\nOK\r\n")
                || o.ends_with(b"\r\nERROR\r\n")
                || o.ends_with(b"\r\nFAIL\r\n")
                || o.ends_with(b"OK\r\n> ")
                || o.ends_with(b"OK\r\n\r\n>")
                || o.ends_with(b"busy p...\r\n")
                || o.ends_with(b"busy s...\r\n")
            {
                return self.take();
            }
            assert!(
                self.t < end,
                "no final result for {line}: {:?}",
                show(&self.out)
            );
            let next = self
                .esp
                .next_event_us()
                .unwrap_or(end)
                .min(end)
                .max(self.t + 1);
            self.run_until(next);
        }
    }

    /// Sends a command and asserts its complete reply.
    #[track_caller]
    pub fn cmd_is(&mut self, line: &str, want: &[u8]) {
        self.send(line.as_bytes());
        self.send(b"\r\n");
        let got = self.until(want, 30_000_000);
        assert_eq!(show(&got), show(want), "reply to {line}");
    }

    /// Boots to `ready` and takes the boot output.
    pub fn boot(&mut self) -> Vec<u8> {
        self.until(b"\r\nready\r\n", 5_000_000)
    }

    /// Boot, echo off, join, CIPMUX=1, receive mode, server on port 80 with `max_conn`.
    pub fn server(&mut self, passive: bool, max_conn: u8) {
        self.boot();
        self.cmd_is("ATE0", b"ATE0\r\r\n\r\nOK\r\n");
        let ssid = String::from_utf8(self.esp.config().ap_ssid.clone()).unwrap();
        let pwd = String::from_utf8(self.esp.config().ap_password.clone()).unwrap();
        let join = match self.esp.config().profile {
            nanoesp_espemu::Profile::At17 => "AT+CWJAP_CUR",
            nanoesp_espemu::Profile::At2 => "AT+CWJAP",
        };
        self.cmd_is(
            &format!("{join}=\"{ssid}\",\"{pwd}\""),
            b"WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n",
        );
        self.cmd_is("AT+CIPMUX=1", b"\r\nOK\r\n");
        self.cmd_is(
            &format!("AT+CIPRECVMODE={}", u8::from(passive)),
            b"\r\nOK\r\n",
        );
        self.cmd_is(&format!("AT+CIPSERVERMAXCONN={max_conn}"), b"\r\nOK\r\n");
        self.cmd_is("AT+CIPSERVER=1,80", b"\r\nOK\r\n");
        self.cmd_is("AT+CIPSTO=30", b"\r\nOK\r\n");
        assert_eq!(self.esp.server_port(), Some(80));
        assert!(self.esp.accepting_clients());
    }

    pub fn connect(&mut self) -> ConnId {
        let t = self.t;
        self.esp.net_connect(t)
    }

    pub fn client_send(&mut self, c: ConnId, data: &[u8]) {
        let t = self.t;
        self.esp.net_send(c, data, t);
    }

    pub fn client_close(&mut self, c: ConnId) {
        let t = self.t;
        self.esp.net_close(c, t);
    }

    /// Everything the client has received so far (stops at Pending/Closed/Refused).
    pub fn client_recv(&mut self, c: ConnId) -> (Vec<u8>, NetEvent) {
        let mut data = Vec::new();
        loop {
            match self.esp.net_poll(c) {
                NetEvent::Data(d) => data.extend(d),
                other => return (data, other),
            }
        }
    }
}
