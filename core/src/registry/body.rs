//! Reading an answer's body into memory, never more than a stated limit: token responses, error bodies,
//! manifests and tag lists are untrusted, and a server that streams forever must end with a
//! clear error, not with all of memory.

use super::RegistryError;

/// The largest token-service answer read (skopeo stops at 1 MiB too).
pub const MAX_TOKEN_BODY: usize = 1024 * 1024;

/// The largest manifest (and tag-list page) read: distribution refuses manifests over 4 MiB.
pub const MAX_MANIFEST_BODY: usize = 4 * 1024 * 1024;

/// Why a body could not be read whole.
pub enum BodyError {
    /// More than `limit` bytes (by `Content-Length` or as they arrived).
    TooLarge { limit: usize },
    /// The connection failed while reading.
    Transport(reqwest::Error),
}

/// The body of `resp`, up to `limit` bytes; a longer body is refused as soon as that is known.
pub async fn read_limited(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, BodyError> {
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Transport)? {
        if out.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge { limit });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The start of an error body, for its distribution error codes; what does not fit or fails to arrive is
/// ignored (the status alone still says what happened).
pub async fn error_body(resp: reqwest::Response) -> Vec<u8> {
    let mut resp = resp;
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = super::error::MAX_ERROR_BODY - out.len();
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= super::error::MAX_ERROR_BODY {
            break;
        }
    }
    out
}

impl BodyError {
    /// The registry error for a body read in `context` (`reading the answer of token service URL`).
    pub fn into_registry_error(self, context: &str) -> RegistryError {
        match self {
            BodyError::TooLarge { limit } => {
                RegistryError::Protocol(format!("{context}: the answer is larger than the {limit}-byte limit"))
            }
            // The context names the URL; reqwest's own may be a redirect target with signed parameters.
            BodyError::Transport(e) => RegistryError::transport(context.to_owned(), &e.without_url()),
        }
    }
}
