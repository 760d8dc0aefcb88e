//! Lookaside signature stores (containers/image's `docs/signature-protocols.md`): the signatures of manifest
//! `sha256:HEX` of a repository are `BASE/REPO@sha256=HEX/signature-1`, `signature-2`, ... up to the first
//! missing one, each a signature blob ([`super::from_blob`]).
//!
//! - Read over `file://` (a missing file ends the list) and `http(s)://` (a 404 ends it): each signature at
//!   most [`super::MAX_SIGNATURE_SIZE`], at most [`super::MAX_SIGNATURES`] of them, each request (headers and
//!   body) within the timeout. A lookaside server is not the registry: no credentials are ever sent to it,
//!   redirects never go from HTTPS to plain HTTP.
//! - Written over `file://` only (containers/image refuses HTTP: "Configure a lookaside-staging: location"):
//!   each file through a temp file, fsynced and renamed; [`write`] then removes the stale `signature-N` after
//!   the new ones, [`append`] adds after the existing ones.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::Url;

use super::{Budget, MAX_SIGNATURE_SIZE, StorageError, digest_parts, from_blob, to_blob};
use crate::digest::Digest;
use crate::registry::{Endpoint, tls};
use crate::trust::Signature;

/// The URL of signature `index` (0-based; the file is `signature-{index+1}`) of `digest` under `base` (a
/// repository's lookaside URL, [`super::RegistriesD::lookaside`]).
pub fn signature_url(base: &Url, digest: &Digest, index: usize) -> Result<Url, StorageError> {
    let (alg, hex) = digest_parts(digest)?;
    let mut url = base.clone();
    let path = format!("{}@{alg}={hex}/signature-{}", base.path(), index + 1);
    url.set_path(&path);
    Ok(url)
}

/// A URL as messages show it: no user information, query or fragment (they may carry secrets).
pub fn redacted(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

/// The file a `file://` URL names.
fn file_path(url: &Url) -> Result<PathBuf, StorageError> {
    url.to_file_path().map_err(|()| StorageError::Url(format!("{} does not name a local file", redacted(url))))
}

/// Reads the signatures of `digest` from the lookaside `base`, counting them against `budget`. `timeout`
/// bounds each HTTP request (connecting, the answer, its body); `None` waits for ever.
pub async fn read(
    base: &Url,
    digest: &Digest,
    timeout: Option<Duration>,
    budget: &mut Budget,
) -> Result<Vec<Signature>, StorageError> {
    let mut out = Vec::new();
    let mut client = None;
    for index in 0.. {
        let url = signature_url(base, digest, index)?;
        let blob = match url.scheme() {
            "file" => {
                let path = file_path(&url)?;
                tokio::task::spawn_blocking(move || {
                    super::read_file_capped(&path, MAX_SIGNATURE_SIZE, "reading signature")
                })
                .await
                .map_err(|e| StorageError::Url(format!("reading {}: {e}", redacted(&url))))??
            }
            "http" | "https" => {
                if client.is_none() {
                    client = Some(http_client(&url, timeout)?);
                }
                get(client.as_ref().expect("made above"), &url, timeout).await?
            }
            _ => {
                return Err(StorageError::Url(format!(
                    "Unsupported scheme when reading signature from {}",
                    redacted(&url)
                )));
            }
        };
        let Some(blob) = blob else { break };
        budget.take(blob.len())?;
        out.push(from_blob(&blob, &redacted(&url))?);
    }
    Ok(out)
}

/// A client for a lookaside server: system roots (and `certs.d` of its host), the timeout, no credentials.
fn http_client(url: &Url, timeout: Option<Duration>) -> Result<reqwest::Client, StorageError> {
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        (None, _) => return Err(StorageError::Url(format!("{} has no host", redacted(url)))),
    };
    let endpoint = Endpoint {
        cert_dirs: Endpoint::default_cert_dirs(&host, None),
        host,
        tls_verify: true,
        allow_http: false,
        insecure_hosts: Vec::new(),
        timeout,
    };
    tls::build_client(&endpoint).map_err(|e| StorageError::Url(e.to_string()))
}

