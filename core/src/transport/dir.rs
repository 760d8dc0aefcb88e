//! `dir:DIR` — containers/image's directory transport, podman's `docker-dir` — as a source and a destination:
//! `manifest.json` is the image's manifest as it is, each blob is `DIR/<hex>` (sha256 only), an index's
//! children are `DIR/<hex>.manifest.json`, and `version` says `Directory Transport Version: 1.1`.
//!
//! What it is not: a layout with names. A dir holds one image and no name; loading one gives an unnamed image.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::blocking::{StreamReader, VerifyingReader, blocking, reader_stream};
use super::oci_layout::{read_child_manifest, write_blob_file};
use super::{ByteStream, ImageDestination, ImageSource, OpenBlob, RawManifest, TransportError};
use crate::archive::ArchiveError;
use crate::archive::files::Files;
use crate::digest::{Digest, Verifier};
use crate::image::{Descriptor, MAX_MANIFEST_SIZE, Manifest};

pub const VERSION_FILE: &str = "version";
pub const VERSION: &[u8] = b"Directory Transport Version: 1.1\n";
pub const MANIFEST_JSON: &str = "manifest.json";

/// A blob's file name in a dir (its hex; sha256 only, as containers/image writes them).
pub fn blob_name(d: &Digest) -> Result<String, TransportError> {
    if d.algorithm() != "sha256" {
        return Err(TransportError::Other(format!("dir: only sha256 blobs are supported, not {d}")));
    }
    Ok(d.hex().to_owned())
}

/// The file of an index's child manifest.
pub fn child_manifest_name(d: &Digest) -> String {
    format!("{}.manifest.json", d.hex())
}

/// The image in a dir.
pub struct DirSource {
    files: Files,
    shown: String,
}

impl DirSource {
    pub fn open(files: Files) -> DirSource {
        let shown = format!("dir:{}", files.root());
        DirSource { files, shown }
    }
}

#[async_trait::async_trait]
impl ImageSource for DirSource {
    fn name(&self) -> String {
        self.shown.clone()
    }

    async fn manifest(&self) -> Result<RawManifest, TransportError> {
        let files = self.files.clone();
        blocking(move || {
            let raw = files.read_small(MANIFEST_JSON, MAX_MANIFEST_SIZE)?;
            let media_type = Manifest::parse(&raw, None)?.media_type();
            Ok(RawManifest::new(raw, media_type))
        })
        .await
    }

    async fn manifest_by_digest(&self, digest: &Digest) -> Result<RawManifest, TransportError> {
        read_child_manifest(self.files.clone(), child_manifest_name(digest), digest.clone()).await
    }

    async fn blob(&self, blob: &Descriptor) -> Result<ByteStream, TransportError> {
        let files = self.files.clone();
        let name = blob_name(&blob.digest)?;
        Ok(reader_stream(move || Ok(files.open(&name)?.0), Some(Verifier::new(&blob.digest, Some(blob.size)))))
    }
}

/// Writes one image into a dir.
pub struct DirDestination {
    root: PathBuf,
    written: Mutex<HashSet<Digest>>,
}

impl DirDestination {
    /// Creates `path` (or reuses an empty directory, or one that already is a dir: image, whose files are
    /// replaced) and writes its `version` file.
    pub fn open(path: &Path) -> Result<DirDestination, TransportError> {
        let shown = path.display().to_string();
        let io = |e| TransportError::Archive(ArchiveError::io(&shown, e));
        if path.exists() {
            let non_empty = fs::read_dir(path).map_err(io)?.next().is_some();
            if non_empty && !path.join(VERSION_FILE).is_file() {
                return Err(TransportError::Other(format!(
                    "{shown} exists and is not an image directory (no version file): refusing to write into it"
                )));
            }
        }
        fs::create_dir_all(path).map_err(io)?;
        write_blob_file(path, VERSION_FILE, VERSION)?;
        Ok(DirDestination { root: path.to_owned(), written: Mutex::new(HashSet::new()) })
    }
}

#[async_trait::async_trait]
impl ImageDestination for DirDestination {
    fn name(&self) -> String {
        format!("dir:{}", self.root.display())
    }

    async fn has_blob(&self, blob: &Descriptor) -> Result<bool, TransportError> {
        Ok(self.written.lock().unwrap_or_else(|e| e.into_inner()).contains(&blob.digest))
    }

    async fn put_blob(&self, blob: &Descriptor, open: &OpenBlob<'_>) -> Result<(), TransportError> {
        let name = blob_name(&blob.digest)?;
        let stream = open().await?;
        let (root, b, handle) = (self.root.clone(), blob.clone(), tokio::runtime::Handle::current());
        blocking(move || {
            let mut reader = StreamReader::new(stream, handle);
            let result = write_blob_file(
                &root,
                &name,
                VerifyingReader::new(&mut reader, Verifier::new(&b.digest, Some(b.size))),
            );
            match reader.take_error() {
                Some(e) => Err(e),
                None => result,
            }
        })
        .await?;
        self.written.lock().unwrap_or_else(|e| e.into_inner()).insert(blob.digest.clone());
        Ok(())
    }

    async fn put_child_manifest(&self, manifest: &RawManifest) -> Result<(), TransportError> {
        let (root, m) = (self.root.clone(), manifest.clone());
        blocking(move || write_blob_file(&root, &child_manifest_name(&m.digest), m.raw.as_slice())).await
    }

    async fn commit(&self, manifest: &RawManifest) -> Result<(), TransportError> {
        let (root, m) = (self.root.clone(), manifest.clone());
        blocking(move || write_blob_file(&root, MANIFEST_JSON, m.raw.as_slice())).await
    }
}
