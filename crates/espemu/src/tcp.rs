//! Std adapter that lets real TCP clients (browsers, curl) reach the emulated module: a
//! non-blocking `TcpListener` on a caller-chosen address (normally `127.0.0.1:<port>`)
//! whose sockets are mapped onto [`Esp::net_connect`]/[`Esp::net_send`]/[`Esp::net_close`]/
//! [`Esp::net_poll`]. Nothing blocks and nothing runs by itself: the caller calls
//! [`TcpBridge::poll`] regularly with the current simulated time.
//!
//! The listener is bound on the first poll after the emulated `AT+CIPSERVER=1` succeeded
//! ([`Esp::server_port`] is `Some`), so a browser is refused by the OS until the firmware
//! has started its server. Once bound it stays bound; sockets accepted while the emulated
//! server is down again (after a reset) are closed at once, like a refused connection.

use crate::{ConnId, Esp, NetEvent};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};

/// Errors of the bridge.
#[derive(Debug)]
#[non_exhaustive]
pub enum BridgeError {
    /// The listening address could not be bound (in use, not permitted).
    Bind {
        /// Address asked for.
        addr: SocketAddr,
        /// OS error.
        source: io::Error,
    },
    /// Accepting or configuring a socket failed.
    Io(io::Error),
}

impl fmt::Display for BridgeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BridgeError::Bind { addr, source } => {
                write!(
                    f,
                    "cannot listen on {addr} for the emulated ESP8266: {source}"
                )
            }
            BridgeError::Io(e) => write!(f, "tcp bridge i/o error: {e}"),
        }
    }
}

impl std::error::Error for BridgeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BridgeError::Bind { source, .. } => Some(source),
            BridgeError::Io(e) => Some(e),
        }
    }
}

/// What one [`TcpBridge::poll`] did (callers may poll faster while things move).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Activity {
    /// Sockets accepted.
    pub accepted: usize,
    /// Bytes read from sockets and handed to the ESP.
    pub bytes_in: usize,
    /// Bytes written from the ESP to sockets.
    pub bytes_out: usize,
    /// Sockets closed and forgotten.
    pub closed: usize,
}

#[derive(Debug)]
struct Client {
    stream: TcpStream,
    conn: ConnId,
    outbox: Vec<u8>,
    /// The browser closed its side (EOF seen, `net_close` sent).
    peer_done: bool,
    /// The emulated server closed (or refused) the connection.
    server_done: bool,
}

/// Bridges real sockets to an [`Esp`]'s virtual clients.
#[derive(Debug)]
pub struct TcpBridge {
    addr: SocketAddr,
    listener: Option<TcpListener>,
    clients: Vec<Client>,
}

impl TcpBridge {
    /// A bridge that will listen on `addr` once the emulated server is up.
    pub fn new(addr: SocketAddr) -> TcpBridge {
        TcpBridge {
            addr,
            listener: None,
            clients: Vec::new(),
        }
    }

    /// The bound address (with the real port if `addr` used port 0), once listening.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// True once the listener is bound.
    pub fn is_listening(&self) -> bool {
        self.listener.is_some()
    }

    /// Sockets currently open.
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// Binds if due, accepts new sockets, and moves bytes both ways without blocking.
    ///
    /// # Errors
    /// [`BridgeError::Bind`] when the address cannot be bound (retried on the next poll),
    /// [`BridgeError::Io`] when accepting fails for a reason other than "no one waiting".
    pub fn poll(&mut self, esp: &mut Esp, now_us: u64) -> Result<Activity, BridgeError> {
        let mut act = Activity::default();
        if self.listener.is_none() && esp.server_port().is_some() {
            let l = TcpListener::bind(self.addr).map_err(|source| BridgeError::Bind {
                addr: self.addr,
                source,
            })?;
            l.set_nonblocking(true).map_err(BridgeError::Io)?;
            self.listener = Some(l);
        }
        if let Some(listener) = &self.listener {
            loop {
                match listener.accept() {
                    Ok((stream, _)) => {
                        stream.set_nonblocking(true).map_err(BridgeError::Io)?;
                        // Small HTTP responses should not wait for Nagle.
                        let _ = stream.set_nodelay(true);
                        let conn = esp.net_connect(now_us);
                        self.clients.push(Client {
                            stream,
                            conn,
                            outbox: Vec::new(),
                            peer_done: false,
                            server_done: false,
                        });
                        act.accepted += 1;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
                    Err(e) => return Err(BridgeError::Io(e)),
                }
            }
        }
        let mut buf = [0u8; 4096];
        for c in &mut self.clients {
            // Browser → ESP.
            while !c.peer_done {
                match c.stream.read(&mut buf) {
                    Ok(0) => {
                        c.peer_done = true;
                        esp.net_close(c.conn, now_us);
                    }
                    Ok(n) => {
                        esp.net_send(c.conn, &buf[..n], now_us);
                        act.bytes_in += n;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => {
                        c.peer_done = true;
                        c.server_done = true;
                        c.outbox.clear();
                        esp.net_close(c.conn, now_us);
                    }
                }
            }
            // ESP → browser.
            loop {
                match esp.net_poll(c.conn) {
                    NetEvent::Data(d) => c.outbox.extend_from_slice(&d),
                    NetEvent::Closed | NetEvent::Refused => {
                        c.server_done = true;
                        break;
                    }
                    NetEvent::Pending => break,
                }
            }
            while !c.outbox.is_empty() {
                match c.stream.write(&c.outbox) {
                    Ok(0) => {
                        c.outbox.clear();
                        c.server_done = true;
                    }
                    Ok(n) => {
                        c.outbox.drain(..n);
                        act.bytes_out += n;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => {
                        c.outbox.clear();
                        c.server_done = true;
                        if !c.peer_done {
                            c.peer_done = true;
                            esp.net_close(c.conn, now_us);
                        }
                    }
                }
            }
        }
        let before = self.clients.len();
        self.clients.retain(|c| {
            let finished = c.server_done && c.outbox.is_empty();
            if finished {
                let _ = c.stream.shutdown(Shutdown::Both);
            }
            !finished
        });
        act.closed = before - self.clients.len();
        Ok(act)
    }
}
