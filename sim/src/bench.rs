//! `nanoesp-sim bench`: K concurrent virtual HTTP clients against the firmware, in
//! simulated time (deterministic: the emulator's `net_*` calls, no real sockets).
//!
//! Each K starts from a fresh power-on. The server is "ready" when the emulated ESP
//! accepts clients (Wi-Fi joined and `AT+CIPSERVER=1` done). Each client then loops:
//! connect, send `GET /api/status` (every other request `GET /`) with
//! `Connection: close`, read until the server closes, check the response, repeat.
//!
//! Wire-bound ratio: for each request we count the UART bytes actually exchanged on the
//! link (both directions, AT commands, prompts, `+IPD` headers and payload included). The
//! link is full duplex, so the busier direction bounds throughput:
//! `max_rps = (baud / 10) / max(bytes_to_esp, bytes_from_esp) per request`, and
//! `wire_bound_ratio = requests_per_s / max_rps` (1.0 = the firmware saturates the wire).
//!
//! ESP-bound ratio: the wire is not the only limit. The AT firmware runs one `AT+CIPSEND`
//! at a time for all links, and from the end of the payload (`Recv <n> bytes`) until it
//! reports `SEND OK`/`SEND FAIL` it refuses every command line with `busy s...`: towards
//! the ESP nothing useful can move during that "send wait" (the emulator draws it per send
//! from `Timing::send_ok_us`). The emulator accounts the waits exactly
//! (`Esp::send_wait_us`: the ESP's own state, without the output gaps that may delay the
//! `SEND OK` line on the wire further). Per finished request — the same denominator and
//! window (`measured_s`) as the byte counts above — the bench reports
//! `send_wait_ms_per_request`, `sends_per_request`, and the bytes sent to the ESP during
//! waits (`uart_bytes_to_esp_in_send_wait_per_request`: refused, so wasted; 0 for a
//! firmware that waits for `SEND OK`). Then, per request,
//! `esp_bound_requests_per_s = 1 / ((bytes_to_esp - bytes_in_wait) / (baud / 10) + send_wait_s)`
//! and `esp_bound_ratio = requests_per_s / esp_bound_requests_per_s`.
//!
//! Why this bounds any firmware that sends the same bytes with the same number of sends:
//! within the window, the wire time of each byte towards the ESP that is not sent into a
//! wait, and the waits themselves, are disjoint stretches of time, so
//! `measured_s ≥ finished × (useful bytes × 10 / baud + wait)` per request: finished
//! requests per second (≥ `requests_per_s`, which counts correct ones only) cannot exceed
//! the bound. The wait per send is the module's doing, not the firmware's (random per
//! send, so the bound holds for this run's draws and on average for any run): a firmware
//! can only raise the bound by sending fewer bytes or fewer `CIPSEND`s per request. The
//! ESP → Nano direction never stalls this way; `wire_max_requests_per_s` bounds it.
//!
//! Turn bound: where the rest of the time goes. A firmware that keeps one command in
//! flight (as the AT firmware requires) waits after each command line until the reply has
//! arrived; the emulator accounts these ESP turns (`Esp::esp_turn_us`: processing, the
//! output gaps before reply lines, the reply on the wire, the send waits). Turns are
//! disjoint, and so are the bytes sent to the ESP outside them, so
//! `turn_bound_requests_per_s = 1 / ((bytes_to_esp - bytes_in_turns) / (baud / 10) + turn_s)`
//! bounds this firmware with its own commands per request; `turn_bound_ratio` below 1 is
//! the time neither side was in a turn: the firmware's own reaction time and waits for
//! clients and their URCs. Unlike the ESP bound it depends on the firmware's command mix.
//!
//! Start-up: `ready_ms` counts from power-on, so it includes the ESP's boot and its Wi-Fi
//! join (the firmware's `AT+CWJAP`, or the auto-join 1–6 s after boot with saved
//! credentials). `wifi_joined_ms` is when the emulated ESP got its address (`WIFI GOT IP`,
//! from the emulator's state, even if a fault drops the line), and
//! `up_after_join_ms = ready_ms - wifi_joined_ms` is the firmware's share: how long the
//! server took to come up once Wi-Fi was there.

use std::collections::BTreeMap;
use std::path::Path;

use nanoesp_espemu::{ConnId, Esp, NetEvent};
use serde::Serialize;

use crate::avr::{F_CPU, HandlerLatency, us_to_cycles};
use crate::board::{Board, ConsoleMode, LinkConfig, LinkKind};
use crate::cli::BenchArgs;
use crate::error::SimError;
use crate::esp::{EmuPort, EmuSettings, build_emulator};
use crate::image::{FlashPlan, power_on};
use crate::rxcheck::{RxCounts, find_rx_ring};

