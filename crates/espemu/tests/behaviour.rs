//! Command set, switches of spec §8, timing (pacing at the baud, processing delays), fault
//! injection and the invariance of the byte stream under output gaps and input splits.

mod bench;

use bench::{Bench, show};
use nanoesp_espemu::{
    EchoTerminator, EspConfig, Faults, NetEvent, PassiveNotify, Profile, ResetWhileBusy,
};

fn ready_server(cfg: EspConfig, passive: bool) -> Bench {
    let mut b = Bench::new(cfg);
    b.server(passive, 5);
    b
}

/// An active-mode server with one client on link 0, its `0,CONNECT` already taken.
fn server_with_one_client(cfg: EspConfig) -> Bench {
    let mut b = ready_server(cfg, false);
    b.connect();
    b.run_for(5_000);
    b.take();
    b
}

// ---------------------------------------------------------------- command set

#[test]
fn gmr_prints_version_lines_per_profile() {
    let mut b = Bench::new(EspConfig::default());
    b.boot();
    b.cmd("ATE0");
    b.cmd_is(
        "AT+GMR",
        b"AT version:1.7.4.0(May 11 2020 19:13:04)\r\nSDK version:3.0.4(9532ceb)\r\ncompile time:May 27 2020 10:12:17\r\nBin version(Wroom 02):1.7.4\r\n\r\nOK\r\n",
    );
    let mut b = Bench::new(EspConfig::at2());
    b.boot();
    b.cmd("ATE0");
    let got = b.cmd("AT+GMR");
    assert!(got.starts_with(b"AT version:2.2.2.0("), "{}", show(&got));
    assert!(got.ends_with(b"\r\n\r\nOK\r\n"));
}

#[test]
fn cwmode_variants_queries_and_persistence() {
    let mut b = Bench::new(EspConfig::default());
    b.boot();
    b.cmd("ATE0");
    b.cmd_is("AT+CWMODE_CUR?", b"+CWMODE_CUR:1\r\n\r\nOK\r\n");
    b.cmd_is("AT+CWMODE_CUR=?", b"+CWMODE_CUR:(1-3)\r\n\r\nOK\r\n");
    b.cmd_is("AT+CWMODE_CUR=4", b"\r\nERROR\r\n");
    b.cmd_is("AT+CWMODE_CUR=3", b"\r\nOK\r\n");
    b.cmd_is(
        "AT+CIFSR",
        b"+CIFSR:APIP,\"192.168.4.1\"\r\n+CIFSR:APMAC,\"5e:cf:7f:00:00:01\"\r\n+CIFSR:STAIP,\"0.0.0.0\"\r\n+CIFSR:STAMAC,\"5c:cf:7f:00:00:01\"\r\n\r\nOK\r\n",
    );
    b.cmd_is("AT+CWMODE_DEF=2", b"\r\nOK\r\n");
    b.cmd_is("AT+CWMODE_DEF?", b"+CWMODE_DEF:2\r\n\r\nOK\r\n");
    b.cmd_is("AT+CWHOSTNAME=\"nano\"", b"\r\nERROR\r\n");
    b.cmd_is(
        "AT+CWJAP_CUR=\"nanoesp-lab\",\"correct horse\"",
        b"\r\nERROR\r\n",
    );
    b.cmd_is("AT+RST", b"\r\nOK\r\n");
    b.boot();
    b.cmd("ATE0");
    b.cmd_is("AT+CWMODE_CUR?", b"+CWMODE_CUR:2\r\n\r\nOK\r\n");
}

#[test]
fn at2_has_no_cur_def_variants() {
    let mut b = Bench::new(EspConfig::at2());
    b.boot();
    b.cmd("ATE0");
    b.cmd_is("AT+CWMODE_CUR?", b"\r\nERROR\r\n");
    b.cmd_is("AT+CWJAP_CUR?", b"\r\nERROR\r\n");
    b.cmd_is("AT+CWMODE?", b"+CWMODE:1\r\n\r\nOK\r\n");
    b.cmd_is("AT+CWMODE=1,1", b"\r\nOK\r\n");
    b.cmd_is("AT+SYSSTORE=0", b"\r\nOK\r\n");
    b.cmd_is("AT+UART_CUR?", b"+UART_CUR:115200,8,1,0,0\r\n\r\nOK\r\n");
}

#[test]
fn station_address_queries_follow_the_join() {
    let mut b = ready_server(EspConfig::default(), true);
    b.cmd_is(
        "AT+CIFSR",
        b"+CIFSR:STAIP,\"192.168.4.2\"\r\n+CIFSR:STAMAC,\"5c:cf:7f:00:00:01\"\r\n\r\nOK\r\n",
    );
    b.cmd_is(
        "AT+CIPSTA_CUR?",
        b"+CIPSTA_CUR:ip:\"192.168.4.2\"\r\n+CIPSTA_CUR:gateway:\"192.168.4.1\"\r\n+CIPSTA_CUR:netmask:\"255.255.255.0\"\r\n\r\nOK\r\n",
    );
    b.cmd_is(
        "AT+CWJAP_CUR?",
        b"+CWJAP_CUR:\"nanoesp-lab\",\"aa:bb:cc:dd:ee:ff\",6,-45\r\n\r\nOK\r\n",
    );
    b.cmd_is("AT+CIPSTATUS", b"STATUS:2\r\n\r\nOK\r\n");
}

