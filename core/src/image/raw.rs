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

    /// podman's image ID for this manifest: an image manifest's config digest; an index's (or anything
    /// else's) own digest. The one place the rule lives (the store's `images`/`rmi`, `load`'s report).
    pub fn image_id(&self) -> Digest {
        match super::Manifest::parse(&self.raw, Some(&self.media_type)) {
            Ok(super::Manifest::Image(m)) => m.config.digest,
            _ => self.digest.clone(),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_id_is_the_config_digest_of_an_image_and_the_own_digest_of_an_index() {
        let config = Digest::sha256(b"{}");
        let image = RawManifest::new(
            format!(
                r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":2}},"layers":[]}}"#
            )
            .into_bytes(),
            "application/vnd.oci.image.manifest.v1+json",
        );
        assert_eq!(image.image_id(), config);
        let index = RawManifest::new(
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#.to_vec(),
            "application/vnd.oci.image.index.v1+json",
        );
        assert_eq!(index.image_id(), index.digest);
        let garbage = RawManifest::new(b"not json".to_vec(), "application/vnd.oci.image.manifest.v1+json");
        assert_eq!(garbage.image_id(), garbage.digest, "what cannot be read is named by its own digest");
    }
}
