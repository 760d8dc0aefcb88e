//! What went wrong talking to a registry, as facts a caller can act on: the HTTP status, the distribution
//! error codes from the body, and whether trying again may help (the retry layer asks
//! [`RegistryError::is_retryable`], never the text).
//!
//! Errors never hold a credential or a token: URLs are the registry's own and bodies are reduced to their
//! distribution error codes and messages.

use std::fmt;

/// One entry of a distribution error body: `{"errors":[{"code":"DENIED","message":"...","detail":...}]}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct Diagnostic {
    pub code: String,
    #[serde(default)]
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self.code.to_lowercase().replace('_', " ");
        if self.message.is_empty() || self.message.eq_ignore_ascii_case(&code) {
            f.write_str(&code)
        } else {
            write!(f, "{code}: {}", self.message)
        }
    }
}

/// The largest error body read to find its error codes; the rest is not read.
pub const MAX_ERROR_BODY: usize = 64 * 1024;

/// Parses a distribution error body; anything else yields no diagnostics.
pub fn diagnostics(body: &[u8]) -> Vec<Diagnostic> {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default)]
        errors: Vec<Diagnostic>,
    }
    serde_json::from_slice::<Body>(body).map(|b| b.errors).unwrap_or_default()
}

/// Why a registry request failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry or its token service refused the credentials (or their absence).
    #[error("{message}")]
    Unauthorized { url: String, status: u16, codes: Vec<Diagnostic>, message: String },
    /// The registry answered with a status that is not success.
    #[error("{method} {url}: {}", describe(*status, codes))]
    Status { method: &'static str, url: String, status: u16, codes: Vec<Diagnostic> },
    /// No answer: the connection failed, broke or timed out.
    #[error("{context}: {message}")]
    Transport { context: String, message: String },
    /// The server took the request but sent no complete answer (headers) within the timeout; not retried,
    /// since a server that stalls once usually stalls again.
    #[error("{context}: no answer within {} s (change it with --timeout or HOIST_TIMEOUT)", after.as_secs())]
    Timeout { context: String, after: std::time::Duration },
    /// An HTTPS request answered in plain HTTP: a registry without TLS that registries.conf does not mark
    /// insecure. Not retried: it answers the same way every time.
    #[error(
        "{context}: the server answered in plain HTTP, not HTTPS: for a registry without TLS, set `insecure = true` \
         in its [[registry]] entry of registries.conf, or give --tls-verify=false"
    )]
    PlainHttp { context: String },
    /// An answer that breaks the protocol (not a token, not a registry, an unsupported scheme).
    #[error("{0}")]
    Protocol(String),
    /// registries.conf blocks the registry: nothing was sent to it.
    #[error("registry {host} is blocked in {} (prefix {prefix:?})", origin.display())]
    Blocked { host: String, prefix: String, origin: std::path::PathBuf },
    /// Local setup: certificates, the HTTP client.
    #[error("{0}")]
    Config(String),
    /// Bytes that are not what they were named by: a blob or manifest whose digest or size is not the
    /// expected one. `context` says which content from where.
    #[error("{context}: {source}")]
    Verify {
        context: String,
        #[source]
        source: crate::digest::VerifyError,
    },
    /// The bytes to upload failed at their source (a store, an archive, another transport): its error, with
    /// its own type (downcast it), as the upload's cause. Never retried by the upload itself.
    #[error("{0}")]
    Source(Box<dyn std::error::Error + Send + Sync>),
}

fn describe(status: u16, codes: &[Diagnostic]) -> String {
    if codes.is_empty() {
        let reason = reqwest::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("");
        format!("unexpected status {status} {reason}").trim_end().to_owned()
    } else {
        codes.iter().map(Diagnostic::to_string).collect::<Vec<_>>().join("; ")
    }
}

impl RegistryError {
    /// The HTTP status the registry answered, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            RegistryError::Unauthorized { status, .. } | RegistryError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The distribution error codes of the answer (`DENIED`, `MANIFEST_UNKNOWN`, ...).
    pub fn codes(&self) -> &[Diagnostic] {
        match self {
            RegistryError::Unauthorized { codes, .. } | RegistryError::Status { codes, .. } => codes,
            _ => &[],
        }
    }

    /// True when the same request may succeed later: a dropped or timed-out connection, 408, 429, and 5xx
    /// other than 501 (not implemented) and 505; or a body that says `TOOMANYREQUESTS` or `UNAVAILABLE`.
    pub fn is_retryable(&self) -> bool {
        match self {
            RegistryError::Transport { .. } => true,
            RegistryError::Status { status, codes, .. } => {
                matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
                    || codes.iter().any(|c| c.code == "TOOMANYREQUESTS" || c.code == "UNAVAILABLE")
            }
            _ => false,
        }
    }

    /// An error from reqwest for a request that got no answer; `context` says what was attempted.
    pub fn transport(context: impl Into<String>, e: &reqwest::Error) -> Self {
        RegistryError::Transport { context: context.into(), message: error_chain(e) }
    }

    /// The error for an answer with a status that is not the expected one: 401 and 403 are
    /// [`RegistryError::Unauthorized`] (the message names the request and the registry's codes), any other
    /// is [`RegistryError::Status`].
    pub fn from_status(method: &'static str, url: String, status: u16, codes: Vec<Diagnostic>) -> Self {
        if status == 401 || status == 403 {
            let message = format!("{method} {url}: {}", describe(status, &codes));
            RegistryError::Unauthorized { url, status, codes, message }
        } else {
            RegistryError::Status { method, url, status, codes }
        }
    }
}

/// The error with its causes, one line (reqwest's Display alone hides the TLS reason).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16, body: &str) -> RegistryError {
        RegistryError::Status {
            method: "GET",
            url: "https://r/v2/x".into(),
            status,
            codes: diagnostics(body.as_bytes()),
        }
    }

    #[test]
    fn facts_from_a_distribution_body() {
        let e = status(
            404,
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#,
        );
        assert_eq!(e.status(), Some(404));
        assert_eq!(e.codes(), [Diagnostic { code: "MANIFEST_UNKNOWN".into(), message: "manifest unknown".into() }]);
        assert!(!e.is_retryable());
        assert_eq!(e.to_string(), "GET https://r/v2/x: manifest unknown");
        let denied =
            status(403, r#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#);
        assert_eq!(denied.to_string(), "GET https://r/v2/x: denied: requested access to the resource is denied");
        assert_eq!(
            status(502, "<html>bad gateway</html>").to_string(),
            "GET https://r/v2/x: unexpected status 502 Bad Gateway"
        );
    }

    #[test]
    fn retry_is_decided_by_facts() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(status(s, "").is_retryable(), "{s}");
        }
        for s in [400, 401, 403, 404, 405, 416, 501, 505] {
            assert!(!status(s, "").is_retryable(), "{s}");
        }
        assert!(status(400, r#"{"errors":[{"code":"TOOMANYREQUESTS"}]}"#).is_retryable());
        assert!(RegistryError::Transport { context: "GET x".into(), message: "reset".into() }.is_retryable());
        let denied = RegistryError::Unauthorized { url: "u".into(), status: 401, codes: vec![], message: "m".into() };
        assert!(!denied.is_retryable());
        assert_eq!(denied.status(), Some(401));
    }
}