#[test]
fn hostname_and_mdns() {
    let mut b = ready_server(EspConfig::default(), true);
    b.cmd_is("AT+CWHOSTNAME=\"nanoesp\"", b"\r\nOK\r\n");
    b.cmd_is("AT+CWHOSTNAME?", b"+CWHOSTNAME:nanoesp\r\n\r\nOK\r\n");
    b.cmd_is(
        &format!("AT+CWHOSTNAME=\"{}\"", "x".repeat(33)),
        b"\r\nERROR\r\n",
    );
    b.cmd_is("AT+MDNS=1,\"nanoesp\",\"_http\",80", b"\r\nOK\r\n");
    b.cmd_is("AT+MDNS=0", b"\r\nOK\r\n");
    b.cmd_is("AT+MDNS=1", b"\r\nERROR\r\n");
}

#[test]
fn server_setup_rules_and_queries() {
    let mut b = Bench::new(EspConfig::default());
    b.boot();
    b.cmd("ATE0");
    b.cmd_is("AT+CIPSERVER=1,80", b"\r\nERROR\r\n");
    b.cmd_is("AT+CIPSERVER=0", b"no change\r\n\r\nOK\r\n");
    b.cmd_is("AT+CIPMUX=1", b"\r\nOK\r\n");
    b.cmd_is("AT+CIPMUX?", b"+CIPMUX:1\r\n\r\nOK\r\n");
    b.cmd_is("AT+CIPSERVERMAXCONN=6", b"\r\nERROR\r\n");
    b.cmd_is("AT+CIPSERVERMAXCONN=2", b"\r\nOK\r\n");
    b.cmd_is("AT+CIPSERVERMAXCONN?", b"+CIPSERVERMAXCONN:2\r\n\r\nOK\r\n");
    b.cmd_is("AT+CIPSERVER=1", b"\r\nOK\r\n");
    assert_eq!(b.esp.server_port(), Some(333));
    b.cmd_is("AT+CIPSERVER=1,80", b"no change\r\n\r\nOK\r\n");
    b.cmd_is("AT+CIPSERVERMAXCONN=3", b"\r\nERROR\r\n");
    b.cmd_is("AT+CIPMUX=0", b"CIPSERVER must be 0\r\n\r\nERROR\r\n");
    b.cmd_is("AT+CIPSTO?", b"+CIPSTO:180\r\n\r\nOK\r\n");
    b.cmd_is("AT+CIPSTO=7201", b"\r\nERROR\r\n");
    b.cmd_is("AT+CIPRECVMODE?", b"+CIPRECVMODE:0\r\n\r\nOK\r\n");
    b.cmd_is("AT+CIPDINFO=1", b"\r\nOK\r\n");
    b.cmd_is("AT+CIPSERVER=0", b"\r\nOK\r\n");
    assert_eq!(b.esp.server_port(), None);
    b.cmd_is("AT+FOO", b"\r\nERROR\r\n");
    b.cmd_is("", b"\r\nERROR\r\n");
    b.cmd_is("AT+CIPRECVLEN?", b"+CIPRECVLEN:0,0,0,0,0\r\n\r\nOK\r\n");
}

#[test]
fn no_client_reaches_a_module_without_server_or_wifi() {
    let mut b = Bench::new(EspConfig::default());
    b.boot();
    let c = b.connect();
    assert_eq!(b.esp.net_poll(c), NetEvent::Refused);
}

#[test]
fn cipsendex_stops_at_backslash_zero_and_unescapes() {
    let mut b = ready_server(EspConfig::default(), false);
    let c = b.connect();
    b.expect(b"0,CONNECT\r\n", 5_000);
    b.cmd_is("AT+CIPSENDEX=0,2048", b"\r\nOK\r\n> ");
    b.send(b"hi\\\\x\\0");
    b.until(b"\r\nRecv 4 bytes\r\n\r\nSEND OK\r\n", 1_000_000);
    assert_eq!(b.client_recv(c).0, b"hi\\x");
}

#[test]
fn cipsend_checks_link_and_length() {
    let mut b = ready_server(EspConfig::default(), false);
    b.cmd_is("AT+CIPSEND=0,5", b"link is not valid\r\n\r\nERROR\r\n");
    b.connect();
    b.expect(b"0,CONNECT\r\n", 5_000);
    b.cmd_is("AT+CIPSEND=0,0", b"\r\nERROR\r\n");
    b.cmd_is("AT+CIPSEND=0,2049", b"\r\nERROR\r\n");
    b.cmd_is("AT+CIPSEND=5,5", b"\r\nERROR\r\n");
    b.cmd_is("AT+CIPSEND=5", b"\r\nERROR\r\n");
}

#[test]
fn bytes_beyond_the_length_get_busy_s() {
    let mut b = ready_server(EspConfig::default(), false);
    let c = b.connect();
    b.expect(b"0,CONNECT\r\n", 5_000);
    b.cmd_is("AT+CIPSEND=0,5", b"\r\nOK\r\n> ");
    b.send(b"hello\r\n");
    b.until(
        b"\r\nRecv 5 bytes\r\nbusy s...\r\n\r\nSEND OK\r\n",
        1_000_000,
    );
    assert_eq!(b.client_recv(c).0, b"hello");
}

#[test]
fn payload_sent_before_the_prompt_is_command_input_and_lost() {
    let mut cfg = EspConfig::default();
    cfg.timing.prompt_us = (20_000, 20_000);
    let mut b = ready_server(cfg, false);
    let c = b.connect();
    b.expect(b"0,CONNECT\r\n", 5_000);
    b.send(b"AT+CIPSEND=0,5\r\n");
    b.until(b"\r\nOK\r\n", 10_000);
    b.send(b"hello");
    b.expect(b"> ", 100_000);
    assert_eq!(b.client_recv(c), (Vec::new(), NetEvent::Pending));
    assert!(b.esp.is_busy(), "still waiting for the payload");
}

