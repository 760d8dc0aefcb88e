//! Blob uploads, as the distribution spec describes them: `POST` opens a session; a small blob (up to
//! [`MONOLITHIC_MAX`]) goes in the closing `PUT ?digest=` itself; a larger one in one streamed `PATCH` (or in
//! `PATCH`es of at least `OCI-Chunk-Min-Length` bytes when the registry asks for that), then `PUT ?digest=`
//! closes it. A registry that refuses `PATCH` gets the bytes in that `PUT` instead.
//!
//! A blob whose digest and size are known only once its bytes are all made (a layer recompressed on the way:
//! [`RegistryClient::upload_made_blob`]) is streamed in a `PATCH` of unknown length as it is produced, hashed
//! on the way, and closed by `PUT ?digest=` with the digest computed, so making and sending overlap.
//!
//! Each answer's `Location` (relative or absolute, perhaps with a query of its own) names the next step; the
//! origin rule (`origin`) applies: never to plain HTTP from a TLS registry, and without credentials to
//! another origin, as go-containerregistry follows a Location to a storage backend. A
//! session whose body failed part way is abandoned (cancelled, best effort) and a new one started, with the
//! bytes opened again: a repeated `PATCH` to the old session could append to what it already got.

use std::collections::BTreeSet;

use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use reqwest::header::{CONTENT_RANGE, CONTENT_TYPE, HeaderValue, LOCATION};
use reqwest::{Method, StatusCode};

use super::manifest::push;
use super::origin;
use super::request::{Body, OpenBody, Request};
use super::{RegistryClient, RegistryError};
use crate::digest::{Digest, Hasher};
use crate::stream::ByteStream;

/// What a made blob's stream was, once it ended: its digest and size (`None` while it has not ended).
type MadeSlot = Arc<Mutex<Option<(Digest, u64)>>>;

/// Chunks are never smaller than this, whatever minimum the registry asks for (fewer requests).
const MIN_CHUNK: u64 = 1024 * 1024;

/// A registry asking for chunks larger than this gets the whole blob in one `PATCH` (one chunk is always
/// allowed) rather than having that much held in memory.
const MAX_CHUNK: u64 = 64 * 1024 * 1024;

/// Blobs up to this size go in the closing `PUT` itself (a monolithic upload, which the distribution spec
/// requires registries to take): one request fewer per blob than `PATCH` then `PUT`, which counts when an
/// image has many small layers. Larger ones are streamed with `PATCH`, so a registry that keeps partial
/// uploads has them.
pub(super) const MONOLITHIC_MAX: u64 = 8 * 1024 * 1024;

/// Statuses by which a registry says it does not take `PATCH`.
const PATCH_REFUSED: [u16; 2] = [405, 501];

/// How the body of one session failed.
struct Failed {
    error: RegistryError,
    /// The session was abandoned with part of the body sent: a new session may succeed.
    restart: bool,
}

/// How sending the body with `PATCH` failed.
struct PatchFailed {
    error: RegistryError,
    /// The session's `Location` when it failed.
    at: String,
    /// The first `PATCH` failed: nothing reached the session.
    first: bool,
}

const OCTET_STREAM: HeaderValue = HeaderValue::from_static("application/octet-stream");

impl RegistryClient {
    /// The absolute URL an answer's `Location` names (relative to the request's URL), checked by the origin
    /// rule: no plain-HTTP URL from a TLS registry; another origin (a storage backend) gets no credentials.
    /// POSTs `url` to open an upload session: where to send the bytes (its `Location`, checked as every
    /// URL a registry hands back) and the smallest chunk the registry takes (`OCI-Chunk-Min-Length`).
    async fn start_upload(
        &self,
        url: &str,
        scopes: &std::collections::BTreeSet<String>,
    ) -> Result<(String, Option<u64>), RegistryError> {
        let start = self.send(Request::new(Method::POST, url.to_owned(), scopes.clone())).await?;
        let location = self.location(&start)?;
        let min_chunk = start
            .headers()
            .get("oci-chunk-min-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        Ok((location, min_chunk))
    }

    pub(super) fn location(&self, resp: &reqwest::Response) -> Result<String, RegistryError> {
        let loc = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()).map(str::trim).unwrap_or("");
        if loc.is_empty() {
            return Err(RegistryError::Protocol(format!("{}: the answer has no Location", resp.url())));
        }
        let next = origin::follow(&self.base, resp.url().as_str(), loc, "upload Location")?;
        if !next.credentials {
            self.log(&format!("the upload Location leads to {}: no credentials go there", next.url));
        }
        Ok(next.url)
    }

