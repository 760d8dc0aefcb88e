//! Where images come from and where they go, as containers/image's `ImageSource` / `ImageDestination`: a
//! registry ([`registry`]) and the local store ([`store`]) today; archives and directories join them as more
//! files here. The copy engine ([`crate::copy`]) is the only caller: it moves any source to any destination,
//! so parallelism, blob reuse, digest checks and progress live once.
//!
//! What a transport promises:
//! - manifests are raw bytes, never re-serialised, so digests never change in a copy;
//! - every byte a source yields has been (or, at its end, is) checked against the digest it was asked for;
//! - a destination refuses bytes that do not match the descriptor, and makes an image visible only at
//!   [`ImageDestination::commit`], after every blob and manifest it references is in place.
//!
//! What it is not: the policy of what to copy (platforms, `--all`, skipping) — that is the copy engine's.

pub mod blocking;
pub mod dir;
pub mod docker_archive;
pub mod docker_daemon;
pub mod name;
pub mod oci_layout;
pub mod policy_name;
pub mod registry;
pub mod spool;
pub mod store;

use futures_util::future::BoxFuture;

use crate::archive::ArchiveError;
use crate::auth::AuthError;
use crate::digest::{Digest, VerifyError};
use crate::image::{Descriptor, ImageError};
use crate::registry::RegistryError;
use crate::store::StoreError;
use crate::stream::ByteStream;
use crate::trust::{PolicyName, Signature, TrustError};

/// Opens a blob's byte stream, again if a destination has to retry.
pub type OpenBlob<'a> =
    dyn Fn() -> BoxFuture<'a, Result<ByteStream<TransportError>, TransportError>> + Send + Sync + 'a;

/// Why a transport failed; one line, naming the image or blob.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Verify(#[from] VerifyError),
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// A docker-archive refused: which archive, image, blob or limit.
    #[error(transparent)]
    DockerArchive(Box<docker_archive::DockerArchiveError>),
    /// An OCI layout (`oci:`, `oci-archive:`) refused: which layout, file, image, blob or limit.
    #[error(transparent)]
    OciLayout(Box<oci_layout::OciLayoutError>),
    /// A `dir:` refused: which directory, blob or manifest.
    #[error(transparent)]
    Dir(Box<dir::DirError>),
    /// A Docker engine (`docker-daemon:`) unreachable or refusing, or its archive refused: naming the engine or
    /// the image.
    #[error(transparent)]
    Daemon(Box<docker_daemon::DaemonError>),
    /// The local store as a transport failed: reading or writing which blob, naming which image.
    #[error(transparent)]
    StoreTransport(Box<store::StoreTransportError>),
    /// An index that does not give the image asked for: which platform, entry or limit.
    #[error(transparent)]
    Index(Box<crate::image::IndexError>),
    /// A manifest that cannot be converted to the format asked for (`--format`).
    #[error(transparent)]
    Convert(Box<crate::image::convert::ConvertError>),
    /// Looking up the credentials for a registry failed (every source failed, or an auth file is unreadable).
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Reading, checking or keeping signatures failed, or the policy refused the image.
    #[error(transparent)]
    Trust(Box<TrustError>),
    /// New signatures need an identity and the destination names none (an archive, a directory).
    #[error("Cannot determine canonical Docker reference for destination {destination}: give --sign-identity")]
    NoSigningIdentity { destination: String },
    /// The destination cannot keep signatures (containers/image's words); `--remove-signatures` leaves them.
    #[error("Can not copy signatures to {destination}: storing signatures is not supported for this transport")]
    SignaturesNotSupported { destination: String },
    /// No endpoint to reach: `targets` was empty for the image to pull or the repository to list.
    #[error("no registry to {action} {image} from")]
    NoEndpoint { action: &'static str, image: String },
    /// A tag to delete that the registry does not have.
    #[error("{reference}: no such image in the registry")]
    NotInRegistry { reference: String },
    /// A destination reference naming a digest other than the manifest's to write there.
    #[error(transparent)]
    DigestMismatch(Box<DigestMismatch>),
    /// Reading a blob's bytes from a file or an archive failed (a disk error, or a compressed archive's
    /// decompression refusing, the reader's error kept as the source).
    #[error("{source}")]
    Read {
        #[source]
        source: std::io::Error,
    },
    /// A layer recompression refused (`--compression-format zstd` with `--format v2s2`).
    #[error(transparent)]
    Recompression(#[from] crate::archive::recompress::RecompressionError),
    /// Work run on a blocking thread (a file's reading and writing, a credential helper) panicked or was
    /// cancelled.
    #[error("{task}: {source}")]
    TaskFailed {
        task: &'static str,
        #[source]
        source: tokio::task::JoinError,
    },
}

/// A destination reference (`docker://r/x@sha256:...`) that names a digest other than the manifest's.
#[derive(Debug, thiserror::Error)]
#[error("{reference} names digest {named}, but the manifest to write is {manifest}")]
pub struct DigestMismatch {
    pub reference: String,
    pub named: Digest,
    pub manifest: Digest,
}

impl From<TrustError> for TransportError {
    fn from(e: TrustError) -> Self {
        TransportError::Trust(Box::new(e))
    }
}

/// The one raw-manifest type, [`crate::image::RawManifest`], as the transports' signatures name it.
pub use crate::image::RawManifest;

impl From<docker_archive::DockerArchiveError> for TransportError {
    fn from(e: docker_archive::DockerArchiveError) -> Self {
        TransportError::DockerArchive(Box::new(e))
    }
}

impl From<oci_layout::OciLayoutError> for TransportError {
    fn from(e: oci_layout::OciLayoutError) -> Self {
        TransportError::OciLayout(Box::new(e))
    }
}

impl From<dir::DirError> for TransportError {
    fn from(e: dir::DirError) -> Self {
        TransportError::Dir(Box::new(e))
    }
}

impl From<store::StoreTransportError> for TransportError {
    fn from(e: store::StoreTransportError) -> Self {
        TransportError::StoreTransport(Box::new(e))
    }
}

impl From<crate::image::convert::ConvertError> for TransportError {
    fn from(e: crate::image::convert::ConvertError) -> Self {
        TransportError::Convert(Box::new(e))
    }
}

impl From<crate::image::IndexError> for TransportError {
    fn from(e: crate::image::IndexError) -> Self {
        TransportError::Index(Box::new(e))
    }
}

/// A blob [`ImageDestination::put_made_blob`] wrote: the digest and size its bytes turned out to have, and
/// whether the destination had it already (then nothing was sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MadeBlob {
    pub digest: Digest,
    pub size: u64,
    pub had: bool,
}