#[test]
fn cipclose_all_and_cipdinfo_formats() {
    let mut b = ready_server(EspConfig::default(), false);
    b.cmd_is("AT+CIPDINFO=1", b"\r\nOK\r\n");
    let c0 = b.connect();
    b.connect();
    b.client_send(c0, b"hi");
    b.expect(
        b"0,CONNECT\r\n1,CONNECT\r\n\r\n+IPD,0,2,192.168.4.100,51234:hi",
        5_000,
    );
    b.cmd_is("AT+CIPCLOSE=5", b"0,CLOSED\r\n1,CLOSED\r\n\r\nOK\r\n");
    assert_eq!(b.esp.links_in_use(), 0);
    b.cmd_is("AT+CIPSTATUS", b"STATUS:4\r\n\r\nOK\r\n");

    let mut b = ready_server(EspConfig::at2(), false);
    b.cmd_is("AT+CIPDINFO=1", b"\r\nOK\r\n");
    let c0 = b.connect();
    b.client_send(c0, b"hi");
    b.expect(
        b"0,CONNECT\r\n\r\n+IPD,0,2,\"192.168.4.100\",51234:hi\r\n",
        5_000,
    );
}

#[test]
fn active_ipd_is_split_per_1460_byte_segment() {
    let mut b = ready_server(EspConfig::default(), false);
    let c = b.connect();
    b.client_send(c, &[b'x'; 2000]);
    let mut want = b"0,CONNECT\r\n\r\n+IPD,0,1460:".to_vec();
    want.extend_from_slice(&[b'x'; 1460]);
    want.extend_from_slice(b"\r\n+IPD,0,540:");
    want.extend_from_slice(&[b'x'; 540]);
    b.expect(&want, 300_000);
}

#[test]
fn active_closed_is_glued_to_the_payload() {
    let mut b = ready_server(EspConfig::default(), false);
    let c = b.connect();
    b.client_send(c, b"{}");
    b.client_close(c);
    b.expect(b"0,CONNECT\r\n\r\n+IPD,0,2:{}0,CLOSED\r\n", 5_000);
}

// ---------------------------------------------------------------- UART and reset

#[test]
fn uart_cur_answers_at_the_old_rate_then_switches() {
    let mut b = ready_server(EspConfig::default(), false);
    b.send(b"AT+UART_CUR=9600,8,1,0,0\r\n");
    b.log.clear();
    b.until(b"\r\nOK\r\n", 100_000);
    let fast: Vec<u64> = b.log.windows(2).map(|w| w[1].0 - w[0].0).collect();
    assert!(fast.iter().all(|&d| d == 86 || d == 87), "{fast:?}");
    assert_eq!(b.esp.baud(), 9600);
    b.host_baud = 9600;
    b.log.clear();
    b.cmd_is("AT", b"\r\nOK\r\n");
    let slow: Vec<u64> = b.log.windows(2).map(|w| w[1].0 - w[0].0).collect();
    assert!(slow.iter().all(|&d| d == 1041 || d == 1042), "{slow:?}");
    // _CUR is forgotten by a reset; _DEF is not.
    b.cmd_is("AT+UART_DEF=57600,8,1,0,0", b"\r\nOK\r\n");
    b.host_baud = 57600;
    b.cmd_is("AT+RST", b"\r\nOK\r\n");
    b.boot();
    assert_eq!(b.esp.baud(), 57600);
    b.cmd_is(
        "AT+UART_DEF?",
        b"AT+UART_DEF?\r\r\n+UART_DEF:57600,8,1,0,0\r\n\r\nOK\r\n",
    );
    b.cmd_is(
        "AT+UART_CUR=9600,8,1,0",
        b"AT+UART_CUR=9600,8,1,0\r\r\n\r\nERROR\r\n",
    );
}

#[test]
fn at_rst_resets_state_and_says_ready() {
    let mut b = ready_server(EspConfig::default(), true);
    let c = b.connect();
    b.expect(b"0,CONNECT\r\n", 5_000);
    b.cmd_is("AT+RST", b"\r\nOK\r\n");
    let boot = b.boot();
    assert!(!boot.windows(6).any(|w| w == b"CLOSED"));
    assert_eq!(b.esp.reset_count(), 1);
    assert_eq!(b.client_recv(c).1, NetEvent::Closed);
    assert!(b.esp.echo_enabled() && !b.esp.passive_mode() && b.esp.server_port().is_none());
    assert!(!b.esp.wifi_joined());
    b.cmd_is("AT+CIPMUX?", b"AT+CIPMUX?\r\r\n+CIPMUX:0\r\n\r\nOK\r\n");
}

#[test]
fn rst_reports_closed_switch() {
    let mut cfg = EspConfig::default();
    cfg.switches.rst_reports_closed = true;
    let mut b = ready_server(cfg, true);
    b.connect();
    b.expect(b"0,CONNECT\r\n", 5_000);
    b.cmd_is("AT+RST", b"\r\nOK\r\n0,CLOSED\r\n");
}

#[test]
fn rst_while_busy_forces_a_restart_by_default() {
    let mut b = Bench::new(EspConfig::default());
    b.boot();
    b.cmd("ATE0");
    b.send(b"AT+CWJAP_CUR=\"nanoesp-lab\",\"correct horse\"\r\n");
    b.run_for(10_000);
    b.cmd_is("AT+RST", b"Will force to restart!!!\r\n");
    b.boot();
    b.run_for(6_000_000);
    assert!(!b.esp.wifi_joined(), "the join was abandoned");
    assert_eq!(b.esp.reset_count(), 1);
}

#[test]
fn rst_while_busy_switch_busy() {
    let mut cfg = EspConfig::default();
    cfg.switches.reset_while_busy = ResetWhileBusy::Busy;
    let mut b = Bench::new(cfg);
    b.boot();
    b.cmd("ATE0");
    b.send(b"AT+CWJAP_CUR=\"nanoesp-lab\",\"correct horse\"\r\n");
    b.run_for(10_000);
    b.cmd_is("AT+RST", b"busy p...\r\n");
    b.until(b"WIFI GOT IP\r\n\r\nOK\r\n", 6_000_000);
}

