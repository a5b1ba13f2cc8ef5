//! The ESP's transmit side: a FIFO of output chunks, each released no earlier than its
//! ready time and paced at the current baud (10 bit times per byte, 8N1), plus the bounded
//! transcript of both directions. Baud changes travel through the FIFO as markers so that
//! `AT+UART_CUR`'s `OK` still leaves at the old rate (spec §2 `AT+UART_CUR`).

use std::collections::VecDeque;

/// One entry of the transmit FIFO.
#[derive(Debug, Clone)]
enum Chunk {
    /// Bytes that may start leaving at `ready_ns`.
    Bytes { data: Vec<u8>, ready_ns: u64 },
    /// Switch the UART rate once everything before has left.
    SetBaud(u32),
}

/// Nanoseconds one 8N1 byte occupies the wire at `baud`.
pub(crate) fn byte_ns(baud: u32) -> u64 {
    10_000_000_000 / u64::from(baud.max(1))
}

/// Transmit FIFO with pacing.
#[derive(Debug)]
pub(crate) struct TxQueue {
    queue: VecDeque<Chunk>,
    /// Bytes of the front chunk already sent.
    sent_in_front: usize,
    /// When the wire is free for the next byte.
    line_free_ns: u64,
    baud: u32,
}

impl TxQueue {
    pub(crate) fn new(baud: u32) -> TxQueue {
        TxQueue {
            queue: VecDeque::new(),
            sent_in_front: 0,
            line_free_ns: 0,
            baud,
        }
    }

    pub(crate) fn baud(&self) -> u32 {
        self.baud
    }

    pub(crate) fn push(&mut self, data: Vec<u8>, ready_ns: u64) {
        if !data.is_empty() {
            self.queue.push_back(Chunk::Bytes { data, ready_ns });
        }
    }

    pub(crate) fn push_baud_change(&mut self, baud: u32) {
        self.queue.push_back(Chunk::SetBaud(baud));
    }

    /// Drops everything not yet on the wire (a crash or brown-out kills the UART FIFO) and
    /// switches to `baud` at once.
    pub(crate) fn clear(&mut self, baud: u32) {
        self.queue.clear();
        self.sent_in_front = 0;
        self.baud = baud;
    }

    /// Completion time of the next byte (its stop bit), if any byte is queued.
    pub(crate) fn next_done_ns(&self) -> Option<u64> {
        let mut baud = self.baud;
        for chunk in &self.queue {
            match chunk {
                Chunk::SetBaud(b) => baud = *b,
                Chunk::Bytes { ready_ns, .. } => {
                    return Some((*ready_ns).max(self.line_free_ns) + byte_ns(baud));
                }
            }
        }
        None
    }

    /// When everything queued now will have left the wire (the stop bit of the last byte),
    /// or `line_free_ns` when nothing is queued. Later pushes go behind and cannot change it.
    pub(crate) fn all_done_ns(&self) -> u64 {
        let (mut free, mut baud) = (self.line_free_ns, self.baud);
        for (i, chunk) in self.queue.iter().enumerate() {
            match chunk {
                Chunk::SetBaud(b) => baud = *b,
                Chunk::Bytes { data, ready_ns } => {
                    // Only the front chunk can be part sent.
                    let left = data.len() - if i == 0 { self.sent_in_front } else { 0 };
                    free = (*ready_ns).max(free) + left as u64 * byte_ns(baud);
                }
            }
        }
        free
    }

    /// The next byte whose transmission has completed by `now_ns`, with its completion time.
    pub(crate) fn pop(&mut self, now_ns: u64) -> Option<(u8, u64)> {
        loop {
            match self.queue.front()? {
                Chunk::SetBaud(b) => {
                    self.baud = *b;
                    self.queue.pop_front();
                }
                Chunk::Bytes { data, ready_ns } => {
                    let done = (*ready_ns).max(self.line_free_ns) + byte_ns(self.baud);
                    if done > now_ns {
                        return None;
                    }
                    let byte = data[self.sent_in_front];
                    self.line_free_ns = done;
                    self.sent_in_front += 1;
                    if self.sent_in_front >= data.len() {
                        self.queue.pop_front();
                        self.sent_in_front = 0;
                    }
                    return Some((byte, done));
                }
            }
        }
    }
}

/// Direction of a transcript byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    /// Nano → ESP (the ESP's RX).
    ToEsp,
    /// ESP → Nano (the ESP's TX).
    FromEsp,
}

/// Marker written before a run of bytes from the Nano.
pub const MARK_TO_ESP: &[u8] = b"\n--> ";
/// Marker written before a run of bytes from the ESP.
pub const MARK_FROM_ESP: &[u8] = b"\n<-- ";

