//! nanoesp-server: the firmware's whole application as a sans-IO state machine.
//!
//! It brings the ESP8266 up through its AT firmware (via [`nanoesp_at::Driver`]), serves
//! several browsers at once, and reports progress on the console. It owns no UART, timer or
//! pin: the AVR glue (or a test) moves bytes and time in and out.
//!
//! # API for the firmware main loop
//!
//! ```ignore
//! use nanoesp_server::{Board, Config, PinError, Server};
//! use nanoesp_http::{pstr, PStr};
//!
//! struct Cfg;
//! impl Config for Cfg {
//!     const BUILD_ID: PStr = pstr!(config::BUILD_ID.as_bytes()); // every text is a flash string
//!     const SSID: PStr = pstr!(config::WIFI_SSID); /* ... */ const PORT: u16 = config::HTTP_PORT;
//!     const MAX_CLIENTS: u8 = config::MAX_CLIENTS; /* ... */
//! }
//! // N = slots compiled in; MAX_CLIENTS (1..=N) are served at once.
//! let mut server: Server<Cfg, { config::MAX_CLIENTS as usize }> = Server::new();
//! loop {
//!     server.set_now(millis());
//!     while let Some(b) = esp_rx.pop() { server.on_uart_byte(b); }   // 64-byte ISR ring is enough
//!     server.tick(&mut board);
//!     let n = server.poll_uart_tx(&mut buf[..esp_tx.free()]);           // any size, even 1 byte
//!     esp_tx.push_all(&buf[..n]);
//!     let n = server.poll_console(&mut buf[..console_tx.free()]);
//!     console_tx.push_all(&buf[..n]);
//! }
//! ```
//!
//! - `set_now(now_ms)`: the clock of the loop pass, for the bytes and the tick that follow.
//! - `on_uart_byte(byte)`: every byte received from the ESP, in order. Cheap: drain
//!   the RX ring completely on every loop pass.
//! - `tick(&mut board)`: timeouts, bring-up, scheduling; reads the analog inputs and
//!   pins when a response starts and writes pins for `POST|PUT /api/pin/<n>`.
//! - `poll_uart_tx(&mut buf) -> usize`: bytes to send to the ESP now (command lines and
//!   response chunks, rendered on demand into `buf`).
//! - `poll_console(&mut buf) -> usize`: console text; the first line is the banner, and
//!   exactly one `nanoesp: ready http://<ip>:<port>/` line follows each successful bring-up.
//!   Lines end in `\r\n`.
//! - `poll_baud() -> Option<u32>`: rarely `Some(baud)`: drain the ESP TX queue, then
//!   switch the link UART to that baud (bring-up baud negotiation); `poll_baud_is_factory()`
//!   says the same as whether it is the factory 115200 (else `link_baud`).
//! - `now_ms` is a wrapping millisecond counter; the status page reports it as `uptime_ms`.
//!
//! # HTTP API
//!
//! `GET /` page (title, text and the live readings: the status JSON in `<pre id="s">`,
//! which its script formats and fetches again every 2 s); `GET /api/status` →
//! `{"firmware":"<BUILD_ID>","esp":"<AT version>","uptime_ms":N,"analog":[A0..A7],"clients":N,"served":N,"errors":N}`;
//! `GET /api/pin/<n>` → `{"pin":n,"value":0|1}`; `POST|PUT /api/pin/<n>` with body `0`/`1`
//! writes and answers the same JSON (403 for a reserved pin, 404 for no such pin, 400 for
//! another body); 404 for other paths, 405 for other methods on known paths. Every response
//! carries `Content-Length` and `Connection: close`, and the connection is closed after it.
//! A client beyond `max_clients` is answered `503` and closed. `clients` counts requests in
//! progress, `served` every response completed, `errors` error responses (4xx/5xx),
//! failed sends and request timeouts.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod render;

use core::marker::PhantomData;
use nanoesp_at::driver::{self, Driver, Event, Link, Request as AtRequest, Settings};
use nanoesp_http::index::{byte_index, byte_index_mut};
use nanoesp_http::progmem::lookup;
use nanoesp_http::pstr;
use nanoesp_http::{Method, PStr, Progress, Request, Status, Window};
pub use render::{Body, JoinFailure, Line, RenderBody, RenderLine};

/// Most slots a server can be built with: the AT firmware's 5 links. Below that one more
/// link than slots is opened, so the extra client is told 503 at once; with 5 slots the
/// ESP itself turns a sixth connection away.
pub const MAX_SLOTS: usize = 5;
/// A client that has not completed its request after this long is answered 408.
pub const REQUEST_TIMEOUT_MS: u32 = 10_000;
/// A response that is still not out after this long is abandoned.
pub const RESPONSE_TIMEOUT_MS: u32 = 30_000;
/// Largest `AT+CIPSEND` chunk.
pub const CHUNK_MAX: u16 = 1024;
/// Largest `AT+CIPRECVDATA` pull (bytes go straight into the request parser).
pub const PULL_MAX: u16 = 256;
/// `AT+CIPSTO` seconds (the ESP closes silent clients itself, too).
pub const IDLE_TIMEOUT_S: u16 = 30;