/// Where a registry source lives, so a destination on the same registry can mount instead of upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryRepo {
    pub host: String,
    pub repo: String,
}

/// An image to read.
#[async_trait::async_trait]
pub trait ImageSource: Send + Sync {
    /// How a user names it (`docker://quay.io/org/app:1`, `store:docker.io/library/alpine:latest`).
    fn name(&self) -> String;
    /// The manifest the source's reference names (an image manifest or an index).
    async fn manifest(&self) -> Result<RawManifest, TransportError>;
    /// A manifest by digest: an index's child. Its bytes match `digest`.
    async fn manifest_by_digest(&self, digest: &Digest) -> Result<RawManifest, TransportError>;
    /// A blob's bytes; the stream ends with an error item if they do not match `blob`'s digest and size.
    async fn blob(&self, blob: &Descriptor) -> Result<ByteStream<TransportError>, TransportError>;
    /// The registry repository this source reads, if it is one.
    fn registry_repo(&self) -> Option<RegistryRepo> {
        None
    }
    /// How the trust policy names this image: transport, scopes, the docker reference signatures are matched
    /// against ([`crate::trust::PolicyName`]).
    fn policy_name(&self) -> PolicyName {
        PolicyName { transport: "", identity: String::new(), namespaces: Vec::new(), docker_reference: None }
    }
    /// The signatures stored for the manifest `digest`, untrusted (the policy verifies them); none when the
    /// transport keeps none.
    async fn signatures(&self, _digest: &Digest) -> Result<Vec<Signature>, TransportError> {
        Ok(Vec::new())
    }
}

/// A place to write an image.
#[async_trait::async_trait]
pub trait ImageDestination: Send + Sync {
    fn name(&self) -> String;
    /// True when the destination already holds the blob (it is then skipped).
    async fn has_blob(&self, blob: &Descriptor) -> Result<bool, TransportError>;
    /// Makes the blob available without sending its bytes (a cross-repository mount); true when done.
    async fn try_mount(&self, _blob: &Descriptor, _from: &RegistryRepo) -> Result<bool, TransportError> {
        Ok(false)
    }
    /// Writes a blob from the stream `open` returns. The stream is a source's, which checks the bytes against
    /// `blob` and ends with an error item on a mismatch ([`ImageSource::blob`]), so a destination need not hash
    /// them again; it must make nothing visible unless the stream ended without an error.
    async fn put_blob(&self, blob: &Descriptor, open: &OpenBlob<'_>) -> Result<(), TransportError>;
    /// Writes a blob of `media_type` whose digest and size are known only once its bytes are all made (a layer
    /// recompressed on the way); `open` yields them, again for each try (made again from their source), and
    /// the stream ends with an error item if making them failed. Nothing may become visible under a digest
    /// other than the bytes'. The default spools them whole first ([`spool::spool_then_put`]), then skips the
    /// blob when the destination has it, else [`ImageDestination::put_blob`]s it; a registry streams them
    /// into its upload session as they are made.
    async fn put_made_blob(&self, media_type: &str, open: &OpenBlob<'_>) -> Result<MadeBlob, TransportError> {
        spool::spool_then_put(self, media_type, open).await
    }
    /// Writes a manifest an index refers to, by its digest.
    async fn put_child_manifest(&self, manifest: &RawManifest) -> Result<(), TransportError>;
    /// Writes the top-level manifest under the destination's name and makes the image visible.
    async fn commit(&self, manifest: &RawManifest) -> Result<(), TransportError>;
    /// The manifest [`ImageDestination::commit`] wrote, when the destination rewrote it (a dir that gzips
    /// layers); `None` when it wrote the one it was given.
    fn rewritten(&self) -> Option<RawManifest> {
        None
    }
    /// The docker reference the image is written as (a registry's, a store name), which new signatures name
    /// unless `--sign-identity` says otherwise; `None` when it has none.
    fn docker_reference(&self) -> Option<crate::reference::Reference> {
        None
    }
    /// Keeps `signatures` of the manifest `digest`, called before [`ImageDestination::commit`]. A transport
    /// that cannot keep signatures refuses any (containers/image does the same; `--remove-signatures`
    /// copies none).
    async fn put_signatures(&self, _digest: &Digest, signatures: &[Signature]) -> Result<(), TransportError> {
        if signatures.is_empty() {
            Ok(())
        } else {
            Err(TransportError::SignaturesNotSupported { destination: self.name() })
        }
    }
}
