//! An emulated ESP8266 running Espressif's stock AT firmware (NonOS AT 1.7.x by default,
//! ESP-AT 2.x as a profile), for nanoesp's virtual bench (`sim/`) and the firmware's host
//! tests (`firmware/tests/`).
//!
//! The emulator is sans-IO and deterministic: the caller passes simulated time in
//! microseconds to every call, bytes go in with [`Esp::uart_rx`] and come out with
//! [`Esp::uart_tx`] paced at the current baud (10 bit times per byte), and virtual TCP
//! clients use the `net_*` calls. All randomness comes from [`EspConfig::seed`]. Nothing
//! here reads a clock or touches a socket except the optional [`tcp`] adapter.
//!
//! Behaviour follows the byte-level spec `/work/shared/docs/esp-at-behaviour.md` ("the
//! spec"); each of its open questions (§8) is a field of [`Switches`]. See the crate's
//! `README.md` for what is and is not modelled.
//!
//! ```
//! use nanoesp_espemu::{Esp, EspConfig};
//! let mut esp = Esp::new(EspConfig::default());
//! let mut t = 0;
//! let mut out = Vec::new();
//! // Let it boot, then say hello.
//! while t < 1_000_000 { if let Some(b) = esp.uart_tx(t) { out.push(b) } t += 10; }
//! assert!(out.ends_with(b"\r\nready\r\n"));
//! for &b in b"AT\r\n" { esp.uart_rx(b, t); }
//! out.clear();
//! while t < 1_100_000 { if let Some(b) = esp.uart_tx(t) { out.push(b) } t += 10; }
//! assert_eq!(out, b"AT\r\r\n\r\nOK\r\n");
//! ```

#![deny(missing_docs)]
#![deny(unsafe_code)]

mod commands;
mod config;
mod net;
mod output;
mod params;
mod rng;
pub mod rom;
pub mod tcp;

use std::collections::{BTreeMap, VecDeque};

pub use config::{
    ClosedWithUnread, EchoTerminator, EspConfig, Faults, OverLimitPolicy, PassiveNotify, Profile,
    ReadAfterClose, ResetWhileBusy, SendToClosedLink, Switches, Timing,
};
pub use output::{MARK_FROM_ESP, MARK_TO_ESP};

use output::{Dir, Transcript, TxQueue};
use rng::Rng;

/// Number of link ids (0–4) of the AT firmware (`at_customLinkMax = 5`, spec §3.1).
pub const MAX_LINKS: usize = 5;
/// Bytes of UART traffic (both directions) the transcript keeps.
pub const TRANSCRIPT_CAPACITY: usize = 4096;

/// Handle of one virtual TCP client connection (network side).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u32);

/// What a virtual client sees next, from [`Esp::net_poll`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetEvent {
    /// Bytes the server sent (everything accumulated since the last poll).
    Data(Vec<u8>),
    /// The connection is closed (by the server, by the client, by a reset); repeated on
    /// every later poll.
    Closed,
    /// Nothing new: connected (or waiting in the accept backlog) and no data.
    Pending,
    /// The connection was refused: no server listening, Wi-Fi not joined, or over the
    /// connection limit with [`OverLimitPolicy::Refuse`]. Repeated on every later poll.
    Refused,
}

/// Station (Wi-Fi client) state of the module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WifiState {
    /// Not associated.
    Disconnected,
    /// Associated, no DHCP lease yet (`WIFI CONNECTED` sent).
    Connected,
    /// Associated with an address (`WIFI GOT IP` sent).
    GotIp,
}

/// What the AT command processor is doing.
#[derive(Debug, Clone, PartialEq)]
enum Mode {
    /// Booting: UART input is lost until `ready`.
    Booting,
    /// Waiting for a command line.
    Idle,
    /// A command is being processed (`busy p...` for input).
    Busy,
    /// `AT+CWJAP` in progress (`busy p...` for input).
    Joining,
    /// `OK` of a CIPSEND went out, the prompt has not: input is command input (`busy p...`).
    PromptPending {
        link: usize,
        epoch: u64,
        len: usize,
        ex: bool,
    },
    /// Collecting CIPSEND payload.
    Payload {
        link: usize,
        epoch: u64,
        len: usize,
        data: Vec<u8>,
        ex: bool,
        escape: bool,
    },
    /// Between `Recv` and `SEND OK` (`busy s...` for input).
    Sending {
        link: usize,
        epoch: u64,
        data: Vec<u8>,
        /// The link was already gone when the payload completed.
        failed: bool,
    },
}