/// Everything the server needs to know, at compile time: the firmware implements it on a
/// type of its own from its generated config, so the code of options it does not use
/// (softAP, stored Wi-Fi, baud negotiation, ...) is left out, and no setting is read
/// through a pointer.
///
/// Text constants are flash strings: build them with `nanoesp_http::pstr!`.
pub trait Config {
    /// 8 hex chars identifying the build.
    const BUILD_ID: PStr;
    /// The first console line without its `\r\n`, joined at compile time by [`banner!`].
    const BANNER: PStr;
    /// ESP link baud.
    const LINK_BAUD: u32;
    /// Negotiate the link baud with the persistent `AT+UART_DEF` (`link.save_baud`).
    const LINK_SAVE_BAUD: bool;
    /// Network name.
    const SSID: PStr;
    /// Network password (never printed).
    const PASSWORD: PStr;
    /// Create an access point instead of joining one.
    const SOFTAP: bool;
    /// Join the network saved in the ESP by `nanoesp flash --provision` (no `AT+CWJAP`;
    /// `PASSWORD` is unused and empty).
    const STORED: bool;
    /// Host name for DHCP/mDNS.
    const HOSTNAME: PStr;
    /// TCP port.
    const PORT: u16;
    /// Concurrent clients served (1..=N of the server type).
    const MAX_CLIENTS: u8;
    /// The page at `/`, joined at compile time by [`page!`].
    const PAGE: PStr;
}

/// The AT driver's settings of a server with configuration `C` and `N` slots.
pub struct DriverSettings<C, const N: usize>(PhantomData<C>);

impl<C: Config, const N: usize> Settings for DriverSettings<C, N> {
    const SSID: PStr = C::SSID;
    const PASSWORD: PStr = C::PASSWORD;
    const HOSTNAME: PStr = C::HOSTNAME;
    const PORT: u16 = C::PORT;
    // One link more than we serve, so the extra client can be told 503 at once (the ESP
    // has 5 links).
    const MAX_CONN: u8 = if Server::<C, N>::MAX < MAX_SLOTS as u8 {
        Server::<C, N>::MAX + 1
    } else {
        MAX_SLOTS as u8
    };
    const IDLE_TIMEOUT_S: u16 = IDLE_TIMEOUT_S;
    const BAUD: u32 = C::LINK_BAUD;
    const SOFTAP: bool = C::SOFTAP;
    const STORED: bool = C::STORED;
    const SAVE_BAUD: bool = C::LINK_SAVE_BAUD;
}

#[doc(hidden)]
pub use nanoesp_http as __http;

/// The banner for [`Config::BANNER`] from constants:
/// `nanoesp <build_id> board=<board> esp=<esp> link=<link> baud=<baud> ssid=<ssid>`.
///
/// One flash string built at compile time: the firmware then writes it with one call
/// instead of a call per piece.
#[macro_export]
macro_rules! banner {
    (
        build_id: $id:expr,
        board: $board:expr,
        esp: $esp:expr,
        link: $link:expr,
        baud: $baud:expr,
        ssid: $ssid:expr $(,)?
    ) => {
        $crate::__http::pstr_concat!(
            b"nanoesp ",
            $id,
            b" board=",
            $board,
            b" esp=",
            $esp,
            b" link=",
            $link,
            b" baud=",
            &$crate::__http::progmem::decimal::<{ $crate::__http::progmem::decimal_len($baud) }>(
                $baud
            ),
            b" ssid=",
            $ssid,
        )
    };
}

/// The build id in `banner`, a [`banner!`] built with a build id of `id_len` bytes: a slice
/// of the banner's flash, so the build needs no text of its own for [`Config::BUILD_ID`].
pub const fn banner_build_id(banner: PStr, id_len: usize) -> PStr {
    // After `nanoesp `.
    banner.slice(8, 8 + id_len)
}

/// The SSID in `banner`, a [`banner!`] built with an SSID of `ssid_len` bytes (it ends the
/// banner): a slice of the banner's flash, so the build needs no text of its own for
/// [`Config::SSID`].
pub const fn banner_ssid(banner: PStr, ssid_len: usize) -> PStr {
    banner.slice(banner.len() - ssid_len, banner.len())
}

/// The start of the page for [`Config::PAGE`] from constant title and text (HTML-escaped
/// here), up to the `<pre>` that holds the readings: the server writes the status JSON and
/// the page's fixed end (the script that keeps the readings live) after it.
///
/// One flash string built at compile time: the firmware then writes it with one call
/// instead of a call per piece, and has no escaping code.
#[macro_export]
macro_rules! page {
    (title: $title:expr, text: $text:expr $(,)?) => {
        $crate::__http::pstr_concat!(
            b"<!DOCTYPE html><html><head><meta charset=utf-8>\
              <meta name=viewport content=\"width=device-width\"><title>",
            &$crate::__http::progmem::html_escape::<
                { $crate::__http::progmem::html_escaped_len($title) },
            >($title),
            b"</title></head><body><h1>",
            &$crate::__http::progmem::html_escape::<
                { $crate::__http::progmem::html_escaped_len($title) },
            >($title),
            b"</h1><p>",
            &$crate::__http::progmem::html_escape::<
                { $crate::__http::progmem::html_escaped_len($text) },
            >($text),
            b"</p><pre id=\"s\">",
        )
    };
}

