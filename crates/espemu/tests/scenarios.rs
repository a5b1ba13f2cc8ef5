//! The ten scenarios of spec §6 (`/work/shared/docs/esp-at-behaviour.md`), driven with the
//! host bytes exactly as written there, asserting the emulator's bytes and state.

mod bench;

use bench::{Bench, show};
use nanoesp_espemu::{
    ClosedWithUnread, EspConfig, NetEvent, OverLimitPolicy, ReadAfterClose, SendToClosedLink,
};

const GET: &[u8] = b"GET / HTTP/1.1\r\n\r\n";
const RESP: &[u8] = b"HTTP/1.0 200 OK\r\n\r\n";

// ---------------------------------------------------------------- S1

#[test]
fn s1_cold_boot_noise_ready_echo_and_async_wifi() {
    let mut cfg = EspConfig::default();
    cfg.switches.auto_join = true;
    cfg.timing.auto_join_us = (1_000_000, 1_000_000);
    cfg.timing.join_got_ip_us = 100_000;
    let mut b = Bench::new(cfg);
    let boot = b.boot();
    let noise = boot.len() - b"\r\nready\r\n".len();
    assert!((40..=200).contains(&noise), "noise {noise} bytes");
    assert!(!boot[..noise].windows(5).any(|w| w == b"ready"));
    b.cmd_is("ATE0", b"ATE0\r\r\n\r\nOK\r\n");
    // Auto-connect, some time later, unrelated to any command.
    b.run_until(1_000_000 + 300_000 + 10_000);
    assert_eq!(show(&b.take()), "WIFI CONNECTED\\r\\n");
    b.cmd_is("AT+CIPMUX=1", b"\r\nOK\r\n");
    b.run_for(100_000);
    assert_eq!(show(&b.take()), "WIFI GOT IP\\r\\n");
    b.cmd_is("AT+CIPRECVMODE=1", b"\r\nOK\r\n");
    b.cmd_is("AT+CIPSERVERMAXCONN=3", b"\r\nOK\r\n");
    b.cmd_is("AT+CIPSERVER=1,80", b"\r\nOK\r\n");
    b.cmd_is("AT+CIPSTO=30", b"\r\nOK\r\n");
    assert!(b.esp.accepting_clients());
}

#[test]
fn s1_at2_boot_has_no_noise_on_the_at_uart() {
    let mut b = Bench::new(EspConfig::at2());
    assert_eq!(show(&b.boot()), "\\r\\nready\\r\\n");
}

// ---------------------------------------------------------------- S2

#[test]
fn s2_one_get_active_mode_orderly_close() {
    let mut b = Bench::new(EspConfig::default());
    b.server(false, 3);
    let c = b.connect();
    b.expect(b"0,CONNECT\r\n", 5_000);
    b.client_send(c, GET);
    b.expect(b"\r\n+IPD,0,18:GET / HTTP/1.1\r\n\r\n", 10_000);
    b.cmd_is("AT+CIPSEND=0,19", b"\r\nOK\r\n> ");
    b.send(RESP);
    let recv_at = b.t;
    assert_eq!(
        show(&b.until(b"\r\nRecv 19 bytes\r\n", 10_000)),
        "\\r\\nRecv 19 bytes\\r\\n"
    );
    b.until(b"\r\nSEND OK\r\n", 1_000_000);
    let dt = b.t - recv_at;
    assert!((5_000..=60_000).contains(&dt), "SEND OK after {dt} µs");
    b.cmd_is("AT+CIPCLOSE=0", b"0,CLOSED\r\n\r\nOK\r\n");
    assert_eq!(b.client_recv(c), (RESP.to_vec(), NetEvent::Closed));
}