/// Things scheduled to happen at a simulated time.
#[derive(Debug, Clone, PartialEq)]
enum Timer {
    /// Boot finished: print `ready`.
    BootDone,
    /// Execute a received command line.
    Exec(Vec<u8>),
    /// Print the CIPSEND prompt.
    Prompt,
    /// Report the end of a send (`SEND OK`/`SEND FAIL`).
    SendDone,
    /// Explicit join reached association.
    JoinConnected { epoch: u64 },
    /// Explicit join got its address.
    JoinGotIp { epoch: u64 },
    /// Explicit join failed.
    JoinFailed { epoch: u64, code: u8 },
    /// Auto-join after boot: associate.
    AutoConnected { epoch: u64 },
    /// Auto-join after boot: address.
    AutoGotIp { epoch: u64 },
    /// Accept a client from the backlog.
    AcceptDeferred,
    /// Check the CIPSTO idle timer of a link.
    IdleCheck { link: usize, epoch: u64 },
    /// Fault injection: the module resets by itself.
    SpontaneousReset,
    /// `AT+RST` (after its OK): reboot.
    Restart,
}

/// Why a chunk is queued; decides which faults may touch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Echo of input: never delayed or dropped.
    Echo,
    /// Part of a command's reply: may be delayed, never dropped.
    Reply,
    /// Unsolicited line: may be delayed or dropped.
    Urc,
}

/// One open link (server side).
#[derive(Debug, Clone)]
struct Link {
    conn: ConnId,
    epoch: u64,
    /// Passive-mode receive buffer.
    rx: VecDeque<u8>,
    /// A passive notification is outstanding (for [`PassiveNotify::OncePerRead`]).
    notified: bool,
    /// Any passive notification was due yet (for [`Switches::skip_first_passive_ipd`]).
    ever_notified: bool,
    /// Time of the last bytes from the client (CIPSTO counts from here).
    last_client_us: u64,
    /// The peer closed while unread data remained and CLOSED is withheld.
    peer_closed: bool,
    /// CLOSED was reported but unread data stays readable ([`ReadAfterClose::Data`]).
    zombie: bool,
    remote_port: u16,
}

/// Network-side state of one virtual client.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ConnState {
    /// In the accept backlog.
    Waiting,
    /// Accepted as link `id`.
    Linked { id: usize, epoch: u64 },
    /// Closed.
    Closed,
    /// Refused.
    Refused,
}

#[derive(Debug, Clone)]
struct Conn {
    state: ConnState,
    to_client: Vec<u8>,
    /// Client bytes the ESP has not taken yet (backlog, or passive window full).
    pending: VecDeque<u8>,
    client_closed: bool,
    port: u16,
}

/// The emulated module. See the crate documentation.
#[derive(Debug)]
pub struct Esp {
    cfg: EspConfig,
    rng: Rng,
    now_us: u64,
    seq: u64,
    timers: BTreeMap<(u64, u64), Timer>,
    tx: TxQueue,
    transcript: Transcript,
    bytes_rx: u64,
    bytes_tx: u64,
    mode: Mode,
    /// Command line being received while idle.
    line: Vec<u8>,
    /// Input received while busy (discarded).
    busy_line: Vec<u8>,
    // Volatile settings (back to defaults on every reset).
    echo: bool,
    mux: bool,
    passive: bool,
    dinfo: bool,
    server_port: Option<u16>,
    max_conn: u8,
    sto_s: u16,
    wifi_mode: u8,
    hostname: Vec<u8>,
    wifi: WifiState,
    join_epoch: u64,
    // Persistent settings ("flash").
    wifi_mode_saved: u8,
    baud_saved: u32,
    /// Station credentials saved by `AT+CWJAP_DEF` (or plain CWJAP): SSID, password.
    wifi_saved: Option<(Vec<u8>, Vec<u8>)>,
    // Links and clients.
    links: [Option<Link>; MAX_LINKS],
    link_epoch: u64,
    had_link: bool,
    conns: Vec<Conn>,
    backlog: VecDeque<ConnId>,
    accept_scheduled: bool,
    next_client_port: u16,
    resets: u32,
    /// Resets the module did not ask for (see [`Esp::crash_count`]).
    crashes: u32,
    // Accounting only (never read by the behaviour): see [`Esp::send_wait_us`].
    /// Finished send waits, µs.
    send_wait_done_us: u64,
    /// Start of the send wait in progress.
    send_wait_since: Option<u64>,
    /// Payloads accepted (`Recv <n> bytes`).
    sends: u64,
    /// UART bytes received during send waits (refused with `busy s...`).
    bytes_rx_in_send_wait: u64,
    /// Finished ESP turns, µs: see [`Esp::esp_turn_us`].
    turn_done_us: u64,
    /// Start of the turn in progress.
    turn_since: Option<u64>,
    /// When the turn in progress ends: its last reply byte's stop bit (set once the
    /// module is back in command or payload mode).
    turn_end: Option<u64>,
    /// Stop bit of the last reply byte queued so far, ns.
    last_reply_done_ns: u64,
    /// UART bytes received during ESP turns.
    bytes_rx_in_turn: u64,
    /// When the station last got its address.
    got_ip_at_us: u64,
}