/// Why a pin operation was refused.
///
/// Numbered as the statuses they are answered with: the mapping is then no code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PinError {
    /// The pin is used by the firmware (serial link, console, LED...): answered 403.
    Reserved = Status::Forbidden as u8,
    /// There is no such pin: answered 404.
    NoSuchPin = Status::NotFound as u8,
}

/// The hardware the server reads and drives.
pub trait Board {
    /// Reads analog input `channel` (0..=7, A0..A7), 0..=1023.
    fn analog_read(&mut self, channel: u8) -> u16;
    /// Reads digital pin `pin` (Arduino numbering).
    fn digital_read(&mut self, pin: u8) -> Result<bool, PinError>;
    /// Drives digital pin `pin` as an output.
    fn digital_write(&mut self, pin: u8, high: bool) -> Result<(), PinError>;
}

/// Values frozen when a response starts, so every chunk renders the same bytes (`served`
/// and `errors` are the server's live counts, which change only when a response ends).
#[derive(Clone, Copy, Debug, Default)]
pub struct Snapshot {
    /// `now_ms` at the start of the response.
    pub uptime_ms: u32,
    /// A0..A7.
    pub analog: [u16; 8],
    /// Clients in progress.
    pub clients: u8,
    /// Responses completed.
    pub served: u32,
    /// Errors so far.
    pub errors: u32,
    /// The ESP's AT version, copied so rendering needs nothing from the driver (which is
    /// busy handing out the bytes while a window is rendered).
    pub esp_version: [u8; driver::VERSION_MAX],
    /// Bytes of `esp_version` used.
    pub esp_version_len: u8,
}

impl Snapshot {
    /// The ESP's AT version.
    pub fn esp_version(&self) -> &[u8] {
        &self.esp_version[..(self.esp_version_len as usize).min(driver::VERSION_MAX)]
    }
}

/// Free first (0: free slots are all zero bytes); the order of the others measured smallest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SlotState {
    Free,
    Receiving,
    Sending,
    Ready,
}

/// `repr(C)`, the state first: measured smaller than the compiler's order and than the link
/// first (6 B, once `tick` took in `start_response` and the firmware loop the polls).
#[derive(Clone, Debug)]
#[repr(C)]
struct Slot {
    state: SlotState,
    link: Link,
    /// [`stamp`] of the connection or of its last request byte.
    since: u16,
    req: Request,
}

/// Bytes of the response rendered ahead for `poll_uart_tx`.
///
/// Each refill renders the response from its start, so a response of n bytes costs about
/// n / TX_CACHE passes over it. With the page's readings (about 950 B with its head) 32
/// left the USART idle between refills: on the bench (USART 115200, 1 client, 120 s) 32 B
/// served 2.19 req/s, 64 B 2.34 and 96 B 2.39, for 32 B of SRAM each step.
const TX_CACHE: usize = 64;

/// A rendered window of the response in progress.
///
/// `repr(C)` with the bytes last: `off` and `len`, read on every call of `poll_uart_tx`,
/// then sit right at the cache's start (measured smaller).
#[repr(C)]
struct TxCache {
    /// Response offset of `buf[0]`.
    off: u16,
    len: u8,
    buf: [u8; TX_CACHE],
}

impl TxCache {
    /// Nothing cached, as a constant: with the other all-zero fields after it, one
    /// `memset` in `new` instead of one for the bytes and stores for the rest.
    const EMPTY: TxCache = TxCache {
        buf: [0; TX_CACHE],
        off: 0,
        len: 0,
    };
}

/// The response being sent (only one at a time: the AT firmware allows one CIPSEND).
///
/// Its length is not kept here: it is the measuring window's total (`Server::meter`), which
/// `start_response` leaves at it and nothing else moves (16 B smaller than a copy).
#[derive(Clone, Copy, Debug)]
struct Tx {
    link: Link,
    body: Body,
    body_len: u16,
    sent: u16,
    /// [`stamp`] of the start.
    started: u16,
}

const FREE_SLOT: Slot = Slot {
    state: SlotState::Free,
    link: Link { id: 0, gen: 0 },
    since: 0,
    req: Request::new(),
};
const CONSOLE_QUEUE: usize = 4;