#[test]
fn s2_at2_prompt_and_ipd_trailer() {
    let mut b = Bench::new(EspConfig::at2());
    b.server(false, 3);
    let c = b.connect();
    b.expect(b"0,CONNECT\r\n", 5_000);
    b.client_send(c, GET);
    b.expect(b"\r\n+IPD,0,18:GET / HTTP/1.1\r\n\r\n\r\n", 10_000);
    b.cmd_is("AT+CIPSEND=0,19", b"\r\nOK\r\n\r\n>");
    b.send(RESP);
    b.until(b"\r\nRecv 19 bytes\r\n\r\nSEND OK\r\n", 1_000_000);
    assert_eq!(b.client_recv(c).0, RESP);
}

// ---------------------------------------------------------------- S3

#[test]
fn s3_second_browser_arrives_during_send() {
    let mut b = Bench::new(EspConfig::default());
    b.server(false, 3);
    let c0 = b.connect();
    b.run_for(5_000);
    b.take();
    b.cmd_is("AT+CIPSEND=0,19", b"\r\nOK\r\n> ");
    let c1 = b.connect();
    b.send(&RESP[..10]);
    b.client_send(c1, GET);
    b.send(&RESP[10..]);
    b.until(b"\r\nRecv 19 bytes\r\n", 10_000);
    let c2 = b.connect();
    let rest = b.until(b"\r\nSEND OK\r\n", 1_000_000);
    assert_eq!(show(&rest), show(b"2,CONNECT\r\n\r\nSEND OK\r\n"));
    assert_eq!(b.client_recv(c0).0, RESP, "SEND OK belongs to link 0");
    assert_eq!(b.esp.net_link_id(c1), Some(1));
    assert_eq!(b.esp.net_link_id(c2), Some(2));
    // The whole exchange, bytes exactly as in the spec.
    let all: Vec<u8> = b.log.iter().map(|&(_, x)| x).collect();
    let want: &[u8] = b"\r\nOK\r\n> 1,CONNECT\r\n\r\n+IPD,1,18:GET / HTTP/1.1\r\n\r\n\r\nRecv 19 bytes\r\n2,CONNECT\r\n\r\nSEND OK\r\n";
    assert!(all.ends_with(want), "{}", show(&all));
}

#[test]
fn s3_passive_notification_between_ok_and_prompt() {
    let mut cfg = EspConfig::default();
    cfg.timing.prompt_us = (5_000, 5_000);
    let mut b = Bench::new(cfg);
    b.server(true, 3);
    b.connect();
    b.run_for(5_000);
    b.take();
    b.send(b"AT+CIPSEND=0,19\r\n");
    b.until(b"\r\nOK\r\n", 10_000);
    let c1 = b.connect();
    b.client_send(c1, GET);
    assert_eq!(
        show(&b.until(b"> ", 10_000)),
        show(b"1,CONNECT\r\n\r\n+IPD,1,18\r\n> ")
    );
}

#[test]
fn s3_connect_spliced_into_echo() {
    let mut b = Bench::new(EspConfig::default());
    b.server(false, 3);
    b.cmd_is("ATE1", b"\r\nOK\r\n");
    b.connect();
    b.run_for(5_000);
    b.take();
    b.send(b"AT+CIPSEND=0,1");
    b.connect();
    b.send(b"9\r\n");
    assert_eq!(
        show(&b.until(b"> ", 10_000)),
        show(b"AT+CIPSEND=0,11,CONNECT\r\n9\r\r\n\r\nOK\r\n> ")
    );
}

// ---------------------------------------------------------------- S4

#[test]
fn s4_command_during_send_gets_busy_s_and_no_prompt() {
    let mut cfg = EspConfig::default();
    cfg.timing.send_ok_us = (800_000, 800_000);
    let mut b = Bench::new(cfg);
    b.server(false, 3);
    let c0 = b.connect();
    let _c1 = b.connect();
    b.run_for(5_000);
    b.take();
    b.cmd_is("AT+CIPSEND=0,1460", b"\r\nOK\r\n> ");
    let payload: Vec<u8> = (0..1460u32).map(|i| b'a' + (i % 26) as u8).collect();
    b.send(&payload);
    b.until(b"\r\nRecv 1460 bytes\r\n", 10_000);
    b.cmd_is("AT+CIPSEND=1,100", b"busy s...\r\n");
    b.run_for(100_000);
    assert!(b.take().is_empty(), "no prompt after busy");
    b.until(b"\r\nSEND OK\r\n", 1_000_000);
    b.cmd_is("AT+CIPSEND=1,100", b"\r\nOK\r\n> ");
    b.send(&[b'x'; 100]);
    b.until(b"\r\nSEND OK\r\n", 1_000_000);
    assert_eq!(b.client_recv(c0).0, payload, "the 1460 bytes arrive once");
}

