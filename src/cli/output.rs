//! The one output policy: data on stdout, logs and errors on stderr (lower-case, `warning:`,
//! `error:` and `hint:` prefixes), progress bars only on a terminal and never with
//! `--no-progress` or `--quiet`.

use std::cell::RefCell;
use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};

use super::args::GlobalArgs;
use crate::report::Reporter;

/// Prints for the CLI and reports the core's progress.
pub struct Printer {
    quiet: bool,
    progress_bars: bool,
    bar: RefCell<Option<ProgressBar>>,
}

impl Printer {
    pub fn new(global: &GlobalArgs) -> Self {
        Printer {
            quiet: global.quiet,
            progress_bars: !global.no_progress && !global.quiet && std::io::stderr().is_terminal(),
            bar: RefCell::new(None),
        }
    }

    /// A result for scripts: one line (or block) on stdout.
    pub fn data(&self, text: &str) {
        use std::io::Write;
        // A reader that stopped reading (`mm-install status | head -1`) is not an error.
        if let Err(err) = writeln!(std::io::stdout().lock(), "{text}") {
            if err.kind() != std::io::ErrorKind::BrokenPipe {
                eprintln!("error: cannot write the output: {err}");
            }
        }
    }

    /// The install tests' report on stdout: the checklist, or JSON.
    pub fn verify_report(
        &self,
        report: &crate::ops::verify::VerifyReport,
        json: bool,
    ) -> super::CommandResult {
        if json {
            self.data(&serde_json::to_string_pretty(report)?);
        } else {
            self.data(&report.checklist());
        }
        Ok(())
    }

    /// A failed command, as `error: …` and `hint: …` lines.
    pub fn error(&self, failure: &super::Failure) {
        self.clear_bar();
        eprintln!("{failure}");
    }

    fn clear_bar(&self) {
        if let Some(bar) = self.bar.borrow_mut().take() {
            bar.finish_and_clear();
        }
    }
}

impl Reporter for Printer {
    fn step(&self, message: &str) {
        if !self.quiet {
            self.log(message);
        }
    }

    fn warn(&self, message: &str) {
        self.log(&format!("warning: {message}"));
    }

    fn transfer_started(&self, label: &str, total: Option<u64>, already: u64) {
        if self.progress_bars {
            let bar = ProgressBar::new(total.unwrap_or(0));
            let template = "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}";
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(label.to_string());
            bar.set_position(already);
            *self.bar.borrow_mut() = Some(bar);
        } else {
            let size = total.map_or("unknown size".to_string(), |t| format!("{t} bytes"));
            let resumed = if already > 0 {
                format!(", resuming at byte {already}")
            } else {
                String::new()
            };
            self.step(&format!("receiving {label} ({size}{resumed})"));
        }
    }

    fn transfer_progress(&self, position: u64) {
        if let Some(bar) = self.bar.borrow().as_ref() {
            bar.set_position(position);
        }
    }

    fn transfer_finished(&self) {
        self.clear_bar();
    }
}

impl Printer {
    /// A log line on stderr that does not tear a progress bar.
    fn log(&self, line: &str) {
        match self.bar.borrow().as_ref() {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }
}