#[test]
fn echo_terminator_switch() {
    let mut cfg = EspConfig::default();
    cfg.switches.echo_terminator = EchoTerminator::CrLf;
    let mut b = Bench::new(cfg);
    b.boot();
    b.cmd_is("AT", b"AT\r\n\r\nOK\r\n");
}

#[test]
fn input_during_boot_is_lost() {
    let mut b = Bench::new(EspConfig::default());
    b.send(b"AT\r\n");
    let boot = b.boot();
    assert!(!boot.windows(2).any(|w| w == b"OK"));
}

// ---------------------------------------------------------------- CIPSTO

#[test]
fn cipsto_closes_idle_clients_and_only_client_traffic_counts() {
    let mut b = ready_server(EspConfig::default(), false);
    b.cmd_is("AT+CIPSTO=2", b"\r\nOK\r\n");
    let c = b.connect();
    b.expect(b"0,CONNECT\r\n", 5_000);
    b.run_for(1_500_000);
    b.client_send(c, b"x");
    b.expect(b"\r\n+IPD,0,1:x", 5_000);
    // ESP-side sends do not restart the timer.
    b.cmd_is("AT+CIPSEND=0,1", b"\r\nOK\r\n> ");
    b.send(b"y");
    b.until(b"SEND OK\r\n", 1_000_000);
    let t_data = b.t;
    let closed = b.until(b"0,CLOSED\r\n", 3_000_000);
    assert_eq!(show(&closed), "0,CLOSED\\r\\n");
    let idle = b.t - t_data;
    assert!(
        (1_900_000..=2_000_100).contains(&idle),
        "closed after {idle} µs"
    );
    assert_eq!(b.client_recv(c), (b"y".to_vec(), NetEvent::Closed));
}

#[test]
fn cipsto_zero_never_closes() {
    let mut b = ready_server(EspConfig::default(), false);
    b.cmd_is("AT+CIPSTO=0", b"\r\nOK\r\n");
    b.connect();
    b.expect(b"0,CONNECT\r\n", 5_000);
    b.expect(b"", 400_000_000);
}

// ---------------------------------------------------------------- passive switches

#[test]
fn passive_every_arrival_reports_growing_total() {
    let mut b = ready_server(EspConfig::default(), true);
    let c = b.connect();
    b.client_send(c, b"12345");
    b.client_send(c, b"67890");
    b.expect(b"0,CONNECT\r\n\r\n+IPD,0,5\r\n\r\n+IPD,0,10\r\n", 5_000);
}

#[test]
fn passive_once_per_read_switch_on_1_7() {
    let mut cfg = EspConfig::default();
    cfg.switches.passive_notify = Some(PassiveNotify::OncePerRead);
    let mut b = ready_server(cfg, true);
    let c = b.connect();
    b.client_send(c, b"12345");
    b.client_send(c, b"67890");
    b.expect(b"0,CONNECT\r\n\r\n+IPD,0,5\r\n", 5_000);
    b.cmd_is(
        "AT+CIPRECVDATA=0,10",
        b"+CIPRECVDATA,10:1234567890\r\nOK\r\n",
    );
    b.client_send(c, b"a");
    b.expect(b"\r\n+IPD,0,1\r\n", 5_000);
}

#[test]
fn renotify_switch_off() {
    let mut cfg = EspConfig::default();
    cfg.switches.renotify_after_partial_read = false;
    let mut b = ready_server(cfg, true);
    let c = b.connect();
    b.client_send(c, b"1234567890");
    b.expect(b"0,CONNECT\r\n\r\n+IPD,0,10\r\n", 5_000);
    b.cmd_is("AT+CIPRECVDATA=0,4", b"+CIPRECVDATA,4:1234\r\nOK\r\n");
    b.expect(b"", 50_000);
    b.cmd_is("AT+CIPRECVLEN?", b"+CIPRECVLEN:6,0,0,0,0\r\n\r\nOK\r\n");
}

#[test]
fn passive_window_throttles_the_client() {
    let mut cfg = EspConfig::default();
    cfg.switches.passive_window = 100;
    let mut b = ready_server(cfg, true);
    let c = b.connect();
    let data: Vec<u8> = (0..250u32).map(|i| (i % 251) as u8).collect();
    b.client_send(c, &data);
    b.expect(b"0,CONNECT\r\n\r\n+IPD,0,100\r\n", 5_000);
    let mut got = Vec::new();
    for _ in 0..3 {
        let r = b.cmd("AT+CIPRECVDATA=0,100");
        let colon = r.iter().position(|&x| x == b':').unwrap();
        got.extend_from_slice(&r[colon + 1..r.len() - 6]);
        b.run_for(10_000);
        b.take();
    }
    assert_eq!(got, data);
    b.cmd_is("AT+CIPRECVDATA=0,100", b"\r\nERROR\r\n");
}

#[test]
fn recvdata_errors() {
    let mut b = ready_server(EspConfig::default(), true);
    b.cmd_is("AT+CIPRECVDATA=0,10", b"\r\nERROR\r\n");
    b.connect();
    b.expect(b"0,CONNECT\r\n", 5_000);
    b.cmd_is("AT+CIPRECVDATA=0,10", b"\r\nERROR\r\n");
    b.cmd_is("AT+CIPRECVDATA=0,0", b"\r\nERROR\r\n");
}