/// Simulated time between client polls (latency resolution).
const POLL_US: u64 = 500;

/// Results of one K.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunReport {
    /// Concurrent clients.
    pub clients: u32,
    /// Simulated ms from reset to the server accepting clients (None: never).
    pub ready_ms: Option<f64>,
    /// Simulated ms from reset to the emulated ESP getting its address (`WIFI GOT IP`) for
    /// the join the server came up on (None: never ready).
    pub wifi_joined_ms: Option<f64>,
    /// `ready_ms - wifi_joined_ms`: the server start once Wi-Fi is up (0 when the server
    /// was set up before the join completed).
    pub up_after_join_ms: Option<f64>,
    /// Requests started.
    pub attempts: u64,
    /// Responses that were complete and correct.
    pub ok: u64,
    /// Complete `503` answers: connections beyond `http.max_clients`, turned away at once
    /// by design (the client tries again 100 ms later, like a browser).
    pub busy_503: u64,
    /// Failures by kind: timeout, refused, bad_status, truncated, bad_body, and
    /// not_recovered (an ESP crash after which the server was not back within the ready
    /// timeout). Requests lost to an ESP crash are not among them (`lost_to_esp_crash`).
    pub failures: BTreeMap<String, u64>,
    /// ESP crashes in the load window (the faults profile injects one per ten simulated
    /// minutes on average): the module reboots and drops its server and every connection.
    pub esp_crashes: u32,
    /// Requests that failed while an outage overlapped them: from a crash until the
    /// emulated ESP accepted clients again (the firmware had seen the reboot, Wi-Fi had
    /// rejoined and the server was set up anew). The module lost them: no firmware can
    /// answer a client whose connection the ESP dropped, or that connects while it boots.
    /// An outage longer than the ready timeout excuses nothing (and is `not_recovered`).
    pub lost_to_esp_crash: u64,
    /// Longest outage after an ESP crash, simulated ms (None: no crash).
    pub crash_recovery_ms: Option<f64>,
    /// Simulated seconds from the first request to the last answer: the load window plus
    /// the drain, in which requests still in flight at its end are finished (never counted
    /// as failures for being cut off), so
    /// `attempts = ok + busy_503 + lost_to_esp_crash + failures`.
    pub measured_s: f64,
    /// Correct responses per simulated second of `measured_s`.
    pub requests_per_s: f64,
    /// Latency of correct responses, simulated ms.
    pub latency_ms: Latency,
    /// Mean UART bytes Nano → ESP per finished request.
    pub uart_bytes_to_esp_per_request: f64,
    /// Mean UART bytes ESP → Nano per finished request.
    pub uart_bytes_from_esp_per_request: f64,
    /// Requests per second the link baud allows for those bytes.
    pub wire_max_requests_per_s: f64,
    /// requests_per_s / wire_max_requests_per_s.
    pub wire_bound_ratio: f64,
    /// Mean simulated ms per finished request the ESP spent in send waits (payload
    /// accepted, `SEND OK`/`SEND FAIL` not yet reported; all commands get `busy s...`).
    pub send_wait_ms_per_request: f64,
    /// Mean `AT+CIPSEND` payloads accepted by the ESP per finished request.
    pub sends_per_request: f64,
    /// Mean UART bytes Nano → ESP per finished request sent during send waits (refused).
    pub uart_bytes_to_esp_in_send_wait_per_request: f64,
    /// Requests per second the ESP allows for those bytes and waits (see the module doc).
    pub esp_bound_requests_per_s: f64,
    /// requests_per_s / esp_bound_requests_per_s.
    pub esp_bound_ratio: f64,
    /// Mean simulated ms per finished request in the ESP's turns: from each command line
    /// (or CIPSEND payload) the firmware sent until the module took input again and its
    /// last reply byte had arrived. Contains the send waits.
    pub esp_turn_ms_per_request: f64,
    /// Mean UART bytes Nano → ESP per finished request sent during ESP turns.
    pub uart_bytes_to_esp_in_turn_per_request: f64,
    /// Requests per second this firmware's own command sequence allows if it reacted
    /// at once to every reply and URC (see the module doc).
    pub turn_bound_requests_per_s: f64,
    /// requests_per_s / turn_bound_requests_per_s.
    pub turn_bound_ratio: f64,
    /// ESP bytes lost to USART overruns (hardware link only).
    pub overruns: u64,
    /// Soft-UART frames from the firmware with a low stop bit.
    pub framing_errors: u64,
    /// Sub-sample low pulses on the firmware's TX line that the receiver ignored: artefacts
    /// of the simulator, see `softuart::Decoder` (soft link only).
    pub tx_glitches: u64,
    /// Soft link, ELF firmware: the ESP's frames checked against what the firmware's
    /// receiver pushed into its ring (see `rxcheck`); misread, lost and spurious bytes are
    /// the receiver's faults.
    pub receiver: Option<RxCounts>,
    /// Soft link, during the load: how late the Timer1 compare handlers ran, in cycles
    /// after their match. The reloads must stay under one bit (`bit_cycles`) or a bit is
    /// lost; the receive samples should straddle the match-to-centre offset the firmware
    /// plans for (its `RX_SAMPLE_EARLY`), within half a bit either way.
    pub handler_latency: Option<HandlerLatency>,
    /// CPU cycles per bit on the ESP link.
    pub bit_cycles: u32,
    /// SRAM the firmware ever used in this run, from power-on: static data plus the
    /// deepest stack (SRAM is painted before the firmware starts, see `Avr::sram_touched`).
    /// The firmware's state lives on `main`'s stack, so this, not `avr-size`'s static
    /// figure, is what it needs.
    pub sram_peak_bytes: u16,
}