    /// Uploads blob `digest` of `size` bytes to `repo`; `open` gives its bytes, again for each new try (the
    /// future may borrow; the stream it yields is owned).
    pub async fn upload_blob<'f>(
        &self,
        repo: &str,
        digest: &Digest,
        size: u64,
        open: &(dyn Fn() -> BoxFuture<'f, Result<ByteStream<RegistryError>, RegistryError>> + Send + Sync),
    ) -> Result<(), RegistryError> {
        // One lifetime for the opener and its futures, as the request path holds it.
        let reopen = || open();
        let open: &OpenBody<'_> = &reopen;
        let scopes = push(repo);
        let url = format!("{}/v2/{repo}/blobs/uploads/", self.base);
        let mut attempt = 0u32;
        loop {
            let (location, min_chunk) = self.start_upload(&url, &scopes).await?;
            match self.upload_session(location, &scopes, digest, size, open, min_chunk).await {
                Ok(()) => return Ok(()),
                Err(f) if f.restart && f.error.is_retryable() && attempt + 1 < self.retry.attempts => {
                    self.log(&format!("uploading {digest} to {repo}: {}; starting a new upload", f.error));
                    tokio::time::sleep(self.retry.backoff(attempt)).await;
                    attempt += 1;
                }
                Err(f) => return Err(f.error),
            }
        }
    }

