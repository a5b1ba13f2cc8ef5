//! [`AdapterPort`]: the serial port espflash drives, shared with our own raw commands,
//! counting wire bytes, and with DTR/RTS writes that cannot fail on ports that have no
//! modem-control lines (ptys, some adapters).

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serialport::{ClearBuffer, DataBits, FlowControl, Parity, SerialPort, StopBits};

/// Byte counters and the hang-up flag of a port (shared by all clones).
#[derive(Debug, Default)]
pub struct WireStats {
    written: AtomicU64,
    read: AtomicU64,
    hung_up: AtomicBool,
}

impl WireStats {
    /// Bytes written to the port so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }
    /// Bytes read from the port so far.
    pub fn read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }
    /// The other end hung up (adapter unplugged, pty closed).
    pub fn hung_up(&self) -> bool {
        self.hung_up.load(Ordering::Relaxed)
    }
}

/// A serial port for espflash. Clones share the same underlying port.
///
/// DTR/RTS: on a port with modem-control lines (a real USB-serial adapter) writes are
/// forwarded and errors reported, so espflash's reset into the ROM loader works; on a
/// port without (a pty, detected with `TIOCMGET` at open), or when built with
/// `lines = false` ([`crate::esp::Reset::None`]), they are accepted and ignored.
#[derive(Clone)]
pub struct AdapterPort {
    inner: Arc<Mutex<Box<dyn SerialPort>>>,
    lines: bool,
    stats: Arc<WireStats>,
}

impl AdapterPort {
    /// Wraps an opened OS port, probing whether it has modem-control lines.
    pub fn new(port: serialport::TTYPort) -> AdapterPort {
        use std::os::fd::AsRawFd;
        let mut bits: libc::c_int = 0;
        // SAFETY: TIOCMGET writes one int; the fd is valid while `port` lives.
        let lines = unsafe { libc::ioctl(port.as_raw_fd(), libc::TIOCMGET, &mut bits) } == 0;
        AdapterPort::from_boxed(Box::new(port), lines)
    }

    /// Wraps any port (tests, in-memory ports). `lines`: forward DTR/RTS writes.
    pub fn from_boxed(port: Box<dyn SerialPort>, lines: bool) -> AdapterPort {
        AdapterPort {
            inner: Arc::new(Mutex::new(port)),
            lines,
            stats: Arc::new(WireStats::default()),
        }
    }

    /// This port with DTR/RTS writes ignored (no reset sequence reaches the chip).
    pub fn without_lines(&self) -> AdapterPort {
        AdapterPort {
            lines: false,
            ..self.clone()
        }
    }

    /// Whether DTR/RTS writes reach the port.
    pub fn has_lines(&self) -> bool {
        self.lines
    }

    /// Wire counters.
    pub fn stats(&self) -> &WireStats {
        &self.stats
    }

    fn port(&self) -> MutexGuard<'_, Box<dyn SerialPort>> {
        // A panic while holding the lock leaves the port usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn note(&self, e: &std::io::Error) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            self.stats.hung_up.store(true, Ordering::Relaxed);
        }
    }
}

impl Read for AdapterPort {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let r = self.port().read(buf);
        match &r {
            Ok(n) => {
                self.stats.read.fetch_add(*n as u64, Ordering::Relaxed);
            }
            Err(e) => self.note(e),
        }
        r
    }
}

impl Write for AdapterPort {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let r = self.port().write(buf);
        match &r {
            Ok(n) => {
                self.stats.written.fetch_add(*n as u64, Ordering::Relaxed);
            }
            Err(e) => self.note(e),
        }
        r
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let r = self.port().flush();
        if let Err(e) = &r {
            self.note(e);
        }
        r
    }
}

impl SerialPort for AdapterPort {
    fn name(&self) -> Option<String> {
        self.port().name()
    }
    fn baud_rate(&self) -> serialport::Result<u32> {
        self.port().baud_rate()
    }
    fn data_bits(&self) -> serialport::Result<DataBits> {
        self.port().data_bits()
    }
    fn flow_control(&self) -> serialport::Result<FlowControl> {
        self.port().flow_control()
    }
    fn parity(&self) -> serialport::Result<Parity> {
        self.port().parity()
    }
    fn stop_bits(&self) -> serialport::Result<StopBits> {
        self.port().stop_bits()
    }
    fn timeout(&self) -> Duration {
        self.port().timeout()
    }
    fn set_baud_rate(&mut self, baud_rate: u32) -> serialport::Result<()> {
        self.port().set_baud_rate(baud_rate)
    }
    fn set_data_bits(&mut self, data_bits: DataBits) -> serialport::Result<()> {
        self.port().set_data_bits(data_bits)
    }
    fn set_flow_control(&mut self, flow_control: FlowControl) -> serialport::Result<()> {
        self.port().set_flow_control(flow_control)
    }
    fn set_parity(&mut self, parity: Parity) -> serialport::Result<()> {
        self.port().set_parity(parity)
    }
    fn set_stop_bits(&mut self, stop_bits: StopBits) -> serialport::Result<()> {
        self.port().set_stop_bits(stop_bits)
    }
    fn set_timeout(&mut self, timeout: Duration) -> serialport::Result<()> {
        self.port().set_timeout(timeout)
    }
    fn write_request_to_send(&mut self, level: bool) -> serialport::Result<()> {
        if self.lines {
            self.port().write_request_to_send(level)
        } else {
            Ok(())
        }
    }
    fn write_data_terminal_ready(&mut self, level: bool) -> serialport::Result<()> {
        if self.lines {
            self.port().write_data_terminal_ready(level)
        } else {
            Ok(())
        }
    }
    fn read_clear_to_send(&mut self) -> serialport::Result<bool> {
        self.port().read_clear_to_send()
    }
    fn read_data_set_ready(&mut self) -> serialport::Result<bool> {
        self.port().read_data_set_ready()
    }
    fn read_ring_indicator(&mut self) -> serialport::Result<bool> {
        self.port().read_ring_indicator()
    }
    fn read_carrier_detect(&mut self) -> serialport::Result<bool> {
        self.port().read_carrier_detect()
    }
    fn bytes_to_read(&self) -> serialport::Result<u32> {
        self.port().bytes_to_read()
    }
    fn bytes_to_write(&self) -> serialport::Result<u32> {
        self.port().bytes_to_write()
    }
    fn clear(&self, buffer_to_clear: ClearBuffer) -> serialport::Result<()> {
        self.port().clear(buffer_to_clear)
    }
    fn try_clone(&self) -> serialport::Result<Box<dyn SerialPort>> {
        Ok(Box::new(self.clone()))
    }
    fn set_break(&self) -> serialport::Result<()> {
        self.port().set_break()
    }
    fn clear_break(&self) -> serialport::Result<()> {
        self.port().clear_break()
    }
}
