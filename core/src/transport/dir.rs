//! `dir:DIR` — containers/image's directory transport, podman's `docker-dir` — as a source and a destination:
//! `manifest.json` is the image's manifest as it is, each blob is `DIR/<hex>` (sha256 only), an index's
//! children are `DIR/<hex>.manifest.json`, and `version` says `Directory Transport Version: 1.1`.
//!
//! A destination opened with [`DirOptions`] may rewrite what it writes, the config (and so the image ID) never:
//! - `compress` gzips every uncompressed layer on the way (podman's `save --compress`, skopeo's
//!   `--dest-compress`): the layer gets its new digest, size and the gzip media type, and the manifests that
//!   name it are written anew. A layer already compressed is kept as it is.
//! - `docker_schema2` writes an OCI image manifest as a Docker schema 2 one, as `podman save --format
//!   docker-dir` does (see [`crate::image::ImageManifest::to_docker_schema2`]).
//!
//! What it is not: a layout with names. A dir holds one image and no name; loading one gives an unnamed image.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::blocking::{StreamReader, blocking, reader_stream};
use super::oci_layout::{read_child_manifest, set_readable, write_blob_file};
use super::{ImageDestination, ImageSource, OpenBlob, RawManifest, TransportError};
use crate::archive::ArchiveError;
use crate::archive::compression::{Compression, sniff_reader};
use crate::archive::files::Files;
use crate::archive::parallel_gzip::ParallelGzip;
use crate::digest::{Digest, Hasher, HashingWriter, Verifier};
use crate::image::{Descriptor, MAX_MANIFEST_SIZE, Manifest, media_type};
use crate::stream::ByteStream;
use crate::trust::storage::{self, StorageError};
use crate::trust::{Signature, TrustError};

pub const VERSION_FILE: &str = "version";
pub const VERSION: &[u8] = b"Directory Transport Version: 1.1\n";
pub const MANIFEST_JSON: &str = "manifest.json";

/// What a `dir:` refused, naming the directory, blob or manifest concerned.
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    /// A blob whose digest is not sha256: a dir names files by their sha256 hex.
    #[error("dir: only sha256 blobs are supported, not {digest}")]
    NotSha256 { digest: Digest },
    /// A directory to write into that holds something else than an image directory.
    #[error(
        "{} exists and is not an image directory (no version file): refusing to write into it",
        path.display()
    )]
    NotADir { path: PathBuf },
    /// A manifest that cannot be written as Docker schema 2 (`--format docker-dir`).
    #[error("writing manifest {digest} as Docker schema 2: {source}")]
    Schema2 {
        digest: Digest,
        #[source]
        source: crate::image::ImageError,
    },
    /// Signatures to keep for a manifest this destination rewrites: they would not match it (containers/image
    /// refuses the same; `--remove-signatures` leaves them behind).
    #[error(
        "copying image {digest} to this dir would change its manifest, which would invalidate its signatures; \
         consider --remove-signatures"
    )]
    WouldInvalidateSignatures { digest: Digest },
    /// A manifest rewritten (layers gzipped) that cannot be serialised.
    #[error("writing manifest {digest}: {source}")]
    Rewrite {
        digest: Digest,
        #[source]
        source: serde_json::Error,
    },
}

/// A blob's file name in a dir (its hex; sha256 only, as containers/image writes them).
pub fn blob_name(d: &Digest) -> Result<String, TransportError> {
    if d.algorithm() != "sha256" {
        return Err(DirError::NotSha256 { digest: d.clone() }.into());
    }
    Ok(d.hex().to_owned())
}

/// The file of an index's child manifest.
pub fn child_manifest_name(d: &Digest) -> String {
    format!("{}.manifest.json", d.hex())
}

/// The file of signature `index` (0-based) of manifest `digest`: `signature-N` for the image's own manifest
/// (`top`), `HEX.signature-N` for an index's child (containers/image's `signaturePath`).
pub fn signature_name(digest: &Digest, top: bool, index: usize) -> Result<String, TransportError> {
    if top {
        Ok(format!("signature-{}", index + 1))
    } else {
        Ok(format!("{}.signature-{}", blob_name(digest)?, index + 1))
    }
}