// ---------------------------------------------------------------- S5

#[test]
fn s5_rejoin_with_impatient_host_gets_busy_p() {
    let mut b = Bench::new(EspConfig::default());
    b.server(false, 3);
    b.send(b"AT+CWJAP_CUR=\"nanoesp-lab\",\"correct horse\"\r\n");
    b.expect(b"WIFI DISCONNECT\r\n", 10_000);
    b.cmd_is("AT+CIPSTATUS", b"busy p...\r\n");
    let t0 = b.t;
    b.until(b"WIFI CONNECTED\r\n", 5_000_000);
    assert!(b.t - t0 > 2_900_000);
    let t1 = b.t;
    b.until(b"WIFI GOT IP\r\n\r\nOK\r\n", 2_000_000);
    assert!((990_000..=1_010_000).contains(&(b.t - t1)));
    assert!(b.esp.wifi_joined());
}

#[test]
fn s5_join_failure_codes_and_terminators() {
    for (profile_at2, ssid, pwd, code) in [
        (false, "nanoesp-lab", "wrong", 2),
        (false, "elsewhere", "correct horse", 3),
        (true, "nanoesp-lab", "wrong", 2),
        (true, "elsewhere", "x", 3),
    ] {
        let mut b = Bench::new(if profile_at2 {
            EspConfig::at2()
        } else {
            EspConfig::default()
        });
        b.boot();
        b.cmd("ATE0");
        let name = if profile_at2 {
            "AT+CWJAP"
        } else {
            "AT+CWJAP_CUR"
        };
        let t0 = b.t;
        let got = b.cmd(&format!("{name}=\"{ssid}\",\"{pwd}\""));
        let end = if profile_at2 { "ERROR" } else { "FAIL" };
        assert_eq!(
            show(&got),
            show(format!("+CWJAP:{code}\r\n\r\n{end}\r\n").as_bytes())
        );
        assert!(b.t - t0 >= 5_000_000);
        assert!(!b.esp.wifi_joined());
        b.cmd_is(
            if profile_at2 {
                "AT+CWJAP?"
            } else {
                "AT+CWJAP_CUR?"
            },
            b"No AP\r\n\r\nOK\r\n",
        );
    }
}

#[test]
fn s5_forced_failure_code_switch() {
    let mut cfg = EspConfig::default();
    cfg.switches.join_failure_code = Some(1);
    let mut b = Bench::new(cfg);
    b.boot();
    b.cmd("ATE0");
    b.cmd_is(
        "AT+CWJAP_CUR=\"nanoesp-lab\",\"correct horse\"",
        b"+CWJAP:1\r\n\r\nFAIL\r\n",
    );
}

#[test]
fn s5_escaped_ssid_and_password_join() {
    let cfg = EspConfig {
        ap_ssid: b"lab \"A\",\\x".to_vec(),
        ap_password: b"p,w\"d".to_vec(),
        ..EspConfig::default()
    };
    let mut b = Bench::new(cfg);
    b.boot();
    b.cmd("ATE0");
    b.cmd_is(
        r#"AT+CWJAP_CUR="lab \"A\"\,\\x","p\,w\"d""#,
        b"WIFI CONNECTED\r\nWIFI GOT IP\r\n\r\nOK\r\n",
    );
    b.cmd_is(
        "AT+CWJAP_CUR?",
        b"+CWJAP_CUR:\"lab \"A\",\\x\",\"aa:bb:cc:dd:ee:ff\",6,-45\r\n\r\nOK\r\n",
    );
}