impl Esp {
    /// A module just powered on: boot noise (1.7 profile) then `\r\nready\r\n` after
    /// [`Timing::boot_us`], and auto-join lines if [`Switches::auto_join`] is set.
    pub fn new(cfg: EspConfig) -> Esp {
        let baud = cfg.baud.max(1);
        let mut esp = Esp {
            rng: Rng::new(cfg.seed),
            now_us: 0,
            seq: 0,
            timers: BTreeMap::new(),
            tx: TxQueue::new(baud),
            transcript: Transcript::new(TRANSCRIPT_CAPACITY),
            bytes_rx: 0,
            bytes_tx: 0,
            mode: Mode::Booting,
            line: Vec::new(),
            busy_line: Vec::new(),
            echo: true,
            mux: false,
            passive: false,
            dinfo: false,
            server_port: None,
            max_conn: MAX_LINKS as u8,
            sto_s: cfg.switches.default_cipsto_s,
            wifi_mode: 1,
            hostname: b"ESP_000000".to_vec(),
            wifi: WifiState::Disconnected,
            join_epoch: 0,
            wifi_mode_saved: 1,
            baud_saved: baud,
            wifi_saved: cfg.stored_wifi.clone().or_else(|| {
                cfg.switches
                    .auto_join
                    .then(|| (cfg.ap_ssid.clone(), cfg.ap_password.clone()))
            }),
            links: Default::default(),
            link_epoch: 0,
            had_link: false,
            conns: Vec::new(),
            backlog: VecDeque::new(),
            accept_scheduled: false,
            next_client_port: 51234,
            resets: 0,
            crashes: 0,
            send_wait_done_us: 0,
            send_wait_since: None,
            sends: 0,
            bytes_rx_in_send_wait: 0,
            turn_done_us: 0,
            turn_since: None,
            turn_end: None,
            last_reply_done_ns: 0,
            bytes_rx_in_turn: 0,
            got_ip_at_us: 0,
            cfg,
        };
        esp.boot(false);
        esp.schedule_spontaneous_reset();
        esp
    }

    // ------------------------------------------------------------------ UART side

    /// A byte from the Nano arrived on the ESP's RX at `now_us` (its stop bit).
    ///
    /// Time never goes backwards: a `now_us` earlier than the latest time given to any call
    /// is taken as that latest time, so deliver input before polling output past it.
    pub fn uart_rx(&mut self, byte: u8, now_us: u64) {
        self.advance(now_us);
        self.bytes_rx += 1;
        if self.send_wait_since.is_some() {
            self.bytes_rx_in_send_wait += 1;
        }
        if self.turn_since.is_some() && self.turn_end.is_none_or(|end| self.now_us < end) {
            self.bytes_rx_in_turn += 1;
        }
        self.transcript.record(Dir::ToEsp, byte);
        self.on_rx(byte);
    }

    /// Like [`Esp::uart_rx`], for a sender running at `sender_baud`: when it differs from
    /// the ESP's current rate by more than 5 % the byte arrives garbled (a seeded random
    /// byte), as a real UART would sample it.
    pub fn uart_rx_at_baud(&mut self, byte: u8, sender_baud: u32, now_us: u64) {
        let ours = u64::from(self.tx.baud());
        let theirs = u64::from(sender_baud.max(1));
        let off = ours.abs_diff(theirs) * 100 > ours * 5;
        let byte = if off {
            (self.rng.next_u64() & 0xff) as u8
        } else {
            byte
        };
        self.uart_rx(byte, now_us);
    }

    /// The next byte the ESP has finished putting on the wire by `now_us` (stop bit sent),
    /// paced at the current baud; `None` if no byte is due yet.
    pub fn uart_tx(&mut self, now_us: u64) -> Option<u8> {
        self.uart_tx_timed(now_us).map(|(byte, _)| byte)
    }

