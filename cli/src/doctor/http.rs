//! The server checks: one `GET /api/status`, K clients at once, and a soak. Plain
//! `std::net::TcpStream` with `Connection: close`, one thread per client — the firmware
//! closes every connection after its answer, so nothing more is needed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use super::Load;

/// Where a server lives, parsed from `http://host:port/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `host:port` for the Host header.
    pub authority: String,
    /// Resolved address.
    pub addr: SocketAddr,
}

impl Target {
    /// Parses `http://host[:port][/...]` (or `host:port`).
    ///
    /// # Errors
    /// A message naming what is wrong with the URL.
    pub fn parse(url: &str) -> Result<Target, String> {
        if url.starts_with("https://") {
            return Err(format!(
                "{url}: https is not supported (the firmware serves plain http)"
            ));
        }
        let rest = url.strip_prefix("http://").unwrap_or(url);
        let authority = rest.split('/').next().unwrap_or_default().to_string();
        if authority.is_empty() {
            return Err(format!("{url}: no host"));
        }
        let with_port = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            authority.clone()
        } else {
            format!("{authority}:80")
        };
        let addr = with_port
            .to_socket_addrs()
            .map_err(|e| format!("{url}: {e}"))?
            .next()
            .ok_or_else(|| format!("{url}: the host has no address"))?;
        Ok(Target { authority, addr })
    }
}

/// One HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Body.
    pub body: String,
    /// `Retry-After` seconds, if sent.
    pub retry_after: Option<u64>,
}

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Nothing listens (connection refused).
    Refused(String),
    /// No answer in time.
    Timeout,
    /// The connection was reset or closed before a complete answer.
    Reset(String),
    /// The bytes were not HTTP.
    Garbage(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Refused(_) => write!(f, "connection refused"),
            Failure::Timeout => write!(f, "timeout"),
            Failure::Reset(e) => write!(f, "connection reset ({e})"),
            Failure::Garbage(e) => write!(f, "not an HTTP answer ({e})"),
        }
    }
}

fn io_failure(e: &std::io::Error) -> Failure {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => Failure::Refused(e.to_string()),
        K::TimedOut | K::WouldBlock => Failure::Timeout,
        _ => Failure::Reset(e.to_string()),
    }
}

/// `GET path` with `Connection: close`, reading until the server closes.
///
/// # Errors
/// What went wrong, classified.
pub fn get(target: &Target, path: &str, timeout: Duration) -> Result<Answer, Failure> {
    let deadline = Instant::now() + timeout;
    let mut stream =
        TcpStream::connect_timeout(&target.addr, timeout).map_err(|e| io_failure(&e))?;
    let _ = stream.set_nodelay(true);
    stream
        .write_all(
            format!(
                "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: nanoesp-doctor\r\nConnection: close\r\n\r\n",
                target.authority
            )
            .as_bytes(),
        )
        .map_err(|e| io_failure(&e))?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 2048];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Failure::Timeout);
        }
        stream
            .set_read_timeout(Some(left))
            .map_err(|e| io_failure(&e))?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                // A reset after a complete answer is still an answer.
                if let Some(a) = parse(&raw).filter(|a| complete(&raw, a)) {
                    return Ok(a);
                }
                return Err(io_failure(&e));
            }
        }
    }
    match parse(&raw) {
        Some(a) if complete(&raw, &a) => Ok(a),
        Some(_) => Err(Failure::Reset(
            "closed before the whole body arrived".into(),
        )),
        None if raw.is_empty() => Err(Failure::Reset("closed without an answer".into())),
        None => Err(Failure::Garbage(
            String::from_utf8_lossy(&raw[..raw.len().min(40)]).into_owned(),
        )),
    }
}

fn header_end(raw: &[u8]) -> Option<usize> {
    raw.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

fn content_length(head: &str) -> Option<usize> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse().ok())?
    })
}

fn complete(raw: &[u8], _a: &Answer) -> bool {
    let Some(end) = header_end(raw) else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..end]);
    content_length(&head).is_none_or(|n| raw.len() - end >= n)
}

/// Parses a raw response (status line, headers, body).
pub fn parse(raw: &[u8]) -> Option<Answer> {
    let end = header_end(raw)?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let status_line = head.lines().next()?;
    let mut parts = status_line.split_whitespace();
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let status = parts.next()?.parse().ok()?;
    let retry_after = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case("retry-after")
            .then(|| v.trim().parse().ok())?
    });
    let body = &raw[end..];
    let body = match content_length(&head) {
        Some(n) => &body[..n.min(body.len())],
        None => body,
    };
    Some(Answer {
        status,
        body: String::from_utf8_lossy(body).into_owned(),
        retry_after,
    })
}

