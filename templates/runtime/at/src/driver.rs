//! The sans-IO ESP8266 AT driver: bring-up, one command in flight, links, receive, send.
//!
//! The caller feeds every UART byte ([`Driver::feed`]), calls [`Driver::tick`] with the
//! current time, drains bytes to send with [`Driver::poll_transmit`], and asks for link
//! operations with [`Driver::issue`] when [`Driver::is_idle`]. What happens comes back as
//! [`Event`]s. The driver never reads a clock and owns no buffers beyond a 40-byte line.
//!
//! Rules it follows (see `esp-at-behaviour.md`): exactly one command in flight; `busy p...`
//! and `busy s...` mean "dropped, re-send later", never a reset; a CIPSEND payload is only
//! written after the prompt and the next CIPSEND only after `SEND OK|FAIL` (or a timeout);
//! links carry a generation so a reused id never receives an old client's data; passive
//! receive (`AT+CIPRECVMODE=1`) with a fallback to active `+IPD` when it is refused;
//! `AT+CIPSTATUS` + `AT+CIPRECVLEN?` polls rebuild the link table after lost notifications;
//! `ready` or an echoed command after `ATE0` means the ESP restarted, so everything is
//! re-initialised; every wait has a deadline.

use crate::cmd::{op, Command};
use crate::parser::{Parser, Token};
use core::marker::PhantomData;
use nanoesp_http::progmem::PStr;
use nanoesp_http::sink::Window;

/// Number of link ids the AT firmware has (0..=4).
pub const LINKS: usize = 5;
/// How often the link table is re-synchronised while idle.
pub const POLL_MS: u16 = 1000;
/// Bytes of a version string kept (`1.7.4.0`, `2.2.1.0-dev`).
pub const VERSION_MAX: usize = 12;
const PROBE_MS: u16 = 1000;
const CMD_MS: u16 = 3000;
const JOIN_MS: u16 = 25_000;
const PROMPT_MS: u16 = 3000;
const SEND_RESULT_MS: u16 = 6000;
const BUSY_RETRY_MS: u16 = 100;
const BOOT_WAIT_MS: u16 = 2500;
/// Marks payload bytes that come from `+CIPRECVDATA` rather than an active `+IPD`.
const FROM_PULL: u8 = 0xFF;

/// One client connection: link id plus a generation that changes whenever the id is reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    /// AT link id, 0..=4.
    pub id: u8,
    /// Generation of this id in the driver's link table.
    pub gen: u8,
}

/// The driver's configuration, at compile time: a firmware implements it on a type of its
/// own, so the code of options it does not use (softAP, stored Wi-Fi, baud negotiation,
/// `AT+UART_DEF`) is left out of its build, and no setting is read through a pointer.
pub trait Settings {
    /// SSID to join (station) or to create (softAP), raw bytes.
    const SSID: PStr;
    /// Password, raw bytes; empty for an open network.
    const PASSWORD: PStr;
    /// Hostname for DHCP and mDNS.
    const HOSTNAME: PStr;
    /// TCP port of the server.
    const PORT: u16;
    /// `AT+CIPSERVERMAXCONN` value.
    const MAX_CONN: u8;
    /// `AT+CIPSTO` seconds.
    const IDLE_TIMEOUT_S: u16;
    /// Baud of the link to the ESP. When it is not [`FACTORY_BAUD`] and probes go
    /// unanswered, the driver asks for [`FACTORY_BAUD`], sends `AT+UART_CUR=<baud>,8,1,0,0`
    /// (`_DEF` with [`Settings::SAVE_BAUD`]) and asks for `BAUD` again; see
    /// [`Driver::take_baud`]. 0 disables this.
    const BAUD: u32;
    /// Create an access point instead of joining one.
    const SOFTAP: bool;
    /// Station mode on the network saved in the ESP (`AT+CWJAP_DEF` by
    /// `nanoesp flash --provision`): no `AT+CWJAP`; bring-up waits until the ESP's own
    /// auto-connect has a station address ([`Event::WaitingStored`]).
    const STORED: bool;
    /// Negotiate with `AT+UART_DEF` instead of `AT+UART_CUR`: the ESP keeps `BAUD` across
    /// resets and power cycles, so later bring-ups need no negotiation. Each negotiation
    /// then writes the ESP's flash, and a rate the Nano cannot sustain locks it out.
    const SAVE_BAUD: bool;
}

/// The ESP8266 AT firmware's factory baud.
pub const FACTORY_BAUD: u32 = 115_200;
/// Unanswered probes before the baud is negotiated.
const PROBES_BEFORE_BAUD: u8 = 3;

/// What the driver reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// Started probing the ESP with `AT`.
    Probing,
    /// Several probes went unanswered (wiring, baud, power?); probing goes on.
    NoResponse,
    /// The AT version is known ([`Driver::version`]).
    Version,
    /// Joining the access point started.
    Joining,
    /// Joining failed with `+CWJAP:<code>` (0 = timeout/unknown); retried after `retry_s`.
    JoinFailed {
        /// 1 timeout, 2 wrong password, 3 AP not found, 4 connect failed, 0 no code
        code: u8,
        /// seconds until the next attempt
        retry_s: u8,
    },
    /// Stored mode: the ESP has no station address yet (its auto-connect has not joined);
    /// `AT+CIFSR` is asked again every second. Reported once until the next [`Event::Up`].
    WaitingStored,
    /// `WIFI DISCONNECT` while serving (the ESP reconnects by itself).
    WifiLost,
    /// The server is listening; [`Driver::ip`] is valid.
    Up,
    /// The ESP restarted: every link is gone, bring-up starts again.
    Reset,
    /// A client connected (also for a missed CONNECT found by polling).
    Connected(Link),
    /// A client's connection is gone.
    Closed(Link),
    /// One request byte from a client.
    Data {
        /// the client
        link: Link,
        /// the byte
        byte: u8,
    },
    /// A [`Request::Send`] finished (`SEND OK` = true).
    SendDone {
        /// the client
        link: Link,
        /// the ESP accepted the data
        ok: bool,
    },
}