    /// The body and the closing `PUT` of one upload session.
    async fn upload_session<'a>(
        &self,
        location: String,
        scopes: &BTreeSet<String>,
        digest: &Digest,
        size: u64,
        open: &'a OpenBody<'a>,
        min_chunk: Option<u64>,
    ) -> Result<(), Failed> {
        if min_chunk.is_none() && size <= MONOLITHIC_MAX {
            return self.put_whole(&location, scopes, digest, size, open).await;
        }
        let patched = match min_chunk.filter(|&m| m <= MAX_CHUNK) {
            Some(m) => self.patch_chunks(&location, scopes, Some(size), open, m.max(MIN_CHUNK) as usize).await,
            None => self.patch_whole(&location, scopes, Some(size), open).await.map_err(|error| PatchFailed {
                error,
                at: location.clone(),
                first: true,
            }),
        };
        let location = match patched {
            Ok(next) => next,
            Err(PatchFailed { error, first: true, .. })
                if error.status().is_some_and(|s| PATCH_REFUSED.contains(&s)) =>
            {
                self.log(&format!("{location}: PATCH refused ({error}); sending the blob in one PUT"));
                return self.put_whole(&location, scopes, digest, size, open).await;
            }
            Err(PatchFailed { error, at, .. }) => {
                self.cancel_upload(&at, scopes).await;
                return Err(Failed { error, restart: true });
            }
        };
        let req =
            Request::new(Method::PUT, with_digest(&location, digest), scopes.clone()).body(Body::Bytes(Bytes::new()));
        match self.send(req).await {
            Ok(resp) if resp.status() != StatusCode::CREATED => {
                self.log(&format!("{location}: closing the upload answered {}, not 201", resp.status().as_u16()));
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(error) => Err(Failed { error, restart: false }),
        }
    }

    /// The whole body in the closing `PUT` (a monolithic upload).
    async fn put_whole<'a>(
        &self,
        location: &str,
        scopes: &BTreeSet<String>,
        digest: &Digest,
        size: u64,
        open: &'a OpenBody<'a>,
    ) -> Result<(), Failed> {
        let req = Request::new(Method::PUT, with_digest(location, digest), scopes.clone())
            .header_value(CONTENT_TYPE, OCTET_STREAM)
            .body(Body::Stream { open, len: Some(size) })
            .once();
        match self.send(req).await {
            Ok(_) => Ok(()),
            Err(error) => {
                self.cancel_upload(location, scopes).await;
                Err(Failed { error, restart: true })
            }
        }
    }

    /// The whole body in one streamed `PATCH` (of `size` bytes, or of a length known only at its end: sent
    /// chunked); returns the next `Location`.
    async fn patch_whole<'a>(
        &self,
        location: &str,
        scopes: &BTreeSet<String>,
        size: Option<u64>,
        open: &'a OpenBody<'a>,
    ) -> Result<String, RegistryError> {
        let req = Request::new(Method::PATCH, location.to_owned(), scopes.clone())
            .header_value(CONTENT_TYPE, OCTET_STREAM)
            .body(Body::Stream { open, len: size })
            .once();
        let resp = self.send(req).await?;
        self.location(&resp)
    }

    /// The body in `PATCH`es of `chunk` bytes (the last one shorter); returns the last `Location`. `size`: the
    /// bytes the body must have, when known.
    async fn patch_chunks<'a>(
        &self,
        location: &str,
        scopes: &BTreeSet<String>,
        size: Option<u64>,
        open: &'a OpenBody<'a>,
        chunk: usize,
    ) -> Result<String, PatchFailed> {
        let mut at = location.to_owned();
        let fail = |error, at: &str, first| PatchFailed { error, at: at.to_owned(), first };
        let mut stream = open().await.map_err(|e| fail(e, &at, false))?;
        let mut buf = BytesMut::new();
        let mut offset = 0u64;
        let mut ended = false;
        while !ended {
            match stream.next().await {
                Some(Ok(b)) => buf.extend_from_slice(&b),
                Some(Err(e)) => return Err(fail(e, &at, false)),
                None => ended = true,
            }
            let have = offset + buf.len() as u64;
            if let Some(size) = size.filter(|&s| have > s || (ended && have != s)) {
                let e = RegistryError::Protocol(format!("the blob to upload has {have} bytes or more, not {size}"));
                return Err(fail(e, &at, false));
            }
            while buf.len() >= chunk || (ended && !buf.is_empty()) {
                let part = buf.split_to(buf.len().min(chunk)).freeze();
                let end = offset + part.len() as u64 - 1;
                let range = HeaderValue::from_str(&format!("{offset}-{end}")).expect("digits and a dash");
                let req = Request::new(Method::PATCH, at.clone(), scopes.clone())
                    .header_value(CONTENT_TYPE, OCTET_STREAM)
                    .header_value(CONTENT_RANGE, range)
                    .body(Body::Bytes(part))
                    .once();
                let resp = self.send(req).await.map_err(|e| fail(e, &at, offset == 0))?;
                at = self.location(&resp).map_err(|e| fail(e, &at, false))?;
                offset = end + 1;
            }
        }
        Ok(at)
    }

    /// Uploads to `repo` a blob whose digest and size are known only once `open`'s stream has ended (a layer
    /// recompressed on the way): a session, the bytes in a `PATCH` of unknown length as they are produced (in
    /// `PATCH`es of the registry's minimum chunk when it asks for one), hashed on the way, then `PUT ?digest=`
    /// with the digest computed; the digest and size sent. A session that fails part way is abandoned and a
    /// new one started with the bytes opened again (made again from their source), as
    /// [`RegistryClient::upload_blob`] does. `None` when the registry refuses `PATCH` (405, 501) on the first
    /// one: a monolithic `PUT` needs the digest first, so the caller has to make the whole blob before sending
    /// it.
    pub async fn upload_made_blob<'f>(
        &self,
        repo: &str,
        open: &(dyn Fn() -> BoxFuture<'f, Result<ByteStream<RegistryError>, RegistryError>> + Send + Sync),
    ) -> Result<Option<(Digest, u64)>, RegistryError> {
        let made = MadeSlot::default();
        let hashed = || {
            let (opening, made) = (open(), made.clone());
            let opened: BoxFuture<'f, Result<ByteStream<RegistryError>, RegistryError>> = Box::pin(async move {
                let stream = opening.await?;
                *made.lock().unwrap_or_else(|p| p.into_inner()) = None;
                Ok(hash_to_end(stream, made))
            });
            opened
        };
        let open: &OpenBody<'_> = &hashed;
        let scopes = push(repo);
        let url = format!("{}/v2/{repo}/blobs/uploads/", self.base);
        let mut attempt = 0u32;
        loop {
            let (location, min_chunk) = self.start_upload(&url, &scopes).await?;
            let patched = match min_chunk.filter(|&m| m <= MAX_CHUNK) {
                Some(m) => self.patch_chunks(&location, &scopes, None, open, m.max(MIN_CHUNK) as usize).await,
                None => self.patch_whole(&location, &scopes, None, open).await.map_err(|error| PatchFailed {
                    error,
                    at: location.clone(),
                    first: true,
                }),
            };
            let failed = match patched {
                Ok(next) => {
                    let Some((digest, size)) = made.lock().unwrap_or_else(|p| p.into_inner()).take() else {
                        // reqwest returned an answer before the body ended: the session holds part of it.
                        self.cancel_upload(&next, &scopes).await;
                        return Err(RegistryError::Protocol(format!(
                            "{location}: the registry answered before the whole blob was sent"
                        )));
                    };
                    let req = Request::new(Method::PUT, with_digest(&next, &digest), scopes.clone())
                        .body(Body::Bytes(Bytes::new()));
                    let resp = self.send(req).await?;
                    if resp.status() != StatusCode::CREATED {
                        self.log(&format!("{next}: closing the upload answered {}, not 201", resp.status().as_u16()));
                    }
                    return Ok(Some((digest, size)));
                }
                Err(PatchFailed { error, first: true, .. })
                    if error.status().is_some_and(|s| PATCH_REFUSED.contains(&s)) =>
                {
                    self.log(&format!("{location}: PATCH refused ({error}); the blob is made whole first"));
                    self.cancel_upload(&location, &scopes).await;
                    return Ok(None);
                }
                Err(PatchFailed { error, at, .. }) => {
                    self.cancel_upload(&at, &scopes).await;
                    error
                }
            };
            if !(failed.is_retryable() && attempt + 1 < self.retry.attempts) {
                return Err(failed);
            }
            self.log(&format!("uploading a blob to {repo}: {failed}; starting a new upload"));
            tokio::time::sleep(self.retry.backoff(attempt)).await;
            attempt += 1;
        }
    }
}