/// The fields of `/api/status` doctor looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Firmware build id.
    pub firmware: String,
    /// ESP AT version.
    pub esp: String,
    /// Analog readings (8 expected).
    pub analog: Vec<u64>,
    /// Milliseconds since the firmware started.
    pub uptime_ms: u64,
    /// Responses completed so far.
    pub served: u64,
    /// Error responses, failed sends and timeouts so far.
    pub errors: u64,
}

impl Status {
    /// Parses the JSON body.
    ///
    /// # Errors
    /// What is missing or malformed.
    pub fn parse(body: &str) -> Result<Status, String> {
        let v: serde_json::Value =
            serde_json::from_str(body).map_err(|e| format!("not JSON ({e})"))?;
        let text = |k: &str| {
            v[k].as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("no \"{k}\" string"))
        };
        let num = |k: &str| v[k].as_u64().ok_or_else(|| format!("no \"{k}\" number"));
        let analog = v["analog"]
            .as_array()
            .ok_or("no \"analog\" array")?
            .iter()
            .map(|a| a.as_u64().ok_or("an analog value is not a number"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Status {
            firmware: text("firmware")?,
            esp: text("esp")?,
            analog,
            uptime_ms: num("uptime_ms")?,
            served: num("served")?,
            errors: num("errors")?,
        })
    }

    /// Whether this is a correct answer for firmware `expected` (when known).
    ///
    /// # Errors
    /// What is wrong with it.
    pub fn judge(&self, expected: Option<&str>) -> Result<(), String> {
        if self.analog.len() != 8 {
            return Err(format!("{} analog values instead of 8", self.analog.len()));
        }
        if self.analog.iter().any(|&a| a > 1023) {
            return Err("an analog value above 1023".into());
        }
        if let Some(id) = expected
            && id != self.firmware
        {
            return Err(format!("firmware {} instead of {id}", self.firmware));
        }
        Ok(())
    }
}

/// One client's result in a load round.
#[derive(Debug, Clone)]
struct Attempt {
    status: Option<u16>,
    result: Result<f64, String>,
    retry_after: Option<u64>,
}

fn attempt(target: &Target, expected: Option<&str>, timeout: Duration) -> Attempt {
    let started = Instant::now();
    match get(target, "/api/status", timeout) {
        Ok(a) => {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            let result = if a.status != 200 {
                Err(format!("HTTP {}", a.status))
            } else {
                Status::parse(&a.body)
                    .and_then(|s| s.judge(expected))
                    .map(|()| ms)
            };
            Attempt {
                status: Some(a.status),
                result,
                retry_after: a.retry_after,
            }
        }
        Err(f) => Attempt {
            status: None,
            result: Err(f.to_string()),
            retry_after: None,
        },
    }
}

/// Settings of a load run.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    /// Parallel clients.
    pub clients: usize,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Expected firmware id in the answers.
    pub expected: Option<String>,
    /// Pause before a client answered 503 tries again (unless the server sends
    /// `Retry-After`, capped at 2 s).
    pub busy_pause: Duration,
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

fn summarise(load: &mut Load, latencies: Vec<f64>) {
    load.max_ms = latencies.iter().copied().reduce(f64::max);
    load.p50_ms = median(latencies);
}

fn note(load: &mut Load, a: &Attempt) {
    let key = a
        .status
        .map_or_else(|| "none".to_string(), |s| s.to_string());
    *load.statuses.entry(key).or_default() += 1;
}

/// Counts one finished request: its latency when correct, its error (with `suffix`) when
/// not.
fn tally(load: &mut Load, latencies: &mut Vec<f64>, a: &Attempt, suffix: &str) {
    load.requests += 1;
    match &a.result {
        Ok(ms) => {
            load.ok += 1;
            latencies.push(*ms);
        }
        Err(e) => {
            load.failed += 1;
            record_error(load, &format!("{e}{suffix}"));
        }
    }
}

fn record_error(load: &mut Load, e: &str) {
    if load.errors.len() < 5 {
        load.errors.push(e.to_string());
    }
}

