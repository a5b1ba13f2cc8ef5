//! Errors of the virtual bench, one enum for the whole binary.

use std::path::PathBuf;

/// Everything that can stop `nanoesp-sim`.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// libsimavr refused or misbehaved.
    #[error("simavr: {0}")]
    Simavr(String),
    /// A firmware, bootloader or flash image could not be used.
    #[error("{0}: {1}")]
    Firmware(PathBuf, String),
    /// Bad command-line value.
    #[error("{0}")]
    Usage(String),
    /// An I/O operation on a named thing failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The simulated core stopped (crash, sleep with interrupts off).
    #[error("the simulated ATmega328P stopped: {0}")]
    CoreStopped(String),
    /// The firmware never brought the HTTP server up in time.
    #[error(
        "the firmware did not bring the HTTP server up within {seconds} s of simulated time\n{tail}"
    )]
    NotReady {
        /// Simulated seconds waited.
        seconds: f64,
        /// Tail of the serial exchange, for diagnosis.
        tail: String,
    },
}

impl SimError {
    /// Wraps an I/O error with what was being attempted.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> SimError {
        SimError::Io {
            what: what.into(),
            source,
        }
    }
}
