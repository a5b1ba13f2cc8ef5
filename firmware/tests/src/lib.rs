//! Host-only integration tests of the firmware runtime against the ESP8266 emulator.
//!
//! [`Bench`] wires a [`nanoesp_server::Server`] to a [`nanoesp_espemu::Esp`] the way the AVR
//! glue does: UART bytes both ways paced at the link baud, a 64-byte receive ring on the Nano
//! side (bytes beyond it are dropped, as on the real chip without flow control), a
//! millisecond clock, and a fake [`Board`]. Virtual browsers talk to the emulator's network
//! side. Time is simulated, so a test of several seconds runs in milliseconds.

use std::collections::VecDeque;

use nanoesp_espemu::{ConnId, Esp, EspConfig, NetEvent};
use nanoesp_http::{PStr, pstr};
use nanoesp_server::{Board, Config, PinError, Server};

/// Pins the fake board refuses (serial links, console).
pub const RESERVED_PINS: [u8; 4] = [0, 1, 8, 9];

/// A board with settable analog values and 14 digital pins.
#[derive(Debug, Default)]
pub struct FakeBoard {
    /// A0..A7.
    pub analog: [u16; 8],
    /// D0..D13.
    pub pins: [bool; 14],
}

impl Board for FakeBoard {
    fn analog_read(&mut self, channel: u8) -> u16 {
        self.analog[channel as usize]
    }
    fn digital_read(&mut self, pin: u8) -> Result<bool, PinError> {
        if RESERVED_PINS.contains(&pin) {
            return Err(PinError::Reserved);
        }
        self.pins
            .get(pin as usize)
            .copied()
            .ok_or(PinError::NoSuchPin)
    }
    fn digital_write(&mut self, pin: u8, high: bool) -> Result<(), PinError> {
        if RESERVED_PINS.contains(&pin) {
            return Err(PinError::Reserved);
        }
        *self.pins.get_mut(pin as usize).ok_or(PinError::NoSuchPin)? = high;
        Ok(())
    }
}

/// The options of the server config that tests change. The server's configuration is
/// compile-time ([`Config`]), so each combination is a type of its own ([`TestConfig`]);
/// [`TestSettings::server`] builds the server of the one these name.
#[derive(Clone, Copy, Debug)]
pub struct TestSettings {
    /// `http.max_clients`, 1..=4 (the bench's server has 4 slots).
    pub max_clients: u8,
    /// `link.baud`: 115200 or 57600.
    pub link_baud: u32,
    /// `wifi.mode = "stored"` (no password compiled in).
    pub stored: bool,
    /// `link.save_baud`.
    pub save_baud: bool,
}

/// The server config used by the tests (matches the emulator's default access point).
pub fn test_config(max_clients: u8) -> TestSettings {
    test_config_at(max_clients, 115_200)
}

/// The test config with another link baud.
pub fn test_config_at(max_clients: u8, link_baud: u32) -> TestSettings {
    TestSettings {
        max_clients,
        link_baud,
        stored: false,
        save_baud: false,
    }
}

/// The test config in `wifi.mode = "stored"`: no password compiled in, the ESP joins the
/// network it saved (`AT+CWJAP_DEF` by `nanoesp flash --provision`).
pub fn test_config_stored(max_clients: u8) -> TestSettings {
    TestSettings {
        stored: true,
        ..test_config(max_clients)
    }
}

/// The test server's [`Config`] with the options of [`TestSettings`] as parameters.
pub struct TestConfig<const MAX: u8, const BAUD: u32, const STORED: bool, const SAVE_BAUD: bool>;

/// The banner of the test config at link baud `$baud`.
macro_rules! test_banner {
    ($baud:literal) => {
        nanoesp_server::banner!(
            build_id: b"0badc0de",
            board: b"nano",
            esp: b"esp12e",
            link: b"usart",
            baud: $baud,
            ssid: b"nanoesp-lab",
        )
    };
}

