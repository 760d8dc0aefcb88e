//! The image model: manifests, indexes, configs and descriptors, parsed from the raw bytes a registry, an
//! archive or the store gave, with the media types and platform choice containers/image uses.
//!
//! Raw bytes are the truth: a manifest's digest is that of the bytes it was parsed from, and those bytes are
//! what is stored, pushed and verified. The parsed views ([`Manifest`], [`ImageConfig`]) are for reading —
//! deciding what to fetch, choosing a platform, showing `inspect` — and re-serialising them would not give
//! the same bytes. Every parser here caps its input ([`MAX_MANIFEST_SIZE`], [`MAX_CONFIG_SIZE`]) and its
//! errors quote at most a short excerpt of it.
//!
//! What it is not: moving or storing images (the copy engine and [`crate::store`]), or checking blobs
//! against their digests ([`crate::digest`]).

pub mod config;
pub mod convert;
pub mod descriptor;
pub mod manifest;
pub mod media_type;
pub mod raw;

#[cfg(test)]
mod tests;

pub use config::{ImageConfig, RootFs};
pub use descriptor::{Descriptor, Platform};
pub use manifest::{ImageManifest, Index, Manifest};
pub use raw::RawManifest;

/// The most bytes a manifest or index may have (containers/image's limit).
pub const MAX_MANIFEST_SIZE: usize = 4 * 1024 * 1024;
/// The most bytes an image config may have.
pub const MAX_CONFIG_SIZE: usize = 8 * 1024 * 1024;

/// The annotation naming an image in an OCI layout's `index.json`.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Why a manifest, config or platform was refused. One line each; input is quoted only as a short excerpt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("{what} is {size} bytes, more than the {limit} allowed")]
    TooLarge { what: &'static str, size: usize, limit: usize },
    #[error(
        "manifest schema 1 ({media_type}) is deprecated and unsupported; the image must be pushed again with a \
         schema 2 or OCI manifest"
    )]
    Schema1 { media_type: String },
    #[error("unsupported manifest schemaVersion {0}: only 2 is supported")]
    SchemaVersion(String),
    #[error("unsupported manifest media type {0:?}")]
    UnsupportedMediaType(String),
    #[error("manifest declares media type {declared} but was given as {served}")]
    MediaTypeMismatch { declared: String, served: String },
    #[error("ambiguous manifest: {0}")]
    Ambiguous(String),
    /// A document that is not valid JSON of the expected shape.
    #[error("invalid {what}: {message}")]
    Json { what: &'static str, message: String },
    /// Anything else refused, said in one line.
    #[error("{0}")]
    Invalid(String),
    #[error("invalid platform {input:?}: {reason}")]
    Platform { input: String, reason: String },
}

/// Why an index does not give the image asked for (the copy engine's choice of a platform, or of every
/// child): which platform, entry or limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    /// No entry for the platform asked for (`offered`: the platforms the index names).
    #[error(
        "no image for platform {want} (the index offers: {})",
        if offered.is_empty() { "none with a platform".to_owned() } else { offered.join(", ") }
    )]
    NoPlatform { want: Platform, offered: Vec<String> },
    /// The entry for the platform is an index, not an image.
    #[error("the entry for {want} ({digest}) is itself an index")]
    NestedIndex { want: Platform, digest: crate::digest::Digest },
    /// A source asked for a child manifest by digest answered another.
    #[error("the source answered manifest {answered} instead")]
    WrongChild { asked: crate::digest::Digest, answered: crate::digest::Digest },
    /// Indexes inside indexes deeper than the limit (a loop, or a hostile source).
    #[error("indexes nest deeper than {limit} levels")]
    TooDeep { limit: usize },
}

/// At most 80 characters of `s`, with `...` when cut.
pub(crate) fn excerpt(s: &str) -> String {
    const MAX: usize = 80;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}

/// A JSON error as one short line (serde's messages can quote a whole string value).
fn json_error(what: &'static str, e: &serde_json::Error) -> ImageError {
    let text = e.to_string();
    let message = match text.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text,
    };
    ImageError::Json { what, message: message.replace(['\n', '\r'], " ") }
}
