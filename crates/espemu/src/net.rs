//! Network side of the emulator: virtual TCP clients (`net_*`), the five-entry link table,
//! the accept backlog, active/passive delivery of client bytes and the CIPSTO idle timer
//! (spec §3.1, §3.2, §3.6, §2 CIPSTO).

use crate::{
    ClosedWithUnread, Conn, ConnId, ConnState, Esp, Link, MAX_LINKS, NetEvent, OverLimitPolicy,
    PassiveNotify, ReadAfterClose, Timer,
};
use std::collections::VecDeque;

/// Largest TCP segment the ESP reports in one active-mode `+IPD` (spec §3.7).
const SEGMENT: usize = 1460;

impl Esp {
    /// A client opens a TCP connection to the server port at `now_us`.
    ///
    /// Accepted at once (`<id>,CONNECT` with the lowest free id), put in the backlog, or
    /// refused (no server, Wi-Fi down, or over the limit with [`OverLimitPolicy::Refuse`]).
    pub fn net_connect(&mut self, now_us: u64) -> ConnId {
        self.advance(now_us);
        let id = ConnId(self.conns.len() as u32);
        let port = self.next_client_port;
        self.next_client_port = self.next_client_port.wrapping_add(1).max(1024);
        self.conns.push(Conn {
            state: ConnState::Refused,
            to_client: Vec::new(),
            pending: VecDeque::new(),
            client_closed: false,
            port,
        });
        if !self.accepting_clients() {
            return id;
        }
        if self.has_free_slot() && self.backlog.is_empty() {
            self.accept(id);
        } else if self.cfg.switches.over_limit == OverLimitPolicy::Defer {
            self.conns[id.0 as usize].state = ConnState::Waiting;
            self.backlog.push_back(id);
        }
        id
    }

    /// Client → server bytes at `now_us`. Ignored for closed, refused or unknown connections.
    pub fn net_send(&mut self, c: ConnId, data: &[u8], now_us: u64) {
        self.advance(now_us);
        let Some(conn) = self.conns.get_mut(c.0 as usize) else {
            return;
        };
        if conn.client_closed || data.is_empty() {
            return;
        }
        match conn.state {
            ConnState::Waiting => conn.pending.extend(data),
            ConnState::Linked { id, epoch } => {
                conn.pending.extend(data);
                if let Some(link) = self.links[id].as_mut().filter(|l| l.epoch == epoch) {
                    link.last_client_us = self.now_us;
                }
                self.take_client_bytes(id);
            }
            ConnState::Closed | ConnState::Refused => {}
        }
    }

    /// The client closes its connection at `now_us`.
    pub fn net_close(&mut self, c: ConnId, now_us: u64) {
        self.advance(now_us);
        let Some(conn) = self.conns.get_mut(c.0 as usize) else {
            return;
        };
        if conn.client_closed {
            return;
        }
        conn.client_closed = true;
        let state = conn.state.clone();
        match state {
            ConnState::Waiting => {
                self.conns[c.0 as usize].state = ConnState::Closed;
                self.backlog.retain(|&w| w != c);
            }
            ConnState::Linked { id, epoch } => {
                self.conns[c.0 as usize].state = ConnState::Closed;
                self.peer_closed(id, epoch);
            }
            ConnState::Closed | ConnState::Refused => {}
        }
    }

    /// Server → client: data sent so far, else `Closed`/`Refused`, else `Pending`.
    pub fn net_poll(&mut self, c: ConnId) -> NetEvent {
        let Some(conn) = self.conns.get_mut(c.0 as usize) else {
            return NetEvent::Closed;
        };
        if !conn.to_client.is_empty() {
            return NetEvent::Data(std::mem::take(&mut conn.to_client));
        }
        match conn.state {
            ConnState::Closed => NetEvent::Closed,
            ConnState::Refused => NetEvent::Refused,
            ConnState::Waiting | ConnState::Linked { .. } => NetEvent::Pending,
        }
    }

    /// The link id a client currently occupies, if accepted and not closed.
    pub fn net_link_id(&self, c: ConnId) -> Option<u8> {
        match self.conns.get(c.0 as usize)?.state {
            ConnState::Linked { id, .. } => Some(id as u8),
            _ => None,
        }
    }

