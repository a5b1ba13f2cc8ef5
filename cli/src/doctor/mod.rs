//! `nanoesp doctor` as a library: the checks, the known-failure diagnoses and the report
//! they make. Nothing here prints; `cmd::doctor` decides what runs and renders the
//! [`Report`] as one line per check or as JSON.
//!
//! - [`tools`]: host Rust, the AVR route, avr-gcc/avr-libc, avrdude, ravedude, arduino-cli.
//! - [`console`]: what the Nano's console said (banner, bring-up lines, noise), as facts.
//! - [`http`]: `GET /api/status`, K parallel clients, a soak.
//! - [`bench`]: a private virtual bench (nanoesp-sim) whose console is read from power-on.
//!
//! # JSON schema (`nanoesp doctor --json`), version 1
//!
//! ```json
//! {
//!   "schema": 1,
//!   "ok": true,
//!   "mode": "sim",
//!   "url": "http://127.0.0.1:41234/",
//!   "seconds": 2.7,
//!   "checks": [
//!     {"id": "toolchain.avr", "status": "ok", "value": "rustup nightly + rust-src (...)", "fix": null}
//!   ],
//!   "diagnoses": [
//!     {"id": "one-client-server", "summary": "...", "advice": "..."}
//!   ],
//!   "load": {"clients": 5, "requests": 5, "ok": 5, "failed": 0, "retried": 2,
//!            "statuses": {"200": 5, "503": 2}, "errors": [], "p50_ms": 61.0, "max_ms": 140.2,
//!            "seconds": 0.4},
//!   "soak": null
//! }
//! ```
//!
//! - `schema` changes only when a field is removed or changes meaning; fields may be added.
//! - `ok` is false exactly when some check has status `fail` (then the exit code is 1).
//! - `mode`: `hardware`, `sim` or `url`. `url`: the server that was checked, if any.
//! - `checks`: always the same ids in the same order (see [`CHECK_IDS`]); `status` is one of
//!   `ok`, `warn`, `fail`, `skip`; `value` is what was measured (or why it was skipped);
//!   `fix` is a sentence saying what to do, present for `fail` and `warn`.
//! - `diagnoses`: known failure patterns recognised from the evidence, each with a stable
//!   `id` (see [`Diagnosis`]) and wiring- or configuration-specific `advice`.
//! - `load`: the K-parallel-clients round (`null` when the server was not reached);
//!   `soak`: the same counters for `--soak` (`null` without it). `statuses` counts HTTP
//!   status codes of every attempt (a 503 retried once counts twice); `retried` is how many
//!   clients were answered 503 first and tried again; `errors` holds up to 5 examples of
//!   failures (timeouts, resets, wrong bodies); latencies are of successful requests.
//!
//! The Wi-Fi password is never part of a report.

pub mod bench;
pub mod console;
pub mod http;
pub mod tools;

use std::collections::BTreeMap;

use serde::Serialize;

/// Version of the JSON report.
pub const SCHEMA: u32 = 1;

/// Every check id, in the order doctor runs and reports them.
pub const CHECK_IDS: &[&str] = &[
    "toolchain.host",
    "toolchain.avr",
    "toolchain.avr-gcc",
    "toolchain.avrdude",
    "toolchain.ravedude",
    "toolchain.arduino-cli",
    "project.config",
    "firmware.build",
    "ports.nano",
    "ports.esp",
    "nano.console",
    "nano.firmware",
    "esp.at",
    "esp.baud",
    "wifi.join",
    "server.status",
    "server.concurrency",
    "server.soak",
];

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Works.
    Ok,
    /// Works, but something deserves attention.
    Warn,
    /// Broken: the fix says what to do.
    Fail,
    /// Not checked (not applicable in this mode, or an earlier failure prevents it).
    Skip,
}

impl Status {
    /// `ok`, `warn`, `fail` or `skip`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable id, one of [`CHECK_IDS`].
    pub id: &'static str,
    /// Result.
    pub status: Status,
    /// What was measured, or why it was skipped.
    pub value: String,
    /// What to do (for `fail` and `warn`).
    pub fix: Option<String>,
}

impl Check {
    /// A passing check.
    pub fn ok(id: &'static str, value: impl Into<String>) -> Check {
        Check {
            id,
            status: Status::Ok,
            value: value.into(),
            fix: None,
        }
    }