#[test]
fn ipd_trailing_crlf_switch() {
    let mut cfg = EspConfig::default();
    cfg.switches.ipd_trailing_crlf = Some(true);
    let mut b = ready_server(cfg, false);
    let c = b.connect();
    b.client_send(c, b"ab");
    b.expect(b"0,CONNECT\r\n\r\n+IPD,0,2:ab\r\n", 5_000);
}

// ---------------------------------------------------------------- timing

#[test]
fn output_is_paced_at_the_baud() {
    for baud in [9600u32, 57_600, 115_200] {
        let cfg = EspConfig {
            baud,
            ..EspConfig::default()
        };
        let mut b = ready_server(cfg, false);
        let c = b.connect();
        b.run_for(100_000);
        b.take();
        b.log.clear();
        b.client_send(c, &[b'z'; 1000]);
        b.run_for(2_000_000);
        let n = b.log.len() as u64;
        assert_eq!(n, 1000 + "\r\n+IPD,0,1000:".len() as u64);
        let span = b.log.last().unwrap().0 - b.log.first().unwrap().0;
        let want = (n - 1) * 10_000_000 / u64::from(baud);
        assert!(span.abs_diff(want) <= 2, "{baud}: {span} vs {want} µs");
        // The first byte completes one byte time after the data arrived.
        let first = b.log[0].0 - (b.t - 2_000_000);
        assert!(first.abs_diff(10_000_000 / u64::from(baud)) <= 1, "{first}");
    }
}

#[test]
fn command_processing_takes_one_to_five_ms() {
    let mut b = Bench::new(EspConfig::default());
    b.boot();
    b.cmd("ATE0");
    for _ in 0..20 {
        b.send(b"AT\r\n");
        let sent = b.t;
        b.log.clear();
        b.until(b"\r\nOK\r\n", 100_000);
        let first = b.log[0].0 - sent;
        assert!((1_000..=5_100).contains(&first), "{first} µs");
    }
}

#[test]
fn a_second_command_while_busy_gets_busy_p() {
    let mut cfg = EspConfig::default();
    cfg.timing.command_us = (5_000, 5_000);
    let mut b = Bench::new(cfg);
    b.boot();
    b.cmd("ATE0");
    b.send(b"AT\r\nAT\r\n");
    b.expect(b"busy p...\r\n\r\nOK\r\n", 20_000);
}

#[test]
fn prompt_and_send_ok_delays_are_configurable() {
    let mut cfg = EspConfig::default();
    cfg.timing.prompt_us = (7_000, 7_000);
    cfg.timing.send_ok_us = (250_000, 250_000);
    let mut b = server_with_one_client(cfg);
    b.send(b"AT+CIPSEND=0,1\r\n");
    b.log.clear();
    b.until(b"> ", 100_000);
    // "\r\nOK\r\n" then "> ": the last prompt byte completes 7 ms + one byte after the first.
    let prompt_span = b.log[7].0 - b.log[0].0;
    assert!((7_000..=7_300).contains(&prompt_span), "{prompt_span}");
    b.send(b"x");
    b.log.clear();
    b.until(b"SEND OK\r\n", 1_000_000);
    let send_span = b.log.last().unwrap().0 - b.log[0].0;
    assert!((250_000..=251_500).contains(&send_span), "{send_span}");
}

// ---------------------------------------------------------------- faults and determinism

/// A fixed-time script: host lines and client events at absolute times, far enough apart
/// that any 0–50 ms output gaps cannot reorder them.
fn scripted_stream(cfg: EspConfig, split_input: bool) -> Vec<u8> {
    let mut b = Bench::new(cfg);
    let mut rng: u64 = 99;
    let mut at = 1_000_000;
    let mut host = |b: &mut Bench, at: &mut u64, line: &[u8]| {
        b.run_until(*at);
        if split_input {
            for &x in line {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1);
                b.run_for((rng >> 40) % 3_000);
                b.send(&[x]);
            }
        } else {
            b.send(line);
        }
        *at += 1_000_000;
    };
    host(&mut b, &mut at, b"ATE0\r\n");
    at += 5_000_000;
    host(
        &mut b,
        &mut at,
        b"AT+CWJAP_CUR=\"nanoesp-lab\",\"correct horse\"\r\n",
    );
    at += 5_000_000;
    for l in [
        &b"AT+CIPMUX=1\r\n"[..],
        b"AT+CIPRECVMODE=1\r\n",
        b"AT+CIPSERVERMAXCONN=2\r\n",
        b"AT+CIPSERVER=1,80\r\n",
    ] {
        host(&mut b, &mut at, l);
    }
    b.run_until(at);
    let c0 = b.connect();
    let c1 = b.connect();
    let c2 = b.connect();
    b.client_send(c0, GET);
    b.client_send(c1, GET);
    b.client_send(c2, GET);
    at += 1_000_000;
    host(&mut b, &mut at, b"AT+CIPRECVDATA=0,10\r\n");
    host(&mut b, &mut at, b"AT+CIPRECVDATA=0,100\r\n");
    host(&mut b, &mut at, b"AT+CIPSEND=0,19\r\n");
    host(&mut b, &mut at, RESP);
    host(&mut b, &mut at, b"AT+CIPCLOSE=0\r\n");
    host(&mut b, &mut at, b"AT+CIPSTATUS\r\n");
    host(&mut b, &mut at, b"AT+CIPRECVLEN?\r\n");
    b.run_until(at + 5_000_000);
    b.take()
}

const GET: &[u8] = b"GET / HTTP/1.1\r\n\r\n";
const RESP: &[u8] = b"HTTP/1.0 200 OK\r\n\r\n";