    // ------------------------------------------------------------------ internals

    fn has_free_slot(&self) -> bool {
        self.links_in_use() < usize::from(self.max_conn).min(MAX_LINKS)
    }

    /// Accepts `c` into the lowest free link id.
    fn accept(&mut self, c: ConnId) {
        let Some(id) = self.links.iter().position(|l| l.is_none()) else {
            return;
        };
        self.link_epoch += 1;
        let epoch = self.link_epoch;
        let port = self.conns[c.0 as usize].port;
        self.links[id] = Some(Link {
            conn: c,
            epoch,
            rx: VecDeque::new(),
            notified: false,
            ever_notified: false,
            last_client_us: self.now_us,
            peer_closed: false,
            zombie: false,
            remote_port: port,
        });
        self.conns[c.0 as usize].state = ConnState::Linked { id, epoch };
        self.had_link = true;
        self.urc(format!("{id},CONNECT\r\n").as_bytes());
        self.schedule_idle_check(id, epoch);
        self.take_client_bytes(id);
    }

    pub(crate) fn schedule_idle_check(&mut self, id: usize, epoch: u64) {
        if self.sto_s == 0 {
            return;
        }
        if let Some(link) = self.links[id].as_ref() {
            let at = link.last_client_us + u64::from(self.sto_s) * 1_000_000;
            self.schedule(at, Timer::IdleCheck { link: id, epoch });
        }
    }

    pub(crate) fn idle_check(&mut self, id: usize, epoch: u64) {
        let Some(link) = self.links[id].as_ref().filter(|l| l.epoch == epoch) else {
            return;
        };
        if self.sto_s == 0 || link.zombie {
            return;
        }
        let deadline = link.last_client_us + u64::from(self.sto_s) * 1_000_000;
        if deadline <= self.now_us {
            self.urc(format!("{id},CLOSED\r\n").as_bytes());
            self.close_conn_of(id);
            self.free_link(id);
        } else {
            self.schedule(deadline, Timer::IdleCheck { link: id, epoch });
        }
    }

    /// Moves client bytes into the ESP: `+IPD` with data in active mode, the receive
    /// window plus a notification in passive mode.
    pub(crate) fn take_client_bytes(&mut self, id: usize) {
        let Some(link) = self.links[id].as_ref() else {
            return;
        };
        let conn_idx = link.conn.0 as usize;
        if self.conns[conn_idx].pending.is_empty() {
            return;
        }
        if !self.passive {
            let data: Vec<u8> = self.conns[conn_idx].pending.drain(..).collect();
            for seg in data.chunks(SEGMENT) {
                let mut msg = if self.dinfo {
                    let ip = self.cfg.client_ip;
                    let port = self.links[id].as_ref().map_or(0, |l| l.remote_port);
                    match self.cfg.profile {
                        crate::Profile::At17 => format!(
                            "\r\n+IPD,{id},{},{}.{}.{}.{},{port}:",
                            seg.len(),
                            ip[0],
                            ip[1],
                            ip[2],
                            ip[3]
                        ),
                        crate::Profile::At2 => format!(
                            "\r\n+IPD,{id},{},\"{}.{}.{}.{}\",{port}:",
                            seg.len(),
                            ip[0],
                            ip[1],
                            ip[2],
                            ip[3]
                        ),
                    }
                    .into_bytes()
                } else {
                    format!("\r\n+IPD,{id},{}:", seg.len()).into_bytes()
                };
                msg.extend_from_slice(seg);
                if self.cfg.ipd_trailing_crlf() {
                    msg.extend_from_slice(b"\r\n");
                }
                // Payload-carrying +IPD is a reply-class chunk: dropping it would lose data
                // the lost-URC fault is not about.
                self.push(msg, crate::Kind::Reply);
            }
            return;
        }
        let window = self.cfg.switches.passive_window;
        let Some(link) = self.links[id].as_mut() else {
            return;
        };
        let room = window.saturating_sub(link.rx.len());
        let n = room.min(self.conns[conn_idx].pending.len());
        if n == 0 {
            return;
        }
        link.rx.extend(self.conns[conn_idx].pending.drain(..n));
        let total = link.rx.len();
        let notify = match self.cfg.passive_notify() {
            PassiveNotify::EveryArrival => true,
            PassiveNotify::OncePerRead => !link.notified,
        };
        if notify {
            link.notified = true;
            let first = !link.ever_notified;
            link.ever_notified = true;
            if first && self.cfg.switches.skip_first_passive_ipd {
                return;
            }
            self.urc(format!("\r\n+IPD,{id},{total}\r\n").as_bytes());
        }
    }

