//! The driver against byte transcripts of every scenario in section 6 of
//! `esp-at-behaviour.md` (S1–S10), smoltcp-style: `rx` what the ESP says, `tx` what the
//! driver must answer, and the events in between.

use nanoesp_at::driver::{Driver, Event, Link, Request, Settings, POLL_MS};
use nanoesp_http::{pstr, PStr};

/// A driver plus a clock and a log of events.
struct T<S: Settings = Lab> {
    d: Driver<S>,
    now: u32,
    events: Vec<Event>,
    /// Payload bytes handed out for sends (the driver asks the caller for them).
    payload: Vec<u8>,
}

/// The settings of these tests; the parameters are the options some tests change.
struct Lab<
    const SOFTAP: bool = false,
    const STORED: bool = false,
    const BAUD: u32 = 0,
    const SAVE_BAUD: bool = false,
>;

impl<const SOFTAP: bool, const STORED: bool, const BAUD: u32, const SAVE_BAUD: bool> Settings
    for Lab<SOFTAP, STORED, BAUD, SAVE_BAUD>
{
    const SSID: PStr = pstr!(b"lab");
    const PASSWORD: PStr = pstr!(b"secret");
    const HOSTNAME: PStr = pstr!(b"nano");
    const PORT: u16 = 80;
    const MAX_CONN: u8 = 4;
    const IDLE_TIMEOUT_S: u16 = 30;
    const BAUD: u32 = BAUD;
    const SOFTAP: bool = SOFTAP;
    const STORED: bool = STORED;
    const SAVE_BAUD: bool = SAVE_BAUD;
}

impl T {
    fn new() -> T {
        T::with()
    }

    /// Replays a clean S1 bring-up.
    fn up() -> T {
        let mut t = T::new();
        t.rx(b"\r\nready\r\n");
        t.expect_tx("AT\r\n");
        t.rx(b"AT\r\r\n\r\nOK\r\n");
        t.expect_tx("ATE0\r\n");
        t.rx(b"ATE0\r\r\n\r\nOK\r\n");
        t.expect_tx("AT+GMR\r\n");
        t.rx(b"AT version:1.7.4.0(May 11 2020 19:13:04)\r\nSDK version:3.0.4(9532ceb)\r\ncompile time:May 27 2020 10:12:17\r\nBin version(Wroom 02):1.7.4\r\n\r\nOK\r\n");
        t.expect_tx("AT+CWMODE_CUR=1\r\n");
        t.rx(b"\r\nOK\r\n");
        t.expect_tx("AT+CWHOSTNAME=\"nano\"\r\n");
        t.rx(b"\r\nOK\r\n");
        t.expect_tx("AT+CWJAP_CUR=\"lab\",\"secret\"\r\n");
        t.rx(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n");
        t.expect_tx("AT+CIPMUX=1\r\n");
        t.rx(b"\r\nOK\r\n");
        t.expect_tx("AT+CIPRECVMODE=1\r\n");
        t.rx(b"\r\nOK\r\n");
        t.expect_tx("AT+CIPSERVERMAXCONN=4\r\n");
        t.rx(b"\r\nOK\r\n");
        t.expect_tx("AT+CIPSERVER=1,80\r\n");
        t.rx(b"\r\nOK\r\n");
        t.expect_tx("AT+CIPSTO=30\r\n");
        t.rx(b"\r\nOK\r\n");
        t.expect_tx("AT+CIFSR\r\n");
        t.rx(b"+CIFSR:STAIP,\"192.168.1.20\"\r\n+CIFSR:STAMAC,\"5c:cf:7f:00:00:01\"\r\n\r\nOK\r\n");
        t.expect_tx("AT+MDNS=1,\"nano\",\"http\",80\r\n");
        t.rx(b"\r\nOK\r\n");
        assert!(t.d.is_up());
        let ev = t.take_events();
        assert_eq!(
            ev,
            [Event::Probing, Event::Version, Event::Joining, Event::Up]
        );
        t
    }
}

impl<S: Settings> T<S> {
    /// A driver with settings `S`.
    fn with() -> T<S> {
        T {
            d: Driver::new(),
            now: 0,
            events: Vec::new(),
            payload: Vec::new(),
        }
    }

    /// Feeds ESP output.
    fn rx(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if let Some(e) = self.d.feed(b, self.now) {
                self.events.push(e);
            }
        }
    }

    /// Advances the clock and runs `tick` until it is quiet.
    fn wait(&mut self, ms: u32) {
        self.now += ms;
        while let Some(e) = self.d.tick(self.now) {
            self.events.push(e);
        }
    }