/// One signature over HTTP: `None` on 404; within `timeout` as a whole.
async fn get(client: &reqwest::Client, url: &Url, timeout: Option<Duration>) -> Result<Option<Vec<u8>>, StorageError> {
    let shown = redacted(url);
    let fail = |message: String| StorageError::Http { url: shown.clone(), message };
    let fetch = async {
        let resp = client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| fail(crate::registry::error::error_chain(&e.without_url())))?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if status != reqwest::StatusCode::OK {
            return Err(fail(format!("unexpected status {status}")));
        }
        match crate::registry::body::read_limited(resp, MAX_SIGNATURE_SIZE).await {
            Ok(b) => Ok(Some(b)),
            Err(crate::registry::body::BodyError::TooLarge { limit }) => {
                Err(fail(format!("the signature is larger than the {limit}-byte limit")))
            }
            Err(crate::registry::body::BodyError::Transport(e)) => {
                Err(fail(crate::registry::error::error_chain(&e.without_url())))
            }
        }
    };
    match timeout {
        Some(after) => tokio::time::timeout(after, fetch)
            .await
            .map_err(|_| fail(format!("no whole answer within {} s", after.as_secs())))?,
        None => fetch.await,
    }
}

/// The local file of a lookaside URL for writing; HTTP is refused in containers/image's words.
fn writable(url: &Url) -> Result<PathBuf, StorageError> {
    match url.scheme() {
        "file" => file_path(url),
        "http" | "https" => Err(StorageError::Url(format!(
            "Writing directly to a {} lookaside {} is not supported. Configure a lookaside-staging: location",
            url.scheme(),
            redacted(url)
        ))),
        _ => Err(StorageError::Url(format!("Unsupported scheme when writing signature to {}", redacted(url)))),
    }
}

/// Writes `signatures` as the signatures of `digest` under `base` (`signature-1` ...), then removes the
/// `signature-N` that follow (up to the first missing one), as containers/image does. Nothing is done for no
/// signatures. Blocking.
pub fn write(base: &Url, digest: &Digest, signatures: &[Signature]) -> Result<(), StorageError> {
    if signatures.is_empty() {
        return Ok(());
    }
    for (i, s) in signatures.iter().enumerate() {
        super::write_file_atomic(&writable(&signature_url(base, digest, i)?)?, &to_blob(s))?;
    }
    for i in signatures.len()..signatures.len() + super::MAX_SIGNATURES {
        if !super::remove_file(&writable(&signature_url(base, digest, i)?)?)? {
            break;
        }
    }
    Ok(())
}

/// Removes the signatures of `digest` under `base` (`signature-1`, `signature-2`, ... up to the first missing
/// one), as containers/image does when an image is deleted; how many were removed. Only a `file://` base can
/// be written ([`StorageError::Url`] otherwise). Blocking.
pub fn remove(base: &Url, digest: &Digest) -> Result<usize, StorageError> {
    let mut removed = 0;
    while removed < super::MAX_SIGNATURES {
        if !super::remove_file(&writable(&signature_url(base, digest, removed)?)?)? {
            break;
        }
        removed += 1;
    }
    Ok(removed)
}

/// Adds `signatures` after the signatures of `digest` already under `base` (podman's `image sign`), skipping
/// any that is there already. Blocking.
pub fn append(base: &Url, digest: &Digest, signatures: &[Signature]) -> Result<(), StorageError> {
    let mut existing = Vec::new();
    let mut next = 0;
    loop {
        let path = writable(&signature_url(base, digest, next)?)?;
        let Some(blob) = super::read_file_capped(&path, MAX_SIGNATURE_SIZE, "reading signature")? else { break };
        existing.push(blob);
        next += 1;
        if next >= super::MAX_SIGNATURES {
            return Err(StorageError::Limit {
                what: redacted(base),
                message: format!("more than {} signatures already", super::MAX_SIGNATURES),
            });
        }
    }
    for s in signatures {
        let blob = to_blob(s);
        if existing.contains(&blob) {
            continue;
        }
        super::write_file_atomic(&writable(&signature_url(base, digest, next)?)?, &blob)?;
        existing.push(blob);
        next += 1;
    }
    Ok(())
}
