//! An in-memory serial port whose far end is the emulated ESP8266 ROM loader.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nanoesp_espemu::rom::{RomConfig, RomLoader};
use serialport::{ClearBuffer, DataBits, FlowControl, Parity, SerialPort, StopBits};

/// The port; clones share the loader and the receive buffer.
#[derive(Clone)]
pub struct MockPort {
    pub rom: Arc<Mutex<RomLoader>>,
    rx: Arc<Mutex<VecDeque<u8>>>,
    timeout: Duration,
    baud: u32,
}

impl MockPort {
    pub fn new(cfg: RomConfig) -> MockPort {
        MockPort::with_flash(cfg, None)
    }

    pub fn with_flash(cfg: RomConfig, flash: Option<Vec<u8>>) -> MockPort {
        let rom = match flash {
            Some(f) => RomLoader::with_flash(cfg, f),
            None => RomLoader::new(cfg),
        };
        MockPort {
            rom: Arc::new(Mutex::new(rom)),
            rx: Arc::default(),
            timeout: Duration::from_secs(3),
            baud: 115_200,
        }
    }

    pub fn flash(&self) -> Vec<u8> {
        self.rom.lock().unwrap().flash().to_vec()
    }
}

impl Read for MockPort {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut rx = self.rx.lock().unwrap();
        if rx.is_empty() {
            // Nothing will ever arrive without a write: time out at once.
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "timed out",
            ));
        }
        let n = buf.len().min(rx.len());
        for (i, b) in rx.drain(..n).enumerate() {
            buf[i] = b;
        }
        Ok(n)
    }
}

impl Write for MockPort {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let out = self.rom.lock().unwrap().feed(buf);
        self.rx.lock().unwrap().extend(out);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SerialPort for MockPort {
    fn name(&self) -> Option<String> {
        Some("mock".into())
    }
    fn baud_rate(&self) -> serialport::Result<u32> {
        Ok(self.baud)
    }
    fn data_bits(&self) -> serialport::Result<DataBits> {
        Ok(DataBits::Eight)
    }
    fn flow_control(&self) -> serialport::Result<FlowControl> {
        Ok(FlowControl::None)
    }
    fn parity(&self) -> serialport::Result<Parity> {
        Ok(Parity::None)
    }
    fn stop_bits(&self) -> serialport::Result<StopBits> {
        Ok(StopBits::One)
    }
    fn timeout(&self) -> Duration {
        self.timeout
    }
    fn set_baud_rate(&mut self, baud_rate: u32) -> serialport::Result<()> {
        self.baud = baud_rate;
        Ok(())
    }
    fn set_data_bits(&mut self, _: DataBits) -> serialport::Result<()> {
        Ok(())
    }
    fn set_flow_control(&mut self, _: FlowControl) -> serialport::Result<()> {
        Ok(())
    }
    fn set_parity(&mut self, _: Parity) -> serialport::Result<()> {
        Ok(())
    }
    fn set_stop_bits(&mut self, _: StopBits) -> serialport::Result<()> {
        Ok(())
    }
    fn set_timeout(&mut self, timeout: Duration) -> serialport::Result<()> {
        self.timeout = timeout;
        Ok(())
    }
    fn write_request_to_send(&mut self, _: bool) -> serialport::Result<()> {
        Err(serialport::Error::new(
            serialport::ErrorKind::Unknown,
            "a mock has no modem lines",
        ))
    }
    fn write_data_terminal_ready(&mut self, _: bool) -> serialport::Result<()> {
        Err(serialport::Error::new(
            serialport::ErrorKind::Unknown,
            "a mock has no modem lines",
        ))
    }
    fn read_clear_to_send(&mut self) -> serialport::Result<bool> {
        Ok(false)
    }
    fn read_data_set_ready(&mut self) -> serialport::Result<bool> {
        Ok(false)
    }
    fn read_ring_indicator(&mut self) -> serialport::Result<bool> {
        Ok(false)
    }
    fn read_carrier_detect(&mut self) -> serialport::Result<bool> {
        Ok(false)
    }
    fn bytes_to_read(&self) -> serialport::Result<u32> {
        Ok(self.rx.lock().unwrap().len() as u32)
    }
    fn bytes_to_write(&self) -> serialport::Result<u32> {
        Ok(0)
    }
    fn clear(&self, which: ClearBuffer) -> serialport::Result<()> {
        if matches!(which, ClearBuffer::Input | ClearBuffer::All) {
            self.rx.lock().unwrap().clear();
        }
        Ok(())
    }
    fn try_clone(&self) -> serialport::Result<Box<dyn SerialPort>> {
        Ok(Box::new(self.clone()))
    }
    fn set_break(&self) -> serialport::Result<()> {
        Ok(())
    }
    fn clear_break(&self) -> serialport::Result<()> {
        Ok(())
    }
}
