//! How the library tells its caller what is going on without printing: an [`Observer`] receives debug lines
//! (what `--verbose` shows: files consulted, requests made) and warnings (something the user should know that
//! did not stop the work, such as a credential helper that failed while another source answered).
//!
//! The library never writes to stdout or stderr; the CLI's printer implements this trait and decides. No
//! message passed here ever holds a secret.

use std::sync::Arc;

/// Receives what the library has to say while it works. Both methods default to ignoring the line.
pub trait Observer: Send + Sync {
    /// A step worth showing with `--verbose`.
    fn debug(&self, _line: &str) {}
    /// Something worth a `Warning:` line.
    fn warning(&self, _line: &str) {}
}

/// An observer that ignores everything (library callers that want no output).
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Observer for Silent {}

/// A shared observer handle, as library objects keep it.
pub type SharedObserver = Arc<dyn Observer>;

/// The silent observer, shared.
pub fn silent() -> SharedObserver {
    Arc::new(Silent)
}

#[cfg(test)]
pub(crate) mod testing {
    use std::sync::Mutex;

    /// Records every line, for tests that assert what the library reported.
    #[derive(Default)]
    pub struct Recorder {
        pub debug: Mutex<Vec<String>>,
        pub warnings: Mutex<Vec<String>>,
    }

    impl super::Observer for Recorder {
        fn debug(&self, line: &str) {
            self.debug.lock().unwrap().push(line.to_owned());
        }
        fn warning(&self, line: &str) {
            self.warnings.lock().unwrap().push(line.to_owned());
        }
    }
}
