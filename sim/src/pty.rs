//! The Nano's USB serial port as a pseudo-terminal.
//!
//! The harness keeps only the master side open, so `poll()` on the master reports
//! `POLLHUP` while no program has the slave open. When that clears, a client (avrdude, a
//! terminal, `nanoesp`) has opened the port: on a real Nano, opening asserts DTR and the
//! auto-reset capacitor pulses RESET, so the caller resets the core then. The slave's
//! termios speed is what the client asked for; strict-baud mode compares it with the AVR.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::error::SimError;

/// What happened on the port since the last poll.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PtyPoll {
    /// A client opened the port (a DTR pulse on hardware).
    pub opened: bool,
    /// The last client closed the port.
    pub closed: bool,
    /// Bytes the client wrote.
    pub data: Vec<u8>,
}

/// A pseudo-terminal whose slave is published under a symlink.
pub struct Pty {
    master: OwnedFd,
    slave_name: String,
    link: Option<PathBuf>,
    client_open: bool,
    pending_out: Vec<u8>,
}

impl Pty {
    /// Creates a raw pty and links `link` (if given) to its slave device.
    pub fn create(link: Option<&Path>) -> Result<Pty, SimError> {
        let mut master: libc::c_int = -1;
        let mut slave: libc::c_int = -1;
        // SAFETY: openpty writes two fds; null name/termios/winsize are allowed.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        if rc != 0 {
            return Err(SimError::io("openpty", std::io::Error::last_os_error()));
        }
        // SAFETY: both fds are fresh and owned by us from here on.
        let master = unsafe { OwnedFd::from_raw_fd(master) };
        let slave = unsafe { OwnedFd::from_raw_fd(slave) };
        // Raw mode now: otherwise the line discipline echoes AVR output back into the AVR
        // before the client configures the port.
        // SAFETY: termios is plain data; the fd is valid.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(slave.as_raw_fd(), &mut t) == 0 {
                libc::cfmakeraw(&mut t);
                libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &t);
            }
        }
        let mut buf = [0 as libc::c_char; 128];
        // SAFETY: buf is large enough for a /dev/pts path and NUL-terminated on success.
        let rc = unsafe { libc::ptsname_r(master.as_raw_fd(), buf.as_mut_ptr(), buf.len()) };
        if rc != 0 {
            return Err(SimError::io(
                "ptsname",
                std::io::Error::from_raw_os_error(rc),
            ));
        }
        // SAFETY: ptsname_r NUL-terminated buf.
        let slave_name = unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned();
        // SAFETY: fcntl on a valid fd.
        unsafe {
            let flags = libc::fcntl(master.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(master.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
        drop(slave);
        let link = match link {
            Some(path) => {
                if std::fs::symlink_metadata(path).is_ok() {
                    std::fs::remove_file(path)
                        .map_err(|e| SimError::io(format!("removing old {}", path.display()), e))?;
                }
                std::os::unix::fs::symlink(&slave_name, path)
                    .map_err(|e| SimError::io(format!("linking {}", path.display()), e))?;
                Some(path.to_path_buf())
            }
            None => None,
        };
        Ok(Pty {
            master,
            slave_name,
            link,
            client_open: false,
            pending_out: Vec::new(),
        })
    }

    /// The slave device, e.g. `/dev/pts/3`.
    pub fn slave_name(&self) -> &str {
        &self.slave_name
    }

    /// Whether a client has the port open.
    pub fn client_open(&self) -> bool {
        self.client_open
    }

    /// Checks for open/close and reads what the client wrote. Never blocks.
    pub fn poll(&mut self) -> PtyPoll {
        let mut result = PtyPoll::default();
        let mut pfd = libc::pollfd {
            fd: self.master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        unsafe { libc::poll(&mut pfd, 1, 0) };
        let open_now = pfd.revents & libc::POLLHUP == 0;
        if open_now && !self.client_open {
            result.opened = true;
        }
        if !open_now && self.client_open {
            result.closed = true;
            self.pending_out.clear();
        }
        self.client_open = open_now;
        if pfd.revents & libc::POLLIN != 0 {
            let mut buf = [0u8; 4096];
            loop {
                // SAFETY: buf is valid for its length.
                let n = unsafe {
                    libc::read(self.master.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len())
                };
                if n <= 0 {
                    break;
                }
                result.data.extend_from_slice(&buf[..n as usize]);
            }
        }
        self.flush();
        result
    }

    /// Sends bytes to the client; dropped while nobody has the port open (as a USB-serial
    /// chip drops them).
    pub fn write(&mut self, data: &[u8]) {
        if self.client_open {
            self.pending_out.extend_from_slice(data);
            self.flush();
        }
    }

    fn flush(&mut self) {
        while !self.pending_out.is_empty() {
            // SAFETY: pending_out is valid for its length.
            let n = unsafe {
                libc::write(
                    self.master.as_raw_fd(),
                    self.pending_out.as_ptr().cast(),
                    self.pending_out.len(),
                )
            };
            if n <= 0 {
                break;
            }
            self.pending_out.drain(..n as usize);
        }
    }

    /// Baud rate the client set on the port, if recognised.
    ///
    /// Read through `termios2`: clients that set arbitrary rates (the serialport crate,
    /// hence espflash and nanoesp) use `BOTHER`, which `cfgetospeed` cannot express; the
    /// kernel keeps the numeric rate in `c_ospeed` either way.
    pub fn client_baud(&self) -> Option<u32> {
        #[cfg(target_os = "linux")]
        {
            // SAFETY: termios2 is plain data; TCGETS2 fills it; the fd is valid.
            let baud = unsafe {
                let mut t: libc::termios2 = std::mem::zeroed();
                if libc::ioctl(self.master.as_raw_fd(), libc::TCGETS2, &mut t) == 0 {
                    Some(t.c_ospeed)
                } else {
                    None
                }
            };
            if let Some(b) = baud.filter(|&b| b > 0) {
                return Some(b);
            }
        }
        // SAFETY: termios is plain data; the fd is valid.
        let speed = unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(self.master.as_raw_fd(), &mut t) != 0 {
                return None;
            }
            libc::cfgetospeed(&t)
        };
        speed_to_baud(speed)
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if let Some(link) = &self.link {
            let _ = std::fs::remove_file(link);
        }
    }
}

/// Converts a termios `speed_t` constant into bits per second.
pub fn speed_to_baud(speed: libc::speed_t) -> Option<u32> {
    Some(match speed {
        libc::B1200 => 1200,
        libc::B2400 => 2400,
        libc::B4800 => 4800,
        libc::B9600 => 9600,
        libc::B19200 => 19200,
        libc::B38400 => 38400,
        libc::B57600 => 57600,
        libc::B115200 => 115200,
        libc::B230400 => 230400,
        libc::B460800 => 460800,
        libc::B500000 => 500000,
        libc::B1000000 => 1000000,
        _ => return None,
    })
}

/// Converts bits per second into a termios `speed_t` constant.
pub fn baud_to_speed(baud: u32) -> Option<libc::speed_t> {
    Some(match baud {
        1200 => libc::B1200,
        2400 => libc::B2400,
        4800 => libc::B4800,
        9600 => libc::B9600,
        19200 => libc::B19200,
        38400 => libc::B38400,
        57600 => libc::B57600,
        115200 => libc::B115200,
        230400 => libc::B230400,
        460800 => libc::B460800,
        500000 => libc::B500000,
        1000000 => libc::B1000000,
        _ => return None,
    })
}

/// Opens a serial device (or pty slave) raw at `baud`, non-blocking.
pub fn open_serial(path: &Path, baud: u32) -> Result<std::fs::File, SimError> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| SimError::io(format!("opening {}", path.display()), e))?;
    let speed =
        baud_to_speed(baud).ok_or_else(|| SimError::Usage(format!("unsupported baud {baud}")))?;
    // SAFETY: termios is plain data; the fd is valid for the call.
    unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(file.as_raw_fd(), &mut t) == 0 {
            libc::cfmakeraw(&mut t);
            libc::cfsetispeed(&mut t, speed);
            libc::cfsetospeed(&mut t, speed);
            libc::tcsetattr(file.as_raw_fd(), libc::TCSANOW, &t);
        }
    }
    Ok(file)
}