    /// Everything the driver wants to send now (payload bytes come from `self.payload`).
    fn tx(&mut self) -> String {
        self.wait(0);
        let mut out = Vec::new();
        let payload = self.payload.clone();
        loop {
            let mut buf = [0u8; 7];
            let n = self.d.poll_transmit(&mut buf, &mut |_link, off, out| {
                let rest = &payload[(off as usize).min(payload.len())..];
                let n = rest.len().min(out.len());
                out[..n].copy_from_slice(&rest[..n]);
                n
            });
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    #[track_caller]
    fn expect_tx(&mut self, want: &str) {
        assert_eq!(self.tx(), want);
    }

    fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Opens link `id` with a CONNECT and returns its handle.
    fn connect(&mut self, id: u8) -> Link {
        self.rx(format!("{id},CONNECT\r\n").as_bytes());
        match self.take_events().as_slice() {
            [Event::Connected(l)] if l.id == id => *l,
            other => panic!("expected Connected({id}), got {other:?}"),
        }
    }

    /// Answers the `AT+CIPRECVLEN?` the driver sends after a CONNECT in passive mode.
    fn answer_recvlen(&mut self, lens: &str) {
        self.d.housekeeping();
        self.expect_tx("AT+CIPRECVLEN?\r\n");
        self.rx(format!("+CIPRECVLEN:{lens}\r\n\r\nOK\r\n").as_bytes());
    }
}

fn data_events(link: Link, bytes: &[u8]) -> Vec<Event> {
    bytes
        .iter()
        .map(|&byte| Event::Data { link, byte })
        .collect()
}

// ---- S1: cold boot, echo on, noisy start, async Wi-Fi ----

#[test]
fn s1_noisy_cold_boot_reaches_up_and_ignores_wifi_lines() {
    let mut t = T::new();
    let noise: Vec<u8> = (0..150u32).map(|i| (i * 37 % 251) as u8).collect();
    t.rx(&noise);
    t.rx(b"\r\nready\r\n");
    t.expect_tx("AT\r\n");
    t.rx(b"WIFI CONNECTED\r\n");
    t.expect_tx("");
    t.rx(b"AT\r\n\r\nOK\r\n");
    t.expect_tx("ATE0\r\n");
    t.rx(b"ATE0\r\r\nWIFI GOT IP\r\n\r\nOK\r\n");
    t.expect_tx("AT+GMR\r\n");
    t.rx(b"AT version:1.7.4.0(May 11 2020 19:13:04)\r\n\r\nOK\r\n");
    assert_eq!(t.d.version(), b"1.7.4.0");
    t.expect_tx("AT+CWMODE_CUR=1\r\n");
    assert_eq!(t.take_events(), [Event::Probing, Event::Version]);
}

#[test]
fn s1_without_ready_probes_after_boot_wait() {
    let mut t = T::new();
    t.wait(1);
    t.expect_tx("");
    t.wait(2600);
    t.expect_tx("AT\r\n");
    // No answer: probe again after the probe timeout.
    t.wait(1001);
    t.expect_tx("");
    t.wait(200);
    t.expect_tx("AT\r\n");
}

#[test]
fn s1_full_bring_up() {
    let t = T::up();
    assert_eq!(t.d.ip(), [192, 168, 1, 20]);
    assert!(t.d.is_passive());
    assert!(!t.d.is_at2());
}

#[test]
fn s1_at2_uses_plain_commands_and_softap_mode() {
    let mut t = T::<Lab<true>>::with();
    t.rx(b"\r\nready\r\n");
    t.expect_tx("AT\r\n");
    t.rx(b"\r\nOK\r\n");
    t.expect_tx("ATE0\r\n");
    t.rx(b"\r\nOK\r\n");
    t.expect_tx("AT+GMR\r\n");
    t.rx(b"AT version:2.2.1.0(b3a9b1d - ESP8266 - Jun  3 2021 06:35:23)\r\n\r\nOK\r\n");
    assert!(t.d.is_at2());
    t.expect_tx("AT+CWMODE=2\r\n");
    t.rx(b"\r\nOK\r\n");
    t.expect_tx("AT+CWSAP=\"lab\",\"secret\",5,3\r\n");
    t.rx(b"\r\nOK\r\n");
    t.expect_tx("AT+CIPMUX=1\r\n");
    t.rx(b"\r\nOK\r\n");
    t.expect_tx("AT+CIPRECVMODE=1\r\n");
    t.rx(b"\r\nOK\r\n");
    t.expect_tx("AT+CIPSERVERMAXCONN=4\r\n");
    t.rx(b"\r\nOK\r\n");
    t.expect_tx("AT+CIPSERVER=1,80\r\n");
    t.rx(b"\r\nOK\r\n");
    t.expect_tx("AT+CIPSTO=30\r\n");
    t.rx(b"\r\nOK\r\n");
    t.expect_tx("AT+CIFSR\r\n");
    t.rx(b"+CIFSR:APIP,\"192.168.4.1\"\r\n+CIFSR:APMAC,\"x\"\r\n\r\nOK\r\n");
    t.wait(0);
    assert!(t.d.is_up());
    assert_eq!(t.d.ip(), [192, 168, 4, 1]);
}

#[test]
fn s1_mode_cur_refused_falls_back_to_plain_spelling() {
    let mut t = T::new();
    t.rx(b"\r\nready\r\n");
    t.expect_tx("AT\r\n");
    t.rx(b"\r\nOK\r\n");
    t.expect_tx("ATE0\r\n");
    t.rx(b"\r\nOK\r\n");
    t.expect_tx("AT+GMR\r\n");
    t.rx(b"\r\nOK\r\n");
    t.expect_tx("AT+CWMODE_CUR=1\r\n");
    t.rx(b"\r\nERROR\r\n");
    t.expect_tx("AT+CWMODE=1\r\n");
}

// ---- S2: one GET, orderly close ----

#[test]
fn s2_passive_get_send_and_close() {
    let mut t = T::up();
    let l0 = t.connect(0);
    t.rx(b"\r\n+IPD,0,18\r\n");
    t.answer_recvlen("18,0,0,0,0");
    assert_eq!(t.d.pending(l0), 18);
    assert!(t.d.issue(Request::Pull { link: l0, max: 256 }));
    t.expect_tx("AT+CIPRECVDATA=0,256\r\n");
    t.rx(b"+CIPRECVDATA,18:GET / HTTP/1.1\r\n\r\n\r\nOK\r\n");
    assert_eq!(t.take_events(), data_events(l0, b"GET / HTTP/1.1\r\n\r\n"));
    assert_eq!(t.d.pending(l0), 0);
    t.payload = b"HTTP/1.0 200 OK\r\n\r\n".to_vec();
    assert!(t.d.issue(Request::Send { link: l0, len: 19 }));
    t.expect_tx("AT+CIPSEND=0,19\r\n");
    t.rx(b"\r\nOK\r\n");
    t.expect_tx("");
    t.rx(b"> ");
    t.expect_tx("HTTP/1.0 200 OK\r\n\r\n");
    t.rx(b"\r\nRecv 19 bytes\r\n");
    assert!(!t.d.is_idle());
    t.rx(b"\r\nSEND OK\r\n");
    assert_eq!(t.take_events(), [Event::SendDone { link: l0, ok: true }]);
    assert!(t.d.issue(Request::Close(l0)));
    t.expect_tx("AT+CIPCLOSE=0\r\n");
    t.rx(b"0,CLOSED\r\n\r\nOK\r\n");
    assert_eq!(t.take_events(), [Event::Closed(l0)]);
    assert!(!t.d.is_open(l0));
}

#[test]
fn s2_active_mode_fallback_delivers_ipd_payload() {
    let mut t = T::new();
    t.rx(b"\r\nready\r\n");
    for (cmd, reply) in [
        ("AT\r\n", "\r\nOK\r\n"),
        ("ATE0\r\n", "\r\nOK\r\n"),
        (
            "AT+GMR\r\n",
            "AT version:1.6.2.0(Apr 13 2018 11:10:59)\r\n\r\nOK\r\n",
        ),
        ("AT+CWMODE_CUR=1\r\n", "\r\nOK\r\n"),
        ("AT+CWHOSTNAME=\"nano\"\r\n", "\r\nERROR\r\n"),
        ("AT+CWJAP_CUR=\"lab\",\"secret\"\r\n", "\r\nOK\r\n"),
        ("AT+CIPMUX=1\r\n", "\r\nOK\r\n"),
        ("AT+CIPRECVMODE=1\r\n", "\r\nERROR\r\n"),
        ("AT+CIPSERVERMAXCONN=4\r\n", "\r\nOK\r\n"),
        ("AT+CIPSERVER=1,80\r\n", "\r\nOK\r\n"),
        ("AT+CIPSTO=30\r\n", "\r\nOK\r\n"),
        ("AT+CIFSR\r\n", "+CIFSR:STAIP,\"10.0.0.7\"\r\n\r\nOK\r\n"),
        ("AT+MDNS=1,\"nano\",\"http\",80\r\n", "\r\nERROR\r\n"),
    ] {
        t.expect_tx(cmd);
        t.rx(reply.as_bytes());
    }
    t.wait(0);
    assert!(t.d.is_up());
    assert!(!t.d.is_passive());
    t.take_events();
    let l0 = t.connect(0);
    // 2.x appends \r\n after the payload; harmless.
    t.rx(b"\r\n+IPD,0,18:GET / HTTP/1.1\r\n\r\n\r\n");
    assert_eq!(t.take_events(), data_events(l0, b"GET / HTTP/1.1\r\n\r\n"));
    assert!(
        !t.d.issue(Request::Pull { link: l0, max: 64 }),
        "no pulls in active mode"
    );
}

// ---- S3: a second browser arrives during a send ----

#[test]
fn s3_urcs_during_send_are_registered_and_send_ok_goes_to_link_0() {
    let mut t = T::up();
    let l0 = t.connect(0);
    t.answer_recvlen("0,0,0,0,0");
    t.payload = vec![b'x'; 19];
    assert!(t.d.issue(Request::Send { link: l0, len: 19 }));
    t.expect_tx("AT+CIPSEND=0,19\r\n");
    t.rx(b"\r\nOK\r\n1,CONNECT\r\n> ");
    t.expect_tx(&"x".repeat(19));
    t.rx(b"\r\n+IPD,1,18\r\n\r\nRecv 19 bytes\r\n2,CONNECT\r\n\r\nSEND OK\r\n");
    let ev = t.take_events();
    assert_eq!(ev.len(), 3, "{ev:?}");
    assert!(matches!(ev[0], Event::Connected(Link { id: 1, .. })));
    assert!(matches!(ev[1], Event::Connected(Link { id: 2, .. })));
    assert_eq!(ev[2], Event::SendDone { link: l0, ok: true });
    let l1 = t.d.current(1).unwrap();
    assert_eq!(t.d.pending(l1), 18);
}

// ---- S4: busy s... ----

#[test]
fn s4_no_second_send_before_send_ok_and_busy_means_resend_later() {
    let mut t = T::up();
    let l0 = t.connect(0);
    t.answer_recvlen("0,0,0,0,0");
    let l1 = t.connect(1);
    t.answer_recvlen("0,0,0,0,0");
    t.payload = vec![b'a'; 1460];
    assert!(t.d.issue(Request::Send {
        link: l0,
        len: 1460
    }));
    t.expect_tx("AT+CIPSEND=0,1460\r\n");
    t.rx(b"\r\nOK\r\n> ");
    assert_eq!(t.tx().len(), 1460);
    t.rx(b"\r\nRecv 1460 bytes\r\n");
    t.wait(800);
    assert!(
        !t.d.issue(Request::Send { link: l1, len: 100 }),
        "one CIPSEND outstanding at a time"
    );
    t.expect_tx("");
    t.rx(b"\r\nSEND OK\r\n");
    assert_eq!(t.take_events(), [Event::SendDone { link: l0, ok: true }]);
    t.payload = vec![b'b'; 100];
    assert!(t.d.issue(Request::Send { link: l1, len: 100 }));
    t.expect_tx("AT+CIPSEND=1,100\r\n");
    // A late send of the ESP's still in flight: dropped, no prompt.
    t.rx(b"busy s...\r\n");
    t.expect_tx("");
    t.wait(150);
    t.expect_tx("AT+CIPSEND=1,100\r\n");
    t.rx(b"\r\nOK\r\n> ");
    assert_eq!(t.tx(), "b".repeat(100));
}

// ---- S5: join, busy p..., failure codes ----

fn to_join() -> T {
    let mut t = T::new();
    t.rx(b"\r\nready\r\n");
    for (cmd, reply) in [
        ("AT\r\n", "\r\nOK\r\n"),
        ("ATE0\r\n", "\r\nOK\r\n"),
        ("AT+GMR\r\n", "AT version:1.7.4.0(x)\r\n\r\nOK\r\n"),
        ("AT+CWMODE_CUR=1\r\n", "\r\nOK\r\n"),
        ("AT+CWHOSTNAME=\"nano\"\r\n", "\r\nOK\r\n"),
    ] {
        t.expect_tx(cmd);
        t.rx(reply.as_bytes());
    }
    t.expect_tx("AT+CWJAP_CUR=\"lab\",\"secret\"\r\n");
    t.take_events();
    t
}

#[test]
fn s5_join_succeeds_after_slow_wifi_lines() {
    let mut t = to_join();
    t.rx(b"WIFI DISCONNECT\r\n");
    t.wait(3000);
    t.rx(b"WIFI CONNECTED\r\n");
    t.wait(1000);
    t.rx(b"WIFI GOT IP\r\n\r\nOK\r\n");
    t.expect_tx("AT+CIPMUX=1\r\n");
    assert_eq!(t.take_events(), []);
}

#[test]
fn s5_join_back_off_doubles_to_forty_seconds_then_stays_at_sixty() {
    let mut t = to_join();
    for retry_s in [5, 10, 20, 40, 60, 60, 60, 60] {
        t.rx(b"+CWJAP:1\r\n\r\nFAIL\r\n");
        assert_eq!(t.take_events(), [Event::JoinFailed { code: 1, retry_s }]);
        t.wait(u32::from(retry_s) * 1000 - 1);
        t.expect_tx("");
        t.wait(2);
        t.expect_tx("AT+CWJAP_CUR=\"lab\",\"secret\"\r\n");
        assert_eq!(t.take_events(), [Event::Joining]);
    }
}

#[test]
fn s5_join_failure_codes_from_fail_or_error_and_back_off() {
    let mut t = to_join();
    t.wait(5000);
    t.rx(b"+CWJAP:2\r\n\r\nFAIL\r\n");
    assert_eq!(
        t.take_events(),
        [Event::JoinFailed {
            code: 2,
            retry_s: 5
        }]
    );
    t.expect_tx("");
    t.wait(5001);
    t.expect_tx("AT+CWJAP_CUR=\"lab\",\"secret\"\r\n");
    assert_eq!(t.take_events(), [Event::Joining]);
    t.rx(b"+CWJAP:3\r\n\r\nERROR\r\n");
    assert_eq!(
        t.take_events(),
        [Event::JoinFailed {
            code: 3,
            retry_s: 10
        }]
    );
    t.wait(10_001);
    t.expect_tx("AT+CWJAP_CUR=\"lab\",\"secret\"\r\n");
    // No answer at all: the join times out and is retried like a failure.
    t.take_events();
    t.wait(26_000);
    assert_eq!(
        t.take_events(),
        [Event::JoinFailed {
            code: 0,
            retry_s: 20
        }]
    );
}

#[test]
fn s5_busy_p_during_bring_up_resends_the_command() {
    let mut t = T::new();
    t.rx(b"\r\nready\r\n");
    t.expect_tx("AT\r\n");
    t.rx(b"busy p...\r\n");
    t.expect_tx("");
    t.wait(100);
    t.expect_tx("AT\r\n");
    t.rx(b"\r\nOK\r\n");
    t.expect_tx("ATE0\r\n");
}

// ---- S6: the peer resets while we stream ----

fn s6_setup() -> (T, Link) {
    let mut t = T::up();
    t.connect(0);
    t.answer_recvlen("0,0,0,0,0");
    t.connect(1);
    t.answer_recvlen("0,0,0,0,0");
    let l2 = t.connect(2);
    t.answer_recvlen("0,0,0,0,0");
    t.payload = vec![b'p'; 600];
    assert!(t.d.issue(Request::Send { link: l2, len: 600 }));
    t.expect_tx("AT+CIPSEND=2,600\r\n");
    t.rx(b"\r\nOK\r\n> ");
    assert_eq!(t.tx().len(), 600);
    (t, l2)
}

#[test]
fn s6a_closed_then_send_fail() {
    let (mut t, l2) = s6_setup();
    t.rx(b"2,CLOSED\r\n\r\nRecv 600 bytes\r\n\r\nSEND FAIL\r\n");
    assert_eq!(
        t.take_events(),
        [
            Event::Closed(l2),
            Event::SendDone {
                link: l2,
                ok: false
            }
        ]
    );
    assert!(
        !t.d.issue(Request::Send { link: l2, len: 10 }),
        "stale handle refused"
    );
}

#[test]
fn s6b_closed_then_error() {
    let (mut t, l2) = s6_setup();
    t.rx(b"2,CLOSED\r\n\r\nERROR\r\n");
    assert_eq!(
        t.take_events(),
        [
            Event::Closed(l2),
            Event::SendDone {
                link: l2,
                ok: false
            }
        ]
    );
    assert!(t.d.is_idle());
}

#[test]
fn s6c_recv_and_then_silence_times_out() {
    let (mut t, l2) = s6_setup();
    t.rx(b"2,CLOSED\r\n\r\nRecv 600 bytes\r\n");
    assert_eq!(t.take_events(), [Event::Closed(l2)]);
    t.wait(5000);
    assert!(!t.d.is_idle());
    t.wait(1500);
    assert_eq!(
        t.take_events(),
        [Event::SendDone {
            link: l2,
            ok: false
        }]
    );
    assert!(t.d.is_idle());
    // A late SEND OK for it is ignored.
    t.rx(b"\r\nSEND OK\r\n");
    assert_eq!(t.take_events(), []);
}

#[test]
fn s6_link_not_valid_and_unlink_close_the_link() {
    let mut t = T::up();
    let l2 = t.connect(2);
    t.answer_recvlen("0,0,0,0,0");
    assert!(t.d.issue(Request::Send { link: l2, len: 10 }));
    t.expect_tx("AT+CIPSEND=2,10\r\n");
    t.rx(b"link is not valid\r\n\r\nERROR\r\n");
    assert_eq!(
        t.take_events(),
        [
            Event::Closed(l2),
            Event::SendDone {
                link: l2,
                ok: false
            }
        ]
    );
    let l3 = t.connect(3);
    t.answer_recvlen("0,0,0,0,0");
    assert!(t.d.issue(Request::Close(l3)));
    t.expect_tx("AT+CIPCLOSE=3\r\n");
    t.rx(b"UNLINK\r\n\r\nERROR\r\n");
    assert_eq!(t.take_events(), [Event::Closed(l3)]);
    assert!(t.d.is_idle());
}

// ---- S7: connection limit and id reuse ----

#[test]
fn s7_connect_on_live_id_is_a_new_client_and_old_handle_dies() {
    let mut t = T::up();
    let old = t.connect(1);
    t.answer_recvlen("0,0,0,0,0");
    // "1,CLOSED" was lost on the wire.
    let new = t.connect(1);
    assert_ne!(old, new);
    assert!(!t.d.is_open(old));
    assert!(t.d.is_open(new));
    assert!(!t.d.issue(Request::Send { link: old, len: 5 }));
    t.rx(b"\r\n+IPD,1,18\r\n");
    assert_eq!(t.d.pending(old), 0);
    assert_eq!(t.d.pending(new), 18);
}

#[test]
fn s7_ids_above_4_are_never_used() {
    let mut t = T::up();
    t.rx(b"5,CONNECT\r\n7,CLOSED\r\n+IPD,5,10\r\n");
    assert_eq!(t.take_events(), []);
}

// ---- S8: passive receive with interleaving and a tricky payload ----

#[test]
fn s8_payload_is_counted_never_scanned_and_totals_reconcile() {
    let mut t = T::up();
    let l0 = t.connect(0);
    t.answer_recvlen("0,0,0,0,0");
    t.rx(b"\r\n+IPD,0,300\r\n");
    assert_eq!(t.d.pending(l0), 300);
    assert!(t.d.issue(Request::Pull { link: l0, max: 64 }));
    t.expect_tx("AT+CIPRECVDATA=0,64\r\n");
    let mut chunk = b"\r\n+IPD,0,5\r\nOK\r\n".to_vec();
    chunk.resize(64, b'z');
    let mut reply = b"1,CONNECT\r\n+CIPRECVDATA,64:".to_vec();
    reply.extend_from_slice(&chunk);
    reply.extend_from_slice(b"\r\nOK\r\n\r\n+IPD,0,236\r\n");
    t.rx(&reply);
    let ev = t.take_events();
    assert!(matches!(ev[0], Event::Connected(Link { id: 1, .. })));
    assert_eq!(ev[1..], data_events(l0, &chunk)[..]);
    assert_eq!(t.d.pending(l0), 236);
    t.d.housekeeping();
    t.expect_tx("AT+CIPRECVLEN?\r\n");
    t.rx(b"+CIPRECVLEN:236,0,0,0,0\r\n\r\nOK\r\n");
    assert_eq!(t.d.pending(l0), 236);
}

#[test]
fn s8_at2_recvdata_format_and_minus_one_lengths() {
    let mut t = T::up();
    let l0 = t.connect(0);
    t.answer_recvlen("-1,-1,-1,-1,-1");
    t.rx(b"+IPD,0,4\r\n");
    assert!(t.d.issue(Request::Pull { link: l0, max: 64 }));
    t.expect_tx("AT+CIPRECVDATA=0,64\r\n");
    t.rx(b"+CIPRECVDATA:4,ab\r\n\r\nOK\r\n");
    assert_eq!(t.take_events(), data_events(l0, b"ab\r\n"));
}

#[test]
fn s8_pull_error_clears_pending() {
    let mut t = T::up();
    let l0 = t.connect(0);
    t.answer_recvlen("5,0,0,0,0");
    assert!(t.d.issue(Request::Pull { link: l0, max: 64 }));
    t.expect_tx("AT+CIPRECVDATA=0,64\r\n");
    t.rx(b"\r\nERROR\r\n");
    assert_eq!(t.d.pending(l0), 0);
    assert!(t.d.is_idle());
}

// ---- S9: lost and truncated bytes ----

#[test]
fn s9_polls_rebuild_the_link_table() {
    let mut t = T::up();
    let l0 = t.connect(0);
    t.answer_recvlen("0,0,0,0,0");
    // "\r\n+IPD,1,18\r\n" arrives truncated and link 1's CONNECT was lost; link 0's CLOSED too.
    t.rx(b"\r\n+IP\r\n");
    assert_eq!(t.take_events(), []);
    t.wait(POLL_MS.into());
    t.d.housekeeping();
    t.expect_tx("AT+CIPSTATUS\r\n");
    t.rx(b"STATUS:3\r\n+CIPSTATUS:1,\"TCP\",\"192.168.1.20\",51234,80,1\r\n\r\nOK\r\n");
    let ev = t.take_events();
    assert!(
        matches!(ev.as_slice(), [Event::Connected(Link { id: 1, .. })]),
        "{ev:?}"
    );
    t.wait(0);
    assert_eq!(t.take_events(), [Event::Closed(l0)]);
    t.d.housekeeping();
    t.expect_tx("AT+CIPRECVLEN?\r\n");
    t.rx(b"+CIPRECVLEN:0,18,0,0,0\r\n\r\nOK\r\n");
    let l1 = t.d.current(1).unwrap();
    assert_eq!(t.d.pending(l1), 18);
}

#[test]
fn s9_link_connected_during_status_poll_is_not_declared_stale() {
    let mut t = T::up();
    t.wait(POLL_MS.into());
    t.d.housekeeping();
    t.expect_tx("AT+CIPSTATUS\r\n");
    t.rx(b"STATUS:2\r\n3,CONNECT\r\n\r\nOK\r\n");
    let l3 = t.d.current(3).unwrap();
    t.wait(0);
    assert!(t.d.is_open(l3));
}

#[test]
fn s9_recvlen_reveals_a_link_whose_connect_was_lost() {
    let mut t = T::up();
    t.d.housekeeping();
    t.wait(POLL_MS.into());
    t.d.housekeeping();
    t.expect_tx("AT+CIPSTATUS\r\n");
    t.rx(b"STATUS:2\r\n\r\nOK\r\n");
    t.d.housekeeping();
    t.expect_tx("AT+CIPRECVLEN?\r\n");
    t.rx(b"+CIPRECVLEN:0,0,0,0,9\r\n\r\nOK\r\n");
    t.wait(0);
    let ev = t.take_events();
    assert!(
        matches!(ev.as_slice(), [Event::Connected(Link { id: 4, .. })]),
        "{ev:?}"
    );
    assert_eq!(t.d.pending(t.d.current(4).unwrap()), 9);
}

#[test]
fn s9_lost_replies_time_out_and_three_in_a_row_restart_bring_up() {
    let mut t = T::up();
    for _ in 0..3 {
        t.wait(POLL_MS.into());
        t.d.housekeeping();
        let cmd = t.tx();
        assert!(
            cmd == "AT+CIPSTATUS\r\n" || cmd == "AT+CIPRECVLEN?\r\n",
            "{cmd:?}"
        );
        t.wait(3001);
    }
    assert_eq!(t.take_events(), [Event::Reset, Event::Probing]);
    t.expect_tx("AT\r\n");
}

// ---- S10: spontaneous reset mid-session ----

#[test]
fn s10_ready_mid_payload_drops_links_and_reinitialises() {
    let (mut t, l2) = s6_setup();
    t.rx(b"\x8a\x13junk\r\nSoft WDT reset\r\n\xff\xfe\r\nready\r\n");
    assert_eq!(t.take_events(), [Event::Reset]);
    assert!(!t.d.is_open(l2));
    assert!(!t.d.is_up());
    t.expect_tx("AT\r\n");
}

#[test]
fn s10_echo_after_ate0_means_the_esp_was_reset() {
    let mut t = T::up();
    let l0 = t.connect(0);
    t.answer_recvlen("0,0,0,0,0");
    assert!(t.d.issue(Request::Send { link: l0, len: 5 }));
    t.expect_tx("AT+CIPSEND=0,5\r\n");
    t.rx(b"AT+CIPSEND=0,5\r\r\n\r\nERROR\r\n");
    assert_eq!(t.take_events(), [Event::Reset]);
    t.expect_tx("AT\r\n");
}

// ---- baud negotiation (bring-up) ----

/// Probes at 57600 go unanswered: the switch goes out at the factory baud as `switch`.
/// `as_flags`: the bauds are taken as `take_baud_is_factory` flags instead.
fn negotiates_with<const SAVE_BAUD: bool>(switch: &str, as_flags: bool) {
    let take = |d: &mut Driver<Lab<false, false, 57_600, SAVE_BAUD>>| {
        if as_flags {
            d.take_baud_is_factory()
                .map(|factory| if factory { 115_200 } else { 57_600 })
        } else {
            d.take_baud()
        }
    };
    let mut t = T::<Lab<false, false, 57_600, SAVE_BAUD>>::with();
    t.wait(1);
    t.wait(2600);
    for _ in 0..3 {
        t.expect_tx("AT\r\n");
        t.wait(1001);
        t.wait(200);
    }
    assert_eq!(take(&mut t.d), Some(115_200));
    assert_eq!(take(&mut t.d), None);
    t.wait(60);
    t.expect_tx("AT\r\n");
    t.rx(b"\r\nERROR\r\n");
    t.expect_tx(switch);
    t.rx(b"\r\nOK\r\n");
    assert_eq!(take(&mut t.d), Some(57_600));
    t.wait(60);
    t.expect_tx("AT\r\n");
    t.rx(b"\r\nOK\r\n");
    t.expect_tx("ATE0\r\n");
}

#[test]
fn unanswered_probes_lead_to_uart_cur_at_factory_baud_then_back() {
    negotiates_with::<false>("AT+UART_CUR=57600,8,1,0,0\r\n", false);
}

#[test]
fn the_negotiated_bauds_come_as_factory_flags_too() {
    negotiates_with::<false>("AT+UART_CUR=57600,8,1,0,0\r\n", true);
}

#[test]
fn with_save_baud_the_switch_is_uart_def() {
    negotiates_with::<true>("AT+UART_DEF=57600,8,1,0,0\r\n", false);
}

// ---- Stored mode: the ESP joins the network `nanoesp flash --provision` saved ----

#[test]
fn stored_mode_never_joins_and_waits_for_a_station_address() {
    let mut t = T::<Lab<false, true>>::with();
    t.rx(b"\r\nready\r\n");
    t.expect_tx("AT\r\n");
    t.rx(b"\r\nOK\r\n");
    t.expect_tx("ATE0\r\n");
    t.rx(b"\r\nOK\r\n");
    t.expect_tx("AT+GMR\r\n");
    t.rx(b"AT version:1.7.4.0(May 11 2020 19:13:04)\r\n\r\nOK\r\n");
    t.expect_tx("AT+CWMODE_CUR=1\r\n");
    t.rx(b"\r\nOK\r\n");
    t.expect_tx("AT+CWHOSTNAME=\"nano\"\r\n");
    t.rx(b"\r\nOK\r\n");
    // No AT+CWJAP: straight on to the server.
    t.expect_tx("AT+CIPMUX=1\r\n");
    t.rx(b"\r\nOK\r\n");
    t.expect_tx("AT+CIPRECVMODE=1\r\n");
    t.rx(b"\r\nOK\r\n");
    t.expect_tx("AT+CIPSERVERMAXCONN=4\r\n");
    t.rx(b"\r\nOK\r\n");
    t.expect_tx("AT+CIPSERVER=1,80\r\n");
    t.rx(b"\r\nOK\r\n");
    t.expect_tx("AT+CIPSTO=30\r\n");
    t.rx(b"\r\nOK\r\n");
    // Not joined yet: asked again every second, reported once.
    for _ in 0..3 {
        t.expect_tx("AT+CIFSR\r\n");
        t.rx(b"+CIFSR:STAIP,\"0.0.0.0\"\r\n+CIFSR:STAMAC,\"5c:cf:7f:00:00:01\"\r\n\r\nOK\r\n");
        t.expect_tx("");
        t.wait(999);
        t.expect_tx("");
        t.wait(1);
    }
    assert!(!t.d.is_up());
    assert_eq!(
        t.take_events(),
        [Event::Probing, Event::Version, Event::WaitingStored]
    );
    t.rx(b"WIFI CONNECTED\r\nWIFI GOT IP\r\n");
    t.expect_tx("AT+CIFSR\r\n");
    t.rx(b"+CIFSR:STAIP,\"192.168.1.20\"\r\n\r\nOK\r\n");
    t.expect_tx("AT+MDNS=1,\"nano\",\"http\",80\r\n");
    t.rx(b"\r\nOK\r\n");
    assert!(t.d.is_up());
    assert_eq!(t.d.ip(), [192, 168, 1, 20]);
    assert_eq!(t.take_events(), [Event::Up]);
}