    /// Like [`Esp::uart_tx`], also telling when the byte's stop bit ended (µs, rounded up,
    /// ≤ `now_us`), so a caller that polls coarsely can still deliver it at the right time.
    /// The times do not depend on how often the caller polls.
    pub fn uart_tx_timed(&mut self, now_us: u64) -> Option<(u8, u64)> {
        self.advance(now_us);
        let (byte, done_ns) = self.tx.pop(now_us.saturating_mul(1000))?;
        self.bytes_tx += 1;
        self.transcript.record(Dir::FromEsp, byte);
        Some((byte, done_ns.div_ceil(1000).min(now_us)))
    }

    /// When something will next happen without input (a byte completes on the wire or an
    /// internal timer fires), in simulated µs; `None` if the module is quiet for good.
    pub fn next_event_us(&self) -> Option<u64> {
        let timer = self.timers.keys().next().map(|&(t, _)| t);
        let byte = self.tx.next_done_ns().map(|ns| ns.div_ceil(1000));
        match (timer, byte) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Current UART rate of the ESP (changes after the `OK` of `AT+UART_CUR/_DEF` has left).
    pub fn baud(&self) -> u32 {
        self.tx.baud()
    }

    /// UART bytes received from the Nano so far.
    pub fn uart_bytes_rx(&self) -> u64 {
        self.bytes_rx
    }

    /// UART bytes sent to the Nano so far.
    pub fn uart_bytes_tx(&self) -> u64 {
        self.bytes_tx
    }

    /// Simulated µs spent so far between accepting a CIPSEND payload (`Recv <n> bytes`)
    /// and reporting its end (`SEND OK`/`SEND FAIL`, or the reset that cut it short),
    /// including the wait in progress up to [`Esp::now_us`]. All links share this one
    /// wait: every command line received meanwhile gets `busy s...`. The output gaps of
    /// [`Faults::max_gap_us`] that may delay the `SEND OK` line on the wire are not part
    /// of it.
    pub fn send_wait_us(&self) -> u64 {
        let running = self
            .send_wait_since
            .map_or(0, |since| self.now_us.saturating_sub(since));
        self.send_wait_done_us + running
    }

    /// Simulated µs spent so far in the ESP's turns: from a command line's end (or a
    /// CIPSEND payload's end) until the module is back in command mode (or waits for the
    /// payload) and its last reply byte has left the wire. A host that keeps one command in
    /// flight can do nothing towards the ESP then but wait: the turns hold the command's
    /// processing, the output gaps before its reply lines, the reply on the wire and the
    /// send waits of [`Esp::send_wait_us`], which they contain.
    pub fn esp_turn_us(&self) -> u64 {
        let running = self.turn_since.map_or(0, |since| {
            let end = self
                .turn_end
                .map_or(self.now_us, |end| end.min(self.now_us));
            end.saturating_sub(since)
        });
        self.turn_done_us + running
    }

    /// UART bytes received from the Nano during ESP turns ([`Esp::esp_turn_us`]).
    pub fn uart_bytes_rx_in_turn(&self) -> u64 {
        self.bytes_rx_in_turn
    }

    /// CIPSEND payloads accepted so far (each one starts a send wait, see
    /// [`Esp::send_wait_us`]).
    pub fn sends(&self) -> u64 {
        self.sends
    }

    /// UART bytes received from the Nano during send waits (all refused: `busy s...`).
    pub fn uart_bytes_rx_in_send_wait(&self) -> u64 {
        self.bytes_rx_in_send_wait
    }

    /// Recent UART exchange (last [`TRANSCRIPT_CAPACITY`]–2× that many bytes), raw, with a
    /// marker ([`MARK_TO_ESP`] `"\n--> "`, [`MARK_FROM_ESP`] `"\n<-- "`) before each run of
    /// bytes in one direction.
    pub fn transcript(&self) -> &[u8] {
        self.transcript.raw()
    }

    /// The last [`TRANSCRIPT_CAPACITY`] UART bytes as readable text: one line per direction
    /// run prefixed `--> ` (to the ESP) or `<-- ` (from the ESP), with `\r`, `\n`, `\\` and
    /// non-printable bytes escaped.
    pub fn transcript_text(&self) -> String {
        self.transcript.text()
    }

    /// Queues raw bytes on the ESP's TX at the next chunk boundary (a test hook to inject
    /// garbage or hand-written URCs).
    pub fn inject_output(&mut self, bytes: &[u8], now_us: u64) {
        self.advance(now_us);
        self.push(bytes.to_vec(), Kind::Reply);
    }

    // ------------------------------------------------------------------ state

    /// Station state.
    pub fn wifi_state(&self) -> WifiState {
        self.wifi
    }

    /// Station credentials saved in the module's flash (SSID, password), if any.
    pub fn stored_wifi(&self) -> Option<(&[u8], &[u8])> {
        self.wifi_saved
            .as_ref()
            .map(|(s, p)| (s.as_slice(), p.as_slice()))
    }

    /// Auto-connect after boot: station mode, and the saved credentials open the AP.
    fn auto_joins(&self) -> bool {
        self.wifi_mode & 1 != 0
            && self.cfg.switches.join_failure_code.is_none()
            && self
                .wifi_saved
                .as_ref()
                .is_some_and(|(s, p)| *s == self.cfg.ap_ssid && *p == self.cfg.ap_password)
    }

    /// True once the station has an address (`WIFI GOT IP`).
    pub fn wifi_joined(&self) -> bool {
        self.wifi == WifiState::GotIp
    }

    /// Simulated µs at which the station got its current address (the `WIFI GOT IP` line
    /// is queued then, even if a fault drops it on the wire); `None` while not joined.
    pub fn wifi_got_ip_us(&self) -> Option<u64> {
        self.wifi_joined().then_some(self.got_ip_at_us)
    }

    /// `Some(port)` once `AT+CIPSERVER=1[,<port>]` succeeded (until reset or `=0`).
    pub fn server_port(&self) -> Option<u16> {
        self.server_port
    }

    /// True when a virtual client connecting now would reach the server (server up and
    /// Wi-Fi joined).
    pub fn accepting_clients(&self) -> bool {
        self.server_port.is_some() && self.wifi_joined()
    }

    /// Number of link ids in use (0–5).
    pub fn links_in_use(&self) -> usize {
        self.links.iter().filter(|l| l.is_some()).count()
    }

    /// True while a command is being processed or a send is in progress (input would get
    /// `busy`), or the module is booting.
    pub fn is_busy(&self) -> bool {
        !matches!(self.mode, Mode::Idle)
    }

    /// Echo state (`ATE1`, on after every reset).
    pub fn echo_enabled(&self) -> bool {
        self.echo
    }

    /// Passive receive mode (`AT+CIPRECVMODE=1`).
    pub fn passive_mode(&self) -> bool {
        self.passive
    }

    /// Resets so far (`AT+RST`, [`Esp::reset`] and injected ones; not the power-up).
    pub fn reset_count(&self) -> u32 {
        self.resets
    }

    /// Crashes so far: injected resets ([`Faults::resets_per_s`]) and [`Esp::reset`], not
    /// `AT+RST`. A client cannot tell them from a firmware fault on the Nano, so benchmarks
    /// use this to tell which failures the module caused.
    pub fn crash_count(&self) -> u32 {
        self.crashes
    }

    /// The configuration the module was built with.
    pub fn config(&self) -> &EspConfig {
        &self.cfg
    }

    /// Changes fault injection from now on (e.g. drop every URC for a moment).
    pub fn set_faults(&mut self, faults: Faults, now_us: u64) {
        self.advance(now_us);
        self.cfg.faults = faults;
        self.timers
            .retain(|_, t| !matches!(t, Timer::SpontaneousReset));
        self.schedule_spontaneous_reset();
    }

    /// Last simulated time seen.
    pub fn now_us(&self) -> u64 {
        self.now_us
    }

    /// Spontaneous reset (brown-out, watchdog) at `now_us`: unsent output is lost, links
    /// vanish without `CLOSED`, clients see their connections closed, then boot noise and
    /// `ready` as after power-up (spec S10).
    pub fn reset(&mut self, now_us: u64) {
        self.advance(now_us);
        self.crash();
    }

    // ------------------------------------------------------------------ core

    /// Runs every timer due by `now_us`, each at its own time.
    fn advance(&mut self, now_us: u64) {
        let now = now_us.max(self.now_us);
        while let Some((&(t, seq), _)) = self.timers.first_key_value() {
            if t > now {
                break;
            }
            let Some(timer) = self.timers.remove(&(t, seq)) else {
                break;
            };
            self.now_us = t;
            self.fire(timer);
        }
        self.now_us = now;
        self.settle_turn();
    }

    /// Books the turn in progress once its end has passed.
    fn settle_turn(&mut self) {
        if let (Some(since), Some(end)) = (self.turn_since, self.turn_end)
            && end <= self.now_us
        {
            self.turn_done_us += end.saturating_sub(since);
            self.turn_since = None;
            self.turn_end = None;
        }
    }

    /// The ESP's turn starts (accounting only): a command line or a payload is complete.
    /// A turn whose reply is still on the wire goes on.
    fn begin_turn(&mut self) {
        self.settle_turn();
        if self.turn_since.is_none() {
            self.turn_since = Some(self.now_us);
        }
        self.turn_end = None;
    }

    /// The module takes input again: the turn ends when its last reply byte has left.
    fn end_turn(&mut self) {
        if self.turn_since.is_some() {
            let reply_done = self.last_reply_done_ns.div_ceil(1000);
            self.turn_end = Some(reply_done.max(self.now_us));
        }
    }

    fn schedule(&mut self, at_us: u64, timer: Timer) {
        self.seq += 1;
        self.timers.insert((at_us, self.seq), timer);
    }

    fn schedule_in(&mut self, delay_us: u64, timer: Timer) {
        self.schedule(self.now_us.saturating_add(delay_us), timer);
    }

    fn draw(&mut self, range: (u64, u64)) -> u64 {
        self.rng.range(range.0, range.1)
    }

    /// Queues output at the current time, applying gap/garbage/drop faults by kind.
    fn push(&mut self, bytes: Vec<u8>, kind: Kind) {
        let now_ns = self.now_us.saturating_mul(1000);
        if kind == Kind::Echo {
            self.tx.push(bytes, now_ns);
            return;
        }
        if kind == Kind::Urc && self.rng.chance(self.cfg.faults.drop_urc) {
            return;
        }
        let gap_ns = if self.cfg.faults.max_gap_us > 0 {
            self.rng.range(0, self.cfg.faults.max_gap_us) * 1000
        } else {
            0
        };
        if self.rng.chance(self.cfg.faults.garbage) {
            let n = self.rng.range(1, 8) as usize;
            let junk: Vec<u8> = (0..n).map(|_| (self.rng.next_u64() & 0xff) as u8).collect();
            self.tx.push(junk, now_ns + gap_ns);
        }
        self.tx.push(bytes, now_ns + gap_ns);
        if kind == Kind::Reply {
            self.last_reply_done_ns = self.tx.all_done_ns();
        }
    }

    fn reply(&mut self, bytes: &[u8]) {
        self.push(bytes.to_vec(), Kind::Reply);
    }

    fn urc(&mut self, bytes: &[u8]) {
        self.push(bytes.to_vec(), Kind::Urc);
    }

    /// Back to command mode; input received while busy is forgotten.
    fn go_idle(&mut self) {
        self.mode = Mode::Idle;
        self.busy_line.clear();
        self.end_turn();
    }

    fn ok(&mut self) {
        self.reply(b"\r\nOK\r\n");
        self.go_idle();
    }

    fn error(&mut self) {
        self.reply(b"\r\nERROR\r\n");
        self.go_idle();
    }

    fn on_rx(&mut self, byte: u8) {
        match &mut self.mode {
            Mode::Booting => {}
            Mode::Idle => {
                self.echo_byte(byte);
                if byte == b'\n' {
                    let mut line = std::mem::take(&mut self.line);
                    while line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    self.mode = Mode::Busy;
                    self.begin_turn();
                    let delay = self.draw(self.cfg.timing.command_us);
                    self.schedule_in(delay, Timer::Exec(line));
                } else if self.line.len() <= 1024 {
                    // Real lines are ≤ 256 bytes; longer ones are kept long enough to fail.
                    self.line.push(byte);
                }
            }
            Mode::Payload {
                data,
                len,
                ex,
                escape,
                ..
            } => {
                let mut done = false;
                if *ex {
                    if *escape {
                        *escape = false;
                        if byte == b'0' {
                            done = true;
                        } else {
                            data.push(byte);
                        }
                    } else if byte == b'\\' {
                        *escape = true;
                    } else {
                        data.push(byte);
                    }
                } else {
                    data.push(byte);
                }
                if done || data.len() >= *len {
                    self.payload_complete();
                }
            }
            Mode::Busy | Mode::Joining | Mode::PromptPending { .. } | Mode::Sending { .. } => {
                self.echo_byte(byte);
                if byte == b'\n' {
                    let mut line = std::mem::take(&mut self.busy_line);
                    while line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    let is_rst = line.eq_ignore_ascii_case(b"AT+RST");
                    if is_rst && self.cfg.switches.reset_while_busy == ResetWhileBusy::ForceRestart
                    {
                        self.reply(b"Will force to restart!!!\r\n");
                        self.restart();
                    } else if matches!(self.mode, Mode::Sending { .. }) {
                        self.reply(b"busy s...\r\n");
                    } else {
                        self.reply(b"busy p...\r\n");
                    }
                } else if self.busy_line.len() <= 1024 {
                    self.busy_line.push(byte);
                }
            }
        }
    }

    fn echo_byte(&mut self, byte: u8) {
        if !self.echo {
            return;
        }
        match byte {
            b'\n' => self.push(b"\r\n".to_vec(), Kind::Echo),
            b'\r' if self.cfg.switches.echo_terminator == EchoTerminator::CrLf => {}
            b => self.push(vec![b], Kind::Echo),
        }
    }

    fn payload_complete(&mut self) {
        let Mode::Payload {
            link, epoch, data, ..
        } = std::mem::replace(&mut self.mode, Mode::Busy)
        else {
            return;
        };
        self.begin_turn();
        let alive = self.link_sendable(link, epoch);
        if !alive && self.cfg.switches.send_to_closed_link == SendToClosedLink::Error {
            self.error();
            return;
        }
        self.reply(format!("\r\nRecv {} bytes\r\n", data.len()).as_bytes());
        self.mode = Mode::Sending {
            link,
            epoch,
            data,
            failed: !alive,
        };
        self.sends += 1;
        self.send_wait_since = Some(self.now_us);
        let delay = self.draw(self.cfg.timing.send_ok_us);
        self.schedule_in(delay, Timer::SendDone);
    }

    fn fire(&mut self, timer: Timer) {
        match timer {
            Timer::BootDone => {
                self.reply(b"\r\nready\r\n");
                self.go_idle();
                if self.auto_joins() {
                    let epoch = self.join_epoch;
                    let delay = self.draw(self.cfg.timing.auto_join_us);
                    self.schedule_in(delay, Timer::AutoConnected { epoch });
                }
            }
            Timer::Exec(line) => self.exec(&line),
            Timer::Prompt => {
                if let Mode::PromptPending {
                    link,
                    epoch,
                    len,
                    ex,
                } = self.mode
                {
                    let prompt: &[u8] = match self.cfg.profile {
                        Profile::At17 if self.cfg.switches.crlf_after_prompt => b"> \r\n",
                        Profile::At17 => b"> ",
                        Profile::At2 => b"\r\n>",
                    };
                    self.reply(prompt);
                    self.busy_line.clear();
                    self.mode = Mode::Payload {
                        link,
                        epoch,
                        len,
                        data: Vec::new(),
                        ex,
                        escape: false,
                    };
                    self.end_turn();
                }
            }
            Timer::SendDone => self.send_done(),
            Timer::JoinConnected { epoch } if epoch == self.join_epoch => {
                self.wifi = WifiState::Connected;
                self.urc(b"WIFI CONNECTED\r\n");
                let d = self.cfg.timing.join_got_ip_us;
                self.schedule_in(d, Timer::JoinGotIp { epoch });
            }
            Timer::JoinGotIp { epoch } if epoch == self.join_epoch => {
                self.wifi = WifiState::GotIp;
                self.got_ip_at_us = self.now_us;
                self.urc(b"WIFI GOT IP\r\n");
                if self.mode == Mode::Joining {
                    self.ok();
                }
            }
            Timer::JoinFailed { epoch, code } if epoch == self.join_epoch => {
                self.reply(format!("+CWJAP:{code}\r\n").as_bytes());
                match self.cfg.profile {
                    Profile::At17 => self.reply(b"\r\nFAIL\r\n"),
                    Profile::At2 => self.reply(b"\r\nERROR\r\n"),
                }
                self.go_idle();
            }
            Timer::AutoConnected { epoch } if epoch == self.join_epoch => {
                self.wifi = WifiState::Connected;
                self.urc(b"WIFI CONNECTED\r\n");
                let d = self.cfg.timing.join_got_ip_us;
                self.schedule_in(d, Timer::AutoGotIp { epoch });
            }
            Timer::AutoGotIp { epoch } if epoch == self.join_epoch => {
                self.wifi = WifiState::GotIp;
                self.got_ip_at_us = self.now_us;
                self.urc(b"WIFI GOT IP\r\n");
            }
            Timer::JoinConnected { .. }
            | Timer::JoinGotIp { .. }
            | Timer::JoinFailed { .. }
            | Timer::AutoConnected { .. }
            | Timer::AutoGotIp { .. } => {}
            Timer::AcceptDeferred => {
                self.accept_scheduled = false;
                self.accept_from_backlog();
            }
            Timer::IdleCheck { link, epoch } => self.idle_check(link, epoch),
            Timer::SpontaneousReset => self.crash(),
            Timer::Restart => {
                self.resets += 1;
                self.boot(true);
            }
        }
    }

    fn send_done(&mut self) {
        let Mode::Sending {
            link,
            epoch,
            data,
            failed,
        } = std::mem::replace(&mut self.mode, Mode::Busy)
        else {
            return;
        };
        self.end_send_wait();
        if !failed && self.link_sendable(link, epoch) {
            if let Some(conn) = self.links[link].as_ref().map(|l| l.conn)
                && let Some(c) = self.conns.get_mut(conn.0 as usize)
            {
                c.to_client.extend_from_slice(&data);
            }
            self.reply(b"\r\nSEND OK\r\n");
        } else {
            match self.cfg.switches.send_to_closed_link {
                SendToClosedLink::RecvThenSendFail => self.reply(b"\r\nSEND FAIL\r\n"),
                SendToClosedLink::Error => self.reply(b"\r\nERROR\r\n"),
                SendToClosedLink::RecvOnly => {}
            }
        }
        self.go_idle();
    }

    /// Closes the send wait in progress, if any (accounting for [`Esp::send_wait_us`]).
    fn end_send_wait(&mut self) {
        if let Some(since) = self.send_wait_since.take() {
            self.send_wait_done_us += self.now_us.saturating_sub(since);
        }
    }

    /// `AT+RST`: links dropped (optionally reported), reboot once the OK is out.
    fn restart(&mut self) {
        self.end_send_wait();
        let report = self.cfg.switches.rst_reports_closed;
        self.drop_all_links(report);
        self.timers
            .retain(|_, t| matches!(t, Timer::SpontaneousReset));
        self.mode = Mode::Booting;
        self.end_turn();
        self.line.clear();
        self.busy_line.clear();
        self.schedule_in(20_000, Timer::Restart);
    }

    /// Crash or brown-out: output lost, nothing reported, reboot now.
    fn crash(&mut self) {
        self.resets += 1;
        self.crashes += 1;
        self.drop_all_links(false);
        self.timers.clear();
        self.tx.clear(self.baud_saved);
        // The reply in flight is lost: the turn ends now.
        self.last_reply_done_ns = 0;
        self.end_turn();
        let mut noise = self.boot_noise();
        if self.cfg.profile == Profile::At17 && self.rng.chance(0.5) {
            noise.splice(0..0, b"\r\nSoft WDT reset\r\n".iter().copied());
        }
        self.boot_with_noise(noise);
        self.schedule_spontaneous_reset();
    }

    fn boot_noise(&mut self) -> Vec<u8> {
        if self.cfg.profile == Profile::At2 {
            // 2.x prints its boot log on UART1 (spec §1 boot).
            return Vec::new();
        }
        let n = self.rng.range(40, 200) as usize;
        (0..n)
            .map(|_| {
                // ROM text at 74880 read at 115200: mostly high-bit junk, never a line end
                // that could complete a fake `ready`.
                let b = (self.rng.next_u64() & 0xff) as u8;
                if b == b'\r' || b == b'\n' { 0xfe } else { b }
            })
            .collect()
    }

    /// Power-up or `AT+RST`: volatile state to defaults, noise, `ready` later.
    fn boot(&mut self, via_rst: bool) {
        let noise = self.boot_noise();
        if via_rst {
            // After the queued OK: back to the saved (`AT+UART_DEF`) rate.
            self.tx.push_baud_change(self.baud_saved);
        }
        self.boot_with_noise(noise);
    }

    fn boot_with_noise(&mut self, noise: Vec<u8>) {
        // A crash ends a send wait without SEND OK.
        self.end_send_wait();
        self.mode = Mode::Booting;
        self.line.clear();
        self.busy_line.clear();
        self.echo = true;
        self.mux = false;
        self.passive = false;
        self.dinfo = false;
        self.server_port = None;
        self.max_conn = MAX_LINKS as u8;
        self.sto_s = self.cfg.switches.default_cipsto_s;
        self.wifi_mode = self.wifi_mode_saved;
        self.wifi = WifiState::Disconnected;
        self.join_epoch += 1;
        self.had_link = false;
        if !noise.is_empty() {
            self.push(noise, Kind::Reply);
        }
        let boot = self.cfg.timing.boot_us;
        self.schedule_in(boot, Timer::BootDone);
    }

    fn schedule_spontaneous_reset(&mut self) {
        let rate = self.cfg.faults.resets_per_s;
        if rate > 0.0 {
            // Exponential inter-arrival time; 1 - unit() is in (0, 1].
            let u = 1.0 - self.rng.unit();
            let secs = -u.ln() / rate;
            let us = (secs * 1e6).min(1e15) as u64;
            // At least 1 ms apart so an absurd rate cannot stall the caller.
            self.schedule_in(us.max(1_000), Timer::SpontaneousReset);
        }
    }
}
