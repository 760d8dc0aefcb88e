//! Blobs: their size, their bytes as a verified and resumable stream, mounts from another repository, deletion.
//! Uploads are in `upload`.
//!
//! A blob's bytes are never held whole: [`RegistryClient::get_blob`] yields them as they arrive, hashing
//! them on the way, and keeps back the last piece until the digest (and size) is known to match — a blob that
//! is not what it was named by ends with an error instead. A connection that breaks (or a body that ends
//! early) is resumed with `Range: bytes=N-` from where it stopped, up to [`MAX_RESUMES`] times.

use std::collections::BTreeSet;

use bytes::Bytes;
use reqwest::header::{CONTENT_RANGE, LOCATION, RANGE};
use reqwest::{Method, StatusCode};

use super::manifest::{content_length, delete, pull, push};
use super::request::Request;
use super::{RegistryClient, RegistryError};
use crate::digest::{Digest, Verifier, VerifyError};
use crate::stream::ByteStream;

/// How many times one blob read is resumed after its connection broke.
pub const MAX_RESUMES: u32 = 3;

impl RegistryClient {
    pub(super) fn blob_url(&self, repo: &str, digest: &Digest) -> String {
        format!("{}/v2/{repo}/blobs/{digest}", self.base)
    }

    /// The size of blob `digest` in `repo`, `None` when the registry does not have it there.
    pub async fn blob_size(&self, repo: &str, digest: &Digest) -> Result<Option<u64>, RegistryError> {
        let url = self.blob_url(repo, digest);
        let resp = match self.send(Request::new(Method::HEAD, url.clone(), pull(repo))).await {
            Ok(r) => r,
            Err(e) if e.status() == Some(404) => return Ok(None),
            Err(e) => return Err(e),
        };
        content_length(resp.headers())
            .map(Some)
            .ok_or_else(|| RegistryError::Protocol(format!("HEAD {url}: the answer has no Content-Length")))
    }

    /// The bytes of blob `digest` in `repo` as they arrive, checked against the digest and, when given, the
    /// size; the stream ends with an error item instead of its last piece when they do not match.
    pub async fn get_blob(
        &self,
        repo: &str,
        digest: &Digest,
        size: Option<u64>,
    ) -> Result<ByteStream<RegistryError>, RegistryError> {
        let url = self.blob_url(repo, digest);
        let resp = self.send(Request::new(Method::GET, url.clone(), pull(repo))).await?;
        let read = BlobRead {
            client: self.clone(),
            url,
            scopes: pull(repo),
            verifier: Some(Verifier::new(digest, size)),
            size,
            resp: Some(resp),
            pending: None,
            skip: 0,
            resumes: 0,
        };
        Ok(Box::pin(futures_util::stream::unfold(read, BlobRead::next)))
    }

    /// Deletes blob `digest` from `repo`.
    pub async fn delete_blob(&self, repo: &str, digest: &Digest) -> Result<(), RegistryError> {
        let url = self.blob_url(repo, digest);
        self.send(Request::new(Method::DELETE, url, delete(repo))).await.map(drop)
    }