impl<const MAX: u8, const BAUD: u32, const STORED: bool, const SAVE_BAUD: bool> Config
    for TestConfig<MAX, BAUD, STORED, SAVE_BAUD>
{
    const BUILD_ID: PStr = pstr!(b"0badc0de");
    // The firmware joins its banner at compile time from its one link baud (`banner!`).
    const BANNER: PStr = match BAUD {
        115_200 => test_banner!(115_200),
        57_600 => test_banner!(57_600),
        _ => panic!("no test banner for this link baud"),
    };
    const LINK_BAUD: u32 = BAUD;
    const LINK_SAVE_BAUD: bool = SAVE_BAUD;
    const SSID: PStr = pstr!(b"nanoesp-lab");
    const PASSWORD: PStr = if STORED {
        pstr!(b"")
    } else {
        pstr!(b"correct horse")
    };
    const SOFTAP: bool = false;
    const STORED: bool = STORED;
    const HOSTNAME: PStr = pstr!(b"nanoesp");
    const PORT: u16 = 80;
    const MAX_CLIENTS: u8 = MAX;
    const PAGE: PStr = nanoesp_server::page!(title: b"Bench <Nano>", text: b"Hello from the bench");
}

/// The server API the bench drives, for a server of any [`TestConfig`].
pub trait Firmware {
    /// [`Server::set_now`].
    fn set_now(&mut self, now_ms: u32);
    /// [`Server::on_uart_byte`].
    fn on_uart_byte(&mut self, byte: u8);
    /// [`Server::tick`].
    fn tick(&mut self, board: &mut dyn Board);
    /// [`Server::poll_uart_tx`].
    fn poll_uart_tx(&mut self, out: &mut [u8]) -> usize;
    /// [`Server::poll_baud`].
    fn poll_baud(&mut self) -> Option<u32>;
    /// [`Server::poll_console`].
    fn poll_console(&mut self, out: &mut [u8]) -> usize;
    /// [`Server::served`].
    fn served(&self) -> u32;
    /// [`Server::errors`].
    fn errors(&self) -> u32;
    /// [`Server::clients`].
    fn clients(&self) -> u8;
}

impl<C: Config, const N: usize> Firmware for Server<C, N> {
    fn set_now(&mut self, now_ms: u32) {
        Server::set_now(self, now_ms)
    }
    fn on_uart_byte(&mut self, byte: u8) {
        Server::on_uart_byte(self, byte)
    }
    fn tick(&mut self, board: &mut dyn Board) {
        Server::tick(self, board)
    }
    fn poll_uart_tx(&mut self, out: &mut [u8]) -> usize {
        Server::poll_uart_tx(self, out)
    }
    fn poll_baud(&mut self) -> Option<u32> {
        Server::poll_baud(self)
    }
    fn poll_console(&mut self, out: &mut [u8]) -> usize {
        Server::poll_console(self, out)
    }
    fn served(&self) -> u32 {
        Server::served(self)
    }
    fn errors(&self) -> u32 {
        Server::errors(self)
    }
    fn clients(&self) -> u8 {
        Server::clients(self)
    }
}

/// Slots of the bench's server.
const SLOTS: usize = 4;

impl TestSettings {
    /// A server (4 slots) built with these settings' [`TestConfig`].
    pub fn server(self) -> Box<dyn Firmware> {
        match self.max_clients {
            1 => self.with_max::<1>(),
            2 => self.with_max::<2>(),
            3 => self.with_max::<3>(),
            4 => self.with_max::<4>(),
            n => panic!("max_clients {n}: the test server has 1..=4"),
        }
    }

    fn with_max<const MAX: u8>(self) -> Box<dyn Firmware> {
        match self.link_baud {
            115_200 => self.with_baud::<MAX, 115_200>(),
            57_600 => self.with_baud::<MAX, 57_600>(),
            b => panic!("link baud {b}: the tests use 115200 or 57600"),
        }
    }

    fn with_baud<const MAX: u8, const BAUD: u32>(self) -> Box<dyn Firmware> {
        match (self.stored, self.save_baud) {
            (false, false) => Box::new(Server::<TestConfig<MAX, BAUD, false, false>, SLOTS>::new()),
            (false, true) => Box::new(Server::<TestConfig<MAX, BAUD, false, true>, SLOTS>::new()),
            (true, false) => Box::new(Server::<TestConfig<MAX, BAUD, true, false>, SLOTS>::new()),
            (true, true) => Box::new(Server::<TestConfig<MAX, BAUD, true, true>, SLOTS>::new()),
        }
    }
}