/// Latency percentiles.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// Maximum.
    pub max: f64,
}

/// The whole benchmark.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// Firmware measured.
    pub firmware: String,
    /// `soft` or `usart`.
    pub link: String,
    /// Link baud.
    pub baud: u32,
    /// Emulator fault level.
    pub esp_faults: String,
    /// Simulated seconds of load per K.
    pub duration_s: f64,
    /// One entry per K.
    pub runs: Vec<RunReport>,
}

/// What a finished request was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Status 200, Content-Length matches, body parses.
    Ok,
    /// A complete `503 Service Unavailable` (the server's designed answer when full).
    Busy,
    /// A non-200 status other than a complete 503.
    BadStatus,
    /// Closed before the headers or the announced body were complete.
    Truncated,
    /// Complete, but the body is not what the path should return.
    BadBody,
}

impl Outcome {
    fn key(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Busy => "busy_503",
            Outcome::BadStatus => "bad_status",
            Outcome::Truncated => "truncated",
            Outcome::BadBody => "bad_body",
        }
    }
}

/// Checks a complete response (the server closed the connection after it).
pub fn check_response(path: &str, raw: &[u8]) -> Outcome {
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Outcome::Truncated;
    };
    let head = String::from_utf8_lossy(&raw[..split]);
    let body = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("");
    let mut parts = status.split(' ');
    let version = parts.next().unwrap_or("");
    let code = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Outcome::BadStatus;
    }
    let length = lines.find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())?
    });
    match length {
        Some(n) if body.len() < n => return Outcome::Truncated,
        Some(n) if body.len() > n => return Outcome::BadBody,
        None => return Outcome::Truncated,
        _ => {}
    }
    if code == "503" {
        return Outcome::Busy;
    }
    if code != "200" {
        return Outcome::BadStatus;
    }
    let is_status = |json: &[u8]| {
        serde_json::from_slice::<serde_json::Value>(json)
            .map(|v| v.is_object() && v.get("uptime_ms").is_some())
            .unwrap_or(false)
    };
    let body_ok = if path == "/api/status" {
        is_status(body)
    } else {
        // The page carries the readings: the status JSON inside `<pre id="s">`.
        page_readings(body).is_some_and(is_status) && body.ends_with(b"</html>\n")
    };
    if body_ok {
        Outcome::Ok
    } else {
        Outcome::BadBody
    }
}

/// The status JSON between `<pre id="s">` and `</pre>` in the page at `/`.
fn page_readings(page: &[u8]) -> Option<&[u8]> {
    let find = |hay: &[u8], what: &[u8]| hay.windows(what.len()).position(|w| w == what);
    const OPEN: &[u8] = b"<pre id=\"s\">";
    let start = find(page, OPEN)? + OPEN.len();
    let len = find(&page[start..], b"</pre>")?;
    Some(&page[start..start + len])
}

enum ClientState {
    /// Connect at this time.
    Idle { at_us: u64 },
    Waiting {
        conn: ConnId,
        path: &'static str,
        started_us: u64,
        received: Vec<u8>,
    },
}

struct Client {
    state: ClientState,
    requests: u64,
}