/// The web server; `N` slots are compiled in (1..=[`MAX_SLOTS`]).
///
/// `repr(C)` keeps this order, chosen by measuring the firmware: on the AVR a field within
/// 64 bytes of the struct's start is one `ldd`/`std` away, a later one needs its address
/// computed first. The console queue leads, with the measuring window (its only non-zero
/// byte, the empty buffer's dangling address, next to the queue's non-zero length), then
/// the 503 and close sets (so `new` clears the window, the queue and the sets with one
/// `memset`), then the response in flight, then the driver (whose own hot fields lead it);
/// everything after the driver starts zeroed, one `memset` (16 B smaller than the window
/// among the zeroed fields after the driver, which split that `memset` in two).
#[repr(C)]
pub struct Server<C: Config, const N: usize> {
    console_len: u8,
    /// Measures responses (a window over no buffer): here rather than on the stack of
    /// `start_response`, which then needs no frame. Its total is the length of the
    /// response in flight: only `start_response` moves it.
    meter: Window<'static>,
    /// Offset into the line being written: a byte, as every console line is far shorter
    /// than 256 bytes.
    console_off: u8,
    console_head: u8,
    console: [Line; CONSOLE_QUEUE],
    /// Link ids to answer 503 / to close, valid for the id's current generation.
    reject: u8,
    close: u8,
    tx: Option<Tx>,
    drv: Driver<DriverSettings<C, N>>,
    /// Also holds the live `served` and `errors` counts: they change only when a response
    /// ends, never while one is rendered, so a status response needs no copy of them.
    /// Before the slots: nearer the start, measured smaller (right after the driver, 2 B
    /// smaller again).
    snap: Snapshot,
    cache: TxCache,
    /// Round-robin start for picking the next slot to pull from or answer: the ESP hands a
    /// freed link id to the next client, so "lowest slot first" let two busy slots starve
    /// the others (requests on links 2 and 3 waited 10 s while 0 and 1 took turns).
    /// Before the slots: measured smaller.
    turn: u8,
    slots: [Slot; N],
    /// Shown by a queued `Line::JoinFailed`: a retry comes seconds later, long after the
    /// line is out. Last: measured smaller than with the console queue (4 B).
    join_failure: JoinFailure,
    config: PhantomData<C>,
}

impl<C: Config, const N: usize> Server<C, N> {
    /// Free slots as a constant: an all-zero constant becomes one `memset` in place; the
    /// repeat expression was built slot by slot on the stack and then copied.
    const FREE_SLOTS: [Slot; N] = [FREE_SLOT; N];

    /// `MAX_CLIENTS` clamped to 1..=N (and [`MAX_SLOTS`]).
    const MAX: u8 = {
        let n = if N < MAX_SLOTS { N } else { MAX_SLOTS } as u8;
        if C::MAX_CLIENTS < 1 {
            1
        } else if C::MAX_CLIENTS > n {
            n
        } else {
            C::MAX_CLIENTS
        }
    };

    /// A server that starts by waiting for the ESP's `ready`.
    pub fn new() -> Self {
        Server {
            drv: Driver::new(),
            slots: Self::FREE_SLOTS,
            turn: 0,
            tx: None,
            cache: TxCache::EMPTY,
            meter: Window::new(0, &mut []),
            snap: Snapshot::default(),
            reject: 0,
            close: 0,
            console: [Line::Banner; CONSOLE_QUEUE],
            console_head: 0,
            // The banner is the first console line.
            console_len: 1,
            console_off: 0,
            join_failure: JoinFailure::default(),
            config: PhantomData,
        }
    }

    /// Sets the clock: the bytes fed and the tick that follow happen at `now_ms`. Once per
    /// loop pass, not an argument of each call: the firmware then stores the time once, not
    /// for every byte received (16 B less on the AVR).
    pub fn set_now(&mut self, now_ms: u32) {
        self.drv.set_now(now_ms);
    }

    /// The AT driver (read-only: IP, version, link state).
    pub fn driver(&self) -> &Driver<DriverSettings<C, N>> {
        &self.drv
    }

    /// Responses completed so far.
    pub fn served(&self) -> u32 {
        self.snap.served
    }

    /// Errors so far.
    pub fn errors(&self) -> u32 {
        self.snap.errors
    }

    /// Requests in progress.
    // Out of line: inlined into the firmware loop with `tick`, its slot loop took 12 B more.
    #[inline(never)]
    pub fn clients(&self) -> u8 {
        // Counted in a byte: `count` adds in `usize`.
        self.slots
            .iter()
            .fold(0, |n, s| n + (s.state != SlotState::Free) as u8)
    }

    #[inline(never)]
    fn say(&mut self, line: Line) {
        if (self.console_len as usize) < CONSOLE_QUEUE {
            let i = (self.console_head + self.console_len) as usize % CONSOLE_QUEUE;
            self.console[i] = line;
            self.console_len += 1;
        }
    }

    /// Feeds one byte received from the ESP, at the clock of [`Server::set_now`].
    // Left to the compiler, which inlines it into the firmware loop, its one caller (84 B
    // less on the AVR than out of line).
    pub fn on_uart_byte(&mut self, byte: u8) {
        if let Some(ev) = &self.drv.feed_again(byte) {
            self.handle_event(ev);
        }
    }

    /// The slot receiving the request of `link`: a reference, as indexing with a position
    /// again kept a bounds check and its panic path. The link is compared first: branches on
    /// it, where the state first was a flag and'ed with the link's.
    ///
    /// By id alone: the driver reports data only for the live connection on an id, and
    /// reported that connection's `Connected` first, which freed every slot an older
    /// generation of the id held (`forget`); so a receiving slot with the id is this
    /// connection's.
    fn slot_of(&mut self, link: Link) -> Option<&mut Slot> {
        self.slots
            .iter_mut()
            .find(|s| s.link.id == link.id && s.state == SlotState::Receiving)
    }