    /// Asks the registry to link blob `digest` of repository `from` into `repo` without sending it: true when
    /// it did (201); false when it did not (202: an upload session, cancelled here; or an error answer), and
    /// the caller uploads.
    pub async fn mount_blob(&self, repo: &str, digest: &Digest, from: &str) -> Result<bool, RegistryError> {
        let url = format!("{}/v2/{repo}/blobs/uploads/?mount={digest}&from={from}", self.base);
        let mut scopes = push(repo);
        scopes.extend(pull(from));
        let resp = match self.send(Request::new(Method::POST, url.clone(), scopes.clone()).expect(&[201, 202])).await {
            Ok(r) => r,
            Err(e) if e.status().is_some() => {
                self.log(&format!("mounting {digest} from {from} into {repo}: {e}; it will be uploaded"));
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        if resp.status() == StatusCode::CREATED {
            return Ok(true);
        }
        if resp.headers().contains_key(LOCATION)
            && let Ok(location) = self.location(&resp)
        {
            self.cancel_upload(&location, &scopes).await;
        }
        Ok(false)
    }

    /// Cancels an upload session, best effort (one try; failures only logged).
    pub(super) async fn cancel_upload(&self, location: &str, scopes: &BTreeSet<String>) {
        let req = Request::new(Method::DELETE, location.to_owned(), scopes.clone()).once();
        if let Err(e) = self.send(req).await {
            self.log(&format!("cancelling upload {location}: {e}"));
        }
    }
}

/// The state of one blob read, between the pieces it yields.
struct BlobRead {
    client: RegistryClient,
    url: String,
    scopes: BTreeSet<String>,
    size: Option<u64>,
    /// Hashes exactly the bytes yielded or pending (a prefix of the blob); `None` once done.
    verifier: Option<Verifier>,
    resp: Option<reqwest::Response>,
    /// The last piece read, yielded once the next arrives, or at the end when the digest matches.
    pending: Option<Bytes>,
    /// Bytes of a resumed answer to drop: a server that ignored `Range` sends the blob from its start.
    skip: u64,
    resumes: u32,
}

/// Where a resumed read stands.
enum Resumed {
    Reading,
    /// The registry has nothing after the bytes already read (416): the blob ended where the read broke.
    AtEnd,
}

impl BlobRead {
    async fn next(mut self) -> Option<(Result<Bytes, RegistryError>, BlobRead)> {
        let item = self.step().await?;
        Some((item, self))
    }

    /// The next item; `None` ends the stream.
    async fn step(&mut self) -> Option<Result<Bytes, RegistryError>> {
        loop {
            let resp = self.resp.as_mut()?;
            let why = match resp.chunk().await {
                Ok(Some(mut chunk)) => {
                    if self.skip > 0 {
                        let n = self.skip.min(chunk.len() as u64);
                        chunk = chunk.slice(n as usize..);
                        self.skip -= n;
                        if chunk.is_empty() {
                            continue;
                        }
                    }
                    let verifier = self.verifier.as_mut()?;
                    if let Err(e) = verifier.update(&chunk) {
                        return Some(Err(self.stop(self.verify_error(e))));
                    }
                    match self.pending.replace(chunk) {
                        Some(previous) => return Some(Ok(previous)),
                        None => continue,
                    }
                }
                Ok(None) => {
                    let have = self.verifier.as_ref().map_or(0, Verifier::len);
                    if self.skip == 0 && self.size.is_none_or(|s| have >= s) {
                        return self.finish();
                    }
                    // The body ended early without an error: resume as after a broken connection.
                    format!("the answer ended after {have} bytes")
                }
                Err(e) => RegistryError::transport(format!("GET {}", self.url), &e.without_url()).to_string(),
            };
            match self.resume(why).await {
                Ok(Resumed::Reading) => continue,
                Ok(Resumed::AtEnd) => return self.finish(),
                Err(e) => return Some(Err(self.stop(e))),
            }
        }
    }

    /// Requests the rest of the blob, from the first byte not yet read.
    async fn resume(&mut self, why: String) -> Result<Resumed, RegistryError> {
        self.resp = None;
        let have = self.verifier.as_ref().map_or(0, Verifier::len);
        if self.resumes >= MAX_RESUMES {
            return Err(RegistryError::Transport {
                context: format!("GET {}", self.url),
                message: format!("{why}; gave up after {MAX_RESUMES} resumed reads"),
            });
        }
        self.resumes += 1;
        self.client.log(&format!("GET {}: {why}; resuming at byte {have}", self.url));
        let req = Request::new(Method::GET, self.url.clone(), self.scopes.clone())
            .header(RANGE, &format!("bytes={have}-"))?
            .expect(&[200, 206, 416]);
        let resp = self.client.send(req).await?;
        match resp.status() {
            StatusCode::PARTIAL_CONTENT => {
                let range = resp.headers().get(CONTENT_RANGE).and_then(|v| v.to_str().ok()).unwrap_or("");
                let start = range.strip_prefix("bytes ").and_then(|r| r.split('-').next()).and_then(|s| s.parse().ok());
                if start != Some(have) {
                    return Err(RegistryError::Protocol(format!(
                        "GET {}: asked for the bytes from {have} on, got Content-Range {range:?}",
                        self.url
                    )));
                }
                self.skip = 0;
            }
            // The registry (or its storage) ignored Range and sends the whole blob again: the bytes already
            // yielded are dropped from it, so the digest is checked over exactly the bytes yielded.
            StatusCode::OK => self.skip = have,
            _ => return Ok(Resumed::AtEnd),
        }
        self.resp = Some(resp);
        Ok(Resumed::Reading)
    }

    /// The end: the digest and size decide whether the last piece is yielded, or an error instead.
    fn finish(&mut self) -> Option<Result<Bytes, RegistryError>> {
        self.resp = None;
        let verifier = self.verifier.take()?;
        match verifier.finish() {
            Ok(()) => self.pending.take().map(Ok),
            Err(e) => Some(Err(self.stop(self.verify_error(e)))),
        }
    }

    /// Ends the stream with `err`: nothing more is yielded.
    fn stop(&mut self, err: RegistryError) -> RegistryError {
        self.pending = None;
        self.verifier = None;
        self.resp = None;
        err
    }

    fn verify_error(&self, source: VerifyError) -> RegistryError {
        RegistryError::Verify { context: format!("blob from {}", self.url), source }
    }
}