/// Runs the benchmark per `args`. Returns the exit code.
pub fn bench(args: BenchArgs) -> Result<u8, SimError> {
    let link = args.link.resolve()?;
    let settings = args.emulator.settings(link.baud)?;
    let mut runs = Vec::new();
    for &k in &args.clients {
        let report = run_one(&args.firmware, link, &settings, k, &args)?;
        runs.push(report);
    }
    let report = BenchReport {
        firmware: args.firmware.display().to_string(),
        link: match link.kind {
            LinkKind::Usart => "usart".into(),
            LinkKind::Soft { .. } => "soft".into(),
        },
        baud: link.baud,
        esp_faults: format!("{:?}", args.emulator.esp_faults).to_lowercase(),
        duration_s: args.duration,
        runs,
    };
    print_table(&report);
    if let Some(path) = &args.json {
        let text =
            serde_json::to_string_pretty(&report).map_err(|e| SimError::Usage(e.to_string()))?;
        std::fs::write(path, text + "\n")
            .map_err(|e| SimError::io(format!("writing {}", path.display()), e))?;
    }
    Ok(if report.runs.iter().all(|r| r.ready_ms.is_some()) {
        0
    } else {
        1
    })
}

/// One K against a freshly reset Nano and ESP.
pub fn run_one(
    firmware: &Path,
    link: LinkConfig,
    settings: &EmuSettings,
    k: u32,
    args: &BenchArgs,
) -> Result<RunReport, SimError> {
    let plan = FlashPlan {
        firmware: Some(firmware.to_path_buf()),
        ..FlashPlan::default()
    };
    let (mut avr, _) = power_on(&plan)?;
    avr.paint_sram();
    let console = match link.kind {
        LinkKind::Soft { .. } => ConsoleMode::Lines,
        LinkKind::Usart => ConsoleMode::Discard,
    };
    let soft = matches!(link.kind, LinkKind::Soft { .. });
    let bit_cycles = (F_CPU / link.baud as u64) as u32;
    let mut board = Board::new(avr, link, console)?;
    let mut esp = EmuPort(build_emulator(settings));
    let start_us = board.now_us();
    let mut failures: BTreeMap<String, u64> = [
        "timeout",
        "refused",
        "bad_status",
        "truncated",
        "bad_body",
        "not_recovered",
    ]
    .iter()
    .map(|k| (k.to_string(), 0))
    .collect();
    let mut report = RunReport {
        clients: k,
        ready_ms: None,
        wifi_joined_ms: None,
        up_after_join_ms: None,
        attempts: 0,
        ok: 0,
        busy_503: 0,
        failures: BTreeMap::new(),
        esp_crashes: 0,
        lost_to_esp_crash: 0,
        crash_recovery_ms: None,
        measured_s: 0.0,
        requests_per_s: 0.0,
        latency_ms: Latency::default(),
        uart_bytes_to_esp_per_request: 0.0,
        uart_bytes_from_esp_per_request: 0.0,
        wire_max_requests_per_s: 0.0,
        wire_bound_ratio: 0.0,
        send_wait_ms_per_request: 0.0,
        sends_per_request: 0.0,
        uart_bytes_to_esp_in_send_wait_per_request: 0.0,
        esp_bound_requests_per_s: 0.0,
        esp_bound_ratio: 0.0,
        esp_turn_ms_per_request: 0.0,
        uart_bytes_to_esp_in_turn_per_request: 0.0,
        turn_bound_requests_per_s: 0.0,
        turn_bound_ratio: 0.0,
        overruns: 0,
        framing_errors: 0,
        tx_glitches: 0,
        receiver: None,
        handler_latency: None,
        bit_cycles,
        sram_peak_bytes: 0,
    };
    // 1. wait for the server
    let ready_deadline = start_us + (args.ready_timeout * 1e6) as u64;
    loop {
        let now = board.now_us();
        if esp.0.accepting_clients() {
            report.ready_ms = Some((now - start_us) as f64 / 1000.0);
            // accepting clients implies an address, so this is the join the server uses
            if let Some(got_ip_us) = esp.0.wifi_got_ip_us() {
                let joined_us = got_ip_us.saturating_sub(start_us);
                report.wifi_joined_ms = Some(joined_us as f64 / 1000.0);
                // in whole µs, so the JSON shows no float noise
                let up_us = (now - start_us).saturating_sub(joined_us);
                report.up_after_join_ms = Some(up_us as f64 / 1000.0);
            }
            break;
        }
        if now >= ready_deadline {
            eprintln!(
                "nanoesp-sim: bench K={k}: server not up after {} s; last serial exchange:\n{}",
                args.ready_timeout,
                tail(&esp.0)
            );
            report.failures = failures;
            return Ok(report);
        }
        board.advance_to(us_to_cycles(now + 1000), &mut esp)?;
        board.take_console_lines();
    }
    // 2. load
    let load_start = board.now_us();
    let load_end = load_start + (args.duration * 1e6) as u64;
    let timeout_us = (args.request_timeout * 1e6) as u64;
    let stats_before = board.stats();
    board.avr.timer1_latency_take(); // bring-up ran partly at another rate
    let rx_ring = if soft {
        std::fs::read(firmware)
            .ok()
            .and_then(|elf| find_rx_ring(&elf))
    } else {
        None
    };
    let checking_receiver = rx_ring.is_some_and(|ring| board.check_receiver(ring));
    let (wait_before, sends_before, in_wait_before) = send_counters(&esp.0);
    let (turn_before, in_turn_before) = turn_counters(&esp.0);
    let mut clients: Vec<Client> = (0..k)
        // stagger the first connects by 1 ms so clients do not arrive in lock step
        .map(|i| Client {
            state: ClientState::Idle {
                at_us: load_start + i as u64 * 1000,
            },
            requests: 0,
        })
        .collect();
    let mut latencies: Vec<f64> = Vec::new();
    let mut finished: u64 = 0;
    let mut outages = Outages::new(esp.0.crash_count(), (args.ready_timeout * 1e6) as u64);
    loop {
        let now = board.now_us();
        outages.observe(&esp.0, now);
        let in_flight = clients
            .iter()
            .any(|c| matches!(c.state, ClientState::Waiting { .. }));
        // After the load window, only finish what is in flight (each request is bounded by
        // its own timeout).
        if now >= load_end && !in_flight {
            break;
        }
        for client in &mut clients {
            match &mut client.state {
                ClientState::Idle { at_us } => {
                    if now >= *at_us && now < load_end {
                        let path = if client.requests % 2 == 0 {
                            "/api/status"
                        } else {
                            "/"
                        };
                        client.requests += 1;
                        report.attempts += 1;
                        let conn = esp.0.net_connect(now);
                        let request = format!(
                            "GET {path} HTTP/1.1\r\nHost: 192.168.4.2\r\nUser-Agent: nanoesp-sim-bench\r\nConnection: close\r\n\r\n"
                        );
                        esp.0.net_send(conn, request.as_bytes(), now);
                        client.state = ClientState::Waiting {
                            conn,
                            path,
                            started_us: now,
                            received: Vec::new(),
                        };
                    }
                }
                ClientState::Waiting {
                    conn,
                    path,
                    started_us,
                    received,
                } => {
                    let conn = *conn;
                    let event = esp.0.net_poll(conn);
                    let done = match event {
                        NetEvent::Data(bytes) => {
                            received.extend_from_slice(&bytes);
                            None
                        }
                        NetEvent::Pending => {
                            if now - *started_us > timeout_us {
                                esp.0.net_close(conn, now);
                                Some("timeout")
                            } else {
                                None
                            }
                        }
                        NetEvent::Refused => Some("refused"),
                        NetEvent::Closed => {
                            let outcome = check_response(path, received);
                            if outcome == Outcome::Ok {
                                report.ok += 1;
                                latencies.push((now - *started_us) as f64 / 1000.0);
                            }
                            Some(outcome.key())
                        }
                    };
                    if let Some(kind) = done {
                        finished += 1;
                        match kind {
                            "ok" => {}
                            "busy_503" => report.busy_503 += 1,
                            _ if outages.excuse(*started_us, now) => report.lost_to_esp_crash += 1,
                            _ => *failures.entry(kind.to_string()).or_default() += 1,
                        }
                        // a refused or turned-away client backs off a little, like a
                        // browser retrying
                        let pause = if matches!(kind, "refused" | "busy_503") {
                            100_000
                        } else {
                            0
                        };
                        client.state = ClientState::Idle { at_us: now + pause };
                    }
                }
            }
        }
        board.advance_to(us_to_cycles(now + POLL_US), &mut esp)?;
        board.take_console_lines();
    }
    let stats = board.stats();
    let (wait_after, sends_after, in_wait_after) = send_counters(&esp.0);
    let (turn_after, in_turn_after) = turn_counters(&esp.0);
    report.measured_s = (board.now_us() - load_start) as f64 / 1e6;
    report.requests_per_s = report.ok as f64 / report.measured_s;
    latencies.sort_by(|a, b| a.total_cmp(b));
    report.latency_ms = percentiles(&latencies);
    let to_esp = (stats.to_esp - stats_before.to_esp) as f64;
    let from_esp = (stats.from_esp - stats_before.from_esp) as f64;
    if finished > 0 {
        report.uart_bytes_to_esp_per_request = to_esp / finished as f64;
        report.uart_bytes_from_esp_per_request = from_esp / finished as f64;
        let busiest = report
            .uart_bytes_to_esp_per_request
            .max(report.uart_bytes_from_esp_per_request);
        if busiest > 0.0 {
            report.wire_max_requests_per_s = link.baud as f64 / 10.0 / busiest;
            report.wire_bound_ratio = report.requests_per_s / report.wire_max_requests_per_s;
        }
        let n = finished as f64;
        report.sends_per_request = (sends_after - sends_before) as f64 / n;
        let (rps, to_esp) = (report.requests_per_s, report.uart_bytes_to_esp_per_request);
        let [wait, turn] = [
            (wait_after - wait_before, in_wait_after - in_wait_before),
            (turn_after - turn_before, in_turn_after - in_turn_before),
        ]
        .map(|(held_us, bytes_in)| Held::measure(rps, to_esp, held_us, bytes_in, n, link.baud));
        report.send_wait_ms_per_request = wait.ms_per_request;
        report.uart_bytes_to_esp_in_send_wait_per_request = wait.bytes_in_per_request;
        (report.esp_bound_requests_per_s, report.esp_bound_ratio) = (wait.bound, wait.ratio);
        report.esp_turn_ms_per_request = turn.ms_per_request;
        report.uart_bytes_to_esp_in_turn_per_request = turn.bytes_in_per_request;
        (report.turn_bound_requests_per_s, report.turn_bound_ratio) = (turn.bound, turn.ratio);
    }
    report.overruns = stats.overruns - stats_before.overruns;
    report.framing_errors = stats.framing_errors - stats_before.framing_errors;
    report.tx_glitches = stats.tx_glitches - stats_before.tx_glitches;
    if checking_receiver {
        report.receiver = Some(stats.rx);
    }
    if soft {
        report.handler_latency = Some(board.avr.timer1_latency_take());
    }
    report.sram_peak_bytes = board.sram_touched();
    let now = board.now_us();
    report.esp_crashes = outages.crashes;
    report.crash_recovery_ms = outages.longest_ms(now);
    *failures.entry("not_recovered".into()).or_default() += outages.overdue(now);
    report.failures = failures;
    if report.attempts > 0 && report.ok == 0 {
        eprintln!(
            "nanoesp-sim: bench K={k}: no correct response; last serial exchange:\n{}",
            tail(&esp.0)
        );
    }
    Ok(report)
}

