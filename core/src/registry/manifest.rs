//! Manifests by tag or digest: fetch (capped at 4 MiB, hashed once), probe, push, delete.
//!
//! The digest of a manifest is the digest of its bytes: fetched by digest, the bytes must hash to it; fetched
//! by tag, the bytes' sha256 is the digest, whatever `Docker-Content-Digest` says.

use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};

use super::body::MAX_MANIFEST_BODY;
use super::request::{Body, Request};
use super::{RegistryClient, RegistryError};
use crate::digest::{Digest, verify};
use crate::image::RawManifest;

/// What a `HEAD` of a manifest tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestHead {
    pub digest: Digest,
    pub media_type: String,
    pub size: u64,
}

/// The `Content-Type`'s media type, without parameters.
pub(super) fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_owned())
        .unwrap_or_default()
}

/// `Docker-Content-Digest`, when present and a digest.
pub(super) fn content_digest(headers: &HeaderMap) -> Option<Digest> {
    headers.get("docker-content-digest").and_then(|v| v.to_str().ok()).and_then(|v| Digest::parse(v.trim()).ok())
}

/// The `Content-Length` header (read from the header: a `HEAD` answer has no body to measure).
pub(super) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(reqwest::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok())
}

impl RegistryClient {
    pub(super) fn manifest_url(&self, repo: &str, reference: &str) -> String {
        format!("{}/v2/{repo}/manifests/{reference}", self.base)
    }

    fn accepting<'a>(req: Request<'a>, accept: &[&str]) -> Result<Request<'a>, RegistryError> {
        if accept.is_empty() { Ok(req) } else { req.header(ACCEPT, &accept.join(", ")) }
    }

    /// The manifest `reference` (a tag or a digest) names in `repo`, asking for the media types in `accept`.
    /// Fetched by digest, its bytes must hash to that digest.
    pub async fn get_manifest(
        &self,
        repo: &str,
        reference: &str,
        accept: &[&str],
    ) -> Result<RawManifest, RegistryError> {
        let url = self.manifest_url(repo, reference);
        let req = Self::accepting(Request::new(Method::GET, url.clone(), pull(repo)), accept)?;
        let (headers, raw) = self.read(req, MAX_MANIFEST_BODY, &format!("reading manifest {url}")).await?;
        let media_type = media_type(&headers);
        let digest = match Digest::parse(reference) {
            Ok(expected) => {
                verify(&raw, &expected, None).map_err(|source| RegistryError::Verify {
                    context: format!("manifest {repo}@{expected} from {}", self.host()),
                    source,
                })?;
                expected
            }
            Err(_) => {
                let digest = Digest::sha256(&raw);
                if let Some(said) = content_digest(&headers).filter(|d| d.algorithm() == "sha256" && *d != digest) {
                    self.log(&format!(
                        "{url}: Docker-Content-Digest says {said} but the manifest's bytes are {digest}; using {digest}"
                    ));
                }
                digest
            }
        };
        Ok(RawManifest { raw, media_type, digest })
    }

    /// The digest, media type and size of the manifest `reference` names; `None` when there is none. A
    /// registry that does not say the digest (or size) is asked for the manifest itself.
    pub async fn head_manifest(
        &self,
        repo: &str,
        reference: &str,
        accept: &[&str],
    ) -> Result<Option<ManifestHead>, RegistryError> {
        let url = self.manifest_url(repo, reference);
        let req = Self::accepting(Request::new(Method::HEAD, url.clone(), pull(repo)), accept)?;
        let resp = match self.send(req).await {
            Ok(r) => r,
            Err(e) if e.status() == Some(404) => return Ok(None),
            Err(e) => return Err(e),
        };
        let headers = resp.headers();
        let size = content_length(headers);
        let said = content_digest(headers);
        let digest = match Digest::parse(reference) {
            Ok(d) => {
                if let Some(said) = said.filter(|s| *s != d) {
                    self.log(&format!("{url}: Docker-Content-Digest says {said}; the reference is {d}"));
                }
                Some(d)
            }
            Err(_) => said,
        };
        if let (Some(digest), Some(size)) = (digest, size) {
            return Ok(Some(ManifestHead { digest, media_type: media_type(headers), size }));
        }
        self.log(&format!("{url}: no digest or size in the HEAD answer; fetching the manifest"));
        match self.get_manifest(repo, reference, accept).await {
            Ok(m) => Ok(Some(ManifestHead { size: m.raw.len() as u64, digest: m.digest, media_type: m.media_type })),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Pushes `raw` as the manifest `reference` (a tag or its digest) of `repo`; returns the sha256 of `raw`.
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        raw: &[u8],
        media_type: &str,
    ) -> Result<Digest, RegistryError> {
        let url = self.manifest_url(repo, reference);
        let digest = Digest::sha256(raw);
        let req = Request::new(Method::PUT, url.clone(), push(repo))
            .header(CONTENT_TYPE, media_type)?
            .body(Body::Bytes(bytes::Bytes::copy_from_slice(raw)));
        let resp = self.send(req).await?;
        if let Some(said) = content_digest(resp.headers()).filter(|d| *d != digest) {
            self.observer.warning(&format!(
                "registry {} stored manifest {repo}:{reference} as {said}, but its bytes are {digest}",
                self.host()
            ));
        }
        Ok(digest)
    }

    /// Deletes the manifest `digest` of `repo` (and with it every tag that names it).
    pub async fn delete_manifest(&self, repo: &str, digest: &Digest) -> Result<(), RegistryError> {
        let url = self.manifest_url(repo, &digest.to_string());
        self.send(Request::new(Method::DELETE, url, delete(repo))).await.map(drop)
    }
}

/// The scopes to read `repo`.
pub(super) fn pull(repo: &str) -> std::collections::BTreeSet<String> {
    [format!("repository:{repo}:pull")].into()
}

/// The scopes to write `repo` (distribution's token servers grant push with pull).
pub(super) fn push(repo: &str) -> std::collections::BTreeSet<String> {
    [format!("repository:{repo}:pull,push")].into()
}

/// The scopes to delete from `repo` (distribution asks for `delete`).
pub(super) fn delete(repo: &str) -> std::collections::BTreeSet<String> {
    [format!("repository:{repo}:delete")].into()
}