/// K clients at once, released together; each client answered `503` tries again once,
/// all retries together after the pause (a server with fewer slots than K answers the
/// surplus 503 by design, and a patient browser tries again; a server that can serve only
/// one client at a time still fails the second round).
pub fn round(target: &Target, plan: &LoadPlan) -> Load {
    let started = Instant::now();
    let mut load = Load {
        clients: plan.clients,
        ..Load::default()
    };
    let first = parallel(target, plan, plan.clients);
    let mut latencies = Vec::new();
    let mut busy = 0;
    let mut pause = plan.busy_pause;
    for a in &first {
        note(&mut load, a);
        if a.status == Some(503) {
            busy += 1;
            if let Some(s) = a.retry_after {
                pause = pause.max(Duration::from_secs(s.min(2)));
            }
            continue;
        }
        tally(&mut load, &mut latencies, a, "");
    }
    load.retried = busy;
    if busy > 0 {
        std::thread::sleep(pause);
        for a in parallel(target, plan, busy) {
            note(&mut load, &a);
            tally(&mut load, &mut latencies, &a, " (after a 503)");
        }
    }
    summarise(&mut load, latencies);
    load.seconds = started.elapsed().as_secs_f64();
    load
}

fn parallel(target: &Target, plan: &LoadPlan, n: usize) -> Vec<Attempt> {
    let barrier = Arc::new(Barrier::new(n));
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..n)
            .map(|_| {
                let barrier = barrier.clone();
                scope.spawn(move || {
                    barrier.wait();
                    attempt(target, plan.expected.as_deref(), plan.timeout)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or(Attempt {
                    status: None,
                    result: Err("client thread panicked".into()),
                    retry_after: None,
                })
            })
            .collect()
    })
}

/// K clients requesting in a loop for `duration`. A 503 counts under `retried` and the
/// client pauses before its next request; anything else that is not a correct answer is
/// a failure.
pub fn soak(target: &Target, plan: &LoadPlan, duration: Duration) -> Load {
    let started = Instant::now();
    let end = started + duration;
    let results: Vec<(Vec<Attempt>, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..plan.clients)
            .map(|_| {
                scope.spawn(move || {
                    let mut attempts = Vec::new();
                    let mut busy = 0;
                    while Instant::now() < end {
                        let a = attempt(target, plan.expected.as_deref(), plan.timeout);
                        if a.status == Some(503) {
                            busy += 1;
                            std::thread::sleep(plan.busy_pause);
                        }
                        attempts.push(a);
                    }
                    (attempts, busy)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let mut load = Load {
        clients: plan.clients,
        ..Load::default()
    };
    let mut latencies = Vec::new();
    for (attempts, busy) in results {
        load.retried += busy;
        for a in attempts {
            note(&mut load, &a);
            if a.status == Some(503) {
                continue;
            }
            load.requests += 1;
            match a.result {
                Ok(ms) => {
                    load.ok += 1;
                    latencies.push(ms);
                }
                Err(e) => {
                    load.failed += 1;
                    record_error(&mut load, &e);
                }
            }
        }
    }
    summarise(&mut load, latencies);
    load.seconds = started.elapsed().as_secs_f64();
    load
}

/// Parses `30s`, `2m`, `1h`, `500ms` or plain seconds.
///
/// # Errors
/// The accepted forms.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (num, unit) = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((t, ""), |i| t.split_at(i));
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{text}`: expected a duration such as 30s, 2m or 500ms"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("`{text}`: units are ms, s, m and h")),
    };
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_answers_and_status() {
        let body = r#"{"firmware":"bb799b8f","esp":"1.7.4.0","uptime_ms":8733,"analog":[0,0,0,0,0,0,0,0],"clients":3,"served":12,"errors":5}"#;
        let raw = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let a = parse(raw.as_bytes()).unwrap();
        assert_eq!(a.status, 200);
        let s = Status::parse(&a.body).unwrap();
        assert_eq!(s.firmware, "bb799b8f");
        assert_eq!(s.analog.len(), 8);
        assert!(s.judge(Some("bb799b8f")).is_ok());
        assert!(
            s.judge(Some("00000000"))
                .unwrap_err()
                .contains("instead of")
        );
        let busy = parse(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n\r\n").unwrap();
        assert_eq!((busy.status, busy.retry_after), (503, Some(1)));
        assert!(parse(b"garbage").is_none());
    }

    #[test]
    fn urls_and_durations() {
        let t = Target::parse("http://127.0.0.1:8080/").unwrap();
        assert_eq!(t.addr.port(), 8080);
        assert_eq!(Target::parse("127.0.0.1").unwrap().addr.port(), 80);
        assert!(Target::parse("https://x/").is_err());
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn a_closed_port_is_refused() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let t = Target::parse(&format!("http://{addr}/")).unwrap();
        let err = get(&t, "/api/status", Duration::from_secs(2)).unwrap_err();
        assert!(matches!(err, Failure::Refused(_)), "{err:?}");
    }
}