/// ESP crashes during the load and the outages they cause: crash → the emulated ESP
/// accepting clients again (seen at the bench's poll resolution).
struct Outages {
    crashes_seen: u32,
    crashes: u32,
    /// Finished outages, (start, end) µs.
    done: Vec<(u64, u64)>,
    /// Start of the outage in progress.
    since: Option<u64>,
    /// Longest outage that still counts as a recovery.
    limit_us: u64,
}

impl Outages {
    fn new(crashes_seen: u32, limit_us: u64) -> Outages {
        Outages {
            crashes_seen,
            crashes: 0,
            done: Vec::new(),
            since: None,
            limit_us,
        }
    }

    fn observe(&mut self, esp: &Esp, now: u64) {
        let crashes = esp.crash_count();
        if crashes != self.crashes_seen {
            self.crashes += crashes - self.crashes_seen;
            self.crashes_seen = crashes;
            // a crash during an outage extends it
            self.since.get_or_insert(now);
        } else if let Some(since) = self.since.filter(|_| esp.accepting_clients()) {
            self.done.push((since, now));
            self.since = None;
        }
    }

    /// Whether a request from `started` failing at `now` was lost to a crash: an outage
    /// that ended within the limit (or is still within it) overlapped it.
    fn excuse(&self, started: u64, now: u64) -> bool {
        let in_time = |a: u64, b: u64| b - a <= self.limit_us;
        self.done
            .iter()
            .any(|&(a, b)| in_time(a, b) && started <= b && now >= a)
            || self.since.is_some_and(|a| in_time(a, now))
    }