    /// Takes the event by reference: it is read where the driver returned it (an `Event`
    /// goes through memory either way), not first copied out of the `Option`.
    ///
    /// Named so that its symbol ("12handle_event") sorts, in the firmware's layout, before
    /// `say` and `tick` and right after `main`'s code: `main` (the UART bytes) reaches it
    /// with an `rcall`, and `tick` reaches `lookup` (was `on_event`, after `forget`: 4 B).
    fn handle_event(&mut self, ev: &Event) {
        match *ev {
            Event::Data { link, byte } => {
                let now = self.drv.now();
                if let Some(slot) = self.slot_of(link) {
                    slot.since = stamp(now);
                    if slot.req.feed(byte) != Progress::NeedMore {
                        slot.state = SlotState::Ready;
                    }
                }
                return;
            }
            Event::Connected(link) => {
                // The id may still be bound to an old client whose CLOSED we missed.
                let bit = self.forget(link.id);
                // Only the first `max_clients` slots are ever used, so a client is over the
                // limit exactly when none of them is free.
                // Counted in a byte (`take` counts in `usize`), by index.
                let max = Self::MAX;
                let now = self.drv.now();
                let free = (0..max).find(|&i| {
                    byte_index(&self.slots, i).is_none_or(|s| s.state == SlotState::Free)
                });
                match free.and_then(|i| byte_index_mut(&mut self.slots, i)) {
                    Some(s) => {
                        s.state = SlotState::Receiving;
                        s.link = link;
                        s.since = stamp(now);
                        s.req = Request::new();
                    }
                    None => self.reject |= bit,
                }
                return;
            }
            Event::Closed(link) => {
                self.forget(link.id);
                return;
            }
            Event::SendDone { link, ok } => return self.send_done(link, ok),
            Event::Reset => {
                // Every link id (the driver only reports 0..LINKS): a free slot's other
                // fields are never read, so freeing the states is enough.
                for id in 0..driver::LINKS as u8 {
                    self.forget(id);
                }
            }
            Event::JoinFailed { code, retry_s } => {
                self.join_failure = JoinFailure { code, retry_s };
            }
            _ => {}
        }
        // The rest only report: one `say` call for all of them.
        let Some(line) = report(ev) else { return };
        self.say(line);
        if line == Line::Version && self.drv.is_at2() {
            self.say(Line::At2Warning);
        }
    }

    /// Adds one to a 32-bit counter: one copy of the four-byte increment for both counters.
    /// A method, not a free function: instantiated in the firmware with the server's other
    /// methods, its symbol ("5count") sorts right after `tick`, so both `tick` and
    /// `handle_event` reach it with an `rcall` (the free function sat with the other
    /// non-generic code at the end of the flash, out of `tick`'s reach).
    #[inline(never)]
    fn count(c: &mut u32) {
        *c += 1;
    }

    /// Forgets link id `id` (a new or closed connection on it): drops it from the 503 and
    /// close sets, frees its slot and drops its response; returns its bit.
    ///
    /// By id alone, for a close too: every `Connected` (the driver reports each new
    /// generation of an id) already freed whatever an older generation left, so whatever
    /// carries the id belongs to the connection that closed. A free slot's stale id
    /// matches too: it stays free.
    #[inline(never)]
    fn forget(&mut self, id: u8) -> u8 {
        let bit = link_bit(id);
        self.reject &= !bit;
        self.close &= !bit;
        for s in self.slots.iter_mut() {
            if s.link.id == id {
                s.state = SlotState::Free;
            }
        }
        if self.tx.as_ref().is_some_and(|t| t.link.id == id) {
            self.tx = None;
        }
        bit
    }

    fn send_done(&mut self, link: Link, ok: bool) {
        // No link compare, as for the payload: the send was issued for this response.
        let Some(tx) = &mut self.tx else { return };
        if ok {
            // The chunk that went out, worked out again: `send_chunk` sent
            // `(total - sent).min(CHUNK_MAX)` (the total is the meter's), and neither changes before its one `SendDone`
            // (the driver reports each send once). No overflow: a response is text from the
            // 32 KB flash, far below 64 KB. Stored only while more is to come: the last
            // chunk ends the response, which both paths below drop (one compare, not a
            // `min` and a compare of its result).
            let sent = tx.sent + CHUNK_MAX;
            if sent < self.meter.total() {
                tx.sent = sent;
                return;
            }
            Self::count(&mut self.snap.served);
            // Every `Body::Error` carries a 4xx/5xx status (`route` and the 503 build them
            // only so): its tag alone tells, no status to compare.
            if !matches!(tx.body, Body::Error(_)) {
                // Also drops the response.
                self.finish_link(link);
                return;
            }
        }
        // A failed send, or an error response out: counted as an error like an abandoned one.
        self.abandon_response(link);
    }

    /// Forgets the link (its slot, a 503 has none, and the response, which is this one)
    /// and queues it for `AT+CIPCLOSE`.
    #[inline(never)]
    fn finish_link(&mut self, link: Link) {
        let bit = self.forget(link.id);
        if self.drv.is_open(link) {
            self.close |= bit;
        }
    }

