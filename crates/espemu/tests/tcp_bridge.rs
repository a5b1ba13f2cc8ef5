//! The std TCP adapter: a real socket on 127.0.0.1 reaches the emulated server, and the
//! listener only exists once `AT+CIPSERVER=1` succeeded.

mod bench;

use bench::Bench;
use nanoesp_espemu::EspConfig;
use nanoesp_espemu::tcp::TcpBridge;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

#[test]
fn a_real_socket_gets_an_http_answer_through_the_emulator() {
    let mut b = Bench::new(EspConfig::default());
    let mut bridge = TcpBridge::new("127.0.0.1:0".parse::<SocketAddr>().unwrap());
    b.run_for(100_000);
    let t = b.t;
    bridge.poll(&mut b.esp, t).unwrap();
    assert!(!bridge.is_listening(), "no listener before CIPSERVER");

    b.server(false, 3);
    let t = b.t;
    bridge.poll(&mut b.esp, t).unwrap();
    let addr = bridge
        .local_addr()
        .expect("listening once the server is up");

    let mut sock = TcpStream::connect(addr).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sock.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();

    // Poll until the request shows up on the ESP's UART as +IPD.
    let mut seen = Vec::new();
    for _ in 0..2000 {
        let t = b.t;
        bridge.poll(&mut b.esp, t).unwrap();
        b.run_for(1_000);
        seen.extend(b.take());
        if seen.ends_with(b"GET / HTTP/1.1\r\n\r\n") {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(
        seen.ends_with(b"0,CONNECT\r\n\r\n+IPD,0,18:GET / HTTP/1.1\r\n\r\n"),
        "{}",
        bench::show(&seen)
    );
    b.cmd_is("AT+CIPSEND=0,19", b"\r\nOK\r\n> ");
    b.send(b"HTTP/1.0 200 OK\r\n\r\n");
    b.until(b"SEND OK\r\n", 1_000_000);
    b.cmd_is("AT+CIPCLOSE=0", b"0,CLOSED\r\n\r\nOK\r\n");
    for _ in 0..10 {
        let t = b.t;
        bridge.poll(&mut b.esp, t).unwrap();
    }
    let mut answer = Vec::new();
    sock.read_to_end(&mut answer).unwrap();
    assert_eq!(answer, b"HTTP/1.0 200 OK\r\n\r\n");
    assert_eq!(bridge.client_count(), 0);
}

#[test]
fn browser_closing_is_reported_as_closed() {
    let mut b = Bench::new(EspConfig::default());
    let mut bridge = TcpBridge::new("127.0.0.1:0".parse::<SocketAddr>().unwrap());
    b.server(false, 3);
    let t = b.t;
    bridge.poll(&mut b.esp, t).unwrap();
    let sock = TcpStream::connect(bridge.local_addr().unwrap()).unwrap();
    let mut seen = Vec::new();
    let mut dropped = Some(sock);
    for _ in 0..2000 {
        let t = b.t;
        bridge.poll(&mut b.esp, t).unwrap();
        b.run_for(1_000);
        seen.extend(b.take());
        if seen.ends_with(b"0,CONNECT\r\n") {
            dropped.take();
        }
        if seen.ends_with(b"0,CLOSED\r\n") {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(bench::show(&seen), "0,CONNECT\\r\\n0,CLOSED\\r\\n");
}
