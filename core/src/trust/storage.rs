//! Where signatures live: containers-registries.d(5) (`default-docker` and per-scope `docker:` entries:
//! `lookaside`, `lookaside-staging`, the old `sigstore`/`sigstore-staging` names, `use-sigstore-attachments`),
//! lookaside stores over `file://` and `http(s)://` (`REPO@sha256=HEX/signature-N`), sigstore attachments
//! (the `sha256-HEX.sig` tag: an OCI manifest of payload layers), and the on-disk form of one signature
//! (containers/image's blob: simple signing bytes as they are, other formats after a 0x00 format line).
//!
//! (Skeleton: filled in by the storage part of issue 19.)

/// Why signatures could not be found, read or written: which file, URL or manifest, which limit.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("signature storage is not implemented yet")]
    NotImplemented,
}