// ---------------------------------------------------------------- S6

fn s6_setup(cfg: EspConfig) -> (Bench, nanoesp_espemu::ConnId) {
    let mut b = Bench::new(cfg);
    b.server(false, 5);
    b.connect();
    b.connect();
    let c2 = b.connect();
    b.run_for(5_000);
    assert_eq!(
        show(&b.take()),
        "0,CONNECT\\r\\n1,CONNECT\\r\\n2,CONNECT\\r\\n"
    );
    let prompt: &[u8] = match b.esp.config().profile {
        nanoesp_espemu::Profile::At17 => b"\r\nOK\r\n> ",
        nanoesp_espemu::Profile::At2 => b"\r\nOK\r\n\r\n>",
    };
    b.cmd_is("AT+CIPSEND=2,600", prompt);
    b.send(&[b'a'; 300]);
    b.client_close(c2);
    (b, c2)
}

fn s6_tail(b: &mut Bench, at2: bool) {
    b.cmd_is("AT+CIPSEND=2,10", b"link is not valid\r\n\r\nERROR\r\n");
    b.cmd_is(
        "AT+CIPCLOSE=2",
        if at2 {
            b"\r\nERROR\r\n"
        } else {
            b"UNLINK\r\n\r\nERROR\r\n"
        },
    );
    assert_eq!(b.esp.links_in_use(), 2, "link 2 freed");
}

#[test]
fn s6_peer_reset_mid_payload_send_fail_default() {
    let (mut b, _) = s6_setup(EspConfig::default());
    b.send(&[b'b'; 300]);
    assert_eq!(
        show(&b.until(b"\r\nSEND FAIL\r\n", 1_000_000)),
        show(b"2,CLOSED\r\n\r\nRecv 600 bytes\r\n\r\nSEND FAIL\r\n")
    );
    s6_tail(&mut b, false);
}

#[test]
fn s6_peer_reset_mid_payload_error_variant() {
    let mut cfg = EspConfig::default();
    cfg.switches.send_to_closed_link = SendToClosedLink::Error;
    let (mut b, _) = s6_setup(cfg);
    b.send(&[b'b'; 300]);
    assert_eq!(
        show(&b.until(b"\r\nERROR\r\n", 1_000_000)),
        show(b"2,CLOSED\r\n\r\nERROR\r\n")
    );
    s6_tail(&mut b, false);
}

#[test]
fn s6_peer_reset_mid_payload_silent_variant() {
    let mut cfg = EspConfig::default();
    cfg.switches.send_to_closed_link = SendToClosedLink::RecvOnly;
    let (mut b, _) = s6_setup(cfg);
    b.send(&[b'b'; 300]);
    b.expect(b"2,CLOSED\r\n\r\nRecv 600 bytes\r\n", 1_000_000);
    s6_tail(&mut b, false);
}

#[test]
fn s6_at2_close_is_plain_error() {
    let (mut b, _) = s6_setup(EspConfig::at2());
    b.send(&[b'b'; 300]);
    b.until(b"\r\nSEND FAIL\r\n", 1_000_000);
    s6_tail(&mut b, true);
}

#[test]
fn s6_closed_before_prompt_gives_error_not_ok() {
    let mut b = Bench::new(EspConfig::default());
    b.server(false, 5);
    let c = b.connect();
    b.run_for(5_000);
    b.take();
    b.send(b"AT+CIPSEND=0,5\r\n");
    b.client_close(c);
    assert_eq!(
        show(&b.until(b"\r\nERROR\r\n", 100_000)),
        show(b"0,CLOSED\r\nlink is not valid\r\n\r\nERROR\r\n")
    );
}

// ---------------------------------------------------------------- S7

