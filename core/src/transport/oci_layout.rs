//! `oci:DIR[:REF]` and `oci-archive:FILE[:REF]` — an OCI image layout in a directory or in a tar — as a source
//! and a destination.
//!
//! Reading: `index.json` names the images (an entry's `org.opencontainers.image.ref.name` is its REF); blobs are
//! `blobs/<alg>/<hex>`, each checked against its digest and size as it streams. Writing: blobs go in as they
//! are (compressed layers stay compressed, digests never change), one per digest; each image's manifest is
//! an `index.json` entry under its REF (an entry with the same REF is replaced, as skopeo does). A directory
//! gets each blob by temp file and rename and `index.json` by rename at [`OciLayoutWriter::finish`]; a tar
//! gets each blob as an entry as it arrives, then `index.json` and `oci-layout` at the end.
//!
//! What it is not: the local store, which is an OCI layout too but shared and locked (`transport::store`).

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::blocking::{StreamReader, blocking, copy_buffered, reader_stream};
use super::{ImageDestination, ImageSource, OpenBlob, RawManifest, TransportError};
use crate::archive::ArchiveError;
use crate::archive::files::Files;
use crate::archive::oci::{self, INDEX_JSON, OCI_LAYOUT, OCI_LAYOUT_CONTENT};
use crate::archive::tar_out::TarOut;
use crate::digest::{Digest, Verifier};
use crate::image::{ANNOTATION_REF_NAME, Descriptor, Index, MAX_MANIFEST_SIZE, Manifest, media_type};
use crate::stream::ByteStream;

/// What went wrong with an OCI layout (`oci:` or `oci-archive:`), naming the layout and the file, image, blob
/// or limit concerned. (A malformed layout is an [`ArchiveError`]; these are the transport's own refusals.)
#[derive(Debug, thiserror::Error)]
pub enum OciLayoutError {
    /// A blob read whole (a manifest) larger than the limit for it.
    #[error("{file}: {size} bytes, more than the {limit} allowed")]
    TooLarge { file: String, size: u64, limit: usize },
    /// `@N` where N is not a number.
    #[error("{layout}: bad index {given}")]
    BadIndex { layout: String, given: String },
    /// No image named, but `index.json` has several.
    #[error(
        "{layout} holds {images} images: name one ({transport}:PATH:REF; refs: {})",
        if refs.is_empty() { "none".to_owned() } else { refs.join(", ") }
    )]
    WhichImage { layout: String, transport: String, images: usize, refs: Vec<String> },
    /// No entry of `index.json` has this ref name (or index).
    #[error("{layout}: no such image in index.json")]
    NoSuchImage { layout: String },
    /// A directory to write into that holds something else than a layout.
    #[error("{} exists and is not an OCI layout (no oci-layout file): refusing to write into it", path.display())]
    NotALayout { path: PathBuf },
    /// Writing a blob into the archive failed (the archive cannot go on: a tar entry was cut short).
    #[error("writing blob {digest}: {source}")]
    WriteBlob {
        digest: Digest,
        #[source]
        source: std::io::Error,
    },
    /// An earlier write failed: the layout is not finished, and nothing more goes into it.
    #[error("{layout}: {first}")]
    Broken { layout: String, first: String },
    /// The layout was already finished (a caller's mistake).
    #[error("{layout}: already finished")]
    Finished { layout: String },
    /// A top-level entry of `index.json` whose media type is not a manifest's.
    #[error("{destination}: {media_type} is not a manifest")]
    NotAManifest { destination: String, media_type: String },
}

/// Reads a blob of a layout whole (a manifest), checked against `d`.
pub(super) fn read_blob(files: &Files, path: &str, d: &Descriptor, cap: usize) -> Result<Vec<u8>, TransportError> {
    if d.size > cap as u64 {
        return Err(OciLayoutError::TooLarge { file: files.shown(path), size: d.size, limit: cap }.into());
    }
    let raw = files.read_small(path, cap)?;
    crate::digest::verify(&raw, &d.digest, Some(d.size))
        .map_err(|e| ArchiveError::Invalid(format!("{}: {e}", files.shown(path))))?;
    Ok(raw)
}