    /// Advances time to the clock of [`Server::set_now`]: driver timeouts and bring-up,
    /// client timeouts, and the next AT operation (send, close, receive, poll) when the
    /// driver is idle.
    // Left to the compiler, which inlines it into the firmware loop, its one caller (48 B
    // less on the AVR than out of line, since the clock is set by `set_now`).
    pub fn tick(&mut self, board: &mut dyn Board) {
        // A byte counter: an untyped range is `i32`, four registers held across the calls.
        // The clock is set once and the driver ticks at it: `now_ms` passed to each call was
        // held across them in four registers.
        for _ in 0..8u8 {
            match &self.drv.tick_again() {
                Some(ev) => self.handle_event(ev),
                None => break,
            }
        }
        let now_ms = self.drv.now();
        for s in self.slots.iter_mut() {
            if s.state == SlotState::Receiving && elapsed(now_ms, s.since) > REQUEST_TIMEOUT_MS {
                // A silent client gets 408 and its slot back; others were never waiting for it.
                s.state = SlotState::Ready;
                s.req.fail_with(Status::RequestTimeout);
            }
        }
        if let Some(tx) = &self.tx {
            if elapsed(now_ms, tx.started) > RESPONSE_TIMEOUT_MS {
                self.abandon_response(tx.link);
            }
        }
        if !self.drv.is_idle() {
            return;
        }
        // Sends the next chunk of the response in progress, or of the one started here: one
        // `send_chunk` call for both.
        if self.tx.is_some() || self.pick_work(board) {
            self.send_chunk();
        }
    }