/// Server, emulator, board and the wires between them.
pub struct Bench {
    /// The emulated ESP.
    pub esp: Esp,
    /// The firmware under test.
    pub server: Box<dyn Firmware>,
    /// The fake pins.
    pub board: FakeBoard,
    /// Simulated time.
    pub now_us: u64,
    /// Everything the firmware printed on its console.
    pub console: Vec<u8>,
    rx_ring: VecDeque<u8>,
    /// Bytes dropped because the 64-byte receive ring was full.
    pub rx_overflows: u64,
    tx_queue: VecDeque<u8>,
    tx_next_us: u64,
    byte_us: u64,
    /// The Nano's current link baud (the server may change it).
    pub baud: u32,
    garble: u64,
    /// How many bytes the main loop drains from the ring per pass (models a busy AVR).
    pub drain_per_pass: usize,
    /// Size of the Nano's TX queue that `poll_uart_tx` fills (small = byte-sized polls).
    pub tx_queue_max: usize,
}

/// Size of the Nano's receive ring.
pub const RX_RING: usize = 64;
const STEP_US: u64 = 50;

impl Bench {
    /// A bench with the given emulator configuration and server client limit.
    pub fn new(esp_cfg: EspConfig, max_clients: u8) -> Bench {
        let baud = esp_cfg.baud;
        Bench::with_link_baud(esp_cfg, max_clients, baud)
    }

    /// A bench whose Nano side starts at `link_baud` (the ESP starts at its config's baud).
    pub fn with_link_baud(esp_cfg: EspConfig, max_clients: u8, link_baud: u32) -> Bench {
        Bench::with_config(esp_cfg, test_config_at(max_clients, link_baud))
    }

    /// A bench running the firmware with `cfg` (the Nano side starts at its link baud).
    pub fn with_config(esp_cfg: EspConfig, cfg: TestSettings) -> Bench {
        let link_baud = cfg.link_baud;
        let baud = link_baud as u64;
        Bench {
            esp: Esp::new(esp_cfg),
            server: cfg.server(),
            board: FakeBoard::default(),
            now_us: 0,
            console: Vec::new(),
            rx_ring: VecDeque::new(),
            rx_overflows: 0,
            tx_queue: VecDeque::new(),
            tx_next_us: 0,
            byte_us: 10_000_000 / baud,
            baud: link_baud,
            garble: 0x9e37_79b9_7f4a_7c15,
            drain_per_pass: usize::MAX,
            tx_queue_max: 16,
        }
    }

    fn now_ms(&self) -> u32 {
        (self.now_us / 1000) as u32
    }