/// A manifest an index names by `digest`, from the file at `path` of an archive or directory: read under the
/// manifest cap, checked against the digest, its media type taken from its own bytes.
pub(super) async fn read_child_manifest(
    files: Files,
    path: String,
    digest: Digest,
) -> Result<RawManifest, TransportError> {
    blocking(move || {
        let raw = files.read_small(&path, MAX_MANIFEST_SIZE)?;
        crate::digest::verify(&raw, &digest, None)
            .map_err(|e| ArchiveError::Invalid(format!("{}: {e}", files.shown(&path))))?;
        let media_type = Manifest::parse(&raw, None)?.media_type();
        Ok(RawManifest { raw, media_type, digest })
    })
    .await
}

/// The `index.json` of a layout, after checking `oci-layout`.
pub fn read_index(files: &Files) -> Result<Index, TransportError> {
    let layout = files.read_small(OCI_LAYOUT, 64 * 1024)?;
    oci::check_layout(&layout).map_err(|m| ArchiveError::Invalid(format!("{}: {m}", files.shown(OCI_LAYOUT))))?;
    let raw = files.read_small(INDEX_JSON, oci::MAX_INDEX_JSON)?;
    Ok(oci::parse_index(&raw).map_err(|m| ArchiveError::Invalid(format!("{}: {m}", files.shown(INDEX_JSON))))?)
}

/// An image of an OCI layout.
pub struct OciLayoutSource {
    files: Files,
    top: Descriptor,
    shown: String,
}

impl OciLayoutSource {
    /// The image `reference` names in the layout (its ref name, or `@N` for the Nth entry); without one, the
    /// layout must hold exactly one image.
    pub fn open(files: Files, reference: Option<&str>, transport: &str) -> Result<OciLayoutSource, TransportError> {
        let index = read_index(&files)?;
        let shown = match reference {
            Some(r) => format!("{transport}:{}:{r}", files.root()),
            None => format!("{transport}:{}", files.root()),
        };
        let chosen = match reference {
            Some(r) if r.starts_with('@') => {
                let n: usize = r[1..]
                    .parse()
                    .map_err(|_| OciLayoutError::BadIndex { layout: shown.clone(), given: r.to_owned() })?;
                index.manifests.get(n).cloned()
            }
            Some(r) => index.manifests.iter().find(|d| oci::ref_name(d) == Some(r)).cloned(),
            None if index.manifests.len() == 1 => index.manifests.first().cloned(),
            None => {
                let refs = index.manifests.iter().filter_map(oci::ref_name).map(str::to_owned).collect();
                return Err(OciLayoutError::WhichImage {
                    layout: shown,
                    transport: transport.to_owned(),
                    images: index.manifests.len(),
                    refs,
                }
                .into());
            }
        };
        let Some(top) = chosen else { return Err(OciLayoutError::NoSuchImage { layout: shown }.into()) };
        Ok(OciLayoutSource { files, top, shown })
    }

    /// The image of one `index.json` entry.
    pub fn for_entry(files: Files, entry: Descriptor, shown: String) -> OciLayoutSource {
        OciLayoutSource { files, top: entry, shown }
    }
}

#[async_trait::async_trait]
impl ImageSource for OciLayoutSource {
    fn name(&self) -> String {
        self.shown.clone()
    }

    /// `oci` or `oci-archive` scopes (as the source was named): the layout or archive, then its parents.
    fn policy_name(&self) -> crate::trust::PolicyName {
        let transport = if self.shown.starts_with("oci-archive:") { "oci-archive" } else { "oci" };
        super::policy_name::path(transport, &self.files.root())
    }

    async fn manifest(&self) -> Result<RawManifest, TransportError> {
        let (files, top) = (self.files.clone(), self.top.clone());
        let raw = blocking(move || read_blob(&files, &oci::blob_path(&top.digest), &top, MAX_MANIFEST_SIZE)).await?;
        Ok(RawManifest { raw, media_type: self.top.media_type.clone(), digest: self.top.digest.clone() })
    }

    async fn manifest_by_digest(&self, digest: &Digest) -> Result<RawManifest, TransportError> {
        read_child_manifest(self.files.clone(), oci::blob_path(digest), digest.clone()).await
    }