    /// The peer (client) closed link `id`.
    fn peer_closed(&mut self, id: usize, epoch: u64) {
        let Some(link) = self.links[id].as_mut().filter(|l| l.epoch == epoch) else {
            return;
        };
        let unread = self.passive && !link.rx.is_empty();
        if !unread {
            self.urc(format!("{id},CLOSED\r\n").as_bytes());
            self.free_link(id);
            return;
        }
        match self.cfg.closed_with_unread() {
            ClosedWithUnread::WithholdUntilRead => link.peer_closed = true,
            ClosedWithUnread::ReportImmediately => {
                match self.cfg.switches.read_after_close {
                    ReadAfterClose::Data => link.zombie = true,
                    ReadAfterClose::Error => {
                        self.urc(format!("{id},CLOSED\r\n").as_bytes());
                        self.free_link(id);
                        return;
                    }
                }
                self.urc(format!("{id},CLOSED\r\n").as_bytes());
            }
        }
    }

    /// Marks the client of link `id` closed (server side closed it).
    pub(crate) fn close_conn_of(&mut self, id: usize) {
        if let Some(link) = self.links[id].as_ref()
            && let Some(conn) = self.conns.get_mut(link.conn.0 as usize)
        {
            conn.state = ConnState::Closed;
            conn.pending.clear();
        }
    }

    /// Frees link `id` and lets a deferred client in after a short delay.
    pub(crate) fn free_link(&mut self, id: usize) {
        self.links[id] = None;
        if !self.backlog.is_empty() && !self.accept_scheduled {
            self.accept_scheduled = true;
            let delay = self.draw(self.cfg.timing.deferred_accept_us);
            self.schedule_in(delay, Timer::AcceptDeferred);
        }
    }

    pub(crate) fn accept_from_backlog(&mut self) {
        if !self.accepting_clients() {
            return;
        }
        while self.has_free_slot() {
            let Some(c) = self.backlog.pop_front() else {
                return;
            };
            if self.conns[c.0 as usize].state == ConnState::Waiting {
                self.accept(c);
                break;
            }
        }
        if !self.backlog.is_empty() && self.has_free_slot() {
            self.accept_scheduled = true;
            let delay = self.draw(self.cfg.timing.deferred_accept_us);
            self.schedule_in(delay, Timer::AcceptDeferred);
        }
    }

    /// Every link disappears (reset); clients and the backlog see their connections closed.
    pub(crate) fn drop_all_links(&mut self, report: bool) {
        for id in 0..MAX_LINKS {
            if let Some(link) = self.links[id].take() {
                if report && !link.zombie {
                    self.urc(format!("{id},CLOSED\r\n").as_bytes());
                }
                if let Some(conn) = self.conns.get_mut(link.conn.0 as usize) {
                    conn.state = ConnState::Closed;
                    conn.pending.clear();
                }
            }
        }
        for c in std::mem::take(&mut self.backlog) {
            if let Some(conn) = self.conns.get_mut(c.0 as usize) {
                conn.state = ConnState::Closed;
            }
        }
        self.accept_scheduled = false;
    }

    /// Refuses everyone waiting in the backlog (server stopped).
    pub(crate) fn refuse_backlog(&mut self) {
        for c in std::mem::take(&mut self.backlog) {
            if let Some(conn) = self.conns.get_mut(c.0 as usize) {
                conn.state = ConnState::Refused;
            }
        }
    }

    /// True when link `id` still belongs to generation `epoch` and the peer is there.
    pub(crate) fn link_sendable(&self, id: usize, epoch: u64) -> bool {
        self.links
            .get(id)
            .and_then(|l| l.as_ref())
            .is_some_and(|l| l.epoch == epoch && !l.peer_closed && !l.zombie)
    }
}