    /// The next AT operation with no response in progress: a close, a response (started:
    /// true, and the caller sends its first chunk), a pull or a poll.
    #[inline(always)]
    fn pick_work(&mut self, board: &mut dyn Board) -> bool {
        // Only the link-status poll finds a lost CONNECT or +IPD; under constant load there
        // is always other work, so an overdue poll goes first.
        if self.drv.poll_overdue() {
            self.drv.housekeeping();
            if !self.drv.is_idle() {
                return false;
            }
        }
        // A close or a pull ends in one `issue` call.
        let req = 'pick: {
            if self.close != 0 {
                let id = Driver::<DriverSettings<C, N>>::lowest_bit(self.close);
                // `m & (m - 1)` clears the lowest set bit (`id`) without a shift loop.
                self.close &= self.close - 1;
                if let Some(link) = self.current_link(id) {
                    break 'pick AtRequest::Close(link);
                }
            }
            // A request answered or a client told 503 end in one `start_response` call.
            let (link, body, head_only) = 'respond: {
                if let Some(i) = self.next_slot(|s, _| s.state == SlotState::Ready) {
                    self.turn = i + 1;
                    // One bounds check for all the uses of the slot (`next_slot` found it).
                    let Some(slot) = byte_index_mut(&mut self.slots, i) else {
                        return false;
                    };
                    let link = slot.link;
                    if !self.drv.is_open(link) {
                        slot.state = SlotState::Free;
                        return false;
                    }
                    slot.state = SlotState::Sending;
                    let (body, head_only) = route(&slot.req, board);
                    break 'respond (link, body, head_only);
                }
                if self.reject != 0 {
                    let id = Driver::<DriverSettings<C, N>>::lowest_bit(self.reject);
                    self.reject &= self.reject - 1;
                    if let Some(link) = self.current_link(id) {
                        break 'respond (link, Body::Error(Status::Unavailable), false);
                    }
                }
                // The pending count first: tested before the state, two flags were and'ed.
                let pull = if self.drv.is_passive() {
                    self.next_slot(|s, drv| {
                        drv.pending(s.link) > 0 && s.state == SlotState::Receiving
                    })
                } else {
                    None
                };
                if let Some(i) = pull {
                    self.turn = i + 1;
                    let Some(&Slot { link, .. }) = byte_index(&self.slots, i) else {
                        return false;
                    };
                    break 'pick AtRequest::Pull {
                        link,
                        max: PULL_MAX,
                    };
                }
                self.drv.housekeeping();
                return false;
            };
            self.start_response(link, body, head_only, board);
            return true;
        };
        self.drv.issue(req);
        false
    }

    /// The first slot `want` accepts, scanning from `turn` and wrapping around (in bytes:
    /// cheaper on the AVR than in `usize`).
    fn next_slot(&self, want: impl Fn(&Slot, &Driver<DriverSettings<C, N>>) -> bool) -> Option<u8> {
        let mut i = self.turn;
        for _ in 0..N as u8 {
            // Wrapped to 0 before the use: the index is then in range without a check.
            if i >= N as u8 {
                i = 0;
            }
            if let Some(s) = byte_index(&self.slots, i) {
                if want(s, &self.drv) {
                    return Some(i);
                }
            }
            i += 1;
        }
        None
    }

    fn current_link(&self, id: u8) -> Option<Link> {
        self.drv.current(id)
    }

    /// Starts the response `body` to `link`. Left to the compiler, which inlines it into
    /// its one caller, `tick` (out of line its arguments were packed into registers for the
    /// call, 48 B more on the AVR).
    fn start_response(&mut self, link: Link, body: Body, head_only: bool, board: &mut dyn Board) {
        // The page shows the readings too.
        if matches!(body, Body::Status | Body::Page) {
            // Filled in place: building a `Snapshot` and moving it in cost a copy.
            let clients = self.clients();
            let snap = &mut self.snap;
            snap.uptime_ms = self.drv.now();
            for (ch, a) in snap.analog.iter_mut().enumerate() {
                *a = board.analog_read(ch as u8);
            }
            snap.clients = clients;
            let (version, len) = self.drv.version_parts();
            // The whole buffer, a fixed count (the length is the snapshot's own): 6 B
            // smaller than copying `version()`, whose length is clamped.
            for (to, &b) in snap.esp_version.iter_mut().zip(version) {
                *to = b;
            }
            snap.esp_version_len = len;
        }
        self.cache.len = 0;
        let snap = &self.snap;
        // One window measures the body, then the head after it (from 0 again for a `HEAD`,
        // which is the head alone): a second window and a render_response call cost more.
        let w = &mut self.meter;
        w.rewind();
        C::body(w, body, snap);
        let body_len = w.total();
        if head_only {
            w.rewind();
        }
        C::head(w, body, body_len);
        self.tx = Some(Tx {
            link,
            body,
            body_len,
            sent: 0,
            started: stamp(self.drv.now()),
        });
    }

    /// Asks the driver to send the next chunk of the response in flight. One call, in
    /// `tick`, for a response in progress and one just started: inlined there (12 B less).
    fn send_chunk(&mut self) {
        let Some(tx) = &self.tx else { return };
        let (link, chunk) = (tx.link, (self.meter.total() - tx.sent).min(CHUNK_MAX));
        // The link is gone (the Closed event frees the slot). Tested first: `issue` does
        // nothing for a closed link, and a test after a refused `issue` (the driver may be
        // busy: the chunk goes later) kept the link across the call.
        if !self.drv.is_open(link) {
            self.abandon_response(link);
            return;
        }
        self.drv.issue(AtRequest::Send { link, len: chunk });
    }

    /// Drops the response in flight, to `link`, as failed and closes its link. Every caller
    /// holds the response, so no test of it here; inlined, as two calls are all it makes.
    #[inline(always)]
    fn abandon_response(&mut self, link: Link) {
        Self::count(&mut self.snap.errors);
        // Also drops the response.
        self.finish_link(link);
    }

    /// Fills `out` with bytes to send to the ESP now; returns how many.
    // Left to the compiler (inlined into the firmware's loop, its one caller): with
    // `poll_console` inlined too, 100 B less on the AVR than both out of line.
    pub fn poll_uart_tx(&mut self, out: &mut [u8]) -> usize {
        let Server {
            drv,
            tx,
            snap,
            cache,
            ..
        } = self;
        let tx = tx.as_ref();
        // The send's link needs no compare: only `send_chunk` issues sends, for the
        // response in flight, and a new response starts only with the driver idle, so
        // while a send is out the response is still its own (or was dropped).
        drv.poll_transmit(out, &mut |_, off, buf| {
            let Some(t) = tx else { return 0 };
            // Rendering a window costs a pass over the whole response, and the caller may
            // ask for a byte or two at a time (a nearly full TX ring), so render
            // TX_CACHE bytes at once and serve small requests from them.
            let at = t.sent + off;
            // Cached when `off <= at < off + len`: one wrapping compare, as responses stay
            // far below 64 KB (`at < off` wraps to a large value).
            let mut from = at.wrapping_sub(cache.off);
            if from >= cache.len as u16 {
                cache.off = at;
                let mut w = Window::new(at, &mut cache.buf);
                render_response::<C>(&mut w, t, snap);
                cache.len = w.filled() as u8;
                from = 0;
            }
            let from = from as usize;
            // A byte loop: `copy_from_slice` added length checks and a `memcpy` call.
            let mut n = 0;
            for (to, &b) in buf.iter_mut().zip(&cache.buf[from..cache.len as usize]) {
                *to = b;
                n += 1;
            }
            n
        })
    }

    /// A new baud for the ESP link (baud negotiation at bring-up, rare): finish sending the
    /// bytes already queued for the ESP, then switch the link UART to it.
    ///
    /// Stock AT firmware starts at 115200. When `LINK_BAUD` differs and probes go unanswered,
    /// the server asks for 115200, sends `AT+UART_CUR=<LINK_BAUD>,8,1,0,0` (not persistent;
    /// `AT+UART_DEF` with `LINK_SAVE_BAUD`) and asks for `LINK_BAUD` again.
    pub fn poll_baud(&mut self) -> Option<u32> {
        self.drv.take_baud()
    }

    /// [`Server::poll_baud`] as whether the new baud is the factory 115200 (else
    /// `LINK_BAUD`): the firmware picks its timing by a flag, not a 32-bit compare.
    pub fn poll_baud_is_factory(&mut self) -> Option<bool> {
        self.drv.take_baud_is_factory()
    }

    /// Fills `out` with console text; returns how many bytes. One line at most per call
    /// (the rest of a full queue follows on the next calls): a loop over lines cost flash.
    // Inlined like `poll_uart_tx`.
    pub fn poll_console(&mut self, out: &mut [u8]) -> usize {
        if self.console_len == 0 {
            return 0;
        }
        let head = self.console_head;
        let off = self.console_off;
        let line = self.console[head as usize % CONSOLE_QUEUE];
        let mut w = Window::new(off as u16, out);
        C::line(&mut w, line, &self.drv, self.join_failure);
        let (filled, total) = (w.filled(), w.total());
        let off = off.wrapping_add(filled as u8);
        if off as u16 >= total {
            self.console_head = (head + 1) % CONSOLE_QUEUE as u8;
            self.console_len -= 1;
            self.console_off = 0;
        } else {
            self.console_off = off;
        }
        filled
    }
}

impl<C: Config, const N: usize> Default for Server<C, N> {
    fn default() -> Self {
        Self::new()
    }
}