#[test]
fn s7_over_limit_client_deferred_until_a_link_frees() {
    let mut b = Bench::new(EspConfig::default());
    b.server(true, 2);
    b.connect();
    b.connect();
    b.run_for(5_000);
    b.take();
    let c3 = b.connect();
    b.client_send(c3, GET);
    b.expect(b"", 1_000_000);
    assert_eq!(b.esp.net_poll(c3), NetEvent::Pending);
    b.cmd_is("AT+CIPCLOSE=0", b"0,CLOSED\r\n\r\nOK\r\n");
    let t0 = b.t;
    b.until(b"0,CONNECT\r\n\r\n+IPD,0,18\r\n", 1_000_000);
    let dt = b.t - t0;
    assert!(
        (10_000..=202_000).contains(&dt),
        "deferred accept after {dt} µs"
    );
    assert_eq!(b.esp.net_link_id(c3), Some(0));
}

#[test]
fn s7_over_limit_client_refused() {
    let mut cfg = EspConfig::default();
    cfg.switches.over_limit = OverLimitPolicy::Refuse;
    let mut b = Bench::new(cfg);
    b.server(true, 2);
    b.connect();
    b.connect();
    b.run_for(5_000);
    b.take();
    let c3 = b.connect();
    b.cmd_is("AT+CIPCLOSE=0", b"0,CLOSED\r\n\r\nOK\r\n");
    b.expect(b"", 2_000_000);
    assert_eq!(b.esp.net_poll(c3), NetEvent::Refused);
}

#[test]
fn s7_missed_closed_then_connect_on_same_id() {
    let mut b = Bench::new(EspConfig::default());
    b.server(false, 3);
    b.connect();
    let c1 = b.connect();
    b.run_for(5_000);
    b.take();
    let t = b.t;
    b.esp.set_faults(
        nanoesp_espemu::Faults {
            drop_urc: 1.0,
            ..Default::default()
        },
        t,
    );
    b.client_close(c1);
    b.expect(b"", 10_000);
    let t = b.t;
    b.esp.set_faults(Default::default(), t);
    let c = b.connect();
    b.expect(b"1,CONNECT\r\n", 10_000);
    assert_eq!(b.esp.net_link_id(c), Some(1));
}

// ---------------------------------------------------------------- S8

fn s8_payload() -> Vec<u8> {
    let mut p = b"POST / HTTP/1.1\r\n\r\n+IPD,0,5\r\nOK\r\n".to_vec();
    while p.len() < 300 {
        p.push(b'0' + (p.len() % 10) as u8);
    }
    p
}

#[test]
fn s8_passive_receive_with_interleaving_and_tricky_payload() {
    let mut b = Bench::new(EspConfig::default());
    b.server(true, 3);
    let c0 = b.connect();
    b.expect(b"0,CONNECT\r\n", 5_000);
    let p = s8_payload();
    b.client_send(c0, &p);
    b.expect(b"\r\n+IPD,0,300\r\n", 5_000);
    b.send(b"AT+CIPRECVDATA=0,64\r\n");
    b.connect();
    let mut want = b"1,CONNECT\r\n+CIPRECVDATA,64:".to_vec();
    want.extend_from_slice(&p[..64]);
    want.extend_from_slice(b"\r\nOK\r\n\r\n+IPD,0,236\r\n");
    b.expect(&want, 20_000);
    b.cmd_is("AT+CIPRECVLEN?", b"+CIPRECVLEN:236,0,0,0,0\r\n\r\nOK\r\n");
    // Peer closes with 236 unread: 1.7 reports CLOSED at once; the data stays readable.
    b.client_close(c0);
    b.expect(b"0,CLOSED\r\n", 5_000);
    b.cmd_is("AT+CIPRECVLEN?", b"+CIPRECVLEN:236,0,0,0,0\r\n\r\nOK\r\n");
    let mut want = b"+CIPRECVDATA,236:".to_vec();
    want.extend_from_slice(&p[64..]);
    want.extend_from_slice(b"\r\nOK\r\n");
    b.cmd_is("AT+CIPRECVDATA=0,1000", &want);
    b.cmd_is("AT+CIPRECVLEN?", b"+CIPRECVLEN:0,0,0,0,0\r\n\r\nOK\r\n");
    assert_eq!(b.esp.links_in_use(), 1, "link 0 freed once drained");
}

