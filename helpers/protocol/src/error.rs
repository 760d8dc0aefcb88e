//! Errors a backend or the protocol layer reports. Their text is printed on stdout, one line, exit 1.

/// An error with the text the protocol prints. Messages must never contain a secret or echo raw input.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// Nothing stored for that server; prints [`crate::NOT_FOUND`], the text clients recognise.
    #[error("credentials not found in native keychain")]
    NotFound,
    #[error("no credentials server URL")]
    MissingServerUrl,
    #[error("no credentials username")]
    MissingUsername,
    /// The input could not be read as the verb requires (bad JSON, too large, not UTF-8, ...).
    #[error("{0}")]
    Input(String),
    /// The backend failed: a store that cannot be read or written, a locked keyring, ...
    #[error("{0}")]
    Backend(String),
}

impl Error {
    pub fn backend(message: impl Into<String>) -> Self {
        Error::Backend(one_line(message.into()))
    }
}

/// Folds a message onto one line, as the protocol prints exactly one.
pub(crate) fn one_line(message: String) -> String {
    if message.contains(['\n', '\r']) {
        message.split(['\n', '\r']).filter(|s| !s.trim().is_empty()).collect::<Vec<_>>().join("; ")
    } else {
        message
    }
}
