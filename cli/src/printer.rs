//! The one place `hoist` writes to the terminal: command output on stdout (text or `--format json`),
//! `Warning:` and `Error:` lines and `--verbose` steps on stderr. It is also the library's
//! [`Observer`](hoist_core::observe::Observer), so what the library reports goes through the same policy.
//!
//! Every text line passes through [`terminal_safe`]: what a registry, an archive or a file says (an error
//! message, a tag name) cannot set the terminal's title, rewrite a line or fake another. JSON is written by
//! its encoder, which escapes control characters itself, so `--format json` stays exact.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use hoist_core::observe::{Observer, terminal_safe};

/// How a command prints its result.
#[derive(Clone, Copy, clap::ValueEnum, PartialEq, Eq, Debug, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Default)]
pub struct Printer {
    verbose: AtomicBool,
    quiet: AtomicBool,
}

impl Printer {
    /// Shows the library's debug lines (`--verbose`).
    pub fn set_verbose(&self, on: bool) {
        self.verbose.store(on, Ordering::Relaxed);
    }

    /// Suppresses progress lines (`-q`); results, warnings and errors still show.
    pub fn set_quiet_progress(&self, on: bool) {
        self.quiet.store(on, Ordering::Relaxed);
    }

    /// A progress line on stderr (`Trying to pull ...`), unless `-q`.
    pub fn progress_line(&self, text: &str) {
        if !self.quiet.load(Ordering::Relaxed) {
            self.notice(text);
        }
    }

    /// One line of a command's result on stdout.
    pub fn line(&self, text: impl std::fmt::Display) -> std::io::Result<()> {
        writeln!(std::io::stdout().lock(), "{}", terminal_safe(&text.to_string()))
    }

    /// A command's result as pretty JSON on stdout.
    pub fn json<T: serde::Serialize>(&self, value: &T) -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, value)?;
        writeln!(out)
    }

    /// Raw bytes on stdout (completion scripts).
    pub fn raw(&self, bytes: &[u8]) -> std::io::Result<()> {
        std::io::stdout().lock().write_all(bytes)
    }

    /// A line for the person at the terminal that is not the result (`WARNING! ...`).
    pub fn notice(&self, text: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{}", terminal_safe(text));
    }

    pub fn warn(&self, text: &str) {
        self.notice(&format!("Warning: {text}"));
    }

    pub fn error(&self, text: &str) {
        self.notice(&format!("Error: {text}"));
    }

    pub fn is_verbose(&self) -> bool {
        self.verbose.load(Ordering::Relaxed)
    }

    pub fn debug(&self, text: &str) {
        if self.is_verbose() {
            self.notice(&format!("hoist: {text}"));
        }
    }
}

impl Observer for Printer {
    fn debug(&self, line: &str) {
        Printer::debug(self, line);
    }
    fn warning(&self, line: &str) {
        self.warn(line);
    }
}