#[test]
fn gaps_and_input_splits_change_timing_not_bytes() {
    for seed in 1..6 {
        // Boot noise is a function of the seed, so compare against the same seed without gaps.
        let plain = scripted_stream(
            EspConfig {
                seed,
                ..EspConfig::default()
            },
            false,
        );
        assert!(
            plain.ends_with(b"+CIPRECVLEN:18,18,0,0,0\r\n\r\nOK\r\n"),
            "{}",
            show(&plain)
        );
        let gappy = EspConfig {
            faults: Faults::realistic_noise(),
            seed,
            ..EspConfig::default()
        };
        assert_eq!(show(&scripted_stream(gappy.clone(), false)), show(&plain));
        assert_eq!(show(&scripted_stream(gappy, true)), show(&plain));
    }
}

#[test]
fn gaps_are_real() {
    let mut cfg = EspConfig::default();
    cfg.faults.max_gap_us = 50_000;
    let mut b = Bench::new(cfg);
    b.boot();
    b.cmd("ATE0");
    let mut worst = 0;
    for _ in 0..20 {
        b.send(b"AT\r\n");
        let sent = b.t;
        b.log.clear();
        b.until(b"\r\nOK\r\n", 200_000);
        worst = worst.max(b.log[0].0 - sent);
    }
    assert!(
        worst > 10_000,
        "gaps up to 50 ms expected, worst {worst} µs"
    );
}

#[test]
fn same_seed_same_timed_output() {
    let run = || {
        let mut b = Bench::new(EspConfig::faulty());
        b.server(true, 3);
        let c = b.connect();
        b.client_send(c, GET);
        b.run_for(1_000_000);
        b.log.clone()
    };
    assert_eq!(run(), run());
}

#[test]
fn dropped_urcs_are_counted_statistically() {
    let mut cfg = EspConfig::default();
    cfg.faults.drop_urc = 0.5;
    let mut b = Bench::new(cfg);
    // The join's WIFI lines are URCs too; only the final OK is guaranteed.
    b.boot();
    b.cmd("ATE0");
    b.send(b"AT+CWJAP_CUR=\"nanoesp-lab\",\"correct horse\"\r\n");
    b.until(b"\r\nOK\r\n", 6_000_000);
    b.cmd("AT+CIPMUX=1");
    b.cmd("AT+CIPSERVER=1,80");
    b.cmd("AT+CIPSTO=0");
    let mut connects = 0;
    for _ in 0..100 {
        let c = b.connect();
        b.run_for(5_000);
        connects += b.take().windows(7).filter(|w| w == b"CONNECT").count();
        b.client_close(c);
        b.run_for(5_000);
        b.take();
    }
    assert!(
        (30..=70).contains(&connects),
        "{connects} of 100 CONNECT lines survived"
    );
}

#[test]
fn garbage_fault_inserts_bytes_but_keeps_lines() {
    let mut cfg = EspConfig::default();
    cfg.faults.garbage = 1.0;
    let mut b = Bench::new(cfg);
    b.boot();
    b.send(b"ATE0\r\n");
    let got = b.until_contains(b"\r\nOK\r\n", 100_000);
    assert!(got.len() > b"ATE0\r\r\n\r\nOK\r\n".len(), "{}", show(&got));
}

#[test]
fn realistic_profile_auto_joins_after_boot() {
    let mut b = Bench::new(EspConfig::realistic());
    b.boot();
    b.until(b"WIFI CONNECTED\r\n", 7_000_000);
    b.until(b"WIFI GOT IP\r\n", 2_000_000);
    assert!(b.esp.wifi_joined());
}

// ---------------------------------------------------------------- observability

#[test]
fn send_wait_counts_the_time_from_recv_to_send_ok() {
    let mut cfg = EspConfig::default();
    cfg.timing.send_ok_us = (250_000, 250_000);
    let mut b = server_with_one_client(cfg);
    assert_eq!((b.esp.sends(), b.esp.send_wait_us()), (0, 0));
    // the command and the prompt wait are not send wait
    b.send(b"AT+CIPSEND=0,1\r\n");
    b.until(b"> ", 100_000);
    assert_eq!(b.esp.send_wait_us(), 0);
    b.send(b"x");
    assert_eq!(b.esp.sends(), 1);
    // the wait in progress counts up to now
    b.run_for(100_000);
    assert_eq!(b.esp.send_wait_us(), 100_000);
    // a command meanwhile is refused, and its bytes are counted as sent into the wait
    b.send(b"AT\r\n");
    assert_eq!(b.esp.uart_bytes_rx_in_send_wait(), 4);
    b.until(b"SEND OK\r\n", 1_000_000);
    assert_eq!(b.esp.send_wait_us(), 250_000);
    b.run_for(50_000);
    assert_eq!(b.esp.send_wait_us(), 250_000, "no wait after SEND OK");
    b.cmd_is("AT", b"\r\nOK\r\n");
    assert_eq!(b.esp.uart_bytes_rx_in_send_wait(), 4);
    // a second send adds its own wait; one cut short by a crash counts until the crash
    b.send(b"AT+CIPSEND=0,1\r\n");
    b.until(b"> ", 100_000);
    b.send(b"y");
    b.until(b"SEND OK\r\n", 1_000_000);
    b.send(b"AT+CIPSEND=0,1\r\n");
    b.until(b"> ", 100_000);
    b.send(b"z");
    b.run_for(30_000);
    let t = b.t;
    b.esp.reset(t);
    b.run_for(1_000_000);
    assert_eq!(b.esp.sends(), 3);
    assert_eq!(b.esp.send_wait_us(), 2 * 250_000 + 30_000);
}

