//! `store:` — hoist's local image store ([`crate::store::Store`]) as a source and a destination.
//!
//! Reading streams blobs from disk and checks them against their digests on the way (a store on disk can be
//! damaged). Writing streams each blob into the store's verified blob writer on a blocking thread, so hashing
//! and disk writes overlap with the network (through [`super::blocking::StreamReader`], the one bridge); an
//! image becomes visible only at [`ImageDestination::commit`], when its name is added to index.json. A destination holds a store session for its lifetime so garbage
//! collection never removes blobs it wrote but has not yet referenced.

use std::sync::Arc;

use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::runtime::Handle;

use super::blocking::{StreamReader, blocking, copy_buffered};
use super::{ImageDestination, ImageSource, OpenBlob, RawManifest, RegistryRepo, TransportError};
use crate::archive::compression::Compression;
use crate::digest::{Digest, Verifier};
use crate::image::{Descriptor, MAX_MANIFEST_SIZE};
use crate::reference::Reference;
use crate::store::{Image, LayerSize, Session, Store, StoreError};
use crate::stream::ByteStream;
use crate::trust::Signature;

/// The store as a transport failed: reading or writing which blob, naming which image; and the error.
#[derive(Debug, thiserror::Error)]
pub enum StoreTransportError {
    /// Reading a stored blob's file failed.
    #[error("reading a stored blob: {source}")]
    ReadBlob {
        digest: Digest,
        #[source]
        source: std::io::Error,
    },
    /// Writing a blob into the store failed (the disk, not the bytes: those are checked by the source).
    #[error("writing blob {digest} to the store: {source}")]
    WriteBlob {
        digest: Digest,
        #[source]
        source: std::io::Error,
    },
    /// Naming the image in the store did not finish (its task panicked or the runtime stopped).
    #[error("store: {source}")]
    Tag {
        name: Reference,
        #[source]
        source: tokio::task::JoinError,
    },
}

/// How much of a blob is read from disk at a time.
const CHUNK: usize = 1 << 20;

/// An image in the local store.
pub struct StoreSource {
    store: Arc<Store>,
    image: Image,
    shown: String,
}

impl StoreSource {
    /// The image `name_or_id` names in `store` (a name, a short name, or an ID prefix).
    pub fn open(store: Arc<Store>, name_or_id: &str) -> Result<StoreSource, TransportError> {
        let image = store.find(name_or_id)?;
        Ok(StoreSource { store, image, shown: name_or_id.to_owned() })
    }

    pub fn image(&self) -> &Image {
        &self.image
    }
}

fn read_manifest(store: &Store, digest: &Digest, media_type: &str) -> Result<RawManifest, TransportError> {
    let raw = store.read_blob(digest, MAX_MANIFEST_SIZE)?;
    Ok(RawManifest { raw, media_type: media_type.to_owned(), digest: digest.clone() })
}

/// A stored blob's bytes, checked against its digest and size as they are read.
pub fn blob_stream(store: &Store, blob: &Descriptor) -> Result<ByteStream<TransportError>, TransportError> {
    Ok(checked_stream(tokio::fs::File::from_std(store.open_blob(&blob.digest)?), blob))
}

/// `file`'s bytes as `blob`'s, checked against its digest and size as they are read.
fn checked_stream(
    file: impl tokio::io::AsyncRead + Unpin + Send + 'static,
    blob: &Descriptor,
) -> ByteStream<TransportError> {
    let verifier = Verifier::new(&blob.digest, Some(blob.size));
    let digest = blob.digest.clone();
    // The digest rides in the state, cloned only for the error that names it, not once a chunk.
    let stream =
        futures_util::stream::try_unfold((file, verifier, digest), |(mut file, mut verifier, digest)| async move {
            let mut buf = vec![0u8; CHUNK];
            let n = match file.read(&mut buf).await {
                Ok(n) => n,
                Err(source) => return Err(StoreTransportError::ReadBlob { digest, source }.into()),
            };
            if n == 0 {
                verifier.finish()?;
                return Ok(None);
            }
            buf.truncate(n);
            verifier.update(&buf)?;
            Ok(Some((Bytes::from(buf), (file, verifier, digest))))
        });
    Box::pin(stream)
}

