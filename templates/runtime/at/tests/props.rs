//! Property tests: timing and chunking of the ESP's output and unsolicited lines inserted at
//! any line boundary never change what the driver reports for a link; garbage never panics.

use nanoesp_at::driver::{Event, Link, Request, Settings};
use nanoesp_at::{Parser, Token};
use nanoesp_http::{pstr, PStr};
use proptest::prelude::*;

/// The settings of these tests.
struct Lab;

impl Settings for Lab {
    const SSID: PStr = pstr!(b"lab");
    const PASSWORD: PStr = pstr!(b"pw");
    const HOSTNAME: PStr = pstr!(b"nano");
    const PORT: u16 = 80;
    const MAX_CONN: u8 = 4;
    const IDLE_TIMEOUT_S: u16 = 30;
    const BAUD: u32 = 0;
    const SOFTAP: bool = false;
    const STORED: bool = false;
    const SAVE_BAUD: bool = false;
}

type Driver = nanoesp_at::Driver<Lab>;

fn driver() -> Driver {
    Driver::new()
}

/// Lines the driver acts on; the ESP prints most of them with no line end before them, so
/// noise on the wire sticks to their front.
const NOISY_LINES: [(&[u8], Token); 12] = [
    (b"busy p...", Token::BusyP),
    (b"busy s...", Token::BusyS),
    (b"SEND OK", Token::SendOk),
    (b"ready", Token::Ready),
    (b"WIFI CONNECTED", Token::WifiConnected),
    (b"WIFI GOT IP", Token::WifiGotIp),
    (b"WIFI DISCONNECT", Token::WifiDisconnect),
    (b"link is not valid", Token::LinkInvalid),
    (b"UNLINK", Token::Unlink),
    (b"no change", Token::NoChange),
    (b"+IPD,3,120", Token::IpdNotice(3)),
    (b"2,CLOSED", Token::Closed(2)),
];

fn drain(d: &mut Driver) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut buf = [0u8; 32];
        let n = d.poll_transmit(&mut buf, &mut |_, off, out| {
            for (i, b) in out.iter_mut().enumerate() {
                *b = b'a' + ((off as usize + i) % 26) as u8;
            }
            out.len()
        });
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// Brings a driver up with canned replies (each reply is sent once its command went out).
fn up(d: &mut Driver, now: &mut u32) {
    d.feed(b'\n', *now);
    for &b in b"ready\r\n" {
        d.feed(b, *now);
    }
    for _ in 0..40 {
        while d.tick(*now).is_some() {}
        if d.is_up() {
            return;
        }
        let cmd = drain(d);
        if cmd.is_empty() {
            *now += 10;
            continue;
        }
        let reply: &[u8] = if cmd.starts_with(b"AT+CIFSR") {
            b"+CIFSR:STAIP,\"10.0.0.2\"\r\n\r\nOK\r\n"
        } else {
            b"\r\nOK\r\n"
        };
        for &b in reply {
            d.feed(b, *now);
        }
    }
    assert!(d.is_up());
}

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\n\r\n";

const URCS: &[&[u8]] = &[
    b"3,CONNECT\r\n",
    b"3,CLOSED\r\n",
    b"WIFI GOT IP\r\n",
    b"WIFI CONNECTED\r\n",
    b"\r\n+IPD,4,7\r\n",
    b"\r\n",
    b"\xff\xfegarbage\r\n",
];