    fn longest_ms(&self, now: u64) -> Option<f64> {
        let open = self.since.map(|a| (a, now));
        let longest = self
            .done
            .iter()
            .copied()
            .chain(open)
            .map(|(a, b)| b - a)
            .max()?;
        Some(longest as f64 / 1000.0)
    }

    /// Outages that outlasted the limit.
    fn overdue(&self, now: u64) -> u64 {
        let open = self.since.map(|a| (a, now));
        let all = self.done.iter().copied().chain(open);
        all.filter(|&(a, b)| b - a > self.limit_us).count() as u64
    }
}

/// Stretches in which the ESP held the firmware (send waits, or whole turns), per request,
/// and the bound they set with the bytes sent to the ESP outside them.
struct Held {
    ms_per_request: f64,
    /// Bytes the firmware sent into those stretches (their wire time lies inside them).
    bytes_in_per_request: f64,
    /// Requests/s the stretches plus the other bytes towards the ESP allow.
    bound: f64,
    /// requests_per_s / bound.
    ratio: f64,
}

impl Held {
    /// From the emulator's counters over `n` finished requests (0 bound and ratio if
    /// nothing was measured).
    fn measure(rps: f64, to_esp: f64, held_us: u64, bytes_in: u64, n: f64, baud: u32) -> Held {
        let ms_per_request = held_us as f64 / 1000.0 / n;
        let bytes_in_per_request = bytes_in as f64 / n;
        let outside = (to_esp - bytes_in_per_request).max(0.0);
        let per_request_s = outside * 10.0 / f64::from(baud) + ms_per_request / 1000.0;
        let (bound, ratio) = if per_request_s > 0.0 {
            (1.0 / per_request_s, rps * per_request_s)
        } else {
            (0.0, 0.0)
        };
        Held {
            ms_per_request,
            bytes_in_per_request,
            bound,
            ratio,
        }
    }
}