#[async_trait::async_trait]
impl ImageSource for StoreSource {
    fn name(&self) -> String {
        format!("store:{}", self.shown)
    }

    async fn manifest(&self) -> Result<RawManifest, TransportError> {
        let d = &self.image.descriptor;
        read_manifest(&self.store, &d.digest, &d.media_type)
    }

    async fn manifest_by_digest(&self, digest: &Digest) -> Result<RawManifest, TransportError> {
        // The media type is in the parent's descriptor; the caller passes it on. Read it from the bytes.
        let raw = self.store.read_blob(digest, MAX_MANIFEST_SIZE)?;
        let media_type = crate::image::Manifest::parse(&raw, None)?.media_type();
        Ok(RawManifest { raw, media_type, digest: digest.clone() })
    }

    async fn blob(&self, blob: &Descriptor) -> Result<ByteStream<TransportError>, TransportError> {
        blob_stream(&self.store, blob)
    }

    /// The repository the image was named after (its first name): a push to another repository of that
    /// registry mounts the blobs from there instead of sending them again (a blob missing there is
    /// uploaded as usual).
    fn registry_repo(&self) -> Option<RegistryRepo> {
        let name = self.image.names.first()?;
        Some(RegistryRepo { host: name.domain().to_owned(), repo: name.path().to_owned() })
    }

    /// `containers-storage` scopes: the stored name the user meant (by ID: the image's first name) and the
    /// image ID.
    fn policy_name(&self) -> crate::trust::PolicyName {
        let named = crate::ops::name_given(&self.shown, &self.image.names);
        let id = self.store.image_id(&self.image).ok();
        super::policy_name::store(self.store.root(), named, id.as_ref().map(Digest::hex))
    }

    /// The signatures the store kept for `digest` (a pull brought them).
    async fn signatures(&self, digest: &Digest) -> Result<Vec<Signature>, TransportError> {
        let (store, digest) = (self.store.clone(), digest.clone());
        blocking(move || Ok(store.signatures(&digest)?)).await
    }
}

/// Writes an image into the local store under a name (or, for a digest reference, under that), or without
/// one ([`StoreDestination::unnamed`]).
pub struct StoreDestination {
    store: Arc<Store>,
    /// `None`: the commit stores the manifest but names nothing (the caller names it later).
    name: Option<Reference>,
    _session: Session,
}

impl StoreDestination {
    pub fn open(store: Arc<Store>, name: Reference) -> Result<StoreDestination, TransportError> {
        let session = store.session()?;
        Ok(StoreDestination { store, name: Some(name), _session: session })
    }

    /// A destination whose commit writes every blob and manifest but gives the image no name: `load` names
    /// all of an archive's images in one change of the index once each is in, so a load is all or nothing.
    /// The committed manifest is the copy's [`crate::copy::Report::manifest`]; until it is named, the next
    /// `prune` may remove it.
    pub fn unnamed(store: Arc<Store>) -> Result<StoreDestination, TransportError> {
        let session = store.session()?;
        Ok(StoreDestination { store, name: None, _session: session })
    }
}

/// Streams `stream` into the store as `blob` through the one async-to-blocking bridge
/// ([`StreamReader`]): a blocking thread hashes and writes the bytes while the stream reads ahead, and the blob
/// is committed only when every byte arrived and matched (on a failure the writer is dropped, which removes
/// its temp file).
pub async fn write_blob(
    store: &Arc<Store>,
    blob: &Descriptor,
    stream: ByteStream<TransportError>,
) -> Result<(), TransportError> {
    let (store, digest, size, handle) = (store.clone(), blob.digest.clone(), blob.size, Handle::current());
    // Every layer media type (OCI's, Docker's, foreign and nondistributable ones) names a tar.
    let is_layer = blob.media_type.contains(".tar");
    blocking(move || {
        let mut reader = StreamReader::new(stream, handle);
        let writer = store.blob_writer(&digest, Some(size))?;
        // A layer's uncompressed size is counted on the way, for `images`' SIZE.
        let mut w = Measured { writer, counter: is_layer.then(|| UnpackedCounter::new(LayerSize::budget(size))) };
        let copied = copy_buffered(&mut reader, &mut w);
        if let Some(e) = reader.take_error() {
            return Err(e);
        }
        copied.map_err(|source| StoreTransportError::WriteBlob { digest: digest.clone(), source })?;
        let Measured { writer, counter } = w;
        writer.commit()?;
        if let Some(n) = counter.and_then(UnpackedCounter::finish) {
            // A cache: one not written is measured when `images` needs it.
            let _ = store.record_size(&digest, LayerSize::Uncompressed(n));
        }
        Ok(())
    })
    .await
}