/// A tiny reactive ESP for one client on link 0: answers the driver's commands, while the
/// test inserts unsolicited lines between reply chunks at chosen moments. The "server" side
/// pulls the request, sends 12 bytes and closes. Returns the events about link id 0.
fn run(splits: &[usize], gaps: &[u32], urcs: &[(usize, usize)]) -> Vec<Event> {
    use std::collections::VecDeque;
    let mut d = driver();
    let mut now = 0u32;
    up(&mut d, &mut now);
    let mut q: VecDeque<u8> = VecDeque::new();
    q.extend(b"0,CONNECT\r\n\r\n+IPD,0,18\r\n");
    let mut unread = REQUEST.to_vec();
    let mut line: Vec<u8> = Vec::new();
    let mut payload_left = 0usize;
    let mut open = true;
    let mut events = Vec::new();
    let mut link0: Option<Link> = None;
    let mut sent = false;
    let mut closing = false;
    for k in 0..4000 {
        for &(at, which) in urcs {
            if at == k {
                q.extend(URCS[which]);
            }
        }
        let n = splits[k % splits.len()].max(1);
        for _ in 0..n {
            let Some(b) = q.pop_front() else { break };
            if let Some(e) = d.feed(b, now) {
                events.push(e);
            }
        }
        now += gaps[k % gaps.len()];
        while let Some(e) = d.tick(now) {
            events.push(e);
        }
        if link0.is_none() {
            link0 = events.iter().find_map(|e| match e {
                Event::Connected(l) if l.id == 0 => Some(*l),
                _ => None,
            });
        }
        if let Some(l) = link0 {
            let got = events
                .iter()
                .filter(|e| matches!(e, Event::Data { link, .. } if *link == l))
                .count();
            if d.is_idle() {
                if got < REQUEST.len() && d.pending(l) > 0 {
                    d.issue(Request::Pull { link: l, max: 7 });
                } else if got == REQUEST.len() && !sent {
                    sent = d.issue(Request::Send { link: l, len: 12 });
                } else if sent
                    && !closing
                    && events.iter().any(|e| matches!(e, Event::SendDone { .. }))
                {
                    closing = d.issue(Request::Close(l));
                } else {
                    d.housekeeping();
                }
            }
        }
        // The ESP reads what the driver wrote.
        for b in drain(&mut d) {
            if payload_left > 0 {
                payload_left -= 1;
                if payload_left == 0 {
                    q.extend(b"\r\nRecv 12 bytes\r\n");
                    q.extend(b"\r\nSEND OK\r\n");
                }
                continue;
            }
            line.push(b);
            if b != b'\n' {
                continue;
            }
            let cmd = String::from_utf8_lossy(&line).into_owned();
            line.clear();
            if cmd.starts_with("AT+CIPRECVLEN?") {
                let n = if open { unread.len() } else { 0 };
                q.extend(format!("+CIPRECVLEN:{n},0,0,0,0\r\n\r\nOK\r\n").as_bytes());
            } else if let Some(max) = cmd.strip_prefix("AT+CIPRECVDATA=0,") {
                let max: usize = max.trim().parse().unwrap();
                let n = max.min(unread.len());
                if n == 0 {
                    q.extend(b"\r\nERROR\r\n");
                } else {
                    q.extend(format!("+CIPRECVDATA,{n}:").as_bytes());
                    q.extend(unread.drain(..n));
                    q.extend(b"\r\nOK\r\n");
                }
            } else if cmd.starts_with("AT+CIPSEND=0,12") {
                q.extend(b"\r\nOK\r\n");
                q.extend(b"> ");
                payload_left = 12;
            } else if cmd.starts_with("AT+CIPCLOSE=0") {
                open = false;
                q.extend(b"0,CLOSED\r\n\r\nOK\r\n");
            } else if cmd.starts_with("AT+CIPSTATUS") {
                if open {
                    q.extend(
                        b"STATUS:3\r\n+CIPSTATUS:0,\"TCP\",\"10.0.0.9\",5000,80,1\r\n\r\nOK\r\n",
                    );
                } else {
                    q.extend(b"STATUS:4\r\n\r\nOK\r\n");
                }
            } else {
                q.extend(b"\r\nERROR\r\n");
            }
        }
        if !open && q.is_empty() {
            break;
        }
    }
    events
        .into_iter()
        .filter(|e| match e {
            Event::Connected(l) | Event::Closed(l) => l.id == 0,
            Event::Data { link, .. } | Event::SendDone { link, .. } => link.id == 0,
            _ => false,
        })
        .collect()
}

fn expected() -> Vec<Event> {
    run(&[1], &[0], &[])
}