#[test]
fn esp_turn_runs_from_a_command_line_to_its_last_reply_byte() {
    let mut cfg = EspConfig::default();
    cfg.timing.command_us = (2_000, 2_000);
    cfg.timing.prompt_us = (500, 500);
    cfg.timing.send_ok_us = (100_000, 100_000);
    let mut b = server_with_one_client(cfg);
    let before = b.esp.esp_turn_us();
    let last_byte_at = |b: &Bench| b.log.last().map(|&(t, _)| t).unwrap();

    // A plain command: processing, then its reply on the wire.
    b.send(b"AT\r\n");
    let line_end = b.t;
    b.until(b"\r\nOK\r\n", 100_000);
    let ok_done = last_byte_at(&b);
    assert!(ok_done > line_end + 2_000);
    assert_eq!(b.esp.esp_turn_us() - before, ok_done - line_end);
    b.run_for(50_000);
    assert_eq!(
        b.esp.esp_turn_us() - before,
        ok_done - line_end,
        "idle is not a turn"
    );

    // CIPSEND: the turn pauses from the prompt to the payload's end, then holds the send
    // wait and the SEND OK line.
    let before = b.esp.esp_turn_us();
    b.send(b"AT+CIPSEND=0,1\r\n");
    let line_end = b.t;
    b.until(b"> ", 100_000);
    let prompt_done = last_byte_at(&b);
    b.run_for(20_000);
    b.send(b"x");
    let payload_end = b.t;
    b.run_for(50_000);
    // a command in the send wait is refused; its bytes count as sent into the turn
    b.send(b"AT\r\n");
    assert_eq!(b.esp.uart_bytes_rx_in_turn(), 4);
    b.until_contains(b"SEND OK\r\n", 1_000_000);
    b.run_for(10_000);
    let send_ok_done = b
        .log
        .iter()
        .rev()
        .find(|&&(_, byte)| byte == b'\n')
        .map(|&(t, _)| t)
        .unwrap();
    assert_eq!(
        b.esp.esp_turn_us() - before,
        (prompt_done - line_end) + (send_ok_done - payload_end)
    );
    assert!(
        send_ok_done - payload_end >= 100_000,
        "the send wait is inside the turn"
    );

    // With output gaps the turn waits for the delayed reply, too.
    let mut b = ready_server(EspConfig::realistic(), false);
    b.run_for(100_000);
    b.take();
    let (mut spans, mut turns) = (0, 0);
    for _ in 0..20 {
        let before = b.esp.esp_turn_us();
        b.send(b"AT\r\n");
        let line_end = b.t;
        b.until(b"\r\nOK\r\n", 200_000);
        spans += last_byte_at(&b) - line_end;
        b.run_for(60_000);
        b.take();
        turns += b.esp.esp_turn_us() - before;
    }
    assert_eq!(turns, spans);
    assert!(
        turns > 20 * (5_000 + 600),
        "the gaps are part of the turns: {turns} µs"
    );
}

#[test]
fn wifi_got_ip_time_is_when_the_address_came() {
    let mut cfg = EspConfig::realistic();
    cfg.timing.auto_join_us = (1_000_000, 1_000_000);
    let mut b = Bench::new(cfg);
    b.boot();
    assert_eq!(b.esp.wifi_got_ip_us(), None);
    b.until_contains(b"WIFI GOT IP\r\n", 3_000_000);
    // boot 0.3 s, auto-join 1 s, association to address 1 s
    assert_eq!(b.esp.wifi_got_ip_us(), Some(2_300_000));
    let t = b.t;
    b.esp.reset(t);
    b.run_for(1_000);
    assert_eq!(b.esp.wifi_got_ip_us(), None, "a reset drops the address");
}

#[test]
fn transcript_and_counters() {
    let mut b = Bench::new(EspConfig::at2());
    b.boot();
    b.cmd_is("AT", b"AT\r\r\n\r\nOK\r\n");
    assert_eq!(b.esp.uart_bytes_rx(), 4);
    assert_eq!(b.esp.uart_bytes_tx(), (9 + 11) as u64);
    // Echo comes back byte by byte while the host is still sending.
    let raw = b.esp.transcript();
    assert!(
        raw.ends_with(b"\n--> A\n<-- A\n--> T\n<-- T\n--> \r\n<-- \r\n--> \n\n<-- \r\n\r\nOK\r\n"),
        "{}",
        show(raw)
    );
    assert_eq!(
        b.esp.transcript_text(),
        "<-- \\r\\nready\\r\\n\n--> A\n<-- A\n--> T\n<-- T\n--> \\r\n<-- \\r\n--> \\n\n<-- \\r\\n\\r\\nOK\\r\\n"
    );
    assert_eq!(b.esp.config().profile, Profile::At2);
}

#[test]
fn next_event_is_none_when_quiet() {
    let mut b = Bench::new(EspConfig::default());
    b.boot();
    b.run_for(1_000);
    assert_eq!(b.esp.next_event_us(), None);
}

#[test]
fn host_at_the_wrong_baud_is_garbled() {
    let mut b = Bench::new(EspConfig::default());
    b.boot();
    for &x in b"AT\r\n" {
        b.run_for(1_100);
        let t = b.t;
        b.esp.uart_rx_at_baud(x, 9600, t);
    }
    b.run_for(20_000);
    assert!(!b.take().ends_with(b"\r\nOK\r\n"));
    for &x in b"\r\n" {
        b.run_for(100);
        let t = b.t;
        b.esp.uart_rx_at_baud(x, 115_200, t);
    }
    b.run_for(20_000);
    b.take();
    for &x in b"AT\r\n" {
        b.run_for(100);
        let t = b.t;
        b.esp.uart_rx_at_baud(x, 117_647, t); // the AVR's real 115200 (+2.1 %) is fine
    }
    b.run_for(20_000);
    assert!(b.take().ends_with(b"AT\r\r\n\r\nOK\r\n"));
}