#[test]
fn s8_read_after_close_error_switch() {
    let mut cfg = EspConfig::default();
    cfg.switches.read_after_close = ReadAfterClose::Error;
    let mut b = Bench::new(cfg);
    b.server(true, 3);
    let c0 = b.connect();
    b.client_send(c0, &s8_payload());
    b.client_close(c0);
    b.expect(b"0,CONNECT\r\n\r\n+IPD,0,300\r\n0,CLOSED\r\n", 5_000);
    b.cmd_is("AT+CIPRECVDATA=0,64", b"\r\nERROR\r\n");
    assert_eq!(b.esp.links_in_use(), 0);
}

#[test]
fn s8_at2_formats_and_closed_withheld_until_read() {
    let mut b = Bench::new(EspConfig::at2());
    b.server(true, 3);
    let c0 = b.connect();
    let p = s8_payload();
    b.client_send(c0, &p);
    b.expect(b"0,CONNECT\r\n\r\n+IPD,0,300\r\n", 5_000);
    // 2.x: one notification until read.
    b.client_send(c0, b"more");
    b.expect(b"", 5_000);
    let mut want = b"+CIPRECVDATA:64,".to_vec();
    want.extend_from_slice(&p[..64]);
    want.extend_from_slice(b"\r\nOK\r\n");
    b.cmd_is("AT+CIPRECVDATA=0,64", &want);
    b.expect(b"\r\n+IPD,0,240\r\n", 5_000);
    b.cmd_is(
        "AT+CIPRECVLEN?",
        b"+CIPRECVLEN:240,-1,-1,-1,-1\r\n\r\nOK\r\n",
    );
    b.client_close(c0);
    b.expect(b"", 100_000);
    let mut want = b"+CIPRECVDATA:240,".to_vec();
    want.extend_from_slice(&p[64..]);
    want.extend_from_slice(b"more\r\nOK\r\n");
    b.cmd_is("AT+CIPRECVDATA=0,2048", &want);
    b.expect(b"0,CLOSED\r\n", 5_000);
    assert_eq!(b.esp.links_in_use(), 0);
}

#[test]
fn s8_withheld_closed_is_released_by_cipclose() {
    let mut cfg = EspConfig::default();
    cfg.switches.closed_with_unread = Some(ClosedWithUnread::WithholdUntilRead);
    let mut b = Bench::new(cfg);
    b.server(true, 3);
    let c0 = b.connect();
    b.client_send(c0, GET);
    b.client_close(c0);
    b.expect(b"0,CONNECT\r\n\r\n+IPD,0,18\r\n", 5_000);
    b.cmd_is("AT+CIPCLOSE=0", b"0,CLOSED\r\n\r\nOK\r\n");
    assert_eq!(b.esp.links_in_use(), 0);
}

// ---------------------------------------------------------------- S9

#[test]
fn s9_state_rebuilt_from_polls_after_lost_notification() {
    let mut b = Bench::new(EspConfig::default());
    b.server(true, 3);
    let c0 = b.connect();
    let c1 = b.connect();
    b.run_for(5_000);
    b.take();
    b.client_close(c0);
    b.client_send(c1, GET);
    b.run_for(10_000);
    // The Nano lost "\r\n+IPD,1,18\r\n" (its problem, not the ESP's): it polls.
    b.take();
    b.cmd_is(
        "AT+CIPSTATUS",
        b"STATUS:3\r\n+CIPSTATUS:1,\"TCP\",\"192.168.4.100\",51235,80,1\r\n\r\nOK\r\n",
    );
    b.cmd_is("AT+CIPRECVLEN?", b"+CIPRECVLEN:0,18,0,0,0\r\n\r\nOK\r\n");
    b.cmd_is("?", b"\r\nERROR\r\n");
    // Probe while busy.
    b.send(b"AT+CWJAP_CUR=\"nanoesp-lab\",\"correct horse\"\r\n");
    b.run_for(10_000);
    b.take();
    b.cmd_is("?", b"busy p...\r\n");
}