/// A blob writer that also feeds a layer's bytes to an [`UnpackedCounter`].
struct Measured {
    writer: crate::store::BlobWriter,
    counter: Option<UnpackedCounter>,
}

impl std::io::Write for Measured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.writer.write(buf)?;
        if let Some(c) = &mut self.counter {
            c.update(&buf[..n]);
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

/// Counts a layer's bytes when they are its unpacked bytes (an uncompressed tar), within `budget`; a compressed
/// layer is not decompressed on its way in (a blob that only moves is never inflated: that would cost a pull
/// or load up to 300 MB/s of inflate), so `images` (or `inspect`) measures it once, the first time its size
/// is asked for, and records it.
struct UnpackedCounter {
    state: Counting,
    budget: u64,
}

enum Counting {
    /// The first bytes, until there are enough to tell the compression.
    Head(Vec<u8>),
    Plain(u64),
    GaveUp,
}

/// How many first bytes tell the compression.
const HEAD: usize = 6;

impl UnpackedCounter {
    fn new(budget: u64) -> UnpackedCounter {
        UnpackedCounter { state: Counting::Head(Vec::with_capacity(HEAD)), budget }
    }

    fn update(&mut self, mut buf: &[u8]) {
        if let Counting::Head(head) = &mut self.state {
            let take = buf.len().min(HEAD - head.len());
            head.extend_from_slice(&buf[..take]);
            buf = &buf[take..];
            if head.len() < HEAD {
                return;
            }
            self.start();
        }
        self.feed(buf);
    }

    /// Chooses the counting from the head, and counts the head.
    fn start(&mut self) {
        let Counting::Head(head) = std::mem::replace(&mut self.state, Counting::GaveUp) else { return };
        self.state = match crate::archive::compression::sniff(&head) {
            Ok(Compression::None) => Counting::Plain(0),
            _ => Counting::GaveUp,
        };
        self.feed(&head);
    }

    fn feed(&mut self, buf: &[u8]) {
        let over = match &mut self.state {
            Counting::Plain(n) => {
                *n += buf.len() as u64;
                *n > self.budget
            }
            Counting::Head(_) | Counting::GaveUp => false,
        };
        if over {
            self.state = Counting::GaveUp;
        }
    }

    /// The unpacked size, unless it gave up.
    fn finish(mut self) -> Option<u64> {
        if matches!(self.state, Counting::Head(_)) {
            self.start();
        }
        match self.state {
            Counting::Plain(n) => Some(n),
            Counting::Head(_) | Counting::GaveUp => None,
        }
    }
}

#[async_trait::async_trait]
impl ImageDestination for StoreDestination {
    fn docker_reference(&self) -> Option<Reference> {
        self.name.clone()
    }

    fn name(&self) -> String {
        match &self.name {
            Some(n) => format!("store:{n}"),
            None => "the local store".to_owned(),
        }
    }

    async fn has_blob(&self, blob: &Descriptor) -> Result<bool, TransportError> {
        Ok(self.store.has_blob(&blob.digest)?.is_some_and(|size| size == blob.size))
    }

    async fn put_blob(&self, blob: &Descriptor, open: &OpenBlob<'_>) -> Result<(), TransportError> {
        let stream = open().await?;
        write_blob(&self.store, blob, stream).await
    }

    async fn put_child_manifest(&self, manifest: &RawManifest) -> Result<(), TransportError> {
        put_manifest_blob(&self.store, manifest)
    }

    async fn commit(&self, manifest: &RawManifest) -> Result<(), TransportError> {
        put_manifest_blob(&self.store, manifest)?;
        let Some(name) = self.name.clone() else { return Ok(()) };
        let (store, descriptor, named) = (self.store.clone(), manifest.descriptor(), name.clone());
        tokio::task::spawn_blocking(move || store.tag(&named, &descriptor))
            .await
            .map_err(|source| StoreTransportError::Tag { name, source })??;
        Ok(())
    }

    /// Keeps `signatures` with manifest `digest` (replacing those kept; none keeps them), before the image is
    /// named: this destination's session keeps them from garbage collection until then.
    async fn put_signatures(&self, digest: &Digest, signatures: &[Signature]) -> Result<(), TransportError> {
        if signatures.is_empty() {
            return Ok(());
        }
        let (store, digest, signatures) = (self.store.clone(), digest.clone(), signatures.to_vec());
        blocking(move || Ok(store.put_signatures(&digest, &signatures)?)).await
    }
}

fn put_manifest_blob(store: &Store, manifest: &RawManifest) -> Result<(), TransportError> {
    let written = store.put_blob(&manifest.raw)?;
    if written != manifest.digest {
        return Err(TransportError::Store(StoreError::Corrupt {
            path: store.blob_path(&written),
            message: format!("manifest bytes hash to {written}, not {}", manifest.digest),
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use futures_util::TryStreamExt;

    use super::*;
    use crate::image::media_type;

    /// What an [`UnpackedCounter`] says of `bytes` given in `chunk`-byte pieces.
    fn count(bytes: &[u8], chunk: usize, budget: u64) -> Option<u64> {
        let mut c = UnpackedCounter::new(budget);
        for piece in bytes.chunks(chunk.max(1)) {
            c.update(piece);
        }
        c.finish()
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(data).unwrap();
        gz.finish().unwrap()
    }

    /// An uncompressed layer is counted as it is written; a compressed one is not inflated on its way in
    /// (`images` measures it once, later), nor is anything past the budget.
    #[test]
    fn only_an_uncompressed_layer_is_counted_while_it_is_written() {
        let data = b"0123456789".repeat(100_000);
        for chunk in [1, 5, 6, 7, 4096, data.len()] {
            assert_eq!(count(&data, chunk, 1 << 30), Some(data.len() as u64), "{chunk}");
        }
        assert_eq!(count(b"abc", 1, 1 << 30), Some(3));
        assert_eq!(count(b"", 1, 1 << 30), Some(0));
        let gz = gzip(&data);
        for chunk in [1, 6, 4096] {
            assert_eq!(count(&gz, chunk, 1 << 30), None, "gzip is not inflated: {chunk}");
        }
        assert_eq!(count(&data, 4096, 999_999), None);
        assert_eq!(count(&[0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0], 4096, 1 << 30), None);
    }

    fn refusal(e: TransportError) -> StoreTransportError {
        match e {
            TransportError::StoreTransport(e) => *e,
            other => panic!("not the store transport's error: {other:?}"),
        }
    }

    /// A file that fails on reading.
    struct Failing;
    impl tokio::io::AsyncRead for Failing {
        fn poll_read(
            self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
            _buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            std::task::Poll::Ready(Err(std::io::Error::other("disk on fire")))
        }
    }

    /// Reading and writing a stored blob name the blob when the disk fails.
    #[tokio::test]
    async fn a_stored_blob_that_cannot_be_moved_is_named() {
        let blob = Descriptor::new(media_type::OCI_LAYER_GZIP, Digest::sha256(b"ab"), 2);
        let e = refusal(checked_stream(Failing, &blob).try_collect::<Vec<Bytes>>().await.unwrap_err());
        let StoreTransportError::ReadBlob { digest, source } = &e else { panic!("{e:?}") };
        assert_eq!((digest, source.to_string().as_str()), (&blob.digest, "disk on fire"));
        assert_eq!(e.to_string(), "reading a stored blob: disk on fire");

        // The store refuses bytes past the blob's size: the write fails, naming the blob.
        let tmp = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(tmp.path().join("store")).unwrap());
        let more: ByteStream<TransportError> =
            Box::pin(futures_util::stream::iter(vec![Ok(Bytes::from_static(b"abc"))]));
        let e = refusal(write_blob(&store, &blob, more).await.unwrap_err());
        assert!(matches!(&e, StoreTransportError::WriteBlob { digest, .. } if *digest == blob.digest), "{e:?}");
        assert!(e.to_string().starts_with(&format!("writing blob {} to the store: ", blob.digest)), "{e}");
        assert_eq!(store.has_blob(&blob.digest).unwrap(), None, "nothing stored");
    }
}