    /// Advances simulated time by one step (50 µs).
    pub fn step(&mut self) {
        self.now_us += STEP_US;
        let now = self.now_us;
        // ESP -> Nano: the ISR puts bytes into the ring (dropping when full).
        while let Some(b) = self.esp.uart_tx(now) {
            // A UART at the wrong rate samples garbage.
            let theirs = self.esp.baud() as u64;
            let b = if theirs.abs_diff(self.baud as u64) * 100 > theirs * 5 {
                self.garble = self
                    .garble
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1);
                (self.garble >> 56) as u8
            } else {
                b
            };
            if self.rx_ring.len() < RX_RING {
                self.rx_ring.push_back(b);
            } else {
                self.rx_overflows += 1;
            }
        }
        // Main loop pass.
        let ms = self.now_ms();
        self.server.set_now(ms);
        let mut n = 0;
        while n < self.drain_per_pass {
            let Some(b) = self.rx_ring.pop_front() else {
                break;
            };
            self.server.on_uart_byte(b);
            n += 1;
        }
        self.server.tick(&mut self.board);
        if self.tx_queue.len() < self.tx_queue_max {
            let mut buf = [0u8; 64];
            let room = (self.tx_queue_max - self.tx_queue.len()).min(64);
            let k = self.server.poll_uart_tx(&mut buf[..room]);
            self.tx_queue.extend(&buf[..k]);
        }
        if self.tx_queue.is_empty()
            && let Some(baud) = self.server.poll_baud()
        {
            self.baud = baud;
            self.byte_us = 10_000_000 / baud as u64;
        }
        let mut buf = [0u8; 32];
        let k = self.server.poll_console(&mut buf);
        self.console.extend_from_slice(&buf[..k]);
        // Nano -> ESP at the link baud.
        while self.tx_next_us <= now {
            match self.tx_queue.pop_front() {
                Some(b) => {
                    self.esp
                        .uart_rx_at_baud(b, self.baud, self.tx_next_us.max(now - STEP_US));
                    self.tx_next_us = self.tx_next_us.max(now - STEP_US) + self.byte_us;
                }
                None => {
                    self.tx_next_us = now + 1;
                    break;
                }
            }
        }
    }

    /// Runs for `ms` simulated milliseconds.
    pub fn run_ms(&mut self, ms: u64) {
        let end = self.now_us + ms * 1000;
        while self.now_us < end {
            self.step();
        }
    }

    /// Runs until the console shows the ready line; returns it, or `None` after `limit_ms`.
    pub fn run_until_ready(&mut self, limit_ms: u64) -> Option<String> {
        let end = self.now_us + limit_ms * 1000;
        while self.now_us < end {
            self.step();
            let text = self.console_text();
            if let Some(line) = text
                .split_inclusive('\n')
                .find(|l| l.ends_with('\n') && l.contains("nanoesp: ready "))
            {
                return Some(line.trim_end().to_string());
            }
        }
        None
    }

    /// The console output as text.
    pub fn console_text(&self) -> String {
        String::from_utf8_lossy(&self.console).into_owned()
    }

    /// Opens a client connection and sends `request`.
    pub fn connect_and_send(&mut self, request: &[u8]) -> ConnId {
        let c = self.esp.net_connect(self.now_us);
        self.esp.net_send(c, request, self.now_us);
        c
    }

    /// Collects what the server sent on `clients` until every one is closed (or `limit_ms`).
    pub fn collect(&mut self, clients: &[ConnId], limit_ms: u64) -> Vec<Result<Vec<u8>, String>> {
        let mut got: Vec<Vec<u8>> = vec![Vec::new(); clients.len()];
        let mut done = vec![None::<Result<(), String>>; clients.len()];
        let end = self.now_us + limit_ms * 1000;
        while self.now_us < end && done.iter().any(Option::is_none) {
            self.step();
            for (i, &c) in clients.iter().enumerate() {
                if done[i].is_some() {
                    continue;
                }
                match self.esp.net_poll(c) {
                    NetEvent::Data(d) => got[i].extend_from_slice(&d),
                    NetEvent::Closed => done[i] = Some(Ok(())),
                    NetEvent::Refused => done[i] = Some(Err("refused".into())),
                    NetEvent::Pending => {}
                }
            }
        }
        got.into_iter()
            .zip(done)
            .map(|(g, d)| match d {
                Some(Ok(())) => Ok(g),
                Some(Err(e)) => Err(e),
                None => Err(format!(
                    "no close after {limit_ms} ms; got {:?}",
                    String::from_utf8_lossy(&g)
                )),
            })
            .collect()
    }
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header lines, lower-cased names.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// Parses `raw` strictly: status line, CRLF headers, body exactly `Content-Length` long.
    pub fn parse(raw: &[u8]) -> Result<Response, String> {
        let text = String::from_utf8_lossy(raw);
        let split = text
            .find("\r\n\r\n")
            .ok_or_else(|| format!("no header end in {text:?}"))?;
        let head = &text[..split];
        let body = raw[split + 4..].to_vec();
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let status = status_line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|r| r.get(..3))
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| format!("bad status line {status_line:?}"))?;
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l.split_once(':').unwrap_or((l, ""));
                (n.to_ascii_lowercase(), v.trim().to_string())
            })
            .collect();
        let r = Response {
            status,
            headers,
            body,
        };
        let cl: usize = r
            .header("content-length")
            .ok_or("no Content-Length")?
            .parse()
            .map_err(|_| "bad Content-Length")?;
        if cl != r.body.len() {
            return Err(format!(
                "Content-Length {cl} but body {} bytes: {text:?}",
                r.body.len()
            ));
        }
        if r.header("connection") != Some("close") {
            return Err("no Connection: close".into());
        }
        Ok(r)
    }

    /// A header value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}
