//! Progress of long operations (flashing) for the terminal: an indicatif bar per phase on
//! a terminal; in CI or a pipe, one status line when a phase ends, never a spinner.

use indicatif::{ProgressBar, ProgressStyle};
use nanoesp_flash::Progress;

use crate::ui::Ui;

/// Draws [`Progress`] reports of one chip's flashing.
pub struct Bars<'a> {
    ui: &'a Ui,
    chip: &'static str,
    bar: Option<ProgressBar>,
    label: String,
    total: u64,
    done: u64,
    /// What the current phase works on, beyond the chip (an image name).
    detail: String,
}

impl<'a> Bars<'a> {
    /// Progress of flashing `chip` ("Nano", "ESP8266").
    pub fn new(ui: &'a Ui, chip: &'static str) -> Bars<'a> {
        Bars {
            ui,
            chip,
            bar: None,
            label: String::new(),
            total: 0,
            done: 0,
            detail: String::new(),
        }
    }
}

impl Bars<'_> {
    fn subject(&self) -> String {
        if self.detail.is_empty() {
            self.chip.to_string()
        } else {
            format!("{} {}", self.chip, self.detail)
        }
    }
}

impl Progress for Bars<'_> {
    fn start(&mut self, label: &str, total: u64) {
        self.finish();
        self.label = label.to_string();
        self.total = total;
        if self.ui.progress_bars() {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>12.cyan.bold} [{bar:40}] {percent:>3}% {msg}",
                )
                .expect("static template")
                .progress_chars("=> "),
            );
            bar.set_prefix(label.to_string());
            bar.set_message(self.subject());
            self.bar = Some(bar);
        }
    }

    fn update(&mut self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(done.min(self.total));
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if !self.label.is_empty() {
            self.ui
                .status(&self.label, format!("{}: done", self.subject()));
            self.label.clear();
            self.detail.clear();
        }
    }
}

/// The ESP side reports per image in bytes written.
impl nanoesp_flash::esp::Progress for Bars<'_> {
    fn start(&mut self, total_bytes: u64, label: &str) {
        Progress::finish(self);
        self.detail = format!("{label}, {total_bytes} B");
        Progress::start(self, "Writing", total_bytes);
        self.done = 0;
    }
    fn advance(&mut self, bytes: u64) {
        self.done += bytes;
        Progress::update(self, self.done);
    }
    fn finish(&mut self) {
        Progress::finish(self);
    }
}

impl Drop for Bars<'_> {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.abandon();
        }
    }
}