#[test]
fn crlf_after_prompt_switch() {
    let mut cfg = EspConfig::default();
    cfg.switches.crlf_after_prompt = true;
    let mut b = ready_server(cfg, false);
    b.connect();
    b.expect(b"0,CONNECT\r\n", 5_000);
    b.send(b"AT+CIPSEND=0,1\r\n");
    b.expect(b"\r\nOK\r\n> \r\n", 20_000);
}

/// Random host lines (valid and not), random client traffic, every profile and switch
/// combination under the fault profile: nothing panics, ids stay within 0–4, the limit holds.
#[test]
fn randomised_sessions_keep_invariants() {
    let lines: &[&[u8]] = &[
        b"AT\r\n",
        b"ATE1\r\n",
        b"AT+CIPMUX=1\r\n",
        b"AT+CIPRECVMODE=1\r\n",
        b"AT+CIPRECVMODE=0\r\n",
        b"AT+CIPSERVERMAXCONN=2\r\n",
        b"AT+CIPSERVER=1,80\r\n",
        b"AT+CIPSERVER=0\r\n",
        b"AT+CIPSTO=1\r\n",
        b"AT+CWJAP_CUR=\"nanoesp-lab\",\"correct horse\"\r\n",
        b"AT+CIPSEND=0,5\r\nhello",
        b"AT+CIPSENDEX=1,20\r\nab\\0",
        b"AT+CIPRECVDATA=0,7\r\n",
        b"AT+CIPRECVDATA=1,100\r\n",
        b"AT+CIPRECVLEN?\r\n",
        b"AT+CIPSTATUS\r\n",
        b"AT+CIPCLOSE=0\r\n",
        b"AT+CIPCLOSE=5\r\n",
        b"AT+RST\r\n",
        b"\xff\x00AT+\"\\\r\n",
        b"AT+CIPSEND=3,2048\r\n",
    ];
    let mut x: u64 = 7;
    let mut next = move |n: u64| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) % n
    };
    for round in 0..24u64 {
        let mut cfg = if round % 2 == 0 {
            EspConfig::faulty()
        } else {
            EspConfig {
                profile: Profile::At2,
                ..EspConfig::faulty()
            }
        };
        cfg.seed = round;
        cfg.faults.resets_per_s = 0.05;
        cfg.switches.over_limit = if round % 3 == 0 {
            nanoesp_espemu::OverLimitPolicy::Refuse
        } else {
            nanoesp_espemu::OverLimitPolicy::Defer
        };
        cfg.switches.send_to_closed_link = match round % 4 {
            0 => nanoesp_espemu::SendToClosedLink::RecvOnly,
            1 => nanoesp_espemu::SendToClosedLink::Error,
            _ => nanoesp_espemu::SendToClosedLink::RecvThenSendFail,
        };
        cfg.switches.read_after_close = if round % 5 == 0 {
            nanoesp_espemu::ReadAfterClose::Error
        } else {
            nanoesp_espemu::ReadAfterClose::Data
        };
        cfg.switches.passive_window = 64;
        let mut b = Bench::new(cfg);
        let mut conns = Vec::new();
        for _ in 0..300 {
            match next(6) {
                0 | 1 => {
                    let l = lines[next(lines.len() as u64) as usize];
                    b.send(l);
                }
                2 => conns.push(b.connect()),
                3 if !conns.is_empty() => {
                    let c = conns[next(conns.len() as u64) as usize];
                    b.client_send(c, &vec![b'q'; next(200) as usize + 1]);
                }
                4 if !conns.is_empty() => {
                    let c = conns[next(conns.len() as u64) as usize];
                    b.client_close(c);
                }
                _ => b.run_for(next(3_000_000)),
            }
            assert!(b.esp.links_in_use() <= 5);
            for &c in &conns {
                assert!(b.esp.net_link_id(c).is_none_or(|id| id <= 4));
                let _ = b.esp.net_poll(c);
            }
        }
        b.run_for(10_000_000);
        let out = b.take();
        for w in out.windows(9) {
            if w.ends_with(b",CONNECT") {
                assert!(w[0].is_ascii_digit() && w[0] <= b'4', "{}", show(w));
            }
        }
    }
}

/// The same inputs at the same times give the same bytes at the same completion times,
/// whether the caller steps event by event or polls every 5 ms.
#[test]
fn output_times_do_not_depend_on_polling_granularity() {
    let run = |poll_step: Option<u64>| {
        let mut esp = nanoesp_espemu::Esp::new(EspConfig::realistic());
        let script: Vec<(u64, &[u8])> = vec![
            (1_000_000, b"ATE0\r\n"),
            (8_000_000, b"AT+CIPMUX=1\r\n"),
            (9_000_000, b"AT+CIPSERVER=1,80\r\n"),
            (10_000_000, b"AT+GMR\r\n"),
        ];
        let mut out = Vec::new();
        let mut t = 0;
        let mut pending = script.into_iter().flat_map(|(at, line)| {
            line.iter()
                .enumerate()
                .map(move |(i, &b)| (at + i as u64 * 87, b))
                .collect::<Vec<_>>()
        });
        let mut next_in = pending.next();
        while t < 12_000_000 {
            let mut step = poll_step.unwrap_or_else(|| {
                esp.next_event_us()
                    .map_or(1_000, |n| n.saturating_sub(t).max(1))
            });
            if let Some((at, _)) = next_in {
                step = step.min(at.saturating_sub(t).max(1));
            }
            t += step;
            while let Some((at, b)) = next_in.filter(|&(at, _)| at <= t) {
                esp.uart_rx(b, at);
                next_in = pending.next();
            }
            while let Some(x) = esp.uart_tx_timed(t) {
                out.push(x);
            }
        }
        out
    };
    let fine = run(None);
    assert!(fine.len() > 150, "{}", fine.len());
    assert_eq!(fine, run(Some(5_000)));
}