/// `stream` as it is, hashed: when it ends (without an error), its digest and size go to `made`.
fn hash_to_end(stream: ByteStream<RegistryError>, made: MadeSlot) -> ByteStream<RegistryError> {
    let state = (stream, Some(Hasher::sha256()), made);
    Box::pin(futures_util::stream::unfold(state, |(mut stream, mut hasher, made)| async move {
        match stream.next().await {
            Some(Ok(bytes)) => {
                if let Some(h) = hasher.as_mut() {
                    h.update(&bytes);
                }
                Some((Ok(bytes), (stream, hasher, made)))
            }
            // A failed stream never completes a blob.
            Some(Err(e)) => Some((Err(e), (stream, None, made))),
            None => {
                if let Some(h) = hasher.take() {
                    let size = h.len();
                    *made.lock().unwrap_or_else(|p| p.into_inner()) = Some((h.finish(), size));
                }
                None
            }
        }
    }))
}

/// `location` with `digest=D` added to its query.
fn with_digest(location: &str, digest: &Digest) -> String {
    let sep = if !location.contains('?') {
        "?"
    } else if location.ends_with('?') || location.ends_with('&') {
        ""
    } else {
        "&"
    };
    format!("{location}{sep}digest={digest}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_joins_the_query() {
        let d = Digest::sha256(b"");
        assert_eq!(
            with_digest("https://r/v2/a/blobs/uploads/u", &d),
            format!("https://r/v2/a/blobs/uploads/u?digest={d}")
        );
        assert_eq!(
            with_digest("https://r/v2/a/blobs/uploads/u?_state=x", &d),
            format!("https://r/v2/a/blobs/uploads/u?_state=x&digest={d}")
        );
        assert_eq!(with_digest("/u?", &d), format!("/u?digest={d}"));
    }
}