    async fn blob(&self, blob: &Descriptor) -> Result<ByteStream<TransportError>, TransportError> {
        let files = self.files.clone();
        let path = oci::blob_path(&blob.digest);
        Ok(reader_stream(move || Ok(files.open(&path)?.0), Some(Verifier::new(&blob.digest, Some(blob.size)))))
    }
}

enum Target {
    Dir(PathBuf),
    Tar(TarOut),
}

struct State {
    target: Option<Target>,
    written: HashSet<Digest>,
    dirs: BTreeSet<String>,
    /// The entries `index.json` will have.
    entries: Vec<Descriptor>,
    /// Why the writer cannot go on (a blob cut short in a tar leaves it unusable).
    broken: Option<String>,
}

/// An OCI layout being written; [`OciLayoutWriter::image`] gives each image's destination but the last,
/// [`OciLayoutWriter::last_image`] the last one's, whose commit finishes the layout.
pub struct OciLayoutWriter {
    state: Mutex<State>,
    shown: String,
}

impl OciLayoutWriter {
    /// A layout in the directory `path`: created if missing; an existing layout is added to.
    pub fn dir(path: &Path) -> Result<Arc<OciLayoutWriter>, TransportError> {
        let shown = path.display().to_string();
        let io = |e| ArchiveError::io(&shown, e);
        let mut entries = Vec::new();
        crate::archive::output::check_dir(path)?;
        if path.exists() {
            let files = Files::Dir(path.to_owned());
            if files.exists(OCI_LAYOUT) {
                entries = read_index(&files)?.manifests;
            } else if fs::read_dir(path).map_err(io)?.next().is_some() {
                return Err(OciLayoutError::NotALayout { path: path.to_owned() }.into());
            }
        }
        fs::create_dir_all(path.join("blobs")).map_err(io)?;
        write_file_atomic(path, OCI_LAYOUT, OCI_LAYOUT_CONTENT)?;
        let state = State {
            target: Some(Target::Dir(path.to_owned())),
            written: HashSet::new(),
            dirs: BTreeSet::new(),
            entries,
            broken: None,
        };
        Ok(Arc::new(OciLayoutWriter { state: Mutex::new(state), shown: format!("oci:{shown}") }))
    }

    /// A layout written as a tar to `out` (an oci-archive).
    pub fn archive(out: TarOut, shown: &str) -> Arc<OciLayoutWriter> {
        let state = State {
            target: Some(Target::Tar(out)),
            written: HashSet::new(),
            dirs: BTreeSet::new(),
            entries: Vec::new(),
            broken: None,
        };
        Arc::new(OciLayoutWriter { state: Mutex::new(state), shown: format!("oci-archive:{shown}") })
    }

    /// The destination of one image, named `reference` in `index.json` (`None`: no name), when more follow.
    pub fn image(self: &Arc<Self>, reference: Option<String>) -> OciLayoutDestination {
        OciLayoutDestination { writer: self.clone(), reference, last: false }
    }

    /// The destination of the layout's last (or only) image: its commit also finishes the layout
    /// (`index.json` written; an archive's temp file renamed into place).
    pub fn last_image(self: &Arc<Self>, reference: Option<String>) -> OciLayoutDestination {
        OciLayoutDestination { writer: self.clone(), reference, last: true }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes `index.json` (and, in a tar, `oci-layout`) and closes the layout, at the last image's commit.
    /// Nothing is complete before.
    fn finish(&self) -> Result<(), TransportError> {
        let mut st = self.lock();
        self.broken(&st)?;
        let index = Index {
            schema_version: 2,
            media_type: None,
            manifests: st.entries.clone(),
            subject: None,
            annotations: None,
        };
        let bytes = serde_json::to_vec(&index).expect("an index serialises");
        match st.target.take() {
            Some(Target::Dir(dir)) => write_file_atomic(&dir, INDEX_JSON, &bytes),
            Some(Target::Tar(mut out)) => {
                let io = |e| TransportError::Archive(ArchiveError::io(&self.shown, e));
                out.bytes(INDEX_JSON, &bytes).map_err(io)?;
                out.bytes(OCI_LAYOUT, OCI_LAYOUT_CONTENT).map_err(io)?;
                out.finish().map_err(io)
            }
            None => Err(self.finished()),
        }
    }

    /// The error every call gets once a write failed.
    fn broken(&self, st: &State) -> Result<(), TransportError> {
        match &st.broken {
            Some(first) => Err(OciLayoutError::Broken { layout: self.shown.clone(), first: first.clone() }.into()),
            None => Ok(()),
        }
    }

    fn finished(&self) -> TransportError {
        OciLayoutError::Finished { layout: self.shown.clone() }.into()
    }
}

/// Writes `name` in `dir` by temp file and rename.
fn write_file_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), TransportError> {
    let shown = dir.join(name).display().to_string();
    let io = |e| TransportError::Archive(ArchiveError::io(&shown, e));
    let mut temp = tempfile::Builder::new().prefix(".hoist-").tempfile_in(dir).map_err(io)?;
    temp.write_all(bytes).map_err(io)?;
    set_readable(temp.as_file()).map_err(io)?;
    temp.persist(dir.join(name)).map_err(|e| io(e.error))?;
    Ok(())
}

