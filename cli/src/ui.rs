//! All terminal output: cargo-style status lines on stderr, results on stdout, errors as
//! miette reports. Prompts are allowed only on an interactive terminal outside CI.

use std::io::{IsTerminal, Write};

/// Output settings decided once at start-up.
#[derive(Debug, Clone)]
pub struct Ui {
    quiet: bool,
    interactive: bool,
    color: bool,
    bars: bool,
}

impl Ui {
    /// Reads the environment: `CI=true` or a non-terminal stdin/stderr disables prompts;
    /// `NO_COLOR` or a non-terminal stderr disables colour.
    pub fn from_env(quiet: bool) -> Ui {
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        let stderr_tty = std::io::stderr().is_terminal();
        let interactive = !ci && stderr_tty && std::io::stdin().is_terminal();
        let color = stderr_tty && std::env::var_os("NO_COLOR").is_none();
        Ui {
            quiet,
            interactive,
            color,
            bars: !quiet && !ci && stderr_tty,
        }
    }

    /// True when the user can be asked questions.
    pub fn interactive(&self) -> bool {
        self.interactive
    }

    /// True when progress bars may be drawn (a terminal, not CI, not quiet). Otherwise
    /// long operations print one status line per phase.
    pub fn progress_bars(&self) -> bool {
        self.bars
    }

    /// True unless `--quiet`.
    pub fn verbose(&self) -> bool {
        !self.quiet
    }

    /// A cargo-style status line: right-aligned green verb, then the message (stderr).
    pub fn status(&self, verb: &str, message: impl std::fmt::Display) {
        if self.quiet {
            return;
        }
        let mut err = std::io::stderr().lock();
        if self.color {
            let _ = writeln!(err, "\x1b[1;32m{verb:>12}\x1b[0m {message}");
        } else {
            let _ = writeln!(err, "{verb:>12} {message}");
        }
    }

    /// A warning line (stderr), shown even when quiet.
    pub fn warn(&self, message: impl std::fmt::Display) {
        let mut err = std::io::stderr().lock();
        if self.color {
            let _ = writeln!(err, "\x1b[1;33mwarning\x1b[0m: {message}");
        } else {
            let _ = writeln!(err, "warning: {message}");
        }
    }

    /// A result line on stdout (what scripts read).
    pub fn out(&self, line: impl std::fmt::Display) {
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }

    /// Prints an error report.
    pub fn error(&self, report: &miette::Report) {
        let _ = writeln!(std::io::stderr().lock(), "{report:?}");
    }
}