/// The console line reporting `ev`, if it is one of the first nine events: `Line` lists
/// them in the same order one place later, so this is one addition.
fn report(ev: &Event) -> Option<Line> {
    Some(match ev {
        Event::Probing => Line::Probing,
        Event::NoResponse => Line::NoResponse,
        Event::Version => Line::Version,
        Event::Joining => Line::Joining,
        Event::JoinFailed { .. } => Line::JoinFailed,
        Event::WaitingStored => Line::WaitingStored,
        Event::WifiLost => Line::WifiLost,
        Event::Up => Line::Ready,
        Event::Reset => Line::Reset,
        _ => return None,
    })
}

/// The response to `req`, and whether it answers a `HEAD` (head only).
fn route(req: &Request, board: &mut dyn Board) -> (Body, bool) {
    if let Progress::Error(st) = req.progress() {
        return (Body::Error(st), false);
    }
    let method = req.method();
    let head_only = method == Method::Head;
    let readable = matches!(method, Method::Get | Method::Head);
    let path = req.path();
    let body = match lookup(path, pstr!(b"=/\0=/api/status\0^/api/pin/\0")) {
        Some(page @ (0 | 1)) => {
            if !readable {
                Body::Error(Status::MethodNotAllowed)
            } else if page == 0 {
                Body::Page
            } else {
                Body::Status
            }
        }
        // `/api/pin/` and its digits (none: 404).
        Some(_) => match parse_pin(path) {
            None => Body::Error(Status::NotFound),
            Some(pin) if readable => match board.digital_read(pin) {
                Ok(high) => Body::Pin { pin, high },
                Err(e) => Body::Error(pin_status(e)),
            },
            Some(pin) if matches!(method, Method::Post | Method::Put) => match req.body_byte() {
                Some(v @ (b'0' | b'1')) => match board.digital_write(pin, v == b'1') {
                    Ok(()) => Body::Pin {
                        pin,
                        high: v == b'1',
                    },
                    Err(e) => Body::Error(pin_status(e)),
                },
                _ => Body::Error(Status::BadRequest),
            },
            Some(_) => Body::Error(Status::MethodNotAllowed),
        },
        None => Body::Error(Status::NotFound),
    };
    (body, head_only)
}

/// Writes the response `tx` describes: head, then body. Also for a `HEAD`: its `total`
/// ends with the head, and the driver never asks for a byte past the send's length.
#[inline]
fn render_response<C: Config>(s: &mut Window, tx: &Tx, snap: &Snapshot) {
    let body = tx.body;
    C::head(s, body, tx.body_len);
    C::body(s, body, snap);
}

/// The low 16 bits of `now_ms`: enough to time requests and responses (16-bit arithmetic
/// is half the code of 32-bit on the AVR), as `tick` runs on every loop pass, far more
/// often than the 35 s that would let a stamp wrap past [`RESPONSE_TIMEOUT_MS`].
fn stamp(now_ms: u32) -> u16 {
    now_ms as u16
}

const _: () = assert!(REQUEST_TIMEOUT_MS < 1 << 15 && RESPONSE_TIMEOUT_MS < 1 << 15);

/// Milliseconds from `since` (a [`stamp`]) to `now_ms`.
fn elapsed(now_ms: u32, since: u16) -> u32 {
    stamp(now_ms).wrapping_sub(since) as u32
}

/// `1 << id`: one shift loop for every use.
#[inline(never)]
fn link_bit(id: u8) -> u8 {
    1 << id
}

fn pin_status(e: PinError) -> Status {
    match e {
        PinError::Reserved => Status::Forbidden,
        PinError::NoSuchPin => Status::NotFound,
    }
}

/// The pin number of a path that starts with `/api/pin/` (which `route` matched): the whole
/// path, as its length bounds the digits to 1..=3 in one compare and then needs no check to
/// slice them off.
fn parse_pin(path: &[u8]) -> Option<u8> {
    if path.len().wrapping_sub(10) > 2 {
        return None;
    }
    let digits = &path[b"/api/pin/".len()..];
    // In bytes with overflow checks: cheaper on the AVR than 16-bit arithmetic.
    let mut v = 0u8;
    for &d in digits {
        let d = d.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        // `v * 10` overflows exactly from 26 on: one compare instead of `checked_mul`; and
        // compared with `255 - d`, not through `checked_add`'s carry made a flag.
        if v > 25 || v * 10 > 255 - d {
            return None;
        }
        v = v * 10 + d;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::parse_pin;

    #[test]
    fn pin_numbers() {
        let pin = |digits: &[u8]| parse_pin(&[&b"/api/pin/"[..], digits].concat());
        assert_eq!(pin(b"0"), Some(0));
        assert_eq!(pin(b"13"), Some(13));
        assert_eq!(pin(b"007"), Some(7));
        assert_eq!(pin(b"255"), Some(255));
        assert_eq!(pin(b"250"), Some(250));
        assert_eq!(pin(b"25"), Some(25));
        for bad in [
            &b""[..],
            b"256",
            b"259",
            b"260",
            b"300",
            b"999",
            b"1234",
            b"1a",
            b"a",
            b"-1",
            b"1/",
        ] {
            assert_eq!(pin(bad), None);
        }
    }
}