    /// A check that deserves attention.
    pub fn warn(id: &'static str, value: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            id,
            status: Status::Warn,
            value: value.into(),
            fix: Some(fix.into()),
        }
    }

    /// A failing check.
    pub fn fail(id: &'static str, value: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            id,
            status: Status::Fail,
            value: value.into(),
            fix: Some(fix.into()),
        }
    }

    /// A check that did not run, and why.
    pub fn skip(id: &'static str, why: impl Into<String>) -> Check {
        Check {
            id,
            status: Status::Skip,
            value: why.into(),
            fix: None,
        }
    }
}

/// A known failure pattern recognised from the evidence.
///
/// Ids: `console-baud` (garbled console), `busy-storm` (`busy p...`/`busy s...` from the
/// ESP), `esp-resets` (repeated ESP resets: brownout), `at2-gpio` (AT 2.x on an ESP8266),
/// `esp-silent` (no AT answer), `join-failed` (Wi-Fi join code 1–4), `bootloader`
/// (old vs new Nano bootloader), `rom-banner` (the ESP ROM's 74880-baud boot banner),
/// `esp01-no-auto-reset`, `stale-firmware`, `server-down`, `one-client-server` (answers
/// one client, fails with two or more).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    /// Stable id.
    pub id: &'static str,
    /// What was seen.
    pub summary: String,
    /// What to do, specific to the wiring and configuration.
    pub advice: String,
}

/// Counters of a load run (the K-client round or a soak).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Load {
    /// Parallel clients.
    pub clients: usize,
    /// Requests that got a final result (a 503 retried once counts once).
    pub requests: usize,
    /// Correct answers (200 with the expected firmware id and 8 analog values).
    pub ok: usize,
    /// Requests that failed for good (timeout, reset, wrong status or body).
    pub failed: usize,
    /// Clients answered 503 (busy) at first and tried again.
    pub retried: usize,
    /// HTTP status of every attempt, e.g. `{"200": 5, "503": 2}`.
    pub statuses: BTreeMap<String, usize>,
    /// Up to five examples of failures.
    pub errors: Vec<String>,
    /// Median latency of correct answers, in milliseconds.
    pub p50_ms: Option<f64>,
    /// Slowest correct answer, in milliseconds.
    pub max_ms: Option<f64>,
    /// Wall time of the run.
    pub seconds: f64,
}

/// Everything doctor found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: u32,
    /// No check failed.
    pub ok: bool,
    /// `hardware`, `sim` or `url`.
    pub mode: &'static str,
    /// The server that was checked.
    pub url: Option<String>,
    /// Wall time of the whole run.
    pub seconds: f64,
    /// One per id of [`CHECK_IDS`], in that order.
    pub checks: Vec<Check>,
    /// Known failures recognised.
    pub diagnoses: Vec<Diagnosis>,
    /// The K-client round.
    pub load: Option<Load>,
    /// The `--soak` run.
    pub soak: Option<Load>,
}

impl Report {
    /// Assembles a report: checks are put in [`CHECK_IDS`] order, missing ones become
    /// `skip`, and `ok` is computed.
    pub fn new(mode: &'static str, mut checks: Vec<Check>) -> Report {
        let mut ordered = Vec::with_capacity(CHECK_IDS.len());
        for id in CHECK_IDS {
            match checks.iter().position(|c| c.id == *id) {
                Some(i) => ordered.push(checks.remove(i)),
                None => ordered.push(Check::skip(id, "not run")),
            }
        }
        let ok = !ordered.iter().any(|c| c.status == Status::Fail);
        Report {
            schema: SCHEMA,
            ok,
            mode,
            url: None,
            seconds: 0.0,
            checks: ordered,
            diagnoses: Vec::new(),
            load: None,
            soak: None,
        }
    }

    /// The check with `id`.
    pub fn check(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_orders_checks_and_fills_skips() {
        let r = Report::new(
            "url",
            vec![
                Check::fail("server.status", "refused", "start it"),
                Check::ok("toolchain.host", "rustc"),
            ],
        );
        assert_eq!(r.checks.len(), CHECK_IDS.len());
        assert_eq!(r.checks[0].id, "toolchain.host");
        assert!(!r.ok);
        assert_eq!(r.check("ports.nano").unwrap().status, Status::Skip);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["schema"], 1);
        assert_eq!(json["checks"][0]["status"], "ok");
    }
}