/// The mode a new file gets (0644 under the usual umask), as podman and skopeo leave their files (temp files
/// start 0600).
pub(super) fn set_readable(f: &fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    f.set_permissions(fs::Permissions::from_mode(crate::archive::tar_out::new_file_mode()))
}

/// Streams `reader` into `dir/rel` through a temp file, renamed into place only when whole.
pub(super) fn write_blob_file(dir: &Path, rel: &str, mut reader: impl BufRead) -> Result<(), TransportError> {
    let path = dir.join(rel);
    let shown = path.display().to_string();
    let io = |e| TransportError::Archive(ArchiveError::io(&shown, e));
    let parent = path.parent().expect("a blob path has a directory");
    fs::create_dir_all(parent).map_err(io)?;
    let mut temp = tempfile::Builder::new().prefix(".hoist-").tempfile_in(dir).map_err(io)?;
    copy_buffered(&mut reader, &mut temp).map_err(io)?;
    set_readable(temp.as_file()).map_err(io)?;
    temp.persist(&path).map_err(|e| io(e.error))?;
    Ok(())
}

/// One image going into an [`OciLayoutWriter`].
pub struct OciLayoutDestination {
    writer: Arc<OciLayoutWriter>,
    reference: Option<String>,
    /// The layout's last image: committing it finishes the layout.
    last: bool,
}

impl OciLayoutDestination {
    fn put_bytes(&self, d: &Digest, bytes: &[u8]) -> Result<(), TransportError> {
        let blob = Descriptor::new("", d.clone(), bytes.len() as u64);
        self.writer.put(&blob, bytes)
    }
}

impl OciLayoutWriter {
    /// Writes one blob from `reader`, checked against `blob`.
    fn put(&self, blob: &Descriptor, reader: impl BufRead) -> Result<(), TransportError> {
        let mut st = self.lock();
        self.broken(&st)?;
        if st.written.contains(&blob.digest) {
            return Ok(());
        }
        let path = oci::blob_path(&blob.digest);
        // The source checks the bytes against the blob's digest (ImageSource::blob).
        let verified = reader;
        let result = match st.target.as_mut() {
            Some(Target::Dir(dir)) => {
                let dir = dir.clone();
                write_blob_file(&dir, &path, verified)
            }
            Some(Target::Tar(_)) => {
                let dir = format!("blobs/{}/", blob.digest.algorithm());
                let mut wrote_dirs = Ok(());
                for d in ["blobs/".to_owned(), dir] {
                    if st.dirs.insert(d.clone())
                        && let Some(Target::Tar(out)) = st.target.as_mut()
                    {
                        wrote_dirs = out.dir(&d);
                    }
                }
                let Some(Target::Tar(out)) = st.target.as_mut() else { unreachable!() };
                let r = wrote_dirs.and_then(|()| out.file(&path, blob.size, verified));
                r.map_err(|source| {
                    let e = OciLayoutError::WriteBlob { digest: blob.digest.clone(), source };
                    st.broken = Some(e.to_string());
                    e.into()
                })
            }
            None => Err(self.finished()),
        };
        result?;
        st.written.insert(blob.digest.clone());
        Ok(())
    }
}