#[test]
fn base_script_yields_the_whole_exchange() {
    let ev = expected();
    let l0 = match ev[0] {
        Event::Connected(l) => l,
        ref e => panic!("{e:?}"),
    };
    let data: Vec<u8> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Data { byte, .. } => Some(*byte),
            _ => None,
        })
        .collect();
    assert_eq!(data, REQUEST);
    assert!(ev.contains(&Event::SendDone { link: l0, ok: true }));
    assert_eq!(*ev.last().unwrap(), Event::Closed(l0));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn any_split_and_timing_gives_the_same_events(
        splits in proptest::collection::vec(1usize..40, 1..10),
        gaps in proptest::collection::vec(0u32..50, 1..10),
    ) {
        prop_assert_eq!(run(&splits, &gaps, &[]), expected());
    }

    #[test]
    fn urcs_at_any_line_boundary_do_not_disturb_link_0(
        urcs in proptest::collection::vec((0usize..120, 0usize..URCS.len()), 0..8),
        splits in proptest::collection::vec(1usize..40, 1..5),
    ) {
        prop_assert_eq!(run(&splits, &[1], &urcs), expected());
    }

    /// The emulator's fault profile puts 1–8 random bytes before an output chunk; whatever
    /// they are, the pulled payload after them must come out whole (it did not after `A6`).
    #[test]
    fn noise_before_a_pulled_payload_does_not_hide_it(
        // random bytes, with the ones that mean something to the parser made common
        noise in proptest::collection::vec(
            prop_oneof![any::<u8>(), Just(b'A'), Just(b'T'), Just(b'+'), Just(b'\r')],
            1..9,
        ),
        v2 in any::<bool>(),
        payload in proptest::collection::vec(any::<u8>(), 1..64),
    ) {
        let header = if v2 {
            format!("+CIPRECVDATA:{},", payload.len())
        } else {
            format!("+CIPRECVDATA,{}:", payload.len())
        };
        let mut input = noise.clone();
        input.extend_from_slice(header.as_bytes());
        input.extend_from_slice(&payload);
        input.extend_from_slice(b"\r\nOK\r\n");
        let mut parser = Parser::new();
        let got: Vec<Token> = input.iter().filter_map(|&b| parser.feed(b)).collect();
        let mut want = vec![Token::RecvData];
        want.extend(payload.iter().map(|&b| Token::Data(b)));
        want.push(Token::Ok);
        prop_assert!(got.ends_with(&want), "{:?}: {:?}", input, got);
        // The header was the last one: its length is still what the parser reports.
        prop_assert_eq!(parser.count(), payload.len() as u16);
    }

    /// The same noise before a line the driver acts on: the line still reads the same.
    #[test]
    fn noise_before_a_line_does_not_hide_it(
        noise in proptest::collection::vec(
            prop_oneof![any::<u8>(), Just(b'A'), Just(b'T'), Just(b'+'), Just(b'\r')],
            1..9,
        ),
        line in 0usize..NOISY_LINES.len(),
    ) {
        let (text, want) = NOISY_LINES[line];
        let mut input = noise.clone();
        input.extend_from_slice(text);
        input.extend_from_slice(b"\r\n");
        let mut parser = Parser::new();
        let got: Vec<Token> = input.iter().filter_map(|&b| parser.feed(b)).collect();
        prop_assert_eq!(got.last(), Some(&want), "{:?}: {:?}", input, got);
        if let Token::IpdNotice(_) = want {
            // `+IPD,3,120`: the length comes with the token.
            prop_assert_eq!(parser.count(), 120);
        }
    }

    #[test]
    fn garbage_and_random_requests_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..3000),
        ops in proptest::collection::vec((0u8..6, 0u8..6, 0u16..3000), 0..50),
    ) {
        let mut d = driver();
        let mut now = 0u32;
        up(&mut d, &mut now);
        for (i, chunk) in bytes.chunks(64).enumerate() {
            for &b in chunk {
                let _ = d.feed(b, now);
            }
            if let Some(&(op, id, n)) = ops.get(i) {
                let link = Link { id, gen: n as u8 };
                let _ = match op {
                    0 => d.issue(Request::Send { link, len: n }),
                    1 => d.issue(Request::Pull { link, max: n }),
                    2 => d.issue(Request::Close(link)),
                    3 => { d.housekeeping(); true }
                    _ => true,
                };
                now = now.wrapping_add(n as u32);
            }
            while d.tick(now).is_some() {}
            drain(&mut d);
        }
    }
}

/// ESP output that opens, closes, resets and carries data on links 0..=2, in any order.
const LINK_TRAFFIC: &[&[u8]] = &[
    b"0,CONNECT\r\n",
    b"1,CONNECT\r\n",
    b"0,CLOSED\r\n",
    b"1,CLOSED\r\n",
    b"\r\n+IPD,0,3:abc",
    b"\r\n+IPD,1,2:xy",
    b"\r\n+IPD,2,2:zz",
    b"\r\n+IPD,0,4\r\n",
    b"+CIPRECVDATA,3:pqr\r\nOK\r\n",
    b"+CIPRECVDATA:2,st\r\nOK\r\n",
    b"ready\r\n",
    b"\r\nOK\r\n",
    b"\r\nERROR\r\n",
    b"STATUS:3\r\n+CIPSTATUS:1,\"TCP\",\"10.0.0.9\",5000,80,1\r\n\r\nOK\r\n",
    b"+CIPRECVLEN:3,0,2,0,0\r\nOK\r\n",
];

proptest! {
    /// A data byte is only ever reported for the connection an id's last `Connected`
    /// reported, before its `Closed` or a `Reset`: the server matches data to a client by
    /// link id alone.
    #[test]
    fn data_only_for_the_last_connected_generation(
        steps in proptest::collection::vec((0..LINK_TRAFFIC.len(), 0u8..5, 0u8..3, 0u32..3000), 0..80),
    ) {
        let mut d = driver();
        let mut now = 0u32;
        up(&mut d, &mut now);
        let mut live: [Option<u8>; 5] = [None; 5];
        let mut check = |e: Option<Event>| -> Result<bool, TestCaseError> {
            match e {
                Some(Event::Connected(l)) => live[l.id as usize] = Some(l.gen),
                Some(Event::Closed(l)) => live[l.id as usize] = None,
                Some(Event::Reset) => live = [None; 5],
                Some(Event::Data { link, .. }) => {
                    prop_assert_eq!(live[link.id as usize], Some(link.gen));
                }
                _ => {}
            }
            Ok(e.is_some())
        };
        for (text, op, id, ms) in steps {
            for &b in LINK_TRAFFIC[text] {
                check(d.feed(b, now))?;
            }
            // Requests for the live link on `id`, or for a stale generation of it.
            let link = d.current(id).unwrap_or(Link { id, gen: op });
            let _ = match op {
                0 => d.issue(Request::Pull { link, max: 8 }),
                1 => d.issue(Request::Close(link)),
                2 => { d.housekeeping(); true }
                _ => true,
            };
            now = now.wrapping_add(ms);
            while check(d.tick(now))? {}
            drain(&mut d);
        }
    }
}