/// Link operations the caller asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// `AT+CIPSEND`; the payload is asked from the caller through `poll_transmit`.
    Send {
        /// the client
        link: Link,
        /// payload bytes, 1..=2048
        len: u16,
    },
    /// `AT+CIPCLOSE`.
    Close(Link),
    /// `AT+CIPRECVDATA` (passive mode); bytes come back as [`Event::Data`].
    Pull {
        /// the client
        link: Link,
        /// most bytes wanted
        max: u16,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wait {
    Idle,
    /// The command line is being handed out.
    Line,
    // The two waits after a line: the prompt's before the final result's measured 2 B
    // smaller on the AVR.
    /// `AT+CIPSEND` written, its `OK` not yet seen.
    Prompt,
    /// Any other command written, its final result not yet seen.
    Final,
    /// `OK` seen: the next `>` is the prompt (a `>` in line noise before the `OK` is not).
    PromptOk,
    Payload,
    SendResult,
}

// The phase is one byte: a bring-up step (below), `BOOT` or `UP`. An enum with the step as
// a field took two bytes, and two stores at every step.
/// Waiting for `ready` (or the boot wait) before bring-up.
const BOOT: u8 = 0xFF;
/// Serving.
const UP: u8 = 0xFE;

// Bring-up steps, in order: each step sends the command of the same number (see
// `cmd::op`), and after the last one the server is up.
const S_PROBE: u8 = op::AT;
const S_ECHO: u8 = op::ECHO_OFF;
const S_VERSION: u8 = op::VERSION;
const S_MODE: u8 = op::WIFI_MODE;
const S_SOFTAP: u8 = op::SOFT_AP;
const S_HOSTNAME: u8 = op::HOSTNAME;
const S_JOIN: u8 = op::JOIN;
const S_MUX: u8 = op::MUX;
const S_PASSIVE: u8 = op::PASSIVE_RECV;
const S_MAXCONN: u8 = op::SERVER_MAX_CONN;
const S_IP: u8 = op::LOCAL_IP;
const S_MDNS: u8 = op::MDNS;
/// Outside the normal sequence: `AT+UART_CUR` (or `_DEF`) sent at the factory baud.
const S_BAUD: u8 = op::UART;
/// Before it: an `AT` at the factory baud, flushing the junk our wrong-rate probes left in
/// the ESP's line buffer (any final result will do).
const S_BAUD_PROBE: u8 = S_BAUD + 1;

#[derive(Clone, Copy, Debug)]
struct LinkState {
    open: bool,
    gen: u8,
    /// Bytes the ESP holds for this link (passive mode).
    pending: u16,
}

/// The link table before any link opened. A whole-array constant, so the driver's table
/// starts as one memset: `[LinkState::default(); LINKS]` was built on the stack and copied.
const NO_LINKS: [LinkState; LINKS] = [LinkState {
    open: false,
    gen: 0,
    pending: 0,
}; LINKS];

/// The driver (about 110 bytes of RAM).
///
/// `repr(C)` keeps the declaration order: on the AVR a field within 64 bytes of the struct's
/// start is one `ldd`/`std`, one further away first needs its address computed, so the
/// fields every step touches come first (in the order that measured smallest) and the long
/// buffers last. The two that do not start at zero lead, so `new` stores them and clears
/// the rest with one memset (spread out, they split it). With the firmware's driver in a
/// static, every field is an absolute address anyway. The configuration is no field: it
/// is the type `S`.
#[repr(C)]
pub struct Driver<S: Settings> {
    /// A bring-up step (`S_PROBE..=S_BAUD_PROBE`), `BOOT` or `UP`.
    phase: u8,
    data_link: u8,
    poll_recvlen: bool,
    tx_off: u16,
    target: Link,
    /// The command in flight, unless `wait` is `Idle` (then the last one).
    cmd: Command,
    wait: Wait,
    now: u32,
    /// When each [`Timer`] is due (wrapping milliseconds).
    timers: [u32; 4],
    /// Links to report as closed / connected from `tick` (found by polling).
    stale: u8,
    missed: u8,
    /// Links listed by, or connected during, the `AT+CIPSTATUS` in flight (one mask: only
    /// their union is ever read).
    seen: u8,
    passive: bool,
    plain: bool,
    failures: u8,
    join_failures: u8,
    join_code: u8,
    boot_armed: bool,
    links: [LinkState; LINKS],
    /// The caller must use [`FACTORY_BAUD`], not [`Settings::BAUD`] (a flag, not the 32-bit baud:
    /// comparing and storing that cost more); `baud_changed` until it took the baud.
    at_factory_baud: bool,
    baud_changed: bool,
    version_len: u8,
    ip: [u8; 4],
    parser: Parser,
    version: [u8; VERSION_MAX],
    settings: PhantomData<S>,
}

impl<S: Settings> Default for Driver<S> {
    fn default() -> Self {
        Self::new()
    }
}

/// `x % m` by subtraction: the AVR has no divide instruction, and this is smaller than the
/// library's division routine.
#[inline(never)]
fn rem(mut x: u8, m: u8) -> u8 {
    while x >= m {
        x -= m;
    }
    x
}

/// Whether a failed bring-up step among `S_PROBE..=S_MDNS` lets bring-up go on: the
/// hostname and mDNS are optional, and after a Nano reset the ESP may still be serving from
/// before: then CIPMUX and CIPSERVERMAXCONN answer ERROR while the running server (same
/// settings, same firmware) is fine, and CIPSERVER=1 answers `no change`. These are the odd
/// steps from `S_HOSTNAME` on but `AT+CIPSTO` (`S_BAUD_PROBE`, odd too, is handled before):
/// a bit test and two compares, 4 B smaller on the AVR than four compares of the step.
const fn tolerant(step: u8) -> bool {
    step >= S_HOSTNAME && step & 1 != 0 && step != op::SERVER_TIMEOUT
}
const _: () = assert!(
    tolerant(S_HOSTNAME) && tolerant(S_MUX) && tolerant(S_MAXCONN) && tolerant(S_MDNS),
    "the steps that may fail"
);

/// True once `now` has reached `t` (wrapping millisecond clock).
fn reached(now: u32, t: u32) -> bool {
    now.wrapping_sub(t) < 0x8000_0000
}

/// The driver's timers, by their byte offset in `Driver::timers` (index × 4, so finding
/// one takes no shifts on the AVR): a call names one by a byte instead of passing its
/// 32-bit time.
#[derive(Clone, Copy)]
#[repr(u8)]
enum Timer {
    /// The command in flight (or the boot wait) times out.
    Deadline = 0,
    /// No command goes out before it.
    NotBefore = 4,
    /// The next link-table poll.
    NextPoll = 8,
    /// The next link-table poll is a whole period late ([`Driver::poll_overdue`]).
    PollOverdue = 12,
}

impl<S: Settings> Driver<S> {
    /// Index of the lowest set bit of a non-zero link mask (`trailing_zeros` is large on AVR).
    ///
    /// An associated function, not a free one: the firmware's code is laid out in symbol
    /// order, where the driver's functions follow the server's `tick` (which calls this four
    /// times) within `rcall` reach; a free function of this crate came kilobytes later,
    /// each call a 4-byte `call` (8 B more on the AVR).
    #[inline(never)]
    pub fn lowest_bit(mut mask: u8) -> u8 {
        let mut i = 0;
        // Shifting the mask: `1 << i` is a loop of its own on the AVR.
        while i < 7 && mask & 1 == 0 {
            mask >>= 1;
            i += 1;
        }
        i
    }

    /// The baud is negotiated when probes go unanswered.
    const NEGOTIATE: bool = S::BAUD != 0 && S::BAUD != FACTORY_BAUD;

    /// A driver that waits for the ESP's `ready` (or probes after 2.5 s).
    pub fn new() -> Self {
        Driver {
            parser: Parser::new(),
            phase: BOOT,
            cmd: Command::new(op::AT),
            wait: Wait::Idle,
            target: Link { id: 0, gen: 0 },
            tx_off: 0,
            timers: [0; 4],
            now: 0,
            boot_armed: false,
            links: NO_LINKS,
            stale: 0,
            missed: 0,
            seen: 0,
            data_link: FROM_PULL,
            passive: false,
            plain: false,
            failures: 0,
            join_failures: 0,
            join_code: 0,
            poll_recvlen: false,
            version: [0; VERSION_MAX],
            version_len: 0,
            ip: [0; 4],
            at_factory_baud: false,
            baud_changed: false,
            settings: PhantomData,
        }
    }

    /// A new baud for the ESP link, once per change: finish sending what is queued, then
    /// switch the UART to it.
    pub fn take_baud(&mut self) -> Option<u32> {
        self.take_baud_is_factory()
            .map(|factory| if factory { FACTORY_BAUD } else { S::BAUD })
    }

    /// [`Driver::take_baud`] as whether the new baud is [`FACTORY_BAUD`] (else [`Settings::BAUD`]):
    /// a flag is cheaper for the firmware to pick its timing by than a 32-bit compare.
    pub fn take_baud_is_factory(&mut self) -> Option<bool> {
        if self.baud_changed {
            self.baud_changed = false;
            Some(self.at_factory_baud)
        } else {
            None
        }
    }

    #[inline(never)]
    fn set_factory_baud(&mut self, factory: bool) {
        if self.at_factory_baud != factory {
            self.at_factory_baud = factory;
            self.baud_changed = true;
        }
    }

    /// True when the server is listening.
    pub fn is_up(&self) -> bool {
        self.phase == UP
    }

    /// The time given to the last [`Driver::feed`] or [`Driver::tick`].
    pub fn now(&self) -> u32 {
        self.now
    }

    /// Sets the clock as [`Driver::tick`] would, without advancing anything.
    pub fn set_now(&mut self, now: u32) {
        self.now = now;
    }

    /// True when [`Driver::issue`] would accept a request now.
    #[inline(never)]
    pub fn is_idle(&self) -> bool {
        self.phase == UP && self.wait == Wait::Idle && self.is_reached(Timer::NotBefore)
    }

    /// The station (or softAP) IP address, valid after [`Event::Up`].
    pub fn ip(&self) -> [u8; 4] {
        self.ip
    }

    /// The AT version's whole buffer and its length: [`Driver::version`] is the buffer's
    /// first `len` bytes (clamped to [`VERSION_MAX`]). For copying the version whole.
    pub fn version_parts(&self) -> (&[u8; VERSION_MAX], u8) {
        (&self.version, self.version_len)
    }

    /// The AT version (`1.7.4.0`), empty until known.
    pub fn version(&self) -> &[u8] {
        // Clamped to `VERSION_MAX`, which the `AtVersion` copy never exceeds: smaller than
        // the bounds check and its panic call on the AVR.
        &self.version[..(self.version_len as usize).min(VERSION_MAX)]
    }

    /// True for an ESP-AT 2.x firmware (not reliable on the ESP8266).
    pub fn is_at2(&self) -> bool {
        self.version.first() == Some(&b'2')
    }

    /// True when passive receive is on (else request bytes arrive unasked).
    pub fn is_passive(&self) -> bool {
        self.passive
    }

    /// The generation of the live connection on `id`, if any: out of line for
    /// [`Driver::current`], as an `Option<u8>` comes back in registers and an
    /// `Option<Link>` (3 bytes) through the caller's stack frame.
    ///
    /// An associated function, not a free one: most of its calls are in the server's
    /// `tick`, which the driver's methods follow within `rcall` reach (see
    /// [`Driver::lowest_bit`]); as a free function it came before `main`, each of those a
    /// 4-byte `call` (6 B more on the AVR).
    #[inline(never)]
    fn live_gen(d: &Self, id: u8) -> Option<u8> {
        let l = d.links.get(id as usize)?;
        l.open.then_some(l.gen)
    }

    /// True if `link` is still the live connection on its id.
    // Through `live_gen`: a second copy of the table lookup cost more than the call. Inlined
    // around that call: its own out-of-line copy measured 6 B larger on the AVR.
    #[inline(always)]
    pub fn is_open(&self, link: Link) -> bool {
        Self::live_gen(self, link.id) == Some(link.gen)
    }

    /// Bytes the ESP is known to hold for `link` (passive mode).
    pub fn pending(&self, link: Link) -> u16 {
        // One lookup (`get`: no panic path) for the liveness test and the count: through
        // `is_open` it took a second, 14 B more on the AVR.
        match self.links.get(link.id as usize) {
            Some(l) if l.open && l.gen == link.gen => l.pending,
            _ => 0,
        }
    }

    /// The live connection on link id `id`, if any.
    #[inline(always)]
    pub fn current(&self, id: u8) -> Option<Link> {
        Self::live_gen(self, id).map(|gen| Link { id, gen })
    }

    /// True once timer `t` is due (its time is reached).
    ///
    /// The name is ten letters long for the code layout: the driver's methods are laid out
    /// in symbol order, where a name's length comes first, so a ten-letter one comes first,
    /// within `rcall` reach of the firmware main loop's call (`due` came last: 2 B more on
    /// the AVR).
    #[inline(never)]
    fn is_reached(&self, t: Timer) -> bool {
        reached(self.now, self.timers[t as usize / 4])
    }

    /// Timer `t` is due `ms` from now. Delays are 16-bit (all are under a minute): loading a
    /// 32-bit constant costs twice the code on the AVR.
    #[inline(never)]
    fn set_timer(&mut self, t: Timer, ms: u16) {
        self.timers[t as usize / 4] = self.now.wrapping_add(ms as u32);
    }

    /// No command goes out for `ms` from now.
    fn hold_off(&mut self, ms: u16) {
        self.set_timer(Timer::NotBefore, ms);
    }

    /// The next link-table poll is due one period from now.
    fn schedule_poll(&mut self) {
        self.set_timer(Timer::NextPoll, POLL_MS);
        self.set_timer(Timer::PollOverdue, 2 * POLL_MS);
    }

    /// The command in flight times out `ms` from now.
    fn time_out_in(&mut self, ms: u16) {
        self.set_timer(Timer::Deadline, ms);
    }

    /// Sends command `op`. For a link operation `issue_op` has set the target, the link id
    /// and the length first; the other lines write none of them, so they are left as they
    /// are (passing a command and a target measured 48 B larger on the AVR, passing the
    /// length 12 B and setting the id here from the target 4 B).
    #[inline(never)]
    fn start(&mut self, op: u8, timeout: u16) {
        self.cmd.op = op;
        rewind(self, Wait::Line, Timer::Deadline, timeout);
    }

    fn finish(&mut self) {
        self.wait = Wait::Idle;
    }

    /// Starts a link operation; false (and nothing happens) unless [`Driver::is_idle`].
    #[inline(always)]
    pub fn issue(&mut self, req: Request) -> bool {
        let (link, kind, len, allowed) = match req {
            Request::Send { link, len } => (link, op::SEND, len, len != 0 && len <= 2048),
            Request::Close(link) => (link, op::CLOSE, 0, true),
            Request::Pull { link, max } => (link, op::RECV_DATA, max, self.passive),
        };
        self.issue_op(link, kind, len, allowed)
    }

    /// [`Driver::issue`] past the unpacking of its request. A `Request` (5 bytes) passed
    /// out of line went through memory and cost each caller a stack frame; its parts passed
    /// to an out-of-line `issue_op` went in registers, and inlining this as well (the
    /// server has two calls) measured 20 B smaller still on the AVR. Left to the compiler
    /// since `Parser::feed` is inlined: 2 B smaller than forced.
    fn issue_op(&mut self, link: Link, kind: u8, len: u16, allowed: bool) -> bool {
        if !self.is_idle() {
            return false;
        }
        // `is_open` is always inlined (on `live_gen`): out of line, `kind` was kept in a
        // stack frame around its call.
        if !allowed || !self.is_open(link) {
            return false;
        }
        let timeout = if kind == op::SEND { PROMPT_MS } else { CMD_MS };
        self.target = link;
        self.cmd.id = link.id;
        self.cmd.len = len;
        self.start(kind, timeout);
        true
    }

    /// Whether the periodic link-table poll is a whole period late: under constant load
    /// the caller always has something to [`Driver::issue`], and a lost `CONNECT` or
    /// `+IPD` would never be found. Then [`Driver::housekeeping`] should go first.
    pub fn poll_overdue(&self) -> bool {
        self.is_reached(Timer::PollOverdue)
    }

    /// Runs the periodic link-table re-synchronisation when idle; call when there is
    /// nothing to [`Driver::issue`] (or first, when [`Driver::poll_overdue`]).
    pub fn housekeeping(&mut self) {
        if !self.is_idle() {
            return;
        }
        if self.poll_recvlen && self.passive {
            self.poll_recvlen = false;
            self.start(op::RECV_LEN, CMD_MS);
        } else if self.is_reached(Timer::NextPoll) {
            self.schedule_poll();
            self.seen = 0;
            self.poll_recvlen = self.passive;
            self.start(op::LINK_STATUS, CMD_MS);
        }
    }

    /// Hands out bytes to write to the ESP (command lines, then send payloads).
    ///
    /// `payload(link, offset, out)` must fill `out` with the send payload starting at
    /// `offset` within the current [`Request::Send`] and return the count written.
    pub fn poll_transmit(
        &mut self,
        out: &mut [u8],
        payload: &mut dyn FnMut(Link, u16, &mut [u8]) -> usize,
    ) -> usize {
        if !self.is_reached(Timer::NotBefore) || out.is_empty() {
            return 0;
        }
        // The line or the payload: how much was handed out and where it ends. One update of
        // the offset for both (10 B smaller on the AVR than one each).
        let (n, end) = match self.wait {
            Wait::Line => {
                let mut w = Window::new(self.tx_off, out);
                self.cmd.emit::<S>(&mut w, self.plain);
                (w.filled(), w.total())
            }
            // Only a send has a payload.
            Wait::Payload => {
                let len = self.cmd.len;
                let want = ((len - self.tx_off) as usize).min(out.len());
                let n = payload(self.target, self.tx_off, &mut out[..want]).min(want);
                (n, len)
            }
            _ => return 0,
        };
        self.tx_off += n as u16;
        if self.tx_off >= end {
            if self.wait == Wait::Payload {
                // Through `rewind` (6 B smaller on the AVR): the offset it clears is not
                // read again before the next line.
                rewind(self, Wait::SendResult, Timer::Deadline, SEND_RESULT_MS);
            } else {
                self.wait = if self.cmd.op == op::SEND {
                    Wait::Prompt
                } else {
                    Wait::Final
                };
            }
        }
        n
    }

    /// Feeds one byte received from the ESP.
    pub fn feed(&mut self, byte: u8, now: u32) -> Option<Event> {
        self.set_now(now);
        self.feed_again(byte)
    }

    /// [`Driver::feed`] at the time it was last given (for a caller that sets the clock
    /// once per loop pass with [`Driver::set_now`]).
    pub fn feed_again(&mut self, byte: u8) -> Option<Event> {
        let tok = self.parser.feed(byte)?;
        self.on_token(tok)
    }

    fn on_token(&mut self, tok: Token) -> Option<Event> {
        match tok {
            Token::Data(byte) => {
                // From a pull: the link pulled from, while the pull is in flight and it is
                // still the live connection on its id; from an active `+IPD`: the live
                // connection on its id, if any (one table lookup each: a link built first
                // and tested after took a second one for the `+IPD` one, 6 B more on the
                // AVR). Early `None`s: built as one value, the event was packed into four
                // registers before it was stored.
                let id = self.data_link;
                let link = if id == FROM_PULL {
                    if self.wait == Wait::Idle || self.cmd.op != op::RECV_DATA {
                        return None;
                    }
                    if !self.is_open(self.target) {
                        return None;
                    }
                    self.target
                } else {
                    Link {
                        id,
                        gen: Self::live_gen(self, id)?,
                    }
                };
                Some(Event::Data { link, byte })
            }
            Token::IpdData(id) => {
                self.data_link = id;
                adopt(self, id)
            }
            Token::RecvData => {
                let n = self.parser.count();
                self.data_link = FROM_PULL;
                let l = link_mut(self, self.target.id);
                l.pending = l.pending.saturating_sub(n);
                None
            }
            Token::IpdNotice(id) => {
                let len = self.parser.count();
                let ev = adopt(self, id);
                // AT 1.7 re-announces the total buffered, AT 2.x the amount that arrived;
                // taking the larger is safe either way (a pull returns what there is).
                let l = link_mut(self, id);
                l.pending = l.pending.max(len);
                ev
            }
            Token::Connect(id) => {
                // A CONNECT on a live id means we missed its CLOSED: it is a new client.
                open(self, id, false)
            }
            Token::Closed(id) | Token::ConnectFail(id) => close(self, id),
            Token::Ready => reset_detected(self),
            Token::Echo => {
                if self.phase == UP {
                    reset_detected(self)
                } else {
                    None
                }
            }
            Token::Ok | Token::Error | Token::Fail => self.final_result(matches!(tok, Token::Ok)),
            Token::Prompt => {
                if self.wait == Wait::PromptOk {
                    rewind(self, Wait::Payload, Timer::Deadline, PROMPT_MS);
                }
                None
            }
            Token::SendOk | Token::SendFail => {
                if self.wait == Wait::SendResult {
                    return send_done(self, matches!(tok, Token::SendOk));
                }
                None
            }
            Token::BusyP | Token::BusyS => {
                if matches!(self.wait, Wait::Final | Wait::Prompt) {
                    // The command was dropped: send it again a little later.
                    rewind(self, Wait::Line, Timer::NotBefore, BUSY_RETRY_MS);
                }
                None
            }
            Token::RecvLen => {
                let links = &mut self.links;
                let missed = &mut self.missed;
                // The link's bit in `missed`, shifted along (cheaper than `1 << id`).
                let mut bit = 1;
                self.parser.each_recv_len(|k, len| {
                    let l = &mut links[k];
                    // Never lower it: a `+IPD` notice may have overtaken this (older) reply.
                    // A pull of a link without data just answers ERROR, which clears it.
                    l.pending = l.pending.max(len);
                    if len > 0 && !l.open {
                        *missed |= bit;
                    }
                    bit <<= 1;
                });
                None
            }
            Token::CipStatus(id) => {
                mark_seen(self, id);
                adopt(self, id)
            }
            Token::Cwjap(code) => {
                self.join_code = code;
                None
            }
            Token::Ip { ap } => {
                if ap == S::SOFTAP {
                    self.ip = self.parser.ip();
                }
                None
            }
            Token::AtVersion => {
                let mut n = 0;
                for (v, &b) in self.version.iter_mut().zip(self.parser.value()) {
                    if b == b'(' || b <= b' ' {
                        break;
                    }
                    *v = b;
                    n += 1;
                }
                self.version_len = n;
                None
            }
            Token::WifiDisconnect => (self.phase == UP).then_some(Event::WifiLost),
            Token::LinkInvalid | Token::Unlink => {
                // The link operations are the last commands.
                if self.wait != Wait::Idle
                    && self.cmd.op >= op::RECV_DATA
                    && self.is_open(self.target)
                {
                    return close(self, self.target.id);
                }
                None
            }
            Token::AlreadyConnected
            | Token::NoChange
            | Token::WifiConnected
            | Token::WifiGotIp
            | Token::Other => None,
        }
    }

    fn final_result(&mut self, ok: bool) -> Option<Event> {
        // Without a command in flight (`Wait::Idle`) no arm matches. Only a send waits for
        // its prompt, payload or result, so those waits need no test of the command.
        let cmd = self.cmd;
        match self.wait {
            // `OK` comes before the prompt.
            Wait::Prompt if ok => {
                self.wait = Wait::PromptOk;
                None
            }
            // ERROR before the prompt, during the payload or instead of SEND OK.
            Wait::Prompt | Wait::PromptOk | Wait::Payload | Wait::SendResult => {
                send_done(self, false)
            }
            Wait::Final => {
                self.finish();
                match self.phase {
                    UP | BOOT => self.up_result(cmd, ok),
                    step => self.init_result(step, ok),
                }
            }
            _ => None,
        }
    }

    fn up_result(&mut self, cmd: Command, ok: bool) -> Option<Event> {
        self.failures = 0;
        let id = self.target.id;
        match cmd.op {
            op::RECV_DATA if !ok => {
                link_mut(self, id).pending = 0;
                None
            }
            op::CLOSE if self.is_open(self.target) => close(self, id),
            op::LINK_STATUS if ok => {
                // Bit `id` for each open link, shifted in from the top id down (a constant
                // shift is one instruction, `1 << id` a loop on the AVR).
                let open = self
                    .links
                    .iter()
                    .rev()
                    .fold(0u8, |m, l| m << 1 | l.open as u8);
                self.stale |= open & !self.seen;
                None
            }
            _ => None,
        }
    }

    /// The final result of bring-up step `step` (the command of that number, or `AT` for
    /// `S_BAUD_PROBE`).
    fn init_result(&mut self, step: u8, ok: bool) -> Option<Event> {
        match step {
            S_BAUD_PROBE => {
                self.phase = S_BAUD;
                return None;
            }
            S_MODE if !ok && !self.plain => {
                // 2.x has no `_CUR` variants: retry with the plain spelling.
                self.plain = true;
                return None;
            }
            S_JOIN if !ok => {
                let code = self.join_code;
                self.join_code = 0;
                // Counted up to 5: every count from 5 on waits the same (a cap is cheaper
                // than `saturating_add` on the AVR).
                let failures = self.join_failures.min(4) + 1;
                self.join_failures = failures;
                // 5, 10, 20, 40, then 60 s: shifts, where a `match` of constants became a
                // lookup table copied into SRAM, and the delay in ms is shifted too rather
                // than multiplied from the seconds (a multiply costs more on the AVR).
                let (retry_s, retry_ms) = if failures == 5 {
                    (60, 60_000)
                } else {
                    // Both doubled in one loop: a shift of each by the count was two loops.
                    let (mut retry_s, mut retry_ms) = (5u8, 5000u16);
                    for _ in 1..failures {
                        retry_s <<= 1;
                        retry_ms <<= 1;
                    }
                    (retry_s, retry_ms)
                };
                self.hold_off(retry_ms);
                return Some(Event::JoinFailed { code, retry_s });
            }
            S_PASSIVE => {
                self.passive = ok;
            }
            // Stored mode: no station address (0.0.0.0) means not joined yet; ask again in
            // a second (each try is bounded by CMD_MS), saying so once.
            S_IP if S::STORED && self.ip[0] == 0 => {
                self.hold_off(1000);
                if self.join_failures == 0 {
                    self.join_failures = 1;
                    return Some(Event::WaitingStored);
                }
                return None;
            }
            S_BAUD => {
                // `OK` came at the old rate; the ESP switches right after it.
                self.baud_done();
                return None;
            }
            // A failed step is retried, unless `tolerant` lets bring-up go on.
            _ if !ok && !tolerant(step) => {
                self.failures += 1;
                if self.failures > 3 {
                    self.restart_init(500);
                } else {
                    self.hold_off(500);
                }
                return None;
            }
            _ => {}
        }
        self.failures = 0;
        if step == S_JOIN || step == S_IP {
            self.join_failures = 0;
        }
        self.phase = step + 1;
        match step {
            S_VERSION => {
                if self.is_at2() {
                    self.plain = true;
                }
                Some(Event::Version)
            }
            S_MDNS => self.enter_up(),
            _ => None,
        }
    }

    // Inlined into its two callers: 14 B smaller on the AVR than out of line.
    #[inline(always)]
    fn enter_up(&mut self) -> Option<Event> {
        self.phase = UP;
        self.schedule_poll();
        Some(Event::Up)
    }

    fn baud_done(&mut self) {
        self.set_factory_baud(false);
        self.phase = S_PROBE;
        self.hold_off(50);
    }

    /// Bring-up starts again with a probe `ms` from now.
    fn restart_init(&mut self, ms: u16) {
        self.phase = S_PROBE;
        self.failures = 0;
        self.hold_off(ms);
    }

    /// Advances time: timeouts, bring-up commands and link events found by polling.
    ///
    /// Call it until it returns `None` (it returns at most a handful of events per call).
    pub fn tick(&mut self, now: u32) -> Option<Event> {
        self.set_now(now);
        self.tick_again()
    }

    /// [`Driver::tick`] at the time it was last given.
    pub fn tick_again(&mut self) -> Option<Event> {
        if self.stale != 0 {
            let id = Self::lowest_bit(self.stale);
            // `m & (m - 1)` clears the lowest set bit without a shift loop.
            self.stale &= self.stale - 1;
            if let Some(ev) = close(self, id) {
                return Some(ev);
            }
        }
        if self.missed != 0 {
            let id = Self::lowest_bit(self.missed);
            self.missed &= self.missed - 1;
            // The table through `live_gen`: smaller than indexing it here.
            if Self::live_gen(self, id).is_none() && self.phase == UP {
                return open(self, id, true);
            }
        }
        if self.wait != Wait::Idle && self.is_reached(Timer::Deadline) {
            return self.on_timeout();
        }
        match self.phase {
            BOOT => {
                if !self.boot_armed {
                    self.boot_armed = true;
                    self.time_out_in(BOOT_WAIT_MS);
                } else if self.is_reached(Timer::Deadline) {
                    self.phase = S_PROBE;
                }
                None
            }
            UP => None,
            step if self.wait == Wait::Idle && self.is_reached(Timer::NotBefore) => {
                self.init_next(step)
            }
            _ => None,
        }
    }

    /// Starts bring-up step `step`, or the next one that applies to this configuration.
    // Inlined into the caller's tick: with the server a static (absolute addresses) this
    // measured 28 B smaller on the AVR than out of line (with it in main's frame, 20 B larger).
    #[inline(always)]
    fn init_next(&mut self, mut step: u8) -> Option<Event> {
        let station = !S::SOFTAP;
        loop {
            let applies = match step {
                S_SOFTAP => !station,
                S_HOSTNAME | S_MDNS => station,
                S_JOIN => station && !S::STORED,
                _ => true,
            };
            if applies {
                break;
            }
            if step == S_MDNS {
                // The last step: the softAP is up.
                return self.enter_up();
            }
            step += 1;
        }
        self.start_step(step);
        match step {
            S_PROBE if self.failures == 0 => Some(Event::Probing),
            S_JOIN => Some(Event::Joining),
            _ => None,
        }
    }

    /// A probe went unanswered: waits for the next one, or turns to baud negotiation. True
    /// when `Event::NoResponse` is due. Out of line: inlined into the caller's tick loop,
    /// its two waits were held there in saved registers.
    #[inline(never)]
    fn probe_timed_out(&mut self) -> bool {
        self.failures = self.failures.wrapping_add(1);
        // One hold-off call, with the wait of whichever probe comes next.
        let mut wait_ms = 200;
        if Self::NEGOTIATE && rem(self.failures, 2 * PROBES_BEFORE_BAUD) == PROBES_BEFORE_BAUD {
            // Maybe the ESP still runs at its factory rate: tell it ours from there.
            self.set_factory_baud(true);
            self.phase = S_BAUD_PROBE;
            // Let the caller drain and switch before the command goes out.
            wait_ms = 50;
        }
        self.hold_off(wait_ms);
        rem(self.failures, 5) == 0
    }

    /// Enters bring-up step `step` and sends its command. Out of line: inlined into the
    /// caller's tick loop, the timeouts were held there in saved registers.
    #[inline(never)]
    fn start_step(&mut self, step: u8) {
        let timeout = match step {
            S_PROBE => PROBE_MS,
            S_SOFTAP | S_JOIN => JOIN_MS,
            S_BAUD | S_BAUD_PROBE => 300,
            _ => CMD_MS,
        };
        // `S_BAUD_PROBE` sends a plain `AT`.
        let cmd = if step == S_BAUD_PROBE { S_PROBE } else { step };
        self.phase = step;
        self.start(cmd, timeout);
    }

    /// The command in flight timed out.
    fn on_timeout(&mut self) -> Option<Event> {
        if self.cmd.op == op::SEND {
            return send_done(self, false);
        }
        self.finish();
        match self.phase {
            // Timed out is taken as failed: the baud probe only flushes the ESP's line
            // buffer and our receiver may not cope with the factory rate (soft serial),
            // so the switch goes out blind, as WiFiEspAT's ChangeATBaudRate does; the
            // switch's `OK` may come at the new rate; a join that never ends failed.
            step @ (S_BAUD_PROBE | S_BAUD | S_JOIN) => self.init_result(step, false),
            S_PROBE => self.probe_timed_out().then_some(Event::NoResponse),
            UP | BOOT => {
                // A lost reply. Three in a row: the ESP is gone or deaf, start over.
                self.failures += 1;
                if self.failures >= 3 {
                    // Reports `Event::Reset`: `BOOT` never has a command in flight, so the
                    // phase is `UP`.
                    return reset_detected(self);
                }
                None
            }
            _ => {
                self.restart_init(500);
                None
            }
        }
    }
}

// The driver's out-of-line helpers that the firmware's main loop calls (through the inlined
// `feed`): free functions generic over the settings, not methods. The firmware's code is laid
// out in symbol order, where an instance of a generic function (`_RI...`) comes before
// `main`, within `rcall` reach of its calls, and a method of the generic `Driver`
// (`_RNvMs...`) after the server's functions, kilobytes away, each call a 4-byte `call`
// (26 B more on the AVR). The helpers the server's `tick` calls stay methods: they are
// within reach of it.

/// The table entry of link id `id` (< `LINKS`), out of line: one lookup for the writers
/// instead of one each (the readers measured smaller without it). Every id given here
/// is a parsed link id (0..=4), a bit of a five-link mask or a target `issue` checked,
/// so the index is clamped rather than bounds-checked: no panic path on the AVR.
#[inline(never)]
fn link_mut<S: Settings>(d: &mut Driver<S>, id: u8) -> &mut LinkState {
    &mut d.links[(id as usize).min(LINKS - 1)]
}

/// A link the ESP reports in use: a client connected unless we know it already.
#[inline(never)]
fn adopt<S: Settings>(d: &mut Driver<S>, id: u8) -> Option<Event> {
    // `get`, not an index: one panic path fewer (`open` still rejects a bad id).
    if d.links.get(id as usize).is_some_and(|l| l.open) {
        None
    } else {
        open(d, id, false)
    }
}

/// Waits for `wait`, handing out the line or payload from its start, with timer `t` due
/// `ms` from now. Out of line: one copy of the stores and the timer call for its three
/// callers (26 B smaller on the AVR than each doing them).
#[inline(never)]
fn rewind<S: Settings>(d: &mut Driver<S>, wait: Wait, t: Timer, ms: u16) {
    d.wait = wait;
    d.tx_off = 0;
    d.set_timer(t, ms);
}

/// Link `id` was listed by, or connected during, the `AT+CIPSTATUS` in flight. Out of
/// line: `1 << id` is a loop on the AVR, one copy for both callers.
#[inline(never)]
fn mark_seen<S: Settings>(d: &mut Driver<S>, id: u8) {
    d.seen |= 1 << id;
}

/// A new client on link `id` (reported as connected). Its pending count starts at 0,
/// or with `keep_pending` stays what a `+CIPRECVLEN` found for it (a flag: saving and
/// restoring the count around the call cost 6 B more on the AVR).
#[inline(never)]
fn open<S: Settings>(d: &mut Driver<S>, id: u8, keep_pending: bool) -> Option<Event> {
    // First: held across this call, the table entry took two more saved registers.
    mark_seen(d, id);
    // Early data may come without a +IPD notice (esp-at#294): in passive mode, ask for the
    // lengths (an `|=`, no branch).
    d.poll_recvlen |= d.passive;
    let l = link_mut(d, id);
    l.gen = l.gen.wrapping_add(1);
    l.open = true;
    if !keep_pending {
        l.pending = 0;
    }
    Some(Event::Connected(Link { id, gen: l.gen }))
}

// Inlined into its four callers: 6 B smaller on the AVR than one out-of-line copy (which
// measured smaller before the timers were reworked; the balance is close).
#[inline(always)]
fn close<S: Settings>(d: &mut Driver<S>, id: u8) -> Option<Event> {
    let l = link_mut(d, id);
    if !l.open {
        return None;
    }
    l.open = false;
    l.pending = 0;
    Some(Event::Closed(Link { id, gen: l.gen }))
}

/// The send in flight is over: `SEND OK` (`ok`), or failed. Out of line: one copy for
/// its three callers measured 12 B smaller on the AVR.
#[inline(never)]
fn send_done<S: Settings>(d: &mut Driver<S>, ok: bool) -> Option<Event> {
    d.finish();
    Some(Event::SendDone { link: d.target, ok })
}

#[inline(never)]
fn reset_detected<S: Settings>(d: &mut Driver<S>) -> Option<Event> {
    let was = d.phase;
    d.parser.clear();
    d.finish();
    for l in d.links.iter_mut() {
        // A link that was open gets a new generation (no branch: smaller).
        l.gen = l.gen.wrapping_add(l.open as u8);
        l.open = false;
        l.pending = 0;
    }
    d.stale = 0;
    d.missed = 0;
    d.passive = false;
    d.poll_recvlen = false;
    d.restart_init(0);
    match was {
        BOOT | S_PROBE..=S_ECHO => None,
        _ => Some(Event::Reset),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerant_steps_are_hostname_mux_maxconn_and_mdns() {
        for step in S_PROBE..=S_MDNS {
            assert_eq!(
                tolerant(step),
                matches!(step, S_HOSTNAME | S_MUX | S_MAXCONN | S_MDNS),
                "step {step}"
            );
        }
    }

    #[test]
    fn rem_is_the_remainder() {
        for x in 0..=u8::MAX {
            for m in [5, 2 * PROBES_BEFORE_BAUD] {
                assert_eq!(rem(x, m), x % m);
            }
        }
    }
}