/// Bounded record of recent UART bytes with direction markers.
#[derive(Debug)]
pub(crate) struct Transcript {
    raw: Vec<u8>,
    entries: VecDeque<(Dir, u8)>,
    last: Option<Dir>,
    capacity: usize,
}

impl Transcript {
    pub(crate) fn new(capacity: usize) -> Transcript {
        Transcript {
            raw: Vec::new(),
            entries: VecDeque::new(),
            last: None,
            capacity,
        }
    }

    pub(crate) fn record(&mut self, dir: Dir, byte: u8) {
        if self.last != Some(dir) {
            self.raw.extend_from_slice(match dir {
                Dir::ToEsp => MARK_TO_ESP,
                Dir::FromEsp => MARK_FROM_ESP,
            });
            self.last = Some(dir);
        }
        self.raw.push(byte);
        // Trim in halves so the cost stays amortised O(1) per byte.
        if self.raw.len() > 2 * self.capacity {
            let cut = self.raw.len() - self.capacity;
            self.raw.drain(..cut);
        }
        self.entries.push_back((dir, byte));
        if self.entries.len() > self.capacity {
            self.entries.pop_front();
        }
    }

    pub(crate) fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// One line per direction run, `--> ` / `<-- ` prefixes, control bytes escaped.
    pub(crate) fn text(&self) -> String {
        let mut s = String::new();
        let mut last = None;
        for &(dir, b) in &self.entries {
            if last != Some(dir) {
                if last.is_some() {
                    s.push('\n');
                }
                s.push_str(match dir {
                    Dir::ToEsp => "--> ",
                    Dir::FromEsp => "<-- ",
                });
                last = Some(dir);
            }
            match b {
                b'\r' => s.push_str("\\r"),
                b'\n' => s.push_str("\\n"),
                b'\\' => s.push_str("\\\\"),
                0x20..=0x7e => s.push(b as char),
                _ => s.push_str(&format!("\\x{b:02x}")),
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_leave_one_byte_time_apart_at_the_set_rate() {
        let mut q = TxQueue::new(9600);
        q.push(b"ab".to_vec(), 0);
        let t = byte_ns(9600);
        assert_eq!(t, 1_041_666);
        assert_eq!(q.pop(t - 1), None);
        assert_eq!(q.pop(t), Some((b'a', t)));
        assert_eq!(q.next_done_ns(), Some(2 * t));
        assert_eq!(q.pop(2 * t - 1), None);
        assert_eq!(q.pop(2 * t), Some((b'b', 2 * t)));
        assert_eq!(q.pop(u64::MAX), None);
    }

    #[test]
    fn baud_marker_applies_after_earlier_bytes() {
        let mut q = TxQueue::new(9600);
        q.push(b"O".to_vec(), 0);
        q.push_baud_change(115_200);
        q.push(b"K".to_vec(), 0);
        let slow = byte_ns(9600);
        assert_eq!(q.pop(slow).map(|p| p.0), Some(b'O'));
        assert_eq!(q.next_done_ns(), Some(slow + byte_ns(115_200)));
        assert_eq!(q.pop(slow + byte_ns(115_200)).map(|p| p.0), Some(b'K'));
        assert_eq!(q.baud(), 115_200);
    }

    #[test]
    fn all_done_is_when_the_last_queued_byte_leaves() {
        let mut q = TxQueue::new(9600);
        let t = byte_ns(9600);
        assert_eq!(q.all_done_ns(), 0);
        q.push(b"ab".to_vec(), 0);
        q.push_baud_change(115_200);
        // Ready long after the first chunk: it waits for its ready time.
        q.push(b"c".to_vec(), 10 * t);
        let done = 10 * t + byte_ns(115_200);
        assert_eq!(q.all_done_ns(), done);
        assert_eq!(q.pop(t).map(|p| p.0), Some(b'a'));
        assert_eq!(q.all_done_ns(), done);
        let mut last = 0;
        while let Some((_, at)) = q.pop(u64::MAX) {
            last = at;
        }
        assert_eq!(last, done);
        assert_eq!(q.all_done_ns(), done);
    }

    #[test]
    fn transcript_is_bounded_and_marks_directions() {
        let mut t = Transcript::new(16);
        for &b in b"AT\r\n" {
            t.record(Dir::ToEsp, b);
        }
        for &b in b"\r\nOK\r\n" {
            t.record(Dir::FromEsp, b);
        }
        assert_eq!(t.text(), "--> AT\\r\\n\n<-- \\r\\nOK\\r\\n");
        for _ in 0..100 {
            t.record(Dir::FromEsp, b'x');
        }
        assert!(t.raw().len() <= 32);
        assert_eq!(t.text(), format!("<-- {}", "x".repeat(16)));
    }
}
