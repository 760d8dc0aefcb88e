//! [`RawManifest`]: a manifest as bytes with its media type and digest — what a registry sent, an archive or
//! the store holds, or a build made. The one type for it: the registry client returns it, the transports and
//! the copy engine pass it on unchanged, so digests never change in a copy.

use super::Descriptor;
use crate::digest::Digest;

/// A manifest exactly as it was fetched or will be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawManifest {
    /// The bytes, exactly as sent or stored (the digest is theirs).
    pub raw: Vec<u8>,
    /// Its media type (for a registry's answer, the `Content-Type` without parameters; empty when it sent none).
    pub media_type: String,
    /// The digest of `raw`: the reference's when fetched by digest, else sha256.
    pub digest: Digest,
}

impl RawManifest {
    /// A manifest made or read locally: its digest is computed here.
    pub fn new(raw: Vec<u8>, media_type: impl Into<String>) -> RawManifest {
        let digest = Digest::sha256(&raw);
        RawManifest { raw, media_type: media_type.into(), digest }
    }

    /// The descriptor that points at this manifest.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: self.media_type.clone(),
            digest: self.digest.clone(),
            size: self.raw.len() as u64,
            urls: Vec::new(),
            annotations: None,
            platform: None,
            artifact_type: None,
        }
    }
}