/// A storage error as the transports return it.
fn trust(e: StorageError) -> TransportError {
    TrustError::from(e).into()
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

    /// `dir` scopes: the directory, then its parents.
    fn policy_name(&self) -> crate::trust::PolicyName {
        super::policy_name::path("dir", &self.files.root())
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

    async fn blob(&self, blob: &Descriptor) -> Result<ByteStream<TransportError>, TransportError> {
        let files = self.files.clone();
        let name = blob_name(&blob.digest)?;
        Ok(reader_stream(move || Ok(files.open(&name)?.0), Some(Verifier::new(&blob.digest, Some(blob.size)))))
    }

    /// `signature-1`, `signature-2`, ... (`HEX.signature-N` for an index's child) up to the first missing one,
    /// each a signature blob; bounded as [`storage::Budget`] says.
    async fn signatures(&self, digest: &Digest) -> Result<Vec<Signature>, TransportError> {
        let top = self.manifest().await?.digest == *digest;
        let (files, digest) = (self.files.clone(), digest.clone());
        blocking(move || {
            let mut budget = storage::Budget::new(format!("signatures in {}", files.root()));
            let mut out = Vec::new();
            for index in 0.. {
                let name = signature_name(&digest, top, index)?;
                if !files.exists(&name) {
                    break;
                }
                let blob = files.read_small(&name, storage::MAX_SIGNATURE_SIZE)?;
                budget.take(blob.len()).map_err(trust)?;
                out.push(storage::from_blob(&blob, &files.shown(&name)).map_err(trust)?);
            }
            Ok(out)
        })
        .await
    }
}

/// How a [`DirDestination`] rewrites what it writes (see the module's doc); the default writes everything as
/// it comes, as `skopeo copy … dir:` does.
#[derive(Debug, Clone, Copy, Default)]
pub struct DirOptions {
    pub compress: bool,
    pub docker_schema2: bool,
}

/// Writes one image into a dir.
pub struct DirDestination {
    root: PathBuf,
    written: Mutex<HashSet<Digest>>,
    options: DirOptions,
    /// What each rewritten blob or manifest became: its digest at the source → its descriptor here.
    replaced: Mutex<HashMap<Digest, Descriptor>>,
    /// The top-level manifest, when it was rewritten.
    top: Mutex<Option<RawManifest>>,
    /// Signatures to write at commit, by manifest digest.
    signatures: Mutex<Vec<(Digest, Vec<Signature>)>>,
    /// The digest of the manifest committed (as given), once it is.
    committed: Mutex<Option<Digest>>,
}

impl DirDestination {
    /// Creates `path` (or reuses an empty directory, or one that already is a dir: image, whose files are
    /// replaced) and writes its `version` file.
    pub fn open(path: &Path) -> Result<DirDestination, TransportError> {
        DirDestination::open_with(path, DirOptions::default())
    }

    /// As [`DirDestination::open`], rewriting as `options` say.
    pub fn open_with(path: &Path, options: DirOptions) -> Result<DirDestination, TransportError> {
        let shown = path.display().to_string();
        let io = |e| TransportError::Archive(ArchiveError::io(&shown, e));
        crate::archive::output::check_dir(path)?;
        if path.exists() {
            let non_empty = fs::read_dir(path).map_err(io)?.next().is_some();
            if non_empty && !path.join(VERSION_FILE).is_file() {
                return Err(DirError::NotADir { path: path.to_owned() }.into());
            }
        }
        fs::create_dir_all(path).map_err(io)?;
        write_blob_file(path, VERSION_FILE, VERSION)?;
        Ok(DirDestination {
            root: path.to_owned(),
            written: Mutex::new(HashSet::new()),
            options,
            replaced: Mutex::new(HashMap::new()),
            top: Mutex::new(None),
            signatures: Mutex::new(Vec::new()),
            committed: Mutex::new(None),
        })
    }

    fn replaced(&self) -> std::sync::MutexGuard<'_, HashMap<Digest, Descriptor>> {
        self.replaced.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `manifest` with the blobs and child manifests this destination rewrote swapped for what they became;
    /// `manifest` itself when none were.
    fn rewrite(&self, manifest: &RawManifest) -> Result<RawManifest, TransportError> {
        let replaced = self.replaced().clone();
        if replaced.is_empty() && !self.options.docker_schema2 {
            return Ok(manifest.clone());
        }
        let swap = |d: &mut Descriptor| -> bool {
            let Some(new) = replaced.get(&d.digest) else { return false };
            d.media_type = new.media_type.clone();
            d.digest = new.digest.clone();
            d.size = new.size;
            true
        };
        let raw = match Manifest::parse(&manifest.raw, Some(&manifest.media_type))? {
            Manifest::Image(mut m) => {
                let changed = m.layers.iter_mut().map(swap).fold(false, |a, b| a | b);
                let docker = m.media_type.as_deref() == Some(media_type::DOCKER_MANIFEST);
                if !changed && (docker || !self.options.docker_schema2) {
                    return Ok(manifest.clone());
                }
                if docker || self.options.docker_schema2 {
                    let raw = m
                        .to_docker_schema2()
                        .map_err(|source| DirError::Schema2 { digest: manifest.digest.clone(), source })?;
                    return Ok(self.replace_manifest(manifest, RawManifest::new(raw, media_type::DOCKER_MANIFEST)));
                }
                serde_json::to_vec(&m)
            }
            Manifest::Index(mut i) => {
                let changed = i.manifests.iter_mut().map(swap).fold(false, |a, b| a | b);
                if !changed {
                    return Ok(manifest.clone());
                }
                serde_json::to_vec(&i)
            }
        }
        .map_err(|source| DirError::Rewrite { digest: manifest.digest.clone(), source })?;
        Ok(self.replace_manifest(manifest, RawManifest::new(raw, manifest.media_type.clone())))
    }

    /// Records that `new` is written for `old`, so an index naming `old` names `new`.
    fn replace_manifest(&self, old: &RawManifest, new: RawManifest) -> RawManifest {
        if new.digest != old.digest {
            self.replaced().insert(old.digest.clone(), new.descriptor());
        }
        new
    }
}

/// Gzips the layer `reader` gives into `dir`, named by the digest of the compressed bytes: its descriptor
/// (`blob`'s, with the gzip media type, the new digest and size), or `None` when the bytes turn out to be
/// compressed already (then written as they are, under `blob`'s own name). Blocking.
fn write_gzipped(
    dir: &Path,
    blob: &Descriptor,
    gzip_type: &str,
    reader: impl Read,
) -> Result<Option<Descriptor>, TransportError> {
    let shown = dir.display().to_string();
    let io = |e| TransportError::Archive(ArchiveError::io(&shown, e));
    let (c, buffered) = sniff_reader(reader).map_err(io)?;
    if c != Compression::None {
        write_blob_file(dir, &blob_name(&blob.digest)?, buffered)?;
        return Ok(None);
    }
    let mut temp = tempfile::Builder::new().prefix(".hoist-").tempfile_in(dir).map_err(io)?;
    let hashed =
        HashingWriter { inner: std::io::BufWriter::with_capacity(1 << 20, &mut temp), hasher: Hasher::sha256() };
    let mut gz = ParallelGzip::new(hashed, flate2::Compression::default());
    let mut buffered = buffered;
    std::io::copy(&mut buffered, &mut gz).map_err(io)?;
    let HashingWriter { inner, hasher } = gz.finish().map_err(io)?;
    inner.into_inner().map_err(|e| io(e.into_error()))?;
    let size = hasher.len();
    let digest = hasher.finish();
    set_readable(temp.as_file()).map_err(io)?;
    temp.persist(dir.join(blob_name(&digest)?)).map_err(|e| io(e.error))?;
    Ok(Some(Descriptor { media_type: gzip_type.to_owned(), digest, size, ..blob.clone() }))
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
        let gzip_type = if self.options.compress { media_type::gzip_of(&blob.media_type) } else { None };
        let (root, b, handle) = (self.root.clone(), blob.clone(), tokio::runtime::Handle::current());
        let became = blocking(move || {
            let mut reader = StreamReader::new(stream, handle);
            // The source checks the bytes against the blob's digest (ImageSource::blob).
            let result = match gzip_type {
                Some(t) => write_gzipped(&root, &b, t, &mut reader),
                None => write_blob_file(&root, &name, &mut reader).map(|()| None),
            };
            match reader.take_error() {
                Some(e) => Err(e),
                None => result,
            }
        })
        .await?;
        if let Some(new) = became {
            self.replaced().insert(blob.digest.clone(), new);
        }
        self.written.lock().unwrap_or_else(|e| e.into_inner()).insert(blob.digest.clone());
        Ok(())
    }

    async fn put_child_manifest(&self, manifest: &RawManifest) -> Result<(), TransportError> {
        let (root, m) = (self.root.clone(), self.rewrite(manifest)?);
        blocking(move || write_blob_file(&root, &child_manifest_name(&m.digest), m.raw.as_slice())).await
    }

    async fn commit(&self, manifest: &RawManifest) -> Result<(), TransportError> {
        let (root, m) = (self.root.clone(), self.rewrite(manifest)?);
        let written = (m.digest != manifest.digest).then(|| m.clone());
        let signatures = std::mem::take(&mut *self.signatures.lock().unwrap_or_else(|e| e.into_inner()));
        if written.is_some() && signatures.iter().any(|(d, s)| *d == manifest.digest && !s.is_empty()) {
            return Err(DirError::WouldInvalidateSignatures { digest: manifest.digest.clone() }.into());
        }
        let top = manifest.digest.clone();
        blocking(move || {
            write_blob_file(&root, MANIFEST_JSON, m.raw.as_slice())?;
            write_signatures(&root, &top, &signatures, true)
        })
        .await?;
        *self.top.lock().unwrap_or_else(|e| e.into_inner()) = written;
        *self.committed.lock().unwrap_or_else(|e| e.into_inner()) = Some(manifest.digest.clone());
        Ok(())
    }

    /// Kept until [`ImageDestination::commit`], which writes them after the manifest; after the commit (a
    /// caller that signs the written manifest), written at once.
    async fn put_signatures(&self, digest: &Digest, signatures: &[Signature]) -> Result<(), TransportError> {
        let committed = self.committed.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(top) = committed {
            if self.top.lock().unwrap_or_else(|e| e.into_inner()).is_some() && *digest == top && !signatures.is_empty()
            {
                return Err(DirError::WouldInvalidateSignatures { digest: top }.into());
            }
            let (root, entry) = (self.root.clone(), vec![(digest.clone(), signatures.to_vec())]);
            let stale = *digest == top;
            return blocking(move || write_signatures(&root, &top, &entry, stale)).await;
        }
        let mut all = self.signatures.lock().unwrap_or_else(|e| e.into_inner());
        all.retain(|(d, _)| d != digest);
        all.push((digest.clone(), signatures.to_vec()));
        Ok(())
    }

    fn rewritten(&self) -> Option<RawManifest> {
        self.top.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// Writes each manifest's signatures (each file whole: temp, fsync, rename), then, with `remove_stale`, removes
/// the image's `signature-N` after its own (a dir written over keeps no signature of its former image).
/// Blocking.
fn write_signatures(
    root: &Path,
    top: &Digest,
    signatures: &[(Digest, Vec<Signature>)],
    remove_stale: bool,
) -> Result<(), TransportError> {
    let mut top_count = 0;
    for (digest, sigs) in signatures {
        let is_top = digest == top;
        for (i, s) in sigs.iter().enumerate() {
            storage::write_file_atomic(&root.join(signature_name(digest, is_top, i)?), &storage::to_blob(s))
                .map_err(trust)?;
        }
        if is_top {
            top_count = sigs.len();
        }
    }
    if !remove_stale {
        return Ok(());
    }
    for i in top_count..top_count + storage::MAX_SIGNATURES {
        if !storage::remove_file(&root.join(signature_name(top, true, i)?)).map_err(trust)? {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(e: TransportError) -> DirError {
        match e {
            TransportError::Dir(e) => *e,
            other => panic!("not a dir's refusal: {other:?}"),
        }
    }

    /// Each refusal names the directory, blob or manifest: a directory that holds something else, a blob that
    /// is not sha256, a manifest that cannot be Docker schema 2.
    #[tokio::test]
    async fn a_dir_names_what_it_refuses() {
        let tmp = tempfile::tempdir().unwrap();
        let other = tmp.path().join("other");
        std::fs::create_dir(&other).unwrap();
        std::fs::write(other.join("notes.txt"), "mine").unwrap();
        let e = refusal(DirDestination::open(&other).err().expect("refused"));
        assert!(matches!(&e, DirError::NotADir { path } if *path == other), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!(
                "{} exists and is not an image directory (no version file): refusing to write into it",
                other.display()
            )
        );
        assert!(!other.join(VERSION_FILE).exists(), "nothing written into it");

        let sha512 = Digest::parse(&format!("sha512:{}", "ab".repeat(64))).unwrap();
        let e = refusal(blob_name(&sha512).unwrap_err());
        assert!(matches!(&e, DirError::NotSha256 { digest } if *digest == sha512), "{e:?}");
        assert_eq!(e.to_string(), format!("dir: only sha256 blobs are supported, not {sha512}"));

        let dst =
            DirDestination::open_with(&tmp.path().join("d"), DirOptions { compress: false, docker_schema2: true })
                .unwrap();
        let config = Descriptor::new(media_type::OCI_CONFIG, Digest::sha256(b"{}"), 2);
        let zstd = Descriptor::new(media_type::OCI_LAYER_ZSTD, Digest::sha256(b"z"), 1);
        let m = serde_json::json!({
            "schemaVersion": 2, "mediaType": media_type::OCI_MANIFEST, "config": config, "layers": [zstd]
        });
        let m = RawManifest::new(serde_json::to_vec(&m).unwrap(), media_type::OCI_MANIFEST);
        let e = refusal(dst.commit(&m).await.unwrap_err());
        let DirError::Schema2 { digest, source } = &e else { panic!("{e:?}") };
        assert_eq!(*digest, m.digest);
        assert!(matches!(source, crate::image::ImageError::Invalid(why) if why.contains("zstd")), "{source:?}");
        assert!(e.to_string().starts_with(&format!("writing manifest {} as Docker schema 2: ", m.digest)), "{e}");
    }
}

#[cfg(test)]
mod signature_tests {
    use super::*;

    fn sig(b: &[u8]) -> Signature {
        Signature::SimpleSigning([&[0xA3u8][..], b].concat())
    }

    /// A dir keeps the image's signatures as signature-N (an index child's as HEX.signature-N), written at
    /// commit; a dir written over loses its former image's; a rewritten manifest refuses signatures.
    #[tokio::test]
    async fn a_dir_keeps_signatures_beside_its_manifest() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("d");
        let config = Descriptor::new(media_type::OCI_CONFIG, Digest::sha256(b"{}"), 2);
        let m = serde_json::json!({"schemaVersion": 2, "mediaType": media_type::OCI_MANIFEST, "config": config, "layers": []});
        let m = RawManifest::new(serde_json::to_vec(&m).unwrap(), media_type::OCI_MANIFEST);
        let child = Digest::sha256(b"child");

        let dst = DirDestination::open(&path).unwrap();
        dst.put_signatures(&m.digest, &[sig(b"1"), sig(b"2"), sig(b"3")]).await.unwrap();
        dst.put_signatures(&child, &[sig(b"c")]).await.unwrap();
        assert!(!path.join("signature-1").exists(), "nothing before commit");
        dst.commit(&m).await.unwrap();
        assert_eq!(std::fs::read(path.join("signature-3")).unwrap(), b"\xa33");
        assert_eq!(std::fs::read(path.join(format!("{}.signature-1", child.hex()))).unwrap(), b"\xa3c");

        let src = DirSource::open(Files::Dir(path.clone()));
        assert_eq!(src.signatures(&m.digest).await.unwrap(), vec![sig(b"1"), sig(b"2"), sig(b"3")]);
        assert_eq!(src.signatures(&child).await.unwrap(), vec![sig(b"c")]);

        // Written over with one signature: signature-2 and -3 of the former copy go.
        let dst = DirDestination::open(&path).unwrap();
        dst.put_signatures(&m.digest, &[sig(b"new")]).await.unwrap();
        dst.commit(&m).await.unwrap();
        assert!(!path.join("signature-2").exists() && !path.join("signature-3").exists());
        assert_eq!(src.signatures(&m.digest).await.unwrap(), vec![sig(b"new")]);

        // Signatures given after the commit are written at once (a child's leave the image's alone).
        dst.put_signatures(&m.digest, &[sig(b"late"), sig(b"r")]).await.unwrap();
        dst.put_signatures(&child, &[sig(b"c2")]).await.unwrap();
        assert_eq!(src.signatures(&m.digest).await.unwrap(), vec![sig(b"late"), sig(b"r")]);
        assert_eq!(src.signatures(&child).await.unwrap(), vec![sig(b"c2")]);

        // A damaged signature file is an error naming it.
        std::fs::write(path.join("signature-1"), b"<html>").unwrap();
        let e = src.signatures(&m.digest).await.unwrap_err();
        assert!(e.to_string().contains("signature-1: unrecognized signature format"), "{e}");

        // A destination that rewrites the manifest refuses signatures of it.
        let other = tmp.path().join("schema2");
        let dst = DirDestination::open_with(&other, DirOptions { compress: false, docker_schema2: true }).unwrap();
        dst.put_signatures(&m.digest, &[sig(b"1")]).await.unwrap();
        let e = dst.commit(&m).await.unwrap_err();
        assert!(e.to_string().contains("would invalidate its signatures"), "{e}");
    }
}
