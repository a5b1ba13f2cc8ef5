//! Progress reporting shared by both chips' flashing: the library reports, the CLI draws
//! (indicatif bars on a terminal, nothing in CI).

/// Receives progress of one long operation made of phases (write, verify, ...).
pub trait Progress {
    /// A phase starts: `label` (e.g. "Writing", "Verifying") over `total` units.
    fn start(&mut self, label: &str, total: u64);
    /// `done` units of the current phase are complete (absolute, not a delta).
    fn update(&mut self, done: u64);
    /// The current phase is complete.
    fn finish(&mut self);
}

/// Progress that goes nowhere (scripts, tests).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&mut self, _label: &str, _total: u64) {}
    fn update(&mut self, _done: u64) {}
    fn finish(&mut self) {}
}