#[async_trait::async_trait]
impl ImageDestination for OciLayoutDestination {
    fn name(&self) -> String {
        match &self.reference {
            Some(r) => format!("{}:{r}", self.writer.shown),
            None => self.writer.shown.clone(),
        }
    }

    async fn has_blob(&self, blob: &Descriptor) -> Result<bool, TransportError> {
        Ok(self.writer.lock().written.contains(&blob.digest))
    }

    async fn put_blob(&self, blob: &Descriptor, open: &OpenBlob<'_>) -> Result<(), TransportError> {
        let stream = open().await?;
        let (writer, blob, handle) = (self.writer.clone(), blob.clone(), tokio::runtime::Handle::current());
        blocking(move || {
            let mut reader = StreamReader::new(stream, handle);
            let result = writer.put(&blob, &mut reader);
            match reader.take_error() {
                Some(e) => Err(e),
                None => result,
            }
        })
        .await
    }

    async fn put_child_manifest(&self, manifest: &RawManifest) -> Result<(), TransportError> {
        let (this_writer, m) = (self.writer.clone(), manifest.clone());
        let me = OciLayoutDestination { writer: this_writer, reference: None, last: false };
        blocking(move || me.put_bytes(&m.digest, &m.raw)).await
    }

    async fn commit(&self, manifest: &RawManifest) -> Result<(), TransportError> {
        self.put_child_manifest(manifest).await?;
        let mut entry = manifest.descriptor();
        if !media_type::is_manifest(&entry.media_type) {
            return Err(OciLayoutError::NotAManifest { destination: self.name(), media_type: entry.media_type }.into());
        }
        {
            let mut st = self.writer.lock();
            match &self.reference {
                Some(r) => {
                    entry.annotations = Some([(ANNOTATION_REF_NAME.to_owned(), r.clone())].into_iter().collect());
                    st.entries.retain(|d| oci::ref_name(d) != Some(r.as_str()));
                    st.entries.push(entry);
                }
                None => {
                    if !st.entries.iter().any(|d| d.digest == entry.digest && oci::ref_name(d).is_none()) {
                        st.entries.push(entry);
                    }
                }
            }
        }
        if !self.last {
            return Ok(());
        }
        let writer = self.writer.clone();
        blocking(move || writer.finish()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An OCI image manifest over `config` (no layers), as a destination is given it.
    fn manifest_of(config: &Descriptor) -> RawManifest {
        let m = serde_json::json!({
            "schemaVersion": 2, "mediaType": media_type::OCI_MANIFEST, "config": config, "layers": []
        });
        RawManifest::new(serde_json::to_vec(&m).unwrap(), media_type::OCI_MANIFEST)
    }

    /// Writes one image (its config and manifest) into `dst`.
    async fn write_image(writer: &OciLayoutWriter, dst: &OciLayoutDestination, config: &[u8]) -> RawManifest {
        let d = Descriptor::new(media_type::OCI_CONFIG, Digest::sha256(config), config.len() as u64);
        writer.put(&d, config).unwrap();
        let m = manifest_of(&d);
        dst.commit(&m).await.unwrap();
        m
    }

    fn refusal(e: TransportError) -> OciLayoutError {
        match e {
            TransportError::OciLayout(e) => *e,
            other => panic!("not an OCI layout's refusal: {other:?}"),
        }
    }

    /// Opening an image of a layout: each refusal names the layout and what was asked for.
    #[tokio::test]
    async fn a_source_names_what_it_cannot_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("layout");
        let writer = OciLayoutWriter::dir(&path).unwrap();
        write_image(&writer, &writer.image(Some("one".into())), b"{\"n\":1}").await;
        let two = write_image(&writer, &writer.last_image(Some("two".into())), b"{\"n\":2}").await;
        let files = Files::Dir(path.clone());
        let shown = format!("oci:{}", files.root());
        let refused = |r: Option<&str>| match OciLayoutSource::open(files.clone(), r, "oci") {
            Err(e) => refusal(e),
            Ok(_) => panic!("{r:?}: opened"),
        };
        let e = refused(None);
        assert!(matches!(&e, OciLayoutError::WhichImage { images: 2, refs, .. } if *refs == ["one", "two"]), "{e:?}");
        assert_eq!(e.to_string(), format!("{shown} holds 2 images: name one (oci:PATH:REF; refs: one, two)"));
        let e = refused(Some("@x"));
        assert!(matches!(&e, OciLayoutError::BadIndex { given, .. } if given == "@x"), "{e:?}");
        assert_eq!(e.to_string(), format!("{shown}:@x: bad index @x"));
        for r in ["@2", "three"] {
            let e = refused(Some(r));
            assert!(matches!(&e, OciLayoutError::NoSuchImage { layout } if *layout == format!("{shown}:{r}")), "{e:?}");
            assert_eq!(e.to_string(), format!("{shown}:{r}: no such image in index.json"));
        }
        assert_eq!(OciLayoutSource::open(files.clone(), Some("@1"), "oci").unwrap().manifest().await.unwrap(), two);

        // An entry claiming more bytes than a manifest may have is refused before reading.
        let mut big = two.descriptor();
        big.size = MAX_MANIFEST_SIZE as u64 + 1;
        let e = OciLayoutSource::for_entry(files, big, shown).manifest().await.unwrap_err();
        let e = refusal(e);
        assert!(
            matches!(&e, OciLayoutError::TooLarge { size, limit: MAX_MANIFEST_SIZE, .. } if *size == MAX_MANIFEST_SIZE as u64 + 1),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .ends_with(&format!(": {} bytes, more than the {MAX_MANIFEST_SIZE} allowed", MAX_MANIFEST_SIZE + 1))
        );
    }

    /// Writing a layout: a directory that is something else, a top-level entry that is no manifest, a layout
    /// already finished, a tar whose blob was cut short (and everything after it).
    #[tokio::test]
    async fn a_destination_names_what_it_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other");
        std::fs::create_dir(&other).unwrap();
        std::fs::write(other.join("notes.txt"), "mine").unwrap();
        let e = refusal(OciLayoutWriter::dir(&other).err().expect("refused"));
        assert!(matches!(&e, OciLayoutError::NotALayout { path } if *path == other), "{e:?}");
        assert_eq!(std::fs::read_dir(&other).unwrap().count(), 1, "nothing written into it");

        let path = dir.path().join("layout");
        let writer = OciLayoutWriter::dir(&path).unwrap();
        let last = writer.last_image(Some("v1".into()));
        let config = RawManifest::new(b"{}".to_vec(), media_type::OCI_CONFIG);
        let e = refusal(last.commit(&config).await.unwrap_err());
        assert!(matches!(&e, OciLayoutError::NotAManifest { media_type, .. } if media_type == media_type::OCI_CONFIG));
        assert_eq!(e.to_string(), format!("oci:{}:v1: {} is not a manifest", path.display(), media_type::OCI_CONFIG));
        let m = write_image(&writer, &last, b"{}").await;
        let e = refusal(last.commit(&m).await.unwrap_err());
        assert!(matches!(&e, OciLayoutError::Finished { layout } if *layout == format!("oci:{}", path.display())));

        let writer = OciLayoutWriter::archive(TarOut::to_stream(Box::new(std::io::sink())), "out.tar");
        let short = Descriptor::new(media_type::OCI_LAYER_GZIP, Digest::sha256(b"all of it"), 9);
        let e = refusal(writer.put(&short, &b"all"[..]).unwrap_err());
        assert!(matches!(&e, OciLayoutError::WriteBlob { digest, .. } if *digest == short.digest), "{e:?}");
        let first = e.to_string();
        assert!(first.starts_with(&format!("writing blob {}: ", short.digest)), "{first}");
        let fine = Descriptor::new(media_type::OCI_CONFIG, Digest::sha256(b"{}"), 2);
        let e = refusal(writer.put(&fine, &b"{}"[..]).unwrap_err());
        assert!(matches!(&e, OciLayoutError::Broken { first: f, .. } if *f == first), "{e:?}");
        assert_eq!(e.to_string(), format!("oci-archive:out.tar: {first}"));
        assert!(matches!(refusal(writer.finish().unwrap_err()), OciLayoutError::Broken { .. }), "never finished");
    }
}