/// The emulator's turn accounting: (turn µs, bytes received during turns).
fn turn_counters(esp: &Esp) -> (u64, u64) {
    (esp.esp_turn_us(), esp.uart_bytes_rx_in_turn())
}

/// The emulator's send-wait accounting: (wait µs, sends, bytes received during waits).
fn send_counters(esp: &Esp) -> (u64, u64, u64) {
    (
        esp.send_wait_us(),
        esp.sends(),
        esp.uart_bytes_rx_in_send_wait(),
    )
}

fn tail(esp: &Esp) -> String {
    let text = esp.transcript_text();
    let lines: Vec<&str> = text.lines().collect();
    let password = esp.config().ap_password.clone();
    crate::redact::redact(
        &lines[lines.len().saturating_sub(20)..].join("\n"),
        Some(&password),
    )
}

/// p50/p95/max of sorted values.
pub fn percentiles(sorted: &[f64]) -> Latency {
    if sorted.is_empty() {
        return Latency::default();
    }
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    Latency {
        p50: at(0.5),
        p95: at(0.95),
        max: sorted[sorted.len() - 1],
    }
}

fn print_table(report: &BenchReport) {
    println!(
        "nanoesp-sim bench: {} link={} baud={} faults={} duration={}s",
        report.firmware, report.link, report.baud, report.esp_faults, report.duration_s
    );
    println!(
        "{:>3} {:>9} {:>6} {:>8} {:>6} {:>5} {:>8} {:>7} {:>8} {:>8} {:>8} {:>6} {:>7} {:>7} {:>5} {:>7} {:>6} {:>5} {:>5} {:>5} {:>7} {:>6} {:>6}  failures",
        "K",
        "ready_ms",
        "up_ms",
        "attempts",
        "ok",
        "503",
        "req/s",
        "p50_ms",
        "p95_ms",
        "max_ms",
        "wire_max",
        "wire_r",
        "wait_ms",
        "esp_max",
        "esp_r",
        "turn_ms",
        "turn_r",
        "ram_b",
        "crash",
        "lost",
        "rec_ms",
        "isr_%",
        "rx_bad"
    );
    for r in &report.runs {
        let failures: Vec<String> = r
            .failures
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{k}={n}"))
            .collect();
        println!(
            "{:>3} {:>9} {:>6} {:>8} {:>6} {:>5} {:>8.2} {:>7.1} {:>8.1} {:>8.1} {:>8.2} {:>6.2} {:>7.1} {:>7.2} {:>5.2} {:>7.1} {:>6.2} {:>5} {:>5} {:>5} {:>7} {:>6} {:>6}  {}",
            r.clients,
            r.ready_ms
                .map(|v| format!("{v:.0}"))
                .unwrap_or_else(|| "never".into()),
            r.up_after_join_ms
                .map(|v| format!("{v:.0}"))
                .unwrap_or_else(|| "-".into()),
            r.attempts,
            r.ok,
            r.busy_503,
            r.requests_per_s,
            r.latency_ms.p50,
            r.latency_ms.p95,
            r.latency_ms.max,
            r.wire_max_requests_per_s,
            r.wire_bound_ratio,
            r.send_wait_ms_per_request,
            r.esp_bound_requests_per_s,
            r.esp_bound_ratio,
            r.esp_turn_ms_per_request,
            r.turn_bound_ratio,
            r.sram_peak_bytes,
            r.esp_crashes,
            r.lost_to_esp_crash,
            r.crash_recovery_ms
                .map(|v| format!("{v:.0}"))
                .unwrap_or_else(|| "-".into()),
            r.handler_latency
                .map(|l| {
                    let late = l.tx_reload_max.max(l.rx_reload_max);
                    format!("{:.0}", 100.0 * late as f64 / r.bit_cycles as f64)
                })
                .unwrap_or_else(|| "-".into()),
            r.receiver
                .map(|c| (c.misread + c.lost + c.spurious).to_string())
                .unwrap_or_else(|| "-".into()),
            if failures.is_empty() {
                "-".into()
            } else {
                failures.join(" ")
            }
        );
    }
    println!(
        "up_ms: ready after WIFI GOT IP; wire_r: req/s over wire_max; wait_ms: ESP send wait \
         (Recv..SEND OK, commands refused) per request; esp_max: req/s those bytes and waits \
         allow; esp_r: req/s over esp_max; turn_ms: ESP turns per request (each command \
         until its last reply byte, send waits included); turn_r: req/s over what those \
         turns and the other bytes allow; ram_b: peak SRAM (static + deepest stack); crash: \
         ESP crashes (faults profile); lost: requests lost to them; rec_ms: longest crash \
         until the server accepted clients again; isr_%: soft link, the latest a Timer1 \
         compare handler reprogrammed its compare, in % of a bit (100 loses a bit); rx_bad: \
         soft link, ESP bytes the firmware's receiver misread, lost or made up"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "{\"firmware\":\"x\",\"esp\":\"1.7\",\"uptime_ms\":5,\"analog\":[0,0,0,0,0,0,0,0],\"clients\":1,\"served\":0,\"errors\":0}";

    fn response(code: &str, body: &str, length: usize) -> Vec<u8> {
        format!("HTTP/1.1 {code}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n{body}")
            .into_bytes()
    }

    #[test]
    fn failures_overlapping_a_timely_recovered_outage_are_the_modules() {
        let mut o = Outages::new(0, 10_000);
        o.done.push((1_000, 5_000));
        o.crashes = 1;
        // overlapping it: in flight at the crash, started during it, or ended during it
        assert!(o.excuse(500, 1_500));
        assert!(o.excuse(2_000, 9_000));
        assert!(o.excuse(4_999, 5_000));
        // before or after it: the firmware's failure
        assert!(!o.excuse(0, 999));
        assert!(!o.excuse(5_001, 6_000));
        assert_eq!(o.longest_ms(20_000), Some(4.0));
        assert_eq!(o.overdue(20_000), 0);
        // an outage in progress excuses until it outlasts the limit, then counts itself
        o.since = Some(30_000);
        assert!(o.excuse(35_000, 39_000));
        assert!(!o.excuse(35_000, 41_000));
        assert_eq!(o.overdue(39_000), 0);
        assert_eq!(o.overdue(41_000), 1);
        assert_eq!(o.longest_ms(41_000), Some(11.0));
        // and a finished one that took too long excuses nothing
        let mut slow = Outages::new(0, 10_000);
        slow.done.push((0, 20_000));
        assert!(!slow.excuse(1_000, 2_000));
        assert_eq!(slow.overdue(30_000), 1);
        assert_eq!(Outages::new(0, 1).longest_ms(5), None);
    }

    #[test]
    fn classifies_responses() {
        assert_eq!(
            check_response("/api/status", &response("200 OK", STATUS, STATUS.len())),
            Outcome::Ok
        );
        assert_eq!(
            check_response(
                "/api/status",
                &response("503 Service Unavailable", "busy", 4)
            ),
            Outcome::Busy
        );
        assert_eq!(
            check_response("/api/status", &response("500 Oops", "x", 1)),
            Outcome::BadStatus
        );
        assert_eq!(
            check_response("/api/status", &response("200 OK", STATUS, STATUS.len() + 3)),
            Outcome::Truncated
        );
        assert_eq!(
            check_response("/api/status", &response("200 OK", "{]", 2)),
            Outcome::BadBody
        );
        assert_eq!(
            check_response("/", b"HTTP/1.1 200 OK\r\nContent-Le"),
            Outcome::Truncated
        );
        let page = format!("<html><pre id=\"s\">{STATUS}</pre></html>\n");
        assert_eq!(
            check_response("/", &response("200 OK", &page, page.len())),
            Outcome::Ok
        );
        // A page without its readings, or with broken ones, is a wrong answer.
        for page in ["<html></html>\n", "<html><pre id=\"s\">{]</pre></html>\n"] {
            assert_eq!(
                check_response("/", &response("200 OK", page, page.len())),
                Outcome::BadBody
            );
        }
    }

    #[test]
    fn percentiles_of_sorted_values() {
        let v: Vec<f64> = (1..=100).map(|x| x as f64).collect();
        let l = percentiles(&v);
        assert_eq!((l.p50, l.p95, l.max), (51.0, 95.0, 100.0));
        assert_eq!(percentiles(&[]), Latency::default());
    }
}
