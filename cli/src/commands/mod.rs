//! One file per command. Each reads top to bottom: flags in, library calls, a report through the printer.

pub mod access;
pub mod build;
pub mod common;
pub mod completion;
pub mod copy;
pub mod creds;
pub mod delete;
pub mod digest;
pub mod exists;
pub mod generate_key;
pub mod history;
pub mod image;
pub mod images;
pub mod inspect;
pub mod list_tags;
pub mod load;
pub mod login;
pub mod logout;
pub mod man;
pub mod promote;
pub mod prune;
pub mod pull;
pub mod push;
pub mod resolve;
pub mod rmi;
pub mod save;
pub mod search;
pub mod sign;
pub mod sync;
pub mod tag;
pub mod trust;
pub mod untag;
pub mod verify;

use std::sync::Arc;

use hoist_core::config::Config;
use hoist_core::observe::SharedObserver;
use hoist_core::ops::Settings;

use crate::printer::Printer;

pub type Error = Box<dyn std::error::Error>;
pub type Result<T> = std::result::Result<T, Error>;

/// One run of `hoist`, what every command gets: the printer (decided in `main`, the only writer to stdout and stderr), the
/// process's one runtime, and the library's settings built once in `main` from the global flags and the
/// environment (each command adds its own flags to a copy).
pub struct Invocation {
    pub printer: Printer,
    pub runtime: tokio::runtime::Runtime,
    pub settings: Settings,
}

impl Invocation {
    /// The printer as the library's observer.
    pub fn observer(&self) -> SharedObserver {
        self.settings.observer.clone()
    }

    /// registries.conf as podman reads it; its warnings are printed.
    pub fn load_config(&self) -> Result<Arc<Config>> {
        Ok(self.settings.config()?)
    }
}

/// An error that is only a message, printed as `Error: ...`.
#[derive(Debug)]
pub struct MessageError(pub String);

impl std::fmt::Display for MessageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MessageError {}

/// An error that ends the run with its own exit code instead of 125 (`trust check`: 1 when the policy
/// refuses the image).
#[derive(Debug)]
pub struct ExitWith {
    pub code: u8,
    pub error: Error,
}

impl std::fmt::Display for ExitWith {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for ExitWith {}

/// Several errors of one command, each its own (`rmi a b` when neither is known), printed as podman prints
/// them: `Error: 2 errors occurred:` then one `\t* ...` line each (one alone is a plain `Error: ...`).
#[derive(Debug)]
pub struct Errors(pub Vec<String>);

impl std::fmt::Display for Errors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_slice() {
            [one] => f.write_str(one),
            many => {
                write!(f, "{} errors occurred:", many.len())?;
                many.iter().try_for_each(|e| write!(f, "\n\t* {e}"))
            }
        }
    }
}

impl std::error::Error for Errors {}

impl ExitWith {
    /// Ends the run with `code` and prints nothing (`image exists`: 1 when the image is not there). `main`
    /// prints no `Error:` line for an error whose message is empty.
    pub fn silent(code: u8) -> Error {
        Box::new(ExitWith { code, error: Box::new(MessageError(String::new())) })
    }
}

pub fn fail<T>(message: impl Into<String>) -> Result<T> {
    Err(Box::new(MessageError(message.into())))
}

/// True when the error is a closed stdout (`hoist ... | head`).
pub fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