#[test]
fn s9_garbage_input_never_panics_and_the_module_recovers() {
    let mut b = Bench::new(EspConfig::default());
    b.server(true, 3);
    let mut x: u64 = 12345;
    let mut junk = Vec::new();
    for _ in 0..5000 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        junk.push((x >> 33) as u8);
    }
    b.send(&junk);
    b.run_for(3_000_000);
    // Whatever state the junk left (a CIPSEND prompt, a join), finish it and resync.
    b.send(&[b'z'; 2100]);
    b.run_for(12_000_000);
    b.take();
    b.send(b"\r\n");
    b.run_for(100_000);
    b.take();
    let reply = b.cmd("AT");
    assert!(reply.ends_with(b"\r\nOK\r\n"), "{}", show(&reply));
}

// ---------------------------------------------------------------- S10

#[test]
fn s10_spontaneous_reset_mid_payload() {
    let mut b = Bench::new(EspConfig::default());
    b.server(false, 3);
    let c0 = b.connect();
    b.run_for(5_000);
    b.take();
    b.cmd_is("AT+CIPSEND=0,5", b"\r\nOK\r\n> ");
    b.send(b"ab");
    let t = b.t;
    b.esp.reset(t);
    b.send(b"cde");
    let boot = b.boot();
    assert!(
        !boot.windows(6).any(|w| w == b"CLOSED"),
        "no CLOSED after a crash"
    );
    assert_eq!(b.client_recv(c0), (Vec::new(), NetEvent::Closed));
    assert!(b.esp.echo_enabled());
    assert!(!b.esp.passive_mode());
    assert_eq!(b.esp.server_port(), None);
    assert_eq!(b.esp.links_in_use(), 0);
    b.cmd_is("AT+CIPSEND=0,5", b"AT+CIPSEND=0,5\r\r\n\r\nERROR\r\n");
    assert_eq!(b.esp.reset_count(), 1);
}

#[test]
fn s10_fault_profile_resets_by_itself() {
    let mut cfg = EspConfig::default();
    cfg.faults.resets_per_s = 1.0;
    let mut b = Bench::new(cfg);
    b.run_until(20_000_000);
    assert!(b.esp.reset_count() >= 5, "{} resets", b.esp.reset_count());
    let readies = b.out.windows(9).filter(|w| w == b"\r\nready\r\n").count();
    assert!(readies >= 5);
}

#[test]
fn s6_peer_closes_between_recv_and_send_ok() {
    let mut cfg = EspConfig::default();
    cfg.timing.send_ok_us = (100_000, 100_000);
    let mut b = Bench::new(cfg);
    b.server(false, 5);
    let c = b.connect();
    b.run_for(5_000);
    b.take();
    b.cmd_is("AT+CIPSEND=0,19", b"\r\nOK\r\n> ");
    b.send(RESP);
    b.until(b"\r\nRecv 19 bytes\r\n", 10_000);
    b.client_close(c);
    assert_eq!(
        show(&b.until(b"\r\nSEND FAIL\r\n", 1_000_000)),
        show(b"0,CLOSED\r\n\r\nSEND FAIL\r\n")
    );
    assert_eq!(b.client_recv(c), (Vec::new(), NetEvent::Closed));
}

#[test]
fn s8_variant_no_ipd_for_early_data_needs_a_recvlen_poll() {
    let mut cfg = EspConfig::default();
    cfg.switches.skip_first_passive_ipd = true;
    let mut b = Bench::new(cfg);
    b.server(true, 3);
    let c0 = b.connect();
    b.client_send(c0, GET);
    b.expect(b"0,CONNECT\r\n", 10_000);
    b.cmd_is("AT+CIPRECVLEN?", b"+CIPRECVLEN:18,0,0,0,0\r\n\r\nOK\r\n");
    b.client_send(c0, b"x");
    b.expect(b"\r\n+IPD,0,19\r\n", 10_000);
}
